//! The eleven anomaly detections end to end, through the real binary, on trails generated with
//! `trailwarden-gen`'s anomaly scenarios (`docs/anomaly.md`, "Scenarios").
//!
//! The generated manifest says, for every injected event, exactly which anomaly detections
//! must raise an alert whose trigger (the last of its `event_ids`) is that event — the
//! positives — and that none may for the others: the near misses and the week of history that
//! builds each scenario principal's baseline. The tests replay the trail with every detection on
//! (`--geoip`, `--ip-list anonymous=…`, `--ip-list suspicious=…`, `--terminated-users …`) and
//! require the alerts to be exactly those: each detection fires on its positive scenarios, with
//! the right principal and evidence, never on a near miss, and never on the background (whose
//! addresses are geo-consistent per principal). Then the same with the file order shuffled,
//! and across a restart from the state snapshot.
//!
//! Geo: `../shared/data/geo/GeoLite2-City.mmdb` when present; the scenarios are also run with
//! a tiny database built here from the generator's own table of address sites, so they hold
//! (and the fallback works) without the real database. The check of that table against the real
//! database is skipped with a printed reason when the database is absent, and fails instead when
//! `CI` is set.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "../../trailwarden-anomaly/tests/support/mmdb.rs"]
mod mmdb;
#[path = "support/trail.rs"]
mod trail;
use trail::json_gz_files;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use trailwarden_anomaly::{distance_km, GeoDb, GeoLookup};
use trailwarden_gen::{
    GenConfig, ANOMALY_DETECTIONS, ANONYMOUS_IPS_FILE, GEO_SITES, MANIFEST_FILE, POLICY_IDS,
    RISKY_IPS_FILE, SUSPICIOUS_IPS_FILE, TERMINATED_USERS_FILE,
};

/// Events in the generated trails: the scenarios (≈1,400) and a background over ten days.
const EVENTS: u64 = 10_000;
/// The impossible-travel default minimum distance: any two addresses of one generator site
/// must be closer than this (after the accuracy radii), so background never travels.
const MIN_DISTANCE_KM: f64 = 500.0;

/// A small deterministic random stream (xorshift64*), for shuffles and samples.
struct Xs(u64);

impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn real_db() -> Option<PathBuf> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/geo/GeoLite2-City.mmdb");
    p.exists().then_some(p)
}

/// A MaxMind City database with the generator's sites: every prefix at its site's place.
fn tiny_db(dir: &Path) -> PathBuf {
    let nets: Vec<mmdb::CityNet> = GEO_SITES
        .iter()
        .flat_map(|s| {
            s.cidrs().into_iter().map(move |c| {
                mmdb::CityNet::new(
                    &c,
                    s.country,
                    s.city,
                    s.latitude,
                    s.longitude,
                    s.accuracy_radius_km,
                )
            })
        })
        .collect();
    let path = dir.join("tiny-city.mmdb");
    std::fs::write(&path, mmdb::build(&nets)).unwrap();
    path
}

/// A trail with the anomaly scenarios (and the policy scenarios) in `dir/trail`.
fn generate(dir: &Path, seed: u64) -> PathBuf {
    let trail = dir.join("trail");
    let s = trailwarden_gen::generate(&GenConfig {
        anomaly_scenarios: true,
        ..GenConfig::new(&trail, EVENTS, seed)
    })
    .unwrap();
    assert_eq!(s.events, EVENTS);
    trail
}

/// Replays `inputs` (the trail by default) with every detection on; returns the alerts file's
/// bytes and its lines parsed.
fn replay(
    trail: &Path,
    inputs: &[PathBuf],
    out: &Path,
    geo: &Path,
    extra: &[&str],
) -> (Vec<u8>, Vec<Value>) {
    let list = |name: &str, file: &str| format!("{name}={}", trail.join(file).display());
    let mut cmd = bin();
    cmd.arg("replay");
    if inputs.is_empty() {
        cmd.arg(trail);
    } else {
        cmd.args(inputs);
    }
    let o = cmd
        .arg("--out")
        .arg(out)
        .args(["--no-progress", "--no-archive", "--geoip"])
        .arg(geo)
        .args(["--ip-list", &list("anonymous", ANONYMOUS_IPS_FILE)])
        .args(["--ip-list", &list("suspicious", SUSPICIOUS_IPS_FILE)])
        .args(["--ip-list", &list("risky", RISKY_IPS_FILE)])
        .arg("--terminated-users")
        .arg(trail.join(TERMINATED_USERS_FILE))
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("anomaly detection disabled"),
        "every detection must run:\n{stderr}"
    );
    let bytes = std::fs::read(out.join("alerts.jsonl")).unwrap();
    let alerts = String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (bytes, alerts)
}

fn manifest(trail: &Path) -> Vec<Value> {
    std::fs::read_to_string(trail.join(MANIFEST_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn is_anomaly(a: &Value) -> bool {
    ANOMALY_DETECTIONS.contains(&s(&a["rule_id"]))
}

/// The event that raised an anomaly alert: the last of its evidence.
fn trigger(a: &Value) -> &str {
    a["event_ids"]
        .as_array()
        .and_then(|v| v.last())
        .map_or("", s)
}

/// A positive scenario, its detection, and what the alert must say (JSON pointer, value).
type EvidenceCheck = (&'static str, &'static str, Vec<(&'static str, Value)>);

/// What each positive's alert must say.
fn evidence_checks() -> Vec<EvidenceCheck> {
    vec![
        (
            "anonymous-ip-tor-exit",
            "anonymous-ip",
            vec![("/evidence/lists", json!(["anonymous"]))],
        ),
        (
            "suspicious-ip-threat-intel",
            "suspicious-ip",
            vec![("/evidence/lists", json!(["suspicious"]))],
        ),
        (
            "infrequent-country-new-country",
            "infrequent-country",
            vec![
                ("/evidence/country", json!("IN")),
                ("/evidence/baselineCountries", json!(["DE"])),
            ],
        ),
        (
            "impossible-travel-london-tokyo",
            "impossible-travel",
            vec![
                ("/evidence/from/country", json!("GB")),
                ("/evidence/to/country", json!("JP")),
            ],
        ),
        (
            "impossible-travel-london-tokyo",
            "infrequent-country",
            vec![
                ("/evidence/country", json!("JP")),
                ("/evidence/baselineCountries", json!(["GB"])),
            ],
        ),
        (
            "impossible-travel-domestic",
            "impossible-travel",
            vec![
                ("/evidence/from/country", json!("US")),
                ("/evidence/to/country", json!("US")),
            ],
        ),
        (
            "terminated-user-deleted-user-session",
            "terminated-user",
            vec![
                ("/evidence/terminatedBy", json!("DeleteUser")),
                ("/evidence/reason", json!("user deleted")),
            ],
        ),
        (
            "terminated-user-deactivated-key",
            "terminated-user",
            vec![
                ("/evidence/terminatedBy", json!("UpdateAccessKey")),
                (
                    "/evidence/reason",
                    json!("access key deactivated or deleted"),
                ),
            ],
        ),
        (
            "terminated-user-listed",
            "terminated-user",
            vec![("/evidence/listEntry", json!("vera,2024-03-09T12:00:00Z"))],
        ),
        (
            "failed-logins-burst",
            "failed-logins",
            vec![
                ("/evidence/observed", json!(10)),
                ("/evidence/baselineDailyPeak", json!(1)),
            ],
        ),
        (
            "failed-logins-password-spray",
            "failed-logins",
            vec![
                ("/evidence/kind", json!("password-spray")),
                ("/evidence/observed", json!(10)),
                ("/principal", Value::Null),
            ],
        ),
        (
            "unusual-admin-activity-new-action",
            "unusual-admin-activity",
            vec![
                ("/evidence/kind", json!("new-action")),
                ("/evidence/action", json!("iam:CreateAccessKey")),
            ],
        ),
        (
            "unusual-admin-activity-rate",
            "unusual-admin-activity",
            vec![
                ("/evidence/observed", json!(30)),
                ("/evidence/baselineDailyPeak", json!(2)),
            ],
        ),
        (
            "mass-storage-deletion-burst",
            "mass-storage-deletion",
            vec![
                ("/evidence/observed", json!(100)),
                ("/evidence/baselineDailyPeak", json!(1)),
            ],
        ),
        (
            "mass-vm-deletion-burst",
            "mass-vm-deletion",
            vec![
                ("/evidence/observed", json!(15)),
                ("/evidence/baselineDailyPeak", json!(1)),
            ],
        ),
        (
            "mass-vm-creation-burst",
            "mass-vm-creation",
            vec![
                ("/evidence/observed", json!(30)),
                ("/evidence/baselineDailyPeak", json!(1)),
            ],
        ),
        (
            "unusual-region-new-region",
            "unusual-region",
            vec![("/evidence/region", json!("ap-south-1"))],
        ),
    ]
}

/// Everything the manifest promises about the alerts of one replay.
fn check_scenarios(trail: &Path, alerts: &[Value], geo: &str) {
    let lines = manifest(trail);
    let by_id: HashMap<&str, &Value> = lines.iter().map(|l| (s(&l["event_id"]), l)).collect();

    // anomaly alerts: exactly the (trigger, detection) pairs the manifest lists; the policy
    // scenarios' events say nothing about anomalies (their first-time admin actions may well
    // be unusual), everything else — background included — must raise none
    let mut want = BTreeSet::new();
    for l in &lines {
        for d in l["anomaly"].as_array().into_iter().flatten() {
            want.insert((s(&l["event_id"]).to_string(), s(d).to_string()));
        }
    }
    let mut got = BTreeSet::new();
    for a in alerts.iter().filter(|a| is_anomaly(a)) {
        let t = trigger(a);
        match by_id.get(t) {
            Some(l) if l.get("anomaly").is_none() => continue,
            Some(l) => {
                // the alert is about the principal that acted (a spray is about an address)
                if a["principal"].is_null() {
                    assert_eq!(a["evidence"]["kind"], "password-spray", "{a}");
                } else {
                    assert_eq!(a["principal"], l["principal"], "{a}");
                }
            }
            None => {}
        }
        got.insert((t.to_string(), s(&a["rule_id"]).to_string()));
    }
    let name = |e: &str| by_id.get(e).map_or("background", |l| s(&l["scenario"]));
    let missing: Vec<(&str, &str)> = want
        .difference(&got)
        .map(|(e, d)| (name(e), d.as_str()))
        .collect();
    let extra: Vec<String> = got
        .difference(&want)
        .map(|(e, d)| {
            let a = alerts
                .iter()
                .find(|a| trigger(a) == e && s(&a["rule_id"]) == d)
                .unwrap();
            format!("{} on {}: {}", d, name(e), s(&a["summary"]))
        })
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "geo database: {geo}\nmissing anomaly alerts (scenario, detection): {missing:?}\nunexpected anomaly alerts:\n  {}",
        extra.join("\n  ")
    );

    // every detection fired, and has at least one near-miss scenario that stayed quiet
    let mut scenarios: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.get("anomaly").is_some()) {
        let positive = l["anomaly"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == &l["detection"]);
        *scenarios
            .entry((s(&l["detection"]), s(&l["scenario"])))
            .or_default() |= positive;
    }
    for d in ANOMALY_DETECTIONS {
        assert!(
            alerts.iter().any(|a| a["rule_id"] == d),
            "{d} never fired ({geo})"
        );
        let near_misses: Vec<&str> = scenarios
            .iter()
            .filter(|((det, _), pos)| *det == d && !**pos)
            .map(|((_, sc), _)| *sc)
            .collect();
        assert!(!near_misses.is_empty(), "{d} has no near-miss scenario");
    }

    // the explanation of each positive
    for (scenario, detection, checks) in evidence_checks() {
        let a = alerts
            .iter()
            .find(|a| {
                a["rule_id"] == detection
                    && by_id
                        .get(trigger(a))
                        .is_some_and(|l| l["scenario"] == scenario)
            })
            .unwrap_or_else(|| panic!("no {detection} alert for {scenario}"));
        for (pointer, v) in checks {
            assert_eq!(a.pointer(pointer), Some(&v), "{scenario}: {pointer} in {a}");
        }
    }
    let travel = alerts
        .iter()
        .filter(|a| a["rule_id"] == "impossible-travel")
        .map(|a| a["evidence"]["speedKmh"].as_f64().unwrap());
    for speed in travel {
        assert!(speed > 1000.0, "{speed}");
    }

    // the built-in policies fire exactly on the events the manifest says (failed sign-ins of
    // the anomaly scenarios included)
    let mut want_p = BTreeSet::new();
    for l in &lines {
        for p in l["expect"].as_array().unwrap() {
            want_p.insert((s(&l["event_id"]), s(p)));
        }
    }
    let got_p: BTreeSet<(&str, &str)> = alerts
        .iter()
        .filter(|a| POLICY_IDS.contains(&s(&a["rule_id"])))
        .map(|a| (s(&a["event_ids"][0]), s(&a["rule_id"])))
        .collect();
    let missing: Vec<_> = want_p.difference(&got_p).collect();
    let extra: Vec<_> = got_p.difference(&want_p).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "policies: missing {missing:?}, unexpected {extra:?}"
    );
}

#[test]
fn each_anomaly_detection_fires_on_its_scenarios_and_nowhere_else() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = generate(tmp.path(), 7);
    let (geo, which) = match real_db() {
        Some(p) => (p, "GeoLite2-City"),
        None => {
            eprintln!(
                "GeoLite2-City.mmdb is absent: the scenarios run with the tiny database only"
            );
            (tiny_db(tmp.path()), "tiny")
        }
    };
    let (_, alerts) = replay(&trail, &[], &tmp.path().join("out"), &geo, &[]);
    check_scenarios(&trail, &alerts, which);
}

/// The fallback database (when the real one is absent) gives the same verdicts, and the alerts
/// do not depend on the order the files are given in or on how many decode in parallel.
#[test]
fn with_the_tiny_geo_database_in_any_file_order_the_scenarios_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = generate(tmp.path(), 5);
    let geo = tiny_db(tmp.path());
    assert!(GeoDb::open(&geo)
        .unwrap()
        .description()
        .contains("Tiny-Test-City"));
    let (reference, alerts) = replay(&trail, &[], &tmp.path().join("a"), &geo, &[]);
    check_scenarios(&trail, &alerts, "tiny");
    let mut files = json_gz_files(&trail);
    Xs(3).shuffle(&mut files);
    let (shuffled, _) = replay(
        &trail,
        &files,
        &tmp.path().join("b"),
        &geo,
        &["--workers", "1"],
    );
    assert!(
        reference == shuffled,
        "alerts differ with the files in another order, decoded one at a time"
    );
}

#[test]
fn a_restart_from_the_state_snapshot_gives_the_same_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = generate(tmp.path(), 9);
    let geo = tiny_db(tmp.path());
    let (_, full) = replay(&trail, &[], &tmp.path().join("full"), &geo, &[]);
    // the trail covers 2024-03-01 … 03-10; the scenarios play on 03-09 and 03-10, after
    // baselines built over the whole of it
    let cut = "2024-03-06T00:00:00Z";
    let state = tmp.path().join("state");
    let state_arg = state.to_str().unwrap();
    let (_, first) = replay(
        &trail,
        &[],
        &tmp.path().join("first"),
        &geo,
        &["--to", "2024-03-05", "--state", state_arg],
    );
    assert!(state.join("anomaly.snapshot.json").exists());
    let (_, second) = replay(
        &trail,
        &[],
        &tmp.path().join("second"),
        &geo,
        &["--from", "2024-03-06", "--state", state_arg],
    );
    let lines = |v: &[Value]| -> Vec<String> {
        v.iter()
            .filter(|a| is_anomaly(a))
            .map(|a| a.to_string())
            .collect()
    };
    let before = |a: &&Value| s(&a["last_event_time"]) < cut;
    let (full_first, full_second): (Vec<Value>, Vec<Value>) =
        full.iter().cloned().partition(|a| before(&a));
    assert_eq!(lines(&first), lines(&full_first), "the first half differs");
    assert_eq!(
        lines(&second),
        lines(&full_second),
        "the second half, resumed from the snapshot, differs from the uninterrupted run"
    );
    assert!(lines(&full_second).len() >= 11);
    // without the snapshot the second half starts learning afresh: it is not the same run
    let (_, cold) = replay(
        &trail,
        &[],
        &tmp.path().join("cold"),
        &geo,
        &["--from", "2024-03-06"],
    );
    assert_ne!(
        lines(&cold),
        lines(&full_second),
        "the snapshot carried nothing"
    );
    assert!(
        !cold.iter().any(|a| a["rule_id"] == "infrequent-country"),
        "a cold start cannot know the baseline countries"
    );
}

/// The generator's address table against the real database: every sampled address in its
/// site's country, and any two places of one site closer than the travel minimum distance once
/// both accuracy radii are subtracted.
#[test]
fn the_generators_address_sites_agree_with_geolite2() {
    let Some(path) = real_db() else {
        assert!(!in_ci(), "GeoLite2-City.mmdb is missing and CI is set");
        println!("skipped: ../shared/data/geo/GeoLite2-City.mmdb is not present (CI unset)");
        return;
    };
    let db = GeoDb::open(&path).unwrap();
    let mut rng = Xs(1);
    for site in GEO_SITES {
        // distinct (latitude, longitude, radius) the database gives the site's addresses
        let mut places: BTreeSet<(i64, i64, i64)> = BTreeSet::new();
        for cidr in site.cidrs() {
            let (addr, len) = cidr.split_once('/').unwrap();
            // every address of a /24; one random address of each /24 of a /16; 64 random
            // addresses of an IPv6 prefix
            let samples: Vec<IpAddr> = match (addr.parse::<IpAddr>().unwrap(), len) {
                (IpAddr::V4(a), "24") => (0..256u32)
                    .map(|i| Ipv4Addr::from(u32::from(a) + i).into())
                    .collect(),
                (IpAddr::V4(a), _) => (0..256u32)
                    .map(|i| {
                        let host = (i << 8) + rng.below(256) as u32;
                        Ipv4Addr::from(u32::from(a) + host).into()
                    })
                    .collect(),
                (IpAddr::V6(a), _) => (0..64)
                    .map(|_| Ipv6Addr::from(u128::from(a) | u128::from(rng.next())).into())
                    .collect(),
            };
            for ip in samples {
                let g = db
                    .lookup(ip)
                    .unwrap_or_else(|| panic!("{ip} ({}) is not in the database", site.name));
                assert_eq!(
                    g.country.as_deref(),
                    Some(site.country),
                    "{ip} ({})",
                    site.name
                );
                let (la, lo) = g
                    .coords
                    .unwrap_or_else(|| panic!("{ip} has no coordinates"));
                places.insert((
                    (la * 1e4) as i64,
                    (lo * 1e4) as i64,
                    g.accuracy_radius_km as i64,
                ));
            }
        }
        let places: Vec<(f64, f64, f64)> = places
            .into_iter()
            .map(|(a, b, r)| (a as f64 / 1e4, b as f64 / 1e4, r as f64))
            .collect();
        for p in &places {
            for q in &places {
                let effective = distance_km((p.0, p.1), (q.0, q.1)) - p.2 - q.2;
                assert!(
                    effective <= MIN_DISTANCE_KM,
                    "{}: {p:?} and {q:?} are {effective:.0} km apart after the radii",
                    site.name
                );
            }
        }
    }
}

/// `anonymous-ip` from an anonymous-IP database and an ASN list (with the ASN database)
/// through the binary: tiny databases and a small trail written here.
#[test]
fn anonymous_ip_from_an_anonymous_ip_database_and_asn_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let anon = d.join("anonymous-ip.mmdb");
    std::fs::write(
        &anon,
        mmdb::build_records(
            mmdb::ANONYMOUS_IP_TYPE,
            &[
                (
                    "185.220.101.0/24",
                    mmdb::anonymous_ip(&["is_tor_exit_node"]),
                ),
                (
                    "3.5.0.0/16",
                    mmdb::Val::Map(vec![("is_hosting_provider".into(), mmdb::Val::Bool(true))]),
                ),
            ],
        ),
    )
    .unwrap();
    let asn = d.join("asn.mmdb");
    std::fs::write(
        &asn,
        mmdb::build_records(
            mmdb::ASN_TYPE,
            &[
                (
                    "185.220.101.0/24",
                    mmdb::asn(60729, "Stiftung Erneuerbare Freiheit"),
                ),
                ("45.83.220.0/24", mmdb::asn(9009, "M247 Europe SRL")),
                ("3.5.0.0/16", mmdb::asn(16509, "AMAZON-02")),
            ],
        ),
    )
    .unwrap();
    let asns = d.join("vpn-asns.txt");
    std::fs::write(&asns, "# VPN providers\nAS9009\nas20473\n").unwrap();
    let trail = d.join("trail");
    std::fs::create_dir_all(&trail).unwrap();
    let rec = |i: usize, user: &str, ip: &str| {
        json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{user}"),
                "arn": format!("arn:aws:iam::111122223333:user/{user}"),
                "accountId": "111122223333", "userName": user},
            "eventTime": format!("2024-03-01T10:{i:02}:00Z"),
            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
            "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0",
            "eventID": format!("ev-{i}"), "readOnly": true, "eventType": "AwsApiCall",
            "recipientAccountId": "111122223333"
        })
    };
    let records = vec![
        rec(1, "alice", "185.220.101.7"), // Tor exit (database)
        rec(2, "alice", "45.83.220.9"),   // AS9009: on the anonymous ASN list
        rec(3, "alice", "3.5.1.1"),       // hosting, AS16509: quiet by default
        rec(4, "bob", "203.0.113.30"),    // nothing known
        rec(5, "alice", "185.220.101.7"), // within the cooldown
    ];
    std::fs::write(
        trail.join("events.json"),
        serde_json::to_vec(&json!({ "Records": records })).unwrap(),
    )
    .unwrap();
    let out = d.join("out");
    let o = bin()
        .arg("replay")
        .arg(&trail)
        .arg("--out")
        .arg(&out)
        .args(["--no-progress", "--no-archive", "--anonymous-ip-db"])
        .arg(&anon)
        .arg("--asn-db")
        .arg(&asn)
        .arg("--asn-list")
        .arg(format!("anonymous={}", asns.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let sources = stderr
        .lines()
        .find(|l| l.contains("anonymous-ip sources:"))
        .unwrap_or_else(|| panic!("no sources line:\n{stderr}"));
    for part in [
        "ASN lists `anonymous`",
        "anonymous-IP database GeoIP2-Anonymous-IP",
        "ASN database GeoLite2-ASN",
    ] {
        assert!(sources.contains(part), "{part}: {sources}");
    }
    let alerts: Vec<Value> = std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|a: &Value| a["rule_id"] == "anonymous-ip")
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let by = |ev: &str| {
        alerts
            .iter()
            .find(|a| a["event_ids"] == json!([ev]))
            .unwrap_or_else(|| panic!("no alert for {ev}: {alerts:#?}"))
    };
    let tor = by("ev-1");
    assert_eq!(tor["evidence"]["lists"], json!(["anonymous-ip-db:tor"]));
    assert_eq!(tor["evidence"]["categories"], json!(["tor"]));
    assert_eq!(tor["evidence"]["asn"], json!(60729));
    assert_eq!(tor["principal"], json!("111122223333:user/alice"));
    let vpn = by("ev-2");
    assert_eq!(vpn["evidence"]["lists"], json!(["anonymous"]));
    assert_eq!(vpn["evidence"]["categories"], json!([]));
    assert_eq!(vpn["evidence"]["asn"], json!(9009));
    assert_eq!(vpn["evidence"]["as_org"], json!("M247 Europe SRL"));

    // an ASN list without the ASN database, and a corrupt database, stop the start
    let run = |extra: &[&str]| {
        let o = bin()
            .arg("replay")
            .arg(&trail)
            .arg("--out")
            .arg(d.join("out2"))
            .args(["--no-progress", "--no-archive"])
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let list = format!("anonymous={}", asns.display());
    let (code, err) = run(&["--asn-list", &list]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--asn-list") && err.contains("--asn-db"),
        "{err}"
    );
    let corrupt = d.join("corrupt.mmdb");
    std::fs::write(&corrupt, b"definitely not an mmdb").unwrap();
    let (code, err) = run(&["--anonymous-ip-db", corrupt.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("corrupt.mmdb"), "{err}");
    let bad = d.join("bad-asns.txt");
    std::fs::write(&bad, "AS9009\nAmazon\n").unwrap();
    let (code, err) = run(&[
        "--asn-db",
        asn.to_str().unwrap(),
        "--asn-list",
        &format!("anonymous={}", bad.display()),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{}:2", bad.display())), "{err}");
}
