//! Crate-level tests: loading and its errors, the engine end to end, the built-in pack, and a
//! property test that evaluation never panics.

use super::*;
use crate::catalogue::tactic_info;
use crate::policy::test_event_json;
use proptest::prelude::*;
use serde_json::{json, Value};
use trailwarden_parse::{Event, IdentityType};

const SEED_IDS: [&str; 11] = [
    "console-signin-failures",
    "cloudtrail-config-change",
    "ec2-instance-config-change",
    "iam-policy-change",
    "risky-ip-logon",
    "network-acl-change",
    "network-gateway-change",
    "s3-bucket-config-change",
    "security-group-change",
    "vpc-change",
    "s3-bucket-public",
];

fn risky() -> IpLists {
    let mut lists = IpLists::new();
    lists
        .add_text("risky", "risky.txt", "203.0.113.0/24\n2001:db8:bad::/48\n")
        .unwrap();
    lists
}

fn origin() -> EventRef<'static> {
    EventRef {
        source_object: "bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/02/x.json.gz",
    }
}

/// The eleven seed policies (`policies/`), without the rule pack (`rules/`), whose set grows.
fn seed() -> Policies {
    let mut out = Policies::new();
    for p in Policies::builtin().unwrap().iter() {
        if p.origin().starts_with("builtin:policies/") {
            out.add(p.clone()).unwrap();
        }
    }
    out
}

fn policy(yaml: &str) -> Result<Policy, DetectError> {
    Policy::from_yaml("test.yaml", yaml)
}

fn policies(yamls: &[&str]) -> Policies {
    let mut ps = Policies::new();
    for y in yamls {
        ps.add(policy(y).unwrap()).unwrap();
    }
    ps
}

fn eval(engine: &Engine, e: &Event) -> Vec<Alert> {
    let mut out = Vec::new();
    engine.evaluate(e, origin(), &mut out);
    out
}

fn ev(source: &str, name: &str) -> Event {
    Event {
        event_time: 1_714_644_672_000_000,
        event_source: source.into(),
        event_name: name.into(),
        event_id: Some("e-1".into()),
        aws_region: Some("us-east-1".into()),
        recipient_account_id: Some("111122223333".into()),
        source_ip_address: Some("198.51.100.23".into()),
        source_ip: "198.51.100.23".parse().ok(),
        ..Event::default()
    }
}

const MINIMAL: &str = r#"
id: minimal
title: Minimal
description: d
severity: low
mitre: [T1098]
match:
  event_source: iam.amazonaws.com
  event_name: [AttachUserPolicy, "Put*Policy"]
"#;

// ---------------------------------------------------------------- the built-in pack

#[test]
fn builtins_load_and_pass_their_tests() {
    // Event rules pass here; stateful rules need the rule-pack runtime, which lives above this
    // crate — their cases are errors that say so (trailwarden-pack's tests run them all).
    let policies = Policies::builtin().unwrap();
    let report = run_policy_tests(&policies, &IpLists::new());
    let mut stateful_cases = 0;
    for r in &report.results {
        let p = policies.get(&r.policy_id).unwrap();
        if p.needs_runtime() {
            stateful_cases += 1;
            match &r.got {
                Verdict::Error(msg) => assert!(msg.contains("rule-pack runtime"), "{msg}"),
                other => panic!("{}: {other:?}", r.policy_id),
            }
        } else {
            assert!(
                r.passed,
                "{}/{}: {:?}\n{report}",
                r.policy_id, r.test_name, r.got
            );
        }
    }
    assert!(stateful_cases >= 4, "{stateful_cases}");
    assert!(report.results.len() >= 44, "{}", report.results.len());
}

#[test]
fn builtin_pack_is_the_seed_contract() {
    let policies = Policies::builtin().unwrap();
    // The seed policies are the files under `policies/`; the rule pack under `rules/` adds to
    // them and never redefines one.
    let mut ids: Vec<&str> = policies
        .iter()
        .filter(|p| p.origin().starts_with("builtin:policies/"))
        .map(Policy::id)
        .collect();
    ids.sort_unstable();
    let mut seed = SEED_IDS.to_vec();
    seed.sort_unstable();
    assert_eq!(ids, seed);
    let mut has_exclude_test = false;
    for p in &policies {
        let pos = p
            .tests()
            .iter()
            .filter(|t| t.expect == Expect::Alert)
            .count();
        let neg = p.tests().len() - pos;
        // Seed policies: two of each; pack rules: at least a positive and a near miss.
        let min = if p.origin().starts_with("builtin:policies/") {
            2
        } else {
            1
        };
        assert!(
            pos >= min && neg >= min,
            "{}: {pos} positive, {neg} negative",
            p.id()
        );
        assert!(p.enabled(), "{}", p.id());
        assert!(!p.description().trim().is_empty());
        if !p.spec().exclude.is_empty() {
            has_exclude_test |= p.tests().iter().any(|t| t.name.contains("exclude"));
        }
    }
    assert!(has_exclude_test, "an example exclude with a test");
    assert_eq!(
        policies.get("s3-bucket-public").unwrap().severity(),
        Severity::High
    );
    assert_eq!(
        policies.get("risky-ip-logon").unwrap().required_ip_lists(),
        ["risky"]
    );
}

#[test]
fn every_policy_file_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| format!("policies/{n}"))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = builtin_files()
        .filter(|n| n.starts_with("policies/"))
        .map(str::to_string)
        .collect();
    embedded.sort();
    assert_eq!(on_disk, embedded);
    // And the directory loads the same way users' directories do.
    let loaded = Policies::load_dir(&dir).unwrap();
    assert_eq!(loaded.len(), SEED_IDS.len());
}

#[test]
fn builtin_engine_without_lists_disables_only_risky_ip_logon() {
    let engine = Engine::new(&seed(), &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(engine.disabled().len(), 1);
    let d = &engine.disabled()[0];
    assert_eq!(d.id, "risky-ip-logon");
    assert!(
        d.reason.contains("`risky`") && d.reason.contains("risky=FILE"),
        "{}",
        d.reason
    );
    assert_eq!(engine.active_ids().count(), 10);
    let engine = Engine::new(&seed(), &risky(), &Overrides::default()).unwrap();
    assert!(engine.disabled().is_empty());
}

fn builtin_case(policy_id: &str, test_name: &str) -> Event {
    let ps = Policies::builtin().unwrap();
    let p = ps.get(policy_id).unwrap();
    let t = p.tests().iter().find(|t| t.name == test_name).unwrap();
    trailwarden_parse::parse_record(test_event_json(t.records()[0]).as_bytes()).unwrap()
}

#[test]
fn alert_fields_from_a_builtin_case() {
    let engine = Engine::new(&seed(), &risky(), &Overrides::default()).unwrap();
    let e = builtin_case("console-signin-failures", "root password failure");
    let alerts = eval(&engine, &e);
    // 203.0.113.9 is in the risky list too: both policies fire.
    let ids: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(ids, ["console-signin-failures", "risky-ip-logon"]);
    let a = &alerts[0];
    assert_eq!(a.schema_version, 1);
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.mitre, ["T1110"]);
    assert_eq!(a.account.as_deref(), Some("111122223333"));
    assert_eq!(a.region.as_deref(), Some("us-east-1"));
    assert_eq!(a.principal_type.as_deref(), Some("Root"));
    assert_eq!(a.source_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(a.first_event_time, "2024-03-04T08:15:02Z");
    assert_eq!(a.last_event_time, a.first_event_time);
    assert_eq!(a.event_ids, ["5f1a3f0e-6a3b-4c2e-9d1f-0c7b2a9e4d11"]);
    assert_eq!(a.count, 1);
    assert_eq!(
        a.id,
        trailwarden_alert::alert_id(
            "console-signin-failures",
            &["event:5f1a3f0e-6a3b-4c2e-9d1f-0c7b2a9e4d11"]
        )
    );
    assert!(
        a.summary.starts_with("Root console sign-in failed for ")
            && a.summary.ends_with(" from 203.0.113.9"),
        "{}",
        a.summary
    );
    assert_eq!(a.evidence["eventName"], "ConsoleLogin");
    assert_eq!(a.evidence["errorCode"], Value::Null);
    assert_eq!(
        a.evidence["matched"]["responseElements.ConsoleLogin"],
        "Failure"
    );
    assert_eq!(
        a.evidence["severity_reason"],
        json!(["userIdentity.type equals \"Root\""])
    );
    // Same event, same alerts (ids included).
    assert_eq!(eval(&engine, &e), alerts);
}

#[test]
fn s3_public_evidence_says_why() {
    let engine = Engine::new(&seed(), &risky(), &Overrides::default()).unwrap();
    let e = builtin_case("s3-bucket-public", "canned public-read acl");
    let alerts = eval(&engine, &e);
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(rules, ["s3-bucket-config-change", "s3-bucket-public"]);
    let a = &alerts[1];
    assert_eq!(a.evidence["grant"], "AllUsers READ");
    assert_eq!(a.evidence["check"], "s3_public_acl");
    assert!(
        a.summary
            .contains("bucket acme-reports ACL grants AllUsers READ"),
        "{}",
        a.summary
    );
    let e = builtin_case(
        "s3-bucket-public",
        "bucket public access block policy flags off",
    );
    let a = eval(&engine, &e).pop().unwrap();
    assert_eq!(
        a.evidence["flags_off"],
        json!(["BlockPublicPolicy=false", "RestrictPublicBuckets=false"])
    );
}

// ---------------------------------------------------------------- loading errors

#[test]
fn unknown_keys_are_errors_with_the_file_name() {
    let cases = [
        (MINIMAL.replace("severity: low", "severity: low\nseverty: high"), "severty"),
        (
            MINIMAL.replace("  event_source:", "  eventsource: x\n  event_source:"),
            "eventsource",
        ),
        (
            format!("{MINIMAL}  where:\n    - field: eventName\n      equal: X\n"),
            "equal",
        ),
        (
            format!("{MINIMAL}exclude:\n  - principals: \"*\"\n"),
            "principals",
        ),
        (
            format!("{MINIMAL}tests:\n  - name: t\n    expect: alert\n    event: {{}}\n    sevrity: high\n"),
            "sevrity",
        ),
    ];
    for (yaml, key) in cases {
        let err = policy(&yaml).unwrap_err().to_string();
        assert!(err.starts_with("policy file test.yaml:"), "{err}");
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn invalid_values_are_errors() {
    let bad = [
        (MINIMAL.replace("severity: low", "severity: severe"), "severe"),
        (MINIMAL.replace("id: minimal", "id: Not_Kebab"), "kebab-case"),
        (MINIMAL.replace("[T1098]", "[TA0001]"), "technique"),
        (MINIMAL.replace("[T1098]", "[]"), "mitre"),
        (
            MINIMAL.replace("iam.amazonaws.com", "\"*.amazonaws.com\""),
            "no globs",
        ),
        (
            format!("{MINIMAL}  where:\n    - field: requestParameter.x\n      exists: true\n"),
            "match.where[0]: unknown field `requestParameter.x`",
        ),
        (
            format!("{MINIMAL}  where:\n    - field: eventName\n      equals: X\n      contains: Y\n"),
            "several operators",
        ),
        (format!("{MINIMAL}  check: s3_everything\n"), "unknown analyzer"),
        (
            format!("{MINIMAL}  outcome: maybe\n"),
            "maybe",
        ),
        (
            format!("{MINIMAL}summary: \"{{nope}}\"\n"),
            "summary placeholder",
        ),
        (format!("{MINIMAL}summary: \"{{eventName\"\n"), "unclosed"),
        (
            format!("{MINIMAL}severity_overrides:\n  - when: []\n    severity: high\n"),
            "when",
        ),
        (format!("{MINIMAL}exclude:\n  - {{}}\n"), "at least one"),
        (
            format!("{MINIMAL}ip_lists:\n  risky: [\"300.1.1.1\"]\n"),
            "ip_lists.risky:1",
        ),
        (
            format!("{MINIMAL}tests:\n  - name: a\n    expect: alert\n    event: {{}}\n  - name: a\n    expect: alert\n    event: {{}}\n"),
            "duplicate test name",
        ),
        (
            format!("{MINIMAL}tests:\n  - name: a\n    expect: maybe\n    event: {{}}\n"),
            "maybe",
        ),
        (
            format!("{MINIMAL}tests:\n  - name: a\n    expect: alert\n    event: [1]\n"),
            "CloudTrail record",
        ),
        ("id: x\n".to_string(), "title"),
        ("- not a mapping\n".to_string(), "test.yaml"),
    ];
    for (yaml, needle) in bad {
        let err = policy(&yaml).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
}

#[test]
fn duplicate_ids_are_errors() {
    let mut ps = Policies::new();
    ps.add(Policy::from_yaml("a.yaml", MINIMAL).unwrap())
        .unwrap();
    let err = ps
        .add(Policy::from_yaml("b.yaml", MINIMAL).unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "duplicate policy id `minimal` in b.yaml (first defined in a.yaml)"
    );
    // A user policy reusing a built-in id.
    let mut builtin = Policies::builtin().unwrap();
    let clash = MINIMAL.replace("id: minimal", "id: vpc-change");
    let mut user = Policies::new();
    user.add(Policy::from_yaml("mine.yaml", &clash).unwrap())
        .unwrap();
    let err = builtin.extend(user).unwrap_err().to_string();
    assert!(
        err.contains("builtin:policies/vpc-change.yaml") && err.contains("mine.yaml"),
        "{err}"
    );
}

#[test]
fn load_dir_reads_yaml_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        MINIMAL.replace("minimal", "b-policy"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        MINIMAL.replace("minimal", "a-policy"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a policy").unwrap();
    std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
    let ps = Policies::load_dir(dir.path()).unwrap();
    let ids: Vec<&str> = ps.iter().map(Policy::id).collect();
    assert_eq!(ids, ["a-policy", "b-policy"]);
    assert!(ps.get("a-policy").unwrap().origin().ends_with("a.yaml"));

    std::fs::write(
        dir.path().join("c.yaml"),
        MINIMAL.replace("minimal", "a-policy"),
    )
    .unwrap();
    let err = Policies::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("duplicate policy id `a-policy`") && err.contains("c.yaml"),
        "{err}"
    );

    std::fs::write(dir.path().join("c.yaml"), "id: [").unwrap();
    let err = Policies::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("c.yaml"), "{err}");

    let missing = Policies::load_dir(&dir.path().join("nope")).unwrap_err();
    assert!(matches!(missing, DetectError::Io { .. }));
}

// ---------------------------------------------------------------- the engine

#[test]
fn index_exact_and_glob_names_without_duplicates() {
    let ps = policies(&[MINIMAL]);
    let engine = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "AttachUserPolicy")).len(),
        1
    );
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "PutRolePolicy")).len(),
        1
    );
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "PutRolePolicyX")).len(),
        0
    );
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "DeleteRolePolicy")).len(),
        0
    );
    assert_eq!(
        eval(&engine, &ev("s3.amazonaws.com", "PutRolePolicy")).len(),
        0
    );
    // A name matched both exactly and by a glob fires once.
    let both = MINIMAL.replace("\"Put*Policy\"", "\"Attach*\"");
    let engine = Engine::new(&policies(&[&both]), &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "AttachUserPolicy")).len(),
        1
    );
    // No event_name: every name of the source.
    let any = MINIMAL.replace("  event_name: [AttachUserPolicy, \"Put*Policy\"]\n", "");
    let engine = Engine::new(&policies(&[&any]), &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(eval(&engine, &ev("iam.amazonaws.com", "Anything")).len(), 1);
}

#[test]
fn remembered_candidates_match_as_the_first_lookup_did() {
    // Each (source, name) pair's candidates are computed once, then remembered: the second
    // and later events of a pair, and pairs beyond the memo's bound, fire as the first did.
    let ps = policies(&[MINIMAL]);
    let engine = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    let cases = [
        ("iam.amazonaws.com", "AttachUserPolicy", 1),
        ("iam.amazonaws.com", "PutRolePolicy", 1),
        ("iam.amazonaws.com", "PutGroupPolicy", 1),
        ("iam.amazonaws.com", "DeleteRolePolicy", 0),
        ("s3.amazonaws.com", "PutRolePolicy", 0),
    ];
    for round in 0..3 {
        for (source, name, n) in cases {
            assert_eq!(eval(&engine, &ev(source, name)).len(), n, "{round} {name}");
        }
        // Fill the memo past its bound with names no rule has.
        for i in 0..10_000 {
            assert!(eval(
                &engine,
                &ev("iam.amazonaws.com", &format!("Get{round}x{i}"))
            )
            .is_empty());
        }
    }
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "PutBrandNewPolicy")).len(),
        1
    );
    // A name too long to remember is matched each time.
    let long = format!("Put{}Policy", "x".repeat(200));
    for _ in 0..2 {
        assert_eq!(eval(&engine, &ev("iam.amazonaws.com", &long)).len(), 1);
    }
}

#[test]
fn repeated_sources_and_names_fire_once() {
    let y = MINIMAL
        .replace(
            "event_source: iam.amazonaws.com",
            "event_source: [iam.amazonaws.com, iam.amazonaws.com]",
        )
        .replace(
            "\"Put*Policy\"]",
            "\"Put*Policy\", \"Put*Policy\", AttachUserPolicy]",
        );
    let engine = Engine::new(&policies(&[&y]), &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "PutUserPolicy")).len(),
        1
    );
    assert_eq!(
        eval(&engine, &ev("iam.amazonaws.com", "AttachUserPolicy")).len(),
        1
    );
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<Policies>();
    assert_send_sync::<IpLists>();
}

#[test]
fn outcomes() {
    let failed = |mut e: Event| {
        e.error_code = Some("AccessDenied".into());
        e
    };
    let base = ev("iam.amazonaws.com", "AttachUserPolicy");
    for (outcome, ok, bad) in [("success", 1, 0), ("failure", 0, 1), ("any", 1, 1)] {
        let y = format!("{MINIMAL}  outcome: {outcome}\n");
        let engine = Engine::new(&policies(&[&y]), &IpLists::new(), &Overrides::default()).unwrap();
        assert_eq!(eval(&engine, &base).len(), ok, "{outcome}");
        assert_eq!(eval(&engine, &failed(base.clone())).len(), bad, "{outcome}");
    }
}

#[test]
fn ids_without_event_id_use_object_and_index() {
    let engine = Engine::new(
        &policies(&[MINIMAL]),
        &IpLists::new(),
        &Overrides::default(),
    )
    .unwrap();
    let mut e = ev("iam.amazonaws.com", "AttachUserPolicy");
    e.event_id = None;
    e.record_index = 7;
    let mut a = Vec::new();
    engine.evaluate(
        &e,
        EventRef {
            source_object: "b/k1.json.gz",
        },
        &mut a,
    );
    engine.evaluate(
        &e,
        EventRef {
            source_object: "b/k2.json.gz",
        },
        &mut a,
    );
    assert_eq!(a[0].event_ids, ["b/k1.json.gz#7"]);
    assert_eq!(
        a[0].id,
        trailwarden_alert::alert_id("minimal", &["object:b/k1.json.gz#7"])
    );
    assert_ne!(a[0].id, a[1].id);
    // With an eventID the object does not matter.
    e.event_id = Some("abc".into());
    let mut b = Vec::new();
    engine.evaluate(
        &e,
        EventRef {
            source_object: "b/k1.json.gz",
        },
        &mut b,
    );
    engine.evaluate(
        &e,
        EventRef {
            source_object: "b/k2.json.gz",
        },
        &mut b,
    );
    assert_eq!(b[0].id, b[1].id);
}

#[test]
fn insights_events_are_skipped() {
    let engine = Engine::new(
        &policies(&[MINIMAL]),
        &IpLists::new(),
        &Overrides::default(),
    )
    .unwrap();
    let mut e = ev("iam.amazonaws.com", "AttachUserPolicy");
    e.event_type = Some("AwsCloudTrailInsight".into());
    assert!(eval(&engine, &e).is_empty());
}

#[test]
fn severity_overrides_first_match_wins() {
    let y = format!(
        "{MINIMAL}severity_overrides:\n  - when:\n      - field: userIdentity.type\n        equals: Root\n    severity: critical\n  - when:\n      - field: eventName\n        starts_with: Attach\n    severity: high\n"
    );
    let engine = Engine::new(&policies(&[&y]), &IpLists::new(), &Overrides::default()).unwrap();
    let mut e = ev("iam.amazonaws.com", "AttachUserPolicy");
    assert_eq!(eval(&engine, &e)[0].severity, Severity::High);
    e.identity.kind = IdentityType::Root;
    assert_eq!(eval(&engine, &e)[0].severity, Severity::Critical);
    e.event_name = "PutUserPolicy".into();
    e.identity.kind = IdentityType::IamUser;
    assert_eq!(eval(&engine, &e)[0].severity, Severity::Low);
}

#[test]
fn overrides_disable_reseverity_and_exclude() {
    let ps = policies(&[MINIMAL]);
    let err = Engine::new(
        &ps,
        &IpLists::new(),
        &Overrides {
            policies: [("nope".to_string(), PolicyOverride::default())].into(),
            ..Overrides::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "override names unknown policy `nope`");

    let off = Overrides {
        policies: [(
            "minimal".to_string(),
            PolicyOverride {
                enabled: Some(false),
                ..PolicyOverride::default()
            },
        )]
        .into(),
        ..Overrides::default()
    };
    let engine = Engine::new(&ps, &IpLists::new(), &off).unwrap();
    assert_eq!(engine.disabled()[0].reason, "disabled by configuration");
    assert!(eval(&engine, &ev("iam.amazonaws.com", "AttachUserPolicy")).is_empty());

    // The config format (TOML in the binary; JSON here) with a global scanner exclusion.
    let ov: Overrides = serde_json::from_value(json!({
        "exclude": [{"principal": "*:role/SecurityAuditScanner", "read_only": true}],
        "policies": {"minimal": {"severity": "high", "exclude": [{"user_agent": "terraform"}]}}
    }))
    .unwrap();
    let engine = Engine::new(&ps, &IpLists::new(), &ov).unwrap();
    let mut e = ev("iam.amazonaws.com", "AttachUserPolicy");
    assert_eq!(eval(&engine, &e)[0].severity, Severity::High);
    e.identity.principal = Some("111122223333:role/SecurityAuditScanner".into());
    assert_eq!(eval(&engine, &e).len(), 1, "not read-only: still alerts");
    e.read_only = Some(true);
    assert!(eval(&engine, &e).is_empty());
    e.identity.principal = None;
    e.user_agent = Some("APN/1.0 HashiCorp/1.0 Terraform/1.7.4".into());
    assert!(eval(&engine, &e).is_empty());
    assert!(serde_json::from_value::<Overrides>(json!({"exclud": []})).is_err());

    let bad = Overrides {
        exclude: vec![ExclusionSpec::default()],
        ..Overrides::default()
    };
    assert!(matches!(
        Engine::new(&ps, &IpLists::new(), &bad),
        Err(DetectError::Override { .. })
    ));
}

#[test]
fn disabled_in_file_is_reported_and_overridable() {
    let y = MINIMAL.replace("severity: low", "severity: low\nenabled: false");
    let ps = policies(&[&y]);
    let engine = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    assert!(engine.disabled()[0].reason.contains("enabled: false"));
    let on = Overrides {
        policies: [(
            "minimal".to_string(),
            PolicyOverride {
                enabled: Some(true),
                ..PolicyOverride::default()
            },
        )]
        .into(),
        ..Overrides::default()
    };
    let engine = Engine::new(&ps, &IpLists::new(), &on).unwrap();
    assert!(engine.disabled().is_empty());
}

#[test]
fn in_ip_list_in_where_and_in_overrides() {
    let y = format!(
        "{MINIMAL}  where:\n    - field: sourceIPAddress\n      in_ip_list: risky\nseverity_overrides:\n  - when:\n      - field: sourceIPAddress\n        in_ip_list: tor\n    severity: critical\n"
    );
    let ps = policies(&[&y]);
    assert_eq!(
        ps.get("minimal").unwrap().required_ip_lists(),
        ["risky", "tor"]
    );
    let mut lists = risky();
    let engine = Engine::new(&ps, &lists, &Overrides::default()).unwrap();
    assert!(engine.disabled()[0].reason.contains("`tor`"));
    lists
        .add_text("tor", "tor.txt", "203.0.113.128/25")
        .unwrap();
    let engine = Engine::new(&ps, &lists, &Overrides::default()).unwrap();
    let mut e = ev("iam.amazonaws.com", "AttachUserPolicy");
    assert!(eval(&engine, &e).is_empty());
    for (ip, sev) in [
        ("203.0.113.5", Severity::Low),
        ("203.0.113.200", Severity::Critical),
    ] {
        e.source_ip_address = Some(ip.into());
        e.source_ip = ip.parse().ok();
        let a = eval(&engine, &e);
        assert_eq!(a[0].severity, sev, "{ip}");
        assert_eq!(a[0].evidence["matched"]["sourceIPAddress"], ip);
    }
}

#[test]
fn summary_templates() {
    let y = format!(
        "{MINIMAL}summary: \"{{{{{{title}}}}}} {{requestParameters.userName|'nobody'}} {{userIdentity.userName|principal}}\"\n"
    );
    let engine = Engine::new(&policies(&[&y]), &IpLists::new(), &Overrides::default()).unwrap();
    let mut e = ev("iam.amazonaws.com", "AttachUserPolicy");
    assert_eq!(eval(&engine, &e)[0].summary, "{Minimal} nobody unknown");
    e.request_parameters = Some(r#"{"userName":"bob"}"#.into());
    e.identity.principal = Some("111122223333:user/alice".into());
    assert_eq!(
        eval(&engine, &e)[0].summary,
        "{Minimal} bob 111122223333:user/alice"
    );
    // The default template.
    let engine = Engine::new(
        &policies(&[MINIMAL]),
        &IpLists::new(),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        eval(&engine, &e)[0].summary,
        "Minimal: AttachUserPolicy by 111122223333:user/alice in account 111122223333 from 198.51.100.23"
    );
}

// ---------------------------------------------------------------- policy tests and report

#[test]
fn policy_tests_report_failures_and_errors() {
    let y = format!(
        r#"{MINIMAL}tests:
  - name: fires
    expect: alert
    severity: low
    event: '{{"eventVersion":"1.09","eventTime":"2024-05-02T10:11:12Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","eventID":"x"}}'
  - name: wrong severity
    expect: alert
    severity: high
    event: {{"eventTime": "2024-05-02T10:11:12Z", "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy"}}
  - name: wrong verdict
    expect: no-alert
    event: {{"eventTime": "2024-05-02T10:11:12Z", "eventSource": "iam.amazonaws.com", "eventName": "PutUserPolicy"}}
  - name: broken event
    expect: alert
    event: {{"eventSource": "iam.amazonaws.com"}}
"#
    );
    let report = run_policy_tests(&policies(&[&y]), &IpLists::new());
    let verdicts: Vec<(bool, String)> = report
        .results
        .iter()
        .map(|r| (r.passed, r.got.to_string()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (true, "alert (low)".to_string()),
            (false, "alert (low)".to_string()),
            (false, "alert (low)".to_string()),
            (false, "error".to_string()),
        ]
    );
    assert_eq!((report.passed(), report.failed()), (1, 3));
    assert!(!report.all_passed());
    let table = report.render();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("POLICY") && lines[0].ends_with("RESULT"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("minimal") && lines[1].ends_with("PASS"),
        "{table}"
    );
    assert!(
        lines[2].contains("alert (high)") && lines[2].ends_with("FAIL"),
        "{table}"
    );
    assert!(table.contains("error: event does not parse"), "{table}");
    assert!(table.ends_with("1 passed, 3 failed, 4 total\n"), "{table}");
    assert!(!TestReport::default().all_passed());
}

#[test]
fn policy_tests_use_their_own_ip_lists_and_run_disabled_policies() {
    let y = format!(
        r#"{MINIMAL}enabled: false
  where:
    - field: sourceIPAddress
      in_ip_list: risky
ip_lists:
  risky: [192.0.2.0/24]
tests:
  - name: listed
    expect: alert
    event: {{"eventTime": "2024-05-02T10:11:12Z", "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy", "sourceIPAddress": "192.0.2.1"}}
  - name: not listed
    expect: no-alert
    event: {{"eventTime": "2024-05-02T10:11:12Z", "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy", "sourceIPAddress": "203.0.113.1"}}
"#
    )
    .replace("severity: low\n", "severity: low\n")
    .replacen("enabled: false\n  where:", "  where:", 1)
    .replace("severity: low\nmitre", "severity: low\nenabled: false\nmitre");
    let ps = policies(&[&y]);
    // The caller's `risky` list is replaced by the policy's own for its tests.
    let report = run_policy_tests(&ps, &risky());
    assert!(report.all_passed(), "{report}");
    // Without declared lists and without given ones, the cases cannot run.
    let no_lists = y.replace("ip_lists:\n  risky: [192.0.2.0/24]\n", "");
    let report = run_policy_tests(&policies(&[&no_lists]), &IpLists::new());
    assert_eq!(report.failed(), 2);
    assert!(
        report.render().contains("needs IP list `risky`"),
        "{report}"
    );
}

// ---------------------------------------------------------------- never panics

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("x-amz-acl".to_string()),
        Just("x-amz-grant-read".to_string()),
        Just("AccessControlPolicy".to_string()),
        Just("AccessControlList".to_string()),
        Just("Grant".to_string()),
        Just("Grantee".to_string()),
        Just("URI".to_string()),
        Just("Permission".to_string()),
        Just("bucketPolicy".to_string()),
        Just("bucketName".to_string()),
        Just("Statement".to_string()),
        Just("Effect".to_string()),
        Just("Principal".to_string()),
        Just("NotPrincipal".to_string()),
        Just("AWS".to_string()),
        Just("Condition".to_string()),
        Just("PublicAccessBlockConfiguration".to_string()),
        Just("BlockPublicAcls".to_string()),
        Just("RestrictPublicBuckets".to_string()),
        Just("ConsoleLogin".to_string()),
        Just("userData".to_string()),
        Just("attribute".to_string()),
        "\\PC{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("*".to_string()),
            Just("Allow".to_string()),
            Just("false".to_string()),
            Just("public-read".to_string()),
            Just("Failure".to_string()),
            Just("http://acs.amazonaws.com/groups/global/AllUsers".to_string()),
            Just("uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers".to_string()),
            "\\PC{0,12}",
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            // A nested document as JSON text (bucketPolicy arrives both ways).
            any::<u8>().prop_map(|_| Value::String(
                "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\"}}".into()
            )),
        ]
    })
}

fn raw_field() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        json_value().prop_map(|v| Some(v.to_string())),
        ".{0,40}".prop_map(Some),
    ]
}

fn event_name() -> impl Strategy<Value = (String, String)> {
    let policies = Policies::builtin().unwrap();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for p in &policies {
        let matchers = p
            .spec()
            .matcher
            .iter()
            .chain(p.spec().steps.iter().map(|s| &s.matcher));
        for m in matchers {
            for source in m.event_source.iter() {
                for n in m.event_name.iter().flat_map(|s| s.iter()) {
                    pairs.push((source.clone(), n.clone()));
                }
            }
        }
    }
    pairs.push(("s3.amazonaws.com".into(), "".into()));
    pairs.push(("".into(), "ConsoleLogin".into()));
    prop::sample::select(pairs)
}

/// The built-in pack with a risky list and global exclusions, built once for all cases.
fn fuzz_engine() -> Option<&'static Engine> {
    static ENGINE: std::sync::OnceLock<Option<Engine>> = std::sync::OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let policies = Policies::builtin().ok()?;
            let mut lists = IpLists::new();
            lists.add_text("risky", "t", "203.0.113.0/24").ok()?;
            let overrides: Overrides = serde_json::from_value(json!({
                "exclude": [{"principal": "*:role/Scanner*", "read_only": true}, {"source_ip": ["10.0.0.0/8"]}]
            }))
            .ok()?;
            Engine::new(&policies, &lists, &overrides).ok()
        })
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn evaluate_never_panics(
        (source, name) in event_name(),
        time in any::<i64>(),
        ip in prop_oneof![Just(None), Just(Some("203.0.113.9".to_string())), ".{0,20}".prop_map(Some)],
        error in prop_oneof![Just(None), Just(Some(String::new())), ".{0,10}".prop_map(Some)],
        ident in prop_oneof![Just(IdentityType::Root), Just(IdentityType::Missing), ".{0,8}".prop_map(IdentityType::Other)],
        text in prop::collection::vec(prop_oneof![Just(None), ".{0,30}".prop_map(Some)], 6),
        request in raw_field(),
        response in raw_field(),
        extra in raw_field(),
        read_only in any::<Option<bool>>(),
        index in any::<u32>(),
    ) {
        let Some(engine) = fuzz_engine() else {
            return Err(TestCaseError::fail("engine"));
        };
        let mut e = Event {
            event_time: time,
            event_source: source,
            event_name: name,
            source_ip: ip.as_deref().and_then(|s| s.parse().ok()),
            source_ip_address: ip,
            error_code: error,
            read_only,
            request_parameters: request,
            response_elements: response,
            additional_event_data: extra,
            record_index: index,
            ..Event::default()
        };
        e.identity.kind = ident;
        e.event_id = text[0].clone();
        e.user_agent = text[1].clone();
        e.aws_region = text[2].clone();
        e.identity.principal = text[3].clone();
        e.identity.arn = text[4].clone();
        e.recipient_account_id = text[5].clone();
        let mut out = Vec::new();
        engine.evaluate(&e, EventRef { source_object: "o" }, &mut out);
        for a in &out {
            prop_assert!(!a.id.is_empty() && !a.summary.is_empty());
            let line = a.to_json_line();
            prop_assert!(line.starts_with(r#"{"schema_version":1,"#), "{}", line);
        }
    }
}

#[test]
fn the_documented_example_loads_and_passes() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies.md");
    let text = std::fs::read_to_string(docs).unwrap();
    let start = text.find("## Example\n\n```yaml\n").unwrap() + "## Example\n\n```yaml\n".len();
    let len = text[start..].find("```").unwrap();
    let p = Policy::from_yaml("docs/policies.md", &text[start..start + len]).unwrap();
    assert_eq!(p.id(), "iam-admin-attached");
    let report = run_policy_tests(&policies_from(p), &IpLists::new());
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.results.len(), 2);
}

fn policies_from(p: Policy) -> Policies {
    let mut ps = Policies::new();
    ps.add(p).unwrap();
    ps
}

#[test]
fn the_documented_overrides_parse_from_toml() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies.md");
    let text = std::fs::read_to_string(docs).unwrap();
    let start = text.find("```toml\n").unwrap() + "```toml\n".len();
    let len = text[start..].find("```").unwrap();
    #[derive(serde::Deserialize)]
    struct Config {
        detect: Overrides,
    }
    let cfg: Config = toml::from_str(&text[start..start + len]).unwrap();
    let engine = Engine::new(&seed(), &risky(), &cfg.detect).unwrap();
    assert_eq!(engine.disabled()[0].id, "vpc-change");
    assert_eq!(cfg.detect.exclude.len(), 1);
    assert_eq!(
        cfg.detect.policies["iam-policy-change"].severity,
        Some(Severity::High)
    );
}

// ---------------------------------------------------------------- JSON-in-string fields, policy analyzers

const TRUST_RULE: &str = r#"
id: trust-opened
title: Trust opened
description: d
severity: high
mitre: [T1098.003]
match:
  event_source: iam.amazonaws.com
  event_name: [UpdateAssumeRolePolicy, CreateRole]
  check:
    - policy-public
    - name: policy-cross-account
      known_accounts: ["777788889999"]
    - request-parameters-omitted
summary: "{title}: {check}"
"#;

fn trust_event(name: &str, params: Value) -> Event {
    Event {
        request_parameters: Some(params.to_string()),
        ..ev("iam.amazonaws.com", name)
    }
}

#[test]
fn policy_analyzers_in_a_rule() {
    let engine = Engine::new(
        &policies(&[TRUST_RULE]),
        &IpLists::new(),
        &Overrides::default(),
    )
    .unwrap();
    let doc = |p: Value| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"}]})
            .to_string()
    };
    let a = eval(
        &engine,
        &trust_event(
            "UpdateAssumeRolePolicy",
            json!({"roleName": "r", "policyDocument": doc(json!({"AWS": "arn:aws:iam::444455556666:root"}))}),
        ),
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].evidence["check"], "policy-cross-account");
    assert_eq!(a[0].evidence["accounts"], json!(["444455556666"]));
    assert!(a[0].summary.contains("444455556666"), "{}", a[0].summary);
    // The known account is not "other".
    let a = eval(
        &engine,
        &trust_event(
            "CreateRole",
            json!({"roleName": "r", "assumeRolePolicyDocument": doc(json!({"AWS": "777788889999"}))}),
        ),
    );
    assert!(a.is_empty());
    let a = eval(
        &engine,
        &trust_event(
            "CreateRole",
            json!({"roleName": "r", "assumeRolePolicyDocument": doc(json!("*"))}),
        ),
    );
    assert_eq!(a[0].evidence["check"], "policy-public");
    // Omitted parameters fail closed.
    let a = eval(
        &engine,
        &trust_event(
            "UpdateAssumeRolePolicy",
            json!({"reason": "requestParameters too large", "omitted": true}),
        ),
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].evidence["omitted"], true);
}

#[test]
fn check_parameters_are_validated() {
    let with = |check: &str| {
        TRUST_RULE.replace(
        "  check:\n    - policy-public\n    - name: policy-cross-account\n      known_accounts: [\"777788889999\"]\n    - request-parameters-omitted\n",
        check,
    )
    };
    for (bad, msg) in [
        ("  check: policy-everything\n", "unknown analyzer"),
        (
            "  check: {name: s3_public_acl, document: requestParameters.x}\n",
            "takes no parameters",
        ),
        (
            "  check: {name: policy-public, document: eventName}\n",
            "not a path into a raw field",
        ),
        (
            "  check: {name: policy-public, known_accounts: [\"12\"]}\n",
            "12-digit",
        ),
        (
            "  check: {name: policy-public, documnet: requestParameters.x}\n",
            "documnet",
        ),
    ] {
        let e = policy(&with(bad)).unwrap_err().to_string();
        assert!(e.contains(msg), "{bad}: {e}");
    }
    let p = policy(&with(
        "  check: {name: policy_admin, document: requestParameters.doc}\n",
    ))
    .unwrap();
    assert_eq!(
        p.spec().matcher.as_ref().unwrap().check.0[0].name,
        "policy_admin"
    );
}

#[test]
fn json_paths_in_conditions() {
    let rule = r#"
id: inline-star
title: Inline star
description: d
severity: high
mitre: [T1098.003]
match:
  event_source: iam.amazonaws.com
  event_name: PutRolePolicy
  where:
    - field: requestParameters.policyDocument.@json.Statement.Action
      equals: "*"
    - field: requestParameters.policyDocument.@json.Statement.Effect
      equals: Allow
"#;
    let engine = Engine::new(&policies(&[rule]), &IpLists::new(), &Overrides::default()).unwrap();
    let e = |action: &str| {
        trust_event(
            "PutRolePolicy",
            json!({"roleName": "r", "policyName": "p", "policyDocument":
                json!({"Statement": {"Effect": "Allow", "Action": action, "Resource": "*"}}).to_string()}),
        )
    };
    let a = eval(&engine, &e("*"));
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].evidence["matched"]["requestParameters.policyDocument.@json.Statement.Action"],
        "*"
    );
    assert!(eval(&engine, &e("s3:GetObject")).is_empty());
}

// ---------------------------------------------------------------- catalogue metadata, [rules] config, docs

#[test]
fn mitre_ids_are_stored_in_their_v19_form() {
    let p = policy(&MINIMAL.replace("mitre: [T1098]", "mitre: [T1562.008, T1685.002, T1562.007]"))
        .unwrap();
    assert_eq!(p.mitre(), ["T1685.002", "T1686.001"]);
    // Alerts carry them.
    let engine = Engine::new(&policies_from(p), &IpLists::new(), &Overrides::default()).unwrap();
    let a = eval(&engine, &ev("iam.amazonaws.com", "AttachUserPolicy"));
    assert_eq!(a[0].mitre, ["T1685.002", "T1686.001"]);
    // No built-in rule carries an old id after loading.
    for p in &Policies::builtin().unwrap() {
        for t in p.mitre() {
            assert_eq!(mitre_v19(t), t, "{}: {t}", p.id());
        }
    }
}

#[test]
fn every_builtin_rule_has_a_known_tactic_and_it_is_a_tag() {
    for p in &Policies::builtin().unwrap() {
        let t = p
            .tactic()
            .unwrap_or_else(|| panic!("{} has no tactic", p.id()));
        assert!(
            tactic_info(t).is_some(),
            "{}: `{t}` is not an ATT&CK tactic directory ({})",
            p.origin(),
            TACTICS
                .iter()
                .map(|(s, _, _)| *s)
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(p.tags().iter().any(|x| x == t), "{}", p.id());
    }
    let ps = Policies::builtin().unwrap();
    assert_eq!(
        ps.get("vpc-change").unwrap().tactic(),
        Some("defense-impairment")
    );
    assert_eq!(
        ps.get("ec2-launch-denied-burst").unwrap().tactic(),
        Some("execution")
    );
}

fn config(toml_text: &str) -> RulesConfig {
    #[derive(serde::Deserialize)]
    struct C {
        rules: RulesConfig,
    }
    toml::from_str::<C>(toml_text).unwrap().rules
}

#[test]
fn rules_config_selects_by_id_tag_tactic_and_kind() {
    let ps = seed();
    let ov = config(
        r#"
[rules]
disable = ["tactic:defense-impairment", "tag:iam"]
enable = ["vpc-change"]
[rules.rule.risky-ip-logon]
severity = "critical"
"#,
    )
    .resolve(&ps)
    .unwrap();
    let engine = Engine::new(&ps, &risky(), &ov).unwrap();
    let mut off: Vec<&str> = engine.disabled().iter().map(|d| d.id.as_str()).collect();
    off.sort_unstable();
    assert_eq!(
        off,
        [
            "cloudtrail-config-change",
            "iam-policy-change",
            "network-acl-change",
            "network-gateway-change",
            "s3-bucket-config-change",
            "security-group-change"
        ]
    );
    assert!(engine
        .disabled()
        .iter()
        .all(|d| d.reason == "disabled by configuration"));
    assert_eq!(
        ov.policies["risky-ip-logon"].severity,
        Some(Severity::Critical)
    );
    // A rule's own entry wins over the selectors.
    let ov = config("[rules]\ndisable = [\"*\"]\n[rules.rule.vpc-change]\nenabled = true\n")
        .resolve(&ps)
        .unwrap();
    let engine = Engine::new(&ps, &risky(), &ov).unwrap();
    assert_eq!(engine.active_ids().collect::<Vec<_>>(), ["vpc-change"]);
    // Kinds and id globs.
    let ov = config("[rules]\ndisable = [\"kind:event\"]\nenable = [\"s3-*\"]\n")
        .resolve(&ps)
        .unwrap();
    let engine = Engine::new(&ps, &risky(), &ov).unwrap();
    let mut on: Vec<&str> = engine.active_ids().collect();
    on.sort_unstable();
    assert_eq!(on, ["s3-bucket-config-change", "s3-bucket-public"]);
}

#[test]
fn rules_config_errors() {
    let ps = seed();
    for (text, msg) in [
        (
            "[rules]\ndisable = [\"tactic:discovery\"]\n",
            "selects no loaded rule",
        ),
        (
            "[rules]\ndisable = [\"tag:nope\"]\n",
            "selects no loaded rule",
        ),
        ("[rules]\nenable = [\"kind:window\"]\n", "unknown kind"),
        ("[rules]\nenable = [\"tatic:impact\"]\n", "a selector is"),
        (
            "[rules.rule.no-such-rule]\nenabled = false\n",
            "no-such-rule",
        ),
    ] {
        let e = config(text).resolve(&ps).unwrap_err().to_string();
        assert!(e.contains(msg), "{text}: {e}");
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // only parsed
    struct C {
        rules: RulesConfig,
    }
    assert!(toml::from_str::<C>("[rules]\ndisabel = []\n").is_err());
}

#[test]
fn rules_config_exclusions_and_iac_user_agents() {
    let ps = seed();
    let engine =
        |text: &str| Engine::new(&ps, &risky(), &config(text).resolve(&ps).unwrap()).unwrap();
    let mut e = ev("ec2.amazonaws.com", "CreateVpc");
    e.user_agent = Some(
        "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.70.0".into(),
    );
    assert_eq!(eval(&engine("[rules]\n"), &e).len(), 1);
    assert!(eval(&engine("[rules]\nexclude_iac = true\n"), &e).is_empty());
    assert!(eval(&engine("[rules.rule.vpc-change]\nexclude_iac = true\n"), &e).is_empty());
    assert_eq!(
        eval(
            &engine("[rules.rule.iam-policy-change]\nexclude_iac = true\n"),
            &e
        )
        .len(),
        1
    );
    e.user_agent = Some("cloudformation.amazonaws.com".into());
    assert!(eval(&engine("[rules]\nexclude_iac = true\n"), &e).is_empty());
    let text = "[[rules.exclude]]\nsource_ip = [\"198.51.100.0/24\"]\n";
    assert!(eval(&engine(text), &e).is_empty());
    let text = "[rules.rule.vpc-change]\nexclude = [{ principal = \"*:user/ci\" }]\n";
    e.identity.principal = Some("111122223333:user/ci".into());
    assert!(eval(&engine(text), &e).is_empty());
}

#[test]
fn the_documented_rules_config_parses_and_resolves() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies.md");
    let text = std::fs::read_to_string(docs).unwrap();
    let start = text.find("```toml\n[rules]").unwrap() + "```toml\n".len();
    let len = text[start..].find("```").unwrap();
    let rc = config(&text[start..start + len]);
    let ov = rc.resolve(&Policies::builtin().unwrap()).unwrap();
    assert!(!ov.exclude.is_empty());
}

#[test]
fn docs_rules_md_is_generated_from_the_rule_files() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    let want = rules_markdown(&Policies::builtin().unwrap());
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/rules.md is stale (a rule file changed): regenerate it with `{RULES_DOC_COMMAND}` from the repository root"
    );
    // Every built-in rule is in it, under its tactic.
    for p in &Policies::builtin().unwrap() {
        assert!(want.contains(&format!("### `{}`", p.id())), "{}", p.id());
    }
    assert!(want.contains("## Execution (TA0002)"));
    assert!(want.contains("threshold ≥ 5 / 15m"));
}

// ---------------------------------------------------------------- known accounts

const OUTSIDE_ACCOUNT: &str = r#"
id: outside-account
title: Outside account
description: d
severity: high
mitre: [T1199]
match:
  event_source: sts.amazonaws.com
  event_name: AssumeRole
  where:
    - field: userIdentity.accountId
      known_account: false
"#;

const INSIDE_ACCOUNT: &str = r#"
id: inside-account
title: Inside account
description: d
severity: low
mitre: [T1199]
match:
  event_source: sts.amazonaws.com
  event_name: AssumeRole
  where:
    - field: requestParameters.roleArn
      known_account: true
"#;

const GRANT: &str = r#"
id: grant
title: Grant
description: d
severity: high
mitre: [T1537]
match:
  event_source: s3.amazonaws.com
  event_name: PutBucketPolicy
  check: policy-cross-account
"#;

fn assume_role_by(account: &str, role_account: &str) -> Event {
    let text = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": account},
        "eventTime": "2024-06-07T10:00:00Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "requestParameters": {"roleArn": format!("arn:aws:iam::{role_account}:role/x"), "roleSessionName": "s"},
        "eventID": format!("e-{account}-{role_account}"),
        "recipientAccountId": "111122223333"
    })
    .to_string();
    trailwarden_parse::parse_record(text.as_bytes()).unwrap()
}

fn ids(engine: &Engine, e: &Event) -> Vec<String> {
    eval(engine, e).into_iter().map(|a| a.rule_id).collect()
}

#[test]
fn known_account_condition_uses_own_and_configured_accounts() {
    let ps = policies(&[OUTSIDE_ACCOUNT, INSIDE_ACCOUNT]);
    // Without a list only the recording account is known.
    let bare = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(
        ids(&bare, &assume_role_by("444455556666", "111122223333")),
        ["outside-account", "inside-account"]
    );
    assert_eq!(
        ids(&bare, &assume_role_by("111122223333", "444455556666")),
        Vec::<String>::new()
    );
    let ov = config("[rules]\nknown_accounts = [\"444455556666\"]\n")
        .resolve(&ps)
        .unwrap();
    assert_eq!(ov.known_accounts, ["444455556666"]);
    let engine = Engine::new(&ps, &IpLists::new(), &ov).unwrap();
    // A configured account is known; an ARN's account is read from the ARN.
    assert_eq!(
        ids(&engine, &assume_role_by("444455556666", "444455556666")),
        ["inside-account"]
    );
    assert_eq!(
        ids(&engine, &assume_role_by("999988887777", "999988887777")),
        ["outside-account"]
    );
    // A value that is not an account counts for neither `true` nor `false`.
    let mut e = assume_role_by("444455556666", "111122223333");
    e.identity.account_id = Some("not-an-account".into());
    assert_eq!(ids(&bare, &e), ["inside-account"]);
}

#[test]
fn known_accounts_reach_the_cross_account_analyzer() {
    let ps = policies(&[GRANT]);
    let put = |account: &str| {
        let text = json!({
            "eventVersion": "1.09",
            "eventTime": "2024-06-07T10:00:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutBucketPolicy",
            "requestParameters": {"bucketName": "b", "bucketPolicy": {"Statement": [
                {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}},
            "eventID": "e-1",
            "recipientAccountId": "111122223333"
        })
        .to_string();
        trailwarden_parse::parse_record(text.as_bytes()).unwrap()
    };
    let bare = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    assert_eq!(ids(&bare, &put("999988887777")), ["grant"]);
    let ov = config("[rules]\nknown_accounts = [\"999988887777\"]\n")
        .resolve(&ps)
        .unwrap();
    let engine = Engine::new(&ps, &IpLists::new(), &ov).unwrap();
    assert!(ids(&engine, &put("999988887777")).is_empty());
    assert_eq!(ids(&engine, &put("222233334444")), ["grant"]);
}

#[test]
fn known_accounts_must_be_account_ids() {
    let ps = policies(&[OUTSIDE_ACCOUNT]);
    let err = config("[rules]\nknown_accounts = [\"acme\"]\n")
        .resolve(&ps)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`acme` is not a 12-digit account id"),
        "{err}"
    );
    let ov = Overrides {
        known_accounts: vec!["12345".into()],
        ..Overrides::default()
    };
    assert!(matches!(
        Engine::new(&ps, &IpLists::new(), &ov),
        Err(DetectError::Override { .. })
    ));
}

// ---------------------------------------------------------------- every event source, approved regions

const EVERYWHERE: &str = r#"
id: everywhere
title: Writes anywhere
description: d
severity: medium
mitre: [T1535]
match:
  event_source: "*"
  where:
    - field: awsRegion
      approved_region: false
"#;

const EVERYWHERE_DEDUP: &str = r#"
id: everywhere-dedup
title: Writes anywhere, once a day
description: d
severity: medium
mitre: [T1535]
dedup: {by: [principal, awsRegion], window: 24h}
match:
  event_source: "*"
  event_name: "Create*"
  where:
    - field: awsRegion
      approved_region: false
"#;

fn in_region(source: &str, name: &str, region: &str) -> Event {
    Event {
        aws_region: Some(region.into()),
        ..ev(source, name)
    }
}

#[test]
fn every_source_rules_see_every_event_and_keep_the_index() {
    let ps = policies(&[MINIMAL, EVERYWHERE, EVERYWHERE_DEDUP]);
    let ov = config("[rules]\napproved_regions = [\"us-east-1\", \"eu-west-1\"]\n")
        .resolve(&ps)
        .unwrap();
    let engine = Engine::new(&ps, &IpLists::new(), &ov).unwrap();
    assert!(engine.disabled().is_empty(), "{:?}", engine.disabled());
    for (source, name) in [
        ("ec2.amazonaws.com", "RunInstances"),
        ("lambda.amazonaws.com", "CreateFunction20150331"),
        ("some-new-service.amazonaws.com", "DoThing"),
        ("", ""),
    ] {
        assert_eq!(
            ids(&engine, &in_region(source, name, "ap-east-1")),
            ["everywhere"],
            "{source} {name}"
        );
        assert!(ids(&engine, &in_region(source, name, "eu-west-1")).is_empty());
    }
    // Source-indexed rules still fire, and the every-source rule beside them.
    assert_eq!(
        ids(
            &engine,
            &in_region("iam.amazonaws.com", "AttachUserPolicy", "ap-east-1")
        ),
        ["minimal", "everywhere"]
    );
    assert_eq!(
        ids(
            &engine,
            &in_region("iam.amazonaws.com", "AttachUserPolicy", "us-east-1")
        ),
        ["minimal"]
    );
    // Stateful steps on every source: the dedup rule's names filter still applies.
    let mut hits = Vec::new();
    let mut e = in_region("rds.amazonaws.com", "CreateDBInstance", "sa-east-1");
    e.identity.principal = Some("111122223333:user/mallory".into());
    engine.evaluate_stateful(&e, &mut hits);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        engine.rule(hits[0].rule).map(Policy::id),
        Some("everywhere-dedup")
    );
    hits.clear();
    e.event_name = "DeleteDBInstance".into();
    engine.evaluate_stateful(&e, &mut hits);
    assert!(hits.is_empty());
    // `*` stands alone; other globs are still errors.
    let mixed = EVERYWHERE.replace(
        "event_source: \"*\"",
        "event_source: [\"*\", s3.amazonaws.com]",
    );
    let err = policy(&mixed).unwrap_err().to_string();
    assert!(err.contains("stands alone"), "{err}");
    let glob = EVERYWHERE.replace("event_source: \"*\"", "event_source: \"s3*\"");
    let err = policy(&glob).unwrap_err().to_string();
    assert!(err.contains("no globs"), "{err}");
}

#[test]
fn approved_regions_come_from_the_config_or_the_rule_is_off() {
    let ps = policies(&[MINIMAL, EVERYWHERE]);
    assert!(ps.get("everywhere").unwrap().needs_approved_regions());
    assert!(!ps.get("minimal").unwrap().needs_approved_regions());
    // No list: the rule does not run, and says why (never an error).
    let engine = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    let d = &engine.disabled()[0];
    assert_eq!(d.id, "everywhere");
    assert!(
        d.reason.contains("approved_regions") && d.reason.contains("[rules.rule.everywhere]"),
        "{}",
        d.reason
    );
    assert_eq!(engine.active_ids().collect::<Vec<_>>(), ["minimal"]);
    let missing = missing_settings(&ps, &Overrides::default());
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].reason, d.reason);
    // Switched off anyway: nothing is missing.
    let off = config("[rules]\ndisable = [\"everywhere\"]\n")
        .resolve(&ps)
        .unwrap();
    assert!(missing_settings(&ps, &off).is_empty());
    // The rule's own list wins over the global one.
    let ov = config(
        "[rules]\napproved_regions = [\"us-east-1\"]\n[rules.rule.everywhere]\napproved_regions = [\"ap-east-1\"]\n",
    )
    .resolve(&ps)
    .unwrap();
    assert!(missing_settings(&ps, &ov).is_empty());
    let engine = Engine::new(&ps, &IpLists::new(), &ov).unwrap();
    assert!(engine.disabled().is_empty());
    assert!(ids(&engine, &in_region("ec2.amazonaws.com", "X", "ap-east-1")).is_empty());
    assert_eq!(
        ids(&engine, &in_region("ec2.amazonaws.com", "X", "us-east-1")),
        ["everywhere"]
    );
    // Misuse is an error at start-up, with the key named.
    for (text, want) in [
        (
            "[rules]\napproved_regions = []\n",
            "approved_regions is empty",
        ),
        (
            "[rules]\napproved_regions = [\"us-east\"]\n",
            "`us-east` is not a region name",
        ),
        (
            "[rules]\napproved_regions = [\"US-EAST-1\"]\n",
            "`US-EAST-1` is not a region name",
        ),
        (
            "[rules.rule.minimal]\napproved_regions = [\"us-east-1\"]\n",
            "rule `minimal` has no `approved_region` condition",
        ),
        (
            "[rules.rule.everywhere]\napproved_regions = []\n",
            "rule.everywhere.approved_regions is empty",
        ),
    ] {
        let err = config(text).resolve(&ps).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
    // The same checks when overrides come straight to the engine.
    let bad = Overrides {
        approved_regions: Some(vec!["nowhere".into()]),
        ..Overrides::default()
    };
    assert!(matches!(
        Engine::new(&ps, &IpLists::new(), &bad),
        Err(DetectError::Override { .. })
    ));
    let bad = Overrides {
        policies: [(
            "minimal".to_string(),
            PolicyOverride {
                approved_regions: Some(vec!["us-east-1".into()]),
                ..PolicyOverride::default()
            },
        )]
        .into(),
        ..Overrides::default()
    };
    let err = Engine::new(&ps, &IpLists::new(), &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no `approved_region` condition"), "{err}");
}

#[test]
fn test_settings_feed_the_rules_own_tests() {
    let with_tests = format!(
        "{EVERYWHERE}test_settings:\n  approved_regions: [us-east-1]\n  known_accounts: [\"444455556666\"]\ntests:\n  - name: elsewhere\n    expect: alert\n    event: '{{\"eventTime\": \"2024-06-07T10:00:00Z\", \"eventSource\": \"ec2.amazonaws.com\", \"eventName\": \"RunInstances\", \"awsRegion\": \"ap-east-1\"}}'\n  - name: home\n    expect: no-alert\n    event: '{{\"eventTime\": \"2024-06-07T10:00:00Z\", \"eventSource\": \"ec2.amazonaws.com\", \"eventName\": \"RunInstances\", \"awsRegion\": \"us-east-1\"}}'\n"
    );
    let p = policy(&with_tests).unwrap();
    let ov = p.test_overrides();
    assert_eq!(ov.known_accounts, ["444455556666"]);
    assert_eq!(
        ov.policies["everywhere"].approved_regions.as_deref(),
        Some(&["us-east-1".to_string()][..])
    );
    let report = run_policy_tests(&policies_from(p), &IpLists::new());
    assert!(report.all_passed(), "{report}");
    // Tests of a rule that needs the regions must say which.
    let no_settings = with_tests.replace(
        "test_settings:\n  approved_regions: [us-east-1]\n  known_accounts: [\"444455556666\"]\n",
        "",
    );
    let err = policy(&no_settings).unwrap_err().to_string();
    assert!(err.contains("test_settings: {approved_regions"), "{err}");
    // Settings must fit the rule and be well formed.
    let minimal = format!("{MINIMAL}test_settings:\n  approved_regions: [us-east-1]\n");
    let err = policy(&minimal).unwrap_err().to_string();
    assert!(err.contains("no `approved_region` condition"), "{err}");
    let accounts = format!("{MINIMAL}test_settings:\n  known_accounts: [acme]\n");
    let err = policy(&accounts).unwrap_err().to_string();
    assert!(err.contains("`acme` is not a 12-digit account id"), "{err}");
    let typo = format!("{MINIMAL}test_settings:\n  approved_region: [us-east-1]\n");
    assert!(policy(&typo).is_err());
}

// ---------------------------------------------------------------- field comparisons, invokedBy exclusions

const OTHER_USER_KEY: &str = r#"
id: other-user-key
title: Key for another user
description: d
severity: medium
mitre: [T1098.001]
match:
  event_source: iam.amazonaws.com
  event_name: CreateAccessKey
  where:
    - field: requestParameters.userName
      not_equals_field: userIdentity.userName
exclude:
  - invoked_by: [cloudformation.amazonaws.com]
"#;

fn create_key(caller: &str, target: &str) -> Event {
    let text = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
                         "arn": format!("arn:aws:iam::111122223333:user/{caller}"), "userName": caller},
        "eventTime": "2024-06-07T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "requestParameters": {"userName": target},
        "eventID": format!("e-{caller}-{target}"),
        "recipientAccountId": "111122223333"
    })
    .to_string();
    trailwarden_parse::parse_record(text.as_bytes()).unwrap()
}

#[test]
fn field_comparisons_and_invoked_by_exclusions_in_a_rule() {
    let ps = policies(&[OTHER_USER_KEY]);
    let engine = Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    let alerts = eval(&engine, &create_key("mallory", "alice"));
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].evidence["conditions"],
        json!(["requestParameters.userName not_equals_field userIdentity.userName"])
    );
    assert_eq!(
        alerts[0].evidence["matched"],
        json!({"requestParameters.userName": "alice"})
    );
    assert!(eval(&engine, &create_key("alice", "alice")).is_empty());
    // The rule's own invokedBy exclusion: a service host name as the source counts.
    let mut by_cfn = create_key("mallory", "alice");
    by_cfn.source_ip_address = Some("cloudformation.amazonaws.com".into());
    by_cfn.source_ip = None;
    assert!(eval(&engine, &by_cfn).is_empty());
    // `[rules]` exclusions take `invoked_by` too, globally and per rule.
    let mut by_ssm = create_key("mallory", "alice");
    by_ssm.identity.invoked_by = Some("ssm.amazonaws.com".into());
    assert_eq!(eval(&engine, &by_ssm).len(), 1);
    for text in [
        "[[rules.exclude]]\ninvoked_by = [\"ssm.amazonaws.com\"]\n",
        "[rules.rule.other-user-key]\nexclude = [{ invoked_by = \"*.amazonaws.com\" }]\n",
    ] {
        let ov = config(text).resolve(&ps).unwrap();
        let engine = Engine::new(&ps, &IpLists::new(), &ov).unwrap();
        assert!(eval(&engine, &by_ssm).is_empty(), "{text}");
        assert_eq!(eval(&engine, &create_key("mallory", "alice")).len(), 1);
    }
    // A misspelt field to compare with stops the load, naming the policy.
    let bad = OTHER_USER_KEY.replace(
        "not_equals_field: userIdentity.userName",
        "not_equals_field: userIdentity.user",
    );
    let err = policy(&bad).unwrap_err().to_string();
    assert!(
        err.contains("other-user-key") && err.contains("not_equals_field"),
        "{err}"
    );
}

const BURST: &str = r#"
id: burst
title: Reads across services
description: d
severity: medium
mitre: [T1580]
kind: distinct-count
window: 5m
threshold: 5
distinct: eventSource
and_distinct:
  - field: eventName
    threshold: 15
group_by: [principal]
match:
  event_source: [ec2.amazonaws.com, iam.amazonaws.com]
  event_name: ["Describe*", "List*"]
"#;

#[test]
fn and_distinct_counts_more_fields_and_is_checked() {
    let p = policy(BURST).unwrap();
    let engine = Engine::new(&policies(&[BURST]), &IpLists::new(), &Overrides::default()).unwrap();
    let (_, _, p2, s) = engine.stateful_rules().next().unwrap();
    assert_eq!(p2.id(), p.id());
    assert_eq!(s.and_distinct, [("eventName".to_string(), 15)]);
    // The hit's value carries both counted fields.
    let mut hits = Vec::new();
    let mut e = ev("ec2.amazonaws.com", "DescribeInstances");
    e.identity.principal = Some("111122223333:user/mallory".into());
    engine.evaluate_stateful(&e, &mut hits);
    assert_eq!(
        hits[0].value.as_deref(),
        Some("ec2.amazonaws.com\u{1f}DescribeInstances")
    );
    for (from, to, want) in [
        ("threshold: 15", "threshold: 0", "must be at least 1"),
        ("field: eventName", "field: eventSource", "counted twice"),
        ("distinct: eventSource\n", "", "`and_distinct` is not used"),
    ] {
        let yaml = BURST.replace(from, to).replace(
            if to.is_empty() {
                "kind: distinct-count"
            } else {
                "\u{0}"
            },
            "kind: threshold",
        );
        let err = policy(&yaml).unwrap_err().to_string();
        assert!(err.contains(want), "{from} → {to}: {err}");
    }
}

const KEY_FIRST_USE: &str = r#"
id: key-first-use
title: New key used elsewhere
description: d
severity: high
mitre: [T1098.001]
kind: sequence
window: 24h
group_by: [responseElements.accessKey.accessKeyId]
steps:
  - name: create
    match:
      event_source: iam.amazonaws.com
      event_name: CreateAccessKey
  - name: use
    match:
      event_source: "*"
      outcome: any
      where:
        - field: userIdentity.accessKeyId
          starts_with: AKIA
    group_by: [userIdentity.accessKeyId]
    differs_from: {step: create, field: sourceIPAddress}
    first_only: true
"#;

const FAILURES_THEN_SUCCESS: &str = r#"
id: failures-then-success
title: Sign-in after failures
description: d
severity: high
mitre: [T1110]
kind: sequence
window: 30m
group_by: [principal]
steps:
  - name: failures
    count: 5
    match:
      event_source: signin.amazonaws.com
      event_name: ConsoleLogin
      outcome: any
      where: [{field: responseElements.ConsoleLogin, equals: Failure}]
  - name: success
    match:
      event_source: signin.amazonaws.com
      event_name: ConsoleLogin
      outcome: any
      where: [{field: responseElements.ConsoleLogin, equals: Success}]
"#;

fn key_event(name: &str, source: &str, ip: &str, key: &str, created: Option<&str>) -> Event {
    let mut v = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/svc", "userName": "svc",
                         "accessKeyId": key},
        "eventTime": "2024-06-07T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "eventID": format!("e-{name}-{ip}"),
        "recipientAccountId": "111122223333"
    });
    if let Some(k) = created {
        v["responseElements"] =
            json!({"accessKey": {"userName": "svc", "accessKeyId": k, "status": "Active"}});
    }
    trailwarden_parse::parse_record(v.to_string().as_bytes()).unwrap()
}

#[test]
fn sequence_step_count_and_comparison_compile() {
    let p = policy(FAILURES_THEN_SUCCESS).unwrap();
    let s = p.stateful().unwrap();
    assert_eq!(s.step_counts, [5, 1]);
    assert_eq!(s.step_differs, [None, None]);
    let p = policy(KEY_FIRST_USE).unwrap();
    let s = p.stateful().unwrap();
    assert_eq!(s.step_counts, [1, 1]);
    assert_eq!(
        s.step_differs,
        [
            None,
            Some(StepDiffers {
                step: 0,
                field: "sourceIPAddress".into(),
                step_field: "sourceIPAddress".into(),
                first_only: true,
            })
        ]
    );
    // Other kinds carry no per-step rules.
    assert!(policy(BURST)
        .unwrap()
        .stateful()
        .unwrap()
        .step_counts
        .is_empty());
}

#[test]
fn compared_steps_carry_their_field_in_the_hit() {
    let engine = Engine::new(
        &policies(&[KEY_FIRST_USE, FAILURES_THEN_SUCCESS]),
        &IpLists::new(),
        &Overrides::default(),
    )
    .unwrap();
    let hits = |e: &Event| {
        let mut out = Vec::new();
        engine.evaluate_stateful(e, &mut out);
        out.into_iter()
            .map(|h| (h.step, h.keys, h.value))
            .collect::<Vec<_>>()
    };
    // The creation, made with the caller's own long-term key, is step 0 of the new key and
    // step 1 of the caller's key; both carry the source address.
    let create = key_event(
        "CreateAccessKey",
        "iam.amazonaws.com",
        "198.51.100.23",
        "AKIAOLDKEYEXAMPLE001",
        Some("AKIANEWKEYEXAMPLE002"),
    );
    let ip = Some("198.51.100.23".to_string());
    assert_eq!(
        hits(&create),
        [
            (
                0,
                vec![vec!["AKIANEWKEYEXAMPLE002".to_string()]],
                ip.clone()
            ),
            (1, vec![vec!["AKIAOLDKEYEXAMPLE001".to_string()]], ip),
        ]
    );
    let useit = key_event(
        "ListBuckets",
        "s3.amazonaws.com",
        "203.0.113.45",
        "AKIANEWKEYEXAMPLE002",
        None,
    );
    assert_eq!(
        hits(&useit),
        [(
            1,
            vec![vec!["AKIANEWKEYEXAMPLE002".to_string()]],
            Some("203.0.113.45".to_string())
        )]
    );
    // A temporary key is no candidate.
    let session = key_event(
        "ListBuckets",
        "s3.amazonaws.com",
        "203.0.113.45",
        "ASIATEMPKEYEXAMPLE03",
        None,
    );
    assert!(hits(&session).is_empty());
    // An uncompared step carries no value.
    let mut fail = ev("signin.amazonaws.com", "ConsoleLogin");
    fail.identity.principal = Some("111122223333:user/alice".into());
    fail.response_elements = Some(r#"{"ConsoleLogin": "Failure"}"#.into());
    assert_eq!(
        hits(&fail),
        [(0, vec![vec!["111122223333:user/alice".to_string()]], None)]
    );
}

#[test]
fn sequence_step_rules_are_checked_at_load() {
    let err = |yaml: &str| policy(yaml).unwrap_err().to_string();
    let with = |from: &str, to: &str| {
        let y = FAILURES_THEN_SUCCESS.replace(from, to);
        assert_ne!(y, FAILURES_THEN_SUCCESS, "{from}");
        y
    };
    // Each error names the file, the rule and the step.
    for (yaml, want) in [
        (with("count: 5", "count: 0"), "`count` must be at least 1"),
        (with("count: 5", "count: 10001"), "at most 10000"),
        (
            with("count: 5", "first_only: true"),
            "`first_only` needs `differs_from`",
        ),
        (
            with(
                "count: 5",
                "differs_from: {step: success, field: sourceIPAddress}",
            ),
            "`differs_from.step` `success` is not an earlier step (earlier: none)",
        ),
    ] {
        let e = err(&yaml);
        assert!(
            e.contains("test.yaml")
                && e.contains("failures-then-success")
                && e.contains("steps[0] `failures`")
                && e.contains(want),
            "{want}: {e}"
        );
    }
    let key = |from: &str, to: &str| {
        let y = KEY_FIRST_USE.replace(from, to);
        assert_ne!(y, KEY_FIRST_USE, "{from}");
        err(&y)
    };
    for (from, to, want) in [
        (
            "{step: create,",
            "{step: nowhere,",
            "`nowhere` is not an earlier step (earlier: create)",
        ),
        (
            "field: sourceIPAddress}",
            "field: sourceIP}",
            "`differs_from`",
        ),
    ] {
        let e = key(from, to);
        assert!(e.contains("key-first-use") && e.contains(want), "{to}: {e}");
    }
    // A misspelt key inside `differs_from` is a format error (file and line).
    let e = key("field: sourceIPAddress}", "field: sourceIPAddress, on: x}");
    assert!(
        e.contains("test.yaml") && e.contains("unknown field `on`"),
        "{e}"
    );
    // A step compared on one field only: a third step comparing `create` on another field.
    let third = format!(
        "{KEY_FIRST_USE}  - name: again\n    match: {{event_source: s3.amazonaws.com}}\n    group_by: [userIdentity.accessKeyId]\n    differs_from: {{step: create, field: userAgent}}\n"
    );
    let e = err(&third);
    assert!(
        e.contains("steps[2] `again`") && e.contains("already compared on `sourceIPAddress`"),
        "{e}"
    );
    // `step_field` reads another field in the earlier step.
    let other = KEY_FIRST_USE.replace(
        "field: sourceIPAddress}",
        "field: sourceIPAddress, step_field: requestParameters.sourceIp}",
    );
    let s = policy(&other).unwrap();
    let d = s.stateful().unwrap().step_differs[1].clone().unwrap();
    assert_eq!(d.step_field, "requestParameters.sourceIp");
    // In a rule of another kind the keys are refused by name, also in an `also` entry.
    let threshold = "id: t\ntitle: t\ndescription: d\nseverity: low\nmitre: [T1110]\nkind: threshold\nwindow: 5m\nthreshold: 3\nmatch: {event_source: signin.amazonaws.com}\nsteps:\n  - name: fails\n    count: 3\n    match: {event_source: signin.amazonaws.com}\n";
    let e = err(threshold);
    assert!(
        e.contains("test.yaml")
            && e.contains("policy `t`")
            && e.contains(
                "steps[0] `fails`: `count` is only for the steps of `kind: sequence` rules"
            )
            && e.contains("`threshold`"),
        "{e}"
    );
    let also = format!(
        "{}also:\n  - name: burst\n    kind: threshold\n    window: 5m\n    threshold: 3\n    steps:\n      - name: fails\n        first_only: true\n        match: {{event_source: signin.amazonaws.com}}\n",
        MINIMAL
    );
    let e = err(&also);
    assert!(
        e.contains("also[0] `burst`") && e.contains("steps[0] `fails`: `first_only` is only"),
        "{e}"
    );
}

// ------------------------------------------- conditions decided by (eventSource, eventName)

use crate::condition::{Condition, Op};
use crate::field::Ctx;
use crate::iplist::IpRanges;

/// Calls `f` on `c` and every condition inside it.
fn each_condition<'a>(c: &'a Condition, f: &mut dyn FnMut(&'a Condition)) {
    f(c);
    if let Op::Any(v) | Op::All(v) = &c.op {
        v.iter().for_each(|m| each_condition(m, f));
    }
}

#[test]
fn pair_decided_conditions_agree_with_every_event_of_the_pair() {
    // Every condition of every built-in rule, on every rule's test events and on those events
    // renamed (other sources and names the rules use): wherever the source and name alone
    // decide a condition, the whole event gives the same answer.
    let ps = Policies::builtin().unwrap();
    let mut events: Vec<Event> = Vec::new();
    for p in ps.iter() {
        for t in p.tests() {
            for r in t.records() {
                if let Ok(e) = trailwarden_parse::parse_record(test_event_json(r).as_bytes()) {
                    events.push(e);
                }
            }
        }
    }
    assert!(events.len() > 500, "{}", events.len());
    let mut pairs: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.event_source.clone(), e.event_name.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs.push((String::new(), String::new()));
    pairs.push(("s3.amazonaws.com".into(), "GetBucketAcl".into()));
    pairs.push(("ec2.amazonaws.com".into(), "describeinstances".into()));
    let mut conditions: Vec<&Condition> = Vec::new();
    for p in ps.iter() {
        for v in &p.compiled.variants {
            for s in &v.steps {
                for c in &s.matcher.conditions {
                    each_condition(c, &mut |c| conditions.push(c));
                }
            }
        }
    }
    let lists: Vec<IpRanges> = Vec::new();
    let (mut decided, mut checked) = ([0usize; 2], 0usize);
    for (i, base) in events.iter().enumerate() {
        // the event itself, and under three other pairs (a different stride per event)
        let others = (1..4).map(|k| &pairs[(i * 7 + k * 131) % pairs.len()]);
        let own = (base.event_source.clone(), base.event_name.clone());
        for (source, name) in std::iter::once(&own).chain(others) {
            let e = Event {
                event_source: source.clone(),
                event_name: name.clone(),
                ..base.clone()
            };
            let pair = Event {
                event_source: source.clone(),
                event_name: name.clone(),
                ..Event::default()
            };
            let (ctx, pair_ctx) = (Ctx::new(&e), Ctx::new(&pair));
            for c in &conditions {
                if let Some(b) = c.on_pair(&pair_ctx, &lists) {
                    decided[usize::from(b)] += 1;
                    assert_eq!(
                        c.holds(&ctx, &lists),
                        b,
                        "{} on {source} {name}: decided {b} by the pair",
                        c.text
                    );
                }
                checked += 1;
            }
        }
    }
    // Both answers occur, and most conditions are not decided by the pair.
    let [no, yes] = decided;
    assert!(
        no > 1000 && yes > 1000 && no + yes < checked / 2,
        "{no}, {yes} of {checked}"
    );
}

#[test]
fn a_candidate_whose_pair_fails_a_condition_is_left_out_and_true_ones_skipped() {
    let y = r#"
id: pair-pruned
title: Bucket reads by a role
description: test
severity: low
mitre: [T1619]
match:
  event_source: [s3.amazonaws.com, ec2.amazonaws.com]
  event_name: ["Get*", "Describe*"]
  where:
    - any:
        - all:
            - field: eventSource
              equals: s3.amazonaws.com
            - field: eventName
              starts_with: GetBucket
        - field: eventName
          equals: DescribeSnapshots
    - field: userIdentity.type
      equals: AssumedRole
    - field: eventName
      ends_with: Acl
      not: true
"#;
    let engine = Engine::new(&policies(&[y]), &IpLists::new(), &Overrides::default()).unwrap();
    let role = |source: &str, name: &str| {
        let mut e = ev(source, name);
        e.identity.kind = IdentityType::AssumedRole;
        e
    };
    for round in 0..2 {
        // decided true by the pair, the rest of the conditions still evaluated
        assert_eq!(
            eval(&engine, &role("s3.amazonaws.com", "GetBucketPolicy")).len(),
            1
        );
        assert!(eval(&engine, &ev("s3.amazonaws.com", "GetBucketPolicy")).is_empty());
        assert_eq!(
            eval(&engine, &role("ec2.amazonaws.com", "DescribeSnapshots")).len(),
            1
        );
        // decided false by the pair
        assert!(
            eval(&engine, &role("s3.amazonaws.com", "GetObject")).is_empty(),
            "{round}"
        );
        assert!(eval(&engine, &role("ec2.amazonaws.com", "GetBucketPolicy")).is_empty());
        assert!(eval(&engine, &role("s3.amazonaws.com", "GetBucketAcl")).is_empty());
    }
}
