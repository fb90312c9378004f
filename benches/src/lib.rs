//! Shared setup of the benches in `benches/benches/`: a generated trail read back as the
//! pipeline's decode stage reads it, and the inputs the detection benches share.

use std::path::{Path, PathBuf};

use trailwarden_detect::IpLists;
use trailwarden_ingest::{layout, local, Location};
use trailwarden_parse::{parse_object_with, Event, Limits, ObjectKind, RecordParser};

/// Records in the stage benches' trail (64 objects).
pub const TRAIL_EVENTS: u64 = 20_000;
/// The stage benches' trail seed: every run benches the same bytes.
pub const TRAIL_SEED: u64 = 11;

/// One object of a trail: its key, its gzip bytes, and its events as the decode stage hands
/// them to detection and the archive.
#[derive(Debug)]
pub struct Object {
    /// The object's key (`AWSLogs/…`), the `source_object` of its events.
    pub key: String,
    pub gz: Vec<u8>,
    pub events: Vec<std::sync::Arc<Event>>,
}

/// A generated trail, in memory, objects in the order `trailwarden replay` feeds them.
#[derive(Debug)]
pub struct Trail {
    pub objects: Vec<Object>,
}

impl Trail {
    /// The stage benches' trail: [`TRAIL_EVENTS`] records, seed [`TRAIL_SEED`], detection
    /// scenarios injected.
    pub fn stages() -> Trail {
        Trail::generate(TRAIL_EVENTS, TRAIL_SEED)
    }

    /// Generates a trail (scenarios injected) in a temporary directory and reads every object
    /// back with the production parser. Objects are in replay order (time in the file name,
    /// then key); digest files are left out, as the pipeline leaves them out of detection.
    pub fn generate(events: u64, seed: u64) -> Trail {
        let dir = tempfile::tempdir().expect("tempdir");
        trailwarden_gen::generate(&trailwarden_gen::GenConfig {
            out: dir.path().to_path_buf(),
            events,
            seed,
            inject_scenarios: true,
            ..Default::default()
        })
        .expect("generate");
        let (mut refs, errors) = local::walk(&[dir.path().join("AWSLogs")]);
        assert!(errors.is_empty(), "walking the generated trail: {errors:?}");
        refs.sort_by_cached_key(|o| {
            let t = layout::parse(&o.key).and_then(|l| l.file_time);
            (t.unwrap_or(i64::MIN), o.key.clone())
        });
        let limits = Limits::default();
        let mut parser = RecordParser::new();
        let mut objects = Vec::with_capacity(refs.len());
        for o in refs {
            let Location::Local(path) = &o.location else {
                unreachable!("a local walk gives local paths")
            };
            let gz = std::fs::read(path).expect("read a generated object");
            let parsed = parse_object_with(&mut parser, &gz, &limits);
            assert!(
                parsed.problem.is_none() && parsed.bad_records.is_empty(),
                "{}: the generated object does not read back cleanly",
                o.key
            );
            if parsed.kind == ObjectKind::Digest {
                continue;
            }
            objects.push(Object {
                key: o.key,
                gz,
                events: parsed.events.into_iter().map(std::sync::Arc::new).collect(),
            });
        }
        Trail { objects }
    }

    /// Events in all objects (what a detector is given, Insights events included).
    pub fn events(&self) -> u64 {
        self.objects.iter().map(|o| o.events.len() as u64).sum()
    }

    /// The largest trail object (by gzip size; for the stage benches' trail ~1,000 records,
    /// ~1.5 MB of JSON).
    pub fn largest(&self) -> &Object {
        self.objects
            .iter()
            .filter(|o| o.key.contains("_CloudTrail_"))
            .max_by_key(|o| o.gz.len())
            .expect("a trail object")
    }
}

/// The benches' IP lists: `risky` = the generator's risky range ([`trailwarden_gen::RISKY_CIDR`]),
/// as in the end-to-end benchmark.
pub fn ip_lists() -> IpLists {
    let mut lists = IpLists::new();
    lists
        .add_text(
            "risky",
            "bench",
            &format!("{}\n", trailwarden_gen::RISKY_CIDR),
        )
        .expect("ip list");
    lists
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The SigmaHQ rule set (`<data>/rules/cloud/aws/cloudtrail`) when present, looked for where the
/// sigma crate's tests look: `TRAILWARDEN_SIGMA_DATA`, `../shared/data/sigma` next to the
/// repository, `/work/shared/data/sigma`. It is not part of the repository.
pub fn sigmahq_cloudtrail_rules() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TRAILWARDEN_SIGMA_DATA").map(PathBuf::from),
        Some(repo_root().join("../shared/data/sigma")),
        Some(PathBuf::from("/work/shared/data/sigma")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join("rules/cloud/aws/cloudtrail"))
        .find(|d| d.is_dir())
}
