//! trailwarden-alert: the alert schema, a contract with everything downstream.
//!
//! One [`Alert`] is one JSON object on one line (`alerts.jsonl`), with a fixed set of fields in a
//! fixed order (see `docs/alerts.md`). The schema is versioned by [`SCHEMA_VERSION`]: within one
//! version fields are only ever *added* at the end, never renamed, retyped or removed.
//!
//! Two properties make alerts safe under at-least-once delivery and replay:
//!
//! * **Deterministic ids.** [`alert_id`] hashes the rule id and the evidence (for single-event
//!   policies the CloudTrail `eventID`), never a clock or a counter, so a redelivered object
//!   produces the same ids and consumers can deduplicate.
//! * **Canonical order.** [`canonical_order`] sorts by (`first_event_time`, `rule_id`, `id`) and
//!   drops duplicate ids, so two replays that read the same files in different orders write
//!   byte-identical `alerts.jsonl`.
//!
//! No field carries wall-clock time: every time comes from the events ([`format_event_time`]).
//!
//! The sinks ([`JsonlFileSink`], [`StdoutSink`], [`MemorySink`]) implement [`AlertSink`];
//! `JsonlFileSink::flush` fsyncs, so a flushed alert is durable.

mod spool;

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use spool::AlertSpool;

/// The schema version written in every alert's `schema_version` field.
pub const SCHEMA_VERSION: u32 = 1;

/// Number of hex characters in an alert id (128 bits of blake3).
pub const ID_HEX_LEN: usize = 32;

/// Alert severity, ordered from `Info` (lowest) to `Critical` (highest).
///
/// Serialised in lower case: `info`, `low`, `medium`, `high`, `critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The serialised spelling (`"medium"`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Severity::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity(pub String);

impl fmt::Display for UnknownSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity `{}` (expected info, low, medium, high or critical)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSeverity {}

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// One alert. Field order here is the serialised order and part of the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Deterministic id: see [`alert_id`].
    pub id: String,
    /// The id of the policy or detection that fired (`s3-bucket-public`…).
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    /// MITRE ATT&CK technique ids (`T1562.008`…).
    pub mitre: Vec<String>,
    /// AWS account id (`recipientAccountId`, else the caller's account).
    pub account: Option<String>,
    /// `awsRegion`.
    pub region: Option<String>,
    /// The normalised principal key of the caller.
    pub principal: Option<String>,
    /// `userIdentity.type` (`Root`, `IAMUser`, `AssumedRole`…).
    pub principal_type: Option<String>,
    /// `sourceIPAddress` as written (an address, a service host name…).
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Event time of the earliest evidence event, RFC 3339 UTC with `Z`.
    pub first_event_time: String,
    /// Event time of the latest evidence event, RFC 3339 UTC with `Z`.
    pub last_event_time: String,
    /// CloudTrail `eventID`s of the evidence events (or `OBJECT#INDEX` when a record has none).
    pub event_ids: Vec<String>,
    /// Number of events behind the alert.
    pub count: u64,
    /// One human sentence.
    pub summary: String,
    /// The figures that made the alert fire.
    pub evidence: Map<String, Value>,
}

impl Alert {
    /// The alert as one line of JSON, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        // Serialising a struct of strings, numbers and `serde_json` values cannot fail; the
        // fallback keeps that promise without a panic path.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"schema_version\":{SCHEMA_VERSION},\"id\":{},\"error\":{}}}",
                Value::String(self.id.clone()),
                Value::String(e.to_string())
            )
        })
    }
}

/// Derives a deterministic alert id: the first 128 bits of a blake3 hash, as 32 lowercase hex
/// characters.
///
/// The hash input is the rule id followed by each evidence key, every part preceded by its
/// length in bytes as a little-endian `u64` (so no two different part lists hash the same
/// input). For single-event policies the evidence key is `event:` + the CloudTrail `eventID`, or
/// `object:` + source object + `#` + record index when the record has no `eventID`
/// ([`single_event_key`]).
pub fn alert_id(rule_id: &str, evidence_keys: &[&str]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in std::iter::once(rule_id).chain(evidence_keys.iter().copied()) {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let hex = hasher.finalize().to_hex();
    hex.as_str().chars().take(ID_HEX_LEN).collect()
}

/// The evidence key of one event (see [`alert_id`]) and the text that goes in `event_ids`.
///
/// Returns `(key, event_ref)`: with an `eventID` the key is `event:<eventID>` and the ref is the
/// `eventID`; without one the key is `object:<source_object>#<record_index>` and the ref is
/// `<source_object>#<record_index>`.
pub fn single_event_key(
    event_id: Option<&str>,
    source_object: &str,
    record_index: u32,
) -> (String, String) {
    let key = event_key(event_id, source_object, record_index);
    let event_ref = key.split_once(':').map_or("", |(_, r)| r).to_string();
    (key, event_ref)
}

/// The key of [`single_event_key`] alone, built without formatting (the rule pack makes one
/// per observed event).
pub fn event_key(event_id: Option<&str>, source_object: &str, record_index: u32) -> String {
    match event_id.filter(|id| !id.is_empty()) {
        Some(id) => {
            let mut k = String::with_capacity(6 + id.len());
            k.push_str("event:");
            k.push_str(id);
            k
        }
        None => format!("object:{source_object}#{record_index}"),
    }
}

/// Formats an event time (microseconds since the Unix epoch, UTC) as RFC 3339 with `Z`:
/// `2022-11-10T16:24:34Z`, or with six fractional digits when the time is not a whole second
/// (`2022-11-10T16:24:34.250000Z`). Times outside the representable range clamp to the epoch.
pub fn format_event_time(micros: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    let frac = dt.microsecond();
    if frac == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z")
    }
}

/// Compares two RFC 3339 `Z` times as written by [`format_event_time`] chronologically.
///
/// Without the `Z`, a whole-second time is a prefix of the same second with a fraction, so plain
/// string order is time order.
fn cmp_time(a: &str, b: &str) -> Ordering {
    a.trim_end_matches('Z').cmp(b.trim_end_matches('Z'))
}

/// Sorts alerts by (`first_event_time`, `rule_id`, `id`) and removes alerts whose id was already
/// seen (the first in sorted order is kept).
///
/// Replay writes alerts in this order, so the output does not depend on the order in which
/// input files were read.
pub fn canonical_order(alerts: &mut Vec<Alert>) {
    alerts.sort_by(|a, b| {
        cmp_time(&a.first_event_time, &b.first_event_time)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut seen: HashSet<String> = HashSet::with_capacity(alerts.len());
    alerts.retain(|a| seen.insert(a.id.clone()));
}

/// Where alerts go. `write` may buffer; after `flush` returns `Ok`, every alert written before
/// it is durable (as durable as the sink can make it).
pub trait AlertSink {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

/// Writes JSON Lines to a file through a buffer; [`AlertSink::flush`] flushes the buffer and
/// fsyncs the file.
#[derive(Debug)]
pub struct JsonlFileSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlFileSink {
    /// Creates (or truncates) the file.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path)?;
        Ok(JsonlFileSink {
            path,
            out: BufWriter::with_capacity(64 * 1024, file),
        })
    }

    /// Opens the file for appending, creating it when missing.
    pub fn append(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(JsonlFileSink {
            path,
            out: BufWriter::with_capacity(64 * 1024, file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_lines(out: &mut impl Write, alerts: &[Alert]) -> io::Result<()> {
    for alert in alerts {
        serde_json::to_writer(&mut *out, alert).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

impl AlertSink for JsonlFileSink {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        write_lines(&mut self.out, alerts)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

/// Writes JSON Lines to standard output.
#[derive(Debug, Default)]
pub struct StdoutSink {
    _private: (),
}

impl StdoutSink {
    pub fn new() -> Self {
        StdoutSink::default()
    }
}

impl AlertSink for StdoutSink {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        let stdout = io::stdout();
        let mut lock = io::BufWriter::new(stdout.lock());
        write_lines(&mut lock, alerts)?;
        lock.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// Keeps alerts in memory (tests, and callers that sort before writing).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    pub alerts: Vec<Alert>,
    /// Number of successful `flush` calls.
    pub flushes: usize,
}

impl AlertSink for MemorySink {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        self.alerts.extend_from_slice(alerts);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;

    fn alert(rule: &str, time: &str, event: &str) -> Alert {
        let id = alert_id(rule, &[&format!("event:{event}")]);
        let mut evidence = Map::new();
        evidence.insert("eventName".into(), Value::String("StopLogging".into()));
        Alert {
            schema_version: SCHEMA_VERSION,
            id,
            rule_id: rule.into(),
            title: "t".into(),
            severity: Severity::High,
            mitre: vec!["T1562.008".into()],
            account: Some("111122223333".into()),
            region: None,
            principal: None,
            principal_type: Some("Root".into()),
            source_ip: Some("203.0.113.9".into()),
            user_agent: None,
            first_event_time: time.into(),
            last_event_time: time.into(),
            event_ids: vec![event.into()],
            count: 1,
            summary: "s".into(),
            evidence,
        }
    }

    #[test]
    fn json_line_has_exact_field_order() {
        let line = alert("r", "2024-01-01T00:00:00Z", "e1").to_json_line();
        let keys: Vec<String> = {
            let v: Value = serde_json::from_str(&line).unwrap();
            // serde_json's Map may sort keys, so read the order from the text itself.
            let obj = v.as_object().unwrap();
            let mut ks: Vec<(usize, String)> = obj
                .keys()
                .map(|k| (line.find(&format!("\"{k}\":")).unwrap(), k.clone()))
                .collect();
            ks.sort();
            ks.into_iter().map(|(_, k)| k).collect()
        };
        assert_eq!(
            keys,
            [
                "schema_version",
                "id",
                "rule_id",
                "title",
                "severity",
                "mitre",
                "account",
                "region",
                "principal",
                "principal_type",
                "source_ip",
                "user_agent",
                "first_event_time",
                "last_event_time",
                "event_ids",
                "count",
                "summary",
                "evidence"
            ]
        );
        assert!(line.starts_with("{\"schema_version\":1,\"id\":\""));
        assert!(line.contains("\"severity\":\"high\""));
        assert!(line.contains("\"region\":null"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = alert_id("rule-a", &["event:1"]);
        assert_eq!(a, alert_id("rule-a", &["event:1"]));
        assert_eq!(a.len(), ID_HEX_LEN);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, alert_id("rule-b", &["event:1"]));
        assert_ne!(a, alert_id("rule-a", &["event:2"]));
        // Length prefixes: moving bytes between parts changes the id.
        assert_ne!(alert_id("ab", &["c"]), alert_id("a", &["bc"]));
    }

    #[test]
    fn single_event_key_falls_back_to_object_and_index() {
        assert_eq!(
            single_event_key(Some("abc"), "o", 3),
            ("event:abc".to_string(), "abc".to_string())
        );
        assert_eq!(
            single_event_key(None, "bucket/key.json.gz", 3),
            (
                "object:bucket/key.json.gz#3".to_string(),
                "bucket/key.json.gz#3".to_string()
            )
        );
        assert_eq!(single_event_key(Some(""), "o", 0).1, "o#0");
    }

    #[test]
    fn event_time_formatting() {
        assert_eq!(format_event_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_event_time(1_668_097_474_000_000),
            "2022-11-10T16:24:34Z"
        );
        assert_eq!(
            format_event_time(1_668_097_474_250_000),
            "2022-11-10T16:24:34.250000Z"
        );
        assert_eq!(format_event_time(i64::MAX), "1970-01-01T00:00:00Z");
        assert_eq!(format_event_time(-1_000_000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn canonical_order_sorts_and_dedups() {
        let a = alert("b-rule", "2024-01-01T00:00:01Z", "e1");
        let b = alert("a-rule", "2024-01-01T00:00:01Z", "e2");
        let c = alert("z-rule", "2024-01-01T00:00:00.500000Z", "e3");
        let d = alert("z-rule", "2024-01-01T00:00:00Z", "e4");
        let mut one = vec![a.clone(), b.clone(), c.clone(), d.clone(), a.clone()];
        let mut two = vec![d.clone(), a.clone(), c.clone(), b.clone()];
        canonical_order(&mut one);
        canonical_order(&mut two);
        assert_eq!(one, two);
        let rules: Vec<&str> = one.iter().map(|x| x.rule_id.as_str()).collect();
        assert_eq!(rules, ["z-rule", "z-rule", "a-rule", "b-rule"]);
        assert_eq!(one[0].event_ids, ["e4"]);
    }

    #[test]
    fn severity_round_trip_and_order() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert!("HIGH".parse::<Severity>().is_err());
    }

    #[test]
    fn jsonl_file_sink_writes_lines_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let alerts = vec![
            alert("r", "2024-01-01T00:00:00Z", "e1"),
            alert("r", "2024-01-01T00:00:01Z", "e2"),
        ];
        let mut sink = JsonlFileSink::create(&path).unwrap();
        sink.write(&alerts).unwrap();
        sink.flush().unwrap();
        let mut again = JsonlFileSink::append(&path).unwrap();
        again.write(&alerts[..1]).unwrap();
        again.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], alerts[0].to_json_line());
        let back: Alert = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, alerts[1]);
    }

    #[test]
    fn memory_sink_collects() {
        let mut sink = MemorySink::default();
        sink.write(&[alert("r", "2024-01-01T00:00:00Z", "e1")])
            .unwrap();
        sink.flush().unwrap();
        assert_eq!((sink.alerts.len(), sink.flushes), (1, 1));
    }
}
