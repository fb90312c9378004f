//! Injected detection scenarios: positives for every built-in policy and near misses that
//! must not fire. Each event carries the exact set of policy ids expected to fire on it,
//! which goes to `scenarios.jsonl`.

use std::io;

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use crate::ids;
use crate::record::{
    default_host, push_b64, write_identity, write_record, Channel, Envelope, RequestId, Scratch,
    TLS13,
};
use crate::world::{Account, Kind, Principal, World, VENDOR_ACCOUNT};
use crate::{RISKY_CIDR_PREFIX, RISKY_SINGLE_IP};

const CONSOLE_SIGNIN_FAILURES: &str = "console-signin-failures";
const CLOUDTRAIL_CONFIG_CHANGE: &str = "cloudtrail-config-change";
const EC2_INSTANCE_CONFIG_CHANGE: &str = "ec2-instance-config-change";
const IAM_POLICY_CHANGE: &str = "iam-policy-change";
const RISKY_IP_LOGON: &str = "risky-ip-logon";
const NETWORK_ACL_CHANGE: &str = "network-acl-change";
const NETWORK_GATEWAY_CHANGE: &str = "network-gateway-change";
const S3_BUCKET_CONFIG_CHANGE: &str = "s3-bucket-config-change";
const SECURITY_GROUP_CHANGE: &str = "security-group-change";
const VPC_CHANGE: &str = "vpc-change";
const S3_BUCKET_PUBLIC: &str = "s3-bucket-public";

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One injected event.
#[derive(Debug, Clone)]
pub(crate) struct ScenarioEvent {
    pub scenario: &'static str,
    /// Exact set of policy ids that must fire on this event (sorted).
    pub expect: Vec<&'static str>,
    pub account: usize,
    pub region_index: usize,
    /// Events of one group happen together (`offset` seconds after the group's time).
    pub group: usize,
    pub offset: i64,
    /// Event time, set when the run is planned.
    pub time: i64,
    pub principal: Principal,
    pub channel: Channel,
    pub source: &'static str,
    pub name: &'static str,
    pub ip: String,
    pub agent: String,
    pub read_only: bool,
    pub event_type: &'static str,
    pub req: Option<Value>,
    pub resp: Option<Value>,
    pub add: Option<Value>,
    pub resources: Option<Value>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Overrides the default `clientProvidedHostHeader`.
    pub host: Option<String>,
    pub request_id: RequestId,
    /// A fixed time, in seconds after the trail's start (anomaly scenarios); `None`: the
    /// group's random moment. Events with a fixed time are never delivered late (in the next
    /// window's object), so their order is the order the anomaly engine sees.
    pub at: Option<i64>,
    /// `awsRegion` when it is not one of the account's regions (then the event goes to a
    /// stream of its own).
    pub region: Option<&'static str>,
    /// An S3 data event (`eventCategory` `Data`).
    pub data: bool,
    /// What the anomaly detections must do with this event (anomaly scenarios only).
    pub anomaly: Option<Box<AnomalyExpect>>,
}

/// The anomaly part of a scenario event's manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnomalyExpect {
    /// The detection the scenario is about.
    pub detection: &'static str,
    /// Exactly the detections that must raise an alert with this event as its trigger (the
    /// last of the alert's `event_ids`), sorted.
    pub alerts: Vec<&'static str>,
    /// The acting principal's key, as trailwarden writes it (`111122223333:user/alice`).
    pub principal: String,
}

impl ScenarioEvent {
    fn console(mut self) -> Self {
        self.channel = Channel::Console;
        self.agent = if self.source == "s3.amazonaws.com" {
            "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.655 Linux/5.10.210-178.855.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation cfg/retry-mode/standard]".to_string()
        } else {
            "AWS Internal".to_string()
        };
        self
    }

    fn denied(mut self, message: String) -> Self {
        self.error_code = Some(
            if self.source == "ec2.amazonaws.com" {
                "Client.UnauthorizedOperation"
            } else {
                "AccessDenied"
            }
            .to_string(),
        );
        self.error_message = Some(message);
        self.resp = None;
        self
    }
}

struct Builder<'w, R> {
    world: &'w World,
    rng: &'w mut R,
    out: Vec<ScenarioEvent>,
    group: usize,
}

impl<R: Rng> Builder<'_, R> {
    fn account(&self, a: usize) -> &Account {
        let n = self.world.accounts.len();
        &self.world.accounts[a.min(n - 1)]
    }

    /// The `n`-th principal of `account` matching `pred` (wrapping), else the first principal.
    fn find(&self, a: usize, n: usize, pred: impl Fn(&Principal) -> bool) -> Principal {
        let acc = self.account(a);
        let matching: Vec<&Principal> = acc.principals.iter().filter(|p| pred(p)).collect();
        if matching.is_empty() {
            return acc.principals[0].clone();
        }
        matching[n % matching.len()].clone()
    }

    fn user(&self, a: usize, n: usize) -> Principal {
        self.find(a, n, |p| {
            p.kind == Kind::IamUser && p.profile == crate::catalog::Profile::Human
        })
    }

    fn root(&self, a: usize) -> Principal {
        self.find(a, 0, |p| p.kind == Kind::Root)
    }

    fn sso_admin(&self, a: usize) -> Principal {
        let acc = self.account(a);
        let admin = acc
            .principals
            .iter()
            .find(|p| p.name.starts_with("AWSReservedSSO_AdministratorAccess"));
        match admin {
            Some(p) => p.clone(),
            None => self.find(a, 0, |p| p.profile == crate::catalog::Profile::Sso),
        }
    }

    fn role(&self, a: usize, role: &str) -> Principal {
        self.find(a, 0, |p| p.kind == Kind::Role && p.name == role)
    }

    fn home_or_other_region(&mut self, a: usize) -> usize {
        let n = self.account(a).regions.len();
        if self.rng.random_bool(0.6) {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// A new event in a new group; region index 0 (us-east-1).
    fn ev(
        &mut self,
        scenario: &'static str,
        expect: &[&'static str],
        a: usize,
        p: Principal,
        source: &'static str,
        name: &'static str,
    ) -> ScenarioEvent {
        self.group += 1;
        let mut expect = expect.to_vec();
        expect.sort_unstable();
        let a = a.min(self.world.accounts.len() - 1);
        let ip = p
            .ips
            .first()
            .cloned()
            .unwrap_or_else(|| "198.51.100.20".to_string());
        let agent = p
            .agents
            .first()
            .cloned()
            .unwrap_or_else(|| "aws-cli/2.15.20".to_string());
        ScenarioEvent {
            scenario,
            expect,
            account: a,
            region_index: p.region.unwrap_or(0),
            group: self.group,
            offset: 0,
            time: 0,
            principal: p,
            channel: Channel::Programmatic,
            source,
            name,
            ip,
            agent,
            read_only: false,
            event_type: "AwsApiCall",
            req: None,
            resp: None,
            add: None,
            resources: None,
            error_code: None,
            error_message: None,
            host: None,
            request_id: RequestId::Uuid,
            at: None,
            region: None,
            data: false,
            anomaly: None,
        }
    }

    /// A follow-up event in the same group as the previous one, `offset` seconds later.
    fn follow(&mut self, mut e: ScenarioEvent, offset: i64) -> ScenarioEvent {
        self.group -= 1;
        e.group = self.group;
        e.offset = offset;
        e
    }

    fn push(&mut self, e: ScenarioEvent) {
        self.out.push(e);
    }

    fn console_login(
        &mut self,
        scenario: &'static str,
        expect: &[&'static str],
        a: usize,
        p: Principal,
        ip: String,
        success: bool,
    ) {
        let acct = self.account(a).id.clone();
        let browser = p.browser.to_string();
        let mfa_used = success;
        let mut e = self.ev(
            scenario,
            expect,
            a,
            p,
            "signin.amazonaws.com",
            "ConsoleLogin",
        );
        e.channel = Channel::SignIn;
        e.event_type = "AwsConsoleSignIn";
        e.request_id = RequestId::None;
        e.ip = ip;
        e.agent = browser;
        e.region_index = 0;
        let state = ids::hex(self.rng, 16);
        let mut add = json!({
            "LoginTo": format!("https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_{state}"),
            "MobileVersion": "No",
            "MFAUsed": if mfa_used { "Yes" } else { "No" },
        });
        if success {
            let device = if e.principal.kind == Kind::Root {
                format!("arn:aws:iam::{acct}:mfa/root-account-mfa-device")
            } else {
                format!("arn:aws:iam::{acct}:mfa/{}", e.principal.name)
            };
            if let Some(o) = add.as_object_mut() {
                o.insert("MFAIdentifier".to_string(), Value::String(device));
            }
            e.resp = Some(json!({"ConsoleLogin": "Success"}));
        } else {
            e.resp = Some(json!({"ConsoleLogin": "Failure"}));
            e.error_message = Some("Failed authentication".to_string());
        }
        e.add = Some(add);
        self.push(e);
    }

    fn s3_event(
        &mut self,
        scenario: &'static str,
        expect: &[&'static str],
        a: usize,
        p: Principal,
        name: &'static str,
        sub: &str,
    ) -> ScenarioEvent {
        let world = self.world;
        let acc = &world.accounts[a.min(world.accounts.len() - 1)];
        let bucket = acc
            .buckets
            .choose(self.rng)
            .cloned()
            .unwrap_or(crate::world::Bucket {
                name: format!("{}-assets", acc.alias),
                region: 0,
            });
        let acct = acc.id.clone();
        let region = acc
            .regions
            .get(bucket.region)
            .copied()
            .unwrap_or("us-east-1");
        let host = format!("{}.s3.{region}.amazonaws.com", bucket.name);
        let add = s3_additional(self.rng);
        let mut e = self.ev(scenario, expect, a, p, "s3.amazonaws.com", name);
        e.region_index = bucket.region;
        e.request_id = RequestId::S3;
        let mut req = json!({"bucketName": bucket.name, "Host": host});
        if let Some(o) = req.as_object_mut() {
            o.insert(sub.to_string(), Value::String(String::new()));
        }
        e.req = Some(req);
        e.host = Some(host);
        e.add = Some(add);
        e.resources = Some(json!([{
            "accountId": acct,
            "type": "AWS::S3::Bucket",
            "ARN": format!("arn:aws:s3:::{}", bucket.name),
        }]));
        e
    }

    fn ec2_event(
        &mut self,
        scenario: &'static str,
        expect: &[&'static str],
        a: usize,
        p: Principal,
        name: &'static str,
    ) -> ScenarioEvent {
        let ri = match p.region {
            Some(r) => r,
            None => self.home_or_other_region(a),
        };
        let mut e = self.ev(scenario, expect, a, p, "ec2.amazonaws.com", name);
        e.region_index = ri;
        e
    }

    fn set_req_member(e: &mut ScenarioEvent, key: &str, v: Value) {
        if let Some(Value::Object(o)) = e.req.as_mut() {
            o.insert(key.to_string(), v);
        }
    }
}

fn s3_additional<R: Rng>(rng: &mut R) -> Value {
    let mut id2 = Vec::new();
    push_b64(rng, &mut id2, 76);
    json!({
        "SignatureVersion": "SigV4",
        "CipherSuite": TLS13.1,
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": String::from_utf8(id2).unwrap_or_default(),
        "bytesTransferredOut": 0,
    })
}

fn denied_message(arn: &str, action: &str, resource: Option<&str>) -> String {
    match resource {
        Some(r) => format!(
            "User: {arn} is not authorized to perform: {action} on resource: {r} because no identity-based policy allows the {action} action"
        ),
        None => format!(
            "User: {arn} is not authorized to perform: {action} because no identity-based policy allows the {action} action"
        ),
    }
}

/// Builds every scenario event (times are assigned later by the planner).
pub(crate) fn build<R: Rng>(world: &World, rng: &mut R) -> Vec<ScenarioEvent> {
    let mut b = Builder {
        world,
        rng,
        out: Vec::new(),
        group: 0,
    };
    let last = world.accounts.len() - 1;
    let (a0, a1, a2) = (0usize, 1usize, last);

    // --- console-signin-failures -------------------------------------------------------
    let u = b.user(a0, 0);
    let ip = u.ips[0].clone();
    b.console_login(
        "console-failure-iam-user",
        &[CONSOLE_SIGNIN_FAILURES],
        a0,
        u,
        ip,
        false,
    );
    let r = b.root(a1);
    let ip = r.ips[0].clone();
    b.console_login(
        "console-failure-root",
        &[CONSOLE_SIGNIN_FAILURES],
        a1,
        r,
        ip,
        false,
    );
    {
        // A burst of failures for one user, a few seconds apart.
        let u = b.user(a2, 1);
        let ip = u.ips[0].clone();
        let mut first_group = 0;
        for k in 0..3i64 {
            b.console_login(
                "console-failure-burst",
                &[CONSOLE_SIGNIN_FAILURES],
                a2,
                u.clone(),
                ip.clone(),
                false,
            );
            if k == 0 {
                first_group = b.group;
            } else if let Some(e) = b.out.last_mut() {
                e.group = first_group;
                e.offset = 7 * k;
                b.group -= 1;
            }
        }
    }
    {
        // A mistyped user name: CloudTrail hides it.
        let mut p = b.user(a1, 2);
        p.name = "HIDDEN_DUE_TO_SECURITY_REASONS".to_string();
        p.principal_id = String::new();
        p.arn = String::new();
        let ip = p.ips[0].clone();
        b.console_login(
            "console-failure-unknown-user",
            &[CONSOLE_SIGNIN_FAILURES],
            a1,
            p,
            ip,
            false,
        );
    }
    let u = b.user(a0, 1);
    b.console_login(
        "console-failure-risky-ip",
        &[CONSOLE_SIGNIN_FAILURES, RISKY_IP_LOGON],
        a0,
        u,
        format!("{RISKY_CIDR_PREFIX}45"),
        false,
    );

    // --- risky-ip-logon -------------------------------------------------------------------
    let u = b.user(a1, 0);
    b.console_login(
        "risky-ip-console-login",
        &[RISKY_IP_LOGON],
        a1,
        u,
        format!("{RISKY_CIDR_PREFIX}77"),
        true,
    );
    let r = b.root(a0);
    b.console_login(
        "risky-ip-console-login-root",
        &[RISKY_IP_LOGON],
        a0,
        r,
        RISKY_SINGLE_IP.to_string(),
        true,
    );
    // Near misses.
    let u = b.user(a2, 0);
    let ip = u.ips[0].clone();
    b.console_login("console-login-normal-ip", &[], a2, u, ip, true);
    {
        let u = b.user(a1, 1);
        let mut e = b.ec2_event("risky-ip-api-call", &[], a1, u, "DescribeInstances");
        e.ip = format!("{RISKY_CIDR_PREFIX}45");
        e.read_only = true;
        e.req = Some(json!({"instancesSet": {}, "filterSet": {}}));
        b.push(e);
    }

    // --- cloudtrail-config-change -----------------------------------------------------------
    {
        let acct = b.account(a0).id.clone();
        let trail = b.account(a0).trail_name.clone();
        let u = b.user(a0, 2);
        let mut e = b.ev(
            "cloudtrail-stop-logging",
            &[CLOUDTRAIL_CONFIG_CHANGE],
            a0,
            u,
            "cloudtrail.amazonaws.com",
            "StopLogging",
        );
        e.req = Some(json!({"name": format!("arn:aws:cloudtrail:us-east-1:{acct}:trail/{trail}")}));
        b.push(e);

        let acct1 = b.account(a1).id.clone();
        let trail1 = b.account(a1).trail_name.clone();
        let p = b.sso_admin(a1);
        let e = b.ev(
            "cloudtrail-delete-trail",
            &[CLOUDTRAIL_CONFIG_CHANGE],
            a1,
            p,
            "cloudtrail.amazonaws.com",
            "DeleteTrail",
        );
        let mut e = e.console();
        e.req =
            Some(json!({"name": format!("arn:aws:cloudtrail:us-east-1:{acct1}:trail/{trail1}")}));
        b.push(e);

        let acct2 = b.account(a2).id.clone();
        let trail2 = b.account(a2).trail_name.clone();
        let p = b.role(a2, "terraform-ci");
        let mut e = b.ev(
            "cloudtrail-put-event-selectors",
            &[CLOUDTRAIL_CONFIG_CHANGE],
            a2,
            p,
            "cloudtrail.amazonaws.com",
            "PutEventSelectors",
        );
        let trail_arn = format!("arn:aws:cloudtrail:us-east-1:{acct2}:trail/{trail2}");
        e.req = Some(json!({
            "trailName": trail_arn,
            "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": true, "dataResources": [], "excludeManagementEventSources": ["kms.amazonaws.com"]}]
        }));
        e.resp = Some(json!({
            "trailARN": trail_arn,
            "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": true, "dataResources": [], "excludeManagementEventSources": ["kms.amazonaws.com"]}]
        }));
        b.push(e);

        let p = b.role(a0, "terraform-ci");
        let bucket = b.account(a0).trail_bucket.clone();
        let mut e = b.ev(
            "cloudtrail-update-trail",
            &[CLOUDTRAIL_CONFIG_CHANGE],
            a0,
            p,
            "cloudtrail.amazonaws.com",
            "UpdateTrail",
        );
        let trail_arn = format!("arn:aws:cloudtrail:us-east-1:{acct}:trail/{trail}");
        e.req = Some(
            json!({"name": trail_arn, "isMultiRegionTrail": false, "includeGlobalServiceEvents": false}),
        );
        e.resp = Some(json!({
            "name": trail, "s3BucketName": bucket, "includeGlobalServiceEvents": false,
            "isMultiRegionTrail": false, "trailARN": trail_arn, "logFileValidationEnabled": true,
            "isOrganizationTrail": false
        }));
        b.push(e);

        // Near miss: the same call, denied.
        let u = b.user(a1, 1);
        let arn = u.arn.clone();
        let e = b.ev(
            "cloudtrail-stop-logging-denied",
            &[],
            a1,
            u,
            "cloudtrail.amazonaws.com",
            "StopLogging",
        );
        let trail_arn = format!("arn:aws:cloudtrail:us-east-1:{acct1}:trail/{trail1}");
        let mut e = e.denied(denied_message(
            &arn,
            "cloudtrail:StopLogging",
            Some(&trail_arn),
        ));
        e.req = Some(json!({"name": trail_arn}));
        b.push(e);
    }

    // --- ec2-instance-config-change ---------------------------------------------------------
    {
        let u = b.user(a0, 0);
        let mut e = b.ec2_event(
            "ec2-modify-instance-userdata",
            &[EC2_INSTANCE_CONFIG_CHANGE],
            a0,
            u,
            "ModifyInstanceAttribute",
        );
        let inst = instance_of(&b, &e);
        e.req = Some(json!({"instanceId": inst, "userData": "<sensitiveDataRemoved>"}));
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "_return": true}));
        b.push(e);

        let p = b.role(a1, "github-actions-deploy");
        let mut e = b.ec2_event(
            "ec2-imdsv1-enabled",
            &[EC2_INSTANCE_CONFIG_CHANGE],
            a1,
            p,
            "ModifyInstanceMetadataOptions",
        );
        let inst = instance_of(&b, &e);
        e.req = Some(
            json!({"ModifyInstanceMetadataOptionsRequest": {"InstanceId": inst, "HttpTokens": "optional", "HttpEndpoint": "enabled"}}),
        );
        e.resp = Some(json!({"ModifyInstanceMetadataOptionsResponse": {
            "requestId": ids::uuid(b.rng), "instanceId": inst,
            "instanceMetadataOptions": {"state": "pending", "httpTokens": "optional", "httpPutResponseHopLimit": 1, "httpEndpoint": "enabled", "httpProtocolIpv4": "enabled", "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"}
        }}));
        b.push(e);

        let p = b.sso_admin(a2);
        let e = b.ec2_event(
            "ec2-associate-instance-profile",
            &[EC2_INSTANCE_CONFIG_CHANGE],
            a2,
            p,
            "AssociateIamInstanceProfile",
        );
        let mut e = e.console();
        let inst = instance_of(&b, &e);
        let acct = b.account(a2).id.clone();
        let assoc = format!("iip-assoc-0{}", ids::hex(b.rng, 16));
        e.req = Some(
            json!({"AssociateIamInstanceProfileRequest": {"InstanceId": inst, "IamInstanceProfile": {"Name": "admin-instance-profile"}}}),
        );
        e.resp = Some(
            json!({"AssociateIamInstanceProfileResponse": {"requestId": ids::uuid(b.rng), "iamInstanceProfileAssociation": {
                "associationId": assoc, "instanceId": inst, "state": "associating",
                "iamInstanceProfile": {"arn": format!("arn:aws:iam::{acct}:instance-profile/admin-instance-profile"), "id": ids::aws_id(b.rng, "AIPA")}
            }}}),
        );
        b.push(e);
    }

    // --- iam-policy-change ------------------------------------------------------------------
    {
        let p = b.sso_admin(a0);
        let e = b.ev(
            "iam-attach-admin-policy",
            &[IAM_POLICY_CHANGE],
            a0,
            p,
            "iam.amazonaws.com",
            "AttachRolePolicy",
        );
        let mut e = e.console();
        e.req = Some(
            json!({"roleName": "app-server-role", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        );
        b.push(e);

        let u = b.user(a1, 0);
        let name = u.name.clone();
        let mut e = b.ev(
            "iam-put-user-policy",
            &[IAM_POLICY_CHANGE],
            a1,
            u,
            "iam.amazonaws.com",
            "PutUserPolicy",
        );
        e.req = Some(json!({
            "userName": name, "policyName": "tmp-full-access",
            "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"
        }));
        b.push(e);

        let acct = b.account(a2).id.clone();
        let p = b.role(a2, "terraform-ci");
        let mut e = b.ev(
            "iam-create-policy-version-default",
            &[IAM_POLICY_CHANGE],
            a2,
            p,
            "iam.amazonaws.com",
            "CreatePolicyVersion",
        );
        let policy_arn = format!("arn:aws:iam::{acct}:policy/ci-deploy");
        e.req = Some(json!({
            "policyArn": policy_arn,
            "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"iam:PassRole\",\"ec2:*\"],\"Resource\":\"*\"}]}",
            "setAsDefault": true
        }));
        e.resp = Some(
            json!({"policyVersion": {"versionId": "v7", "isDefaultVersion": true, "createDate": "Mar 2, 2024, 10:11:12 AM"}}),
        );
        b.push(e);

        let r = b.root(a0);
        let acct0 = b.account(a0).id.clone();
        let e = b.ev(
            "iam-update-assume-role-policy-root",
            &[IAM_POLICY_CHANGE],
            a0,
            r,
            "iam.amazonaws.com",
            "UpdateAssumeRolePolicy",
        );
        let mut e = e.console();
        e.req = Some(json!({
            "roleName": "OrganizationAccountAccessRole",
            "policyDocument": format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{VENDOR_ACCOUNT}:root\"}},\"Action\":\"sts:AssumeRole\"}}]}}")
        }));
        let _ = acct0;
        b.push(e);

        // Near miss: denied.
        let acct1 = b.account(a1).id.clone();
        let p = b.role(a1, "github-actions-deploy");
        let arn = p.arn.clone();
        let e = b.ev(
            "iam-attach-user-policy-denied",
            &[],
            a1,
            p,
            "iam.amazonaws.com",
            "AttachUserPolicy",
        );
        let user_arn = format!("arn:aws:iam::{acct1}:user/deploy-bot");
        let mut e = e.denied(denied_message(
            &arn,
            "iam:AttachUserPolicy",
            Some(&user_arn),
        ));
        e.req = Some(
            json!({"userName": "deploy-bot", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        );
        b.push(e);
    }

    // --- network-acl-change ---------------------------------------------------------------
    {
        let u = b.user(a0, 1);
        let mut e = b.ec2_event(
            "nacl-allow-all-ingress",
            &[NETWORK_ACL_CHANGE],
            a0,
            u,
            "CreateNetworkAclEntry",
        );
        let acl = res_of(&b, &e, |r| r.network_acls.first().cloned());
        e.req = Some(json!({
            "networkAclId": acl, "ruleNumber": 90, "egress": false, "ruleAction": "allow",
            "icmpTypeCode": {}, "portRange": {}, "aclProtocol": "-1", "cidrBlock": "0.0.0.0/0"
        }));
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "_return": true}));
        b.push(e);

        let p = b.role(a1, "terraform-ci");
        let mut e = b.ec2_event(
            "nacl-replace-association",
            &[NETWORK_ACL_CHANGE],
            a1,
            p,
            "ReplaceNetworkAclAssociation",
        );
        let acl = res_of(&b, &e, |r| r.network_acls.get(1).cloned());
        let new_assoc = format!("aclassoc-0{}", ids::hex(b.rng, 16));
        e.req = Some(
            json!({"associationId": format!("aclassoc-0{}", ids::hex(b.rng, 16)), "networkAclId": acl}),
        );
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "newAssociationId": new_assoc}));
        b.push(e);

        let p = b.sso_admin(a2);
        let e = b.ec2_event(
            "nacl-delete",
            &[NETWORK_ACL_CHANGE],
            a2,
            p,
            "DeleteNetworkAcl",
        );
        let mut e = e.console();
        let acl = res_of(&b, &e, |r| r.network_acls.get(1).cloned());
        e.req = Some(json!({"networkAclId": acl}));
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "_return": true}));
        b.push(e);
    }

    // --- network-gateway-change -------------------------------------------------------------
    {
        let u = b.user(a1, 2);
        let mut e = b.ec2_event(
            "igw-create-and-attach",
            &[NETWORK_GATEWAY_CHANGE],
            a1,
            u.clone(),
            "CreateInternetGateway",
        );
        let igw = format!("igw-0{}", ids::hex(b.rng, 16));
        let vpc = res_of(&b, &e, |r| Some(r.vpc.clone()));
        let ri = e.region_index;
        let acct = b.account(a1).id.clone();
        e.req = Some(
            json!({"tagSpecificationSet": {"items": [{"resourceType": "internet-gateway", "tags": [{"key": "Name", "value": "temp-egress"}]}]}}),
        );
        e.resp = Some(
            json!({"requestId": ids::uuid(b.rng), "internetGateway": {"internetGatewayId": igw, "ownerId": acct, "attachmentSet": {}, "tagSet": {"items": [{"key": "Name", "value": "temp-egress"}]}}}),
        );
        b.push(e);
        let e = b.ec2_event(
            "igw-create-and-attach",
            &[NETWORK_GATEWAY_CHANGE],
            a1,
            u,
            "AttachInternetGateway",
        );
        let mut e = b.follow(e, 12);
        e.region_index = ri;
        e.req = Some(json!({"internetGatewayId": igw, "vpcId": vpc}));
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "_return": true}));
        b.push(e);

        let p = b.role(a0, "terraform-ci");
        let mut e = b.ec2_event(
            "nat-gateway-delete",
            &[NETWORK_GATEWAY_CHANGE],
            a0,
            p,
            "DeleteNatGateway",
        );
        let nat = format!("nat-0{}", ids::hex(b.rng, 16));
        e.req = Some(json!({"DeleteNatGatewayRequest": {"NatGatewayId": nat}}));
        e.resp = Some(
            json!({"DeleteNatGatewayResponse": {"requestId": ids::uuid(b.rng), "natGatewayId": nat}}),
        );
        b.push(e);
    }

    // --- s3-bucket-config-change (not public) ----------------------------------------------
    {
        let p = b.role(a0, "terraform-ci");
        let mut e = b.s3_event(
            "s3-put-bucket-logging",
            &[S3_BUCKET_CONFIG_CHANGE],
            a0,
            p,
            "PutBucketLogging",
            "logging",
        );
        Builder::<R>::set_req_member(
            &mut e,
            "BucketLoggingStatus",
            json!({"xmlns": S3_XMLNS, "LoggingEnabled": {"TargetBucket": "central-access-logs", "TargetPrefix": "s3/"}}),
        );
        b.push(e);

        let u = b.user(a1, 1);
        let e = b.s3_event(
            "s3-delete-bucket-encryption",
            &[S3_BUCKET_CONFIG_CHANGE],
            a1,
            u,
            "DeleteBucketEncryption",
            "encryption",
        );
        b.push(e);

        let p = b.role(a2, "github-actions-deploy");
        let mut e = b.s3_event(
            "s3-put-bucket-lifecycle",
            &[S3_BUCKET_CONFIG_CHANGE],
            a2,
            p,
            "PutBucketLifecycle",
            "lifecycle",
        );
        Builder::<R>::set_req_member(
            &mut e,
            "LifecycleConfiguration",
            json!({"xmlns": S3_XMLNS, "Rule": {"ID": "expire-all-1d", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}}),
        );
        b.push(e);

        let p = b.sso_admin(a0);
        let e = b.s3_event(
            "s3-suspend-versioning",
            &[S3_BUCKET_CONFIG_CHANGE],
            a0,
            p,
            "PutBucketVersioning",
            "versioning",
        );
        let mut e = e.console();
        Builder::<R>::set_req_member(
            &mut e,
            "VersioningConfiguration",
            json!({"xmlns": S3_XMLNS, "Status": "Suspended"}),
        );
        b.push(e);
    }

    // --- security-group-change --------------------------------------------------------------
    {
        let u = b.user(a0, 2);
        let mut e = b.ec2_event(
            "sg-open-ssh-to-world",
            &[SECURITY_GROUP_CHANGE],
            a0,
            u,
            "AuthorizeSecurityGroupIngress",
        );
        let sg = res_of(&b, &e, |r| r.security_groups.first().cloned());
        e.req = Some(json!({"groupId": sg, "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}
        }]}}));
        e.resp = Some(
            json!({"requestId": ids::uuid(b.rng), "_return": true, "securityGroupRuleSet": {"items": [{
                "groupOwnerId": b.account(a0).id.clone(), "groupId": sg, "securityGroupRuleId": format!("sgr-0{}", ids::hex(b.rng, 16)),
                "isEgress": false, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"
            }]}}),
        );
        b.push(e);

        let p = b.role(a1, "terraform-ci");
        let mut e = b.ec2_event(
            "sg-create",
            &[SECURITY_GROUP_CHANGE],
            a1,
            p,
            "CreateSecurityGroup",
        );
        let vpc = res_of(&b, &e, |r| Some(r.vpc.clone()));
        e.req = Some(
            json!({"groupName": "debug-open", "groupDescription": "temporary debugging", "vpcId": vpc}),
        );
        e.resp = Some(
            json!({"requestId": ids::uuid(b.rng), "_return": true, "groupId": format!("sg-0{}", ids::hex(b.rng, 16))}),
        );
        b.push(e);

        let p = b.sso_admin(a2);
        let e = b.ec2_event(
            "sg-modify-rules",
            &[SECURITY_GROUP_CHANGE],
            a2,
            p,
            "ModifySecurityGroupRules",
        );
        let mut e = e.console();
        let sg = res_of(&b, &e, |r| r.security_groups.get(1).cloned());
        e.req = Some(
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": sg, "SecurityGroupRule": {
                "SecurityGroupRuleId": format!("sgr-0{}", ids::hex(b.rng, 16)),
                "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "CidrIpv4": "0.0.0.0/0"}
            }}}),
        );
        e.resp = Some(
            json!({"ModifySecurityGroupRulesResponse": {"requestId": ids::uuid(b.rng), "return": true}}),
        );
        b.push(e);

        // Near miss: a read of the same resource type.
        let u = b.user(a0, 0);
        let mut e = b.ec2_event("sg-describe", &[], a0, u, "DescribeSecurityGroups");
        e.read_only = true;
        e.req = Some(json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}));
        b.push(e);
    }

    // --- vpc-change -------------------------------------------------------------------------
    {
        let p = b.role(a1, "terraform-ci");
        let mut e = b.ec2_event("vpc-create", &[VPC_CHANGE], a1, p, "CreateVpc");
        e.req = Some(
            json!({"cidrBlock": "10.99.0.0/16", "instanceTenancy": "default", "amazonProvidedIpv6CidrBlock": false}),
        );
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "vpc": {
            "vpcId": format!("vpc-0{}", ids::hex(b.rng, 16)), "state": "pending", "ownerId": b.account(a1).id.clone(),
            "cidrBlock": "10.99.0.0/16", "instanceTenancy": "default", "isDefault": false
        }}));
        b.push(e);

        let u = b.user(a0, 1);
        let mut e = b.ec2_event("vpc-route-to-internet", &[VPC_CHANGE], a0, u, "CreateRoute");
        let rtb = res_of(&b, &e, |r| r.route_tables.first().cloned());
        let igw = res_of(&b, &e, |r| Some(r.igw.clone()));
        e.req = Some(
            json!({"routeTableId": rtb, "destinationCidrBlock": "0.0.0.0/0", "gatewayId": igw}),
        );
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "_return": true}));
        b.push(e);

        let p = b.sso_admin(a2);
        let e = b.ec2_event(
            "vpc-peering-to-vendor",
            &[VPC_CHANGE],
            a2,
            p,
            "CreateVpcPeeringConnection",
        );
        let mut e = e.console();
        let vpc = res_of(&b, &e, |r| Some(r.vpc.clone()));
        let peer_vpc = format!("vpc-0{}", ids::hex(b.rng, 16));
        e.req = Some(json!({"vpcId": vpc, "peerVpcId": peer_vpc, "peerOwnerId": VENDOR_ACCOUNT}));
        e.resp = Some(
            json!({"requestId": ids::uuid(b.rng), "vpcPeeringConnection": {
                "vpcPeeringConnectionId": format!("pcx-0{}", ids::hex(b.rng, 16)),
                "status": {"code": "initiating-request", "message": "Initiating Request to 999988887777"}
            }}),
        );
        b.push(e);

        let p = b.role(a1, "github-actions-deploy");
        let mut e = b.ec2_event(
            "vpc-modify-attribute",
            &[VPC_CHANGE],
            a1,
            p,
            "ModifyVpcAttribute",
        );
        let vpc = res_of(&b, &e, |r| Some(r.vpc.clone()));
        e.req = Some(json!({"vpcId": vpc, "enableDnsHostnames": {"value": true}}));
        e.resp = Some(json!({"requestId": ids::uuid(b.rng), "_return": true}));
        b.push(e);
    }

    // --- s3-bucket-public (+ s3-bucket-config-change where the name is in its list) -------
    let public_and_config: &[&'static str] = &[S3_BUCKET_CONFIG_CHANGE, S3_BUCKET_PUBLIC];
    {
        let u = b.user(a0, 0);
        let mut e = b.s3_event(
            "s3-acl-canned-public-read",
            public_and_config,
            a0,
            u,
            "PutBucketAcl",
            "acl",
        );
        Builder::<R>::set_req_member(&mut e, "x-amz-acl", json!(["public-read"]));
        b.push(e);

        let p = b.sso_admin(a1);
        let owner = ids::hex(b.rng, 64);
        let e = b.s3_event(
            "s3-acl-grant-all-users",
            public_and_config,
            a1,
            p,
            "PutBucketAcl",
            "acl",
        );
        let mut e = e.console();
        Builder::<R>::set_req_member(
            &mut e,
            "AccessControlPolicy",
            json!({
                "AccessControlList": {"Grant": [
                    {"Grantee": {"xsi:type": "CanonicalUser", "xmlns:xsi": XSI, "ID": owner}, "Permission": "FULL_CONTROL"},
                    {"Grantee": {"xsi:type": "Group", "xmlns:xsi": XSI, "URI": ALL_USERS}, "Permission": "READ"}
                ]},
                "xmlns": S3_XMLNS,
                "Owner": {"ID": owner}
            }),
        );
        b.push(e);

        let u = b.user(a2, 2);
        let owner = ids::hex(b.rng, 64);
        let mut e = b.s3_event(
            "s3-acl-grant-authenticated-users",
            public_and_config,
            a2,
            u,
            "PutBucketAcl",
            "acl",
        );
        Builder::<R>::set_req_member(
            &mut e,
            "AccessControlPolicy",
            json!({
                "AccessControlList": {"Grant": {"Grantee": {"xsi:type": "Group", "xmlns:xsi": XSI, "URI": AUTHENTICATED_USERS}, "Permission": "READ"}},
                "xmlns": S3_XMLNS,
                "Owner": {"ID": owner}
            }),
        );
        b.push(e);

        let p = b.role(a0, "github-actions-deploy");
        let mut e = b.s3_event(
            "s3-acl-grant-read-header",
            public_and_config,
            a0,
            p,
            "PutBucketAcl",
            "acl",
        );
        Builder::<R>::set_req_member(
            &mut e,
            "x-amz-grant-read",
            json!([format!("uri={ALL_USERS}")]),
        );
        b.push(e);

        let u = b.user(a1, 1);
        let mut e = b.s3_event(
            "s3-policy-public-star",
            public_and_config,
            a1,
            u,
            "PutBucketPolicy",
            "policy",
        );
        let bucket = bucket_of(&e);
        Builder::<R>::set_req_member(
            &mut e,
            "bucketPolicy",
            json!({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]
            }),
        );
        b.push(e);

        let p = b.role(a0, "terraform-ci");
        let mut e = b.s3_event(
            "s3-policy-public-aws-star",
            public_and_config,
            a0,
            p,
            "PutBucketPolicy",
            "policy",
        );
        let bucket = bucket_of(&e);
        Builder::<R>::set_req_member(
            &mut e,
            "bucketPolicy",
            json!({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "AllowAll", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]}]
            }),
        );
        b.push(e);

        let p = b.sso_admin(a2);
        let e = b.s3_event(
            "s3-bucket-public-access-block-disabled",
            public_and_config,
            a2,
            p,
            "PutBucketPublicAccessBlock",
            "publicAccessBlock",
        );
        let mut e = e.console();
        Builder::<R>::set_req_member(
            &mut e,
            "PublicAccessBlockConfiguration",
            json!({
                "xmlns": S3_XMLNS, "RestrictPublicBuckets": false, "BlockPublicPolicy": false, "BlockPublicAcls": false, "IgnorePublicAcls": false
            }),
        );
        b.push(e);

        let u = b.user(a0, 2);
        let e = b.s3_event(
            "s3-bucket-public-access-block-deleted",
            public_and_config,
            a0,
            u,
            "DeleteBucketPublicAccessBlock",
            "publicAccessBlock",
        );
        b.push(e);

        for (scenario, a, name, flags) in [
            (
                "s3-account-public-access-block-disabled",
                a1,
                "PutAccountPublicAccessBlock",
                Some([false, true, false, true]),
            ),
            (
                "s3-account-public-access-block-deleted",
                a0,
                "DeleteAccountPublicAccessBlock",
                None,
            ),
        ] {
            let p = if a == a1 { b.root(a1) } else { b.sso_admin(a0) };
            let acct = b.account(a).id.clone();
            let host = format!("{acct}.s3-control.us-east-1.amazonaws.com");
            let add = s3_additional(b.rng);
            let e = b.ev(
                scenario,
                &[S3_BUCKET_PUBLIC],
                a,
                p,
                "s3.amazonaws.com",
                name,
            );
            let mut e = e.console();
            e.request_id = RequestId::S3;
            e.region_index = 0;
            let mut req = json!({"Host": host});
            if let (Some(o), Some([acls, ignore, policy, restrict])) = (req.as_object_mut(), flags)
            {
                o.insert(
                    "PublicAccessBlockConfiguration".to_string(),
                    json!({"xmlns": S3_XMLNS, "BlockPublicAcls": acls, "IgnorePublicAcls": ignore, "BlockPublicPolicy": policy, "RestrictPublicBuckets": restrict}),
                );
            }
            e.req = Some(req);
            e.host = Some(host);
            e.add = Some(add);
            b.push(e);
        }

        // Near misses.
        let u = b.user(a1, 0);
        let mut e = b.s3_event(
            "s3-acl-private",
            &[S3_BUCKET_CONFIG_CHANGE],
            a1,
            u,
            "PutBucketAcl",
            "acl",
        );
        Builder::<R>::set_req_member(&mut e, "x-amz-acl", json!(["private"]));
        b.push(e);

        let p = b.role(a0, "terraform-ci");
        let mut e = b.s3_event(
            "s3-policy-star-with-vpce-condition",
            &[S3_BUCKET_CONFIG_CHANGE],
            a0,
            p,
            "PutBucketPolicy",
            "policy",
        );
        let bucket = bucket_of(&e);
        let vpce = b
            .account(a0)
            .res
            .first()
            .map(|r| r.vpce.clone())
            .unwrap_or_default();
        Builder::<R>::set_req_member(
            &mut e,
            "bucketPolicy",
            json!({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "VpceOnly", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": format!("arn:aws:s3:::{bucket}/*"),
                    "Condition": {"StringEquals": {"aws:SourceVpce": vpce}}}]
            }),
        );
        b.push(e);

        let p = b.role(a2, "terraform-ci");
        let mut e = b.s3_event(
            "s3-bucket-public-access-block-all-true",
            &[S3_BUCKET_CONFIG_CHANGE],
            a2,
            p,
            "PutBucketPublicAccessBlock",
            "publicAccessBlock",
        );
        Builder::<R>::set_req_member(
            &mut e,
            "PublicAccessBlockConfiguration",
            json!({
                "xmlns": S3_XMLNS, "RestrictPublicBuckets": true, "BlockPublicPolicy": true, "BlockPublicAcls": true, "IgnorePublicAcls": true
            }),
        );
        b.push(e);

        let u = b.user(a1, 2);
        let arn = u.arn.clone();
        let e = b.s3_event(
            "s3-acl-public-read-denied",
            &[],
            a1,
            u,
            "PutBucketAcl",
            "acl",
        );
        let bucket = bucket_of(&e);
        let mut e = e.denied(denied_message(
            &arn,
            "s3:PutBucketAcl",
            Some(&format!("arn:aws:s3:::{bucket}")),
        ));
        e.error_message = Some("Access Denied".to_string());
        Builder::<R>::set_req_member(&mut e, "x-amz-acl", json!(["public-read"]));
        b.push(e);

        let p = b.role(a0, "github-actions-deploy");
        let mut e = b.s3_event(
            "s3-policy-vendor-account-principal",
            &[S3_BUCKET_CONFIG_CHANGE],
            a0,
            p,
            "PutBucketPolicy",
            "policy",
        );
        let bucket = bucket_of(&e);
        Builder::<R>::set_req_member(
            &mut e,
            "bucketPolicy",
            json!({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "VendorRead", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{VENDOR_ACCOUNT}:root")}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]
            }),
        );
        b.push(e);

        let u = b.user(a2, 0);
        let acct2 = b.account(a2).id.clone();
        let mut e = b.s3_event(
            "s3-policy-deny-star-insecure-transport",
            &[S3_BUCKET_CONFIG_CHANGE],
            a2,
            u,
            "PutBucketPolicy",
            "policy",
        );
        let bucket = bucket_of(&e);
        Builder::<R>::set_req_member(
            &mut e,
            "bucketPolicy",
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                    {"Sid": "AppRead", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{acct2}:role/app-server-role")}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}
                ]
            }),
        );
        b.push(e);

        let p = b.sso_admin(a1);
        let acct = b.account(a1).id.clone();
        let host = format!("{acct}.s3-control.us-east-1.amazonaws.com");
        let add = s3_additional(b.rng);
        let e = b.ev(
            "s3-account-public-access-block-all-true",
            &[],
            a1,
            p,
            "s3.amazonaws.com",
            "PutAccountPublicAccessBlock",
        );
        let mut e = e.console();
        e.request_id = RequestId::S3;
        e.req = Some(
            json!({"Host": host, "PublicAccessBlockConfiguration": {"xmlns": S3_XMLNS, "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}),
        );
        e.host = Some(host);
        e.add = Some(add);
        b.push(e);
    }

    b.out
}

fn instance_of<R: Rng>(b: &Builder<'_, R>, e: &ScenarioEvent) -> String {
    if let Some(inst) = e.principal.extra.strip_prefix("i-") {
        return format!("i-{inst}");
    }
    res_of(b, e, |r| r.instances.first().cloned())
}

fn res_of<R: Rng>(
    b: &Builder<'_, R>,
    e: &ScenarioEvent,
    f: impl Fn(&crate::world::RegionRes) -> Option<String>,
) -> String {
    b.account(e.account)
        .res
        .get(e.region_index)
        .and_then(f)
        .unwrap_or_default()
}

fn bucket_of(e: &ScenarioEvent) -> String {
    e.req
        .as_ref()
        .and_then(|r| r.get("bucketName"))
        .and_then(Value::as_str)
        .unwrap_or("bucket")
        .to_string()
}

fn to_json(v: &Value, out: &mut Vec<u8>) -> io::Result<()> {
    serde_json::to_writer(out, v).map_err(io::Error::other)
}

/// Renders a scenario event into `out`; returns its `eventID`.
pub(crate) fn write_scenario<R: Rng>(
    out: &mut Vec<u8>,
    rng: &mut R,
    s: &mut Scratch,
    account: &Account,
    ev: &ScenarioEvent,
) -> io::Result<[u8; 36]> {
    s.clear();
    let region = ev.region.unwrap_or_else(|| {
        account
            .regions
            .get(ev.region_index)
            .copied()
            .unwrap_or("us-east-1")
    });
    let p = &ev.principal;
    if p.kind == Kind::IamUser && p.name == "HIDDEN_DUE_TO_SECURITY_REASONS" {
        let mut w = crate::json::JsonWriter::new(&mut s.ident);
        w.obj()
            .kv_str("type", "IAMUser")
            .kv_str("accountId", &account.id)
            .kv_str("accessKeyId", "")
            .kv_str("userName", &p.name)
            .end_obj();
    } else {
        write_identity(&mut s.ident, p, &account.id, ev.time, ev.channel);
    }
    let mut e = Envelope::api(ev.time, ev.source, ev.name, region, &account.id);
    e.ip = &ev.ip;
    e.agent = &ev.agent;
    e.read_only = Some(ev.read_only);
    e.event_type = ev.event_type;
    e.request_id = ev.request_id;
    e.error_code = ev.error_code.as_deref();
    e.error_message = ev.error_message.as_deref();
    e.from_console = ev.channel == Channel::Console;
    if ev.data {
        e.category = "Data";
        e.management = false;
    }
    if ev.channel == Channel::SignIn {
        e.version = "1.08";
    }
    e.tls = Some(TLS13);
    match &ev.host {
        Some(h) => s.host.push_str(h),
        None => default_host(&mut s.host, ev.source, region),
    }
    if let Some(v) = &ev.req {
        to_json(v, &mut s.req)?;
        e.has_req = true;
    }
    if let Some(v) = &ev.resp {
        to_json(v, &mut s.resp)?;
        e.has_resp = true;
    }
    if let Some(v) = &ev.add {
        to_json(v, &mut s.add)?;
        e.has_add = true;
    }
    if let Some(v) = &ev.resources {
        to_json(v, &mut s.res)?;
        e.has_res = true;
    }
    Ok(write_record(out, rng, &e, s))
}
