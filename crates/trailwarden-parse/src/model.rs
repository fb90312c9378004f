//! The typed event model: one [`Event`] per CloudTrail record.
//!
//! Scalar fields that detection and the archive use are typed; the heterogeneous fields
//! (`requestParameters`, `responseElements`, `additionalEventData`, `resources`,
//! `serviceEventDetails`, `tlsDetails`, `insightDetails`, `addendum`, `edgeDeviceDetails`)
//! are kept as the raw JSON text of the record, byte for byte as CloudTrail wrote it
//! (`None` when the key is absent or its value is JSON `null`).

use std::net::IpAddr;

/// Event time as microseconds since the Unix epoch, UTC.
pub type MicrosUtc = i64;

/// One CloudTrail record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// `eventTime`, parsed (RFC 3339, UTC). Records without a valid `eventTime` are bad records.
    pub event_time: MicrosUtc,
    pub event_version: Option<String>,
    /// `eventSource`, e.g. `iam.amazonaws.com`. Empty when absent.
    pub event_source: String,
    /// `eventName`, e.g. `PutBucketPolicy`. Empty when absent.
    pub event_name: String,
    pub aws_region: Option<String>,
    /// `sourceIPAddress` as written: an IPv4/IPv6 address, a service host name, or anything else.
    pub source_ip_address: Option<String>,
    /// `sourceIPAddress` parsed, only when it is an IP address.
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub request_id: Option<String>,
    pub event_id: Option<String>,
    /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, `AwsConsoleAction`,
    /// `AwsCloudTrailInsight`, `AwsVpceEvent`…
    pub event_type: Option<String>,
    /// `eventCategory`: `Management`, `Data`, `Insight`, `NetworkActivity`.
    pub event_category: Option<String>,
    pub api_version: Option<String>,
    /// `readOnly`; CloudTrail writes it as a boolean, sometimes as the text `"true"`/`"false"`.
    pub read_only: Option<bool>,
    pub management_event: Option<bool>,
    pub recipient_account_id: Option<String>,
    pub shared_event_id: Option<String>,
    pub vpc_endpoint_id: Option<String>,
    pub session_credential_from_console: Option<bool>,
    pub identity: Identity,
    pub request_parameters: Option<String>,
    pub response_elements: Option<String>,
    pub additional_event_data: Option<String>,
    pub resources: Option<String>,
    pub service_event_details: Option<String>,
    pub tls_details: Option<String>,
    pub insight_details: Option<String>,
    pub addendum: Option<String>,
    pub edge_device_details: Option<String>,
    /// Index of this record in its object's `Records` array (0-based).
    pub record_index: u32,
}

impl Event {
    /// The account the event belongs to: `recipientAccountId`, else the identity's account.
    pub fn account(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or(self.identity.account_id.as_deref())
    }

    /// True when the call failed (`errorCode` present and non-empty).
    pub fn failed(&self) -> bool {
        self.error_code.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// True for CloudTrail Insights events, which are archived but not run through detection.
    pub fn is_insight(&self) -> bool {
        self.event_type.as_deref() == Some("AwsCloudTrailInsight")
            || self.event_category.as_deref() == Some("Insight")
    }
}

/// `userIdentity.type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum IdentityType {
    Root,
    IamUser,
    AssumedRole,
    FederatedUser,
    AwsService,
    AwsAccount,
    IdentityCenterUser,
    SamlUser,
    WebIdentityUser,
    Unknown,
    /// A type this version does not know, kept as written.
    Other(String),
    /// The record has no `userIdentity` object.
    #[default]
    Missing,
}

impl IdentityType {
    /// The CloudTrail spelling (`"IAMUser"`, `"AssumedRole"`…); `"Missing"` when absent.
    pub fn as_str(&self) -> &str {
        match self {
            IdentityType::Root => "Root",
            IdentityType::IamUser => "IAMUser",
            IdentityType::AssumedRole => "AssumedRole",
            IdentityType::FederatedUser => "FederatedUser",
            IdentityType::AwsService => "AWSService",
            IdentityType::AwsAccount => "AWSAccount",
            IdentityType::IdentityCenterUser => "IdentityCenterUser",
            IdentityType::SamlUser => "SAMLUser",
            IdentityType::WebIdentityUser => "WebIdentityUser",
            IdentityType::Unknown => "Unknown",
            IdentityType::Other(s) => s,
            IdentityType::Missing => "Missing",
        }
    }

    pub fn from_cloudtrail(s: &str) -> IdentityType {
        match s {
            "Root" => IdentityType::Root,
            "IAMUser" => IdentityType::IamUser,
            "AssumedRole" => IdentityType::AssumedRole,
            "FederatedUser" => IdentityType::FederatedUser,
            "AWSService" => IdentityType::AwsService,
            "AWSAccount" => IdentityType::AwsAccount,
            "IdentityCenterUser" => IdentityType::IdentityCenterUser,
            "SAMLUser" => IdentityType::SamlUser,
            "WebIdentityUser" => IdentityType::WebIdentityUser,
            "Unknown" => IdentityType::Unknown,
            other => IdentityType::Other(other.to_string()),
        }
    }
}

/// `userIdentity`, flattened, plus the normalised principal key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    pub kind: IdentityType,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_name: Option<String>,
    /// `invokedBy`, e.g. `ec2.amazonaws.com` for AWSService or a service acting for a principal.
    pub invoked_by: Option<String>,
    /// `sessionContext.sessionIssuer.type` (`Role`, `IAMUser`…).
    pub session_issuer_type: Option<String>,
    pub session_issuer_arn: Option<String>,
    pub session_issuer_user_name: Option<String>,
    pub session_issuer_account_id: Option<String>,
    /// `sessionContext.attributes.mfaAuthenticated`.
    pub mfa_authenticated: Option<bool>,
    /// `sessionContext.attributes.creationDate`, microseconds UTC.
    pub session_creation_time: Option<MicrosUtc>,
    /// `sessionContext.sourceIdentity`.
    pub source_identity: Option<String>,
    /// `identityProvider` (SAMLUser, WebIdentityUser) or `sessionContext.webIdFederationData.federatedProvider`.
    pub identity_provider: Option<String>,
    /// `onBehalfOf.userId` (IdentityCenterUser, Identity Center sessions).
    pub on_behalf_of_user_id: Option<String>,
    pub identity_store_arn: Option<String>,
    /// The normalised principal key (see `principal.rs`); `None` only when nothing identifies the caller.
    pub principal: Option<String>,
}
