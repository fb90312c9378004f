//! Stratus Red Team coverage: every AWS technique's detonation, replayed through the whole
//! built-in rule pack, raises the rules the catalogue's coverage matrix names for it
//! (`RULE-CATALOGUE.md` §2, column "trailwarden rules").
//!
//! The records are `testdata/stratus/<technique>.json` (and `<technique>.failed.json`, the
//! denied variant, where a named rule counts failed attempts), written by
//! `testdata/stratus/generate.py`; `testdata/stratus/README.md` says how they were made.
//!
//! Each file runs on its own engine, as a replay does: built-in policies, default `[rules]`
//! configuration, [`PackOptions::replay`], every record one object, flush at the end. A named
//! rule must raise at least one alert, windowed rules included, and one that includes a record
//! of the detonation (Stratus's user agent), not only Terraform warm-up records. First-seen
//! rules stay quiet without a mature baseline, so a rule that is first-seen only may be missing
//! (printed, not a failure); every technique must still raise one of its named rules of another
//! kind. The same
//! records with the Stratus user agent replaced by a plain AWS CLI one must give the same rule
//! ids: no rule keys on `stratus-red-team_<uuid>`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (workspace lint policy)

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;
use trailwarden_detect::{EventRef, IpLists, Overrides, Policies, RuleKind, RulesConfig};
use trailwarden_pack::{PackEngine, PackOptions};
use trailwarden_parse::{parse_object, Event, Limits};

/// What every Stratus call carries in its user agent (the detonation's correlation id follows).
const STRATUS_UA_TOKEN: &str = "stratus-red-team_";
/// What replaces it for the user-agent check.
const PLAIN_UA: &str = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64";

/// `instance-credentials-used-outside-aws` is disabled unless an `aws-ip-ranges` list is given
/// (the binary's `--ip-list aws-ip-ranges=FILE`, from ip-ranges.json). A coarse stand-in for
/// it: the fixtures' NAT gateway address (3.87.142.19) is inside, the operator's workstation
/// (203.0.113.45) is not.
const AWS_IP_RANGES: &str = "3.80.0.0/12\n52.0.0.0/11\n54.144.0.0/12\n";

/// Technique (the Stratus id without `aws.`) → the rules the matrix names for it.
const MATRIX: &[(&str, &[&str])] = &[
    (
        "credential-access.ec2-get-password-data",
        &["ec2-password-data-retrieval"],
    ),
    (
        "credential-access.ec2-steal-instance-credentials",
        &[
            "ssm-shell-command-new-principal",
            "instance-credentials-used-outside-aws",
        ],
    ),
    (
        "credential-access.secretsmanager-batch-retrieve-secrets",
        &["secrets-batch-retrieval"],
    ),
    (
        "credential-access.secretsmanager-retrieve-secrets",
        &["secrets-mass-retrieval"],
    ),
    (
        "credential-access.ssm-retrieve-securestring-parameters",
        &["ssm-securestring-mass-decrypt"],
    ),
    (
        "defense-evasion.cloudtrail-delete",
        &["cloudtrail-config-change", "cloudtrail-trail-deleted"],
    ),
    (
        "defense-evasion.cloudtrail-event-selectors",
        &[
            "cloudtrail-config-change",
            "cloudtrail-event-selectors-reduced",
        ],
    ),
    (
        "defense-evasion.cloudtrail-lifecycle-rule",
        &[
            "cloudtrail-bucket-short-lifecycle",
            "s3-bucket-config-change",
        ],
    ),
    (
        "defense-evasion.cloudtrail-stop",
        &["cloudtrail-config-change", "cloudtrail-logging-stopped"],
    ),
    (
        "defense-evasion.dns-delete-logs",
        &["dns-query-logging-deleted"],
    ),
    (
        "defense-evasion.organizations-leave",
        &["organizations-leave"],
    ),
    (
        "defense-evasion.vpc-remove-flow-logs",
        &["vpc-flow-logs-deleted"],
    ),
    ("discovery.ec2-download-user-data", &["ec2-user-data-read"]),
    (
        "discovery.ec2-enumerate-from-instance",
        &[
            "iam-enumeration-burst",
            "account-authorization-details-dump",
            "discovery-burst-multi-service",
            "instance-role-discovery",
            "cloudtrail-log-enumeration",
        ],
    ),
    ("discovery.ses-enumerate", &["ses-enumeration"]),
    (
        "execution.ec2-launch-unusual-instances",
        &["ec2-unusual-instance-type", "ec2-launch-denied-burst"],
    ),
    (
        "execution.ec2-user-data",
        &[
            "ec2-user-data-modified",
            "ec2-stop-modify-userdata-start",
            "ec2-instance-config-change",
        ],
    ),
    (
        "execution.sagemaker-update-lifecycle-config",
        &["sagemaker-lifecycle-injection"],
    ),
    (
        "execution.ssm-send-command",
        &[
            "ssm-send-command-multi-target",
            "ssm-shell-command-new-principal",
        ],
    ),
    (
        "execution.ssm-start-session",
        &["ssm-start-session-multi-target"],
    ),
    (
        "exfiltration.ec2-security-group-open-port-22-ingress",
        &["security-group-change", "security-group-open-to-world"],
    ),
    ("exfiltration.ec2-share-ami", &["ami-shared"]),
    (
        "exfiltration.ec2-share-ebs-snapshot",
        &["ebs-snapshot-shared", "shared-snapshot-used-externally"],
    ),
    ("exfiltration.rds-share-snapshot", &["rds-snapshot-shared"]),
    (
        "exfiltration.s3-backdoor-bucket-policy",
        &["s3-bucket-config-change", "s3-bucket-policy-cross-account"],
    ),
    (
        "impact.bedrock-invoke-model",
        &["llm-model-access-enabled", "llm-invocation-hijack"],
    ),
    ("impact.ec2-deregister-ami", &["ec2-ami-deregistered"]),
    (
        "impact.s3-ransomware-batch-deletion",
        &[
            "s3-mass-object-deletion",
            "s3-ransom-note-upload",
            "s3-ransomware-sequence",
        ],
    ),
    (
        "impact.s3-ransomware-client-side-encryption",
        &[
            "s3-ransom-note-upload",
            "s3-ransomware-sequence",
            "s3-sse-c-encryption",
        ],
    ),
    (
        "impact.s3-ransomware-individual-deletion",
        &[
            "s3-mass-object-deletion",
            "s3-ransom-note-upload",
            "s3-ransomware-sequence",
        ],
    ),
    (
        "initial-access.console-login-without-mfa",
        &["console-login-without-mfa"],
    ),
    (
        "lateral-movement.ec2-instance-connect",
        &["ec2-instance-connect-multi-target"],
    ),
    (
        "lateral-movement.ec2-serial-console-send-ssh-public-key",
        &["ec2-serial-console-enabled", "ec2-serial-console-ssh-key"],
    ),
    (
        "persistence.iam-backdoor-role",
        &["role-trust-policy-backdoor"],
    ),
    (
        "persistence.iam-backdoor-user",
        &["access-key-created-for-other-user"],
    ),
    (
        "persistence.iam-create-admin-user",
        &[
            "iam-principal-created",
            "iam-admin-user-created",
            "access-key-created-for-other-user",
            "iam-policy-change",
            "admin-policy-attached",
        ],
    ),
    (
        "persistence.iam-create-backdoor-role",
        &[
            "role-created-with-external-trust",
            "backdoor-admin-role",
            "iam-policy-change",
            "admin-policy-attached",
        ],
    ),
    (
        "persistence.iam-create-user-login-profile",
        &[
            "login-profile-created",
            "password-reset-then-login",
            "ephemeral-iam-credentials",
        ],
    ),
    (
        "persistence.lambda-backdoor-function",
        &["lambda-permission-external"],
    ),
    (
        "persistence.lambda-layer-extension",
        &["lambda-layer-attached"],
    ),
    (
        "persistence.lambda-overwrite-code",
        &["lambda-code-deployed"],
    ),
    (
        "persistence.rolesanywhere-create-trust-anchor",
        &["roles-anywhere-trust-anchor"],
    ),
    (
        "persistence.sts-federation-token",
        &["federation-token-issued"],
    ),
    (
        "privilege-escalation.iam-update-user-login-profile",
        &[
            "password-reset-then-login",
            "login-profile-updated-for-other-user",
        ],
    ),
];

/// The denied variants (`<technique>.failed.json`) → the named rules whose catalogue condition
/// counts failed attempts (the other named rules require success).
const FAILED: &[(&str, &[&str])] = &[
    (
        "credential-access.secretsmanager-retrieve-secrets",
        &["secrets-mass-retrieval"],
    ),
    (
        "defense-evasion.cloudtrail-delete",
        &["cloudtrail-trail-deleted"],
    ),
    (
        "defense-evasion.cloudtrail-stop",
        &["cloudtrail-logging-stopped"],
    ),
    (
        "discovery.ec2-enumerate-from-instance",
        &["iam-enumeration-burst", "discovery-burst-multi-service"],
    ),
    ("impact.bedrock-invoke-model", &["llm-model-access-enabled"]),
];

/// Matrix entries the documented detonation cannot satisfy: the catalogue's matrix is a
/// prediction, and for these it is wrong (the technique is still caught by another rule the
/// matrix names, which the test requires). Accepted with the reason printed; an entry that
/// starts firing fails the test so the list stays true. Fixtures are never padded to fire them.
/// Keyed by fixture (`technique` or `technique.failed`).
const KNOWN_GAPS: &[(&str, &str, &str)] = &[
    (
        "discovery.ec2-enumerate-from-instance",
        "discovery-burst-multi-service",
        "nine calls allowed: the catalogue's condition needs 15 distinct calls (its `denied` \
         detection catches the shipped, refused run: the .failed fixture)",
    ),
    (
        "execution.ec2-launch-unusual-instances",
        "ec2-launch-denied-burst",
        "Stratus makes one RunInstances call (MaxCount 10); the rule needs 5 failures in 15 min",
    ),
    (
        "persistence.iam-create-user-login-profile",
        "password-reset-then-login",
        "the detonation never signs in (no ConsoleLogin follows)",
    ),
    (
        "privilege-escalation.iam-update-user-login-profile",
        "password-reset-then-login",
        "the detonation never signs in (no ConsoleLogin follows)",
    ),
    (
        "exfiltration.ec2-share-ebs-snapshot",
        "shared-snapshot-used-externally",
        "needs the (fictitious) receiving account to copy the snapshot; nobody does",
    ),
];

fn stratus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stratus")
}

/// One file to check: its name, the rules it must raise.
struct Case {
    file: String,
    expected: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let main = MATRIX.iter().map(|&(t, rules)| Case {
        file: format!("{t}.json"),
        expected: rules,
    });
    let failed = FAILED.iter().map(|&(t, rules)| Case {
        file: format!("{t}.failed.json"),
        expected: rules,
    });
    main.chain(failed).collect()
}

/// The records of a file, optionally with every Stratus user agent replaced by [`PLAIN_UA`].
fn load(case: &Case, plain_ua: bool) -> Vec<Event> {
    let path = stratus_dir().join(&case.file);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run testdata/stratus/generate.py)", path.display()));
    let bytes = if plain_ua {
        let mut doc: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        for r in doc["Records"].as_array_mut().expect("a Records array") {
            if r["userAgent"]
                .as_str()
                .is_some_and(|ua| ua.contains(STRATUS_UA_TOKEN))
            {
                r["userAgent"] = Value::String(PLAIN_UA.to_string());
            }
        }
        serde_json::to_vec(&doc).expect("serialises")
    } else {
        bytes
    };
    let parsed = parse_object(&bytes, &Limits::default());
    assert!(
        parsed.problem.is_none() && parsed.bad_records.is_empty(),
        "{}: {:?} {:?}",
        case.file,
        parsed.problem,
        parsed.bad_records
    );
    assert!(!parsed.events.is_empty(), "{}: no records", case.file);
    parsed.events
}

/// The rules that alert on `events`, replayed as one run of the whole pack: every rule id, and
/// the ids of the alerts that include a record of the detonation itself (`detonation`: the
/// event ids of the records Stratus made, as opposed to its Terraform warm-up).
fn fired(
    policies: &Policies,
    lists: &IpLists,
    overrides: &Overrides,
    file: &str,
    events: &[Event],
    detonation: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut pack = PackEngine::new(policies, lists, overrides, PackOptions::replay())
        .expect("the built-in pack compiles");
    let mut out = Vec::new();
    for e in events {
        // Each record its own object, as files would bring them: plain event rules on the
        // engine, the windowed and first-seen rules in the pack beside it.
        pack.engine().evaluate(
            e,
            EventRef {
                source_object: file,
            },
            &mut out,
        );
        pack.evaluate(&std::sync::Arc::new(e.clone()), file);
        pack.advance(&mut out);
    }
    pack.flush(&mut out);
    let on_detonation = out
        .iter()
        .filter(|a| a.event_ids.iter().any(|id| detonation.contains(id)))
        .map(|a| a.rule_id.clone())
        .collect();
    (out.into_iter().map(|a| a.rule_id).collect(), on_detonation)
}

#[test]
fn stratus_techniques_raise_the_rules_the_matrix_names() {
    let policies = Policies::builtin().expect("built-in rules load");
    let overrides = RulesConfig::default()
        .resolve(&policies)
        .expect("default [rules] configuration");
    let mut lists = IpLists::new();
    lists
        .add_text("aws-ip-ranges", "stratus test stand-in", AWS_IP_RANGES)
        .expect("IP list");
    let disabled: BTreeMap<String, String> =
        PackEngine::new(&policies, &lists, &overrides, PackOptions::replay())
            .expect("the built-in pack compiles")
            .engine()
            .disabled()
            .iter()
            .map(|d| (d.id.clone(), d.reason.clone()))
            .collect();
    let first_seen_only = |id: &str| {
        policies
            .get(id)
            .is_some_and(|p| p.detections().all(|(_, k, _)| k == RuleKind::FirstSeen))
    };
    let gap = |technique: &str, rule: &str| {
        KNOWN_GAPS
            .iter()
            .find(|(t, r, _)| *t == technique && *r == rule)
            .map(|(_, _, why)| *why)
    };

    // Every fixture is in the tables and every table entry has its fixture.
    let cases = cases();
    assert_eq!(MATRIX.len(), 44, "the matrix lists 44 AWS techniques");
    let mut on_disk: BTreeSet<String> = std::fs::read_dir(stratus_dir())
        .expect("testdata/stratus exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".json"))
        .collect();
    for c in &cases {
        assert!(
            on_disk.remove(&c.file),
            "{} is missing: run testdata/stratus/generate.py",
            c.file
        );
    }
    assert!(
        on_disk.is_empty(),
        "fixtures without an entry in the tables: {on_disk:?}"
    );

    let mut failures: Vec<String> = Vec::new();
    let mut missing_rules: BTreeSet<&str> = BTreeSet::new();
    let mut report = String::new();
    for case in &cases {
        let events = load(case, false);
        let detonation: BTreeSet<String> = events
            .iter()
            .filter(|e| {
                e.user_agent
                    .as_deref()
                    .is_some_and(|ua| ua.contains(STRATUS_UA_TOKEN))
            })
            .filter_map(|e| e.event_id.clone())
            .collect();
        assert!(
            !detonation.is_empty(),
            "{}: no record carries the Stratus user agent",
            case.file
        );
        let (all, got) = fired(
            &policies,
            &lists,
            &overrides,
            &case.file,
            &events,
            &detonation,
        );
        let mut problems: Vec<String> = Vec::new();
        let mut accepted: Vec<&str> = Vec::new();
        let mut gaps: Vec<(&str, &str)> = Vec::new();
        let mut other_kind_fired = false;
        for &rule in case.expected {
            if policies.get(rule).is_none() {
                missing_rules.insert(rule);
                problems.push(format!("rule {rule} not in the pack"));
                continue;
            }
            if let Some(reason) = disabled.get(rule) {
                problems.push(format!("rule {rule} does not run: {reason}"));
                continue;
            }
            let fs_only = first_seen_only(rule);
            if got.contains(rule) {
                other_kind_fired |= !fs_only;
                if gap(case.file.trim_end_matches(".json"), rule).is_some() {
                    problems.push(format!(
                        "{rule} fires: remove it from KNOWN_GAPS (and the README's gap list)"
                    ));
                }
            } else if all.contains(rule) {
                problems.push(format!(
                    "{rule} raised alerts on the Terraform warm-up only, not on the detonation"
                ));
            } else if fs_only {
                accepted.push(rule);
            } else if let Some(why) = gap(case.file.trim_end_matches(".json"), rule) {
                gaps.push((rule, why));
            } else {
                problems.push(format!("{rule} raised no alert"));
            }
        }
        if !other_kind_fired {
            problems.push("none of its named rules of a kind other than first-seen fired".into());
        }
        // The same records with a plain user agent: the same rules.
        let (plain, _) = fired(
            &policies,
            &lists,
            &overrides,
            &case.file,
            &load(case, true),
            &detonation,
        );
        if plain != all {
            problems.push(format!(
                "user agent changes the result: with Stratus's {all:?}, with aws-cli {plain:?}"
            ));
        }
        let status = if problems.is_empty() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            report,
            "{status} {}: fired on the detonation {:?}",
            case.file,
            got.iter().collect::<Vec<_>>()
        );
        for rule in &accepted {
            let _ = writeln!(
                report,
                "     {rule}: first-seen only, quiet without a mature baseline (accepted)"
            );
        }
        for (rule, why) in &gaps {
            let _ = writeln!(report, "     {rule}: known gap, accepted: {why}");
        }
        for p in problems {
            let _ = writeln!(report, "     {p}");
            failures.push(format!("({}, {p})", case.file));
        }
    }
    eprintln!("{report}");
    if !missing_rules.is_empty() {
        eprintln!("rules the matrix names that are not in the pack: {missing_rules:?}");
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in the Stratus coverage:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
