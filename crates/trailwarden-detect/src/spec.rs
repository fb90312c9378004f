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
    /// `event` (the default), `threshold`, `distinct-count`, `sequence` or `first-seen`.
    #[serde(default)]
    pub kind: RuleKind,
    /// Which events (every kind but `sequence`, which has `steps`).
    #[serde(default, rename = "match")]
    pub matcher: Option<MatchSpec>,
    /// `sequence`: the steps, in the order they must happen.
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// `threshold`, `distinct-count`, `sequence`: the fields whose values key a window
    /// (`principal`, `requestParameters.instanceId`…); none: one window for everything.
    #[serde(default)]
    pub group_by: Option<Strings>,
    /// `threshold`, `distinct-count`, `sequence`: the event-time window (`30s`, `15m`, `1h`,
    /// `2d`, `1w`).
    #[serde(default)]
    pub window: Option<String>,
    /// `threshold`: events in the window; `distinct-count`: distinct values. Fires at ≥ this.
    #[serde(default)]
    pub threshold: Option<u64>,
    /// `distinct-count`: the field whose distinct values are counted.
    #[serde(default)]
    pub distinct: Option<String>,
    /// `distinct-count`: more counted fields, each with its own least distinct count; the
    /// rule fires when every count is reached in one window.
    #[serde(default)]
    pub and_distinct: Vec<AndDistinctSpec>,
    /// `first-seen`: what must be new for whom, against which baseline.
    #[serde(default)]
    pub first_seen: Option<FirstSeenRuleSpec>,
    /// `event`: one alert per key per window.
    #[serde(default)]
    pub dedup: Option<DedupSpec>,
    /// More detections under the same id ("event + first-seen", "threshold + first-seen"):
    /// each its own kind, by default on the rule's `match`.
    #[serde(default)]
    pub also: Vec<AlsoSpec>,
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
    /// The deployment settings (`[rules]`) this policy's tests run with: approved regions,
    /// known accounts. Tests only; a deployment's come from its configuration.
    #[serde(default)]
    pub test_settings: Option<TestSettingsSpec>,
    #[serde(default)]
    pub tests: Vec<TestSpec>,
}

fn yes() -> bool {
    true
}

/// What a rule counts: one event, or events over an event-time window or baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// One event (optionally deduplicated per key and window).
    #[default]
    Event,
    /// At least `threshold` matching events per `group_by` key within `window`.
    Threshold,
    /// At least `threshold` distinct values of `distinct` per key within `window`.
    DistinctCount,
    /// The `steps` in order (event time) per key within `window`.
    Sequence,
    /// A value new for its entity within the baseline, once the baseline is mature.
    FirstSeen,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [
        RuleKind::Event,
        RuleKind::Threshold,
        RuleKind::DistinctCount,
        RuleKind::Sequence,
        RuleKind::FirstSeen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Event => "event",
            RuleKind::Threshold => "threshold",
            RuleKind::DistinctCount => "distinct-count",
            RuleKind::Sequence => "sequence",
            RuleKind::FirstSeen => "first-seen",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a `sequence`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Unique within the rule (`stop`, `modify-user-data`, `start`).
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    /// This step's fields for the rule's `group_by` keys (as many, in the same order), when
    /// they sit elsewhere in its events.
    #[serde(default)]
    pub group_by: Option<Strings>,
    /// The step is satisfied by this many of its events (in order, within the window) before
    /// the next step counts; default 1.
    #[serde(default)]
    pub count: Option<u64>,
    /// The step's event counts only when a field's value differs from the value in the event
    /// that satisfied an earlier step.
    #[serde(default)]
    pub differs_from: Option<DiffersFromSpec>,
    /// With `differs_from`: only the step's first event (after the previous step) decides — one
    /// that does not differ ends the attempt, later ones are not looked at.
    #[serde(default)]
    pub first_only: bool,
}

/// `differs_from:` of a sequence step: `{step: create, field: sourceIPAddress}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiffersFromSpec {
    /// The name of an earlier step.
    pub step: String,
    /// The field compared: its first value in this step's event.
    pub field: String,
    /// The field read in the earlier step's event, when it is not `field`.
    #[serde(default)]
    pub step_field: Option<String>,
}

/// `first_seen:` of a `first-seen` rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSeenRuleSpec {
    /// Whose baseline: fields whose values name the entity (`principal`).
    pub entity: Strings,
    /// What must be new for it: fields whose values, together, are the value
    /// (`requestParameters.documentName`).
    pub value: Strings,
    /// A value unseen this long is forgotten (default `10d`).
    #[serde(default)]
    pub baseline: Option<String>,
    /// Quiet until the baseline is this old (default: `baseline`).
    #[serde(default)]
    pub learning: Option<String>,
    /// `history` (default): the trail watched so far covers `learning`; `entity`: the
    /// entity's own first sighting is that old.
    #[serde(default)]
    pub learn_from: Option<String>,
}

/// One entry of `also:`: another detection of the same rule (same id, title, ATT&CK, tags,
/// exclusions, severity overrides, summary).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlsoSpec {
    /// Unique within the rule; shown in the alert's evidence (`variant`).
    pub name: String,
    pub kind: RuleKind,
    /// Replaces the rule's base severity for this detection.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Which events; default: the rule's `match` (not for `sequence`, which has `steps`).
    #[serde(default, rename = "match")]
    pub matcher: Option<MatchSpec>,
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    #[serde(default)]
    pub group_by: Option<Strings>,
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub threshold: Option<u64>,
    #[serde(default)]
    pub distinct: Option<String>,
    #[serde(default)]
    pub and_distinct: Vec<AndDistinctSpec>,
    #[serde(default)]
    pub first_seen: Option<FirstSeenRuleSpec>,
    #[serde(default)]
    pub dedup: Option<DedupSpec>,
}

/// One entry of `and_distinct:` (a `distinct-count` rule's further counted field).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AndDistinctSpec {
    pub field: String,
    /// Fires only with at least this many distinct values of `field` in the window.
    pub threshold: u64,
}

/// `dedup:` of an `event` rule: one alert per key per window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupSpec {
    /// The fields whose values are the key (`[principal, sourceIPAddress]`).
    pub by: Strings,
    /// `30s`, `15m`, `1h`, `2d`, `1w`.
    pub window: String,
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
    pub check: Checks,
}

/// `check:` — one analyzer or a list; each a name, or a mapping with its parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks(pub Vec<CheckSpec>);

impl Checks {
    pub fn iter(&self) -> impl Iterator<Item = &CheckSpec> {
        self.0.iter()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One analyzer as a rule names it: `policy-public`, or
/// `{name: policy-cross-account, document: requestParameters.policy, known_accounts: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    /// The field holding the policy document (JSON text or an object), instead of the
    /// analyzer's per-event table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// Accounts `policy-cross-account` treats as ours (besides the event's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_accounts: Option<Strings>,
}

struct CheckSpecVisitor;

impl<'de> Visitor<'de> for CheckSpecVisitor {
    type Value = CheckSpec;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an analyzer name, or a mapping with `name` and its parameters")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<CheckSpec, E> {
        Ok(CheckSpec {
            name: v.to_string(),
            ..CheckSpec::default()
        })
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<CheckSpec, A::Error> {
        CheckSpec::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

struct CheckSpecOrName(CheckSpec);

impl<'de> Deserialize<'de> for CheckSpecOrName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckSpecVisitor).map(CheckSpecOrName)
    }
}

struct ChecksVisitor;

impl<'de> Visitor<'de> for ChecksVisitor {
    type Value = Checks;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an analyzer (a name or a mapping) or a list of them")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Checks, E> {
        CheckSpecVisitor.visit_str(v).map(|c| Checks(vec![c]))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Checks, A::Error> {
        CheckSpecVisitor.visit_map(map).map(|c| Checks(vec![c]))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checks, A::Error> {
        let mut out = Vec::new();
        while let Some(CheckSpecOrName(c)) = seq.next_element()? {
            out.push(c);
        }
        Ok(Checks(out))
    }
}

impl<'de> Deserialize<'de> for Checks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChecksVisitor)
    }
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

/// What an `ip` condition asks of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpKind {
    /// Any IPv4 or IPv6 address.
    Any,
    /// An address that is routed on the internet (see [`ip_is_public`]).
    Public,
    /// An address that is not (private, loopback, link-local, shared, unique-local…).
    Private,
}

/// Whether an address is outside the ranges that never come from the internet: `0.0.0.0/8`,
/// `10/8`, `100.64/10` (shared, CGNAT), `127/8`, `169.254/16`, `172.16/12`, `192.168/16`;
/// `::`, `::1`, `fc00::/7` (unique-local), `fe80::/10` (link-local). IPv4-mapped IPv6 addresses
/// are judged as IPv4. Documentation ranges count as public (test data uses them).
pub fn ip_is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(a) => {
            let [x, y, ..] = a.octets();
            !(x == 0
                || x == 10
                || x == 127
                || (x == 100 && (64..128).contains(&y))
                || (x == 169 && y == 254)
                || (x == 172 && (16..32).contains(&y))
                || (x == 192 && y == 168))
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return ip_is_public(IpAddr::V4(v4));
            }
            let first = a.segments()[0];
            !(a.is_unspecified()
                || a.is_loopback()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
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
    /// `true`: some value is a known account — the event's own account (`recipientAccountId`,
    /// else the caller's) or one of the configured `known_accounts` (`[rules]`); `false`: some
    /// value is an account that is not. A value is an account when it is a 12-digit id or an
    /// ARN with an account (`arn:aws:iam::444455556666:role/x`); other values count for neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_account: Option<bool>,
    /// Some value equals some value of this other field of the same event (a typed field,
    /// `account`, `principal`, or a raw path); never holds when either has no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals_field: Option<String>,
    /// Some value differs from every value of this other field — both fields must have a
    /// value (unlike `equals_field` with `not: true`, which holds when either is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals_field: Option<String>,
    /// `true`: some value is one of the deployment's approved regions (`[rules]
    /// approved_regions`, or the rule's own there); `false`: some value is a region that is
    /// not. A rule with such a condition does not run without a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_region: Option<bool>,
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
    /// Some value is an IP address of this kind: `any`, `public` (not private, loopback,
    /// link-local, shared/CGNAT, `0.0.0.0/8`, unique-local or unspecified), `private` (one of
    /// those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpKind>,
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
    /// `*` globs of AWS service principals (`cloudformation.amazonaws.com`,
    /// `*.amazonaws.com`): the call was made by one of them — `userIdentity.invokedBy`, or a
    /// `sourceIPAddress` that is a service host name (or `AWS Internal`) rather than an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<Strings>,
}

/// `test_settings:` — what `[rules]` would give the policy, for its tests.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSettingsSpec {
    /// As `[rules] approved_regions`: what `approved_region` conditions compare with.
    #[serde(default)]
    pub approved_regions: Option<Strings>,
    /// As `[rules] known_accounts` (12-digit ids).
    #[serde(default)]
    pub known_accounts: Option<Strings>,
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
    #[serde(default)]
    pub event: Option<serde_json::Value>,
    /// Several full records (windowed rules), each a mapping or JSON text; results must not
    /// depend on their order.
    #[serde(default)]
    pub events: Option<Vec<serde_json::Value>>,
    /// The exact number of alerts expected (`expect: alert` only).
    #[serde(default)]
    pub count: Option<u64>,
}

impl TestSpec {
    /// The case's records, in the order written.
    pub fn records(&self) -> Vec<&serde_json::Value> {
        match (&self.event, &self.events) {
            (Some(e), _) => vec![e],
            (None, Some(list)) => list.iter().collect(),
            (None, None) => Vec::new(),
        }
    }
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
