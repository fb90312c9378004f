//! Per-object acknowledgement.
//!
//! An [`Ack`] is cloned into every branch an object's batch goes to. Each clone must be
//! resolved with [`Ack::done`] or [`Ack::fail`]; a clone dropped unresolved (a panicking
//! branch, a closed channel) counts as a failure, so an object is never reported done by
//! accident. When the last clone is resolved the outcome goes to the [`AckReceiver`] once.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// The final outcome of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckOutcome {
    /// The token given to [`Ack::new`] (an SQS receipt handle, an object index…).
    pub token: u64,
    /// `None` when every branch succeeded; otherwise the first failure.
    pub failure: Option<String>,
}

/// Receives one [`AckOutcome`] per object.
pub type AckReceiver = mpsc::UnboundedReceiver<AckOutcome>;

struct State {
    token: u64,
    failure: Mutex<Option<String>>,
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

    /// This branch failed; the object's outcome will carry the (first) reason.
    pub fn fail(mut self, reason: String) {
        self.record_failure(reason);
        self.resolved = true;
    }

    fn record_failure(&mut self, reason: String) {
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
            self.record_failure("dropped before its output was durable".to_string());
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
        b.fail("archive: disk full".into());
        a.fail("alerts: later".into());
        assert_eq!(
            rx.try_recv().ok().and_then(|o| o.failure).as_deref(),
            Some("archive: disk full")
        );
        drop(Ack::new(2, tx));
        let o = rx.try_recv().ok();
        assert_eq!(o.as_ref().map(|o| o.token), Some(2));
        assert!(o.and_then(|o| o.failure).is_some());
    }
}
