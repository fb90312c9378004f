//! Property test: correlation windows against a naive model, with events delivered in random
//! objects in random order (replay settings), for event_count and value_count with group-by.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use proptest::prelude::*;
use trailwarden_parse::Event;
use trailwarden_sigma::{SigmaEngine, SigmaOptions};

const MIN: i64 = 60_000_000;
const NAMES: [&str; 4] = [
    "ListBuckets",
    "GetBucketPolicy",
    "GetBucketAcl",
    "GetBucketCors",
];
const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
struct Ev {
    t: i64,
    user: usize,
    name: usize,
    id: String,
}

fn rules(kind: &str, n: u32, span_min: u32) -> String {
    let cond = if kind == "value_count" {
        format!("{{field: eventName, gte: {n}}}")
    } else {
        format!("{{gte: {n}}}")
    };
    format!(
        "title: base\nid: base\nname: base\nlogsource: {{product: aws, service: cloudtrail}}\ndetection: {{sel: {{eventSource: s3.amazonaws.com}}, condition: sel}}\n---\ntitle: corr\nid: corr\ncorrelation: {{type: {kind}, rules: [base], group-by: [userIdentity.userName], timespan: {span_min}m, condition: {cond}}}\n"
    )
}

/// The specification's windows, recomputed from scratch for every observation.
fn naive(evs: &[Ev], kind: &str, n: usize, span: i64) -> BTreeSet<Vec<String>> {
    let mut sorted: Vec<&Ev> = evs.iter().collect();
    sorted.sort_by(|a, b| (a.t, format!("event:{}", a.id)).cmp(&(b.t, format!("event:{}", b.id))));
    let mut groups: HashMap<usize, Vec<&Ev>> = HashMap::new();
    let mut fired = BTreeSet::new();
    for e in sorted {
        let g = groups.entry(e.user).or_default();
        g.retain(|x| x.t >= e.t - span);
        g.push(e);
        let figure = if kind == "value_count" {
            g.iter().map(|x| x.name).collect::<BTreeSet<_>>().len()
        } else {
            g.len()
        };
        if figure >= n {
            fired.insert(g.iter().map(|x| x.id.clone()).collect());
            g.clear();
        }
    }
    fired
}

fn to_event(e: &Ev) -> Event {
    event(&record(
        "s3.amazonaws.com",
        NAMES[e.name],
        T0 + e.t,
        USERS[e.user],
        &e.id,
    ))
}

fn ev_strategy() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0i64..40, 0usize..3, 0usize..4, 0i64..3), 1..60).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (m, user, name, sub))| Ev {
                t: m * MIN + sub * 20_000_000,
                user,
                name,
                id: format!("e{i:03}"),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn windows_agree_with_naive_model_in_any_arrival_order(
        evs in ev_strategy(),
        kind in prop::sample::select(&["event_count", "value_count"][..]),
        n in 2u32..5,
        span_min in 1u32..10,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        order_seed in any::<u64>(),
    ) {
        let want = naive(&evs, kind, n as usize, i64::from(span_min) * MIN);
        // split the events (in a random order) into objects, and deliver objects in random order
        let mut shuffled = evs.clone();
        let mut x = order_seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(shuffled.len() + 1)).collect();
        bounds.push(0);
        bounds.push(shuffled.len());
        bounds.sort_unstable();
        bounds.dedup();
        let batches: Vec<_> = bounds
            .windows(2)
            .enumerate()
            .map(|(k, w)| batch(&format!("obj-{k}"), shuffled[w[0]..w[1]].iter().map(to_event).collect()))
            .collect();
        let mut engine = SigmaEngine::new(common::rules(&rules(kind, n, span_min)), SigmaOptions::replay());
        let alerts = run(&mut engine, &batches);
        let got: BTreeSet<Vec<String>> = alerts
            .iter()
            .filter(|a| a.rule_id == "corr")
            .map(|a| a.event_ids.clone())
            .collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(engine.stats().late_dropped, 0);
    }
}
