//! `anonymous-ip` and `suspicious-ip` from databases: an anonymous-IP mmdb (GeoIP2 Anonymous IP
//! and IPinfo privacy shapes), an ASN database and ASN lists — through tiny MaxMind DBs written
//! by `support/mmdb.rs` and CloudTrail records parsed by `trailwarden_parse::parse_record`.
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)

#[path = "support/mmdb.rs"]
mod mmdb;

use std::collections::BTreeSet;

use mmdb::Val;
use serde_json::{json, Value};
use trailwarden_alert::{canonical_order, format_event_time, Alert};
use trailwarden_anomaly::{
    AnomalyConfig, AnomalyEngine, AnonymousIpDb, AsnDb, AsnLists, Categories, IpIntel,
    TerminatedUsers,
};
use trailwarden_detect::IpLists;
use trailwarden_parse::{parse_record, Event};

/// 2024-03-01T00:00:00Z
const BASE: i64 = 1_709_251_200;
const HOUR: i64 = 3600;

const TOR: &str = "185.220.101.7";
const VPN: &str = "45.83.220.9";
const PUBLIC_PROXY: &str = "103.21.0.5";
const RESIDENTIAL: &str = "91.200.12.44";
const HOSTING: &str = "3.5.1.1";
const TOR_AND_HOSTING: &str = "51.15.0.3";
const CLEAN: &str = "203.0.113.30";

fn read(secs: i64, id: &str, user: &str, ip: &str) -> Event {
    let r = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{user}"),
            "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333",
            "userName": user
        },
        "eventTime": format_event_time((BASE + secs) * 1_000_000),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "eventID": id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    });
    parse_record(&serde_json::to_vec(&r).unwrap()).unwrap()
}

fn maxmind_db() -> Vec<u8> {
    mmdb::build_records(
        mmdb::ANONYMOUS_IP_TYPE,
        &[
            (
                "185.220.101.0/24",
                mmdb::anonymous_ip(&["is_tor_exit_node"]),
            ),
            ("45.83.220.0/24", mmdb::anonymous_ip(&["is_anonymous_vpn"])),
            ("103.21.0.0/24", mmdb::anonymous_ip(&["is_public_proxy"])),
            (
                "91.200.12.0/24",
                mmdb::anonymous_ip(&["is_residential_proxy"]),
            ),
            // hosting only: MaxMind does not set is_anonymous for plain hosting ranges
            (
                "3.5.0.0/16",
                Val::Map(vec![("is_hosting_provider".into(), Val::Bool(true))]),
            ),
            (
                "51.15.0.0/16",
                mmdb::anonymous_ip(&["is_tor_exit_node", "is_hosting_provider"]),
            ),
            // listed but every category false: not anonymous
            (
                "198.18.0.0/15",
                Val::Map(vec![
                    ("is_anonymous".into(), Val::Bool(false)),
                    ("is_tor_exit_node".into(), Val::Bool(false)),
                ]),
            ),
        ],
    )
}

fn asn_db() -> Vec<u8> {
    mmdb::build_records(
        mmdb::ASN_TYPE,
        &[
            (
                "185.220.101.0/24",
                mmdb::asn(60729, "Stiftung Erneuerbare Freiheit"),
            ),
            ("45.83.220.0/24", mmdb::asn(9009, "M247 Europe SRL")),
            ("3.5.0.0/16", mmdb::asn(16509, "AMAZON-02")),
            ("192.0.2.0/24", mmdb::asn(64500, "Bad Hosting Ltd")),
            // a record without the organization
            (
                "198.51.100.0/24",
                Val::Map(vec![("autonomous_system_number".into(), Val::U32(64501))]),
            ),
        ],
    )
}

struct Setup {
    config: AnomalyConfig,
    ip_lists: IpLists,
    anonymous_db: Option<Vec<u8>>,
    asn_db: Option<Vec<u8>>,
    asn_lists: AsnLists,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            config: AnomalyConfig::default(),
            ip_lists: IpLists::new(),
            anonymous_db: None,
            asn_db: None,
            asn_lists: AsnLists::new(),
        }
    }
    fn config(mut self, json_text: &str) -> Setup {
        self.config = AnomalyConfig::from_json(json_text).unwrap();
        self
    }
    fn anonymous_db(mut self, bytes: Vec<u8>) -> Setup {
        self.anonymous_db = Some(bytes);
        self
    }
    fn asn_db(mut self) -> Setup {
        self.asn_db = Some(asn_db());
        self
    }
    fn ip_list(mut self, name: &str, text: &str) -> Setup {
        self.ip_lists.add_text(name, "list.txt", text).unwrap();
        self
    }
    fn asn_list(mut self, name: &str, text: &str) -> Setup {
        self.asn_lists.add_text(name, "asns.txt", text).unwrap();
        self
    }
    fn try_engine(&self) -> Result<AnomalyEngine, trailwarden_anomaly::AnomalyError> {
        AnomalyEngine::with_intel(
            &self.config,
            None,
            &self.ip_lists,
            IpIntel {
                anonymous_db: self
                    .anonymous_db
                    .clone()
                    .map(|b| AnonymousIpDb::from_bytes(b).unwrap()),
                asn_db: self.asn_db.clone().map(|b| AsnDb::from_bytes(b).unwrap()),
                asn_lists: self.asn_lists.clone(),
            },
            TerminatedUsers::new(),
        )
    }
    fn engine(&self) -> AnomalyEngine {
        self.try_engine().unwrap()
    }
    fn run(&self, events: Vec<Event>) -> Vec<Alert> {
        let mut e = self.engine();
        let mut out = Vec::new();
        e.ingest(&events, "o1", &mut out);
        e.flush(&mut out);
        canonical_order(&mut out);
        out
    }
}

fn of<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule_id == rule).collect()
}

fn lines(alerts: &[Alert]) -> String {
    alerts.iter().map(|a| a.to_json_line() + "\n").collect()
}

/// The anonymous-ip alerts as (source IP, evidence.lists) pairs.
fn hits(alerts: &[Alert]) -> Vec<(String, Value)> {
    of(alerts, "anonymous-ip")
        .iter()
        .map(|a| {
            (
                a.source_ip.clone().unwrap_or_default(),
                a.evidence["lists"].clone(),
            )
        })
        .collect()
}

fn keys(a: &Alert) -> BTreeSet<&str> {
    a.evidence.keys().map(String::as_str).collect()
}

fn every_address() -> Vec<Event> {
    [
        TOR,
        VPN,
        PUBLIC_PROXY,
        RESIDENTIAL,
        HOSTING,
        TOR_AND_HOSTING,
        CLEAN,
        "198.18.0.1",
        "10.1.2.3",
    ]
    .iter()
    .enumerate()
    .map(|(i, ip)| read(i as i64 * 60, &format!("e{i}"), "alice", ip))
    .collect()
}

// ------------------------------------------------------------------------ the anonymous-IP database

#[test]
fn each_category_fires_and_hosting_stays_quiet_by_default() {
    let s = Setup::new().anonymous_db(maxmind_db());
    // no IP list at all: the database alone runs the detection
    assert!(
        s.engine().disabled().iter().all(|d| d.id != "anonymous-ip"),
        "{:?}",
        s.engine().disabled()
    );
    let alerts = s.run(every_address());
    assert_eq!(
        hits(&alerts),
        vec![
            (TOR.to_string(), json!(["anonymous-ip-db:tor"])),
            (VPN.to_string(), json!(["anonymous-ip-db:vpn"])),
            (
                PUBLIC_PROXY.to_string(),
                json!(["anonymous-ip-db:public_proxy"])
            ),
            (
                RESIDENTIAL.to_string(),
                json!(["anonymous-ip-db:residential_proxy"])
            ),
            // tor and hosting: fires for tor; `categories` says everything the database knows
            (TOR_AND_HOSTING.to_string(), json!(["anonymous-ip-db:tor"])),
        ],
        "{}",
        lines(&alerts)
    );
    let a = of(&alerts, "anonymous-ip");
    assert_eq!(a[0].evidence["categories"], json!(["tor"]));
    assert_eq!(a[4].evidence["categories"], json!(["tor", "hosting"]));
    assert!(
        a[0].summary.contains("anonymous-IP database marks as tor"),
        "{}",
        a[0].summary
    );
    assert_eq!(a[0].event_ids, ["e0"]);
    assert_eq!(a[0].principal.as_deref(), Some("111122223333:user/alice"));
}

#[test]
fn hosting_fires_when_configured_and_categories_choose_what_counts() {
    let s = Setup::new()
        .anonymous_db(maxmind_db())
        .config(r#"{"detections":{"anonymous-ip":{"categories":["hosting"]}}}"#);
    let alerts = s.run(every_address());
    assert_eq!(
        hits(&alerts),
        vec![
            (HOSTING.to_string(), json!(["anonymous-ip-db:hosting"])),
            (
                TOR_AND_HOSTING.to_string(),
                json!(["anonymous-ip-db:hosting"])
            ),
        ],
        "{}",
        lines(&alerts)
    );
    let s = Setup::new().anonymous_db(maxmind_db()).config(
        r#"{"detections":{"anonymous-ip":{"categories":["tor","vpn","public_proxy","residential_proxy","relay","hosting"]}}}"#,
    );
    let alerts = s.run(every_address());
    assert_eq!(of(&alerts, "anonymous-ip").len(), 6, "{}", lines(&alerts));
    let both = hits(&alerts)
        .into_iter()
        .find(|(ip, _)| ip == TOR_AND_HOSTING)
        .unwrap();
    assert_eq!(
        both.1,
        json!(["anonymous-ip-db:tor", "anonymous-ip-db:hosting"])
    );
}

#[test]
fn empty_categories_leave_the_database_unused() {
    let s = Setup::new()
        .anonymous_db(maxmind_db())
        .config(r#"{"detections":{"anonymous-ip":{"categories":[]}}}"#);
    let e = s.engine();
    let off = e
        .disabled()
        .iter()
        .find(|d| d.id == "anonymous-ip")
        .unwrap();
    assert!(off.reason.contains("categories"), "{}", off.reason);
    assert!(e.anonymous_ip_sources().is_none());
    assert!(s.run(every_address()).is_empty());
}

#[test]
fn ipinfo_privacy_strings_and_booleans() {
    let db = mmdb::build_records(
        mmdb::IPINFO_PRIVACY_TYPE,
        &[
            ("185.220.101.0/24", mmdb::ipinfo_privacy(&["tor"], "Tor")),
            (
                "45.83.220.0/24",
                mmdb::ipinfo_privacy(&["vpn", "hosting"], "NordVPN"),
            ),
            ("103.21.0.0/24", mmdb::ipinfo_privacy(&["proxy"], "")),
            (
                "17.58.0.0/16",
                mmdb::ipinfo_privacy(&["relay"], "iCloud Private Relay"),
            ),
            ("3.5.0.0/16", mmdb::ipinfo_privacy(&["hosting"], "")),
            // everything "false": not anonymous
            ("203.0.113.0/24", mmdb::ipinfo_privacy(&[], "")),
            // real booleans in the IPinfo shape
            (
                "91.200.12.0/24",
                Val::Map(vec![
                    ("vpn".into(), Val::Bool(true)),
                    ("tor".into(), Val::Bool(false)),
                    ("hosting".into(), Val::Bool(false)),
                ]),
            ),
        ],
    );
    let s = Setup::new().anonymous_db(db);
    let events = [
        TOR,
        VPN,
        PUBLIC_PROXY,
        "17.58.1.2",
        HOSTING,
        CLEAN,
        RESIDENTIAL,
    ]
    .iter()
    .enumerate()
    .map(|(i, ip)| read(i as i64 * 60, &format!("i{i}"), "ivan", ip))
    .collect();
    let alerts = s.run(events);
    assert_eq!(
        hits(&alerts),
        vec![
            (TOR.to_string(), json!(["anonymous-ip-db:tor"])),
            (VPN.to_string(), json!(["anonymous-ip-db:vpn"])),
            (
                PUBLIC_PROXY.to_string(),
                json!(["anonymous-ip-db:public_proxy"])
            ),
            ("17.58.1.2".to_string(), json!(["anonymous-ip-db:relay"])),
            (RESIDENTIAL.to_string(), json!(["anonymous-ip-db:vpn"])),
        ],
        "{}",
        lines(&alerts)
    );
    let vpn = of(&alerts, "anonymous-ip")[1];
    assert_eq!(vpn.evidence["categories"], json!(["vpn", "hosting"]));
}

#[test]
fn database_hits_keep_the_cooldown() {
    let s = Setup::new().anonymous_db(maxmind_db());
    let alerts = s.run(vec![
        read(0, "c1", "carol", TOR),
        read(60, "c2", "carol", TOR),           // within the cooldown
        read(120, "c3", "dave", TOR),           // another principal: its own cooldown
        read(2 * HOUR, "c4", "carol", TOR),     // after the cooldown
        read(2 * HOUR + 1, "c5", "carol", VPN), // another address
    ]);
    let ids: Vec<&str> = of(&alerts, "anonymous-ip")
        .iter()
        .map(|a| a.event_ids[0].as_str())
        .collect();
    let mut want = vec!["c1", "c3", "c4", "c5"];
    let mut got = ids.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{}", lines(&alerts));
}

#[test]
fn ip_lists_and_the_database_together() {
    let s = Setup::new()
        .anonymous_db(maxmind_db())
        .ip_list("anonymous", "185.220.101.0/24\n192.0.2.0/24\n");
    let alerts = s.run(vec![
        read(0, "b1", "bob", TOR),         // on the list and in the database
        read(1, "b2", "bob", "192.0.2.9"), // on the list only
        read(2, "b3", "bob", VPN),         // in the database only
    ]);
    assert_eq!(
        hits(&alerts),
        vec![
            (TOR.to_string(), json!(["anonymous", "anonymous-ip-db:tor"])),
            ("192.0.2.9".to_string(), json!(["anonymous"])),
            (VPN.to_string(), json!(["anonymous-ip-db:vpn"])),
        ],
        "{}",
        lines(&alerts)
    );
    let a = of(&alerts, "anonymous-ip");
    assert_eq!(a[1].evidence["categories"], json!([]));
    assert!(
        a[0].summary.contains(
            "which is on the anonymous list and which the anonymous-IP database marks as tor"
        ),
        "{}",
        a[0].summary
    );
}

// ------------------------------------------------------------------------ ASN database and lists

#[test]
fn asn_list_hit_and_miss_for_both_detections() {
    let s = Setup::new()
        .asn_db()
        .asn_list("anonymous", "# VPN providers\nAS9009\n")
        .asn_list("suspicious", "as64500\n")
        .ip_list("anonymous", "185.220.101.0/24\n");
    let e = s.engine();
    // both IP detections run (only the geo ones are off: no geo database here)
    assert!(
        e.disabled()
            .iter()
            .all(|d| d.id != "anonymous-ip" && d.id != "suspicious-ip"),
        "{:?}",
        e.disabled()
    );
    let alerts = s.run(vec![
        read(0, "a1", "alice", VPN),         // AS9009: on the anonymous ASN list
        read(1, "a2", "alice", HOSTING),     // AS16509: on no list
        read(2, "a3", "alice", "192.0.2.7"), // AS64500: on the suspicious ASN list
        read(3, "a4", "alice", TOR),         // on the anonymous IP list
        read(4, "a5", "alice", CLEAN),       // in no database
    ]);
    assert_eq!(
        hits(&alerts),
        vec![
            (VPN.to_string(), json!(["anonymous"])),
            (TOR.to_string(), json!(["anonymous"])),
        ],
        "{}",
        lines(&alerts)
    );
    let a = of(&alerts, "anonymous-ip");
    assert_eq!(a[0].evidence["asn"], json!(9009));
    assert_eq!(a[0].evidence["as_org"], json!("M247 Europe SRL"));
    assert!(
        a[0].summary.contains("(AS9009, M247 Europe SRL)"),
        "{}",
        a[0].summary
    );
    assert_eq!(a[1].evidence["asn"], json!(60729));
    let sus = of(&alerts, "suspicious-ip");
    assert_eq!(sus.len(), 1, "{}", lines(&alerts));
    assert_eq!(sus[0].source_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(sus[0].evidence["lists"], json!(["suspicious"]));
    assert_eq!(sus[0].evidence["asn"], json!(64500));
    assert_eq!(sus[0].evidence["as_org"], json!("Bad Hosting Ltd"));
}

#[test]
fn asn_lists_need_the_asn_database() {
    let s = Setup::new().asn_list("anonymous", "AS9009\n");
    let e = s.try_engine().unwrap_err().to_string();
    assert!(e.contains("--asn-list") && e.contains("--asn-db"), "{e}");
}

#[test]
fn asn_list_files_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vpn-asns.txt");
    std::fs::write(&f, "# vpn\nAS9009\nAS 20473\n").unwrap();
    let spec = format!("anonymous={}", f.display());
    let e = AsnLists::load_specs(&[spec]).unwrap_err().to_string();
    assert!(e.contains(&format!("{}:3", f.display())), "{e}");
    std::fs::write(&f, "AS9009\nas20473 # vultr\n\n60068\n").unwrap();
    let spec = format!("anonymous={}", f.display());
    let l = AsnLists::load_specs(&[spec]).unwrap();
    let set = l.get("anonymous").unwrap();
    assert_eq!(set.len(), 3);
    assert!(set.contains(20473) && !set.contains(16509));
    let missing = dir.path().join("nope.txt");
    let e = AsnLists::load_specs(&[format!("x={}", missing.display())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.txt"), "{e}");
    assert!(AsnLists::load_specs(&["no-equals-sign"]).is_err());
}

// ------------------------------------------------------------------------ evidence shape

#[test]
fn evidence_keys_with_and_without_databases() {
    // without databases: exactly the keys of a list hit as before
    let s = Setup::new().ip_list("anonymous", "185.220.101.0/24\n");
    let alerts = s.run(vec![read(0, "k1", "kim", TOR)]);
    let a = of(&alerts, "anonymous-ip");
    assert_eq!(a.len(), 1);
    assert_eq!(
        keys(a[0]),
        BTreeSet::from(["ip", "lists", "eventName", "cooldownSeconds"])
    );
    assert_eq!(
        a[0].summary,
        "111122223333:user/kim called DescribeInstances from 185.220.101.7, which is on the anonymous list"
    );
    // with both databases: categories, asn, as_org added
    let s = Setup::new()
        .ip_list("anonymous", "185.220.101.0/24\n")
        .ip_list("suspicious", "198.51.100.0/24\n")
        .anonymous_db(maxmind_db())
        .asn_db();
    let alerts = s.run(vec![
        read(0, "k1", "kim", TOR),
        read(1, "k2", "kim", "198.51.100.4"),
        read(2, "k3", "kim", RESIDENTIAL),
    ]);
    let a = of(&alerts, "anonymous-ip");
    assert_eq!(a.len(), 2, "{}", lines(&alerts));
    let full = BTreeSet::from([
        "ip",
        "lists",
        "eventName",
        "cooldownSeconds",
        "categories",
        "asn",
        "as_org",
    ]);
    assert_eq!(keys(a[0]), full);
    // an address the ASN database does not know: the keys are there, null
    assert_eq!(a[1].evidence["asn"], Value::Null);
    assert_eq!(a[1].evidence["as_org"], Value::Null);
    let sus = of(&alerts, "suspicious-ip");
    assert_eq!(
        keys(sus[0]),
        BTreeSet::from([
            "ip",
            "lists",
            "eventName",
            "cooldownSeconds",
            "asn",
            "as_org"
        ])
    );
    assert_eq!(sus[0].evidence["asn"], json!(64501));
    assert_eq!(sus[0].evidence["as_org"], Value::Null);
}

// ------------------------------------------------------------------------ start-up

#[test]
fn corrupt_or_wrong_databases_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a MaxMind database at all").unwrap();
    let e = AnonymousIpDb::open(&garbage).unwrap_err().to_string();
    assert!(
        e.contains("garbage.mmdb") && e.contains("anonymous-IP database"),
        "{e}"
    );
    let e = AsnDb::open(&garbage).unwrap_err().to_string();
    assert!(
        e.contains("garbage.mmdb") && e.contains("ASN database"),
        "{e}"
    );
    // truncated: the metadata is cut off
    let mut bytes = maxmind_db();
    bytes.truncate(bytes.len() / 2);
    let cut = dir.path().join("cut.mmdb");
    std::fs::write(&cut, &bytes).unwrap();
    assert!(AnonymousIpDb::open(&cut)
        .unwrap_err()
        .to_string()
        .contains("cut.mmdb"));
    let missing = dir.path().join("missing.mmdb");
    assert!(AsnDb::open(&missing)
        .unwrap_err()
        .to_string()
        .contains("missing.mmdb"));
    // the databases swapped, or a City database: refused with the type
    let e = AnonymousIpDb::from_bytes(asn_db()).unwrap_err().to_string();
    assert!(e.contains("GeoLite2-ASN"), "{e}");
    let e = AsnDb::from_bytes(maxmind_db()).unwrap_err().to_string();
    assert!(e.contains("GeoIP2-Anonymous-IP"), "{e}");
    let city = mmdb::build(&[mmdb::CityNet::new(
        "198.51.100.0/24",
        "DE",
        "Berlin",
        52.5,
        13.4,
        20,
    )]);
    assert!(AsnDb::from_bytes(city.clone()).is_err());
    assert!(AnonymousIpDb::from_bytes(city).is_err());
    // the real shapes open
    let db = AnonymousIpDb::from_bytes(maxmind_db()).unwrap();
    assert!(db.description().contains("GeoIP2-Anonymous-IP"));
    assert_eq!(
        db.lookup(TOR_AND_HOSTING.parse().unwrap()),
        Categories::TOR.union(Categories::HOSTING)
    );
    assert_eq!(db.lookup(CLEAN.parse().unwrap()), Categories::NONE);
    let asn = AsnDb::from_bytes(asn_db()).unwrap();
    assert_eq!(asn.lookup(VPN.parse().unwrap()).unwrap().number, 9009);
    assert!(asn.lookup(CLEAN.parse().unwrap()).is_none());
}

#[test]
fn the_sources_line_names_what_feeds_anonymous_ip() {
    let s = Setup::new()
        .ip_list("anonymous", "185.220.101.0/24\n")
        .asn_list("anonymous", "AS9009\n")
        .anonymous_db(maxmind_db())
        .asn_db();
    let e = s.engine();
    let line = e.anonymous_ip_sources().unwrap();
    for part in [
        "anonymous-ip sources:",
        "IP lists `anonymous`",
        "ASN lists `anonymous`",
        "anonymous-IP database GeoIP2-Anonymous-IP",
        "categories tor, vpn, public_proxy, residential_proxy, relay",
        "ASN database GeoLite2-ASN",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!line.contains("hosting"), "{line}");
    // the same line from the configuration alone (check-config)
    let from_config = AnomalyConfig::default()
        .anonymous_ip_sources(
            &["anonymous", "risky"],
            &["anonymous"],
            Some(
                AnonymousIpDb::from_bytes(maxmind_db())
                    .unwrap()
                    .description(),
            ),
            Some(AsnDb::from_bytes(asn_db()).unwrap().description()),
        )
        .unwrap();
    assert_eq!(from_config, line);
    let none = AnomalyConfig::default()
        .anonymous_ip_sources(&["risky"], &[], None, None)
        .unwrap();
    assert!(
        none.contains("none") && none.contains("--anonymous-ip-db"),
        "{none}"
    );
    // nothing: the detection is off, and says what it needs
    let e = Setup::new().engine();
    assert!(e.anonymous_ip_sources().is_none());
    let off = e
        .disabled()
        .iter()
        .find(|d| d.id == "anonymous-ip")
        .unwrap();
    assert!(
        off.reason.contains("--asn-list") && off.reason.contains("--anonymous-ip-db"),
        "{}",
        off.reason
    );
}

#[test]
fn categories_are_checked_in_the_configuration() {
    let bad = AnomalyConfig::from_json(
        r#"{"detections":{"anonymous-ip":{"categories":["tor","darknet"]}}}"#,
    )
    .unwrap();
    let e = bad.validate().unwrap_err().to_string();
    assert!(
        e.contains("darknet") && e.contains("residential_proxy"),
        "{e}"
    );
    let wrong =
        AnomalyConfig::from_json(r#"{"detections":{"suspicious-ip":{"categories":["tor"]}}}"#)
            .unwrap();
    let e = wrong.validate().unwrap_err().to_string();
    assert!(e.contains("categories"), "{e}");
}
