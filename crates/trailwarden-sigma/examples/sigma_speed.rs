//! Evaluation speed of the Sigma engine: all rules of the given directories over a generated
//! trail, parsed once up front (so only Sigma evaluation is timed), compared with the time the
//! same events took to parse.
//!
//! ```text
//! cargo run --release -p trailwarden-sigma --example sigma_speed -- \
//!     ../shared/data/sigma/rules [EVENTS]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use trailwarden_parse::{parse_object, Event, Limits};
use trailwarden_sigma::{SigmaEngine, SigmaOptions, SigmaRules};

fn gz_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if !p.ends_with("CloudTrail-Digest") && !p.ends_with("CloudTrail-Insight") {
                gz_files(&p, out);
            }
        } else if p.to_string_lossy().ends_with(".json.gz") {
            out.push(p);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rules_dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "../shared/data/sigma/rules".into()),
    );
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);

    let tmp = tempfile::tempdir()?;
    trailwarden_gen::generate(&trailwarden_gen::GenConfig {
        out: tmp.path().to_path_buf(),
        events: n,
        seed: 7,
        ..trailwarden_gen::GenConfig::default()
    })?;
    let mut files = Vec::new();
    gz_files(&tmp.path().join("AWSLogs"), &mut files);
    let mut objects: Vec<(String, Vec<Event>)> = Vec::new();
    let t = Instant::now();
    for f in &files {
        let bytes = std::fs::read(f)?;
        let parsed = parse_object(&bytes, &Limits::default());
        objects.push((f.display().to_string(), parsed.events));
    }
    let parse_secs = t.elapsed().as_secs_f64();
    let events: usize = objects.iter().map(|(_, e)| e.len()).sum();

    let mut rules = SigmaRules::load_dirs(&[rules_dir])?;
    // `SIGMA_EXCLUDE=id,id` leaves rules out (to measure without the noisiest ones).
    if let Ok(ex) = std::env::var("SIGMA_EXCLUDE") {
        let ex: Vec<&str> = ex.split(',').collect();
        rules.retain(|m| !ex.contains(&m.id.as_str()));
    }
    let (det, corr) = (
        rules.detection_rules().len(),
        rules.correlation_rules().len(),
    );
    let mut best = f64::MAX;
    let mut alerts = 0usize;
    let mut stats = None;
    for _ in 0..5 {
        let mut engine = SigmaEngine::new(rules.clone(), SigmaOptions::replay());
        let mut out = Vec::new();
        let t = Instant::now();
        for (key, evs) in &objects {
            for e in evs {
                engine.evaluate(e, key, &mut out);
            }
            engine.advance(&mut out);
        }
        engine.flush(&mut out);
        let secs = t.elapsed().as_secs_f64();
        if secs < best {
            best = secs;
            alerts = out.len();
            stats = Some(engine.stats());
        }
    }
    let stats = stats.unwrap_or_default();
    let rules_n = (det + corr) as f64;
    println!(
        "events:                 {events} in {} objects",
        objects.len()
    );
    println!("rules:                  {det} detection, {corr} correlation");
    println!(
        "parse (gunzip+parse):   {parse_secs:.3} s  ({:.0} events/s)",
        events as f64 / parse_secs
    );
    println!(
        "sigma evaluation:       {best:.4} s  ({:.0} events/s)",
        events as f64 / best
    );
    println!(
        "rules x events / s:     {:.3e}",
        rules_n * events as f64 / best
    );
    println!(
        "rule evaluations:       {} ({:.3} per event after the index)",
        stats.rule_evaluations,
        stats.rule_evaluations as f64 / events.max(1) as f64
    );
    println!("raw members tokenized:  {}", stats.raw_parses);
    println!("alerts:                 {alerts}");
    println!("sigma / parse time:     {:.1} %", 100.0 * best / parse_secs);
    Ok(())
}
