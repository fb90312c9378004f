//! trailwarden-sigma: Sigma rules, natively, on parsed CloudTrail events.
//!
//! ```text
//! SigmaRules::load_dirs(&[dir…])   YAML → checked, compiled rules (every problem: file:line)
//!        │                         detection: selections/conditions → expression tree
//!        │                         correlation: references, aliases and chains resolved
//!        ▼
//! SigmaEngine::new(rules, SigmaOptions::replay() | live())
//!        │   index by eventName / eventSource literals; unindexed rules run for every event
//!        ▼
//! Detector::detect(batch) → alerts of detection rules at once (or, with `grouping`, one per
//!        │                 rule, principal and event-time bucket once the bucket closes);
//!        │                 matches feeding correlations
//!        │                 wait in an event-time reorder buffer (watermark = latest event
//!        │                 time − allowed lateness), then slide per-group windows
//! Detector::finish()      → applies what is still buffered
//! ```
//!
//! **Architecture invariant: a pure core.** Loading is the only IO. Evaluation is
//! synchronous and deterministic, reads no clock (windows and alert times are event times)
//! and never panics on any event. Finding an event's candidate rules costs two hash lookups
//! (plus the few rules no literal can index, which run for every event) and allocates nothing; a candidate rule reads typed [`Event`](trailwarden_parse::Event)
//! fields directly and tokenizes a raw JSON member (`requestParameters`…) at most once per
//! event into a reused buffer — events are never re-serialised. Allocation happens only when
//! a rule matches.
//!
//! See `docs/sigma.md` (supported features, field mapping, correlation semantics) and
//! `docs/adr/0002-sigma-engine.md` (why our own compiler).

mod condition;
mod corr;
mod detection;
mod engine;
mod field;
mod group;
mod json;
mod matcher;
mod rules;
mod testing;
mod yaml;

pub use corr::{
    group_key, key_hash, sequence_steps, Correlator, CorrelatorOptions, CorrelatorStats, Differs,
    Evidence, Firing, GroupKey, Observation, OnFire, WindowItem, WindowSpec,
};
pub use engine::{IndexedBy, SigmaEngine, SigmaOptions, SigmaStats, MAX_EVIDENCE_EVENTS};
pub use group::{Grouping, MAX_GROUP_EVENT_NAMES};
pub use rules::{
    mitre_technique, parse_timespan, CorrelationCondition, CorrelationRule, CorrelationType,
    DetectionRule, RuleMeta, RuleProblem, SigmaError, SigmaRules, TestCase, TestFile,
};
pub use testing::{check_report, run_rule_tests, SigmaTestReport, SigmaTestResult};

/// The CloudTrail field names that map to typed [`Event`](trailwarden_parse::Event) members
/// (everything else is a path into a raw JSON member, `eventTime`, or absent).
pub fn typed_field_names() -> impl Iterator<Item = &'static str> {
    field::record_fields().map(|f| f.name)
}

/// Internals exposed for this crate's integration tests (the naive-interpreter property
/// test). Not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::condition::{ident_matches, parse_condition, Cond, OfTarget, Quant};
}
