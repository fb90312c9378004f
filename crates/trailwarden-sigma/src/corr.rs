//! Correlation state: the event-time reorder buffer and the per-group sliding windows — a
//! [`Correlator`], generic over what an observation carries as evidence, so the Sigma engine
//! and the rule pack (`trailwarden-pack`: threshold, distinct-count, sequence, deduplicated and
//! first-seen rules) share one mechanism.
//!
//! **The ordering rule.** Observations (an event that matched a rule a correlation uses) are
//! not applied when they arrive: they wait in a buffer ordered by (event time, evidence key,
//! correlation, position, group). The *watermark* is the latest event time the correlator has
//! seen ([`Correlator::see`], called for every event, matching or not) minus the allowed
//! lateness; [`Correlator::advance`] (after each batch) applies every observation at or before
//! the watermark, oldest first, and [`Correlator::flush`] applies the rest. So the windows see
//! events in event-time order whatever order the objects arrived in, as long as no event
//! arrives more than the allowed lateness after a later event was seen. An observation older
//! than the last applied one is *late*: it is dropped and counted (`late_dropped`). With
//! unbounded lateness (replay) nothing is applied before `flush` and the result does not depend
//! on file order at all. The buffer is capped ([`CorrelatorOptions::max_buffered`]): beyond it
//! the oldest observations are applied early (counted, `forced_releases`).
//!
//! **Windows.** Per correlation and group key, a window holds the observations of the last
//! `timespan` (an observation at time `t` sees those with time ≥ `t − timespan`). The condition
//! is evaluated when an observation enters; when it holds, the correlation *fires* with the
//! window's observations as evidence and the group's window restarts empty. With
//! [`WindowSpec::suppress_secs`], a group that fired ignores (and counts, `suppressed`) its
//! observations for that long — "one alert per key per hour". With
//! [`WindowSpec::distinct_events`], an observation whose evidence key is already in the window
//! at the same position is a duplicate (a redelivered object, an organisation trail and a
//! member trail) and is not counted again. Groups are capped per correlation
//! ([`CorrelatorOptions::max_groups`]): idle groups (all observations older than the timespan,
//! no suppression running) are dropped first, which changes nothing; then the least recently
//! active groups are evicted (counted, `groups_evicted`). A window holds at most
//! [`CorrelatorOptions::max_window_events`] observations (oldest dropped, counted).
//!
//! **Sequences** (`TemporalOrdered`) are matched greedily over the window, oldest first: the
//! earliest observations that can satisfy a position do ([`sequence_steps`]). The rule pack's
//! sequences add, per position, a least number of observations ([`WindowSpec::step_min`]) and
//! a comparison with the observation that satisfied an earlier position
//! ([`WindowSpec::step_differs`]); with [`Differs::first_only`] an observation that fails it ends
//! the attempt, and the attempt's observations leave the window.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

// Seeded per process (keys are input text), and several times faster than SipHash on the
// short keys here.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use crate::rules::{CorrelationCondition, CorrelationType};

/// What a correlator needs of an observation's evidence: a key naming the evidence (an event:
/// `event:<eventID>`), used to order observations deterministically and to spot duplicates.
pub trait Evidence {
    fn key(&self) -> &str;

    /// A hash of [`Evidence::key`], the same for equal keys. Evidence that is observed by
    /// several windows computes it once and returns it from here.
    fn key_hash(&self) -> u64 {
        key_hash(self.key())
    }
}

/// The hash [`Evidence::key_hash`] gives by default (fixed seed: the same in every process).
pub fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7472_6169_6c77_6172).hash_one(key)
}

/// One correlation's window: what it counts, over how long, and when it fires.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// `EventCount` (threshold), `ValueCount` (distinct values of the observation's value),
    /// `ValueSum`, `ValueAvg`, `Temporal` (distinct positions), `TemporalOrdered` (positions in
    /// order: a sequence).
    pub kind: CorrelationType,
    /// Number of positions (the rules or steps that feed the correlation).
    pub inputs: usize,
    /// The window, in seconds of event time.
    pub timespan_secs: u64,
    /// When the figure makes the correlation fire. For `Temporal` the default (no bound)
    /// means "every position".
    pub condition: CorrelationCondition,
    /// After a firing the group ignores observations for this long (0: Sigma semantics — the
    /// window restarts empty and counts again at once).
    pub suppress_secs: u64,
    /// Count an evidence key once per position within a window (duplicate deliveries).
    pub distinct_events: bool,
    /// `ValueCount` with several counted fields: the value is their values joined by U+001F;
    /// `condition` applies to the first part's distinct count and each entry here is the least
    /// distinct count of the next part (all must hold). Empty: one counted value.
    pub and_distinct: Vec<u64>,
    /// `TemporalOrdered`: per position, how many of its observations satisfy it (the next
    /// position counts only after them). Empty, or a missing or 0 entry: 1.
    pub step_min: Vec<u32>,
    /// `TemporalOrdered`: per position, the earlier position whose satisfying observation's
    /// value this position's observations must differ from. Empty, or `None`: no comparison.
    pub step_differs: Vec<Option<Differs>>,
    /// `TemporalOrdered`: an observation of a later position is not kept while its group has
    /// too few observations of the first position to start a match — it could never be part
    /// of one, as windows receive observations in event-time order. Keeps the groups of keys
    /// that never start a sequence empty (the rule pack); Sigma keeps them as evidence.
    pub skip_unstarted: bool,
}

/// A sequence position's comparison with an earlier position ([`WindowSpec::step_differs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Differs {
    /// The earlier position: its satisfying observation (the last of them, with
    /// [`WindowSpec::step_min`] above 1) gives the value to differ from.
    pub from: u32,
    /// An observation of this position that does not differ ends the attempt (its observations
    /// leave the window) instead of being passed over: only the first one after the previous
    /// position is satisfied decides.
    pub first_only: bool,
}

impl WindowSpec {
    /// The observations position `pos` needs (at least 1).
    fn min_at(&self, pos: usize) -> u32 {
        self.step_min.get(pos).copied().unwrap_or(1).max(1)
    }

    fn differs_at(&self, pos: usize) -> Option<Differs> {
        self.step_differs.get(pos).copied().flatten()
    }
}

/// One observation for one correlation.
#[derive(Debug, Clone)]
pub struct Observation<E> {
    /// Event time, microseconds since the epoch.
    pub time: i64,
    /// Index of the correlation (its [`WindowSpec`]) in the correlator.
    pub corr: u32,
    /// Position: which rule or step of the correlation matched.
    pub pos: u32,
    /// Group-by values (a missing value is `None` and forms its own group), encoded.
    pub group: GroupKey,
    /// The value counted by `ValueCount`/`ValueSum`/`ValueAvg`.
    pub value: Option<String>,
    pub ev: Arc<E>,
}

impl<E: Evidence> Observation<E> {
    fn order_key(&self) -> (i64, &str, u32, u32, &str) {
        (
            self.time,
            self.ev.key(),
            self.corr,
            self.pos,
            self.group.as_str(),
        )
    }
}

impl<E: Evidence> PartialEq for Observation<E> {
    fn eq(&self, other: &Self) -> bool {
        self.order_key() == other.order_key()
    }
}
impl<E: Evidence> Eq for Observation<E> {}
impl<E: Evidence> PartialOrd for Observation<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E: Evidence> Ord for Observation<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order_key().cmp(&other.order_key())
    }
}

/// An observation inside a window.
#[derive(Debug, Clone)]
pub struct WindowItem<E> {
    pub time: i64,
    pub pos: u32,
    pub value: Option<String>,
    pub ev: Arc<E>,
    /// `ev`'s [`Evidence::key_hash`].
    key_hash: u64,
}

/// A correlation that fired: the window's evidence.
#[derive(Debug)]
pub struct Firing<E> {
    pub corr: u32,
    pub group: Vec<Option<String>>,
    /// The window's observations, oldest first; the last is the one that made it fire.
    pub items: Vec<WindowItem<E>>,
    /// The figure the condition was tested on (count, distinct values, sum, average,
    /// positions).
    pub figure: f64,
    /// The firing observation's event time.
    pub time: i64,
}

/// Bounds and lateness of a [`Correlator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelatorOptions {
    /// How far (seconds of event time) an observation may arrive behind the latest event seen
    /// and still be ordered correctly. `None`: unbounded — nothing is applied before `flush`.
    pub allowed_lateness_secs: Option<u64>,
    /// Most observations waiting in the reorder buffer (oldest applied early beyond it).
    pub max_buffered: usize,
    /// Most group keys tracked per correlation.
    pub max_groups: usize,
    /// Most observations in one group's window.
    pub max_window_events: usize,
}

impl Default for CorrelatorOptions {
    /// Live settings: 15 minutes of lateness, 1,000,000 buffered, 100,000 groups, 10,000
    /// observations per window.
    fn default() -> Self {
        CorrelatorOptions {
            allowed_lateness_secs: Some(15 * 60),
            max_buffered: 1_000_000,
            max_groups: 100_000,
            max_window_events: 10_000,
        }
    }
}

/// Counters of a [`Correlator`] (totals since start, and the current sizes).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CorrelatorStats {
    pub late_dropped: u64,
    pub forced_releases: u64,
    pub groups_evicted: u64,
    pub window_events_evicted: u64,
    /// Observations ignored because their group was suppressed after a firing.
    pub suppressed: u64,
    /// Observations not counted again because their evidence was already in the window.
    pub duplicates: u64,
    pub buffered: u64,
    pub groups: u64,
}

/// An item's (position, evidence key) in a window's duplicate check: hashed by the key's
/// [`Evidence::key_hash`] kept here, equal by position and key text. The evidence is not read
/// unless the hashes agree, and not at all for the item's own entry (the same `Arc`).
#[derive(Debug)]
struct ItemKey<E> {
    pos: u32,
    hash: u64,
    ev: Arc<E>,
}

impl<E: Evidence> PartialEq for ItemKey<E> {
    fn eq(&self, other: &Self) -> bool {
        self.pos == other.pos
            && self.hash == other.hash
            && (Arc::ptr_eq(&self.ev, &other.ev) || self.ev.key() == other.ev.key())
    }
}
impl<E: Evidence> Eq for ItemKey<E> {}
impl<E: Evidence> std::hash::Hash for ItemKey<E> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash ^ u64::from(self.pos));
    }
}

/// How a correlation reads an item's value.
#[derive(Debug, Clone, Copy)]
struct ValueMode {
    /// Sums the values (`ValueSum`, `ValueAvg`).
    numeric: bool,
    /// Counted parts beyond the first (`WindowSpec::and_distinct`).
    extra_parts: usize,
    /// Values are counted (not for sequences, whose values are only compared).
    counted: bool,
}

/// Adds `d` to the count of `v` in `map` (removing it at zero).
fn tally(map: &mut HashMap<String, u32>, v: &str, d: i32) {
    match map.get_mut(v) {
        Some(c) => {
            *c = c.saturating_add_signed(d);
            if *c == 0 {
                map.remove(v);
            }
        }
        None if d > 0 => {
            map.insert(v.to_string(), d.unsigned_abs());
        }
        None => {}
    }
}

#[derive(Debug)]
struct Group<E> {
    items: VecDeque<WindowItem<E>>,
    distinct: HashMap<String, u32>,
    /// Distinct counts of the further value parts (`and_distinct`).
    extra: Vec<HashMap<String, u32>>,
    /// (position, evidence key) of the items, with `distinct_events`.
    keys: HashSet<ItemKey<E>>,
    sum: f64,
    nsum: u32,
    pos_counts: Vec<u32>,
    newest: i64,
    /// Observations before this time are suppressed (after a firing).
    quiet_until: i64,
}

impl<E: Evidence> Group<E> {
    fn new(n_inputs: usize, t: i64) -> Self {
        Group {
            items: VecDeque::new(),
            distinct: HashMap::new(),
            extra: Vec::new(),
            keys: HashSet::new(),
            sum: 0.0,
            nsum: 0,
            pos_counts: vec![0; n_inputs],
            newest: t,
            quiet_until: i64::MIN,
        }
    }

    fn pop_front(&mut self, mode: ValueMode) {
        if let Some(it) = self.items.pop_front() {
            self.forget(it, mode);
        }
    }

    /// Counts (`d` = 1) or uncounts (`d` = -1) an item's value.
    fn count_value(&mut self, v: &str, d: i32, mode: ValueMode) {
        if !mode.counted {
            return;
        }
        if mode.extra_parts == 0 {
            tally(&mut self.distinct, v, d);
        } else {
            if self.extra.len() < mode.extra_parts {
                self.extra.resize_with(mode.extra_parts, HashMap::new);
            }
            let mut parts = v.split('\u{1f}');
            tally(&mut self.distinct, parts.next().unwrap_or(""), d);
            for (map, p) in self.extra.iter_mut().zip(parts) {
                tally(map, p, d);
            }
        }
        if let Some(n) = mode.numeric.then(|| crate::matcher::parse_num(v)).flatten() {
            self.sum += f64::from(d) * n;
            self.nsum = self.nsum.saturating_add_signed(d);
        }
    }

    fn forget(&mut self, it: WindowItem<E>, mode: ValueMode) {
        if let Some(v) = &it.value {
            self.count_value(v, -1, mode);
        }
        if let Some(c) = self.pos_counts.get_mut(it.pos as usize) {
            *c = c.saturating_sub(1);
        }
        if !self.keys.is_empty() {
            self.keys.remove(&ItemKey {
                pos: it.pos,
                hash: it.key_hash,
                ev: it.ev,
            });
        }
    }

    fn push(&mut self, it: WindowItem<E>, mode: ValueMode) {
        if let Some(v) = &it.value {
            self.count_value(v, 1, mode);
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
        self.extra.clear();
        self.keys.clear();
        self.sum = 0.0;
        self.nsum = 0;
        self.pos_counts = vec![0; n_inputs];
    }
}

/// The sliding windows of one correlation.
#[derive(Debug)]
struct Windows<E> {
    /// By [`GroupKey`] text.
    groups: HashMap<String, Group<E>>,
    since_sweep: u32,
}

impl<E> Default for Windows<E> {
    fn default() -> Self {
        Windows {
            groups: HashMap::new(),
            since_sweep: 0,
        }
    }
}

/// Group-by values encoded into one text: what windows are keyed on and observations ordered
/// by, built once per observation. Values are joined by U+001F; a present value is `=` and the
/// value (U+001B and U+001F in it escaped by a U+001B), a missing one U+0000. Distinct values
/// give distinct keys, and [`GroupKey::values`] gives the values back.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey(String);

impl GroupKey {
    const SEP: char = '\u{1f}';
    const ESC: char = '\u{1b}';

    pub fn new<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> GroupKey {
        let mut k = String::new();
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                k.push(Self::SEP);
            }
            match v {
                Some(s) => {
                    k.push('=');
                    if memchr::memchr2(0x1b, 0x1f, s.as_bytes()).is_none() {
                        k.push_str(s);
                    } else {
                        for c in s.chars() {
                            if c == Self::SEP || c == Self::ESC {
                                k.push(Self::ESC);
                            }
                            k.push(c);
                        }
                    }
                }
                None => k.push('\u{0}'),
            }
        }
        GroupKey(k)
    }

    /// The key of `values`.
    pub fn of(values: &[Option<String>]) -> GroupKey {
        GroupKey::new(values.iter().map(Option::as_deref))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The values the key was built from.
    pub fn values(&self) -> Vec<Option<String>> {
        let mut out = Vec::new();
        if self.0.is_empty() {
            return out;
        }
        let mut cur = String::new();
        let mut escaped = false;
        let flush = |cur: &mut String, out: &mut Vec<Option<String>>| {
            let part = std::mem::take(cur);
            out.push(part.strip_prefix('=').map(str::to_string));
        };
        for c in self.0.chars() {
            if escaped {
                cur.push(c);
                escaped = false;
            } else if c == Self::ESC {
                escaped = true;
            } else if c == Self::SEP {
                flush(&mut cur, &mut out);
            } else {
                cur.push(c);
            }
        }
        flush(&mut cur, &mut out);
        out
    }
}

/// The text key of a group (values joined with a unit separator; a missing value differs
/// from every present one).
pub fn group_key(vals: &[Option<String>]) -> String {
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

fn secs_us(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 2_000_000)
        .saturating_mul(1_000_000)
}

impl<E: Evidence> Windows<E> {
    /// Applies one observation (in event-time order). Returns the firing, if any.
    fn apply(
        &mut self,
        spec: &WindowSpec,
        obs: Observation<E>,
        opts: &CorrelatorOptions,
        counters: &mut CorrelatorStats,
    ) -> Option<Firing<E>> {
        let n_inputs = spec.inputs;
        let span_us = secs_us(spec.timespan_secs);
        let t = obs.time;
        let mode = ValueMode {
            numeric: matches!(
                spec.kind,
                CorrelationType::ValueSum | CorrelationType::ValueAvg
            ),
            extra_parts: spec.and_distinct.len(),
            counted: spec.kind != CorrelationType::TemporalOrdered,
        };
        // A later step of a sequence that has not started cannot be part of a match.
        let unstarted_skip =
            spec.skip_unstarted && spec.kind == CorrelationType::TemporalOrdered && obs.pos > 0;
        let key = obs.group.as_str();
        let cap = opts.max_groups.max(1);
        self.since_sweep += 1;
        if self.since_sweep >= 4096 {
            self.since_sweep = 0;
            self.sweep(t, span_us, cap.saturating_mul(2), counters);
        }
        if !self.groups.contains_key(key) {
            if unstarted_skip {
                return None;
            }
            if self.groups.len() >= cap {
                self.sweep(t, span_us, cap, counters);
            }
            self.groups.insert(key.to_string(), Group::new(n_inputs, t));
        }
        let g = self.groups.get_mut(key)?;
        if t < g.quiet_until {
            counters.suppressed += 1;
            g.newest = g.newest.max(t);
            return None;
        }
        let lower = t.saturating_sub(span_us);
        while g.items.front().is_some_and(|f| f.time < lower) {
            g.pop_front(mode);
        }
        if unstarted_skip && g.pos_counts.first().copied().unwrap_or(0) < spec.min_at(0) {
            g.newest = g.newest.max(t);
            return None;
        }
        let key_hash = obs.ev.key_hash();
        if spec.distinct_events
            && !g.keys.insert(ItemKey {
                pos: obs.pos,
                hash: key_hash,
                ev: obs.ev.clone(),
            })
        {
            counters.duplicates += 1;
            return None;
        }
        if g.items.len() >= opts.max_window_events.max(1) {
            g.pop_front(mode);
            counters.window_events_evicted += 1;
        }
        g.push(
            WindowItem {
                time: t,
                pos: obs.pos,
                value: obs.value,
                ev: obs.ev,
                key_hash,
            },
            mode,
        );
        let cond = &spec.condition;
        let (fires, figure) = match spec.kind {
            CorrelationType::EventCount => {
                let n = g.items.len() as f64;
                (cond.holds(n), n)
            }
            CorrelationType::ValueCount => {
                let n = g.distinct.len() as f64;
                let others = spec
                    .and_distinct
                    .iter()
                    .enumerate()
                    .all(|(i, min)| g.extra.get(i).map_or(0, HashMap::len) as u64 >= *min);
                (cond.holds(n) && others, n)
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
                let ok = if cond == &CorrelationCondition::default() {
                    seen as usize == n_inputs
                } else {
                    cond.holds(seen)
                };
                (ok, seen)
            }
            CorrelationType::TemporalOrdered => {
                let walk = walk_sequence(spec, g.items.iter(), None);
                if let Some(d) = walk.dead_end {
                    // The attempt that ended leaves the window: its events cannot start
                    // another, and a later walk must not revive it when older items expire.
                    for _ in 0..=d {
                        g.pop_front(mode);
                    }
                }
                (walk.reached == n_inputs, walk.reached as f64)
            }
        };
        if !fires {
            return None;
        }
        let items: Vec<WindowItem<E>> = g.items.drain(..).collect();
        g.reset(n_inputs);
        if spec.suppress_secs > 0 {
            g.quiet_until = t.saturating_add(secs_us(spec.suppress_secs));
        }
        Some(Firing {
            corr: obs.corr,
            group: obs.group.values(),
            items,
            figure,
            time: t,
        })
    }

    /// Drops idle groups; if still above `cap`, evicts the least recently active ones.
    fn sweep(&mut self, now: i64, span_us: i64, cap: usize, counters: &mut CorrelatorStats) {
        let lower = now.saturating_sub(span_us);
        self.groups
            .retain(|_, g| (g.newest >= lower && !g.items.is_empty()) || g.quiet_until > now);
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

    fn groups(&self) -> usize {
        self.groups.len()
    }
}

/// The reorder buffer: the observations of each batch sorted into a run, the runs merged
/// oldest first. Objects arrive roughly in time order and each holds a stretch of time, so a
/// handful of runs are open at once and the merge heap holds one head per run — not one entry
/// per buffered observation.
#[derive(Debug)]
struct Reorder<E> {
    /// Observations since the last [`Reorder::seal`], in arrival order.
    fresh: Vec<Observation<E>>,
    /// Sealed runs, each sorted newest first (its oldest is popped off the end); the run's
    /// oldest observation is in `heads`.
    runs: Vec<Vec<Observation<E>>>,
    /// Indices of emptied entries of `runs`, for reuse.
    free: Vec<usize>,
    heads: BinaryHeap<Reverse<Head<E>>>,
    len: usize,
}

/// The oldest observation of a run, and the run.
#[derive(Debug)]
struct Head<E> {
    obs: Observation<E>,
    run: usize,
}

impl<E: Evidence> PartialEq for Head<E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<E: Evidence> Eq for Head<E> {}
impl<E: Evidence> PartialOrd for Head<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E: Evidence> Ord for Head<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.obs
            .cmp(&other.obs)
            .then_with(|| self.run.cmp(&other.run))
    }
}

impl<E> Default for Reorder<E> {
    fn default() -> Self {
        Reorder {
            fresh: Vec::new(),
            runs: Vec::new(),
            free: Vec::new(),
            heads: BinaryHeap::new(),
            len: 0,
        }
    }
}

impl<E: Evidence> Reorder<E> {
    fn push(&mut self, obs: Observation<E>) {
        self.fresh.push(obs);
        self.len += 1;
    }

    /// Sorts the observations pushed since the last call into a run of their own.
    fn seal(&mut self) {
        if self.fresh.is_empty() {
            return;
        }
        let mut run = std::mem::take(&mut self.fresh);
        run.sort_unstable_by(|a, b| b.cmp(a));
        let Some(first) = run.pop() else {
            return;
        };
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.runs.push(Vec::new());
                self.runs.len() - 1
            }
        };
        if let Some(r) = self.runs.get_mut(slot) {
            *r = run;
        }
        self.heads.push(Reverse(Head {
            obs: first,
            run: slot,
        }));
    }

    /// The oldest sealed observation.
    fn peek(&self) -> Option<&Observation<E>> {
        self.heads.peek().map(|Reverse(h)| &h.obs)
    }

    /// Removes the oldest sealed observation.
    fn pop(&mut self) -> Option<Observation<E>> {
        let Reverse(h) = self.heads.pop()?;
        self.len -= 1;
        match self.runs.get_mut(h.run).and_then(Vec::pop) {
            Some(next) => self.heads.push(Reverse(Head {
                obs: next,
                run: h.run,
            })),
            None => {
                if let Some(r) = self.runs.get_mut(h.run) {
                    *r = Vec::new();
                }
                self.free.push(h.run);
            }
        }
        Some(h.obs)
    }

    /// Observations buffered, sealed or not.
    fn len(&self) -> usize {
        self.len
    }
}

/// Where a sequence's walk over a window got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Walk {
    /// Positions satisfied (all of them: a match).
    reached: usize,
    /// The item at which the last attempt ended (a `first_only` comparison failed), if any.
    /// The walk went on after it as after a fresh start.
    dead_end: Option<usize>,
}

/// Walks a window's items, oldest first, as the sequence `spec` (`TemporalOrdered`): an item
/// of the position being waited for counts when its comparison (if any) holds; a position is
/// satisfied after [`WindowSpec::step_min`] such items; items of other positions are passed
/// over. A failed `first_only` comparison ends the attempt and the walk starts again after
/// it. With `record`, the indices of the items that counted, per position (of the attempt the
/// walk ends in). Allocates only for a spec with comparisons, or to record.
fn walk_sequence<'a, E: 'a>(
    spec: &WindowSpec,
    items: impl Iterator<Item = &'a WindowItem<E>>,
    mut record: Option<&mut Vec<Vec<usize>>>,
) -> Walk {
    let n = spec.inputs;
    let compares = spec.step_differs.iter().any(Option::is_some);
    // The value of the item that satisfied each position (kept only when some position
    // compares with an earlier one).
    let mut satisfied: Vec<Option<&str>> = if compares { vec![None; n] } else { Vec::new() };
    if let Some(r) = record.as_deref_mut() {
        r.clear();
        r.resize_with(n, Vec::new);
    }
    let (mut next, mut have, mut dead_end) = (0usize, 0u32, None);
    for (i, it) in items.enumerate() {
        if next >= n {
            break;
        }
        if it.pos as usize != next {
            continue;
        }
        if let Some(d) = spec.differs_at(next) {
            let other = satisfied.get(d.from as usize).copied().flatten();
            let differs = matches!((it.value.as_deref(), other), (Some(a), Some(b)) if a != b);
            if !differs {
                if d.first_only {
                    dead_end = Some(i);
                    next = 0;
                    have = 0;
                    satisfied.iter_mut().for_each(|v| *v = None);
                    if let Some(r) = record.as_deref_mut() {
                        r.iter_mut().for_each(Vec::clear);
                    }
                }
                continue;
            }
        }
        if let Some(r) = record.as_deref_mut().and_then(|r| r.get_mut(next)) {
            r.push(i);
        }
        have += 1;
        if have >= spec.min_at(next) {
            if let Some(v) = satisfied.get_mut(next) {
                *v = it.value.as_deref();
            }
            next += 1;
            have = 0;
        }
    }
    Walk {
        reached: next,
        dead_end,
    }
}

/// The items of a sequence's window (a [`Firing`]'s) that satisfied each position, as indices
/// into `items`, per position — the walk the window fired on.
pub fn sequence_steps<E>(spec: &WindowSpec, items: &[WindowItem<E>]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    walk_sequence(spec, items.iter(), Some(&mut out));
    out
}

/// The reorder buffer and the windows of a set of correlations. Pure: no IO, no clock.
#[derive(Debug)]
pub struct Correlator<E> {
    specs: Vec<WindowSpec>,
    windows: Vec<Windows<E>>,
    pending: Reorder<E>,
    /// The chain of firings being applied (reused).
    queue: Vec<Observation<E>>,
    applied_up_to: i64,
    max_time: Option<i64>,
    /// The source's promise that nothing earlier is still to come ([`Correlator::raise_watermark`]).
    low_watermark: i64,
    counters: CorrelatorStats,
    opts: CorrelatorOptions,
}

/// What receives a correlator's firings: the firing, and a queue where it may push
/// observations of other correlations (chaining), applied at once at the firing's time.
pub type OnFire<'a, E> = dyn FnMut(Firing<E>, &mut Vec<Observation<E>>) + 'a;

/// A chain of firings is cut after this many (a guard against a pathological chain).
const MAX_CHAIN: usize = 10_000;

impl<E: Evidence> Correlator<E> {
    pub fn new(specs: Vec<WindowSpec>, opts: CorrelatorOptions) -> Self {
        Correlator {
            windows: specs.iter().map(|_| Windows::default()).collect(),
            specs,
            pending: Reorder::default(),
            queue: Vec::new(),
            applied_up_to: i64::MIN,
            max_time: None,
            low_watermark: i64::MIN,
            counters: CorrelatorStats::default(),
            opts,
        }
    }

    pub fn specs(&self) -> &[WindowSpec] {
        &self.specs
    }

    pub fn options(&self) -> &CorrelatorOptions {
        &self.opts
    }

    /// Notes an event's time (every event, matching or not): it moves the watermark. No
    /// allocation.
    pub fn see(&mut self, event_time: i64) {
        self.max_time = Some(self.max_time.map_or(event_time, |m| m.max(event_time)));
    }

    /// The source promises that no observation before `t` is still to come (a replay knows it
    /// from the trail's delivery order): [`Correlator::advance`] then applies everything up to
    /// `t` even when the allowed lateness would hold it longer (unbounded lateness included).
    /// An observation that arrives behind it anyway is late. Never lowers the watermark.
    pub fn raise_watermark(&mut self, t: i64) {
        self.low_watermark = self.low_watermark.max(t);
    }

    /// Buffers an observation; returns `false` when it is late (older than one already
    /// applied): then it is dropped and counted.
    pub fn observe(&mut self, obs: Observation<E>) -> bool {
        if obs.time < self.applied_up_to {
            self.counters.late_dropped += 1;
            false
        } else {
            self.pending.push(obs);
            true
        }
    }

    /// Applies every buffered observation at or before the watermark (latest event time seen
    /// minus the allowed lateness, or the source's [`Correlator::raise_watermark`] when that is
    /// later), oldest first, then enforces the buffer cap. `on_fire`
    /// receives each firing and may push observations (of other correlations: chaining) that
    /// are applied at once, at the firing's time.
    pub fn advance(&mut self, on_fire: &mut OnFire<'_, E>) {
        let watermark = match (self.opts.allowed_lateness_secs, self.max_time) {
            (Some(l), Some(m)) => m.saturating_sub(secs_us(l)),
            _ => i64::MIN,
        }
        .max(self.low_watermark);
        self.pending.seal();
        while self.pending.peek().is_some_and(|o| o.time <= watermark) {
            if let Some(o) = self.pending.pop() {
                self.apply(o, on_fire);
            }
        }
        while self.pending.len() > self.opts.max_buffered {
            let Some(o) = self.pending.pop() else {
                break;
            };
            self.counters.forced_releases += 1;
            self.apply(o, on_fire);
        }
    }

    /// Applies everything still buffered (end of input).
    pub fn flush(&mut self, on_fire: &mut OnFire<'_, E>) {
        self.pending.seal();
        while let Some(o) = self.pending.pop() {
            self.apply(o, on_fire);
        }
    }

    fn apply(&mut self, obs: Observation<E>, on_fire: &mut OnFire<'_, E>) {
        self.applied_up_to = self.applied_up_to.max(obs.time);
        let mut queue = std::mem::take(&mut self.queue);
        queue.clear();
        queue.push(obs);
        let mut guard = 0usize;
        while let Some(o) = queue.pop() {
            guard += 1;
            if guard > MAX_CHAIN {
                break;
            }
            let ci = o.corr as usize;
            let (Some(spec), Some(win)) = (self.specs.get(ci), self.windows.get_mut(ci)) else {
                continue;
            };
            if let Some(fired) = win.apply(spec, o, &self.opts, &mut self.counters) {
                on_fire(fired, &mut queue);
            }
        }
        queue.clear();
        self.queue = queue;
    }

    /// Counters, with the current buffer and group sizes.
    pub fn stats(&self) -> CorrelatorStats {
        let mut s = self.counters;
        s.buffered = self.pending.len() as u64;
        s.groups = self.windows.iter().map(|w| w.groups() as u64).sum();
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;

    #[derive(Debug)]
    struct K(String);
    impl Evidence for K {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn obs(t: i64, key: &str, pos: u32, group: &str) -> Observation<K> {
        Observation {
            time: t * 1_000_000,
            corr: 0,
            pos,
            group: GroupKey::new([Some(group)]),
            value: None,
            ev: Arc::new(K(key.to_string())),
        }
    }

    fn count(gte: f64, span: u64) -> WindowSpec {
        WindowSpec {
            kind: CorrelationType::EventCount,
            inputs: 1,
            timespan_secs: span,
            condition: CorrelationCondition {
                gte: Some(gte),
                ..CorrelationCondition::default()
            },
            suppress_secs: 0,
            distinct_events: false,
            and_distinct: Vec::new(),
            step_min: Vec::new(),
            step_differs: Vec::new(),
            skip_unstarted: false,
        }
    }

    fn run(spec: WindowSpec, input: Vec<Observation<K>>) -> (Vec<(i64, usize)>, CorrelatorStats) {
        let mut c = Correlator::new(
            vec![spec],
            CorrelatorOptions {
                allowed_lateness_secs: None,
                ..CorrelatorOptions::default()
            },
        );
        for o in input {
            c.see(o.time);
            c.observe(o);
        }
        let mut fired = Vec::new();
        c.flush(&mut |f, _| fired.push((f.time / 1_000_000, f.items.len())));
        (fired, c.stats())
    }

    proptest::proptest! {
        /// A group key gives its values back, and two lists of values share a key only when
        /// they are equal (separators, escapes and missing values in the values included).
        #[test]
        fn group_keys_give_their_values_back_and_never_collide(
            a in proptest::collection::vec(proptest::option::of("[a=\u{0}\u{1b}\u{1f}]{0,4}"), 0..4),
            b in proptest::collection::vec(proptest::option::of("[a=\u{0}\u{1b}\u{1f}]{0,4}"), 0..4),
        ) {
            let (ka, kb) = (GroupKey::of(&a), GroupKey::of(&b));
            proptest::prop_assert_eq!(ka.values(), a.clone());
            proptest::prop_assert_eq!(ka == kb, a == b);
        }

        /// Batches of observations in any time order, advanced after each batch: the windows
        /// see them oldest first (the runs merge into one order), each either applied or
        /// counted late, and with unbounded lateness all of them.
        #[test]
        fn the_reorder_buffer_applies_in_event_time_order(
            batches in proptest::collection::vec(
                proptest::collection::vec((0i64..500, 0u8..4), 0..40), 1..12),
            lateness in proptest::option::of(0u64..200),
        ) {
            let mut c = Correlator::new(
                vec![count(1.0, 10)],
                CorrelatorOptions {
                    allowed_lateness_secs: lateness,
                    ..CorrelatorOptions::default()
                },
            );
            let mut applied: Vec<(i64, String)> = Vec::new();
            let mut on_fire = |f: Firing<K>, _: &mut Vec<Observation<K>>| {
                for it in f.items {
                    applied.push((it.time, it.ev.0.clone()));
                }
            };
            let mut total = 0u64;
            for (b, batch) in batches.iter().enumerate() {
                for (i, (t, k)) in batch.iter().enumerate() {
                    let o = obs(*t, &format!("k{k}-{b}-{i}"), 0, "g");
                    c.see(o.time);
                    c.observe(o);
                    total += 1;
                }
                c.advance(&mut on_fire);
            }
            c.flush(&mut on_fire);
            let stats = c.stats();
            // equal times may come in two batches, each applied when it came
            proptest::prop_assert!(applied.windows(2).all(|w| w[0].0 <= w[1].0), "{applied:?}");
            proptest::prop_assert_eq!(applied.len() as u64 + stats.late_dropped, total);
            proptest::prop_assert_eq!(stats.buffered, 0);
            if lateness.is_none() {
                proptest::prop_assert_eq!(stats.late_dropped, 0);
                proptest::prop_assert!(applied.windows(2).all(|w| w[0] <= w[1]), "{applied:?}");
            }
        }
    }

    #[test]
    fn a_raised_watermark_applies_what_it_has_passed_and_later_arrivals_behind_it_are_late() {
        // what one advance (or the flush) applies: the times of the fired items
        fn step(c: &mut Correlator<K>, flush: bool) -> Vec<i64> {
            let mut applied: Vec<i64> = Vec::new();
            let mut on_fire = |f: Firing<K>, _: &mut Vec<Observation<K>>| {
                applied.extend(f.items.iter().map(|it| it.time / 1_000_000));
            };
            if flush {
                c.flush(&mut on_fire);
            } else {
                c.advance(&mut on_fire);
            }
            applied
        }
        // 6 hours of lateness would hold everything; the source's watermark releases it
        let mut c = Correlator::new(
            vec![count(1.0, 10)],
            CorrelatorOptions {
                allowed_lateness_secs: Some(6 * 3600),
                ..CorrelatorOptions::default()
            },
        );
        for t in [30, 10, 20] {
            c.see(t * 1_000_000);
            c.observe(obs(t, &format!("e{t}"), 0, "g"));
        }
        assert_eq!(
            step(&mut c, false),
            Vec::<i64>::new(),
            "held for the allowed lateness"
        );
        c.raise_watermark(20_000_000);
        assert_eq!(
            step(&mut c, false),
            [10, 20],
            "up to the watermark, oldest first"
        );
        // a lower one changes nothing; an observation behind the watermark is late
        c.raise_watermark(0);
        assert!(!c.observe(obs(15, "e15", 0, "g")));
        assert!(c.observe(obs(25, "e25", 0, "g")));
        assert_eq!(step(&mut c, false), Vec::<i64>::new());
        assert_eq!(c.stats().late_dropped, 1);
        assert_eq!(step(&mut c, true), [25, 30]);
    }

    #[test]
    fn and_distinct_needs_every_count_within_one_window() {
        // 2 distinct first parts and 3 distinct second parts within 60 s.
        let mut spec = count(2.0, 60);
        spec.kind = CorrelationType::ValueCount;
        spec.and_distinct = vec![3];
        let with = |t: i64, key: &str, v: &str| Observation {
            value: Some(v.to_string()),
            ..obs(t, key, 0, "g")
        };
        // Two sources at once, but the third name only comes after the first expired.
        let late = vec![
            with(0, "a", "s1\u{1f}n1"),
            with(10, "b", "s2\u{1f}n2"),
            with(61, "c", "s2\u{1f}n3"),
        ];
        assert_eq!(run(spec.clone(), late).0, []);
        // Three names but one source: no; a second source then fires with every item.
        let one_source = vec![
            with(0, "a", "s1\u{1f}n1"),
            with(1, "b", "s1\u{1f}n2"),
            with(2, "c", "s1\u{1f}n3"),
            with(3, "d", "s2\u{1f}n3"),
        ];
        assert_eq!(run(spec.clone(), one_source).0, [(3, 4)]);
        // A value without the second part counts for the first only.
        let short = vec![with(0, "a", "s1"), with(1, "b", "s2")];
        assert_eq!(run(spec, short).0, []);
    }

    /// A two-step sequence over `span` seconds, as the rule pack builds it.
    fn sequence(span: u64) -> WindowSpec {
        WindowSpec {
            kind: CorrelationType::TemporalOrdered,
            inputs: 2,
            condition: CorrelationCondition::default(),
            distinct_events: true,
            skip_unstarted: true,
            ..count(2.0, span)
        }
    }

    fn valued(t: i64, key: &str, pos: u32, v: Option<&str>) -> Observation<K> {
        Observation {
            value: v.map(str::to_string),
            ..obs(t, key, pos, "g")
        }
    }

    #[test]
    fn a_step_count_needs_that_many_events_before_the_next_step() {
        let mut spec = sequence(1800);
        spec.step_min = vec![5, 1];
        let fail = |t: i64| obs(t, &format!("f{t}"), 0, "g");
        let ok = |t: i64| obs(t, &format!("s{t}"), 1, "g");
        // Four failures, a success (not kept: the sequence has not started), a fifth failure
        // and a success: one firing with the five failures and the second success.
        let mut input: Vec<_> = (0..4).map(|i| fail(i * 60)).collect();
        input.extend([ok(300), fail(360), ok(420)]);
        assert_eq!(run(spec.clone(), input).0, [(420, 6)]);
        // Four failures and a success: nothing.
        let mut four: Vec<_> = (0..4).map(|i| fail(i * 60)).collect();
        four.push(ok(300));
        assert_eq!(run(spec.clone(), four).0, []);
        // Five failures, the success 31 minutes after the first: the first failure has left
        // the window, four remain.
        let mut late: Vec<_> = (0..5).map(|i| fail(i * 60)).collect();
        late.push(ok(1860));
        assert_eq!(run(spec.clone(), late).0, []);
        // A redelivered failure counts once.
        let mut dup: Vec<_> = (0..4).map(|i| fail(i * 60)).collect();
        dup.extend([obs(240, "f180", 0, "g"), ok(300)]);
        assert_eq!(run(spec.clone(), dup).0, []);
        // The figure is the positions reached; `sequence_steps` gives the items of each.
        let mut c = Correlator::new(
            vec![spec.clone()],
            CorrelatorOptions {
                allowed_lateness_secs: None,
                ..CorrelatorOptions::default()
            },
        );
        for o in (0..6).map(|i| fail(i * 60)).chain([ok(400)]) {
            c.see(o.time);
            c.observe(o);
        }
        let mut firings = Vec::new();
        c.flush(&mut |f, _| firings.push(f));
        assert_eq!(firings.len(), 1);
        assert_eq!(firings[0].figure, 2.0);
        assert_eq!(
            sequence_steps(&spec, &firings[0].items),
            [vec![0, 1, 2, 3, 4], vec![6]]
        );
    }

    #[test]
    fn a_step_count_of_one_is_the_plain_sequence() {
        let input = || {
            vec![
                obs(0, "b0", 1, "g"),
                obs(10, "a", 0, "g"),
                obs(20, "b", 1, "g"),
            ]
        };
        let mut spec = sequence(60);
        assert_eq!(run(spec.clone(), input()).0, [(20, 2)]);
        spec.step_min = vec![1, 1];
        assert_eq!(run(spec.clone(), input()).0, [(20, 2)]);
        // Sigma keeps the step that came first as evidence.
        spec.skip_unstarted = false;
        spec.step_min = Vec::new();
        assert_eq!(run(spec, input()).0, [(20, 3)]);
    }

    #[test]
    fn differs_from_compares_with_the_event_that_satisfied_the_earlier_step() {
        let mut spec = sequence(3600);
        spec.step_differs = vec![
            None,
            Some(Differs {
                from: 0,
                first_only: false,
            }),
        ];
        let same_then_other = || {
            vec![
                valued(0, "create", 0, Some("192.0.2.1")),
                valued(10, "use1", 1, Some("192.0.2.1")),
                valued(20, "use2", 1, Some("198.51.100.9")),
            ]
        };
        // Without first_only a use from the same address is passed over; the next one fires.
        assert_eq!(run(spec.clone(), same_then_other()).0, [(20, 3)]);
        // A missing value on either side never differs.
        let missing = vec![
            valued(0, "create", 0, None),
            valued(10, "use1", 1, Some("198.51.100.9")),
        ];
        assert_eq!(run(spec.clone(), missing).0, []);
        let missing_use = vec![
            valued(0, "create", 0, Some("192.0.2.1")),
            valued(10, "use1", 1, None),
        ];
        assert_eq!(run(spec.clone(), missing_use).0, []);
        // first_only: the first use decides — from the same address, the attempt ends and
        // later uses do not fire.
        spec.step_differs = vec![
            None,
            Some(Differs {
                from: 0,
                first_only: true,
            }),
        ];
        let (fired, _) = run(spec.clone(), same_then_other());
        assert_eq!(fired, []);
        // A first use from elsewhere fires; uses before the creation are not kept.
        let elsewhere = vec![
            valued(0, "early", 1, Some("203.0.113.5")),
            valued(5, "create", 0, Some("192.0.2.1")),
            valued(10, "use1", 1, Some("198.51.100.9")),
            valued(20, "use2", 1, Some("192.0.2.1")),
        ];
        assert_eq!(run(spec.clone(), elsewhere).0, [(10, 2)]);
        // After an attempt ended, a new first step starts another.
        let again = vec![
            valued(0, "create1", 0, Some("192.0.2.1")),
            valued(10, "use1", 1, Some("192.0.2.1")),
            valued(20, "use2", 1, Some("198.51.100.9")),
            valued(30, "create2", 0, Some("192.0.2.1")),
            valued(40, "use3", 1, Some("198.51.100.9")),
        ];
        assert_eq!(run(spec, again).0, [(40, 2)]);
    }

    #[test]
    fn differs_from_reads_the_last_event_of_a_counted_step() {
        let mut spec = sequence(3600);
        spec.step_min = vec![2, 1];
        spec.step_differs = vec![
            None,
            Some(Differs {
                from: 0,
                first_only: false,
            }),
        ];
        let input = |last: &str| {
            vec![
                valued(0, "a1", 0, Some("x")),
                valued(1, "a2", 0, Some("y")),
                valued(2, "b", 1, Some(last)),
            ]
        };
        assert_eq!(run(spec.clone(), input("y")).0, []);
        assert_eq!(run(spec, input("x")).0, [(2, 3)]);
    }

    #[test]
    fn suppression_gives_one_firing_per_group_and_period() {
        let mut spec = count(1.0, 0);
        spec.suppress_secs = 3600;
        let input = vec![
            obs(0, "a", 0, "g"),
            obs(10, "b", 0, "g"),
            obs(20, "c", 0, "h"),
            obs(3599, "d", 0, "g"),
            obs(3600, "e", 0, "g"),
        ];
        let (fired, stats) = run(spec, input);
        assert_eq!(fired, [(0, 1), (20, 1), (3600, 1)]);
        assert_eq!(stats.suppressed, 2);
    }

    #[test]
    fn distinct_events_count_a_redelivered_event_once() {
        let mut spec = count(3.0, 60);
        let dup = || {
            vec![
                obs(0, "a", 0, "g"),
                obs(1, "a", 0, "g"),
                obs(2, "b", 0, "g"),
            ]
        };
        let (fired, _) = run(spec.clone(), dup());
        assert_eq!(fired, [(2, 3)], "Sigma semantics: every observation counts");
        spec.distinct_events = true;
        let (fired, stats) = run(spec.clone(), dup());
        assert!(fired.is_empty());
        assert_eq!(stats.duplicates, 1);
        // Once the first copy left the window, the key counts again.
        let (fired, _) = run(
            spec,
            vec![
                obs(0, "a", 0, "g"),
                obs(100, "a", 0, "g"),
                obs(101, "b", 0, "g"),
                obs(102, "c", 0, "g"),
            ],
        );
        assert_eq!(fired, [(102, 3)]);
    }

    #[test]
    fn suppressed_groups_outlive_idle_sweeps_but_not_the_cap() {
        let fired_with_cap = |cap: usize| {
            let mut spec = count(1.0, 0);
            spec.suppress_secs = 1000;
            let mut c = Correlator::new(
                vec![spec],
                CorrelatorOptions {
                    allowed_lateness_secs: Some(0),
                    max_groups: cap,
                    ..CorrelatorOptions::default()
                },
            );
            let mut fired = 0;
            for (t, g) in [(0, "a"), (1, "b"), (2, "c"), (3, "a")] {
                c.see(t * 1_000_000);
                c.observe(obs(t, &format!("{t}"), 0, g));
                c.advance(&mut |_, _| fired += 1);
            }
            (fired, c.stats().groups_evicted)
        };
        // Room for every group: the empty but suppressed groups are not idle, so the second
        // `a` stays quiet.
        assert_eq!(fired_with_cap(3), (3, 0));
        // A cap of 2 evicts the least recently active group to make room (a for c, then b for
        // a), and the evicted `a` fires again — counted, the price of the cap.
        assert_eq!(fired_with_cap(2), (4, 2));
    }
}
