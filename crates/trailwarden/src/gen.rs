//! `trailwarden gen`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::cli::GenArgs;

pub fn run(a: GenArgs) -> anyhow::Result<ExitCode> {
    let t = Instant::now();
    let cfg = trailwarden_gen::GenConfig {
        out: a.out.clone(),
        events: a.events,
        seed: a.seed,
        inject_scenarios: !a.no_scenarios,
        anomaly_scenarios: a.anomaly_scenarios,
        span_days: a.days,
        overwrite: a.overwrite,
        ..Default::default()
    };
    let s = trailwarden_gen::generate(&cfg)
        .with_context(|| format!("generating a trail in {}", a.out.display()))?;
    eprintln!(
        "generated {} events ({} injected scenario events) in {} objects, {:.1} MB gzip, in {:.1}s → {}",
        s.events,
        s.scenario_events,
        s.files,
        s.bytes_gz as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
