//! Quick encode-throughput measurement on synthetic CloudTrail-like events.
//!
//! ```text
//! cargo run --release -p trailwarden-archive --example encode_throughput -- \
//!     [events=100000] [events_per_object=1000] [zstd_level=1] [row_group_rows=8192] \
//!     [min_compressed_chunk_bytes=1024]
//! ```
//!
//! Prints events/s and bytes per event. Single-threaded: one [`Encoder`] reused for all objects,
//! the way a pipeline worker would use it. Not a benchmark harness (that lives in `benches/`).
//! With `TW_ARCHIVE_OUT=<dir>` set, the files are also written there (after timing) with
//! [`LocalArchive`], to try queries on a sample archive.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use trailwarden_archive::{ArchiveOptions, Encoder, LocalArchive};
use trailwarden_parse::{Event, Identity, IdentityType};

/// splitmix64: small deterministic generator, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
}

const CALLS: &[(&str, &str, bool)] = &[
    ("s3.amazonaws.com", "GetObject", true),
    ("s3.amazonaws.com", "PutObject", false),
    ("s3.amazonaws.com", "ListBuckets", true),
    ("ec2.amazonaws.com", "DescribeInstances", true),
    ("ec2.amazonaws.com", "RunInstances", false),
    ("iam.amazonaws.com", "GetRole", true),
    ("iam.amazonaws.com", "AttachRolePolicy", false),
    ("sts.amazonaws.com", "AssumeRole", false),
    ("kms.amazonaws.com", "Decrypt", true),
    ("kms.amazonaws.com", "GenerateDataKey", true),
    ("lambda.amazonaws.com", "Invoke", false),
    ("logs.amazonaws.com", "PutLogEvents", false),
    ("signin.amazonaws.com", "ConsoleLogin", false),
    ("cloudtrail.amazonaws.com", "LookupEvents", true),
];

const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.2",
    "aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122",
    "ec2.amazonaws.com",
    "lambda.amazonaws.com",
];

fn event(rng: &mut Rng, i: u32, t: i64, account: &str, region: &str) -> Event {
    let (source, name, read_only) = CALLS[rng.below(CALLS.len())];
    let role = rng.pick(&["Admin", "Deploy", "ReadOnly", "LambdaExec", "Ops", "CI"]);
    let user = rng.pick(&["alice", "bob", "carol", "dave", "i-0abc123", "svc"]);
    let failed = rng.below(20) == 0;
    let params_len = 40 + rng.below(600);
    let request_parameters = format!(
        r#"{{"bucketName":"data-{}","key":"prefix/{}/{}","pad":"{}"}}"#,
        rng.below(50),
        rng.hex(8),
        rng.hex(12),
        "x".repeat(params_len)
    );
    let ip = if rng.below(10) == 0 {
        format!("2001:db8::{:x}:{:x}", rng.below(65536), rng.below(65536))
    } else {
        format!("198.51.{}.{}", rng.below(4), rng.below(256))
    };
    Event {
        event_time: t,
        event_version: Some("1.09".into()),
        event_source: source.into(),
        event_name: name.into(),
        aws_region: Some(region.into()),
        source_ip: ip.parse().ok(),
        source_ip_address: Some(ip),
        user_agent: Some(rng.pick(AGENTS).into()),
        error_code: failed.then(|| "AccessDenied".to_string()),
        error_message: failed.then(|| {
            format!("User: arn:aws:sts::{account}:assumed-role/{role}/{user} is not authorized")
        }),
        request_id: Some(rng.hex(32)),
        event_id: Some(format!(
            "{}-{}-4{}-8{}-{}",
            rng.hex(8),
            rng.hex(4),
            rng.hex(3),
            rng.hex(3),
            rng.hex(12)
        )),
        event_type: Some("AwsApiCall".into()),
        event_category: Some("Management".into()),
        api_version: None,
        read_only: Some(read_only),
        management_event: Some(true),
        recipient_account_id: Some(account.into()),
        shared_event_id: None,
        vpc_endpoint_id: None,
        session_credential_from_console: None,
        identity: Identity {
            kind: IdentityType::AssumedRole,
            principal_id: Some(format!("AROA{}:{user}", rng.hex(4).to_uppercase())),
            arn: Some(format!(
                "arn:aws:sts::{account}:assumed-role/{role}/{user}"
            )),
            account_id: Some(account.into()),
            access_key_id: Some(format!("ASIA{}", rng.hex(16).to_uppercase())),
            user_name: None,
            invoked_by: None,
            session_issuer_type: Some("Role".into()),
            session_issuer_arn: Some(format!("arn:aws:iam::{account}:role/{role}")),
            session_issuer_user_name: Some(role.into()),
            session_issuer_account_id: Some(account.into()),
            mfa_authenticated: Some(false),
            session_creation_time: Some(t - 600_000_000),
            source_identity: None,
            identity_provider: None,
            on_behalf_of_user_id: None,
            identity_store_arn: None,
            principal: Some(format!("arn:aws:iam::{account}:role/{role}")),
        },
        request_parameters: Some(request_parameters),
        response_elements: (!read_only).then(|| format!(r#"{{"x-amz-id":"{}"}}"#, rng.hex(24))),
        additional_event_data: Some(
            r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0}"#
                .into(),
        ),
        resources: Some(format!(
            r#"[{{"accountId":"{account}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::data-{}"}}]"#,
            rng.below(50)
        )),
        service_event_details: None,
        tls_details: Some(
            r#"{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"s3.amazonaws.com"}"#
                .into(),
        ),
        insight_details: None,
        addendum: None,
        edge_device_details: None,
        record_index: i,
    }
}

/// Bytes of field text of an event (the strings the archive stores).
fn text_bytes(e: &Event) -> usize {
    let i = &e.identity;
    let opt = [
        &e.event_version,
        &e.aws_region,
        &e.source_ip_address,
        &e.user_agent,
        &e.error_code,
        &e.error_message,
        &e.request_id,
        &e.event_id,
        &e.event_type,
        &e.event_category,
        &e.api_version,
        &e.recipient_account_id,
        &e.shared_event_id,
        &e.vpc_endpoint_id,
        &e.request_parameters,
        &e.response_elements,
        &e.additional_event_data,
        &e.resources,
        &e.service_event_details,
        &e.tls_details,
        &e.insight_details,
        &e.addendum,
        &e.edge_device_details,
        &i.principal_id,
        &i.arn,
        &i.account_id,
        &i.access_key_id,
        &i.user_name,
        &i.invoked_by,
        &i.session_issuer_type,
        &i.session_issuer_arn,
        &i.session_issuer_user_name,
        &i.session_issuer_account_id,
        &i.source_identity,
        &i.identity_provider,
        &i.on_behalf_of_user_id,
        &i.identity_store_arn,
        &i.principal,
    ];
    e.event_source.len()
        + e.event_name.len()
        + opt
            .iter()
            .map(|s| s.as_deref().map_or(0, str::len))
            .sum::<usize>()
}

/// Nanoseconds this thread has run on a CPU (Linux), so numbers stay meaningful on a busy
/// machine; `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| args.get(i).map_or(default, |s| s.parse().unwrap());
    let total = arg(0, 100_000);
    let per_object = arg(1, 1000).max(1);
    let level = args.get(2).map_or(1, |s| s.parse().unwrap());
    let row_group_rows = arg(3, 8192);
    let min_compressed_chunk_bytes =
        arg(4, trailwarden_archive::DEFAULT_MIN_COMPRESSED_CHUNK_BYTES);

    let mut rng = Rng(42);
    let t0 = 1_717_200_000_000_000i64; // 2024-06-01
    let mut objects: Vec<(String, Vec<Event>)> = Vec::new();
    let mut n = 0;
    while n < total {
        let k = per_object.min(total - n);
        let account = ["111122223333", "444455556666"][objects.len() % 2];
        let region = ["us-east-1", "eu-west-1", "ap-southeast-2"][objects.len() % 3];
        let base = t0 + objects.len() as i64 * 300_000_000;
        let events = (0..k)
            .map(|i| event(&mut rng, i as u32, base + i as i64 * 1_000, account, region))
            .collect();
        objects.push((
            format!(
                "AWSLogs/{account}/CloudTrail/{region}/2024/06/01/{account}_CloudTrail_{region}_{}.json.gz",
                objects.len()
            ),
            events,
        ));
        n += k;
    }

    let text: usize = objects.iter().flat_map(|(_, es)| es).map(text_bytes).sum();
    println!("average field text: {} bytes/event", text / total.max(1));

    let opts = ArchiveOptions {
        row_group_rows,
        zstd_level: level,
        min_compressed_chunk_bytes,
    };
    let mut enc = Encoder::new(&opts).unwrap();
    // Warm-up on the first object.
    enc.encode_object(&objects[0].0, &objects[0].1).unwrap();

    let mut best_wall = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut bytes = 0usize;
    for _ in 0..3 {
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        bytes = 0;
        for (key, events) in &objects {
            for f in enc.encode_object(key, events).unwrap() {
                bytes += f.bytes.len();
            }
        }
        best_wall = best_wall.min(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
            best_cpu = best_cpu.min((b - a) as f64 / 1e9);
        }
    }
    println!(
        "{total} events, {} objects of {per_object}, zstd {level}, row groups {row_group_rows}, min zstd chunk {min_compressed_chunk_bytes}: \
         {:.0} events/s on-CPU ({:.0} wall), {:.1} bytes/event, {:.1} MiB",
        objects.len(),
        total as f64 / best_cpu,
        total as f64 / best_wall,
        bytes as f64 / total as f64,
        bytes as f64 / (1 << 20) as f64
    );

    if let Some(out) = std::env::var_os("TW_ARCHIVE_OUT") {
        let archive = LocalArchive::new(out);
        let mut files = 0;
        for (key, events) in &objects {
            for f in enc.encode_object(key, events).unwrap() {
                archive.write(&f).unwrap();
                files += 1;
            }
        }
        println!("wrote {files} files below {}", archive.root().display());
    }
}
