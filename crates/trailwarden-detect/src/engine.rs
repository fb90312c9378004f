//! The compiled, indexed evaluator.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trailwarden_alert::{
    alert_id, format_event_time, single_event_key, Alert, Severity, SCHEMA_VERSION,
};
use trailwarden_parse::{Event, IdentityType};

use crate::condition::{glob_match, Exclusion};
use crate::field::Ctx;
use crate::iplist::{IpLists, IpRanges};
use crate::policy::{Policies, Policy};
use crate::spec::{ExclusionSpec, Outcome};
use crate::DetectError;

/// Where an event came from, for alert ids of records without an `eventID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The source object (S3 `bucket/key`, or a local path) the record was read from. The
    /// record's index in that object is [`Event::record_index`].
    pub source_object: &'a str,
}

/// A policy the engine will not run, and why. The binary logs each once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledPolicy {
    pub id: String,
    pub reason: String,
}

/// Deployment-level changes to the policies (from the config file).
///
/// ```toml
/// [[detect.exclude]]                       # applies to every policy
/// principal = "*:role/SecurityAuditScanner"
/// read_only = true
///
/// [detect.policies.vpc-change]
/// enabled = false
///
/// [detect.policies.iam-policy-change]
/// severity = "high"
/// exclude = [{ principal = "*:role/TerraformDeployer" }]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Exclusions applied to every policy.
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
    /// Per-policy changes, by policy id. An id that no loaded policy has is an error.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyOverride>,
}

/// Changes to one policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Turns the policy on or off, whatever its file says.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Replaces the policy's base severity (its `severity_overrides` still apply).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Exclusions added to the policy's own.
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
}

struct Active {
    policy: Policy,
    severity: Severity,
    extra_exclude: Vec<Exclusion>,
}

#[derive(Default)]
struct SourceIndex {
    /// Exact event name → active policy indices.
    exact: HashMap<String, Vec<usize>>,
    /// Policies with glob names for this source: (index, patterns).
    globs: Vec<(usize, Vec<String>)>,
}

/// Compiled policies, indexed by (eventSource, eventName). Immutable after [`Engine::new`];
/// `Send + Sync`, so one engine serves every worker thread.
pub struct Engine {
    active: Vec<Active>,
    index: HashMap<String, SourceIndex>,
    lists: Vec<IpRanges>,
    global_exclude: Vec<Exclusion>,
    disabled: Vec<DisabledPolicy>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "active",
                &self
                    .active
                    .iter()
                    .map(|a| a.policy.id())
                    .collect::<Vec<_>>(),
            )
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

fn compile_exclusions(specs: &[ExclusionSpec], what: &str) -> Result<Vec<Exclusion>, DetectError> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Exclusion::compile(s).map_err(|message| DetectError::Override {
                message: format!("{what}.exclude[{i}]: {message}"),
            })
        })
        .collect()
}

impl Engine {
    /// Compiles `policies` with the given IP lists and overrides.
    ///
    /// A policy is left out (and reported by [`Engine::disabled`]) when it is disabled in its
    /// file or by an override, or when it needs an IP list that `ip_lists` does not have.
    pub fn new(
        policies: &Policies,
        ip_lists: &IpLists,
        overrides: &Overrides,
    ) -> Result<Engine, DetectError> {
        for id in overrides.policies.keys() {
            if policies.get(id).is_none() {
                return Err(DetectError::UnknownPolicy { id: id.clone() });
            }
        }
        let global_exclude = compile_exclusions(&overrides.exclude, "detect")?;
        let mut engine = Engine {
            active: Vec::new(),
            index: HashMap::new(),
            lists: Vec::new(),
            global_exclude,
            disabled: Vec::new(),
        };
        let mut slots: HashMap<String, usize> = HashMap::new();
        for policy in policies {
            let ov = overrides.policies.get(policy.id());
            let enabled = ov.and_then(|o| o.enabled).unwrap_or(policy.enabled());
            if !enabled {
                let reason = if ov.and_then(|o| o.enabled).is_some() {
                    "disabled by configuration"
                } else {
                    "disabled in its policy file (enabled: false)"
                };
                engine.disabled.push(DisabledPolicy {
                    id: policy.id().to_string(),
                    reason: reason.to_string(),
                });
                continue;
            }
            let missing: Vec<&str> = policy
                .required_ip_lists()
                .into_iter()
                .filter(|name| ip_lists.get(name).is_none())
                .collect();
            if !missing.is_empty() {
                let names = missing
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                engine.disabled.push(DisabledPolicy {
                    id: policy.id().to_string(),
                    reason: format!(
                        "needs IP list {names}; give it as {}=FILE",
                        missing.first().copied().unwrap_or("NAME")
                    ),
                });
                continue;
            }
            let mut policy = policy.clone();
            policy.resolve_lists(|name| {
                if let Some(&slot) = slots.get(name) {
                    return slot;
                }
                let slot = engine.lists.len();
                engine
                    .lists
                    .push(ip_lists.get(name).cloned().unwrap_or_default());
                slots.insert(name.to_string(), slot);
                slot
            });
            let extra_exclude = match ov {
                Some(o) => compile_exclusions(&o.exclude, &format!("policies.{}", policy.id()))?,
                None => Vec::new(),
            };
            let severity = ov.and_then(|o| o.severity).unwrap_or(policy.severity());
            let idx = engine.active.len();
            for source in &policy.compiled.sources {
                let entry = engine.index.entry(source.clone()).or_default();
                for name in &policy.compiled.names {
                    let list = entry.exact.entry(name.clone()).or_default();
                    if !list.contains(&idx) {
                        list.push(idx);
                    }
                }
                if !policy.compiled.name_globs.is_empty() {
                    entry.globs.push((idx, policy.compiled.name_globs.clone()));
                }
            }
            engine.active.push(Active {
                policy,
                severity,
                extra_exclude,
            });
        }
        Ok(engine)
    }

    /// Policies that will not run, with the reason (log each once).
    pub fn disabled(&self) -> &[DisabledPolicy] {
        &self.disabled
    }

    /// Ids of the policies that run, in load order.
    pub fn active_ids(&self) -> impl Iterator<Item = &str> {
        self.active.iter().map(|a| a.policy.id())
    }

    /// Evaluates one event against its candidate policies, appending one alert per policy
    /// that fires. Insights events are skipped. Pure: no IO, no clock; never panics.
    ///
    /// The common case (no candidate policy for the event's source and name) is two hash
    /// lookups and no allocation.
    pub fn evaluate(&self, event: &Event, origin: EventRef<'_>, out: &mut Vec<Alert>) {
        if event.is_insight() {
            return;
        }
        let Some(src) = self.index.get(event.event_source.as_str()) else {
            return;
        };
        let exact: &[usize] = src
            .exact
            .get(event.event_name.as_str())
            .map_or(&[], Vec::as_slice);
        if exact.is_empty() && src.globs.is_empty() {
            return;
        }
        let mut ctx: Option<Ctx<'_>> = None;
        for &i in exact {
            self.eval_one(i, ctx.get_or_insert_with(|| Ctx::new(event)), origin, out);
        }
        for (i, patterns) in &src.globs {
            if !exact.contains(i) && patterns.iter().any(|p| glob_match(p, &event.event_name)) {
                self.eval_one(*i, ctx.get_or_insert_with(|| Ctx::new(event)), origin, out);
            }
        }
    }

    fn eval_one(&self, i: usize, ctx: &Ctx<'_>, origin: EventRef<'_>, out: &mut Vec<Alert>) {
        let Some(active) = self.active.get(i) else {
            return;
        };
        let c = &active.policy.compiled;
        let event = ctx.event;
        let passes_outcome = match c.outcome {
            Outcome::Success => !event.failed(),
            Outcome::Failure => event.failed(),
            Outcome::Any => true,
        };
        if !passes_outcome {
            return;
        }
        let lists = self.lists.as_slice();
        if !c.conditions.iter().all(|cond| cond.holds(ctx, lists)) {
            return;
        }
        let excluded = self
            .global_exclude
            .iter()
            .chain(&active.extra_exclude)
            .chain(&c.exclude)
            .any(|x| x.matches(ctx));
        if excluded {
            return;
        }
        let finding = if c.checks.is_empty() {
            None
        } else {
            match c.checks.iter().find_map(|check| check.run(ctx)) {
                Some(f) => Some(f),
                None => return,
            }
        };

        // The policy fires: from here on, allocation is fine.
        let applied = c
            .overrides
            .iter()
            .find(|(when, _)| when.iter().all(|cond| cond.holds(ctx, lists)));
        let severity = applied.map_or(active.severity, |(_, s)| *s);

        let mut evidence = Map::new();
        evidence.insert(
            "eventSource".into(),
            Value::String(event.event_source.clone()),
        );
        evidence.insert("eventName".into(), Value::String(event.event_name.clone()));
        evidence.insert(
            "errorCode".into(),
            event
                .error_code
                .clone()
                .filter(|s| !s.is_empty())
                .map_or(Value::Null, Value::String),
        );
        if let Some(msg) = event.error_message.as_ref().filter(|s| !s.is_empty()) {
            evidence.insert("errorMessage".into(), Value::String(msg.clone()));
        }
        if !c.conditions.is_empty() {
            let mut matched = Map::new();
            for cond in &c.conditions {
                matched.insert(cond.path.clone(), cond.observed(ctx, lists));
            }
            evidence.insert(
                "conditions".into(),
                Value::Array(
                    c.conditions
                        .iter()
                        .map(|cond| Value::String(cond.text.clone()))
                        .collect(),
                ),
            );
            evidence.insert("matched".into(), Value::Object(matched));
        }
        if let Some(f) = &finding {
            evidence.insert("check".into(), Value::String(f.check.to_string()));
            evidence.insert("reason".into(), Value::String(f.reason.clone()));
            for (k, v) in &f.fields {
                evidence.insert(k.clone(), v.clone());
            }
        }
        if let Some((when, _)) = applied {
            evidence.insert(
                "severity_reason".into(),
                Value::Array(
                    when.iter()
                        .map(|cond| Value::String(cond.text.clone()))
                        .collect(),
                ),
            );
        }

        let rule_id = active.policy.id();
        let (key, event_ref) = single_event_key(
            event.event_id.as_deref(),
            origin.source_object,
            event.record_index,
        );
        let time = format_event_time(event.event_time);
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        out.push(Alert {
            schema_version: SCHEMA_VERSION,
            id: alert_id(rule_id, &[&key]),
            rule_id: rule_id.to_string(),
            title: active.policy.title().to_string(),
            severity,
            mitre: active.policy.mitre().to_vec(),
            account: event
                .account()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            region: nonempty(&event.aws_region),
            principal: nonempty(&event.identity.principal),
            principal_type: match &event.identity.kind {
                IdentityType::Missing => None,
                k => Some(k.as_str().to_string()),
            },
            source_ip: nonempty(&event.source_ip_address),
            user_agent: nonempty(&event.user_agent),
            first_event_time: time.clone(),
            last_event_time: time,
            event_ids: vec![event_ref],
            count: 1,
            summary: c
                .summary
                .render(ctx, active.policy.title(), finding.as_ref()),
            evidence,
        });
    }
}
