//! trailwarden-anomaly: the eleven stateful, per-principal anomaly detections, on event time.
//!
//! ```text
//! Batch (one object, any order) ──observe──▶ Obs ──▶ pending, sorted by (eventTime, eventID)
//!                                                        │ watermark = max eventTime − lateness
//!                                                        ▼
//!            principals (cap, LRU on event time) ◀── process, in order ──▶ alerts
//!            accounts (regions) · source IPs (spraying) · terminations
//! ```
//!
//! Detections (stable ids, the alert's `rule_id`): `anonymous-ip`, `suspicious-ip`,
//! `infrequent-country`, `impossible-travel`, `terminated-user`, `failed-logins`,
//! `unusual-admin-activity`, `mass-storage-deletion`, `mass-vm-deletion`, `mass-vm-creation`,
//! `unusual-region`. Semantics, defaults and the configuration are in `docs/anomaly.md`.
//!
//! **Architecture invariants.**
//! * A pure core: processing does no IO, reads no clock (time is `eventTime`), and never
//!   panics on any event. The only IO is start-up loading ([`GeoDb::open`],
//!   [`AnonymousIpDb::open`], [`AsnDb::open`], [`AsnLists::load_specs`],
//!   [`TerminatedUsers::load`]) and the optional [`AnomalyEngine::save`]/[`AnomalyEngine::load`].
//! * Order independence: events are processed in (eventTime, eventID) order once the watermark
//!   passes them, so the alerts do not depend on the order objects arrive in within the
//!   allowed lateness.
//! * Bounded state: every table has a cap; what a full table drops is counted in
//!   [`AnomalyStats`].
//!
//! [`FirstSeenStore`] opens the same kind of baseline to rules: the rule pack's `first-seen`
//! rules ("this (principal, document) pair is new in 10 days") keep their baselines there —
//! bounded, learning on event time, snapshotted.

mod baseline;
mod config;
mod engine;
mod geo;
mod intel;
mod mmdb;
mod obs;
mod state;
mod terminated;

use std::path::PathBuf;

pub use baseline::{
    FirstSeenOptions, FirstSeenSpec, FirstSeenStats, FirstSeenStore, FirstSeenVerdict, LearnFrom,
};
pub use config::{
    AnomalyConfig, Detection, DetectionConfig, DetectionSettings, Exclude, WhileLearning,
    DEFAULT_ADMIN_NAMES, DEFAULT_ADMIN_SOURCES,
};
pub use engine::{AnomalyEngine, DisabledDetection};
pub use geo::{distance_km, GeoDb, GeoLocated, GeoLookup, GeoPoint};
pub use intel::{
    parse_asn, AnonymousIpDb, AsnDb, AsnInfo, AsnLists, AsnSet, Categories, IpIntel, CATEGORY_NAMES,
};
pub use state::AnomalyStats;
pub use terminated::{TerminatedEntry, TerminatedUsers, Who};

/// Errors of building the engine and of its start-up/snapshot IO. Processing has no errors.
#[derive(Debug, thiserror::Error)]
pub enum AnomalyError {
    #[error("anomaly config: {0}")]
    Config(String),
    #[error("geoip database {}: {message}", path.display())]
    GeoDb { path: PathBuf, message: String },
    #[error("{what} {}: {message}", path.display())]
    Database {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("ASN list {file}:{line}: {message}")]
    AsnList {
        file: String,
        line: usize,
        message: String,
    },
    #[error("terminated users {file}:{line}: {message}")]
    TerminatedUsers {
        file: String,
        line: usize,
        message: String,
    },
    #[error("anomaly snapshot: {0}")]
    Snapshot(String),
    #[error("cannot read or write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
