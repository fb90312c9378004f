//! The command line as a user meets it: `rules test`, `rules list`, the committed sample trail,
//! and clear errors for bad arguments.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

#[path = "support/trail.rs"]
mod trail;
use trail::{records, root_sign_ins};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn rules_test_passes_and_prints_a_table() {
    let o = bin().args(["rules", "test"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("PASS") && out.contains(" 0 failed"), "{out}");
    assert!(out.contains("s3-bucket-public"), "{out}");
}

#[test]
fn rules_list_json_has_every_builtin_policy() {
    let o = bin()
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in [
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
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for r in &rows {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["enabled", "id", "kind", "mitre", "severity", "tests", "title"],
            "{r}"
        );
        // Seed policies have two positive and two negative cases; pack rules at least one each.
        assert!(r["tests"].as_u64().unwrap() >= 2, "{r}");
    }
    let kind = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .map(|r| r["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind("vpc-change").as_deref(), Some("event"));
    assert_eq!(
        kind("ec2-stop-modify-userdata-start").as_deref(),
        Some("sequence")
    );
    // ATT&CK ids in their v19 form only.
    let cloudtrail = rows
        .iter()
        .find(|r| r["id"] == "cloudtrail-config-change")
        .unwrap();
    assert_eq!(cloudtrail["mitre"], serde_json::json!(["T1685.002"]));
}

#[test]
fn rules_docs_prints_the_generated_markdown() {
    let o = bin().args(["rules", "docs"]).output().unwrap();
    assert!(o.status.success());
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.starts_with("# Built-in rules"), "{md}");
    assert!(md.contains("### `ec2-launch-denied-burst`"));
    let committed = std::fs::read_to_string(repo().join("docs/rules.md")).unwrap();
    assert_eq!(
        md, committed,
        "docs/rules.md is stale: run `cargo run -p trailwarden -- rules docs --out docs/rules.md`"
    );
}

/// The README's main command, on the committed sample: every scenario in its manifest fires.
/// The deployment configuration the sample and generated trails are replayed with: the
/// generator's organisation (`111122223333`, `444455556666`, `777788889999`, `210987654321`) and
/// its vendor (`999988887777`, a scanner that assumes roles in and is trusted by bucket
/// policies, role trust policies and peerings) as known accounts, and its CI deploy role and
/// infrastructure-as-code tools as the deploy pipeline, excluded where the catalogue says to
/// allow-list deploy roles (lambda-code-deployed; compute-launch-multi-region: multi-region
/// deployments).
const DEPLOYMENT_CONFIG: &str = include_str!("../../../testdata/deployment.toml");

/// Rule-pack rules each sample scenario raises, besides the seed policies its manifest lists.
const PACK_EXPECT: &[(&str, &[&str])] = &[
    ("cloudtrail-delete-trail", &["cloudtrail-trail-deleted"]),
    (
        "cloudtrail-put-event-selectors",
        &["cloudtrail-event-selectors-reduced"],
    ),
    ("cloudtrail-stop-logging", &["cloudtrail-logging-stopped"]),
    (
        "cloudtrail-stop-logging-denied",
        &["cloudtrail-logging-stopped"],
    ),
    ("cloudtrail-update-trail", &["cloudtrail-trail-weakened"]),
    (
        "ec2-associate-instance-profile",
        &["ec2-instance-profile-attached"],
    ),
    ("ec2-imdsv1-enabled", &["imds-v1-reenabled"]),
    ("ec2-modify-instance-userdata", &["ec2-user-data-modified"]),
    ("iam-attach-admin-policy", &["admin-policy-attached"]),
    (
        "iam-create-policy-version-default",
        &["inline-policy-grants-admin"],
    ),
    ("iam-put-user-policy", &["inline-policy-grants-admin"]),
    // the trust policy names the vendor, a known account: no role-trust-policy-backdoor
    ("iam-update-assume-role-policy-root", &["root-activity"]),
    ("nacl-allow-all-ingress", &["network-acl-allow-all"]),
    ("risky-ip-api-call", &["api-activity-from-risky-ip"]),
    ("risky-ip-console-login-root", &["root-console-login"]),
    (
        "s3-account-public-access-block-disabled",
        &["root-activity"],
    ),
    ("s3-put-bucket-lifecycle", &["s3-lifecycle-mass-expiration"]),
    ("s3-suspend-versioning", &["s3-versioning-suspended"]),
    ("sg-modify-rules", &["security-group-open-to-world"]),
    ("sg-open-ssh-to-world", &["security-group-open-to-world"]),
];

#[test]
fn sample_trail_replays_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = repo().join("testdata/trails");
    let config = tmp.path().join("trailwarden.toml");
    std::fs::write(&config, DEPLOYMENT_CONFIG).unwrap();
    let o = bin()
        .args(["replay", trail.to_str().unwrap(), "--no-progress", "--out"])
        .arg(tmp.path().join("out"))
        .arg("--ip-list")
        .arg(format!("risky={}", trail.join("risky-ips.txt").display()))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("replay summary"), "{stderr}");
    // Exactly the manifest's alerts (seed policies), the pack's on the scenario events, and
    // root-console-login on the root sign-ins: (event id, rule id), counted.
    let manifest = std::fs::read_to_string(trail.join("scenarios.jsonl")).unwrap();
    let mut want: Vec<(String, String)> = Vec::new();
    let mut scenario_events = std::collections::BTreeSet::new();
    for l in manifest.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let id = v["event_id"].as_str().unwrap().to_string();
        scenario_events.insert(id.clone());
        for r in v["expect"].as_array().unwrap() {
            want.push((id.clone(), r.as_str().unwrap().to_string()));
        }
        let scenario = v["scenario"].as_str().unwrap();
        for (_, rules) in PACK_EXPECT.iter().filter(|(s, _)| *s == scenario) {
            want.extend(rules.iter().map(|r| (id.clone(), r.to_string())));
        }
    }
    for id in root_sign_ins(&records(&trail)) {
        if !scenario_events.contains(&id) {
            want.push((id, "root-console-login".to_string()));
        }
    }
    let alerts = std::fs::read_to_string(tmp.path().join("out/alerts.jsonl")).unwrap();
    let mut got: Vec<(String, String)> = alerts
        .lines()
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).unwrap();
            let ids = a["event_ids"].as_array().unwrap();
            assert_eq!(ids.len(), 1, "{l}");
            (
                ids[0].as_str().unwrap().to_string(),
                a["rule_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{stderr}");
}

#[test]
fn bad_arguments_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "replay",
            tmp.path().to_str().unwrap(),
            "--from",
            "last tuesday",
            "--out",
        ])
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from \"last tuesday\""));
    let o = bin()
        .args([
            "replay",
            tmp.path().to_str().unwrap(),
            "--ip-list",
            "risky=/nonexistent/list.txt",
            "--out",
        ])
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/nonexistent/list.txt"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = bin().args(["replay"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn gen_anomaly_scenarios_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trail");
    let o = bin()
        .args(["gen", "--events", "3000", "--anomaly-scenarios", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "anonymous-ips.txt",
        "suspicious-ips.txt",
        "terminated-users.txt",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let manifest = std::fs::read_to_string(out.join("scenarios.jsonl")).unwrap();
    assert!(
        manifest.contains("\"detection\""),
        "no anomaly scenario in the manifest"
    );
    // A span too short for a week of learning is refused with the reason.
    let o = bin()
        .args([
            "gen",
            "--events",
            "3000",
            "--anomaly-scenarios",
            "--days",
            "3",
            "--out",
        ])
        .arg(dir.path().join("short"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("at least 10 days"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
