//! trailwarden-gen: a deterministic synthetic CloudTrail trail generator.
//!
//! [`generate`] writes a trail as CloudTrail delivers it to S3, plus the files that tell a
//! test what to expect of detection. The same [`GenConfig`] (seed included) always gives
//! byte-identical output: everything random comes from one `ChaCha8Rng` seeded with
//! [`GenConfig::seed`], objects are gzipped at level 6 with a zero header mtime, and the
//! worker threads that compress only ever see bytes that are already decided.
//!
//! # The synthetic world
//!
//! * **Organisation.** Three or four accounts (`111122223333`, `444455556666`,
//!   `777788889999`, `210987654321`): production, staging, development and data. Each is
//!   active in 2–4 regions; `us-east-1` is always the home region and carries most events
//!   (then `eu-west-1`, `ap-southeast-2`, `us-west-2`, `eu-central-1`). The last account is
//!   delivered through an organisation trail, so its objects live under
//!   `AWSLogs/o-exampleorg1/<account>/…`. Each account has its VPCs, subnets, security
//!   groups, instances, KMS keys, buckets, Lambda functions, tables, parameters and secrets.
//! * **Principals** (about 100–300 with stable behaviour; each acts from the same
//!   addresses with the same user agents throughout):
//!   people with IAM users (console sign-in with MFA, then console or `aws-cli` calls from
//!   one or two home/office addresses in their home city, some IPv6); the root user (a few console sign-ins with
//!   MFA, scheduled so that every run has some in each account, and rare account reads); a
//!   machine IAM user; CI roles (`github-actions-deploy`,
//!   `terraform-ci`) calling from CI runner addresses; one EC2 instance-role session per
//!   instance (session name `i-…`, the SSM agent's constant `UpdateInstanceInformation`,
//!   S3 reads and writes, sometimes through a VPC endpoint); IAM Identity Center
//!   permission-set roles (`AWSReservedSSO_*`, session name `name@example.com`); Lambda
//!   execution roles; service-linked roles acting through AWS Config and Auto Scaling
//!   (`invokedBy`, the service host name as source address); AWS services
//!   (`AWSService`) assuming roles; a federation broker and its `FederatedUser`s;
//!   `SAMLUser`s (`AssumeRoleWithSAML`) and GitHub OIDC `WebIdentityUser`s
//!   (`AssumeRoleWithWebIdentity`); `AWSAccount` callers from another account of the
//!   organisation and from a vendor; and `IdentityCenterUser`s of the access portal.
//!   People are about five times less active at night (UTC). EC2 instance roles outside
//!   the home region carry the region in their name (`app-server-role-eu-west-1`).
//! * **Addresses** are geo-consistent: each principal (as the anomaly engine keys it) draws
//!   all its addresses from one [`GeoSite`] of [`GEO_SITES`] — a city for people (San
//!   Francisco, Seattle, Toronto, London, Berlin, Paris), the AWS region's egress for EC2,
//!   Lambda and machine callers, Azure US for CI runners — whose prefixes a GeoLite2-City
//!   database puts there. So background activity never looks like travel or a new country.
//! * **Events.** Mostly reads (`Describe*`, `Get*`, `List*`, STS, KMS, SSM…), some benign
//!   writes (instance start/stop/run/terminate, tags, snapshots, Lambda deployments, log
//!   streams, alarms), a small share of S3 data events (`GetObject`/`PutObject`, category
//!   `Data`, with `resources`), about 0.5 % failed reads by people, CI, Lambda and machine
//!   users (`AccessDenied`, `Client.UnauthorizedOperation`, with `errorMessage`),
//!   AWS-internal KMS key rotations (`AwsServiceEvent`), and successful console sign-ins. Background events never use an event name a built-in policy alerts on
//!   ([`POLICY_EVENT_NAMES`]), never fail a sign-in, and never come from the risky
//!   addresses ([`RISKY_CIDR`], [`RISKY_SINGLE_IP`]).
//! * **Time.** Events start at 2024-03-01T00:00:00Z and span `events × 0.4 s` (at least an
//!   hour): 1,000,000 events cover about 4.6 days. [`GenConfig::span_days`] sets the span
//!   instead; with anomaly scenarios it is at least [`ANOMALY_SPAN_DAYS`] days.
//!
//! # Anomaly scenarios
//!
//! With [`GenConfig::anomaly_scenarios`], dedicated principals of the first account build a
//! week of baseline from day 0 (reads from their home addresses, plus what their scenario
//! needs: a second country, a VPN address, routine deletions, launches, admin actions, failed
//! sign-ins), then play a positive or a near miss of one of the eleven anomaly detections
//! ([`ANOMALY_DETECTIONS`]) on days 8 and 9, at fixed times. The catalogue is in
//! `docs/anomaly.md`. These events are never delivered late, and objects default to 5-minute
//! windows, so the anomaly engine (15 minutes of allowed lateness) sees them in event-time
//! order and the manifest can name each alert's trigger.
//!
//! # Delivery
//!
//! Each account+region stream is cut into delivery windows. By default the window length is
//! chosen so that an object holds about 2,000 records on average (1,000,000 events → a few
//! hundred objects, windows of a couple of hours); [`GenConfig::window_minutes`] fixes it
//! instead (real CloudTrail: 5, the default with anomaly scenarios). About one window in
//! twelve is longer (5 → 15 minutes; 10 minutes more for longer windows).
//! Objects are named after their window's start
//! (`<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alnum>.json.gz`), records within an
//! object are only roughly in time order, and some events of a window's last minutes arrive
//! in the next window's object (late delivery).
//!
//! # Files written under `OUT`
//!
//! * `AWSLogs/[o-exampleorg1/]<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz` — log
//!   objects, `{"Records":[…]}`.
//! * `AWSLogs/[o-exampleorg1/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_us-east-1_<YYYYMMDDTHHmmssZ>.json.gz`
//!   — one digest per account, region and day (as CloudTrail delivers them: per region,
//!   named after the trail's home region `us-east-1`, dated by the digest end), chained
//!   through `previousDigestHashValue`, listing each log object with the SHA-256 of its
//!   uncompressed content. Digests have no `Records` key.
//! * `AWSLogs/<first account>/CloudTrail-Insight/us-east-1/YYYY/MM/DD/*_CloudTrail-Insight_*.json.gz`
//!   — one Insights object with a `Start`/`End` pair (`AwsCloudTrailInsight`).
//! * [`MANIFEST_FILE`] (`scenarios.jsonl`) — one line per injected event:
//!   `{"event_id":…,"scenario":…,"expect":[policy ids…]}`; empty when scenarios are off.
//!   Anomaly scenario events add `"detection"` (what the scenario is about), `"anomaly"` (the
//!   detections that must raise an alert whose trigger — the last of its `event_ids` — is this
//!   event; `[]` for near misses and history) and `"principal"` (the actor's principal key).
//!   Policy scenario events have no `"anomaly"`: they promise nothing about the anomaly
//!   detections (a first-time admin action may well be unusual).
//! * [`RISKY_IPS_FILE`] (`risky-ips.txt`) — the risky address list for `risky-ip-logon`.
//! * With anomaly scenarios: [`ANONYMOUS_IPS_FILE`] (`--ip-list anonymous=…`, holding
//!   [`ANONYMOUS_CIDR`]), [`SUSPICIOUS_IPS_FILE`] (`--ip-list suspicious=…`,
//!   [`SUSPICIOUS_CIDR`]) and [`TERMINATED_USERS_FILE`] (`--terminated-users …`); background
//!   traffic never uses those addresses or users.
//!
//! # Counting
//!
//! [`GenConfig::events`] is the exact number of records written across all `Records`
//! arrays: background events **plus** the injected scenario events **plus** the
//! [`INSIGHT_EVENTS`] Insights records. With scenarios on, `events` must be at least
//! [`min_events`]`(true)`, plus [`anomaly_scenario_event_count`] with anomaly scenarios.

mod anomaly;
mod background;
mod catalog;
mod gen;
mod geo;
mod ids;
mod json;
mod output;
mod record;
mod scenarios;
mod timefmt;
mod world;

use std::io;
use std::path::PathBuf;

pub use anomaly::{ANOMALY_DETECTIONS, ANONYMOUS_CIDR, SUSPICIOUS_CIDR};
pub use geo::{GeoSite, GEO_SITES};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// Exact number of records written (background + scenario + Insights records).
    pub events: u64,
    /// RNG seed; the same seed gives byte-identical output.
    pub seed: u64,
    /// Inject the detection scenarios and write their manifest. Default `true`.
    pub inject_scenarios: bool,
    /// Delivery window length in minutes; `None` (default) picks one that gives about
    /// 2,000 records per object.
    pub window_minutes: Option<u32>,
    /// Compression threads; 0 (default) uses the available parallelism (at most 8). The
    /// output does not depend on it.
    pub threads: usize,
    /// Replace an existing trail in `out` (removes `out/AWSLogs` first). Default `false`:
    /// a non-empty `out/AWSLogs` is an `AlreadyExists` error.
    pub overwrite: bool,
    /// The trail's time span in days; `None` (default) derives it from `events` (see the crate
    /// docs). With anomaly scenarios it must be at least [`ANOMALY_SPAN_DAYS`].
    pub span_days: Option<u32>,
    /// Inject the anomaly-detection scenarios (positives and near misses for the eleven
    /// `trailwarden-anomaly` detections, after a week of learning) and write their IP lists and
    /// terminated-users file. Default `false`. The span is then at least
    /// [`ANOMALY_SPAN_DAYS`] days and, unless `window_minutes` says otherwise, objects are
    /// CloudTrail's 5-minute ones.
    pub anomaly_scenarios: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            out: PathBuf::from("synthetic-trail"),
            events: 100_000,
            seed: 1,
            inject_scenarios: true,
            window_minutes: None,
            threads: 0,
            overwrite: false,
            span_days: None,
            anomaly_scenarios: false,
        }
    }
}

impl GenConfig {
    /// A configuration with defaults for everything else.
    pub fn new(out: impl Into<PathBuf>, events: u64, seed: u64) -> Self {
        GenConfig {
            out: out.into(),
            events,
            seed,
            ..GenConfig::default()
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenSummary {
    /// `.json.gz` objects written: log objects, digests and the Insights object.
    pub files: u64,
    /// Records written across all `Records` arrays (equals [`GenConfig::events`]).
    pub events: u64,
    /// Injected scenario events (lines of the manifest); part of `events`.
    pub scenario_events: u64,
    /// Total size of the `.json.gz` objects.
    pub bytes_gz: u64,
}

/// Ids of the built-in policies the scenarios exercise.
pub const POLICY_IDS: [&str; 11] = [
    "console-signin-failures",
    "cloudtrail-config-change",
    "ec2-instance-config-change",
    "iam-policy-change",
    "risky-ip-logon",
    "network-acl-change",
    "network-gateway-change",
    "s3-bucket-config-change",
    "security-group-change",
    "vpc-change",
    "s3-bucket-public",
];

/// Every event name a built-in policy alerts on (other than `ConsoleLogin`, which the
/// background uses only as a success from a normal address). Background events never use
/// any of these.
pub const POLICY_EVENT_NAMES: &[&str] = &[
    // cloudtrail-config-change
    "CreateTrail",
    "UpdateTrail",
    "DeleteTrail",
    "StartLogging",
    "StopLogging",
    "PutEventSelectors",
    "PutInsightSelectors",
    "CreateEventDataStore",
    "UpdateEventDataStore",
    "DeleteEventDataStore",
    "StopEventDataStoreIngestion",
    // ec2-instance-config-change
    "ModifyInstanceAttribute",
    "ModifyInstanceMetadataOptions",
    "ModifyInstancePlacement",
    "ModifyInstanceMaintenanceOptions",
    "AssociateIamInstanceProfile",
    "ReplaceIamInstanceProfileAssociation",
    "DisassociateIamInstanceProfile",
    // iam-policy-change
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "DeleteUserPolicy",
    "DeleteRolePolicy",
    "DeleteGroupPolicy",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "DetachUserPolicy",
    "DetachRolePolicy",
    "DetachGroupPolicy",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "UpdateAssumeRolePolicy",
    "PutUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    // network-acl-change
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "DeleteNetworkAcl",
    "DeleteNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "ReplaceNetworkAclAssociation",
    // network-gateway-change
    "CreateCustomerGateway",
    "DeleteCustomerGateway",
    "CreateInternetGateway",
    "DeleteInternetGateway",
    "AttachInternetGateway",
    "DetachInternetGateway",
    "CreateNatGateway",
    "DeleteNatGateway",
    "CreateEgressOnlyInternetGateway",
    "DeleteEgressOnlyInternetGateway",
    "CreateTransitGateway",
    "DeleteTransitGateway",
    // s3-bucket-config-change / s3-bucket-public
    "PutBucketAcl",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketCors",
    "DeleteBucketCors",
    "PutBucketLifecycle",
    "DeleteBucketLifecycle",
    "PutBucketReplication",
    "DeleteBucketReplication",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketLogging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "DeleteBucketWebsite",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "PutAccountPublicAccessBlock",
    "DeleteAccountPublicAccessBlock",
    // security-group-change
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "ModifySecurityGroupRules",
    // vpc-change
    "CreateVpc",
    "DeleteVpc",
    "ModifyVpcAttribute",
    "CreateVpcPeeringConnection",
    "AcceptVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "CreateRoute",
    "DeleteRoute",
    "ReplaceRoute",
    "CreateRouteTable",
    "DeleteRouteTable",
    "AssociateRouteTable",
    "DisassociateRouteTable",
    "ReplaceRouteTableAssociation",
    "CreateVpnConnection",
    "DeleteVpnConnection",
    "CreateVpnConnectionRoute",
    "DeleteVpnConnectionRoute",
    "CreateVpnGateway",
    "DeleteVpnGateway",
    "AttachVpnGateway",
    "DetachVpnGateway",
];

/// The risky range written to [`RISKY_IPS_FILE`]; only scenarios use it.
pub const RISKY_CIDR: &str = "203.0.113.0/24";
pub(crate) const RISKY_CIDR_PREFIX: &str = "203.0.113.";
/// The single risky address written to [`RISKY_IPS_FILE`]; only scenarios use it.
pub const RISKY_SINGLE_IP: &str = "192.0.2.77";
/// The scenario manifest, under `OUT`.
pub const MANIFEST_FILE: &str = "scenarios.jsonl";
/// The risky address list, under `OUT`.
pub const RISKY_IPS_FILE: &str = "risky-ips.txt";
/// Records in the CloudTrail Insights object.
pub const INSIGHT_EVENTS: u64 = 2;
/// The `anonymous` IP list (anomaly scenarios), under `OUT`.
pub const ANONYMOUS_IPS_FILE: &str = "anonymous-ips.txt";
/// The `suspicious` IP list (anomaly scenarios), under `OUT`.
pub const SUSPICIOUS_IPS_FILE: &str = "suspicious-ips.txt";
/// The terminated-users file (anomaly scenarios), under `OUT`.
pub const TERMINATED_USERS_FILE: &str = "terminated-users.txt";
/// The shortest span of a trail with anomaly scenarios: a week of learning, then the scenarios
/// on days 8 and 9.
pub const ANOMALY_SPAN_DAYS: u32 = 10;

/// The number of injected scenario events (the same for every seed).
pub fn scenario_event_count() -> u64 {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let world = world::World::build(&mut rng);
    scenarios::build(&world, &mut rng).len() as u64
}

/// The number of injected anomaly scenario events (the same for every seed).
pub fn anomaly_scenario_event_count() -> u64 {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let world = world::World::build(&mut rng);
    anomaly::build(&world, &mut rng).len() as u64
}

/// The smallest valid [`GenConfig::events`] with the policy scenarios on or off (anomaly
/// scenarios off; with them add [`anomaly_scenario_event_count`]).
pub fn min_events(inject_scenarios: bool) -> u64 {
    if inject_scenarios {
        scenario_event_count() + INSIGHT_EVENTS
    } else {
        0
    }
}

/// Generates the trail described by `cfg`. See the crate docs for what is written.
///
/// Errors: `InvalidInput` when `events` is below [`min_events`], `AlreadyExists` when
/// `out/AWSLogs` is not empty and `overwrite` is off, and any I/O error (with its path).
pub fn generate(cfg: &GenConfig) -> io::Result<GenSummary> {
    gen::run(cfg)
}
