//! trailwarden-aws: the live worker's AWS side.
//!
//! - [`envelope`]: S3 notifications in every envelope they reach SQS in (pure, no IO);
//! - [`sqs`]: the SQS source — long polling, one pipeline job per object, a visibility
//!   heartbeat per message, per-message delete once every output is durable, dead letters;
//! - [`s3`]: GetObject ([`s3::S3Fetcher`]), the archive as PutObjects ([`s3::S3Archive`]);
//! - [`sinks`]: alert outputs (JSONL file, stdout, SQS, SNS, webhook, S3);
//! - [`deadletter`]: where poison goes (SQS queue, S3 prefix, local directory);
//! - [`error`]: failures classified as transient, poison or fatal; retries with backoff.
//!
//! **Invariant:** nothing here deletes a message before the pipeline's ack for each of its
//! objects has succeeded; on any doubt the message is left to reappear.

pub mod deadletter;
pub mod envelope;
pub mod error;
pub mod s3;
pub mod sinks;
pub mod sqs;

/// The SDK configuration from the standard environment (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// the credential chain), with optional overrides from trailwarden's config.
pub async fn sdk_config(region: Option<&str>, endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut l = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        l = l.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(e) = endpoint_url {
        l = l.endpoint_url(e);
    }
    l.load().await
}
