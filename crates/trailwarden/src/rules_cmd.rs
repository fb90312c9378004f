//! `trailwarden rules …` (test, check, list, docs) and the rule pack's stateful detector.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trailwarden_alert::Alert;
use trailwarden_detect::{rules_markdown, IpLists, Overrides, Policies};
use trailwarden_pack::{run_policy_tests, PackEngine, PackOptions};
use trailwarden_pipeline::{Batch, Detector};
use trailwarden_sigma::{check_report, run_rule_tests, SigmaRules};

use crate::cli::{RulesArgs, RulesCommand};
use crate::rules::{load_policies, StateStore};

/// The file of the rule pack's first-seen baselines in a local state directory.
pub const PACK_STATE_NAME: &str = "pack.first-seen.json";

/// The rule pack's stateful rules (threshold, distinct-count, sequence, first-seen, dedup) as
/// a pipeline detector, with the same policies, IP lists and overrides as the event rules;
/// `None` when none of them runs. With a local state directory the first-seen baselines are
/// restored at start and saved when the run ends (`pack.first-seen.json`).
pub fn pack_detector(
    policies: &Policies,
    ip_lists: &IpLists,
    overrides: &Overrides,
    state: Option<&StateStore>,
    opts: PackOptions,
) -> anyhow::Result<Option<Box<dyn Detector>>> {
    let mut engine = PackEngine::new(policies, ip_lists, overrides, opts)
        .context("compiling the rule pack's stateful rules")?;
    if engine.is_empty() {
        return Ok(None);
    }
    let path = match state {
        Some(StateStore::Dir(dir)) => Some(dir.join(PACK_STATE_NAME)),
        Some(other) => {
            tracing::warn!(state = %other.describe(), "first-seen baselines are kept in a local state directory only; they start empty");
            None
        }
        None => None,
    };
    if let Some(p) = &path {
        let restored = engine.load_state(p).with_context(|| {
            format!(
                "restoring the first-seen baselines {} (move it away to start empty)",
                p.display()
            )
        })?;
        if restored {
            tracing::info!(path = %p.display(), entities = engine.baselines().entities(), "first-seen baselines restored");
        }
    }
    tracing::info!(
        rules = engine.rule_ids().count(),
        "rule pack: stateful rules loaded"
    );
    Ok(Some(Box::new(Pack {
        engine,
        state: path,
    })))
}

/// The pack engine, saving its first-seen baselines when the run ends.
struct Pack {
    engine: PackEngine,
    state: Option<PathBuf>,
}

impl Detector for Pack {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        self.engine.detect(batch, out);
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        self.engine.finish(out);
        let s = self.engine.stats();
        tracing::info!(
            events = s.events,
            observations = s.observations,
            alerts = s.alerts,
            late_dropped = s.windows.late_dropped,
            forced_releases = s.windows.forced_releases,
            groups_evicted = s.windows.groups_evicted,
            busiest = %s.busiest(5),
            "rule pack: windows done"
        );
        if let Some(p) = &self.state {
            match self.engine.save_state(p) {
                Ok(()) => tracing::info!(path = %p.display(), "first-seen baselines saved"),
                Err(e) => {
                    tracing::error!(path = %p.display(), "first-seen baselines NOT saved: {e}")
                }
            }
        }
    }
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
                            "kind": p.kind_label(),
                            "tests": p.tests().len(),
                            "enabled": p.enabled(),
                        });
                        writeln!(out, "{v}")?;
                    }
                }
                "table" => {
                    writeln!(
                        out,
                        "{:<36} {:<9} {:<15} {:<20} {:>5}  title",
                        "id", "severity", "kind", "mitre", "tests"
                    )?;
                    for p in policies.iter() {
                        // What the rule needs from the deployment to run at all.
                        let mut needs: Vec<String> = p
                            .required_ip_lists()
                            .iter()
                            .map(|l| format!("IP list {l}"))
                            .collect();
                        if p.needs_approved_regions() {
                            needs.push("[rules] approved_regions".to_string());
                        }
                        let needs = if needs.is_empty() {
                            String::new()
                        } else {
                            format!(" (needs {})", needs.join(", "))
                        };
                        writeln!(
                            out,
                            "{:<36} {:<9} {:<15} {:<20} {:>5}  {}{}{}",
                            p.id(),
                            p.severity().as_str(),
                            p.kind_label(),
                            p.mitre().join(","),
                            p.tests().len(),
                            p.title(),
                            if p.enabled() { "" } else { " (disabled)" },
                            needs
                        )?;
                    }
                }
                other => anyhow::bail!("--format {other:?}: expected table or json"),
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Docs { out } => {
            let policies = Policies::builtin().context("loading the built-in rules")?;
            let md = rules_markdown(&policies);
            match out {
                Some(path) => {
                    std::fs::write(&path, md)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{} rules documented in {}", policies.len(), path.display());
                }
                None => std::io::stdout().lock().write_all(md.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
