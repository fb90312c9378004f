//! Every modifier and condition form, through the public API: a one-rule engine and one event.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};

fn rule_text(detection: &str) -> String {
    let det: String = detection.lines().map(|l| format!("    {l}\n")).collect();
    format!("title: t\nid: r1\nlevel: high\ntags: [attack.t1078.004, attack.persistence]\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{det}")
}

/// Whether the rule with this `detection` body fires on the record.
fn fires(detection: &str, rec: &Value) -> bool {
    let mut e = engine(&rule_text(detection));
    let alerts = run(&mut e, &[batch("o", vec![event(rec)])]);
    !alerts.is_empty()
}

fn err(detection: &str) -> String {
    load_err(&rule_text(detection))
}

fn base() -> Value {
    let mut r = record("iam.amazonaws.com", "CreateAccessKey", T0, "alice", "e1");
    r["requestParameters"] = json!({
        "userName": "Bob",
        "tags": ["a", "b-c"],
        "nested": {"list": [{"k": "v1"}, {"k": "v2"}], "n": 42, "f": 2.5, "t": true},
        "policyDocument": "{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\"}",
        "cmd": "powershell -enc SQBFAFgA",
        "b64": "aHR0cDovL2V4YW1wbGU=",
        "star": "a*b?c\\d"
    });
    r["responseElements"] = json!({"accessKey": {"userName": "bob", "status": "Active"}});
    r["additionalEventData"] = json!({"MFAUsed": "No"});
    r
}

#[test]
fn plain_values_are_case_insensitive_exact() {
    let r = base();
    assert!(fires(
        "sel: {eventName: createaccesskey}\ncondition: sel",
        &r
    ));
    assert!(!fires("sel: {eventName: CreateAccess}\ncondition: sel", &r));
    assert!(fires(
        "sel: {userIdentity.userName: ALICE}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.userName: bob}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {additionalEventData.MFAUsed: 'NO'}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {responseElements.accessKey.status: active}\ncondition: sel",
        &r
    ));
}

#[test]
fn cased() {
    let r = base();
    assert!(!fires(
        "sel: {requestParameters.userName|cased: bob}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.userName|cased: Bob}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {eventName|cased|startswith: Create}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {eventName|cased|startswith: create}\ncondition: sel",
        &r
    ));
}

#[test]
fn wildcards_and_escapes() {
    let r = base();
    assert!(fires("sel: {eventName: 'Create*Key'}\ncondition: sel", &r));
    assert!(fires(
        "sel: {eventName: 'Create?ccessKey'}\ncondition: sel",
        &r
    ));
    assert!(!fires("sel: {eventName: 'Create?Key'}\ncondition: sel", &r));
    assert!(fires(
        "sel: {requestParameters.star: 'a\\*b\\?c\\\\d'}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.star: 'aXb\\?c\\\\d'}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.star: 'a*c*'}\ncondition: sel",
        &r
    ));
}

#[test]
fn contains_startswith_endswith_all() {
    let r = base();
    assert!(fires(
        "sel: {userAgent|contains: CLI/2}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userAgent|startswith: AWS-cli}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userAgent|endswith: '.40'}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {userAgent|endswith: 'aws'}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userAgent|contains|all: [aws, cli, '2.15']}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {userAgent|contains|all: [aws, boto]}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userAgent|contains: [boto, aws]}\ncondition: sel",
        &r
    ));
    // object fields match their JSON text, also inside embedded JSON strings
    assert!(fires(
        "sel: {requestParameters|contains: '\"userName\":\"Bob\"'}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters|contains|all: ['\"s3:GetObject\"', '\"Allow\"']}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested|contains: '\"n\":42'}\ncondition: sel",
        &r
    ));
    // arrays: any element
    assert!(fires(
        "sel: {requestParameters.tags: b-c}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.list.k: v2}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.list.0.k: v1}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.nested.list.0.k: v2}\ncondition: sel",
        &r
    ));
}

#[test]
fn regular_expressions() {
    let r = base();
    assert!(fires(
        "sel: {userIdentity.arn|re: '^arn:aws:iam::\\d{12}:user/'}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {eventName|re: '^createaccesskey$'}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {eventName|re|i: '^createaccesskey$'}\ncondition: sel",
        &r
    ));
    let mut ml = base();
    ml["requestParameters"]["text"] = json!("line one\nline two");
    assert!(fires(
        "sel: {requestParameters.text|re|m: '^line two$'}\ncondition: sel",
        &ml
    ));
    assert!(!fires(
        "sel: {requestParameters.text|re: '^line two$'}\ncondition: sel",
        &ml
    ));
    assert!(fires(
        "sel: {requestParameters.text|re|s: 'one.line'}\ncondition: sel",
        &ml
    ));
    assert!(!fires(
        "sel: {requestParameters.text|re: 'one.line'}\ncondition: sel",
        &ml
    ));
    assert!(err("sel: {eventName|re: '(?<=x)y'}\ncondition: sel")
        .contains("unsupported feature `regular expression syntax`"));
    assert!(err("sel: {eventName|i: 'x'}\ncondition: sel").contains("sub-modifiers of `re`"));
}

#[test]
fn exists_null_numbers_booleans() {
    let r = base();
    assert!(fires(
        "sel: {requestParameters.userName|exists: true}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nope|exists: false}\ncondition: sel",
        &r
    ));
    assert!(!fires("sel: {errorCode|exists: true}\ncondition: sel", &r));
    assert!(fires("sel: {errorCode: null}\ncondition: sel", &r));
    assert!(!fires("sel: {eventName: null}\ncondition: sel", &r));
    assert!(fires(
        "sel: {requestParameters.nested.n: 42}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.n: '42'}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.f: 2.5}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.t: true}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.nested.t: false}\ncondition: sel",
        &r
    ));
    assert!(fires("sel: {readOnly: true}\ncondition: sel", &r));
    assert!(fires(
        "sel: {requestParameters.nested.n|gt: 41}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.n|gte: 42}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.nested.n|lt: 42}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.n|lte: 42}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {requestParameters.nested.f|lt: 3}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.userName|gt: 0}\ncondition: sel",
        &r
    ));
    assert!(err("sel: {eventName|gt: abc}\ncondition: sel").contains("not a number"));
    assert!(err("sel: {eventName|exists: maybe}\ncondition: sel").contains("`exists` needs"));
}

#[test]
fn cidr() {
    let r = base();
    assert!(fires(
        "sel: {sourceIPAddress|cidr: 203.0.113.0/24}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {sourceIPAddress|cidr: [10.0.0.0/8, 203.0.113.10]}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {sourceIPAddress|cidr: 198.51.100.0/24}\ncondition: sel",
        &r
    ));
    let mut v6 = base();
    v6["sourceIPAddress"] = json!("2001:db8::1");
    assert!(fires(
        "sel: {sourceIPAddress|cidr: '2001:db8::/32'}\ncondition: sel",
        &v6
    ));
    let mut svc = base();
    svc["sourceIPAddress"] = json!("ec2.amazonaws.com");
    assert!(!fires(
        "sel: {sourceIPAddress|cidr: 0.0.0.0/0}\ncondition: sel",
        &svc
    ));
    assert!(err("sel: {sourceIPAddress|cidr: 300.1.1.1/8}\ncondition: sel").contains("not a CIDR"));
}

#[test]
fn fieldref() {
    let r = base();
    assert!(fires("sel: {requestParameters.userName|fieldref: responseElements.accessKey.userName}\ncondition: sel", &r));
    assert!(!fires("sel: {requestParameters.userName|fieldref|cased: responseElements.accessKey.userName}\ncondition: sel", &r));
    assert!(!fires(
        "sel: {userIdentity.arn|fieldref: requestParameters.userName}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userIdentity.arn|fieldref|endswith: userIdentity.userName}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userIdentity.arn|fieldref|contains: userIdentity.accountId}\ncondition: sel",
        &r
    ));
    assert!(fires(
        "sel: {userIdentity.arn|fieldref|startswith: userIdentity.arn}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {userIdentity.arn|fieldref: requestParameters.missing}\ncondition: sel",
        &r
    ));
}

#[test]
fn base64_and_base64offset() {
    let r = base();
    assert!(fires(
        "sel: {requestParameters.b64|base64: 'http://example'}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.b64|base64: 'http://other'}\ncondition: sel",
        &r
    ));
    let mut o = base();
    o["requestParameters"]["blob"] = json!("xxIGh0dHA6Ly9leGFtcGxl"); // " http://example" at offset 1
    assert!(fires(
        "sel: {requestParameters.blob|base64offset|contains: 'http://'}\ncondition: sel",
        &o
    ));
    assert!(!fires(
        "sel: {requestParameters.blob|base64offset|contains: 'ftp://'}\ncondition: sel",
        &o
    ));
    assert!(err("sel: {x|base64offset: a}\ncondition: sel").contains("needs `contains`"));
    assert!(err("sel: {x|base64: 'a*'}\ncondition: sel").contains("wildcards inside a base64"));
}

#[test]
fn windash() {
    let mut r = base();
    r["requestParameters"]["cmd"] = json!("powershell /enc SQBFAFgA");
    assert!(fires(
        "sel: {requestParameters.cmd|windash|contains: ' -enc '}\ncondition: sel",
        &r
    ));
    r["requestParameters"]["cmd"] = json!("powershell \u{2013}enc SQBFAFgA");
    assert!(fires(
        "sel: {requestParameters.cmd|windash|contains: ' -enc '}\ncondition: sel",
        &r
    ));
    r["requestParameters"]["cmd"] = json!("powershell enc");
    assert!(!fires(
        "sel: {requestParameters.cmd|windash|contains: ' -enc'}\ncondition: sel",
        &r
    ));
}

#[test]
fn neq() {
    let r = base();
    assert!(fires(
        "sel: {requestParameters.userName|neq: alice}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.userName|neq: bob}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.userName|neq: [alice, bob]}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel: {requestParameters.missing|neq: x}\ncondition: sel",
        &r
    ));
}

#[test]
fn unsupported_and_unknown_modifiers_are_refused() {
    for m in ["expand", "utf16le", "wide", "minute"] {
        let e = err(&format!("sel: {{eventName|{m}: x}}\ncondition: sel"));
        assert!(e.contains(&format!("unsupported feature `|{m}`")), "{e}");
        assert!(e.contains("inline.yml:"), "{e}");
        assert!(e.contains("rule `t`"), "{e}");
    }
    assert!(err("sel: {eventName|bogus: x}\ncondition: sel").contains("unknown modifier `|bogus`"));
    assert!(err("sel: {eventName|contains|startswith: x}\ncondition: sel").contains("at most one"));
}

#[test]
fn selections_lists_of_maps_and_keywords() {
    let r = base();
    // list of maps: or
    assert!(fires(
        "sel:\n  - {eventName: Nope}\n  - {eventSource: iam.amazonaws.com}\ncondition: sel",
        &r
    ));
    assert!(!fires(
        "sel:\n  - {eventName: Nope}\n  - {eventSource: s3.amazonaws.com}\ncondition: sel",
        &r
    ));
    // map: and
    assert!(!fires(
        "sel: {eventName: CreateAccessKey, eventSource: s3.amazonaws.com}\ncondition: sel",
        &r
    ));
    // keywords (searched in every field and raw member)
    assert!(fires("kw:\n  - 'S3:GETOBJECT'\n  - zzz\ncondition: kw", &r));
    assert!(!fires("kw:\n  - zzz\ncondition: kw", &r));
    assert!(fires(
        "kw:\n  '|all':\n    - alice\n    - Bob\ncondition: kw",
        &r
    ));
    assert!(!fires(
        "kw:\n  '|all':\n    - alice\n    - zzz\ncondition: kw",
        &r
    ));
}

#[test]
fn condition_forms() {
    let r = base();
    let sels = "a: {eventName: CreateAccessKey}\nb: {eventSource: iam.amazonaws.com}\nc: {eventName: Nope}\n_d: {eventName: Nope}\n";
    let t = |cond: &str| fires(&format!("{sels}condition: {cond}"), &r);
    assert!(t("a and b"));
    assert!(!t("a and c"));
    assert!(t("a or c"));
    assert!(t("not c"));
    assert!(!t("not (a or c)"));
    assert!(t("(a or c) and b"));
    assert!(t("a and not c"));
    assert!(t("1 of them"));
    assert!(!t("all of them"));
    assert!(t("all of a*"));
    assert!(t("any of c*") || t("1 of a*"));
    assert!(!t("any of c*"));
    assert!(t("2 of them"));
    assert!(!t("3 of them"));
    assert!(!t("all of them or 1 of _*"));
    assert!(t("1 of them and not 1 of _*"));
    assert!(!t("1 of _*"));
    // `them` skips identifiers starting with `_`
    let only_under = "a: {eventName: CreateAccessKey}\nb: {eventSource: iam.amazonaws.com}\n_d: {eventName: Nope}\ncondition: all of them";
    assert!(fires(only_under, &r));
    // a list of conditions: any
    assert!(fires(&format!("{sels}condition:\n  - c\n  - a"), &r));
    assert!(err(&format!("{sels}condition: a and missing"))
        .contains("unknown search identifier `missing`"));
    assert!(err(&format!("{sels}condition: 1 of zz*")).contains("matches no search identifier"));
    assert!(err(&format!("{sels}condition: a | count() > 5")).contains("correlation"));
    assert!(err("a: {eventName: x}\ntimeframe: 5m\ncondition: a")
        .contains("unsupported feature `timeframe`"));
}

#[test]
fn alerts_carry_sigma_metadata() {
    let mut e = engine(&rule_text(
        "sel: {eventName: CreateAccessKey}\ncondition: sel",
    ));
    let a = run(&mut e, &[batch("o", vec![event(&base())])]);
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(a.rule_id, "r1");
    assert_eq!(a.severity, trailwarden_alert::Severity::High);
    assert_eq!(a.mitre, ["T1078.004"]);
    assert_eq!(a.event_ids, ["e1"]);
    assert_eq!(a.id, trailwarden_alert::alert_id("r1", &["event:e1"]));
    assert_eq!(a.principal_type.as_deref(), Some("IAMUser"));
    assert_eq!(a.evidence["fields"]["eventName"], "CreateAccessKey");
    // a record without eventID: object#index
    let mut r = base();
    r.as_object_mut().unwrap().remove("eventID");
    let mut e = engine(&rule_text(
        "sel: {eventName: CreateAccessKey}\ncondition: sel",
    ));
    let a = run(&mut e, &[batch("obj-key", vec![event(&r)])]);
    assert_eq!(a[0].event_ids, ["obj-key#0"]);
}

#[test]
fn levels_map_to_severities() {
    for (level, sev) in [
        ("informational", "info"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("critical", "critical"),
    ] {
        let text = format!("title: t\nid: r\nlevel: {level}\nlogsource: {{product: aws, service: cloudtrail}}\ndetection: {{s: {{eventName: CreateAccessKey}}, condition: s}}\n");
        let mut e = engine(&text);
        let a = run(&mut e, &[batch("o", vec![event(&base())])]);
        assert_eq!(a[0].severity.as_str(), sev);
    }
    assert!(
        load_err("title: t\nid: r\nlevel: severe\ndetection: {s: {a: b}, condition: s}\n")
            .contains("unknown level")
    );
    assert!(load_err(
        "title: t\nlogsource: {product: windows}\ndetection: {s: {a: b}, condition: s}\n"
    )
    .contains("neither `id` nor `name`"));
    assert!(load_err(
        "title: t\nid: x\nlogsource: {product: windows}\ndetection: {s: {a: b}, condition: s}\n"
    )
    .contains("unsupported feature `logsource`"));
    assert!(load_err("title: t\nid: x\naction: global\n").contains("unsupported feature `action`"));
    assert!(load_err("a: [\n").contains("inline.yml:"));
}

#[test]
fn rule_tests_report_pass_fail_and_missing_rules() {
    let rule = rule_text("sel: {eventName: CreateAccessKey}\ncondition: sel");
    let ev = base().to_string();
    let tests = format!(
        "rule_id: r1\ntests:\n  - name: fires\n    expect: match\n    event: {ev}\n  - name: wrong expectation\n    expect: no_match\n    event: {ev}\n"
    );
    let orphan =
        format!("rule_id: nope\ntests:\n  - name: x\n    expect: match\n    event: {ev}\n");
    let rules = trailwarden_sigma::SigmaRules::from_sources(&[
        ("r.yml".into(), rule),
        ("r1.yaml".into(), tests),
        ("orphan.yaml".into(), orphan),
    ])
    .unwrap();
    let report = trailwarden_sigma::run_rule_tests(&rules);
    assert_eq!(
        (report.passed(), report.failed()),
        (1, 2),
        "{}",
        report.render()
    );
    assert!(!report.all_passed());
    let text = report.render();
    assert!(text.contains("rule not loaded"), "{text}");
    assert!(text.contains("1 passed, 2 failed"), "{text}");
    let check = trailwarden_sigma::check_report(&rules);
    assert!(
        check.contains("index:     eventName in createaccesskey"),
        "{check}"
    );
}
