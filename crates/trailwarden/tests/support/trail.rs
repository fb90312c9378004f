//! Reading a trail directory back in the binary's end-to-end tests (`#[path]`-included by
//! `cli.rs`, `replay.rs` and `anomaly_scenarios.rs`).

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses part of it

use std::path::{Path, PathBuf};

/// Every `*.json.gz` object under `dir`, sorted.
pub fn json_gz_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".json.gz") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every CloudTrail record of the `*.json.gz` objects under `dir` (digest files have none).
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for p in json_gz_files(dir) {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()),
            &mut text,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(rs) = v["Records"].as_array() {
            out.extend(rs.iter().cloned());
        }
    }
    out
}

/// Event ids of the root user's successful console sign-ins: root-console-login raises every
/// one, background or not (the generator's background has some; see its world).
pub fn root_sign_ins(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| {
            r["eventName"] == "ConsoleLogin"
                && r["userIdentity"]["type"] == "Root"
                && r["responseElements"]["ConsoleLogin"] == "Success"
        })
        .map(|r| r["eventID"].as_str().unwrap().to_string())
        .collect()
}
