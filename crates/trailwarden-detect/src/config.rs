//! `[rules]` of the config file: which rules run, their severity and exclusions, by id, tag,
//! tactic or kind — resolved against the loaded rules into the engine's [`Overrides`].
//!
//! ```toml
//! [rules]
//! disable = ["tactic:discovery", "tag:vpc", "vpc-change"]
//! enable = ["discovery-burst-multi-service"]     # wins over `disable`
//! exclude_iac = true                              # Terraform, CloudFormation, CDK… everywhere
//!
//! [[rules.exclude]]                               # every rule
//! principal = "*:role/SecurityAuditScanner"
//! read_only = true
//!
//! [rules.rule.iam-policy-change]
//! severity = "high"
//! exclude = [{ principal = "*:role/TerraformDeployer" }]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trailwarden_alert::Severity;

use crate::condition::glob_match;
use crate::engine::{Overrides, PolicyOverride};
use crate::policy::{check_regions, valid_account, Policies, Policy};
use crate::spec::{ExclusionSpec, RuleKind, Strings};
use crate::DetectError;

/// User agents of infrastructure-as-code tools (case-insensitive substrings), excluded by
/// `exclude_iac`: Terraform and OpenTofu (`APN/1.0 HashiCorp/1.0 Terraform/1.9.5 …
/// terraform-provider-aws/5.x`), CloudFormation (`cloudformation.amazonaws.com`, also what the
/// CDK deploys through), the CDK CLI, Pulumi, Crossplane and Ansible's AWS modules.
pub const IAC_USER_AGENTS: &[&str] = &[
    "Terraform",
    "OpenTofu",
    "cloudformation.amazonaws.com",
    "aws-cdk",
    "Pulumi",
    "crossplane",
    "Ansible/",
];

/// The `[rules]` section: deployment-level changes to the rules, by selector.
///
/// A selector is a rule id (`*` globs allowed: `s3-*`), `tag:NAME`, `tactic:NAME`
/// (`tactic:discovery`), `kind:NAME` (`kind:first-seen`), or `*` (every rule). A selector that
/// selects no loaded rule is an error (a typo would otherwise silently do nothing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Rules switched off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Rules switched on — also rules shipped `enabled: false`; applied after `disable`, so
    /// `disable = ["tactic:discovery"]` with `enable = ["one-rule"]` keeps that one.
    #[serde(default)]
    pub enable: Vec<String>,
    /// Exclusions for every rule (principal globs, user agents, IPs/CIDRs, read-only).
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
    /// Exclude, from every rule, calls made by infrastructure-as-code tools
    /// ([`IAC_USER_AGENTS`]).
    #[serde(default)]
    pub exclude_iac: bool,
    /// The organisation's own accounts and trusted vendors' (12-digit ids): not "unknown" or
    /// "external" for `known_account` conditions and the `policy-cross-account` analyzer.
    #[serde(default)]
    pub known_accounts: Vec<String>,
    /// The regions the organisation works in (`us-east-1`, …), for rules that report activity
    /// elsewhere (`approved_region` conditions). Unset: those rules do not run, and say so at
    /// start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_regions: Option<Vec<String>>,
    /// Per-rule changes, by id; they win over the selectors above.
    #[serde(default)]
    pub rule: BTreeMap<String, RuleConfig>,
}

/// `[rules.rule.<id>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// On or off, whatever the file and the selectors say.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Replaces the base severity (`severity_overrides` still apply).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Exclusions added to the rule's own.
    #[serde(default)]
    pub exclude: Vec<ExclusionSpec>,
    /// Exclude infrastructure-as-code tools from this rule only.
    #[serde(default)]
    pub exclude_iac: bool,
    /// This rule's approved regions instead of `[rules] approved_regions` (only for a rule
    /// with an `approved_region` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_regions: Option<Vec<String>>,
}

fn iac_exclusion() -> ExclusionSpec {
    ExclusionSpec {
        user_agent: Some(Strings(
            IAC_USER_AGENTS.iter().map(|s| (*s).to_string()).collect(),
        )),
        ..ExclusionSpec::default()
    }
}

/// Whether `selector` selects `p`; `Err` for a malformed selector.
fn selects(selector: &str, p: &Policy) -> Result<bool, String> {
    let s = selector.trim();
    if s.is_empty() {
        return Err("an empty selector".into());
    }
    if let Some(tag) = s.strip_prefix("tag:") {
        return Ok(p.tags().iter().any(|t| t == tag));
    }
    if let Some(t) = s.strip_prefix("tactic:") {
        return Ok(p.tactic() == Some(t));
    }
    if let Some(k) = s.strip_prefix("kind:") {
        if !RuleKind::ALL.iter().any(|x| x.as_str() == k) {
            return Err(format!(
                "`{selector}`: unknown kind (event, threshold, distinct-count, sequence, first-seen)"
            ));
        }
        return Ok(p.detections().any(|(_, kind, _)| kind.as_str() == k));
    }
    if s.contains(':') {
        return Err(format!(
            "`{selector}`: a selector is an id, `tag:NAME`, `tactic:NAME`, `kind:NAME` or `*`"
        ));
    }
    Ok(glob_match(s, p.id()))
}

impl RulesConfig {
    /// Resolves the selectors against `policies` into per-rule [`Overrides`] for
    /// [`crate::Engine::new`] and the rule-pack runtime. Errors: a selector that selects no
    /// rule, a `rule.<id>` that is not loaded, a bad exclusion.
    pub fn resolve(&self, policies: &Policies) -> Result<Overrides, DetectError> {
        let bad = |message: String| DetectError::Override {
            message: format!("[rules] {message}"),
        };
        for id in self.rule.keys() {
            if policies.get(id).is_none() {
                return Err(DetectError::UnknownPolicy { id: id.clone() });
            }
        }
        if let Some(wrong) = self.known_accounts.iter().find(|a| !valid_account(a)) {
            return Err(bad(format!(
                "known_accounts: `{wrong}` is not a 12-digit account id"
            )));
        }
        if let Some(list) = &self.approved_regions {
            check_regions(list, "approved_regions").map_err(bad)?;
        }
        for (id, rc) in &self.rule {
            if let Some(list) = &rc.approved_regions {
                let at = format!("rule.{id}.approved_regions");
                check_regions(list, &at).map_err(bad)?;
                if !policies.get(id).is_some_and(Policy::needs_approved_regions) {
                    return Err(bad(format!(
                        "{at}: rule `{id}` has no `approved_region` condition (approved regions are for rules that test them)"
                    )));
                }
            }
        }
        let mut out = Overrides {
            exclude: self.exclude.clone(),
            known_accounts: self.known_accounts.clone(),
            approved_regions: self.approved_regions.clone(),
            ..Overrides::default()
        };
        if self.exclude_iac {
            out.exclude.push(iac_exclusion());
        }
        let mut enabled: BTreeMap<String, bool> = BTreeMap::new();
        for (key, list, on) in [
            ("disable", &self.disable, false),
            ("enable", &self.enable, true),
        ] {
            for sel in list {
                let mut hit = false;
                for p in policies {
                    if selects(sel, p).map_err(|e| bad(format!("{key}: {e}")))? {
                        hit = true;
                        enabled.insert(p.id().to_string(), on);
                    }
                }
                if !hit {
                    return Err(bad(format!("{key}: `{sel}` selects no loaded rule")));
                }
            }
        }
        for p in policies {
            let id = p.id();
            let rc = self.rule.get(id);
            let on = rc
                .and_then(|r| r.enabled)
                .or_else(|| enabled.get(id).copied());
            let mut exclude = rc.map(|r| r.exclude.clone()).unwrap_or_default();
            if rc.is_some_and(|r| r.exclude_iac) {
                exclude.push(iac_exclusion());
            }
            let severity = rc.and_then(|r| r.severity);
            let approved_regions = rc.and_then(|r| r.approved_regions.clone());
            if on.is_some()
                || severity.is_some()
                || !exclude.is_empty()
                || approved_regions.is_some()
            {
                out.policies.insert(
                    id.to_string(),
                    PolicyOverride {
                        enabled: on,
                        severity,
                        exclude,
                        approved_regions,
                    },
                );
            }
        }
        Ok(out)
    }
}
