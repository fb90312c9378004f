//! Alert grouping: one alert per (rule, account, principal, event-time bucket) for rules up to
//! the configured level, independent of arrival order, emitted when the bucket closes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{batch, event, record, rules, run, T0};
use trailwarden_alert::{Alert, Severity};
use trailwarden_parse::Event;
use trailwarden_pipeline::Detector;
use trailwarden_sigma::{Grouping, SigmaEngine, SigmaOptions};

const MIN: i64 = 60_000_000;

const RULES: &str = r#"
title: Reads by a user
id: 6a0e7f52-0000-4000-8000-000000000001
level: low
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: ec2.amazonaws.com
    eventName|startswith: Describe
  condition: selection
---
title: Key deletion
id: 6a0e7f52-0000-4000-8000-000000000002
level: high
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ScheduleKeyDeletion
  condition: selection
"#;

const LOW: &str = "6a0e7f52-0000-4000-8000-000000000001";
const HIGH: &str = "6a0e7f52-0000-4000-8000-000000000002";

fn hourly(lateness: Option<u64>) -> SigmaOptions {
    SigmaOptions {
        allowed_lateness_secs: lateness,
        grouping: Some(Grouping::default_hourly()),
        ..SigmaOptions::replay()
    }
}

/// Two users over three hours: alice 40 Describe calls in hour 0 and 5 in hour 2, bob 7 in
/// hour 0; alice schedules two key deletions (high: never grouped). Five-minute objects.
fn objects() -> Vec<(String, Vec<Event>)> {
    let mut evs = Vec::new();
    let mut n = 0;
    let mut push = |name: &str, t: i64, user: &str| {
        n += 1;
        let id = format!("00000000-0000-4000-8000-{n:012}");
        evs.push(event(&record("ec2.amazonaws.com", name, t, user, &id)));
    };
    for i in 0..40 {
        let name = if i % 4 == 0 {
            "DescribeVolumes"
        } else {
            "DescribeInstances"
        };
        push(name, T0 + i * MIN, "alice");
    }
    for i in 0..7 {
        push("DescribeVpcs", T0 + 3 * MIN + i * 5 * MIN, "bob");
    }
    for i in 0..5 {
        push("DescribeInstances", T0 + 125 * MIN + i * MIN, "alice");
    }
    push("ScheduleKeyDeletion", T0 + 10 * MIN, "alice");
    push("ScheduleKeyDeletion", T0 + 11 * MIN, "alice");
    push("ListBuckets", T0 + 12 * MIN, "alice");
    evs.sort_by_key(|e| e.event_time);
    let mut objects: Vec<(String, Vec<Event>)> = Vec::new();
    for e in evs {
        let key = format!("obj-{:04}", (e.event_time - T0) / (5 * MIN));
        match objects.last_mut() {
            Some((k, v)) if *k == key => v.push(e),
            _ => objects.push((key, vec![e])),
        }
    }
    objects
}

fn run_order(order: &[usize], opts: SigmaOptions) -> (Vec<Alert>, SigmaEngine) {
    let objects = objects();
    let mut e = SigmaEngine::new(rules(RULES), opts);
    let batches: Vec<_> = order
        .iter()
        .map(|&i| batch(&objects[i].0, objects[i].1.clone()))
        .collect();
    let mut a = run(&mut e, &batches);
    a.sort_by(|x, y| x.id.cmp(&y.id));
    (a, e)
}

fn of<'a>(alerts: &'a [Alert], rule: &str, principal: &str) -> Vec<&'a Alert> {
    let mut v: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.rule_id == rule && a.principal.as_deref() == Some(principal))
        .collect();
    v.sort_by(|a, b| a.first_event_time.cmp(&b.first_event_time));
    v
}

#[test]
fn groups_per_principal_and_hour_and_leaves_high_rules_alone() {
    let n = objects().len();
    let (a, e) = run_order(&(0..n).collect::<Vec<_>>(), hourly(None));
    let alice = of(&a, LOW, "111122223333:user/alice");
    assert_eq!(alice.len(), 2, "{alice:#?}");
    assert_eq!(alice[0].count, 40);
    assert_eq!(alice[0].event_ids.len(), 40);
    assert_eq!(alice[0].first_event_time, "2024-05-02T10:00:00Z");
    assert_eq!(alice[0].last_event_time, "2024-05-02T10:39:00Z");
    assert_eq!(
        alice[0].event_ids.first().map(String::as_str),
        Some("00000000-0000-4000-8000-000000000001")
    );
    let g = &alice[0].evidence["group"];
    assert_eq!(g["count"], 40);
    assert_eq!(g["window_secs"], 3600);
    assert_eq!(g["start"], "2024-05-02T10:00:00Z");
    assert_eq!(g["end"], "2024-05-02T11:00:00Z");
    assert_eq!(g["event_names"]["DescribeInstances"], 30);
    assert_eq!(g["event_names"]["DescribeVolumes"], 10);
    assert!(
        alice[0].summary.contains("40 matching events"),
        "{}",
        alice[0].summary
    );
    assert_eq!(alice[1].count, 5);
    assert_eq!(alice[1].first_event_time, "2024-05-02T12:05:00Z");
    let bob = of(&a, LOW, "111122223333:user/bob");
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].count, 7);
    // high: one alert per event, no group evidence
    let high = of(&a, HIGH, "111122223333:user/alice");
    assert_eq!(high.len(), 2);
    assert!(high
        .iter()
        .all(|h| h.count == 1 && h.evidence.get("group").is_none()));
    assert_eq!(a.len(), 5);
    let s = e.stats();
    assert_eq!(s.grouped_matches, 52);
    assert_eq!(s.groups_emitted, 3);
    assert_eq!(s.groups_open, 0);
    assert_eq!(s.groups_forced, 0);
}

#[test]
fn without_grouping_every_match_alerts() {
    let n = objects().len();
    let (a, _) = run_order(&(0..n).collect::<Vec<_>>(), SigmaOptions::replay());
    assert_eq!(a.len(), 54);
}

#[test]
fn grouped_alerts_do_not_depend_on_object_order() {
    let n = objects().len();
    let forward: Vec<usize> = (0..n).collect();
    let reverse: Vec<usize> = (0..n).rev().collect();
    let shuffled = common::shuffled(n, 0x2545_f491);
    let (a, _) = run_order(&forward, hourly(None));
    let (b, _) = run_order(&reverse, hourly(None));
    let (c, _) = run_order(&shuffled, hourly(None));
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn the_evidence_list_keeps_the_earliest_events_whatever_the_order() {
    // 150 matches in one bucket: the 100 earliest are listed, in time order.
    let evs: Vec<Event> = (0..150)
        .map(|i| {
            let id = format!("10000000-0000-4000-8000-{i:012}");
            event(&record(
                "ec2.amazonaws.com",
                "DescribeInstances",
                T0 + i * 10_000_000,
                "carol",
                &id,
            ))
        })
        .collect();
    let mut rev = evs.clone();
    rev.reverse();
    let go = |evs: Vec<Event>| {
        let mut e = SigmaEngine::new(rules(RULES), hourly(None));
        let a = run(&mut e, &[batch("obj", evs)]);
        assert_eq!(a.len(), 1);
        a.into_iter().next().unwrap()
    };
    let a = go(evs);
    let b = go(rev);
    assert_eq!(a, b);
    assert_eq!(a.count, 150);
    assert_eq!(a.event_ids.len(), 100);
    assert_eq!(a.event_ids[0], "10000000-0000-4000-8000-000000000000");
    assert_eq!(a.event_ids[99], "10000000-0000-4000-8000-000000000099");
}

#[test]
fn live_emits_when_the_bucket_closes_and_late_matches_alert_alone() {
    let objects = objects();
    let mut e = SigmaEngine::new(rules(RULES), hourly(Some(15 * 60)));
    let mut out = Vec::new();
    // Everything up to 11:10: hour 10 is still open (watermark 10:55).
    for (k, evs) in &objects {
        if evs[0].event_time < T0 + 70 * MIN {
            e.detect(&batch(k, evs.clone()), &mut out);
        }
    }
    assert!(out.iter().all(|a| a.rule_id == HIGH), "{out:#?}");
    // An event at 11:20 moves the watermark to 11:05: hour 10 closes.
    let tick = event(&record(
        "s3.amazonaws.com",
        "ListBuckets",
        T0 + 80 * MIN,
        "dave",
        "00000000-0000-4000-8000-00000000ffff",
    ));
    e.detect(&batch("tick", vec![tick]), &mut out);
    let low: Vec<_> = out.iter().filter(|a| a.rule_id == LOW).collect();
    assert_eq!(low.len(), 2, "{low:#?}");
    // A straggler for hour 10 after it closed: an alert of its own, marked late.
    let late = event(&record(
        "ec2.amazonaws.com",
        "DescribeInstances",
        T0 + 50 * MIN,
        "alice",
        "00000000-0000-4000-8000-00000000fffe",
    ));
    e.detect(&batch("late", vec![late]), &mut out);
    let late: Vec<_> = out
        .iter()
        .filter(|a| a.evidence.get("group").is_some_and(|g| g["late"] == true))
        .collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].count, 1);
    assert_eq!(e.stats().group_late_matches, 1);
    let ids: std::collections::BTreeSet<_> = out.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids.len(), out.len(), "alert ids are unique");
}

#[test]
fn the_group_cap_emits_the_oldest_early_and_counts_it() {
    let mut opts = hourly(None);
    opts.grouping = Some(Grouping {
        max_groups: 2,
        ..Grouping::default_hourly()
    });
    let n = objects().len();
    let (a, e) = run_order(&(0..n).collect::<Vec<_>>(), opts);
    assert_eq!(e.stats().groups_forced, 1);
    // nothing is lost: every match is in some alert
    let low: u64 = a.iter().filter(|a| a.rule_id == LOW).map(|a| a.count).sum();
    assert_eq!(low, 52);
}

#[test]
fn max_severity_decides_which_rules_are_grouped() {
    let mut opts = hourly(None);
    opts.grouping = Some(Grouping {
        max_severity: Severity::High,
        ..Grouping::default_hourly()
    });
    let n = objects().len();
    let (a, _) = run_order(&(0..n).collect::<Vec<_>>(), opts);
    let high = of(&a, HIGH, "111122223333:user/alice");
    assert_eq!(high.len(), 1);
    assert_eq!(high[0].count, 2);
}
