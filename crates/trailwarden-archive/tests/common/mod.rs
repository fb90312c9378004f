//! Test helpers: sample events and a Parquet → `Event` decoder.

#![allow(dead_code, clippy::unwrap_used)]

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt32Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use trailwarden_parse::{Event, Identity, IdentityType};

pub const DAY: i64 = 86_400_000_000;
/// 2024-01-02T03:04:05.678901Z
pub const T0: i64 = 1_704_164_645_678_901;

/// One decoded row: the event plus the file-level column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub event: Event,
    pub source_object: String,
}

/// What the archive can give back for `e`: `source_ip` is not stored (it is derived from
/// `source_ip_address`), so the decoder re-derives it the same way.
pub fn expected(e: &Event) -> Event {
    let mut e = e.clone();
    e.source_ip = e.source_ip_address.as_deref().and_then(|s| s.parse().ok());
    e
}

/// Reads a Parquet file back into rows.
pub fn decode(bytes: &[u8]) -> Vec<Row> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.to_vec()))
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        rows.extend(decode_batch(&batch.unwrap()));
    }
    rows
}

fn decode_batch(b: &RecordBatch) -> Vec<Row> {
    let s = |name: &str, i: usize| -> Option<String> {
        let a = b.column_by_name(name).unwrap().as_string::<i32>();
        a.is_valid(i).then(|| a.value(i).to_string())
    };
    let bo = |name: &str, i: usize| -> Option<bool> {
        let a = b.column_by_name(name).unwrap().as_boolean();
        a.is_valid(i).then(|| a.value(i))
    };
    let ts = |name: &str, i: usize| -> Option<i64> {
        let a = b
            .column_by_name(name)
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        a.is_valid(i).then(|| a.value(i))
    };
    (0..b.num_rows())
        .map(|i| {
            let source_ip_address = s("source_ip_address", i);
            let event = Event {
                event_time: ts("event_time", i).unwrap(),
                event_version: s("event_version", i),
                event_source: s("event_source", i).unwrap_or_default(),
                event_name: s("event_name", i).unwrap_or_default(),
                aws_region: s("aws_region", i),
                source_ip: source_ip_address.as_deref().and_then(|s| s.parse().ok()),
                source_ip_address,
                user_agent: s("user_agent", i),
                error_code: s("error_code", i),
                error_message: s("error_message", i),
                request_id: s("request_id", i),
                event_id: s("event_id", i),
                event_type: s("event_type", i),
                event_category: s("event_category", i),
                api_version: s("api_version", i),
                read_only: bo("read_only", i),
                management_event: bo("management_event", i),
                recipient_account_id: s("recipient_account_id", i),
                shared_event_id: s("shared_event_id", i),
                vpc_endpoint_id: s("vpc_endpoint_id", i),
                session_credential_from_console: bo("session_credential_from_console", i),
                identity: Identity {
                    kind: match s("principal_type", i).unwrap().as_str() {
                        "Missing" => IdentityType::Missing,
                        other => IdentityType::from_cloudtrail(other),
                    },
                    principal_id: s("principal_id", i),
                    arn: s("user_arn", i),
                    account_id: s("identity_account_id", i),
                    access_key_id: s("access_key_id", i),
                    user_name: s("user_name", i),
                    invoked_by: s("invoked_by", i),
                    session_issuer_type: s("session_issuer_type", i),
                    session_issuer_arn: s("session_issuer_arn", i),
                    session_issuer_user_name: s("session_issuer_user_name", i),
                    session_issuer_account_id: s("session_issuer_account_id", i),
                    mfa_authenticated: bo("mfa_authenticated", i),
                    session_creation_time: ts("session_creation_time", i),
                    source_identity: s("source_identity", i),
                    identity_provider: s("identity_provider", i),
                    on_behalf_of_user_id: s("on_behalf_of_user_id", i),
                    identity_store_arn: s("identity_store_arn", i),
                    principal: s("principal", i),
                },
                request_parameters: s("request_parameters", i),
                response_elements: s("response_elements", i),
                additional_event_data: s("additional_event_data", i),
                resources: s("resources", i),
                service_event_details: s("service_event_details", i),
                tls_details: s("tls_details", i),
                insight_details: s("insight_details", i),
                addendum: s("addendum", i),
                edge_device_details: s("edge_device_details", i),
                record_index: b
                    .column_by_name("record_index")
                    .unwrap()
                    .as_primitive::<UInt32Type>()
                    .value(i),
            };
            Row {
                event,
                source_object: s("source_object", i).unwrap(),
            }
        })
        .collect()
}

/// A fully populated, realistic AssumedRole event.
pub fn full_event(i: u32) -> Event {
    Event {
        event_time: T0 + i64::from(i) * 1_000,
        event_version: Some("1.08".into()),
        event_source: "s3.amazonaws.com".into(),
        event_name: "PutBucketPolicy".into(),
        aws_region: Some("us-east-1".into()),
        source_ip_address: Some("2001:db8::ff00:42:8329".into()),
        source_ip: "2001:db8::ff00:42:8329".parse().ok(),
        user_agent: Some("[aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64]".into()),
        error_code: Some("AccessDenied".into()),
        error_message: Some("Zugriff verweigert — ключ 🔑".into()),
        request_id: Some(format!("REQ{i:013}")),
        event_id: Some(format!("0b1c2d3e-0000-4000-8000-{i:012}")),
        event_type: Some("AwsApiCall".into()),
        event_category: Some("Management".into()),
        api_version: Some("2006-03-01".into()),
        read_only: Some(false),
        management_event: Some(true),
        recipient_account_id: Some("012345678901".into()),
        shared_event_id: Some("5f2c".into()),
        vpc_endpoint_id: Some("vpce-0abc".into()),
        session_credential_from_console: Some(true),
        identity: Identity {
            kind: IdentityType::AssumedRole,
            principal_id: Some("AROAEXAMPLE:alice".into()),
            arn: Some("arn:aws:sts::012345678901:assumed-role/Admin/alice".into()),
            account_id: Some("012345678901".into()),
            access_key_id: Some("ASIAEXAMPLE".into()),
            user_name: None,
            invoked_by: Some("cloudformation.amazonaws.com".into()),
            session_issuer_type: Some("Role".into()),
            session_issuer_arn: Some("arn:aws:iam::012345678901:role/Admin".into()),
            session_issuer_user_name: Some("Admin".into()),
            session_issuer_account_id: Some("012345678901".into()),
            mfa_authenticated: Some(true),
            session_creation_time: Some(T0 - 3_600_000_000),
            source_identity: Some("alice@example.com".into()),
            identity_provider: Some("accounts.google.com".into()),
            on_behalf_of_user_id: Some("u-123".into()),
            identity_store_arn: Some(
                "arn:aws:identitystore::012345678901:identitystore/d-1".into(),
            ),
            principal: Some("arn:aws:iam::012345678901:role/Admin".into()),
        },
        request_parameters: Some(format!(
            r#"{{"bucketName":"b{i}","bucketPolicy":{{"Statement":[{{"Effect":"Allow","Principal":"*"}}]}}}}"#
        )),
        response_elements: Some("null-ish but text: \"\\u00e9\"".into()),
        additional_event_data: Some(r#"{"SignatureVersion":"SigV4"}"#.into()),
        resources: Some(r#"[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}]"#.into()),
        service_event_details: Some("{}".into()),
        tls_details: Some(r#"{"tlsVersion":"TLSv1.3"}"#.into()),
        insight_details: Some("[]".into()),
        addendum: Some(r#"{"reason":"DELIVERY_DELAY"}"#.into()),
        edge_device_details: Some(r#"{"type":"snow"}"#.into()),
        record_index: i,
    }
}

/// A minimal event: only the always-present fields.
pub fn sparse_event(i: u32) -> Event {
    Event {
        event_time: T0 + i64::from(i),
        record_index: i,
        ..Event::default()
    }
}
