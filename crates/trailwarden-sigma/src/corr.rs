//! Correlation state: the event-time reorder buffer and the per-group sliding windows.
//!
//! **The ordering rule.** Observations (an event that matched a rule a correlation uses) are
//! not applied when they arrive: they wait in a buffer ordered by (event time, evidence key,
//! correlation, rule position). The *watermark* is the latest event time the engine has seen
//! (over all events, matching or not) minus the allowed lateness; after each batch every
//! observation at or before the watermark is applied, oldest first, and `finish` applies the
//! rest. So the windows see events in event-time order whatever order the objects arrived in,
//! as long as no event arrives more than the allowed lateness after a later event was seen. An
//! observation older than the last applied one is *late*: it is dropped and counted
//! (`late_dropped`). With unbounded lateness (replay) nothing is applied before `finish` and the
//! result does not depend on file order at all. The buffer is capped
//! ([`crate::SigmaOptions::max_buffered`]): beyond it the oldest observations are applied early
//! (counted, `forced_releases`).
//!
//! **Windows.** Per correlation and group-by key, a window holds the observations of the last
//! `timespan` (an observation at time `t` sees those with time ≥ `t − timespan`). The condition
//! is evaluated when an observation enters; when it holds, one alert is emitted with the
//! window's observations as evidence and the group's window restarts empty. Groups are capped
//! per correlation ([`crate::SigmaOptions::max_groups`]): idle groups (all observations older
//! than the timespan) are dropped first, which changes nothing; then the least recently active
//! groups are evicted (counted, `groups_evicted`). A window holds at most
//! [`crate::SigmaOptions::max_window_events`] observations (oldest dropped, counted).

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::rules::{CorrelationRule, CorrelationType};

/// What an alert needs to know about one piece of evidence (an event, or a correlation alert
/// when correlations are chained).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ev {
    /// `event:<eventID>` / `object:<obj>#<i>` / `alert:<id>`.
    pub key: String,
    /// What goes into the alert's `event_ids`.
    pub refs: Vec<String>,
    pub first_time: i64,
    pub time: i64,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub principal_type: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One observation for one correlation.
#[derive(Debug, Clone)]
pub(crate) struct Obs {
    pub time: i64,
    pub corr: u32,
    pub pos: u32,
    pub group: Vec<Option<String>>,
    pub value: Option<String>,
    pub ev: Arc<Ev>,
}

impl Obs {
    fn order_key(&self) -> (i64, &str, u32, u32) {
        (self.time, self.ev.key.as_str(), self.corr, self.pos)
    }
}

impl PartialEq for Obs {
    fn eq(&self, other: &Self) -> bool {
        self.order_key() == other.order_key()
    }
}
impl Eq for Obs {}
impl PartialOrd for Obs {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Obs {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order_key().cmp(&other.order_key())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub time: i64,
    pub pos: u32,
    pub value: Option<String>,
    pub ev: Arc<Ev>,
}

#[derive(Debug, Default)]
struct Group {
    items: VecDeque<Item>,
    distinct: HashMap<String, u32>,
    sum: f64,
    nsum: u32,
    pos_counts: Vec<u32>,
    newest: i64,
}

impl Group {
    fn pop_front(&mut self) {
        if let Some(it) = self.items.pop_front() {
            self.forget(&it);
        }
    }

    fn forget(&mut self, it: &Item) {
        if let Some(v) = &it.value {
            if let Some(c) = self.distinct.get_mut(v) {
                *c -= 1;
                if *c == 0 {
                    self.distinct.remove(v);
                }
            }
            if let Some(n) = crate::matcher::parse_num(v) {
                self.sum -= n;
                self.nsum = self.nsum.saturating_sub(1);
            }
        }
        if let Some(c) = self.pos_counts.get_mut(it.pos as usize) {
            *c = c.saturating_sub(1);
        }
    }

    fn push(&mut self, it: Item) {
        if let Some(v) = &it.value {
            *self.distinct.entry(v.clone()).or_insert(0) += 1;
            if let Some(n) = crate::matcher::parse_num(v) {
                self.sum += n;
                self.nsum += 1;
            }
        }
        if let Some(c) = self.pos_counts.get_mut(it.pos as usize) {
            *c += 1;
        }
        self.newest = self.newest.max(it.time);
        self.items.push_back(it);
    }

    fn reset(&mut self, n_inputs: usize) {
        self.items.clear();
        self.distinct.clear();
        self.sum = 0.0;
        self.nsum = 0;
        self.pos_counts = vec![0; n_inputs];
    }
}

/// A correlation that fired: the window's evidence.
#[derive(Debug)]
pub(crate) struct Fired {
    pub group: Vec<Option<String>>,
    pub items: Vec<Item>,
    /// The figure the condition was tested on (count, distinct values, sum, average, rules).
    pub figure: f64,
    pub time: i64,
}

/// Counters of the correlation state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CorrCounters {
    pub late_dropped: u64,
    pub forced_releases: u64,
    pub groups_evicted: u64,
    pub window_events_evicted: u64,
}

/// The sliding windows of one correlation.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    groups: HashMap<String, Group>,
    since_sweep: u32,
}

pub(crate) fn group_key(vals: &[Option<String>]) -> String {
    let mut k = String::new();
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            k.push('\u{1f}');
        }
        match v {
            Some(s) => {
                k.push('=');
                k.push_str(s);
            }
            None => k.push('\u{0}'),
        }
    }
    k
}

pub(crate) struct Limits {
    pub max_groups: usize,
    pub max_window_events: usize,
}

impl Windows {
    /// Applies one observation (in event-time order). Returns the firing, if any.
    pub(crate) fn apply(
        &mut self,
        rule: &CorrelationRule,
        n_inputs: usize,
        obs: Obs,
        limits: &Limits,
        counters: &mut CorrCounters,
    ) -> Option<Fired> {
        let span_us = i64::try_from(rule.timespan_secs)
            .unwrap_or(i64::MAX / 2_000_000)
            .saturating_mul(1_000_000);
        let t = obs.time;
        let key = group_key(&obs.group);
        if !self.groups.contains_key(&key) && self.groups.len() >= limits.max_groups.max(1) {
            self.sweep(t, span_us, limits.max_groups.max(1), counters);
        }
        self.since_sweep += 1;
        if self.since_sweep >= 4096 {
            self.since_sweep = 0;
            let cap = limits.max_groups.max(1);
            self.sweep(t, span_us, cap.saturating_mul(2), counters);
        }
        let g = self.groups.entry(key).or_insert_with(|| Group {
            pos_counts: vec![0; n_inputs],
            newest: t,
            ..Group::default()
        });
        let lower = t.saturating_sub(span_us);
        while g.items.front().is_some_and(|f| f.time < lower) {
            g.pop_front();
        }
        if g.items.len() >= limits.max_window_events.max(1) {
            g.pop_front();
            counters.window_events_evicted += 1;
        }
        g.push(Item {
            time: t,
            pos: obs.pos,
            value: obs.value,
            ev: obs.ev,
        });
        let cond = &rule.condition;
        let (fires, figure) = match rule.kind {
            CorrelationType::EventCount => {
                let n = g.items.len() as f64;
                (cond.holds(n), n)
            }
            CorrelationType::ValueCount => {
                let n = g.distinct.len() as f64;
                (cond.holds(n), n)
            }
            CorrelationType::ValueSum => (g.nsum > 0 && cond.holds(g.sum), g.sum),
            CorrelationType::ValueAvg => {
                let avg = if g.nsum > 0 {
                    g.sum / f64::from(g.nsum)
                } else {
                    0.0
                };
                (g.nsum > 0 && cond.holds(avg), avg)
            }
            CorrelationType::Temporal => {
                let seen = g.pos_counts.iter().filter(|c| **c > 0).count() as f64;
                let ok = if cond == &Default::default() {
                    seen as usize == n_inputs
                } else {
                    cond.holds(seen)
                };
                (ok, seen)
            }
            CorrelationType::TemporalOrdered => {
                let mut next = 0usize;
                for it in &g.items {
                    if it.pos as usize == next {
                        next += 1;
                        if next == n_inputs {
                            break;
                        }
                    }
                }
                (next == n_inputs, next as f64)
            }
        };
        if !fires {
            return None;
        }
        let items: Vec<Item> = g.items.drain(..).collect();
        g.reset(n_inputs);
        Some(Fired {
            group: obs.group,
            items,
            figure,
            time: t,
        })
    }

    /// Drops idle groups; if still above `cap`, evicts the least recently active ones.
    fn sweep(&mut self, now: i64, span_us: i64, cap: usize, counters: &mut CorrCounters) {
        let lower = now.saturating_sub(span_us);
        self.groups
            .retain(|_, g| g.newest >= lower && !g.items.is_empty());
        if self.groups.len() < cap {
            return;
        }
        let mut by_age: Vec<(i64, String)> = self
            .groups
            .iter()
            .map(|(k, g)| (g.newest, k.clone()))
            .collect();
        by_age.sort();
        let excess = self.groups.len() + 1 - cap;
        let n = excess.max(cap / 8).min(by_age.len());
        for (_, k) in by_age.into_iter().take(n) {
            self.groups.remove(&k);
            counters.groups_evicted += 1;
        }
    }

    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }
}
