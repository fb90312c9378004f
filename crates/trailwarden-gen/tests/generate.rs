//! End-to-end tests of `generate`: determinism, layout, content, counts, the scenario
//! manifest, and an independent reference evaluation of the built-in policies over every
//! record (background must fire nothing; scenario events exactly their `expect`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::read::MultiGzDecoder;
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use trailwarden_gen::{
    anomaly_scenario_event_count, generate, min_events, GenConfig, GenSummary, ANOMALY_DETECTIONS,
    ANONYMOUS_IPS_FILE, GEO_SITES, MANIFEST_FILE, POLICY_EVENT_NAMES, POLICY_IDS, RISKY_IPS_FILE,
    SUSPICIOUS_IPS_FILE, TERMINATED_USERS_FILE,
};

const EVENTS: u64 = 3000;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("trailwarden-gen-tests")
        .join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("clean scratch dir");
    }
    dir
}

/// One shared trail for the read-only tests.
fn fixture() -> &'static (PathBuf, GenSummary) {
    static FIXTURE: OnceLock<(PathBuf, GenSummary)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = scratch_dir("fixture");
        let summary = generate(&GenConfig::new(&dir, EVENTS, 7)).expect("generate");
        (dir, summary)
    })
}

/// Every regular file under `root`, as (relative path with `/`, absolute path), sorted.
fn files(root: &Path) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
        for entry in fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, path));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn gunzip(path: &Path) -> Vec<u8> {
    let bytes = fs::read(path).expect("read object");
    assert_eq!(
        &bytes[..3],
        &[0x1f, 0x8b, 8],
        "{} is not gzip",
        path.display()
    );
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "gzip mtime must be 0");
    let mut text = Vec::new();
    MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut text)
        .expect("gunzip");
    text
}

struct Trail {
    /// (relative path, parsed object) of every `.json.gz`.
    objects: Vec<(String, Value)>,
    /// Uncompressed bytes of every `.json.gz`, by relative path.
    raw: BTreeMap<String, Vec<u8>>,
    manifest: Vec<Value>,
}

fn load(root: &Path) -> Trail {
    let mut objects = Vec::new();
    let mut raw = BTreeMap::new();
    for (rel, path) in files(root) {
        if rel.ends_with(".json.gz") {
            let text = gunzip(&path);
            let v: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{rel} is not valid JSON: {e}"));
            objects.push((rel.clone(), v));
            raw.insert(rel, text);
        }
    }
    let manifest = fs::read_to_string(root.join(MANIFEST_FILE))
        .expect("manifest")
        .lines()
        .map(|l| serde_json::from_str(l).expect("manifest line is JSON"))
        .collect();
    Trail {
        objects,
        raw,
        manifest,
    }
}

fn trail() -> &'static Trail {
    static TRAIL: OnceLock<Trail> = OnceLock::new();
    TRAIL.get_or_init(|| load(&fixture().0))
}

fn records(t: &Trail) -> impl Iterator<Item = (&str, &Value)> {
    t.objects.iter().flat_map(|(rel, v)| {
        v.get("Records")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(move |r| (rel.as_str(), r))
    })
}

#[test]
fn same_seed_same_bytes_and_threads_do_not_matter() {
    let a = scratch_dir("det-a");
    let b = scratch_dir("det-b");
    let c = scratch_dir("det-c");
    let cfg = |dir: &Path, seed: u64, threads: usize| GenConfig {
        threads,
        ..GenConfig::new(dir, 1500, seed)
    };
    let sa = generate(&cfg(&a, 42, 1)).expect("a");
    let sb = generate(&cfg(&b, 42, 3)).expect("b");
    let sc = generate(&cfg(&c, 43, 2)).expect("c");
    assert_eq!(sa, sb);
    let fa = files(&a);
    let fb = files(&b);
    assert_eq!(
        fa.iter().map(|f| &f.0).collect::<Vec<_>>(),
        fb.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((rel, pa), (_, pb)) in fa.iter().zip(&fb) {
        assert_eq!(
            fs::read(pa).expect("a"),
            fs::read(pb).expect("b"),
            "{rel} differs"
        );
    }
    let fc = files(&c);
    let names_a: BTreeSet<&String> = fa.iter().map(|f| &f.0).collect();
    let names_c: BTreeSet<&String> = fc.iter().map(|f| &f.0).collect();
    assert_ne!(names_a, names_c, "another seed must give another trail");
    assert_ne!(
        fs::read(a.join(MANIFEST_FILE)).expect("manifest a"),
        fs::read(c.join(MANIFEST_FILE)).expect("manifest c")
    );
    assert_eq!(sc.events, 1500);
    for d in [a, b, c] {
        fs::remove_dir_all(d).expect("cleanup");
    }
}

#[test]
fn layout_matches_the_s3_delivery_layout() {
    let (root, summary) = fixture();
    let log = Regex::new(
        r"^AWSLogs/(?:(o-[a-z0-9]+)/)?(\d{12})/CloudTrail/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z]{2}-[a-z]+-\d)_(\d{4})(\d{2})(\d{2})T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$",
    )
    .expect("regex");
    let digest = Regex::new(
        r"^AWSLogs/(?:(o-[a-z0-9]+)/)?(\d{12})/CloudTrail-Digest/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail-Digest_([a-z]{2}-[a-z]+-\d)_[A-Za-z0-9._-]+_([a-z]{2}-[a-z]+-\d)_(\d{4})(\d{2})(\d{2})T\d{6}Z\.json\.gz$",
    )
    .expect("regex");
    let insight = Regex::new(
        r"^AWSLogs/(\d{12})/CloudTrail-Insight/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail-Insight_([a-z]{2}-[a-z]+-\d)_(\d{4})(\d{2})(\d{2})T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$",
    )
    .expect("regex");
    let (mut logs, mut digests, mut insights) = (0u64, 0u64, 0u64);
    let mut bytes = 0u64;
    let mut org_accounts = BTreeSet::new();
    let mut plain_accounts = BTreeSet::new();
    for (rel, path) in files(root) {
        if rel == MANIFEST_FILE || rel == RISKY_IPS_FILE {
            continue;
        }
        bytes += fs::metadata(&path).expect("meta").len();
        let same = |c: &regex::Captures<'_>, a: usize, b: usize| assert_eq!(&c[a], &c[b], "{rel}");
        if let Some(c) = log.captures(&rel) {
            same(&c, 2, 7);
            same(&c, 3, 8);
            same(&c, 4, 9);
            same(&c, 5, 10);
            same(&c, 6, 11);
            if let Some(org) = c.get(1) {
                assert_eq!(org.as_str(), "o-exampleorg1");
                org_accounts.insert(c[2].to_string());
            } else {
                plain_accounts.insert(c[2].to_string());
            }
            logs += 1;
        } else if let Some(c) = digest.captures(&rel) {
            same(&c, 2, 7);
            same(&c, 3, 8);
            same(&c, 4, 10);
            same(&c, 5, 11);
            same(&c, 6, 12);
            digests += 1;
        } else if let Some(c) = insight.captures(&rel) {
            same(&c, 1, 6);
            same(&c, 2, 7);
            same(&c, 3, 8);
            insights += 1;
        } else {
            panic!("unexpected file {rel}");
        }
    }
    assert_eq!(
        org_accounts.len(),
        1,
        "exactly one account in the organisation layout"
    );
    assert!((2..=3).contains(&plain_accounts.len()));
    assert!(org_accounts.is_disjoint(&plain_accounts));
    assert!(logs >= 20, "{logs} log objects");
    assert!(digests >= 6);
    assert_eq!(insights, 1);
    assert_eq!(summary.files, logs + digests + insights);
    assert_eq!(summary.bytes_gz, bytes);
    let risky = fs::read_to_string(root.join(RISKY_IPS_FILE)).expect("risky");
    let lines: Vec<&str> = risky.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(risky.starts_with('#'));
    assert_eq!(lines, ["203.0.113.0/24", "192.0.2.77"]);
}

#[test]
fn every_object_is_json_and_the_count_is_exact() {
    let t = trail();
    let (_, summary) = fixture();
    let mut n = 0u64;
    for (rel, v) in &t.objects {
        if rel.contains("/CloudTrail-Digest/") {
            assert!(v.get("Records").is_none(), "{rel}");
            for k in [
                "awsAccountId",
                "digestStartTime",
                "digestEndTime",
                "digestS3Bucket",
                "digestS3Object",
                "newestEventTime",
                "oldestEventTime",
                "previousDigestS3Bucket",
                "previousDigestHashValue",
                "logFiles",
            ] {
                assert!(v.get(k).is_some(), "{rel} lacks {k}");
            }
            assert_eq!(v["digestS3Object"], rel.as_str());
        } else {
            let recs = v["Records"]
                .as_array()
                .unwrap_or_else(|| panic!("{rel}: no Records"));
            assert!(!recs.is_empty(), "{rel}: empty object");
            n += recs.len() as u64;
        }
    }
    assert_eq!(n, EVENTS);
    assert_eq!(summary.events, EVENTS);
    assert_eq!(summary.scenario_events, t.manifest.len() as u64);
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[test]
fn records_have_the_cloudtrail_shape() {
    let t = trail();
    let mut ids = BTreeSet::new();
    let (mut tls, mut data, mut failed, mut late, mut unsorted_objects) = (0, 0, 0, 0, 0);
    let mut identity_types = BTreeSet::new();
    for (rel, v) in &t.objects {
        let Some(recs) = v.get("Records").and_then(Value::as_array) else {
            continue;
        };
        let times: Vec<&str> = recs
            .iter()
            .filter_map(|r| r["eventTime"].as_str())
            .collect();
        if times.windows(2).any(|w| w[0] > w[1]) {
            unsorted_objects += 1;
        }
        // The window time in the file name: late records are older than it.
        let stamp = rel.rsplit('_').nth(1).unwrap_or("");
        for r in recs {
            let id = r["eventID"].as_str().expect("eventID");
            assert!(is_uuid(id), "{id}");
            assert!(ids.insert(id.to_string()), "duplicate eventID {id}");
            assert!(r["eventVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("1.")));
            assert!(r["eventTime"]
                .as_str()
                .is_some_and(|s| s.len() == 20 && s.ends_with('Z')));
            assert!(r["recipientAccountId"]
                .as_str()
                .is_some_and(|s| s.len() == 12));
            let et = r["eventType"].as_str().expect("eventType");
            let cat = r["eventCategory"].as_str().expect("eventCategory");
            if et == "AwsCloudTrailInsight" {
                assert_eq!(cat, "Insight");
                assert!(
                    r["insightDetails"]["insightContext"]["statistics"]["baseline"]["average"]
                        .is_number()
                );
                continue;
            }
            assert!(r["readOnly"].is_boolean(), "{r}");
            assert!(r["managementEvent"].is_boolean());
            assert!(
                r["userIdentity"]["type"].is_string() || r["userIdentity"]["invokedBy"].is_string()
            );
            identity_types.insert(r["userIdentity"]["type"].as_str().unwrap_or("").to_string());
            assert!(r["eventSource"]
                .as_str()
                .is_some_and(|s| s.ends_with(".amazonaws.com")));
            assert!(r["sourceIPAddress"].is_string() && r["userAgent"].is_string());
            assert!(r.get("requestParameters").is_some() && r.get("responseElements").is_some());
            let rp = &r["requestParameters"];
            assert!(rp.is_null() || rp.is_object());
            let re = &r["responseElements"];
            assert!(re.is_null() || re.is_object());
            if et == "AwsApiCall" {
                assert!(r["requestID"].is_string(), "{r}");
            }
            if r.get("tlsDetails").is_some() {
                tls += 1;
                assert!(r["tlsDetails"]["clientProvidedHostHeader"].is_string());
            }
            if cat == "Data" {
                data += 1;
                assert_eq!(r["managementEvent"], false);
                assert!(r["resources"].as_array().is_some_and(|a| !a.is_empty()));
            }
            if r.get("errorCode").is_some() {
                failed += 1;
                assert!(r["errorMessage"].is_string());
            }
            let compact: String = r["eventTime"]
                .as_str()
                .unwrap_or("")
                .chars()
                .filter(|c| c.is_ascii_digit())
                .take(12)
                .collect();
            let stamp_digits: String = stamp.chars().filter(|c| c.is_ascii_digit()).collect();
            if !stamp_digits.is_empty() && compact < stamp_digits {
                late += 1;
            }
        }
    }
    assert!(tls > 0 && data > 0 && failed > 0);
    assert!(
        unsorted_objects > 0,
        "records should be only roughly ordered"
    );
    assert!(late > 0, "some events should be delivered late");
    for ty in [
        "IAMUser",
        "AssumedRole",
        "AWSService",
        "AWSAccount",
        "FederatedUser",
        "SAMLUser",
        "WebIdentityUser",
        "IdentityCenterUser",
        "Root",
    ] {
        assert!(identity_types.contains(ty), "no {ty} identity");
    }
}

#[test]
fn digests_chain_and_hash_the_log_objects() {
    let t = trail();
    let mut by_stream: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut listed = 0;
    for (rel, v) in &t.objects {
        if !rel.contains("/CloudTrail-Digest/") {
            continue;
        }
        let region = rel
            .split("/CloudTrail-Digest/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let stream = format!("{}/{region}", v["awsAccountId"].as_str().unwrap_or(""));
        by_stream.entry(stream).or_default().push(v);
        for f in v["logFiles"].as_array().expect("logFiles") {
            let key = f["s3Object"].as_str().expect("s3Object");
            let raw = t
                .raw
                .get(key)
                .unwrap_or_else(|| panic!("digest lists missing {key}"));
            assert_eq!(f["hashValue"], hex(&Sha256::digest(raw)));
            assert_eq!(f["hashAlgorithm"], "SHA-256");
            listed += 1;
        }
    }
    let log_objects = t
        .objects
        .iter()
        .filter(|(r, _)| r.contains("/CloudTrail/"))
        .count();
    assert_eq!(
        listed, log_objects,
        "every log object is in exactly one digest"
    );
    for digests in by_stream.values() {
        let mut digests = digests.clone();
        digests.sort_by_key(|d| d["digestEndTime"].as_str().unwrap_or("").to_string());
        assert!(digests[0]["previousDigestHashValue"].is_null());
        for pair in digests.windows(2) {
            let prev_key = pair[0]["digestS3Object"].as_str().expect("key");
            assert_eq!(pair[1]["previousDigestS3Object"], prev_key);
            assert_eq!(
                pair[1]["previousDigestHashValue"],
                hex(&Sha256::digest(&t.raw[prev_key]))
            );
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---- an independent reference evaluation of the built-in policies ----------------------

const CLOUDTRAIL: &[&str] = &[
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
];
const EC2_INSTANCE: &[&str] = &[
    "ModifyInstanceAttribute",
    "ModifyInstanceMetadataOptions",
    "ModifyInstancePlacement",
    "ModifyInstanceMaintenanceOptions",
    "AssociateIamInstanceProfile",
    "ReplaceIamInstanceProfileAssociation",
    "DisassociateIamInstanceProfile",
];
const IAM: &[&str] = &[
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
];
const NACL: &[&str] = &[
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "DeleteNetworkAcl",
    "DeleteNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "ReplaceNetworkAclAssociation",
];
const GATEWAY: &[&str] = &[
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
];
const S3_CONFIG: &[&str] = &[
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
];
const SG: &[&str] = &[
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "ModifySecurityGroupRules",
];
const VPC: &[&str] = &[
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

fn risky(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let o = a.octets();
            (o[0], o[1], o[2]) == (203, 0, 113) || a == Ipv4Addr::new(192, 0, 2, 77)
        }
        _ => false,
    }
}

fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn is_public_group(uri: &str) -> bool {
    uri.ends_with("/groups/global/AllUsers") || uri.ends_with("/groups/global/AuthenticatedUsers")
}

fn has_false_flag(cfg: &Value) -> bool {
    [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ]
    .iter()
    .any(|k| cfg.get(*k) == Some(&Value::Bool(false)))
}

fn s3_public(name: &str, rp: &Value) -> bool {
    match name {
        "PutBucketAcl" => {
            let canned = one_or_many(&rp["x-amz-acl"]).iter().any(|v| {
                matches!(
                    v.as_str(),
                    Some("public-read" | "public-read-write" | "authenticated-read")
                )
            });
            let grants = one_or_many(&rp["AccessControlPolicy"]["AccessControlList"]["Grant"])
                .iter()
                .any(|g| g["Grantee"]["URI"].as_str().is_some_and(is_public_group));
            let headers = rp.as_object().is_some_and(|o| {
                o.iter().any(|(k, v)| {
                    k.starts_with("x-amz-grant-")
                        && one_or_many(v)
                            .iter()
                            .any(|s| s.as_str().is_some_and(is_public_group))
                })
            });
            canned || grants || headers
        }
        "PutBucketPolicy" => one_or_many(&rp["bucketPolicy"]["Statement"])
            .iter()
            .any(|s| {
                let star = s["Principal"] == "*" || s["Principal"]["AWS"] == "*";
                s["Effect"] == "Allow" && star && s.get("Condition").is_none()
            }),
        "PutBucketPublicAccessBlock" | "PutAccountPublicAccessBlock" => {
            has_false_flag(&rp["PublicAccessBlockConfiguration"])
        }
        "DeleteBucketPublicAccessBlock" | "DeleteAccountPublicAccessBlock" => true,
        _ => false,
    }
}

fn fired(r: &Value) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let src = r["eventSource"].as_str().unwrap_or("");
    let name = r["eventName"].as_str().unwrap_or("");
    let ok = r.get("errorCode").is_none_or(|c| c.is_null() || c == "");
    if src == "signin.amazonaws.com" && name == "ConsoleLogin" {
        if r["responseElements"]["ConsoleLogin"] == "Failure" {
            out.insert("console-signin-failures");
        }
        if r["sourceIPAddress"].as_str().is_some_and(risky) {
            out.insert("risky-ip-logon");
        }
    }
    if !ok {
        return out;
    }
    let rule = |list: &[&str], id: &'static str, out: &mut BTreeSet<&'static str>| {
        if list.contains(&name) {
            out.insert(id);
        }
    };
    match src {
        "cloudtrail.amazonaws.com" => rule(CLOUDTRAIL, "cloudtrail-config-change", &mut out),
        "iam.amazonaws.com" => rule(IAM, "iam-policy-change", &mut out),
        "ec2.amazonaws.com" => {
            rule(EC2_INSTANCE, "ec2-instance-config-change", &mut out);
            rule(NACL, "network-acl-change", &mut out);
            rule(GATEWAY, "network-gateway-change", &mut out);
            rule(SG, "security-group-change", &mut out);
            rule(VPC, "vpc-change", &mut out);
        }
        "s3.amazonaws.com" => {
            rule(S3_CONFIG, "s3-bucket-config-change", &mut out);
            if s3_public(name, &r["requestParameters"]) {
                out.insert("s3-bucket-public");
            }
        }
        _ => {}
    }
    out
}

#[test]
fn reference_policies_fire_exactly_as_the_manifest_says() {
    let t = trail();
    let mut expected: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in &t.manifest {
        let obj = line.as_object().expect("manifest line is an object");
        assert_eq!(obj.len(), 3, "{line}");
        let id = line["event_id"].as_str().expect("event_id").to_string();
        let scenario = line["scenario"].as_str().expect("scenario").to_string();
        let expect: BTreeSet<String> = line["expect"]
            .as_array()
            .expect("expect")
            .iter()
            .map(|v| v.as_str().expect("policy id").to_string())
            .collect();
        for p in &expect {
            assert!(POLICY_IDS.contains(&p.as_str()), "unknown policy {p}");
        }
        assert!(
            expected.insert(id, (scenario, expect)).is_none(),
            "duplicate event_id"
        );
    }
    let mut seen = BTreeSet::new();
    for (rel, r) in records(t) {
        let id = r["eventID"].as_str().unwrap_or("");
        let got: BTreeSet<String> = fired(r).into_iter().map(str::to_string).collect();
        match expected.get(id) {
            Some((scenario, want)) => {
                assert_eq!(&got, want, "scenario {scenario} ({id} in {rel})");
                seen.insert(id.to_string());
            }
            None => {
                assert!(
                    got.is_empty(),
                    "background event {id} in {rel} fires {got:?}: {r}"
                );
                let name = r["eventName"].as_str().unwrap_or("");
                assert!(
                    !POLICY_EVENT_NAMES.contains(&name),
                    "background uses {name}"
                );
                assert!(
                    !r["sourceIPAddress"].as_str().is_some_and(risky),
                    "background from a risky address"
                );
                if name == "ConsoleLogin" {
                    assert_eq!(r["responseElements"]["ConsoleLogin"], "Success");
                }
            }
        }
    }
    assert_eq!(
        seen.len(),
        expected.len(),
        "every manifest event_id is in the trail"
    );

    // Coverage: every policy has at least two positives, and there are near misses.
    for policy in POLICY_IDS {
        let n = expected
            .values()
            .filter(|(_, e)| e.contains(policy))
            .count();
        assert!(n >= 2, "{policy} has {n} positive events");
    }
    let near_misses: BTreeSet<&str> = expected
        .values()
        .filter(|(_, e)| e.is_empty())
        .map(|(s, _)| s.as_str())
        .collect();
    for s in [
        "cloudtrail-stop-logging-denied",
        "console-login-normal-ip",
        "sg-describe",
        "risky-ip-api-call",
    ] {
        assert!(near_misses.contains(s), "missing near miss {s}");
    }
    let only_config: BTreeSet<&str> = expected
        .values()
        .filter(|(_, e)| e.len() == 1 && e.contains("s3-bucket-config-change"))
        .map(|(s, _)| s.as_str())
        .collect();
    for s in [
        "s3-acl-private",
        "s3-policy-star-with-vpce-condition",
        "s3-bucket-public-access-block-all-true",
    ] {
        assert!(only_config.contains(s), "missing config-only near miss {s}");
    }
    assert!(expected
        .values()
        .any(|(_, e)| e.contains("console-signin-failures") && e.contains("risky-ip-logon")));
}

#[test]
fn scenarios_can_be_turned_off() {
    let dir = scratch_dir("no-scenarios");
    let cfg = GenConfig {
        inject_scenarios: false,
        ..GenConfig::new(&dir, 400, 5)
    };
    let s = generate(&cfg).expect("generate");
    assert_eq!((s.events, s.scenario_events), (400, 0));
    assert_eq!(
        fs::read_to_string(dir.join(MANIFEST_FILE)).expect("manifest"),
        ""
    );
    let t = load(&dir);
    for (_, r) in records(&t) {
        assert!(fired(r).is_empty(), "{r}");
    }
    assert_eq!(records(&t).count(), 400);
    fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn refuses_too_few_events_and_an_existing_trail() {
    let dir = scratch_dir("errors");
    let min = min_events(true);
    assert!(min > 40 && min < 200, "{min}");
    let err = generate(&GenConfig::new(&dir, min - 1, 1)).expect_err("too few events");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let s = generate(&GenConfig::new(&dir, min, 1)).expect("minimum works");
    assert_eq!(s.events, min);
    let err = generate(&GenConfig::new(&dir, min, 2)).expect_err("existing trail");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    let again = GenConfig {
        overwrite: true,
        ..GenConfig::new(&dir, min, 1)
    };
    let first = files(&dir).into_iter().map(|f| f.0).collect::<Vec<_>>();
    generate(&again).expect("overwrite");
    assert_eq!(
        files(&dir).into_iter().map(|f| f.0).collect::<Vec<_>>(),
        first
    );
    let empty = scratch_dir("zero");
    let zero = GenConfig {
        inject_scenarios: false,
        ..GenConfig::new(&empty, 0, 1)
    };
    assert_eq!(generate(&zero).expect("zero events").events, 0);
    fs::remove_dir_all(dir).expect("cleanup");
    fs::remove_dir_all(empty).expect("cleanup");
}

/// The generator's site of an address (by prefix), if any.
fn site_of(ip: &str) -> Option<&'static str> {
    GEO_SITES
        .iter()
        .find(|s| s.prefixes.iter().any(|p| ip.starts_with(p)))
        .map(|s| s.name)
}

/// Background is geo-consistent: every public address a principal (keyed as the anomaly
/// engine keys it) calls from belongs to one site of the generator's table.
#[test]
fn each_background_principal_calls_from_one_site() {
    let t = trail();
    let scenario_ids: BTreeSet<&str> = t
        .manifest
        .iter()
        .filter_map(|l| l["event_id"].as_str())
        .collect();
    let mut sites: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut checked = 0;
    for (_, r) in records(t) {
        if scenario_ids.contains(r["eventID"].as_str().unwrap_or("")) {
            continue;
        }
        let ip = r["sourceIPAddress"].as_str().unwrap_or("");
        let Ok(addr) = ip.parse::<IpAddr>() else {
            continue; // service host names, "AWS Internal"
        };
        if matches!(addr, IpAddr::V4(a) if a.is_private()) {
            continue; // VPC endpoints
        }
        let site = site_of(ip).unwrap_or_else(|| panic!("{ip} is in no site"));
        let e = trailwarden_parse::parse_record(&serde_json::to_vec(r).unwrap()).expect("a record");
        let key = e.identity.principal.clone().expect("a principal");
        sites.entry(key).or_default().insert(site);
        checked += 1;
    }
    assert!(checked > 1000, "{checked}");
    for (p, s) in &sites {
        assert_eq!(s.len(), 1, "{p} calls from {s:?}");
    }
}

#[test]
fn anomaly_scenarios_span_ten_days_in_five_minute_objects_with_their_files() {
    let dir = scratch_dir("anomaly");
    let n = anomaly_scenario_event_count();
    let events = n + 2 + 3000;
    let cfg = GenConfig {
        anomaly_scenarios: true,
        inject_scenarios: false,
        ..GenConfig::new(&dir, events, 4)
    };
    let s = generate(&cfg).expect("generate");
    assert_eq!((s.events, s.scenario_events), (events, n));
    let t = load(&dir);
    assert_eq!(t.manifest.len() as u64, n);
    let by_id: BTreeMap<&str, &Value> = records(&t)
        .map(|(_, r)| (r["eventID"].as_str().unwrap_or(""), r))
        .collect();
    let mut positives = BTreeSet::new();
    for l in &t.manifest {
        let d = l["detection"].as_str().expect("detection");
        assert!(ANOMALY_DETECTIONS.contains(&d), "{l}");
        assert!(l["principal"]
            .as_str()
            .is_some_and(|p| p.starts_with("111122223333:")));
        let r = by_id
            .get(l["event_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{l} is not in the trail"));
        let e = trailwarden_parse::parse_record(&serde_json::to_vec(r).unwrap()).unwrap();
        assert_eq!(
            Some(l["principal"].as_str().unwrap()),
            e.identity.principal.as_deref()
        );
        for a in l["anomaly"].as_array().expect("anomaly") {
            positives.insert(a.as_str().unwrap().to_string());
            // alerts come after a week of learning: days 8 and 9
            assert!(r["eventTime"].as_str().unwrap() >= "2024-03-09", "{l}");
        }
        if r["eventName"] == "DeleteObjects" {
            assert_eq!(r["eventCategory"], "Data");
        }
    }
    assert_eq!(positives.len(), ANOMALY_DETECTIONS.len(), "{positives:?}");
    // ten days, CloudTrail's 5-minute objects, a region of its own for the unusual-region
    // scenario
    let times: Vec<&str> = records(&t)
        .filter_map(|(_, r)| r["eventTime"].as_str())
        .collect();
    assert!(times.iter().min().unwrap() < &"2024-03-01T01");
    assert!(times.iter().max().unwrap() > &"2024-03-10T20");
    for (rel, _) in &t.objects {
        if rel.contains("_CloudTrail_") {
            let stamp = rel.rsplit('_').nth(1).unwrap();
            let minutes: u32 = stamp[11..13].parse().unwrap();
            assert_eq!(minutes % 5, 0, "{rel}");
        }
    }
    assert!(t
        .objects
        .iter()
        .any(|(rel, _)| rel.contains("/CloudTrail/ap-south-1/")));
    let text = |f: &str| fs::read_to_string(dir.join(f)).expect(f);
    assert!(text(ANONYMOUS_IPS_FILE).contains("198.51.100.0/25"));
    assert!(text(SUSPICIOUS_IPS_FILE).contains("192.0.2.0/26"));
    assert!(text(TERMINATED_USERS_FILE).contains("vera,2024-03-09T12:00:00Z"));

    // too short a span, or too few events, is refused; without anomaly scenarios an
    // overwrite drops the old lists
    let short = GenConfig {
        span_days: Some(5),
        overwrite: true,
        ..cfg.clone()
    };
    let err = generate(&short).expect_err("a five-day span");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let few = GenConfig {
        events: n,
        overwrite: true,
        ..cfg.clone()
    };
    assert_eq!(
        generate(&few).expect_err("too few").kind(),
        std::io::ErrorKind::InvalidInput
    );
    let plain = GenConfig {
        anomaly_scenarios: false,
        span_days: Some(2),
        overwrite: true,
        ..cfg.clone()
    };
    generate(&plain).expect("plain");
    assert!(!dir.join(ANONYMOUS_IPS_FILE).exists());
    let t = load(&dir);
    let last = records(&t)
        .filter_map(|(_, r)| r["eventTime"].as_str())
        .max()
        .unwrap()
        .to_string();
    assert!(last.as_str() < "2024-03-03", "{last}");
    fs::remove_dir_all(dir).expect("cleanup");
}
