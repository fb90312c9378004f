//! The anomaly configuration: raw (serde, `deny_unknown_fields`) and resolved ([`Settings`]).
//!
//! ```toml
//! [anomaly]
//! allowed_lateness_secs = 900
//! learning_days = 7
//! max_principals = 200000
//! exclude = { principals = ["*:role/SecurityAuditScanner"] }
//!
//! [anomaly.detections.impossible-travel]
//! max_speed_kmh = 900
//! exclude = { cidrs = ["198.51.100.0/24"] }     # corporate egress
//!
//! [anomaly.detections.unusual-region]
//! allowed_regions = ["eu-west-1", "eu-central-1", "us-east-1"]
//!
//! [anomaly.detections.mass-vm-creation]
//! enabled = false
//! ```
//!
//! Every field is optional; the defaults are the table in `docs/anomaly.md` (and
//! [`Detection::defaults`]). A knob that a detection does not use is an error, as is an
//! unknown detection id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trailwarden_alert::Severity;
use trailwarden_detect::IpRanges;

use crate::intel::{Categories, CATEGORY_NAMES};
use crate::AnomalyError;

/// The detections, by stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detection {
    AnonymousIp,
    SuspiciousIp,
    InfrequentCountry,
    ImpossibleTravel,
    TerminatedUser,
    FailedLogins,
    UnusualAdminActivity,
    MassStorageDeletion,
    MassVmDeletion,
    MassVmCreation,
    UnusualRegion,
}

impl Detection {
    pub const ALL: [Detection; 11] = [
        Detection::AnonymousIp,
        Detection::SuspiciousIp,
        Detection::InfrequentCountry,
        Detection::ImpossibleTravel,
        Detection::TerminatedUser,
        Detection::FailedLogins,
        Detection::UnusualAdminActivity,
        Detection::MassStorageDeletion,
        Detection::MassVmDeletion,
        Detection::MassVmCreation,
        Detection::UnusualRegion,
    ];

    /// The stable id, used as the alert's `rule_id`.
    pub fn id(self) -> &'static str {
        match self {
            Detection::AnonymousIp => "anonymous-ip",
            Detection::SuspiciousIp => "suspicious-ip",
            Detection::InfrequentCountry => "infrequent-country",
            Detection::ImpossibleTravel => "impossible-travel",
            Detection::TerminatedUser => "terminated-user",
            Detection::FailedLogins => "failed-logins",
            Detection::UnusualAdminActivity => "unusual-admin-activity",
            Detection::MassStorageDeletion => "mass-storage-deletion",
            Detection::MassVmDeletion => "mass-vm-deletion",
            Detection::MassVmCreation => "mass-vm-creation",
            Detection::UnusualRegion => "unusual-region",
        }
    }

    pub fn from_id(id: &str) -> Option<Detection> {
        Detection::ALL.into_iter().find(|d| d.id() == id)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub fn title(self) -> &'static str {
        match self {
            Detection::AnonymousIp => "Activity from an anonymous IP address",
            Detection::SuspiciousIp => "Activity from a suspicious IP address",
            Detection::InfrequentCountry => "Activity from an infrequent country",
            Detection::ImpossibleTravel => "Impossible travel",
            Detection::TerminatedUser => "Activity performed by a terminated user",
            Detection::FailedLogins => "Multiple failed login attempts",
            Detection::UnusualAdminActivity => "Unusual administrative activity",
            Detection::MassStorageDeletion => "Unusual multiple storage deletion activities",
            Detection::MassVmDeletion => "Multiple delete VM activities",
            Detection::MassVmCreation => "Unusual multiple VM creation activities",
            Detection::UnusualRegion => "Unusual region for cloud resource",
        }
    }

    pub fn mitre(self) -> &'static [&'static str] {
        match self {
            Detection::AnonymousIp => &["T1090.003", "T1078.004"],
            Detection::SuspiciousIp => &["T1078.004"],
            Detection::InfrequentCountry => &["T1078.004"],
            Detection::ImpossibleTravel => &["T1078.004"],
            Detection::TerminatedUser => &["T1078.004"],
            Detection::FailedLogins => &["T1110"],
            Detection::UnusualAdminActivity => &["T1098"],
            Detection::MassStorageDeletion => &["T1485"],
            Detection::MassVmDeletion => &["T1578.003", "T1485"],
            Detection::MassVmCreation => &["T1578.002", "T1496"],
            Detection::UnusualRegion => &["T1535"],
        }
    }

    /// The built-in defaults of a detection (what `docs/anomaly.md` documents).
    pub fn defaults(self) -> DetectionSettings {
        let base = DetectionSettings {
            enabled: true,
            severity: Severity::Medium,
            while_learning: WhileLearning::Quiet,
            learning_days: None,
            window_secs: 3600,
            cooldown_secs: 3600,
            min_count: 0,
            baseline_multiplier: 3.0,
            baseline_days: 30,
            forget_after_days: 30,
            max_speed_kmh: 0.0,
            min_distance_km: 0.0,
            known_ip_suppresses: false,
            spray_min_users: 0,
            spray_window_secs: 0,
            grace_secs: 0,
            lists: Vec::new(),
            categories: Vec::new(),
            allowed_regions: Vec::new(),
            event_sources: Vec::new(),
            event_names: Vec::new(),
            exclude: Exclude::default(),
        };
        match self {
            Detection::AnonymousIp => DetectionSettings {
                lists: vec!["anonymous".into()],
                categories: Categories::DEFAULT_COUNTED
                    .names()
                    .map(str::to_string)
                    .collect(),
                while_learning: WhileLearning::Threshold,
                ..base
            },
            Detection::SuspiciousIp => DetectionSettings {
                severity: Severity::High,
                lists: vec!["suspicious".into()],
                while_learning: WhileLearning::Threshold,
                ..base
            },
            Detection::InfrequentCountry => base,
            Detection::ImpossibleTravel => DetectionSettings {
                severity: Severity::High,
                while_learning: WhileLearning::Threshold,
                max_speed_kmh: 1000.0,
                min_distance_km: 500.0,
                known_ip_suppresses: true,
                ..base
            },
            Detection::TerminatedUser => DetectionSettings {
                severity: Severity::High,
                while_learning: WhileLearning::Threshold,
                grace_secs: 60,
                ..base
            },
            Detection::FailedLogins => DetectionSettings {
                while_learning: WhileLearning::Threshold,
                window_secs: 1800,
                cooldown_secs: 1800,
                min_count: 10,
                spray_min_users: 10,
                spray_window_secs: 3600,
                ..base
            },
            Detection::UnusualAdminActivity => DetectionSettings {
                min_count: 30,
                baseline_multiplier: 5.0,
                event_sources: DEFAULT_ADMIN_SOURCES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                event_names: DEFAULT_ADMIN_NAMES.iter().map(|s| s.to_string()).collect(),
                ..base
            },
            Detection::MassStorageDeletion => DetectionSettings {
                severity: Severity::High,
                while_learning: WhileLearning::Threshold,
                min_count: 100,
                ..base
            },
            Detection::MassVmDeletion => DetectionSettings {
                severity: Severity::High,
                while_learning: WhileLearning::Threshold,
                min_count: 10,
                ..base
            },
            Detection::MassVmCreation => DetectionSettings {
                while_learning: WhileLearning::Threshold,
                min_count: 20,
                ..base
            },
            Detection::UnusualRegion => DetectionSettings {
                cooldown_secs: 86_400,
                forget_after_days: 90,
                ..base
            },
        }
    }
}

/// Event sources whose successful write calls count as administrative.
pub const DEFAULT_ADMIN_SOURCES: &[&str] = &[
    "iam.amazonaws.com",
    "organizations.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "config.amazonaws.com",
    "guardduty.amazonaws.com",
    "securityhub.amazonaws.com",
    "kms.amazonaws.com",
    "sso.amazonaws.com",
    "sso-directory.amazonaws.com",
    "identitystore.amazonaws.com",
    "access-analyzer.amazonaws.com",
    "account.amazonaws.com",
    "macie2.amazonaws.com",
    "inspector2.amazonaws.com",
    "detective.amazonaws.com",
    "network-firewall.amazonaws.com",
    "wafv2.amazonaws.com",
];

/// Event names (of any source) that count as administrative, beyond [`DEFAULT_ADMIN_SOURCES`].
pub const DEFAULT_ADMIN_NAMES: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
    "CreateNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "DeleteFlowLogs",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutAccountPublicAccessBlock",
    "DeleteAccountPublicAccessBlock",
    "PutBucketLogging",
    "DisableEbsEncryptionByDefault",
    "StopLogging",
];

/// What a baseline detection does while the principal (account, for regions) is still learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhileLearning {
    /// No alert until the baseline is mature; the events only teach the baseline.
    Quiet,
    /// Alert at `low` severity with `"learning": true` in the evidence.
    Low,
    /// Alert on the absolute threshold alone (a zero baseline), at the normal severity.
    Threshold,
}

/// Exclusions: events matching any pattern are ignored by the detection (by every detection
/// when given at the top level). Principal patterns match the normalised principal key with
/// `*` as a wildcard (`*:role/SecurityAuditScanner`, `123456789012:user/ci-*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclude {
    #[serde(default)]
    pub principals: Vec<String>,
    /// IP addresses or CIDRs (corporate egress, scanners).
    #[serde(default)]
    pub cidrs: Vec<String>,
}

/// The `[anomaly]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Turns the whole engine off (default on).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Events are held until the watermark (latest event time seen minus this) passes them, then
    /// processed in (event time, event id) order. Default 900 (15 minutes).
    #[serde(default)]
    pub allowed_lateness_secs: Option<u64>,
    /// Most events held behind the watermark; past it the oldest are processed early (counted
    /// as `forced`). Default 2,000,000.
    #[serde(default)]
    pub max_pending_events: Option<usize>,
    /// Event-time days before a principal's (account's) baseline is mature. Default 7.
    #[serde(default)]
    pub learning_days: Option<u32>,
    /// Most principals tracked; past it the least recently active (event time) are evicted, and
    /// counted. Default 200,000.
    #[serde(default)]
    pub max_principals: Option<usize>,
    /// Most accounts tracked for region baselines. Default 10,000.
    #[serde(default)]
    pub max_accounts: Option<usize>,
    /// Most source IPs tracked for password spraying. Default 100,000.
    #[serde(default)]
    pub max_source_ips: Option<usize>,
    /// Most deleted/disabled users and access keys remembered. Default 100,000.
    #[serde(default)]
    pub max_terminations: Option<usize>,
    /// Per principal: most IP addresses, countries, admin actions remembered. Default 64.
    #[serde(default)]
    pub max_entries_per_principal: Option<usize>,
    /// Most event ids listed in one alert (the count is always exact). Default 50.
    #[serde(default)]
    pub max_evidence_ids: Option<usize>,
    /// Exclusions for every detection.
    #[serde(default)]
    pub exclude: Exclude,
    /// Per-detection settings, by id.
    #[serde(default)]
    pub detections: BTreeMap<String, DetectionConfig>,
}

/// Settings of one detection; `None` keeps the default. Which knobs a detection takes is in
/// `docs/anomaly.md`; giving one it does not take is an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionConfig {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub while_learning: Option<WhileLearning>,
    pub learning_days: Option<u32>,
    pub window_secs: Option<u64>,
    pub cooldown_secs: Option<u64>,
    pub min_count: Option<u64>,
    pub baseline_multiplier: Option<f64>,
    pub baseline_days: Option<u32>,
    pub forget_after_days: Option<u32>,
    pub max_speed_kmh: Option<f64>,
    pub min_distance_km: Option<f64>,
    pub known_ip_suppresses: Option<bool>,
    pub spray_min_users: Option<u64>,
    pub spray_window_secs: Option<u64>,
    pub grace_secs: Option<u64>,
    pub lists: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub allowed_regions: Option<Vec<String>>,
    pub event_sources: Option<Vec<String>>,
    pub event_names: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Exclude,
}

/// The resolved settings of one detection.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionSettings {
    pub enabled: bool,
    pub severity: Severity,
    pub while_learning: WhileLearning,
    /// Overrides the global learning period for this detection.
    pub learning_days: Option<u32>,
    pub window_secs: u64,
    pub cooldown_secs: u64,
    pub min_count: u64,
    pub baseline_multiplier: f64,
    pub baseline_days: u32,
    pub forget_after_days: u32,
    pub max_speed_kmh: f64,
    pub min_distance_km: f64,
    pub known_ip_suppresses: bool,
    pub spray_min_users: u64,
    pub spray_window_secs: u64,
    pub grace_secs: u64,
    /// IP and ASN list names (`anonymous-ip`, `suspicious-ip`).
    pub lists: Vec<String>,
    /// The anonymous-IP database categories that count (`anonymous-ip`); default all but
    /// `hosting`.
    pub categories: Vec<String>,
    pub allowed_regions: Vec<String>,
    pub event_sources: Vec<String>,
    pub event_names: Vec<String>,
    pub exclude: Exclude,
}

/// Which knobs each detection takes (beyond enabled/severity/exclude).
fn knobs(d: Detection) -> &'static [&'static str] {
    match d {
        Detection::AnonymousIp => &["lists", "categories", "cooldown_secs"],
        Detection::SuspiciousIp => &["lists", "cooldown_secs"],
        Detection::InfrequentCountry => &[
            "while_learning",
            "learning_days",
            "forget_after_days",
            "cooldown_secs",
        ],
        Detection::ImpossibleTravel => &[
            "max_speed_kmh",
            "min_distance_km",
            "known_ip_suppresses",
            "forget_after_days",
        ],
        Detection::TerminatedUser => &["grace_secs", "cooldown_secs"],
        Detection::FailedLogins => &[
            "while_learning",
            "learning_days",
            "window_secs",
            "cooldown_secs",
            "min_count",
            "baseline_multiplier",
            "baseline_days",
            "spray_min_users",
            "spray_window_secs",
        ],
        Detection::UnusualAdminActivity => &[
            "while_learning",
            "learning_days",
            "window_secs",
            "cooldown_secs",
            "min_count",
            "baseline_multiplier",
            "baseline_days",
            "forget_after_days",
            "event_sources",
            "event_names",
        ],
        Detection::MassStorageDeletion | Detection::MassVmDeletion | Detection::MassVmCreation => {
            &[
                "while_learning",
                "learning_days",
                "window_secs",
                "cooldown_secs",
                "min_count",
                "baseline_multiplier",
                "baseline_days",
            ]
        }
        Detection::UnusualRegion => &[
            "while_learning",
            "learning_days",
            "forget_after_days",
            "cooldown_secs",
            "allowed_regions",
        ],
    }
}

/// Resolved engine settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub enabled: bool,
    pub allowed_lateness_us: i64,
    pub max_pending_events: usize,
    pub learning_days: u32,
    pub max_principals: usize,
    pub max_accounts: usize,
    pub max_source_ips: usize,
    pub max_terminations: usize,
    pub max_entries_per_principal: usize,
    pub max_evidence_ids: usize,
    pub exclude: CompiledExclude,
    pub detections: Vec<(DetectionSettings, CompiledExclude)>,
}

impl Settings {
    pub(crate) fn det(&self, d: Detection) -> &DetectionSettings {
        // `detections` holds one entry per `Detection::ALL`, in order.
        &self.detections[d.index()].0
    }
}

/// Exclusions ready to match.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledExclude {
    principals: Vec<String>,
    cidrs: IpRanges,
}

impl CompiledExclude {
    fn compile(e: &Exclude, what: &str) -> Result<CompiledExclude, AnomalyError> {
        let cidrs = IpRanges::from_cidrs(e.cidrs.iter().map(String::as_str))
            .map_err(|m| AnomalyError::Config(format!("{what}.exclude.cidrs: {m}")))?;
        Ok(CompiledExclude {
            principals: e.principals.clone(),
            cidrs,
        })
    }

    pub(crate) fn matches(&self, principal: &str, ip: Option<std::net::IpAddr>) -> bool {
        self.principals.iter().any(|p| glob(p, principal))
            || ip.is_some_and(|ip| self.cidrs.contains(ip))
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return false,
    };
    let Some(mut t) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return true;
    };
    for m in middle {
        match t.find(m) {
            Some(i) => t = &t[i + m.len()..],
            None => return false,
        }
    }
    t.len() >= last.len() && t.ends_with(last)
}

impl AnomalyConfig {
    /// Parses the `[anomaly]` section from TOML-like text via serde (the caller picks the format;
    /// this helper takes JSON, as tests and tools need).
    pub fn from_json(text: &str) -> Result<AnomalyConfig, AnomalyError> {
        serde_json::from_str(text).map_err(|e| AnomalyError::Config(e.to_string()))
    }

    /// Checks the configuration (unknown ids, knobs a detection does not take, bad values,
    /// bad CIDRs) without building an engine — for `check config`.
    pub fn validate(&self) -> Result<(), AnomalyError> {
        self.resolve().map(|_| ())
    }

    /// Validates and resolves the configuration.
    pub(crate) fn resolve(&self) -> Result<Settings, AnomalyError> {
        for id in self.detections.keys() {
            if Detection::from_id(id).is_none() {
                let known: Vec<&str> = Detection::ALL.iter().map(|d| d.id()).collect();
                return Err(AnomalyError::Config(format!(
                    "unknown detection `{id}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        let mut detections = Vec::with_capacity(Detection::ALL.len());
        for d in Detection::ALL {
            let mut s = d.defaults();
            if let Some(c) = self.detections.get(d.id()) {
                apply(d, &mut s, c)?;
            }
            let ex = CompiledExclude::compile(&s.exclude, &format!("detections.{}", d.id()))?;
            detections.push((s, ex));
        }
        let lateness = self.allowed_lateness_secs.unwrap_or(900);
        let positive = |v: Option<usize>, dflt: usize, what: &str| match v {
            Some(0) => Err(AnomalyError::Config(format!("{what} must be at least 1"))),
            Some(n) => Ok(n),
            None => Ok(dflt),
        };
        Ok(Settings {
            enabled: self.enabled.unwrap_or(true),
            allowed_lateness_us: secs_to_us(lateness),
            max_pending_events: positive(self.max_pending_events, 2_000_000, "max_pending_events")?,
            learning_days: self.learning_days.unwrap_or(7),
            max_principals: positive(self.max_principals, 200_000, "max_principals")?,
            max_accounts: positive(self.max_accounts, 10_000, "max_accounts")?,
            max_source_ips: positive(self.max_source_ips, 100_000, "max_source_ips")?,
            max_terminations: positive(self.max_terminations, 100_000, "max_terminations")?,
            max_entries_per_principal: positive(
                self.max_entries_per_principal,
                64,
                "max_entries_per_principal",
            )?,
            max_evidence_ids: positive(self.max_evidence_ids, 50, "max_evidence_ids")?,
            exclude: CompiledExclude::compile(&self.exclude, "anomaly")?,
            detections,
        })
    }
}

pub(crate) fn secs_to_us(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000)
}

fn apply(d: Detection, s: &mut DetectionSettings, c: &DetectionConfig) -> Result<(), AnomalyError> {
    let allowed = knobs(d);
    let mut given: Vec<&str> = Vec::new();
    macro_rules! take {
        ($field:ident) => {
            if let Some(v) = &c.$field {
                given.push(stringify!($field));
                s.$field = v.clone();
            }
        };
    }
    take!(while_learning);
    take!(window_secs);
    take!(cooldown_secs);
    take!(min_count);
    take!(baseline_multiplier);
    take!(baseline_days);
    take!(forget_after_days);
    take!(max_speed_kmh);
    take!(min_distance_km);
    take!(known_ip_suppresses);
    take!(spray_min_users);
    take!(spray_window_secs);
    take!(grace_secs);
    take!(lists);
    take!(categories);
    take!(allowed_regions);
    take!(event_sources);
    take!(event_names);
    if let Some(v) = c.learning_days {
        given.push("learning_days");
        s.learning_days = Some(v);
    }
    for g in given {
        if !allowed.contains(&g) {
            return Err(AnomalyError::Config(format!(
                "detections.{}: `{g}` does not apply to this detection (it takes: enabled, severity, exclude, {})",
                d.id(),
                allowed.join(", ")
            )));
        }
    }
    if let Some(e) = c.enabled {
        s.enabled = e;
    }
    if let Some(sev) = c.severity {
        s.severity = sev;
    }
    s.exclude
        .principals
        .extend(c.exclude.principals.iter().cloned());
    s.exclude.cidrs.extend(c.exclude.cidrs.iter().cloned());
    let bad = |m: &str| Err(AnomalyError::Config(format!("detections.{}: {m}", d.id())));
    if !(s.baseline_multiplier.is_finite() && s.baseline_multiplier >= 1.0) {
        return bad("baseline_multiplier must be a number >= 1");
    }
    let non_negative = |x: f64| x.is_finite() && x >= 0.0;
    if !non_negative(s.max_speed_kmh) || !non_negative(s.min_distance_km) {
        return bad("max_speed_kmh and min_distance_km must be numbers >= 0");
    }
    if s.window_secs == 0 || s.spray_window_secs == 0 && d == Detection::FailedLogins {
        return bad("windows must be at least 1 second");
    }
    if s.baseline_days == 0 || s.baseline_days > 366 {
        return bad("baseline_days must be between 1 and 366");
    }
    if let Some(c) = s.categories.iter().find(|c| Categories::parse(c).is_none()) {
        return bad(&format!(
            "unknown category `{c}` in categories (known: {})",
            CATEGORY_NAMES.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("*:role/Scanner", "123:role/Scanner"));
        assert!(glob("123:user/ci-*", "123:user/ci-deploy"));
        assert!(!glob("123:user/ci-*", "124:user/ci-deploy"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn unknown_detection_and_knob_rejected() {
        let c = AnomalyConfig::from_json(r#"{"detections":{"nope":{}}}"#).unwrap();
        assert!(c.resolve().is_err());
        let c =
            AnomalyConfig::from_json(r#"{"detections":{"anonymous-ip":{"min_count":3}}}"#).unwrap();
        let e = c.resolve().unwrap_err().to_string();
        assert!(e.contains("min_count"), "{e}");
        assert!(AnomalyConfig::from_json(r#"{"typo":1}"#).is_err());
        let ok = AnomalyConfig::from_json(
            r#"{"detections":{"mass-vm-deletion":{"min_count":3,"severity":"critical"}}}"#,
        )
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(ok.det(Detection::MassVmDeletion).min_count, 3);
        assert_eq!(
            ok.det(Detection::MassVmDeletion).severity,
            Severity::Critical
        );
    }

    #[test]
    fn ids_round_trip() {
        for d in Detection::ALL {
            assert_eq!(Detection::from_id(d.id()), Some(d));
            assert_eq!(Detection::ALL[d.index()], d);
        }
    }
}
