//! Where poison goes: an SQS queue, an S3 prefix or a local directory. A dead letter is one
//! JSON document: the original body, why it was rejected, how often it was received.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{classify, retry, AwsError, Backoff};
use crate::s3::S3Url;

/// One rejected message.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    pub reason: String,
    pub receive_count: u32,
    /// The objects the message pointed at (`s3://bucket/key`), when it was understood.
    pub objects: Vec<String>,
    pub body: String,
    /// Seconds since the epoch when it was dead-lettered.
    pub dead_lettered_at: u64,
}

/// A dead-letter destination.
#[derive(Clone)]
pub enum DeadLetters {
    Sqs {
        client: aws_sdk_sqs::Client,
        queue_url: String,
    },
    S3 {
        client: aws_sdk_s3::Client,
        url: S3Url,
    },
    Dir(PathBuf),
}

impl DeadLetters {
    pub fn describe(&self) -> String {
        match self {
            DeadLetters::Sqs { queue_url, .. } => queue_url.clone(),
            DeadLetters::S3 { url, .. } => url.to_string(),
            DeadLetters::Dir(d) => d.display().to_string(),
        }
    }

    /// Stores a dead letter durably (retrying transient errors).
    pub async fn send(&self, d: &DeadLetter) -> Result<(), AwsError> {
        let json = serde_json::to_string(d).unwrap_or_else(|_| d.body.clone());
        let name = format!("{}.json", sanitize(&d.message_id));
        match self {
            DeadLetters::Sqs { client, queue_url } => {
                retry(Backoff::AWS_CALL, "send dead letter", || async {
                    client
                        .send_message()
                        .queue_url(queue_url)
                        .message_body(&json)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            let (c, det) = classify(&e);
                            AwsError::new(c, "send dead letter", det)
                        })
                })
                .await
            }
            DeadLetters::S3 { client, url } => {
                let key = format!("{}{}", url.prefix, name);
                crate::s3::put(
                    client,
                    &url.bucket,
                    &key,
                    json.into_bytes(),
                    "application/json",
                )
                .await
            }
            DeadLetters::Dir(dir) => {
                let path = dir.join(&name);
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, json.as_bytes())?;
                    std::fs::File::open(&tmp)?.sync_all()?;
                    std::fs::rename(&tmp, &path)
                })
                .await
                .map_err(|e| {
                    AwsError::new(
                        crate::error::ErrorClass::Transient,
                        "dead letter",
                        e.to_string(),
                    )
                })?
                .map_err(|e| {
                    AwsError::new(
                        crate::error::ErrorClass::Transient,
                        "write dead letter",
                        e.to_string(),
                    )
                })
            }
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dir_dead_letter() {
        let dir = tempfile::tempdir().unwrap();
        let dl = DeadLetters::Dir(dir.path().join("dl"));
        let d = DeadLetter {
            message_id: "m/1".into(),
            reason: "unknown shape".into(),
            receive_count: 1,
            objects: vec![],
            body: "{}".into(),
            dead_lettered_at: 0,
        };
        dl.send(&d).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("dl/m_1.json")).unwrap();
        assert!(text.contains("unknown shape"));
    }
}
