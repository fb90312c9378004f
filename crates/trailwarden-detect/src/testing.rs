//! Running the test cases written next to each policy (`trailwarden rules test`).
//!
//! Event rules run here, on [`Engine::evaluate`]. Stateful rules (windows, baselines, dedup)
//! run in the rule-pack runtime, which lives above this crate (`trailwarden-pack`, because the
//! windows are the Sigma correlator's and the baselines the anomaly engine's store): it plugs
//! in as a [`CaseRunner`] through [`run_policy_tests_with`]. Every multi-event case of a
//! stateful rule runs twice, in the order written and reversed, and passes only when both give
//! the same alerts: the windows must not depend on the order files arrive in.

use std::fmt;

use trailwarden_alert::{canonical_order, Alert, Severity};
use trailwarden_parse::Event;

use crate::engine::{Engine, EventRef};
use crate::iplist::IpLists;
use crate::policy::{test_event_json, Policies, Policy};
use crate::spec::Expect;

/// Runs stateful rules' test events: implemented by the rule-pack runtime.
pub trait CaseRunner {
    /// Evaluates `events`, each as its own batch (object `source_object`), in the order given,
    /// with a runtime holding only `policy` (enabled whatever its file says) and the IP lists
    /// `lists`; returns every alert of the rule — its plain event detections' too — including
    /// those released at the end of input.
    fn run(
        &self,
        policy: &Policy,
        lists: &IpLists,
        events: &[Event],
        source_object: &str,
    ) -> Result<Vec<Alert>, String>;
}

/// The verdict of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Exactly one alert, with this severity.
    Alert(Severity),
    /// Several alerts; the severity of the first (canonical order).
    Alerts(u64, Severity),
    NoAlert,
    /// The case could not run (the event does not parse, the policy cannot be compiled…).
    Error(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Alert(s) => write!(f, "alert ({s})"),
            Verdict::Alerts(n, s) => write!(f, "{n} alerts ({s})"),
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
    /// The exact number of alerts the case expects, when it names one.
    pub expect_count: Option<u64>,
    pub got: Verdict,
    pub passed: bool,
}

impl TestCaseResult {
    /// `alert`, `alert (high)`, `3 alerts (high)` or `no-alert`.
    pub fn expected_text(&self) -> String {
        let what = match self.expect_count {
            Some(n) if n != 1 => format!("{n} alerts"),
            _ => "alert".to_string(),
        };
        match (self.expect, self.expect_severity) {
            (Expect::Alert, Some(s)) => format!("{what} ({s})"),
            (Expect::Alert, None) => what,
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

/// Runs every test case of every policy (disabled policies included); stateful rules' cases
/// are errors here (use [`run_policy_tests_with`] and the rule-pack runtime).
///
/// Each case's events (YAML mappings or JSON text) become JSON text, are parsed by
/// `trailwarden_parse::parse_record`, and are evaluated by an engine holding only that policy.
/// IP lists: the lists the policy declares for its tests (`ip_lists:`) take precedence over
/// `ip_lists` given here.
pub fn run_policy_tests(policies: &Policies, ip_lists: &IpLists) -> TestReport {
    run_policy_tests_with(policies, ip_lists, None)
}

/// [`run_policy_tests`], with `runner` running the stateful rules' cases.
pub fn run_policy_tests_with(
    policies: &Policies,
    ip_lists: &IpLists,
    runner: Option<&dyn CaseRunner>,
) -> TestReport {
    let mut report = TestReport::default();
    for policy in policies {
        let mut lists = ip_lists.clone();
        for name in policy.test_ip_lists().names() {
            if let Some(r) = policy.test_ip_lists().get(name) {
                lists.replace(name, r.clone());
            }
        }
        let engine = if policy.needs_runtime() {
            Ok(None)
        } else {
            single_engine(policy, &lists).map(Some)
        };
        for case in policy.tests() {
            let origin = format!("policy-test:{}/{}", policy.id(), case.name);
            let got = match (&engine, parse_events(case.records())) {
                (Err(msg), _) => Verdict::Error(msg.clone()),
                (_, Err(msg)) => Verdict::Error(msg),
                (Ok(Some(engine)), Ok(events)) => {
                    let mut out = Vec::new();
                    for e in &events {
                        engine.evaluate(
                            e,
                            EventRef {
                                source_object: &origin,
                            },
                            &mut out,
                        );
                    }
                    verdict(out)
                }
                (Ok(None), Ok(events)) => match runner {
                    None => Verdict::Error(format!(
                        "`kind: {}` rules run in the rule-pack runtime (trailwarden-pack's run_policy_tests, `trailwarden rules test`)",
                        policy.kind_label()
                    )),
                    Some(r) => run_both_orders(r, policy, &lists, events, &origin),
                },
            };
            let passed = match (&got, case.expect) {
                (Verdict::Alert(s), Expect::Alert) => {
                    case.severity.is_none_or(|want| want == *s) && case.count.is_none_or(|n| n == 1)
                }
                (Verdict::Alerts(n, s), Expect::Alert) => {
                    case.severity.is_none_or(|want| want == *s)
                        && case.count.is_none_or(|want| want == *n)
                }
                (Verdict::NoAlert, Expect::NoAlert) => true,
                _ => false,
            };
            report.results.push(TestCaseResult {
                policy_id: policy.id().to_string(),
                origin: policy.origin().to_string(),
                test_name: case.name.clone(),
                expect: case.expect,
                expect_severity: case.severity,
                expect_count: case.count,
                got,
                passed,
            });
        }
    }
    report
}

/// An engine holding only `policy`, enabled; an error when it cannot run.
fn single_engine(policy: &Policy, lists: &IpLists) -> Result<Engine, String> {
    let mut single = Policies::new();
    single.add(policy.clone()).map_err(|e| e.to_string())?;
    let engine =
        Engine::new(&single, lists, &policy.test_overrides()).map_err(|e| e.to_string())?;
    match engine.disabled().first() {
        Some(d) => Err(format!("policy not runnable: {}", d.reason)),
        None => Ok(engine),
    }
}

/// The case's records parsed; `record_index` numbers them, so records without an `eventID`
/// still have distinct alert ids.
fn parse_events(records: Vec<&serde_json::Value>) -> Result<Vec<Event>, String> {
    let mut events = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        let json = test_event_json(r);
        match trailwarden_parse::parse_record(json.as_bytes()) {
            Ok(mut e) => {
                e.record_index = u32::try_from(i).unwrap_or(u32::MAX);
                events.push(e);
            }
            Err(bad) if i == 0 => return Err(format!("event does not parse: {bad}")),
            Err(bad) => return Err(format!("event {i} does not parse: {bad}")),
        }
    }
    Ok(events)
}

fn verdict(mut alerts: Vec<Alert>) -> Verdict {
    canonical_order(&mut alerts);
    match alerts.as_slice() {
        [] => Verdict::NoAlert,
        [one] => Verdict::Alert(one.severity),
        [first, ..] => Verdict::Alerts(alerts.len() as u64, first.severity),
    }
}

/// Runs a stateful case as written and reversed; both must give the same alerts.
fn run_both_orders(
    runner: &dyn CaseRunner,
    policy: &Policy,
    lists: &IpLists,
    events: Vec<Event>,
    origin: &str,
) -> Verdict {
    let forward = match runner.run(policy, lists, &events, origin) {
        Ok(a) => a,
        Err(e) => return Verdict::Error(e),
    };
    if events.len() > 1 {
        let mut reversed = events;
        reversed.reverse();
        match runner.run(policy, lists, &reversed, origin) {
            Ok(back) => {
                let ids = |v: &[Alert]| {
                    let mut ids: Vec<String> = v.iter().map(|a| a.id.clone()).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                };
                if ids(&forward) != ids(&back) {
                    return Verdict::Error(format!(
                        "alerts depend on the order of the events: {} in the order written, {} reversed",
                        forward.len(),
                        back.len()
                    ));
                }
            }
            Err(e) => return Verdict::Error(e),
        }
    }
    verdict(forward)
}
