//! Error classes and retries for AWS calls.
//!
//! Every failure is one of three classes: **transient** (throttling, 5xx, timeouts, a dropped
//! connection: retried with backoff, then the message is left to reappear), **poison** (the
//! object is gone or is not CloudTrail: retrying cannot help, the message is dead-lettered) or
//! **fatal** (credentials, permissions, a missing queue: reported loudly; retrying only after
//! an operator acts). Object failures cross the pipeline as a typed
//! [`trailwarden_pipeline::Failure`] whose kind is the class ([`AwsError::failure`]); the
//! class is also written at the start of the message (`[poison] get s3://…`) for people
//! reading logs and dead letters.

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use trailwarden_pipeline::{Failure, FailureKind};

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Transient,
    Poison,
    Fatal,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Poison => "poison",
            ErrorClass::Fatal => "fatal",
        }
    }

    /// The class as written at the start of an error message.
    pub fn tag(self) -> &'static str {
        match self {
            ErrorClass::Transient => "[transient]",
            ErrorClass::Poison => "[poison]",
            ErrorClass::Fatal => "[fatal]",
        }
    }
}

impl From<ErrorClass> for FailureKind {
    fn from(c: ErrorClass) -> FailureKind {
        match c {
            ErrorClass::Transient => FailureKind::Transient,
            ErrorClass::Poison => FailureKind::Poison,
            ErrorClass::Fatal => FailureKind::Fatal,
        }
    }
}

/// A failed AWS call, classified, with what was being done.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{class_tag} {what}: {detail}")]
pub struct AwsError {
    pub class: ErrorClass,
    class_tag: &'static str,
    pub what: String,
    pub detail: String,
}

impl AwsError {
    pub fn new(class: ErrorClass, what: impl Into<String>, detail: impl Into<String>) -> Self {
        AwsError {
            class,
            class_tag: class.tag(),
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// This error as an object's failure: its class decides what the source does.
    pub fn failure(&self) -> Failure {
        Failure::new(self.class.into(), self.to_string())
    }
}

const POISON_CODES: &[&str] = &[
    "NoSuchKey",
    "NoSuchBucket",
    "InvalidObjectState",
    "NotFound",
];
const FATAL_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "KMS.AccessDeniedException",
    "KMS.DisabledException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFoundException",
];

/// Classifies an SDK error by its error code, HTTP status and kind.
pub fn classify<E, R>(e: &SdkError<E, R>) -> (ErrorClass, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("");
            let msg = err.message().unwrap_or("");
            let detail = if code.is_empty() {
                format!("{err}")
            } else {
                format!("{code}: {msg}")
            };
            let class = if POISON_CODES.contains(&code) {
                ErrorClass::Poison
            } else if FATAL_CODES.contains(&code) {
                ErrorClass::Fatal
            } else {
                ErrorClass::Transient
            };
            (class, detail)
        }
        SdkError::ConstructionFailure(_) => (ErrorClass::Fatal, chain(e)),
        _ => (ErrorClass::Transient, chain(e)),
    }
}

/// An error and its causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Retries with exponential backoff (full jitter-free doubling, capped).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Attempts in all; `None` retries for ever (outputs that must not drop anything).
    pub attempts: Option<u32>,
}

impl Backoff {
    pub const AWS_CALL: Backoff = Backoff {
        first: Duration::from_millis(200),
        max: Duration::from_secs(5),
        attempts: Some(5),
    };

    pub const FOREVER: Backoff = Backoff {
        first: Duration::from_millis(200),
        max: Duration::from_secs(30),
        attempts: None,
    };

    pub fn delay(&self, attempt: u32) -> Duration {
        let f = 1u32 << attempt.min(16);
        self.first.saturating_mul(f).min(self.max)
    }
}

/// Runs `op` until it succeeds, fails with a non-transient error, or the attempts run out.
pub async fn retry<T, F, Fut>(backoff: Backoff, what: &str, mut op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 0u32;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.class == ErrorClass::Transient => {
                attempt += 1;
                if backoff.attempts.is_some_and(|n| attempt >= n) {
                    return Err(e);
                }
                metrics::counter!("trailwarden_aws_retries_total").increment(1);
                tracing::debug!(what, attempt, error = %e, "retrying");
                if attempt >= 5 {
                    tracing::warn!(what, attempt, error = %e, "still retrying");
                }
                tokio::time::sleep(backoff.delay(attempt - 1)).await;
            }
            Err(e) => {
                if e.class == ErrorClass::Fatal {
                    tracing::error!(what, error = %e, "AWS call refused: check credentials, permissions and names");
                }
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_the_class() {
        for (c, k) in [
            (ErrorClass::Transient, FailureKind::Transient),
            (ErrorClass::Poison, FailureKind::Poison),
            (ErrorClass::Fatal, FailureKind::Fatal),
        ] {
            let f = AwsError::new(c, "get s3://b/k", "boom")
                .failure()
                .context("read");
            assert_eq!(f.kind, k);
            assert_eq!(f.reason, format!("read: {} get s3://b/k: boom", c.tag()));
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff::AWS_CALL;
        assert_eq!(b.delay(0), Duration::from_millis(200));
        assert_eq!(b.delay(1), Duration::from_millis(400));
        assert_eq!(b.delay(10), Duration::from_secs(5));
        assert_eq!(b.delay(100), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_on_poison_and_after_attempts() {
        let mut n = 0;
        let r: Result<(), _> = retry(Backoff::AWS_CALL, "t", || {
            n += 1;
            async { Err(AwsError::new(ErrorClass::Transient, "t", "x")) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(n, 5);
        let mut m = 0;
        let r: Result<(), _> = retry(Backoff::AWS_CALL, "t", || {
            m += 1;
            async { Err(AwsError::new(ErrorClass::Poison, "t", "x")) }
        })
        .await;
        assert_eq!(r.map_err(|e| e.class), Err(ErrorClass::Poison));
        assert_eq!(m, 1);
    }
}
