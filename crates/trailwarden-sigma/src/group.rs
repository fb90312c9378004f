//! Alert grouping for detection rules: the matches of one rule by one principal within one
//! event-time bucket become one alert carrying the count, the event names and the first event
//! ids — what a low-fidelity rule (SigmaHQ's `aws_sts_assumerole_misuse` matches every call of
//! an assumed role) must produce to be usable, and what keeps the alert path from costing more
//! than the evaluation.
//!
//! Buckets are fixed (aligned on the epoch), so which events share an alert depends only on the
//! events, never on the order they arrive: the alert's representative event is the earliest
//! (event time, event key), its `event_ids` the first [`MAX_EVIDENCE_EVENTS`] in that order, and
//! its id `alert_id(rule, ["group", account, principal, bucket start])`. A group is emitted
//! once the watermark (latest event time minus the allowed lateness) has passed its bucket's
//! end — at the end of a replay, about `window + lateness` after its first event live. An event
//! that arrives after its bucket was emitted gets an alert of its own (`evidence.group.late`),
//! never silently dropped.

use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;

use serde_json::{Map, Value};
use trailwarden_alert::{alert_id, format_event_time, single_event_key, Alert, Severity};
use trailwarden_parse::Event;

use crate::engine::MAX_EVIDENCE_EVENTS;

/// Most distinct event names listed in one grouped alert (`other` counts the rest).
pub const MAX_GROUP_EVENT_NAMES: usize = 32;

/// Grouping settings (`SigmaOptions::grouping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    /// Bucket length in seconds of event time (> 0).
    pub window_secs: u64,
    /// Rules at this level or below are grouped; rules above alert on every match.
    pub max_severity: Severity,
    /// Most open groups; beyond it the group with the oldest bucket is emitted early (counted).
    pub max_groups: usize,
}

impl Grouping {
    /// One hour per (rule, account, principal), for rules up to `medium`.
    pub fn default_hourly() -> Grouping {
        Grouping {
            window_secs: 3600,
            max_severity: Severity::Medium,
            max_groups: 200_000,
        }
    }

    fn window_micros(&self) -> i64 {
        i64::try_from(self.window_secs.max(1))
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000)
    }
}

/// Grouping counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Matches folded into groups.
    pub grouped_matches: u64,
    /// Grouped alerts emitted.
    pub groups_emitted: u64,
    /// Groups emitted before their bucket closed because `max_groups` was reached.
    pub groups_forced: u64,
    /// Matches that arrived after their bucket's alert was emitted (each alerted alone).
    pub late_matches: u64,
    /// Groups open now.
    pub open: u64,
}

/// One open group.
struct Group {
    bucket: i64,
    account: String,
    principal: String,
    /// The alert of the earliest (time, key) event so far.
    rep: Alert,
    rep_time: i64,
    rep_key: String,
    count: u64,
    last_time: i64,
    /// The smallest (time, key, ref) seen, at most MAX_EVIDENCE_EVENTS (a max-heap).
    refs: BinaryHeap<(i64, String, String)>,
    /// Matches per event name (every name: the listed top names must not depend on order).
    names: HashMap<Box<str>, u64>,
}

/// The open groups of every grouped rule.
pub(crate) struct Grouper {
    spec: Grouping,
    groups: HashMap<Box<str>, Group>,
    key: String,
    /// Latest event time seen (µs).
    max_time: Option<i64>,
    /// Bucket index whose end the watermark passed last (emission scans only on change).
    emitted_through: Option<i64>,
    stats: GroupStats,
}

/// What the grouper needs from the engine to build a representative alert.
pub(crate) trait AlertBuilder {
    fn build(&mut self) -> Option<Alert>;
}

impl Grouper {
    pub fn new(spec: Grouping) -> Grouper {
        Grouper {
            spec,
            groups: HashMap::new(),
            key: String::with_capacity(128),
            max_time: None,
            emitted_through: None,
            stats: GroupStats::default(),
        }
    }

    pub fn applies_to(&self, severity: Severity) -> bool {
        severity <= self.spec.max_severity
    }

    pub fn stats(&self) -> GroupStats {
        let mut s = self.stats;
        s.open = self.groups.len() as u64;
        s
    }

    /// Notes an event time (every event, matched or not: the watermark moves on all input).
    pub fn see(&mut self, time: i64) {
        if self.max_time.is_none_or(|m| time > m) {
            self.max_time = Some(time);
        }
    }

    /// Folds one match of `rule` into its group. `build` makes the event's alert when it
    /// becomes the group's representative (the first match, or an earlier one).
    pub fn add(
        &mut self,
        rule: u32,
        event: &Event,
        source_object: &str,
        build: &mut dyn AlertBuilder,
        out: &mut Vec<Alert>,
    ) {
        self.stats.grouped_matches += 1;
        let wm = self.spec.window_micros();
        let t = event.event_time;
        let bucket = t.div_euclid(wm);
        let account = event.account().unwrap_or("");
        let principal = event.identity.principal.as_deref().unwrap_or("");
        self.key.clear();
        let _ = write!(
            self.key,
            "{rule}\u{1f}{bucket}\u{1f}{account}\u{1f}{principal}"
        );
        if let Some(g) = self.groups.get_mut(self.key.as_str()) {
            fold(g, event, source_object, build);
            return;
        }
        if self
            .emitted_through
            .is_some_and(|open_from| bucket < open_from)
        {
            // Its bucket's alert is out: this match alerts alone.
            self.stats.late_matches += 1;
            if let Some(mut a) = build.build() {
                let (k, _) =
                    single_event_key(event.event_id.as_deref(), source_object, event.record_index);
                a.id = alert_id(&a.rule_id, &["group-late", account, principal, &k]);
                a.evidence.insert(
                    "group".into(),
                    group_evidence(&self.spec, bucket, wm, 1, &HashMap::new(), true),
                );
                out.push(a);
            }
            return;
        }
        let Some(rep) = build.build() else {
            return;
        };
        let (rep_key, r) =
            single_event_key(event.event_id.as_deref(), source_object, event.record_index);
        let mut refs = BinaryHeap::with_capacity(4);
        refs.push((t, rep_key.clone(), r));
        let g = Group {
            bucket,
            account: account.to_string(),
            principal: principal.to_string(),
            rep,
            rep_time: t,
            rep_key,
            count: 1,
            last_time: t,
            refs,
            names: HashMap::from([(event.event_name.as_str().into(), 1)]),
        };
        self.groups.insert(self.key.as_str().into(), g);
        if self.groups.len() > self.spec.max_groups {
            self.force_oldest(out);
        }
    }

    /// Emits every group whose bucket ended at or before the watermark.
    pub fn advance(&mut self, allowed_lateness_secs: Option<u64>, out: &mut Vec<Alert>) {
        let (Some(lateness), Some(max)) = (allowed_lateness_secs, self.max_time) else {
            return;
        };
        let wm = self.spec.window_micros();
        let lateness = i64::try_from(lateness)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000);
        let watermark = max.saturating_sub(lateness);
        // Buckets with index < `open_from` have ended by the watermark.
        let open_from = watermark.div_euclid(wm);
        if self.emitted_through == Some(open_from) {
            return;
        }
        self.emitted_through = Some(open_from);
        let done: Vec<Box<str>> = self
            .groups
            .iter()
            .filter(|(_, g)| g.bucket < open_from)
            .map(|(k, _)| k.clone())
            .collect();
        self.emit_keys(done, out);
    }

    /// Emits every open group (end of input).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        let all: Vec<Box<str>> = self.groups.keys().cloned().collect();
        self.emit_keys(all, out);
    }

    fn force_oldest(&mut self, out: &mut Vec<Alert>) {
        let oldest = self
            .groups
            .iter()
            .min_by(|a, b| (a.1.bucket, a.0).cmp(&(b.1.bucket, b.0)))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.stats.groups_forced += 1;
            self.emit_keys(vec![k], out);
        }
    }

    fn emit_keys(&mut self, mut keys: Vec<Box<str>>, out: &mut Vec<Alert>) {
        keys.sort_unstable();
        let wm = self.spec.window_micros();
        for k in keys {
            let Some(g) = self.groups.remove(&k) else {
                continue;
            };
            self.stats.groups_emitted += 1;
            out.push(finish(&self.spec, g, wm));
        }
    }
}

fn fold(g: &mut Group, event: &Event, source_object: &str, build: &mut dyn AlertBuilder) {
    let t = event.event_time;
    g.count += 1;
    g.last_time = g.last_time.max(t);
    match g.names.get_mut(event.event_name.as_str()) {
        Some(c) => *c += 1,
        None => {
            g.names.insert(event.event_name.as_str().into(), 1);
        }
    }
    // Allocate the event's key only when it may be among the earliest.
    let full = g.refs.len() >= MAX_EVIDENCE_EVENTS;
    let max_ref_time = g.refs.peek().map_or(i64::MAX, |r| r.0);
    if t > g.rep_time && full && t > max_ref_time {
        return;
    }
    let (key, r) = single_event_key(event.event_id.as_deref(), source_object, event.record_index);
    if (t, key.as_str()) < (g.rep_time, g.rep_key.as_str()) {
        if let Some(a) = build.build() {
            g.rep = a;
            g.rep_time = t;
            g.rep_key = key.clone();
        }
    }
    if g.refs.iter().any(|(rt, rk, _)| *rt == t && *rk == key) {
        // The same event again (a redelivered object): listed once (it still counts: `count`
        // is matches, so it does not depend on which copies were seen first).
        return;
    }
    if !full {
        g.refs.push((t, key, r));
    } else if g.refs.peek().is_some_and(|m| (t, &key) < (m.0, &m.1)) {
        g.refs.pop();
        g.refs.push((t, key, r));
    }
}

fn group_evidence(
    spec: &Grouping,
    bucket: i64,
    wm: i64,
    count: u64,
    names: &HashMap<Box<str>, u64>,
    late: bool,
) -> Value {
    let mut m = Map::new();
    m.insert(
        "by".into(),
        Value::Array(vec!["account".into(), "principal".into()]),
    );
    m.insert("window_secs".into(), Value::from(spec.window_secs));
    m.insert(
        "start".into(),
        Value::String(format_event_time(bucket.saturating_mul(wm))),
    );
    m.insert(
        "end".into(),
        Value::String(format_event_time(
            bucket.saturating_add(1).saturating_mul(wm),
        )),
    );
    m.insert("count".into(), Value::from(count));
    if !names.is_empty() {
        // The most frequent names (ties by name), the rest summed.
        let mut top: Vec<(&str, u64)> = names.iter().map(|(n, c)| (&**n, *c)).collect();
        top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut n = Map::new();
        let mut other = 0;
        for (i, (name, c)) in top.into_iter().enumerate() {
            if i < MAX_GROUP_EVENT_NAMES {
                n.insert(name.to_string(), Value::from(c));
            } else {
                other += c;
            }
        }
        if other > 0 {
            n.insert("(other)".into(), Value::from(other));
        }
        m.insert("event_names".into(), Value::Object(n));
    }
    if late {
        m.insert("late".into(), Value::Bool(true));
    }
    Value::Object(m)
}

fn finish(spec: &Grouping, g: Group, wm: i64) -> Alert {
    let Group {
        bucket,
        account,
        principal,
        mut rep,
        rep_time,
        count,
        last_time,
        refs,
        names,
        ..
    } = g;
    let start = format_event_time(bucket.saturating_mul(wm));
    rep.id = alert_id(&rep.rule_id, &["group", &account, &principal, &start]);
    rep.event_ids = refs
        .into_sorted_vec()
        .into_iter()
        .map(|(_, _, r)| r)
        .collect();
    rep.count = count;
    rep.first_event_time = format_event_time(rep_time);
    rep.last_event_time = format_event_time(last_time);
    if count > 1 {
        let who = if principal.is_empty() {
            "an unknown principal"
        } else {
            principal.as_str()
        };
        rep.summary = format!(
            "{} — {count} matching events by {who} in the {} window from {start}",
            rep.title,
            humanize_secs(spec.window_secs)
        );
    }
    rep.evidence.insert(
        "group".into(),
        group_evidence(spec, bucket, wm, count, &names, false),
    );
    rep
}

fn humanize_secs(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
