//! Compiled field conditions, exclusions and the `*` glob.

use std::net::IpAddr;

use serde_json::Value;

use crate::field::{Ctx, Field, Leaf, Typed};
use crate::iplist::IpRanges;
use crate::spec::{ConditionSpec, ExclusionSpec};

/// Matches `text` against a pattern where `*` stands for any run of characters (possibly
/// empty). Everything else matches itself, case-sensitively. No allocation; worst case
/// O(len(pattern) × len(text)).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if t.get(ti) == Some(&c) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// A `matches` regex with the answers for the texts it has seen. The fields rules match
/// with regexes (user agents, error codes, ARNs) repeat a few thousand values across millions
/// of events, and a case-insensitive alternation scans every byte of its text: a hash lookup
/// is several times cheaper. Bounded ([`CachedRegex::MAX_TEXTS`] texts of at most
/// [`CachedRegex::MAX_TEXT_LEN`] bytes; others are matched each time). A lock, not a cell, so a
/// compiled rule can be shared; each thread runs its own engine, so it is never contended.
#[derive(Debug)]
pub(crate) struct CachedRegex {
    pub(crate) re: regex::Regex,
    seen: std::sync::RwLock<foldhash::HashMap<Box<str>, bool>>,
}

impl CachedRegex {
    /// At most ~0.5 MB of texts per condition.
    const MAX_TEXTS: usize = 2048;
    const MAX_TEXT_LEN: usize = 256;

    fn new(re: regex::Regex) -> Self {
        CachedRegex {
            re,
            seen: std::sync::RwLock::new(foldhash::HashMap::default()),
        }
    }

    fn is_match(&self, text: &str) -> bool {
        if text.len() > Self::MAX_TEXT_LEN {
            return self.re.is_match(text);
        }
        if let Some(&m) = self.seen.read().ok().as_ref().and_then(|s| s.get(text)) {
            return m;
        }
        let m = self.re.is_match(text);
        if let Ok(mut seen) = self.seen.write() {
            if seen.len() < Self::MAX_TEXTS {
                seen.insert(text.into(), m);
            }
        }
        m
    }
}

impl Clone for CachedRegex {
    /// The regex, with no remembered answers.
    fn clone(&self) -> Self {
        CachedRegex::new(self.re.clone())
    }
}

fn eq(a: &str, b: &str, ci: bool) -> bool {
    if ci {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn starts(hay: &str, prefix: &str, ci: bool) -> bool {
    hay.get(..prefix.len()).is_some_and(|h| eq(h, prefix, ci))
}

fn ends(hay: &str, suffix: &str, ci: bool) -> bool {
    hay.len() >= suffix.len()
        && hay
            .get(hay.len() - suffix.len()..)
            .is_some_and(|h| eq(h, suffix, ci))
}

fn contains(hay: &str, needle: &str, ci: bool) -> bool {
    if !ci {
        return hay.contains(needle);
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    // candidates are where the first letter is, in either case (SIMD search): the rest is
    // compared only there
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), h).any(|i| {
        h.get(i + 1..i + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(rest))
    })
}

/// The account a value names: a 12-digit id, or the account field of an ARN
/// (`arn:aws:iam::444455556666:role/x`, `arn:aws:sts::444455556666:assumed-role/r/s`).
pub(crate) fn account_of(text: &str) -> Option<&str> {
    let t = text.trim();
    let is_id = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    if is_id(t) {
        return Some(t);
    }
    if t.starts_with("arn:") {
        let a = t.split(':').nth(4)?;
        return is_id(a).then_some(a);
    }
    None
}

/// One operator of a condition.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Equals(Vec<String>),
    Contains(Vec<String>),
    StartsWith(Vec<String>),
    EndsWith(Vec<String>),
    Exists(bool),
    /// `slot` indexes the engine's list table; `usize::MAX` until the engine resolves it.
    InIpList {
        name: String,
        slot: usize,
    },
    /// `known_account: want`; `known` is the configured known-accounts list, filled in by the
    /// engine (empty until then: only the event's own account is known).
    KnownAccount {
        want: bool,
        known: std::sync::Arc<[String]>,
    },
    /// `equals_field` (`equal`) / `not_equals_field`: compared with another field's values.
    FieldCmp {
        other: Field,
        other_path: String,
        equal: bool,
    },
    /// `approved_region: want`; `regions` is the deployment's list (the rule's own, else
    /// `[rules] approved_regions`), filled in by the engine. Empty (unresolved): never holds —
    /// the engine does not run a rule without a list.
    ApprovedRegion {
        want: bool,
        regions: std::sync::Arc<[String]>,
    },
    Matches(CachedRegex),
    /// `ip`: the value is an IP address of this kind.
    Ip(crate::spec::IpKind),
    Num(NumOp, f64),
    MinCount(usize),
    /// A group: any of the conditions holds.
    Any(Vec<Condition>),
    /// A group: all of the conditions hold.
    All(Vec<Condition>),
}

impl PartialEq for Op {
    fn eq(&self, other: &Op) -> bool {
        use Op::*;
        match (self, other) {
            (Equals(a), Equals(b))
            | (Contains(a), Contains(b))
            | (StartsWith(a), StartsWith(b))
            | (EndsWith(a), EndsWith(b)) => a == b,
            (Exists(a), Exists(b)) => a == b,
            (InIpList { name: a, .. }, InIpList { name: b, .. }) => a == b,
            (KnownAccount { want: a, .. }, KnownAccount { want: b, .. }) => a == b,
            (
                FieldCmp {
                    other: a, equal: x, ..
                },
                FieldCmp {
                    other: b, equal: y, ..
                },
            ) => a == b && x == y,
            (ApprovedRegion { want: a, .. }, ApprovedRegion { want: b, .. }) => a == b,
            (Matches(a), Matches(b)) => a.re.as_str() == b.re.as_str(),
            (Ip(a), Ip(b)) => a == b,
            (Num(o, a), Num(p, b)) => o == p && a == b,
            (MinCount(a), MinCount(b)) => a == b,
            (Any(a), Any(b)) | (All(a), All(b)) => a == b,
            _ => false,
        }
    }
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumOp {
    Gte,
    Gt,
    Lte,
    Lt,
}

impl NumOp {
    fn name(self) -> &'static str {
        match self {
            NumOp::Gte => "gte",
            NumOp::Gt => "gt",
            NumOp::Lte => "lte",
            NumOp::Lt => "lt",
        }
    }

    fn holds(self, x: f64, bound: f64) -> bool {
        match self {
            NumOp::Gte => x >= bound,
            NumOp::Gt => x > bound,
            NumOp::Lte => x <= bound,
            NumOp::Lt => x < bound,
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// `None` for `any`/`all` groups.
    pub(crate) field: Option<Field>,
    pub(crate) path: String,
    pub(crate) op: Op,
    pub(crate) not: bool,
    pub(crate) ignore_case: bool,
    /// Human text: `responseElements.ConsoleLogin equals "Failure"`.
    pub(crate) text: String,
}

fn quoted_list(v: &[String]) -> String {
    match v {
        [one] => format!("{one:?}"),
        many => format!(
            "any of [{}]",
            many.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Condition {
    pub(crate) fn compile(spec: &ConditionSpec) -> Result<Condition, String> {
        if spec.any.is_some() || spec.all.is_some() {
            return Condition::compile_group(spec);
        }
        if spec.field.is_empty() {
            return Err("a condition needs a `field` (or is an `any`/`all` group)".to_string());
        }
        let field = Field::parse(&spec.field)?;
        let mut ops = Vec::new();
        let list =
            |name: &str, v: &Option<crate::spec::Strings>| -> Result<Option<Vec<String>>, String> {
                match v {
                    None => Ok(None),
                    Some(s) if s.is_empty() => Err(format!(
                        "condition on `{}`: `{name}` needs at least one value",
                        spec.field
                    )),
                    Some(s) => Ok(Some(s.0.clone())),
                }
            };
        if let Some(v) = list("equals", &spec.equals)? {
            ops.push(Op::Equals(v));
        }
        if let Some(v) = list("contains", &spec.contains)? {
            ops.push(Op::Contains(v));
        }
        if let Some(v) = list("starts_with", &spec.starts_with)? {
            ops.push(Op::StartsWith(v));
        }
        if let Some(v) = list("ends_with", &spec.ends_with)? {
            ops.push(Op::EndsWith(v));
        }
        if let Some(b) = spec.exists {
            ops.push(Op::Exists(b));
        }
        if let Some(name) = &spec.in_ip_list {
            if name.is_empty() {
                return Err(format!(
                    "condition on `{}`: `in_ip_list` needs a list name",
                    spec.field
                ));
            }
            ops.push(Op::InIpList {
                name: name.clone(),
                slot: usize::MAX,
            });
        }
        if let Some(want) = spec.known_account {
            ops.push(Op::KnownAccount {
                want,
                known: std::sync::Arc::from(Vec::new()),
            });
        }
        for (key, other, equal) in [
            ("equals_field", &spec.equals_field, true),
            ("not_equals_field", &spec.not_equals_field, false),
        ] {
            let Some(path) = other else { continue };
            if path.trim().is_empty() {
                return Err(format!(
                    "condition on `{}`: `{key}` needs the name of the field to compare with",
                    spec.field
                ));
            }
            let other = Field::parse(path)
                .map_err(|e| format!("condition on `{}`: `{key}`: {e}", spec.field))?;
            if other == field {
                return Err(format!(
                    "condition on `{}`: `{key}` compares the field with itself",
                    spec.field
                ));
            }
            ops.push(Op::FieldCmp {
                other,
                other_path: path.clone(),
                equal,
            });
        }
        if let Some(want) = spec.approved_region {
            ops.push(Op::ApprovedRegion {
                want,
                regions: std::sync::Arc::from(Vec::new()),
            });
        }
        if let Some(re) = &spec.matches {
            let re = regex::RegexBuilder::new(re)
                .case_insensitive(spec.ignore_case)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("condition on `{}`: `matches`: {e}", spec.field))?;
            ops.push(Op::Matches(CachedRegex::new(re)));
        }
        if let Some(kind) = spec.ip {
            ops.push(Op::Ip(kind));
        }
        for (op, bound) in [
            (NumOp::Gte, spec.gte),
            (NumOp::Gt, spec.gt),
            (NumOp::Lte, spec.lte),
            (NumOp::Lt, spec.lt),
        ] {
            if let Some(b) = bound {
                if !b.is_finite() {
                    return Err(format!(
                        "condition on `{}`: `{}` needs a finite number",
                        spec.field,
                        op.name()
                    ));
                }
                ops.push(Op::Num(op, b));
            }
        }
        if let Some(n) = spec.min_count {
            if n == 0 {
                return Err(format!(
                    "condition on `{}`: `min_count` must be at least 1 (use `exists`)",
                    spec.field
                ));
            }
            ops.push(Op::MinCount(n));
        }
        let op = match ops.len() {
            1 => ops.remove(0),
            0 => {
                return Err(format!(
                    "condition on `{}` has no operator (use one of equals, contains, starts_with, ends_with, exists, in_ip_list, known_account, equals_field, not_equals_field, approved_region, matches, ip, gte, gt, lte, lt, min_count)",
                    spec.field
                ))
            }
            _ => {
                return Err(format!(
                    "condition on `{}` has several operators; use one per condition (several conditions must all hold)",
                    spec.field
                ))
            }
        };
        let op_text = match &op {
            Op::Equals(v) => format!("equals {}", quoted_list(v)),
            Op::Contains(v) => format!("contains {}", quoted_list(v)),
            Op::StartsWith(v) => format!("starts_with {}", quoted_list(v)),
            Op::EndsWith(v) => format!("ends_with {}", quoted_list(v)),
            Op::Exists(b) => format!("exists {b}"),
            Op::InIpList { name, .. } => format!("in_ip_list {name}"),
            Op::KnownAccount { want, .. } => format!("known_account {want}"),
            Op::FieldCmp {
                other_path, equal, ..
            } => format!(
                "{} {other_path}",
                if *equal {
                    "equals_field"
                } else {
                    "not_equals_field"
                }
            ),
            Op::ApprovedRegion { want, .. } => format!("approved_region {want}"),
            Op::Matches(re) => format!("matches {:?}", re.re.as_str()),
            Op::Ip(kind) => format!(
                "ip {}",
                match kind {
                    crate::spec::IpKind::Any => "any",
                    crate::spec::IpKind::Public => "public",
                    crate::spec::IpKind::Private => "private",
                }
            ),
            Op::Num(op, b) => format!("{} {b}", op.name()),
            Op::MinCount(n) => format!("min_count {n}"),
            Op::Any(_) | Op::All(_) => String::new(),
        };
        let text = format!(
            "{}{} {op_text}{}",
            if spec.not { "not " } else { "" },
            spec.field,
            if spec.ignore_case {
                " (ignore case)"
            } else {
                ""
            }
        );
        Ok(Condition {
            field: Some(field),
            path: spec.field.clone(),
            op,
            not: spec.not,
            ignore_case: spec.ignore_case,
            text,
        })
    }

    fn compile_group(spec: &ConditionSpec) -> Result<Condition, String> {
        let (word, items) = match (&spec.any, &spec.all) {
            (Some(items), None) => ("any", items),
            (None, Some(items)) => ("all", items),
            _ => return Err("a group is either `any` or `all`, not both".to_string()),
        };
        let only_group = ConditionSpec {
            any: None,
            all: None,
            not: spec.not,
            ..ConditionSpec::default()
        };
        let rest = ConditionSpec {
            any: None,
            all: None,
            ..spec.clone()
        };
        if rest != only_group {
            return Err(format!(
                "an `{word}` group takes only its list of conditions (and `not`), no field or operator"
            ));
        }
        if items.is_empty() {
            return Err(format!("an `{word}` group needs at least one condition"));
        }
        let mut inner = Vec::with_capacity(items.len());
        for (i, c) in items.iter().enumerate() {
            inner.push(Condition::compile(c).map_err(|e| format!("{word}[{i}]: {e}"))?);
        }
        let joined = inner
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
            .join(if word == "any" { " or " } else { " and " });
        let text = format!("{}({joined})", if spec.not { "not " } else { "" });
        let op = if word == "any" {
            Op::Any(inner)
        } else {
            Op::All(inner)
        };
        Ok(Condition {
            field: None,
            path: word.to_string(),
            op,
            not: spec.not,
            ignore_case: false,
            text,
        })
    }

    /// The IP lists this condition needs (a group's, recursively).
    pub(crate) fn ip_lists<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.op {
            Op::InIpList { name, .. } => out.push(name),
            Op::Any(v) | Op::All(v) => v.iter().for_each(|c| c.ip_lists(out)),
            _ => {}
        }
    }

    /// Whether this condition or one inside it has an operator `pred` accepts.
    pub(crate) fn has_op(&self, pred: &dyn Fn(&Op) -> bool) -> bool {
        match &self.op {
            Op::Any(v) | Op::All(v) => v.iter().any(|c| c.has_op(pred)),
            op => pred(op),
        }
    }

    /// Calls `f` on this condition and every condition inside it.
    pub(crate) fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Condition)) {
        if let Op::Any(v) | Op::All(v) = &mut self.op {
            v.iter_mut().for_each(|c| c.visit_mut(f));
        }
        f(self);
    }

    /// Whether one value of the field satisfies the operator. No allocation for string values.
    fn leaf_matches(&self, leaf: Leaf<'_>, ctx: &Ctx<'_>, lists: &[IpRanges]) -> bool {
        let ci = self.ignore_case;
        let text = leaf.text();
        let text = text.as_ref();
        match &self.op {
            Op::Equals(v) => v.iter().any(|x| eq(text, x, ci)),
            Op::Contains(v) => v.iter().any(|x| contains(text, x, ci)),
            Op::StartsWith(v) => v.iter().any(|x| starts(text, x, ci)),
            Op::EndsWith(v) => v.iter().any(|x| ends(text, x, ci)),
            Op::Exists(_) => true,
            Op::InIpList { slot, .. } => match lists.get(*slot) {
                Some(ranges) => text
                    .trim()
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ranges.contains(ip)),
                None => false,
            },
            Op::KnownAccount { want, known } => account_of(text).is_some_and(|a| {
                let is_known = ctx.event.account() == Some(a) || known.iter().any(|k| k == a);
                is_known == *want
            }),
            Op::FieldCmp { other, equal, .. } => {
                // Every value of the other field, for this value: any/any for `equals_field`,
                // "none of them, and there is one" for `not_equals_field`.
                let mut other_has_value = false;
                let same = ctx.any_leaf(other, &mut |o| {
                    other_has_value = true;
                    eq(text, o.text().as_ref(), ci)
                });
                if *equal {
                    same
                } else {
                    other_has_value && !same
                }
            }
            Op::ApprovedRegion { want, regions } => {
                let region = text.trim();
                !region.is_empty()
                    && !regions.is_empty()
                    && regions.iter().any(|r| r.eq_ignore_ascii_case(region)) == *want
            }
            Op::Matches(re) => re.is_match(text),
            Op::Ip(kind) => {
                // `sourceIPAddress` is parsed once per event already
                let ip = match (&self.field, ctx.event.source_ip) {
                    (Some(Field::Typed(Typed::SourceIpAddress)), Some(ip)) => Some(ip),
                    _ => text.trim().parse::<IpAddr>().ok(),
                };
                ip.is_some_and(|ip| match kind {
                    crate::spec::IpKind::Any => true,
                    crate::spec::IpKind::Public => crate::spec::ip_is_public(ip),
                    crate::spec::IpKind::Private => !crate::spec::ip_is_public(ip),
                })
            }
            Op::Num(op, bound) => text
                .trim()
                .parse::<f64>()
                .is_ok_and(|x| op.holds(x, *bound)),
            Op::MinCount(_) | Op::Any(_) | Op::All(_) => false,
        }
    }

    /// Whether the condition holds (after `not`).
    pub(crate) fn holds(&self, ctx: &Ctx<'_>, lists: &[IpRanges]) -> bool {
        let found = match (&self.op, &self.field) {
            (Op::Any(v), _) => v.iter().any(|c| c.holds(ctx, lists)),
            (Op::All(v), _) => v.iter().all(|c| c.holds(ctx, lists)),
            (_, None) => false,
            // The parser already parsed sourceIPAddress; use it.
            (Op::InIpList { slot, .. }, Some(Field::Typed(Typed::SourceIpAddress))) => {
                match (ctx.event.source_ip, lists.get(*slot)) {
                    (Some(ip), Some(ranges)) => ranges.contains(ip),
                    _ => false,
                }
            }
            (Op::Exists(want), Some(field)) => ctx.any_leaf(field, &mut |_| true) == *want,
            (Op::MinCount(n), Some(field)) => {
                let mut seen = 0usize;
                ctx.any_leaf(field, &mut |_| {
                    seen += 1;
                    seen >= *n
                })
            }
            (_, Some(field)) => {
                ctx.any_leaf(field, &mut |leaf| self.leaf_matches(leaf, ctx, lists))
            }
        };
        found != self.not
    }

    /// The condition's value when the event's `eventSource` and `eventName` alone decide it:
    /// `Some(b)` if every event with the source and name of `pair` gives `b`, `None` if other
    /// fields matter. `pair` is a context over an event with only those two fields set. A
    /// condition on those fields with an operator that reads nothing else is evaluated on it
    /// as on a real event; a group combines its members (`any`: one `true` decides it, all
    /// `false` do; `all` the other way round); everything else is undecided.
    pub(crate) fn on_pair(&self, pair: &Ctx<'_>, lists: &[IpRanges]) -> Option<bool> {
        let decided = match (&self.op, &self.field) {
            (Op::Any(v), _) => {
                let mut all_false = true;
                for c in v {
                    match c.on_pair(pair, lists) {
                        Some(true) => return Some(!self.not),
                        Some(false) => {}
                        None => all_false = false,
                    }
                }
                all_false.then_some(false)
            }
            (Op::All(v), _) => {
                let mut all_true = true;
                for c in v {
                    match c.on_pair(pair, lists) {
                        Some(false) => return Some(self.not),
                        Some(true) => {}
                        None => all_true = false,
                    }
                }
                all_true.then_some(true)
            }
            (
                Op::Equals(_)
                | Op::Contains(_)
                | Op::StartsWith(_)
                | Op::EndsWith(_)
                | Op::Exists(_)
                | Op::Matches(_)
                | Op::Num(..)
                | Op::MinCount(_),
                Some(Field::Typed(Typed::EventSource | Typed::EventName)),
            ) => return Some(self.holds(pair, lists)),
            _ => None,
        };
        decided.map(|b| b != self.not)
    }

    /// The value that made the condition hold, for evidence: the first matching leaf, or the
    /// first leaf (or `null`) for negated and `exists` conditions.
    pub(crate) fn observed(&self, ctx: &Ctx<'_>, lists: &[IpRanges]) -> Value {
        let field = match (&self.op, &self.field) {
            (Op::Any(v) | Op::All(v), _) => {
                // The conditions of the group that hold, with what they saw.
                let mut m = serde_json::Map::new();
                for c in v.iter().filter(|c| c.holds(ctx, lists)) {
                    m.insert(c.path.clone(), c.observed(ctx, lists));
                }
                return Value::Object(m);
            }
            (_, None) => return Value::Null,
            (Op::MinCount(_), Some(field)) => {
                let mut n = 0u64;
                ctx.any_leaf(field, &mut |_| {
                    n += 1;
                    false
                });
                return Value::from(n);
            }
            (_, Some(field)) => field,
        };
        let mut out = Value::Null;
        let want_match = !self.not && !matches!(self.op, Op::Exists(_));
        ctx.any_leaf(field, &mut |leaf| {
            if !want_match || self.leaf_matches(leaf, ctx, lists) {
                out = leaf.to_value();
                true
            } else {
                false
            }
        });
        out
    }
}

/// A compiled exclusion: every part given must hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exclusion {
    principal: Vec<String>,
    user_agent: Vec<String>,
    source_ip: Option<IpRanges>,
    read_only: Option<bool>,
    invoked_by: Vec<String>,
}

/// A `sourceIPAddress` that names an AWS service rather than an address:
/// `cloudformation.amazonaws.com`, `AWS Internal`.
fn service_host(source: &str) -> bool {
    source == "AWS Internal"
        || source.ends_with(".amazonaws.com")
        || source.ends_with(".amazonaws.com.cn")
}

impl Exclusion {
    pub(crate) fn compile(spec: &ExclusionSpec) -> Result<Exclusion, String> {
        let principal = spec
            .principal
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let user_agent = spec
            .user_agent
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let invoked_by = spec
            .invoked_by
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let source_ip = match &spec.source_ip {
            Some(s) => Some(
                IpRanges::from_cidrs(s.iter().map(String::as_str))
                    .map_err(|e| format!("exclude source_ip: {e}"))?,
            ),
            None => None,
        };
        if principal.is_empty()
            && user_agent.is_empty()
            && source_ip.is_none()
            && spec.read_only.is_none()
            && invoked_by.is_empty()
        {
            return Err(
                "an exclude entry needs at least one of principal, user_agent, source_ip, read_only, invoked_by"
                    .to_string(),
            );
        }
        if principal
            .iter()
            .chain(&user_agent)
            .chain(&invoked_by)
            .any(|p| p.trim().is_empty())
        {
            return Err("exclude patterns must not be empty".to_string());
        }
        Ok(Exclusion {
            principal,
            user_agent,
            source_ip,
            read_only: spec.read_only,
            invoked_by,
        })
    }

    pub(crate) fn matches(&self, ctx: &Ctx<'_>) -> bool {
        let e = ctx.event;
        if !self.principal.is_empty() {
            let id = &e.identity;
            let candidates = [
                id.principal.as_deref(),
                id.arn.as_deref(),
                id.session_issuer_arn.as_deref(),
            ];
            let hit = self.principal.iter().any(|pat| {
                candidates
                    .iter()
                    .flatten()
                    .any(|c| !c.is_empty() && glob_match(pat, c))
            });
            if !hit {
                return false;
            }
        }
        if !self.user_agent.is_empty() {
            let ua = e.user_agent.as_deref().unwrap_or("");
            if !self.user_agent.iter().any(|n| contains(ua, n, true)) {
                return false;
            }
        }
        if let Some(ranges) = &self.source_ip {
            if !e.source_ip.is_some_and(|ip| ranges.contains(ip)) {
                return false;
            }
        }
        if let Some(want) = self.read_only {
            if e.read_only != Some(want) {
                return false;
            }
        }
        if !self.invoked_by.is_empty() {
            let by = e.identity.invoked_by.as_deref().filter(|s| !s.is_empty());
            // A service host name in sourceIPAddress: the service made the call (an address,
            // whatever a glob says, never does).
            let host = match (e.source_ip, e.source_ip_address.as_deref()) {
                (None, Some(s)) if service_host(s) => Some(s),
                _ => None,
            };
            let hit = self.invoked_by.iter().any(|pat| {
                by.is_some_and(|b| glob_match(pat, b)) || host.is_some_and(|h| glob_match(pat, h))
            });
            if !hit {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;
    use crate::spec::Strings;
    use trailwarden_parse::Event;

    proptest::proptest! {
        /// Case-insensitive `contains` finds exactly what lowercasing both sides finds.
        #[test]
        fn contains_ignoring_case_is_lowercased_contains(
            hay in "[a-cA-C_/ é]{0,24}",
            needle in "[a-cA-C_é]{0,4}",
        ) {
            let want = hay.to_ascii_lowercase().contains(&needle.to_ascii_lowercase());
            proptest::prop_assert_eq!(contains(&hay, &needle, true), want);
        }

        /// A remembered answer is the regex's, for repeated texts, beyond the bound and for
        /// long texts.
        #[test]
        fn cached_regex_answers_as_the_regex(
            texts in proptest::collection::vec("[a-c]{0,6}|[a-c]{260}", 1..40),
        ) {
            let re = regex::RegexBuilder::new(r"\bab|c{2}$").case_insensitive(true).build().unwrap();
            let cached = CachedRegex::new(re.clone());
            for round in 0..2 {
                for t in &texts {
                    proptest::prop_assert_eq!(cached.is_match(t), re.is_match(t), "{} {}", round, t);
                }
            }
        }
    }

    #[test]
    fn cached_regex_stops_remembering_at_its_bound() {
        let re = regex::Regex::new("^x").unwrap();
        let cached = CachedRegex::new(re);
        for i in 0..CachedRegex::MAX_TEXTS + 100 {
            assert!(!cached.is_match(&format!("t{i}")));
        }
        assert!(cached.is_match("x-new"));
        assert!(!cached.is_match("y-new"));
        assert_eq!(cached.seen.read().unwrap().len(), CachedRegex::MAX_TEXTS);
        // A clone is the same regex with nothing remembered.
        let clone = cached.clone();
        assert!(clone.seen.read().unwrap().is_empty());
        assert!(clone.is_match("x"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("Put*", "PutBucketAcl"));
        assert!(!glob_match("Put*", "GetBucketAcl"));
        assert!(glob_match("*Bucket*", "PutBucketAcl"));
        assert!(glob_match("*:role/Scanner", "arn:aws:iam::1:role/Scanner"));
        assert!(!glob_match(
            "*:role/Scanner",
            "arn:aws:iam::1:role/Scanner2"
        ));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("exact", "exact") && !glob_match("exact", "exactly"));
        assert!(glob_match("**x**", "yyxyy"));
        assert!(!glob_match("", "x") && glob_match("", ""));
    }

    fn spec(field: &str) -> ConditionSpec {
        ConditionSpec {
            field: field.into(),
            ..ConditionSpec::default()
        }
    }

    fn strings(v: &[&str]) -> Option<Strings> {
        Some(Strings(v.iter().map(|s| s.to_string()).collect()))
    }

    fn event() -> Event {
        Event {
            event_source: "signin.amazonaws.com".into(),
            event_name: "ConsoleLogin".into(),
            source_ip_address: Some("203.0.113.9".into()),
            source_ip: "203.0.113.9".parse().ok(),
            user_agent: Some("Mozilla/5.0 (X11; Linux)".into()),
            response_elements: Some(r#"{"ConsoleLogin":"Failure","n":7,"list":["a","B"]}"#.into()),
            additional_event_data: Some(r#"{"MFAUsed":"No"}"#.into()),
            ..Event::default()
        }
    }

    fn holds(s: ConditionSpec) -> bool {
        let c = Condition::compile(&s).unwrap();
        let e = event();
        c.holds(&Ctx::new(&e), &[])
    }

    #[test]
    fn numeric_regex_and_count_operators() {
        let mut s = spec("responseElements.n");
        s.gte = Some(7.0);
        assert!(holds(s.clone()));
        s.gte = Some(7.5);
        assert!(!holds(s.clone()));
        s.gte = None;
        s.lt = Some(8.0);
        assert!(holds(s.clone()));
        // Text that is not a number never compares.
        let mut s = spec("responseElements.ConsoleLogin");
        s.gt = Some(0.0);
        assert!(!holds(s));

        let mut s = spec("userAgent");
        s.matches = Some(r"^mozilla/\d".into());
        assert!(!holds(s.clone()), "case-sensitive by default");
        s.ignore_case = true;
        assert!(holds(s.clone()));
        s.matches = Some("(".into());
        assert!(Condition::compile(&s).unwrap_err().contains("matches"));

        let mut s = spec("responseElements.list");
        s.min_count = Some(2);
        assert!(holds(s.clone()));
        s.min_count = Some(3);
        assert!(!holds(s.clone()));
        let c = Condition::compile(&{
            let mut t = s.clone();
            t.min_count = Some(1);
            t
        })
        .unwrap();
        let e = event();
        assert_eq!(c.observed(&Ctx::new(&e), &[]), Value::from(2u64));
        s.min_count = Some(0);
        assert!(Condition::compile(&s).is_err());
    }

    #[test]
    fn any_and_all_groups() {
        let mut yes = spec("responseElements.ConsoleLogin");
        yes.equals = strings(&["Failure"]);
        let mut no = spec("eventName");
        no.equals = strings(&["Other"]);
        let any = ConditionSpec {
            any: Some(vec![no.clone(), yes.clone()]),
            ..ConditionSpec::default()
        };
        assert!(holds(any.clone()));
        let all = ConditionSpec {
            all: Some(vec![no.clone(), yes.clone()]),
            ..ConditionSpec::default()
        };
        assert!(!holds(all.clone()));
        // Nested and negated.
        let nested = ConditionSpec {
            any: Some(vec![all.clone(), no.clone()]),
            not: true,
            ..ConditionSpec::default()
        };
        assert!(holds(nested));
        // Evidence of a group: the members that held.
        let c = Condition::compile(&any).unwrap();
        let e = event();
        assert_eq!(
            c.observed(&Ctx::new(&e), &[]),
            serde_json::json!({"responseElements.ConsoleLogin": "Failure"})
        );
        assert!(c.text.contains(" or "), "{}", c.text);
        // A group takes no field/operator, needs members, is not both kinds.
        let mut bad = any.clone();
        bad.field = "eventName".into();
        assert!(Condition::compile(&bad).is_err());
        let empty = ConditionSpec {
            any: Some(vec![]),
            ..ConditionSpec::default()
        };
        assert!(Condition::compile(&empty).is_err());
        let both = ConditionSpec {
            any: Some(vec![yes.clone()]),
            all: Some(vec![yes]),
            ..ConditionSpec::default()
        };
        assert!(Condition::compile(&both).is_err());
        assert!(Condition::compile(&ConditionSpec::default()).is_err());
    }

    #[test]
    fn operators() {
        let mut s = spec("responseElements.ConsoleLogin");
        s.equals = strings(&["Failure"]);
        assert!(holds(s.clone()));
        s.not = true;
        assert!(!holds(s.clone()));
        s.not = false;
        s.equals = strings(&["Success", "failure"]);
        assert!(!holds(s.clone()));
        s.ignore_case = true;
        assert!(holds(s.clone()));

        let mut s = spec("userAgent");
        s.contains = strings(&["linux"]);
        assert!(!holds(s.clone()));
        s.ignore_case = true;
        assert!(holds(s.clone()));
        let mut s = spec("userAgent");
        s.starts_with = strings(&["Mozilla/"]);
        assert!(holds(s));
        let mut s = spec("userAgent");
        s.ends_with = strings(&["Linux)"]);
        assert!(holds(s));
        let mut s = spec("responseElements.n");
        s.equals = strings(&["7"]);
        assert!(holds(s));
        let mut s = spec("responseElements.list");
        s.equals = strings(&["b"]);
        s.ignore_case = true;
        assert!(holds(s));
    }

    #[test]
    fn exists_and_missing_fields() {
        let mut s = spec("errorCode");
        s.exists = Some(true);
        assert!(!holds(s.clone()));
        s.exists = Some(false);
        assert!(holds(s.clone()));
        let mut s = spec("responseElements.ConsoleLogin");
        s.exists = Some(true);
        assert!(holds(s));
        // Any comparison on a missing field is false, and `not` turns that into true.
        let mut s = spec("requestParameters.bucketName");
        s.equals = strings(&["x"]);
        assert!(!holds(s.clone()));
        s.not = true;
        assert!(holds(s));
    }

    /// `ip`: the kinds of addresses, on the parsed `sourceIPAddress` and on a raw field; a
    /// service host name is no address.
    #[test]
    fn ip_kinds() {
        use crate::spec::IpKind;
        let on = |kind: IpKind, field: &str, e: &Event| {
            let mut s = spec(field);
            s.ip = Some(kind);
            holds_on(&s, e)
        };
        let src = |a: &str| Event {
            source_ip_address: Some(a.to_string()),
            source_ip: a.parse().ok(),
            ..Event::default()
        };
        for public in [
            "203.0.113.9",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                on(IpKind::Public, "sourceIPAddress", &src(public)),
                "{public}"
            );
            assert!(
                !on(IpKind::Private, "sourceIPAddress", &src(public)),
                "{public}"
            );
            assert!(on(IpKind::Any, "sourceIPAddress", &src(public)), "{public}");
        }
        for private in [
            "10.1.2.3",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.1.2.3",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                !on(IpKind::Public, "sourceIPAddress", &src(private)),
                "{private}"
            );
            assert!(
                on(IpKind::Private, "sourceIPAddress", &src(private)),
                "{private}"
            );
        }
        for none in ["athena.amazonaws.com", "AWS Internal", "010.1.2.3", ""] {
            for kind in [IpKind::Any, IpKind::Public, IpKind::Private] {
                assert!(!on(kind, "sourceIPAddress", &src(none)), "{none}");
            }
        }
        let raw = Event {
            request_parameters: Some(r#"{"ip":" 198.51.100.7 ","lan":"10.0.0.8"}"#.into()),
            ..Event::default()
        };
        assert!(on(IpKind::Public, "requestParameters.ip", &raw));
        assert!(on(IpKind::Private, "requestParameters.lan", &raw));
        let mut s = spec("sourceIPAddress");
        s.ip = Some(IpKind::Public);
        assert_eq!(
            Condition::compile(&s).unwrap().text,
            "sourceIPAddress ip public"
        );
    }

    #[test]
    fn in_ip_list_on_typed_and_raw_fields() {
        let ranges = IpRanges::from_cidrs(["203.0.113.0/24"]).unwrap();
        let mut s = spec("sourceIPAddress");
        s.in_ip_list = Some("risky".into());
        let mut c = Condition::compile(&s).unwrap();
        let mut names = Vec::new();
        c.ip_lists(&mut names);
        assert_eq!(names, ["risky"]);
        let e = event();
        let ctx = Ctx::new(&e);
        // Unresolved list: never holds.
        assert!(!c.holds(&ctx, std::slice::from_ref(&ranges)));
        if let Op::InIpList { slot, .. } = &mut c.op {
            *slot = 0;
        }
        assert!(c.holds(&ctx, std::slice::from_ref(&ranges)));
        assert_eq!(
            c.observed(&ctx, std::slice::from_ref(&ranges)),
            Value::String("203.0.113.9".into())
        );
        // A service host name is never in a list.
        let host = Event {
            source_ip_address: Some("cloudtrail.amazonaws.com".into()),
            source_ip: None,
            ..event()
        };
        assert!(!c.holds(&Ctx::new(&host), std::slice::from_ref(&ranges)));
        // Raw field holding an IP.
        let mut s = spec("requestParameters.ip");
        s.in_ip_list = Some("risky".into());
        let mut c = Condition::compile(&s).unwrap();
        if let Op::InIpList { slot, .. } = &mut c.op {
            *slot = 0;
        }
        let e = Event {
            request_parameters: Some(r#"{"ip":" 203.0.113.200 "}"#.into()),
            ..Event::default()
        };
        assert!(c.holds(&Ctx::new(&e), std::slice::from_ref(&ranges)));
    }

    #[test]
    fn compile_errors() {
        let s = spec("eventName");
        assert!(Condition::compile(&s).unwrap_err().contains("no operator"));
        let mut s = spec("eventName");
        s.equals = strings(&["a"]);
        s.contains = strings(&["b"]);
        assert!(Condition::compile(&s)
            .unwrap_err()
            .contains("several operators"));
        let mut s = spec("eventName");
        s.equals = strings(&[]);
        assert!(Condition::compile(&s).is_err());
        let mut s = spec("nope");
        s.exists = Some(true);
        assert!(Condition::compile(&s)
            .unwrap_err()
            .contains("unknown field"));
    }

    #[test]
    fn exclusions() {
        let mut e = event();
        e.identity.arn =
            Some("arn:aws:sts::111122223333:assumed-role/SecurityAuditScanner/s1".into());
        e.identity.session_issuer_arn =
            Some("arn:aws:iam::111122223333:role/SecurityAuditScanner".into());
        e.read_only = Some(true);
        let ctx = Ctx::new(&e);
        let x = |s: ExclusionSpec| Exclusion::compile(&s).unwrap().matches(&ctx);
        let role = ExclusionSpec {
            principal: strings(&["*:role/SecurityAuditScanner"]),
            read_only: Some(true),
            ..ExclusionSpec::default()
        };
        assert!(x(role.clone()));
        assert!(!x(ExclusionSpec {
            read_only: Some(false),
            ..role
        }));
        assert!(x(ExclusionSpec {
            user_agent: strings(&["LINUX"]),
            ..ExclusionSpec::default()
        }));
        assert!(x(ExclusionSpec {
            source_ip: strings(&["203.0.113.0/24"]),
            ..ExclusionSpec::default()
        }));
        assert!(!x(ExclusionSpec {
            source_ip: strings(&["198.51.100.0/24"]),
            ..ExclusionSpec::default()
        }));
        assert!(!x(ExclusionSpec {
            principal: strings(&["*:role/Other"]),
            ..ExclusionSpec::default()
        }));
        assert!(Exclusion::compile(&ExclusionSpec::default()).is_err());
        assert!(Exclusion::compile(&ExclusionSpec {
            source_ip: strings(&["nope"]),
            ..ExclusionSpec::default()
        })
        .is_err());
    }

    /// A CreateAccessKey by `caller` for `target`, in account 111122223333.
    fn key_for(caller: Option<&str>, target: Option<&str>) -> Event {
        let params = match target {
            Some(t) => {
                serde_json::json!({"userName": t, "tags": [{"key": "owner", "value": "alice"}],
                "policy": "{\"Statement\":[{\"Principal\":{\"AWS\":[\"bob\",\"alice\"]}}]}"})
                .to_string()
            }
            None => "{}".into(),
        };
        let mut e = Event {
            event_source: "iam.amazonaws.com".into(),
            event_name: "CreateAccessKey".into(),
            recipient_account_id: Some("111122223333".into()),
            request_parameters: Some(params),
            ..Event::default()
        };
        e.identity.user_name = caller.map(str::to_string);
        e.identity.account_id = Some("111122223333".into());
        e
    }

    fn holds_on(s: &ConditionSpec, e: &Event) -> bool {
        Condition::compile(s).unwrap().holds(&Ctx::new(e), &[])
    }

    #[test]
    fn field_to_field_comparisons() {
        let mut ne = spec("requestParameters.userName");
        ne.not_equals_field = Some("userIdentity.userName".into());
        let mut eq = spec("requestParameters.userName");
        eq.equals_field = Some("userIdentity.userName".into());
        // Another user's key; the caller's own; no target; a role caller (no user name).
        let other = key_for(Some("mallory"), Some("alice"));
        let own = key_for(Some("alice"), Some("alice"));
        let no_target = key_for(Some("alice"), None);
        let role = key_for(None, Some("alice"));
        assert!(holds_on(&ne, &other) && !holds_on(&eq, &other));
        assert!(!holds_on(&ne, &own) && holds_on(&eq, &own));
        // Both need a value: a missing side never compares...
        assert!(!holds_on(&ne, &no_target) && !holds_on(&eq, &no_target));
        assert!(!holds_on(&ne, &role) && !holds_on(&eq, &role));
        // ...so `equals_field` + `not` is true there, unlike `not_equals_field`.
        let mut not_eq = eq.clone();
        not_eq.not = true;
        assert!(holds_on(&not_eq, &other) && holds_on(&not_eq, &role));
        assert!(!holds_on(&not_eq, &own));
        // Case: exact unless `ignore_case`.
        let shout = key_for(Some("ALICE"), Some("alice"));
        assert!(holds_on(&ne, &shout));
        let mut ci = ne.clone();
        ci.ignore_case = true;
        assert!(!holds_on(&ci, &shout));
        // Several values: any of the field against any of the other (`equals_field`); some
        // value of the field that is none of the other's (`not_equals_field`).
        let mut tag = spec("requestParameters.tags.value");
        tag.equals_field = Some("requestParameters.policy.@json.Statement.Principal.AWS".into());
        assert!(holds_on(&tag, &other), "alice is among [bob, alice]");
        let mut principals = spec("requestParameters.policy.@json.Statement.Principal.AWS");
        principals.not_equals_field = Some("requestParameters.tags.value".into());
        assert!(holds_on(&principals, &other), "bob is not alice");
        principals.not_equals_field = Some("requestParameters.userName".into());
        assert!(holds_on(&principals, &other), "bob is not alice");
        let mut target = spec("requestParameters.userName");
        target.not_equals_field =
            Some("requestParameters.policy.@json.Statement.Principal.AWS".into());
        assert!(!holds_on(&target, &other), "alice is one of them");
        // Derived fields: the event's own account.
        let mut acct = spec("userIdentity.accountId");
        acct.not_equals_field = Some("account".into());
        assert!(!holds_on(&acct, &other));
        let mut foreign = other.clone();
        foreign.identity.account_id = Some("444455556666".into());
        assert!(holds_on(&acct, &foreign));
        // Evidence and text.
        let c = Condition::compile(&ne).unwrap();
        assert_eq!(
            c.text,
            "requestParameters.userName not_equals_field userIdentity.userName"
        );
        assert_eq!(
            c.observed(&Ctx::new(&other), &[]),
            Value::String("alice".into())
        );
        // Misuse is a load-time error.
        let mut bad = spec("requestParameters.userName");
        bad.equals_field = Some("requestParameters.userName".into());
        assert!(Condition::compile(&bad)
            .unwrap_err()
            .contains("with itself"));
        bad.equals_field = Some("requestParameter.userName".into());
        let err = Condition::compile(&bad).unwrap_err();
        assert!(
            err.contains("equals_field") && err.contains("unknown field"),
            "{err}"
        );
        bad.equals_field = Some(" ".into());
        assert!(Condition::compile(&bad)
            .unwrap_err()
            .contains("needs the name"));
        bad.equals_field = Some("userIdentity.userName".into());
        bad.not_equals_field = Some("userIdentity.arn".into());
        assert!(Condition::compile(&bad)
            .unwrap_err()
            .contains("several operators"));
    }

    #[test]
    fn approved_regions() {
        let region = |r: &str| Event {
            aws_region: Some(r.into()),
            ..Event::default()
        };
        let mut s = spec("awsRegion");
        s.approved_region = Some(false);
        let mut c = Condition::compile(&s).unwrap();
        assert!(c.has_op(&|op| matches!(op, Op::ApprovedRegion { .. })));
        // Unresolved (no list): never holds.
        assert!(!c.holds(&Ctx::new(&region("ap-east-1")), &[]));
        let list: std::sync::Arc<[String]> = vec!["us-east-1".into(), "eu-west-1".into()].into();
        c.visit_mut(&mut |c| {
            if let Op::ApprovedRegion { regions, .. } = &mut c.op {
                *regions = list.clone();
            }
        });
        assert!(c.holds(&Ctx::new(&region("ap-east-1")), &[]));
        assert!(!c.holds(&Ctx::new(&region("eu-west-1")), &[]));
        assert!(!c.holds(&Ctx::new(&region("EU-WEST-1")), &[]), "case");
        assert!(!c.holds(&Ctx::new(&Event::default()), &[]), "no region");
        assert_eq!(c.text, "awsRegion approved_region false");
        s.approved_region = Some(true);
        let mut c = Condition::compile(&s).unwrap();
        c.visit_mut(&mut |c| {
            if let Op::ApprovedRegion { regions, .. } = &mut c.op {
                *regions = list.clone();
            }
        });
        assert!(c.holds(&Ctx::new(&region("us-east-1")), &[]));
        assert!(!c.holds(&Ctx::new(&region("ap-east-1")), &[]));
    }

    #[test]
    fn invoked_by_exclusions() {
        let call = |invoked_by: Option<&str>, source: &str| {
            let mut e = Event {
                source_ip_address: Some(source.into()),
                source_ip: source.parse().ok(),
                ..Event::default()
            };
            e.identity.invoked_by = invoked_by.map(str::to_string);
            e
        };
        let x = |pats: &[&str], e: &Event| {
            Exclusion::compile(&ExclusionSpec {
                invoked_by: strings(pats),
                ..ExclusionSpec::default()
            })
            .unwrap()
            .matches(&Ctx::new(e))
        };
        let by_ssm = call(Some("ssm.amazonaws.com"), "ssm.amazonaws.com");
        let fas = call(None, "cloudformation.amazonaws.com");
        let internal = call(None, "AWS Internal");
        let human = call(None, "203.0.113.7");
        assert!(x(&["ssm.amazonaws.com"], &by_ssm));
        assert!(x(&["*.amazonaws.com"], &by_ssm));
        assert!(!x(&["autoscaling.amazonaws.com"], &by_ssm));
        // A service host name in sourceIPAddress counts; an address never does.
        assert!(x(&["cloudformation.amazonaws.com"], &fas));
        assert!(x(&["*"], &internal) && x(&["AWS Internal"], &internal));
        assert!(!x(&["*"], &human));
        // invokedBy with an address as the source (a service acting from a VPC).
        assert!(x(&["*"], &call(Some("lambda.amazonaws.com"), "10.0.0.5")));
        // Combined with another key: both must hold.
        let both = Exclusion::compile(&ExclusionSpec {
            invoked_by: strings(&["ssm.amazonaws.com"]),
            read_only: Some(true),
            ..ExclusionSpec::default()
        })
        .unwrap();
        assert!(!both.matches(&Ctx::new(&by_ssm)));
        assert!(Exclusion::compile(&ExclusionSpec {
            invoked_by: strings(&[""]),
            ..ExclusionSpec::default()
        })
        .is_err());
    }
}
