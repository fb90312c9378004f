//! Running the test cases written next to each policy (`trailwarden rules test`).

use std::fmt;

use trailwarden_alert::Severity;

use crate::engine::{Engine, EventRef, Overrides, PolicyOverride};
use crate::iplist::IpLists;
use crate::policy::{test_event_json, Policies};
use crate::spec::Expect;

/// The verdict of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Alert(Severity),
    NoAlert,
    /// The case could not run (the event does not parse, the policy cannot be compiled…).
    Error(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Alert(s) => write!(f, "alert ({s})"),
            Verdict::NoAlert => f.write_str("no-alert"),
            Verdict::Error(_) => f.write_str("error"),
        }
    }
}

/// One test case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCaseResult {
    pub policy_id: String,
    /// Where the policy came from (file path or `builtin:NAME.yaml`).
    pub origin: String,
    pub test_name: String,
    pub expect: Expect,
    /// The severity the case expects, when it names one.
    pub expect_severity: Option<Severity>,
    pub got: Verdict,
    pub passed: bool,
}

impl TestCaseResult {
    /// `alert`, `alert (high)` or `no-alert`.
    pub fn expected_text(&self) -> String {
        match (self.expect, self.expect_severity) {
            (Expect::Alert, Some(s)) => format!("alert ({s})"),
            (Expect::Alert, None) => "alert".to_string(),
            (Expect::NoAlert, _) => "no-alert".to_string(),
        }
    }
}

/// The results of [`run_policy_tests`]; `Display` renders the pass/fail table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    pub results: Vec<TestCaseResult>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// True when every case passed (and there was at least one).
    pub fn all_passed(&self) -> bool {
        !self.results.is_empty() && self.failed() == 0
    }

    /// The table as text (same as `to_string()`).
    pub fn render(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = ["POLICY", "TEST", "EXPECTED", "GOT", "RESULT"];
        let rows: Vec<[String; 5]> = self
            .results
            .iter()
            .map(|r| {
                [
                    r.policy_id.clone(),
                    r.test_name.clone(),
                    r.expected_text(),
                    r.got.to_string(),
                    if r.passed { "PASS" } else { "FAIL" }.to_string(),
                ]
            })
            .collect();
        let mut widths = headers.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| -> fmt::Result {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<w$}  "));
                }
            }
            writeln!(f, "{}", text.trim_end())
        };
        line(f, headers)?;
        for (row, r) in rows.iter().zip(&self.results) {
            line(f, row.each_ref().map(String::as_str))?;
            if let Verdict::Error(msg) = &r.got {
                writeln!(f, "    error: {msg}")?;
            }
        }
        writeln!(
            f,
            "{} passed, {} failed, {} total",
            self.passed(),
            self.failed(),
            self.results.len()
        )
    }
}

/// Runs every test case of every policy (disabled policies included).
///
/// Each case's event (YAML mapping or JSON text) becomes JSON text, is parsed by
/// `trailwarden_parse::parse_record`, and is evaluated by an engine holding only that policy.
/// IP lists: the lists the policy declares for its tests (`ip_lists:`) take precedence over
/// `ip_lists` given here.
pub fn run_policy_tests(policies: &Policies, ip_lists: &IpLists) -> TestReport {
    let mut report = TestReport::default();
    for policy in policies {
        let mut lists = ip_lists.clone();
        for name in policy.test_ip_lists().names() {
            if let Some(r) = policy.test_ip_lists().get(name) {
                lists.replace(name, r.clone());
            }
        }
        let mut single = Policies::new();
        let setup = single.add(policy.clone()).and_then(|()| {
            let mut overrides = Overrides::default();
            overrides.policies.insert(
                policy.id().to_string(),
                PolicyOverride {
                    enabled: Some(true),
                    ..PolicyOverride::default()
                },
            );
            Engine::new(&single, &lists, &overrides)
        });
        let engine = match setup {
            Ok(engine) => match engine.disabled().first() {
                Some(d) => Err(format!("policy not runnable: {}", d.reason)),
                None => Ok(engine),
            },
            Err(e) => Err(e.to_string()),
        };
        let mut out = Vec::new();
        for case in policy.tests() {
            let got = match &engine {
                Err(msg) => Verdict::Error(msg.clone()),
                Ok(engine) => {
                    let json = test_event_json(&case.event);
                    match trailwarden_parse::parse_record(json.as_bytes()) {
                        Err(bad) => Verdict::Error(format!("event does not parse: {bad}")),
                        Ok(event) => {
                            out.clear();
                            let origin = format!("policy-test:{}/{}", policy.id(), case.name);
                            engine.evaluate(
                                &event,
                                EventRef {
                                    source_object: &origin,
                                },
                                &mut out,
                            );
                            match out.first() {
                                Some(alert) => Verdict::Alert(alert.severity),
                                None => Verdict::NoAlert,
                            }
                        }
                    }
                }
            };
            let passed = match (&got, case.expect) {
                (Verdict::Alert(s), Expect::Alert) => case.severity.is_none_or(|want| want == *s),
                (Verdict::NoAlert, Expect::NoAlert) => true,
                _ => false,
            };
            report.results.push(TestCaseResult {
                policy_id: policy.id().to_string(),
                origin: policy.origin().to_string(),
                test_name: case.name.clone(),
                expect: case.expect,
                expect_severity: case.severity,
                got,
                passed,
            });
        }
    }
    report
}
