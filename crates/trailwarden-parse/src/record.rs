//! One record's JSON text → [`Event`], with simd-json.

use std::net::IpAddr;

use simd_json::prelude::*;
use simd_json::BorrowedValue as Value;

use crate::model::{Event, Identity, IdentityType, MicrosUtc};
use crate::principal::principal_key;
use crate::scan::{scan_raw_members, RAW_FIELDS};
use crate::time::parse_event_time;
use crate::{BadRecord, BadRecordReason};

/// Reusable scratch space for parsing records: one per thread, so parsing allocates only what
/// the resulting [`Event`] owns.
#[derive(Default)]
pub struct RecordParser {
    scratch: Vec<u8>,
    buffers: Option<simd_json::Buffers>,
}

impl RecordParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one record (the JSON text of one element of `Records`).
    pub fn parse(&mut self, text: &[u8], index: u32) -> Result<Event, BadRecord> {
        let raw = scan_raw_members(text);
        self.scratch.clear();
        self.scratch.extend_from_slice(text);
        let buffers = self
            .buffers
            .get_or_insert_with(|| simd_json::Buffers::new(text.len().max(4096)));
        let value =
            simd_json::value::borrowed::to_value_with_buffers(&mut self.scratch, buffers)
                .map_err(|e| BadRecord::new(index, BadRecordReason::InvalidJson, e.to_string()))?;
        let Some(obj) = value.as_object() else {
            return Err(BadRecord::new(
                index,
                BadRecordReason::NotAnObject,
                format!("record is {}", type_name(&value)),
            ));
        };
        let mut ev = Event {
            record_index: index,
            ..Event::default()
        };
        let mut event_time: Option<Result<MicrosUtc, String>> = None;
        for (k, v) in obj.iter() {
            match k.as_ref() {
                "eventTime" => {
                    event_time = Some(match v.as_str() {
                        Some(s) => parse_event_time(s).ok_or_else(|| format!("eventTime {s:?}")),
                        None => Err(format!("eventTime is {}", type_name(v))),
                    })
                }
                "eventVersion" => ev.event_version = text_of(v),
                "eventSource" => ev.event_source = text_of(v).unwrap_or_default(),
                "eventName" => ev.event_name = text_of(v).unwrap_or_default(),
                "awsRegion" => ev.aws_region = text_of(v),
                "sourceIPAddress" => {
                    ev.source_ip_address = text_of(v);
                    ev.source_ip = ev.source_ip_address.as_deref().and_then(parse_ip);
                }
                "userAgent" => ev.user_agent = text_of(v),
                "errorCode" => ev.error_code = text_of(v),
                "errorMessage" => ev.error_message = text_of(v),
                "requestID" => ev.request_id = text_of(v),
                "eventID" => ev.event_id = text_of(v),
                "eventType" => ev.event_type = text_of(v),
                "eventCategory" => ev.event_category = text_of(v),
                "apiVersion" => ev.api_version = text_of(v),
                "readOnly" => ev.read_only = bool_of(v),
                "managementEvent" => ev.management_event = bool_of(v),
                "recipientAccountId" => ev.recipient_account_id = text_of(v),
                "sharedEventID" => ev.shared_event_id = text_of(v),
                "vpcEndpointId" => ev.vpc_endpoint_id = text_of(v),
                "sessionCredentialFromConsole" => ev.session_credential_from_console = bool_of(v),
                "userIdentity" => {
                    if v.is_null() {
                        continue;
                    }
                    let Some(uid) = v.as_object() else {
                        return Err(BadRecord::new(
                            index,
                            BadRecordReason::BadUserIdentity,
                            format!("userIdentity is {}, not an object", type_name(v)),
                        ));
                    };
                    ev.identity = identity_of(uid);
                }
                _ => {}
            }
        }
        match event_time {
            Some(Ok(t)) => ev.event_time = t,
            Some(Err(detail)) => {
                return Err(BadRecord::new(
                    index,
                    BadRecordReason::InvalidEventTime,
                    detail,
                ))
            }
            None => {
                return Err(BadRecord::new(
                    index,
                    BadRecordReason::MissingEventTime,
                    "no eventTime".to_string(),
                ))
            }
        }
        // Raw members: the original text, byte for byte; JSON null counts as absent.
        for (k, span) in raw.spans.iter().enumerate() {
            let Some(span) = span else { continue };
            let Some(bytes) = text.get(span.clone()) else {
                continue;
            };
            if bytes == b"null" {
                continue;
            }
            // simd-json validated the record as UTF-8, so a span of it is too
            let Ok(s) = std::str::from_utf8(bytes) else {
                continue;
            };
            let s = Some(s.to_string());
            match RAW_FIELDS[k] {
                "requestParameters" => ev.request_parameters = s,
                "responseElements" => ev.response_elements = s,
                "additionalEventData" => ev.additional_event_data = s,
                "resources" => ev.resources = s,
                "serviceEventDetails" => ev.service_event_details = s,
                "tlsDetails" => ev.tls_details = s,
                "insightDetails" => ev.insight_details = s,
                "addendum" => ev.addendum = s,
                _ => ev.edge_device_details = s,
            }
        }
        ev.identity.principal = principal_key(&ev.identity);
        Ok(ev)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v.value_type() {
        ValueType::Null => "null",
        ValueType::Bool => "a boolean",
        ValueType::String => "a string",
        ValueType::Array => "an array",
        ValueType::Object => "an object",
        _ => "a number",
    }
}

/// Strings as they are; numbers and booleans as their text (account ids are sometimes
/// numbers); null, objects and arrays as absent.
fn text_of(v: &Value) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    match v.value_type() {
        ValueType::Null | ValueType::Object | ValueType::Array => None,
        _ => Some(v.encode()),
    }
}

/// Booleans, and the text `"true"`/`"false"` (any case) that some records carry.
fn bool_of(v: &Value) -> Option<bool> {
    if let Some(b) = v.as_bool() {
        return Some(b);
    }
    let s = v.as_str()?;
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `sourceIPAddress` → an address only when it is one (IPv4, IPv6, IPv6 in brackets).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

type Object<'a> = simd_json::value::borrowed::Object<'a>;

fn field<'a>(o: &'a Object<'_>, k: &str) -> Option<&'a Value<'a>> {
    o.get(k)
}

fn text(o: &Object<'_>, k: &str) -> Option<String> {
    field(o, k).and_then(text_of)
}

fn identity_of(u: &Object<'_>) -> Identity {
    let mut id = Identity {
        kind: match field(u, "type").and_then(|v| v.as_str()) {
            Some(t) => IdentityType::from_cloudtrail(t),
            None => IdentityType::Other(String::new()),
        },
        principal_id: text(u, "principalId"),
        arn: text(u, "arn"),
        account_id: text(u, "accountId"),
        access_key_id: text(u, "accessKeyId"),
        user_name: text(u, "userName"),
        invoked_by: text(u, "invokedBy"),
        identity_provider: text(u, "identityProvider"),
        identity_store_arn: text(u, "identityStoreArn"),
        ..Identity::default()
    };
    if let Some(IdentityType::Other(t)) = Some(&id.kind) {
        if t.is_empty() {
            id.kind = IdentityType::Other("(none)".to_string());
        }
    }
    if let Some(obo) = field(u, "onBehalfOf").and_then(|v| v.as_object()) {
        id.on_behalf_of_user_id = text(obo, "userId");
        if id.identity_store_arn.is_none() {
            id.identity_store_arn = text(obo, "identityStoreArn");
        }
    }
    if let Some(sc) = field(u, "sessionContext").and_then(|v| v.as_object()) {
        if let Some(iss) = field(sc, "sessionIssuer").and_then(|v| v.as_object()) {
            id.session_issuer_type = text(iss, "type");
            id.session_issuer_arn = text(iss, "arn");
            id.session_issuer_user_name = text(iss, "userName");
            id.session_issuer_account_id = text(iss, "accountId");
        }
        if let Some(attrs) = field(sc, "attributes").and_then(|v| v.as_object()) {
            id.mfa_authenticated = field(attrs, "mfaAuthenticated").and_then(bool_of);
            id.session_creation_time = field(attrs, "creationDate")
                .and_then(|v| v.as_str())
                .and_then(parse_event_time);
        }
        id.source_identity = text(sc, "sourceIdentity");
        if id.identity_provider.is_none() {
            if let Some(w) = field(sc, "webIdFederationData").and_then(|v| v.as_object()) {
                id.identity_provider = text(w, "federatedProvider");
            }
        }
        if id.on_behalf_of_user_id.is_none() {
            if let Some(obo) = field(sc, "onBehalfOf").and_then(|v| v.as_object()) {
                id.on_behalf_of_user_id = text(obo, "userId");
                if id.identity_store_arn.is_none() {
                    id.identity_store_arn = text(obo, "identityStoreArn");
                }
            }
        }
    }
    id
}
