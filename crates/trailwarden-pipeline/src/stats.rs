//! Run statistics: what the summary, the progress bar and the metrics report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use trailwarden_alert::Alert;
use trailwarden_parse::{ObjectKind, ParsedObject};

use crate::ArchiveWritten;

/// A bad object or record, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reject {
    pub object: String,
    /// The record's index in `Records`; `None` for a problem with the whole object.
    pub record_index: Option<u32>,
    pub reason: &'static str,
    pub detail: String,
}

/// Live counters (atomics, read by the progress display) and the detail kept for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub objects: AtomicU64,
    pub objects_skipped: AtomicU64,
    pub digests: AtomicU64,
    pub events: AtomicU64,
    pub insight_events: AtomicU64,
    pub bad_records: AtomicU64,
    pub bad_objects: AtomicU64,
    pub compressed_bytes: AtomicU64,
    pub decoded_bytes: AtomicU64,
    pub alerts: AtomicU64,
    pub archive_rows: AtomicU64,
    pub archive_files: AtomicU64,
    pub archive_bytes: AtomicU64,
    pub archive_failures: AtomicU64,
    detect_nanos: AtomicU64,
    detail: Mutex<Detail>,
}

#[derive(Debug, Default)]
struct Detail {
    alerts_by_rule: BTreeMap<String, u64>,
    rejects: Vec<Reject>,
}

/// The end-of-run summary.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub objects: u64,
    pub objects_skipped: u64,
    pub digests: u64,
    pub events: u64,
    pub insight_events: u64,
    pub bad_records: u64,
    pub bad_objects: u64,
    pub compressed_bytes: u64,
    pub decoded_bytes: u64,
    pub alerts: u64,
    pub alerts_by_rule: BTreeMap<String, u64>,
    pub archive_rows: u64,
    pub archive_files: u64,
    pub archive_bytes: u64,
    pub archive_failures: u64,
    pub detect_time: Duration,
    /// Sorted by object, then record.
    pub rejects: Vec<Reject>,
}

impl Summary {
    /// Bad objects and bad records counted by reason.
    pub fn rejects_by_reason(&self) -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        for r in &self.rejects {
            *m.entry(r.reason).or_insert(0) += 1;
        }
        m
    }

    /// True when some input could not be read in full.
    pub fn had_bad_input(&self) -> bool {
        self.bad_objects > 0 || self.bad_records > 0
    }
}

impl Stats {
    fn detail(&self) -> std::sync::MutexGuard<'_, Detail> {
        match self.detail.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn add_skipped(&self) {
        self.objects_skipped.fetch_add(1, Relaxed);
    }

    pub(crate) fn add_object(&self, key: &str, p: &ParsedObject, compressed: u64) {
        self.objects.fetch_add(1, Relaxed);
        self.compressed_bytes.fetch_add(compressed, Relaxed);
        self.decoded_bytes.fetch_add(p.decoded_bytes, Relaxed);
        if p.kind == ObjectKind::Digest {
            self.digests.fetch_add(1, Relaxed);
        }
        let n = p.events.len() as u64;
        self.events.fetch_add(n, Relaxed);
        let insights = p.events.iter().filter(|e| e.is_insight()).count() as u64;
        self.insight_events.fetch_add(insights, Relaxed);
        self.bad_records
            .fetch_add(p.bad_records.len() as u64, Relaxed);
        metrics::counter!("trailwarden_parse_events_total").increment(n);
        metrics::counter!("trailwarden_parse_bad_records_total")
            .increment(p.bad_records.len() as u64);
        if p.problem.is_none() && p.bad_records.is_empty() {
            return;
        }
        let mut d = self.detail();
        if let Some(prob) = &p.problem {
            self.bad_objects.fetch_add(1, Relaxed);
            metrics::counter!("trailwarden_parse_bad_objects_total", "reason" => prob.kind.as_str()).increment(1);
            tracing::warn!(object = key, reason = prob.kind.as_str(), detail = %prob.detail, "bad object");
            d.rejects.push(Reject {
                object: key.to_string(),
                record_index: None,
                reason: prob.kind.as_str(),
                detail: prob.detail.clone(),
            });
        }
        for b in &p.bad_records {
            tracing::warn!(object = key, record = b.index, reason = b.reason.as_str(), detail = %b.detail, "bad record");
            d.rejects.push(Reject {
                object: key.to_string(),
                record_index: Some(b.index),
                reason: b.reason.as_str(),
                detail: b.detail.clone(),
            });
        }
    }

    pub(crate) fn add_detect_time(&self, t: Duration) {
        self.detect_nanos
            .fetch_add(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    pub(crate) fn add_alerts(&self, alerts: &[Alert]) {
        self.alerts.fetch_add(alerts.len() as u64, Relaxed);
        metrics::counter!("trailwarden_detect_alerts_total").increment(alerts.len() as u64);
        let mut d = self.detail();
        for a in alerts {
            *d.alerts_by_rule.entry(a.rule_id.clone()).or_insert(0) += 1;
        }
    }

    pub(crate) fn add_archive(&self, w: ArchiveWritten) {
        self.archive_rows.fetch_add(w.rows, Relaxed);
        self.archive_files.fetch_add(w.files, Relaxed);
        self.archive_bytes.fetch_add(w.bytes, Relaxed);
        metrics::counter!("trailwarden_archive_rows_total").increment(w.rows);
    }

    pub(crate) fn add_archive_failure(&self, key: &str, e: &str) {
        self.archive_failures.fetch_add(1, Relaxed);
        self.detail().rejects.push(Reject {
            object: key.to_string(),
            record_index: None,
            reason: "archive-write-failed",
            detail: e.to_string(),
        });
    }

    /// A snapshot for the end of the run.
    pub fn summary(&self) -> Summary {
        let d = self.detail();
        let mut rejects = d.rejects.clone();
        rejects.sort();
        Summary {
            objects: self.objects.load(Relaxed),
            objects_skipped: self.objects_skipped.load(Relaxed),
            digests: self.digests.load(Relaxed),
            events: self.events.load(Relaxed),
            insight_events: self.insight_events.load(Relaxed),
            bad_records: self.bad_records.load(Relaxed),
            bad_objects: self.bad_objects.load(Relaxed),
            compressed_bytes: self.compressed_bytes.load(Relaxed),
            decoded_bytes: self.decoded_bytes.load(Relaxed),
            alerts: self.alerts.load(Relaxed),
            alerts_by_rule: d.alerts_by_rule.clone(),
            archive_rows: self.archive_rows.load(Relaxed),
            archive_files: self.archive_files.load(Relaxed),
            archive_bytes: self.archive_bytes.load(Relaxed),
            archive_failures: self.archive_failures.load(Relaxed),
            detect_time: Duration::from_nanos(self.detect_nanos.load(Relaxed)),
            rejects,
        }
    }
}
