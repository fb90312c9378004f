//! Correlation rules on generated bursts: trailwarden's equivalents of the eight legacy SigmaHQ
//! threshold rules (`testdata/sigma/correlation/`), chaining, event-time ordering across
//! objects in any order, lateness, and bounded state.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};
use trailwarden_alert::{Alert, Severity};
use trailwarden_parse::Event;
use trailwarden_sigma::{SigmaEngine, SigmaOptions, SigmaRules};

const MIN: i64 = 60_000_000;

fn corr_rules() -> SigmaRules {
    SigmaRules::load_dirs(&[repo_root().join("testdata/sigma/correlation")]).unwrap()
}

fn engine_with(opts: SigmaOptions) -> SigmaEngine {
    SigmaEngine::new(corr_rules(), opts)
}

fn ev(source: &str, name: &str, t: i64, user: &str, id: &str) -> Event {
    event(&record(source, name, t, user, id))
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

/// `n` calls of `names` (cycled) by `user`, `step` µs apart from `start`.
fn burst(
    source: &str,
    names: &[&str],
    n: usize,
    start: i64,
    step: i64,
    user: &str,
    tag: &str,
) -> Vec<Event> {
    (0..n)
        .map(|i| {
            ev(
                source,
                names[i % names.len()],
                start + step * i as i64,
                user,
                &format!("{tag}-{i}"),
            )
        })
        .collect()
}

fn fired<'a>(alerts: &'a [Alert], rule_id: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule_id == rule_id).collect()
}

fn run_one(events: Vec<Event>) -> Vec<Alert> {
    let mut e = engine_with(SigmaOptions::replay());
    run(&mut e, &[batch("obj-1", events)])
}

const NETWORK: &str = "c3d53999-4b14-4ddd-9d9b-e618c366b54d";
const USERDATA: &str = "26ff4080-194e-47e7-9889-ef7602efed0c";
const STORAGE: &str = "4723218f-2048-41f6-bcb0-417f2d784f61";
const BACKUP: &str = "76255e09-755e-4675-8b6b-dbce9842cd2a";
const MACIE: &str = "91f6a16c-ef71-437a-99ac-0b070e3ad221";
const LISTING: &str = "e9c14b23-47e2-4a8b-8a63-d36618e33d70";
const SES: &str = "60b84424-a724-4502-bd0d-cc676e1bc90e";
const LAMBDA: &str = "d914951b-52c8-485f-875e-86abab710c0b";

#[test]
fn the_eight_legacy_equivalents_load() {
    let r = corr_rules();
    let ids: BTreeSet<&str> = r
        .correlation_rules()
        .iter()
        .map(|c| c.meta.id.as_str())
        .collect();
    for id in [
        NETWORK, USERDATA, STORAGE, BACKUP, MACIE, LISTING, SES, LAMBDA,
    ] {
        assert!(ids.contains(id), "{id}");
    }
}

#[test]
fn network_enumeration_burst_fires_and_sparse_calls_do_not() {
    let names = [
        "DescribeCarrierGateways",
        "DescribeDhcpOptions",
        "DescribeClientVpnRoutes",
    ];
    let a = run_one(burst(
        "ec2.amazonaws.com",
        &names,
        6,
        T0,
        30_000_000,
        "mallory",
        "n",
    ));
    let f = fired(&a, NETWORK);
    assert_eq!(f.len(), 1);
    let alert = f[0];
    assert_eq!(alert.count, 6);
    assert_eq!(alert.event_ids.len(), 6);
    assert_eq!(alert.severity, Severity::Low);
    assert_eq!(alert.mitre, ["T1016"]);
    assert_eq!(alert.first_event_time, iso(T0));
    assert_eq!(alert.last_event_time, iso(T0 + 5 * 30_000_000));
    assert_eq!(alert.evidence["correlation"]["type"], "event_count");
    // generate: false — the base rule does not alert by itself
    assert!(a.iter().all(|x| x.rule_id == NETWORK));
    // five calls: below the threshold
    assert!(fired(
        &run_one(burst("ec2.amazonaws.com", &names, 5, T0, MIN, "m", "n")),
        NETWORK
    )
    .is_empty());
    // six calls, four minutes apart: never more than three in 10 minutes
    assert!(fired(
        &run_one(burst("ec2.amazonaws.com", &names, 6, T0, 4 * MIN, "m", "n")),
        NETWORK
    )
    .is_empty());
    // other calls do not count
    assert!(fired(
        &run_one(burst(
            "ec2.amazonaws.com",
            &["DescribeInstances"],
            20,
            T0,
            1,
            "m",
            "x"
        )),
        NETWORK
    )
    .is_empty());
}

#[test]
fn userdata_download_needs_the_userdata_attribute() {
    let mk = |attr: &str, n: usize| -> Vec<Event> {
        (0..n)
            .map(|i| {
                let r = record(
                    "ec2.amazonaws.com",
                    "DescribeInstanceAttribute",
                    T0 + i as i64 * MIN,
                    "bot",
                    &format!("u{attr}{i}"),
                );
                event(&with(
                    r,
                    "requestParameters",
                    json!({"instanceId": format!("i-{i:04}"), "attribute": attr}),
                ))
            })
            .collect()
    };
    assert_eq!(fired(&run_one(mk("userData", 11)), USERDATA).len(), 1);
    assert!(fired(&run_one(mk("userData", 10)), USERDATA).is_empty());
    assert!(fired(&run_one(mk("instanceType", 30)), USERDATA).is_empty());
}

#[test]
fn storage_and_backup_enumeration_bursts_fire() {
    let s = [
        "ListBuckets",
        "GetBucketPolicy",
        "GetBucketCors",
        "GetBucketTagging",
    ];
    assert_eq!(
        fired(
            &run_one(burst("s3.amazonaws.com", &s, 6, T0, MIN, "eve", "s")),
            STORAGE
        )
        .len(),
        1
    );
    let b = ["DescribeVolumes", "DescribeImages", "GetPasswordData"];
    assert_eq!(
        fired(
            &run_one(burst("ec2.amazonaws.com", &b, 12, T0, MIN / 2, "eve", "b")),
            BACKUP
        )
        .len(),
        2
    );
    assert!(fired(
        &run_one(burst("ec2.amazonaws.com", &b, 5, T0, MIN, "eve", "b")),
        BACKUP
    )
    .is_empty());
}

#[test]
fn macie_evasion_groups_by_source_ip() {
    let names = ["DisableMacie", "ArchiveFindings", "UpdateFindingsFilter"];
    let same_ip = burst("macie2.amazonaws.com", &names, 6, T0, MIN, "eve", "m");
    let a = run_one(same_ip);
    let f = fired(&a, MACIE);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].evidence["correlation"]["group_by"]["sourceIPAddress"],
        "203.0.113.10"
    );
    let spread: Vec<Event> = (0..12)
        .map(|i| {
            let r = record(
                "macie2.amazonaws.com",
                "DisableMacie",
                T0 + i * MIN / 4,
                "eve",
                &format!("mi{i}"),
            );
            event(&with(
                r,
                "sourceIPAddress",
                json!(format!("198.51.100.{i}")),
            ))
        })
        .collect();
    assert!(fired(&run_one(spread), MACIE).is_empty());
}

#[test]
fn listing_burst_fires_on_more_than_fifty_list_calls() {
    let names = [
        "ListBuckets",
        "ListUsers",
        "ListRoles",
        "ListFunctions20150331",
    ];
    assert_eq!(
        fired(
            &run_one(burst(
                "iam.amazonaws.com",
                &names,
                51,
                T0,
                1_000_000,
                "scan",
                "l"
            )),
            LISTING
        )
        .len(),
        1
    );
    assert!(fired(
        &run_one(burst(
            "iam.amazonaws.com",
            &names,
            50,
            T0,
            1_000_000,
            "scan",
            "l"
        )),
        LISTING
    )
    .is_empty());
}

#[test]
fn ses_abuse_is_temporal_in_either_order_within_five_minutes() {
    let a = ev(
        "ses.amazonaws.com",
        "UpdateAccountSendingEnabled",
        T0,
        "eve",
        "s1",
    );
    let b = ev(
        "ses.amazonaws.com",
        "VerifyEmailIdentity",
        T0 + 2 * MIN,
        "eve",
        "s2",
    );
    assert_eq!(fired(&run_one(vec![a.clone(), b.clone()]), SES).len(), 1);
    // reverse order: temporal does not care
    let b0 = ev(
        "ses.amazonaws.com",
        "VerifyEmailIdentity",
        T0 - 2 * MIN,
        "eve",
        "s0",
    );
    assert_eq!(fired(&run_one(vec![a.clone(), b0]), SES).len(), 1);
    // ten minutes apart: no
    let late = ev(
        "ses.amazonaws.com",
        "VerifyEmailIdentity",
        T0 + 10 * MIN,
        "eve",
        "s3",
    );
    assert!(fired(&run_one(vec![a.clone(), late]), SES).is_empty());
    // only one of the two: no
    assert!(fired(&run_one(vec![a]), SES).is_empty());
}

fn lambda_event(name: &str, t: i64, func: &str, id: &str) -> Event {
    let mut r = record("lambda.amazonaws.com", name, t, "dev", id);
    if name == "Invoke" {
        r["requestParameters"] =
            json!({"functionName": format!("arn:aws:lambda:us-east-1:{ACCT}:function:{func}")});
        r["eventCategory"] = json!("Data");
        r["managementEvent"] = json!(false);
    } else {
        r["requestParameters"] = json!({"functionName": func, "runtime": "python3.12"});
        r["responseElements"] = json!({"functionName": format!("arn:aws:lambda:us-east-1:{ACCT}:function:{func}"), "state": "Pending"});
    }
    event(&r)
}

#[test]
fn lambda_created_then_invoked_is_ordered_and_aliased() {
    let c = lambda_event("CreateFunction20150331", T0, "backdoor", "c1");
    let i = lambda_event("Invoke", T0 + 5 * MIN, "backdoor", "i1");
    let a = run_one(vec![i.clone(), c.clone()]); // arrival order does not matter
    let f = fired(&a, LAMBDA);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].event_ids, ["c1", "i1"]);
    assert_eq!(
        f[0].evidence["correlation"]["group_by"]["function"],
        format!("arn:aws:lambda:us-east-1:{ACCT}:function:backdoor")
    );
    // generate: true keeps the creation rule's own alert
    assert!(a.iter().any(|x| x.title == "AWS Lambda Function Created"));
    // invoked before created: not in order
    let early = lambda_event("Invoke", T0 - MIN, "backdoor", "i0");
    assert!(fired(&run_one(vec![c.clone(), early]), LAMBDA).is_empty());
    // another function: different group
    let other = lambda_event("Invoke", T0 + MIN, "other", "i2");
    assert!(fired(&run_one(vec![c, other]), LAMBDA).is_empty());
}

#[test]
fn chained_value_count_then_temporal_ordered() {
    let chain_id = SigmaRules::load_dirs(&[repo_root().join("testdata/sigma/correlation")])
        .unwrap()
        .correlation_rules()
        .iter()
        .find(|c| c.meta.title == "S3 reconnaissance followed by versioning suspended")
        .unwrap()
        .meta
        .id
        .clone();
    let recon = [
        "ListBuckets",
        "GetBucketPolicy",
        "GetBucketAcl",
        "GetBucketVersioning",
    ];
    let mut events = burst("s3.amazonaws.com", &recon, 4, T0, MIN, "eve", "r");
    let suspend = |user: &str, t: i64, id: &str| {
        let r = record("s3.amazonaws.com", "PutBucketVersioning", t, user, id);
        event(&with(
            r,
            "requestParameters",
            json!({"bucketName": "b", "VersioningConfiguration": {"Status": "Suspended"}}),
        ))
    };
    events.push(suspend("eve", T0 + 20 * MIN, "v1"));
    let a = run_one(events.clone());
    let f = fired(&a, &chain_id);
    assert_eq!(f.len(), 1, "{a:#?}");
    assert_eq!(f[0].severity, Severity::High);
    // the chained alert lists the recon events and the suspension
    assert_eq!(f[0].event_ids, ["r-0", "r-1", "r-2", "r-3", "v1"]);
    // the inner value_count alerts too (nothing sets generate: false on it)... it is referenced
    // by the chain without generate, so it stays quiet:
    assert!(a
        .iter()
        .all(|x| x.title != "Broad S3 reconnaissance by one principal"));
    // the versioning rule is referenced without generate: quiet as well
    assert!(a
        .iter()
        .all(|x| x.title != "S3 bucket versioning suspended"));
    // three distinct calls only: no chain
    let mut few = burst("s3.amazonaws.com", &recon[..3], 6, T0, MIN, "eve", "r");
    few.push(suspend("eve", T0 + 20 * MIN, "v1"));
    assert!(fired(&run_one(few), &chain_id).is_empty());
    // someone else suspends: no chain
    let mut other = burst("s3.amazonaws.com", &recon, 4, T0, MIN, "eve", "r");
    other.push(suspend("bob", T0 + 20 * MIN, "v1"));
    assert!(fired(&run_one(other), &chain_id).is_empty());
}

/// A day of mixed bursts split into objects, to compare arrival orders.
fn mixed_objects() -> Vec<(String, Vec<Event>)> {
    let mut all = Vec::new();
    let net = ["DescribeCarrierGateways", "DescribeDhcpOptions"];
    for k in 0..12i64 {
        let start = T0 + k * 37 * MIN;
        all.extend(burst(
            "ec2.amazonaws.com",
            &net,
            4 + (k as usize % 5),
            start,
            40_000_000,
            "u",
            &format!("n{k}"),
        ));
        all.extend(burst(
            "macie2.amazonaws.com",
            &["DisableMacie"],
            3 + (k as usize % 6),
            start + 3 * MIN,
            50_000_000,
            "u",
            &format!("m{k}"),
        ));
        all.push(ev(
            "ses.amazonaws.com",
            "UpdateAccountSendingEnabled",
            start + 11 * MIN,
            "u",
            &format!("s{k}a"),
        ));
        all.push(ev(
            "ses.amazonaws.com",
            "VerifyEmailIdentity",
            start + 11 * MIN + (k % 3) * 4 * MIN,
            "u",
            &format!("s{k}b"),
        ));
    }
    all.sort_by_key(|e| e.event_time);
    // objects of 5 minutes of events, like CloudTrail's delivery
    let mut objects: Vec<(String, Vec<Event>)> = Vec::new();
    for e in all {
        let slot = (e.event_time - T0) / (5 * MIN);
        let key = format!("obj-{slot:04}");
        match objects.last_mut() {
            Some((k, v)) if *k == key => v.push(e),
            _ => objects.push((key, vec![e])),
        }
    }
    objects
}

fn ids(alerts: &[Alert]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.id.clone()).collect()
}

fn run_order(
    objects: &[(String, Vec<Event>)],
    order: &[usize],
    opts: SigmaOptions,
) -> (Vec<Alert>, SigmaEngine) {
    let mut e = engine_with(opts);
    let batches: Vec<_> = order
        .iter()
        .map(|&i| batch(&objects[i].0, objects[i].1.clone()))
        .collect();
    let a = run(&mut e, &batches);
    (a, e)
}

#[test]
fn replay_results_do_not_depend_on_object_order() {
    let objects = mixed_objects();
    let n = objects.len();
    let forward: Vec<usize> = (0..n).collect();
    let reverse: Vec<usize> = (0..n).rev().collect();
    let shuffled = common::shuffled(n, 0x9e37_79b9);
    let (a, _) = run_order(&objects, &forward, SigmaOptions::replay());
    let (b, _) = run_order(&objects, &reverse, SigmaOptions::replay());
    let (c, _) = run_order(&objects, &shuffled, SigmaOptions::replay());
    assert!(!a.is_empty());
    assert!(
        fired(&a, NETWORK).len() >= 3 && fired(&a, MACIE).len() >= 3 && fired(&a, SES).len() >= 3
    );
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(ids(&a), ids(&c));
}

#[test]
fn live_results_are_order_independent_within_the_allowed_lateness() {
    let objects = mixed_objects();
    let n = objects.len();
    // Swap neighbours: every event arrives at most ~10 minutes after a later one.
    let mut jitter: Vec<usize> = (0..n).collect();
    for i in (0..n.saturating_sub(1)).step_by(2) {
        jitter.swap(i, i + 1);
    }
    let live = SigmaOptions::live(); // 15 minutes
    let (a, ea) = run_order(&objects, &(0..n).collect::<Vec<_>>(), live.clone());
    let (b, eb) = run_order(&objects, &jitter, live.clone());
    let (r, _) = run_order(
        &objects,
        &(0..n).collect::<Vec<_>>(),
        SigmaOptions::replay(),
    );
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(ids(&a), ids(&r));
    assert_eq!(ea.stats().late_dropped, 0);
    assert_eq!(eb.stats().late_dropped, 0);

    // Far beyond the lateness: the first object arrives last; its observations are late,
    // dropped and counted.
    let mut late: Vec<usize> = (1..n).collect();
    late.push(0);
    let (_, el) = run_order(&objects, &late, live);
    assert!(el.stats().late_dropped > 0, "{:?}", el.stats());
}

#[test]
fn live_engine_emits_before_finish() {
    let names = ["DescribeDhcpOptions"];
    let mut e = engine_with(SigmaOptions::live());
    let mut out = Vec::new();
    use trailwarden_pipeline::Detector;
    e.detect(
        &batch(
            "a",
            burst("ec2.amazonaws.com", &names, 6, T0, MIN, "u", "a"),
        ),
        &mut out,
    );
    assert!(out.is_empty(), "still within the lateness");
    // a later object moves the watermark past the burst
    e.detect(
        &batch(
            "b",
            vec![ev("s3.amazonaws.com", "GetObject", T0 + 40 * MIN, "u", "b")],
        ),
        &mut out,
    );
    assert_eq!(fired(&out, NETWORK).len(), 1);
    let mut rest = Vec::new();
    e.finish(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn group_state_is_bounded_and_eviction_is_counted() {
    let opts = SigmaOptions {
        max_groups: 10,
        ..SigmaOptions::replay()
    };
    let events: Vec<Event> = (0..200)
        .map(|i| {
            let r = record(
                "macie2.amazonaws.com",
                "DisableMacie",
                T0 + i,
                "u",
                &format!("g{i}"),
            );
            event(&with(
                r,
                "sourceIPAddress",
                json!(format!("10.0.{}.{}", i / 250, i % 250)),
            ))
        })
        .collect();
    let mut e = SigmaEngine::new(corr_rules(), opts);
    let _ = run(&mut e, &[batch("o", events)]);
    let s = e.stats();
    assert!(s.groups <= 10, "{s:?}");
    assert!(s.groups_evicted >= 190, "{s:?}");

    let small_buffer = SigmaOptions {
        max_buffered: 5,
        ..SigmaOptions::replay()
    };
    let mut e = SigmaEngine::new(corr_rules(), small_buffer);
    let a = run(
        &mut e,
        &[batch(
            "o",
            burst(
                "ec2.amazonaws.com",
                &["DescribeDhcpOptions"],
                12,
                T0,
                MIN / 10,
                "u",
                "x",
            ),
        )],
    );
    assert!(e.stats().forced_releases > 0);
    assert_eq!(
        fired(&a, NETWORK).len(),
        2,
        "in-order input gives the same result with a small buffer"
    );
}

#[test]
fn correlation_alert_ids_are_deterministic() {
    let names = ["DescribeDhcpOptions"];
    let a = run_one(burst("ec2.amazonaws.com", &names, 6, T0, MIN, "u", "d"));
    let b = run_one(burst("ec2.amazonaws.com", &names, 6, T0, MIN, "u", "d"));
    assert_eq!(ids(&a), ids(&b));
    let c = run_one(burst("ec2.amazonaws.com", &names, 6, T0, MIN, "u", "other"));
    assert_ne!(ids(&a), ids(&c));
}

#[test]
fn correlation_problems_are_refused() {
    let base = "title: b\nid: b1\nname: base\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: X}, condition: sel}\n";
    let cases = [
        ("correlation: {type: event_count, rules: [nope], timespan: 5m, condition: {gte: 2}}", "not loaded"),
        ("correlation: {type: value_percentile, rules: [base], timespan: 5m, condition: {gte: 2}}", "unsupported feature `value_percentile`"),
        ("correlation: {type: event_count, rules: [base], timespan: 5x, condition: {gte: 2}}", "bad timespan"),
        ("correlation: {type: value_count, rules: [base], timespan: 5m, condition: {gte: 2}}", "needs `field`"),
        ("correlation: {type: event_count, rules: [base], timespan: 5m}", "needs a `condition`"),
        ("correlation: {type: event_count, rules: [base], timespan: 5m, condition: {gte: 2}, aliases: {x: {other: f}}}", "does not list"),
        ("correlation: {type: sometimes, rules: [base], timespan: 5m}", "unknown correlation type"),
    ];
    for (c, want) in cases {
        let text = format!("{base}---\ntitle: c\nid: c1\n{c}\n");
        let err = load_err(&text);
        assert!(err.contains(want), "{c}: {err}");
        assert!(err.contains("inline.yml:"), "{err}");
    }
    let cyc = format!("{base}---\ntitle: c\nid: c1\nname: c1\ncorrelation: {{type: event_count, rules: [c2], timespan: 5m, condition: {{gte: 1}}}}\n---\ntitle: d\nid: c2\ncorrelation: {{type: event_count, rules: [c1], timespan: 5m, condition: {{gte: 1}}}}\n");
    assert!(load_err(&cyc).contains("refers back to itself"));
}

#[test]
fn value_sum_and_avg() {
    let text = "title: b\nid: b1\nname: base\nlogsource: {product: aws, service: cloudtrail}\ndetection: {sel: {eventName: TerminateInstances}, condition: sel}\n---\ntitle: sum\nid: s1\ncorrelation: {type: value_sum, rules: [base], group-by: [userIdentity.arn], timespan: 1h, condition: {field: requestParameters.count, gte: 10}}\n---\ntitle: avg\nid: a1\ncorrelation: {type: value_avg, rules: [base], timespan: 1h, condition: {field: requestParameters.count, gt: 4}}\n";
    let mk = |counts: &[i64]| -> Vec<Event> {
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let r = record(
                    "ec2.amazonaws.com",
                    "TerminateInstances",
                    T0 + i as i64 * MIN,
                    "u",
                    &format!("t{i}"),
                );
                event(&with(r, "requestParameters", json!({"count": c})))
            })
            .collect()
    };
    let mut e = engine(text);
    let a = run(&mut e, &[batch("o", mk(&[3, 3, 5]))]);
    assert_eq!(fired(&a, "s1").len(), 1);
    assert!(fired(&a, "a1").is_empty());
    let mut e = engine(text);
    let a = run(&mut e, &[batch("o", mk(&[6]))]);
    assert_eq!(fired(&a, "a1").len(), 1);
}
