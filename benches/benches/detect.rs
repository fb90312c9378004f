//! Detection-stage benches: the stateful engines of the detection thread, per event, on a
//! generated trail (20,000 records, seed 11, scenarios injected) read back object by object
//! with the production parser, in replay order (`trailwarden_benches::Trail`).
//!
//! Each iteration runs a fresh engine over the whole trail — the events of each object, then
//! what the engine does at the end of an object (`advance`), then `flush` — exactly the calls
//! `Detector::detect` / `Detector::finish` make, without building `Batch`es. The engine is
//! built in `iter_batched`'s untimed setup, so state never accumulates across iterations and
//! every sample measures the same work. Throughput: events given to the engine (Insights
//! events included; every engine skips them). The stateless event rules are benched in
//! `parse.rs` (`events/policies`).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use trailwarden_anomaly::{AnomalyConfig, AnomalyEngine, TerminatedUsers};
use trailwarden_benches::{ip_lists, repo_root, sigmahq_cloudtrail_rules, Trail};
use trailwarden_detect::{Overrides, Policies};
use trailwarden_pack::{PackEngine, PackOptions};
use trailwarden_sigma::{Grouping, SigmaEngine, SigmaOptions, SigmaRules};

/// The binary's allocator (`crates/trailwarden/src/main.rs`), so allocation costs what it
/// costs in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The `[rules]` section of `testdata/deployment.toml` (the generated trails' deployment:
/// known accounts, the CI/CD pipeline excluded from three rules), resolved against `policies`
/// as `trailwarden replay --config testdata/deployment.toml` does.
fn deployment_overrides(policies: &Policies) -> Overrides {
    let config =
        trailwarden::config::Config::from_toml(include_str!("../../testdata/deployment.toml"))
            .expect("testdata/deployment.toml");
    config
        .rules
        .resolve(policies)
        .expect("testdata/deployment.toml [rules]")
}

/// `rule-pack`: the rule pack's stateful rules (threshold, distinct-count, sequence,
/// first-seen, deduplicated event rules) of every built-in policy, with the overrides of
/// `testdata/deployment.toml` and the `risky` IP list, under `PackOptions::replay()`
/// (unbounded lateness: every observation waits in the reorder buffer until the flush, the
/// most a replay holds). Regime modelled: the rule pack's share of the detection thread in a
/// replay of a historical bucket — step matching per event, the windows and first-seen
/// baselines applied at the end.
fn rule_pack(c: &mut Criterion, trail: &Trail) {
    let policies = Policies::builtin().expect("built-in policies");
    let lists = ip_lists();
    let overrides = deployment_overrides(&policies);
    let engine = || {
        PackEngine::new(&policies, &lists, &overrides, PackOptions::replay()).expect("rule pack")
    };
    let run = |mut pack: PackEngine| {
        let mut out = Vec::new();
        for o in &trail.objects {
            for e in &o.events {
                pack.evaluate(e, &o.key);
            }
            pack.advance(&mut out);
        }
        pack.flush(&mut out);
        (pack, out)
    };
    let (pack, alerts) = run(engine());
    let s = pack.stats();
    eprintln!(
        "rule-pack: {} stateful rules, {} observations (busiest: {}), {} alerts per run",
        pack.rule_ids().count(),
        s.observations,
        s.busiest(3),
        alerts.len()
    );

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(trail.events()));
    g.bench_function("rule-pack", |b| {
        b.iter_batched(engine, run, BatchSize::LargeInput)
    });
    g.finish();
}

/// `anomaly`: the anomaly engine with its default configuration (eleven detections, 900 s of
/// allowed lateness, 7 days of learning) and the `risky` IP list, without a GeoLite2 database
/// or IP intelligence (the geo detections — infrequent country, impossible travel — are off),
/// fed one object's events at a time (`ingest`), then flushed. Regime modelled: the anomaly
/// engine's share of the detection thread in a replay or the live worker — observing events,
/// ordering them behind the watermark and updating per-principal baselines. The trail spans
/// ~2 hours, so the baselines are learning throughout: few alerts, all the baseline work.
fn anomaly(c: &mut Criterion, trail: &Trail) {
    let lists = ip_lists();
    let config = AnomalyConfig::default();
    let engine = || {
        AnomalyEngine::new(&config, None, &lists, TerminatedUsers::new()).expect("anomaly engine")
    };
    let run = |mut anomaly: AnomalyEngine| {
        let mut out = Vec::new();
        for o in &trail.objects {
            anomaly.ingest(&o.events, &o.key, &mut out);
        }
        anomaly.flush(&mut out);
        (anomaly, out)
    };
    let (a, alerts) = run(engine());
    let off: Vec<&str> = a.disabled().iter().map(|d| d.id).collect();
    eprintln!(
        "anomaly: off for lack of data: {}; {} principals, {} alerts per run",
        off.join(" "),
        a.principals(),
        alerts.len()
    );

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(trail.events()));
    g.bench_function("anomaly", |b| {
        b.iter_batched(engine, run, BatchSize::LargeInput)
    });
    g.finish();
}

/// `sigma` (the rules in `testdata/sigma/`: trailwarden's correlation rules — event_count,
/// value_count and temporal_ordered over their detection rules — plus rule-test files, which
/// do not run) and, when the SigmaHQ data is present next to the repository, `sigma-sigmahq`
/// (those plus the 57 SigmaHQ CloudTrail rules, the set of the end-to-end benchmark).
/// Options: `SigmaOptions::replay()` (unbounded lateness) with the default hourly alert
/// grouping of `[detection]`. Regime modelled: the Sigma engine's share of the detection thread
/// in a replay — the index lookup and the candidate rules per event, detection alerts (grouped)
/// and correlation windows applied at the end.
fn sigma(c: &mut Criterion, trail: &Trail) {
    let mut sets = vec![("sigma", vec![repo_root().join("testdata/sigma")])];
    match sigmahq_cloudtrail_rules() {
        Some(dir) => sets.push((
            "sigma-sigmahq",
            vec![dir, repo_root().join("testdata/sigma")],
        )),
        None => eprintln!(
            "sigma-sigmahq: skipped, the SigmaHQ rules were not found (set TRAILWARDEN_SIGMA_DATA)"
        ),
    }
    let opts = SigmaOptions {
        grouping: Some(Grouping::default_hourly()),
        ..SigmaOptions::replay()
    };

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(trail.events()));
    for (name, dirs) in sets {
        let rules = SigmaRules::load_dirs(&dirs).expect("Sigma rules");
        let engine = || SigmaEngine::new(rules.clone(), opts.clone());
        let run = |mut sigma: SigmaEngine| {
            let mut out = Vec::new();
            for o in &trail.objects {
                for e in &o.events {
                    sigma.evaluate(e, &o.key, &mut out);
                }
                sigma.advance(&mut out);
            }
            sigma.flush(&mut out);
            (sigma, out)
        };
        let (s, alerts) = run(engine());
        let (detections, correlations) = s.rule_count();
        eprintln!(
            "{name}: {detections} detection and {correlations} correlation rules, {} alerts per run",
            alerts.len()
        );
        g.bench_function(name, |b| b.iter_batched(engine, run, BatchSize::LargeInput));
    }
    g.finish();
}

fn detect(c: &mut Criterion) {
    let trail = Trail::stages();
    eprintln!(
        "trail: {} objects, {} events",
        trail.objects.len(),
        trail.events()
    );
    rule_pack(c, &trail);
    anomaly(c, &trail);
    sigma(c, &trail);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = detect
}
criterion_main!(benches);
