//! End to end: a generated trail with every injected scenario, plus bad objects, through the
//! real binary. Asserts that each built-in policy fires on its scenario and nowhere else, that
//! every good event is archived (and DuckDB reads the archive when it is installed), that bad
//! objects are reported while the rest is processed, and that runs are order-independent.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::{write::GzEncoder, Compression};

#[path = "support/trail.rs"]
mod trail;
use trail::{records, root_sign_ins};

const POLICY_IDS: [&str; 11] = [
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

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn record(i: usize, extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111122223333:user/bad-input","accountId":"111122223333","userName":"bad-input"}},"eventTime":"2024-03-01T10:00:{:02}Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.200","eventID":"bad-input-{i}","recipientAccountId":"111122223333"{extra}}}"#,
        i % 60
    )
}

/// Writes the bad objects of the issue's list next to the generated trail; returns how many
/// good records they hold.
fn add_bad_objects(dir: &Path) -> usize {
    let bad = dir.join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01");
    std::fs::create_dir_all(&bad).unwrap();
    let name = |s: &str| {
        bad.join(format!(
            "111122223333_CloudTrail_us-east-1_20240301T1000Z_{s}.json.gz"
        ))
    };
    // corrupt gzip
    let mut z = gz(format!(
        "{{\"Records\":[{}]}}",
        (0..50).map(|i| record(i, "")).collect::<Vec<_>>().join(",")
    )
    .as_bytes());
    let n = z.len();
    for b in &mut z[20..n - 8] {
        *b ^= 0xa5;
    }
    std::fs::write(name("corruptgzip00001"), z).unwrap();
    // truncated gzip: keeps its leading whole records (counted below from the replay itself)
    let z = gz(format!(
        "{{\"Records\":[{}]}}",
        (0..400)
            .map(|i| record(1000 + i, ""))
            .collect::<Vec<_>>()
            .join(",")
    )
    .as_bytes());
    std::fs::write(name("truncatedgzip001"), &z[..z.len() / 2]).unwrap();
    // gzip bomb (64 MiB of spaces; the run caps objects at 32 MiB)
    std::fs::write(name("gzipbomb00000001"), gz(&vec![b' '; 64 << 20])).unwrap();
    // valid gzip, not JSON
    std::fs::write(name("notjson000000001"), gz(b"this is not json at all")).unwrap();
    // JSON without Records
    std::fs::write(name("norecords0000001"), gz(br#"{"hello":"world"}"#)).unwrap();
    // bad records among good ones
    let recs = [
        record(2000, ""),
        r#"{"eventName":"NoTime","eventID":"x1"}"#.to_string(),
        r#"{"eventTime":"2024-03-01T10:00:00Z","userIdentity":"root","eventID":"x2"}"#.to_string(),
        record(
            2001,
            &format!(
                r#","requestParameters":{{"blob":"{}"}}"#,
                "z".repeat(300 * 1024)
            ),
        ),
        record(2002, ""),
    ];
    std::fs::write(
        name("badrecords000001"),
        gz(format!("{{\"Records\":[{}]}}", recs.join(",")).as_bytes()),
    )
    .unwrap();
    // unreadable: a dangling symlink
    #[cfg(unix)]
    std::os::unix::fs::symlink("/nonexistent/trail.json.gz", name("unreadable000001")).unwrap();
    2 // good records in the bad-records object
}

struct Run {
    out: PathBuf,
    code: i32,
    stderr: String,
}

fn replay(args: &[&str], out: &Path) -> Run {
    let o = bin()
        .arg("replay")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--max-object-mib", "32", "--no-progress"])
        .output()
        .unwrap();
    Run {
        out: out.to_path_buf(),
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn alerts(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walk(dir) {
        m.insert(
            e.strip_prefix(dir).unwrap().display().to_string(),
            std::fs::read(&e).unwrap(),
        );
    }
    m
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p));
            } else {
                v.push(p);
            }
        }
    }
    v
}

fn parquet_rows(dir: &Path) -> u64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            let r = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
            r.metadata().file_metadata().num_rows() as u64
        })
        .sum()
}

fn duckdb_python() -> Option<String> {
    let candidates = [
        std::env::var("TRAILWARDEN_PYTHON").ok(),
        Some("python3".to_string()),
    ];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn replay_generated_trail_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    let summary = trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: trail.clone(),
        events: 20_000,
        seed: 7,
        inject_scenarios: true,
        ..Default::default()
    })
    .unwrap();
    let good_in_bad = add_bad_objects(&trail);
    let risky = format!("risky={}", trail.join("risky-ips.txt").display());

    let a = replay(
        &[trail.to_str().unwrap(), "--ip-list", &risky],
        &tmp.path().join("a"),
    );
    assert_eq!(a.code, 3, "bad input must give exit status 3\n{}", a.stderr);

    // every scenario fired its policies, and nothing else fired
    let manifest = std::fs::read_to_string(trail.join("scenarios.jsonl")).unwrap();
    let mut want = BTreeSet::new();
    for line in manifest.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for r in v["expect"].as_array().unwrap() {
            want.insert((
                v["event_id"].as_str().unwrap().to_string(),
                r.as_str().unwrap().to_string(),
            ));
        }
    }
    // the built-in policies' alerts; the anomaly engine also runs and has its own tests
    let got_alerts: Vec<serde_json::Value> = alerts(&a.out)
        .into_iter()
        .filter(|al| POLICY_IDS.contains(&al["rule_id"].as_str().unwrap()))
        .collect();
    let got: BTreeSet<(String, String)> = got_alerts
        .iter()
        .map(|al| {
            (
                al["event_ids"][0].as_str().unwrap().to_string(),
                al["rule_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing alerts: {missing:?}\nunexpected alerts: {extra:?}"
    );
    let rules: BTreeSet<&str> = got_alerts
        .iter()
        .map(|al| al["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules.len(),
        11,
        "every built-in policy fires on its scenario: {rules:?}"
    );

    // bad input: each bad object reported with its reason, the rest processed
    let rejects = std::fs::read_to_string(a.out.join("rejects.jsonl")).unwrap();
    for (file, reason) in [
        ("corruptgzip", "gzip"),
        ("truncatedgzip", "truncated-gzip"),
        ("gzipbomb", "decompressed-too-large"),
        ("notjson", "not-json"),
        ("norecords", "no-records"),
        ("unreadable", "unreadable"),
    ] {
        assert!(
            rejects
                .lines()
                .any(|l| l.contains(file) && l.contains(reason)),
            "{file} not reported as {reason}:\n{rejects}"
        );
    }
    for reason in [
        "missing-event-time",
        "bad-user-identity",
        "record-too-large",
    ] {
        assert!(
            rejects
                .lines()
                .any(|l| l.contains("badrecords") && l.contains(reason)),
            "{reason}:\n{rejects}"
        );
    }
    assert!(a.stderr.contains("bad files"), "{}", a.stderr);

    // every good event is archived: generated events + salvaged + good records beside bad ones
    let rows = parquet_rows(&a.out.join("archive"));
    let truncated_kept: u64 = rejects
        .lines()
        .find(|l| l.contains("truncatedgzip"))
        .and_then(|l| l.split("; ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the truncated object says how many records it kept");
    assert!(truncated_kept > 0);
    assert_eq!(rows, summary.events + good_in_bad as u64 + truncated_kept);

    // DuckDB reads the archive as is, partitions included
    match duckdb_python() {
        Some(py) => {
            let q = format!(
                "import duckdb; r = duckdb.sql(\"select count(*), count(distinct account), min(date) from read_parquet('{}/archive/**/*.parquet', hive_partitioning=1)\").fetchall(); print(r[0][0], r[0][1], r[0][2])",
                a.out.display()
            );
            let o = Command::new(&py).args(["-c", &q]).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let text = String::from_utf8_lossy(&o.stdout);
            let parts: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(parts[0].parse::<u64>().unwrap(), rows);
            assert!(parts[1].parse::<u64>().unwrap() >= 3, "{text}");
            assert!(parts[2].starts_with("2024-0"), "{text}");
        }
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must provide DuckDB (TRAILWARDEN_PYTHON)"
            );
            eprintln!("skipped the DuckDB check: no python with duckdb (set TRAILWARDEN_PYTHON)");
        }
    }

    // another order and another parallelism: identical alerts and archive
    let mut files: Vec<PathBuf> = walk(&trail)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    files.reverse();
    let mut args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    args.extend([
        "--ip-list".to_string(),
        risky.clone(),
        "--workers".to_string(),
        "1".to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = replay(&args, &tmp.path().join("b"));
    assert_eq!(b.code, 3, "{}", b.stderr);
    assert_eq!(
        std::fs::read(a.out.join("alerts.jsonl")).unwrap(),
        std::fs::read(b.out.join("alerts.jsonl")).unwrap(),
        "alerts differ between orders"
    );
    let (fa, fb) = (
        files_under(&a.out.join("archive")),
        files_under(&b.out.join("archive")),
    );
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert!(fa == fb, "archive bytes differ between orders");

    // a re-run over the same output overwrites instead of duplicating
    let c = replay(&[trail.to_str().unwrap(), "--ip-list", &risky], &a.out);
    assert_eq!(c.code, 3);
    assert_eq!(parquet_rows(&a.out.join("archive")), rows);
}

/// The deployment configuration generated trails are replayed with: the generator's
/// organisation (`111122223333`, `444455556666`, `777788889999`, `210987654321`) and vendor
/// (`999988887777`) as known accounts, and its CI deploy role and infrastructure-as-code tools as
/// the deploy pipeline, excluded where the catalogue says to allow-list deploy roles
/// (lambda-code-deployed; compute-launch-multi-region: multi-region deployments).
const DEPLOYMENT_CONFIG: &str = include_str!("../../../testdata/deployment.toml");

#[test]
fn clean_trail_exits_zero_and_filters_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: trail.clone(),
        events: 5_000,
        seed: 3,
        inject_scenarios: false,
        ..Default::default()
    })
    .unwrap();
    // The deployment's configuration: the generator's organisation and vendor as known
    // accounts, its Lambda deploy pipeline (IaC tools, the CI role) as the pipeline.
    let config = tmp.path().join("trailwarden.toml");
    std::fs::write(&config, DEPLOYMENT_CONFIG).unwrap();
    let all = replay(
        &[
            trail.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &tmp.path().join("all"),
    );
    assert_eq!(all.code, 0, "{}", all.stderr);
    let all_rows = parquet_rows(&all.out.join("archive"));
    assert_eq!(all_rows, 5_000);
    // Background alone raises no alert - but root-console-login on each of the root user's
    // console sign-ins, which the generator's background has and every deployment wants raised.
    let got: Vec<(String, String)> = alerts(&all.out)
        .iter()
        .map(|a| {
            (
                a["rule_id"].as_str().unwrap().to_string(),
                a["event_ids"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = root_sign_ins(&records(&trail))
        .into_iter()
        .map(|id| ("root-console-login".to_string(), id))
        .collect();
    assert_eq!(
        BTreeSet::from_iter(got.iter().cloned()),
        BTreeSet::from_iter(want.iter().cloned()),
        "background alone raises no alert but the root sign-ins"
    );
    assert_eq!(got.len(), want.len());

    // one account, one region, one day
    let acct = walk(&trail.join("AWSLogs"))
        .into_iter()
        .find_map(|p| {
            let s = p.to_string_lossy().into_owned();
            let after = s.split("AWSLogs/").nth(1)?.to_string();
            let first = after.split('/').next()?.to_string();
            (!first.starts_with("o-")).then_some(first)
        })
        .unwrap();
    let some = replay(
        &[
            trail.to_str().unwrap(),
            "--account",
            &acct,
            "--region",
            "us-east-1",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-01",
        ],
        &tmp.path().join("some"),
    );
    assert_eq!(some.code, 0, "{}", some.stderr);
    let rows = parquet_rows(&some.out.join("archive"));
    assert!(rows > 0 && rows < all_rows, "{rows} of {all_rows}");
    for f in files_under(&some.out.join("archive")).keys() {
        assert!(
            f.starts_with(&format!("account={acct}/region=us-east-1/date=2024-03-01/")),
            "{f}"
        );
    }

    // a path that does not exist is a fatal error with a clear message
    let missing = replay(
        &[tmp.path().join("nope").to_str().unwrap()],
        &tmp.path().join("x"),
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

/// A low-level Sigma rule that matches most of a trail: by default its alerts are grouped per
/// principal and hour of event time (every match counted in one of them, the same alerts
/// whatever the file order); `--sigma-group-window-secs 0` gives one alert per match.
#[test]
fn sigma_alerts_are_grouped_per_principal_and_hour() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: trail.clone(),
        events: 3_000,
        seed: 11,
        inject_scenarios: false,
        ..Default::default()
    })
    .unwrap();
    let rules = tmp.path().join("sigma");
    std::fs::create_dir_all(&rules).unwrap();
    const ID: &str = "8c5b3f1e-2d4a-4e6b-9f70-1a2b3c4d5e6f";
    std::fs::write(
        rules.join("assumed-role-reads.yml"),
        format!(
            "title: Assumed-role activity\nid: {ID}\nlevel: low\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n  selection:\n    userIdentity.type: AssumedRole\n  condition: selection\n"
        ),
    )
    .unwrap();
    let of_rule = |out: &Path| -> Vec<serde_json::Value> {
        alerts(out)
            .into_iter()
            .filter(|a| a["rule_id"] == ID)
            .collect()
    };
    let sigma = rules.to_str().unwrap();
    let each = replay(
        &[
            trail.to_str().unwrap(),
            "--sigma",
            sigma,
            "--sigma-group-window-secs",
            "0",
            "--no-anomaly",
        ],
        &tmp.path().join("each"),
    );
    assert_eq!(each.code, 0, "{}", each.stderr);
    let each = of_rule(&each.out);
    let grouped_run = replay(
        &[trail.to_str().unwrap(), "--sigma", sigma, "--no-anomaly"],
        &tmp.path().join("grouped"),
    );
    assert_eq!(grouped_run.code, 0, "{}", grouped_run.stderr);
    let grouped = of_rule(&grouped_run.out);
    assert!(each.len() > 500, "{} per-event alerts", each.len());
    assert!(
        grouped.len() * 5 < each.len(),
        "{} grouped vs {} per event",
        grouped.len(),
        each.len()
    );
    // every match is counted in exactly one group of its principal and hour
    let mut per_group: BTreeMap<(String, String), u64> = BTreeMap::new();
    for a in &each {
        assert_eq!(a["count"], 1);
        let hour = a["first_event_time"].as_str().unwrap()[..13].to_string();
        *per_group
            .entry((a["principal"].as_str().unwrap().to_string(), hour))
            .or_default() += 1;
    }
    let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
    for a in &grouped {
        let g = &a["evidence"]["group"];
        assert_eq!(g["window_secs"], 3600);
        assert_eq!(g["count"], a["count"]);
        let hour = g["start"].as_str().unwrap()[..13].to_string();
        assert_eq!(&a["first_event_time"].as_str().unwrap()[..13], hour);
        let prev = got.insert(
            (a["principal"].as_str().unwrap().to_string(), hour),
            a["count"].as_u64().unwrap(),
        );
        assert!(prev.is_none(), "two alerts for one group: {a}");
    }
    assert_eq!(got, per_group);
}
