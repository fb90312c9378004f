//! `trailwarden rules …`, and the adapters that put policies and the archive into the pipeline.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use trailwarden_alert::Alert;
use trailwarden_archive::{ArchiveOptions, EncoderPool, LocalArchive};
use trailwarden_detect::{Engine, EventRef, IpLists, Policies};
use trailwarden_pipeline::{ArchiveWriter, ArchiveWritten, Batch, Detector, Fanout};

use trailwarden_anomaly::{
    AnomalyEngine, AnonymousIpDb, AsnDb, AsnLists, GeoDb, GeoLookup, IpIntel, TerminatedUsers,
};
use trailwarden_pack::PackOptions;
use trailwarden_sigma::{SigmaEngine, SigmaOptions, SigmaRules};

use trailwarden_aws::s3::S3Blob;

use crate::cli::RulesArgs;
use crate::config::DetectSettings;

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

/// The detector of policies only, with the IP lists given as `NAME=FILE`.
pub fn detector(
    policy_dirs: &[PathBuf],
    ip_list_specs: &[String],
) -> anyhow::Result<Box<dyn Detector>> {
    let d = DetectSettings {
        policy_dirs: policy_dirs.to_vec(),
        ip_lists: ip_list_specs.to_vec(),
        ..DetectSettings::default()
    };
    Ok(detectors(&d, None, false)?.detector)
}

/// The file name of the anomaly snapshot, in a state directory or below a state S3 prefix.
pub const SNAPSHOT_NAME: &str = "anomaly.snapshot.json";

/// Where the anomaly snapshot is kept. Its calls block (S3 included): use them from a blocking
/// thread, never inside an async task.
pub enum StateStore {
    /// `anomaly.snapshot.json` in a directory, written atomically (temporary file, fsync,
    /// rename).
    Dir(PathBuf),
    /// `anomaly.snapshot.json` below an S3 prefix (a PutObject replaces it atomically).
    S3(S3Blob),
}

impl StateStore {
    /// A local state directory (created). An `s3://` location needs an S3 client:
    /// [`StateStore::S3`].
    pub fn dir(dir: &Path) -> anyhow::Result<StateStore> {
        if dir.to_string_lossy().starts_with("s3://") {
            anyhow::bail!(
                "--state {}: only `run` keeps anomaly state in S3; give a local directory",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(StateStore::Dir(dir.to_path_buf()))
    }

    /// Where the snapshot is (a path or an `s3://` URL).
    pub fn describe(&self) -> String {
        match self {
            StateStore::Dir(d) => d.join(SNAPSHOT_NAME).display().to_string(),
            StateStore::S3(b) => b.url(),
        }
    }

    /// The snapshot's bytes; `None` when there is none yet.
    fn load(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            StateStore::Dir(d) => {
                let path = d.join(SNAPSHOT_NAME);
                match std::fs::read(&path) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
                }
            }
            StateStore::S3(b) => b.load().map_err(anyhow::Error::new),
        }
    }

    fn save(&self, bytes: Vec<u8>) -> anyhow::Result<()> {
        match self {
            StateStore::Dir(d) => {
                let path = d.join(SNAPSHOT_NAME);
                let tmp = path.with_extension("tmp");
                let write = || -> std::io::Result<()> {
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(&bytes)?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, &path)
                };
                write().with_context(|| format!("writing {}", path.display()))
            }
            StateStore::S3(b) => b
                .save(bytes, "application/json")
                .map_err(anyhow::Error::new),
        }
    }
}

/// What one save wrote.
#[derive(Debug, Clone, Copy)]
pub struct Saved {
    pub bytes: usize,
    pub principals: usize,
    /// Events held behind the watermark, kept in the snapshot.
    pub pending: usize,
}

/// The anomaly engine's persistent state: the engine (shared with its detector) and where its
/// snapshot goes. The worker saves it every `state_save_interval_secs` and at shutdown; a
/// replay saves it when the run ends.
pub struct AnomalyState {
    engine: Arc<Mutex<AnomalyEngine>>,
    store: StateStore,
    /// Bumped by every batch the engine takes: a save with nothing new is skipped.
    changes: Arc<AtomicU64>,
    /// Held across a whole save, so saves are written in the order they were taken; holds the
    /// `changes` value last saved.
    saved: Mutex<Option<u64>>,
    /// Principals in the snapshot restored at start (`None`: there was none).
    restored: Option<usize>,
    /// Successful saves.
    saves: AtomicU64,
}

impl AnomalyState {
    /// Snapshots the engine and writes it, unless nothing changed since the last save
    /// (`Ok(None)`). Blocking.
    pub fn save(&self) -> anyhow::Result<Option<Saved>> {
        let mut saved = lock(&self.saved);
        let now = self.changes.load(Ordering::Acquire);
        if *saved == Some(now) {
            return Ok(None);
        }
        let (bytes, principals, pending) = {
            // a panic inside the engine may have left it half-updated: keep the last good save
            let Ok(engine) = self.engine.lock() else {
                anyhow::bail!(
                    "the anomaly engine failed during a batch: its state is not saved to {}",
                    self.describe()
                );
            };
            (engine.snapshot(), engine.principals(), engine.pending())
        };
        let n = bytes.len();
        match self.store.save(bytes) {
            Ok(()) => {
                *saved = Some(now);
                self.saves.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("trailwarden_anomaly_state_saves_total").increment(1);
                metrics::gauge!("trailwarden_anomaly_state_bytes").set(n as f64);
                Ok(Some(Saved {
                    bytes: n,
                    principals,
                    pending,
                }))
            }
            Err(e) => {
                metrics::counter!("trailwarden_anomaly_state_save_failures_total").increment(1);
                Err(e.context(format!("saving the anomaly state to {}", self.describe())))
            }
        }
    }

    /// Where the snapshot is.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Principals restored from the snapshot at start; `None` when there was no snapshot.
    pub fn restored(&self) -> Option<usize> {
        self.restored
    }

    /// Successful saves so far.
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The anomaly engine as a pipeline detector.
struct Anomaly {
    engine: Arc<Mutex<AnomalyEngine>>,
    changes: Arc<AtomicU64>,
    /// Process the events held behind the watermark at `finish`: not in a live worker that
    /// keeps them in its snapshot (the next start goes on with them, in order).
    flush_at_finish: bool,
    /// Save at `finish` (a replay); the worker saves by itself, with its own deadline.
    save_at_finish: Option<Arc<AnomalyState>>,
}

impl Detector for Anomaly {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        lock(&self.engine).detect(batch, out);
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        if self.flush_at_finish {
            lock(&self.engine).finish(out);
            self.changes.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(state) = &self.save_at_finish {
            match state.save() {
                Ok(Some(s)) => {
                    tracing::info!(path = %state.describe(), principals = s.principals, "anomaly state saved")
                }
                Ok(None) => {}
                Err(e) => tracing::error!("anomaly state NOT saved: {e:#}"),
            }
        }
    }
}

/// The detectors of a run and, when the anomaly engine keeps state, its handle.
pub struct Detectors {
    pub detector: Box<dyn Detector>,
    /// Present when the anomaly engine runs with a `state` store: the worker saves it
    /// periodically and at shutdown; a replay's detector saves it at its end by itself.
    pub state: Option<Arc<AnomalyState>>,
}

/// The windowed rules' allowed lateness in a replay unless configured: 6 hours.
pub const REPLAY_LATENESS_SECS: u64 = 6 * 3600;

/// Every detector of a run: policies (event rules and the rule pack's windowed rules), Sigma
/// rules when given, the anomaly engine unless off (its snapshot restored from `state` when
/// there is one). Windowed rules hold events for `DetectSettings::allowed_lateness_secs`,
/// else the engines' 15 minutes in the worker (`live`) and [`REPLAY_LATENESS_SECS`] in a
/// replay. `live` also leaves saving the anomaly state to the worker.
///
/// Blocking (it reads rules, databases and the snapshot, S3 included): call it outside async
/// tasks.
pub fn detectors(
    d: &DetectSettings,
    state: Option<StateStore>,
    live: bool,
) -> anyhow::Result<Detectors> {
    let policies = load_policies(&d.policy_dirs)?;
    let ip_lists = IpLists::load_specs(&d.ip_lists).context("loading IP lists")?;
    let overrides = d
        .rules
        .resolve(&policies)
        .context("applying the [rules] configuration")?;
    let engine = Engine::new(&policies, &ip_lists, &overrides).context("compiling the policies")?;
    for p in engine.disabled() {
        tracing::info!(policy = %p.id, "policy disabled: {}", p.reason);
    }
    // each detector on its own thread, every batch to all of them (see `Fanout`)
    let mut all: Vec<(String, Box<dyn Detector>)> =
        vec![("detect-policies".into(), Box::new(PolicyDetector(engine)))];
    // windowed rules (policy windows, Sigma correlations and grouping) hold late events for
    // `allowed_lateness_secs`: 900 s in the worker, 6 hours in a replay, which feeds objects in
    // file-time order (see replay.rs) and so streams with bounded memory; the wider lateness
    // covers trails whose objects span hours (a file name gives one time for the whole file)
    let lateness = |default: Option<u64>| {
        d.allowed_lateness_secs.or(if live {
            default
        } else {
            Some(REPLAY_LATENESS_SECS)
        })
    };
    let mut pack_opts = PackOptions::live();
    pack_opts.windows.allowed_lateness_secs = lateness(pack_opts.windows.allowed_lateness_secs);
    // The rule pack's stateful rules (windows, dedup, first-seen): give it the same overrides.
    if let Some(pack) = crate::rules_cmd::pack_detector(
        &policies,
        &ip_lists,
        &overrides,
        state.as_ref(),
        pack_opts,
    )? {
        all.push(("detect-pack".into(), pack));
    }
    if !d.sigma.is_empty() {
        let rules = SigmaRules::load_dirs(&d.sigma)
            .map_err(|e| anyhow::anyhow!("loading Sigma rules:\n{e}"))?;
        let (detections, correlations) = (
            rules.detection_rules().len(),
            rules.correlation_rules().len(),
        );
        tracing::info!(detections, correlations, "Sigma rules loaded");
        let mut opts = SigmaOptions::live();
        opts.allowed_lateness_secs = lateness(opts.allowed_lateness_secs);
        opts.grouping = d.sigma_grouping;
        all.push((
            "detect-sigma".into(),
            Box::new(SigmaEngine::new(rules, opts)),
        ));
    }
    let mut handle = None;
    match &d.anomaly {
        None => {
            if let Some(s) = &state {
                tracing::warn!(state = %s.describe(), "the anomaly engine is off: its state is neither read nor written");
            }
        }
        Some(config) => {
            let geo = d
                .geoip
                .as_deref()
                .map(|p| GeoDb::open(p).with_context(|| format!("opening {}", p.display())))
                .transpose()?;
            // Paths are in the errors already (`anonymous-IP database PATH: …`, `ASN list
            // FILE:LINE: …`).
            let intel = IpIntel {
                anonymous_db: d
                    .anonymous_ip_db
                    .as_deref()
                    .map(AnonymousIpDb::open)
                    .transpose()?,
                asn_db: d.asn_db.as_deref().map(AsnDb::open).transpose()?,
                asn_lists: AsnLists::load_specs(&d.asn_lists).context("loading ASN lists")?,
            };
            let terminated = match &d.terminated_users {
                Some(p) => {
                    TerminatedUsers::load(p).with_context(|| format!("loading {}", p.display()))?
                }
                None => TerminatedUsers::new(),
            };
            // The worker's lateness knob covers the anomaly engine too, unless `[anomaly]`
            // sets its own.
            let mut config = config.clone();
            if live && config.allowed_lateness_secs.is_none() {
                config.allowed_lateness_secs = d.allowed_lateness_secs;
            }
            let geo = geo.map(|g| Box::new(g) as Box<dyn GeoLookup>);
            let mut engine = AnomalyEngine::with_intel(&config, geo, &ip_lists, intel, terminated)
                .context("starting the anomaly engine")?;
            for x in engine.disabled() {
                tracing::info!(detection = x.id, "anomaly detection disabled: {}", x.reason);
            }
            if let Some(line) = engine.anonymous_ip_sources() {
                tracing::info!(detection = "anonymous-ip", "{line}");
            }
            let mut restored = None;
            if let Some(store) = &state {
                let at = store.describe();
                let bytes = store.load().with_context(|| {
                    format!("reading the anomaly state {at} (move it away to start with empty baselines)")
                })?;
                match bytes {
                    Some(b) => {
                        engine.restore(&b).with_context(|| {
                            format!("restoring the anomaly state {at} (move it away to start with empty baselines)")
                        })?;
                        tracing::info!(state = %at, principals = engine.principals(), pending = engine.pending(), "anomaly state restored");
                        restored = Some(engine.principals());
                    }
                    None => {
                        tracing::info!(state = %at, "no anomaly state yet: baselines start empty")
                    }
                }
            }
            let engine = Arc::new(Mutex::new(engine));
            let changes = Arc::new(AtomicU64::new(0));
            let kept = state.map(|store| {
                Arc::new(AnomalyState {
                    engine: engine.clone(),
                    store,
                    changes: changes.clone(),
                    // what was just restored need not be written back
                    saved: Mutex::new(Some(0)),
                    restored,
                    saves: AtomicU64::new(0),
                })
            });
            all.push((
                "detect-anomaly".into(),
                Box::new(Anomaly {
                    engine,
                    changes,
                    flush_at_finish: !(live && kept.is_some()),
                    save_at_finish: if live { None } else { kept.clone() },
                }),
            ));
            handle = kept;
        }
    }
    let detector = Fanout::start(all).context("starting the detector threads")?;
    Ok(Detectors {
        detector,
        state: handle,
    })
}

/// The local Parquet archive as a pipeline [`ArchiveWriter`]: one encoder per thread.
struct LocalParquet {
    archive: LocalArchive,
    encoders: EncoderPool,
}

impl ArchiveWriter for LocalParquet {
    fn write(&self, batch: &Batch) -> Result<ArchiveWritten, String> {
        let files = self
            .encoders
            .encode_object(&batch.object.key, &batch.events)
            .map_err(|e| chain(&e))?;
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
    // validates the options now rather than at the first object
    let encoders = EncoderPool::new(&options).context("archive options")?;
    Ok(Arc::new(LocalParquet {
        archive: LocalArchive::new(root),
        encoders,
    }))
}

/// `trailwarden rules …`: see [`crate::rules_cmd`].
pub fn run(a: RulesArgs) -> anyhow::Result<ExitCode> {
    crate::rules_cmd::run(a)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use trailwarden_anomaly::AnomalyConfig;
    use trailwarden_ingest::{Location, ObjectRef};

    use super::*;

    fn batch() -> Batch {
        let events = (0..3)
            .map(|i| {
                let json = format!(
                    r#"{{"eventVersion":"1.09","eventTime":"2024-03-01T00:0{i}:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","eventID":"e{i}","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"}}}}"#
                );
                std::sync::Arc::new(trailwarden_parse::parse_record(json.as_bytes()).unwrap())
            })
            .collect();
        Batch {
            object: ObjectRef {
                key: "o.json".into(),
                location: Location::Local("o.json".into()),
            },
            events,
            low_watermark: None,
        }
    }

    fn settings() -> DetectSettings {
        DetectSettings {
            anomaly: Some(AnomalyConfig::default()),
            ..DetectSettings::default()
        }
    }

    /// A live detector with a state directory: nothing to save before the first batch, a save
    /// after it, none again until something changes, `finish` keeps the held events for the
    /// snapshot; the next start restores it; a damaged snapshot stops the start.
    #[test]
    fn anomaly_state_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = || StateStore::dir(dir.path()).unwrap();
        let mut d = detectors(&settings(), Some(store()), true).unwrap();
        let st = d.state.clone().unwrap();
        assert_eq!(st.restored(), None);
        assert!(st.save().unwrap().is_none(), "nothing changed yet");
        let mut out = Vec::new();
        d.detector.detect(&batch(), &mut out);
        let saved = st.save().unwrap().unwrap();
        assert_eq!(
            saved.pending, 3,
            "events held behind the watermark are kept"
        );
        assert!(st.save().unwrap().is_none());
        d.detector.finish(&mut out);
        assert!(st.save().unwrap().is_none(), "a live finish does not flush");
        assert_eq!(st.saves(), 1);
        let path = dir.path().join(SNAPSHOT_NAME);
        let bytes = std::fs::read(&path).unwrap();

        let again = detectors(&settings(), Some(store()), true).unwrap();
        assert_eq!(again.state.unwrap().restored(), Some(saved.principals));

        std::fs::write(&path, b"{not a snapshot").unwrap();
        let e = detectors(&settings(), Some(store()), true)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap();
        assert!(e.contains("move it away"), "{e}");
        std::fs::write(&path, bytes).unwrap();
        assert!(StateStore::dir(Path::new("s3://b/p")).is_err());
    }

    /// Without the anomaly engine there is no state to keep.
    #[test]
    fn no_state_without_the_anomaly_engine() {
        let dir = tempfile::tempdir().unwrap();
        let d = detectors(
            &DetectSettings::default(),
            Some(StateStore::dir(dir.path()).unwrap()),
            true,
        )
        .unwrap();
        assert!(d.state.is_none());
    }
}
