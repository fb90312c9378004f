//! The live worker end to end, through the real AWS SDK, against a real `moto_server` on
//! loopback: bucket, queue and bucket notification are created, generated trail objects
//! uploaded, the `trailwarden run` binary started, and its archive and alerts compared with
//! `trailwarden replay` of the same objects.
//!
//! `TRAILWARDEN_MOTO` names the `moto_server` executable (`.ci/run` sets it). Without it the
//! tests print why and pass when `CI` is unset; with `CI` set they fail.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use trailwarden_aws::envelope::samples;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

struct Moto {
    child: Child,
    endpoint: String,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh moto_server, or `None` (skip) when it is not installed and this is not CI.
fn moto() -> Option<Moto> {
    let exe = match std::env::var("TRAILWARDEN_MOTO") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but TRAILWARDEN_MOTO (the moto_server executable) is not");
            }
            eprintln!("skipping: TRAILWARDEN_MOTO is not set (pip install 'moto[server]')");
            return None;
        }
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&exe)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {exe}: {e}"));
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    Some(Moto {
        child,
        endpoint,
        rt,
        s3,
        sqs,
        sns,
    })
}

impl Moto {
    fn bucket(&self, name: &str) {
        self.rt
            .block_on(self.s3.create_bucket().bucket(name).send())
            .unwrap();
    }

    fn queue(&self, name: &str, visibility_secs: u32) -> String {
        let out = self
            .rt
            .block_on(
                self.sqs
                    .create_queue()
                    .queue_name(name)
                    .attributes(
                        QueueAttributeName::VisibilityTimeout,
                        visibility_secs.to_string(),
                    )
                    .send(),
            )
            .unwrap();
        out.queue_url().unwrap().to_string()
    }

    /// S3 → SQS notifications for every created object.
    fn notify(&self, bucket: &str, queue: &str) {
        use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
        let qc = QueueConfiguration::builder()
            .queue_arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
            .events(Event::S3ObjectCreated)
            .build()
            .unwrap();
        self.rt
            .block_on(
                self.s3
                    .put_bucket_notification_configuration()
                    .bucket(bucket)
                    .notification_configuration(
                        NotificationConfiguration::builder()
                            .queue_configurations(qc)
                            .build(),
                    )
                    .send(),
            )
            .unwrap();
    }

    fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.rt
            .block_on(
                self.s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from(bytes))
                    .send(),
            )
            .unwrap();
    }

    /// Uploads every `.json.gz` under `dir` with its path below `dir` as key.
    fn upload_dir(&self, bucket: &str, dir: &Path) -> Vec<String> {
        let mut keys = Vec::new();
        for f in files(dir, ".json.gz") {
            let key = f
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            self.put(bucket, &key, std::fs::read(&f).unwrap());
            keys.push(key);
        }
        keys
    }

    fn send(&self, queue_url: &str, body: &str) {
        self.rt
            .block_on(
                self.sqs
                    .send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .send(),
            )
            .unwrap();
    }

    /// (visible, in flight) messages.
    fn depth(&self, queue_url: &str) -> (u64, u64) {
        let out = self
            .rt
            .block_on(
                self.sqs
                    .get_queue_attributes()
                    .queue_url(queue_url)
                    .attribute_names(QueueAttributeName::All)
                    .send(),
            )
            .unwrap();
        let a = out.attributes().cloned().unwrap_or_default();
        let get =
            |k: QueueAttributeName| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Drains a queue's bodies (the DLQ).
    fn drain(&self, queue_url: &str) -> Vec<String> {
        let mut all = Vec::new();
        loop {
            let out = self
                .rt
                .block_on(
                    self.sqs
                        .receive_message()
                        .queue_url(queue_url)
                        .max_number_of_messages(10)
                        .wait_time_seconds(1)
                        .send(),
                )
                .unwrap();
            let msgs = out.messages.unwrap_or_default();
            if msgs.is_empty() {
                return all;
            }
            for m in msgs {
                all.push(m.body.unwrap_or_default());
                self.rt
                    .block_on(
                        self.sqs
                            .delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(m.receipt_handle.unwrap_or_default())
                            .send(),
                    )
                    .unwrap();
            }
        }
    }

    fn worker(&self, queue_url: &str, out: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trailwarden"));
        c.args(["run", "--queue-url", queue_url, "--out"])
            .arg(out)
            .args([
                "--wait-time-secs",
                "1",
                "--workers",
                "2",
                "--retry-backoff-base-secs",
                "1",
            ])
            .args(extra)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("TRAILWARDEN_QUEUE_URL")
            .env_remove("TRAILWARDEN_OUT")
            .env("TRAILWARDEN_LOG", "warn");
        c
    }

    /// Runs the worker until it has been idle for 3 s; again while the queue still holds
    /// messages (in flight elsewhere, or waiting out a visibility timeout).
    fn run_until_idle(&self, queue_url: &str, out: &Path, extra: &[&str]) -> String {
        let mut args = vec!["--idle-exit-secs", "3"];
        args.extend_from_slice(extra);
        let mut all = String::new();
        for _ in 0..5 {
            let o = self.worker(queue_url, out, &args).output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr).to_string();
            assert!(o.status.success(), "worker failed: {stderr}");
            all.push_str(&stderr);
            if self.depth(queue_url) == (0, 0) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        all
    }
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn gen(dir: &Path, events: u64, seed: u64) -> trailwarden_gen::GenSummary {
    trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: dir.to_path_buf(),
        events,
        seed,
        threads: 2,
        ..Default::default()
    })
    .unwrap()
}

fn replay(trail: &Path, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .arg("replay")
        .arg(trail)
        .arg("--out")
        .arg(out)
        .args(["--no-progress", "--workers", "2", "-q"])
        .output()
        .unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "replay failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Alert lines keyed by id; panics on a duplicate id.
fn alerts(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert!(
            m.insert(id.clone(), line.to_string()).is_none(),
            "alert {id} written twice"
        );
    }
    m
}

/// Archive files (path below archive/ → bytes).
fn archive(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let root = out.join("archive");
    files(&root, ".parquet")
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(&root).unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn rows(out: &Path) -> i64 {
    use parquet::file::reader::FileReader as _;
    files(&out.join("archive"), ".parquet")
        .into_iter()
        .map(|p| {
            let r =
                parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&p).unwrap())
                    .unwrap();
            r.metadata().file_metadata().num_rows()
        })
        .sum()
}

/// Windowed rules (policy windows, Sigma correlations) in a worker that holds late events for
/// this long give what a replay gives, whatever order the objects arrive in (the uploads come
/// account by account, not in time order as CloudTrail delivers them).
const NO_LATENESS_LIMIT: [&str; 2] = ["--allowed-lateness-secs", "100000000"];

/// The ids of the built-in rules that judge one event at a time (`rules list`).
fn event_rule_ids() -> BTreeSet<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    // An event rule with a `dedup:` window keeps state too (which call of the window alerts
    // depends on what it saw first), so it counts as windowed here.
    let deduped = dedup_rule_ids();
    let ids: BTreeSet<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "event" || v["kind"] == "single-event")
        .map(|v| v["id"].as_str().unwrap().to_string())
        .filter(|id| !deduped.contains(id))
        .collect();
    assert!(!ids.is_empty());
    ids
}

/// Ids of the built-in rules that declare a top-level `dedup:` window.
fn dedup_rule_ids() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../trailwarden-detect/rules");
    let mut out = BTreeSet::new();
    for f in files(&root, ".yaml") {
        let text = std::fs::read_to_string(&f).unwrap();
        if text.lines().any(|l| l.starts_with("dedup:")) {
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .unwrap()
                .trim()
                .to_string();
            out.insert(id);
        }
    }
    assert!(
        !out.is_empty(),
        "no dedup rule found under {}",
        root.display()
    );
    out
}

/// Every alert and archive file the same.
fn assert_same_outputs(live: &Path, local: &Path) {
    compare_outputs(live, local, None);
}

/// Across a worker restart: the archive and the event rules' alerts are the same. (The state of
/// windowed rules, buffered events included, is not kept across a restart: their alerts may
/// differ.)
fn assert_same_event_alerts(live: &Path, local: &Path) {
    compare_outputs(live, local, Some(&event_rule_ids()));
}

fn compare_outputs(live: &Path, local: &Path, only: Option<&BTreeSet<String>>) {
    let keep = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter()
            .filter(|(_, l)| {
                only.is_none_or(|ids| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    ids.contains(v["rule_id"].as_str().unwrap())
                })
            })
            .collect()
    };
    let (la, ra) = (
        keep(alerts(&live.join("alerts.jsonl"))),
        keep(alerts(&local.join("alerts.jsonl"))),
    );
    assert!(!ra.is_empty(), "the trail should raise alerts");
    let rule = |l: &String| -> String {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        format!("{} {}", v["rule_id"], v["first_event_time"])
    };
    let only_live: Vec<String> = la
        .iter()
        .filter(|(k, _)| !ra.contains_key(*k))
        .map(|(k, l)| format!("{k} {}", rule(l)))
        .collect();
    let only_local: Vec<String> = ra
        .iter()
        .filter(|(k, _)| !la.contains_key(*k))
        .map(|(k, l)| format!("{k} {}", rule(l)))
        .collect();
    assert!(
        only_live.is_empty() && only_local.is_empty(),
        "alert ids differ: only live {only_live:?}, only local replay {only_local:?}"
    );
    assert_eq!(la, ra, "alert contents differ");
    let (lar, rar) = (archive(live), archive(local));
    assert_eq!(
        lar.keys().collect::<BTreeSet<_>>(),
        rar.keys().collect::<BTreeSet<_>>(),
        "archive file sets differ"
    );
    for (k, v) in &rar {
        assert!(lar.get(k) == Some(v), "archive file {k} differs");
    }
}

/// Live (S3 notifications on SQS) and local replay of the same objects give identical alerts
/// and archive files; the queue is empty afterwards; the s3:TestEvent moto sends is dropped.
#[test]
fn worker_live_matches_replay() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 20_000, 11);
    m.bucket("trail");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    m.send(&q, &samples::test_event("trail"));
    m.upload_dir("trail", &trail);
    let live = tmp.path().join("live");
    let stderr = m.run_until_idle(&q, &live, &NO_LATENESS_LIMIT);
    replay(&trail, &tmp.path().join("local"));
    assert_same_outputs(&live, &tmp.path().join("local"));
    assert_eq!(m.depth(&q), (0, 0), "{stderr}");
    assert!(
        files(&live.join("dead-letter"), ".json").is_empty(),
        "{stderr}"
    );
}

/// Every envelope, published to the queue directly: S3 event, SNS-wrapped S3 event,
/// EventBridge, CloudTrail's SNS notification (wrapped and raw, several keys each), a key with
/// a space (URL-encoded as `+`), the test event, and a deletion (ignored).
#[test]
fn worker_every_envelope() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 8_000, 5);
    // one object copied to a key with a space and a plus
    let first = files(&trail.join("AWSLogs"), ".json.gz")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/CloudTrail/"))
        .unwrap();
    let spaced = first.with_file_name("copy of+it.json.gz");
    std::fs::copy(&first, &spaced).unwrap();
    m.bucket("trail");
    let q = m.queue("events", 30);
    let keys = m.upload_dir("trail", &trail);
    assert!(keys.len() >= 6, "{keys:?}");
    let enc = |k: &str| k.replace('+', "%2B").replace(' ', "+");
    for (i, k) in keys.iter().enumerate() {
        let body = match i % 5 {
            0 => samples::s3_event("trail", &[&enc(k)]),
            1 => samples::sns(&samples::s3_event("trail", &[&enc(k)])),
            2 => samples::eventbridge("trail", &enc(k)),
            3 => samples::sns(&samples::cloudtrail("trail", &[k])),
            _ => samples::cloudtrail("trail", &[k]),
        };
        m.send(&q, &body);
    }
    // several objects in one message (one of them already sent: redelivery is harmless)
    let pair: Vec<&str> = keys.iter().take(2).map(String::as_str).collect();
    m.send(&q, &samples::sns(&samples::cloudtrail("trail", &pair)));
    m.send(&q, &samples::test_event("trail"));
    m.send(&q, &samples::sns(&samples::test_event("trail")));
    m.send(
        &q,
        &samples::s3_event("trail", &[&enc(&keys[0])])
            .replace("ObjectCreated:Put", "ObjectRemoved:Delete"),
    );
    let live = tmp.path().join("live");
    let stderr = m.run_until_idle(&q, &live, &[]);
    replay(&trail, &tmp.path().join("local"));
    assert_same_event_alerts(&live, &tmp.path().join("local"));
    assert_eq!(m.depth(&q), (0, 0), "{stderr}");
    assert!(stderr.contains("3 ignored"), "{stderr}");
    assert!(
        files(&live.join("dead-letter"), ".json").is_empty(),
        "{stderr}"
    );
}

/// A poison object (not CloudTrail), a message naming a missing object and a message in no
/// known shape all go to the SQS dead-letter queue with their reasons; everything else is
/// processed.
#[test]
fn worker_poison_goes_to_dead_letter_queue() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 6_000, 3);
    m.bucket("trail");
    let q = m.queue("events", 30);
    let dlq = m.queue("events-dlq", 30);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let bogus = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/bogus.json";
    m.put("trail", bogus, b"this is not a CloudTrail log\n".to_vec());
    m.send(&q, "hello, not an S3 notification");
    m.send(
        &q,
        &samples::s3_event("trail", &["AWSLogs/missing.json.gz"]),
    );
    let live = tmp.path().join("live");
    let stderr = m.run_until_idle(&q, &live, &["--dead-letter", &dlq]);
    replay(&trail, &tmp.path().join("local"));
    assert_same_event_alerts(&live, &tmp.path().join("local"));
    assert_eq!(m.depth(&q), (0, 0), "{stderr}");
    let dead = m.drain(&dlq);
    assert_eq!(dead.len(), 3, "{dead:?}\n{stderr}");
    let reasons: Vec<String> = dead
        .iter()
        .map(|d| {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            v["reason"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("not a CloudTrail object")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("unknown envelope")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("NoSuchKey")),
        "{reasons:?}"
    );
}

/// SIGTERM mid-run: the worker stops receiving, finishes what it holds and exits in time;
/// every message it deleted has its archive; a restart finishes the rest.
#[test]
fn worker_sigterm_drains() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 30_000, 21);
    m.bucket("trail");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    let keys = m.upload_dir("trail", &trail);
    let live = tmp.path().join("live");
    let child = m
        .worker(
            &q,
            &live,
            &["--max-in-flight-objects", "2", "--grace-period-secs", "20"],
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while archive(&live).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = Instant::now();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "drain took too long"
    );
    let (visible, in_flight) = m.depth(&q);
    let deleted = keys.len() as u64 - visible - in_flight;
    assert!(
        visible + in_flight > 0,
        "SIGTERM came too late to test a drain"
    );
    // one object per message: at least as many objects archived as messages deleted
    let sources: BTreeSet<String> = archive(&live)
        .keys()
        .map(|k| k.rsplit('/').next().unwrap().to_string())
        .collect();
    let digests = keys.iter().filter(|k| k.contains("Digest")).count() as u64;
    assert!(
        sources.len() as u64 + digests >= deleted,
        "{deleted} messages deleted but only {} objects archived\n{stderr}",
        sources.len()
    );
    // a restart finishes the job
    m.run_until_idle(&q, &live, &[]);
    replay(&trail, &tmp.path().join("local"));
    assert_same_event_alerts(&live, &tmp.path().join("local"));
    assert_eq!(m.depth(&q), (0, 0));
}

/// SIGKILL the worker several times mid-run, restart it each time: at the end every event is
/// in the archive exactly once and every alert is written once.
#[test]
fn worker_crash_restart_exactly_once() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    let summary = gen(&trail, 30_000, 33);
    m.bucket("trail");
    let q = m.queue("events", 2);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let live = tmp.path().join("live");
    let args = [
        "--visibility-timeout-secs",
        "2",
        "--heartbeat-interval-secs",
        "1",
        "--max-receive-count",
        "50",
        "--max-in-flight-objects",
        "4",
    ];
    for (i, ms) in [1200u64, 2000, 1600].into_iter().enumerate() {
        let mut child = m
            .worker(&q, &live, &args)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!("crash {i}: {} archive files so far", archive(&live).len());
    }
    // let what the killed workers held become visible again
    std::thread::sleep(Duration::from_secs(3));
    m.run_until_idle(&q, &live, &args);
    assert_eq!(m.depth(&q), (0, 0));
    replay(&trail, &tmp.path().join("local"));
    assert_eq!(rows(&live), rows(&tmp.path().join("local")));
    assert_eq!(
        rows(&live) as u64,
        summary.events,
        "every event archived exactly once"
    );
    assert_same_event_alerts(&live, &tmp.path().join("local"));
}

fn replay_s3(m: &Moto, args: &[&str], out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailwarden"));
    c.arg("replay")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--no-progress", "--workers", "1"])
        .env("AWS_ENDPOINT_URL", &m.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TRAILWARDEN_LOG", "warn");
    c
}

/// `replay s3://…` lists only the accounts, regions and days asked for (organisation trail
/// included), gives what a local replay of the same objects gives, and after an interruption
/// (SIGINT) the same command resumes without redoing finished objects.
#[test]
fn worker_s3_replay_filters_and_resumes() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 8_000, 9);
    m.bucket("trail");
    m.upload_dir("trail", &trail);
    let filters = [
        "--account",
        "111122223333",
        "--account",
        "210987654321",
        "--region",
        "us-east-1",
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-01",
    ];
    let local = tmp.path().join("local");
    let o = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .arg("replay")
        .arg(&trail)
        .args(filters)
        .arg("--out")
        .arg(&local)
        .args(["--no-progress", "-q"])
        .output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c == 0 || c == 3));

    let live = tmp.path().join("s3");
    let mut args = vec!["s3://trail/AWSLogs/"];
    args.extend_from_slice(&filters);
    let child = replay_s3(&m, &args, &live)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ckpt = live.join("replay-checkpoint.txt");
    let started = Instant::now();
    while std::fs::read_to_string(&ckpt)
        .unwrap_or_default()
        .lines()
        .count()
        < 1
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let first = child.wait_with_output().unwrap();
    let first_err = String::from_utf8_lossy(&first.stderr).to_string();
    let o = replay_s3(&m, &args, &live).output().unwrap();
    let second_err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        o.status.code().is_some_and(|c| c == 0 || c == 3),
        "{second_err}"
    );
    if first.status.code() == Some(130) {
        assert!(
            !second_err.contains(" 0 skipped as done before"),
            "resume redid everything\n{first_err}\n{second_err}"
        );
    } else {
        eprintln!("the first run finished before SIGINT; resume not exercised\n{first_err}");
    }
    // an interrupted replay's windowed rules saw only its part of the objects
    assert_same_event_alerts(&live, &local);
    assert!(!ckpt.exists(), "checkpoint removed after a complete run");
}

/// `check-config` validates a file and prints the effective settings (environment applied);
/// a typo is an error naming the field.
#[test]
fn worker_check_config() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/trailwarden.example.toml"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(["check-config", example])
        .env(
            "TRAILWARDEN_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/from-env",
        )
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("from-env"), "{out}");
    assert!(out.contains("visibility_timeout_secs = 300"), "{out}");
    // A rule that needs a setting the file leaves out is named, with the reason (no error).
    assert!(
        out.contains(
            "# rule activity-in-unapproved-region will not run: needs the approved regions"
        ),
        "{out}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "version = 1\n[source]\nqueue_ulr = \"x\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("queue_ulr"));
}

/// A webhook that takes 5 s to accept its first alert, received one request at a time; every
/// body is kept.
fn slow_webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = bodies.clone();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let Ok(n) = s.read(&mut chunk) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(h) = text.find("\r\n\r\n") {
                    let len = text[..h]
                        .lines()
                        .find_map(|l| {
                            let l = l.to_ascii_lowercase();
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= h + 4 + len {
                        break Some(String::from_utf8_lossy(&buf[h + 4..h + 4 + len]).to_string());
                    }
                }
            };
            if i == 0 {
                std::thread::sleep(Duration::from_secs(5));
            }
            if let Some(b) = body {
                keep.lock().unwrap().push(b);
            }
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, bodies)
}

/// An object slower than the visibility timeout (its alert output takes 5 s; visibility is
/// 2 s) is kept by the heartbeat: no message is received twice (with max_receive_count 1 a
/// second receive would dead-letter it), and the webhook gets every alert in a
/// Slack-compatible body.
#[test]
fn worker_slow_object_is_not_processed_twice() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 6_000, 17);
    m.bucket("trail");
    let q = m.queue("events", 2);
    m.notify("trail", "events");
    let keys = m.upload_dir("trail", &trail);
    let (hook, bodies) = slow_webhook();
    let live = tmp.path().join("live");
    let o = m
        .worker(
            &q,
            &live,
            &[
                "--idle-exit-secs",
                "8",
                "--visibility-timeout-secs",
                "2",
                "--heartbeat-interval-secs",
                "1",
                "--max-receive-count",
                "1",
                "--alerts-webhook",
                &hook,
            ],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let count = |what: &str| -> u64 {
        let line = stderr.lines().find(|l| l.contains(" received, ")).unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words
            .iter()
            .position(|w| w.trim_end_matches(',') == what)
            .unwrap();
        words[i - 1].parse().unwrap()
    };
    assert_eq!(
        count("received") - count("ignored"),
        keys.len() as u64,
        "a message was received twice (or missed)\n{stderr}"
    );
    assert!(
        files(&live.join("dead-letter"), ".json").is_empty(),
        "{stderr}"
    );
    assert_eq!(m.depth(&q), (0, 0), "{stderr}");
    let ids = alerts(&live.join("alerts.jsonl"));
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), ids.len(), "{stderr}");
    for b in &got {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        assert!(v["text"].as_str().unwrap().contains("id="));
        assert!(ids.contains_key(v["alert"]["id"].as_str().unwrap()));
    }
}

impl Moto {
    /// Every object under `prefix`: key below the prefix → bytes.
    fn objects(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        let mut all = BTreeMap::new();
        let mut token = None;
        loop {
            let mut req = self.s3.list_objects_v2().bucket(bucket).prefix(prefix);
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            let page = self.rt.block_on(req.send()).unwrap();
            for o in page.contents() {
                let key = o.key().unwrap().to_string();
                let body = self
                    .rt
                    .block_on(async {
                        let r = self.s3.get_object().bucket(bucket).key(&key).send().await?;
                        Ok::<_, Box<dyn std::error::Error>>(r.body.collect().await?.into_bytes())
                    })
                    .unwrap();
                all.insert(key[prefix.len()..].to_string(), body.to_vec());
            }
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => return all,
            }
        }
    }
}

/// `--out s3://bucket/prefix/`: the archive is PutObject'd under `archive/` with the same
/// names and bytes as a local replay; alerts land as JSONL objects under `alerts/`.
#[test]
fn worker_out_to_s3() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 6_000, 23);
    m.bucket("trail");
    m.bucket("lake");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let o = m
        .worker(
            &q,
            Path::new("s3://lake/cw/"),
            &[
                "--idle-exit-secs",
                "3",
                NO_LATENESS_LIMIT[0],
                NO_LATENESS_LIMIT[1],
            ],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(m.depth(&q), (0, 0), "{stderr}");
    let local = tmp.path().join("local");
    replay(&trail, &local);
    let live_archive = m.objects("lake", "cw/archive/");
    let local_archive = archive(&local);
    assert_eq!(
        live_archive.keys().collect::<Vec<_>>(),
        local_archive.keys().collect::<Vec<_>>()
    );
    assert!(live_archive == local_archive, "archive bytes differ");
    let mut live_alerts = BTreeSet::new();
    for (_, body) in m.objects("lake", "cw/alerts/") {
        for line in String::from_utf8(body).unwrap().lines() {
            live_alerts.insert(line.to_string());
        }
    }
    let local_alerts: BTreeSet<String> =
        alerts(&local.join("alerts.jsonl")).into_values().collect();
    assert_eq!(live_alerts, local_alerts);
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

/// `/healthz`, `/readyz` (ready once a receive succeeded) and `/metrics` while running; an
/// idle worker stops promptly on SIGTERM.
#[test]
fn worker_serves_probes_and_metrics() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let q = m.queue("events", 30);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = m
        .worker(&q, &tmp.path().join("out"), &["--listen", &listen])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some((200, _)) = http_get(port, "/readyz") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(http_get(port, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(http_get(port, "/nope").map(|r| r.0), Some(404));
    let (code, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        metrics.contains("trailwarden_sqs_objects_in_flight"),
        "{metrics}"
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stopped.elapsed() < Duration::from_secs(5));
}

/// The ids of the Sigma rules (detections and correlations) in a directory of rule files.
fn sigma_rule_ids(dir: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for f in files(dir, ".yml") {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            if let Some(id) = line.strip_prefix("id:") {
                ids.insert(id.trim().to_string());
            }
        }
    }
    ids
}

/// The IAM user with the most events in a generated trail (ties: the first name).
fn busiest_iam_user(trail: &Path) -> String {
    use std::io::Read as _;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for f in files(trail, ".json.gz") {
        if f.to_string_lossy().contains("Digest") {
            continue;
        }
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for r in v["Records"].as_array().into_iter().flatten() {
            let who = &r["userIdentity"];
            if who["type"] == "IAMUser" {
                if let Some(n) = who["userName"].as_str() {
                    *counts.entry(n.to_string()).or_default() += 1;
                }
            }
        }
    }
    let best = counts.values().copied().max().unwrap();
    counts.into_iter().find(|(_, c)| *c == best).unwrap().0
}

fn sigma_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma/correlation")
}

/// The worker runs Sigma rules (`--sigma`) and the anomaly engine like replay does: on
/// generated objects arriving through S3 notifications it raises alerts of the Sigma rules in
/// `testdata/sigma/correlation` and `terminated-user` alerts for a user listed in
/// `--terminated-users` (no geo database needed); policy alerts are unchanged.
#[test]
fn worker_runs_sigma_and_anomaly() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 20_000, 11);
    let user = busiest_iam_user(&trail);
    let terminated = tmp.path().join("terminated.txt");
    std::fs::write(&terminated, format!("# off-boarded\n{user}\n")).unwrap();
    m.bucket("trail");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let live = tmp.path().join("live");
    let sigma = sigma_dir();
    let stderr = m.run_until_idle(
        &q,
        &live,
        &[
            "--sigma",
            sigma.to_str().unwrap(),
            "--terminated-users",
            terminated.to_str().unwrap(),
        ],
    );
    let got: Vec<serde_json::Value> = alerts(&live.join("alerts.jsonl"))
        .values()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rule_ids = sigma_rule_ids(&sigma);
    let sigma_alerts = got
        .iter()
        .filter(|a| rule_ids.contains(a["rule_id"].as_str().unwrap()))
        .count();
    assert!(sigma_alerts > 0, "no Sigma alert\n{stderr}");
    let terminated_alerts: Vec<&serde_json::Value> = got
        .iter()
        .filter(|a| a["rule_id"] == "terminated-user")
        .collect();
    assert!(
        !terminated_alerts.is_empty(),
        "no terminated-user alert for {user}\n{stderr}"
    );
    for a in &terminated_alerts {
        let p = a["principal"].as_str().unwrap();
        assert!(p.ends_with(&format!(":user/{user}")), "{a}");
    }
    // the event rules' alerts and the archive are those of a replay without Sigma or the list
    let local = tmp.path().join("local");
    replay(&trail, &local);
    assert_same_event_alerts(&live, &local);
}

impl Moto {
    /// An SNS topic delivering (raw) to a new SQS queue; returns (topic ARN, queue URL).
    fn topic_to_queue(&self, topic: &str, queue: &str) -> (String, String) {
        let q = self.queue(queue, 30);
        let arn = self
            .rt
            .block_on(self.sns.create_topic().name(topic).send())
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        self.rt
            .block_on(
                self.sns
                    .subscribe()
                    .topic_arn(&arn)
                    .protocol("sqs")
                    .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
                    .attributes("RawMessageDelivery", "true")
                    .send(),
            )
            .unwrap();
        (arn, q)
    }
}

/// `--alerts-sns TOPIC`: every alert is published to the topic; a queue subscribed to it
/// receives exactly the alerts written to `alerts.jsonl`.
#[test]
fn worker_alerts_to_sns() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 6_000, 23);
    m.bucket("trail");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let (topic, alert_q) = m.topic_to_queue("trailwarden-alerts", "alerts");
    let live = tmp.path().join("live");
    let stderr = m.run_until_idle(&q, &live, &["--alerts-sns", &topic]);
    let written = alerts(&live.join("alerts.jsonl"));
    assert!(!written.is_empty(), "the trail should raise alerts");
    let mut received = BTreeMap::new();
    for body in m.drain(&alert_q) {
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // an SNS envelope if raw delivery is not honoured
        if v["Type"] == "Notification" {
            v = serde_json::from_str(v["Message"].as_str().unwrap()).unwrap();
        }
        let id = v["id"].as_str().unwrap().to_string();
        received.insert(id, v.to_string());
    }
    assert_eq!(
        received.keys().collect::<Vec<_>>(),
        written.keys().collect::<Vec<_>>(),
        "{stderr}"
    );
    for (id, line) in &written {
        let want: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(received[id], want.to_string(), "alert {id} differs");
    }
}

/// `--dead-letter s3://bucket/prefix/`: a poison object and a message in no known shape each
/// become one JSON object below the prefix, with the reason and the original body.
#[test]
fn worker_dead_letters_to_s3() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 4_000, 3);
    m.bucket("trail");
    m.bucket("dead-letters");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let bogus = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/bogus.json";
    m.put("trail", bogus, b"this is not a CloudTrail log\n".to_vec());
    m.send(&q, "hello, not an S3 notification");
    let live = tmp.path().join("live");
    let stderr = m.run_until_idle(&q, &live, &["--dead-letter", "s3://dead-letters/poison/"]);
    let dead = m.objects("dead-letters", "poison/");
    assert_eq!(dead.len(), 2, "{:?}\n{stderr}", dead.keys());
    let docs: Vec<serde_json::Value> = dead
        .values()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let poison = docs
        .iter()
        .find(|d| {
            d["reason"]
                .as_str()
                .unwrap()
                .contains("not a CloudTrail object")
        })
        .unwrap_or_else(|| panic!("{docs:?}"));
    assert_eq!(poison["objects"][0], format!("s3://trail/{bogus}"));
    let unknown = docs
        .iter()
        .find(|d| d["reason"].as_str().unwrap().contains("unknown envelope"))
        .unwrap_or_else(|| panic!("{docs:?}"));
    assert_eq!(unknown["body"], "hello, not an S3 notification");
    for d in &docs {
        assert!(d["message_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(d["receive_count"].as_u64().unwrap() >= 1);
    }
    assert!(
        files(&live.join("dead-letter"), ".json").is_empty(),
        "nothing dead-lettered locally"
    );
}

/// `replay s3://… --out s3://lake/prefix/` writes the alerts and the archive a local replay
/// of the same objects writes, byte for byte, and leaves no checkpoint behind.
#[test]
fn worker_s3_replay_to_s3_out() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 8_000, 13);
    m.bucket("trail");
    m.bucket("lake");
    m.upload_dir("trail", &trail);
    let local = tmp.path().join("local");
    replay(&trail, &local);
    let o = replay_s3(&m, &["s3://trail/AWSLogs/"], Path::new("s3://lake/rp/"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code().is_some_and(|c| c == 0 || c == 3),
        "{stderr}"
    );
    let out = m.objects("lake", "rp/");
    let local_alerts = std::fs::read(local.join("alerts.jsonl")).unwrap();
    assert!(!local_alerts.is_empty(), "the trail should raise alerts");
    assert!(
        out.get("alerts.jsonl") == Some(&local_alerts),
        "alerts.jsonl differs\n{stderr}"
    );
    let s3_archive: BTreeMap<String, Vec<u8>> = out
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("archive/")?.to_string(), v.clone())))
        .collect();
    let local_archive = archive(&local);
    assert_eq!(
        s3_archive.keys().collect::<Vec<_>>(),
        local_archive.keys().collect::<Vec<_>>()
    );
    assert!(s3_archive == local_archive, "archive bytes differ");
    assert!(
        !out.contains_key("replay-checkpoint.txt"),
        "{:?}",
        out.keys()
    );
}

/// Anomaly state in S3: a worker with `--state s3://…` saves its snapshot periodically (a
/// worker killed with SIGKILL after its work leaves one behind) and at shutdown; a restarted
/// worker restores it (its summary names the principals restored).
#[test]
fn worker_anomaly_state_in_s3() {
    let Some(m) = moto() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    gen(&trail, 6_000, 29);
    let user = busiest_iam_user(&trail);
    let terminated = tmp.path().join("terminated.txt");
    std::fs::write(&terminated, format!("{user}\n")).unwrap();
    m.bucket("trail");
    m.bucket("state");
    let q = m.queue("events", 30);
    m.notify("trail", "events");
    m.upload_dir("trail", &trail);
    let live = tmp.path().join("live");
    // a short visibility: moto_server can lose one of two concurrent DeleteMessage calls (the
    // message comes back invisible); it then reappears soon and is processed again
    let args = [
        "--state",
        "s3://state/tw/",
        "--terminated-users",
        terminated.to_str().unwrap(),
        "--visibility-timeout-secs",
        "6",
        "--heartbeat-interval-secs",
        "2",
    ];
    let snapshot = || m.objects("state", "tw/").remove("anomaly.snapshot.json");
    // 1. periodic saves: the worker is killed, so only a periodic save can have written it
    let mut periodic = args.to_vec();
    periodic.extend_from_slice(&["--state-save-interval-secs", "1"]);
    let mut child = m
        .worker(&q, &live, &periodic)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while m.depth(&q) != (0, 0) {
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(200));
    }
    let done = Instant::now();
    let first = loop {
        // a save after the last object: the snapshot holds every principal of the trail
        if let Some(b) = snapshot() {
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            if done.elapsed() > Duration::from_secs(3) {
                break v;
            }
        }
        assert!(
            done.elapsed() < Duration::from_secs(30),
            "no snapshot saved"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let principals = first["principals"].as_array().unwrap().len();
    assert!(principals > 0, "{first}");
    assert_eq!(first["format"], "trailwarden-anomaly-state");

    // 2. a restart restores it; new objects are processed; the stop saves again (the default
    // interval, five minutes, does not come round in this run)
    let more = tmp.path().join("more");
    gen(&more, 2_000, 31);
    m.upload_dir("trail", &more);
    let stderr = m.run_until_idle(&q, &live, &args);
    assert!(
        stderr.contains(&format!("restored {principals} principals at start")),
        "{stderr}"
    );
    assert!(stderr.contains("saved at exit"), "{stderr}");
    let second: serde_json::Value = serde_json::from_slice(&snapshot().unwrap()).unwrap();
    assert!(
        second["stats"]["events_in"].as_u64().unwrap()
            > first["stats"]["events_in"].as_u64().unwrap(),
        "the saved state holds the restarted worker's events"
    );

    // 3. nothing new: the state is restored and left as it was
    let stderr = m.run_until_idle(&q, &live, &args);
    let n = second["principals"].as_array().unwrap().len();
    assert!(
        stderr.contains(&format!("restored {n} principals at start")),
        "{stderr}"
    );
    assert!(stderr.contains("unchanged since the last save"), "{stderr}");
}
