//! Background (benign) events: one call of one principal, rendered with realistic
//! parameters. Nothing here ever produces an event a built-in policy alerts on: the
//! operations come from [`crate::catalog`], sign-ins always succeed, and no address is in
//! the risky list.

use rand::seq::IndexedRandom;
use rand::Rng;

use crate::catalog::{Op, Profile, Shape};
use crate::ids;
use crate::json::JsonWriter;
use crate::record::{
    self, default_host, push_b64, write_identity, write_record, Channel, Envelope, RequestId,
    Scratch, TLS12, TLS13,
};
use crate::timefmt;
use crate::world::{action_prefix, session_of, Account, Kind, Principal};

const S3_CONSOLE_UA: &str = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.655 Linux/5.10.210-178.855.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.402-b08 java/1.8.0_402 vendor/Oracle_Corporation cfg/retry-mode/standard]";

/// Object key prefixes with the file type stored under them.
const OBJECT_KEYS: [(&str, &str); 6] = [
    ("uploads/2024/03/", ".jpg"),
    ("exports/daily/", ".csv.gz"),
    ("artifacts/builds/", ".zip"),
    ("images/originals/", ".png"),
    ("reports/finance/", ".pdf"),
    ("datasets/raw/", ".parquet"),
];

/// Everything a background event needs to know about where it happens.
pub(crate) struct Where<'a> {
    pub account: &'a Account,
    pub region_index: usize,
}

impl Where<'_> {
    fn region(&self) -> &'static str {
        self.account
            .regions
            .get(self.region_index)
            .copied()
            .unwrap_or("us-east-1")
    }
}

/// Renders one background event of principal `p` calling `op` at `t`, appending it to `out`.
pub(crate) fn write_background<R: Rng>(
    out: &mut Vec<u8>,
    rng: &mut R,
    s: &mut Scratch,
    at: &Where<'_>,
    p: &Principal,
    op: &Op,
    t: i64,
) {
    s.clear();
    let acct = at.account.id.as_str();
    let region = at.region();
    let mut e = Envelope::api(t, op.source, op.name, region, acct);
    e.read_only = Some(op.read_only);
    e.version = match op.source {
        "s3.amazonaws.com" | "ec2.amazonaws.com" | "sts.amazonaws.com" | "iam.amazonaws.com" => {
            "1.09"
        }
        "signin.amazonaws.com" | "sso.amazonaws.com" => "1.08",
        _ => "1.08",
    };

    // How the caller reached the API.
    let console = match (p.kind, p.profile) {
        (Kind::IamUser, Profile::Human) => rng.random_bool(0.3),
        (Kind::Root, _) => true,
        (Kind::Role, Profile::Sso) => rng.random_bool(0.6),
        _ => false,
    };
    let channel = if op.shape == Shape::ConsoleLogin {
        Channel::SignIn
    } else if console {
        Channel::Console
    } else {
        Channel::Programmatic
    };

    let mut ip: &str = p
        .ips
        .choose(rng)
        .map(String::as_str)
        .unwrap_or("198.51.100.10");
    if p.profile == Profile::Ci && !p.ips.is_empty() {
        // A CI job assumes the role for itself and runs on one runner: one session, one
        // address (a session's key seen from several runners is credential theft).
        let (_, skey) = session_of(p, t);
        let i = (ids::mix(skey) % p.ips.len() as u64) as usize;
        ip = p.ips.get(i).map_or(ip, String::as_str);
    }
    let mut agent: &str = p
        .agents
        .choose(rng)
        .map(String::as_str)
        .unwrap_or("aws-cli/2.15.20");
    if p.profile == Profile::Ec2 {
        // The SSM agent makes the SSM calls; applications the rest.
        agent = if op.source == "ssm.amazonaws.com" {
            p.agents.first()
        } else {
            p.agents.get(1 + usize::from(rng.random_bool(0.4)))
        }
        .map(String::as_str)
        .unwrap_or(agent);
    }
    let mut tls = Some(if p.tls13 { TLS13 } else { TLS12 });
    let mut internal = false;
    if channel == Channel::Console {
        e.from_console = true;
        agent = match op.source {
            "s3.amazonaws.com" => S3_CONSOLE_UA,
            _ => "AWS Internal",
        };
        if p.profile == Profile::Sso && rng.random_bool(0.05) {
            // Console back-end calls made on the user's behalf.
            ip = "AWS Internal";
            internal = true;
        }
    }
    if channel == Channel::SignIn {
        agent = p.browser;
        ip = p.ips.first().map(String::as_str).unwrap_or(ip);
    }
    if p.invoked_by.is_some() || internal {
        tls = None;
    }

    // VPC endpoint traffic from instances to S3.
    let mut private_ip = String::new();
    if p.profile == Profile::Ec2 && op.source == "s3.amazonaws.com" && rng.random_bool(0.3) {
        let k = ids::mix(p.key);
        private_ip = format!(
            "10.{}.{}.{}",
            20 + (k & 7),
            (k >> 8) & 255,
            4 + ((k >> 16) & 127)
        );
        e.vpce = at.account.res.get(at.region_index).map(|r| r.vpce.as_str());
    }
    if !private_ip.is_empty() {
        ip = private_ip.as_str();
    }

    // Identity.
    if op.shape == Shape::KmsRotateKey {
        let mut w = JsonWriter::new(&mut s.ident);
        w.obj()
            .kv_str("accountId", acct)
            .kv_str("invokedBy", "AWS Internal")
            .end_obj();
    } else {
        write_identity(&mut s.ident, p, acct, t, channel);
    }

    default_host(&mut s.host, op.source, region);
    let mut ctx = ShapeCtx {
        rng,
        s,
        at,
        p,
        t,
        acct,
        region,
    };
    let flags = write_shape(&mut ctx, op, &mut e);
    let (rng, s) = (ctx.rng, ctx.s);
    e.has_req = flags.req;
    e.has_resp = flags.resp;
    e.has_add = flags.add;
    e.has_res = flags.res;
    e.has_sed = flags.sed;

    match op.shape {
        Shape::ConsoleLogin => {
            e.event_type = "AwsConsoleSignIn";
            e.request_id = RequestId::None;
            e.read_only = Some(false);
        }
        Shape::KmsRotateKey => {
            e.event_type = "AwsServiceEvent";
            e.request_id = RequestId::None;
            ip = "AWS Internal";
            agent = "AWS Internal";
            tls = None;
        }
        _ => {}
    }
    if op.source == "s3.amazonaws.com" {
        e.request_id = RequestId::S3;
    }
    if matches!(op.shape, Shape::S3Object { .. }) {
        e.category = "Data";
        e.management = false;
    }
    if p.kind == Kind::CrossAccount {
        e.shared_event_id = true;
    }
    if p.kind == Kind::AwsService && op.shape != Shape::KmsRotateKey {
        e.shared_event_id = rng.random_bool(0.5);
    }

    // A small share of reads fail for want of permission.
    let mut message = String::new();
    if op.read_only
        && matches!(
            p.profile,
            Profile::Human | Profile::Sso | Profile::Ci | Profile::MachineUser | Profile::Lambda
        )
        && rng.random_bool(0.012)
    {
        let caller = if p.arn.is_empty() {
            acct
        } else {
            p.arn.as_str()
        };
        let prefix = action_prefix(op.source);
        // Lambda's versioned event names (`ListFunctions20150331`) drop the version.
        let action = op
            .name
            .split(|c: char| c.is_ascii_digit())
            .next()
            .unwrap_or(op.name);
        if op.source == "ec2.amazonaws.com" {
            e.error_code = Some("Client.UnauthorizedOperation");
            message = format!(
                "You are not authorized to perform this operation. User: {caller} is not authorized to perform: ec2:{action} because no identity-based policy allows the ec2:{action} action"
            );
        } else if op.source == "s3.amazonaws.com" {
            e.error_code = Some("AccessDenied");
            message.push_str("Access Denied");
        } else {
            e.error_code = Some("AccessDenied");
            message = format!(
                "User: {caller} is not authorized to perform: {prefix}:{action} because no identity-based policy allows the {prefix}:{action} action"
            );
        }
        e.error_message = Some(message.as_str());
        e.has_resp = false;
    }

    e.ip = ip;
    e.agent = agent;
    e.tls = tls;
    write_record(out, rng, &e, s);
}

struct ShapeCtx<'a, 'w, R> {
    rng: &'a mut R,
    s: &'a mut Scratch,
    at: &'a Where<'w>,
    p: &'a Principal,
    t: i64,
    acct: &'a str,
    region: &'static str,
}

#[derive(Default)]
struct Flags {
    req: bool,
    resp: bool,
    add: bool,
    res: bool,
    sed: bool,
}

impl<R: Rng> ShapeCtx<'_, '_, R> {
    fn res(&self) -> Option<&crate::world::RegionRes> {
        self.at.account.res.get(self.at.region_index)
    }

    fn instance(&mut self) -> String {
        if self.p.profile == Profile::Ec2 && !self.p.extra.is_empty() {
            return self.p.extra.clone();
        }
        let rng = &mut *self.rng;
        self.at
            .account
            .res
            .get(self.at.region_index)
            .and_then(|r| r.instances.choose(rng).cloned())
            .unwrap_or_else(|| "i-0a1b2c3d4e5f60718".to_string())
    }

    fn pick<'v>(&mut self, v: &'v [String], fallback: &'v str) -> &'v str {
        v.choose(self.rng).map(String::as_str).unwrap_or(fallback)
    }

    fn bucket(&mut self) -> String {
        let ri = self.at.region_index;
        let local: Vec<&str> = self
            .at
            .account
            .buckets
            .iter()
            .filter(|b| b.region == ri)
            .map(|b| b.name.as_str())
            .collect();
        local
            .choose(self.rng)
            .map(|b| b.to_string())
            .unwrap_or_else(|| format!("{}-{}-default", self.at.account.alias, self.region))
    }

    fn kms_key_arn(&mut self) -> String {
        let rng = &mut *self.rng;
        let key = self
            .at
            .account
            .res
            .get(self.at.region_index)
            .and_then(|r| r.kms_keys.choose(rng).cloned())
            .unwrap_or_default();
        format!("arn:aws:kms:{}:{}:key/{key}", self.region, self.acct)
    }

    fn function(&mut self) -> String {
        let ri = self.at.region_index;
        if self.p.profile == Profile::Lambda {
            return self.p.session.clone();
        }
        let local: Vec<&str> = self
            .at
            .account
            .functions
            .iter()
            .filter(|f| f.1 == ri)
            .map(|f| f.0.as_str())
            .collect();
        local
            .choose(self.rng)
            .map(|f| f.to_string())
            .unwrap_or_else(|| "orders-processor".to_string())
    }

    fn credentials(&mut self, w: &mut JsonWriter<'_>, hours: i64) {
        let key = ids::access_key_from_key("ASIA", self.rng.random());
        let token = record::b64_string(self.rng, 96);
        w.key("credentials")
            .obj()
            .kv_str("accessKeyId", &key)
            .kv_str("sessionToken", &token)
            .kv_str("expiration", &timefmt::java_date(self.t + hours * 3600))
            .end_obj();
    }

    fn s3_additional(&mut self, bytes_in: u64, bytes_out: u64) {
        let rng = &mut *self.rng;
        let mut w = JsonWriter::new(&mut self.s.add);
        w.obj()
            .kv_str("SignatureVersion", "SigV4")
            .kv_str("CipherSuite", if self.p.tls13 { TLS13.1 } else { TLS12.1 })
            .kv_u64("bytesTransferredIn", bytes_in)
            .kv_str("AuthenticationMethod", "AuthHeader");
        let mut id2 = Vec::with_capacity(78);
        id2.push(b'"');
        push_b64(rng, &mut id2, 76);
        id2.push(b'"');
        w.key("x-amz-id-2").raw(&id2);
        w.kv_u64("bytesTransferredOut", bytes_out).end_obj();
    }
}

fn write_shape<R: Rng>(c: &mut ShapeCtx<'_, '_, R>, op: &Op, e: &mut Envelope<'_>) -> Flags {
    let mut f = Flags {
        req: true,
        ..Flags::default()
    };
    let acct = c.acct;
    let region = c.region;
    match op.shape {
        Shape::Null => f.req = false,
        Shape::Ec2Sets(keys) => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj();
            for k in keys {
                w.key(k).obj().end_obj();
            }
            if op.name == "DescribeRegions" {
                w.kv_bool("allRegions", false);
            }
            w.end_obj();
        }
        Shape::Ec2DescribeInstances => {
            let roll: f64 = c.rng.random();
            let inst = c.instance();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj();
            if roll < 0.3 {
                w.key("instancesSet")
                    .obj()
                    .key("items")
                    .arr()
                    .obj()
                    .kv_str("instanceId", &inst)
                    .end_obj()
                    .end_arr()
                    .end_obj();
                w.key("filterSet").obj().end_obj();
            } else if roll < 0.5 {
                w.key("instancesSet").obj().end_obj();
                w.key("filterSet")
                    .obj()
                    .key("items")
                    .arr()
                    .obj()
                    .kv_str("name", "instance-state-name")
                    .key("valueSet")
                    .obj()
                    .key("items")
                    .arr()
                    .obj()
                    .kv_str("value", "running")
                    .end_obj()
                    .end_arr()
                    .end_obj()
                    .end_obj()
                    .end_arr()
                    .end_obj();
            } else {
                w.key("instancesSet").obj().end_obj();
                w.key("filterSet").obj().end_obj();
            }
            w.end_obj();
        }
        Shape::Ec2DescribeSecurityGroups => {
            let rng = &mut *c.rng;
            let sg =
                c.at.account
                    .res
                    .get(c.at.region_index)
                    .and_then(|r| r.security_groups.choose(rng).cloned())
                    .unwrap_or_default();
            let vpc = c.res().map(|r| r.vpc.clone()).unwrap_or_default();
            let by_id = c.rng.random_bool(0.5);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().key("securityGroupSet").obj().end_obj();
            if by_id {
                w.key("securityGroupIdSet")
                    .obj()
                    .key("items")
                    .arr()
                    .obj()
                    .kv_str("groupId", &sg)
                    .end_obj()
                    .end_arr()
                    .end_obj();
                w.key("filterSet").obj().end_obj();
            } else {
                w.key("securityGroupIdSet").obj().end_obj();
                w.key("filterSet")
                    .obj()
                    .key("items")
                    .arr()
                    .obj()
                    .kv_str("name", "vpc-id")
                    .key("valueSet")
                    .obj()
                    .key("items")
                    .arr()
                    .obj()
                    .kv_str("value", &vpc)
                    .end_obj()
                    .end_arr()
                    .end_obj()
                    .end_obj()
                    .end_arr()
                    .end_obj();
            }
            w.end_obj();
        }
        Shape::Ec2InstanceState { from, to } => {
            let inst = c.instance();
            let request_id = ids::uuid(c.rng);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("instancesSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("instanceId", &inst)
                .end_obj()
                .end_arr()
                .end_obj();
            if op.name == "StopInstances" {
                w.kv_bool("force", false);
            }
            w.end_obj();
            let mut w = JsonWriter::new(&mut c.s.resp);
            w.obj()
                .kv_str("requestId", &request_id)
                .key("instancesSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("instanceId", &inst)
                .key("currentState")
                .obj()
                .kv_u64("code", u64::from(to.0))
                .kv_str("name", to.1)
                .end_obj()
                .key("previousState")
                .obj()
                .kv_u64("code", u64::from(from.0))
                .kv_str("name", from.1)
                .end_obj()
                .end_obj()
                .end_arr()
                .end_obj()
                .end_obj();
            f.resp = true;
        }
        Shape::Ec2RunInstances => {
            let (ami, subnet, sg, vpc) = {
                let rng = &mut *c.rng;
                let r = c.at.account.res.get(c.at.region_index);
                (
                    r.and_then(|r| r.amis.choose(rng).cloned())
                        .unwrap_or_default(),
                    r.and_then(|r| r.subnets.choose(rng).cloned())
                        .unwrap_or_default(),
                    r.and_then(|r| r.security_groups.first().cloned())
                        .unwrap_or_default(),
                    r.map(|r| r.vpc.clone()).unwrap_or_default(),
                )
            };
            let itype = ["t3.medium", "t3.large", "m6i.large", "c6i.xlarge"]
                .choose(c.rng)
                .copied()
                .unwrap_or("t3.medium");
            let token = ids::uuid(c.rng);
            let request_id = ids::uuid(c.rng);
            let new_id = format!("i-0{}", ids::hex(c.rng, 16));
            let reservation = format!("r-0{}", ids::hex(c.rng, 16));
            let (o2, o3) = (c.rng.random_range(0..16u32), c.rng.random_range(2..250u32));
            let private_ip = format!("10.0.{o2}.{o3}");
            let dns = if region == "us-east-1" {
                format!("ip-10-0-{o2}-{o3}.ec2.internal")
            } else {
                format!("ip-10-0-{o2}-{o3}.{region}.compute.internal")
            };
            let az = format!(
                "{region}{}",
                ["a", "b", "c"].choose(c.rng).copied().unwrap_or("a")
            );
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("instancesSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("imageId", &ami)
                .kv_u64("minCount", 1)
                .kv_u64("maxCount", 1)
                .end_obj()
                .end_arr()
                .end_obj()
                .kv_str("instanceType", itype)
                .key("blockDeviceMapping")
                .obj()
                .end_obj()
                .key("monitoring")
                .obj()
                .kv_bool("enabled", false)
                .end_obj()
                .kv_str("subnetId", &subnet)
                .kv_bool("disableApiTermination", false)
                .kv_bool("disableApiStop", false)
                .kv_str("clientToken", &token)
                .key("iamInstanceProfile")
                .obj()
                .kv_str("name", "app-server-role")
                .end_obj()
                .key("tagSpecificationSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("resourceType", "instance")
                .key("tags")
                .arr()
                .obj()
                .kv_str("key", "Name")
                .kv_str("value", "ci-ephemeral-runner")
                .end_obj()
                .end_arr()
                .end_obj()
                .end_arr()
                .end_obj()
                .end_obj();
            let mut w = JsonWriter::new(&mut c.s.resp);
            w.obj()
                .kv_str("requestId", &request_id)
                .kv_str("reservationId", &reservation)
                .kv_str("ownerId", acct)
                .key("groupSet")
                .obj()
                .end_obj()
                .key("instancesSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("instanceId", &new_id)
                .kv_str("imageId", &ami)
                .key("instanceState")
                .obj()
                .kv_u64("code", 0)
                .kv_str("name", "pending")
                .end_obj()
                .kv_str("privateDnsName", &dns)
                .kv_u64("amiLaunchIndex", 0)
                .key("productCodes")
                .obj()
                .end_obj()
                .kv_str("instanceType", itype)
                .kv_u64("launchTime", (c.t as u64) * 1000)
                .key("placement")
                .obj()
                .kv_str("availabilityZone", &az)
                .kv_str("tenancy", "default")
                .end_obj()
                .key("monitoring")
                .obj()
                .kv_str("state", "disabled")
                .end_obj()
                .kv_str("subnetId", &subnet)
                .kv_str("vpcId", &vpc)
                .kv_str("privateIpAddress", &private_ip)
                .key("stateReason")
                .obj()
                .kv_str("code", "pending")
                .kv_str("message", "pending")
                .end_obj()
                .kv_str("architecture", "x86_64")
                .kv_str("rootDeviceType", "ebs")
                .kv_str("rootDeviceName", "/dev/xvda")
                .key("blockDeviceMapping")
                .obj()
                .end_obj()
                .kv_str("virtualizationType", "hvm")
                .kv_str("hypervisor", "xen")
                .key("groupSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("groupId", &sg)
                .kv_str("groupName", "default")
                .end_obj()
                .end_arr()
                .end_obj()
                .kv_bool("sourceDestCheck", true)
                .kv_bool("ebsOptimized", false)
                .kv_bool("enaSupport", true)
                .key("metadataOptions")
                .obj()
                .kv_str("state", "pending")
                .kv_str("httpTokens", "required")
                .kv_u64("httpPutResponseHopLimit", 2)
                .kv_str("httpEndpoint", "enabled")
                .end_obj()
                .end_obj()
                .end_arr()
                .end_obj()
                .end_obj();
            f.resp = true;
        }
        Shape::Ec2CreateTags => {
            let inst = c.instance();
            let request_id = ids::uuid(c.rng);
            let (k, v) = [
                ("Owner", "team-platform"),
                ("CostCenter", "cc-1042"),
                ("Environment", c.at.account.alias),
                ("Backup", "daily"),
            ]
            .choose(c.rng)
            .copied()
            .unwrap_or(("Owner", "team-platform"));
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("resourcesSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("resourceId", &inst)
                .end_obj()
                .end_arr()
                .end_obj()
                .key("tagSet")
                .obj()
                .key("items")
                .arr()
                .obj()
                .kv_str("key", k)
                .kv_str("value", v)
                .end_obj()
                .end_arr()
                .end_obj()
                .end_obj();
            let mut w = JsonWriter::new(&mut c.s.resp);
            w.obj()
                .kv_str("requestId", &request_id)
                .kv_bool("_return", true)
                .end_obj();
            f.resp = true;
        }
        Shape::Ec2CreateSnapshot => {
            let rng = &mut *c.rng;
            let vol =
                c.at.account
                    .res
                    .get(c.at.region_index)
                    .and_then(|r| r.volumes.choose(rng).cloned())
                    .unwrap_or_default();
            let request_id = ids::uuid(c.rng);
            let snap = format!("snap-0{}", ids::hex(c.rng, 16));
            let size = [8u64, 20, 50, 100].choose(c.rng).copied().unwrap_or(8);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("volumeId", &vol)
                .kv_str("description", "Created by backup job")
                .end_obj();
            let mut w = JsonWriter::new(&mut c.s.resp);
            w.obj()
                .kv_str("requestId", &request_id)
                .kv_str("snapshotId", &snap)
                .kv_str("volumeId", &vol)
                .kv_str("status", "pending")
                .kv_u64("startTime", (c.t as u64) * 1000)
                .kv_str("progress", "")
                .kv_str("ownerId", acct)
                .kv_u64("volumeSize", size)
                .kv_bool("encrypted", true)
                .end_obj();
            f.resp = true;
        }
        Shape::S3ListBuckets => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("Host", "s3.amazonaws.com").end_obj();
            c.s.host.clear();
            c.s.host.push_str("s3.amazonaws.com");
            let out = c.rng.random_range(800..4000);
            c.s3_additional(0, out);
            f.add = true;
        }
        Shape::S3Bucket(sub) => {
            let bucket = c.bucket();
            c.s.host.clear();
            c.s.host.push_str(&bucket);
            c.s.host.push_str(".s3.");
            c.s.host.push_str(region);
            c.s.host.push_str(".amazonaws.com");
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("bucketName", &bucket)
                .kv_str("Host", &c.s.host);
            if !sub.is_empty() {
                w.kv_str(sub, "");
            }
            w.end_obj();
            let out = c.rng.random_range(150..2000);
            c.s3_additional(0, out);
            f.add = true;
            let mut w = JsonWriter::new(&mut c.s.res);
            w.arr()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::S3::Bucket")
                .key("ARN")
                .str_parts(&["arn:aws:s3:::", &bucket])
                .end_obj()
                .end_arr();
            f.res = true;
        }
        Shape::S3Object { put } => {
            let bucket = c.bucket();
            let (prefix, ext) = OBJECT_KEYS
                .choose(c.rng)
                .copied()
                .unwrap_or(("uploads/", ".bin"));
            let key = format!("{prefix}{}{ext}", ids::hex(c.rng, 12));
            let size: u64 = c.rng.random_range(512..8_000_000);
            c.s.host.clear();
            c.s.host.push_str(&bucket);
            c.s.host.push_str(".s3.");
            c.s.host.push_str(region);
            c.s.host.push_str(".amazonaws.com");
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("bucketName", &bucket)
                .kv_str("Host", &c.s.host)
                .kv_str("key", &key)
                .end_obj();
            if put {
                let version = record::b64_string(c.rng, 32).replace(['+', '/'], "_");
                let mut w = JsonWriter::new(&mut c.s.resp);
                w.obj()
                    .kv_str("x-amz-server-side-encryption", "AES256")
                    .kv_str("x-amz-version-id", &version)
                    .end_obj();
                f.resp = true;
                c.s3_additional(size, 0);
            } else {
                c.s3_additional(0, size);
            }
            f.add = true;
            let mut w = JsonWriter::new(&mut c.s.res);
            w.arr()
                .obj()
                .kv_str("type", "AWS::S3::Object")
                .key("ARN")
                .str_parts(&["arn:aws:s3:::", &bucket, "/", &key])
                .end_obj()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::S3::Bucket")
                .key("ARN")
                .str_parts(&["arn:aws:s3:::", &bucket])
                .end_obj()
                .end_arr();
            f.res = true;
        }
        Shape::IamUserName => {
            let name = if c.p.kind == Kind::IamUser {
                c.p.name.clone()
            } else {
                let users: Vec<&str> =
                    c.at.account
                        .principals
                        .iter()
                        .filter(|x| x.kind == Kind::IamUser)
                        .map(|x| x.name.as_str())
                        .collect();
                users.choose(c.rng).copied().unwrap_or("alice").to_string()
            };
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("userName", &name).end_obj();
        }
        Shape::IamRoleName => {
            let role = c.pick(&c.at.account.roles, "app-server-role").to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("roleName", &role).end_obj();
        }
        Shape::IamPolicyArn => {
            let arn = c.pick(&c.at.account.managed_policies, "").to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("policyArn", &arn).end_obj();
        }
        Shape::IamPolicyVersion => {
            let arn = c.pick(&c.at.account.managed_policies, "").to_string();
            let v = format!("v{}", c.rng.random_range(1..6u32));
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("policyArn", &arn)
                .kv_str("versionId", &v)
                .end_obj();
        }
        Shape::IamListPolicies => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("scope", "Local")
                .kv_bool("onlyAttached", true)
                .kv_u64("maxItems", 100)
                .end_obj();
        }
        Shape::IamMaxItems => {
            if c.rng.random_bool(0.5) {
                let mut w = JsonWriter::new(&mut c.s.req);
                w.obj().kv_u64("maxItems", 100).end_obj();
            } else {
                f.req = false;
            }
        }
        Shape::StsAssumeRole => {
            let (role_arn, role_name, session) = assume_target(c);
            let role_id = ids::access_key_from_key("AROA", hash_str(&role_arn));
            let duration = 3600;
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("roleArn", &role_arn)
                .kv_str("roleSessionName", &session)
                .kv_u64("durationSeconds", duration)
                .end_obj();
            let mut resp = std::mem::take(&mut c.s.resp);
            {
                let mut w = JsonWriter::new(&mut resp);
                w.obj();
                c.credentials(&mut w, 1);
                w.key("assumedRoleUser")
                    .obj()
                    .key("assumedRoleId")
                    .str_parts(&[&role_id, ":", &session])
                    .key("arn")
                    .str_parts(&[
                        "arn:aws:sts::",
                        acct,
                        ":assumed-role/",
                        &role_name,
                        "/",
                        &session,
                    ])
                    .end_obj()
                    .end_obj();
            }
            c.s.resp = resp;
            f.resp = true;
            let mut w = JsonWriter::new(&mut c.s.res);
            w.arr()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::IAM::Role")
                .kv_str("ARN", &role_arn)
                .end_obj()
                .end_arr();
            f.res = true;
        }
        Shape::StsGetSessionToken => {
            let serial = format!("arn:aws:iam::{acct}:mfa/{}", c.p.name);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_u64("durationSeconds", 43_200)
                .kv_str("serialNumber", &serial)
                .end_obj();
            let mut resp = std::mem::take(&mut c.s.resp);
            {
                let mut w = JsonWriter::new(&mut resp);
                w.obj();
                c.credentials(&mut w, 12);
                w.end_obj();
            }
            c.s.resp = resp;
            f.resp = true;
        }
        Shape::StsGetFederationToken => {
            let partner = ["partner-acme", "partner-globex"]
                .choose(c.rng)
                .copied()
                .unwrap_or("partner-acme");
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("name", partner)
                .kv_u64("durationSeconds", 43_200)
                .end_obj();
            let mut resp = std::mem::take(&mut c.s.resp);
            {
                let mut w = JsonWriter::new(&mut resp);
                w.obj();
                c.credentials(&mut w, 12);
                w.key("federatedUser")
                    .obj()
                    .key("federatedUserId")
                    .str_parts(&[acct, ":", partner])
                    .key("arn")
                    .str_parts(&["arn:aws:sts::", acct, ":federated-user/", partner])
                    .end_obj()
                    .kv_u64("packedPolicySize", 9)
                    .end_obj();
            }
            c.s.resp = resp;
            f.resp = true;
        }
        Shape::StsAssumeRoleWithSaml => {
            let role_name = if c.rng.random_bool(0.7) {
                "okta-ReadOnly"
            } else {
                "okta-Developer"
            };
            let role_arn = format!("arn:aws:iam::{acct}:role/{role_name}");
            let provider = format!("arn:aws:iam::{acct}:saml-provider/Okta");
            let role_id = ids::access_key_from_key("AROA", hash_str(&role_arn));
            let assertion = format!("_{}", ids::hex(c.rng, 32));
            let issuer = format!("http://www.okta.com/exk{}", ids::alnum(c.rng, 17));
            let subject = c.p.name.clone();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("sAMLAssertionID", &assertion)
                .kv_str("roleSessionName", &subject)
                .kv_str("roleArn", &role_arn)
                .kv_str("principalArn", &provider)
                .kv_u64("durationSeconds", 3600)
                .end_obj();
            let mut resp = std::mem::take(&mut c.s.resp);
            {
                let mut w = JsonWriter::new(&mut resp);
                w.obj();
                c.credentials(&mut w, 1);
                w.key("assumedRoleUser")
                    .obj()
                    .key("assumedRoleId")
                    .str_parts(&[&role_id, ":", &subject])
                    .key("arn")
                    .str_parts(&[
                        "arn:aws:sts::",
                        acct,
                        ":assumed-role/",
                        role_name,
                        "/",
                        &subject,
                    ])
                    .end_obj()
                    .kv_str("subject", &subject)
                    .kv_str("subjectType", "persistent")
                    .kv_str("issuer", &issuer)
                    .kv_str("audience", "https://signin.aws.amazon.com/saml")
                    .kv_str("nameQualifier", &c.p.extra)
                    .end_obj();
            }
            c.s.resp = resp;
            f.resp = true;
            let mut w = JsonWriter::new(&mut c.s.res);
            w.arr()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::IAM::Role")
                .kv_str("ARN", &role_arn)
                .end_obj()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::IAM::SAMLProvider")
                .kv_str("ARN", &provider)
                .end_obj()
                .end_arr();
            f.res = true;
        }
        Shape::StsAssumeRoleWithWebIdentity => {
            let role_arn = format!("arn:aws:iam::{acct}:role/github-actions-deploy");
            let role_id = ids::access_key_from_key("AROA", hash_str(&role_arn));
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("roleArn", &role_arn)
                .kv_str("roleSessionName", "GitHubActions")
                .kv_u64("durationSeconds", 3600)
                .end_obj();
            let mut resp = std::mem::take(&mut c.s.resp);
            {
                let mut w = JsonWriter::new(&mut resp);
                w.obj();
                c.credentials(&mut w, 1);
                w.kv_str("subjectFromWebIdentityToken", &c.p.name)
                    .key("assumedRoleUser")
                    .obj()
                    .key("assumedRoleId")
                    .str_parts(&[&role_id, ":GitHubActions"])
                    .key("arn")
                    .str_parts(&[
                        "arn:aws:sts::",
                        acct,
                        ":assumed-role/github-actions-deploy/GitHubActions",
                    ])
                    .end_obj()
                    .kv_str("provider", &c.p.extra)
                    .kv_str("audience", "sts.amazonaws.com")
                    .end_obj();
            }
            c.s.resp = resp;
            f.resp = true;
            let mut w = JsonWriter::new(&mut c.s.res);
            w.arr()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::IAM::Role")
                .kv_str("ARN", &role_arn)
                .end_obj()
                .end_arr();
            f.res = true;
        }
        Shape::KmsDecrypt => {
            let key = c.kms_key_arn();
            let function = c.function();
            let secret = c.pick(&c.at.account.secrets, "app").to_string();
            let version = ids::uuid(c.rng);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
                .key("encryptionContext")
                .obj();
            if c.p.profile == Profile::Lambda {
                w.key("aws:lambda:FunctionArn").str_parts(&[
                    "arn:aws:lambda:",
                    region,
                    ":",
                    acct,
                    ":function:",
                    &function,
                ]);
            } else {
                w.key("SecretARN")
                    .str_parts(&[
                        "arn:aws:secretsmanager:",
                        region,
                        ":",
                        acct,
                        ":secret:",
                        &secret,
                    ])
                    .kv_str("SecretVersionId", &version);
            }
            w.end_obj().end_obj();
            kms_resource(c.s, acct, &key);
            f.res = true;
        }
        Shape::KmsEncrypt => {
            let key = c.kms_key_arn();
            let alias = format!("alias/{}-app", c.at.account.alias);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("keyId", &alias)
                .kv_str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
                .end_obj();
            kms_resource(c.s, acct, &key);
            f.res = true;
        }
        Shape::KmsGenerateDataKey => {
            let key = c.kms_key_arn();
            let bucket = c.bucket();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("keyId", &key)
                .kv_str("keySpec", "AES_256")
                .key("encryptionContext")
                .obj()
                .key("aws:s3:arn")
                .str_parts(&["arn:aws:s3:::", &bucket])
                .end_obj()
                .end_obj();
            kms_resource(c.s, acct, &key);
            f.res = true;
        }
        Shape::KmsKeyId => {
            let key = c.kms_key_arn();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("keyId", &key).end_obj();
            kms_resource(c.s, acct, &key);
            f.res = true;
        }
        Shape::KmsRotateKey => {
            let key = c.kms_key_arn();
            f.req = false;
            kms_resource(c.s, acct, &key);
            f.res = true;
            let key_id = key.rsplit('/').next().unwrap_or("").to_string();
            let mut w = JsonWriter::new(&mut c.s.sed);
            w.obj().kv_str("keyId", &key_id).end_obj();
            f.sed = true;
        }
        Shape::LambdaFunctionName => {
            let function = c.function();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("functionName", &function).end_obj();
        }
        Shape::LambdaUpdateCode => {
            let function = c.function();
            let artifacts = c.bucket();
            let sha = record::b64_string(c.rng, 43);
            let revision = ids::uuid(c.rng);
            let code_key = format!("lambda/{function}/{}.zip", ids::hex(c.rng, 12));
            let version = c.rng.random_range(2..80u64);
            let code_size = c.rng.random_range(20_000..9_000_000u64);
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("functionName", &function)
                .kv_str("s3Bucket", &artifacts)
                .kv_str("s3Key", &code_key)
                .kv_bool("publish", true)
                .end_obj();
            let mut modified = Vec::new();
            timefmt::push_iso(&mut modified, c.t);
            let modified = String::from_utf8(modified)
                .unwrap_or_default()
                .replace('Z', ".000+0000");
            let mut w = JsonWriter::new(&mut c.s.resp);
            w.obj()
                .kv_str("functionName", &function)
                .key("functionArn")
                .str_parts(&[
                    "arn:aws:lambda:",
                    region,
                    ":",
                    acct,
                    ":function:",
                    &function,
                ])
                .kv_str("runtime", "python3.12")
                .key("role")
                .str_parts(&[
                    "arn:aws:iam::",
                    acct,
                    ":role/service-role/",
                    &function,
                    "-role",
                ])
                .kv_str("handler", "app.handler")
                .kv_u64("codeSize", code_size)
                .kv_str("description", "")
                .kv_u64("timeout", 30)
                .kv_u64("memorySize", 256)
                .kv_str("lastModified", &modified)
                .kv_str("codeSha256", &format!("{sha}="))
                .kv_str("version", &version.to_string())
                .key("tracingConfig")
                .obj()
                .kv_str("mode", "PassThrough")
                .end_obj()
                .kv_str("revisionId", &revision)
                .kv_str("state", "Active")
                .kv_str("lastUpdateStatus", "InProgress")
                .kv_str("packageType", "Zip")
                .key("architectures")
                .arr()
                .str("x86_64")
                .end_arr()
                .end_obj();
            f.resp = true;
        }
        Shape::LogsCreateStream => {
            let (group, stream) = if c.p.profile == Profile::Lambda {
                let mut d = timefmt::date_path(c.t);
                d.push_str("/[$LATEST]");
                d.push_str(&ids::hex(c.rng, 32));
                (format!("/aws/lambda/{}", c.p.session), d)
            } else {
                let g = c
                    .pick(&c.at.account.log_groups, "/var/log/messages")
                    .to_string();
                (g, c.instance())
            };
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("logGroupName", &group)
                .kv_str("logStreamName", &stream)
                .end_obj();
        }
        Shape::LogsDescribeStreams => {
            let group = c
                .pick(&c.at.account.log_groups, "/var/log/messages")
                .to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("logGroupName", &group)
                .kv_str("orderBy", "LastEventTime")
                .kv_bool("descending", true)
                .kv_u64("limit", 50)
                .end_obj();
        }
        Shape::LogsLimit => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_u64("limit", 50).end_obj();
        }
        Shape::CwGetMetricData => {
            let inst = c.instance();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("metricDataQueries")
                .arr()
                .obj()
                .kv_str("id", "m1")
                .key("metricStat")
                .obj()
                .key("metric")
                .obj()
                .kv_str("namespace", "AWS/EC2")
                .kv_str("metricName", "CPUUtilization")
                .key("dimensions")
                .arr()
                .obj()
                .kv_str("name", "InstanceId")
                .kv_str("value", &inst)
                .end_obj()
                .end_arr()
                .end_obj()
                .kv_u64("period", 300)
                .kv_str("stat", "Average")
                .end_obj()
                .kv_bool("returnData", true)
                .end_obj()
                .end_arr()
                .kv_str("startTime", &timefmt::iso(c.t - 3 * 3600))
                .kv_str("endTime", &timefmt::iso(c.t))
                .end_obj();
        }
        Shape::CwDescribeAlarms => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_u64("maxRecords", 100).end_obj();
        }
        Shape::CwListMetrics => {
            let ns = ["AWS/EC2", "AWS/Lambda", "AWS/S3", "AWS/DynamoDB"]
                .choose(c.rng)
                .copied()
                .unwrap_or("AWS/EC2");
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("namespace", ns).end_obj();
        }
        Shape::CwPutMetricAlarm => {
            let inst = c.instance();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("alarmName")
                .str_parts(&[&inst, "-high-cpu"])
                .kv_str("metricName", "CPUUtilization")
                .kv_str("namespace", "AWS/EC2")
                .kv_str("statistic", "Average")
                .key("dimensions")
                .arr()
                .obj()
                .kv_str("name", "InstanceId")
                .kv_str("value", &inst)
                .end_obj()
                .end_arr()
                .kv_u64("period", 300)
                .kv_u64("evaluationPeriods", 3)
                .key("threshold")
                .f64(80.0)
                .kv_str("comparisonOperator", "GreaterThanThreshold")
                .key("alarmActions")
                .arr()
                .str_parts(&["arn:aws:sns:", region, ":", acct, ":ops-alerts"])
                .end_arr()
                .end_obj();
        }
        Shape::DynamoTable => {
            let table = c.pick(&c.at.account.tables, "orders").to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("tableName", &table).end_obj();
            let mut w = JsonWriter::new(&mut c.s.res);
            w.arr()
                .obj()
                .kv_str("accountId", acct)
                .kv_str("type", "AWS::DynamoDB::Table")
                .key("ARN")
                .str_parts(&["arn:aws:dynamodb:", region, ":", acct, ":table/", &table])
                .end_obj()
                .end_arr();
            f.res = true;
        }
        Shape::SsmUpdateInstanceInformation => {
            let inst = c.instance();
            let k = ids::mix(hash_str(&inst));
            let ip = format!("10.0.{}.{}", (k >> 8) & 15, 2 + (k & 127));
            let host = if region == "us-east-1" {
                format!("ip-10-0-{}-{}.ec2.internal", (k >> 8) & 15, 2 + (k & 127))
            } else {
                format!(
                    "ip-10-0-{}-{}.{region}.compute.internal",
                    (k >> 8) & 15,
                    2 + (k & 127)
                )
            };
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("instanceId", &inst)
                .kv_str("agentVersion", "3.2.2222.0")
                .kv_str("agentStatus", "Active")
                .kv_str("platformType", "Linux")
                .kv_str("platformName", "Amazon Linux")
                .kv_str("platformVersion", "2023")
                .kv_str("iPAddress", &ip)
                .kv_str("computerName", &host)
                .kv_str("agentName", "amazon-ssm-agent")
                .key("availabilityZone")
                .str_parts(&[region, if k & 1 == 0 { "a" } else { "b" }])
                .kv_str("sSMConnectionChannel", "ssmmessages")
                .end_obj();
        }
        Shape::SsmInstanceId => {
            let inst = c.instance();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("instanceId", &inst)
                .kv_u64("maxResults", 20)
                .end_obj();
        }
        Shape::SsmGetParameter => {
            let name = c.pick(&c.at.account.parameters, "/app/db-host").to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .kv_str("name", &name)
                .kv_bool("withDecryption", !name.starts_with("/aws/"))
                .end_obj();
        }
        Shape::SsmGetParameters => {
            let a = c.pick(&c.at.account.parameters, "/app/db-host").to_string();
            let b = c
                .pick(&c.at.account.parameters, "/app/log-level")
                .to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("names")
                .arr()
                .str(&a)
                .str(&b)
                .end_arr()
                .kv_bool("withDecryption", true)
                .end_obj();
        }
        Shape::SsmMaxResults => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_u64("maxResults", 50).end_obj();
        }
        Shape::SecretId => {
            let secret = c.pick(&c.at.account.secrets, "app").to_string();
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("secretId")
                .str_parts(&[
                    "arn:aws:secretsmanager:",
                    region,
                    ":",
                    acct,
                    ":secret:",
                    &secret,
                ])
                .end_obj();
        }
        Shape::CfnStackName => {
            let env = c.at.account.alias.trim_start_matches("example-");
            let stack = ["network", "app", "data", "observability"]
                .choose(c.rng)
                .copied()
                .unwrap_or("app");
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("stackName")
                .str_parts(&[env, "-", stack])
                .end_obj();
        }
        Shape::TrailName => {
            let trail = &c.at.account.trail_name;
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("name")
                .str_parts(&["arn:aws:cloudtrail:us-east-1:", acct, ":trail/", trail])
                .end_obj();
        }
        Shape::TrailList => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("trailNameList")
                .arr()
                .end_arr()
                .kv_bool("includeShadowTrails", true)
                .end_obj();
        }
        Shape::LookupEvents => {
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj()
                .key("lookupAttributes")
                .arr()
                .obj()
                .kv_str("attributeKey", "ResourceType")
                .kv_str("attributeValue", "AWS::EC2::Instance")
                .end_obj()
                .end_arr()
                .kv_str("startTime", &timefmt::iso(c.t - 86_400))
                .kv_str("endTime", &timefmt::iso(c.t))
                .kv_u64("maxResults", 50)
                .end_obj();
        }
        Shape::SsoAccount => {
            let role = ["AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess"]
                .choose(c.rng)
                .copied()
                .unwrap_or("ReadOnlyAccess");
            let mut w = JsonWriter::new(&mut c.s.req);
            w.obj().kv_str("accountId", acct);
            if op.name == "GetRoleCredentials" {
                w.kv_str("roleName", role);
            }
            w.end_obj();
        }
        Shape::ConsoleLogin => {
            f.req = false;
            let mut w = JsonWriter::new(&mut c.s.resp);
            w.obj().kv_str("ConsoleLogin", "Success").end_obj();
            f.resp = true;
            let state = ids::hex(c.rng, 16);
            let mfa = if c.p.kind == Kind::Root {
                format!("arn:aws:iam::{acct}:mfa/root-account-mfa-device")
            } else {
                format!("arn:aws:iam::{acct}:mfa/{}", c.p.name)
            };
            let mut w = JsonWriter::new(&mut c.s.add);
            w.obj()
                .key("LoginTo")
                .str_parts(&[
                    "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_",
                    &state,
                ])
                .kv_str("MobileVersion", "No")
                .kv_str("MFAIdentifier", &mfa)
                .kv_str("MFAUsed", "Yes")
                .end_obj();
            f.add = true;
        }
    }
    let _ = e;
    f
}

fn kms_resource(s: &mut Scratch, acct: &str, key_arn: &str) {
    let mut w = JsonWriter::new(&mut s.res);
    w.arr()
        .obj()
        .kv_str("accountId", acct)
        .kv_str("type", "AWS::KMS::Key")
        .kv_str("ARN", key_arn)
        .end_obj()
        .end_arr();
}

/// The role an `AssumeRole` caller assumes, and the session name it asks for.
fn assume_target<R: Rng>(c: &mut ShapeCtx<'_, '_, R>) -> (String, String, String) {
    let acct = c.acct;
    let (path, role, session): (&str, String, String) = match (c.p.kind, c.p.invoked_by) {
        (Kind::AwsService, Some("lambda.amazonaws.com")) => {
            let f = c.function();
            ("service-role/", format!("{f}-role"), f)
        }
        (Kind::AwsService, Some("ec2.amazonaws.com")) => {
            let i = c.instance();
            ("", "app-server-role".to_string(), i)
        }
        (Kind::AwsService, Some("ecs-tasks.amazonaws.com")) => {
            ("", "ecs-task-role".to_string(), ids::hex(c.rng, 32))
        }
        (Kind::AwsService, _) => (
            "",
            "cfn-exec-role".to_string(),
            "AWSCloudFormation".to_string(),
        ),
        (Kind::CrossAccount, _) => (
            "",
            "cross-account-readonly".to_string(),
            c.p.session.clone(),
        ),
        (Kind::Role, _) => (
            "",
            "OrganizationAccountAccessRole".to_string(),
            format!(
                "{}-{}",
                c.p.name.chars().take(32).collect::<String>(),
                c.rng.random_range(1000..9999u32)
            ),
        ),
        _ => ("", "ops-readonly".to_string(), c.p.name.clone()),
    };
    let arn = format!("arn:aws:iam::{acct}:role/{path}{role}");
    let _ = session_of;
    (arn, role, session)
}

/// FNV-1a of a string: a stable key for derived ids.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
