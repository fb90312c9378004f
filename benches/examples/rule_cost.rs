//! What each stateful rule of the rule pack costs: a generated trail (200,000 records, seed 5,
//! scenarios injected) through a `PackEngine` with every stateful rule, with none, and with
//! each rule alone (the deployment of `testdata/deployment.toml`, replay settings), sorted by
//! time. A rule's cost over the "none" line is its own: matching its steps on the events of
//! its sources and names, then its observations through the reorder buffer and windows.
//!
//! ```text
//! cargo run --release -p trailwarden-benches --example rule_cost            # every rule
//! RULE=discovery-burst-multi-service cargo run --release -p trailwarden-benches --example rule_cost
//! ```
//!
//! `RULE=id` runs that rule alone ten times (for a profiler). Times are wall times of one
//! thread; compare rules with each other, not across machines.

use std::time::{Duration, Instant};

use trailwarden_benches::{ip_lists, Trail};
use trailwarden_detect::{Overrides, Policies};
use trailwarden_pack::{PackEngine, PackOptions};

/// The binary's allocator, so allocation costs what it costs in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One run's figures: evaluation time, evaluation + flush, observations.
struct Run {
    evaluate: Duration,
    total: Duration,
    observations: u64,
}

fn main() {
    let trail = Trail::generate(200_000, 5);
    let policies = Policies::builtin().expect("built-in policies");
    let lists = ip_lists();
    let overrides = |extra: &str| -> Overrides {
        let toml = include_str!("../../testdata/deployment.toml").replacen(
            "[rules]",
            &format!("[rules]\n{extra}"),
            1,
        );
        trailwarden::config::Config::from_toml(&toml)
            .expect("testdata/deployment.toml")
            .rules
            .resolve(&policies)
            .expect("testdata/deployment.toml [rules]")
    };
    let only = |id: &str| overrides(&format!("disable = [\"*\"]\nenable = [\"{id}\"]"));
    let run = |o: &Overrides| -> (Run, PackEngine) {
        let mut pack =
            PackEngine::new(&policies, &lists, o, PackOptions::replay()).expect("rule pack");
        let start = Instant::now();
        let mut out = Vec::new();
        for object in &trail.objects {
            for e in &object.events {
                pack.evaluate(e, &object.key);
            }
            pack.advance(&mut out);
        }
        let evaluate = start.elapsed();
        pack.flush(&mut out);
        let run = Run {
            evaluate,
            total: start.elapsed(),
            observations: pack.stats().observations,
        };
        (run, pack)
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if let Ok(id) = std::env::var("RULE") {
        for _ in 0..10 {
            let (r, _) = run(&only(&id));
            println!(
                "{id}: evaluate {:.1} ms, total {:.1} ms, {} observations",
                ms(r.evaluate),
                ms(r.total),
                r.observations
            );
        }
        return;
    }
    let (all, pack) = run(&overrides(""));
    let (none, _) = run(&overrides("disable = [\"*\"]"));
    println!(
        "{} events; every stateful rule: {:.1} ms ({} observations); none: {:.1} ms",
        trail.events(),
        ms(all.total),
        all.observations,
        ms(none.total)
    );
    let mut ids: Vec<String> = pack.rule_ids().map(String::from).collect();
    ids.sort();
    ids.dedup();
    let mut rows: Vec<(Duration, Duration, u64, String)> = ids
        .into_iter()
        .map(|id| {
            let (r, _) = run(&only(&id));
            (r.total, r.evaluate, r.observations, id)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    println!("  total ms  evaluate ms  observations  rule");
    for (total, evaluate, observations, id) in rows {
        println!(
            "{:>10.1} {:>12.1} {:>13} {id}",
            ms(total),
            ms(evaluate),
            observations
        );
    }
}
