//! The compiled, indexed evaluator.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trailwarden_alert::{
    alert_id, format_event_time, single_event_key, Alert, Severity, SCHEMA_VERSION,
};
use trailwarden_parse::{Event, IdentityType};

use crate::check::Finding;
use crate::condition::{glob_match, Exclusion};
use crate::field::{Ctx, Field};
use crate::iplist::{IpLists, IpRanges};
use crate::policy::{
    check_regions, valid_account, Matcher, Policies, Policy, Stateful, Step, Variant, ANY_SOURCE,
};
use crate::spec::{ExclusionSpec, Outcome};
use crate::DetectError;

/// Where an event came from, for alert ids of records without an `eventID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The source object (S3 `bucket/key`, or a local path) the record was read from. The
    /// record's index in that object is [`Event::record_index`].
    pub source_object: &'a str,
}

/// A policy the engine will not run, and why. The binary logs each once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledPolicy {
    pub id: String,
    pub reason: String,
}

/// Deployment-level changes to the policies (from the config file).
///
/// ```toml
/// [[detect.exclude]]                       # applies to every policy
/// principal = "*:role/SecurityAuditScanner"
/// read_only = true
///
/// [detect.policies.vpc-change]
/// enabled = false
///
/// [detect.policies.iam-policy-change]
/// severity = "high"
/// exclude = [{ principal = "*:role/TerraformDeployer" }]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Exclusions applied to every policy.
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
    /// Per-policy changes, by policy id. An id that no loaded policy has is an error.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyOverride>,
    /// The deployment's own and trusted accounts (12-digit ids): `known_account` conditions
    /// and the `policy-cross-account` analyzer treat them as known, besides the event's own.
    #[serde(default)]
    pub known_accounts: Vec<String>,
    /// The deployment's approved regions, for `approved_region` conditions (a rule's own list
    /// in [`PolicyOverride::approved_regions`] wins). `None`: no list, and rules that test
    /// approved regions do not run ([`Engine::disabled`] says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_regions: Option<Vec<String>>,
}

/// Changes to one policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Turns the policy on or off, whatever its file says.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Replaces the policy's base severity (its `severity_overrides` still apply).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Exclusions added to the policy's own.
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
    /// This policy's approved regions, instead of [`Overrides::approved_regions`]. Only for a
    /// policy with an `approved_region` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_regions: Option<Vec<String>>,
}

struct Active {
    policy: Policy,
    /// The base severity: the configuration's, else the file's.
    severity: Severity,
    /// The configuration set it (then it wins over an `also` entry's own severity).
    config_severity: bool,
    extra_exclude: Vec<Exclusion>,
}

/// Candidates of one event source: `T` is a rule index (event rules) or (rule, step).
struct SourceIndex<T> {
    /// Exact event name → candidates.
    exact: HashMap<String, Vec<T>>,
    /// Candidates with glob names for this source: (candidate, patterns).
    globs: Vec<(T, Vec<String>)>,
}

impl<T> Default for SourceIndex<T> {
    fn default() -> Self {
        SourceIndex {
            exact: HashMap::new(),
            globs: Vec::new(),
        }
    }
}

impl<T: Copy + PartialEq> SourceIndex<T> {
    fn add(&mut self, m: &Matcher, at: T) {
        for name in &m.names {
            let list = self.exact.entry(name.clone()).or_default();
            if !list.contains(&at) {
                list.push(at);
            }
        }
        if !m.name_globs.is_empty() {
            self.globs.push((at, m.name_globs.clone()));
        }
    }
}

/// Candidates by event source, and those of `event_source: "*"` (every source).
struct Index<T> {
    by_source: HashMap<String, SourceIndex<T>>,
    /// Rules on every event source: looked at for every event (one more hash lookup by name,
    /// and their globs), so only when there are some.
    any_source: Option<SourceIndex<T>>,
    /// The candidates of each (event source, event name) seen, as [`Index::add`]'s lists and
    /// globs give them: a trail repeats a few hundred pairs, so most events cost two hash
    /// lookups and no glob. Bounded by [`MAX_MEMO_PAIRS`] (pairs beyond are computed each
    /// time). A lock, not a cell, so an engine can be shared; each thread has its own engine,
    /// so it is never contended.
    memo: RwLock<Memo<T>>,
}

/// Most (event source, event name) pairs whose candidates an [`Index`] remembers.
const MAX_MEMO_PAIRS: usize = 16_384;

/// Longest source + name an [`Index`] remembers (real ones are under 100 bytes; a crafted
/// record's could be anything), so the memo stays under ~2 MB per index.
const MAX_MEMO_PAIR_LEN: usize = 128;

/// Event name → candidates, each with its [`SkipMask`].
type NameMemo<T> = foldhash::HashMap<Box<str>, Box<[(T, SkipMask)]>>;

/// The top-level conditions of a candidate's matcher that hold for every event of the
/// (event source, event name) pair it was made for (bit `k`: condition `k`, the first 64):
/// they are not evaluated again. See [`Condition::on_pair`].
type SkipMask = u64;

struct Memo<T> {
    by_source: foldhash::HashMap<Box<str>, NameMemo<T>>,
    pairs: usize,
}

impl<T> Default for Index<T> {
    fn default() -> Self {
        Index {
            by_source: HashMap::new(),
            any_source: None,
            memo: RwLock::new(Memo {
                by_source: foldhash::HashMap::default(),
                pairs: 0,
            }),
        }
    }
}

impl<T: Copy + PartialEq> Index<T> {
    fn add(&mut self, m: &Matcher, at: T) {
        for source in &m.sources {
            let src = if source == ANY_SOURCE {
                self.any_source.get_or_insert_with(SourceIndex::default)
            } else {
                self.by_source.entry(source.clone()).or_default()
            };
            src.add(m, at);
        }
        if let Ok(memo) = self.memo.get_mut() {
            memo.by_source.clear();
            memo.pairs = 0;
        }
    }
}

/// Calls `f` for each candidate of `event` in `index` that may match it: its source's exact
/// names, then globs, then the every-source rules' (each candidate once per list), with the
/// conditions it need not evaluate. `on_pair` tells, for a candidate and a context over an
/// event with only the event's source and name, whether the candidate can match such an event
/// and which of its conditions hold for all of them (`None`: it cannot; it is left out). No
/// allocation once the event's (source, name) pair is remembered.
fn candidates<T: Copy + PartialEq>(
    index: &Index<T>,
    event: &Event,
    on_pair: impl Fn(T, &Ctx<'_>) -> Option<SkipMask>,
    mut f: impl FnMut(T, SkipMask),
) {
    let source = event.event_source.as_str();
    let name = event.event_name.as_str();
    if let Ok(memo) = index.memo.read() {
        if let Some(list) = memo.by_source.get(source).and_then(|m| m.get(name)) {
            for &(c, skip) in list.iter() {
                f(c, skip);
            }
            return;
        }
    }
    let mut all = Vec::new();
    if let Some(src) = index.by_source.get(source) {
        source_candidates(src, event, &mut |c| all.push(c));
    }
    if let Some(any) = &index.any_source {
        source_candidates(any, event, &mut |c| all.push(c));
    }
    let list: Vec<(T, SkipMask)> = if all.is_empty() {
        Vec::new()
    } else {
        let pair = Event {
            event_source: event.event_source.clone(),
            event_name: event.event_name.clone(),
            ..Event::default()
        };
        let ctx = Ctx::new(&pair);
        all.into_iter()
            .filter_map(|c| on_pair(c, &ctx).map(|skip| (c, skip)))
            .collect()
    };
    for &(c, skip) in &list {
        f(c, skip);
    }
    let Ok(mut memo) = index.memo.write() else {
        return;
    };
    if memo.pairs < MAX_MEMO_PAIRS && source.len() + name.len() <= MAX_MEMO_PAIR_LEN {
        memo.pairs += 1;
        memo.by_source
            .entry(source.into())
            .or_default()
            .insert(name.into(), list.into_boxed_slice());
    }
}

/// What the (source, name) pair of `pair` decides for `m` (see [`candidates`]): `None` if a
/// condition is false for every such event, else the conditions that are true for all.
fn pair_skip(m: &Matcher, pair: &Ctx<'_>, lists: &[IpRanges]) -> Option<SkipMask> {
    let mut skip: SkipMask = 0;
    for (k, c) in m.conditions.iter().enumerate() {
        match c.on_pair(pair, lists) {
            Some(false) => return None,
            Some(true) if k < 64 => skip |= 1 << k,
            _ => {}
        }
    }
    Some(skip)
}

fn source_candidates<T: Copy + PartialEq>(
    src: &SourceIndex<T>,
    event: &Event,
    f: &mut impl FnMut(T),
) {
    let exact: &[T] = src
        .exact
        .get(event.event_name.as_str())
        .map_or(&[], Vec::as_slice);
    for &c in exact {
        f(c);
    }
    for (c, patterns) in &src.globs {
        if !exact.contains(c) && patterns.iter().any(|p| glob_match(p, &event.event_name)) {
            f(*c);
        }
    }
}

/// An event that matched a step of a stateful detection (threshold, distinct-count, sequence,
/// first-seen, or an event rule with `dedup`): what the rule-pack runtime needs to put it in
/// its window or baseline.
#[derive(Debug, Clone)]
pub struct StepHit {
    /// The rule's index in the engine ([`Engine::rule`]).
    pub rule: usize,
    /// The detection: 0 for the rule's main one, 1… for its `also` entries.
    pub variant: usize,
    /// The step (0 for every kind but `sequence`).
    pub step: usize,
    /// The window keys: one per combination of the key fields' values (each field's distinct
    /// values, at most 64 combinations); one empty key when the rule has no key fields. An
    /// event missing a key field is no hit.
    pub keys: Vec<Vec<String>>,
    /// `distinct-count`: the counted value; `first-seen`: the value fields' values joined by
    /// U+001F; `sequence`: the first value of the field the step is compared on
    /// (`differs_from`), if any.
    pub value: Option<String>,
}

/// Most distinct values taken from one key field, and most key combinations of one event.
const MAX_KEY_VALUES: usize = 16;
const MAX_KEYS: usize = 64;

/// Why a rule with an `approved_region` condition does not run without a list.
fn no_regions_reason(id: &str) -> String {
    format!(
        "needs the approved regions: set `approved_regions = [\"us-east-1\", …]` under [rules] (or [rules.rule.{id}])"
    )
}

/// The rules that are switched on but will not run for want of a deployment setting that is
/// not a file — today the approved regions — with the reason (`check-config` prints them; the
/// engine reports the same in [`Engine::disabled`]).
pub fn missing_settings(policies: &Policies, overrides: &Overrides) -> Vec<DisabledPolicy> {
    policies
        .iter()
        .filter(|p| {
            let ov = overrides.policies.get(p.id());
            ov.and_then(|o| o.enabled).unwrap_or(p.enabled())
                && p.needs_approved_regions()
                && overrides.approved_regions.is_none()
                && ov.and_then(|o| o.approved_regions.as_ref()).is_none()
        })
        .map(|p| DisabledPolicy {
            id: p.id().to_string(),
            reason: no_regions_reason(p.id()),
        })
        .collect()
}

/// Compiled policies, indexed by (eventSource, eventName). Immutable after [`Engine::new`];
/// `Send + Sync`, so one engine serves every worker thread.
pub struct Engine {
    active: Vec<Active>,
    /// Plain event detections: (rule, variant).
    index: Index<(usize, usize)>,
    /// Steps of stateful detections: (rule, variant, step).
    step_index: Index<(usize, usize, usize)>,
    lists: Vec<IpRanges>,
    global_exclude: Vec<Exclusion>,
    disabled: Vec<DisabledPolicy>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "active",
                &self
                    .active
                    .iter()
                    .map(|a| a.policy.id())
                    .collect::<Vec<_>>(),
            )
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

fn compile_exclusions(specs: &[ExclusionSpec], what: &str) -> Result<Vec<Exclusion>, DetectError> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Exclusion::compile(s).map_err(|message| DetectError::Override {
                message: format!("{what}.exclude[{i}]: {message}"),
            })
        })
        .collect()
}

impl Engine {
    /// Compiles `policies` with the given IP lists and overrides.
    ///
    /// A policy is left out (and reported by [`Engine::disabled`]) when it is disabled in its
    /// file or by an override, or when it needs an IP list that `ip_lists` does not have.
    pub fn new(
        policies: &Policies,
        ip_lists: &IpLists,
        overrides: &Overrides,
    ) -> Result<Engine, DetectError> {
        for id in overrides.policies.keys() {
            if policies.get(id).is_none() {
                return Err(DetectError::UnknownPolicy { id: id.clone() });
            }
        }
        let global_exclude = compile_exclusions(&overrides.exclude, "detect")?;
        let mut engine = Engine {
            active: Vec::new(),
            index: Index::default(),
            step_index: Index::default(),
            lists: Vec::new(),
            global_exclude,
            disabled: Vec::new(),
        };
        if let Some(bad) = overrides.known_accounts.iter().find(|a| !valid_account(a)) {
            return Err(DetectError::Override {
                message: format!("known_accounts: `{bad}` is not a 12-digit account id"),
            });
        }
        let bad = |message: String| DetectError::Override { message };
        if let Some(list) = &overrides.approved_regions {
            check_regions(list, "approved_regions").map_err(bad)?;
        }
        for (id, o) in &overrides.policies {
            if let Some(list) = &o.approved_regions {
                check_regions(list, &format!("policies.{id}.approved_regions")).map_err(bad)?;
                if !policies.get(id).is_some_and(Policy::needs_approved_regions) {
                    return Err(bad(format!(
                        "policies.{id}.approved_regions: rule `{id}` has no `approved_region` condition"
                    )));
                }
            }
        }
        let known: std::sync::Arc<[String]> = overrides.known_accounts.clone().into();
        let global_regions: Option<std::sync::Arc<[String]>> =
            overrides.approved_regions.clone().map(Into::into);
        let mut slots: HashMap<String, usize> = HashMap::new();
        for policy in policies {
            let ov = overrides.policies.get(policy.id());
            let enabled = ov.and_then(|o| o.enabled).unwrap_or(policy.enabled());
            if !enabled {
                let reason = if ov.and_then(|o| o.enabled).is_some() {
                    "disabled by configuration"
                } else {
                    "disabled in its policy file (enabled: false)"
                };
                engine.disabled.push(DisabledPolicy {
                    id: policy.id().to_string(),
                    reason: reason.to_string(),
                });
                continue;
            }
            let missing: Vec<&str> = policy
                .required_ip_lists()
                .into_iter()
                .filter(|name| ip_lists.get(name).is_none())
                .collect();
            if !missing.is_empty() {
                let names = missing
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                engine.disabled.push(DisabledPolicy {
                    id: policy.id().to_string(),
                    reason: format!(
                        "needs IP list {names}; give it as {}=FILE",
                        missing.first().copied().unwrap_or("NAME")
                    ),
                });
                continue;
            }
            let own_regions = ov.and_then(|o| o.approved_regions.clone()).map(Into::into);
            let regions = own_regions.or_else(|| global_regions.clone());
            if policy.needs_approved_regions() && regions.is_none() {
                engine.disabled.push(DisabledPolicy {
                    id: policy.id().to_string(),
                    reason: no_regions_reason(policy.id()),
                });
                continue;
            }
            let mut policy = policy.clone();
            policy.resolve_known_accounts(&known);
            if let Some(r) = &regions {
                policy.resolve_approved_regions(r);
            }
            policy.resolve_lists(|name| {
                if let Some(&slot) = slots.get(name) {
                    return slot;
                }
                let slot = engine.lists.len();
                engine
                    .lists
                    .push(ip_lists.get(name).cloned().unwrap_or_default());
                slots.insert(name.to_string(), slot);
                slot
            });
            let extra_exclude = match ov {
                Some(o) => compile_exclusions(&o.exclude, &format!("policies.{}", policy.id()))?,
                None => Vec::new(),
            };
            let config_severity = ov.and_then(|o| o.severity);
            let severity = config_severity.unwrap_or(policy.severity());
            let idx = engine.active.len();
            for (vi, v) in policy.compiled.variants.iter().enumerate() {
                if v.stateful.is_some() {
                    for (si, step) in v.steps.iter().enumerate() {
                        engine.step_index.add(&step.matcher, (idx, vi, si));
                    }
                } else if let Some(step) = v.steps.first() {
                    engine.index.add(&step.matcher, (idx, vi));
                }
            }
            engine.active.push(Active {
                policy,
                severity,
                config_severity: config_severity.is_some(),
                extra_exclude,
            });
        }
        Ok(engine)
    }

    /// Policies that will not run, with the reason (log each once).
    pub fn disabled(&self) -> &[DisabledPolicy] {
        &self.disabled
    }

    /// Ids of the policies that run, in load order.
    pub fn active_ids(&self) -> impl Iterator<Item = &str> {
        self.active.iter().map(|a| a.policy.id())
    }

    /// The rule at `i` (as in [`StepHit::rule`]).
    pub fn rule(&self, i: usize) -> Option<&Policy> {
        self.active.get(i).map(|a| &a.policy)
    }

    /// The stateful detections that run: (rule index, variant, rule, window).
    pub fn stateful_rules(&self) -> impl Iterator<Item = (usize, usize, &Policy, &Stateful)> {
        self.active.iter().enumerate().flat_map(|(i, a)| {
            a.policy
                .compiled
                .variants
                .iter()
                .enumerate()
                .filter_map(move |(vi, v)| v.stateful.as_ref().map(|s| (i, vi, &a.policy, s)))
        })
    }

    /// Evaluates one event against its candidate (plain event) detections, appending one alert
    /// per detection that fires. Stateful detections are left to [`Engine::evaluate_stateful`].
    /// Insights events are skipped. Pure: no IO, no clock; never panics.
    ///
    /// The common case (no candidate policy for the event's source and name) is two hash
    /// lookups and no allocation.
    pub fn evaluate(&self, event: &Event, origin: EventRef<'_>, out: &mut Vec<Alert>) {
        if event.is_insight() {
            return;
        }
        let mut ctx: Option<Ctx<'_>> = None;
        let lists = self.lists.as_slice();
        let on_pair = |(i, vi): (usize, usize), pair: &Ctx<'_>| {
            pair_skip(&self.step_at(i, vi, 0)?.matcher, pair, lists)
        };
        candidates(&self.index, event, on_pair, |(i, vi), skip| {
            let ctx = ctx.get_or_insert_with(|| Ctx::new(event));
            let Some(active) = self.active.get(i) else {
                return;
            };
            let Some(v) = active.policy.compiled.variants.get(vi) else {
                return;
            };
            if let Some(step) = v.steps.first() {
                if let Some(finding) = self.step_fires(active, step, ctx, skip) {
                    out.push(self.alert(active, v, step, ctx, origin, finding.as_ref()));
                }
            }
        });
    }

    /// Evaluates one event against the steps of the stateful detections, appending a
    /// [`StepHit`] per step it matches (with its keys present). Same costs and promises as
    /// [`Engine::evaluate`]; the windows and baselines are the rule-pack runtime's. A hit
    /// carries no alert: most never fire, and [`Engine::step_alert`] builds one for those that
    /// do.
    pub fn evaluate_stateful(&self, event: &Event, out: &mut Vec<StepHit>) {
        if event.is_insight() {
            return;
        }
        let mut ctx: Option<Ctx<'_>> = None;
        let lists = self.lists.as_slice();
        let on_pair = |(i, vi, si): (usize, usize, usize), pair: &Ctx<'_>| {
            pair_skip(&self.step_at(i, vi, si)?.matcher, pair, lists)
        };
        candidates(&self.step_index, event, on_pair, |(i, vi, si), skip| {
            let ctx = ctx.get_or_insert_with(|| Ctx::new(event));
            let Some(active) = self.active.get(i) else {
                return;
            };
            let Some(v) = active.policy.compiled.variants.get(vi) else {
                return;
            };
            let Some(step) = v.steps.get(si) else {
                return;
            };
            if self.step_fires(active, step, ctx, skip).is_none() {
                return;
            }
            let keys = key_combinations(ctx, &step.group);
            if keys.is_empty() {
                return;
            }
            let value = if v.value.is_empty() {
                // A sequence step compared with another carries its field's first value (a
                // hit without one still counts for the step; the comparison then fails).
                step.compare
                    .as_ref()
                    .and_then(|f| ctx.first_text(f))
                    .filter(|s| !s.is_empty())
            } else {
                let mut joined = String::new();
                for (n, f) in v.value.iter().enumerate() {
                    let mut found = false;
                    ctx.any_leaf(f, &mut |leaf| {
                        let t = leaf.text();
                        if !t.is_empty() {
                            if n > 0 {
                                joined.push('\u{1f}');
                            }
                            joined.push_str(&t);
                            found = true;
                        }
                        true
                    });
                    if !found {
                        return;
                    }
                }
                Some(joined)
            };
            out.push(StepHit {
                rule: i,
                variant: vi,
                step: si,
                keys,
                value,
            });
        });
    }

    /// The single-event alert of a step hit (rule `rule`, detection `variant`, step `step`, as
    /// in [`StepHit`]) on `event`: what the event raises on its own, with the analyzer's
    /// finding and the severity after overrides. `None` if the rule, detection or step does
    /// not exist.
    pub fn step_alert(
        &self,
        rule: usize,
        variant: usize,
        step: usize,
        event: &Event,
        origin: EventRef<'_>,
    ) -> Option<Alert> {
        let active = self.active.get(rule)?;
        let v = active.policy.compiled.variants.get(variant)?;
        let st = v.steps.get(step)?;
        let ctx = Ctx::new(event);
        // The same event, the same rule: the step fires as it did when it was observed.
        let finding = self.step_fires(active, st, &ctx, 0).flatten();
        Some(self.alert(active, v, st, &ctx, origin, finding.as_ref()))
    }

    /// The step `si` of detection `vi` of rule `i`.
    fn step_at(&self, i: usize, vi: usize, si: usize) -> Option<&Step> {
        self.active
            .get(i)?
            .policy
            .compiled
            .variants
            .get(vi)?
            .steps
            .get(si)
    }

    /// Whether `step` of `active` fires on the event of `ctx`: `Some(finding)` (the analyzer's,
    /// if it has any). The conditions in `skip` are known to hold (see [`SkipMask`]). No
    /// allocation until an analyzer or condition needs a raw field.
    fn step_fires(
        &self,
        active: &Active,
        step: &Step,
        ctx: &Ctx<'_>,
        skip: SkipMask,
    ) -> Option<Option<Finding>> {
        let m = &step.matcher;
        let c = &active.policy.compiled;
        let event = ctx.event;
        let passes_outcome = match m.outcome {
            Outcome::Success => !event.failed(),
            Outcome::Failure => event.failed(),
            Outcome::Any => true,
        };
        if !passes_outcome {
            return None;
        }
        let lists = self.lists.as_slice();
        let holds = m
            .conditions
            .iter()
            .enumerate()
            .all(|(k, cond)| (k < 64 && skip & (1 << k) != 0) || cond.holds(ctx, lists));
        if !holds {
            return None;
        }
        let excluded = self
            .global_exclude
            .iter()
            .chain(&active.extra_exclude)
            .chain(&c.exclude)
            .any(|x| x.matches(ctx));
        if excluded {
            return None;
        }
        if m.checks.is_empty() {
            Some(None)
        } else {
            m.checks.iter().find_map(|check| check.run(ctx)).map(Some)
        }
    }

    /// The single-event alert of a step that fired.
    fn alert(
        &self,
        active: &Active,
        variant: &Variant,
        step: &Step,
        ctx: &Ctx<'_>,
        origin: EventRef<'_>,
        finding: Option<&Finding>,
    ) -> Alert {
        let c = &active.policy.compiled;
        let event = ctx.event;
        let lists = self.lists.as_slice();
        let conditions = &step.matcher.conditions;
        // The policy fires: from here on, allocation is fine.
        let applied = c
            .overrides
            .iter()
            .find(|(when, _)| when.iter().all(|cond| cond.holds(ctx, lists)));
        let base = match (active.config_severity, variant.severity) {
            (false, Some(own)) => own,
            _ => active.severity,
        };
        let severity = applied.map_or(base, |(_, s)| *s);

        let mut evidence = Map::new();
        if let Some(name) = &variant.name {
            evidence.insert("variant".into(), Value::String(name.clone()));
        }
        if variant.steps.len() > 1 {
            evidence.insert("step".into(), Value::String(step.name.clone()));
        }
        evidence.insert(
            "eventSource".into(),
            Value::String(event.event_source.clone()),
        );
        evidence.insert("eventName".into(), Value::String(event.event_name.clone()));
        evidence.insert(
            "errorCode".into(),
            event
                .error_code
                .clone()
                .filter(|s| !s.is_empty())
                .map_or(Value::Null, Value::String),
        );
        if let Some(msg) = event.error_message.as_ref().filter(|s| !s.is_empty()) {
            evidence.insert("errorMessage".into(), Value::String(msg.clone()));
        }
        if !conditions.is_empty() {
            let mut matched = Map::new();
            for cond in conditions {
                matched.insert(cond.path.clone(), cond.observed(ctx, lists));
            }
            evidence.insert(
                "conditions".into(),
                Value::Array(
                    conditions
                        .iter()
                        .map(|cond| Value::String(cond.text.clone()))
                        .collect(),
                ),
            );
            evidence.insert("matched".into(), Value::Object(matched));
        }
        if let Some(f) = finding {
            evidence.insert("check".into(), Value::String(f.check.to_string()));
            evidence.insert("reason".into(), Value::String(f.reason.clone()));
            for (k, v) in &f.fields {
                evidence.insert(k.clone(), v.clone());
            }
        }
        if let Some((when, _)) = applied {
            evidence.insert(
                "severity_reason".into(),
                Value::Array(
                    when.iter()
                        .map(|cond| Value::String(cond.text.clone()))
                        .collect(),
                ),
            );
        }

        let rule_id = active.policy.id();
        let (key, event_ref) = single_event_key(
            event.event_id.as_deref(),
            origin.source_object,
            event.record_index,
        );
        let time = format_event_time(event.event_time);
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Alert {
            schema_version: SCHEMA_VERSION,
            id: alert_id(rule_id, &[&key]),
            rule_id: rule_id.to_string(),
            title: active.policy.title().to_string(),
            severity,
            mitre: active.policy.mitre().to_vec(),
            account: event
                .account()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            region: nonempty(&event.aws_region),
            principal: nonempty(&event.identity.principal),
            principal_type: match &event.identity.kind {
                IdentityType::Missing => None,
                k => Some(k.as_str().to_string()),
            },
            source_ip: nonempty(&event.source_ip_address),
            user_agent: nonempty(&event.user_agent),
            first_event_time: time.clone(),
            last_event_time: time,
            event_ids: vec![event_ref],
            count: 1,
            summary: c.summary.render(ctx, active.policy.title(), finding),
            evidence,
        }
    }
}

/// Every combination of the key fields' values (each field's distinct values in order, at
/// most [`MAX_KEY_VALUES`]; at most [`MAX_KEYS`] combinations). Empty when a field has no
/// value; one empty key when there are no fields.
fn key_combinations(ctx: &Ctx<'_>, fields: &[Field]) -> Vec<Vec<String>> {
    let mut per_field: Vec<Vec<String>> = Vec::with_capacity(fields.len());
    let mut combos = 1usize;
    for f in fields {
        let mut vals: Vec<String> = Vec::new();
        ctx.any_leaf(f, &mut |leaf| {
            let t = leaf.text();
            if !t.is_empty() && !vals.iter().any(|v| *v == *t) {
                vals.push(t.into_owned());
            }
            vals.len() >= MAX_KEY_VALUES
        });
        if vals.is_empty() {
            return Vec::new();
        }
        combos = combos.saturating_mul(vals.len());
        per_field.push(vals);
    }
    if combos == 1 {
        // the common case: one value per field, moved into the one key
        return vec![per_field.into_iter().filter_map(|mut v| v.pop()).collect()];
    }
    // every combination, the first field varying slowest (at most MAX_KEYS)
    let n = combos.min(MAX_KEYS);
    let mut keys: Vec<Vec<String>> = (0..n).map(|_| Vec::with_capacity(fields.len())).collect();
    let mut stride = combos;
    for vals in &per_field {
        stride /= vals.len();
        for (k, key) in keys.iter_mut().enumerate() {
            if let Some(v) = vals.get((k / stride) % vals.len()) {
                key.push(v.clone());
            }
        }
    }
    keys
}
