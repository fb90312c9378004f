//! The engine: rules indexed by eventName / eventSource, per-event evaluation, alerts, and the
//! correlation driver. Implements the pipeline's [`Detector`].

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use trailwarden_alert::{alert_id, format_event_time, single_event_key, Alert, SCHEMA_VERSION};
use trailwarden_parse::{Event, IdentityType};
use trailwarden_pipeline::{Batch, Detector};

use crate::corr::{
    group_key, Correlator, CorrelatorOptions, Evidence, Firing, GroupKey, Observation, WindowSpec,
};
use crate::field::{Ctx, Field, Scratch, Typed};
use crate::group::{AlertBuilder, Grouper, Grouping};
use crate::rules::{CorrelationRule, CorrelationType, DetectionRule, RuleProblem, SigmaRules};

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

impl Evidence for Ev {
    fn key(&self) -> &str {
        &self.key
    }
}

type Obs = Observation<Ev>;
type Fired = Firing<Ev>;

/// Most evidence event ids listed in one correlation alert (`count` has the full number).
pub const MAX_EVIDENCE_EVENTS: usize = 100;

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaOptions {
    /// How far (seconds of event time) an event may arrive behind the latest event seen and
    /// still be ordered correctly into the correlation windows. `None`: unbounded — nothing is
    /// applied before `finish` (replay: results independent of file order).
    pub allowed_lateness_secs: Option<u64>,
    /// Most observations waiting in the reorder buffer (oldest applied early beyond it).
    pub max_buffered: usize,
    /// Most group-by keys tracked per correlation.
    pub max_groups: usize,
    /// Most observations in one group's window.
    pub max_window_events: usize,
    /// Evaluate CloudTrail Insights events too (off: they are skipped, as by the policies).
    pub include_insights: bool,
    /// Group the alerts of detection rules up to a level per (rule, account, principal) and
    /// event-time bucket (`None`: one alert per matching event).
    pub grouping: Option<Grouping>,
}

impl Default for SigmaOptions {
    /// Live settings: 15 minutes of allowed lateness (CloudTrail delivers an object within
    /// about 15 minutes of its events).
    fn default() -> Self {
        SigmaOptions {
            allowed_lateness_secs: Some(15 * 60),
            max_buffered: 1_000_000,
            max_groups: 100_000,
            max_window_events: 10_000,
            include_insights: false,
            grouping: None,
        }
    }
}

impl SigmaOptions {
    /// Settings for the long-running worker (same as `default()`).
    pub fn live() -> Self {
        SigmaOptions::default()
    }

    /// Settings for replay: unbounded lateness, so correlation results do not depend on the
    /// order files are read (bounded by `max_buffered` observations).
    pub fn replay() -> Self {
        SigmaOptions {
            allowed_lateness_secs: None,
            ..SigmaOptions::default()
        }
    }
}

/// Counters since the engine started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SigmaStats {
    /// Events seen.
    pub events: u64,
    /// Rule evaluations done (after the index).
    pub rule_evaluations: u64,
    /// Raw JSON members tokenized.
    pub raw_parses: u64,
    pub detection_matches: u64,
    pub correlation_alerts: u64,
    /// Observations dropped because they arrived after later ones were applied.
    pub late_dropped: u64,
    /// Observations applied early because the reorder buffer was full.
    pub forced_releases: u64,
    pub groups_evicted: u64,
    pub window_events_evicted: u64,
    /// Observations waiting in the reorder buffer now.
    pub buffered: u64,
    /// Group-by keys held now, over all correlations.
    pub groups: u64,
    /// Alert grouping: matches folded, grouped alerts emitted, groups emitted early (cap),
    /// matches after their bucket's alert (alerted alone), groups open now.
    pub grouped_matches: u64,
    pub groups_emitted: u64,
    pub groups_forced: u64,
    pub group_late_matches: u64,
    pub groups_open: u64,
}

/// Where a correlation reads a group-by or value field for one of its inputs.
#[derive(Debug, Clone)]
pub(crate) enum FieldSrc {
    Event(Field),
    /// The inner correlation's group-by value at this index (chaining).
    Group(usize),
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    Det(usize),
    Corr(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub inputs: Vec<Input>,
    /// `[input][group-by index]`.
    pub group: Vec<Vec<FieldSrc>>,
    /// `[input]`: the `condition.field` source.
    pub value: Vec<Option<FieldSrc>>,
}

fn find_ref(rules: &SigmaRules, r: &str) -> Option<Input> {
    let hit = |m: &crate::rules::RuleMeta| m.id == r || m.name.as_deref() == Some(r);
    if let Some(i) = rules.detections.iter().position(|d| hit(&d.meta)) {
        return Some(Input::Det(i));
    }
    rules
        .correlations
        .iter()
        .position(|c| hit(&c.meta))
        .map(Input::Corr)
}

/// Resolves the references of every correlation (rule names/ids, aliases, chaining).
pub(crate) fn resolve_correlations(rules: &SigmaRules) -> Result<Vec<Resolved>, Vec<RuleProblem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for c in &rules.correlations {
        let problem = |msg: String| RuleProblem {
            file: c.meta.file.clone(),
            line: c.meta.line,
            rule: Some(c.meta.title.clone()),
            message: msg,
        };
        let mut inputs = Vec::new();
        for r in &c.rules {
            match find_ref(rules, r) {
                Some(i) => inputs.push(i),
                None => problems.push(problem(format!(
                    "correlation refers to rule `{r}`, which is not loaded (by name or id)"
                ))),
            }
        }
        for (alias, map) in &c.aliases {
            for r in map.keys() {
                if !c.rules.contains(r) {
                    problems.push(problem(format!(
                        "alias `{alias}` maps rule `{r}`, which the correlation does not list"
                    )));
                }
            }
        }
        if inputs.len() != c.rules.len() {
            out.push(Resolved {
                inputs: Vec::new(),
                group: Vec::new(),
                value: Vec::new(),
            });
            continue;
        }
        let src = |input: &Input, rule_ref: &str, name: &str| -> FieldSrc {
            let field_name = c
                .aliases
                .get(name)
                .and_then(|m| m.get(rule_ref))
                .map_or(name, String::as_str);
            match input {
                Input::Det(_) => Field::compile(field_name).into_src(),
                Input::Corr(j) => rules
                    .correlations
                    .get(*j)
                    .and_then(|inner| inner.group_by.iter().position(|g| g == field_name))
                    .map_or(FieldSrc::Missing, FieldSrc::Group),
            }
        };
        let group = inputs
            .iter()
            .zip(&c.rules)
            .map(|(i, r)| c.group_by.iter().map(|g| src(i, r, g)).collect())
            .collect();
        let value = inputs
            .iter()
            .zip(&c.rules)
            .map(|(i, r)| c.condition.field.as_deref().map(|f| src(i, r, f)))
            .collect();
        out.push(Resolved {
            inputs,
            group,
            value,
        });
    }
    // Chains must not loop.
    for (start, c) in rules.correlations.iter().enumerate() {
        let mut stack = vec![start];
        let mut seen = vec![false; rules.correlations.len()];
        while let Some(i) = stack.pop() {
            for inp in out.get(i).map_or(&[][..], |r| r.inputs.as_slice()) {
                if let Input::Corr(j) = inp {
                    if *j == start {
                        problems.push(RuleProblem {
                            file: c.meta.file.clone(),
                            line: c.meta.line,
                            rule: Some(c.meta.title.clone()),
                            message: "correlation chain refers back to itself".into(),
                        });
                        stack.clear();
                        break;
                    }
                    if let Some(s) = seen.get_mut(*j) {
                        if !*s {
                            *s = true;
                            stack.push(*j);
                        }
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

impl Field {
    fn into_src(self) -> FieldSrc {
        match self {
            Field::Absent => FieldSrc::Missing,
            f => FieldSrc::Event(f),
        }
    }
}

/// Sigma rules compiled into an indexed evaluator; a pipeline [`Detector`].
///
/// Pure: no IO, no clock (alert times are event times); never panics on any event.
pub struct SigmaEngine {
    rules: Vec<DetectionRule>,
    /// Per detection rule, precomputed for alerts: the `sigma` evidence and the fields shown.
    det_evidence: Vec<(Value, Vec<(String, Field)>)>,
    corrs: Vec<CorrelationRule>,
    resolved: Vec<Resolved>,
    det_alerts: Vec<bool>,
    det_feeds: Vec<Vec<(u32, u32)>>,
    corr_alerts: Vec<bool>,
    corr_feeds: Vec<Vec<(u32, u32)>>,
    by_name: HashMap<String, Vec<u32>>,
    by_source: HashMap<String, Vec<u32>>,
    always: Vec<u32>,
    scratch: Scratch,
    lower: String,
    cand: Vec<u32>,
    /// The reorder buffer and windows (one [`WindowSpec`] per correlation, same index).
    correlator: Correlator<Ev>,
    grouper: Option<Grouper>,
    stats: SigmaStats,
    opts: SigmaOptions,
}

impl std::fmt::Debug for SigmaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaEngine")
            .field("rules", &self.rules.len())
            .field("correlations", &self.corrs.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// How a detection rule is reached from the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexedBy {
    EventName(Vec<String>),
    EventSource(Vec<String>),
    /// Evaluated for every event.
    Unindexed,
}

pub(crate) fn index_of(rule: &DetectionRule) -> IndexedBy {
    if let Some(names) = rule.expr.literal_constraint(Typed::EventName) {
        return IndexedBy::EventName(names.into_iter().collect());
    }
    if let Some(srcs) = rule.expr.literal_constraint(Typed::EventSource) {
        return IndexedBy::EventSource(srcs.into_iter().collect());
    }
    IndexedBy::Unindexed
}

impl SigmaEngine {
    /// Compiles the index. `rules` come from [`SigmaRules::load_dirs`], which has already
    /// checked every rule and resolved every correlation reference.
    pub fn new(rules: SigmaRules, opts: SigmaOptions) -> SigmaEngine {
        // load_dirs/from_sources resolved these without error; a SigmaRules assembled with
        // `extend` may not be, and then unresolved correlations simply have no inputs.
        let resolved = resolve_correlations(&rules).unwrap_or_else(|_| {
            rules
                .correlations
                .iter()
                .map(|_| Resolved {
                    inputs: Vec::new(),
                    group: Vec::new(),
                    value: Vec::new(),
                })
                .collect()
        });
        let SigmaRules {
            detections,
            correlations,
            ..
        } = rules;
        let mut det_feeds = vec![Vec::new(); detections.len()];
        let mut corr_feeds = vec![Vec::new(); correlations.len()];
        let mut det_gen: Vec<Option<bool>> = vec![None; detections.len()];
        let mut corr_gen: Vec<Option<bool>> = vec![None; correlations.len()];
        for (ci, (c, r)) in correlations.iter().zip(&resolved).enumerate() {
            for (pos, inp) in r.inputs.iter().enumerate() {
                let (feeds, gen, i) = match inp {
                    Input::Det(i) => (&mut det_feeds, &mut det_gen, *i),
                    Input::Corr(i) => (&mut corr_feeds, &mut corr_gen, *i),
                };
                if let Some(f) = feeds.get_mut(i) {
                    f.push((ci as u32, pos as u32));
                }
                if let Some(g) = gen.get_mut(i) {
                    *g = Some(g.unwrap_or(false) || c.generate);
                }
            }
        }
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        let mut by_source: HashMap<String, Vec<u32>> = HashMap::new();
        let mut always = Vec::new();
        for (i, r) in detections.iter().enumerate() {
            let i = i as u32;
            match index_of(r) {
                IndexedBy::EventName(names) => {
                    for n in names {
                        by_name.entry(n).or_default().push(i);
                    }
                }
                IndexedBy::EventSource(srcs) => {
                    for s in srcs {
                        by_source.entry(s).or_default().push(i);
                    }
                }
                IndexedBy::Unindexed => always.push(i),
            }
        }
        let specs = correlations
            .iter()
            .map(|c| WindowSpec {
                kind: c.kind,
                inputs: c.rules.len(),
                timespan_secs: c.timespan_secs,
                condition: c.condition.clone(),
                suppress_secs: 0,
                distinct_events: false,
                and_distinct: Vec::new(),
                step_min: Vec::new(),
                step_differs: Vec::new(),
                skip_unstarted: false,
            })
            .collect();
        let correlator = Correlator::new(
            specs,
            CorrelatorOptions {
                allowed_lateness_secs: opts.allowed_lateness_secs,
                max_buffered: opts.max_buffered,
                max_groups: opts.max_groups,
                max_window_events: opts.max_window_events,
            },
        );
        let det_evidence = detections
            .iter()
            .map(|r| {
                let mut conds = Vec::new();
                r.expr.field_conds(&mut conds);
                let mut fields: Vec<(String, Field)> = Vec::new();
                for c in conds {
                    if !fields.iter().any(|(n, _)| *n == c.name) {
                        fields.push((c.name.clone(), c.field.clone()));
                    }
                }
                (sigma_evidence(&r.meta), fields)
            })
            .collect();
        SigmaEngine {
            det_evidence,
            det_alerts: det_gen.iter().map(|g| g.unwrap_or(true)).collect(),
            corr_alerts: corr_gen.iter().map(|g| g.unwrap_or(true)).collect(),
            rules: detections,
            corrs: correlations,
            resolved,
            det_feeds,
            corr_feeds,
            by_name,
            by_source,
            always,
            scratch: Scratch::default(),
            lower: String::with_capacity(64),
            cand: Vec::with_capacity(16),
            correlator,
            grouper: opts.grouping.map(Grouper::new),
            stats: SigmaStats::default(),
            opts,
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> SigmaStats {
        let mut s = self.stats;
        s.raw_parses = self.scratch.parses;
        let c = self.correlator.stats();
        s.late_dropped = c.late_dropped;
        s.forced_releases = c.forced_releases;
        s.groups_evicted = c.groups_evicted;
        s.window_events_evicted = c.window_events_evicted;
        s.buffered = c.buffered;
        s.groups = c.groups;
        if let Some(g) = &self.grouper {
            let g = g.stats();
            s.grouped_matches = g.grouped_matches;
            s.groups_emitted = g.groups_emitted;
            s.groups_forced = g.groups_forced;
            s.group_late_matches = g.late_matches;
            s.groups_open = g.open;
        }
        s
    }

    /// Makes every rule alert, even those only used by correlations with `generate: false`
    /// (rule tests).
    pub fn emit_all_alerts(&mut self) {
        self.det_alerts.iter_mut().for_each(|b| *b = true);
        self.corr_alerts.iter_mut().for_each(|b| *b = true);
    }

    /// Number of detection and correlation rules.
    pub fn rule_count(&self) -> (usize, usize) {
        (self.rules.len(), self.corrs.len())
    }

    /// Evaluates one event: alerts of detection rules go to `out` at once; matches that feed
    /// correlations wait in the reorder buffer (see [`SigmaEngine::advance`]).
    /// `source_object` names the event's object (alert ids of records without an `eventID`).
    pub fn evaluate(&mut self, event: &Event, source_object: &str, out: &mut Vec<Alert>) {
        if !self.opts.include_insights && event.is_insight() {
            return;
        }
        self.stats.events += 1;
        self.correlator.see(event.event_time);
        if let Some(g) = &mut self.grouper {
            g.see(event.event_time);
        }
        self.cand.clear();
        self.lower.clear();
        self.lower.push_str(&event.event_name);
        self.lower.make_ascii_lowercase();
        if let Some(v) = self.by_name.get(self.lower.as_str()) {
            self.cand.extend_from_slice(v);
        }
        self.lower.clear();
        self.lower.push_str(&event.event_source);
        self.lower.make_ascii_lowercase();
        if let Some(v) = self.by_source.get(self.lower.as_str()) {
            self.cand.extend_from_slice(v);
        }
        self.cand.extend_from_slice(&self.always);
        if self.cand.is_empty() {
            return;
        }
        self.cand.sort_unstable();
        self.cand.dedup();
        let mut ctx = Ctx::new(event, &mut self.scratch);
        let mut shared_ev: Option<Arc<Ev>> = None;
        for k in 0..self.cand.len() {
            let Some(&ri) = self.cand.get(k) else { break };
            let Some(rule) = self.rules.get(ri as usize) else {
                continue;
            };
            self.stats.rule_evaluations += 1;
            if !rule.expr.eval(&mut ctx) {
                continue;
            }
            self.stats.detection_matches += 1;
            // From here on the rule fired: allocation is fine.
            let ri = ri as usize;
            if self.det_alerts.get(ri).copied().unwrap_or(true) {
                if let Some((sig, fields)) = self.det_evidence.get(ri) {
                    match &mut self.grouper {
                        Some(g) if g.applies_to(rule.meta.severity) => {
                            let mut b = Build {
                                rule,
                                sig,
                                fields,
                                ctx: &mut ctx,
                                source_object,
                            };
                            g.add(ri as u32, event, source_object, &mut b, out);
                        }
                        _ => out.push(detection_alert(rule, sig, fields, &mut ctx, source_object)),
                    }
                }
            }
            let feeds = self.det_feeds.get(ri).map_or(&[][..], Vec::as_slice);
            for &(c, pos) in feeds {
                let Some(res) = self.resolved.get(c as usize) else {
                    continue;
                };
                let read = |src: &FieldSrc, ctx: &mut Ctx<'_, '_>| -> Option<String> {
                    match src {
                        FieldSrc::Event(f) => ctx.values(f).into_iter().next(),
                        _ => None,
                    }
                };
                let group: Vec<Option<String>> = res
                    .group
                    .get(pos as usize)
                    .map(|g| g.iter().map(|s| read(s, &mut ctx)).collect())
                    .unwrap_or_default();
                let group = GroupKey::of(&group);
                let value = res
                    .value
                    .get(pos as usize)
                    .and_then(|v| v.as_ref())
                    .and_then(|s| read(s, &mut ctx));
                let ev = shared_ev
                    .get_or_insert_with(|| Arc::new(event_ev(event, source_object)))
                    .clone();
                self.correlator.observe(Obs {
                    time: event.event_time,
                    corr: c,
                    pos,
                    group,
                    value,
                    ev,
                });
            }
        }
    }

    /// Applies every buffered observation at or before the watermark (latest event time seen
    /// minus the allowed lateness), oldest first; then enforces the buffer cap.
    pub fn advance(&mut self, out: &mut Vec<Alert>) {
        let Self {
            correlator,
            corrs,
            corr_feeds,
            corr_alerts,
            resolved,
            stats,
            grouper,
            opts,
            ..
        } = self;
        let mut on_fire = |fired: Fired, chain: &mut Vec<Obs>| {
            on_correlation_fired(
                fired,
                chain,
                corrs,
                corr_feeds,
                corr_alerts,
                resolved,
                stats,
                out,
            )
        };
        correlator.advance(&mut on_fire);
        if let Some(g) = grouper {
            g.advance(opts.allowed_lateness_secs, out);
        }
    }

    /// Applies everything still buffered (end of input).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        let Self {
            correlator,
            corrs,
            corr_feeds,
            corr_alerts,
            resolved,
            stats,
            grouper,
            ..
        } = self;
        let mut on_fire = |fired: Fired, chain: &mut Vec<Obs>| {
            on_correlation_fired(
                fired,
                chain,
                corrs,
                corr_feeds,
                corr_alerts,
                resolved,
                stats,
                out,
            )
        };
        correlator.flush(&mut on_fire);
        if let Some(g) = grouper {
            g.flush(out);
        }
    }
}

/// A correlation fired: its alert, and (chaining) an observation of every correlation that
/// refers to it, at the same event time, applied at once (it is in order by construction).
#[allow(clippy::too_many_arguments)]
fn on_correlation_fired(
    fired: Fired,
    chain: &mut Vec<Obs>,
    corrs: &[CorrelationRule],
    corr_feeds: &[Vec<(u32, u32)>],
    corr_alerts: &[bool],
    resolved: &[Resolved],
    stats: &mut SigmaStats,
    out: &mut Vec<Alert>,
) {
    let ci = fired.corr as usize;
    let Some(rule) = corrs.get(ci) else {
        return;
    };
    stats.correlation_alerts += 1;
    let alert = correlation_alert(rule, &fired);
    let feeds = corr_feeds.get(ci).map_or(&[][..], Vec::as_slice);
    if !feeds.is_empty() {
        let ev = Arc::new(Ev {
            key: format!("alert:{}", alert.id),
            refs: alert.event_ids.clone(),
            first_time: fired.items.first().map_or(fired.time, |i| i.ev.first_time),
            time: fired.time,
            account: alert.account.clone(),
            region: alert.region.clone(),
            principal: alert.principal.clone(),
            principal_type: alert.principal_type.clone(),
            source_ip: alert.source_ip.clone(),
            user_agent: alert.user_agent.clone(),
        });
        for &(outer, pos) in feeds {
            let Some(res) = resolved.get(outer as usize) else {
                continue;
            };
            let pick = |s: &FieldSrc| match s {
                FieldSrc::Group(i) => fired.group.get(*i).cloned().flatten(),
                _ => None,
            };
            chain.push(Obs {
                time: fired.time,
                corr: outer,
                pos,
                group: GroupKey::of(
                    &res.group
                        .get(pos as usize)
                        .map(|g| g.iter().map(pick).collect::<Vec<_>>())
                        .unwrap_or_default(),
                ),
                value: res
                    .value
                    .get(pos as usize)
                    .and_then(|v| v.as_ref())
                    .and_then(pick),
                ev: ev.clone(),
            });
        }
    }
    if corr_alerts.get(ci).copied().unwrap_or(true) {
        out.push(alert);
    }
}

impl Detector for SigmaEngine {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        for e in &batch.events {
            self.evaluate(e, &batch.object.key, out);
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

fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

fn principal_type(e: &Event) -> Option<String> {
    match &e.identity.kind {
        IdentityType::Missing => None,
        k => Some(k.as_str().to_string()),
    }
}

fn event_ev(e: &Event, source_object: &str) -> Ev {
    let (key, r) = single_event_key(e.event_id.as_deref(), source_object, e.record_index);
    Ev {
        key,
        refs: vec![r],
        first_time: e.event_time,
        time: e.event_time,
        account: e.account().filter(|s| !s.is_empty()).map(str::to_string),
        region: nonempty(&e.aws_region),
        principal: nonempty(&e.identity.principal),
        principal_type: principal_type(e),
        source_ip: nonempty(&e.source_ip_address),
        user_agent: nonempty(&e.user_agent),
    }
}

fn sigma_evidence(meta: &crate::rules::RuleMeta) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(meta.id.clone()));
    m.insert("title".into(), Value::String(meta.title.clone()));
    if let Some(l) = &meta.level {
        m.insert("level".into(), Value::String(l.clone()));
    }
    if let Some(s) = &meta.status {
        m.insert("status".into(), Value::String(s.clone()));
    }
    if !meta.tags.is_empty() {
        m.insert(
            "tags".into(),
            Value::Array(meta.tags.iter().cloned().map(Value::String).collect()),
        );
    }
    Value::Object(m)
}

/// Builds the alert of the event being evaluated (the grouper asks when the event becomes a
/// group's representative).
struct Build<'r, 'c, 'a, 'b> {
    rule: &'r DetectionRule,
    sig: &'r Value,
    fields: &'r [(String, Field)],
    ctx: &'c mut Ctx<'a, 'b>,
    source_object: &'r str,
}

impl AlertBuilder for Build<'_, '_, '_, '_> {
    fn build(&mut self) -> Option<Alert> {
        Some(detection_alert(
            self.rule,
            self.sig,
            self.fields,
            self.ctx,
            self.source_object,
        ))
    }
}

fn detection_alert(
    rule: &DetectionRule,
    sigma: &Value,
    field_list: &[(String, Field)],
    ctx: &mut Ctx<'_, '_>,
    source_object: &str,
) -> Alert {
    let e = ctx.event;
    let mut evidence = Map::new();
    evidence.insert("sigma".into(), sigma.clone());
    evidence.insert("eventSource".into(), Value::String(e.event_source.clone()));
    evidence.insert("eventName".into(), Value::String(e.event_name.clone()));
    evidence.insert(
        "errorCode".into(),
        nonempty(&e.error_code).map_or(Value::Null, Value::String),
    );
    let mut fields = Map::new();
    for (name, field) in field_list {
        let vals = ctx.values(field);
        let v = match vals.len() {
            0 => Value::Null,
            1 => Value::String(vals.into_iter().next().unwrap_or_default()),
            _ => Value::Array(vals.into_iter().map(Value::String).collect()),
        };
        fields.insert(name.clone(), v);
    }
    evidence.insert("fields".into(), Value::Object(fields));
    let (key, event_ref) = single_event_key(e.event_id.as_deref(), source_object, e.record_index);
    let time = format_event_time(e.event_time);
    let principal = nonempty(&e.identity.principal);
    let summary = format!(
        "Sigma: {} — {} {} by {}",
        rule.meta.title,
        e.event_source,
        e.event_name,
        principal
            .as_deref()
            .or(e.identity.arn.as_deref())
            .unwrap_or("unknown principal")
    );
    Alert {
        schema_version: SCHEMA_VERSION,
        id: alert_id(&rule.meta.id, &[&key]),
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        mitre: rule.meta.mitre.clone(),
        account: e.account().filter(|s| !s.is_empty()).map(str::to_string),
        region: nonempty(&e.aws_region),
        principal,
        principal_type: principal_type(e),
        source_ip: nonempty(&e.source_ip_address),
        user_agent: nonempty(&e.user_agent),
        first_event_time: time.clone(),
        last_event_time: time,
        event_ids: vec![event_ref],
        count: 1,
        summary,
        evidence,
    }
}

fn correlation_alert(rule: &CorrelationRule, fired: &Fired) -> Alert {
    let gkey = group_key(&fired.group);
    let mut keys: Vec<&str> = Vec::with_capacity(fired.items.len() + 1);
    keys.push(&gkey);
    for it in &fired.items {
        keys.push(&it.ev.key);
    }
    let id = alert_id(&rule.meta.id, &keys);
    let mut event_ids: Vec<String> = Vec::new();
    let mut count = 0u64;
    for it in &fired.items {
        for r in &it.ev.refs {
            count += 1;
            if event_ids.len() < MAX_EVIDENCE_EVENTS && !event_ids.contains(r) {
                event_ids.push(r.clone());
            }
        }
    }
    let first = fired
        .items
        .iter()
        .map(|i| i.ev.first_time)
        .min()
        .unwrap_or(fired.time);
    let last_ev = fired.items.last().map(|i| i.ev.clone());
    let mut group = Map::new();
    for (name, v) in rule.group_by.iter().zip(&fired.group) {
        group.insert(name.clone(), v.clone().map_or(Value::Null, Value::String));
    }
    let mut corr = Map::new();
    corr.insert("type".into(), Value::String(rule.kind.as_str().into()));
    corr.insert(
        "rules".into(),
        Value::Array(rule.rules.iter().cloned().map(Value::String).collect()),
    );
    corr.insert("timespan_secs".into(), Value::from(rule.timespan_secs));
    corr.insert("group_by".into(), Value::Object(group));
    corr.insert("condition".into(), Value::String(rule.condition.describe()));
    if let Some(f) = &rule.condition.field {
        corr.insert("field".into(), Value::String(f.clone()));
    }
    corr.insert(
        "figure".into(),
        serde_json::Number::from_f64(fired.figure).map_or(Value::Null, Value::Number),
    );
    corr.insert(
        "window_start".into(),
        Value::String(format_event_time(first)),
    );
    corr.insert(
        "window_end".into(),
        Value::String(format_event_time(fired.time)),
    );
    if matches!(rule.kind, CorrelationType::ValueCount) {
        let mut vals: Vec<&str> = fired
            .items
            .iter()
            .filter_map(|i| i.value.as_deref())
            .collect();
        vals.sort_unstable();
        vals.dedup();
        vals.truncate(MAX_EVIDENCE_EVENTS);
        corr.insert(
            "values".into(),
            Value::Array(vals.into_iter().map(|v| Value::String(v.into())).collect()),
        );
    }
    let mut evidence = Map::new();
    evidence.insert("sigma".into(), sigma_evidence(&rule.meta));
    evidence.insert("correlation".into(), Value::Object(corr));
    let group_text = rule
        .group_by
        .iter()
        .zip(&fired.group)
        .map(|(n, v)| format!("{n}={}", v.as_deref().unwrap_or("-")))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "Sigma correlation: {} — {} {} within {}s{}",
        rule.meta.title,
        rule.kind.as_str(),
        fired.figure,
        rule.timespan_secs,
        if group_text.is_empty() {
            String::new()
        } else {
            format!(" for {group_text}")
        }
    );
    let pick = |f: fn(&Ev) -> &Option<String>| last_ev.as_ref().and_then(|e| f(e).clone());
    Alert {
        schema_version: SCHEMA_VERSION,
        id,
        rule_id: rule.meta.id.clone(),
        title: rule.meta.title.clone(),
        severity: rule.meta.severity,
        mitre: rule.meta.mitre.clone(),
        account: pick(|e| &e.account),
        region: pick(|e| &e.region),
        principal: pick(|e| &e.principal),
        principal_type: pick(|e| &e.principal_type),
        source_ip: pick(|e| &e.source_ip),
        user_agent: pick(|e| &e.user_agent),
        first_event_time: format_event_time(first),
        last_event_time: format_event_time(fired.time),
        event_ids,
        count,
        summary,
        evidence,
    }
}
