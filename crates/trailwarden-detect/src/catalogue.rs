//! Catalogue metadata: ATT&CK tactics, the v19 technique renames, where a rule's tactic comes
//! from, and `docs/rules.md` generated from the rule files (`trailwarden rules docs`).

use std::fmt::Write as _;

use crate::policy::{Policies, Policy};
use crate::spec::RuleKind;

/// ATT&CK Enterprise tactics as rule directories name them: (slug, id, name), in the
/// kill-chain order `docs/rules.md` uses. v19 (April 2026) renamed TA0005 to *Stealth* and
/// added *Defense Impairment* (TA0112).
pub const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("stealth", "TA0005", "Stealth"),
    ("defense-impairment", "TA0112", "Defense Impairment"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// ATT&CK v18 technique ids that v19 replaced: (old, v19). Rule files may use either; rules
/// store and alerts carry the v19 id.
pub const MITRE_ALIASES: &[(&str, &str)] = &[
    ("T1562", "T1685"),
    // "Impair Defenses: Disable or Modify Tools" is v19's "Disable or Modify Tools".
    ("T1562.001", "T1685"),
    ("T1562.008", "T1685.002"),
    ("T1562.007", "T1686.001"),
    ("T1562.010", "T1689"),
];

/// The tactic of each seed policy (`policies/`, which has no tactic directories).
pub const SEED_TACTICS: &[(&str, &str)] = &[
    ("console-signin-failures", "credential-access"),
    ("cloudtrail-config-change", "defense-impairment"),
    ("ec2-instance-config-change", "stealth"),
    ("iam-policy-change", "persistence"),
    ("risky-ip-logon", "initial-access"),
    ("network-acl-change", "defense-impairment"),
    ("network-gateway-change", "defense-impairment"),
    ("s3-bucket-config-change", "defense-impairment"),
    ("security-group-change", "defense-impairment"),
    ("vpc-change", "defense-impairment"),
    ("s3-bucket-public", "collection"),
];

/// The v19 id for `id` (itself when it was not renamed).
pub fn mitre_v19(id: &str) -> &str {
    MITRE_ALIASES
        .iter()
        .find(|(old, _)| *old == id)
        .map_or(id, |(_, new)| new)
}

/// The older ids that map to `v19` (for documentation: `T1685.002 (T1562.008)`).
pub fn mitre_aliases(v19: &str) -> impl Iterator<Item = &'static str> + '_ {
    MITRE_ALIASES
        .iter()
        .filter(move |(_, new)| *new == v19)
        .map(|(old, _)| *old)
}

/// `(id, name)` of a tactic slug.
pub fn tactic_info(slug: &str) -> Option<(&'static str, &'static str)> {
    TACTICS
        .iter()
        .find(|(s, _, _)| *s == slug)
        .map(|(_, id, name)| (*id, *name))
}

/// A rule's tactic: the directory under `rules/` for a built-in pack rule
/// (`builtin:rules/execution/x.yaml` → `execution`), the seed mapping for a seed policy, else
/// the first tag that is a tactic slug.
pub(crate) fn tactic_for(origin: &str, id: &str, tags: &[String]) -> Option<String> {
    if let Some(rest) = origin.strip_prefix("builtin:rules/") {
        if let Some((dir, _)) = rest.split_once('/') {
            return Some(dir.to_string());
        }
    }
    if origin.starts_with("builtin:policies/") {
        if let Some((_, t)) = SEED_TACTICS.iter().find(|(s, _)| *s == id) {
            return Some((*t).to_string());
        }
    }
    tags.iter().find(|t| tactic_info(t).is_some()).cloned()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// `T1685.002 (T1562.008)`, comma-separated.
pub fn mitre_text(p: &Policy) -> String {
    p.mitre()
        .iter()
        .map(|t| {
            let old: Vec<&str> = mitre_aliases(t).collect();
            if old.is_empty() {
                t.clone()
            } else {
                format!("{t} ({})", old.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn duration(secs: u64) -> String {
    for (unit, n) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= n && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

fn stateful_text(s: &crate::policy::Stateful) -> String {
    let w = duration(s.window_secs);
    match s.kind {
        RuleKind::Event => format!("event, dedup {w}"),
        RuleKind::Threshold => format!("threshold ≥ {} / {w}", s.threshold),
        RuleKind::DistinctCount => format!(
            "distinct-count ≥ {} {} / {w}",
            s.threshold,
            s.distinct.as_deref().unwrap_or("values")
        ),
        RuleKind::Sequence => format!("sequence of {} / {w}", s.steps.len()),
        RuleKind::FirstSeen => format!(
            "first-seen ({})",
            duration(s.first_seen.as_ref().map_or(0, |f| f.baseline_secs))
        ),
    }
}

/// The kind with its figures: `threshold ≥ 5 / 15m`, `sequence of 3 / 30m`,
/// `first-seen (10d)`, `event, dedup 1h`; the detections of a rule with `also` joined by ` + `.
pub fn kind_text(p: &Policy) -> String {
    p.detections()
        .map(|(_, kind, s)| match s {
            Some(s) => stateful_text(s),
            None => kind.as_str().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The command that writes `docs/rules.md` (the staleness test names it).
pub const RULES_DOC_COMMAND: &str = "cargo run -p trailwarden -- rules docs --out docs/rules.md";

/// `docs/rules.md`: every rule of `policies` grouped by tactic (catalogue order, then rules
/// without a known tactic), each with id, title, severity, ATT&CK, kind, test count and
/// description. Deterministic: rules sorted by id within a tactic.
pub fn rules_markdown(policies: &Policies) -> String {
    let mut groups: Vec<(String, Vec<&Policy>)> = Vec::new();
    for p in policies {
        let t = p.tactic().unwrap_or("unclassified").to_string();
        match groups.iter_mut().find(|(g, _)| *g == t) {
            Some((_, list)) => list.push(p),
            None => groups.push((t, vec![p])),
        }
    }
    let rank = |t: &str| {
        TACTICS
            .iter()
            .position(|(s, _, _)| *s == t)
            .unwrap_or(TACTICS.len())
    };
    groups.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
    for (_, list) in &mut groups {
        list.sort_by(|a, b| a.id().cmp(b.id()));
    }
    let heading = |t: &str| match tactic_info(t) {
        Some((id, name)) => format!("{name} ({id})"),
        None => t.to_string(),
    };
    let total = policies.len();
    let tests: usize = policies.iter().map(|p| p.tests().len()).sum();
    let mut md = String::new();
    let _ = writeln!(md, "# Built-in rules");
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "<!-- Generated from the rule files by `trailwarden rules docs`; do not edit. Regenerate with `{RULES_DOC_COMMAND}`. -->"
    );
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "{total} rules with {tests} test cases, grouped by ATT&CK tactic (the rule's directory under `crates/trailwarden-detect/rules/`; the eleven seed policies under `policies/` are mapped). ATT&CK ids are v19; an older id a rule file may use is shown in parentheses. The format and the kinds are in `docs/policies.md`."
    );
    let _ = writeln!(md);
    let _ = writeln!(md, "| tactic | rules |");
    let _ = writeln!(md, "|---|---|");
    for (t, list) in &groups {
        let _ = writeln!(md, "| {} | {} |", heading(t), list.len());
    }
    for (t, list) in &groups {
        let _ = writeln!(md);
        let _ = writeln!(md, "## {}", heading(t));
        let _ = writeln!(md);
        let _ = writeln!(md, "| id | title | severity | ATT&CK | kind | tests |");
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for p in list {
            let _ = writeln!(
                md,
                "| `{}` | {}{} | {} | {} | {} | {} |",
                p.id(),
                cell(p.title()),
                if p.enabled() { "" } else { " (off by default)" },
                p.severity().as_str(),
                mitre_text(p),
                kind_text(p),
                p.tests().len()
            );
        }
        for p in list {
            let _ = writeln!(md);
            let _ = writeln!(md, "### `{}`", p.id());
            let _ = writeln!(md);
            let _ = writeln!(
                md,
                "**{}** — {} · {} · {} · {} tests · `{}`",
                one_line(p.title()),
                p.severity().as_str(),
                mitre_text(p),
                kind_text(p),
                p.tests().len(),
                p.origin().strip_prefix("builtin:").unwrap_or(p.origin())
            );
            let _ = writeln!(md);
            let _ = writeln!(md, "{}", one_line(p.description()));
        }
    }
    md
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;

    #[test]
    fn v19_ids_and_aliases() {
        assert_eq!(mitre_v19("T1562.008"), "T1685.002");
        assert_eq!(mitre_v19("T1562.007"), "T1686.001");
        assert_eq!(mitre_v19("T1562.010"), "T1689");
        assert_eq!(mitre_v19("T1562"), "T1685");
        assert_eq!(mitre_v19("T1098.003"), "T1098.003");
        assert_eq!(
            mitre_aliases("T1685.002").collect::<Vec<_>>(),
            ["T1562.008"]
        );
        assert_eq!(
            mitre_aliases("T1685").collect::<Vec<_>>(),
            ["T1562", "T1562.001"]
        );
    }

    #[test]
    fn tactics_come_from_directories_seeds_and_tags() {
        let none: Vec<String> = Vec::new();
        assert_eq!(
            tactic_for("builtin:rules/execution/x.yaml", "x", &none).as_deref(),
            Some("execution")
        );
        assert_eq!(
            tactic_for("builtin:policies/vpc-change.yaml", "vpc-change", &none).as_deref(),
            Some("defense-impairment")
        );
        let tags = vec!["ec2".to_string(), "impact".to_string()];
        assert_eq!(
            tactic_for("/etc/rules/mine.yaml", "mine", &tags).as_deref(),
            Some("impact")
        );
        assert_eq!(tactic_for("/etc/rules/mine.yaml", "mine", &none), None);
        // Every seed has a known tactic.
        for (_, t) in SEED_TACTICS {
            assert!(tactic_info(t).is_some(), "{t}");
        }
    }
}
