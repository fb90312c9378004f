//! The command line as a user meets it: `rules test`, `rules list`, the committed sample trail,
//! and clear errors for bad arguments.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

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
#[test]
fn sample_trail_replays_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = repo().join("testdata/trails");
    let o = bin()
        .args(["replay", trail.to_str().unwrap(), "--no-progress", "--out"])
        .arg(tmp.path())
        .arg("--ip-list")
        .arg(format!("risky={}", trail.join("risky-ips.txt").display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("replay summary"), "{stderr}");
    let manifest = std::fs::read_to_string(trail.join("scenarios.jsonl")).unwrap();
    let want: usize = manifest
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["expect"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    let alerts = std::fs::read_to_string(tmp.path().join("alerts.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), want, "{stderr}");
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
