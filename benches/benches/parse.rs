//! Stage benches on one generated CloudTrail object (a typical delivery: a few thousand records,
//! ~1 MB of gzip): gunzip alone, gunzip + parse, policy evaluation and archive encoding.
//! Regime modelled: one decode worker's steady state in a replay or the live worker.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trailwarden_archive::{ArchiveOptions, Encoder};
use trailwarden_detect::{Engine, EventRef, IpLists, Overrides, Policies};
use trailwarden_parse::{decode, parse_object_with, Limits, RecordParser};

/// The largest object of a generated trail.
fn sample_object() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: dir.path().to_path_buf(),
        events: 20_000,
        seed: 11,
        inject_scenarios: true,
        ..Default::default()
    })
    .expect("generate");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.path().join("AWSLogs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains("_CloudTrail_") {
                files.push(p);
            }
        }
    }
    let biggest = files
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("an object");
    let bytes = std::fs::read(biggest).expect("read");
    (dir, bytes)
}

fn stages(c: &mut Criterion) {
    let (_dir, gz) = sample_object();
    let limits = Limits::default();
    let (text, _) = decode(&gz, limits.max_decompressed_bytes);
    let mut parser = RecordParser::new();
    let parsed = parse_object_with(&mut parser, &gz, &limits);
    let n = parsed.events.len() as u64;

    let mut g = c.benchmark_group("object");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("gunzip", |b| {
        b.iter(|| decode(&gz, limits.max_decompressed_bytes))
    });
    g.bench_function("gunzip+parse", |b| {
        b.iter(|| parse_object_with(&mut parser, &gz, &limits))
    });
    g.finish();

    let mut g = c.benchmark_group("events");
    g.throughput(Throughput::Elements(n));
    let policies = Policies::builtin().expect("policies");
    let mut lists = IpLists::new();
    lists
        .add_text("risky", "bench", "203.0.113.0/24\n")
        .expect("ip list");
    let engine = Engine::new(&policies, &lists, &Overrides::default()).expect("engine");
    let mut out = Vec::new();
    g.bench_function("policies", |b| {
        b.iter(|| {
            out.clear();
            for e in &parsed.events {
                engine.evaluate(
                    e,
                    EventRef {
                        source_object: "bench",
                    },
                    &mut out,
                );
            }
        })
    });
    let mut enc = Encoder::new(&ArchiveOptions::default()).expect("encoder");
    g.bench_function("archive-encode", |b| {
        b.iter(|| enc.encode_object("bench/object.json.gz", &parsed.events))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = stages
}
criterion_main!(benches);
