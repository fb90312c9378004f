//! Helpers shared by the integration tests: CloudTrail records built as JSON and parsed by the
//! real parser, batches, and rules from inline YAML.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::{json, Value};
use trailwarden_alert::Alert;
use trailwarden_ingest::{Location, ObjectRef};
use trailwarden_parse::{parse_record, Event};
use trailwarden_pipeline::{Batch, Detector};
use trailwarden_sigma::{SigmaEngine, SigmaOptions, SigmaRules};

pub const ACCT: &str = "111122223333";

/// 2024-05-02T10:00:00Z in microseconds.
pub const T0: i64 = 1_714_644_000_000_000;

pub fn iso(micros: i64) -> String {
    trailwarden_alert::format_event_time(micros)
}

/// A full CloudTrail record: an IAM user `user` calling `source`/`name` at `t` (µs).
pub fn record(source: &str, name: &str, t: i64, user: &str, id: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{}", user.to_uppercase()),
            "arn": format!("arn:aws:iam::{ACCT}:user/{user}"),
            "accountId": ACCT,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": user
        },
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.40",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCT,
        "eventCategory": "Management"
    })
}

pub fn event(v: &Value) -> Event {
    parse_record(v.to_string().as_bytes()).unwrap()
}

pub fn batch(key: &str, events: Vec<Event>) -> Batch {
    Batch {
        object: ObjectRef {
            key: key.to_string(),
            location: Location::Local(PathBuf::from(key)),
        },
        events: events.into_iter().map(std::sync::Arc::new).collect(),
        low_watermark: None,
    }
}

pub fn rules(yaml: &str) -> SigmaRules {
    SigmaRules::from_sources(&[(PathBuf::from("inline.yml"), yaml.to_string())]).unwrap()
}

pub fn load_err(yaml: &str) -> String {
    SigmaRules::from_sources(&[(PathBuf::from("inline.yml"), yaml.to_string())])
        .unwrap_err()
        .to_string()
}

/// Runs `batches` through an engine (as the pipeline would) and returns every alert.
pub fn run(engine: &mut SigmaEngine, batches: &[Batch]) -> Vec<Alert> {
    let mut out = Vec::new();
    for b in batches {
        engine.detect(b, &mut out);
    }
    engine.finish(&mut out);
    out
}

pub fn engine(yaml: &str) -> SigmaEngine {
    SigmaEngine::new(rules(yaml), SigmaOptions::replay())
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `../shared/data/sigma` next to the repository, when present. When absent: `None` and a
/// printed reason, unless `CI` is set, then a failure.
pub fn shared_sigma() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TRAILWARDEN_SIGMA_DATA").map(PathBuf::from),
        Some(repo_root().join("../shared/data/sigma")),
        Some(PathBuf::from("/work/shared/data/sigma")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("rules/cloud/aws/cloudtrail").is_dir() {
            return Some(c);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the SigmaHQ data (../shared/data/sigma) is missing");
    }
    eprintln!(
        "skipping: SigmaHQ rules not found (../shared/data/sigma or TRAILWARDEN_SIGMA_DATA); set CI to make this a failure"
    );
    None
}

/// `0..n` in a deterministic shuffled order (xorshift from `seed`).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = seed;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}
