//! Per-principal, per-account and per-source-IP state, and the versioned snapshot.
//!
//! Every collection here has a cap; what a full collection drops is its least recently active
//! entry (event time), so memory is bounded whatever the input.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::obs::Obs;

pub(crate) const DAY_US: i64 = 86_400_000_000;

/// One piece of evidence: (event time, event ref as listed in the alert, evidence key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ev {
    pub t: i64,
    pub id: String,
    pub key: String,
}

impl Ev {
    pub(crate) fn of(o: &Obs) -> Ev {
        Ev {
            t: o.t,
            id: o.id.clone(),
            key: o.key(),
        }
    }
}

/// A sliding-window counter (bucketed: 30 buckets per window), the evidence of the window
/// (the first `cap − 1` events and the latest), and a baseline of daily peaks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Counter {
    /// (bucket start, units, events), oldest first.
    buckets: VecDeque<(i64, u64, u64)>,
    pub evidence: VecDeque<Ev>,
    /// (day number, highest window count seen that day), oldest first.
    peaks: VecDeque<(i64, u64)>,
}

impl Counter {
    fn expire(&mut self, t: i64, window_us: i64) {
        let lo = t.saturating_sub(window_us);
        let width = (window_us / 30).max(1);
        while self
            .buckets
            .front()
            .is_some_and(|&(s, _, _)| s.saturating_add(width) <= lo)
        {
            self.buckets.pop_front();
        }
        while self.evidence.front().is_some_and(|e| e.t <= lo) {
            self.evidence.pop_front();
        }
    }

    /// Events (not units) in the current window.
    pub(crate) fn events(&self) -> u64 {
        self.buckets.iter().map(|&(_, _, e)| e).sum()
    }

    /// Adds `n` units at `t` and returns the count in the window ending at `t`.
    pub(crate) fn add(&mut self, ev: Ev, n: u64, window_us: i64, cap: usize) -> u64 {
        let t = ev.t;
        self.expire(t, window_us);
        let width = (window_us / 30).max(1);
        let start = t.div_euclid(width) * width;
        match self.buckets.back_mut() {
            Some((s, c, e)) if *s == start => {
                *c = c.saturating_add(n);
                *e = e.saturating_add(1);
            }
            _ => self.buckets.push_back((start, n, 1)),
        }
        if self.evidence.len() >= cap.max(2) {
            self.evidence.pop_back();
        }
        self.evidence.push_back(ev);
        self.buckets.iter().map(|&(_, c, _)| c).sum()
    }

    /// The highest daily peak of the `days` days before `t`'s day (0 when none).
    pub(crate) fn baseline(&self, t: i64, days: u32) -> u64 {
        let today = t.div_euclid(DAY_US);
        self.peaks
            .iter()
            .filter(|&&(d, _)| d < today && d >= today - i64::from(days))
            .map(|&(_, p)| p)
            .max()
            .unwrap_or(0)
    }

    /// Records a (normal, not alerting) window count in today's peak.
    pub(crate) fn note_peak(&mut self, t: i64, count: u64, days: u32) {
        let today = t.div_euclid(DAY_US);
        match self.peaks.back_mut() {
            Some((d, p)) if *d == today => *p = (*p).max(count),
            _ => self.peaks.push_back((today, count)),
        }
        while self
            .peaks
            .front()
            .is_some_and(|&(d, _)| d < today - i64::from(days))
        {
            self.peaks.pop_front();
        }
    }
}

/// The last geo-located activity of a principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LastGeo {
    pub t: i64,
    pub ip: IpAddr,
    pub id: String,
    pub key: String,
    pub country: Option<String>,
    pub city: Option<String>,
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
}

/// A suppression: detection, discriminator (an IP, a country…), until when (event time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cool {
    pub det: u8,
    pub what: String,
    pub until: i64,
}

/// What is known about one principal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PState {
    pub first: i64,
    pub last: i64,
    /// Known source IPs, with last-seen time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<(IpAddr, i64)>,
    /// Known countries, with last-seen time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<(String, i64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Box<LastGeo>>,
    /// IP transitions seen (unordered pairs, as text `a|b`), oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub transitions: VecDeque<String>,
    /// Admin actions (`iam:CreateUser`), with first and last seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin: Vec<(String, i64, i64)>,
    /// Counters by detection index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counters: Vec<(u8, Counter)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cools: Vec<Cool>,
}

impl PState {
    pub(crate) fn new(t: i64) -> PState {
        PState {
            first: t,
            last: t,
            ..PState::default()
        }
    }

    pub(crate) fn counter(&mut self, det: u8) -> &mut Counter {
        let i = match self.counters.iter().position(|(d, _)| *d == det) {
            Some(i) => i,
            None => {
                self.counters.push((det, Counter::default()));
                self.counters.len() - 1
            }
        };
        // `i` is a valid index: found above or just pushed.
        &mut self.counters[i].1
    }
}

/// Suppression helpers shared by principals, accounts and source IPs.
pub(crate) fn cooling(cools: &[Cool], det: u8, what: &str, t: i64) -> bool {
    cools
        .iter()
        .any(|c| c.det == det && c.what == what && t < c.until)
}

pub(crate) fn cool(cools: &mut Vec<Cool>, det: u8, what: &str, until: i64, t: i64, cap: usize) {
    cools.retain(|c| c.until > t && !(c.det == det && c.what == what));
    if cools.len() >= cap {
        // drop the one that ends first
        if let Some(i) = cools
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| c.until)
            .map(|(i, _)| i)
        {
            cools.remove(i);
        }
    }
    cools.push(Cool {
        det,
        what: what.to_string(),
        until,
    });
}

/// Region baseline of one account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AState {
    pub first: i64,
    pub last: i64,
    pub regions: Vec<(String, i64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cools: Vec<Cool>,
}

/// Failed sign-ins from one source address: (principal, evidence) by user, newest last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SState {
    pub last: i64,
    pub users: Vec<(String, Ev)>,
    pub cooldown_until: i64,
}

/// A deletion or deactivation seen in the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TermMark {
    pub t: i64,
    pub event_name: String,
    pub by: String,
    pub ev: Ev,
}

/// Upserts `(name, t)` in a capped list of (name, last seen), dropping the least recent.
pub(crate) fn touch<K: PartialEq + Clone>(list: &mut Vec<(K, i64)>, k: &K, t: i64, cap: usize) {
    if let Some(e) = list.iter_mut().find(|(x, _)| x == k) {
        e.1 = e.1.max(t);
        return;
    }
    if list.len() >= cap.max(1) {
        if let Some(i) = list
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, l))| *l)
            .map(|(i, _)| i)
        {
            list.remove(i);
        }
    }
    list.push((k.clone(), t));
}

/// Engine counters; a snapshot carries them so a restored engine reports totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyStats {
    /// Events handed to the engine (with a principal).
    pub events_in: u64,
    /// Events run through the detections.
    pub processed: u64,
    /// Events that arrived after later events had been processed (beyond the lateness).
    pub late: u64,
    /// Events processed before the watermark passed them because the pending buffer was full.
    pub forced: u64,
    /// Duplicate events (same time and id) dropped while pending.
    pub duplicates: u64,
    pub principals_evicted: u64,
    pub accounts_evicted: u64,
    pub source_ips_evicted: u64,
    pub terminations_evicted: u64,
    pub alerts: u64,
}

/// The snapshot document (JSON).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub format: String,
    pub version: u32,
    pub max_seen: Option<i64>,
    pub last_processed: Option<i64>,
    pub pending: Vec<Obs>,
    pub principals: Vec<(String, PState)>,
    pub accounts: Vec<(String, AState)>,
    pub source_ips: Vec<(String, SState)>,
    pub terminations: Vec<(String, TermMark)>,
    pub stats: AnomalyStats,
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename.
pub(crate) fn write_atomic(
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(), crate::AnomalyError> {
    let io = |source| crate::AnomalyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

pub(crate) const SNAPSHOT_FORMAT: &str = "trailwarden-anomaly-state";
pub(crate) const SNAPSHOT_VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64) -> Ev {
        Ev {
            t,
            id: t.to_string(),
            key: t.to_string(),
        }
    }

    #[test]
    fn counter_window_and_baseline() {
        let mut c = Counter::default();
        let w = 3_600_000_000;
        assert_eq!(c.add(ev(0), 1, w, 3), 1);
        assert_eq!(c.add(ev(1_000_000), 5, w, 3), 6);
        assert_eq!(c.add(ev(2_000_000), 1, w, 3), 7);
        assert_eq!(c.add(ev(3_000_000), 1, w, 3), 8);
        // capped evidence keeps the first and the latest
        let ids: Vec<&str> = c.evidence.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["0", "1000000", "3000000"]);
        assert_eq!(c.events(), 4);
        // two hours later the window is empty again
        assert_eq!(c.add(ev(2 * w), 1, w, 3), 1);
        c.note_peak(0, 8, 30);
        assert_eq!(c.baseline(DAY_US, 30), 8);
        assert_eq!(c.baseline(0, 30), 0, "today's peak is not its own baseline");
        assert_eq!(c.baseline(40 * DAY_US, 30), 0, "forgotten after 30 days");
    }

    #[test]
    fn touch_caps() {
        let mut l: Vec<(String, i64)> = Vec::new();
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            touch(&mut l, &k.to_string(), i as i64, 2);
        }
        assert_eq!(l.len(), 2);
        assert!(l.iter().all(|(k, _)| k != "a"));
    }
}
