//! First-seen baselines for rules: "is this value new for this entity within the baseline
//! window, and is the baseline mature enough to say so?" — the anomaly engine's baseline
//! store, opened to the rule pack (`trailwarden-pack`: `kind: first-seen` rules such as "the
//! (principal, SSM document) pair is new in 10 days").
//!
//! It is built from the same parts as the engine's own tables: entries keyed by text with
//! first/last event times, values forgotten when unseen for the baseline period, a capped map
//! whose least recently active tenth is evicted when full ([`crate::engine`]'s `evict`),
//! capped per-entry lists, learning on event time, and a versioned, deterministic JSON
//! snapshot written atomically. Time is event time only; the caller feeds observations in
//! event-time order (the rule pack orders them with the Sigma correlator's reorder buffer).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::secs_to_us;
use crate::engine::evict;
use crate::state::write_atomic;
use crate::AnomalyError;

/// When a first-seen baseline is mature (until then a new value is learnt, not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LearnFrom {
    /// The store's history — the earliest event time it has been shown
    /// ([`FirstSeenStore::note_time`]) — covers the learning period: "nothing new is reported
    /// until we have watched the trail that long".
    #[default]
    History,
    /// The entity's own first observation is that old: "quiet until this key's baseline is
    /// mature".
    Entity,
}

/// One first-seen rule's baseline settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstSeenSpec {
    /// A value unseen for this long is forgotten (new again).
    pub baseline_secs: u64,
    /// How old the baseline must be before new values are reported.
    pub learning_secs: u64,
    pub learn_from: LearnFrom,
}

/// Caps of a [`FirstSeenStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstSeenOptions {
    /// Most entities (over all tables); when full, the least recently active tenth goes.
    pub max_entities: usize,
    /// Most values remembered per entity (least recently seen dropped).
    pub max_values_per_entity: usize,
}

impl Default for FirstSeenOptions {
    fn default() -> Self {
        FirstSeenOptions {
            max_entities: 200_000,
            max_values_per_entity: 64,
        }
    }
}

/// What [`FirstSeenStore::observe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstSeenVerdict {
    /// The value is in the entity's baseline.
    Known,
    /// The value is new for the entity within the baseline (it is learnt now).
    New {
        /// Whether the baseline was mature: report it. Otherwise it is only learnt.
        mature: bool,
        /// Start of the evidence: the entity's first observation, and the store's history.
        entity_since: i64,
        history_since: i64,
        /// The values the entity had (sorted, at most the per-entity cap).
        known: Vec<String>,
    },
}

/// Counters of a [`FirstSeenStore`], carried in its snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstSeenStats {
    pub observed: u64,
    /// New values (mature or not).
    pub new_values: u64,
    /// New values while learning (not reported).
    pub learning: u64,
    pub entities_evicted: u64,
    pub values_evicted: u64,
}

/// One entity's baseline: first/last event time and its values with first and last seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Entry {
    first: i64,
    last: i64,
    values: Vec<(String, i64, i64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    format: String,
    version: u32,
    history_since: Option<i64>,
    entries: Vec<(String, Entry)>,
    stats: FirstSeenStats,
}

const FORMAT: &str = "trailwarden-first-seen";
const VERSION: u32 = 1;

/// First-seen baselines of any number of rules ("tables"), keyed by entity. Bounded, pure
/// (no clock), snapshotted.
#[derive(Debug, Clone, Default)]
pub struct FirstSeenStore {
    opts: FirstSeenOptions,
    history_since: Option<i64>,
    entries: HashMap<String, Entry>,
    stats: FirstSeenStats,
}

fn entry_key(table: &str, entity: &str) -> String {
    let mut k = String::with_capacity(table.len() + entity.len() + 1);
    k.push_str(table);
    k.push('\u{1f}');
    k.push_str(entity);
    k
}

impl FirstSeenStore {
    pub fn new(opts: FirstSeenOptions) -> Self {
        FirstSeenStore {
            opts,
            ..FirstSeenStore::default()
        }
    }

    /// Notes an event time the store has been shown (any event): the history starts at the
    /// earliest. No allocation.
    pub fn note_time(&mut self, t: i64) {
        self.history_since = Some(self.history_since.map_or(t, |s| s.min(t)));
    }

    /// The earliest event time noted (the start of the history), if any.
    pub fn history_since(&self) -> Option<i64> {
        self.history_since
    }

    /// Records that `entity` showed `value` at `t` in `table` (a rule id) and says whether the
    /// value was new within the baseline. Call in event-time order.
    pub fn observe(
        &mut self,
        table: &str,
        entity: &str,
        value: &str,
        t: i64,
        spec: &FirstSeenSpec,
    ) -> FirstSeenVerdict {
        self.stats.observed += 1;
        self.note_time(t);
        let key = entry_key(table, entity);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.opts.max_entities.max(1) {
            let cap = self.opts.max_entities.max(1);
            let keep = cap.saturating_sub(cap / 10 + 1);
            self.stats.entities_evicted += evict(&mut self.entries, keep, |e| e.last) as u64;
        }
        let history_since = self.history_since.unwrap_or(t);
        let e = self.entries.entry(key).or_insert_with(|| Entry {
            first: t,
            last: t,
            values: Vec::new(),
        });
        e.first = e.first.min(t);
        e.last = e.last.max(t);
        let horizon = t.saturating_sub(secs_to_us(spec.baseline_secs));
        e.values.retain(|(_, _, last)| *last >= horizon);
        if let Some(v) = e.values.iter_mut().find(|(v, _, _)| v == value) {
            v.2 = v.2.max(t);
            return FirstSeenVerdict::Known;
        }
        let mut known: Vec<String> = e.values.iter().map(|(v, _, _)| v.clone()).collect();
        known.sort_unstable();
        let since = match spec.learn_from {
            LearnFrom::History => history_since,
            LearnFrom::Entity => e.first,
        };
        let mature = t.saturating_sub(since) >= secs_to_us(spec.learning_secs);
        if e.values.len() >= self.opts.max_values_per_entity.max(1) {
            if let Some(i) = e
                .values
                .iter()
                .enumerate()
                .min_by_key(|(_, (v, _, last))| (*last, v.clone()))
                .map(|(i, _)| i)
            {
                e.values.remove(i);
                self.stats.values_evicted += 1;
            }
        }
        e.values.push((value.to_string(), t, t));
        self.stats.new_values += 1;
        if !mature {
            self.stats.learning += 1;
        }
        FirstSeenVerdict::New {
            mature,
            entity_since: e.first,
            history_since,
            known,
        }
    }

    /// Entities held now (over all tables).
    pub fn entities(&self) -> usize {
        self.entries.len()
    }

    pub fn stats(&self) -> &FirstSeenStats {
        &self.stats
    }

    /// The whole state as versioned JSON (`format`, `version` = 1), keys sorted: the same
    /// state gives the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut entries: Vec<(String, Entry)> = self
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let snap = Snapshot {
            format: FORMAT.to_string(),
            version: VERSION,
            history_since: self.history_since,
            entries,
            stats: self.stats.clone(),
        };
        // Serialising plain data to a Vec cannot fail; an empty snapshot is the safe fallback.
        serde_json::to_vec(&snap).unwrap_or_default()
    }

    /// Replaces the state with a snapshot's (the caps stay this store's).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), AnomalyError> {
        let snap: Snapshot = serde_json::from_slice(bytes)
            .map_err(|e| AnomalyError::Snapshot(format!("not a first-seen snapshot: {e}")))?;
        if snap.format != FORMAT {
            return Err(AnomalyError::Snapshot(format!(
                "format `{}` is not `{FORMAT}`",
                snap.format
            )));
        }
        if snap.version != VERSION {
            return Err(AnomalyError::Snapshot(format!(
                "first-seen snapshot version {} is not supported (this build reads version {VERSION})",
                snap.version
            )));
        }
        self.history_since = snap.history_since;
        self.entries = snap.entries.into_iter().collect();
        self.stats = snap.stats;
        Ok(())
    }

    /// Writes [`FirstSeenStore::snapshot`] to `path` atomically (temporary file, fsync,
    /// rename).
    pub fn save(&self, path: &Path) -> Result<(), AnomalyError> {
        write_atomic(path, &self.snapshot())
    }

    /// Restores from a file written by [`FirstSeenStore::save`]; `Ok(false)` when it does
    /// not exist (a first start).
    pub fn load(&mut self, path: &Path) -> Result<bool, AnomalyError> {
        match std::fs::read(path) {
            Ok(b) => self.restore(&b).map(|()| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(AnomalyError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn spec(from: LearnFrom) -> FirstSeenSpec {
        FirstSeenSpec {
            baseline_secs: 10 * 86_400,
            learning_secs: 10 * 86_400,
            learn_from: from,
        }
    }

    fn new(v: &FirstSeenVerdict) -> Option<bool> {
        match v {
            FirstSeenVerdict::Known => None,
            FirstSeenVerdict::New { mature, .. } => Some(*mature),
        }
    }

    #[test]
    fn learns_then_reports_new_values_and_forgets_old_ones() {
        let s = spec(LearnFrom::History);
        let mut st = FirstSeenStore::new(FirstSeenOptions::default());
        st.note_time(0);
        assert_eq!(new(&st.observe("r", "alice", "doc", DAY, &s)), Some(false));
        assert_eq!(new(&st.observe("r", "alice", "doc", 2 * DAY, &s)), None);
        // Day 11: the history covers ten days; bob is new (mature), alice's pair is known.
        assert_eq!(
            new(&st.observe("r", "bob", "doc", 11 * DAY, &s)),
            Some(true)
        );
        assert_eq!(new(&st.observe("r", "alice", "doc", 11 * DAY, &s)), None);
        // Tables do not share baselines.
        assert_eq!(
            new(&st.observe("other", "alice", "doc", 11 * DAY, &s)),
            Some(true)
        );
        // Unseen for more than ten days: forgotten, new again.
        match st.observe("r", "alice", "doc", 30 * DAY, &s) {
            FirstSeenVerdict::New {
                mature,
                entity_since,
                history_since,
                known,
            } => {
                assert!(mature);
                assert_eq!(entity_since, DAY);
                assert_eq!(history_since, 0);
                assert!(known.is_empty());
            }
            FirstSeenVerdict::Known => panic!("forgotten"),
        }
        assert_eq!(st.stats().new_values, 4);
        assert_eq!(st.stats().learning, 1);
    }

    #[test]
    fn entity_maturity() {
        let s = spec(LearnFrom::Entity);
        let mut st = FirstSeenStore::new(FirstSeenOptions::default());
        st.note_time(0);
        assert_eq!(new(&st.observe("r", "k", "ip1", 20 * DAY, &s)), Some(false));
        assert_eq!(new(&st.observe("r", "k", "ip2", 25 * DAY, &s)), Some(false));
        assert_eq!(new(&st.observe("r", "k", "ip3", 30 * DAY, &s)), Some(true));
    }

    #[test]
    fn caps_and_snapshots() {
        let s = spec(LearnFrom::History);
        let mut st = FirstSeenStore::new(FirstSeenOptions {
            max_entities: 10,
            max_values_per_entity: 2,
        });
        for i in 0..30 {
            st.observe("r", &format!("p{i}"), "v", i, &s);
        }
        assert!(st.entities() <= 10);
        assert!(st.stats().entities_evicted >= 20);
        for (i, v) in ["a", "b", "c"].iter().enumerate() {
            st.observe("r", "p29", v, 100 + i as i64, &s);
        }
        assert_eq!(st.stats().values_evicted, 2);
        let bytes = st.snapshot();
        let mut back = FirstSeenStore::new(FirstSeenOptions::default());
        back.restore(&bytes).unwrap();
        assert_eq!(back.snapshot(), bytes);
        assert_eq!(back.history_since(), Some(0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs.json");
        let mut fresh = FirstSeenStore::default();
        assert!(!fresh.load(&path).unwrap());
        st.save(&path).unwrap();
        assert!(fresh.load(&path).unwrap());
        assert_eq!(fresh.snapshot(), bytes);
        assert!(fresh.restore(b"{}").is_err());
        let other = String::from_utf8(bytes)
            .unwrap()
            .replace("trailwarden-first-seen", "x");
        assert!(fresh.restore(other.as_bytes()).is_err());
    }
}
