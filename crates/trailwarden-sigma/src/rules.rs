//! Loading Sigma files: detection rules, correlation rules and our rule-test files.
//!
//! Every document is interpreted strictly: a rule that uses something this engine does not
//! support is refused with `file:line`, the rule and the feature, never skipped.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use trailwarden_alert::Severity;

use crate::detection::{compile_detection, Expr, Usage};
use crate::yaml::{parse_documents, Node, Value};

/// One problem found while loading rules: where, which rule, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// The rule's title (or id) when known.
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(r) = &self.rule {
            write!(f, "rule `{r}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in Sigma rules:\n{}", .0.len(), render_problems(.0))]
    Rules(Vec<RuleProblem>),
}

fn render_problems(p: &[RuleProblem]) -> String {
    p.iter()
        .map(|x| format!("  {x}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl SigmaError {
    /// The individual problems (empty for IO errors).
    pub fn problems(&self) -> &[RuleProblem] {
        match self {
            SigmaError::Rules(p) => p,
            SigmaError::Io { .. } => &[],
        }
    }
}

/// The metadata every rule has.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    /// The Sigma `id` (the alert's `rule_id`); the `name` when the rule has no id.
    pub id: String,
    /// The Sigma `name` (used to refer to the rule from correlations).
    pub name: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub status: Option<String>,
    /// The Sigma `level` as written.
    pub level: Option<String>,
    pub severity: Severity,
    pub tags: Vec<String>,
    /// ATT&CK techniques from the tags (`attack.t1078.004` → `T1078.004`).
    pub mitre: Vec<String>,
    pub file: PathBuf,
    pub line: u32,
}

/// A detection rule, compiled.
#[derive(Debug, Clone)]
pub struct DetectionRule {
    pub meta: RuleMeta,
    pub(crate) expr: Expr,
    pub(crate) usage: Usage,
    pub(crate) logsource: BTreeMap<String, String>,
}

/// The correlation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    ValueSum,
    ValueAvg,
    Temporal,
    TemporalOrdered,
}

impl CorrelationType {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
        }
    }
}

/// A correlation condition: every bound given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrelationCondition {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub eq: Option<f64>,
    pub neq: Option<f64>,
    /// The field of `value_count` / `value_sum` / `value_avg`.
    pub field: Option<String>,
}

impl CorrelationCondition {
    pub fn holds(&self, x: f64) -> bool {
        self.gt.is_none_or(|v| x > v)
            && self.gte.is_none_or(|v| x >= v)
            && self.lt.is_none_or(|v| x < v)
            && self.lte.is_none_or(|v| x <= v)
            && self.eq.is_none_or(|v| x == v)
            && self.neq.is_none_or(|v| x != v)
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (op, v) in [
            (">", self.gt),
            (">=", self.gte),
            ("<", self.lt),
            ("<=", self.lte),
            ("==", self.eq),
            ("!=", self.neq),
        ] {
            if let Some(v) = v {
                parts.push(format!("{op} {v}"));
            }
        }
        parts.join(" and ")
    }
}

/// A correlation rule as written (references resolved by the engine).
#[derive(Debug, Clone)]
pub struct CorrelationRule {
    pub meta: RuleMeta,
    pub kind: CorrelationType,
    /// The referenced rules, by name or id, as written.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_secs: u64,
    pub condition: CorrelationCondition,
    /// alias → (rule name or id → field).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub generate: bool,
}

/// One test case of a rule-test file.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// `true`: the rule must fire; `false`: it must not.
    pub expect_match: bool,
    /// Exact number of alerts of the rule expected (correlations), when given.
    pub expect_count: Option<u64>,
    /// The CloudTrail records, as JSON text, in order.
    pub events: Vec<String>,
    pub line: u32,
}

/// A file of test cases for one rule (`testdata/sigma/<rule-id>.yaml`).
#[derive(Debug, Clone)]
pub struct TestFile {
    pub rule_id: String,
    pub file: PathBuf,
    /// Why the rule can never fire on CloudTrail, when its test file says so (then it has only
    /// negative cases).
    pub never_matches: Option<String>,
    pub cases: Vec<TestCase>,
}

/// A set of loaded, compiled Sigma rules (and the rule-test files found beside them).
#[derive(Debug, Clone, Default)]
pub struct SigmaRules {
    pub(crate) detections: Vec<DetectionRule>,
    pub(crate) correlations: Vec<CorrelationRule>,
    pub(crate) tests: Vec<TestFile>,
}

fn level_severity(level: Option<&str>) -> Option<Severity> {
    match level.map(str::to_ascii_lowercase).as_deref() {
        None => Some(Severity::Medium),
        Some("informational") | Some("info") => Some(Severity::Info),
        Some("low") => Some(Severity::Low),
        Some("medium") => Some(Severity::Medium),
        Some("high") => Some(Severity::High),
        Some("critical") => Some(Severity::Critical),
        Some(_) => None,
    }
}

/// `attack.t1078.004` → `T1078.004`; other tags → `None`.
pub fn mitre_technique(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("attack.")?;
    let t = rest.strip_prefix('t').or_else(|| rest.strip_prefix('T'))?;
    let (main, sub) = match t.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (t, None),
    };
    if main.len() != 4 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match sub {
        None => Some(format!("T{main}")),
        Some(s) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("T{main}.{s}"))
        }
        Some(_) => None,
    }
}

/// Parses `30s`, `5m`, `1h`, `2d`, `1w` into seconds.
pub fn parse_timespan(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s.get(..s.len() - unit.len_utf8())?.trim().parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

struct Loader<'a> {
    file: &'a Path,
    problems: Vec<RuleProblem>,
}

impl Loader<'_> {
    fn problem(&mut self, line: u32, rule: Option<&str>, message: impl Into<String>) {
        self.problems.push(RuleProblem {
            file: self.file.to_path_buf(),
            line,
            rule: rule.map(str::to_string),
            message: message.into(),
        });
    }
}

fn str_list(n: &Node) -> Result<Vec<String>, (u32, String)> {
    match &n.value {
        Value::Seq(items) => items
            .iter()
            .map(|i| {
                i.scalar_text()
                    .ok_or((i.line, "expected a list of strings".into()))
            })
            .collect(),
        _ => n
            .scalar_text()
            .map(|s| vec![s])
            .ok_or((n.line, "expected a string or a list of strings".into())),
    }
}

fn meta(doc: &Node, file: &Path) -> Result<RuleMeta, (u32, Option<String>, String)> {
    let text = |k: &str| doc.get(k).and_then(Node::scalar_text);
    let title = text("title");
    let label = title.clone().or_else(|| text("id"));
    let Some(title) = title else {
        return Err((doc.line, label, "the rule has no `title`".into()));
    };
    let id = match text("id").or_else(|| text("name")) {
        Some(id) => id,
        None => {
            return Err((
                doc.line,
                Some(title),
                "the rule has neither `id` nor `name` (an alert needs a stable rule id)".into(),
            ))
        }
    };
    let level = text("level");
    let Some(severity) = level_severity(level.as_deref()) else {
        let line = doc.get("level").map_or(doc.line, |n| n.line);
        return Err((
            line,
            Some(title),
            format!(
                "unknown level `{}` (informational, low, medium, high, critical)",
                level.unwrap_or_default()
            ),
        ));
    };
    let tags = match doc.get("tags") {
        Some(n) => str_list(n).map_err(|(l, m)| (l, Some(title.clone()), format!("tags: {m}")))?,
        None => Vec::new(),
    };
    let mut mitre: Vec<String> = Vec::new();
    for t in &tags {
        if let Some(m) = mitre_technique(t) {
            if !mitre.contains(&m) {
                mitre.push(m);
            }
        }
    }
    Ok(RuleMeta {
        id,
        name: text("name"),
        title,
        description: text("description"),
        status: text("status"),
        level,
        severity,
        tags,
        mitre,
        file: file.to_path_buf(),
        line: doc.line,
    })
}

fn parse_correlation(
    doc: &Node,
    corr: &Node,
    m: RuleMeta,
) -> Result<CorrelationRule, (u32, String)> {
    let get = |k: &str| corr.get(k);
    let Value::Map(_) = corr.value else {
        return Err((corr.line, "`correlation` must be a map".into()));
    };
    if let Value::Map(entries) = &corr.value {
        for (k, _) in entries {
            let key = k.scalar_text().unwrap_or_default();
            if !matches!(
                key.as_str(),
                "type"
                    | "rules"
                    | "group-by"
                    | "timespan"
                    | "timeframe"
                    | "condition"
                    | "aliases"
                    | "generate"
            ) {
                return Err((k.line, format!("unknown correlation key `{key}`")));
            }
        }
    }
    let tnode = get("type").ok_or((corr.line, "correlation has no `type`".to_string()))?;
    let kind = match tnode.as_str().unwrap_or("") {
        "event_count" => CorrelationType::EventCount,
        "value_count" => CorrelationType::ValueCount,
        "value_sum" => CorrelationType::ValueSum,
        "value_avg" => CorrelationType::ValueAvg,
        "temporal" => CorrelationType::Temporal,
        "temporal_ordered" => CorrelationType::TemporalOrdered,
        "value_percentile" => {
            return Err((
                tnode.line,
                "unsupported feature `value_percentile` (correlation type)".into(),
            ))
        }
        other => return Err((tnode.line, format!("unknown correlation type `{other}`"))),
    };
    let rules = match get("rules") {
        Some(n) => str_list(n)?,
        None => return Err((corr.line, "correlation has no `rules`".into())),
    };
    if rules.is_empty() {
        return Err((corr.line, "correlation `rules` is empty".into()));
    }
    let group_by = match get("group-by") {
        Some(n) => str_list(n)?,
        None => Vec::new(),
    };
    let ts_node = get("timespan")
        .or_else(|| get("timeframe"))
        .ok_or((corr.line, "correlation has no `timespan`".to_string()))?;
    let ts_text = ts_node.scalar_text().unwrap_or_default();
    let timespan_secs = parse_timespan(&ts_text).ok_or((
        ts_node.line,
        format!("bad timespan `{ts_text}` (a number and s, m, h, d or w)"),
    ))?;
    let mut condition = CorrelationCondition::default();
    match get("condition") {
        Some(c) => {
            let Value::Map(entries) = &c.value else {
                return Err((c.line, "correlation `condition` must be a map".into()));
            };
            for (k, v) in entries {
                let key = k.scalar_text().unwrap_or_default();
                if key == "field" {
                    condition.field = v.scalar_text();
                    continue;
                }
                let n = match &v.value {
                    Value::Int(i) => *i as f64,
                    Value::Float(f) => *f,
                    _ => return Err((v.line, format!("`{key}` needs a number"))),
                };
                let slot = match key.as_str() {
                    "gt" => &mut condition.gt,
                    "gte" => &mut condition.gte,
                    "lt" => &mut condition.lt,
                    "lte" => &mut condition.lte,
                    "eq" => &mut condition.eq,
                    "neq" => &mut condition.neq,
                    other => return Err((k.line, format!("unknown condition operator `{other}`"))),
                };
                *slot = Some(n);
            }
        }
        None => {
            if !matches!(
                kind,
                CorrelationType::Temporal | CorrelationType::TemporalOrdered
            ) {
                return Err((
                    corr.line,
                    format!("a {} correlation needs a `condition`", kind.as_str()),
                ));
            }
        }
    }
    let needs_field = matches!(
        kind,
        CorrelationType::ValueCount | CorrelationType::ValueSum | CorrelationType::ValueAvg
    );
    if needs_field && condition.field.is_none() {
        return Err((
            corr.line,
            format!("a {} condition needs `field`", kind.as_str()),
        ));
    }
    let mut aliases = BTreeMap::new();
    if let Some(a) = get("aliases") {
        let Value::Map(entries) = &a.value else {
            return Err((a.line, "`aliases` must be a map".into()));
        };
        for (k, v) in entries {
            let alias = k.scalar_text().unwrap_or_default();
            let Value::Map(map) = &v.value else {
                return Err((
                    v.line,
                    format!("alias `{alias}` must map rule names to fields"),
                ));
            };
            let mut per = BTreeMap::new();
            for (r, f) in map {
                per.insert(
                    r.scalar_text().unwrap_or_default(),
                    f.scalar_text()
                        .ok_or((f.line, "an alias maps to a field name".to_string()))?,
                );
            }
            aliases.insert(alias, per);
        }
    }
    // `generate` is in the correlation section (v2.1); older drafts had it at the top level.
    let generate = match get("generate").or_else(|| doc.get("generate")) {
        Some(Node {
            value: Value::Bool(b),
            ..
        }) => *b,
        Some(n) => return Err((n.line, "`generate` must be true or false".into())),
        None => false,
    };
    Ok(CorrelationRule {
        meta: m,
        kind,
        rules,
        group_by,
        timespan_secs,
        condition,
        aliases,
        generate,
    })
}

fn parse_tests(doc: &Node) -> Result<TestFile, (u32, String)> {
    let rule_id = doc
        .get("rule_id")
        .and_then(Node::scalar_text)
        .ok_or((doc.line, "a test file needs `rule_id`".to_string()))?;
    let never_matches = doc.get("never_matches").and_then(Node::scalar_text);
    let Some(Node {
        value: Value::Seq(items),
        ..
    }) = doc.get("tests")
    else {
        return Err((doc.line, "`tests` must be a list".into()));
    };
    let mut cases = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let name = t
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_else(|| format!("case {}", i + 1));
        let expect = t
            .get("expect")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let expect_match = match expect.as_str() {
            "match" => true,
            "no_match" | "no-match" => false,
            other => {
                return Err((
                    t.line,
                    format!("test `{name}`: expect must be `match` or `no_match`, not `{other}`"),
                ))
            }
        };
        let expect_count = match t.get("count") {
            Some(Node {
                value: Value::Int(n),
                ..
            }) if *n >= 0 => Some(*n as u64),
            Some(n) => return Err((n.line, "`count` must be a non-negative integer".into())),
            None => None,
        };
        let mut events = Vec::new();
        let mut add = |n: &Node| -> Result<(), (u32, String)> {
            let v = to_json(n);
            if !v.is_object() {
                return Err((n.line, format!("test `{name}`: an event must be a map")));
            }
            events.push(v.to_string());
            Ok(())
        };
        match (t.get("event"), t.get("events")) {
            (Some(e), None) => add(e)?,
            (
                None,
                Some(Node {
                    value: Value::Seq(list),
                    ..
                }),
            ) => {
                for e in list {
                    add(e)?;
                }
            }
            _ => {
                return Err((
                    t.line,
                    format!("test `{name}`: give either `event` (a map) or `events` (a list)"),
                ))
            }
        }
        cases.push(TestCase {
            name,
            expect_match,
            expect_count,
            events,
            line: t.line,
        });
    }
    Ok(TestFile {
        rule_id,
        file: PathBuf::new(),
        never_matches,
        cases,
    })
}

/// A YAML node as JSON (test events).
pub(crate) fn to_json(n: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &n.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.scalar_text().unwrap_or_default(), to_json(v)))
                .collect(),
        ),
    }
}

const LEGACY_ACTIONS: &str = "unsupported feature `action` (legacy rule collections with `action: global/reset/repeat`): write one complete rule per document";

impl SigmaRules {
    /// Loads every `*.yml` / `*.yaml` file under each path (a directory, walked recursively in
    /// name order, or a single file). Files are Sigma detection rules, correlation rules, or our
    /// rule-test files (`rule_id` + `tests`). Every problem is reported (`file:line`), none
    /// skipped.
    pub fn load_dirs(paths: &[PathBuf]) -> Result<SigmaRules, SigmaError> {
        let mut files = Vec::new();
        for p in paths {
            collect_files(p, &mut files)?;
        }
        let mut sources = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| SigmaError::Io {
                path: f.clone(),
                source,
            })?;
            sources.push((f, text));
        }
        SigmaRules::from_sources(&sources)
    }

    /// Loads rules from in-memory texts, each with the path it is reported under.
    pub fn from_sources(sources: &[(PathBuf, String)]) -> Result<SigmaRules, SigmaError> {
        let mut rules = SigmaRules::default();
        let mut problems = Vec::new();
        for (path, text) in sources {
            let mut l = Loader {
                file: path,
                problems: Vec::new(),
            };
            rules.add_text(&mut l, text);
            problems.extend(l.problems);
        }
        // Unique ids.
        let mut seen: HashMap<String, (PathBuf, u32)> = HashMap::new();
        let metas = rules
            .detections
            .iter()
            .map(|r| &r.meta)
            .chain(rules.correlations.iter().map(|c| &c.meta));
        for m in metas {
            if let Some((f, l)) = seen.get(&m.id) {
                problems.push(RuleProblem {
                    file: m.file.clone(),
                    line: m.line,
                    rule: Some(m.title.clone()),
                    message: format!("duplicate rule id `{}` (also in {}:{l})", m.id, f.display()),
                });
            } else {
                seen.insert(m.id.clone(), (m.file.clone(), m.line));
            }
        }
        if let Err(mut p) = crate::engine::resolve_correlations(&rules) {
            problems.append(&mut p);
        }
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(SigmaError::Rules(problems))
        }
    }

    fn add_text(&mut self, l: &mut Loader<'_>, text: &str) {
        let docs = match parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                l.problem(e.line, None, format!("invalid YAML: {}", e.message));
                return;
            }
        };
        for doc in docs {
            if matches!(doc.value, Value::Null) {
                continue; // an empty document (a trailing `---`)
            }
            if !matches!(doc.value, Value::Map(_)) {
                l.problem(doc.line, None, "a Sigma document must be a map");
                continue;
            }
            if let Some(a) = doc.get("action") {
                l.problem(a.line, None, LEGACY_ACTIONS);
                continue;
            }
            if doc.get("tests").is_some() && doc.get("rule_id").is_some() {
                match parse_tests(&doc) {
                    Ok(mut t) => {
                        t.file = l.file.to_path_buf();
                        self.tests.push(t);
                    }
                    Err((line, m)) => l.problem(line, None, m),
                }
                continue;
            }
            let m = match meta(&doc, l.file) {
                Ok(m) => m,
                Err((line, rule, msg)) => {
                    l.problem(line, rule.as_deref(), msg);
                    continue;
                }
            };
            match (doc.get("detection"), doc.get("correlation")) {
                (Some(det), None) => {
                    let mut logsource = BTreeMap::new();
                    if let Some(Node {
                        value: Value::Map(entries),
                        ..
                    }) = doc.get("logsource")
                    {
                        for (k, v) in entries {
                            if let (Some(k), Some(v)) = (k.scalar_text(), v.scalar_text()) {
                                logsource.insert(k, v);
                            }
                        }
                    }
                    let product = logsource.get("product").map(String::as_str);
                    let service = logsource.get("service").map(String::as_str);
                    if product.is_some_and(|p| p != "aws")
                        || service.is_some_and(|s| s != "cloudtrail")
                    {
                        let line = doc.get("logsource").map_or(doc.line, |n| n.line);
                        l.problem(
                            line,
                            Some(&m.title),
                            format!(
                                "unsupported feature `logsource` {}/{}: only product aws, service cloudtrail",
                                product.unwrap_or("-"),
                                service.unwrap_or("-")
                            ),
                        );
                        continue;
                    }
                    if let Some(c) = logsource.get("category") {
                        let line = doc.get("logsource").map_or(doc.line, |n| n.line);
                        l.problem(
                            line,
                            Some(&m.title),
                            format!("unsupported feature `logsource.category: {c}`"),
                        );
                        continue;
                    }
                    match compile_detection(det) {
                        Ok((expr, usage)) => self.detections.push(DetectionRule {
                            meta: m,
                            expr,
                            usage,
                            logsource,
                        }),
                        Err(e) => l.problem(e.line, Some(&m.title), e.message),
                    }
                }
                (None, Some(corr)) => match parse_correlation(&doc, corr, m.clone()) {
                    Ok(c) => self.correlations.push(c),
                    Err((line, msg)) => l.problem(line, Some(&m.title), msg),
                },
                (Some(_), Some(_)) => l.problem(
                    doc.line,
                    Some(&m.title),
                    "a rule has either `detection` or `correlation`, not both",
                ),
                (None, None) => l.problem(
                    doc.line,
                    Some(&m.title),
                    "not a Sigma rule: no `detection` or `correlation`",
                ),
            }
        }
    }

    /// Adds the rules and tests of `other`. Unlike one [`SigmaRules::load_dirs`] call over all
    /// paths, this does not re-check id uniqueness or correlation references across the two.
    pub fn extend(&mut self, other: SigmaRules) {
        self.detections.extend(other.detections);
        self.correlations.extend(other.correlations);
        self.tests.extend(other.tests);
    }

    /// Keeps only the rules for which `keep` returns true (for example rules disabled by
    /// configuration). Correlations that lose a referenced rule are dropped too, and
    /// reported in the returned list of removed rule ids.
    pub fn retain(&mut self, mut keep: impl FnMut(&RuleMeta) -> bool) -> Vec<String> {
        let mut removed: Vec<String> = Vec::new();
        self.detections.retain(|r| {
            let k = keep(&r.meta);
            if !k {
                removed.push(r.meta.id.clone());
            }
            k
        });
        self.correlations.retain(|c| {
            let k = keep(&c.meta);
            if !k {
                removed.push(c.meta.id.clone());
            }
            k
        });
        // Drop correlations whose references no longer resolve (repeat for chains).
        loop {
            let before = self.correlations.len();
            let snapshot = self.clone();
            self.correlations.retain(|c| {
                let ok = c.rules.iter().all(|r| {
                    snapshot
                        .detections
                        .iter()
                        .map(|d| &d.meta)
                        .chain(snapshot.correlations.iter().map(|x| &x.meta))
                        .any(|m| &m.id == r || m.name.as_deref() == Some(r.as_str()))
                });
                if !ok {
                    removed.push(c.meta.id.clone());
                }
                ok
            });
            if self.correlations.len() == before {
                break;
            }
        }
        removed
    }

    pub fn detection_rules(&self) -> &[DetectionRule] {
        &self.detections
    }

    pub fn correlation_rules(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    pub fn test_files(&self) -> &[TestFile] {
        &self.tests
    }

    /// Number of rules (detection + correlation).
    pub fn len(&self) -> usize {
        self.detections.len() + self.correlations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let meta = std::fs::metadata(p).map_err(|source| SigmaError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let rd = std::fs::read_dir(p).map_err(|source| SigmaError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = Vec::new();
    for e in rd {
        let e = e.map_err(|source| SigmaError::Io {
            path: p.to_path_buf(),
            source,
        })?;
        entries.push(e.path());
    }
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_files(&e, out)?;
        } else if e
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x == "yml" || x == "yaml")
        {
            out.push(e);
        }
    }
    Ok(())
}

impl DetectionRule {
    /// The rule's `logsource` (scalar entries).
    pub fn logsource(&self) -> &BTreeMap<String, String> {
        &self.logsource
    }

    /// The fields the rule reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.usage.fields.iter().map(String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mitre_tags() {
        assert_eq!(mitre_technique("attack.t1078.004").unwrap(), "T1078.004");
        assert_eq!(mitre_technique("attack.t1098").unwrap(), "T1098");
        assert!(mitre_technique("attack.persistence").is_none());
        assert!(mitre_technique("attack.t10").is_none());
        assert!(mitre_technique("cve.2021.1").is_none());
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("10m"), Some(600));
        assert_eq!(parse_timespan("1h"), Some(3600));
        assert_eq!(parse_timespan("30s"), Some(30));
        assert_eq!(parse_timespan("2d"), Some(172_800));
        assert_eq!(parse_timespan("0m"), None);
        assert_eq!(parse_timespan("m"), None);
        assert_eq!(parse_timespan("5y"), None);
        assert_eq!(parse_timespan("é"), None);
    }
}
