//! Running rule-test files (`trailwarden rules test --sigma DIR`) and the `rules check` report.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use trailwarden_parse::parse_record;

use crate::engine::{index_of, IndexedBy, SigmaEngine, SigmaOptions};
use crate::rules::{SigmaRules, TestCase, TestFile};

/// One test case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaTestResult {
    pub rule_id: String,
    /// The rule's title, when the rule is loaded.
    pub title: Option<String>,
    pub file: PathBuf,
    pub case: String,
    /// `match`, `match (N)` or `no match`.
    pub expected: String,
    /// `match (N)`, `no match`, `error` or `rule not loaded`.
    pub got: String,
    pub passed: bool,
    pub error: Option<String>,
}

/// The results of [`run_rule_tests`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigmaTestReport {
    pub results: Vec<SigmaTestResult>,
    /// Ids of loaded rules that no test file covers.
    pub untested_rules: Vec<String>,
}

impl SigmaTestReport {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// True when there was at least one case and every case passed.
    pub fn all_passed(&self) -> bool {
        !self.results.is_empty() && self.failed() == 0
    }

    /// The table and a summary line.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SigmaTestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = ["RULE", "TEST", "EXPECTED", "GOT", "RESULT"];
        let rows: Vec<[String; 5]> = self
            .results
            .iter()
            .map(|r| {
                [
                    r.rule_id.clone(),
                    r.case.clone(),
                    r.expected.clone(),
                    r.got.clone(),
                    if r.passed { "PASS" } else { "FAIL" }.to_string(),
                ]
            })
            .collect();
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| -> fmt::Result {
            let mut t = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    t.push_str(c);
                } else {
                    let _ = write!(t, "{c:<w$}  ");
                }
            }
            writeln!(f, "{}", t.trim_end())
        };
        line(f, headers)?;
        for (row, r) in rows.iter().zip(&self.results) {
            line(f, row.each_ref().map(String::as_str))?;
            if let Some(e) = &r.error {
                writeln!(f, "    error: {e} ({})", r.file.display())?;
            }
        }
        if !self.untested_rules.is_empty() {
            writeln!(
                f,
                "{} rule(s) without tests: {}",
                self.untested_rules.len(),
                self.untested_rules.join(", ")
            )?;
        }
        writeln!(
            f,
            "{} passed, {} failed ({} cases)",
            self.passed(),
            self.failed(),
            self.results.len()
        )
    }
}

fn run_case(rules: &SigmaRules, rule_id: &str, case: &TestCase) -> Result<u64, String> {
    let mut engine = SigmaEngine::new(rules.clone(), SigmaOptions::replay());
    engine.emit_all_alerts();
    let mut out = Vec::new();
    for (i, text) in case.events.iter().enumerate() {
        let mut e = parse_record(text.as_bytes())
            .map_err(|b| format!("event {} does not parse: {b}", i + 1))?;
        e.record_index = i as u32;
        engine.evaluate(&e, "test", &mut out);
    }
    engine.flush(&mut out);
    Ok(out.iter().filter(|a| a.rule_id == rule_id).count() as u64)
}

fn expected_text(c: &TestCase) -> String {
    match (c.expect_match, c.expect_count) {
        (true, Some(n)) => format!("match ({n})"),
        (true, None) => "match".into(),
        (false, _) => "no match".into(),
    }
}

/// Runs every test file found with the rules ([`SigmaRules::test_files`]) against the real
/// parser (`trailwarden_parse::parse_record`) and a fresh engine per case. A test file for a
/// rule that is not loaded is a failure. Alerts are counted for the tested rule only, and
/// rules referenced by correlations alert here even with `generate: false`.
pub fn run_rule_tests(rules: &SigmaRules) -> SigmaTestReport {
    let mut report = SigmaTestReport::default();
    let mut tested: Vec<&str> = Vec::new();
    let mut files: Vec<&TestFile> = rules.test_files().iter().collect();
    files.sort_by(|a, b| a.rule_id.cmp(&b.rule_id).then(a.file.cmp(&b.file)));
    for tf in files {
        tested.push(&tf.rule_id);
        let title = rules
            .detection_rules()
            .iter()
            .map(|r| &r.meta)
            .chain(rules.correlation_rules().iter().map(|c| &c.meta))
            .find(|m| m.id == tf.rule_id)
            .map(|m| m.title.clone());
        if title.is_none() {
            report.results.push(SigmaTestResult {
                rule_id: tf.rule_id.clone(),
                title: None,
                file: tf.file.clone(),
                case: "*".into(),
                expected: "rule loaded".into(),
                got: "rule not loaded".into(),
                passed: false,
                error: Some(format!(
                    "no loaded rule has id `{}`; pass the rule's directory with --sigma",
                    tf.rule_id
                )),
            });
            continue;
        }
        for case in &tf.cases {
            let (got, passed, error) = match run_case(rules, &tf.rule_id, case) {
                Ok(n) => {
                    let ok = if case.expect_match {
                        n > 0 && case.expect_count.is_none_or(|c| c == n)
                    } else {
                        n == 0
                    };
                    let got = if n == 0 {
                        "no match".to_string()
                    } else {
                        format!("match ({n})")
                    };
                    (got, ok, None)
                }
                Err(e) => ("error".to_string(), false, Some(e)),
            };
            report.results.push(SigmaTestResult {
                rule_id: tf.rule_id.clone(),
                title: title.clone(),
                file: tf.file.clone(),
                case: case.name.clone(),
                expected: expected_text(case),
                got,
                passed,
                error,
            });
        }
    }
    report.untested_rules = rules
        .detection_rules()
        .iter()
        .map(|r| &r.meta)
        .chain(rules.correlation_rules().iter().map(|c| &c.meta))
        .filter(|m| !tested.contains(&m.id.as_str()))
        .map(|m| m.id.clone())
        .collect();
    report
}

/// What `trailwarden rules check --sigma DIR` prints: per rule, where it is, how it is indexed,
/// the fields and modifiers it uses and any warnings; then totals.
pub fn check_report(rules: &SigmaRules) -> String {
    let mut s = String::new();
    let mut warnings = 0usize;
    let mut unindexed = 0usize;
    for r in rules.detection_rules() {
        let m = &r.meta;
        let _ = writeln!(
            s,
            "{} {} [{}] {}:{}",
            m.id,
            m.title,
            m.level.as_deref().unwrap_or("medium"),
            m.file.display(),
            m.line
        );
        let idx = match index_of(r) {
            IndexedBy::EventName(v) => format!("eventName in {}", v.join(", ")),
            IndexedBy::EventSource(v) => format!("eventSource in {}", v.join(", ")),
            IndexedBy::Unindexed => {
                unindexed += 1;
                "none (evaluated for every event)".into()
            }
        };
        let _ = writeln!(s, "    index:     {idx}");
        let _ = writeln!(
            s,
            "    fields:    {}",
            r.usage
                .fields
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !r.usage.modifiers.is_empty() {
            let _ = writeln!(
                s,
                "    modifiers: {}",
                r.usage
                    .modifiers
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if r.usage.keywords {
            let _ = writeln!(
                s,
                "    keywords:  yes (searched in every field and raw member)"
            );
        }
        if !m.mitre.is_empty() {
            let _ = writeln!(s, "    mitre:     {}", m.mitre.join(", "));
        }
        let mut w: Vec<String> = Vec::new();
        for f in &r.usage.absent_fields {
            w.push(format!(
                "field `{f}` is not part of a CloudTrail record as parsed; it never has a value"
            ));
        }
        for i in &r.usage.unused_identifiers {
            w.push(format!(
                "search identifier `{i}` is not used by the condition"
            ));
        }
        w.extend(r.usage.warnings.iter().cloned());
        for x in &w {
            let _ = writeln!(s, "    warning:   {x}");
        }
        warnings += w.len();
    }
    for c in rules.correlation_rules() {
        let m = &c.meta;
        let _ = writeln!(
            s,
            "{} {} [{}] {}:{}",
            m.id,
            m.title,
            m.level.as_deref().unwrap_or("medium"),
            m.file.display(),
            m.line
        );
        let _ = writeln!(
            s,
            "    correlation: {} of [{}] group-by [{}] within {}s, condition {}{}{}",
            c.kind.as_str(),
            c.rules.join(", "),
            c.group_by.join(", "),
            c.timespan_secs,
            if c.condition.describe().is_empty() {
                "all rules".to_string()
            } else {
                c.condition.describe()
            },
            c.condition
                .field
                .as_deref()
                .map(|f| format!(" on {f}"))
                .unwrap_or_default(),
            if c.generate { ", generate" } else { "" }
        );
    }
    let _ = writeln!(
        s,
        "{} detection rule(s), {} correlation rule(s), {} test file(s); {} unindexed, {} warning(s)",
        rules.detection_rules().len(),
        rules.correlation_rules().len(),
        rules.test_files().len(),
        unindexed,
        warnings
    );
    s
}
