//! trailwarden-detect: activity policies as data.
//!
//! A policy is a YAML file (format: `docs/policies.md`): which events it looks at
//! (`eventSource`, `eventName`, outcome), field conditions, an optional built-in analyzer
//! (`check:`), severity overrides, exclusions, and test cases next to the rule. The eleven
//! built-in policies live in `policies/*.yaml` and are embedded in the binary; users add their
//! own directory of files.
//!
//! ```text
//! Policies::builtin() + Policies::load_dir(dir)   YAML → validated, compiled Policy
//!        │   IpLists (name=FILE), Overrides (config)
//!        ▼
//! Engine::new(..)          index by (eventSource, eventName); policies needing a missing
//!        │                 IP list are disabled (Engine::disabled) instead of failing
//!        ▼
//! Engine::evaluate(event, EventRef, &mut Vec<Alert>)   one alert per policy that fires
//! ```
//!
//! **Architecture invariant: a pure core.** Evaluation is synchronous and deterministic, does
//! no IO, reads no clock (alert times come from `eventTime`) and never panics on any event.
//! The only IO in this crate is start-up loading ([`Policies::load_dir`],
//! [`IpLists::add_file`]). Evaluation of an event no policy is interested in costs two hash
//! lookups and allocates nothing; raw JSON fields (`requestParameters`…) are parsed only for
//! events that passed the eventSource/eventName filter, at most once per event.
//!
//! [`run_policy_tests`] runs every policy's test cases through the real parser
//! (`trailwarden_parse::parse_record`) and the real engine; `trailwarden rules test` prints its
//! [`TestReport`].

mod catalogue;
mod check;
mod condition;
mod config;
mod engine;
mod field;
mod iplist;
mod policy;
mod spec;
mod testing;

use std::path::PathBuf;

pub use catalogue::{
    kind_text, mitre_aliases, mitre_text, mitre_v19, rules_markdown, tactic_info, MITRE_ALIASES,
    RULES_DOC_COMMAND, SEED_TACTICS, TACTICS,
};
pub use config::{RuleConfig, RulesConfig, IAC_USER_AGENTS};
pub use engine::{
    missing_settings, DisabledPolicy, Engine, EventRef, Overrides, PolicyOverride, StepHit,
};
pub use iplist::{IpLists, IpRanges};
pub use policy::{
    builtin_files, FirstSeenParams, Policies, Policy, Stateful, StepDiffers, MAX_STEP_COUNT,
};
pub use spec::{
    CheckSpec, Checks, ConditionSpec, DedupSpec, DiffersFromSpec, ExclusionSpec, Expect,
    FirstSeenRuleSpec, MatchSpec, Outcome, PolicySpec, RuleKind, SeverityOverrideSpec, StepSpec,
    Strings, TestSettingsSpec, TestSpec,
};
pub use testing::{
    run_policy_tests, run_policy_tests_with, CaseRunner, TestCaseResult, TestReport, Verdict,
};
pub use trailwarden_alert::{Alert, Severity};

/// Errors of loading policies, IP lists and overrides. Evaluation has no errors.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A policy file that does not parse or does not validate.
    #[error("policy file {file}: {message}")]
    Policy { file: String, message: String },
    #[error("duplicate policy id `{id}` in {second} (first defined in {first})")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad IP list line (`line` is 1-based; 0 when the problem is not a line).
    #[error("ip list `{name}` {file}:{line}: {message}")]
    IpList {
        name: String,
        file: String,
        line: usize,
        message: String,
    },
    #[error("override names unknown policy `{id}`")]
    UnknownPolicy { id: String },
    #[error("invalid override: {message}")]
    Override { message: String },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests;
