//! Writing one CloudTrail record: the common envelope in CloudTrail's own member order, and
//! the `userIdentity` element of every identity type.

use rand::Rng;

use crate::catalog::Profile;
use crate::ids;
use crate::json::JsonWriter;
use crate::timefmt;
use crate::world::{session_of, Kind, Principal};

/// Reusable buffers for the variable parts of a record.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub ident: Vec<u8>,
    pub req: Vec<u8>,
    pub resp: Vec<u8>,
    pub add: Vec<u8>,
    pub res: Vec<u8>,
    pub sed: Vec<u8>,
    /// `tlsDetails.clientProvidedHostHeader`.
    pub host: String,
}

impl Scratch {
    pub(crate) fn clear(&mut self) {
        self.ident.clear();
        self.req.clear();
        self.resp.clear();
        self.add.clear();
        self.res.clear();
        self.sed.clear();
        self.host.clear();
    }
}

/// `requestID` style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestId {
    None,
    Uuid,
    /// S3: 16 upper-case alphanumerics.
    S3,
}

/// The scalar members of a record; variable JSON members come from [`Scratch`].
#[derive(Debug, Clone)]
pub(crate) struct Envelope<'a> {
    pub version: &'a str,
    pub time: i64,
    pub source: &'a str,
    pub name: &'a str,
    pub region: &'a str,
    pub ip: &'a str,
    pub agent: &'a str,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub event_type: &'a str,
    pub read_only: Option<bool>,
    pub management: bool,
    /// `eventCategory`: `Management` or `Data`.
    pub category: &'a str,
    pub recipient: &'a str,
    pub request_id: RequestId,
    /// `(tlsVersion, cipherSuite)`; host from `Scratch::host`.
    pub tls: Option<(&'a str, &'a str)>,
    pub from_console: bool,
    pub vpce: Option<&'a str>,
    pub shared_event_id: bool,
    pub has_req: bool,
    pub has_resp: bool,
    pub has_add: bool,
    pub has_res: bool,
    pub has_sed: bool,
}

impl<'a> Envelope<'a> {
    /// An `AwsApiCall` management event with no optional parts; callers adjust.
    pub(crate) fn api(
        time: i64,
        source: &'a str,
        name: &'a str,
        region: &'a str,
        recipient: &'a str,
    ) -> Self {
        Envelope {
            version: "1.09",
            time,
            source,
            name,
            region,
            ip: "",
            agent: "",
            error_code: None,
            error_message: None,
            event_type: "AwsApiCall",
            read_only: Some(true),
            management: true,
            category: "Management",
            recipient,
            request_id: RequestId::Uuid,
            tls: None,
            from_console: false,
            vpce: None,
            shared_event_id: false,
            has_req: false,
            has_resp: false,
            has_add: false,
            has_res: false,
            has_sed: false,
        }
    }
}

pub(crate) const TLS13: (&str, &str) = ("TLSv1.3", "TLS_AES_128_GCM_SHA256");
pub(crate) const TLS12: (&str, &str) = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256");

/// Appends one record (a JSON object) to `out` and returns its `eventID`.
pub(crate) fn write_record<R: Rng>(
    out: &mut Vec<u8>,
    rng: &mut R,
    e: &Envelope<'_>,
    s: &Scratch,
) -> [u8; 36] {
    let mut event_id = [0u8; 36];
    {
        let mut tmp = Vec::with_capacity(36);
        ids::push_uuid(rng, &mut tmp);
        event_id.copy_from_slice(&tmp[..36]);
    }
    let mut w = JsonWriter::new(out);
    w.obj().kv_str("eventVersion", e.version);
    w.key("userIdentity").raw(&s.ident);
    w.key("eventTime");
    {
        let mut t = Vec::with_capacity(22);
        t.push(b'"');
        timefmt::push_iso(&mut t, e.time);
        t.push(b'"');
        w.raw(&t);
    }
    w.kv_str("eventSource", e.source)
        .kv_str("eventName", e.name)
        .kv_str("awsRegion", e.region)
        .kv_str("sourceIPAddress", e.ip)
        .kv_str("userAgent", e.agent);
    if let Some(code) = e.error_code {
        w.kv_str("errorCode", code);
    }
    if let Some(msg) = e.error_message {
        w.kv_str("errorMessage", msg);
    }
    w.kv_raw_or_null("requestParameters", e.has_req.then_some(&s.req[..]));
    w.kv_raw_or_null("responseElements", e.has_resp.then_some(&s.resp[..]));
    if e.has_add {
        w.key("additionalEventData").raw(&s.add);
    }
    match e.request_id {
        RequestId::None => {}
        RequestId::Uuid => {
            w.key("requestID");
            let mut id = Vec::with_capacity(38);
            id.push(b'"');
            ids::push_uuid(rng, &mut id);
            id.push(b'"');
            w.raw(&id);
        }
        RequestId::S3 => {
            w.kv_str("requestID", &ids::upper_alnum(rng, 16));
        }
    }
    w.key("eventID").raw(&quoted(&event_id));
    if let Some(ro) = e.read_only {
        w.kv_bool("readOnly", ro);
    }
    if e.has_res {
        w.key("resources").raw(&s.res);
    }
    w.kv_str("eventType", e.event_type)
        .kv_bool("managementEvent", e.management)
        .kv_str("recipientAccountId", e.recipient);
    if e.shared_event_id {
        w.key("sharedEventID");
        let mut id = Vec::with_capacity(38);
        id.push(b'"');
        ids::push_uuid(rng, &mut id);
        id.push(b'"');
        w.raw(&id);
    }
    if let Some(v) = e.vpce {
        w.kv_str("vpcEndpointId", v);
    }
    if e.has_sed {
        w.key("serviceEventDetails").raw(&s.sed);
    }
    w.kv_str("eventCategory", e.category);
    if let Some((version, cipher)) = e.tls {
        w.key("tlsDetails")
            .obj()
            .kv_str("tlsVersion", version)
            .kv_str("cipherSuite", cipher)
            .kv_str("clientProvidedHostHeader", &s.host)
            .end_obj();
    }
    if e.from_console {
        w.kv_str("sessionCredentialFromConsole", "true");
    }
    w.end_obj();
    event_id
}

fn quoted(id: &[u8; 36]) -> [u8; 38] {
    let mut q = [b'"'; 38];
    q[1..37].copy_from_slice(id);
    q
}

/// How the caller authenticated, which changes the identity's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// Long-term or role credentials from an SDK/CLI.
    Programmatic,
    /// A console session (temporary `ASIA…` key, `sessionContext`).
    Console,
    /// The `ConsoleLogin` event itself.
    SignIn,
}

/// Writes the `userIdentity` object of `p` (account id `acct`) at time `t` into `out`.
pub(crate) fn write_identity(out: &mut Vec<u8>, p: &Principal, acct: &str, t: i64, ch: Channel) {
    let mut w = JsonWriter::new(out);
    w.obj();
    match p.kind {
        Kind::IamUser => {
            w.kv_str("type", "IAMUser")
                .kv_str("principalId", &p.principal_id)
                .kv_str("arn", &p.arn)
                .kv_str("accountId", acct);
            match ch {
                Channel::Programmatic => {
                    w.kv_str("accessKeyId", &p.access_key);
                }
                Channel::Console => {
                    let (start, skey) = session_of(p, t);
                    w.kv_str("accessKeyId", &ids::access_key_from_key("ASIA", skey));
                    w.kv_str("userName", &p.name);
                    console_session_context(&mut w, start, true);
                    w.end_obj();
                    return;
                }
                Channel::SignIn => {}
            }
            w.kv_str("userName", &p.name);
        }
        Kind::Root => {
            w.kv_str("type", "Root")
                .kv_str("principalId", acct)
                .kv_str("arn", &p.arn)
                .kv_str("accountId", acct);
            match ch {
                Channel::Console | Channel::Programmatic => {
                    let (start, skey) = session_of(p, t);
                    w.kv_str("accessKeyId", &ids::access_key_from_key("ASIA", skey));
                    console_session_context(&mut w, start, true);
                }
                Channel::SignIn => {
                    w.kv_str("accessKeyId", "");
                }
            }
        }
        Kind::Role => {
            let (start, skey) = session_of(p, t);
            w.kv_str("type", "AssumedRole")
                .kv_str("principalId", &p.principal_id)
                .kv_str("arn", &p.arn)
                .kv_str("accountId", acct)
                .kv_str("accessKeyId", &ids::access_key_from_key("ASIA", skey));
            w.key("sessionContext").obj();
            w.key("sessionIssuer")
                .obj()
                .kv_str("type", "Role")
                .kv_str("principalId", &p.issuer_id)
                .key("arn")
                .str_parts(&["arn:aws:iam::", acct, ":role/", p.role_path, &p.name])
                .kv_str("accountId", acct)
                .kv_str("userName", &p.name)
                .end_obj();
            w.key("webIdFederationData").obj().end_obj();
            w.key("attributes").obj().key("creationDate");
            let mut d = Vec::with_capacity(22);
            d.push(b'"');
            timefmt::push_iso(&mut d, start);
            d.push(b'"');
            w.raw(&d);
            w.kv_str("mfaAuthenticated", "false").end_obj();
            if p.profile == Profile::Ec2 {
                w.kv_str("ec2RoleDelivery", "2.0");
            }
            w.end_obj();
            if let Some(svc) = p.invoked_by {
                w.kv_str("invokedBy", svc);
            }
        }
        Kind::AwsService => {
            w.kv_str("type", "AWSService")
                .kv_str("invokedBy", p.invoked_by.unwrap_or("ec2.amazonaws.com"));
        }
        Kind::Federated => {
            let (start, skey) = session_of(p, t);
            w.kv_str("type", "FederatedUser")
                .kv_str("principalId", &p.principal_id)
                .kv_str("arn", &p.arn)
                .kv_str("accountId", acct)
                .kv_str("accessKeyId", &ids::access_key_from_key("ASIA", skey));
            w.key("sessionContext").obj();
            w.key("sessionIssuer")
                .obj()
                .kv_str("type", "IAMUser")
                .kv_str("principalId", &p.issuer_id)
                .kv_str("arn", &p.extra)
                .kv_str("accountId", acct)
                .kv_str("userName", "federation-broker")
                .end_obj();
            w.key("webIdFederationData").obj().end_obj();
            w.key("attributes").obj().key("creationDate");
            let mut d = Vec::with_capacity(22);
            d.push(b'"');
            timefmt::push_iso(&mut d, start);
            d.push(b'"');
            w.raw(&d);
            w.kv_str("mfaAuthenticated", "false").end_obj();
            w.end_obj();
        }
        Kind::Saml => {
            w.kv_str("type", "SAMLUser")
                .kv_str("principalId", &p.principal_id)
                .kv_str("userName", &p.name)
                .kv_str("identityProvider", &p.extra);
        }
        Kind::WebIdentity => {
            w.kv_str("type", "WebIdentityUser")
                .kv_str("principalId", &p.principal_id)
                .kv_str("userName", &p.name)
                .kv_str("identityProvider", &p.extra);
        }
        Kind::CrossAccount => {
            w.kv_str("type", "AWSAccount")
                .kv_str("principalId", &p.principal_id)
                .kv_str("accountId", &p.extra);
        }
        Kind::IdentityCenter => {
            let (_, skey) = session_of(p, t);
            w.kv_str("type", "IdentityCenterUser")
                .kv_str("accountId", acct)
                .key("onBehalfOf")
                .obj()
                .kv_str("userId", &p.principal_id)
                .kv_str("identityStoreArn", &p.extra)
                .end_obj()
                .kv_str("credentialId", &ids::uuid_from_key(skey));
        }
    }
    w.end_obj();
}

fn console_session_context(w: &mut JsonWriter<'_>, start: i64, mfa: bool) {
    w.key("sessionContext").obj();
    w.key("sessionIssuer").obj().end_obj();
    w.key("webIdFederationData").obj().end_obj();
    w.key("attributes").obj().key("creationDate");
    let mut d = Vec::with_capacity(22);
    d.push(b'"');
    timefmt::push_iso(&mut d, start);
    d.push(b'"');
    w.raw(&d);
    w.kv_str("mfaAuthenticated", if mfa { "true" } else { "false" })
        .end_obj();
    w.end_obj();
}

/// The default `clientProvidedHostHeader` of a service endpoint in a region.
pub(crate) fn default_host(host: &mut String, source: &str, region: &str) {
    host.clear();
    let prefix = source.split('.').next().unwrap_or(source);
    match prefix {
        "iam" => host.push_str("iam.amazonaws.com"),
        "signin" => host.push_str("signin.aws.amazon.com"),
        "organizations" => host.push_str("organizations.us-east-1.amazonaws.com"),
        "sso" => {
            host.push_str("portal.sso.");
            host.push_str(region);
            host.push_str(".amazonaws.com");
        }
        "sts" if region == "us-east-1" => host.push_str("sts.amazonaws.com"),
        _ => {
            host.push_str(prefix);
            host.push('.');
            host.push_str(region);
            host.push_str(".amazonaws.com");
        }
    }
}

/// Appends `n` random base64 characters (for `x-amz-id-2`, session tokens…).
pub(crate) fn push_b64<R: Rng>(rng: &mut R, out: &mut Vec<u8>, n: usize) {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut left = n;
    while left > 0 {
        let mut x: u64 = rng.random();
        for _ in 0..left.min(10) {
            out.push(B64[(x & 63) as usize]);
            x >>= 6;
        }
        left = left.saturating_sub(10);
    }
}

/// A JSON string of `n` random base64 characters.
pub(crate) fn b64_string<R: Rng>(rng: &mut R, n: usize) -> String {
    let mut b = Vec::with_capacity(n);
    push_b64(rng, &mut b, n);
    String::from_utf8(b).unwrap_or_default()
}
