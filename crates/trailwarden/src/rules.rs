//! `trailwarden rules …`, and the adapters that put policies and the archive into the pipeline.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use trailwarden_alert::Alert;
use trailwarden_archive::{ArchiveOptions, Encoder, LocalArchive};
use trailwarden_detect::{run_policy_tests, Engine, EventRef, IpLists, Overrides, Policies};
use trailwarden_pipeline::{ArchiveWriter, ArchiveWritten, Batch, Detector};

use trailwarden_anomaly::{AnomalyConfig, AnomalyEngine, GeoDb, TerminatedUsers};
use trailwarden_sigma::{check_report, run_rule_tests, SigmaEngine, SigmaOptions, SigmaRules};

use crate::cli::{DetectArgs, RulesArgs, RulesCommand};

/// The built-in policies plus those in `dirs`.
pub fn load_policies(dirs: &[PathBuf]) -> anyhow::Result<Policies> {
    let mut policies = Policies::builtin().context("loading the built-in policies")?;
    for d in dirs {
        let more = Policies::load_dir(d)
            .with_context(|| format!("loading policies from {}", d.display()))?;
        policies
            .extend(more)
            .with_context(|| format!("adding policies from {}", d.display()))?;
    }
    Ok(policies)
}

/// Activity policies as a pipeline [`Detector`].
struct PolicyDetector(Engine);

impl Detector for PolicyDetector {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        let origin = EventRef {
            source_object: &batch.object.key,
        };
        for e in &batch.events {
            if !e.is_insight() {
                self.0.evaluate(e, origin, out);
            }
        }
    }
}

/// The detector for a run: every policy, with the IP lists given as `NAME=FILE`.
pub fn detector(
    policy_dirs: &[PathBuf],
    ip_list_specs: &[String],
) -> anyhow::Result<Box<dyn Detector>> {
    let off = DetectArgs {
        no_anomaly: true,
        ..DetectArgs::default()
    };
    detectors(policy_dirs, ip_list_specs, &off, false)
}

/// Several detectors as one, each seeing every batch in order.
struct Chain(Vec<Box<dyn Detector>>);

impl Detector for Chain {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        for d in &mut self.0 {
            d.detect(batch, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        for d in &mut self.0 {
            d.finish(out);
        }
    }
}

/// The anomaly engine, saving its baselines to `state` when the run ends.
struct Anomaly {
    engine: AnomalyEngine,
    state: Option<PathBuf>,
}

impl Detector for Anomaly {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        self.engine.detect(batch, out);
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        self.engine.finish(out);
        if let Some(path) = &self.state {
            match self.engine.save(path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), principals = self.engine.principals(), "anomaly state saved")
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), "anomaly state NOT saved: {}", chain(&e))
                }
            }
        }
    }
}

/// Every detector of a run: policies, Sigma rules when given, the anomaly engine unless off.
/// `live` picks the Sigma lateness of a worker rather than of a replay.
pub fn detectors(
    policy_dirs: &[PathBuf],
    ip_list_specs: &[String],
    d: &DetectArgs,
    live: bool,
) -> anyhow::Result<Box<dyn Detector>> {
    let policies = load_policies(policy_dirs)?;
    let ip_lists = IpLists::load_specs(ip_list_specs).context("loading IP lists")?;
    let engine = Engine::new(&policies, &ip_lists, &Overrides::default())
        .context("compiling the policies")?;
    for p in engine.disabled() {
        tracing::info!(policy = %p.id, "policy disabled: {}", p.reason);
    }
    let mut all: Vec<Box<dyn Detector>> = vec![Box::new(PolicyDetector(engine))];
    if !d.sigma.is_empty() {
        let rules = SigmaRules::load_dirs(&d.sigma)
            .map_err(|e| anyhow::anyhow!("loading Sigma rules:\n{e}"))?;
        let (detections, correlations) = (
            rules.detection_rules().len(),
            rules.correlation_rules().len(),
        );
        tracing::info!(detections, correlations, "Sigma rules loaded");
        let opts = if live {
            SigmaOptions::live()
        } else {
            SigmaOptions::replay()
        };
        all.push(Box::new(SigmaEngine::new(rules, opts)));
    }
    if !d.no_anomaly {
        let geo = d
            .geoip
            .as_deref()
            .map(|p| GeoDb::open(p).with_context(|| format!("opening {}", p.display())))
            .transpose()?;
        let terminated = match &d.terminated_users {
            Some(p) => {
                TerminatedUsers::load(p).with_context(|| format!("loading {}", p.display()))?
            }
            None => TerminatedUsers::new(),
        };
        let mut engine = AnomalyEngine::new(&AnomalyConfig::default(), geo, &ip_lists, terminated)
            .context("starting the anomaly engine")?;
        for x in engine.disabled() {
            tracing::info!(detection = x.id, "anomaly detection disabled: {}", x.reason);
        }
        let state = match &d.state {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let path = dir.join("anomaly.snapshot.json");
                if engine
                    .load(&path)
                    .with_context(|| format!("restoring {}", path.display()))?
                {
                    tracing::info!(path = %path.display(), principals = engine.principals(), "anomaly state restored");
                }
                Some(path)
            }
            None => None,
        };
        all.push(Box::new(Anomaly { engine, state }));
    }
    Ok(if all.len() == 1 {
        all.remove(0)
    } else {
        Box::new(Chain(all))
    })
}

/// The local Parquet archive as a pipeline [`ArchiveWriter`]: one encoder per thread.
struct LocalParquet {
    archive: LocalArchive,
    options: ArchiveOptions,
}

impl ArchiveWriter for LocalParquet {
    fn write(&self, batch: &Batch) -> Result<ArchiveWritten, String> {
        thread_local! {
            static ENCODER: std::cell::RefCell<Option<Encoder>> = const { std::cell::RefCell::new(None) };
        }
        let files = ENCODER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(Encoder::new(&self.options).map_err(|e| e.to_string())?);
            }
            match slot.as_mut() {
                Some(enc) => enc
                    .encode_object(&batch.object.key, &batch.events)
                    .map_err(|e| chain(&e)),
                None => Err("no encoder".to_string()),
            }
        })?;
        let mut w = ArchiveWritten::default();
        for f in &files {
            self.archive.write(f).map_err(|e| chain(&e))?;
            w.files += 1;
            w.rows += f.rows;
            w.bytes += f.bytes.len() as u64;
        }
        Ok(w)
    }
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub fn archive_writer(
    root: &Path,
    row_group_rows: usize,
) -> anyhow::Result<Arc<dyn ArchiveWriter>> {
    let options = ArchiveOptions {
        row_group_rows,
        ..ArchiveOptions::default()
    };
    // validate the options now rather than at the first object
    Encoder::new(&options).context("archive options")?;
    Ok(Arc::new(LocalParquet {
        archive: LocalArchive::new(root),
        options,
    }))
}

pub fn run(a: RulesArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        RulesCommand::Test { dir, sigma } => {
            let policies = load_policies(dir.as_slice())?;
            let report = run_policy_tests(&policies, &IpLists::new());
            let mut out = std::io::stdout().lock();
            out.write_all(report.render().as_bytes())?;
            let mut ok = report.all_passed();
            if !sigma.is_empty() {
                let rules = SigmaRules::load_dirs(&sigma)
                    .map_err(|e| anyhow::anyhow!("loading Sigma rules:\n{e}"))?;
                let r = run_rule_tests(&rules);
                writeln!(out)?;
                out.write_all(r.render().as_bytes())?;
                ok &= r.all_passed();
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(4)
            })
        }
        RulesCommand::Check { sigma } => match SigmaRules::load_dirs(&sigma) {
            Ok(rules) => {
                print!("{}", check_report(&rules));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        },
        RulesCommand::List { dir, format } => {
            let policies = load_policies(dir.as_slice())?;
            let mut out = std::io::stdout().lock();
            match format.as_str() {
                "json" => {
                    for p in policies.iter() {
                        let v = serde_json::json!({
                            "id": p.id(),
                            "title": p.title(),
                            "severity": p.severity().as_str(),
                            "mitre": p.mitre(),
                            "kind": "single-event",
                            "tests": p.tests().len(),
                            "enabled": p.enabled(),
                        });
                        writeln!(out, "{v}")?;
                    }
                }
                "table" => {
                    writeln!(
                        out,
                        "{:<28} {:<9} {:<14} {:>5}  title",
                        "id", "severity", "mitre", "tests"
                    )?;
                    for p in policies.iter() {
                        writeln!(
                            out,
                            "{:<28} {:<9} {:<14} {:>5}  {}{}",
                            p.id(),
                            p.severity().as_str(),
                            p.mitre().join(","),
                            p.tests().len(),
                            p.title(),
                            if p.enabled() { "" } else { " (disabled)" }
                        )?;
                    }
                }
                other => anyhow::bail!("--format {other:?}: expected table or json"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
