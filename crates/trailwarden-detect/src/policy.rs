//! Loading and validating policies: YAML text → [`Policy`] (compiled, ready for the engine).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use trailwarden_alert::Severity;

use crate::check::{Check, CheckRun, Finding, CHECKS};
use crate::condition::{Condition, Exclusion, Op};
use crate::engine::{Overrides, PolicyOverride};
use crate::field::{Ctx, Field};
use crate::iplist::IpLists;
use crate::spec::{CheckSpec, Expect, MatchSpec, Outcome, PolicySpec, RuleKind, TestSpec};
use crate::DetectError;

// The built-in rule files, embedded at build time by `build.rs` (`BUILTIN`).
include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// File names of the built-in policies (for tests and `rules list`).
pub fn builtin_files() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// One piece of a summary template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Lit(String),
    /// Alternatives, the first present wins.
    Slot(Vec<SlotSrc>),
}

#[derive(Debug, Clone, PartialEq)]
enum SlotSrc {
    /// A quoted literal, the usual last alternative: `{requestParameters.name|'unnamed'}`.
    Lit(String),
    Title,
    Check,
    Field(Field),
}

/// A compiled summary template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template(Vec<Piece>);

const DEFAULT_SUMMARY: &str =
    "{title}: {eventName} by {principal|userIdentity.arn|userIdentity.type} in account {account} from {sourceIPAddress}";

impl Template {
    fn compile(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            let (before, after) = rest.split_at(i);
            lit.push_str(before);
            if let Some(r) = after.strip_prefix("{{") {
                lit.push('{');
                rest = r;
                continue;
            }
            if let Some(r) = after.strip_prefix("}}") {
                lit.push('}');
                rest = r;
                continue;
            }
            let Some(inner_and_rest) = after.strip_prefix('{') else {
                return Err(format!(
                    "summary: unmatched `}}` in `{text}` (write `}}}}`)"
                ));
            };
            let Some((inner, r)) = inner_and_rest.split_once('}') else {
                return Err(format!("summary: unclosed `{{` in `{text}`"));
            };
            let mut alts = Vec::new();
            for name in inner.split('|').map(str::trim) {
                let quoted = name.len() >= 2
                    && ((name.starts_with('\'') && name.ends_with('\''))
                        || (name.starts_with('"') && name.ends_with('"')));
                alts.push(match name {
                    _ if quoted => {
                        SlotSrc::Lit(name.get(1..name.len() - 1).unwrap_or("").to_string())
                    }
                    "title" => SlotSrc::Title,
                    "check" => SlotSrc::Check,
                    other => SlotSrc::Field(
                        Field::parse(other).map_err(|e| format!("summary placeholder: {e}"))?,
                    ),
                });
            }
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Slot(alts));
            rest = r;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Template(pieces))
    }

    pub(crate) fn render(&self, ctx: &Ctx<'_>, title: &str, finding: Option<&Finding>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Slot(alts) => {
                    let value = alts.iter().find_map(|src| match src {
                        SlotSrc::Lit(s) => Some(s.clone()),
                        SlotSrc::Title => Some(title.to_string()),
                        SlotSrc::Check => finding.map(|f| f.reason.clone()),
                        SlotSrc::Field(f) => ctx.first_text(f).filter(|s| !s.is_empty()),
                    });
                    out.push_str(value.as_deref().unwrap_or("unknown"));
                }
            }
        }
        out
    }
}

/// Which events one step (or an event rule) takes: the cheap filter, then conditions and
/// analyzers.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) sources: Vec<String>,
    /// Exact event names; empty with `name_globs` empty means "no names" (never the case after
    /// validation: a missing `event_name` compiles to the glob `*`).
    pub(crate) names: Vec<String>,
    pub(crate) name_globs: Vec<String>,
    pub(crate) outcome: Outcome,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) checks: Vec<CheckRun>,
}

/// One step: a matcher and the fields that key its window (the rule's `group_by`, or the
/// step's own; `dedup.by` for event rules; `first_seen.entity` for first-seen rules).
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) name: String,
    pub(crate) matcher: Matcher,
    pub(crate) group: Vec<Field>,
    /// `sequence`: the field whose first value the step's hits carry, for a `differs_from`
    /// comparison (this step's own, or a later step's with this one).
    pub(crate) compare: Option<Field>,
}

/// One detection of a rule: the main one (`kind`, `match`/`steps`…) or an `also:` entry.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    /// `None` for the main detection; the `also` entry's name otherwise.
    pub(crate) name: Option<String>,
    /// The `also` entry's own base severity.
    pub(crate) severity: Option<Severity>,
    /// One step for every kind but `sequence`.
    pub(crate) steps: Vec<Step>,
    /// `distinct-count`: the counted field; `first-seen`: the value fields.
    pub(crate) value: Vec<Field>,
    /// `None` for a plain event detection (no dedup).
    pub(crate) stateful: Option<Stateful>,
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// The main detection first, then the `also` entries.
    pub(crate) variants: Vec<Variant>,
    pub(crate) overrides: Vec<(Vec<Condition>, Severity)>,
    pub(crate) exclude: Vec<Exclusion>,
    pub(crate) summary: Template,
    pub(crate) test_lists: IpLists,
}

impl Compiled {
    fn steps(&self) -> impl Iterator<Item = &Step> {
        self.variants.iter().flat_map(|v| v.steps.iter())
    }

    /// Every condition, including severity overrides, mutably (to resolve IP list slots).
    pub(crate) fn conditions_mut(&mut self) -> impl Iterator<Item = &mut Condition> {
        self.variants
            .iter_mut()
            .flat_map(|v| v.steps.iter_mut())
            .flat_map(|s| s.matcher.conditions.iter_mut())
            .chain(self.overrides.iter_mut().flat_map(|(c, _)| c.iter_mut()))
    }

    fn conditions_all(&self) -> impl Iterator<Item = &Condition> {
        self.steps()
            .flat_map(|s| s.matcher.conditions.iter())
            .chain(self.overrides.iter().flat_map(|(c, _)| c.iter()))
    }
}

/// The window or baseline of a stateful rule — what the rule-pack runtime
/// (`trailwarden-pack`) needs to run it. Every kind but a plain `event` rule has one; an
/// `event` rule with `dedup` is stateful too.
#[derive(Debug, Clone, PartialEq)]
pub struct Stateful {
    pub kind: RuleKind,
    /// The `also` entry's name, for a detection that is not the rule's main one.
    pub variant: Option<String>,
    /// The window (threshold, distinct-count, sequence, dedup) in seconds; 0 for first-seen.
    pub window_secs: u64,
    /// Fires at ≥ this figure: events (threshold), distinct values (distinct-count), steps
    /// (sequence: their number), 1 (dedup, first-seen).
    pub threshold: u64,
    /// The key fields as written (`group_by`, `dedup.by`, `first_seen.entity`).
    pub group_by: Vec<String>,
    /// `distinct-count`: the counted field.
    pub distinct: Option<String>,
    /// `distinct-count`: further counted fields and their least distinct counts (all must be
    /// reached in one window).
    pub and_distinct: Vec<(String, u64)>,
    /// Step names (one step, named after the kind, for single-match kinds).
    pub steps: Vec<String>,
    /// `sequence`: per step, how many of its events satisfy it (`count`, default 1). Empty for
    /// the other kinds.
    pub step_counts: Vec<u64>,
    /// `sequence`: per step, its comparison with an earlier step (`differs_from`). Empty for
    /// the other kinds.
    pub step_differs: Vec<Option<StepDiffers>>,
    pub first_seen: Option<FirstSeenParams>,
}

/// A sequence step's `differs_from`: its event counts only when `field` differs from
/// `step_field` of the event that satisfied the earlier step `step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDiffers {
    /// The earlier step's index.
    pub step: usize,
    /// The field read in this step's event.
    pub field: String,
    /// The field read in the earlier step's event (`field` unless the rule says otherwise).
    pub step_field: String,
    /// Only the first event of the step (after the previous step) decides; one that does not
    /// differ ends the attempt.
    pub first_only: bool,
}

/// Most events one sequence step may count (a window holds at most 10,000).
pub const MAX_STEP_COUNT: u64 = 10_000;

/// A first-seen rule's baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSeenParams {
    pub entity: Vec<String>,
    pub value: Vec<String>,
    pub baseline_secs: u64,
    pub learning_secs: u64,
    /// Maturity from the entity's own first sighting (else from the store's history).
    pub learn_from_entity: bool,
}

/// `30s`, `15m`, `1h`, `2d`, `1w` → seconds (a plain number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (30s, 15m, 1h, 2d, 1w)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{text}` is not a duration (30s, 15m, 1h, 2d, 1w)")),
    };
    n.checked_mul(mult)
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("`{text}` must be a positive duration"))
}

/// `event_source: "*"`: every event source (the rule is evaluated for every event).
pub(crate) const ANY_SOURCE: &str = "*";

/// A region name as AWS writes them: `us-east-1`, `eu-central-2`, `us-gov-west-1`.
pub(crate) fn valid_region(r: &str) -> bool {
    let b = r.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last().is_some_and(u8::is_ascii_digit)
        && r.contains('-')
        && !r.contains("--")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Checks a configured approved-region list; `at` names it in the error.
pub(crate) fn check_regions(list: &[String], at: &str) -> Result<(), String> {
    if list.is_empty() {
        return Err(format!(
            "{at} is empty: list the approved regions (leave the key out when there is no list)"
        ));
    }
    match list.iter().find(|r| !valid_region(r)) {
        Some(bad) => Err(format!(
            "{at}: `{bad}` is not a region name (us-east-1, eu-west-1, …)"
        )),
        None => Ok(()),
    }
}

pub(crate) fn valid_account(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

/// Compiles one `match:` (of the rule, or of a step called `at`).
fn compile_matcher(m: &MatchSpec, at: &str) -> Result<Matcher, String> {
    if m.event_source.is_empty() {
        return Err(format!("`{at}.event_source` needs at least one source"));
    }
    let every = m.event_source.iter().any(|s| s == ANY_SOURCE);
    if every && m.event_source.0.len() > 1 {
        return Err(format!(
            "`{at}.event_source`: `*` (every event source) stands alone; leave out the others"
        ));
    }
    if let Some(bad) = m
        .event_source
        .iter()
        .find(|s| s.is_empty() || (s.contains('*') && *s != ANY_SOURCE))
    {
        return Err(format!(
            "`{at}.event_source`: `{bad}` must be a full event source such as s3.amazonaws.com (no globs; `*` alone means every source)"
        ));
    }
    let (mut names, mut name_globs) = (Vec::new(), Vec::new());
    match &m.event_name {
        None => name_globs.push("*".to_string()),
        Some(list) if list.is_empty() => {
            return Err(format!(
                "`{at}.event_name` is empty (leave it out to match every name)"
            ))
        }
        Some(list) => {
            for n in list.iter() {
                if n.is_empty() {
                    return Err(format!("`{at}.event_name` has an empty name"));
                }
                if n.contains('*') {
                    if !name_globs.contains(n) {
                        name_globs.push(n.clone());
                    }
                } else if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
    }
    let conditions = m
        .conditions
        .iter()
        .enumerate()
        .map(|(i, c)| Condition::compile(c).map_err(|e| format!("{at}.where[{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let checks = m
        .check
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            compile_check(i, spec).map_err(|e| e.replace("`match.", &format!("`{at}.")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut sources: Vec<String> = Vec::new();
    for s in m.event_source.iter() {
        if !sources.contains(s) {
            sources.push(s.clone());
        }
    }
    Ok(Matcher {
        sources,
        names,
        name_globs,
        outcome: m.outcome,
        conditions,
        checks,
    })
}

fn fields(list: &[String], at: &str) -> Result<Vec<Field>, String> {
    list.iter()
        .map(|f| Field::parse(f).map_err(|e| format!("`{at}`: {e}")))
        .collect()
}

/// A kind's compiled steps, value fields and window.
type KindParts = (Vec<Step>, Vec<Field>, Option<Stateful>);

/// What each kind requires and refuses, and its compiled steps and window.
fn compile_kind(spec: &PolicySpec) -> Result<KindParts, String> {
    let kind = spec.kind;
    let k = kind.as_str();
    let refuse = |key: &str, present: bool| -> Result<(), String> {
        if present {
            Err(format!("`{key}` is not used by `kind: {k}` rules"))
        } else {
            Ok(())
        }
    };
    let need = |key: &str| format!("`kind: {k}` rules need `{key}`");
    if kind != RuleKind::Sequence {
        for (i, st) in spec.steps.iter().enumerate() {
            let key = if st.count.is_some() {
                "count"
            } else if st.differs_from.is_some() {
                "differs_from"
            } else if st.first_only {
                "first_only"
            } else {
                continue;
            };
            return Err(format!(
                "steps[{i}] `{}`: `{key}` is only for the steps of `kind: sequence` rules (a `kind: {k}` rule has no steps{})",
                st.name,
                if kind == RuleKind::Threshold {
                    "; it counts events with `threshold`"
                } else {
                    ""
                }
            ));
        }
    }
    let group_by: Vec<String> = spec
        .group_by
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let window = match &spec.window {
        Some(w) => Some(parse_duration(w).map_err(|e| format!("`window`: {e}"))?),
        None => None,
    };
    let single = |group: Vec<Field>| -> Result<Vec<Step>, String> {
        let m = spec.matcher.as_ref().ok_or_else(|| need("match"))?;
        Ok(vec![Step {
            name: k.to_string(),
            matcher: compile_matcher(m, "match")?,
            group,
            compare: None,
        }])
    };
    match kind {
        RuleKind::Event => {
            refuse("steps", !spec.steps.is_empty())?;
            refuse("group_by", spec.group_by.is_some())?;
            refuse("window", spec.window.is_some())?;
            refuse("threshold", spec.threshold.is_some())?;
            refuse("distinct", spec.distinct.is_some())?;
            refuse("and_distinct", !spec.and_distinct.is_empty())?;
            refuse("first_seen", spec.first_seen.is_some())?;
            let Some(d) = &spec.dedup else {
                return Ok((single(Vec::new())?, Vec::new(), None));
            };
            if d.by.is_empty() {
                return Err("`dedup.by` needs at least one field".into());
            }
            let window_secs =
                parse_duration(&d.window).map_err(|e| format!("`dedup.window`: {e}"))?;
            let steps = single(fields(&d.by.0, "dedup.by")?)?;
            Ok((
                steps,
                Vec::new(),
                Some(Stateful {
                    kind,
                    variant: None,
                    window_secs,
                    threshold: 1,
                    group_by: d.by.0.clone(),
                    distinct: None,
                    and_distinct: Vec::new(),
                    steps: vec![k.to_string()],
                    step_counts: Vec::new(),
                    step_differs: Vec::new(),
                    first_seen: None,
                }),
            ))
        }
        RuleKind::Threshold | RuleKind::DistinctCount => {
            refuse("steps", !spec.steps.is_empty())?;
            refuse("first_seen", spec.first_seen.is_some())?;
            refuse("dedup", spec.dedup.is_some())?;
            let window_secs = window.ok_or_else(|| need("window"))?;
            let threshold = spec.threshold.ok_or_else(|| need("threshold"))?;
            if threshold == 0 {
                return Err("`threshold` must be at least 1".into());
            }
            let value = if kind == RuleKind::DistinctCount {
                let d = spec.distinct.as_ref().ok_or_else(|| need("distinct"))?;
                let mut counted = vec![d.clone()];
                for a in &spec.and_distinct {
                    if a.threshold == 0 {
                        return Err(format!(
                            "`and_distinct`: the threshold of `{}` must be at least 1",
                            a.field
                        ));
                    }
                    if counted.contains(&a.field) {
                        return Err(format!("`and_distinct`: `{}` is counted twice", a.field));
                    }
                    counted.push(a.field.clone());
                }
                fields(&counted, "distinct")?
            } else {
                refuse("distinct", spec.distinct.is_some())?;
                refuse("and_distinct", !spec.and_distinct.is_empty())?;
                refuse("and_distinct", !spec.and_distinct.is_empty())?;
                Vec::new()
            };
            let steps = single(fields(&group_by, "group_by")?)?;
            Ok((
                steps,
                value,
                Some(Stateful {
                    kind,
                    variant: None,
                    window_secs,
                    threshold,
                    group_by,
                    distinct: spec.distinct.clone(),
                    and_distinct: spec
                        .and_distinct
                        .iter()
                        .map(|a| (a.field.clone(), a.threshold))
                        .collect(),
                    steps: vec![k.to_string()],
                    step_counts: Vec::new(),
                    step_differs: Vec::new(),
                    first_seen: None,
                }),
            ))
        }
        RuleKind::Sequence => {
            refuse(
                "match (a sequence has `steps`, each with its `match`)",
                spec.matcher.is_some(),
            )?;
            refuse("threshold", spec.threshold.is_some())?;
            refuse("distinct", spec.distinct.is_some())?;
            refuse("and_distinct", !spec.and_distinct.is_empty())?;
            refuse("first_seen", spec.first_seen.is_some())?;
            refuse("dedup", spec.dedup.is_some())?;
            let window_secs = window.ok_or_else(|| need("window"))?;
            if spec.steps.len() < 2 {
                return Err("a `sequence` needs at least two `steps`".into());
            }
            let mut steps = Vec::new();
            let mut names: Vec<String> = Vec::new();
            for (i, st) in spec.steps.iter().enumerate() {
                if st.name.trim().is_empty() || names.contains(&st.name) {
                    return Err(format!("steps[{i}]: each step needs a unique `name`"));
                }
                names.push(st.name.clone());
                let own = st.group_by.as_ref().map(|s| s.0.clone());
                let group = match own {
                    Some(list) if list.len() != group_by.len() => {
                        return Err(format!(
                            "steps[{i}] `{}`: `group_by` must give as many fields as the rule's `group_by` ({})",
                            st.name,
                            group_by.len()
                        ))
                    }
                    Some(list) => fields(&list, &format!("steps[{i}].group_by"))?,
                    None => fields(&group_by, "group_by")?,
                };
                steps.push(Step {
                    name: st.name.clone(),
                    matcher: compile_matcher(&st.matcher, &format!("steps[{i}].match"))?,
                    group,
                    compare: None,
                });
            }
            let (step_counts, step_differs) = compile_step_rules(spec, &mut steps)?;
            Ok((
                steps,
                Vec::new(),
                Some(Stateful {
                    kind,
                    variant: None,
                    window_secs,
                    threshold: names.len() as u64,
                    group_by,
                    distinct: None,
                    and_distinct: Vec::new(),
                    steps: names,
                    step_counts,
                    step_differs,
                    first_seen: None,
                }),
            ))
        }
        RuleKind::FirstSeen => {
            refuse("steps", !spec.steps.is_empty())?;
            refuse(
                "group_by (first_seen.entity names the key)",
                spec.group_by.is_some(),
            )?;
            refuse(
                "window (first_seen.baseline is the window)",
                spec.window.is_some(),
            )?;
            refuse("threshold", spec.threshold.is_some())?;
            refuse("distinct", spec.distinct.is_some())?;
            refuse("and_distinct", !spec.and_distinct.is_empty())?;
            refuse("dedup", spec.dedup.is_some())?;
            let fs = spec.first_seen.as_ref().ok_or_else(|| need("first_seen"))?;
            if fs.entity.is_empty() || fs.value.is_empty() {
                return Err("`first_seen` needs `entity` and `value` fields".into());
            }
            let baseline_secs = match &fs.baseline {
                Some(b) => parse_duration(b).map_err(|e| format!("`first_seen.baseline`: {e}"))?,
                None => 10 * 86_400,
            };
            let learning_secs = match &fs.learning {
                Some(b) => parse_duration(b).map_err(|e| format!("`first_seen.learning`: {e}"))?,
                None => baseline_secs,
            };
            let learn_from_entity = match fs.learn_from.as_deref() {
                None | Some("history") => false,
                Some("entity") => true,
                Some(other) => {
                    return Err(format!(
                        "`first_seen.learn_from`: `{other}` is not `history` or `entity`"
                    ))
                }
            };
            let steps = single(fields(&fs.entity.0, "first_seen.entity")?)?;
            let value = fields(&fs.value.0, "first_seen.value")?;
            Ok((
                steps,
                value,
                Some(Stateful {
                    kind,
                    variant: None,
                    window_secs: 0,
                    threshold: 1,
                    group_by: fs.entity.0.clone(),
                    distinct: None,
                    and_distinct: Vec::new(),
                    steps: vec![k.to_string()],
                    step_counts: Vec::new(),
                    step_differs: Vec::new(),
                    first_seen: Some(FirstSeenParams {
                        entity: fs.entity.0.clone(),
                        value: fs.value.0.clone(),
                        baseline_secs,
                        learning_secs,
                        learn_from_entity,
                    }),
                }),
            ))
        }
    }
}

/// A sequence's per-step `count`, `differs_from` and `first_only`, checked; gives each step
/// the field its hits carry for the comparisons.
fn compile_step_rules(
    spec: &PolicySpec,
    steps: &mut [Step],
) -> Result<(Vec<u64>, Vec<Option<StepDiffers>>), String> {
    let mut counts = Vec::with_capacity(spec.steps.len());
    let mut differs = Vec::with_capacity(spec.steps.len());
    // The field each step's hits carry (one per step), as written.
    let mut carried: Vec<Option<String>> = vec![None; spec.steps.len()];
    let mut carry = |at: usize, field: &str, why: &str| -> Result<(), String> {
        match carried.get_mut(at) {
            Some(Some(f)) if f != field => Err(format!(
                "{why}: step `{}` is already compared on `{f}`; a step is compared on one field",
                spec.steps.get(at).map_or("", |s| s.name.as_str())
            )),
            Some(slot) => {
                *slot = Some(field.to_string());
                Ok(())
            }
            None => Ok(()),
        }
    };
    for (i, st) in spec.steps.iter().enumerate() {
        let at = format!("steps[{i}] `{}`", st.name);
        let n = st.count.unwrap_or(1);
        if n == 0 {
            return Err(format!("{at}: `count` must be at least 1"));
        }
        if n > MAX_STEP_COUNT {
            return Err(format!(
                "{at}: `count` must be at most {MAX_STEP_COUNT} (a window holds at most that many events)"
            ));
        }
        counts.push(n);
        let Some(d) = &st.differs_from else {
            if st.first_only {
                return Err(format!(
                    "{at}: `first_only` needs `differs_from` (without a comparison the first event always counts)"
                ));
            }
            differs.push(None);
            continue;
        };
        let earlier: Vec<&str> = spec.steps[..i].iter().map(|s| s.name.as_str()).collect();
        let Some(j) = earlier.iter().position(|n| *n == d.step) else {
            return Err(format!(
                "{at}: `differs_from.step` `{}` is not an earlier step (earlier: {})",
                d.step,
                if earlier.is_empty() {
                    "none".to_string()
                } else {
                    earlier.join(", ")
                }
            ));
        };
        let step_field = d.step_field.clone().unwrap_or_else(|| d.field.clone());
        let why = format!("{at}: `differs_from`");
        for (k, f) in [(i, &d.field), (j, &step_field)] {
            let parsed = Field::parse(f).map_err(|e| format!("{why}: {e}"))?;
            carry(k, f, &why)?;
            if let Some(s) = steps.get_mut(k) {
                s.compare = Some(parsed);
            }
        }
        differs.push(Some(StepDiffers {
            step: j,
            field: d.field.clone(),
            step_field,
            first_only: st.first_only,
        }));
    }
    Ok((counts, differs))
}

/// One loaded, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    origin: String,
    /// Shared: every engine compiled from the policies keeps a copy of each policy, and the
    /// file (its test events above all) is most of a policy's size.
    spec: std::sync::Arc<PolicySpec>,
    /// ATT&CK ids, v19 (older ids in the file normalised), without duplicates.
    mitre: Vec<String>,
    /// The file's tags, plus the tactic when the file does not name it.
    tags: Vec<String>,
    tactic: Option<String>,
    pub(crate) compiled: Compiled,
}

fn valid_id(id: &str) -> bool {
    id.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_mitre(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b {
        [b'T', rest @ ..] if rest.len() == 4 => digits(rest),
        [b'T', rest @ ..] if rest.len() == 8 => {
            digits(&rest[..4]) && rest[4] == b'.' && digits(&rest[5..])
        }
        _ => false,
    }
}

fn compile_check(i: usize, spec: &CheckSpec) -> Result<CheckRun, String> {
    let name = &spec.name;
    let check = Check::parse(name).ok_or_else(|| {
        format!(
            "`match.check[{i}]`: unknown analyzer `{name}` (known: {})",
            CHECKS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let takes_params = check.reads_documents();
    if !takes_params && (spec.document.is_some() || spec.known_accounts.is_some()) {
        return Err(format!(
            "`match.check[{i}]`: analyzer `{name}` takes no parameters"
        ));
    }
    let document = match &spec.document {
        None => None,
        Some(path) => match Field::parse(path) {
            Ok(f @ Field::Raw(..)) => Some((path.clone(), f)),
            Ok(Field::Typed(_)) => {
                return Err(format!(
                    "`match.check[{i}].document`: `{path}` is not a path into a raw field (requestParameters…)"
                ))
            }
            Err(e) => return Err(format!("`match.check[{i}].document`: {e}")),
        },
    };
    let known_accounts = spec
        .known_accounts
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    if let Some(bad) = known_accounts
        .iter()
        .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`match.check[{i}].known_accounts`: `{bad}` is not a 12-digit account id"
        ));
    }
    Ok(CheckRun {
        check,
        document,
        known_accounts,
    })
}

impl Policy {
    /// Parses and validates one policy file. `origin` names it in errors (a path, or
    /// `builtin:NAME.yaml`).
    pub fn from_yaml(origin: &str, text: &str) -> Result<Policy, DetectError> {
        let options = serde_saphyr::options! { strict_booleans: true };
        let spec: PolicySpec = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            DetectError::Policy {
                file: origin.to_string(),
                message: e.to_string(),
            }
        })?;
        Policy::from_spec(origin, spec)
    }

    /// Validates and compiles an already deserialised policy.
    pub fn from_spec(origin: &str, spec: PolicySpec) -> Result<Policy, DetectError> {
        let err = |message: String| DetectError::Policy {
            file: origin.to_string(),
            message: format!("policy `{}`: {message}", spec.id),
        };
        if !valid_id(&spec.id) {
            return Err(DetectError::Policy {
                file: origin.to_string(),
                message: format!(
                    "policy id `{}` must be kebab-case (lowercase letters, digits, `-`, starting with a letter)",
                    spec.id
                ),
            });
        }
        if spec.title.trim().is_empty() {
            return Err(err("`title` must not be empty".into()));
        }
        if spec.mitre.is_empty() {
            return Err(err(
                "`mitre` needs at least one ATT&CK technique id (T1234 or T1234.001)".into(),
            ));
        }
        if let Some(bad) = spec.mitre.iter().find(|t| !valid_mitre(t)) {
            return Err(err(format!(
                "`mitre`: `{bad}` is not a technique id (T1234 or T1234.001)"
            )));
        }
        let mut mitre: Vec<String> = Vec::new();
        for t in spec.mitre.iter() {
            let v19 = crate::catalogue::mitre_v19(t).to_string();
            if !mitre.contains(&v19) {
                mitre.push(v19);
            }
        }
        let tactic = crate::catalogue::tactic_for(origin, &spec.id, &spec.tags.0);
        let mut tags = spec.tags.0.clone();
        if let Some(t) = &tactic {
            if !tags.contains(t) {
                tags.insert(0, t.clone());
            }
        }
        let (steps, value, stateful) = compile_kind(&spec).map_err(&err)?;
        let mut variants = vec![Variant {
            name: None,
            severity: None,
            steps,
            value,
            stateful,
        }];
        let mut names: Vec<&str> = Vec::new();
        for (i, a) in spec.also.iter().enumerate() {
            let at = |e: String| err(format!("also[{i}] `{}`: {e}", a.name));
            if a.name.trim().is_empty() || names.contains(&a.name.as_str()) {
                return Err(err(format!("also[{i}]: each entry needs a unique `name`")));
            }
            names.push(&a.name);
            let matcher = match (&a.matcher, a.kind) {
                (Some(m), _) => Some(m.clone()),
                (None, RuleKind::Sequence) => None,
                (None, _) => spec.matcher.clone(),
            };
            let sub = PolicySpec {
                kind: a.kind,
                matcher,
                steps: a.steps.clone(),
                group_by: a.group_by.clone(),
                window: a.window.clone(),
                threshold: a.threshold,
                distinct: a.distinct.clone(),
                and_distinct: a.and_distinct.clone(),
                first_seen: a.first_seen.clone(),
                dedup: a.dedup.clone(),
                also: Vec::new(),
                tests: Vec::new(),
                ..spec.clone()
            };
            let (steps, value, mut stateful) = compile_kind(&sub).map_err(at)?;
            if let Some(st) = &mut stateful {
                st.variant = Some(a.name.clone());
            }
            variants.push(Variant {
                name: Some(a.name.clone()),
                severity: a.severity,
                steps,
                value,
                stateful,
            });
        }
        let mut overrides = Vec::new();
        for (i, o) in spec.severity_overrides.iter().enumerate() {
            if o.when.is_empty() {
                return Err(err(format!(
                    "severity_overrides[{i}]: `when` needs at least one condition"
                )));
            }
            let when = o
                .when
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    Condition::compile(c)
                        .map_err(|e| err(format!("severity_overrides[{i}].when[{j}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            overrides.push((when, o.severity));
        }
        let exclude = spec
            .exclude
            .iter()
            .enumerate()
            .map(|(i, x)| Exclusion::compile(x).map_err(|e| err(format!("exclude[{i}]: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let summary =
            Template::compile(spec.summary.as_deref().unwrap_or(DEFAULT_SUMMARY)).map_err(err)?;
        let mut test_lists = IpLists::new();
        for (name, entries) in &spec.ip_lists {
            let text = entries.0.join("\n");
            test_lists
                .add_text(name, &format!("{origin} ip_lists.{name}"), &text)
                .map_err(|e| err(e.to_string()))?;
        }
        let mut seen = BTreeSet::new();
        for (i, t) in spec.tests.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(err(format!("tests[{i}]: `name` must not be empty")));
            }
            if !seen.insert(t.name.as_str()) {
                return Err(err(format!("tests[{i}]: duplicate test name `{}`", t.name)));
            }
            let records = match (&t.event, &t.events) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(err(format!(
                        "tests[{i}] `{}`: give exactly one of `event` (one record) and `events` (a list)",
                        t.name
                    )))
                }
                _ => t.records(),
            };
            if records.is_empty() {
                return Err(err(format!("tests[{i}] `{}`: `events` is empty", t.name)));
            }
            if let Some(bad) = records
                .iter()
                .position(|r| !(r.is_object() || r.is_string()))
            {
                return Err(err(format!(
                    "tests[{i}] `{}`: event {bad} must be a CloudTrail record (a mapping, or JSON text)",
                    t.name
                )));
            }
            if t.count.is_some() && t.expect == Expect::NoAlert {
                return Err(err(format!(
                    "tests[{i}] `{}`: `count` goes with `expect: alert`",
                    t.name
                )));
            }
            if t.count == Some(0) {
                return Err(err(format!(
                    "tests[{i}] `{}`: `count: 0` is `expect: no-alert`",
                    t.name
                )));
            }
        }
        let compiled = Compiled {
            variants,
            overrides,
            exclude,
            summary,
            test_lists,
        };
        let needs_regions = compiled.conditions_all().any(tests_regions);
        let settings = spec.test_settings.clone().unwrap_or_default();
        if let Some(r) = &settings.approved_regions {
            check_regions(&r.0, "`test_settings.approved_regions`").map_err(&err)?;
            if !needs_regions {
                return Err(err(
                    "`test_settings.approved_regions`: the rule has no `approved_region` condition"
                        .into(),
                ));
            }
        } else if needs_regions && !spec.tests.is_empty() {
            return Err(err(
                "`approved_region` compares with the deployment's approved regions: give the tests theirs with `test_settings: {approved_regions: [...]}`".into(),
            ));
        }
        if let Some(k) = &settings.known_accounts {
            if k.is_empty() {
                return Err(err("`test_settings.known_accounts` is empty".into()));
            }
            if let Some(bad) = k.iter().find(|a| !valid_account(a)) {
                return Err(err(format!(
                    "`test_settings.known_accounts`: `{bad}` is not a 12-digit account id"
                )));
            }
        }
        Ok(Policy {
            origin: origin.to_string(),
            spec: std::sync::Arc::new(spec),
            mitre,
            tags,
            tactic,
            compiled,
        })
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }
    pub fn title(&self) -> &str {
        &self.spec.title
    }
    pub fn description(&self) -> &str {
        &self.spec.description
    }
    /// The base severity.
    pub fn severity(&self) -> Severity {
        self.spec.severity
    }
    /// ATT&CK technique ids in their v19 form (older ids in the file are normalised:
    /// `T1562.008` → `T1685.002`; see [`crate::MITRE_ALIASES`]).
    pub fn mitre(&self) -> &[String] {
        &self.mitre
    }
    /// The file's tags, with the rule's tactic first when the file does not name it.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
    /// The ATT&CK tactic (a slug of [`crate::TACTICS`] for built-ins): the rule's directory
    /// under `rules/`, the seed mapping for the seed policies, else the first tag naming one.
    pub fn tactic(&self) -> Option<&str> {
        self.tactic.as_deref()
    }
    /// `enabled:` in the file (overrides may change it).
    pub fn enabled(&self) -> bool {
        self.spec.enabled
    }
    /// Where the policy came from: a file path, or `builtin:NAME.yaml`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The event sources the policy looks at (of every step), without duplicates.
    pub fn event_sources(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.compiled.steps().flat_map(|s| &s.matcher.sources) {
            if !out.contains(&s.as_str()) {
                out.push(s);
            }
        }
        out
    }
    /// `event`, `threshold`, `distinct-count`, `sequence` or `first-seen`.
    pub fn kind(&self) -> RuleKind {
        self.spec.kind
    }
    /// The main detection's window or baseline, for every kind but a plain `event` rule (the
    /// rule-pack runtime runs those; [`crate::Engine::evaluate`] runs the rest).
    pub fn stateful(&self) -> Option<&Stateful> {
        self.compiled
            .variants
            .first()
            .and_then(|v| v.stateful.as_ref())
    }
    /// Every detection's window or baseline: the main one's and the `also` entries', with
    /// `None` for plain event detections.
    pub fn detections(&self) -> impl Iterator<Item = (Option<&str>, RuleKind, Option<&Stateful>)> {
        let main = self.spec.kind;
        self.compiled
            .variants
            .iter()
            .enumerate()
            .map(move |(i, v)| {
                let kind = match (i, self.spec.also.get(i.wrapping_sub(1))) {
                    (0, _) | (_, None) => main,
                    (_, Some(a)) => a.kind,
                };
                (v.name.as_deref(), kind, v.stateful.as_ref())
            })
    }
    /// Whether any detection needs the rule-pack runtime (a window, a baseline, dedup).
    pub fn needs_runtime(&self) -> bool {
        self.compiled.variants.iter().any(|v| v.stateful.is_some())
    }
    /// `event`, `threshold`… or, with `also`, the kinds joined: `event + first-seen`.
    pub fn kind_label(&self) -> String {
        let mut kinds: Vec<&str> = Vec::new();
        for (_, k, _) in self.detections() {
            if !kinds.contains(&k.as_str()) {
                kinds.push(k.as_str());
            }
        }
        kinds.join(" + ")
    }
    /// The policy's test cases.
    pub fn tests(&self) -> &[TestSpec] {
        &self.spec.tests
    }
    /// The deserialised file.
    pub fn spec(&self) -> &PolicySpec {
        &self.spec
    }
    /// IP list names this policy needs (`in_ip_list`), sorted, without duplicates.
    pub fn required_ip_lists(&self) -> Vec<&str> {
        let mut names = Vec::new();
        for c in self.compiled.conditions_all() {
            c.ip_lists(&mut names);
        }
        let set: BTreeSet<&str> = names.into_iter().collect();
        set.into_iter().collect()
    }
    /// IP lists declared for this policy's tests.
    pub fn test_ip_lists(&self) -> &IpLists {
        &self.compiled.test_lists
    }

    /// Whether a condition compares with the approved regions (`approved_region`): the rule
    /// runs only when the deployment gives a list (`[rules] approved_regions`, or the rule's
    /// own in `[rules.rule.<id>]`).
    pub fn needs_approved_regions(&self) -> bool {
        self.compiled.conditions_all().any(tests_regions)
    }

    /// The overrides the policy's tests run with: the policy switched on, and its
    /// `test_settings` (approved regions, known accounts) as a deployment would give them.
    pub fn test_overrides(&self) -> Overrides {
        let settings = self.spec.test_settings.clone().unwrap_or_default();
        let mut out = Overrides {
            known_accounts: settings.known_accounts.map(|k| k.0).unwrap_or_default(),
            ..Overrides::default()
        };
        out.policies.insert(
            self.id().to_string(),
            PolicyOverride {
                enabled: Some(true),
                approved_regions: settings.approved_regions.map(|r| r.0),
                ..PolicyOverride::default()
            },
        );
        out
    }

    /// Gives every `approved_region` condition the deployment's list.
    pub(crate) fn resolve_approved_regions(&mut self, regions: &std::sync::Arc<[String]>) {
        for c in self.compiled.conditions_mut() {
            c.visit_mut(&mut |c| {
                if let Op::ApprovedRegion { regions: r, .. } = &mut c.op {
                    *r = regions.clone();
                }
            });
        }
    }

    /// Gives every `known_account` condition and every analyzer that takes `known_accounts`
    /// the deployment's known accounts (added to an analyzer's own).
    pub(crate) fn resolve_known_accounts(&mut self, known: &std::sync::Arc<[String]>) {
        if known.is_empty() {
            return;
        }
        for c in self.compiled.conditions_mut() {
            c.visit_mut(&mut |c| {
                if let Op::KnownAccount { known: k, .. } = &mut c.op {
                    *k = known.clone();
                }
            });
        }
        for v in &mut self.compiled.variants {
            for step in &mut v.steps {
                for run in &mut step.matcher.checks {
                    if run.check.reads_documents() {
                        for a in known.iter() {
                            if !run.known_accounts.contains(a) {
                                run.known_accounts.push(a.clone());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Points every `in_ip_list` condition at its slot in the engine's list table.
    pub(crate) fn resolve_lists(&mut self, mut slot_of: impl FnMut(&str) -> usize) {
        for c in self.compiled.conditions_mut() {
            c.visit_mut(&mut |c| {
                if let Op::InIpList { name, slot } = &mut c.op {
                    *slot = slot_of(name);
                }
            });
        }
    }
}

fn tests_regions(c: &Condition) -> bool {
    c.has_op(&|op| matches!(op, Op::ApprovedRegion { .. }))
}

/// A set of policies with unique ids, in load order.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    items: Vec<Policy>,
}

impl Policies {
    pub fn new() -> Self {
        Policies::default()
    }

    /// The built-in policies shipped in the binary.
    pub fn builtin() -> Result<Policies, DetectError> {
        let mut out = Policies::new();
        for (name, text) in BUILTIN {
            out.add(Policy::from_yaml(&format!("builtin:{name}"), text)?)?;
        }
        Ok(out)
    }

    /// Loads every `*.yaml` / `*.yml` file directly in `dir` (not recursive), in file-name
    /// order. One policy per file.
    pub fn load_dir(dir: &Path) -> Result<Policies, DetectError> {
        let io = |source| DetectError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let is_yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e == "yaml" || e == "yml");
            if is_yaml && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut out = Policies::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| DetectError::Io {
                path: path.clone(),
                source,
            })?;
            out.add(Policy::from_yaml(&path.display().to_string(), &text)?)?;
        }
        Ok(out)
    }

    /// Adds a policy; an id already present is an error naming both files.
    pub fn add(&mut self, policy: Policy) -> Result<(), DetectError> {
        if let Some(first) = self.get(policy.id()) {
            return Err(DetectError::DuplicateId {
                id: policy.id().to_string(),
                first: first.origin().to_string(),
                second: policy.origin().to_string(),
            });
        }
        self.items.push(policy);
        Ok(())
    }

    /// Adds every policy of `other` (e.g. user policies after the built-ins).
    pub fn extend(&mut self, other: Policies) -> Result<(), DetectError> {
        for p in other.items {
            self.add(p)?;
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Policy> {
        self.items.iter().find(|p| p.id() == id)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Policy> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<'a> IntoIterator for &'a Policies {
    type Item = &'a Policy;
    type IntoIter = std::slice::Iter<'a, Policy>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// The JSON text of a test event (a mapping is serialised; a string is taken as JSON text).
pub(crate) fn test_event_json(event: &Value) -> String {
    match event {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
