//! The engine: the watermark buffer, the state tables and the eleven detections.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Map, Value};
use trailwarden_alert::{alert_id, format_event_time, Alert, Severity, SCHEMA_VERSION};
use trailwarden_detect::{IpLists, IpRanges};
use trailwarden_parse::Event;
use trailwarden_pipeline::{Batch, Detector};

use crate::config::{
    secs_to_us, AnomalyConfig, Detection, DetectionSettings, Settings, WhileLearning,
};
use crate::geo::{distance_km, GeoDb, GeoLocated, GeoLookup};
use crate::intel::{AnonymousIpDb, AsnDb, AsnInfo, AsnLists, AsnSet, Categories, IpIntel};
use crate::obs::{observe, Kind, Obs, Target};
use crate::state::{
    cool, cooling, touch, AState, AnomalyStats, Counter, Ev, LastGeo, PState, SState, Snapshot,
    TermMark, DAY_US, SNAPSHOT_FORMAT, SNAPSHOT_VERSION,
};
use crate::terminated::TerminatedUsers;
use crate::AnomalyError;

/// A detection that will not run, and why (log each once at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledDetection {
    pub id: &'static str,
    pub reason: String,
}

const GEO_CACHE_CAP: usize = 65_536;
/// Addresses whose anonymous-IP and ASN lookups are remembered (cleared when full, like geo).
const INTEL_CACHE_CAP: usize = 65_536;

/// A named list of an IP detection: the IP list and/or the ASN list of that name.
struct NamedList {
    name: String,
    ips: Option<IpRanges>,
    asns: Option<AsnSet>,
}

impl NamedList {
    fn matches(&self, ip: IpAddr, asn: Option<u32>) -> bool {
        self.ips.as_ref().is_some_and(|r| r.contains(ip))
            || asn.is_some_and(|a| self.asns.as_ref().is_some_and(|s| s.contains(a)))
    }
}

/// What the databases say about one address (cached per address).
#[derive(Clone, Default)]
struct Intel {
    anon: Categories,
    asn: Option<std::sync::Arc<AsnInfo>>,
}

/// The anomaly engine. Feed it events with [`AnomalyEngine::ingest`] (or as a pipeline
/// [`Detector`]); call [`AnomalyEngine::flush`] (`Detector::finish`) at the end.
pub struct AnomalyEngine {
    s: Settings,
    /// Detections that run (enabled and with what they need).
    on: [bool; 11],
    disabled: Vec<DisabledDetection>,
    geo: Option<Box<dyn GeoLookup>>,
    geo_cache: HashMap<IpAddr, Option<std::sync::Arc<GeoLocated>>>,
    anonymous: Vec<NamedList>,
    suspicious: Vec<NamedList>,
    anonymous_db: Option<AnonymousIpDb>,
    /// The anonymous-IP database categories `anonymous-ip` counts.
    counted: Categories,
    asn_db: Option<AsnDb>,
    /// Per detection (anonymous-ip, suspicious-ip): whether matching needs the databases.
    needs_intel: [bool; 2],
    intel_cache: HashMap<IpAddr, Intel>,
    anonymous_sources: Option<String>,
    terminated: TerminatedUsers,
    /// Boxed: the tree shifts entries on insert/remove, and an `Obs` is a few hundred bytes.
    pending: BTreeMap<(i64, String), Box<Obs>>,
    max_seen: Option<i64>,
    /// The source's promise that nothing earlier is still to come (not part of the snapshot).
    low_watermark: Option<i64>,
    last_processed: Option<i64>,
    principals: HashMap<String, PState>,
    accounts: HashMap<String, AState>,
    source_ips: HashMap<String, SState>,
    terminations: HashMap<String, TermMark>,
    stats: AnomalyStats,
}

impl std::fmt::Debug for AnomalyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnomalyEngine")
            .field("disabled", &self.disabled)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn lists_for(
    d: Detection,
    s: &DetectionSettings,
    lists: &IpLists,
    asn_lists: &AsnLists,
    database: bool,
    disabled: &mut Vec<DisabledDetection>,
) -> Vec<NamedList> {
    let found: Vec<NamedList> = s
        .lists
        .iter()
        .filter_map(|n| {
            let ips = lists.get(n).cloned();
            let asns = asn_lists.get(n).cloned();
            (ips.is_some() || asns.is_some()).then(|| NamedList {
                name: n.clone(),
                ips,
                asns,
            })
        })
        .collect();
    if found.is_empty() && !database && s.enabled {
        let first = s.lists.first().map_or("NAME", String::as_str);
        let names = s
            .lists
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let reason = if d == Detection::AnonymousIp {
            format!(
                "needs IP list {names} (--ip-list {first}=FILE), an ASN list of that name \
                 (--asn-list {first}=FILE with --asn-db FILE) or an anonymous-IP database \
                 (--anonymous-ip-db FILE{})",
                if s.categories.is_empty() {
                    " and a non-empty `categories`"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "needs IP list {names}; give it as --ip-list {first}=FILE (or an ASN list: \
                 --asn-list {first}=FILE with --asn-db FILE)"
            )
        };
        disabled.push(DisabledDetection { id: d.id(), reason });
    }
    found
}

/// The names in `wanted` that `have` holds.
fn present(wanted: &[String], have: impl Fn(&str) -> bool) -> Vec<&str> {
    wanted
        .iter()
        .map(String::as_str)
        .filter(|n| have(n))
        .collect()
}

fn counted_categories(ds: &DetectionSettings) -> Categories {
    ds.categories
        .iter()
        .filter_map(|c| Categories::parse(c))
        .fold(Categories::NONE, Categories::union)
}

/// The start-up line saying what feeds `anonymous-ip`.
fn sources_line(
    s: &Settings,
    has_ip_list: &dyn Fn(&str) -> bool,
    has_asn_list: &dyn Fn(&str) -> bool,
    anonymous_db: Option<&str>,
    asn_db: Option<&str>,
) -> String {
    let d = Detection::AnonymousIp;
    let ds = s.det(d);
    let head = "anonymous-ip sources:";
    if !s.enabled {
        return format!("{head} none (the anomaly engine is disabled by configuration)");
    }
    if !ds.enabled {
        return format!("{head} none (disabled by configuration)");
    }
    let quote = |v: Vec<&str>| {
        v.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let ips = present(&ds.lists, has_ip_list);
    if !ips.is_empty() {
        parts.push(format!("IP lists {}", quote(ips)));
    }
    let asns = present(&ds.lists, has_asn_list);
    if !asns.is_empty() {
        parts.push(format!("ASN lists {}", quote(asns)));
    }
    let counted = counted_categories(ds);
    match anonymous_db {
        Some(db) if !counted.is_empty() => parts.push(format!(
            "anonymous-IP database {db}, categories {}",
            counted.names().collect::<Vec<_>>().join(", ")
        )),
        _ => {}
    }
    if parts.is_empty() {
        let first = ds.lists.first().map_or("anonymous", String::as_str);
        return format!(
            "{head} none, the detection is off (give --ip-list {first}=FILE, --asn-list \
             {first}=FILE with --asn-db FILE, or --anonymous-ip-db FILE)"
        );
    }
    if let Some(db) = asn_db {
        parts.push(format!("ASN database {db} (asn, as_org in the evidence)"));
    }
    format!("{head} {}", parts.join("; "))
}

impl AnomalyConfig {
    /// The start-up line saying which sources feed `anonymous-ip` (IP lists, ASN lists, the
    /// anonymous-IP database), for `check-config` — from the names of the IP and ASN lists
    /// given and the databases' paths, without reading them. The engine logs the same line
    /// ([`AnomalyEngine::anonymous_ip_sources`]).
    pub fn anonymous_ip_sources(
        &self,
        ip_lists: &[&str],
        asn_lists: &[&str],
        anonymous_db: Option<&str>,
        asn_db: Option<&str>,
    ) -> Result<String, AnomalyError> {
        let s = self.resolve()?;
        Ok(sources_line(
            &s,
            &|n| ip_lists.contains(&n),
            &|n| asn_lists.contains(&n),
            anonymous_db,
            asn_db,
        ))
    }
}

impl AnomalyEngine {
    /// Builds the engine. Detections that lack what they need (a GeoIP database, an IP list)
    /// are turned off and listed by [`AnomalyEngine::disabled`]; that is not an error.
    pub fn new(
        config: &AnomalyConfig,
        geo: Option<GeoDb>,
        ip_lists: &IpLists,
        terminated: TerminatedUsers,
    ) -> Result<AnomalyEngine, AnomalyError> {
        let geo = geo.map(|g| Box::new(g) as Box<dyn GeoLookup>);
        Self::with_lookup(config, geo, ip_lists, terminated)
    }

    /// [`AnomalyEngine::new`] with any [`GeoLookup`] (a fake in tests).
    pub fn with_lookup(
        config: &AnomalyConfig,
        geo: Option<Box<dyn GeoLookup>>,
        ip_lists: &IpLists,
        terminated: TerminatedUsers,
    ) -> Result<AnomalyEngine, AnomalyError> {
        Self::with_intel(config, geo, ip_lists, IpIntel::default(), terminated)
    }

    /// [`AnomalyEngine::with_lookup`] with IP intelligence beyond IP lists: an anonymous-IP
    /// database, an ASN database and ASN lists ([`IpIntel`]). ASN lists without an ASN
    /// database are an error.
    pub fn with_intel(
        config: &AnomalyConfig,
        geo: Option<Box<dyn GeoLookup>>,
        ip_lists: &IpLists,
        intel: IpIntel,
        terminated: TerminatedUsers,
    ) -> Result<AnomalyEngine, AnomalyError> {
        let s = config.resolve()?;
        let IpIntel {
            anonymous_db,
            asn_db,
            asn_lists,
        } = intel;
        if !asn_lists.is_empty() && asn_db.is_none() {
            return Err(AnomalyError::Config(format!(
                "ASN lists ({}) need an ASN database: give --asn-list with --asn-db FILE \
                 (detection.asn_lists with detection.asn_db)",
                asn_lists
                    .names()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut disabled = Vec::new();
        let mut on = [false; 11];
        for d in Detection::ALL {
            let ds = s.det(d);
            if !s.enabled {
                disabled.push(DisabledDetection {
                    id: d.id(),
                    reason: "the anomaly engine is disabled by configuration".into(),
                });
                continue;
            }
            if !ds.enabled {
                disabled.push(DisabledDetection {
                    id: d.id(),
                    reason: "disabled by configuration".into(),
                });
                continue;
            }
            on[d.index()] = true;
        }
        let counted = counted_categories(s.det(Detection::AnonymousIp));
        let db_counts = anonymous_db.is_some() && !counted.is_empty();
        let anonymous = lists_for(
            Detection::AnonymousIp,
            s.det(Detection::AnonymousIp),
            ip_lists,
            &asn_lists,
            db_counts,
            &mut disabled,
        );
        let suspicious = lists_for(
            Detection::SuspiciousIp,
            s.det(Detection::SuspiciousIp),
            ip_lists,
            &asn_lists,
            false,
            &mut disabled,
        );
        if anonymous.is_empty() && !db_counts {
            on[Detection::AnonymousIp.index()] = false;
        }
        if suspicious.is_empty() {
            on[Detection::SuspiciousIp.index()] = false;
        }
        let uses_asn = |l: &[NamedList]| l.iter().any(|n| n.asns.is_some());
        let needs_intel = [db_counts || uses_asn(&anonymous), uses_asn(&suspicious)];
        let anonymous_sources = on[Detection::AnonymousIp.index()].then(|| {
            sources_line(
                &s,
                &|n| ip_lists.get(n).is_some(),
                &|n| asn_lists.get(n).is_some(),
                anonymous_db.as_ref().map(AnonymousIpDb::description),
                asn_db.as_ref().map(AsnDb::description),
            )
        });
        if geo.is_none() {
            for d in [Detection::InfrequentCountry, Detection::ImpossibleTravel] {
                if on[d.index()] {
                    on[d.index()] = false;
                    disabled.push(DisabledDetection {
                        id: d.id(),
                        reason: "no GeoIP database; give one with --geoip FILE (a MaxMind-format City .mmdb)".into(),
                    });
                }
            }
        }
        Ok(AnomalyEngine {
            s,
            on,
            disabled,
            geo,
            geo_cache: HashMap::new(),
            anonymous,
            suspicious,
            anonymous_db: if db_counts { anonymous_db } else { None },
            counted,
            asn_db,
            needs_intel,
            intel_cache: HashMap::new(),
            anonymous_sources,
            terminated,
            pending: BTreeMap::new(),
            max_seen: None,
            low_watermark: None,
            last_processed: None,
            principals: HashMap::new(),
            accounts: HashMap::new(),
            source_ips: HashMap::new(),
            terminations: HashMap::new(),
            stats: AnomalyStats::default(),
        })
    }

    /// Detections that will not run, with the reason.
    pub fn disabled(&self) -> &[DisabledDetection] {
        &self.disabled
    }

    /// One line saying which sources feed `anonymous-ip` (IP lists, ASN lists, the
    /// anonymous-IP database and its counted categories, the ASN database), to log at
    /// start-up; `None` when the detection does not run ([`AnomalyEngine::disabled`] says why).
    pub fn anonymous_ip_sources(&self) -> Option<&str> {
        self.anonymous_sources.as_deref()
    }

    pub fn stats(&self) -> &AnomalyStats {
        &self.stats
    }

    /// Principals currently tracked.
    pub fn principals(&self) -> usize {
        self.principals.len()
    }

    /// Events waiting behind the watermark.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The source promises that no event before `t` is still to come (a replay knows it from
    /// the trail's delivery order): the next [`AnomalyEngine::ingest`] processes every held
    /// event up to `t` even when the allowed lateness would hold it longer. Never lowers it.
    pub fn raise_watermark(&mut self, t: i64) {
        self.low_watermark = Some(self.low_watermark.map_or(t, |w| w.max(t)));
    }

    /// Takes one object's events (`source_object` names it, for records without an `eventID`),
    /// and processes every held event the watermark has passed.
    pub fn ingest<E: std::borrow::Borrow<Event>>(
        &mut self,
        events: &[E],
        source_object: &str,
        out: &mut Vec<Alert>,
    ) {
        if !self.s.enabled {
            return;
        }
        for e in events {
            let Some(o) = observe(e.borrow(), source_object) else {
                continue;
            };
            self.stats.events_in += 1;
            if self.last_processed.is_some_and(|l| o.t < l) {
                self.stats.late += 1;
            }
            self.max_seen = Some(self.max_seen.map_or(o.t, |m| m.max(o.t)));
            let k = (o.t, o.id.clone());
            if self.pending.insert(k, Box::new(o)).is_some() {
                self.stats.duplicates += 1;
            }
        }
        if let Some(m) = self.max_seen {
            let mark = m
                .saturating_sub(self.s.allowed_lateness_us)
                .max(self.low_watermark.unwrap_or(i64::MIN));
            while self
                .pending
                .first_key_value()
                .is_some_and(|((t, _), _)| *t <= mark)
            {
                if let Some((_, o)) = self.pending.pop_first() {
                    self.process(*o, out);
                }
            }
        }
        while self.pending.len() > self.s.max_pending_events {
            if let Some((_, o)) = self.pending.pop_first() {
                self.stats.forced += 1;
                self.process(*o, out);
            }
        }
        self.emit_metrics();
    }

    /// Publishes the counters (once per object, never per event; no principal as a label).
    fn emit_metrics(&self) {
        let s = &self.stats;
        metrics::counter!("trailwarden_anomaly_events_total").absolute(s.events_in);
        metrics::counter!("trailwarden_anomaly_late_events_total").absolute(s.late);
        metrics::counter!("trailwarden_anomaly_forced_events_total").absolute(s.forced);
        metrics::counter!("trailwarden_anomaly_alerts_total").absolute(s.alerts);
        metrics::counter!("trailwarden_anomaly_principals_evicted_total")
            .absolute(s.principals_evicted);
        metrics::counter!("trailwarden_anomaly_accounts_evicted_total")
            .absolute(s.accounts_evicted);
        metrics::counter!("trailwarden_anomaly_source_ips_evicted_total")
            .absolute(s.source_ips_evicted);
        metrics::counter!("trailwarden_anomaly_terminations_evicted_total")
            .absolute(s.terminations_evicted);
        metrics::gauge!("trailwarden_anomaly_principals").set(self.principals.len() as f64);
        metrics::gauge!("trailwarden_anomaly_pending_events").set(self.pending.len() as f64);
    }

    /// Processes everything still held (end of a replay, or shutdown).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        while let Some((_, o)) = self.pending.pop_first() {
            self.process(*o, out);
        }
        self.emit_metrics();
    }

    // ---------------------------------------------------------------- snapshot

    /// The whole state (baselines, windows, held events, counters) as versioned JSON bytes.
    /// Deterministic: the same state gives the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        fn sorted<V: Clone>(m: &HashMap<String, V>) -> Vec<(String, V)> {
            let mut v: Vec<(String, V)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        let snap = Snapshot {
            format: SNAPSHOT_FORMAT.to_string(),
            version: SNAPSHOT_VERSION,
            max_seen: self.max_seen,
            last_processed: self.last_processed,
            pending: self.pending.values().map(|o| (**o).clone()).collect(),
            principals: sorted(&self.principals),
            accounts: sorted(&self.accounts),
            source_ips: sorted(&self.source_ips),
            terminations: sorted(&self.terminations),
            stats: self.stats.clone(),
        };
        // Serialising plain data to a Vec cannot fail; an empty snapshot is the safe fallback.
        serde_json::to_vec(&snap).unwrap_or_default()
    }

    /// Replaces the state with a snapshot's. The configuration, lists and database stay those
    /// of this engine; caps apply from the next event on.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), AnomalyError> {
        let snap: Snapshot = serde_json::from_slice(bytes)
            .map_err(|e| AnomalyError::Snapshot(format!("not an anomaly snapshot: {e}")))?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(AnomalyError::Snapshot(format!(
                "format `{}` is not `{SNAPSHOT_FORMAT}`",
                snap.format
            )));
        }
        if snap.version != SNAPSHOT_VERSION {
            return Err(AnomalyError::Snapshot(format!(
                "version {} is not supported (this build reads version {SNAPSHOT_VERSION})",
                snap.version
            )));
        }
        self.max_seen = snap.max_seen;
        self.last_processed = snap.last_processed;
        self.pending = snap
            .pending
            .into_iter()
            .map(|o| ((o.t, o.id.clone()), Box::new(o)))
            .collect();
        self.principals = snap.principals.into_iter().collect();
        self.accounts = snap.accounts.into_iter().collect();
        self.source_ips = snap.source_ips.into_iter().collect();
        self.terminations = snap.terminations.into_iter().collect();
        self.stats = snap.stats;
        Ok(())
    }

    /// Writes [`AnomalyEngine::snapshot`] to `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), AnomalyError> {
        crate::state::write_atomic(path, &self.snapshot())
    }

    /// Restores from a file written by [`AnomalyEngine::save`]; `Ok(false)` when it does not
    /// exist (a first start).
    pub fn load(&mut self, path: &Path) -> Result<bool, AnomalyError> {
        match std::fs::read(path) {
            Ok(b) => self.restore(&b).map(|()| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(AnomalyError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    // ---------------------------------------------------------------- processing

    fn runs(&self, d: Detection, o: &Obs) -> bool {
        self.on[d.index()] && !self.s.detections[d.index()].1.matches(&o.principal, o.ip)
    }

    fn learning_us(&self, d: Detection) -> i64 {
        let days = self.s.det(d).learning_days.unwrap_or(self.s.learning_days);
        i64::from(days).saturating_mul(DAY_US)
    }

    /// Severity and learning flag for an alert of `d`, or `None` to stay quiet.
    fn verdict(&self, d: Detection, first: i64, t: i64) -> Option<(Severity, bool)> {
        let ds = self.s.det(d);
        if t.saturating_sub(first) >= self.learning_us(d) {
            return Some((ds.severity, false));
        }
        match ds.while_learning {
            WhileLearning::Quiet => None,
            WhileLearning::Low => Some((Severity::Low, true)),
            WhileLearning::Threshold => Some((ds.severity, true)),
        }
    }

    fn process(&mut self, o: Obs, out: &mut Vec<Alert>) {
        self.stats.processed += 1;
        self.last_processed = Some(self.last_processed.map_or(o.t, |l| l.max(o.t)));
        if self.s.exclude.matches(&o.principal, o.ip) || o.ptype == "AWSService" {
            return;
        }
        let n0 = out.len();
        self.terminated_user(&o, out);
        let mut st = match self.principals.remove(&o.principal) {
            Some(st) => st,
            None => {
                self.make_room_principals();
                PState::new(o.t)
            }
        };
        st.last = st.last.max(o.t);
        self.ip_lists(&o, &mut st, out);
        self.geo(&o, &mut st, out);
        match o.kind {
            Kind::LoginFailure => {
                self.counted(Detection::FailedLogins, &o, &mut st, 1, out);
                self.spray(&o, out);
            }
            Kind::StorageDelete(n) => {
                self.counted(Detection::MassStorageDeletion, &o, &mut st, n, out)
            }
            Kind::VmTerminate(n) => self.counted(Detection::MassVmDeletion, &o, &mut st, n, out),
            Kind::VmRun(n) => self.counted(Detection::MassVmCreation, &o, &mut st, n, out),
            _ => {}
        }
        self.admin(&o, &mut st, out);
        self.principals.insert(o.principal.clone(), st);
        self.region(&o, out);
        self.stats.alerts += (out.len() - n0) as u64;
    }

    fn make_room_principals(&mut self) {
        let cap = self.s.max_principals;
        if self.principals.len() < cap {
            return;
        }
        let keep = cap - cap / 10 - 1;
        self.stats.principals_evicted += evict(&mut self.principals, keep, |p| p.last) as u64;
    }

    // ---------------------------------------------------------------- alert building

    #[allow(clippy::too_many_arguments)]
    fn alert(
        &self,
        d: Detection,
        severity: Severity,
        o: &Obs,
        principal: Option<&str>,
        evidence: &[&Ev],
        count: u64,
        summary: String,
        mut fields: Map<String, Value>,
        learning: bool,
    ) -> Alert {
        let mut keys: Vec<&str> = Vec::with_capacity(3);
        let p = principal.map(|p| format!("principal:{p}"));
        if let Some(p) = &p {
            keys.push(p);
        }
        let first = evidence.iter().min_by_key(|e| (e.t, &e.key));
        let last = evidence.iter().max_by_key(|e| (e.t, &e.key));
        if let Some(f) = first {
            keys.push(&f.key);
        }
        if let Some(l) = last {
            if first.map(|f| &f.key) != Some(&l.key) {
                keys.push(&l.key);
            }
        }
        let id = alert_id(d.id(), &keys);
        if learning {
            fields.insert("learning".into(), Value::Bool(true));
        }
        let cap = self.s.max_evidence_ids;
        let mut ids: Vec<String> = evidence.iter().map(|e| e.id.clone()).collect();
        if ids.len() > cap {
            // keep the first ones and the latest
            let lastid = ids.pop();
            ids.truncate(cap.saturating_sub(1));
            ids.extend(lastid);
        }
        Alert {
            schema_version: SCHEMA_VERSION,
            id,
            rule_id: d.id().to_string(),
            title: d.title().to_string(),
            severity,
            mitre: d.mitre().iter().map(|s| s.to_string()).collect(),
            account: o.account.clone(),
            region: o.region.clone(),
            principal: principal.map(str::to_string),
            principal_type: principal.map(|_| o.ptype.clone()),
            source_ip: o.source.clone(),
            user_agent: o.ua.clone(),
            first_event_time: format_event_time(first.map_or(o.t, |e| e.t)),
            last_event_time: format_event_time(last.map_or(o.t, |e| e.t)),
            event_ids: ids,
            count,
            summary,
            evidence: fields,
        }
    }

    // ---------------------------------------------------------------- terminated-user

    fn terminated_user(&mut self, o: &Obs, out: &mut Vec<Alert>) {
        let d = Detection::TerminatedUser;
        if !self.on[d.index()] {
            return;
        }
        match &o.kind {
            Kind::Terminates(target) => {
                let cap = self.s.max_terminations;
                if self.terminations.len() >= cap
                    && !self.terminations.contains_key(&target.map_key())
                {
                    let keep = cap - cap / 10 - 1;
                    self.stats.terminations_evicted +=
                        evict(&mut self.terminations, keep, |m| m.t) as u64;
                }
                self.terminations.insert(
                    target.map_key(),
                    TermMark {
                        t: o.t,
                        event_name: o.name.clone(),
                        by: o.principal.clone(),
                        ev: Ev::of(o),
                    },
                );
                return;
            }
            Kind::Restores(target) => {
                self.terminations.remove(&target.map_key());
                return;
            }
            _ => {}
        }
        if !self.runs(d, o) {
            return;
        }
        let ds = self.s.det(d);
        let grace = secs_to_us(ds.grace_secs);
        let mut hit: Option<(&TermMark, &'static str)> = None;
        let mut probes: Vec<(String, &'static str)> =
            vec![(Target::User(o.principal.clone()).map_key(), "user deleted")];
        if o.console {
            probes.push((
                Target::Console(o.principal.clone()).map_key(),
                "console password removed",
            ));
        }
        if let Some(k) = &o.access_key {
            probes.push((
                Target::AccessKey(k.clone()).map_key(),
                "access key deactivated or deleted",
            ));
        }
        for (k, why) in &probes {
            if let Some(m) = self.terminations.get(k) {
                if o.t > m.t.saturating_add(grace) {
                    hit = Some((m, why));
                    break;
                }
            }
        }
        let listed = if hit.is_none() {
            self.terminated.matching(&o.principal, o.t)
        } else {
            None
        };
        if hit.is_none() && listed.is_none() {
            return;
        }
        // one alert per principal per cooldown
        let cd = secs_to_us(ds.cooldown_secs);
        let st = self.principals.get(&o.principal);
        if st.is_some_and(|st| cooling(&st.cools, d.index() as u8, "", o.t)) {
            return;
        }
        let this = Ev::of(o);
        let mut f = Map::new();
        f.insert("eventName".into(), json!(o.name));
        f.insert("eventSource".into(), json!(o.src));
        if let Some(k) = &o.access_key {
            f.insert("accessKeyId".into(), json!(k));
        }
        let alert: Option<Alert> = match (hit, listed) {
            (Some((m, why)), _) => {
                f.insert("reason".into(), json!(why));
                f.insert("terminatedBy".into(), json!(m.event_name));
                f.insert("terminatedByPrincipal".into(), json!(m.by));
                f.insert("terminatedAt".into(), json!(format_event_time(m.t)));
                f.insert("terminationEventId".into(), json!(m.ev.id));
                f.insert(
                    "secondsAfterTermination".into(),
                    json!((o.t - m.t) / 1_000_000),
                );
                f.insert("graceSeconds".into(), json!(ds.grace_secs));
                let summary = format!(
                    "{} called {} {}s after {} ({} by {})",
                    o.principal,
                    o.name,
                    (o.t - m.t) / 1_000_000,
                    m.event_name,
                    why,
                    m.by
                );
                let m_ev = m.ev.clone();
                Some(self.alert(
                    d,
                    ds.severity,
                    o,
                    Some(&o.principal),
                    &[&m_ev, &this],
                    1,
                    summary,
                    f,
                    false,
                ))
            }
            (None, Some(entry)) => {
                f.insert(
                    "reason".into(),
                    json!("listed in the terminated-users file"),
                );
                f.insert("listEntry".into(), json!(entry.text));
                if let Some(s) = entry.since_us {
                    f.insert("terminatedAt".into(), json!(format_event_time(s)));
                }
                let summary = format!(
                    "{} called {}; the user is listed as terminated (`{}`)",
                    o.principal, o.name, entry.text
                );
                Some(self.alert(
                    d,
                    ds.severity,
                    o,
                    Some(&o.principal),
                    &[&this],
                    1,
                    summary,
                    f,
                    false,
                ))
            }
            (None, None) => None,
        };
        if let Some(a) = alert {
            out.push(a);
            let cap = self.s.max_entries_per_principal;
            if let Some(st) = self.principals.get_mut(&o.principal) {
                cool(
                    &mut st.cools,
                    d.index() as u8,
                    "",
                    o.t.saturating_add(cd),
                    o.t,
                    cap,
                );
            } else {
                // a principal first seen now: its state is created right after with the cooldown
                let mut st = PState::new(o.t);
                cool(
                    &mut st.cools,
                    d.index() as u8,
                    "",
                    o.t.saturating_add(cd),
                    o.t,
                    cap,
                );
                self.make_room_principals();
                self.principals.insert(o.principal.clone(), st);
            }
        }
    }

    // ---------------------------------------------------------------- anonymous-ip, suspicious-ip

    /// What the databases say about `ip`, cached per address (bounded like the geo cache).
    fn intel(&mut self, ip: IpAddr) -> Intel {
        if ip.is_loopback() || is_private(ip) {
            return Intel::default();
        }
        if let Some(hit) = self.intel_cache.get(&ip) {
            return hit.clone();
        }
        let found = Intel {
            anon: self
                .anonymous_db
                .as_ref()
                .map_or(Categories::NONE, |db| db.lookup(ip)),
            asn: self
                .asn_db
                .as_ref()
                .and_then(|db| db.lookup(ip))
                .map(std::sync::Arc::new),
        };
        if self.intel_cache.len() >= INTEL_CACHE_CAP {
            self.intel_cache.clear();
        }
        self.intel_cache.insert(ip, found.clone());
        found
    }

    fn ip_lists(&mut self, o: &Obs, st: &mut PState, out: &mut Vec<Alert>) {
        let Some(ip) = o.ip else {
            return;
        };
        if o.via_service {
            return;
        }
        // what the databases say, looked up (once) only when a running detection needs it
        let mut known: Option<Intel> = None;
        for (i, d) in [Detection::AnonymousIp, Detection::SuspiciousIp]
            .into_iter()
            .enumerate()
        {
            if !self.runs(d, o) {
                continue;
            }
            let intel = if self.needs_intel[i] {
                known.get_or_insert_with(|| self.intel(ip)).clone()
            } else {
                Intel::default()
            };
            let asn = intel.asn.as_ref().map(|a| a.number);
            let lists = if d == Detection::AnonymousIp {
                &self.anonymous
            } else {
                &self.suspicious
            };
            let names: Vec<&str> = lists
                .iter()
                .filter(|l| l.matches(ip, asn))
                .map(|l| l.name.as_str())
                .collect();
            let cats = if d == Detection::AnonymousIp {
                intel.anon.intersection(self.counted)
            } else {
                Categories::NONE
            };
            if names.is_empty() && cats.is_empty() {
                continue;
            }
            let what = ip.to_string();
            if cooling(&st.cools, d.index() as u8, &what, o.t) {
                continue;
            }
            let mut all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            all.extend(cats.names().map(|c| format!("anonymous-ip-db:{c}")));
            let on_lists = if names.is_empty() {
                String::new()
            } else {
                format!("which is on the {} list", names.join(", "))
            };
            // evidence: the ASN (when an ASN database is given), the database's categories
            let intel = if self.asn_db.is_some() && !self.needs_intel[i] {
                known.get_or_insert_with(|| self.intel(ip)).clone()
            } else {
                intel
            };
            let ds = self.s.det(d);
            let mut f = Map::new();
            f.insert("ip".into(), json!(what));
            f.insert("lists".into(), json!(all));
            f.insert("eventName".into(), json!(o.name));
            f.insert("cooldownSeconds".into(), json!(ds.cooldown_secs));
            if d == Detection::AnonymousIp && self.anonymous_db.is_some() {
                f.insert(
                    "categories".into(),
                    json!(intel.anon.names().collect::<Vec<_>>()),
                );
            }
            if self.asn_db.is_some() {
                let a = intel.asn.as_deref();
                f.insert("asn".into(), json!(a.map(|a| a.number)));
                f.insert(
                    "as_org".into(),
                    json!(a.and_then(|a| a.organization.as_deref())),
                );
            }
            let mut why = on_lists;
            if !cats.is_empty() {
                if !why.is_empty() {
                    why.push_str(" and ");
                }
                why.push_str("which the anonymous-IP database marks as ");
                why.push_str(&cats.names().collect::<Vec<_>>().join(", "));
            }
            let mut summary = format!("{} called {} from {what}, {why}", o.principal, o.name);
            if let Some(a) = intel.asn.as_deref() {
                summary.push_str(&format!(" (AS{}", a.number));
                if let Some(org) = &a.organization {
                    summary.push_str(&format!(", {org}"));
                }
                summary.push(')');
            }
            let a = self.alert(
                d,
                ds.severity,
                o,
                Some(&o.principal),
                &[&Ev::of(o)],
                1,
                summary,
                f,
                false,
            );
            out.push(a);
            let until = o.t.saturating_add(secs_to_us(ds.cooldown_secs));
            cool(
                &mut st.cools,
                d.index() as u8,
                &what,
                until,
                o.t,
                self.s.max_entries_per_principal,
            );
        }
    }

    // ---------------------------------------------------------------- geo

    fn locate(&mut self, ip: IpAddr) -> Option<std::sync::Arc<GeoLocated>> {
        if let Some(hit) = self.geo_cache.get(&ip) {
            return hit.clone();
        }
        let found = self
            .geo
            .as_ref()
            .and_then(|g| g.lookup(ip))
            .map(std::sync::Arc::new);
        if self.geo_cache.len() >= GEO_CACHE_CAP {
            self.geo_cache.clear();
        }
        self.geo_cache.insert(ip, found.clone());
        found
    }

    fn geo(&mut self, o: &Obs, st: &mut PState, out: &mut Vec<Alert>) {
        let (country_on, travel_on) = (
            self.runs(Detection::InfrequentCountry, o),
            self.runs(Detection::ImpossibleTravel, o),
        );
        let Some(ip) = o.ip else {
            return;
        };
        // a failed sign-in is not the principal's presence somewhere (failed-logins covers it)
        if o.via_service
            || o.kind == Kind::LoginFailure
            || !(country_on || travel_on)
            || ip.is_loopback()
            || is_private(ip)
        {
            return;
        }
        let Some(loc) = self.locate(ip) else {
            return;
        };
        let cap = self.s.max_entries_per_principal;
        if country_on {
            self.infrequent_country(o, st, &loc, out);
        }
        if travel_on {
            self.travel(o, st, ip, &loc, out);
        } else {
            touch(&mut st.ips, &ip, o.t, cap);
        }
    }

    fn infrequent_country(
        &mut self,
        o: &Obs,
        st: &mut PState,
        loc: &GeoLocated,
        out: &mut Vec<Alert>,
    ) {
        let d = Detection::InfrequentCountry;
        let Some(c) = loc.country.as_deref() else {
            return;
        };
        let ds = self.s.det(d);
        let horizon =
            o.t.saturating_sub(i64::from(ds.forget_after_days).saturating_mul(DAY_US));
        st.countries.retain(|(_, last)| *last >= horizon);
        let known = st.countries.iter().any(|(k, _)| k == c);
        if !known {
            if let Some((sev, learning)) = self.verdict(d, st.first, o.t) {
                let mut known_list: Vec<&str> =
                    st.countries.iter().map(|(k, _)| k.as_str()).collect();
                known_list.sort_unstable();
                let mut f = Map::new();
                f.insert("country".into(), json!(c));
                f.insert("city".into(), json!(loc.city));
                f.insert("ip".into(), json!(o.source));
                f.insert("baselineCountries".into(), json!(known_list));
                f.insert("baselineSince".into(), json!(format_event_time(st.first)));
                f.insert("forgetAfterDays".into(), json!(ds.forget_after_days));
                let summary = if known_list.is_empty() {
                    format!(
                        "{} acted from {c}, its first geo-located activity after learning",
                        o.principal
                    )
                } else {
                    format!(
                        "{} acted from {c}; in the last {} days it acted only from {}",
                        o.principal,
                        ds.forget_after_days,
                        known_list.join(", ")
                    )
                };
                let a = self.alert(
                    d,
                    sev,
                    o,
                    Some(&o.principal),
                    &[&Ev::of(o)],
                    1,
                    summary,
                    f,
                    learning,
                );
                out.push(a);
            }
        }
        match st.countries.iter_mut().find(|(k, _)| k == c) {
            Some(e) => e.1 = e.1.max(o.t),
            None => touch(
                &mut st.countries,
                &c.to_string(),
                o.t,
                self.s.max_entries_per_principal,
            ),
        }
    }

    fn travel(
        &mut self,
        o: &Obs,
        st: &mut PState,
        ip: IpAddr,
        loc: &GeoLocated,
        out: &mut Vec<Alert>,
    ) {
        let d = Detection::ImpossibleTravel;
        let ds = self.s.det(d);
        let cap = self.s.max_entries_per_principal;
        let horizon =
            o.t.saturating_sub(i64::from(ds.forget_after_days).saturating_mul(DAY_US));
        st.ips.retain(|(_, last)| *last >= horizon);
        let ip_known = st.ips.iter().any(|(k, _)| *k == ip);
        touch(&mut st.ips, &ip, o.t, cap);
        let Some((lat, lon)) = loc.coords else {
            return;
        };
        if let Some(prev) = st.geo.as_mut().filter(|p| p.ip == ip) {
            // the same address again: only the time and the evidence move on
            prev.t = o.t;
            prev.id.clone_from(&o.id);
            prev.key = o.key();
            return;
        }
        let here = LastGeo {
            t: o.t,
            ip,
            id: o.id.clone(),
            key: o.key(),
            country: loc.country.clone(),
            city: loc.city.clone(),
            lat,
            lon,
            radius_km: loc.accuracy_radius_km,
        };
        let Some(prev) = st.geo.replace(Box::new(here)) else {
            return;
        };
        if prev.ip == ip {
            return;
        }
        let pair = if prev.ip < ip {
            format!("{}|{ip}", prev.ip)
        } else {
            format!("{ip}|{}", prev.ip)
        };
        let seen = st.transitions.contains(&pair);
        if !seen {
            if st.transitions.len() >= cap {
                st.transitions.pop_front();
            }
            st.transitions.push_back(pair);
        }
        if seen || (ds.known_ip_suppresses && ip_known) {
            return;
        }
        let dist = distance_km((prev.lat, prev.lon), (lat, lon));
        let effective = (dist - prev.radius_km - loc.accuracy_radius_km).max(0.0);
        let elapsed_us = o.t.saturating_sub(prev.t).max(0);
        let hours = (elapsed_us.max(1_000_000) as f64) / 3_600_000_000.0;
        let speed = effective / hours;
        if effective <= ds.min_distance_km || speed <= ds.max_speed_kmh {
            return;
        }
        let Some((sev, _)) = self.verdict(d, st.first, o.t) else {
            return;
        };
        let place = |c: &Option<String>, city: &Option<String>| match (city, c) {
            (Some(ci), Some(co)) => format!("{ci}, {co}"),
            (None, Some(co)) => co.clone(),
            (Some(ci), None) => ci.clone(),
            (None, None) => "unknown".to_string(),
        };
        let from = json!({
            "ip": prev.ip.to_string(), "country": prev.country, "city": prev.city,
            "latitude": prev.lat, "longitude": prev.lon, "accuracyRadiusKm": prev.radius_km,
            "time": format_event_time(prev.t), "eventId": prev.id,
        });
        let to = json!({
            "ip": ip.to_string(), "country": loc.country, "city": loc.city,
            "latitude": lat, "longitude": lon, "accuracyRadiusKm": loc.accuracy_radius_km,
            "time": format_event_time(o.t), "eventId": o.id,
        });
        let round = |x: f64| (x * 10.0).round() / 10.0;
        let mut f = Map::new();
        f.insert("from".into(), from);
        f.insert("to".into(), to);
        f.insert("distanceKm".into(), json!(round(dist)));
        f.insert("effectiveDistanceKm".into(), json!(round(effective)));
        f.insert("elapsedSeconds".into(), json!(elapsed_us / 1_000_000));
        f.insert("speedKmh".into(), json!(round(speed)));
        f.insert("maxSpeedKmh".into(), json!(ds.max_speed_kmh));
        f.insert("minDistanceKm".into(), json!(ds.min_distance_km));
        let summary = format!(
            "{} acted from {} and {}s later from {}: {:.0} km (after accuracy radii) at {:.0} km/h",
            o.principal,
            place(&prev.country, &prev.city),
            elapsed_us / 1_000_000,
            place(&loc.country, &loc.city),
            effective,
            speed
        );
        let pev = Ev {
            t: prev.t,
            id: prev.id.clone(),
            key: prev.key.clone(),
        };
        let a = self.alert(
            d,
            sev,
            o,
            Some(&o.principal),
            &[&pev, &Ev::of(o)],
            2,
            summary,
            f,
            false,
        );
        out.push(a);
    }

    // ---------------------------------------------------------------- counted detections

    /// failed-logins, mass-storage-deletion, mass-vm-deletion, mass-vm-creation and the rate
    /// half of unusual-admin-activity: `n` units in a sliding window, compared with the
    /// absolute threshold and with `baseline_multiplier` × the principal's usual daily peak.
    fn counted(&mut self, d: Detection, o: &Obs, st: &mut PState, n: u64, out: &mut Vec<Alert>) {
        if !self.runs(d, o) {
            return;
        }
        let ds = self.s.det(d);
        let window = secs_to_us(ds.window_secs);
        let cap = self.s.max_evidence_ids;
        let first = st.first;
        let c: &mut Counter = st.counter(d.index() as u8);
        let count = c.add(Ev::of(o), n, window, cap);
        let verdict = self.verdict(d, first, o.t);
        let learning = verdict.is_some_and(|(_, l)| l);
        let baseline = if learning {
            0
        } else {
            c.baseline(o.t, ds.baseline_days)
        };
        let limit = ((baseline as f64) * ds.baseline_multiplier).floor() as u64;
        let anomalous = count >= ds.min_count && count > limit;
        // while learning everything is learnt; once mature, an alerting window is not
        if !anomalous || learning {
            c.note_peak(o.t, count, ds.baseline_days);
        }
        if !anomalous {
            return;
        }
        let Some((sev, learning)) = verdict else {
            return;
        };
        let what = d.index().to_string();
        if cooling(&st.cools, d.index() as u8, &what, o.t) {
            return;
        }
        let c: &mut Counter = st.counter(d.index() as u8);
        let evidence: Vec<Ev> = c.evidence.iter().cloned().collect();
        let events = c.events();
        let unit = match d {
            Detection::FailedLogins => "failed sign-ins",
            Detection::MassStorageDeletion => "objects/buckets deleted",
            Detection::MassVmDeletion => "instances terminated",
            Detection::MassVmCreation => "instances launched",
            _ => "administrative writes",
        };
        let window_start = evidence.first().map_or(o.t, |e| e.t);
        let mut f = Map::new();
        f.insert("observed".into(), json!(count));
        f.insert("unit".into(), json!(unit));
        f.insert("events".into(), json!(events));
        f.insert("windowSeconds".into(), json!(ds.window_secs));
        f.insert("windowStart".into(), json!(format_event_time(window_start)));
        f.insert("windowEnd".into(), json!(format_event_time(o.t)));
        f.insert("baselineDailyPeak".into(), json!(baseline));
        f.insert("baselineDays".into(), json!(ds.baseline_days));
        f.insert("baselineMultiplier".into(), json!(ds.baseline_multiplier));
        f.insert("minCount".into(), json!(ds.min_count));
        f.insert(
            "threshold".into(),
            json!(ds.min_count.max(limit.saturating_add(1))),
        );
        let summary = format!(
            "{} had {count} {unit} in {}s (usual peak {baseline}, threshold {})",
            o.principal,
            (o.t - window_start) / 1_000_000,
            ds.min_count.max(limit.saturating_add(1))
        );
        let refs: Vec<&Ev> = evidence.iter().collect();
        let a = self.alert(
            d,
            sev,
            o,
            Some(&o.principal),
            &refs,
            events,
            summary,
            f,
            learning,
        );
        out.push(a);
        let until = o.t.saturating_add(secs_to_us(ds.cooldown_secs));
        cool(
            &mut st.cools,
            d.index() as u8,
            &what,
            until,
            o.t,
            self.s.max_entries_per_principal,
        );
    }

    fn spray(&mut self, o: &Obs, out: &mut Vec<Alert>) {
        let d = Detection::FailedLogins;
        if !self.runs(d, o) {
            return;
        }
        let ds = self.s.det(d);
        if ds.spray_min_users == 0 {
            return;
        }
        let Some(src) = o.source.clone() else {
            return;
        };
        let window = secs_to_us(ds.spray_window_secs);
        if !self.source_ips.contains_key(&src) && self.source_ips.len() >= self.s.max_source_ips {
            let cap = self.s.max_source_ips;
            self.stats.source_ips_evicted +=
                evict(&mut self.source_ips, cap - cap / 10 - 1, |s| s.last) as u64;
        }
        let cap_users = usize::try_from(ds.spray_min_users)
            .unwrap_or(usize::MAX)
            .max(64);
        let ss = self.source_ips.entry(src.clone()).or_default();
        ss.last = ss.last.max(o.t);
        let lo = o.t.saturating_sub(window);
        ss.users.retain(|(_, e)| e.t > lo);
        match ss.users.iter_mut().find(|(u, _)| *u == o.principal) {
            Some(slot) => slot.1 = Ev::of(o),
            None => {
                if ss.users.len() >= cap_users {
                    ss.users.remove(0);
                }
                ss.users.push((o.principal.clone(), Ev::of(o)));
            }
        }
        let distinct = ss.users.len() as u64;
        if distinct < ds.spray_min_users || o.t < ss.cooldown_until {
            return;
        }
        ss.cooldown_until = o.t.saturating_add(window);
        let mut users: Vec<&str> = ss.users.iter().map(|(u, _)| u.as_str()).collect();
        users.sort_unstable();
        let evs: Vec<Ev> = ss.users.iter().map(|(_, e)| e.clone()).collect();
        let mut f = Map::new();
        f.insert("kind".into(), json!("password-spray"));
        f.insert("sourceIp".into(), json!(src));
        f.insert("observed".into(), json!(distinct));
        f.insert("unit".into(), json!("distinct user names failing"));
        f.insert(
            "users".into(),
            json!(users
                .iter()
                .take(self.s.max_evidence_ids)
                .collect::<Vec<_>>()),
        );
        f.insert("windowSeconds".into(), json!(ds.spray_window_secs));
        f.insert("threshold".into(), json!(ds.spray_min_users));
        let summary = format!(
            "{distinct} user names failed to sign in from {src} within {}s",
            ds.spray_window_secs
        );
        let refs: Vec<&Ev> = evs.iter().collect();
        let sev = ds.severity.max(Severity::High);
        let mut a = self.alert(d, sev, o, None, &refs, distinct, summary, f, false);
        // the id of a spray alert is keyed by the source, not a principal
        a.id = alert_id(
            d.id(),
            &[
                &format!("source:{src}"),
                &refs.first().map_or(String::new(), |e| e.key.clone()),
            ],
        );
        a.title = "Password spraying: one source failing against many users".to_string();
        a.mitre = vec!["T1110.003".to_string()];
        out.push(a);
    }

    // ---------------------------------------------------------------- unusual-admin-activity

    fn admin(&mut self, o: &Obs, st: &mut PState, out: &mut Vec<Alert>) {
        let d = Detection::UnusualAdminActivity;
        if o.read_only || o.failed || o.via_service || !self.runs(d, o) {
            return;
        }
        let ds = self.s.det(d);
        if !(ds.event_sources.contains(&o.src) || ds.event_names.contains(&o.name)) {
            return;
        }
        let service = o.src.split('.').next().unwrap_or(&o.src);
        let action = format!("{service}:{}", o.name);
        let horizon =
            o.t.saturating_sub(i64::from(ds.forget_after_days).saturating_mul(DAY_US));
        st.admin.retain(|(_, _, last)| *last >= horizon);
        let cap = self.s.max_entries_per_principal;
        match st.admin.iter_mut().find(|(a, _, _)| *a == action) {
            Some(e) => e.2 = e.2.max(o.t),
            None => {
                if let Some((sev, learning)) = self.verdict(d, st.first, o.t) {
                    let mut known: Vec<&str> =
                        st.admin.iter().map(|(a, _, _)| a.as_str()).collect();
                    known.sort_unstable();
                    let mut f = Map::new();
                    f.insert("kind".into(), json!("new-action"));
                    f.insert("action".into(), json!(action));
                    f.insert("historyDays".into(), json!(ds.forget_after_days));
                    f.insert("baselineSince".into(), json!(format_event_time(st.first)));
                    f.insert("baselineActions".into(), json!(known));
                    f.insert("observed".into(), json!(1));
                    f.insert("baseline".into(), json!(0));
                    let summary = format!(
                        "{} performed {action} for the first time in {} days of history",
                        o.principal, ds.forget_after_days
                    );
                    let mut a = self.alert(
                        d,
                        sev,
                        o,
                        Some(&o.principal),
                        &[&Ev::of(o)],
                        1,
                        summary,
                        f,
                        learning,
                    );
                    a.id = alert_id(
                        d.id(),
                        &[
                            &format!("principal:{}", o.principal),
                            &format!("action:{action}"),
                            &o.key(),
                        ],
                    );
                    out.push(a);
                }
                if st.admin.len() >= cap {
                    if let Some(i) = st
                        .admin
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, e)| e.2)
                        .map(|(i, _)| i)
                    {
                        st.admin.remove(i);
                    }
                }
                st.admin.push((action, o.t, o.t));
            }
        }
        self.counted(d, o, st, 1, out);
    }

    // ---------------------------------------------------------------- unusual-region

    fn region(&mut self, o: &Obs, out: &mut Vec<Alert>) {
        let d = Detection::UnusualRegion;
        if o.read_only || o.failed || o.via_service || !self.runs(d, o) {
            return;
        }
        let Some(region) = o.region.clone() else {
            return;
        };
        let acct = o.account.clone().unwrap_or_else(|| "-".to_string());
        if !self.accounts.contains_key(&acct) && self.accounts.len() >= self.s.max_accounts {
            let cap = self.s.max_accounts;
            self.stats.accounts_evicted +=
                evict(&mut self.accounts, cap - cap / 10 - 1, |a| a.last) as u64;
        }
        let ds = self.s.det(d).clone();
        let verdict_mature = {
            let first = self.accounts.get(&acct).map_or(o.t, |a| a.first);
            self.verdict(d, first, o.t)
        };
        let a = self.accounts.entry(acct.clone()).or_insert_with(|| AState {
            first: o.t,
            last: o.t,
            ..AState::default()
        });
        a.last = a.last.max(o.t);
        let horizon =
            o.t.saturating_sub(i64::from(ds.forget_after_days).saturating_mul(DAY_US));
        a.regions.retain(|(_, last)| *last >= horizon);
        let known = a.regions.iter().any(|(r, _)| *r == region);
        let outside = !ds.allowed_regions.is_empty() && !ds.allowed_regions.contains(&region);
        let mut known_list: Vec<String> = a.regions.iter().map(|(r, _)| r.clone()).collect();
        known_list.sort_unstable();
        let first = a.first;
        touch(&mut a.regions, &region, o.t, 64);
        let fire = if outside {
            Some((ds.severity, false, "outside the allowed regions"))
        } else if !known {
            verdict_mature.map(|(s, l)| (s, l, "never used by the account in its baseline"))
        } else {
            None
        };
        let Some((sev, learning, why)) = fire else {
            return;
        };
        let idx = d.index() as u8;
        if cooling(&a.cools, idx, &region, o.t) {
            return;
        }
        cool(
            &mut a.cools,
            idx,
            &region,
            o.t.saturating_add(secs_to_us(ds.cooldown_secs)),
            o.t,
            64,
        );
        let mut f = Map::new();
        f.insert("region".into(), json!(region));
        f.insert("reason".into(), json!(why));
        f.insert("baselineRegions".into(), json!(known_list));
        f.insert("baselineSince".into(), json!(format_event_time(first)));
        if !ds.allowed_regions.is_empty() {
            f.insert("allowedRegions".into(), json!(ds.allowed_regions));
        }
        f.insert("eventName".into(), json!(o.name));
        let summary = format!(
            "{} called {} in {region}, a region {why} (account {acct})",
            o.principal, o.name
        );
        let mut al = self.alert(
            d,
            sev,
            o,
            Some(&o.principal),
            &[&Ev::of(o)],
            1,
            summary,
            f,
            learning,
        );
        al.id = alert_id(
            d.id(),
            &[
                &format!("account:{acct}"),
                &format!("region:{region}"),
                &o.key(),
            ],
        );
        out.push(al);
    }
}

/// Private, link-local and other non-routable addresses are never geo-located.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private() || a.is_link_local() || a.is_unspecified() || a.is_broadcast()
        }
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            a.is_unspecified() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

/// Evicts the least recently active entries (by `last`, then key) until `keep` remain.
/// Returns how many went. O(n) per call; called when a map is full, and frees a tenth of it.
pub(crate) fn evict<V>(
    map: &mut HashMap<String, V>,
    keep: usize,
    last: impl Fn(&V) -> i64,
) -> usize {
    if map.len() <= keep {
        return 0;
    }
    let n = map.len() - keep;
    let mut order: Vec<(i64, &String)> = map.iter().map(|(k, v)| (last(v), k)).collect();
    order.select_nth_unstable(n - 1);
    let victims: Vec<String> = order[..n].iter().map(|(_, k)| (*k).clone()).collect();
    for k in victims {
        map.remove(&k);
    }
    n
}

impl Detector for AnomalyEngine {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        if let Some(w) = batch.low_watermark {
            self.raise_watermark(w);
        }
        self.ingest(&batch.events, &batch.object.key, out);
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        self.flush(out);
    }
}
