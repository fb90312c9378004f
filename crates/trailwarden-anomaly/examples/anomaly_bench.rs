//! Throughput of the anomaly engine alone, and memory per principal.
//!
//! `cargo run --release -p trailwarden-anomaly --example anomaly_bench -- [EVENTS] [PRINCIPALS]`
//!
//! Models a busy organisation trail: EVENTS parsed CloudTrail records (default 1,000,000) from
//! PRINCIPALS principals (default 20,000) over a month, 1 % console sign-ins (a third failed),
//! 5 % writes across IAM/EC2/S3, deletions and launches; every detection on, with the GeoLite2
//! database from `../shared/data/geo/` when present. Parsing is done outside the timed part.
//! Then 100,000 one-event principals measure resident memory and snapshot size per principal.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use trailwarden_alert::format_event_time;
use trailwarden_anomaly::{AnomalyConfig, AnomalyEngine, GeoDb, TerminatedUsers};
use trailwarden_detect::IpLists;
use trailwarden_parse::{parse_record, Event};

// the allocator of the trailwarden binary
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4)
}

/// A tiny deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn record(i: u64, t: i64, user: u64, ip: &str, rng: &mut Rng) -> String {
    let roll = rng.below(1000);
    let (src, name, extra) = match roll {
        0..=6 => ("signin.amazonaws.com", "ConsoleLogin", r#","responseElements":{"ConsoleLogin":"Failure"}"#.to_string()),
        7..=9 => ("signin.amazonaws.com", "ConsoleLogin", r#","responseElements":{"ConsoleLogin":"Success"}"#.to_string()),
        10..=19 => ("s3.amazonaws.com", "DeleteObject", String::new()),
        20..=22 => ("ec2.amazonaws.com", "TerminateInstances", r#","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}"#.to_string()),
        23..=25 => ("ec2.amazonaws.com", "RunInstances", r#","requestParameters":{"instancesSet":{"items":[{"imageId":"ami-1","minCount":1,"maxCount":2}]}}"#.to_string()),
        26..=40 => ("iam.amazonaws.com", ["CreateUser", "AttachUserPolicy", "TagRole", "PutRolePolicy"][(roll % 4) as usize], r#","requestParameters":{"userName":"x"}"#.to_string()),
        41..=60 => ("ec2.amazonaws.com", "CreateVolume", String::new()),
        _ => ("ec2.amazonaws.com", "DescribeInstances", String::new()),
    };
    let read_only = name.starts_with("Describe");
    let region = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"][rng.below(4) as usize];
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDA{user}","arn":"arn:aws:iam::111122223333:user/u{user}","accountId":"111122223333","accessKeyId":"AKIA{user}","userName":"u{user}"}},"eventTime":"{}","eventSource":"{src}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0","requestID":"r{i}","eventID":"e{i:012}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"{extra}}}"#,
        format_event_time(t)
    )
}

fn engine(geo: Option<GeoDb>, cfg: &AnomalyConfig) -> AnomalyEngine {
    let mut lists = IpLists::new();
    lists
        .add_text("anonymous", "a", "185.220.101.0/24\n")
        .unwrap();
    lists.add_text("suspicious", "s", "192.0.2.0/24\n").unwrap();
    AnomalyEngine::new(cfg, geo, &lists, TerminatedUsers::new()).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let principals: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let geo_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/geo/GeoLite2-City.mmdb");
    let open_geo = || GeoDb::open(&geo_path).ok();
    let cfg = AnomalyConfig::default();
    let mut e = engine(open_geo(), &cfg);
    println!(
        "geo database: {}",
        if geo_path.exists() {
            "GeoLite2-City"
        } else {
            "none"
        }
    );

    // public addresses spread over the world: each principal has 1–2 usual addresses
    let ips: Vec<String> = (0..5000u64)
        .map(|k| {
            format!(
                "{}.{}.{}.{}",
                20 + k % 180,
                (k * 7) % 250 + 1,
                (k * 13) % 250,
                k % 250 + 1
            )
        })
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start_t = 1_709_251_200_000_000i64;
    let span = 30 * 86_400_000_000i64;
    let mut alerts = Vec::new();
    let mut busy = Duration::ZERO;
    let chunk = 10_000u64;
    let mut i = 0u64;
    while i < total {
        let n = chunk.min(total - i);
        let events: Vec<Event> = (0..n)
            .map(|k| {
                let idx = i + k;
                let t = start_t + (span / total as i64) * idx as i64 + rng.below(60_000_000) as i64;
                let user = rng.below(principals);
                let ip = &ips[((user * 2 + rng.below(2)) % ips.len() as u64) as usize];
                parse_record(record(idx, t, user, ip, &mut rng).as_bytes()).unwrap()
            })
            .collect();
        let t0 = Instant::now();
        e.ingest(&events, "bench", &mut alerts);
        busy += t0.elapsed();
        i += n;
    }
    let t0 = Instant::now();
    e.flush(&mut alerts);
    busy += t0.elapsed();
    let secs = busy.as_secs_f64();
    println!(
        "{total} events, {principals} principals: {:.2} s in the engine, {:.0} events/s, {} alerts, stats {:?}",
        secs,
        total as f64 / secs,
        alerts.len(),
        e.stats()
    );
    let mut by_rule = std::collections::BTreeMap::new();
    for a in &alerts {
        *by_rule.entry(a.rule_id.clone()).or_insert(0u64) += 1;
    }
    println!("alerts by rule: {by_rule:?}");
    let snap = e.snapshot();
    println!(
        "snapshot: {} bytes for {} principals ({:.0} B/principal)",
        snap.len(),
        e.principals(),
        snap.len() as f64 / e.principals().max(1) as f64
    );
    drop(e);

    // memory per principal: 100,000 principals with one geo-located event each
    let n = 100_000u64;
    let cfg =
        AnomalyConfig::from_json(r#"{"max_principals": 1000000, "allowed_lateness_secs": 0}"#)
            .unwrap();
    let mut e = engine(open_geo(), &cfg);
    let events: Vec<Event> = (0..n)
        .map(|k| {
            let ip = &ips[(k % ips.len() as u64) as usize];
            let mut rng = Rng(k + 1);
            let mut ev =
                parse_record(record(k, start_t + k as i64 * 1000, k, ip, &mut rng).as_bytes())
                    .unwrap();
            ev.event_name = "DescribeInstances".into();
            ev.event_source = "ec2.amazonaws.com".into();
            ev.read_only = Some(true);
            ev
        })
        .collect();
    let mut out = Vec::with_capacity(1024);
    let before = rss_kb();
    e.ingest(&events, "mem", &mut out);
    e.flush(&mut out);
    let after = rss_kb();
    let snap = e.snapshot();
    println!(
        "memory: {} principals, RSS +{} KiB ({:.0} B/principal, includes the geo cache); snapshot {} bytes ({:.0} B/principal)",
        e.principals(),
        after.saturating_sub(before),
        (after.saturating_sub(before) * 1024) as f64 / n as f64,
        snap.len(),
        snap.len() as f64 / n as f64
    );
}
