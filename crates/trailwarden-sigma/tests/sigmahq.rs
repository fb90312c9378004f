//! Every SigmaHQ CloudTrail rule loads and runs, and passes our own positive and negative test
//! events (`testdata/sigma/<rule-id>.yaml`). Skipped with a printed reason when the SigmaHQ data
//! is absent, unless `CI` is set.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use trailwarden_pipeline::Detector;
use trailwarden_sigma::{check_report, run_rule_tests, SigmaEngine, SigmaOptions, SigmaRules};

#[test]
fn all_57_cloudtrail_rules_load_and_pass_their_tests() {
    let Some(data) = shared_sigma() else { return };
    let rules_dir = data.join("rules/cloud/aws/cloudtrail");
    let tests_dir = repo_root().join("testdata/sigma");
    let rules = SigmaRules::load_dirs(&[rules_dir.clone(), tests_dir]).unwrap();
    let sigmahq: Vec<_> = rules
        .detection_rules()
        .iter()
        .filter(|r| r.meta.file.starts_with(&rules_dir))
        .collect();
    assert_eq!(
        sigmahq.len(),
        57,
        "expected the 57 SigmaHQ CloudTrail rules"
    );

    // One test file per SigmaHQ rule, with positives (unless the rule can never match on
    // CloudTrail, which the file must say) and negatives.
    let ids: BTreeSet<&str> = sigmahq.iter().map(|r| r.meta.id.as_str()).collect();
    let tested: BTreeSet<&str> = rules
        .test_files()
        .iter()
        .map(|t| t.rule_id.as_str())
        .collect();
    assert_eq!(
        ids, tested,
        "every rule has exactly the test files it needs"
    );
    for t in rules.test_files() {
        let pos = t.cases.iter().filter(|c| c.expect_match).count();
        let neg = t.cases.len() - pos;
        assert!(neg >= 1, "{}: needs a negative case", t.rule_id);
        if t.never_matches.is_none() {
            assert!(pos >= 1, "{}: needs a positive case", t.rule_id);
        }
    }

    let report = run_rule_tests(&rules);
    println!("{}", report.render());
    assert!(report.all_passed(), "{}", report.render());
    assert!(report.results.len() >= 57 * 2);

    let check = check_report(&rules);
    assert!(check.contains("field `status` is not part of a CloudTrail record"));
    assert!(check.contains("did you mean `|fieldref`?"));
}

#[test]
fn legacy_threshold_rules_are_refused_with_file_line_and_feature() {
    let Some(data) = shared_sigma() else { return };
    let err = SigmaRules::load_dirs(&[data.join("unsupported")]).unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 8, "{err}");
    for p in problems {
        assert!(p.line > 0, "{p}");
        assert!(p.rule.is_some(), "{p}");
        assert!(p.message.contains("unsupported feature"), "{p}");
        assert!(p.file.to_string_lossy().ends_with(".yml"), "{p}");
    }
    let text = err.to_string();
    assert!(
        text.contains(
            "aws_macic_evasion.yml:30: rule `AWS Macie Evasion`: unsupported feature `timeframe`"
        ),
        "{text}"
    );
}

#[test]
fn sigmahq_rules_fire_on_their_positive_events_through_the_detector() {
    let Some(data) = shared_sigma() else { return };
    let rules = SigmaRules::load_dirs(&[
        data.join("rules/cloud/aws/cloudtrail"),
        repo_root().join("testdata/sigma"),
    ])
    .unwrap();
    // Every positive event of every test file in one object, through the pipeline trait.
    let mut events = Vec::new();
    let mut expected: Vec<(String, String)> = Vec::new();
    for t in rules.test_files() {
        for c in t.cases.iter().filter(|c| c.expect_match) {
            for e in &c.events {
                let mut ev = trailwarden_parse::parse_record(e.as_bytes()).unwrap();
                ev.record_index = events.len() as u32;
                expected.push((t.rule_id.clone(), ev.event_id.clone().unwrap()));
                events.push(ev);
            }
        }
    }
    let mut engine = SigmaEngine::new(rules.clone(), SigmaOptions::replay());
    let alerts = run(&mut engine, &[batch("AWSLogs/obj.json.gz", events)]);
    for (rule, event_id) in &expected {
        let a = alerts
            .iter()
            .find(|a| &a.rule_id == rule && a.event_ids == [event_id.clone()])
            .unwrap_or_else(|| panic!("no alert of {rule} for {event_id}"));
        assert_eq!(
            a.id,
            trailwarden_alert::alert_id(rule, &[&format!("event:{event_id}")])
        );
        assert_eq!(a.count, 1);
        assert!(a.evidence.contains_key("sigma"));
    }
    // Severity and ATT&CK mapping of one known rule.
    let root = alerts
        .iter()
        .find(|a| a.rule_id == "8ad1600d-e9dc-4251-b0ee-a65268f29add")
        .unwrap();
    assert_eq!(root.severity, trailwarden_alert::Severity::Medium);
    assert_eq!(root.mitre, ["T1078.004"]);
    assert_eq!(root.title, "AWS Root Credentials");
    let stats = engine.stats();
    assert!(stats.rule_evaluations < stats.events * 57 / 4, "{stats:?}");
    let mut sink = Vec::new();
    engine.finish(&mut sink);
    assert!(sink.is_empty());
}
