//! Built-in analyzers (`check:`) for what a condition list cannot express: whether an S3 call
//! makes data public. Each analyzer looks only at its own event names and returns a
//! [`Finding`] saying which grant, statement or flag did it.

use serde_json::{Map, Value};

use crate::field::{Ctx, RawRoot};

/// A named built-in analyzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    S3PublicAcl,
    S3PublicPolicy,
    PublicAccessBlockWeakened,
}

pub(crate) const CHECKS: &[(&str, Check)] = &[
    ("s3_public_acl", Check::S3PublicAcl),
    ("s3_public_policy", Check::S3PublicPolicy),
    (
        "public_access_block_weakened",
        Check::PublicAccessBlockWeakened,
    ),
];

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
    pub(crate) fn parse(name: &str) -> Option<Check> {
        CHECKS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Check::S3PublicAcl => "s3_public_acl",
            Check::S3PublicPolicy => "s3_public_policy",
            Check::PublicAccessBlockWeakened => "public_access_block_weakened",
        }
    }

    pub(crate) fn run(self, ctx: &Ctx<'_>) -> Option<Finding> {
        let name = ctx.event.event_name.as_str();
        let params = ctx.raw(RawRoot::RequestParameters);
        let (reason, fields) = match self {
            Check::S3PublicAcl if name == "PutBucketAcl" => public_acl(params?)?,
            Check::S3PublicPolicy if name == "PutBucketPolicy" => public_policy(params?)?,
            Check::PublicAccessBlockWeakened => pab_weakened(name, params)?,
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
}
