//! [`Obs`]: the part of an [`Event`] the detections use, extracted once when the event arrives
//! (raw JSON members are read here, only for the few event names that need them). It is what
//! waits behind the watermark and what a snapshot stores, so it is small and serialisable.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailwarden_parse::{Event, IdentityType};

/// What an event means to the detections beyond its identity and address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Kind {
    Plain,
    /// A failed console (or other interactive) sign-in.
    LoginFailure,
    /// S3 DeleteObject / DeleteObjects / DeleteBucket; the number of objects the request shows
    /// (1 when it shows none).
    StorageDelete(u64),
    /// TerminateInstances with the number of instances in the request.
    VmTerminate(u64),
    /// RunInstances with the number of instances launched.
    VmRun(u64),
    /// A user (or one of its credentials) was deleted or disabled.
    Terminates(Target),
    /// The opposite: re-created, login profile created, key re-activated.
    Restores(Target),
}

/// What a termination applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Target {
    /// Every activity of this principal key (DeleteUser).
    User(String),
    /// Console activity of this principal key (DeleteLoginProfile).
    Console(String),
    /// Activity with this access key id (UpdateAccessKey Inactive, DeleteAccessKey).
    AccessKey(String),
}

impl Target {
    pub(crate) fn map_key(&self) -> String {
        match self {
            Target::User(k) => format!("user:{k}"),
            Target::Console(k) => format!("console:{k}"),
            Target::AccessKey(k) => format!("key:{k}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Obs {
    pub t: i64,
    /// `eventID`, else `OBJECT#INDEX`.
    pub id: String,
    pub has_event_id: bool,
    pub principal: String,
    pub ptype: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    pub ip: Option<IpAddr>,
    pub ua: Option<String>,
    pub access_key: Option<String>,
    /// A console session or a console sign-in.
    pub console: bool,
    /// A service acting for the principal (`invokedBy`), or an AWS service itself.
    pub via_service: bool,
    pub src: String,
    pub name: String,
    pub failed: bool,
    pub read_only: bool,
    pub kind: Kind,
}

impl Obs {
    /// The evidence key for [`trailwarden_alert::alert_id`].
    pub(crate) fn key(&self) -> String {
        if self.has_event_id {
            format!("event:{}", self.id)
        } else {
            format!("object:{}", self.id)
        }
    }
}

/// Read-only by name when CloudTrail does not say.
fn read_only_name(name: &str) -> bool {
    [
        "Describe",
        "List",
        "Get",
        "Head",
        "Lookup",
        "Search",
        "Batch Get",
        "Check",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn json(raw: Option<&str>) -> Option<Value> {
    serde_json::from_str(raw?).ok()
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

/// A case-insensitive member lookup (S3 request shapes vary: `delete`/`Delete`).
fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn items_len(v: Option<&Value>) -> Option<u64> {
    let items = get(v?, &["instancesSet", "items"])?.as_array()?;
    Some(items.len() as u64)
}

fn num(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn user_key(account: Option<&str>, user: &str) -> String {
    format!("{}:user/{user}", account.unwrap_or("-"))
}

/// The target user of an IAM call: `requestParameters.userName`, else the caller when it is an
/// IAM user (the call applies to the caller's own user then).
fn target_user(e: &Event, req: Option<&Value>, principal: &str) -> Option<String> {
    let acct = e.account();
    match req
        .and_then(|r| r.get("userName"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(u) => Some(user_key(acct, u)),
        None => (e.identity.kind == IdentityType::IamUser).then(|| principal.to_string()),
    }
}

fn classify(e: &Event, principal: &str) -> Kind {
    let name = e.event_name.as_str();
    match (e.event_source.as_str(), name) {
        ("signin.amazonaws.com", "ConsoleLogin") => {
            let res = json(e.response_elements.as_deref());
            let outcome = res
                .as_ref()
                .and_then(|r| r.get("ConsoleLogin"))
                .and_then(Value::as_str);
            if outcome == Some("Failure") || (outcome.is_none() && e.failed()) {
                Kind::LoginFailure
            } else {
                Kind::Plain
            }
        }
        _ if e.failed() => Kind::Plain,
        ("s3.amazonaws.com", "DeleteObject" | "DeleteBucket") => Kind::StorageDelete(1),
        ("s3.amazonaws.com", "DeleteObjects") => {
            let req = json(e.request_parameters.as_deref());
            let n = req
                .as_ref()
                .and_then(|r| get_ci(r, "delete"))
                .and_then(|d| get_ci(d, "object"))
                .map(|o| match o {
                    Value::Array(a) => a.len() as u64,
                    Value::Object(_) => 1,
                    _ => 0,
                })
                .filter(|&n| n > 0)
                .unwrap_or(1);
            Kind::StorageDelete(n)
        }
        ("ec2.amazonaws.com", "TerminateInstances") => {
            let req = json(e.request_parameters.as_deref());
            Kind::VmTerminate(items_len(req.as_ref()).filter(|&n| n > 0).unwrap_or(1))
        }
        ("ec2.amazonaws.com", "RunInstances") => {
            let res = json(e.response_elements.as_deref());
            let n = items_len(res.as_ref()).filter(|&n| n > 0).or_else(|| {
                let req = json(e.request_parameters.as_deref())?;
                let items = get(&req, &["instancesSet", "items"])?.as_array()?;
                let mut total = 0u64;
                for it in items {
                    let max = it.get("maxCount").and_then(num);
                    let min = it.get("minCount").and_then(num);
                    total = total.saturating_add(max.or(min).unwrap_or(1));
                }
                Some(total)
            });
            Kind::VmRun(n.filter(|&n| n > 0).unwrap_or(1))
        }
        (
            "iam.amazonaws.com",
            "DeleteUser" | "CreateUser" | "DeleteLoginProfile" | "CreateLoginProfile"
            | "DeleteAccessKey" | "UpdateAccessKey",
        ) => {
            let req = json(e.request_parameters.as_deref());
            let r = req.as_ref();
            let key_id = || {
                r.and_then(|r| r.get("accessKeyId"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            match name {
                "DeleteUser" => target_user(e, r, principal)
                    .map(Target::User)
                    .map_or(Kind::Plain, Kind::Terminates),
                "CreateUser" => target_user(e, r, principal)
                    .map(Target::User)
                    .map_or(Kind::Plain, Kind::Restores),
                "DeleteLoginProfile" => target_user(e, r, principal)
                    .map(Target::Console)
                    .map_or(Kind::Plain, Kind::Terminates),
                "CreateLoginProfile" => target_user(e, r, principal)
                    .map(Target::Console)
                    .map_or(Kind::Plain, Kind::Restores),
                "DeleteAccessKey" => key_id()
                    .map(Target::AccessKey)
                    .map_or(Kind::Plain, Kind::Terminates),
                "UpdateAccessKey" => {
                    let status = r.and_then(|r| r.get("status")).and_then(Value::as_str);
                    match (key_id(), status) {
                        (Some(k), Some("Inactive")) => Kind::Terminates(Target::AccessKey(k)),
                        (Some(k), Some("Active")) => Kind::Restores(Target::AccessKey(k)),
                        _ => Kind::Plain,
                    }
                }
                _ => Kind::Plain,
            }
        }
        _ => Kind::Plain,
    }
}

/// Extracts the observation; `None` for events no detection looks at (no principal, insights).
pub(crate) fn observe(e: &Event, source_object: &str) -> Option<Obs> {
    if e.is_insight() {
        return None;
    }
    let principal = e.identity.principal.as_deref()?;
    let (id, has_event_id) = match e.event_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => (id.to_string(), true),
        None => (format!("{source_object}#{}", e.record_index), false),
    };
    let via_service =
        e.identity.invoked_by.is_some() || e.identity.kind == IdentityType::AwsService;
    Some(Obs {
        t: e.event_time,
        id,
        has_event_id,
        principal: principal.to_string(),
        ptype: e.identity.kind.as_str().to_string(),
        account: e.account().map(str::to_string),
        region: e.aws_region.clone(),
        source: e.source_ip_address.clone(),
        ip: e.source_ip,
        ua: e.user_agent.clone(),
        access_key: e.identity.access_key_id.clone().filter(|k| !k.is_empty()),
        console: e.session_credential_from_console == Some(true)
            || (e.event_name == "ConsoleLogin" && e.event_source == "signin.amazonaws.com"),
        via_service,
        src: e.event_source.clone(),
        name: e.event_name.clone(),
        failed: e.failed(),
        read_only: e.read_only.unwrap_or_else(|| read_only_name(&e.event_name)),
        kind: classify(e, principal),
    })
}
