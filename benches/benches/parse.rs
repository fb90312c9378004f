//! Stage benches on one generated CloudTrail object (the largest of the stage benches' trail,
//! `trailwarden_benches::Trail::stages`: ~1,000 records, ~1.5 MB of JSON): gunzip alone,
//! gunzip + parse, policy evaluation and archive encoding.
//! Regime modelled: one decode worker's steady state in a replay or the live worker.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trailwarden_archive::{ArchiveOptions, Encoder};
use trailwarden_benches::{ip_lists, Trail};
use trailwarden_detect::{Engine, EventRef, Overrides, Policies};
use trailwarden_parse::{decode, parse_object_with, Limits, RecordParser};

/// The binary's allocator (`crates/trailwarden/src/main.rs`), so allocation costs what it
/// costs in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn stages(c: &mut Criterion) {
    let trail = Trail::stages();
    let gz = &trail.largest().gz;
    let limits = Limits::default();
    let (text, _) = decode(gz, limits.max_decompressed_bytes);
    let mut parser = RecordParser::new();
    let parsed = parse_object_with(&mut parser, gz, &limits);
    let n = parsed.events.len() as u64;

    let mut g = c.benchmark_group("object");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("gunzip", |b| {
        b.iter(|| decode(gz, limits.max_decompressed_bytes))
    });
    g.bench_function("gunzip+parse", |b| {
        b.iter(|| parse_object_with(&mut parser, gz, &limits))
    });
    g.finish();

    let mut g = c.benchmark_group("events");
    g.throughput(Throughput::Elements(n));
    let policies = Policies::builtin().expect("policies");
    let lists = ip_lists();
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
