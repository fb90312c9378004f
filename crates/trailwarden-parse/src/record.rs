//! Record JSON → [`Event`], reading simd-json's tape.
//!
//! The tape is simd-json's flat, validated representation of a document: no per-object hash
//! maps, no per-string allocation (strings borrow the unescaped input). Fields are read by
//! walking each record's members once.

use std::net::IpAddr;

use simd_json::prelude::*;
use simd_json::tape::{Object, Tape, Value};

use crate::model::{Event, Identity, IdentityType, MicrosUtc};
use crate::principal::principal_key;
use crate::scan::{scan_raw_members, RawMembers, RAW_FIELDS};
use crate::time::parse_event_time;
use crate::{BadRecord, BadRecordReason};

/// Reusable scratch space for parsing: keep one per thread, so parsing allocates only what the
/// resulting [`Event`]s own.
pub struct RecordParser {
    /// The decoded text of the current object.
    pub(crate) text: Vec<u8>,
    pub(crate) scratch: Vec<u8>,
    pub(crate) buffers: simd_json::Buffers,
    pub(crate) tape: Option<Tape<'static>>,
    /// An empty event list handed back with [`RecordParser::recycle_events`]: the next
    /// object's events go into its allocation.
    pub(crate) spare_events: Vec<Event>,
}

impl Default for RecordParser {
    fn default() -> Self {
        RecordParser {
            text: Vec::new(),
            scratch: Vec::new(),
            buffers: simd_json::Buffers::new(64 * 1024),
            tape: Some(Tape::null().reset()),
            spare_events: Vec::new(),
        }
    }
}

impl RecordParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps a decoded-text buffer for the next object, unless it grew unusually large.
    pub(crate) fn keep_text(&mut self, text: Vec<u8>) {
        const KEEP_AT_MOST: usize = 64 << 20;
        if text.capacity() <= KEEP_AT_MOST {
            self.text = text;
        }
    }

    /// Hands back an object's event list once its events have been moved out (its contents
    /// are dropped): the next object parsed with this parser reuses the allocation instead of
    /// making a fresh one of the same size (an object's list is about a megabyte; filling a
    /// fresh one showed up as page faults in the decode threads' profile). Lists beyond
    /// 65,536 events are not kept.
    pub fn recycle_events(&mut self, mut events: Vec<Event>) {
        const KEEP_AT_MOST: usize = 1 << 16;
        events.clear();
        if events.capacity() <= KEEP_AT_MOST && events.capacity() > self.spare_events.capacity() {
            self.spare_events = events;
        }
    }

    /// Parses one record given alone (the JSON text of one element of `Records`).
    pub fn parse(&mut self, text: &[u8], index: u32) -> Result<Event, BadRecord> {
        let raw = scan_raw_members(text);
        self.parse_with_raw(text, &raw, 0, index)
    }

    /// Parses one record whose raw member spans are known; `base` is the offset of `text`
    /// in the text the spans refer to.
    pub(crate) fn parse_with_raw(
        &mut self,
        text: &[u8],
        raw: &RawMembers,
        base: usize,
        index: u32,
    ) -> Result<Event, BadRecord> {
        padded_copy(&mut self.scratch, text);
        let mut tape = self.tape.take().unwrap_or_else(|| Tape::null().reset());
        let result = simd_json::fill_tape_padded(
            &mut self.scratch,
            text.len(),
            &mut self.buffers,
            &mut tape,
        )
        .map_err(|e| BadRecord::new(index, BadRecordReason::InvalidJson, e.to_string()))
        .and_then(|()| event_from_value(tape.as_value(), text, raw, base, index));
        self.tape = Some(tape.reset());
        result
    }
}

/// Copies `text` into `buf` followed by the padding simd-json reads past the end.
pub(crate) fn padded_copy(buf: &mut Vec<u8>, text: &[u8]) {
    buf.clear();
    buf.reserve(text.len() + simd_json::INPUT_PADDING);
    buf.extend_from_slice(text);
    buf.resize(text.len() + simd_json::INPUT_PADDING, b' ');
}

/// One record's tape value → event. `orig` is the original (unescaped) text that the raw
/// member spans, shifted by `base`, point into.
pub(crate) fn event_from_value(
    value: Value<'_, '_>,
    orig: &[u8],
    raw: &RawMembers,
    base: usize,
    index: u32,
) -> Result<Event, BadRecord> {
    let Some(obj) = value.as_object() else {
        return Err(BadRecord::new(
            index,
            BadRecordReason::NotAnObject,
            format!("record is {}", type_name(value)),
        ));
    };
    let mut ev = Event {
        record_index: index,
        ..Event::default()
    };
    let mut event_time: Option<Result<MicrosUtc, String>> = None;
    for (k, v) in obj.iter() {
        match k {
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
                ev.identity = identity_of(&uid);
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
        let Some(bytes) = orig.get(span.start.wrapping_sub(base)..span.end.wrapping_sub(base))
        else {
            continue;
        };
        if bytes == b"null" {
            continue;
        }
        // simd-json validated this text as UTF-8, so a span of it is too
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

fn type_name(v: Value<'_, '_>) -> &'static str {
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
fn text_of(v: Value<'_, '_>) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    if let Some(b) = v.as_bool() {
        return Some(b.to_string());
    }
    if let Some(n) = v.as_i64() {
        return Some(n.to_string());
    }
    if let Some(n) = v.as_u64() {
        return Some(n.to_string());
    }
    v.as_f64().map(|f| f.to_string())
}

/// Booleans, and the text `"true"`/`"false"` (any case) that some records carry.
fn bool_of(v: Value<'_, '_>) -> Option<bool> {
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
    // cheap reject of host names before the parser runs
    if !s
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_hexdigit() || c == b':')
    {
        return None;
    }
    s.parse().ok()
}

fn identity_of(u: &Object<'_, '_>) -> Identity {
    let mut id = Identity::default();
    let mut kind: Option<IdentityType> = None;
    for (k, v) in u.iter() {
        match k {
            "type" => kind = v.as_str().map(IdentityType::from_cloudtrail),
            "principalId" => id.principal_id = text_of(v),
            "arn" => id.arn = text_of(v),
            "accountId" => id.account_id = text_of(v),
            "accessKeyId" => id.access_key_id = text_of(v),
            "userName" => id.user_name = text_of(v),
            "invokedBy" => id.invoked_by = text_of(v),
            "identityProvider" => id.identity_provider = text_of(v),
            "identityStoreArn" => id.identity_store_arn = text_of(v),
            "onBehalfOf" => {
                if let Some(obo) = v.as_object() {
                    on_behalf_of(&obo, &mut id);
                }
            }
            "sessionContext" => {
                if let Some(sc) = v.as_object() {
                    session_context(&sc, &mut id);
                }
            }
            _ => {}
        }
    }
    id.kind = kind.unwrap_or_else(|| IdentityType::Other("(none)".to_string()));
    id
}

fn on_behalf_of(obo: &Object<'_, '_>, id: &mut Identity) {
    if id.on_behalf_of_user_id.is_none() {
        id.on_behalf_of_user_id = obo.get("userId").and_then(text_of);
    }
    if id.identity_store_arn.is_none() {
        id.identity_store_arn = obo.get("identityStoreArn").and_then(text_of);
    }
}

fn session_context(sc: &Object<'_, '_>, id: &mut Identity) {
    for (k, v) in sc.iter() {
        match k {
            "sessionIssuer" => {
                if let Some(iss) = v.as_object() {
                    for (k, v) in iss.iter() {
                        match k {
                            "type" => id.session_issuer_type = text_of(v),
                            "arn" => id.session_issuer_arn = text_of(v),
                            "userName" => id.session_issuer_user_name = text_of(v),
                            "accountId" => id.session_issuer_account_id = text_of(v),
                            _ => {}
                        }
                    }
                }
            }
            "attributes" => {
                if let Some(attrs) = v.as_object() {
                    id.mfa_authenticated = attrs.get("mfaAuthenticated").and_then(bool_of);
                    id.session_creation_time = attrs
                        .get("creationDate")
                        .and_then(|v| v.into_string())
                        .and_then(parse_event_time);
                }
            }
            "sourceIdentity" => id.source_identity = text_of(v),
            "webIdFederationData" => {
                if let Some(w) = v.as_object() {
                    if let Some(p) = w.get("federatedProvider").and_then(text_of) {
                        id.identity_provider.get_or_insert(p);
                    }
                }
            }
            "onBehalfOf" => {
                if let Some(obo) = v.as_object() {
                    on_behalf_of(&obo, id);
                }
            }
            _ => {}
        }
    }
}
