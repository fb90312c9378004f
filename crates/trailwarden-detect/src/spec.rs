//! The policy file format as written (serde types). Validation and compilation live in
//! `policy.rs`; these types only describe the shape, with `deny_unknown_fields` everywhere so a
//! misspelt key is an error rather than a silently ignored condition.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use trailwarden_alert::Severity;

/// One policy file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub mitre: Strings,
    #[serde(default)]
    pub tags: Strings,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    /// Summary template: `{field}` placeholders, `a|b` fallbacks, `{title}`, `{check}`.
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub severity_overrides: Vec<SeverityOverrideSpec>,
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
    /// IP lists for this policy's tests only: name → IPs/CIDRs.
    #[serde(default)]
    pub ip_lists: BTreeMap<String, Strings>,
    #[serde(default)]
    pub tests: Vec<TestSpec>,
}

fn yes() -> bool {
    true
}

/// `match:`: which events a policy looks at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    pub event_source: Strings,
    /// Names or `*` globs; absent means every name of the source.
    #[serde(default)]
    pub event_name: Option<Strings>,
    #[serde(default)]
    pub outcome: Outcome,
    #[serde(default, rename = "where")]
    pub conditions: Vec<ConditionSpec>,
    /// Built-in analyzers; the policy fires when any of them finds something.
    #[serde(default)]
    pub check: Strings,
}

/// Which calls a policy considers, by their `errorCode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// No `errorCode` (the default).
    #[default]
    Success,
    /// An `errorCode`.
    Failure,
    /// Either.
    Any,
}

/// One field condition: a field path, exactly one operator, optionally negated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// The field path; empty for an `any`/`all` group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Strings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<Strings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_with: Option<Strings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_with: Option<Strings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_ip_list: Option<String>,
    /// A regular expression (Rust `regex` syntax, unanchored) that some value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// Numeric comparisons: some value, read as a number, is `>=`, `>`, `<=`, `<` the bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    /// The path yields at least this many values (array elements are counted one by one),
    /// e.g. `requestParameters.instancesSet.items` with `min_count: 3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<usize>,
    /// A group that holds when any of its conditions holds (no `field` then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<ConditionSpec>>,
    /// A group that holds when all of its conditions hold (no `field` then); useful inside
    /// `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<ConditionSpec>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not: bool,
    /// Compare ASCII letters case-insensitively (equals/contains/starts_with/ends_with).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_case: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `severity_overrides:` entry: the first whose conditions all hold sets the severity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityOverrideSpec {
    pub when: Vec<ConditionSpec>,
    pub severity: Severity,
}

/// One exclusion: every key given must hold for the event to be excluded; an exclusion list
/// excludes an event when any of its entries does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionSpec {
    /// `*` globs matched against the principal key, `userIdentity.arn` and the session
    /// issuer's ARN (any of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Strings>,
    /// Substrings of `userAgent` (ASCII case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Strings>,
    /// IPs or CIDRs that `sourceIPAddress` must fall in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<Strings>,
    /// `true`: only read-only calls (`readOnly: true`); `false`: only mutating calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// `tests:` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    pub expect: Expect,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// A full CloudTrail record: a YAML/JSON mapping, or a string holding JSON text.
    pub event: serde_json::Value,
}

/// What a test case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Expect {
    #[serde(rename = "alert")]
    Alert,
    #[serde(rename = "no-alert")]
    NoAlert,
}

/// One string or a list of strings. Scalars of other types (numbers, booleans) are taken as
/// their text, so `equals: false` and `equals: "false"` mean the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strings(pub Vec<String>);

impl Strings {
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<String>> for Strings {
    fn from(v: Vec<String>) -> Self {
        Strings(v)
    }
}

impl Serialize for Strings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

struct ScalarText(String);

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(ScalarText)
    }
}

struct StringsVisitor;

impl<'de> Visitor<'de> for StringsVisitor {
    type Value = Strings;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Strings, E> {
        Ok(Strings(vec![v]))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
        let mut out = Vec::new();
        while let Some(ScalarText(s)) = seq.next_element()? {
            out.push(s);
        }
        Ok(Strings(out))
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringsVisitor)
    }
}
