//! A whole replay of a generated trail (50,000 events, all policies, archive on), exactly as
//! `trailwarden replay` runs it. Regime modelled: batch replay of a historical bucket.

use clap::Parser;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The binary's allocator (`crates/trailwarden/src/main.rs`), so allocation costs what it
/// costs in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = dir.path().join("trail");
    let s = trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: trail.clone(),
        events: 50_000,
        seed: 5,
        inject_scenarios: true,
        ..Default::default()
    })
    .expect("generate");
    let out = dir.path().join("out");
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(s.events));
    for archive in [true, false] {
        let name = if archive {
            "policies+archive"
        } else {
            "policies-only"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut argv = vec![
                    "trailwarden".to_string(),
                    "--quiet".to_string(),
                    "replay".to_string(),
                    trail.display().to_string(),
                    "--out".to_string(),
                    out.display().to_string(),
                    "--no-progress".to_string(),
                ];
                if !archive {
                    argv.push("--no-archive".to_string());
                }
                let cli = trailwarden::cli::Cli::try_parse_from(argv).expect("args");
                let trailwarden::cli::Command::Replay(a) = cli.command else {
                    unreachable!("replay args")
                };
                trailwarden::replay::run(a).expect("replay")
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = replay
}
criterion_main!(benches);
