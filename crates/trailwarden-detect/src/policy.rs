//! Loading and validating policies: YAML text → [`Policy`] (compiled, ready for the engine).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use trailwarden_alert::Severity;

use crate::check::{Check, Finding, CHECKS};
use crate::condition::{Condition, Exclusion, Op};
use crate::field::{Ctx, Field};
use crate::iplist::IpLists;
use crate::spec::{Outcome, PolicySpec, TestSpec};
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

/// A compiled policy.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) sources: Vec<String>,
    /// Exact event names; empty with `name_globs` empty means "no names" (never the case after
    /// validation: a missing `event_name` compiles to the glob `*`).
    pub(crate) names: Vec<String>,
    pub(crate) name_globs: Vec<String>,
    pub(crate) outcome: Outcome,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) checks: Vec<Check>,
    pub(crate) overrides: Vec<(Vec<Condition>, Severity)>,
    pub(crate) exclude: Vec<Exclusion>,
    pub(crate) summary: Template,
    pub(crate) test_lists: IpLists,
}

impl Compiled {
    /// Every condition, including severity overrides, mutably (to resolve IP list slots).
    pub(crate) fn conditions_mut(&mut self) -> impl Iterator<Item = &mut Condition> {
        self.conditions
            .iter_mut()
            .chain(self.overrides.iter_mut().flat_map(|(c, _)| c.iter_mut()))
    }

    fn conditions_all(&self) -> impl Iterator<Item = &Condition> {
        self.conditions
            .iter()
            .chain(self.overrides.iter().flat_map(|(c, _)| c.iter()))
    }
}

/// One loaded, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    origin: String,
    spec: PolicySpec,
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
        let m = &spec.matcher;
        if m.event_source.is_empty() {
            return Err(err("`match.event_source` needs at least one source".into()));
        }
        if let Some(bad) = m
            .event_source
            .iter()
            .find(|s| s.is_empty() || s.contains('*'))
        {
            return Err(err(format!(
                "`match.event_source`: `{bad}` must be a full event source such as s3.amazonaws.com (no globs)"
            )));
        }
        let (mut names, mut name_globs) = (Vec::new(), Vec::new());
        match &m.event_name {
            None => name_globs.push("*".to_string()),
            Some(list) if list.is_empty() => {
                return Err(err(
                    "`match.event_name` is empty (leave it out to match every name)".into(),
                ))
            }
            Some(list) => {
                for n in list.iter() {
                    if n.is_empty() {
                        return Err(err("`match.event_name` has an empty name".into()));
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
            .map(|(i, c)| Condition::compile(c).map_err(|e| err(format!("match.where[{i}]: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let checks = m
            .check
            .iter()
            .map(|name| {
                Check::parse(name).ok_or_else(|| {
                    err(format!(
                        "`match.check`: unknown analyzer `{name}` (known: {})",
                        CHECKS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
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
            if !(t.event.is_object() || t.event.is_string()) {
                return Err(err(format!(
                    "tests[{i}] `{}`: `event` must be a CloudTrail record (a mapping, or JSON text)",
                    t.name
                )));
            }
        }
        let mut sources: Vec<String> = Vec::new();
        for s in m.event_source.iter() {
            if !sources.contains(s) {
                sources.push(s.clone());
            }
        }
        let compiled = Compiled {
            sources,
            names,
            name_globs,
            outcome: m.outcome,
            conditions,
            checks,
            overrides,
            exclude,
            summary,
            test_lists,
        };
        Ok(Policy {
            origin: origin.to_string(),
            spec,
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
    pub fn mitre(&self) -> &[String] {
        &self.spec.mitre.0
    }
    pub fn tags(&self) -> &[String] {
        &self.spec.tags.0
    }
    /// `enabled:` in the file (overrides may change it).
    pub fn enabled(&self) -> bool {
        self.spec.enabled
    }
    /// Where the policy came from: a file path, or `builtin:NAME.yaml`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The event sources the policy looks at.
    pub fn event_sources(&self) -> &[String] {
        &self.compiled.sources
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
