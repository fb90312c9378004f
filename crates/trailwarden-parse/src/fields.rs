//! CloudTrail field names → accessors into [`Event`]: the one table that every rule language
//! (activity policies, Sigma, the rule pack) compiles its field names against.
//!
//! * A [`TypedField`] yields at most one string borrowed from the event (booleans as `true` /
//!   `false`); empty strings count as missing. No parsing, no allocation.
//! * A [`RawRoot`] is one of the members kept as raw JSON text (`requestParameters`…); paths
//!   below it are each rule language's business.
//!
//! Two typed names are derived rather than CloudTrail's own — `principal` (the normalised
//! principal key) and `account` (`recipientAccountId`, else the caller's) — and are marked so
//! ([`FieldName::derived`]) for languages that accept only record fields.

use crate::model::{Event, IdentityType};

/// A typed member of [`Event`], named as in CloudTrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedField {
    EventVersion,
    EventSource,
    EventName,
    AwsRegion,
    SourceIpAddress,
    UserAgent,
    ErrorCode,
    ErrorMessage,
    RequestId,
    EventId,
    EventType,
    EventCategory,
    ApiVersion,
    ReadOnly,
    ManagementEvent,
    RecipientAccountId,
    SharedEventId,
    VpcEndpointId,
    SessionCredentialFromConsole,
    IdentityType,
    PrincipalId,
    Arn,
    AccountId,
    AccessKeyId,
    UserName,
    InvokedBy,
    SessionIssuerType,
    /// Not kept by the parser: the session's own `principalId` up to its `:`.
    SessionIssuerPrincipalId,
    SessionIssuerArn,
    SessionIssuerUserName,
    SessionIssuerAccountId,
    MfaAuthenticated,
    SourceIdentity,
    IdentityProvider,
    OnBehalfOfUserId,
    IdentityStoreArn,
    /// The normalised principal key (derived).
    Principal,
    /// `recipientAccountId`, else the caller's account (derived).
    Account,
}

/// One accepted name of a typed field.
#[derive(Debug, Clone, Copy)]
pub struct FieldName {
    pub name: &'static str,
    pub field: TypedField,
    /// Not a CloudTrail record field but computed by trailwarden (`principal`, `account`).
    pub derived: bool,
}

const fn rec(name: &'static str, field: TypedField) -> FieldName {
    FieldName {
        name,
        field,
        derived: false,
    }
}

/// Every typed field name, CloudTrail's spelling.
pub const TYPED_FIELDS: &[FieldName] = &[
    rec("eventVersion", TypedField::EventVersion),
    rec("eventSource", TypedField::EventSource),
    rec("eventName", TypedField::EventName),
    rec("awsRegion", TypedField::AwsRegion),
    rec("sourceIPAddress", TypedField::SourceIpAddress),
    rec("userAgent", TypedField::UserAgent),
    rec("errorCode", TypedField::ErrorCode),
    rec("errorMessage", TypedField::ErrorMessage),
    rec("requestID", TypedField::RequestId),
    rec("eventID", TypedField::EventId),
    rec("eventType", TypedField::EventType),
    rec("eventCategory", TypedField::EventCategory),
    rec("apiVersion", TypedField::ApiVersion),
    rec("readOnly", TypedField::ReadOnly),
    rec("managementEvent", TypedField::ManagementEvent),
    rec("recipientAccountId", TypedField::RecipientAccountId),
    rec("sharedEventID", TypedField::SharedEventId),
    rec("vpcEndpointId", TypedField::VpcEndpointId),
    rec(
        "sessionCredentialFromConsole",
        TypedField::SessionCredentialFromConsole,
    ),
    rec("userIdentity.type", TypedField::IdentityType),
    rec("userIdentity.principalId", TypedField::PrincipalId),
    rec("userIdentity.arn", TypedField::Arn),
    rec("userIdentity.accountId", TypedField::AccountId),
    rec("userIdentity.accessKeyId", TypedField::AccessKeyId),
    rec("userIdentity.userName", TypedField::UserName),
    rec("userIdentity.invokedBy", TypedField::InvokedBy),
    rec(
        "userIdentity.sessionContext.sessionIssuer.type",
        TypedField::SessionIssuerType,
    ),
    rec(
        "userIdentity.sessionContext.sessionIssuer.principalId",
        TypedField::SessionIssuerPrincipalId,
    ),
    rec(
        "userIdentity.sessionContext.sessionIssuer.arn",
        TypedField::SessionIssuerArn,
    ),
    rec(
        "userIdentity.sessionContext.sessionIssuer.userName",
        TypedField::SessionIssuerUserName,
    ),
    rec(
        "userIdentity.sessionContext.sessionIssuer.accountId",
        TypedField::SessionIssuerAccountId,
    ),
    rec(
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        TypedField::MfaAuthenticated,
    ),
    rec(
        "userIdentity.sessionContext.sourceIdentity",
        TypedField::SourceIdentity,
    ),
    rec(
        "userIdentity.identityProvider",
        TypedField::IdentityProvider,
    ),
    rec(
        "userIdentity.sessionContext.webIdFederationData.federatedProvider",
        TypedField::IdentityProvider,
    ),
    rec(
        "userIdentity.onBehalfOf.userId",
        TypedField::OnBehalfOfUserId,
    ),
    rec(
        "userIdentity.identityStoreArn",
        TypedField::IdentityStoreArn,
    ),
    FieldName {
        name: "principal",
        field: TypedField::Principal,
        derived: true,
    },
    FieldName {
        name: "account",
        field: TypedField::Account,
        derived: true,
    },
];

/// The typed field of a name, if it is one.
pub fn typed_field(name: &str) -> Option<&'static FieldName> {
    TYPED_FIELDS.iter().find(|f| f.name == name)
}

fn bool_text(b: Option<bool>) -> Option<&'static str> {
    b.map(|b| if b { "true" } else { "false" })
}

impl TypedField {
    /// The field's value; empty strings count as missing.
    pub fn get(self, e: &Event) -> Option<&str> {
        let id = &e.identity;
        let v = match self {
            TypedField::EventVersion => e.event_version.as_deref(),
            TypedField::EventSource => Some(e.event_source.as_str()),
            TypedField::EventName => Some(e.event_name.as_str()),
            TypedField::AwsRegion => e.aws_region.as_deref(),
            TypedField::SourceIpAddress => e.source_ip_address.as_deref(),
            TypedField::UserAgent => e.user_agent.as_deref(),
            TypedField::ErrorCode => e.error_code.as_deref(),
            TypedField::ErrorMessage => e.error_message.as_deref(),
            TypedField::RequestId => e.request_id.as_deref(),
            TypedField::EventId => e.event_id.as_deref(),
            TypedField::EventType => e.event_type.as_deref(),
            TypedField::EventCategory => e.event_category.as_deref(),
            TypedField::ApiVersion => e.api_version.as_deref(),
            TypedField::ReadOnly => bool_text(e.read_only),
            TypedField::ManagementEvent => bool_text(e.management_event),
            TypedField::RecipientAccountId => e.recipient_account_id.as_deref(),
            TypedField::SharedEventId => e.shared_event_id.as_deref(),
            TypedField::VpcEndpointId => e.vpc_endpoint_id.as_deref(),
            TypedField::SessionCredentialFromConsole => {
                bool_text(e.session_credential_from_console)
            }
            TypedField::IdentityType => match id.kind {
                IdentityType::Missing => None,
                ref k => Some(k.as_str()),
            },
            TypedField::PrincipalId => id.principal_id.as_deref(),
            TypedField::Arn => id.arn.as_deref(),
            TypedField::AccountId => id.account_id.as_deref(),
            TypedField::AccessKeyId => id.access_key_id.as_deref(),
            TypedField::UserName => id.user_name.as_deref(),
            TypedField::InvokedBy => id.invoked_by.as_deref(),
            TypedField::SessionIssuerType => id.session_issuer_type.as_deref(),
            TypedField::SessionIssuerPrincipalId => id
                .session_issuer_type
                .as_ref()
                .and(id.principal_id.as_deref())
                .map(|p| p.split(':').next().unwrap_or(p)),
            TypedField::SessionIssuerArn => id.session_issuer_arn.as_deref(),
            TypedField::SessionIssuerUserName => id.session_issuer_user_name.as_deref(),
            TypedField::SessionIssuerAccountId => id.session_issuer_account_id.as_deref(),
            TypedField::MfaAuthenticated => bool_text(id.mfa_authenticated),
            TypedField::SourceIdentity => id.source_identity.as_deref(),
            TypedField::IdentityProvider => id.identity_provider.as_deref(),
            TypedField::OnBehalfOfUserId => id.on_behalf_of_user_id.as_deref(),
            TypedField::IdentityStoreArn => id.identity_store_arn.as_deref(),
            TypedField::Principal => id.principal.as_deref(),
            TypedField::Account => e.account(),
        };
        v.filter(|s| !s.is_empty())
    }
}

/// A member of [`Event`] kept as raw JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawRoot {
    RequestParameters = 0,
    ResponseElements,
    AdditionalEventData,
    Resources,
    ServiceEventDetails,
    TlsDetails,
    InsightDetails,
    Addendum,
    EdgeDeviceDetails,
}

/// How many [`RawRoot`]s there are (for per-root caches indexed by `root as usize`).
pub const RAW_COUNT: usize = 9;

/// Every raw member, CloudTrail's spelling.
pub const RAW_ROOTS: &[(&str, RawRoot)] = &[
    ("requestParameters", RawRoot::RequestParameters),
    ("responseElements", RawRoot::ResponseElements),
    ("additionalEventData", RawRoot::AdditionalEventData),
    ("resources", RawRoot::Resources),
    ("serviceEventDetails", RawRoot::ServiceEventDetails),
    ("tlsDetails", RawRoot::TlsDetails),
    ("insightDetails", RawRoot::InsightDetails),
    ("addendum", RawRoot::Addendum),
    ("edgeDeviceDetails", RawRoot::EdgeDeviceDetails),
];

impl RawRoot {
    /// The member's JSON text as CloudTrail wrote it.
    pub fn text(self, e: &Event) -> Option<&str> {
        match self {
            RawRoot::RequestParameters => e.request_parameters.as_deref(),
            RawRoot::ResponseElements => e.response_elements.as_deref(),
            RawRoot::AdditionalEventData => e.additional_event_data.as_deref(),
            RawRoot::Resources => e.resources.as_deref(),
            RawRoot::ServiceEventDetails => e.service_event_details.as_deref(),
            RawRoot::TlsDetails => e.tls_details.as_deref(),
            RawRoot::InsightDetails => e.insight_details.as_deref(),
            RawRoot::Addendum => e.addendum.as_deref(),
            RawRoot::EdgeDeviceDetails => e.edge_device_details.as_deref(),
        }
    }

    /// The raw member of a name, if it is one.
    pub fn from_name(name: &str) -> Option<RawRoot> {
        RAW_ROOTS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_raw_table_is_complete() {
        let mut names: Vec<&str> = TYPED_FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(RAW_ROOTS.len(), RAW_COUNT);
        for (i, (_, r)) in RAW_ROOTS.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn typed_values() {
        let mut e = Event {
            event_source: "iam.amazonaws.com".into(),
            read_only: Some(false),
            recipient_account_id: Some(String::new()),
            ..Event::default()
        };
        e.identity.principal_id = Some("AROAEXAMPLE:session".into());
        e.identity.session_issuer_type = Some("Role".into());
        let get =
            |n: &str, e: &Event| typed_field(n).and_then(|f| f.field.get(e).map(String::from));
        assert_eq!(get("eventSource", &e).as_deref(), Some("iam.amazonaws.com"));
        assert_eq!(get("readOnly", &e).as_deref(), Some("false"));
        assert_eq!(get("recipientAccountId", &e), None, "empty is missing");
        assert_eq!(
            get("userIdentity.sessionContext.sessionIssuer.principalId", &e).as_deref(),
            Some("AROAEXAMPLE")
        );
        assert!(typed_field("principal").is_some_and(|f| f.derived));
        assert!(typed_field("eventName").is_some_and(|f| !f.derived));
        assert_eq!(RawRoot::from_name("resources"), Some(RawRoot::Resources));
        assert_eq!(RawRoot::from_name("userIdentity"), None);
    }
}
