//! The rule pack's stateful kinds end to end: the built-in rules' own cases through the
//! runtime, file-order independence, evidence, config, and the allocation-free miss path is
//! pinned in `trailwarden-detect/tests/no_alloc.rs`.
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)

use trailwarden_alert::{canonical_order, Alert};
use trailwarden_detect::{IpLists, Overrides, Policies, Policy, RuleKind};
use trailwarden_pack::{run_policy_tests, PackEngine, PackOptions};
use trailwarden_parse::Event;

fn builtin() -> Policies {
    Policies::builtin().unwrap()
}

fn only(ids: &[&str]) -> Policies {
    let mut out = Policies::new();
    for p in builtin().iter().filter(|p| ids.contains(&p.id())) {
        out.add(p.clone()).unwrap();
    }
    assert_eq!(out.len(), ids.len(), "{ids:?}");
    out
}

fn case_events(p: &Policy, case: &str) -> Vec<Event> {
    let t = p.tests().iter().find(|t| t.name == case).unwrap();
    t.records()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let json = match r {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut e = trailwarden_parse::parse_record(json.as_bytes()).unwrap();
            e.record_index = i as u32;
            e
        })
        .collect()
}

/// Runs `objects` (each a list of events) through a pack engine in the order given.
fn run(policies: &Policies, opts: PackOptions, objects: &[Vec<Event>]) -> Vec<Alert> {
    let mut pack = PackEngine::new(policies, &IpLists::new(), &Overrides::default(), opts).unwrap();
    let mut out = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        for e in obj {
            pack.evaluate(e, &format!("obj-{i}"));
        }
        pack.advance(&mut out);
    }
    pack.flush(&mut out);
    canonical_order(&mut out);
    out
}

#[test]
fn every_builtin_rule_passes_its_cases_through_the_runtime() {
    let report = run_policy_tests(&builtin(), &IpLists::new());
    assert!(report.all_passed(), "{report}");
    let ps = builtin();
    let stateful: Vec<&str> = ps
        .iter()
        .filter(|p| p.stateful().is_some())
        .map(Policy::id)
        .collect();
    for id in [
        "ec2-stop-modify-userdata-start",
        "ec2-launch-denied-burst",
        "compute-launch-multi-region",
        "ssm-shell-command-new-principal",
    ] {
        assert!(stateful.contains(&id), "{id} is a stateful built-in");
    }
}

#[test]
fn the_four_kinds_are_what_their_files_say() {
    let ps = builtin();
    let kind = |id: &str| ps.get(id).unwrap().kind();
    assert_eq!(kind("ec2-stop-modify-userdata-start"), RuleKind::Sequence);
    assert_eq!(kind("ec2-launch-denied-burst"), RuleKind::Threshold);
    assert_eq!(kind("compute-launch-multi-region"), RuleKind::DistinctCount);
    assert_eq!(kind("ssm-shell-command-new-principal"), RuleKind::FirstSeen);
}

/// Every permutation of the sequence's three objects, and every split of the events into
/// objects, gives the same alert — the windows run on event time, not arrival order.
#[test]
fn sequence_results_do_not_depend_on_file_order() {
    let ps = only(&["ec2-stop-modify-userdata-start"]);
    let p = ps.get("ec2-stop-modify-userdata-start").unwrap();
    let events = case_events(p, "stop, replace user data, start on one instance");
    assert_eq!(events.len(), 3);
    let mut seen: Option<Vec<Alert>> = None;
    let perms = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for perm in perms {
        for live in [false, true] {
            let objects: Vec<Vec<Event>> = perm.iter().map(|&i| vec![events[i].clone()]).collect();
            let opts = if live {
                // Live lateness (15 min): the three events are within 13 minutes of each other,
                // so any arrival order is still put right.
                PackOptions::live()
            } else {
                PackOptions::replay()
            };
            let alerts = run(&ps, opts, &objects);
            assert_eq!(alerts.len(), 1, "{perm:?} live={live}");
            match &seen {
                None => seen = Some(alerts),
                Some(first) => assert_eq!(
                    first.iter().map(Alert::to_json_line).collect::<Vec<_>>(),
                    alerts.iter().map(Alert::to_json_line).collect::<Vec<_>>(),
                    "{perm:?} live={live}"
                ),
            }
        }
    }
    // All in one object, any order.
    let mut one = events.clone();
    one.reverse();
    assert_eq!(
        run(&ps, PackOptions::replay(), &[one])
            .iter()
            .map(Alert::to_json_line)
            .collect::<Vec<_>>(),
        seen.unwrap()
            .iter()
            .map(Alert::to_json_line)
            .collect::<Vec<_>>()
    );
}

#[test]
fn sequence_alert_evidence() {
    let ps = only(&["ec2-stop-modify-userdata-start"]);
    let p = ps.get("ec2-stop-modify-userdata-start").unwrap();
    let events = case_events(p, "stop, replace user data, start on one instance");
    let objects: Vec<Vec<Event>> = events.iter().map(|e| vec![e.clone()]).collect();
    let a = &run(&ps, PackOptions::replay(), &objects)[0];
    assert_eq!(a.rule_id, "ec2-stop-modify-userdata-start");
    assert_eq!(a.severity.as_str(), "critical");
    assert_eq!(a.mitre, ["T1059.009"]);
    assert_eq!(a.count, 3);
    assert_eq!(a.event_ids.len(), 3);
    assert_eq!(a.first_event_time, "2024-06-10T08:29:12Z");
    assert_eq!(a.last_event_time, "2024-06-10T08:41:30Z");
    let w = &a.evidence["window"];
    assert_eq!(w["kind"], "sequence");
    assert_eq!(w["secs"], 1800);
    assert_eq!(
        w["group_by"]["requestParameters.instancesSet.items.instanceId"],
        "i-0f3c2b1a09e8d7c65"
    );
    let steps: Vec<&str> = w["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["stop", "modify-user-data", "start"]);
    assert_eq!(a.evidence["last_event"]["step"], "start");
    assert!(
        a.summary
            .contains("stop → modify-user-data → start within 30m"),
        "{}",
        a.summary
    );
    assert_eq!(a.principal.as_deref(), Some("111122223333:user/mallory"));
    // The id is deterministic: the same evidence, the same id.
    let again = &run(&ps, PackOptions::replay(), &objects)[0];
    assert_eq!(a.id, again.id);
    // A redelivered object does not change the alert.
    let mut twice = objects.clone();
    twice.push(objects[1].clone());
    let dup = run(&ps, PackOptions::replay(), &twice);
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].id, a.id);
}

#[test]
fn sequence_count_and_comparison_evidence() {
    let ps = only(&[
        "console-login-after-failures",
        "new-access-key-used-elsewhere",
    ]);
    let objects = |id: &str, case: &str| -> Vec<Vec<Event>> {
        case_events(ps.get(id).unwrap(), case)
            .into_iter()
            .map(|e| vec![e])
            .collect()
    };
    // Five failures then the success: both detections, the steps with their counts.
    let alerts = run(
        &ps,
        PackOptions::replay(),
        &objects(
            "console-login-after-failures",
            "five failures for alice, then alice signs in from the same address",
        ),
    );
    assert_eq!(alerts.len(), 2);
    let main = alerts
        .iter()
        .find(|a| a.evidence.get("variant").is_none())
        .unwrap();
    let w = &main.evidence["window"];
    assert_eq!(w["group_by"]["principal"], "111122223333:user/alice");
    assert_eq!(w["observed"], 2.0);
    let failures = &w["steps"][0];
    assert_eq!(failures["step"], "failures");
    assert_eq!(failures["count"], 5);
    assert_eq!(failures["first_time"], "2024-06-11T08:00:00Z");
    assert_eq!(failures["time"], "2024-06-11T08:04:00Z");
    assert_eq!(failures["events"].as_array().unwrap().len(), 5);
    assert_eq!(w["steps"][1]["step"], "success");
    assert!(w["steps"][1].get("count").is_none());
    assert_eq!(main.count, 6);
    assert!(
        main.summary
            .contains("(failures ×5 → success within 30m for principal=111122223333:user/alice)"),
        "{}",
        main.summary
    );
    let by_ip = alerts
        .iter()
        .find(|a| a.evidence.get("variant").and_then(|v| v.as_str()) == Some("source-ip"))
        .unwrap();
    assert_eq!(
        by_ip.evidence["window"]["group_by"]["sourceIPAddress"],
        "203.0.113.95"
    );
    // The key's creation and its first use elsewhere: both addresses in the evidence.
    let alerts = run(
        &ps,
        PackOptions::replay(),
        &objects(
            "new-access-key-used-elsewhere",
            "key created by an admin session, first used from another address",
        ),
    );
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    let steps = &a.evidence["window"]["steps"];
    assert_eq!(steps[0]["step"], "create");
    assert_eq!(steps[0]["field"], "sourceIPAddress");
    assert_eq!(steps[0]["value"], "198.51.100.23");
    assert_eq!(steps[1]["step"], "first-use");
    assert_eq!(steps[1]["value"], "203.0.113.45");
    assert_eq!(steps[1]["differs_from"], "create");
    assert_eq!(a.source_ip.as_deref(), Some("203.0.113.45"));
    assert_eq!(a.event_ids.len(), 2, "the later use is not part of it");
    assert!(
        a.summary.contains(
            "create → first-use (sourceIPAddress 203.0.113.45 ≠ 198.51.100.23 of create) within 1d"
        ),
        "{}",
        a.summary
    );
    // A later step's event before the first step is not part of a sequence's alert: the
    // owner's earlier root sign-in is not in the recovery sequence.
    let ps = only(&["root-password-recovery"]);
    let events = case_events(
        ps.get("root-password-recovery").unwrap(),
        "owner signed in before, then recovery and a sign-in from elsewhere",
    );
    let objects: Vec<Vec<Event>> = events.into_iter().map(|e| vec![e]).collect();
    let alerts = run(&ps, PackOptions::replay(), &objects);
    let seq = alerts
        .iter()
        .find(|a| a.evidence.get("variant").and_then(|v| v.as_str()) == Some("recovered-and-used"))
        .unwrap();
    assert_eq!(seq.severity.as_str(), "critical");
    assert_eq!(seq.count, 3);
    assert_eq!(seq.first_event_time, "2024-06-21T01:40:00Z");
}

#[test]
fn threshold_and_distinct_count_evidence() {
    let ps = only(&["ec2-launch-denied-burst", "compute-launch-multi-region"]);
    let burst = case_events(
        ps.get("ec2-launch-denied-burst").unwrap(),
        "five denied launches in nine minutes",
    );
    let a = run(&ps, PackOptions::replay(), &[burst]);
    assert_eq!(a.len(), 1);
    let w = &a[0].evidence["window"];
    assert_eq!(
        (w["kind"].as_str(), w["threshold"].as_u64()),
        (Some("threshold"), Some(5))
    );
    assert_eq!(w["observed"], 5.0);
    assert_eq!(w["events"].as_array().unwrap().len(), 5);
    assert_eq!(w["group_by"]["principal"], "111122223333:user/mallory");
    assert_eq!(
        a[0].evidence["last_event"]["errorCode"],
        "Client.UnauthorizedOperation"
    );
    let multi = case_events(
        ps.get("compute-launch-multi-region").unwrap(),
        "launches in three regions within 40 minutes",
    );
    let a = run(&ps, PackOptions::replay(), &[multi]);
    assert_eq!(a.len(), 1);
    let w = &a[0].evidence["window"];
    assert_eq!(w["distinct"], "awsRegion");
    assert_eq!(
        w["values"],
        serde_json::json!(["ap-southeast-1", "sa-east-1", "us-east-1"])
    );
    assert_eq!(a[0].severity.as_str(), "high");
}

#[test]
fn first_seen_baselines_persist_across_runs() {
    let ps = only(&["ssm-shell-command-new-principal"]);
    let p = ps.get("ssm-shell-command-new-principal").unwrap();
    let events = case_events(
        p,
        "a principal's first shell command after ten days of history",
    );
    let (base, new) = (events[0].clone(), events[1].clone());
    let dir = std::env::temp_dir().join(format!("tw-pack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("first-seen.json");
    // Run 1 sees only the baseline event and saves.
    let mut one = PackEngine::new(
        &ps,
        &IpLists::new(),
        &Overrides::default(),
        PackOptions::replay(),
    )
    .unwrap();
    let mut out = Vec::new();
    one.evaluate(&base, "o1");
    one.flush(&mut out);
    assert!(out.is_empty());
    one.save_state(&path).unwrap();
    // Run 2 restores and sees the new principal eleven days later: the baseline is mature.
    let mut two = PackEngine::new(
        &ps,
        &IpLists::new(),
        &Overrides::default(),
        PackOptions::replay(),
    )
    .unwrap();
    assert!(two.load_state(&path).unwrap());
    two.evaluate(&new, "o2");
    two.flush(&mut out);
    assert_eq!(out.len(), 1);
    let fs = &out[0].evidence["first_seen"];
    assert_eq!(fs["entity"]["principal"], "111122223333:user/mallory");
    assert_eq!(
        fs["value"]["requestParameters.documentName"],
        "AWS-RunShellScript"
    );
    assert_eq!(fs["history_since"], "2024-06-01T09:00:00Z");
    // Without the restored baseline, the same event is only learnt.
    let mut fresh = PackEngine::new(
        &ps,
        &IpLists::new(),
        &Overrides::default(),
        PackOptions::replay(),
    )
    .unwrap();
    let mut none = Vec::new();
    fresh.evaluate(&new, "o2");
    fresh.flush(&mut none);
    assert!(none.is_empty());
    assert_eq!(fresh.stats().learning, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn overrides_apply_to_stateful_rules() {
    let ps = only(&["ec2-launch-denied-burst"]);
    let burst = case_events(
        ps.get("ec2-launch-denied-burst").unwrap(),
        "five denied launches in nine minutes",
    );
    let ov: Overrides = serde_json::from_value(serde_json::json!({
        "policies": {"ec2-launch-denied-burst": {"severity": "high"}}
    }))
    .unwrap();
    let mut pack = PackEngine::new(&ps, &IpLists::new(), &ov, PackOptions::replay()).unwrap();
    let mut out = Vec::new();
    for e in &burst {
        pack.evaluate(e, "o");
    }
    pack.flush(&mut out);
    assert_eq!(out[0].severity.as_str(), "high");
    let ov: Overrides = serde_json::from_value(serde_json::json!({
        "exclude": [{"principal": "*:user/mallory"}]
    }))
    .unwrap();
    let mut pack = PackEngine::new(&ps, &IpLists::new(), &ov, PackOptions::replay()).unwrap();
    let mut out = Vec::new();
    for e in &burst {
        pack.evaluate(e, "o");
    }
    pack.flush(&mut out);
    assert!(out.is_empty());
    let ov: Overrides = serde_json::from_value(serde_json::json!({
        "policies": {"ec2-launch-denied-burst": {"enabled": false}}
    }))
    .unwrap();
    let pack = PackEngine::new(&ps, &IpLists::new(), &ov, PackOptions::replay()).unwrap();
    assert!(pack.is_empty());
}

const DEDUP: &str = r#"
id: api-from-listed-ip
title: API call from a listed address
description: d
severity: medium
mitre: [T1078.004]
kind: event
dedup:
  by: [principal, sourceIPAddress]
  window: 1h
match:
  event_source: [ec2.amazonaws.com, s3.amazonaws.com]
  outcome: any
"#;

#[test]
fn dedup_gives_one_alert_per_key_and_window() {
    let mut ps = Policies::new();
    ps.add(Policy::from_yaml("dedup.yaml", DEDUP).unwrap())
        .unwrap();
    let ev = |t: &str, id: &str, ip: &str| {
        let json = serde_json::json!({"eventVersion": "1.09", "eventTime": t,
            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
            "sourceIPAddress": ip, "eventID": id, "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory",
                "accountId": "111122223333", "userName": "mallory"}});
        trailwarden_parse::parse_record(json.to_string().as_bytes()).unwrap()
    };
    let events = vec![
        ev("2024-06-10T10:00:00Z", "a", "203.0.113.7"),
        ev("2024-06-10T10:20:00Z", "b", "203.0.113.7"),
        ev("2024-06-10T10:21:00Z", "c", "198.51.100.9"),
        ev("2024-06-10T10:59:59Z", "d", "203.0.113.7"),
        ev("2024-06-10T11:00:00Z", "e", "203.0.113.7"),
    ];
    let mut rev = events.clone();
    rev.reverse();
    for order in [events, rev] {
        let out = run(&ps, PackOptions::replay(), &[order]);
        let ids: Vec<&str> = out.iter().map(|a| a.event_ids[0].as_str()).collect();
        assert_eq!(ids, ["a", "c", "e"]);
        assert_eq!(out[0].evidence["dedup"]["window_secs"], 3600);
        assert_eq!(
            out[0].evidence["dedup"]["by"]["sourceIPAddress"],
            "203.0.113.7"
        );
    }
}

const COMBO: &str = r#"
id: federation-token-combo
title: Federation token issued
description: d
severity: medium
mitre: [T1550.001]
match:
  event_source: sts.amazonaws.com
  event_name: GetFederationToken
also:
  - name: first-time-caller
    kind: first-seen
    severity: high
    first_seen:
      entity: [principal]
      value: [eventName]
      baseline: 10d
  - name: burst
    kind: threshold
    window: 1h
    threshold: 3
    group_by: [principal]
tests:
  - name: a known caller gets the event alerts only
    expect: alert
    count: 3
    events:
      - {"eventTime": "2024-06-01T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "eventID": "a", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"}, "recipientAccountId": "111122223333"}
      - {"eventTime": "2024-06-09T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "eventID": "b", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"}, "recipientAccountId": "111122223333"}
      - {"eventTime": "2024-06-12T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "eventID": "e", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"}, "recipientAccountId": "111122223333"}
  - name: a new caller after ten days also gets the first-seen alert
    expect: alert
    count: 3
    events:
      - {"eventTime": "2024-06-01T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "eventID": "a", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"}, "recipientAccountId": "111122223333"}
      - {"eventTime": "2024-06-12T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "eventID": "c", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333", "userName": "bob"}, "recipientAccountId": "111122223333"}
  - name: other calls
    expect: no-alert
    event: {"eventTime": "2024-06-12T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "GetSessionToken", "eventID": "d", "recipientAccountId": "111122223333"}
"#;

#[test]
fn also_combines_kinds_under_one_rule() {
    let p = Policy::from_yaml("combo.yaml", COMBO).unwrap();
    assert!(p.needs_runtime());
    assert_eq!(p.kind_label(), "event + first-seen + threshold");
    assert_eq!(
        trailwarden_detect::kind_text(&p),
        "event + first-seen (10d) + threshold ≥ 3 / 1h"
    );
    let mut ps = Policies::new();
    ps.add(p.clone()).unwrap();
    let report = run_policy_tests(&ps, &IpLists::new());
    assert!(report.all_passed(), "{report}");
    // Through the detector chain of a run: event detections on the engine, the rest in the
    // pack; the first-seen alert is high, the event alert medium, all under one rule id.
    let events = case_events(
        &p,
        "a new caller after ten days also gets the first-seen alert",
    );
    let engine =
        trailwarden_detect::Engine::new(&ps, &IpLists::new(), &Overrides::default()).unwrap();
    let mut out = Vec::new();
    for e in &events {
        engine.evaluate(
            e,
            trailwarden_detect::EventRef { source_object: "o" },
            &mut out,
        );
    }
    out.extend(run(&ps, PackOptions::replay(), &[events]));
    canonical_order(&mut out);
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|a| a.rule_id == "federation-token-combo"));
    let fs: Vec<&Alert> = out
        .iter()
        .filter(|a| a.evidence.get("variant").is_some())
        .collect();
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].evidence["variant"], "first-time-caller");
    assert_eq!(fs[0].severity.as_str(), "high");
    assert_eq!(fs[0].event_ids, ["c"]);
    assert!(out
        .iter()
        .filter(|a| a.evidence.get("variant").is_none())
        .all(|a| a.severity.as_str() == "medium"));
    // The threshold variant: three calls within the hour.
    let burst: Vec<Event> = ["10:00", "10:20", "10:40"]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let json = serde_json::json!({"eventTime": format!("2024-06-12T{t}:00Z"),
                "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken",
                "eventID": format!("x{i}"), "recipientAccountId": "111122223333",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                    "accountId": "111122223333", "userName": "alice"}});
            trailwarden_parse::parse_record(json.to_string().as_bytes()).unwrap()
        })
        .collect();
    let a = run(&ps, PackOptions::replay(), &[burst]);
    let burst_alerts: Vec<&Alert> = a
        .iter()
        .filter(|a| a.evidence["variant"] == "burst")
        .collect();
    assert_eq!(burst_alerts.len(), 1);
    assert_eq!(burst_alerts[0].evidence["window"]["observed"], 3.0);
    assert_eq!(burst_alerts[0].severity.as_str(), "medium");
}

#[test]
fn also_entries_are_validated() {
    let bad = [
        (
            COMBO.replace("name: burst", "name: first-time-caller"),
            "unique `name`",
        ),
        (
            COMBO.replace(
                "    kind: threshold\n    window: 1h\n",
                "    kind: sequence\n    window: 1h\n",
            ),
            "also[1] `burst`",
        ),
        (
            COMBO.replace(
                "    threshold: 3\n",
                "    threshold: 3\n    distinct: awsRegion\n",
            ),
            "`distinct` is not used",
        ),
        (
            COMBO.replace("    severity: high\n", "    severity: urgent\n"),
            "urgent",
        ),
    ];
    for (text, msg) in bad {
        let e = Policy::from_yaml("combo.yaml", &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(msg), "{msg}: {e}");
    }
}
