//! Generates a synthetic trail and reports how long it took.
//!
//! `cargo run --release -p trailwarden-gen --example gen -- OUT [EVENTS] [SEED] [THREADS] [WINDOW_MINUTES]`
//!
//! Replaces an existing trail in `OUT`.

use std::time::Instant;

use trailwarden_gen::{generate, GenConfig};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "synthetic-trail".to_string());
    let parse = |v: Option<String>, default: u64| -> u64 {
        v.and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let events = parse(args.next(), 1_000_000);
    let seed = parse(args.next(), 1);
    let threads = parse(args.next(), 0) as usize;
    let window_minutes = args.next().and_then(|s| s.parse().ok());
    let cfg = GenConfig {
        threads,
        window_minutes,
        overwrite: true,
        ..GenConfig::new(out, events, seed)
    };
    let started = Instant::now();
    let summary = generate(&cfg)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} events ({} scenario) in {} objects, {:.1} MiB gzipped, {secs:.2} s ({:.0} events/s)",
        summary.events,
        summary.scenario_events,
        summary.files,
        summary.bytes_gz as f64 / (1024.0 * 1024.0),
        summary.events as f64 / secs
    );
    Ok(())
}
