//! Per-object acknowledgement.
//!
//! An [`Ack`] is cloned into every branch an object's batch goes to. Each clone must be
//! resolved with [`Ack::done`] or [`Ack::fail`]; a clone dropped unresolved (a panicking
//! branch, a closed channel) counts as a failure, so an object is never reported done by
//! accident. When the last clone is resolved the outcome goes to the [`AckReceiver`] once.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// How the source should treat an object that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// May pass on a later attempt (throttling, a 5xx, an output that is down, a full disk):
    /// the object is retried.
    Transient,
    /// Cannot pass (the object is gone, or is not CloudTrail): retrying cannot help; the SQS
    /// source dead-letters it.
    Poison,
    /// Needs an operator (credentials, permissions, a missing bucket): reported loudly, and
    /// retried like a transient failure once someone has acted.
    Fatal,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Poison => "poison",
            FailureKind::Fatal => "fatal",
        }
    }
}

/// Why an object failed: its kind, and the reason in words (for logs and dead letters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

impl Failure {
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Failure {
        Failure {
            kind,
            reason: reason.into(),
        }
    }

    /// An output that could not be written, a thread that died: worth another attempt.
    pub fn transient(reason: impl Into<String>) -> Failure {
        Failure::new(FailureKind::Transient, reason)
    }

    /// The same failure, its reason prefixed with `what: `.
    pub fn context(self, what: &str) -> Failure {
        Failure {
            kind: self.kind,
            reason: format!("{what}: {}", self.reason),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The final outcome of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckOutcome {
    /// The token given to [`Ack::new`] (an SQS receipt handle, an object index…).
    pub token: u64,
    /// `None` when every branch succeeded; otherwise the first failure.
    pub failure: Option<Failure>,
}

/// Receives one [`AckOutcome`] per object.
pub type AckReceiver = mpsc::UnboundedReceiver<AckOutcome>;

struct State {
    token: u64,
    failure: Mutex<Option<Failure>>,
    tx: mpsc::UnboundedSender<AckOutcome>,
}

impl Drop for State {
    fn drop(&mut self) {
        let failure = match self.failure.get_mut() {
            Ok(f) => f.take(),
            Err(p) => p.into_inner().take(),
        };
        let _ = self.tx.send(AckOutcome {
            token: self.token,
            failure,
        });
    }
}

/// One branch's hold on an object.
pub struct Ack {
    state: Arc<State>,
    resolved: bool,
}

impl Ack {
    /// A fresh ack for one object; its outcome goes to `tx`.
    pub fn new(token: u64, tx: mpsc::UnboundedSender<AckOutcome>) -> Ack {
        Ack {
            state: Arc::new(State {
                token,
                failure: Mutex::new(None),
                tx,
            }),
            resolved: false,
        }
    }

    /// A channel for outcomes.
    pub fn channel() -> (mpsc::UnboundedSender<AckOutcome>, AckReceiver) {
        mpsc::unbounded_channel()
    }

    /// This branch's output is durable.
    pub fn done(mut self) {
        self.resolved = true;
    }

    /// This branch failed; the object's outcome will carry the (first) failure.
    pub fn fail(mut self, failure: Failure) {
        self.record_failure(failure);
        self.resolved = true;
    }

    fn record_failure(&mut self, reason: Failure) {
        let mut f = match self.state.failure.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        if f.is_none() {
            *f = Some(reason);
        }
    }
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        Ack {
            state: self.state.clone(),
            resolved: false,
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.resolved {
            self.record_failure(Failure::transient("dropped before its output was durable"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_after_last_clone() {
        let (tx, mut rx) = Ack::channel();
        let a = Ack::new(7, tx);
        let b = a.clone();
        a.done();
        assert!(rx.try_recv().is_err(), "one branch still holds the object");
        b.done();
        assert_eq!(
            rx.try_recv().ok(),
            Some(AckOutcome {
                token: 7,
                failure: None
            })
        );
    }

    #[test]
    fn first_failure_wins_and_unresolved_drop_fails() {
        let (tx, mut rx) = Ack::channel();
        let a = Ack::new(1, tx.clone());
        let b = a.clone();
        b.fail(Failure::new(FailureKind::Poison, "read: not CloudTrail"));
        a.fail(Failure::transient("alerts: later"));
        assert_eq!(
            rx.try_recv().ok().and_then(|o| o.failure),
            Some(Failure::new(FailureKind::Poison, "read: not CloudTrail"))
        );
        drop(Ack::new(2, tx));
        let o = rx.try_recv().ok();
        assert_eq!(o.as_ref().map(|o| o.token), Some(2));
        assert_eq!(
            o.and_then(|o| o.failure).map(|f| f.kind),
            Some(FailureKind::Transient)
        );
    }

    #[test]
    fn context_keeps_the_kind() {
        let f = Failure::new(FailureKind::Fatal, "AccessDenied").context("read");
        assert_eq!(f.kind, FailureKind::Fatal);
        assert_eq!(f.to_string(), "read: AccessDenied");
    }
}
