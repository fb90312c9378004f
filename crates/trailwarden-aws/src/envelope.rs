//! S3 object notifications in every envelope they arrive in on SQS.
//!
//! Pure: a message body in, a verdict out; no IO, never panics. The shapes recognised:
//!
//! | shape | looks like | keys |
//! |---|---|---|
//! | S3 event (direct, or SNS raw delivery) | `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{…}}]}` | URL-encoded (`+` is a space) |
//! | SNS-wrapped (non-raw) | `{"Type":"Notification","Message":"<any shape below, as a JSON string>"}` | as the inner shape |
//! | EventBridge | `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":…},"object":{"key":…}}}` | URL-encoded |
//! | CloudTrail's own SNS notification | `{"s3Bucket":"…","s3ObjectKey":["AWSLogs/…", …]}` | plain |
//! | S3 test event | `{"Event":"s3:TestEvent", …}` | — |
//!
//! The test event, S3 records that are not `ObjectCreated:*` and EventBridge events that are not
//! "Object Created" are [`Envelope::Ignore`]d (acknowledged and dropped). Anything else is
//! [`Envelope::Unknown`] with a reason: the worker dead-letters it.

use serde_json::Value;

/// One object a notification points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
}

/// Which envelope a message came in (a metric label, a log field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    S3Event,
    SnsS3Event,
    EventBridge,
    SnsEventBridge,
    CloudTrailSns,
    CloudTrailSnsRaw,
}

impl EnvelopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::S3Event => "s3-event",
            EnvelopeKind::SnsS3Event => "sns-s3-event",
            EnvelopeKind::EventBridge => "eventbridge",
            EnvelopeKind::SnsEventBridge => "sns-eventbridge",
            EnvelopeKind::CloudTrailSns => "cloudtrail-sns",
            EnvelopeKind::CloudTrailSnsRaw => "cloudtrail-sns-raw",
        }
    }
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// Process these objects; delete the message when all are done.
    Objects {
        kind: EnvelopeKind,
        objects: Vec<S3Object>,
    },
    /// Nothing to do (test event, a deletion, another EventBridge event): delete the message.
    Ignore { reason: String },
    /// Not a shape we know: dead-letter it with the reason.
    Unknown { reason: String },
}

fn unknown(reason: impl Into<String>) -> Envelope {
    Envelope::Unknown {
        reason: reason.into(),
    }
}

/// Classifies one SQS message body.
pub fn parse(body: &str) -> Envelope {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return unknown(format!("body is not JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return unknown("body is not a JSON object");
    };
    if obj.get("Type").and_then(Value::as_str).is_some() && obj.contains_key("TopicArn") {
        return parse_sns(&v);
    }
    parse_inner(&v, false)
}

fn parse_sns(v: &Value) -> Envelope {
    let ty = v.get("Type").and_then(Value::as_str).unwrap_or_default();
    if ty != "Notification" {
        return unknown(format!("SNS message of type {ty:?}, not a Notification"));
    }
    let Some(msg) = v.get("Message").and_then(Value::as_str) else {
        return unknown("SNS notification without a string Message");
    };
    let inner: Value = match serde_json::from_str(msg) {
        Ok(i) => i,
        Err(e) => return unknown(format!("SNS Message is not JSON: {e}")),
    };
    if inner.get("Type").is_some() && inner.get("TopicArn").is_some() {
        return unknown("SNS notification nested in an SNS notification");
    }
    parse_inner(&inner, true)
}

fn parse_inner(v: &Value, via_sns: bool) -> Envelope {
    if !v.is_object() {
        return unknown("message is not a JSON object");
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Envelope::Ignore {
            reason: "s3:TestEvent".to_string(),
        };
    }
    if let Some(records) = v.get("Records") {
        let kind = if via_sns {
            EnvelopeKind::SnsS3Event
        } else {
            EnvelopeKind::S3Event
        };
        return parse_s3_records(records, kind);
    }
    if v.get("s3Bucket").is_some() || v.get("s3ObjectKey").is_some() {
        let kind = if via_sns {
            EnvelopeKind::CloudTrailSns
        } else {
            EnvelopeKind::CloudTrailSnsRaw
        };
        return parse_cloudtrail(v, kind);
    }
    if v.get("detail-type").is_some() {
        let kind = if via_sns {
            EnvelopeKind::SnsEventBridge
        } else {
            EnvelopeKind::EventBridge
        };
        return parse_eventbridge(v, kind);
    }
    unknown("no Records, s3Bucket or detail-type: not an S3 notification")
}

fn parse_s3_records(records: &Value, kind: EnvelopeKind) -> Envelope {
    let Some(list) = records.as_array() else {
        return unknown("Records is not an array");
    };
    if list.is_empty() {
        return unknown("Records is empty");
    }
    let mut objects = Vec::new();
    let mut ignored = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let source = r.get("eventSource").and_then(Value::as_str);
        if source != Some("aws:s3") {
            return unknown(format!("record {i}: eventSource {source:?} is not aws:s3"));
        }
        let version = r.get("eventVersion").and_then(Value::as_str).unwrap_or("");
        if !version.starts_with("2.") {
            return unknown(format!("record {i}: eventVersion {version:?} is not 2.x"));
        }
        let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
        if !name.starts_with("ObjectCreated:") {
            ignored.push(name.to_string());
            continue;
        }
        let bucket = r.pointer("/s3/bucket/name").and_then(Value::as_str);
        let key = r.pointer("/s3/object/key").and_then(Value::as_str);
        let (Some(bucket), Some(key)) = (bucket, key) else {
            return unknown(format!("record {i}: no s3.bucket.name or s3.object.key"));
        };
        match object(bucket, key, true) {
            Ok(o) => objects.push(o),
            Err(e) => return unknown(format!("record {i}: {e}")),
        }
    }
    if objects.is_empty() {
        return Envelope::Ignore {
            reason: format!("no ObjectCreated records ({})", ignored.join(", ")),
        };
    }
    Envelope::Objects { kind, objects }
}

fn parse_cloudtrail(v: &Value, kind: EnvelopeKind) -> Envelope {
    let Some(bucket) = v.get("s3Bucket").and_then(Value::as_str) else {
        return unknown("CloudTrail notification without a string s3Bucket");
    };
    let Some(keys) = v.get("s3ObjectKey").and_then(Value::as_array) else {
        return unknown("CloudTrail notification without an s3ObjectKey list");
    };
    if keys.is_empty() {
        return unknown("CloudTrail notification with an empty s3ObjectKey list");
    }
    let mut objects = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let Some(k) = k.as_str() else {
            return unknown(format!("s3ObjectKey[{i}] is not a string"));
        };
        // CloudTrail writes its keys as they are, not URL-encoded
        match object(bucket, k, false) {
            Ok(o) => objects.push(o),
            Err(e) => return unknown(format!("s3ObjectKey[{i}]: {e}")),
        }
    }
    Envelope::Objects { kind, objects }
}

fn parse_eventbridge(v: &Value, kind: EnvelopeKind) -> Envelope {
    let source = v.get("source").and_then(Value::as_str);
    if source != Some("aws.s3") {
        return unknown(format!("EventBridge event from {source:?}, not aws.s3"));
    }
    let dt = v.get("detail-type").and_then(Value::as_str).unwrap_or("");
    if dt != "Object Created" {
        return Envelope::Ignore {
            reason: format!("EventBridge {dt:?}"),
        };
    }
    let bucket = v.pointer("/detail/bucket/name").and_then(Value::as_str);
    let key = v.pointer("/detail/object/key").and_then(Value::as_str);
    let (Some(bucket), Some(key)) = (bucket, key) else {
        return unknown(
            "EventBridge Object Created without detail.bucket.name or detail.object.key",
        );
    };
    match object(bucket, key, true) {
        Ok(o) => Envelope::Objects {
            kind,
            objects: vec![o],
        },
        Err(e) => unknown(e),
    }
}

fn object(bucket: &str, key: &str, encoded: bool) -> Result<S3Object, String> {
    if bucket.is_empty() {
        return Err("empty bucket name".to_string());
    }
    let key = if encoded {
        url_decode(key).ok_or_else(|| format!("key {key:?} is not valid URL encoding"))?
    } else {
        key.to_string()
    };
    if key.is_empty() {
        return Err("empty object key".to_string());
    }
    Ok(S3Object {
        bucket: bucket.to_string(),
        key,
    })
}

/// Decodes an S3 notification key: `%XX` escapes and `+` for a space (form encoding). `None`
/// for a malformed escape or bytes that are not UTF-8.
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Test and documentation helpers: the bodies AWS sends, built from a bucket and keys.
pub mod samples {
    use serde_json::json;

    /// A direct S3 event notification (keys must already be URL-encoded as S3 does).
    pub fn s3_event(bucket: &str, encoded_keys: &[&str]) -> String {
        let records: Vec<_> = encoded_keys
            .iter()
            .map(|k| {
                json!({
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2024-03-01T00:05:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "trailwarden",
                        "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                        "object": {"key": k, "size": 1024, "sequencer": "0055AED6DCD90281E5"}
                    }
                })
            })
            .collect();
        json!({ "Records": records }).to_string()
    }

    /// An SNS notification (non-raw delivery) carrying `message`.
    pub fn sns(message: &str) -> String {
        json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail-topic",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2024-03-01T00:05:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
        })
        .to_string()
    }

    /// An EventBridge "Object Created" event.
    pub fn eventbridge(bucket: &str, encoded_key: &str) -> String {
        json!({
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2024-03-01T00:05:00Z",
            "region": "us-east-1",
            "resources": [format!("arn:aws:s3:::{bucket}")],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {"key": encoded_key, "size": 1024, "etag": "b1946ac92492d2347c6235b4d2611184"},
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "cloudtrail.amazonaws.com",
                "reason": "PutObject"
            }
        })
        .to_string()
    }

    /// CloudTrail's own notification of delivered log files (the SNS `Message`).
    pub fn cloudtrail(bucket: &str, keys: &[&str]) -> String {
        json!({ "s3Bucket": bucket, "s3ObjectKey": keys }).to_string()
    }

    /// The test event S3 sends when a notification is configured.
    pub fn test_event(bucket: &str) -> String {
        json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2024-03-01T00:00:00.000Z",
            "Bucket": bucket,
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    const B: &str = "trail-bucket";
    const K: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T0005Z_abc.json.gz";

    fn objects(e: &Envelope) -> (EnvelopeKind, Vec<(String, String)>) {
        match e {
            Envelope::Objects { kind, objects } => (
                *kind,
                objects
                    .iter()
                    .map(|o| (o.bucket.clone(), o.key.clone()))
                    .collect(),
            ),
            other => panic!("expected objects, got {other:?}"),
        }
    }

    fn is_unknown(e: &Envelope, needle: &str) -> bool {
        matches!(e, Envelope::Unknown { reason } if reason.contains(needle))
    }

    #[test]
    fn direct_s3_event() {
        let (kind, objs) = objects(&parse(&s3_event(B, &[K])));
        assert_eq!(kind, EnvelopeKind::S3Event);
        assert_eq!(objs, vec![(B.to_string(), K.to_string())]);
    }

    #[test]
    fn s3_event_with_several_records_keeps_order() {
        let (_, objs) = objects(&parse(&s3_event(B, &["a.json.gz", "b.json.gz"])));
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].1, "a.json.gz");
        assert_eq!(objs[1].1, "b.json.gz");
    }

    #[test]
    fn keys_are_url_decoded_plus_is_space() {
        let (_, objs) = objects(&parse(&s3_event(B, &["dir/my+file%2B1%3Dx%C3%A9.json"])));
        assert_eq!(objs[0].1, "dir/my file+1=xé.json");
    }

    #[test]
    fn malformed_escape_is_unknown() {
        assert!(is_unknown(
            &parse(&s3_event(B, &["bad%zz"])),
            "URL encoding"
        ));
        assert!(is_unknown(&parse(&s3_event(B, &["bad%2"])), "URL encoding"));
        assert!(is_unknown(
            &parse(&s3_event(B, &["bad%ff"])),
            "URL encoding"
        ));
    }

    #[test]
    fn sns_wrapped_s3_event() {
        let (kind, objs) = objects(&parse(&sns(&s3_event(B, &["a+b.json.gz"]))));
        assert_eq!(kind, EnvelopeKind::SnsS3Event);
        assert_eq!(objs, vec![(B.to_string(), "a b.json.gz".to_string())]);
    }

    #[test]
    fn sns_raw_delivery_is_the_plain_event() {
        // raw message delivery: the body is the S3 event itself
        let (kind, _) = objects(&parse(&s3_event(B, &[K])));
        assert_eq!(kind, EnvelopeKind::S3Event);
    }

    #[test]
    fn eventbridge_object_created() {
        let (kind, objs) = objects(&parse(&eventbridge(B, "x/y+z.json.gz")));
        assert_eq!(kind, EnvelopeKind::EventBridge);
        assert_eq!(objs, vec![(B.to_string(), "x/y z.json.gz".to_string())]);
    }

    #[test]
    fn eventbridge_via_sns() {
        let (kind, _) = objects(&parse(&sns(&eventbridge(B, K))));
        assert_eq!(kind, EnvelopeKind::SnsEventBridge);
    }

    #[test]
    fn eventbridge_other_detail_type_is_ignored() {
        let body = eventbridge(B, K).replace("Object Created", "Object Deleted");
        assert!(matches!(parse(&body), Envelope::Ignore { .. }));
    }

    #[test]
    fn eventbridge_not_s3_is_unknown() {
        let body = eventbridge(B, K).replace("\"aws.s3\"", "\"aws.ec2\"");
        assert!(is_unknown(&parse(&body), "not aws.s3"));
    }

    #[test]
    fn eventbridge_without_key_is_unknown() {
        let body = r#"{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"}}}"#;
        assert!(is_unknown(&parse(body), "detail.object.key"));
    }

    #[test]
    fn cloudtrail_sns_notification() {
        let k2 = K.replace("abc", "def");
        let (kind, objs) = objects(&parse(&sns(&cloudtrail(B, &[K, &k2]))));
        assert_eq!(kind, EnvelopeKind::CloudTrailSns);
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].1, k2);
    }

    #[test]
    fn cloudtrail_keys_are_not_decoded() {
        let (kind, objs) = objects(&parse(&cloudtrail(B, &["a+b%20.json.gz"])));
        assert_eq!(kind, EnvelopeKind::CloudTrailSnsRaw);
        assert_eq!(objs[0].1, "a+b%20.json.gz");
    }

    #[test]
    fn cloudtrail_bad_shapes() {
        assert!(is_unknown(&parse(r#"{"s3Bucket":"b"}"#), "s3ObjectKey"));
        assert!(is_unknown(
            &parse(r#"{"s3Bucket":"b","s3ObjectKey":[]}"#),
            "empty"
        ));
        assert!(is_unknown(
            &parse(r#"{"s3Bucket":"b","s3ObjectKey":[1]}"#),
            "not a string"
        ));
        assert!(is_unknown(&parse(r#"{"s3ObjectKey":["k"]}"#), "s3Bucket"));
        assert!(is_unknown(
            &parse(r#"{"s3Bucket":"","s3ObjectKey":["k"]}"#),
            "bucket"
        ));
    }

    #[test]
    fn test_event_is_ignored_directly_and_via_sns() {
        assert_eq!(
            parse(&test_event(B)),
            Envelope::Ignore {
                reason: "s3:TestEvent".into()
            }
        );
        assert!(matches!(
            parse(&sns(&test_event(B))),
            Envelope::Ignore { .. }
        ));
    }

    #[test]
    fn non_create_records_are_ignored_but_creates_kept() {
        let deleted = s3_event(B, &[K]).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(matches!(parse(&deleted), Envelope::Ignore { .. }));
        let mut v: serde_json::Value = serde_json::from_str(&s3_event(B, &["a", "b"])).unwrap();
        v["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
        let (_, objs) = objects(&parse(&v.to_string()));
        assert_eq!(objs, vec![(B.to_string(), "b".to_string())]);
    }

    #[test]
    fn every_object_created_variant_counts() {
        for n in ["Put", "Post", "Copy", "CompleteMultipartUpload"] {
            let body =
                s3_event(B, &[K]).replace("ObjectCreated:Put", &format!("ObjectCreated:{n}"));
            assert!(matches!(parse(&body), Envelope::Objects { .. }), "{n}");
        }
    }

    #[test]
    fn s3_record_shape_errors() {
        assert!(is_unknown(&parse(r#"{"Records":{}}"#), "not an array"));
        assert!(is_unknown(&parse(r#"{"Records":[]}"#), "empty"));
        let other = s3_event(B, &[K]).replace("aws:s3", "aws:sqs");
        assert!(is_unknown(&parse(&other), "eventSource"));
        let v1 = s3_event(B, &[K]).replace("\"2.1\"", "\"1.0\"");
        assert!(is_unknown(&parse(&v1), "eventVersion"));
        let mut v: serde_json::Value = serde_json::from_str(&s3_event(B, &[K])).unwrap();
        v["Records"][0]["s3"]["object"] = serde_json::json!({});
        assert!(is_unknown(&parse(&v.to_string()), "s3.object.key"));
        // a CloudTrail *log file* body is not a notification
        let trail = r#"{"Records":[{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}]}"#;
        assert!(is_unknown(&parse(trail), "eventSource"));
    }

    #[test]
    fn sns_shape_errors() {
        let confirm = sns("x").replace("\"Notification\"", "\"SubscriptionConfirmation\"");
        assert!(is_unknown(&parse(&confirm), "SubscriptionConfirmation"));
        assert!(is_unknown(&parse(&sns("not json")), "not JSON"));
        assert!(is_unknown(&parse(&sns(&sns(&s3_event(B, &[K])))), "nested"));
        assert!(is_unknown(
            &parse(&sns("{\"hello\":1}")),
            "not an S3 notification"
        ));
        assert!(is_unknown(&parse(&sns("[1]")), "not a JSON object"));
        let no_msg = r#"{"Type":"Notification","TopicArn":"arn:aws:sns:x"}"#;
        assert!(is_unknown(&parse(no_msg), "string Message"));
    }

    #[test]
    fn garbage_is_unknown_never_panics() {
        for body in [
            "",
            "null",
            "[]",
            "42",
            "\"s\"",
            "{",
            "{}",
            "{\"Records\":null}",
            "\u{0}",
        ] {
            assert!(matches!(parse(body), Envelope::Unknown { .. }), "{body:?}");
        }
    }

    #[test]
    fn url_decode_cases() {
        assert_eq!(url_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(url_decode("a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(url_decode("%2f%2F").as_deref(), Some("//"));
        assert_eq!(url_decode("plain").as_deref(), Some("plain"));
        assert_eq!(url_decode("%"), None);
        assert_eq!(url_decode("%g0"), None);
    }
}
