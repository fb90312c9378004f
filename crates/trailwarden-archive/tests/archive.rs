//! Encoding round-trips, partitioning, determinism, sanitising and local writes.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{decode, expected, full_event, sparse_event, DAY, T0};
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};
use proptest::prelude::*;
use trailwarden_archive::{
    encode_object, schema, ArchiveOptions, EncodedFile, Encoder, LocalArchive, Partition,
    ARCHIVE_SCHEMA_MINOR, ARCHIVE_SCHEMA_VERSION, CREATED_BY, SCHEMA_MINOR_KEY, SCHEMA_VERSION_KEY,
};
use trailwarden_parse::{Event, IdentityType};

const OBJECT: &str = "AWSLogs/012345678901/CloudTrail/us-east-1/2024/01/02/\
                      012345678901_CloudTrail_us-east-1_20240102T0305Z_abcdef.json.gz";

fn opts(row_group_rows: usize) -> ArchiveOptions {
    ArchiveOptions {
        row_group_rows,
        ..ArchiveOptions::default()
    }
}

fn file_reader(f: &EncodedFile) -> SerializedFileReader<bytes::Bytes> {
    SerializedFileReader::new(bytes::Bytes::from(f.bytes.clone())).unwrap()
}

/// Mixed events sharing one partition: full, sparse, unicode, big JSON, IPv4/IPv6/host names.
fn mixed_events() -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..10u32 {
        let mut e = if i % 3 == 1 {
            sparse_event(i)
        } else {
            full_event(i)
        };
        // Same partition for all.
        e.recipient_account_id = Some("012345678901".into());
        e.aws_region = Some("us-east-1".into());
        match i {
            2 => {
                e.source_ip_address = Some("203.0.113.7".into());
                e.source_ip = "203.0.113.7".parse().ok();
            }
            3 => {
                e.source_ip_address = Some("cloudtrail.amazonaws.com".into());
                e.identity.kind = IdentityType::Other("SomethingNew".into());
            }
            5 => {
                // ~1 MiB of raw JSON with escapes and non-ASCII.
                let item = r#"{"k":"välue \"quoted\" \\ 日本語 🚀","n":[1,2.5e10,null,true]}"#;
                let big = format!("[{}]", vec![item; 16_000].join(","));
                assert!(big.len() > 1 << 20);
                e.request_parameters = Some(big);
                e.identity.kind = IdentityType::Root;
                e.event_name = "ConsoleLogin — ✓".into();
            }
            6 => {
                e.event_source = String::new();
                e.event_name = String::new();
                e.user_agent = Some(String::new());
                e.read_only = None;
                e.identity.mfa_authenticated = Some(false);
                e.identity.session_creation_time = Some(-1);
            }
            _ => {}
        }
        events.push(e);
    }
    events
}

#[test]
fn schema_roundtrip_all_columns() {
    let events = mixed_events();
    let files = encode_object(OBJECT, &events, &opts(4)).unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f.rows, events.len() as u64);

    let rows = decode(&f.bytes);
    assert_eq!(rows.len(), events.len());
    for (row, e) in rows.iter().zip(&events) {
        assert_eq!(row.event, expected(e), "record {}", e.record_index);
        assert_eq!(row.source_object, OBJECT);
    }

    // Arrow schema stored in the file is exactly ours, including its metadata.
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(f.bytes.clone()),
    )
    .unwrap();
    assert_eq!(builder.schema().as_ref(), schema().as_ref());

    // File metadata: version key, fixed created_by, row groups of 4.
    let reader = file_reader(f);
    let md = reader.metadata();
    let kv = md.file_metadata().key_value_metadata().unwrap();
    let version = kv.iter().find(|kv| kv.key == SCHEMA_VERSION_KEY).unwrap();
    assert_eq!(
        version.value.as_deref(),
        Some(ARCHIVE_SCHEMA_VERSION.to_string().as_str())
    );
    let minor = kv.iter().find(|kv| kv.key == SCHEMA_MINOR_KEY).unwrap();
    assert_eq!(
        minor.value.as_deref(),
        Some(ARCHIVE_SCHEMA_MINOR.to_string().as_str())
    );
    assert!(kv.iter().any(|kv| kv.key == "ARROW:schema"));
    assert_eq!(md.file_metadata().created_by(), Some(CREATED_BY));
    let sizes: Vec<i64> = md.row_groups().iter().map(|rg| rg.num_rows()).collect();
    assert_eq!(sizes, [4, 4, 2]);
    for rg in md.row_groups() {
        assert_eq!(rg.num_columns(), schema().fields().len());
    }
}

/// Compression per column chunk: zstd when the column holds enough data in the file.
fn compression_by_column(f: &EncodedFile) -> BTreeMap<String, Compression> {
    let reader = file_reader(f);
    let md = reader.metadata();
    assert_eq!(md.num_row_groups(), 1);
    md.row_group(0)
        .columns()
        .iter()
        .map(|c| (c.column_path().string(), c.compression()))
        .collect()
}

#[test]
fn zstd_for_columns_worth_compressing() {
    let events = mixed_events();
    let all = ArchiveOptions {
        min_compressed_chunk_bytes: 0,
        ..ArchiveOptions::default()
    };
    let files = encode_object(OBJECT, &events, &all).unwrap();
    let by_col = compression_by_column(&files[0]);
    assert_eq!(by_col.len(), schema().fields().len());
    for (col, c) in &by_col {
        assert!(matches!(c, Compression::ZSTD(_)), "{col}: {c:?}");
    }

    let files = encode_object(OBJECT, &events, &ArchiveOptions::default()).unwrap();
    let by_col = compression_by_column(&files[0]);
    // ~1 MiB of JSON: compressed. Ten booleans, ten short version strings: not worth it.
    assert!(matches!(by_col["request_parameters"], Compression::ZSTD(_)));
    assert_eq!(by_col["read_only"], Compression::UNCOMPRESSED);
    assert_eq!(by_col["event_version"], Compression::UNCOMPRESSED);
    // Either way the data reads back the same.
    let rows = decode(&files[0].bytes);
    assert_eq!(rows.len(), events.len());
    for (row, e) in rows.iter().zip(&events) {
        assert_eq!(row.event, expected(e));
    }
}

#[test]
fn empty_event_source_and_name_are_null() {
    use arrow_array::Array;
    let events = [sparse_event(0)];
    let files = encode_object("o", &events, &ArchiveOptions::default()).unwrap();
    let mut reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(files[0].bytes.clone()),
    )
    .unwrap()
    .build()
    .unwrap();
    let batch = reader.next().unwrap().unwrap();
    for name in [
        "event_source",
        "event_name",
        "principal",
        "request_parameters",
    ] {
        assert!(batch.column_by_name(name).unwrap().is_null(0), "{name}");
    }
    use arrow_array::cast::AsArray;
    assert_eq!(
        batch
            .column_by_name("principal_type")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "Missing"
    );
}

#[test]
fn partitioning_two_accounts_two_days() {
    let mut events = Vec::new();
    for i in 0..12u32 {
        let mut e = full_event(i);
        e.record_index = i;
        e.recipient_account_id = Some(
            if i % 2 == 0 {
                "111111111111"
            } else {
                "222222222222"
            }
            .into(),
        );
        e.event_time = T0 + if i % 3 == 0 { DAY } else { 0 } + i64::from(i);
        events.push(e);
    }
    let files = encode_object(OBJECT, &events, &ArchiveOptions::default()).unwrap();
    let name = trailwarden_archive::file_name(OBJECT);
    let paths: Vec<&str> = files.iter().map(|f| f.rel_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("account=111111111111/region=us-east-1/date=2024-01-02/{name}"),
            format!("account=111111111111/region=us-east-1/date=2024-01-03/{name}"),
            format!("account=222222222222/region=us-east-1/date=2024-01-02/{name}"),
            format!("account=222222222222/region=us-east-1/date=2024-01-03/{name}"),
        ]
    );
    let mut total = 0;
    for f in &files {
        let rows = decode(&f.bytes);
        assert_eq!(rows.len() as u64, f.rows);
        total += rows.len();
        let idx: Vec<u32> = rows.iter().map(|r| r.event.record_index).collect();
        assert!(
            idx.windows(2).all(|w| w[0] < w[1]),
            "input order kept: {idx:?}"
        );
        for r in &rows {
            let dir = Partition::of(&r.event).dir();
            assert!(f.rel_path.starts_with(&format!("{dir}/")));
            assert_eq!(r.event, expected(&events[r.event.record_index as usize]));
        }
    }
    assert_eq!(total, events.len());
}

#[test]
fn account_falls_back_to_identity_and_unknown() {
    let mut a = sparse_event(0);
    a.identity.account_id = Some("333333333333".into());
    a.aws_region = Some("eu-west-1".into());
    let b = sparse_event(1);
    let files = encode_object("x.json", &[a, b], &ArchiveOptions::default()).unwrap();
    let dirs: Vec<&str> = files
        .iter()
        .map(|f| f.rel_path.rsplit_once('/').unwrap().0)
        .collect();
    assert_eq!(
        dirs,
        [
            "account=333333333333/region=eu-west-1/date=2024-01-02",
            "account=unknown/region=unknown/date=2024-01-02",
        ]
    );
}

#[test]
fn no_events_no_files() {
    assert!(
        encode_object::<Event>(OBJECT, &[], &ArchiveOptions::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn deterministic_output() {
    let mut events = mixed_events();
    events.extend((10..40).map(|i| {
        let mut e = full_event(i);
        e.event_time += if i % 2 == 0 { DAY } else { 0 };
        e
    }));
    let a = encode_object(OBJECT, &events, &opts(7)).unwrap();
    let b = encode_object(OBJECT, &events, &opts(7)).unwrap();
    assert_eq!(a, b);

    // A reused encoder (builders already used for other objects) gives the same bytes.
    let mut enc = Encoder::new(&opts(7)).unwrap();
    enc.encode_object("other.json.gz", &events[..5]).unwrap();
    assert_eq!(enc.encode_object(OBJECT, &events).unwrap(), a);

    // Another object: same partitions, different names, no collision.
    let c = encode_object(&format!("{OBJECT}.2"), &events, &opts(7)).unwrap();
    assert_eq!(a.len(), c.len());
    for (x, y) in a.iter().zip(&c) {
        assert_ne!(x.rel_path, y.rel_path);
        assert_eq!(
            x.rel_path.rsplit_once('/').unwrap().0,
            y.rel_path.rsplit_once('/').unwrap().0
        );
    }
    // Same object name in another bucket/prefix: different name too.
    let d = encode_object(&format!("s3://bucket/{OBJECT}"), &events, &opts(7)).unwrap();
    assert_ne!(a[0].rel_path, d[0].rel_path);
}

#[test]
fn hostile_partition_values_are_sanitized() {
    let mut e = sparse_event(0);
    e.recipient_account_id = Some("../../etc/passwd".into());
    e.aws_region = Some("us east/1=\u{0}é".into());
    let files = encode_object(
        "../../evil dir/../x y.json",
        &[e],
        &ArchiveOptions::default(),
    )
    .unwrap();
    let path = &files[0].rel_path;
    assert!(
        path.starts_with(
            "account=..%2F..%2Fetc%2Fpasswd/region=us%20east%2F1%3D%00%C3%A9/date=2024-01-02/x_y-"
        ),
        "{path}"
    );
    assert_eq!(path.split('/').count(), 4);
    assert!(path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-%=/".contains(&b)));

    // The local writer keeps it inside the root.
    let tmp = tempfile::tempdir().unwrap();
    let archive = LocalArchive::new(tmp.path());
    let written = archive.write(&files[0]).unwrap();
    assert!(written.starts_with(tmp.path()));
    assert_eq!(
        written
            .strip_prefix(tmp.path())
            .unwrap()
            .components()
            .count(),
        4
    );
}

#[test]
fn local_archive_write_and_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = LocalArchive::new(tmp.path().join("out/archive"));
    let events: Vec<Event> = (0..6).map(full_event).collect();
    let files = encode_object(OBJECT, &events, &ArchiveOptions::default()).unwrap();
    for _ in 0..2 {
        // Second round = a redelivered object: same paths, overwritten, no duplicates.
        for f in &files {
            let p = archive.write(f).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), f.bytes);
        }
    }
    let mut count = 0;
    let mut stack = vec![archive.root().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(p.extension().unwrap(), "parquet", "{}", p.display());
                count += 1;
            }
        }
    }
    assert_eq!(count, files.len());
}

#[test]
fn docs_describe_every_column_in_order() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/archive.md"
    ))
    .unwrap();
    let mut last = 0;
    for f in schema().fields() {
        let row = format!("| `{}` |", f.name());
        let pos = doc.find(&row).unwrap_or_else(|| {
            panic!("docs/archive.md has no table row for column `{}`", f.name())
        });
        assert!(
            pos > last,
            "docs/archive.md lists `{}` out of order",
            f.name()
        );
        last = pos;
    }
}

fn identity_type() -> impl Strategy<Value = IdentityType> {
    prop_oneof![
        Just(IdentityType::Root),
        Just(IdentityType::IamUser),
        Just(IdentityType::AssumedRole),
        Just(IdentityType::AwsService),
        Just(IdentityType::IdentityCenterUser),
        Just(IdentityType::Unknown),
        Just(IdentityType::Missing),
        // Lower-case never collides with a known CloudTrail spelling.
        "[a-z]{0,8}".prop_map(IdentityType::Other),
    ]
}

fn event_strategy() -> impl Strategy<Value = Event> {
    let strings = proptest::collection::vec(proptest::option::of(".{0,24}"), 34);
    let bools = proptest::collection::vec(proptest::option::of(any::<bool>()), 4);
    let partition = (
        proptest::option::of(prop_oneof!["[0-9]{12}", ".{0,6}"]),
        proptest::option::of(prop_oneof![Just("us-east-1".to_string()), ".{0,6}".boxed()]),
        -DAY * 3..DAY * 3,
    );
    (
        strings,
        bools,
        partition,
        (".{0,12}", ".{0,12}", identity_type()),
        (proptest::option::of(any::<i64>()), any::<u32>()),
    )
        .prop_map(
            |(s, b, (account, region, t), (source, name, kind), (ct, idx))| {
                let mut s = s.into_iter();
                let mut n = || s.next().flatten();
                let mut b = b.into_iter();
                let mut nb = || b.next().flatten();
                let mut e = Event {
                    event_time: T0 + t,
                    event_source: source,
                    event_name: name,
                    recipient_account_id: account,
                    aws_region: region,
                    record_index: idx,
                    ..Event::default()
                };
                e.event_version = n();
                e.source_ip_address = n();
                e.user_agent = n();
                e.error_code = n();
                e.error_message = n();
                e.request_id = n();
                e.event_id = n();
                e.event_type = n();
                e.event_category = n();
                e.api_version = n();
                e.shared_event_id = n();
                e.vpc_endpoint_id = n();
                e.read_only = nb();
                e.management_event = nb();
                e.session_credential_from_console = nb();
                e.identity.kind = kind;
                e.identity.principal_id = n();
                e.identity.arn = n();
                e.identity.account_id = n();
                e.identity.access_key_id = n();
                e.identity.user_name = n();
                e.identity.invoked_by = n();
                e.identity.session_issuer_type = n();
                e.identity.session_issuer_arn = n();
                e.identity.session_issuer_user_name = n();
                e.identity.session_issuer_account_id = n();
                e.identity.mfa_authenticated = nb();
                e.identity.session_creation_time = ct;
                e.identity.source_identity = n();
                e.identity.identity_provider = n();
                e.identity.on_behalf_of_user_id = n();
                e.identity.identity_store_arn = n();
                e.identity.principal = n();
                e.request_parameters = n();
                e.response_elements = n();
                e.additional_event_data = n();
                e.resources = n();
                e.service_event_details = n();
                e.tls_details = n();
                e.insight_details = n();
                e.addendum = n();
                e.edge_device_details = n();
                e
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_events_round_trip(
        mut events in proptest::collection::vec(event_strategy(), 1..12),
        source_object in ".{0,40}",
        row_group_rows in 1usize..5,
    ) {
        // record_index doubles as the input position, to check order across files.
        for (i, e) in events.iter_mut().enumerate() {
            e.record_index = i as u32;
        }
        let files = encode_object(&source_object, &events, &opts(row_group_rows)).unwrap();
        let mut seen = BTreeMap::new();
        for f in &files {
            let rows = decode(&f.bytes);
            prop_assert_eq!(rows.len() as u64, f.rows);
            let mut last = None;
            for r in rows {
                let i = r.event.record_index;
                prop_assert!(last < Some(i), "order within a file");
                last = Some(i);
                let input = &events[i as usize];
                prop_assert_eq!(&r.event, &expected(input));
                prop_assert_eq!(&r.source_object, &source_object);
                let prefix = format!("{}/", Partition::of(input).dir());
                prop_assert!(f.rel_path.starts_with(&prefix), "partition of {}", i);
                prop_assert!(seen.insert(i, ()).is_none());
            }
        }
        prop_assert_eq!(seen.len(), events.len());
    }
}
