//! The anomaly engine end to end: CloudTrail JSON records → `parse_record` → engine → alerts.
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)

use std::collections::HashMap;
use std::net::IpAddr;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use trailwarden_alert::{canonical_order, format_event_time, Alert};
use trailwarden_anomaly::{
    AnomalyConfig, AnomalyEngine, GeoDb, GeoLocated, GeoLookup, TerminatedUsers,
};
use trailwarden_detect::IpLists;
use trailwarden_ingest::{Location, ObjectRef};
use trailwarden_parse::{parse_record, Event};
use trailwarden_pipeline::{Batch, Detector};

/// 2024-03-01T00:00:00Z
const BASE: i64 = 1_709_251_200;
const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const ACCT: &str = "111122223333";

// ------------------------------------------------------------------------ building events

/// One CloudTrail record (as JSON) at `BASE + secs`.
struct Rec(Value);

fn rec(secs: i64, id: &str, user: &str, ip: &str, source: &str, name: &str) -> Rec {
    Rec(json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{user}"),
            "arn": format!("arn:aws:iam::{ACCT}:user/{user}"),
            "accountId": ACCT,
            "accessKeyId": format!("AKIA{}", user.to_uppercase()),
            "userName": user
        },
        "eventTime": format_event_time((BASE + secs) * 1_000_000),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": name.starts_with("Describe") || name.starts_with("List") || name.starts_with("Get"),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCT,
        "eventCategory": "Management"
    }))
}

impl Rec {
    fn set(mut self, k: &str, v: Value) -> Rec {
        self.0[k] = v;
        self
    }
    fn region(self, r: &str) -> Rec {
        self.set("awsRegion", json!(r))
    }
    fn req(self, v: Value) -> Rec {
        self.set("requestParameters", v)
    }
    fn resp(self, v: Value) -> Rec {
        self.set("responseElements", v)
    }
    fn event(&self) -> Event {
        parse_record(&serde_json::to_vec(&self.0).unwrap()).unwrap()
    }
}

fn read(secs: i64, id: &str, user: &str, ip: &str) -> Rec {
    rec(secs, id, user, ip, "ec2.amazonaws.com", "DescribeInstances")
}

fn login_failure(secs: i64, id: &str, user: &str, ip: &str) -> Rec {
    rec(secs, id, user, ip, "signin.amazonaws.com", "ConsoleLogin")
        .set("eventType", json!("AwsConsoleSignIn"))
        .set("errorMessage", json!("Failed authentication"))
        .resp(json!({"ConsoleLogin": "Failure"}))
}

/// `days` days of daily read activity for `user` from `ip`, ending before `BASE + days·DAY`.
fn history(user: &str, ip: &str, days: i64) -> Vec<Rec> {
    (0..days)
        .map(|d| read(d * DAY + 9 * HOUR, &format!("hist-{user}-{d}"), user, ip))
        .collect()
}

// ------------------------------------------------------------------------ a fake geo database

#[derive(Default, Clone)]
struct FakeGeo(HashMap<IpAddr, GeoLocated>);

impl FakeGeo {
    fn with(
        mut self,
        ip: &str,
        country: &str,
        city: &str,
        lat: f64,
        lon: f64,
        radius: f64,
    ) -> Self {
        self.0.insert(
            ip.parse().unwrap(),
            GeoLocated {
                country: Some(country.into()),
                city: Some(city.into()),
                coords: Some((lat, lon)),
                accuracy_radius_km: radius,
            },
        );
        self
    }
}

impl GeoLookup for FakeGeo {
    fn lookup(&self, ip: IpAddr) -> Option<GeoLocated> {
        self.0.get(&ip).cloned()
    }
}

const BERLIN: &str = "198.51.100.10";
const BERLIN2: &str = "198.51.100.11";
const PARIS: &str = "198.51.100.20";
const NEW_YORK: &str = "203.0.113.30";
const TOKYO: &str = "203.0.113.40";

fn fake_geo() -> FakeGeo {
    FakeGeo::default()
        .with(BERLIN, "DE", "Berlin", 52.52, 13.40, 20.0)
        .with(BERLIN2, "DE", "Berlin", 52.52, 13.40, 20.0)
        .with(PARIS, "FR", "Paris", 48.86, 2.35, 20.0)
        .with(NEW_YORK, "US", "New York", 40.71, -74.01, 50.0)
        .with(TOKYO, "JP", "Tokyo", 35.68, 139.69, 50.0)
}

// ------------------------------------------------------------------------ running

struct Setup {
    config: AnomalyConfig,
    geo: Option<FakeGeo>,
    lists: IpLists,
    terminated: TerminatedUsers,
}

impl Default for Setup {
    fn default() -> Self {
        let mut lists = IpLists::new();
        lists
            .add_text("anonymous", "tor.txt", "185.220.101.0/24\n")
            .unwrap();
        lists
            .add_text("suspicious", "intel.txt", "192.0.2.66\n")
            .unwrap();
        Setup {
            config: AnomalyConfig::default(),
            geo: Some(fake_geo()),
            lists,
            terminated: TerminatedUsers::new(),
        }
    }
}

impl Setup {
    fn config(mut self, json_text: &str) -> Setup {
        self.config = AnomalyConfig::from_json(json_text).unwrap();
        self
    }
    fn engine(&self) -> AnomalyEngine {
        AnomalyEngine::with_lookup(
            &self.config,
            self.geo.clone().map(|g| Box::new(g) as Box<dyn GeoLookup>),
            &self.lists,
            self.terminated.clone(),
        )
        .unwrap()
    }
}

fn batch(name: &str, recs: &[Rec]) -> Batch {
    Batch {
        object: ObjectRef {
            key: name.to_string(),
            location: Location::Local(name.into()),
        },
        events: recs
            .iter()
            .map(|r| std::sync::Arc::new(r.event()))
            .collect(),
        low_watermark: None,
    }
}

/// Runs objects (each a list of records) through the engine as a pipeline detector.
fn run_objects(engine: &mut AnomalyEngine, objects: &[Batch]) -> Vec<Alert> {
    let mut out = Vec::new();
    for b in objects {
        engine.detect(b, &mut out);
    }
    engine.finish(&mut out);
    canonical_order(&mut out);
    out
}

fn run(setup: &Setup, recs: Vec<Rec>) -> Vec<Alert> {
    let mut e = setup.engine();
    run_objects(&mut e, &[batch("o1", &recs)])
}

fn of<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule_id == rule).collect()
}

fn lines(alerts: &[Alert]) -> String {
    alerts.iter().map(|a| a.to_json_line() + "\n").collect()
}

// ------------------------------------------------------------------------ anonymous / suspicious

#[test]
fn anonymous_ip_fires_once_per_cooldown_and_not_for_other_ips() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            read(0, "a1", "alice", "185.220.101.7"),
            read(60, "a2", "alice", "185.220.101.7"), // same IP within cooldown
            read(120, "a3", "alice", "185.220.102.7"), // near miss: outside the list
            read(2 * HOUR, "a4", "alice", "185.220.101.7"), // after cooldown
        ],
    );
    let a = of(&alerts, "anonymous-ip");
    assert_eq!(a.len(), 2, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["a1"]);
    assert_eq!(a[0].evidence["lists"], json!(["anonymous"]));
    assert_eq!(a[0].principal.as_deref(), Some("111122223333:user/alice"));
    assert!(of(&alerts, "suspicious-ip").is_empty());
}

#[test]
fn suspicious_ip_names_the_list() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            read(0, "s1", "bob", "192.0.2.66"),
            read(1, "s2", "bob", "192.0.2.67"),
        ],
    );
    let a = of(&alerts, "suspicious-ip");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].evidence["lists"], json!(["suspicious"]));
    assert_eq!(a[0].severity, trailwarden_alert::Severity::High);
}

// ------------------------------------------------------------------------ geo

#[test]
fn infrequent_country_after_learning_only() {
    let s = Setup::default();
    let mut recs = history("carol", BERLIN, 8);
    // near miss: a new country while still learning (day 2) is learnt, not alerted
    recs.push(read(2 * DAY + 10 * HOUR, "c-learn", "carol", PARIS));
    recs.push(read(9 * DAY, "c-known", "carol", PARIS)); // known now
    recs.push(read(9 * DAY + 5 * HOUR, "c-new", "carol", TOKYO));
    recs.push(read(9 * DAY + 9 * HOUR, "c-again", "carol", TOKYO));
    let alerts = run(&s, recs);
    let a = of(&alerts, "infrequent-country");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["c-new"]);
    assert_eq!(a[0].evidence["country"], json!("JP"));
    assert_eq!(a[0].evidence["baselineCountries"], json!(["DE", "FR"]));
}

#[test]
fn infrequent_country_forgets_old_countries() {
    let s =
        Setup::default().config(r#"{"detections":{"infrequent-country":{"forget_after_days":5}}}"#);
    let mut recs = history("dan", BERLIN, 10);
    recs.insert(0, read(10, "d-paris", "dan", PARIS)); // day 0, forgotten by day 10
    recs.push(read(11 * DAY, "d-paris-again", "dan", PARIS));
    let alerts = run(&s, recs);
    let a = of(&alerts, "infrequent-country");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["d-paris-again"]);
}

#[test]
fn impossible_travel_fires_with_explanation() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            read(0, "t1", "erin", BERLIN),
            read(HOUR, "t2", "erin", NEW_YORK),
        ],
    );
    let a = of(&alerts, "impossible-travel");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    let ev = &a[0].evidence;
    assert_eq!(a[0].event_ids, ["t1", "t2"]);
    assert_eq!(ev["from"]["city"], json!("Berlin"));
    assert_eq!(ev["to"]["country"], json!("US"));
    let d = ev["distanceKm"].as_f64().unwrap();
    assert!((6300.0..6450.0).contains(&d), "{d}");
    assert_eq!(ev["elapsedSeconds"], json!(3600));
    assert!(ev["speedKmh"].as_f64().unwrap() > 6000.0);
    assert_eq!(a[0].first_event_time, "2024-03-01T00:00:00Z");
    assert_eq!(a[0].last_event_time, "2024-03-01T01:00:00Z");
}

#[test]
fn impossible_travel_near_misses() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            // under the speed limit: Berlin → Paris (≈ 880 km) in 2 h ≈ 440 km/h
            read(0, "n1", "frank", BERLIN),
            read(2 * HOUR, "n2", "frank", PARIS),
            // same city, different address: no distance
            read(0, "n3", "gina", BERLIN),
            read(60, "n4", "gina", BERLIN2),
            // a failed sign-in from far away is not travel (failed-logins covers it)
            read(0, "n9", "kai", BERLIN),
            login_failure(60, "n10", "kai", TOKYO),
            // a service host name is not a location
            read(0, "n5", "hank", BERLIN),
            read(60, "n6", "hank", "s3.amazonaws.com"),
            // distance under 500 km after the accuracy radii: 600 km with radii 150 + 150
            read(0, "n7", "ivy", "198.51.100.50"),
            read(60, "n8", "ivy", "198.51.100.51"),
        ],
    );
    let s2 = Setup {
        geo: Some(
            fake_geo()
                .with("198.51.100.50", "DE", "A", 50.0, 10.0, 150.0)
                .with("198.51.100.51", "DE", "B", 50.0, 18.4, 150.0),
        ),
        ..Setup::default()
    };
    assert!(
        of(&alerts, "impossible-travel").is_empty(),
        "{}",
        lines(&alerts)
    );
    let alerts2 = run(
        &s2,
        vec![
            read(0, "n7", "ivy", "198.51.100.50"),
            read(60, "n8", "ivy", "198.51.100.51"),
        ],
    );
    assert!(
        of(&alerts2, "impossible-travel").is_empty(),
        "{}",
        lines(&alerts2)
    );
}

#[test]
fn impossible_travel_known_vpn_ip_and_seen_transition_are_not_travel() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            read(0, "v1", "jo", BERLIN),
            read(HOUR, "v2", "jo", NEW_YORK), // fires once
            read(DAY, "v3", "jo", BERLIN),    // back: transition already seen
            read(DAY + HOUR, "v4", "jo", NEW_YORK),
            read(2 * DAY, "v5", "jo", TOKYO), // new, > 1000 km/h from New York? 24h: no
            read(2 * DAY + 60, "v6", "jo", BERLIN), // Berlin is a known IP of jo: VPN flip
        ],
    );
    let a = of(&alerts, "impossible-travel");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["v1", "v2"]);
}

#[test]
fn geo_detections_are_disabled_without_a_database() {
    let s = Setup {
        geo: None,
        lists: IpLists::new(),
        ..Setup::default()
    };
    let e = s.engine();
    let ids: Vec<&str> = e.disabled().iter().map(|d| d.id).collect();
    for id in [
        "anonymous-ip",
        "suspicious-ip",
        "infrequent-country",
        "impossible-travel",
    ] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    assert!(e.disabled().iter().any(|d| d.reason.contains("--geoip")));
    let alerts = run(
        &s,
        vec![
            read(0, "x1", "erin", BERLIN),
            read(HOUR, "x2", "erin", NEW_YORK),
        ],
    );
    assert!(alerts.is_empty());
}

// ------------------------------------------------------------------------ terminated-user

fn admin_call(secs: i64, id: &str, name: &str, req: Value) -> Rec {
    rec(
        secs,
        id,
        "admin",
        "198.51.100.10",
        "iam.amazonaws.com",
        name,
    )
    .req(req)
}

#[test]
fn terminated_user_after_delete_user() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            read(0, "k0", "kim", BERLIN),
            admin_call(HOUR, "k-del", "DeleteUser", json!({"userName": "kim"})),
            read(HOUR + 30, "k-grace", "kim", BERLIN), // near miss: within the grace period
            read(HOUR + 120, "k-after", "kim", BERLIN),
            read(HOUR + 180, "k-after2", "kim", BERLIN), // same cooldown
            read(HOUR + 200, "other", "lee", BERLIN),    // someone else
        ],
    );
    let a = of(&alerts, "terminated-user");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["k-del", "k-after"]);
    assert_eq!(a[0].evidence["terminatedBy"], json!("DeleteUser"));
    assert_eq!(
        a[0].evidence["terminatedByPrincipal"],
        json!("111122223333:user/admin")
    );
}

#[test]
fn terminated_user_recreated_is_not_terminated() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            admin_call(0, "r-del", "DeleteUser", json!({"userName": "max"})),
            admin_call(60, "r-new", "CreateUser", json!({"userName": "max"})),
            read(HOUR, "r-use", "max", BERLIN),
        ],
    );
    assert!(
        of(&alerts, "terminated-user").is_empty(),
        "{}",
        lines(&alerts)
    );
}

#[test]
fn terminated_user_deactivated_key_and_login_profile() {
    let s = Setup::default();
    let alerts = run(
        &s,
        vec![
            admin_call(
                0,
                "key-off",
                "UpdateAccessKey",
                json!({"userName": "nia", "accessKeyId": "AKIANIA", "status": "Inactive"}),
            ),
            read(HOUR, "key-use", "nia", BERLIN), // helper's key id for nia is AKIANIA
            admin_call(
                0,
                "lp-del",
                "DeleteLoginProfile",
                json!({"userName": "oli"}),
            ),
            read(HOUR, "oli-api", "oli", BERLIN), // API with keys: not console
            rec(
                HOUR + 60,
                "oli-console",
                "oli",
                BERLIN,
                "signin.amazonaws.com",
                "ConsoleLogin",
            )
            .set("eventType", json!("AwsConsoleSignIn"))
            .resp(json!({"ConsoleLogin": "Success"})),
        ],
    );
    let a = of(&alerts, "terminated-user");
    assert_eq!(a.len(), 2, "{}", lines(&alerts));
    let ids: Vec<&str> = a.iter().map(|x| x.event_ids[1].as_str()).collect();
    assert_eq!(ids, ["key-use", "oli-console"]);
}

#[test]
fn terminated_user_from_the_file() {
    let s = Setup {
        terminated: TerminatedUsers::parse("pat, 2024-03-01T12:00:00Z\n", "offboarded.txt")
            .unwrap(),
        ..Setup::default()
    };
    let alerts = run(
        &s,
        vec![
            read(11 * HOUR, "p-before", "pat", BERLIN),
            read(13 * HOUR, "p-after", "pat", BERLIN),
        ],
    );
    let a = of(&alerts, "terminated-user");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["p-after"]);
    assert_eq!(
        a[0].evidence["listEntry"],
        json!("pat, 2024-03-01T12:00:00Z")
    );
}

// ------------------------------------------------------------------------ failed-logins

#[test]
fn failed_logins_threshold_and_near_miss() {
    let s = Setup::default();
    let mut recs: Vec<Rec> = (0..12)
        .map(|i| login_failure(i * MIN, &format!("f{i:02}"), "quinn", PARIS))
        .collect();
    // near miss: 9 failures for another user
    recs.extend((0..9).map(|i| login_failure(i * MIN, &format!("g{i:02}"), "rae", PARIS)));
    let alerts = run(&s, recs);
    let a = of(&alerts, "failed-logins");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].principal.as_deref(), Some("111122223333:user/quinn"));
    assert_eq!(a[0].evidence["observed"], json!(10));
    assert_eq!(a[0].count, 10);
    assert_eq!(a[0].event_ids.first().map(String::as_str), Some("f00"));
}

#[test]
fn failed_logins_above_usual_rate_only_when_mature() {
    let s = Setup::default();
    let mut recs = Vec::new();
    // every day for 8 days: 12 failures in half an hour (a flaky script)
    for d in 0..8 {
        for i in 0..12 {
            recs.push(login_failure(
                d * DAY + i * MIN,
                &format!("u{d}-{i:02}"),
                "sam",
                PARIS,
            ));
        }
    }
    // day 9: 30 failures is within 3 × 12 (and is learnt); day 10: 100 is above 3 × 30
    for i in 0..30 {
        recs.push(login_failure(
            9 * DAY + i * 10,
            &format!("w{i:02}"),
            "sam",
            PARIS,
        ));
    }
    for i in 0..100 {
        recs.push(login_failure(
            10 * DAY + i * 10,
            &format!("x{i:02}"),
            "sam",
            PARIS,
        ));
    }
    let alerts = run(&s, recs);
    let late: Vec<&Alert> = of(&alerts, "failed-logins")
        .into_iter()
        .filter(|a| a.first_event_time.as_str() >= "2024-03-09")
        .collect();
    assert_eq!(late.len(), 1, "{}", lines(&alerts));
    assert!(
        late[0].first_event_time.starts_with("2024-03-11"),
        "{}",
        late[0].first_event_time
    );
    assert_eq!(late[0].evidence["baselineDailyPeak"], json!(30));
    assert_eq!(late[0].evidence["threshold"], json!(91));
    assert_eq!(late[0].evidence["observed"], json!(91));
}

#[test]
fn password_spraying_from_one_address() {
    let s = Setup::default();
    let mut recs: Vec<Rec> = (0..10)
        .map(|i| {
            login_failure(
                i * MIN,
                &format!("sp{i}"),
                &format!("user{i}"),
                "203.0.113.99",
            )
        })
        .collect();
    // near miss: 9 users from another address
    recs.extend((0..9).map(|i| {
        login_failure(
            i * MIN,
            &format!("sq{i}"),
            &format!("user{i}"),
            "203.0.113.98",
        )
    }));
    let alerts = run(&s, recs);
    let a: Vec<&Alert> = of(&alerts, "failed-logins")
        .into_iter()
        .filter(|a| a.evidence["kind"] == json!("password-spray"))
        .collect();
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].evidence["sourceIp"], json!("203.0.113.99"));
    assert_eq!(a[0].count, 10);
    assert!(a[0].principal.is_none());
}

// ------------------------------------------------------------------------ unusual-admin-activity

fn iam(secs: i64, id: &str, user: &str, name: &str) -> Rec {
    rec(secs, id, user, BERLIN, "iam.amazonaws.com", name).req(json!({"userName": "x"}))
}

#[test]
fn unusual_admin_new_action_after_learning() {
    let s = Setup::default();
    let mut recs = history("tess", BERLIN, 8);
    recs.push(iam(DAY, "ad-learn", "tess", "CreateUser")); // learnt
    recs.push(iam(9 * DAY, "ad-known", "tess", "CreateUser"));
    recs.push(iam(9 * DAY + 60, "ad-new", "tess", "AttachUserPolicy"));
    recs.push(iam(9 * DAY + 120, "ad-read", "tess", "ListUsers")); // read-only: never admin
                                                                   // an immature principal doing the same: quiet
    recs.push(iam(9 * DAY + 60, "ad-young", "uma", "AttachUserPolicy"));
    let alerts = run(&s, recs);
    let a = of(&alerts, "unusual-admin-activity");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["ad-new"]);
    assert_eq!(a[0].evidence["action"], json!("iam:AttachUserPolicy"));
    assert_eq!(a[0].evidence["baselineActions"], json!(["iam:CreateUser"]));
}

#[test]
fn unusual_admin_rate() {
    let s = Setup::default();
    let mut recs = history("vic", BERLIN, 8);
    recs.push(iam(DAY, "r0", "vic", "TagUser"));
    for i in 0..40 {
        recs.push(iam(
            9 * DAY + i * 30,
            &format!("rate{i:02}"),
            "vic",
            "TagUser",
        ));
    }
    let alerts = run(&s, recs);
    let a: Vec<&Alert> = of(&alerts, "unusual-admin-activity");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].evidence["observed"], json!(30));
    assert_eq!(a[0].evidence["unit"], json!("administrative writes"));
}

// ------------------------------------------------------------------------ mass deletions / creations

fn delete_objects(secs: i64, id: &str, user: &str, n: usize) -> Rec {
    let objects: Vec<Value> = (0..n).map(|i| json!({"key": format!("k{i}")})).collect();
    rec(secs, id, user, BERLIN, "s3.amazonaws.com", "DeleteObjects")
        .req(json!({"bucketName": "b", "delete": {"object": objects, "quiet": true}}))
}

#[test]
fn mass_storage_deletion_counts_objects_and_calls() {
    let s = Setup::default();
    let mut recs = vec![delete_objects(0, "del-big", "wes", 150)];
    // near miss: 60 single deletions and a 30-key DeleteObjects
    recs.extend((0..60).map(|i| {
        rec(
            i,
            &format!("dx{i}"),
            "xena",
            BERLIN,
            "s3.amazonaws.com",
            "DeleteObject",
        )
    }));
    recs.push(delete_objects(100, "dx-batch", "xena", 30));
    // a DeleteObjects that does not list its keys counts as one call
    recs.push(
        rec(0, "dy", "yan", BERLIN, "s3.amazonaws.com", "DeleteObjects")
            .req(json!({"bucketName": "b"})),
    );
    let alerts = run(&s, recs);
    let a = of(&alerts, "mass-storage-deletion");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["del-big"]);
    assert_eq!(a[0].evidence["observed"], json!(150));
}

fn terminate(secs: i64, id: &str, user: &str, n: usize) -> Rec {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"instanceId": format!("i-{i:08x}")}))
        .collect();
    rec(
        secs,
        id,
        user,
        BERLIN,
        "ec2.amazonaws.com",
        "TerminateInstances",
    )
    .req(json!({"instancesSet": {"items": items}}))
}

#[test]
fn mass_vm_deletion() {
    let s = Setup::default();
    let mut recs = vec![
        terminate(0, "vm1", "zed", 6),
        terminate(60, "vm2", "zed", 6),
    ];
    recs.push(terminate(0, "vmn", "amy", 9)); // near miss
    let alerts = run(&s, recs);
    let a = of(&alerts, "mass-vm-deletion");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["vm1", "vm2"]);
    assert_eq!(a[0].evidence["observed"], json!(12));
    assert_eq!(a[0].count, 2);
}

#[test]
fn mass_vm_creation_counts_request_or_response() {
    let s = Setup::default();
    let run_req = |secs, id: &str, user: &str, max: u32| {
        rec(secs, id, user, BERLIN, "ec2.amazonaws.com", "RunInstances").req(json!({
            "instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1, "maxCount": max}]}
        }))
    };
    let launched: Vec<Value> = (0..25)
        .map(|i| json!({"instanceId": format!("i-{i}")}))
        .collect();
    let recs = vec![
        run_req(0, "mc1", "bea", 25),
        rec(0, "mc2", "cal", BERLIN, "ec2.amazonaws.com", "RunInstances")
            .req(json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1, "maxCount": 1}]}}))
            .resp(json!({"instancesSet": {"items": launched}})),
        run_req(0, "mcn", "dee", 19), // near miss
        run_req(60, "mcf", "eve", 50).set("errorCode", json!("InsufficientInstanceCapacity")), // failed
    ];
    let alerts = run(&s, recs);
    let a = of(&alerts, "mass-vm-creation");
    let mut who: Vec<&str> = a.iter().map(|x| x.principal.as_deref().unwrap()).collect();
    who.sort_unstable();
    assert_eq!(
        who,
        ["111122223333:user/bea", "111122223333:user/cal"],
        "{}",
        lines(&alerts)
    );
}

// ------------------------------------------------------------------------ unusual-region

fn write_in(secs: i64, id: &str, user: &str, region: &str) -> Rec {
    rec(secs, id, user, BERLIN, "ec2.amazonaws.com", "CreateVolume").region(region)
}

#[test]
fn unusual_region_for_the_account() {
    let s = Setup::default();
    let mut recs: Vec<Rec> = (0..8)
        .map(|d| write_in(d * DAY, &format!("rg{d}"), "fay", "us-east-1"))
        .collect();
    recs.push(write_in(DAY, "rg-eu", "gus", "eu-west-1")); // learnt (account-wide)
    recs.push(write_in(9 * DAY, "rg-eu2", "fay", "eu-west-1")); // known for the account
    recs.push(write_in(9 * DAY + 60, "rg-new", "fay", "ap-south-1"));
    recs.push(write_in(9 * DAY + 120, "rg-new2", "gus", "ap-south-1")); // now known
    recs.push(read(9 * DAY + 180, "rg-read", "fay", BERLIN).region("sa-east-1")); // read-only
    let alerts = run(&s, recs);
    let a = of(&alerts, "unusual-region");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(a[0].event_ids, ["rg-new"]);
    assert_eq!(
        a[0].evidence["baselineRegions"],
        json!(["eu-west-1", "us-east-1"])
    );
}

#[test]
fn unusual_region_allow_list_applies_from_the_start() {
    let s = Setup::default()
        .config(r#"{"detections":{"unusual-region":{"allowed_regions":["us-east-1"]}}}"#);
    let alerts = run(
        &s,
        vec![
            write_in(0, "al1", "hal", "us-east-1"),
            write_in(60, "al2", "hal", "me-south-1"),
        ],
    );
    let a = of(&alerts, "unusual-region");
    assert_eq!(a.len(), 1, "{}", lines(&alerts));
    assert_eq!(
        a[0].evidence["reason"],
        json!("outside the allowed regions")
    );
}

// ------------------------------------------------------------------------ exclusions, config

#[test]
fn exclusions_by_principal_and_cidr() {
    let s = Setup::default().config(
        r#"{"exclude":{"principals":["*:user/scanner*"]},
            "detections":{"impossible-travel":{"exclude":{"cidrs":["203.0.113.0/24"]}}}}"#,
    );
    let alerts = run(
        &s,
        vec![
            read(0, "e1", "scanner-1", "185.220.101.7"),
            read(0, "e2", "ida", BERLIN),
            read(HOUR, "e3", "ida", NEW_YORK),
        ],
    );
    assert!(alerts.is_empty(), "{}", lines(&alerts));
}

#[test]
fn the_documented_example_config_parses() {
    let doc = include_str!("../../../docs/anomaly.md");
    let start = doc.find("```toml\n").unwrap() + 8;
    let end = start + doc[start..].find("```").unwrap();
    let v: toml::Value = toml::from_str(&doc[start..end]).unwrap();
    let section = serde_json::to_string(&v["anomaly"]).unwrap();
    let cfg = AnomalyConfig::from_json(&section).unwrap();
    AnomalyEngine::with_lookup(&cfg, None, &IpLists::new(), TerminatedUsers::new()).unwrap();
}

// ------------------------------------------------------------------------ order, snapshot, bounds

/// A week and a half of mixed activity in 5-minute objects, with every detection firing.
fn scenario() -> Vec<Batch> {
    let mut recs = Vec::new();
    for u in ["ana", "ben", "cyd"] {
        recs.extend(history(u, BERLIN, 9));
    }
    recs.extend((0..9).map(|d| write_in(d * DAY + HOUR, &format!("sc-w{d}"), "ana", "us-east-1")));
    recs.push(iam(DAY, "sc-iam0", "ben", "CreateUser"));
    let t = 9 * DAY + 12 * HOUR;
    recs.push(read(t, "sc-tor", "ana", "185.220.101.9"));
    recs.push(read(t + 60, "sc-intel", "ben", "192.0.2.66"));
    recs.push(read(t + 120, "sc-tokyo", "cyd", TOKYO));
    recs.push(read(t + 4 * MIN, "sc-ny", "cyd", NEW_YORK));
    recs.push(admin_call(
        t + 5 * MIN,
        "sc-del",
        "DeleteUser",
        json!({"userName": "ana"}),
    ));
    recs.push(read(t + 9 * MIN, "sc-ana", "ana", BERLIN));
    for i in 0..12 {
        recs.push(login_failure(
            t + i * 20,
            &format!("sc-f{i:02}"),
            "ben",
            PARIS,
        ));
    }
    recs.push(iam(t + 7 * MIN, "sc-iam1", "ben", "AttachUserPolicy"));
    recs.push(delete_objects(t + 8 * MIN, "sc-s3", "cyd", 200));
    recs.push(terminate(t + 8 * MIN, "sc-term", "cyd", 12));
    recs.push(
        rec(t + 10 * MIN, "sc-run", "cyd", BERLIN, "ec2.amazonaws.com", "RunInstances")
            .req(json!({"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 30, "maxCount": 30}]}})),
    );
    recs.push(write_in(t + 11 * MIN, "sc-region", "ben", "af-south-1"));
    // background: a busy machine user around the burst, so objects are dense there
    recs.extend((0..120).map(|i| read(t - HOUR + i * MIN, &format!("sc-bg{i:03}"), "bg", BERLIN)));
    let mut recs2 = Vec::new();
    for (i, r) in recs.into_iter().enumerate() {
        recs2.push((r.0["eventTime"].as_str().unwrap().to_string(), i, r));
    }
    recs2.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    // 5-minute objects; records inside an object are written out of order (reversed pairs)
    let mut objects: Vec<Vec<Rec>> = Vec::new();
    let mut cur_bucket = i64::MIN;
    for (time, _, r) in recs2 {
        let secs = trailwarden_parse::parse_event_time(&time).unwrap() / 1_000_000;
        let bucket = secs / 300;
        if bucket != cur_bucket {
            objects.push(Vec::new());
            cur_bucket = bucket;
        }
        objects.last_mut().unwrap().push(r);
    }
    objects
        .iter_mut()
        .enumerate()
        .map(|(i, recs)| {
            recs.reverse();
            batch(
                &format!("AWSLogs/{ACCT}/CloudTrail/us-east-1/obj{i:04}.json.gz"),
                recs,
            )
        })
        .collect()
}

#[test]
fn every_detection_fires_in_the_scenario() {
    let s = Setup::default();
    let alerts = run_objects(&mut s.engine(), &scenario());
    let mut rules: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    rules.dedup();
    rules.sort_unstable();
    rules.dedup();
    assert_eq!(
        rules,
        [
            "anonymous-ip",
            "failed-logins",
            "impossible-travel",
            "infrequent-country",
            "mass-storage-deletion",
            "mass-vm-creation",
            "mass-vm-deletion",
            "suspicious-ip",
            "terminated-user",
            "unusual-admin-activity",
            "unusual-region",
        ],
        "{}",
        lines(&alerts)
    );
}

#[test]
fn alerts_do_not_depend_on_object_order_within_the_lateness() {
    let objects = scenario();
    let s = Setup::default();
    let reference = lines(&run_objects(&mut s.engine(), &objects));
    assert!(!reference.is_empty());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let last_time = |b: &Batch| b.events.iter().map(|e| e.event_time).max().unwrap_or(0);
    let mut moved_total = 0;
    for round in 0..8 {
        // CloudTrail delivery: each 5-minute object arrives 0–10 minutes after its last event,
        // so objects overtake each other; the lateness (15 minutes) covers it
        let mut delivered: Vec<(i64, usize, &Batch)> = objects
            .iter()
            .enumerate()
            .map(|(i, b)| (last_time(b) + rng.random_range(0..=600_000_000i64), i, b))
            .collect();
        delivered.sort_by_key(|&(t, i, _)| (t, i));
        moved_total += delivered
            .iter()
            .enumerate()
            .filter(|(pos, d)| *pos != d.1)
            .count();
        let mut e = s.engine();
        let mut out = Vec::new();
        for (_, _, b) in &delivered {
            e.detect(b, &mut out);
        }
        e.finish(&mut out);
        canonical_order(&mut out);
        assert_eq!(lines(&out), reference, "round {round}");
        assert_eq!(e.stats().late, 0);
    }
    assert!(
        moved_total > 10,
        "the delivery order must differ from the time order"
    );
    // with a lateness longer than the whole trail, any order at all gives the same alerts
    let wide = Setup::default().config(r#"{"allowed_lateness_secs": 2000000}"#);
    for _ in 0..3 {
        let mut all: Vec<&Batch> = objects.iter().collect();
        all.shuffle(&mut rng);
        let mut e = wide.engine();
        let mut out = Vec::new();
        for b in all {
            e.detect(b, &mut out);
        }
        e.finish(&mut out);
        canonical_order(&mut out);
        assert_eq!(lines(&out), reference);
    }
}

#[test]
fn snapshot_and_restore_give_the_same_alerts() {
    let objects = scenario();
    let s = Setup::default();
    let reference = lines(&run_objects(&mut s.engine(), &objects));
    for cut in [1, objects.len() / 3, objects.len() / 2, objects.len() - 2] {
        let mut first = s.engine();
        let mut out = Vec::new();
        for b in &objects[..cut] {
            first.detect(b, &mut out);
        }
        let bytes = first.snapshot();
        assert_eq!(bytes, first.snapshot(), "snapshots are deterministic");
        drop(first);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anomaly.state");
        let mut tmp = s.engine();
        tmp.restore(&bytes).unwrap();
        tmp.save(&path).unwrap();
        let mut second = s.engine();
        assert!(second.load(&path).unwrap());
        for b in &objects[cut..] {
            second.detect(b, &mut out);
        }
        second.finish(&mut out);
        canonical_order(&mut out);
        assert_eq!(lines(&out), reference, "cut at {cut}");
    }
    let mut e = s.engine();
    assert!(!e.load(std::path::Path::new("/nonexistent/state")).unwrap());
    assert!(e.restore(b"{}").is_err());
    let bumped = String::from_utf8(s.engine().snapshot())
        .unwrap()
        .replace("\"version\":1", "\"version\":99");
    let err = e.restore(bumped.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("version 99"), "{err}");
}

#[test]
fn a_million_distinct_principals_stay_under_the_cap() {
    let s = Setup::default().config(r#"{"max_principals": 10000, "allowed_lateness_secs": 0}"#);
    let mut e = s.engine();
    let mut out = Vec::new();
    let mut events = Vec::with_capacity(10_000);
    let template = read(0, "tmpl", "x", BERLIN).event();
    for chunk in 0..100i64 {
        events.clear();
        for i in 0..10_000i64 {
            let n = chunk * 10_000 + i;
            let mut ev = template.clone();
            ev.event_time = (BASE + n) * 1_000_000;
            ev.event_id = Some(format!("m{n}"));
            ev.identity.principal = Some(format!("{ACCT}:user/u{n}"));
            events.push(ev);
        }
        e.ingest(&events, "burst", &mut out);
        assert!(e.principals() <= 10_000);
    }
    e.flush(&mut out);
    let st = e.stats();
    assert_eq!(st.processed, 1_000_000);
    assert!(e.principals() <= 10_000);
    assert!(st.principals_evicted >= 990_000, "{st:?}");
    assert_eq!(st.principals_evicted + e.principals() as u64, 1_000_000);
}

#[test]
fn odd_events_never_panic() {
    let s = Setup::default();
    let mut e = s.engine();
    let mut out = Vec::new();
    let weird = vec![
        Event::default(),
        rec(0, "", "", "not an ip", "", "").event(),
        rec(
            i64::MIN / 2_000_000,
            "w1",
            "a",
            "::1",
            "s3.amazonaws.com",
            "DeleteObjects",
        )
        .req(json!({"delete": {"object": "nope"}}))
        .event(),
        rec(
            i64::MAX / 2_000_000,
            "w2",
            "a",
            "fe80::1",
            "ec2.amazonaws.com",
            "RunInstances",
        )
        .req(json!({"instancesSet": {"items": [{"maxCount": "lots"}]}}))
        .event(),
        rec(
            0,
            "w3",
            "a",
            "10.0.0.1",
            "iam.amazonaws.com",
            "UpdateAccessKey",
        )
        .req(json!([1, 2]))
        .event(),
        rec(
            0,
            "w4",
            "a",
            "1.2.3.4",
            "signin.amazonaws.com",
            "ConsoleLogin",
        )
        .resp(json!("x"))
        .event(),
    ];
    e.ingest(&weird, "weird", &mut out);
    e.flush(&mut out);
}

// ------------------------------------------------------------------------ the real GeoLite2 database

#[test]
fn real_geolite2_city_database() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/geo/GeoLite2-City.mmdb");
    if !path.exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{} is missing and CI is set", path.display());
        }
        println!("skipped: {} not present (CI unset)", path.display());
        return;
    }
    let db = GeoDb::open(&path).unwrap();
    assert!(db.description().contains("City"), "{}", db.description());
    let g = db.lookup("8.8.8.8".parse().unwrap()).unwrap();
    assert_eq!(g.country.as_deref(), Some("US"));
    assert!(g.coords.is_some());
    // K-root (RIPE, Europe) and M-root (WIDE, Japan): far apart on any database version
    let eu = db.lookup("193.0.14.129".parse().unwrap()).unwrap();
    let jp = db.lookup("202.12.27.33".parse().unwrap()).unwrap();
    assert_eq!(jp.country.as_deref(), Some("JP"), "{jp:?}");
    assert!(db.lookup("10.1.2.3".parse().unwrap()).is_none());
    assert!(db.lookup("::1".parse().unwrap()).is_none());
    let d = trailwarden_anomaly::distance_km(eu.coords.unwrap(), jp.coords.unwrap());
    assert!(d > 7000.0, "{d}");
    // through the engine, with the real database
    let cfg = AnomalyConfig::default();
    let mut e =
        AnomalyEngine::new(&cfg, Some(db), &IpLists::new(), TerminatedUsers::new()).unwrap();
    let mut out = Vec::new();
    let recs = [
        read(0, "g1", "geo", "193.0.14.129"),
        read(HOUR, "g2", "geo", "202.12.27.33"),
    ];
    e.ingest(
        &recs.iter().map(Rec::event).collect::<Vec<_>>(),
        "geo",
        &mut out,
    );
    e.flush(&mut out);
    let a = of(&out, "impossible-travel");
    assert_eq!(a.len(), 1, "{}", lines(&out));
    assert_eq!(a[0].evidence["to"]["country"], json!("JP"));
}

// ------------------------------------------------------------------------ a tiny mmdb, built here

#[path = "support/mmdb.rs"]
mod mmdb;

#[test]
fn geodb_reads_a_tiny_mmdb_built_by_the_test() {
    let bytes = mmdb::build(&[
        mmdb::CityNet::new("198.51.100.0/24", "DE", "Berlin", 52.52, 13.40, 20),
        mmdb::CityNet::new("203.0.113.0/24", "US", "New York", 40.71, -74.01, 50),
        mmdb::CityNet::new("2001:db8:1::/48", "JP", "Tokyo", 35.68, 139.69, 10),
    ]);
    let db = GeoDb::from_bytes(bytes).unwrap();
    assert!(db.description().contains("Tiny-Test-City"));
    let b = db.lookup("198.51.100.77".parse().unwrap()).unwrap();
    assert_eq!(b.country.as_deref(), Some("DE"));
    assert_eq!(b.city.as_deref(), Some("Berlin"));
    assert_eq!(b.coords, Some((52.52, 13.40)));
    assert_eq!(b.accuracy_radius_km, 20.0);
    assert!(db.lookup("198.51.101.1".parse().unwrap()).is_none());
    assert!(db.lookup("2001:db8::1".parse().unwrap()).is_none());
    let t = db.lookup("2001:db8:1:2::3".parse().unwrap()).unwrap();
    assert_eq!(t.country.as_deref(), Some("JP"));
    assert_eq!(t.accuracy_radius_km, 10.0);
    assert!(GeoDb::from_bytes(b"not a database".to_vec()).is_err());
    // impossible travel through the real GeoDb code path
    let mut e = AnomalyEngine::new(
        &AnomalyConfig::default(),
        Some(db),
        &IpLists::new(),
        TerminatedUsers::new(),
    )
    .unwrap();
    let mut out = Vec::new();
    let recs = [
        read(0, "tm1", "tina", BERLIN),
        read(HOUR, "tm2", "tina", NEW_YORK),
    ];
    e.ingest(
        &recs.iter().map(Rec::event).collect::<Vec<_>>(),
        "tiny",
        &mut out,
    );
    e.flush(&mut out);
    assert_eq!(of(&out, "impossible-travel").len(), 1, "{}", lines(&out));
}
