//! Built-in analyzers (`check:`) for what a condition list cannot express: whether an S3 call
//! makes data public, and what a policy document (IAM, KMS, SQS, SNS, Secrets Manager, ECR, S3
//! …) grants. Each analyzer looks only at its own event names (or at the document a rule names)
//! and returns a [`Finding`] saying which grant, statement or flag did it.

use std::ops::Deref;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::condition::glob_match;
use crate::field::{Ctx, Field, Leaf, RawRoot};

/// A named built-in analyzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    S3PublicAcl,
    S3PublicPolicy,
    PublicAccessBlockWeakened,
    PolicyPublic,
    PolicyCrossAccount,
    PolicyAdmin,
    RequestParametersOmitted,
}

/// Analyzer names as written in rules (`-` and `_` are interchangeable).
pub(crate) const CHECKS: &[(&str, Check)] = &[
    ("s3_public_acl", Check::S3PublicAcl),
    ("s3_public_policy", Check::S3PublicPolicy),
    (
        "public_access_block_weakened",
        Check::PublicAccessBlockWeakened,
    ),
    ("policy-public", Check::PolicyPublic),
    ("policy-cross-account", Check::PolicyCrossAccount),
    ("policy-admin", Check::PolicyAdmin),
    (
        "request-parameters-omitted",
        Check::RequestParametersOmitted,
    ),
];

/// An analyzer with its parameters, as a rule uses it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckRun {
    pub check: Check,
    /// Where the policy document is, when the rule says (else the per-event table).
    pub document: Option<(String, Field)>,
    /// Accounts that are not "other" for `policy-cross-account` (besides the event's own).
    pub known_accounts: Vec<String>,
}

impl CheckRun {
    pub(crate) fn run(&self, ctx: &Ctx<'_>) -> Option<Finding> {
        match self.check {
            Check::PolicyPublic | Check::PolicyCrossAccount | Check::PolicyAdmin => {
                let (reason, fields) = policy_check(self, ctx)?;
                Some(Finding {
                    check: self.check.name(),
                    reason,
                    fields,
                })
            }
            other => other.run(ctx),
        }
    }
}

/// What an analyzer found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub check: &'static str,
    /// A short phrase for the summary (`ACL grants AllUsers READ`).
    pub reason: String,
    /// Evidence fields.
    pub fields: Map<String, Value>,
}

impl Check {
    /// By name; `-` and `_` are the same (`policy_public` is `policy-public`).
    pub(crate) fn parse(name: &str) -> Option<Check> {
        let norm = |s: &str| s.replace('_', "-");
        let want = norm(name);
        CHECKS
            .iter()
            .find(|(n, _)| norm(n) == want)
            .map(|(_, c)| *c)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Check::S3PublicAcl => "s3_public_acl",
            Check::S3PublicPolicy => "s3_public_policy",
            Check::PublicAccessBlockWeakened => "public_access_block_weakened",
            Check::PolicyPublic => "policy-public",
            Check::PolicyCrossAccount => "policy-cross-account",
            Check::PolicyAdmin => "policy-admin",
            Check::RequestParametersOmitted => "request-parameters-omitted",
        }
    }

    /// Whether the analyzer takes `document` / `known_accounts` parameters.
    pub(crate) fn reads_documents(self) -> bool {
        matches!(
            self,
            Check::PolicyPublic | Check::PolicyCrossAccount | Check::PolicyAdmin
        )
    }

    /// Runs a parameterless analyzer (the policy analyzers run through [`CheckRun::run`]).
    pub(crate) fn run(self, ctx: &Ctx<'_>) -> Option<Finding> {
        let name = ctx.event.event_name.as_str();
        let params = ctx.raw(RawRoot::RequestParameters);
        let (reason, fields) = match self {
            Check::S3PublicAcl if name == "PutBucketAcl" => public_acl(params?)?,
            Check::S3PublicPolicy if name == "PutBucketPolicy" => public_policy(params?)?,
            Check::PublicAccessBlockWeakened => pab_weakened(name, params)?,
            Check::RequestParametersOmitted => omitted(params?)?,
            Check::PolicyPublic | Check::PolicyCrossAccount | Check::PolicyAdmin => {
                let run = CheckRun {
                    check: self,
                    document: None,
                    known_accounts: Vec::new(),
                };
                policy_check(&run, ctx)?
            }
            _ => return None,
        };
        Some(Finding {
            check: self.name(),
            reason,
            fields,
        })
    }
}

/// The value itself, or each element when it is an array.
fn each(v: &Value) -> impl Iterator<Item = &Value> {
    let (one, many) = match v {
        Value::Array(items) => (None, items.as_slice()),
        other => (Some(other), &[][..]),
    };
    one.into_iter().chain(many.iter())
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.get(s.len() - suffix.len()..)
            .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn public_group(uri: &str) -> Option<&'static str> {
    if ends_with_ci(uri, "/global/AllUsers") {
        Some("AllUsers")
    } else if ends_with_ci(uri, "/global/AuthenticatedUsers") {
        Some("AuthenticatedUsers")
    } else {
        None
    }
}

fn bucket_name(params: &Value) -> &str {
    params
        .get("bucketName")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
        .unwrap_or("unknown")
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// PutBucketAcl: canned `x-amz-acl`, explicit grants in the `AccessControlPolicy` body, and
/// `x-amz-grant-*` headers.
fn public_acl(params: &Value) -> Option<(String, Map<String, Value>)> {
    let obj = params.as_object()?;
    let mut grants: Vec<String> = Vec::new();
    let mut via: Vec<String> = Vec::new();

    if let Some(acl) = obj.get("x-amz-acl") {
        for canned in each(acl).filter_map(Value::as_str) {
            let g: &[&str] = match canned.trim().to_ascii_lowercase().as_str() {
                "public-read" => &["AllUsers READ"],
                "public-read-write" => &["AllUsers READ", "AllUsers WRITE"],
                "authenticated-read" => &["AuthenticatedUsers READ"],
                _ => &[],
            };
            if !g.is_empty() {
                push_unique(&mut via, format!("x-amz-acl: {}", canned.trim()));
            }
            for grant in g {
                push_unique(&mut grants, (*grant).to_string());
            }
        }
    }

    let acl_lists = obj
        .get("AccessControlPolicy")
        .and_then(|p| p.get("AccessControlList"));
    for list in acl_lists.into_iter().flat_map(each) {
        for grant in list.get("Grant").into_iter().flat_map(each) {
            let Some(uri) = grant
                .get("Grantee")
                .and_then(|g| g.get("URI").or_else(|| g.get("uri")))
                .and_then(Value::as_str)
            else {
                continue;
            };
            if let Some(group) = public_group(uri.trim()) {
                let perm = grant
                    .get("Permission")
                    .and_then(Value::as_str)
                    .unwrap_or("UNKNOWN");
                push_unique(&mut grants, format!("{group} {perm}"));
                push_unique(&mut via, "AccessControlPolicy grant".to_string());
            }
        }
    }

    for (key, value) in obj {
        let Some(suffix) = key
            .to_ascii_lowercase()
            .strip_prefix("x-amz-grant-")
            .map(|s| match s {
                "full-control" => "FULL_CONTROL".to_string(),
                other => other.replace('-', "_").to_ascii_uppercase(),
            })
        else {
            continue;
        };
        for text in each(value).filter_map(Value::as_str) {
            for (needle, group) in [
                ("acs.amazonaws.com/groups/global/AllUsers", "AllUsers"),
                (
                    "acs.amazonaws.com/groups/global/AuthenticatedUsers",
                    "AuthenticatedUsers",
                ),
            ] {
                if contains_ci(text, needle) {
                    push_unique(&mut grants, format!("{group} {suffix}"));
                    push_unique(&mut via, key.clone());
                }
            }
        }
    }

    if grants.is_empty() {
        return None;
    }
    let grant = grants.join(", ");
    let mut fields = Map::new();
    fields.insert("grant".into(), Value::String(grant.clone()));
    fields.insert(
        "via".into(),
        Value::Array(via.into_iter().map(Value::String).collect()),
    );
    Some((
        format!("bucket {} ACL grants {grant}", bucket_name(params)),
        fields,
    ))
}

/// `"*"`, `{"AWS": "*"}` or `{"AWS": [..., "*", ...]}`.
fn is_public_principal(p: &Value) -> bool {
    match p {
        Value::String(s) => s.trim() == "*",
        Value::Array(items) => items.iter().any(is_public_principal),
        Value::Object(map) => map
            .get("AWS")
            .is_some_and(|aws| each(aws).any(|v| v.as_str().is_some_and(|s| s.trim() == "*"))),
        _ => false,
    }
}

fn condition_is_empty(st: &Map<String, Value>) -> bool {
    match st.get("Condition") {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.values().all(|v| match v {
            Value::Object(inner) => inner.is_empty(),
            Value::Null => true,
            _ => false,
        }),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// PutBucketPolicy: an `Allow` statement for everyone (`Principal: "*"`, `{"AWS": "*"}`, or
/// `NotPrincipal`) with no or an empty `Condition`.
fn public_policy(params: &Value) -> Option<(String, Map<String, Value>)> {
    let raw = params.get("bucketPolicy")?;
    let parsed;
    let policy = match raw {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        other => other,
    };
    for (i, st) in policy
        .get("Statement")
        .into_iter()
        .flat_map(each)
        .enumerate()
    {
        let Some(st) = st.as_object() else { continue };
        let allow = st
            .get("Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("Allow"));
        if !allow || !condition_is_empty(st) {
            continue;
        }
        let (who, principal) =
            if let Some(p) = st.get("Principal").filter(|p| is_public_principal(p)) {
                ("Principal", p)
            } else if let Some(p) = st.get("NotPrincipal") {
                ("NotPrincipal", p)
            } else {
                continue;
            };
        let sid = st
            .get("Sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{i}"));
        let mut fields = Map::new();
        fields.insert("statement".into(), Value::String(sid.clone()));
        fields.insert(who.to_ascii_lowercase(), principal.clone());
        if let Some(action) = st.get("Action").or_else(|| st.get("NotAction")) {
            fields.insert("action".into(), action.clone());
        }
        fields.insert("condition".into(), Value::Null);
        let bucket = bucket_name(params);
        let reason = if who == "Principal" {
            format!("bucket {bucket} policy statement {sid} allows everyone (Principal *) with no Condition")
        } else {
            format!("bucket {bucket} policy statement {sid} allows everyone except its NotPrincipal, with no Condition")
        };
        return Some((reason, fields));
    }
    None
}

const PAB_FLAGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

fn flag_on(v: Option<&Value>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        Some(_) => Some(false),
        None => None,
    }
}

/// Put/Delete{Bucket,Account}PublicAccessBlock: the block removed, or any of its four flags
/// false. A flag missing from the configuration counts as false (the S3 API default).
fn pab_weakened(name: &str, params: Option<&Value>) -> Option<(String, Map<String, Value>)> {
    let scope = match name {
        "PutBucketPublicAccessBlock" | "DeleteBucketPublicAccessBlock" => "bucket",
        "PutAccountPublicAccessBlock" | "DeleteAccountPublicAccessBlock" => "account",
        _ => return None,
    };
    let mut fields = Map::new();
    fields.insert("scope".into(), Value::String(scope.into()));
    let what = if scope == "bucket" {
        format!("bucket {}", params.map_or("unknown", bucket_name))
    } else {
        "account".to_string()
    };
    if name.starts_with("Delete") {
        fields.insert(
            "public_access_block".into(),
            Value::String("deleted".into()),
        );
        return Some((format!("{what} public access block deleted"), fields));
    }
    let config = params?.get("PublicAccessBlockConfiguration")?.as_object()?;
    let mut off = Vec::new();
    for flag in PAB_FLAGS {
        match flag_on(config.get(flag)) {
            Some(true) => {}
            Some(false) => off.push(format!("{flag}=false")),
            None => off.push(format!("{flag}=missing (false)")),
        }
    }
    if off.is_empty() {
        return None;
    }
    let text = off.join(", ");
    fields.insert(
        "public_access_block".into(),
        Value::String("weakened".into()),
    );
    fields.insert(
        "flags_off".into(),
        Value::Array(off.into_iter().map(Value::String).collect()),
    );
    Some((
        format!("{what} public access block weakened ({text})"),
        fields,
    ))
}

// ---------------------------------------------------------------- policy documents

/// `requestParameters: {"reason": "requestParameters too large", "omitted": true}`: CloudTrail
/// dropped an over-size request. Rules that judge the request must fail closed on it.
fn is_omitted(params: &Value) -> bool {
    match params.get("omitted") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn omitted(params: &Value) -> Option<(String, Map<String, Value>)> {
    if !is_omitted(params) {
        return None;
    }
    let why = params
        .get("reason")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("no reason given");
    let mut fields = Map::new();
    fields.insert("omitted".into(), Value::Bool(true));
    fields.insert("omitted_reason".into(), Value::String(why.to_string()));
    Some((
        format!(
            "requestParameters were omitted by CloudTrail ({why}); the request cannot be checked"
        ),
        fields,
    ))
}

/// Where a call carries its policy document: (eventSource, eventNames, path under
/// `requestParameters`). A string there is JSON text; an object is the document itself.
/// SNS `SetTopicAttributes` carries one only when `attributeName` is `Policy`.
pub(crate) const POLICY_DOCUMENTS: &[(&str, &[&str], &[&str])] = &[
    (
        "iam.amazonaws.com",
        &[
            "PutUserPolicy",
            "PutRolePolicy",
            "PutGroupPolicy",
            "CreatePolicy",
            "CreatePolicyVersion",
            "UpdateAssumeRolePolicy",
        ],
        &["policyDocument"],
    ),
    (
        "iam.amazonaws.com",
        &["CreateRole"],
        &["assumeRolePolicyDocument"],
    ),
    (
        "sts.amazonaws.com",
        &["AssumeRole", "GetFederationToken"],
        &["policy"],
    ),
    (
        "kms.amazonaws.com",
        &["PutKeyPolicy", "CreateKey", "ReplicateKey"],
        &["policy"],
    ),
    (
        "sqs.amazonaws.com",
        &["SetQueueAttributes", "CreateQueue"],
        &["attributes", "Policy"],
    ),
    (
        "sns.amazonaws.com",
        &["SetTopicAttributes"],
        &["attributeValue"],
    ),
    (
        "sns.amazonaws.com",
        &["CreateTopic"],
        &["attributes", "Policy"],
    ),
    (
        "secretsmanager.amazonaws.com",
        &["PutResourcePolicy"],
        &["resourcePolicy"],
    ),
    (
        "ecr.amazonaws.com",
        &["SetRepositoryPolicy", "PutRegistryPolicy"],
        &["policyText"],
    ),
    (
        "ecr-public.amazonaws.com",
        &["SetRepositoryPolicy"],
        &["policyText"],
    ),
    ("s3.amazonaws.com", &["PutBucketPolicy"], &["bucketPolicy"]),
    (
        "glacier.amazonaws.com",
        &["SetVaultAccessPolicy"],
        &["policy", "policy"],
    ),
    (
        "elasticfilesystem.amazonaws.com",
        &["PutFileSystemPolicy"],
        &["policy"],
    ),
    (
        "backup.amazonaws.com",
        &["PutBackupVaultAccessPolicy"],
        &["policy"],
    ),
    (
        "es.amazonaws.com",
        &[
            "CreateElasticsearchDomain",
            "UpdateElasticsearchDomainConfig",
            "CreateDomain",
            "UpdateDomainConfig",
        ],
        &["accessPolicies"],
    ),
];

fn table_path(source: &str, name: &str) -> Option<&'static [&'static str]> {
    POLICY_DOCUMENTS
        .iter()
        .find(|(s, names, _)| *s == source && names.contains(&name))
        .map(|(_, _, path)| *path)
}

/// A policy document: borrowed from the raw field, or decoded from text (cached in the ctx).
enum Doc<'a> {
    Borrowed(&'a Value),
    Decoded(Rc<Value>),
}

impl Deref for Doc<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        match self {
            Doc::Borrowed(v) => v,
            Doc::Decoded(rc) => rc,
        }
    }
}

/// What reading the document gave.
enum Read<'a> {
    /// The event carries no document for this analyzer (not its event, or the field is absent).
    Nothing,
    /// There is a document field but it cannot be judged: omitted parameters, text that is not
    /// JSON. The analyzers fail closed on it.
    Unreadable(String, Map<String, Value>),
    Doc(String, Doc<'a>),
}

impl Read<'_> {
    /// The same reading, holding no borrow (a borrowed document is cloned).
    fn owned(self) -> Read<'static> {
        match self {
            Read::Nothing => Read::Nothing,
            Read::Unreadable(r, f) => Read::Unreadable(r, f),
            Read::Doc(l, Doc::Decoded(rc)) => Read::Doc(l, Doc::Decoded(rc)),
            Read::Doc(l, Doc::Borrowed(v)) => Read::Doc(l, Doc::Decoded(Rc::new(v.clone()))),
        }
    }
}

fn to_doc<'a>(ctx: &Ctx<'_>, label: String, v: &'a Value) -> Read<'a> {
    match v {
        Value::Null => Read::Nothing,
        Value::String(s) if s.trim().is_empty() => Read::Nothing,
        Value::String(_) => match ctx.decode_json(v) {
            Some(d) => Read::Doc(label, Doc::Decoded(d)),
            None => {
                let mut f = Map::new();
                f.insert("document".into(), Value::String(label.clone()));
                Read::Unreadable(
                    format!("{label} is not a JSON policy document; it cannot be checked"),
                    f,
                )
            }
        },
        other => Read::Doc(label, Doc::Borrowed(other)),
    }
}

fn read_document<'a>(run: &CheckRun, ctx: &'a Ctx<'_>) -> Read<'a> {
    let e = ctx.event;
    let params = ctx.raw(RawRoot::RequestParameters);
    let table = table_path(&e.event_source, &e.event_name);
    if run.document.is_none() && table.is_none() {
        return Read::Nothing;
    }
    if let Some(p) = params.filter(|p| is_omitted(p)) {
        if let Some((reason, fields)) = omitted(p) {
            return Read::Unreadable(reason, fields);
        }
    }
    if let Some((label, field)) = &run.document {
        // The first value at the path; an object is cloned (only events that reached the
        // analyzer pay for it), text is decoded through the context's cache.
        let mut found = Read::Nothing;
        ctx.any_leaf(field, &mut |leaf| {
            found = match leaf {
                Leaf::Json(v @ Value::String(_)) => to_doc(ctx, label.clone(), v).owned(),
                Leaf::Json(Value::Null) => Read::Nothing,
                Leaf::Json(v) => Read::Doc(label.clone(), Doc::Decoded(Rc::new(v.clone()))),
                // A typed field (never a document in practice): parsed here, not cached — the
                // cache is keyed by the address of a value the context owns.
                Leaf::Str(s) => match serde_json::from_str::<Value>(s) {
                    Ok(v) if !v.is_null() => Read::Doc(label.clone(), Doc::Decoded(Rc::new(v))),
                    _ => Read::Nothing,
                },
            };
            true
        });
        return found;
    }
    let (Some(path), Some(params)) = (table, params) else {
        return Read::Nothing;
    };
    if e.event_name == "SetTopicAttributes"
        && params.get("attributeName").and_then(Value::as_str) != Some("Policy")
    {
        return Read::Nothing;
    }
    let mut cur = params;
    for seg in path {
        match cur.get(*seg) {
            Some(next) => cur = next,
            None => return Read::Nothing,
        }
    }
    to_doc(ctx, format!("requestParameters.{}", path.join(".")), cur)
}

/// Who a principal element names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    /// `"*"`, `{"AWS": "*"}`, or an ARN with `*` for the account.
    Anyone,
    /// An AWS account (12 digits), from an account id or an ARN; with the ARN when given.
    Account(String, Option<String>),
    Service(String),
    Federated(String),
    /// A canonical user id, a unique id (`AROA…`, left by a deleted principal) or an ARN
    /// without an account (`arn:aws:iam::cloudfront:user/…`).
    Other(String),
}

fn account_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(_), Some(_), Some(acct)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some(acct)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn aws_who(s: &str) -> Who {
    let s = s.trim();
    if s == "*" {
        return Who::Anyone;
    }
    if is_account_id(s) {
        return Who::Account(s.to_string(), None);
    }
    match account_of_arn(s) {
        Some("*") => Who::Anyone,
        Some(a) if is_account_id(a) => Who::Account(a.to_string(), Some(s.to_string())),
        _ => Who::Other(s.to_string()),
    }
}

fn principals(p: &Value, out: &mut Vec<Who>) {
    match p {
        Value::String(s) => out.push(aws_who(s)),
        Value::Array(items) => items.iter().for_each(|i| principals(i, out)),
        Value::Object(map) => {
            for (kind, v) in map {
                for item in each(v) {
                    let Some(text) = item.as_str() else { continue };
                    out.push(match kind.as_str() {
                        "AWS" => aws_who(text),
                        "Service" => Who::Service(text.trim().to_string()),
                        "Federated" => Who::Federated(text.trim().to_string()),
                        _ => Who::Other(text.trim().to_string()),
                    });
                }
            }
        }
        _ => {}
    }
}

/// Texts of a string-or-list element (`Action`, `Resource`).
fn texts(v: Option<&Value>) -> Vec<&str> {
    v.into_iter()
        .flat_map(each)
        .filter_map(Value::as_str)
        .collect()
}

/// Condition keys that, compared for equality with a concrete value, restrict a grant to an
/// organisation, account, network or calling resource.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "kms:calleraccount",
];

/// Operators that restrict when their key is present: equality and pattern matches, not
/// negations, not `…IfExists` (which pass when the key is missing), not `Null`.
fn restricting_operator(op: &str) -> bool {
    let op = op
        .strip_prefix("ForAnyValue:")
        .or_else(|| op.strip_prefix("ForAllValues:"))
        .unwrap_or(op)
        .to_ascii_lowercase();
    !op.ends_with("ifexists")
        && matches!(
            op.as_str(),
            "stringequals"
                | "stringequalsignorecase"
                | "stringlike"
                | "arnequals"
                | "arnlike"
                | "ipaddress"
        )
}

fn wide_value(v: &str) -> bool {
    matches!(v.trim(), "*" | "0.0.0.0/0" | "::/0" | "")
}

/// The condition keys of `cond` for which `wanted` holds, compared with restricting operators
/// and concrete values (a `*` value restricts nothing).
fn condition_keys(cond: Option<&Value>, wanted: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut keys = Vec::new();
    let Some(Value::Object(ops)) = cond else {
        return keys;
    };
    for (op, body) in ops {
        let Value::Object(body) = body else { continue };
        if !restricting_operator(op) {
            continue;
        }
        for (key, v) in body {
            let lower = key.to_ascii_lowercase();
            let vals = texts(Some(v));
            let concrete = !vals.is_empty() && !vals.iter().any(|x| wide_value(x));
            if concrete && wanted(&lower) && !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// A web-identity provider shared by everyone (GitHub, Google, Cognito…) rather than an
/// account's own SAML provider: trusting it without a subject condition trusts anyone with a
/// token.
fn open_federation(provider: &str, cond: Option<&Value>) -> bool {
    if provider.contains(":saml-provider/") {
        return false;
    }
    let p = provider.to_ascii_lowercase();
    let cognito = p.contains("cognito-identity.amazonaws.com");
    condition_keys(cond, &|k| {
        k.ends_with(":sub") || (cognito && k == "cognito-identity.amazonaws.com:aud")
    })
    .is_empty()
}

/// IAM actions that grant control of IAM itself: an `Action` pattern that matches one of them
/// on `Resource: "*"` is an administrator-style grant.
const ADMIN_PROBES: &[&str] = &[
    "iam:passrole",
    "iam:createpolicyversion",
    "iam:setdefaultpolicyversion",
    "iam:attachrolepolicy",
    "iam:attachuserpolicy",
    "iam:attachgrouppolicy",
    "iam:putrolepolicy",
    "iam:putuserpolicy",
    "iam:putgrouppolicy",
    "iam:createaccesskey",
    "iam:updateassumerolepolicy",
    "iam:createloginprofile",
    "iam:updateloginprofile",
    "iam:addusertogroup",
];

fn admin_actions<'a>(actions: &[&'a str]) -> Vec<&'a str> {
    actions
        .iter()
        .filter(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == "*" || ADMIN_PROBES.iter().any(|probe| glob_match(&a, probe))
        })
        .copied()
        .collect()
}

fn statement_fields(
    i: usize,
    st: &Map<String, Value>,
    label: &str,
) -> (String, Map<String, Value>) {
    let sid = st
        .get("Sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("#{i}"));
    let mut f = Map::new();
    f.insert("document".into(), Value::String(label.to_string()));
    f.insert("statement".into(), Value::String(sid.clone()));
    for key in [
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
    ] {
        if let Some(v) = st.get(key) {
            f.insert(key.to_ascii_lowercase(), v.clone());
        }
    }
    f.insert(
        "condition".into(),
        st.get("Condition").cloned().unwrap_or(Value::Null),
    );
    (sid, f)
}

/// `policy-public`, `policy-cross-account`, `policy-admin` over the event's policy document.
fn policy_check(run: &CheckRun, ctx: &Ctx<'_>) -> Option<(String, Map<String, Value>)> {
    let (label, doc) = match read_document(run, ctx) {
        Read::Nothing => return None,
        Read::Unreadable(reason, mut fields) => {
            fields.insert("fail_closed".into(), Value::Bool(true));
            return Some((reason, fields));
        }
        Read::Doc(label, doc) => (label, doc),
    };
    let e = ctx.event;
    let own = e
        .recipient_account_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .or_else(|| e.account());
    for (i, st) in doc.get("Statement").into_iter().flat_map(each).enumerate() {
        let Some(st) = st.as_object() else { continue };
        let allow = st
            .get("Effect")
            .and_then(Value::as_str)
            .is_some_and(|x| x.trim().eq_ignore_ascii_case("Allow"));
        if !allow {
            continue;
        }
        let cond = st.get("Condition");
        match run.check {
            Check::PolicyPublic => {
                let restricted = condition_keys(cond, &|k| RESTRICTING_KEYS.contains(&k));
                if !restricted.is_empty() {
                    continue;
                }
                let mut who = Vec::new();
                if let Some(p) = st.get("Principal") {
                    principals(p, &mut who);
                }
                let why = if st.get("NotPrincipal").is_some() {
                    Some("everyone except its NotPrincipal".to_string())
                } else if who.contains(&Who::Anyone) {
                    Some("everyone (Principal *)".to_string())
                } else {
                    who.iter().find_map(|w| match w {
                        Who::Federated(p) if open_federation(p, cond) => Some(format!(
                            "anyone with a token from {p} (no subject condition)"
                        )),
                        _ => None,
                    })
                };
                let Some(why) = why else { continue };
                let (sid, fields) = statement_fields(i, st, &label);
                return Some((
                    format!("{label} statement {sid} allows {why} without a restricting condition"),
                    fields,
                ));
            }
            Check::PolicyCrossAccount => {
                let mut who = Vec::new();
                if let Some(p) = st.get("Principal") {
                    principals(p, &mut who);
                }
                let mut others: Vec<String> = Vec::new();
                for w in &who {
                    let acct = match w {
                        Who::Account(a, _) => Some(a.as_str()),
                        Who::Federated(arn) => account_of_arn(arn).filter(|a| is_account_id(a)),
                        _ => None,
                    };
                    if let Some(a) = acct {
                        let known = own == Some(a) || run.known_accounts.iter().any(|k| k == a);
                        if !known && !others.iter().any(|o| o == a) {
                            others.push(a.to_string());
                        }
                    }
                }
                if others.is_empty() {
                    continue;
                }
                let (sid, mut fields) = statement_fields(i, st, &label);
                fields.insert(
                    "accounts".into(),
                    Value::Array(others.iter().cloned().map(Value::String).collect()),
                );
                fields.insert(
                    "own_account".into(),
                    own.map_or(Value::Null, |a| Value::String(a.to_string())),
                );
                return Some((
                    format!(
                        "{label} statement {sid} allows account {} (not {})",
                        others.join(", "),
                        own.unwrap_or("this account")
                    ),
                    fields,
                ));
            }
            Check::PolicyAdmin => {
                let resources = texts(st.get("Resource"));
                let every_resource =
                    st.get("NotResource").is_some() || resources.iter().any(|r| r.trim() == "*");
                if !every_resource {
                    continue;
                }
                let what = if let Some(not) = st.get("NotAction") {
                    let excluded = texts(Some(not));
                    if excluded.iter().any(|a| matches!(a.trim(), "*" | "*:*")) {
                        continue;
                    }
                    format!("every action except {}", excluded.join(", "))
                } else {
                    let hits = admin_actions(&texts(st.get("Action")));
                    if hits.is_empty() {
                        continue;
                    }
                    hits.join(", ")
                };
                let (sid, fields) = statement_fields(i, st, &label);
                return Some((
                    format!("{label} statement {sid} allows {what} on every resource"),
                    fields,
                ));
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;
    use serde_json::json;
    use trailwarden_parse::Event;

    fn run(check: Check, name: &str, params: Value) -> Option<Finding> {
        let e = Event {
            event_source: "s3.amazonaws.com".into(),
            event_name: name.into(),
            request_parameters: Some(params.to_string()),
            ..Event::default()
        };
        check.run(&Ctx::new(&e))
    }

    fn grant(name: &str, params: Value) -> Option<String> {
        run(Check::S3PublicAcl, name, params)
            .map(|f| f.fields["grant"].as_str().unwrap().to_string())
    }

    const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
    const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

    #[test]
    fn canned_acls() {
        let p = |acl: Value| json!({"bucketName": "b", "x-amz-acl": acl, "acl": ""});
        assert_eq!(
            grant("PutBucketAcl", p(json!(["public-read"]))).as_deref(),
            Some("AllUsers READ")
        );
        assert_eq!(
            grant("PutBucketAcl", p(json!("public-read-write"))).as_deref(),
            Some("AllUsers READ, AllUsers WRITE")
        );
        assert_eq!(
            grant("PutBucketAcl", p(json!(["authenticated-read"]))).as_deref(),
            Some("AuthenticatedUsers READ")
        );
        assert_eq!(grant("PutBucketAcl", p(json!(["private"]))), None);
        assert_eq!(
            grant("PutBucketAcl", p(json!("bucket-owner-full-control"))),
            None
        );
        assert_eq!(grant("PutBucketAcl", p(json!(null))), None);
        // Other event names are not this analyzer's business.
        assert_eq!(grant("PutObjectAcl", p(json!(["public-read"]))), None);
    }

    #[test]
    fn explicit_grants_object_and_list() {
        let owner = json!({"Grantee": {"xsi:type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"});
        let public =
            json!({"Grantee": {"xsi:type": "Group", "URI": ALL_USERS}, "Permission": "READ"});
        let auth =
            json!({"Grantee": {"xsi:type": "Group", "URI": AUTH_USERS}, "Permission": "WRITE_ACP"});
        let body = |g: Value| {
            json!({"bucketName": "b", "acl": "", "AccessControlPolicy": {
                "Owner": {"ID": "abc"}, "AccessControlList": {"Grant": g},
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}})
        };
        assert_eq!(
            grant("PutBucketAcl", body(public.clone())).as_deref(),
            Some("AllUsers READ")
        );
        assert_eq!(
            grant("PutBucketAcl", body(json!([owner, public, auth]))).as_deref(),
            Some("AllUsers READ, AuthenticatedUsers WRITE_ACP")
        );
        assert_eq!(grant("PutBucketAcl", body(json!([owner]))), None);
        let log_delivery = json!({"Grantee": {"URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"});
        assert_eq!(grant("PutBucketAcl", body(log_delivery)), None);
        assert_eq!(grant("PutBucketAcl", body(json!("garbage"))), None);
        assert_eq!(
            grant("PutBucketAcl", body(json!([1, null, {"Grantee": 3}]))),
            None
        );
    }

    #[test]
    fn grant_headers() {
        let p = json!({"bucketName": "b", "acl": "",
            "x-amz-grant-read": format!("uri={ALL_USERS}"),
            "x-amz-grant-full-control": ["id=abc"]});
        assert_eq!(grant("PutBucketAcl", p).as_deref(), Some("AllUsers READ"));
        let p = json!({"x-amz-grant-write-acp": [format!("id=abc, uri=\"{AUTH_USERS}\"")]});
        assert_eq!(
            grant("PutBucketAcl", p).as_deref(),
            Some("AuthenticatedUsers WRITE_ACP")
        );
        let p = json!({"x-amz-grant-full-control": format!("uri={ALL_USERS}")});
        assert_eq!(
            grant("PutBucketAcl", p).as_deref(),
            Some("AllUsers FULL_CONTROL")
        );
        let p = json!({"x-amz-grant-read": "id=abc"});
        assert_eq!(grant("PutBucketAcl", p), None);
    }

    fn policy(p: Value) -> Option<Finding> {
        run(
            Check::S3PublicPolicy,
            "PutBucketPolicy",
            json!({"bucketName": "b", "policy": [""], "bucketPolicy": p}),
        )
    }

    #[test]
    fn policy_principal_variants() {
        let st = |principal: Value| {
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "Pub", "Effect": "Allow",
                "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
        };
        for p in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
        ] {
            let f = policy(st(p.clone())).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(f.fields["statement"], "Pub");
            assert_eq!(f.fields["principal"], p);
        }
        for p in [
            json!({"AWS": "arn:aws:iam::111122223333:root"}),
            json!({"Service": "logging.s3.amazonaws.com"}),
            json!({"AWS": ["arn:aws:iam::111122223333:root"]}),
            json!(null),
        ] {
            assert!(policy(st(p.clone())).is_none(), "{p}");
        }
    }

    #[test]
    fn policy_statement_object_string_condition_effect() {
        let public = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"});
        // Statement as an object, not a list; no Sid → index.
        let f = policy(json!({"Statement": public})).unwrap();
        assert_eq!(f.fields["statement"], "#0");
        // The whole policy as JSON text.
        let text =
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}, public]})
                .to_string();
        let f = policy(Value::String(text)).unwrap();
        assert_eq!(f.fields["statement"], "#1");
        // A restricting Condition makes it not public; an empty one does not.
        let cond = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}});
        assert!(policy(cond).is_none());
        let empty =
            json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Condition": {}}});
        assert!(policy(empty).is_some());
        // Deny statements never make a bucket public.
        assert!(policy(json!({"Statement": {"Effect": "Deny", "Principal": "*"}})).is_none());
        // Allow with NotPrincipal is everyone-but.
        let f = policy(json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}})).unwrap();
        assert!(f.fields.contains_key("notprincipal"));
        // Broken shapes are quiet, not panics.
        assert!(policy(Value::String("{not json".into())).is_none());
        assert!(policy(json!(42)).is_none());
        assert!(policy(json!({"Statement": [1, "x", null]})).is_none());
        assert!(run(Check::S3PublicPolicy, "PutBucketPolicy", json!("text")).is_none());
    }

    fn pab(name: &str, params: Value) -> Option<Finding> {
        run(Check::PublicAccessBlockWeakened, name, params)
    }

    #[test]
    fn public_access_block_flags() {
        let conf = |a: Value, b: Value, c: Value, d: Value| {
            json!({"bucketName": "b", "publicAccessBlock": "", "PublicAccessBlockConfiguration": {
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "BlockPublicAcls": a, "IgnorePublicAcls": b, "BlockPublicPolicy": c, "RestrictPublicBuckets": d}})
        };
        let t = || json!(true);
        assert!(pab("PutBucketPublicAccessBlock", conf(t(), t(), t(), t())).is_none());
        assert!(pab(
            "PutBucketPublicAccessBlock",
            conf(json!("true"), t(), t(), json!("TRUE"))
        )
        .is_none());
        let f = pab(
            "PutBucketPublicAccessBlock",
            conf(t(), t(), json!(false), t()),
        )
        .unwrap();
        assert_eq!(f.fields["flags_off"], json!(["BlockPublicPolicy=false"]));
        assert_eq!(f.fields["scope"], "bucket");
        let f = pab(
            "PutAccountPublicAccessBlock",
            conf(json!("false"), t(), t(), t()),
        )
        .unwrap();
        assert_eq!(f.fields["flags_off"], json!(["BlockPublicAcls=false"]));
        assert_eq!(f.fields["scope"], "account");
        let partial = json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true}});
        let f = pab("PutBucketPublicAccessBlock", partial).unwrap();
        assert_eq!(
            f.fields["flags_off"],
            json!(["RestrictPublicBuckets=missing (false)"])
        );
        assert!(pab("PutBucketPublicAccessBlock", json!({"bucketName": "b"})).is_none());
        assert!(pab("PutBucketPublicAccessBlock", json!(null)).is_none());
        assert!(pab("PutBucketPolicy", conf(json!(false), t(), t(), t())).is_none());
    }

    #[test]
    fn public_access_block_deleted() {
        let f = pab("DeleteBucketPublicAccessBlock", json!({"bucketName": "b"})).unwrap();
        assert_eq!(f.fields["public_access_block"], "deleted");
        let e = Event {
            event_name: "DeleteAccountPublicAccessBlock".into(),
            ..Event::default()
        };
        let f = Check::PublicAccessBlockWeakened.run(&Ctx::new(&e)).unwrap();
        assert_eq!(f.fields["scope"], "account");
    }

    // ------------------------------------------------------------ policy documents

    fn call(source: &str, name: &str, params: Value) -> Event {
        Event {
            event_source: source.into(),
            event_name: name.into(),
            recipient_account_id: Some("111122223333".into()),
            request_parameters: Some(params.to_string()),
            ..Event::default()
        }
    }

    fn doc(statements: Value) -> String {
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    }

    /// An IAM PutRolePolicy with `statements` as its (text) document.
    fn put_role_policy(statements: Value) -> Event {
        call(
            "iam.amazonaws.com",
            "PutRolePolicy",
            json!({"roleName": "r", "policyName": "p", "policyDocument": doc(statements)}),
        )
    }

    fn finds(check: Check, e: &Event) -> Option<Finding> {
        check.run(&Ctx::new(e))
    }

    #[test]
    fn policy_public_principal_shapes() {
        let st = |p: Value| json!({"Effect": "Allow", "Principal": p, "Action": "sqs:SendMessage"});
        let sqs = |p: Value| {
            call(
                "sqs.amazonaws.com",
                "SetQueueAttributes",
                json!({"queueUrl": "https://sqs/q", "attributes": {"Policy": doc(json!([st(p)]))}}),
            )
        };
        for p in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": ["arn:aws:iam::444455556666:root", "*"]}),
            json!({"AWS": "arn:aws:iam::*:root"}),
            json!(["*"]),
        ] {
            let f = finds(Check::PolicyPublic, &sqs(p.clone())).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(f.fields["principal"], p);
            assert_eq!(f.fields["document"], "requestParameters.attributes.Policy");
            assert!(f.reason.contains("everyone"), "{}", f.reason);
        }
        for p in [
            json!("111122223333"),
            json!({"AWS": "arn:aws:iam::444455556666:role/x"}),
            json!({"Service": "sns.amazonaws.com"}),
            json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}),
            json!({"AWS": "AROAEXAMPLEID"}),
            json!(null),
        ] {
            assert!(finds(Check::PolicyPublic, &sqs(p.clone())).is_none(), "{p}");
        }
        // No Principal at all (an identity policy) is not public.
        let e = put_role_policy(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
        assert!(finds(Check::PolicyPublic, &e).is_none());
        // NotPrincipal with Allow is everyone-but.
        let e = sqs(json!(null));
        assert!(finds(Check::PolicyPublic, &e).is_none());
        let np = call(
            "sqs.amazonaws.com",
            "CreateQueue",
            json!({"queueName": "q", "attributes": {"Policy": doc(json!({"Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sqs:*"}))}}),
        );
        let f = finds(Check::PolicyPublic, &np).unwrap();
        assert!(f.reason.contains("NotPrincipal"), "{}", f.reason);
    }

    #[test]
    fn policy_public_conditions() {
        let with = |cond: Value| {
            call(
                "kms.amazonaws.com",
                "PutKeyPolicy",
                json!({"keyId": "k", "policyName": "default", "policy": doc(json!([
                    {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
                    {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": cond}
                ]))}),
            )
        };
        for restricting in [
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
            json!({"StringEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}}),
            json!({"StringEquals": {"aws:SourceAccount": "111122223333"}}),
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"}}),
            json!({"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}),
            json!({"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "s3.us-east-1.amazonaws.com"}}),
            json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc/r-1/ou-2/*"}}),
        ] {
            assert!(
                finds(Check::PolicyPublic, &with(restricting.clone())).is_none(),
                "{restricting}"
            );
        }
        for open in [
            json!(null),
            json!({}),
            json!({"Bool": {"aws:SecureTransport": "true"}}),
            json!({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}),
            json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
            json!({"StringLike": {"aws:PrincipalOrgID": "*"}}),
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
        ] {
            let f =
                finds(Check::PolicyPublic, &with(open.clone())).unwrap_or_else(|| panic!("{open}"));
            assert_eq!(f.fields["statement"], "Open");
            assert_eq!(f.fields["document"], "requestParameters.policy");
        }
    }

    #[test]
    fn policy_public_federated_trust() {
        let trust = |fed: &str, cond: Value| {
            call(
                "iam.amazonaws.com",
                "CreateRole",
                json!({"roleName": "gh", "assumeRolePolicyDocument": doc(json!({"Effect": "Allow",
                    "Principal": {"Federated": fed}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": cond}))}),
            )
        };
        let gh = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
        let aud_only = json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}});
        let f = finds(Check::PolicyPublic, &trust(gh, aud_only)).unwrap();
        assert!(f.reason.contains("token"), "{}", f.reason);
        assert_eq!(
            f.fields["document"],
            "requestParameters.assumeRolePolicyDocument"
        );
        let sub =
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}});
        assert!(finds(Check::PolicyPublic, &trust(gh, sub)).is_none());
        let saml = "arn:aws:iam::111122223333:saml-provider/Okta";
        assert!(finds(Check::PolicyPublic, &trust(saml, json!(null))).is_none());
        let cognito =
            json!({"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"}});
        assert!(finds(
            Check::PolicyPublic,
            &trust("cognito-identity.amazonaws.com", cognito)
        )
        .is_none());
    }

    #[test]
    fn policy_cross_account() {
        let trust = |p: Value| {
            call(
                "iam.amazonaws.com",
                "UpdateAssumeRolePolicy",
                json!({"roleName": "r", "policyDocument": doc(json!([
                    {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"},
                    {"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"}]))}),
            )
        };
        for (p, acct) in [
            (
                json!({"AWS": "arn:aws:iam::444455556666:root"}),
                "444455556666",
            ),
            (json!({"AWS": "444455556666"}), "444455556666"),
            (
                json!({"AWS": ["arn:aws:iam::111122223333:role/a", "arn:aws:sts::444455556666:assumed-role/x/y"]}),
                "444455556666",
            ),
            (
                json!({"Federated": "arn:aws:iam::444455556666:oidc-provider/x"}),
                "444455556666",
            ),
        ] {
            let f = finds(Check::PolicyCrossAccount, &trust(p.clone()))
                .unwrap_or_else(|| panic!("{p}"));
            assert_eq!(f.fields["accounts"], json!([acct]));
            assert_eq!(f.fields["own_account"], "111122223333");
            assert_eq!(f.fields["statement"], "#1", "the Deny is skipped");
        }
        for p in [
            json!({"AWS": "arn:aws:iam::111122223333:root"}),
            json!({"Service": "ec2.amazonaws.com"}),
            json!("*"),
            json!({"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1"}),
        ] {
            assert!(
                finds(Check::PolicyCrossAccount, &trust(p.clone())).is_none(),
                "{p}"
            );
        }
        // Known accounts are ours too.
        let ctx_event = trust(json!({"AWS": "444455556666"}));
        let run = CheckRun {
            check: Check::PolicyCrossAccount,
            document: None,
            known_accounts: vec!["444455556666".into()],
        };
        assert!(run.run(&Ctx::new(&ctx_event)).is_none());
        // Without recipientAccountId, the caller's account is ours.
        let mut e = trust(json!({"AWS": "111122223333"}));
        e.recipient_account_id = None;
        e.identity.account_id = Some("111122223333".into());
        assert!(finds(Check::PolicyCrossAccount, &e).is_none());
    }

    #[test]
    fn policy_admin() {
        for (st, admin) in [
            (
                json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                true,
            ),
            (
                json!({"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["*"]}),
                true,
            ),
            (
                json!({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}),
                true,
            ),
            (
                json!({"Effect": "Allow", "Action": "IAM:PassRole", "Resource": "*"}),
                true,
            ),
            (
                json!({"Effect": "Allow", "Action": "iam:Put*", "Resource": "*"}),
                true,
            ),
            (
                json!({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}),
                true,
            ),
            (
                json!({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"}),
                true,
            ),
            (
                json!({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}),
                false,
            ),
            (
                json!({"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}),
                false,
            ),
            (
                json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
                false,
            ),
            (
                json!({"Effect": "Deny", "Action": "*", "Resource": "*"}),
                false,
            ),
            (
                json!({"Effect": "Allow", "NotAction": "*", "Resource": "*"}),
                false,
            ),
        ] {
            let got = finds(Check::PolicyAdmin, &put_role_policy(json!([st.clone()])));
            assert_eq!(got.is_some(), admin, "{st}");
        }
        // Statement as a single object; the document as an object (S3 logs it so).
        let s3 = call(
            "s3.amazonaws.com",
            "PutBucketPolicy",
            json!({"bucketName": "b", "bucketPolicy": {"Statement": {"Effect": "Allow",
                "Principal": "*", "Action": "*", "Resource": "*"}}}),
        );
        assert!(finds(Check::PolicyAdmin, &s3).is_some());
        assert!(finds(Check::PolicyPublic, &s3).is_some());
        let f = finds(
            Check::PolicyAdmin,
            &put_role_policy(
                json!({"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}),
            ),
        )
        .unwrap();
        assert_eq!(f.fields["statement"], "All");
        assert_eq!(f.fields["action"], "*");
        assert_eq!(f.fields["resource"], "*");
        assert_eq!(f.fields["condition"], Value::Null);
    }

    #[test]
    fn policy_documents_by_event_and_by_parameter() {
        let st = json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"});
        let cases = [
            (
                "iam.amazonaws.com",
                "CreatePolicyVersion",
                json!({"policyArn": "a", "policyDocument": doc(st.clone())}),
            ),
            (
                "sns.amazonaws.com",
                "SetTopicAttributes",
                json!({"topicArn": "t", "attributeName": "Policy", "attributeValue": doc(st.clone())}),
            ),
            (
                "sns.amazonaws.com",
                "CreateTopic",
                json!({"name": "t", "attributes": {"Policy": doc(st.clone())}}),
            ),
            (
                "secretsmanager.amazonaws.com",
                "PutResourcePolicy",
                json!({"secretId": "s", "resourcePolicy": doc(st.clone())}),
            ),
            (
                "ecr.amazonaws.com",
                "SetRepositoryPolicy",
                json!({"repositoryName": "r", "policyText": doc(st.clone())}),
            ),
            (
                "kms.amazonaws.com",
                "CreateKey",
                json!({"policy": doc(st.clone())}),
            ),
            (
                "s3.amazonaws.com",
                "PutBucketPolicy",
                json!({"bucketName": "b", "bucketPolicy": doc(st.clone())}),
            ),
        ];
        for (src, name, params) in cases {
            let e = call(src, name, params);
            assert!(finds(Check::PolicyPublic, &e).is_some(), "{name}");
            assert!(finds(Check::PolicyAdmin, &e).is_some(), "{name}");
        }
        // SNS attributes other than Policy carry no document.
        let e = call(
            "sns.amazonaws.com",
            "SetTopicAttributes",
            json!({"attributeName": "DisplayName", "attributeValue": "*"}),
        );
        assert!(finds(Check::PolicyPublic, &e).is_none());
        // Not a policy event: nothing, unless the rule names the document.
        let e = call(
            "lambda.amazonaws.com",
            "PutResourcePolicy",
            json!({"policyDoc": doc(st.clone())}),
        );
        assert!(finds(Check::PolicyPublic, &e).is_none());
        let run = CheckRun {
            check: Check::PolicyPublic,
            document: Some((
                "requestParameters.policyDoc".into(),
                Field::parse("requestParameters.policyDoc").unwrap(),
            )),
            known_accounts: Vec::new(),
        };
        let ctx = Ctx::new(&e);
        assert!(run.run(&ctx).is_some());
        // The document is decoded once per event, however many analyzers read it.
        let e = put_role_policy(st.clone());
        let ctx = Ctx::new(&e);
        for c in [
            Check::PolicyPublic,
            Check::PolicyAdmin,
            Check::PolicyCrossAccount,
        ] {
            let _ = c.run(&ctx);
        }
        assert_eq!(ctx.decoded_count(), 1);
        // A document field that is absent: nothing to judge.
        let e = call(
            "kms.amazonaws.com",
            "CreateKey",
            json!({"description": "k"}),
        );
        assert!(finds(Check::PolicyPublic, &e).is_none());
    }

    #[test]
    fn policy_analyzers_fail_closed() {
        let omitted = call(
            "iam.amazonaws.com",
            "PutRolePolicy",
            json!({"reason": "requestParameters too large", "omitted": true}),
        );
        for c in [
            Check::PolicyPublic,
            Check::PolicyCrossAccount,
            Check::PolicyAdmin,
        ] {
            let f = finds(c, &omitted).unwrap_or_else(|| panic!("{c:?}"));
            assert_eq!(f.fields["fail_closed"], true);
            assert_eq!(f.fields["omitted"], true);
            assert!(f.reason.contains("too large"), "{}", f.reason);
        }
        let garbage = call(
            "iam.amazonaws.com",
            "PutRolePolicy",
            json!({"roleName": "r", "policyDocument": "{\"Statement\": [trunc"}),
        );
        let f = finds(Check::PolicyAdmin, &garbage).unwrap();
        assert!(
            f.reason.contains("not a JSON policy document"),
            "{}",
            f.reason
        );
        // Not a policy event: an omitted request is another analyzer's business.
        let other = call(
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"reason": "requestParameters too large", "omitted": true}),
        );
        assert!(finds(Check::PolicyAdmin, &other).is_none());
    }

    #[test]
    fn request_parameters_omitted() {
        for (params, hit) in [
            (
                json!({"reason": "requestParameters too large", "omitted": true}),
                true,
            ),
            (
                json!({"reason": "requestParameters too large", "omitted": "true"}),
                true,
            ),
            (json!({"omitted": false}), false),
            (json!({"roleName": "r"}), false),
            (json!("text"), false),
            (json!(null), false),
        ] {
            let e = call("iam.amazonaws.com", "PutRolePolicy", params.clone());
            let got = finds(Check::RequestParametersOmitted, &e);
            assert_eq!(got.is_some(), hit, "{params}");
            if let Some(f) = got {
                assert_eq!(f.check, "request-parameters-omitted");
                assert_eq!(f.fields["omitted_reason"], "requestParameters too large");
            }
        }
        let e = Event::default();
        assert!(finds(Check::RequestParametersOmitted, &e).is_none());
    }

    #[test]
    fn analyzer_names() {
        assert_eq!(Check::parse("policy-public"), Some(Check::PolicyPublic));
        assert_eq!(Check::parse("policy_public"), Some(Check::PolicyPublic));
        assert_eq!(Check::parse("s3-public-acl"), Some(Check::S3PublicAcl));
        assert_eq!(Check::parse("nope"), None);
        for (name, c) in CHECKS {
            assert_eq!(c.name(), *name);
        }
    }
}
