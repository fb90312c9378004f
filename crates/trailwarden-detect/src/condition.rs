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
    needle.is_empty()
        || hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// One operator of a condition.
#[derive(Debug, Clone, PartialEq)]
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
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) field: Field,
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
        let op = match ops.len() {
            1 => ops.remove(0),
            0 => {
                return Err(format!(
                    "condition on `{}` has no operator (use one of equals, contains, starts_with, ends_with, exists, in_ip_list)",
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
            field,
            path: spec.field.clone(),
            op,
            not: spec.not,
            ignore_case: spec.ignore_case,
            text,
        })
    }

    /// The IP list this condition needs, if any.
    pub(crate) fn ip_list(&self) -> Option<&str> {
        match &self.op {
            Op::InIpList { name, .. } => Some(name),
            _ => None,
        }
    }

    fn leaf_matches(&self, leaf: Leaf<'_>, lists: &[IpRanges]) -> bool {
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
        }
    }

    /// Whether the condition holds (after `not`).
    pub(crate) fn holds(&self, ctx: &Ctx<'_>, lists: &[IpRanges]) -> bool {
        let found = match (&self.op, &self.field) {
            // The parser already parsed sourceIPAddress; use it.
            (Op::InIpList { slot, .. }, Field::Typed(Typed::SourceIpAddress)) => {
                match (ctx.event.source_ip, lists.get(*slot)) {
                    (Some(ip), Some(ranges)) => ranges.contains(ip),
                    _ => false,
                }
            }
            (Op::Exists(want), _) => ctx.any_leaf(&self.field, &mut |_| true) == *want,
            _ => ctx.any_leaf(&self.field, &mut |leaf| self.leaf_matches(leaf, lists)),
        };
        found != self.not
    }

    /// The value that made the condition hold, for evidence: the first matching leaf, or the
    /// first leaf (or `null`) for negated and `exists` conditions.
    pub(crate) fn observed(&self, ctx: &Ctx<'_>, lists: &[IpRanges]) -> Value {
        let mut out = Value::Null;
        let want_match = !self.not && !matches!(self.op, Op::Exists(_));
        ctx.any_leaf(&self.field, &mut |leaf| {
            if !want_match || self.leaf_matches(leaf, lists) {
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
        {
            return Err(
                "an exclude entry needs at least one of principal, user_agent, source_ip, read_only"
                    .to_string(),
            );
        }
        if principal.iter().chain(&user_agent).any(String::is_empty) {
            return Err("exclude patterns must not be empty".to_string());
        }
        Ok(Exclusion {
            principal,
            user_agent,
            source_ip,
            read_only: spec.read_only,
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
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;
    use crate::spec::Strings;
    use trailwarden_parse::Event;

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

    #[test]
    fn in_ip_list_on_typed_and_raw_fields() {
        let ranges = IpRanges::from_cidrs(["203.0.113.0/24"]).unwrap();
        let mut s = spec("sourceIPAddress");
        s.in_ip_list = Some("risky".into());
        let mut c = Condition::compile(&s).unwrap();
        assert_eq!(c.ip_list(), Some("risky"));
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
}
