//! Object- and record-level parsing: every identity shape, every bad input, and the shapes
//! from the CloudTrail User Guide (when `../shared/data` is present).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use proptest::prelude::*;
use trailwarden_parse::{
    parse_object, parse_object_with, parse_record, BadRecordReason, IdentityType, Limits,
    ObjectKind, ObjectProblemKind, RecordParser,
};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn rec(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE{i}","arn":"arn:aws:iam::111122223333:user/u{i}","accountId":"111122223333","userName":"u{i}"}},"eventTime":"2024-03-01T00:00:{:02}Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{i}","userAgent":"aws-cli/2","requestParameters":{{"maxItems": 10}},"responseElements":null,"eventID":"e-{i}","readOnly":true,"recipientAccountId":"111122223333"}}"#,
        i % 60
    )
}

fn trail(n: usize) -> String {
    let recs: Vec<String> = (0..n).map(rec).collect();
    format!("{{\"Records\":[{}]}}", recs.join(","))
}

#[test]
fn good_object_plain_and_gzip() {
    let text = trail(50);
    for bytes in [text.clone().into_bytes(), gz(text.as_bytes())] {
        let p = parse_object(&bytes, &Limits::default());
        assert_eq!(p.kind, ObjectKind::Trail);
        assert!(p.problem.is_none(), "{:?}", p.problem);
        assert!(p.bad_records.is_empty());
        assert_eq!(p.events.len(), 50);
        let e = &p.events[7];
        assert_eq!(e.record_index, 7);
        assert_eq!(e.event_name, "ListUsers");
        assert_eq!(
            e.identity.principal.as_deref(),
            Some("111122223333:user/u7")
        );
        assert_eq!(e.request_parameters.as_deref(), Some(r#"{"maxItems": 10}"#));
        assert_eq!(e.response_elements, None);
        assert_eq!(e.read_only, Some(true));
        assert_eq!(
            e.source_ip.map(|ip| ip.to_string()).as_deref(),
            Some("198.51.100.7")
        );
    }
}

#[test]
fn truncated_gzip_keeps_complete_records() {
    let z = gz(trail(400).as_bytes());
    let p = parse_object(&z[..z.len() * 2 / 3], &Limits::default());
    let problem = p.problem.expect("a problem");
    assert_eq!(problem.kind, ObjectProblemKind::TruncatedGzip);
    assert!(
        p.events.len() > 100 && p.events.len() < 400,
        "{}",
        p.events.len()
    );
    // the salvaged records are the leading ones, intact
    for (i, e) in p.events.iter().enumerate() {
        assert_eq!(e.event_id.as_deref(), Some(format!("e-{i}").as_str()));
    }
}

#[test]
fn corrupt_gzip_is_reported() {
    let mut z = gz(trail(200).as_bytes());
    let mid = z.len() / 2;
    for b in &mut z[mid..mid + 64] {
        *b = !*b;
    }
    let p = parse_object(&z, &Limits::default());
    let kind = p.problem.expect("a problem").kind;
    assert!(
        matches!(
            kind,
            ObjectProblemKind::CorruptGzip | ObjectProblemKind::TruncatedGzip
        ),
        "{kind:?}"
    );
    assert!(p.events.len() < 200);
}

#[test]
fn gzip_bomb_is_rejected() {
    let z = gz(&vec![b' '; 8 << 20]);
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    let p = parse_object(&z, &limits);
    assert_eq!(p.problem.map(|p| p.kind), Some(ObjectProblemKind::TooLarge));
    assert!(p.events.is_empty());
}

#[test]
fn gzip_of_non_json_and_json_without_records() {
    let p = parse_object(&gz(b"hello, this is not json"), &Limits::default());
    assert_eq!(p.problem.map(|p| p.kind), Some(ObjectProblemKind::NotJson));
    let p = parse_object(br#"{"foo": [1, 2]}"#, &Limits::default());
    assert_eq!(
        p.problem.map(|p| p.kind),
        Some(ObjectProblemKind::NoRecords)
    );
    let p = parse_object(b"[]", &Limits::default());
    assert_eq!(p.problem.map(|p| p.kind), Some(ObjectProblemKind::NotJson));
}

#[test]
fn bad_records_are_reported_and_neighbours_kept() {
    let big = format!(
        r#"{{"eventTime":"2024-03-01T00:00:00Z","eventName":"Big","requestParameters":{{"x":"{}"}}}}"#,
        "a".repeat(300 * 1024)
    );
    let recs = [
        rec(0),
        r#"{"eventName":"NoTime"}"#.to_string(),
        r#"{"eventTime":"2024-03-01T00:00:00Z","userIdentity":"root"}"#.to_string(),
        rec(3),
        big,
        r#"{"eventTime":"not a time"}"#.to_string(),
        r#""just a string""#.to_string(),
        r#"{"eventTime":"2024-03-01T00:00:00Z","eventName":"\uZZZZ"}"#.to_string(),
        rec(8),
    ];
    let text = format!("{{\"Records\":[{}]}}", recs.join(","));
    let p = parse_object(text.as_bytes(), &Limits::default());
    assert!(p.problem.is_none(), "{:?}", p.problem);
    let good: Vec<u32> = p.events.iter().map(|e| e.record_index).collect();
    assert_eq!(good, vec![0, 3, 8]);
    let bad: Vec<(u32, BadRecordReason)> =
        p.bad_records.iter().map(|b| (b.index, b.reason)).collect();
    assert_eq!(
        bad,
        vec![
            (1, BadRecordReason::MissingEventTime),
            (2, BadRecordReason::BadUserIdentity),
            (4, BadRecordReason::TooLarge),
            (5, BadRecordReason::InvalidEventTime),
            (6, BadRecordReason::NotAnObject),
            (7, BadRecordReason::InvalidJson),
        ]
    );
}

#[test]
fn digest_files_are_recognised() {
    let d = br#"{"awsAccountId":"111122223333","digestStartTime":"2024-03-01T00:00:00Z","digestEndTime":"2024-03-01T01:00:00Z","digestS3Bucket":"b","digestS3Object":"o","logFiles":[]}"#;
    let p = parse_object(&gz(d), &Limits::default());
    assert_eq!(p.kind, ObjectKind::Digest);
    assert!(p.problem.is_none() && p.events.is_empty());
}

#[test]
fn source_ip_forms() {
    for (text, ip) in [
        ("203.0.113.9", Some("203.0.113.9")),
        ("2001:db8::1", Some("2001:db8::1")),
        ("ec2.amazonaws.com", None),
        ("AWS Internal", None),
        ("999.1.1.1", None),
    ] {
        let r = format!(r#"{{"eventTime":"2024-03-01T00:00:00Z","sourceIPAddress":"{text}"}}"#);
        let e = parse_record(r.as_bytes()).unwrap();
        assert_eq!(e.source_ip_address.as_deref(), Some(text));
        assert_eq!(e.source_ip.map(|i| i.to_string()).as_deref(), ip);
    }
}

#[test]
fn booleans_as_text_and_numbers_as_text() {
    let e = parse_record(
        br#"{"eventTime":"2024-03-01T00:00:00Z","readOnly":"false","managementEvent":"TRUE","recipientAccountId":123456,"requestParameters":"a string"}"#,
    )
    .unwrap();
    assert_eq!(e.read_only, Some(false));
    assert_eq!(e.management_event, Some(true));
    assert_eq!(e.recipient_account_id.as_deref(), Some("123456"));
    assert_eq!(e.request_parameters.as_deref(), Some(r#""a string""#));
}

/// One record per `userIdentity.type`, shaped as CloudTrail writes them, with the expected key.
#[test]
fn every_identity_type_has_a_principal_key() {
    let cases: &[(&str, IdentityType, Option<&str>)] = &[
        (
            r#"{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":""}"#,
            IdentityType::Root,
            Some("111122223333:root"),
        ),
        (
            r#"{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/Alice","accountId":"111122223333","userName":"Alice"}"#,
            IdentityType::IamUser,
            Some("111122223333:user/Alice"),
        ),
        (
            r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:i-0abc","arn":"arn:aws:sts::111122223333:assumed-role/web/i-0abc","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/web","accountId":"111122223333","userName":"web"},"attributes":{"creationDate":"2024-03-01T00:00:00Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}}"#,
            IdentityType::AssumedRole,
            Some("111122223333:role/web"),
        ),
        (
            r#"{"type":"AssumedRole","principalId":"AROAEXAMPLE:carol","arn":"arn:aws:sts::111122223333:assumed-role/admin/carol","accountId":"111122223333","sessionContext":{"sourceIdentity":"carol@example.com","sessionIssuer":{"type":"Role","userName":"admin"},"attributes":{"mfaAuthenticated":"true"}}}"#,
            IdentityType::AssumedRole,
            Some("111122223333:role/admin/carol@example.com"),
        ),
        (
            r#"{"type":"FederatedUser","principalId":"111122223333:bob","arn":"arn:aws:sts::111122223333:federated-user/bob","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"IAMUser","userName":"fed-broker"}}}"#,
            IdentityType::FederatedUser,
            Some("111122223333:federated-user/bob"),
        ),
        (
            r#"{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}"#,
            IdentityType::AwsService,
            Some("service:cloudtrail.amazonaws.com"),
        ),
        (
            r#"{"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"444455556666"}"#,
            IdentityType::AwsAccount,
            Some("account:444455556666"),
        ),
        (
            r#"{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"906723c7-1234","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1234"},"credentialId":"x"}"#,
            IdentityType::IdentityCenterUser,
            Some("identity-center:906723c7-1234"),
        ),
        (
            r#"{"type":"SAMLUser","principalId":"SAMPLE:alice","userName":"alice","identityProvider":"Okta"}"#,
            IdentityType::SamlUser,
            Some("saml:Okta/alice"),
        ),
        (
            r#"{"type":"WebIdentityUser","principalId":"accounts.google.com:app:1234","userName":"1234","identityProvider":"accounts.google.com"}"#,
            IdentityType::WebIdentityUser,
            Some("web-identity:accounts.google.com/1234"),
        ),
        (
            r#"{"type":"Unknown","principalId":"","accountId":"111122223333","userName":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#,
            IdentityType::Unknown,
            Some("unknown:111122223333/HIDDEN_DUE_TO_SECURITY_REASONS"),
        ),
    ];
    for (uid, kind, key) in cases {
        let r = format!(r#"{{"eventTime":"2024-03-01T00:00:00Z","userIdentity":{uid}}}"#);
        let e = parse_record(r.as_bytes()).unwrap_or_else(|b| panic!("{uid}: {b}"));
        assert_eq!(&e.identity.kind, kind, "{uid}");
        assert_eq!(e.identity.principal.as_deref(), *key, "{uid}");
    }
    let e = parse_record(br#"{"eventTime":"2024-03-01T00:00:00Z"}"#).unwrap();
    assert_eq!(e.identity.kind, IdentityType::Missing);
    assert_eq!(e.identity.principal, None);
}

/// The CloudTrail User Guide's examples: every record parses (when the shared data exists).
#[test]
fn user_guide_shapes_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/cloudtrail-shapes");
    let Ok(lines) = std::fs::read_to_string(dir.join("awsdocs_examples.jsonl")) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have ../shared/data"
        );
        eprintln!("skipped: {} is absent", dir.display());
        return;
    };
    let (mut records, mut digests) = (0, 0);
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = serde_json::to_vec(&v["obj"]).unwrap();
        match v["kind"].as_str() {
            Some("records_file") => {
                let p = parse_object(&obj, &Limits::default());
                assert!(
                    p.problem.is_none() && p.bad_records.is_empty(),
                    "{line}: {:?} {:?}",
                    p.problem,
                    p.bad_records
                );
                records += p.events.len();
            }
            Some("event") if v["obj"].get("eventTime").is_some() => {
                parse_record(&obj).unwrap_or_else(|b| panic!("{line}: {b}"));
                records += 1;
            }
            Some("digest_file") => {
                assert_eq!(
                    parse_object(&obj, &Limits::default()).kind,
                    ObjectKind::Digest
                );
                digests += 1;
            }
            _ => {}
        }
    }
    for f in [
        "example-cloudwatch-cloudtrail-assumed-role.json",
        "example-cloudwatch-cloudtrail-unknown-federate.json",
        "example-cloudwatch-cloudtrail-unknown-user-auth.json",
    ] {
        let e = parse_record(&std::fs::read(dir.join(f)).unwrap())
            .unwrap_or_else(|b| panic!("{f}: {b}"));
        assert!(e.identity.principal.is_some(), "{f}");
    }
    assert!(
        records > 10 && digests >= 1,
        "{records} records, {digests} digests"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The parser never panics, whatever the bytes.
    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_object(&bytes, &Limits::default());
        let _ = parse_record(&bytes);
    }

    /// Nor on mangled real objects: truncations and byte flips of a good trail, plain and gzip.
    #[test]
    fn never_panics_on_mangled_trails(cut in 0usize..6000, flips in proptest::collection::vec((0usize..6000, any::<u8>()), 0..8), zip in any::<bool>()) {
        let mut b = trail(8).into_bytes();
        if zip { b = gz(&b); }
        for (at, v) in flips { let n = b.len(); b[at % n] = v; }
        b.truncate(cut.min(b.len()));
        let p = parse_object(&b, &Limits::default());
        prop_assert!(p.events.len() <= 8);
    }
}

/// The fast path (simd-json over runs of records, ~256 KiB each) and the record-by-record
/// path give the same events, across many runs; a broken record in one run costs only itself,
/// and so does one too large for the limits between two runs.
#[test]
fn run_and_per_record_paths_agree() {
    // ~400 bytes a record: 3,000 records make several runs
    let recs: Vec<String> = (0..3000).map(rec).collect();
    let good = format!("{{\"Records\":[{}]}}", recs.join(",\n  "));
    let fast = parse_object(good.as_bytes(), &Limits::default());
    assert!(fast.problem.is_none() && fast.bad_records.is_empty());
    assert_eq!(fast.events.len(), recs.len());
    for (i, text) in recs.iter().enumerate() {
        let mut one = parse_record(text.as_bytes()).unwrap();
        one.record_index = i as u32;
        assert_eq!(one, fast.events[i], "record {i}");
    }
    // an invalid escape (which the pre-scan cannot see) in the middle of the second run, and a
    // record over the size limit, are reported at their indices; every good record is kept
    let broken = r#"{"eventTime":"2024-03-01T00:00:00Z","eventName":"\uZZZZ"}"#.to_string();
    let huge = format!(
        r#"{{"eventTime":"2024-03-01T00:00:00Z","requestParameters":{{"x":"{}"}}}}"#,
        "a".repeat(300 * 1024)
    );
    let mut mixed: Vec<String> = recs.clone();
    mixed.insert(900, broken);
    mixed.insert(2000, huge);
    let text = format!("{{\"Records\":[{}]}}", mixed.join(","));
    let slow = parse_object(text.as_bytes(), &Limits::default());
    let bad: Vec<(u32, BadRecordReason)> = slow
        .bad_records
        .iter()
        .map(|b| (b.index, b.reason))
        .collect();
    assert_eq!(
        bad,
        vec![
            (900, BadRecordReason::InvalidJson),
            (2000, BadRecordReason::TooLarge)
        ]
    );
    assert_eq!(slow.events.len(), recs.len());
    for (a, b) in fast.events.iter().zip(&slow.events) {
        let shift = u32::from(a.record_index >= 900) + u32::from(a.record_index >= 1999);
        assert_eq!(b.record_index, a.record_index + shift);
        let mut b = b.clone();
        b.record_index = a.record_index;
        assert_eq!(*a, b);
    }
}

#[test]
fn a_recycled_event_list_is_reused_and_leaves_nothing_behind() {
    let limits = Limits::default();
    let mut parser = RecordParser::new();
    let big = parse_object_with(&mut parser, &gz(trail(300).as_bytes()), &limits);
    assert_eq!(big.events.len(), 300);
    let (ptr, cap) = (big.events.as_ptr(), big.events.capacity());
    parser.recycle_events(big.events);
    // the next object's events go into the same allocation, and only its own are there
    let small_text = trail(20);
    let small = parse_object_with(&mut parser, &gz(small_text.as_bytes()), &limits);
    assert_eq!(small.events.as_ptr(), ptr);
    assert_eq!(small.events.capacity(), cap);
    let fresh = parse_object(small_text.as_bytes(), &limits);
    assert_eq!(small.events, fresh.events);
    // a list given back is used once
    let again = parse_object_with(&mut parser, &gz(small_text.as_bytes()), &limits);
    assert_ne!(again.events.as_ptr(), ptr);
    assert_eq!(again.events, fresh.events);
}
