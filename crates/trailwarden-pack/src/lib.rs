//! trailwarden-pack: the runtime of the rule pack's stateful kinds — `threshold`,
//! `distinct-count`, `sequence`, `first-seen`, and `event` rules with `dedup` — as data.
//!
//! ```text
//! rule files (trailwarden-detect: format, conditions, analyzers, index)
//!        │  Engine::evaluate_stateful(event) → StepHit { rule, step, keys, value, alert }
//!        ▼
//! Correlator (trailwarden-sigma): event-time reorder buffer, watermark, bounded windows
//!        │  one WindowSpec per rule: threshold → event count, distinct-count → value count,
//!        │  sequence → ordered steps (per-step counts, comparisons), dedup → count 1 +
//!        │  suppression, first-seen → count 1
//!        ▼  (in event-time order, whatever order the objects came in)
//! firing ──▶ windowed alert (window, observed, threshold, event ids)
//!        └─▶ first-seen: FirstSeenStore (trailwarden-anomaly): new for the entity within the
//!            baseline, and the baseline mature? → alert
//! ```
//!
//! **One mechanism.** The windows are the Sigma engine's [`Correlator`] (the same code runs
//! Sigma correlation rules), the baselines are the anomaly crate's [`FirstSeenStore`]; this
//! crate only composes them with the rule compiler of `trailwarden-detect`. Plain event rules
//! stay in [`trailwarden_detect::Engine::evaluate`] (no buffering, no delay).
//!
//! **Architecture invariants.** Pure: no IO but the optional state file, no clock (times are
//! event times). Results do not depend on the order objects arrive in within the allowed
//! lateness ([`PackOptions::replay`]: unbounded, so not at all). Evaluating an event no
//! stateful rule names costs two hash lookups and allocates nothing. Bounded state: the
//! correlator's and the store's caps.
//!
//! The decision and its alternatives: `docs/adr/0003-rule-pack-kinds.md`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use trailwarden_alert::{alert_id, event_key, format_event_time, Alert};
use trailwarden_anomaly::{
    AnomalyError, FirstSeenOptions, FirstSeenSpec, FirstSeenStats, FirstSeenStore,
    FirstSeenVerdict, LearnFrom,
};
use trailwarden_detect::{
    CaseRunner, DetectError, Engine, EventRef, IpLists, Overrides, Policies, Policy, RuleKind,
    Stateful, StepHit, TestReport,
};
use trailwarden_parse::{Event, PackedEvent};
use trailwarden_pipeline::{Batch, Detector};
use trailwarden_sigma::{
    group_key, key_hash, sequence_steps, CorrelationCondition, CorrelationType, Correlator,
    CorrelatorOptions, CorrelatorStats, Differs, Evidence, Firing, GroupKey, Observation,
    WindowItem, WindowSpec,
};

/// Most event ids listed in one windowed alert (`count` has the full number).
pub const MAX_EVIDENCE_EVENTS: usize = 100;

/// Settings of a [`PackEngine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackOptions {
    /// Lateness and bounds of the windows (the Sigma correlator's options).
    pub windows: CorrelatorOptions,
    /// Caps of the first-seen baselines.
    pub first_seen: FirstSeenOptions,
}

impl PackOptions {
    /// The long-running worker: 15 minutes of allowed lateness (CloudTrail delivers an object
    /// within about 15 minutes of its events).
    pub fn live() -> Self {
        PackOptions {
            windows: CorrelatorOptions::default(),
            first_seen: FirstSeenOptions::default(),
        }
    }

    /// Replay: unbounded lateness — nothing is applied before the end of input, so the alerts
    /// do not depend on the order files are read (bounded by `max_buffered`).
    pub fn replay() -> Self {
        PackOptions {
            windows: CorrelatorOptions {
                allowed_lateness_secs: None,
                ..CorrelatorOptions::default()
            },
            first_seen: FirstSeenOptions::default(),
        }
    }
}

/// Counters of a [`PackEngine`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Events seen.
    pub events: u64,
    /// Step matches put in the windows (one per key combination).
    pub observations: u64,
    /// Observations per stateful rule id (the costly rules are the ones with many).
    pub observations_by_rule: Vec<(String, u64)>,
    pub alerts: u64,
    /// First-seen observations that were new but not reported: the baseline was learning.
    pub learning: u64,
    pub windows: CorrelatorStats,
    pub first_seen: FirstSeenStats,
}

impl PackStats {
    /// The `n` rules with the most observations, as `id=count` separated by spaces.
    pub fn busiest(&self, n: usize) -> String {
        self.observations_by_rule
            .iter()
            .take(n)
            .map(|(id, c)| format!("{id}={c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The evidence of one observation: the event (packed: one buffer, made and freed by this
/// thread, shared by every rule the event matched), its key and its object. The event is
/// unpacked and the single-event alert built only for the observation that makes a window
/// fire: most never do.
#[derive(Debug)]
struct PackEv {
    /// `event:<eventID>`, else `object:<object>#<record index>`.
    key: String,
    /// [`key_hash`] of `key` (every window the event is in hashes it).
    key_hash: u64,
    event: PackedEvent,
    source_object: Arc<str>,
}

impl PackEv {
    /// The event's entry in an alert's `event_ids`.
    fn event_ref(&self) -> &str {
        self.key
            .split_once(':')
            .map_or(self.key.as_str(), |(_, r)| r)
    }
}

impl Evidence for PackEv {
    fn key(&self) -> &str {
        &self.key
    }

    fn key_hash(&self) -> u64 {
        self.key_hash
    }
}

/// A stateful detection (a rule, or one of its `also` entries) as the runtime runs it.
#[derive(Debug)]
struct Rule {
    /// The rule's index in the engine and its detection (as in [`StepHit`]).
    engine_rule: usize,
    variant: usize,
    id: String,
    title: String,
    mitre: Vec<String>,
    own_summary: bool,
    stateful: Stateful,
    /// Its window, as the correlator runs it (a sequence's evidence walks it again).
    window: WindowSpec,
    first_seen: Option<FirstSeenSpec>,
}

/// The windowed rules' runtime: a pipeline [`Detector`].
pub struct PackEngine {
    engine: Engine,
    rules: Vec<Rule>,
    /// (engine rule index, variant) → correlation (= index in `rules`).
    /// [engine rule index][variant] → correlation (= index in `rules`), `u32::MAX` for none.
    corr_of: Vec<Vec<u32>>,
    correlator: Correlator<PackEv>,
    baselines: FirstSeenStore,
    hits: Vec<StepHit>,
    /// The object of the events being evaluated (one allocation per object).
    source_object: Arc<str>,
    stats: PackStats,
    /// Observations per entry of `rules`.
    rule_observations: Vec<u64>,
}

impl std::fmt::Debug for PackEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackEngine")
            .field(
                "rules",
                &self.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            )
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn window_spec(s: &Stateful) -> WindowSpec {
    let at_least = |n: u64| CorrelationCondition {
        gte: Some(n as f64),
        ..CorrelationCondition::default()
    };
    let (kind, timespan_secs, suppress_secs) = match s.kind {
        RuleKind::Threshold => (CorrelationType::EventCount, s.window_secs, 0),
        RuleKind::DistinctCount => (CorrelationType::ValueCount, s.window_secs, 0),
        RuleKind::Sequence => (CorrelationType::TemporalOrdered, s.window_secs, 0),
        // Dedup: the first event of a key fires, the key is then quiet for the window.
        RuleKind::Event => (CorrelationType::EventCount, 0, s.window_secs),
        // First-seen: every observation "fires" in event-time order; the store decides.
        RuleKind::FirstSeen => (CorrelationType::EventCount, 0, 0),
    };
    WindowSpec {
        kind,
        inputs: s.steps.len().max(1),
        timespan_secs,
        condition: at_least(match s.kind {
            RuleKind::Sequence => s.steps.len() as u64,
            _ => s.threshold.max(1),
        }),
        suppress_secs,
        // A redelivered object, an organisation trail and a member trail: one event.
        distinct_events: true,
        and_distinct: s.and_distinct.iter().map(|(_, n)| *n).collect(),
        step_min: s
            .step_counts
            .iter()
            .map(|n| u32::try_from(*n).unwrap_or(u32::MAX))
            .collect(),
        step_differs: s
            .step_differs
            .iter()
            .map(|d| {
                d.as_ref().map(|d| Differs {
                    from: u32::try_from(d.step).unwrap_or(u32::MAX),
                    first_only: d.first_only,
                })
            })
            .collect(),
        // A later step's events for keys no sequence started are not kept (every call made
        // with a long-term key, for new-access-key-used-elsewhere): they cannot match.
        skip_unstarted: s.kind == RuleKind::Sequence,
    }
}

impl PackEngine {
    /// Compiles the stateful rules of `policies` (plain event rules are left to
    /// [`Engine::evaluate`]), with the same IP lists and overrides as the event rules.
    pub fn new(
        policies: &Policies,
        lists: &IpLists,
        overrides: &Overrides,
        opts: PackOptions,
    ) -> Result<PackEngine, DetectError> {
        let engine = Engine::new(policies, lists, overrides)?;
        let mut rules = Vec::new();
        let mut corr_of: Vec<Vec<u32>> = Vec::new();
        let mut specs = Vec::new();
        for (i, vi, p, s) in engine.stateful_rules() {
            if corr_of.len() <= i {
                corr_of.resize_with(i + 1, Vec::new);
            }
            if let Some(row) = corr_of.get_mut(i) {
                if row.len() <= vi {
                    row.resize(vi + 1, u32::MAX);
                }
                if let Some(c) = row.get_mut(vi) {
                    *c = rules.len() as u32;
                }
            }
            let window = window_spec(s);
            specs.push(window.clone());
            rules.push(Rule {
                engine_rule: i,
                variant: vi,
                id: p.id().to_string(),
                title: p.title().to_string(),
                mitre: p.mitre().to_vec(),
                own_summary: p.spec().summary.is_some(),
                stateful: s.clone(),
                window,
                first_seen: s.first_seen.as_ref().map(|f| FirstSeenSpec {
                    baseline_secs: f.baseline_secs,
                    learning_secs: f.learning_secs,
                    learn_from: if f.learn_from_entity {
                        LearnFrom::Entity
                    } else {
                        LearnFrom::History
                    },
                }),
            });
        }
        Ok(PackEngine {
            engine,
            corr_of,
            correlator: Correlator::new(specs, opts.windows),
            baselines: FirstSeenStore::new(opts.first_seen),
            hits: Vec::new(),
            source_object: Arc::from(""),
            stats: PackStats::default(),
            rule_observations: vec![0; rules.len()],
            rules,
        })
    }

    /// Ids of the stateful rules that run.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// No stateful rule runs (the detector can be left out).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The detect engine the steps run on (its `disabled()` lists rules that do not run).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Evaluates one event: matching steps wait in the reorder buffer (see
    /// [`PackEngine::advance`]). `source_object` names the event's object. No allocation
    /// unless a step matches; then the event is kept (packed once, shared by its rules) until its windows
    /// are done with it.
    pub fn evaluate(&mut self, event: &Event, source_object: &str) {
        if event.is_insight() {
            return;
        }
        self.stats.events += 1;
        self.correlator.see(event.event_time);
        self.baselines.note_time(event.event_time);
        self.hits.clear();
        self.engine.evaluate_stateful(event, &mut self.hits);
        if self.hits.is_empty() {
            return;
        }
        if *self.source_object != *source_object {
            self.source_object = Arc::from(source_object);
        }
        let key = event_key(event.event_id.as_deref(), source_object, event.record_index);
        let ev = Arc::new(PackEv {
            key_hash: key_hash(&key),
            key,
            event: PackedEvent::new(event),
            source_object: self.source_object.clone(),
        });
        for hit in self.hits.drain(..) {
            let Some(&corr) = self
                .corr_of
                .get(hit.rule)
                .and_then(|row| row.get(hit.variant))
                .filter(|c| **c != u32::MAX)
            else {
                continue;
            };
            if let Some(n) = self.rule_observations.get_mut(corr as usize) {
                *n += hit.keys.len() as u64;
            }
            for k in hit.keys {
                self.stats.observations += 1;
                self.correlator.observe(Observation {
                    time: event.event_time,
                    corr,
                    pos: hit.step as u32,
                    group: GroupKey::new(k.iter().map(|v| Some(v.as_str()))),
                    value: hit.value.clone(),
                    ev: ev.clone(),
                });
            }
        }
    }

    /// Applies every buffered observation the watermark has passed (call after each object).
    pub fn advance(&mut self, out: &mut Vec<Alert>) {
        let Self {
            engine,
            correlator,
            rules,
            baselines,
            stats,
            ..
        } = self;
        correlator.advance(&mut |f, _| fired(f, engine, rules, baselines, stats, out));
    }

    /// Applies everything still buffered (end of input).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        let Self {
            engine,
            correlator,
            rules,
            baselines,
            stats,
            ..
        } = self;
        correlator.flush(&mut |f, _| fired(f, engine, rules, baselines, stats, out));
    }

    pub fn stats(&self) -> PackStats {
        let mut s = self.stats.clone();
        let mut by_rule: HashMap<&str, u64> = HashMap::new();
        for (r, n) in self.rules.iter().zip(&self.rule_observations) {
            *by_rule.entry(r.id.as_str()).or_default() += n;
        }
        s.observations_by_rule = by_rule
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(id, n)| (id.to_string(), n))
            .collect();
        s.observations_by_rule
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        s.windows = self.correlator.stats();
        s.first_seen = self.baselines.stats().clone();
        s
    }

    /// The first-seen baselines (snapshot, restore).
    pub fn baselines(&self) -> &FirstSeenStore {
        &self.baselines
    }

    pub fn baselines_mut(&mut self) -> &mut FirstSeenStore {
        &mut self.baselines
    }

    /// Restores the first-seen baselines from `path` (`Ok(false)`: no file yet).
    pub fn load_state(&mut self, path: &Path) -> Result<bool, AnomalyError> {
        self.baselines.load(path)
    }

    /// Saves the first-seen baselines to `path` atomically.
    pub fn save_state(&self, path: &Path) -> Result<(), AnomalyError> {
        self.baselines.save(path)
    }
}

impl Rule {
    fn kind(&self) -> RuleKind {
        self.stateful.kind
    }
}

impl Detector for PackEngine {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        for e in &batch.events {
            self.evaluate(e, &batch.object.key);
        }
        if let Some(w) = batch.low_watermark {
            self.correlator.raise_watermark(w);
        }
        self.advance(out);
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        self.flush(out);
    }
}

fn duration_text(secs: u64) -> String {
    for (unit, n) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= n && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

fn group_map(names: &[String], group: &[Option<String>]) -> Map<String, Value> {
    names
        .iter()
        .zip(group)
        .map(|(n, v)| (n.clone(), v.clone().map_or(Value::Null, Value::String)))
        .collect()
}

fn group_text(names: &[String], group: &[Option<String>]) -> String {
    names
        .iter()
        .zip(group)
        .map(|(n, v)| format!("{n}={}", v.as_deref().unwrap_or("-")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A window (or baseline check) fired: the alert, if any.
fn fired(
    f: Firing<PackEv>,
    engine: &Engine,
    rules: &[Rule],
    baselines: &mut FirstSeenStore,
    stats: &mut PackStats,
    out: &mut Vec<Alert>,
) {
    let Some(rule) = rules.get(f.corr as usize) else {
        return;
    };
    let alert = match rule.kind() {
        RuleKind::Event => dedup_alert(engine, rule, &f),
        RuleKind::FirstSeen => first_seen_alert(engine, rule, &f, baselines, stats),
        RuleKind::Threshold | RuleKind::DistinctCount | RuleKind::Sequence => {
            window_alert(engine, rule, &f)
        }
    };
    if let Some(a) = alert {
        stats.alerts += 1;
        out.push(a);
    }
}

/// The single-event alert of a window's item (built when the window fires).
fn item_alert(engine: &Engine, rule: &Rule, item: &WindowItem<PackEv>) -> Option<Alert> {
    engine.step_alert(
        rule.engine_rule,
        rule.variant,
        item.pos as usize,
        &item.ev.event.event(),
        EventRef {
            source_object: &item.ev.source_object,
        },
    )
}

fn dedup_alert(engine: &Engine, rule: &Rule, f: &Firing<PackEv>) -> Option<Alert> {
    let item = f.items.last()?;
    let mut a = item_alert(engine, rule, item)?;
    let mut d = Map::new();
    d.insert(
        "by".into(),
        Value::Object(group_map(&rule.stateful.group_by, &f.group)),
    );
    d.insert("window_secs".into(), Value::from(rule.stateful.window_secs));
    a.evidence.insert("dedup".into(), Value::Object(d));
    Some(a)
}

fn first_seen_alert(
    engine: &Engine,
    rule: &Rule,
    f: &Firing<PackEv>,
    baselines: &mut FirstSeenStore,
    stats: &mut PackStats,
) -> Option<Alert> {
    let item = f.items.last()?;
    let spec = rule.first_seen.as_ref()?;
    let params = rule.stateful.first_seen.as_ref()?;
    let value = item.value.as_deref()?;
    let entity = group_key(&f.group);
    let verdict = baselines.observe(&rule.id, &entity, value, f.time, spec);
    let FirstSeenVerdict::New {
        mature,
        entity_since,
        history_since,
        known,
    } = verdict
    else {
        return None;
    };
    if !mature {
        stats.learning += 1;
        return None;
    }
    let mut a = item_alert(engine, rule, item)?;
    let values: Vec<&str> = value.split('\u{1f}').collect();
    let mut fs = Map::new();
    fs.insert(
        "entity".into(),
        Value::Object(group_map(&params.entity, &f.group)),
    );
    fs.insert(
        "value".into(),
        Value::Object(
            params
                .value
                .iter()
                .zip(&values)
                .map(|(n, v)| (n.clone(), Value::String((*v).to_string())))
                .collect(),
        ),
    );
    fs.insert("baseline_secs".into(), Value::from(spec.baseline_secs));
    fs.insert("learning_secs".into(), Value::from(spec.learning_secs));
    fs.insert(
        "learn_from".into(),
        Value::String(
            match spec.learn_from {
                LearnFrom::History => "history",
                LearnFrom::Entity => "entity",
            }
            .into(),
        ),
    );
    fs.insert(
        "entity_since".into(),
        Value::String(format_event_time(entity_since)),
    );
    fs.insert(
        "history_since".into(),
        Value::String(format_event_time(history_since)),
    );
    fs.insert(
        "known".into(),
        Value::Array(
            known
                .into_iter()
                .take(MAX_EVIDENCE_EVENTS)
                .map(|k| Value::String(k.replace('\u{1f}', " / ")))
                .collect(),
        ),
    );
    a.evidence.insert("first_seen".into(), Value::Object(fs));
    a.id = alert_id(
        &rule.id,
        &[
            &format!("entity:{entity}"),
            &format!("value:{value}"),
            &item.ev.key,
        ],
    );
    a.summary = format!(
        "{} (new for {} within {})",
        a.summary,
        group_text(&params.entity, &f.group),
        duration_text(spec.baseline_secs)
    );
    Some(a)
}

fn window_alert(engine: &Engine, rule: &Rule, f: &Firing<PackEv>) -> Option<Alert> {
    let last = f.items.last()?;
    let la = item_alert(engine, rule, last)?;
    let s = &rule.stateful;
    let gkey = group_key(&f.group);
    let mut keys: Vec<&str> = Vec::with_capacity(f.items.len() + 1);
    keys.push(&gkey);
    keys.extend(f.items.iter().map(|i| i.ev.key.as_str()));
    let id = alert_id(&rule.id, &keys);
    let mut event_ids: Vec<String> = Vec::new();
    for it in &f.items {
        let r = it.ev.event_ref();
        if event_ids.len() < MAX_EVIDENCE_EVENTS && !event_ids.iter().any(|e| e == r) {
            event_ids.push(r.to_string());
        }
    }
    let first = f.items.first().map_or(f.time, |i| i.time);
    let window = duration_text(s.window_secs);
    let mut w = Map::new();
    w.insert("kind".into(), Value::String(s.kind.as_str().into()));
    w.insert("secs".into(), Value::from(s.window_secs));
    w.insert("start".into(), Value::String(format_event_time(first)));
    w.insert("end".into(), Value::String(format_event_time(f.time)));
    w.insert(
        "group_by".into(),
        Value::Object(group_map(&s.group_by, &f.group)),
    );
    w.insert("threshold".into(), Value::from(s.threshold));
    w.insert(
        "observed".into(),
        serde_json::Number::from_f64(f.figure).map_or(Value::Null, Value::Number),
    );
    w.insert(
        "events".into(),
        Value::Array(event_ids.iter().cloned().map(Value::String).collect()),
    );
    let observed = f.figure as u64;
    let group = group_text(&s.group_by, &f.group);
    let for_group = if group.is_empty() {
        String::new()
    } else {
        format!(" for {group}")
    };
    let what = match s.kind {
        RuleKind::DistinctCount => {
            // The counted value is the fields' values joined by U+001F (one part without
            // `and_distinct`).
            let part = |i: usize| -> Vec<&str> {
                let mut vals: Vec<&str> = f
                    .items
                    .iter()
                    .filter_map(|it| it.value.as_deref()?.split('\u{1f}').nth(i))
                    .collect();
                vals.sort_unstable();
                vals.dedup();
                vals
            };
            let mut vals = part(0);
            vals.truncate(MAX_EVIDENCE_EVENTS);
            w.insert(
                "distinct".into(),
                Value::String(s.distinct.clone().unwrap_or_default()),
            );
            w.insert(
                "values".into(),
                Value::Array(vals.iter().map(|v| Value::String((*v).into())).collect()),
            );
            let mut also_text = String::new();
            if !s.and_distinct.is_empty() {
                let mut also = Vec::new();
                for (i, (field, min)) in s.and_distinct.iter().enumerate() {
                    let mut more = part(i + 1);
                    let n = more.len();
                    more.truncate(MAX_EVIDENCE_EVENTS);
                    let mut a = Map::new();
                    a.insert("distinct".into(), Value::String(field.clone()));
                    a.insert("threshold".into(), Value::from(*min));
                    a.insert("observed".into(), Value::from(n as u64));
                    a.insert(
                        "values".into(),
                        Value::Array(more.iter().map(|v| Value::String((*v).into())).collect()),
                    );
                    also.push(Value::Object(a));
                    also_text.push_str(&format!(" and {n} distinct {field} (threshold {min})"));
                }
                w.insert("and_distinct".into(), Value::Array(also));
            }
            if also_text.is_empty() {
                format!(
                    "{observed} distinct {} ({}) within {window}{for_group} (threshold {})",
                    s.distinct.as_deref().unwrap_or("values"),
                    vals.join(", "),
                    s.threshold
                )
            } else {
                format!(
                    "{observed} distinct {} ({}; threshold {}){also_text} within {window}{for_group}",
                    s.distinct.as_deref().unwrap_or("values"),
                    vals.join(", "),
                    s.threshold
                )
            }
        }
        RuleKind::Sequence => {
            let (steps, text) = sequence_evidence(rule, f);
            w.insert("steps".into(), Value::Array(steps));
            format!("{text} within {window}{for_group}")
        }
        _ => format!(
            "{observed} events within {window}{for_group} (threshold {})",
            s.threshold
        ),
    };
    let mut evidence = Map::new();
    if let Some(v) = &s.variant {
        evidence.insert("variant".into(), Value::String(v.clone()));
    }
    evidence.insert("window".into(), Value::Object(w));
    let summary = if rule.own_summary {
        format!("{} ({what})", la.summary)
    } else {
        format!("{}: {what}", rule.title)
    };
    let last_event = Value::Object(la.evidence.clone());
    evidence.insert("last_event".into(), last_event);
    Some(Alert {
        id,
        rule_id: rule.id.clone(),
        title: rule.title.clone(),
        severity: la.severity,
        mitre: rule.mitre.clone(),
        first_event_time: format_event_time(first),
        last_event_time: format_event_time(f.time),
        count: f.items.len() as u64,
        event_ids,
        summary,
        evidence,
        ..la
    })
}

/// A sequence's `steps` evidence and its summary text (`failure ×5 → success`), from the
/// walk the window fired on: per step the event that satisfied it (`time`, `event`); with a
/// `count` above 1 also `count`, `first_time` and every counted event (`events`, at most
/// [`MAX_EVIDENCE_EVENTS`]); for a step compared with another, the compared `field` and
/// `value`, and `differs_from` (the earlier step's name).
fn sequence_evidence(rule: &Rule, f: &Firing<PackEv>) -> (Vec<Value>, String) {
    let s = &rule.stateful;
    let walked = sequence_steps(&rule.window, &f.items);
    // The field each step's hits carry, as the rule compares them.
    let mut compared: Vec<Option<&str>> = vec![None; s.steps.len()];
    for (i, d) in s.step_differs.iter().enumerate() {
        if let Some(d) = d {
            if let Some(c) = compared.get_mut(i) {
                *c = Some(d.field.as_str());
            }
            if let Some(c) = compared.get_mut(d.step) {
                *c = Some(d.step_field.as_str());
            }
        }
    }
    let value_of = |pos: usize| -> Option<&str> {
        let idx = walked.get(pos)?.last()?;
        f.items.get(*idx)?.value.as_deref()
    };
    let mut steps = Vec::new();
    let mut texts = Vec::new();
    for (pos, name) in s.steps.iter().enumerate() {
        let used: Vec<&WindowItem<PackEv>> = walked
            .get(pos)
            .map(|ix| ix.iter().filter_map(|i| f.items.get(*i)).collect())
            .unwrap_or_default();
        let Some(last) = used.last() else {
            continue;
        };
        let mut st = Map::new();
        st.insert("step".into(), Value::String(name.clone()));
        st.insert("time".into(), Value::String(format_event_time(last.time)));
        st.insert(
            "event".into(),
            Value::String(last.ev.event_ref().to_string()),
        );
        let mut text = name.clone();
        let count = s.step_counts.get(pos).copied().unwrap_or(1);
        if count > 1 {
            st.insert("count".into(), Value::from(used.len() as u64));
            if let Some(first) = used.first() {
                st.insert(
                    "first_time".into(),
                    Value::String(format_event_time(first.time)),
                );
            }
            st.insert(
                "events".into(),
                Value::Array(
                    used.iter()
                        .take(MAX_EVIDENCE_EVENTS)
                        .map(|it| Value::String(it.ev.event_ref().to_string()))
                        .collect(),
                ),
            );
            text.push_str(&format!(" ×{}", used.len()));
        }
        if let Some(field) = compared.get(pos).copied().flatten() {
            st.insert("field".into(), Value::String(field.to_string()));
            st.insert(
                "value".into(),
                value_of(pos).map_or(Value::Null, |v| Value::String(v.to_string())),
            );
        }
        if let Some(d) = s.step_differs.get(pos).and_then(Option::as_ref) {
            let earlier = s.steps.get(d.step).map_or("", String::as_str);
            st.insert("differs_from".into(), Value::String(earlier.to_string()));
            let other_field = if d.step_field == d.field {
                String::new()
            } else {
                format!("{} ", d.step_field)
            };
            text.push_str(&format!(
                " ({} {} ≠ {other_field}{} of {earlier})",
                d.field,
                value_of(pos).unwrap_or("-"),
                value_of(d.step).unwrap_or("-")
            ));
        }
        steps.push(Value::Object(st));
        texts.push(text);
    }
    (steps, texts.join(" → "))
}

/// Runs a stateful rule's test events in a [`PackEngine`] of its own (replay settings).
#[derive(Debug, Clone, Copy, Default)]
pub struct PackRunner;

impl CaseRunner for PackRunner {
    fn run(
        &self,
        policy: &Policy,
        lists: &IpLists,
        events: &[Event],
        source_object: &str,
    ) -> Result<Vec<Alert>, String> {
        let mut single = Policies::new();
        single.add(policy.clone()).map_err(|e| e.to_string())?;
        // Switched on, with the deployment settings its tests declare (`test_settings`).
        let overrides = policy.test_overrides();
        let mut pack = PackEngine::new(&single, lists, &overrides, PackOptions::replay())
            .map_err(|e| e.to_string())?;
        if let Some(d) = pack.engine().disabled().first() {
            return Err(format!("policy not runnable: {}", d.reason));
        }
        let mut out = Vec::new();
        // Each event its own object, as files would bring them; the rule's plain event
        // detections (`also` entries of kind event, or a main one) on the engine beside.
        for e in events {
            pack.engine()
                .evaluate(e, EventRef { source_object }, &mut out);
            pack.evaluate(e, source_object);
            pack.advance(&mut out);
        }
        pack.flush(&mut out);
        Ok(out)
    }
}

/// Every policy's test cases (`trailwarden rules test`): event rules on the detect engine,
/// stateful rules through this runtime — each multi-event case in the order written and
/// reversed, which must agree.
pub fn run_policy_tests(policies: &Policies, lists: &IpLists) -> TestReport {
    trailwarden_detect::run_policy_tests_with(policies, lists, Some(&PackRunner))
}
