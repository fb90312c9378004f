//! Several detectors on their own threads, one batch at a time: [`Fanout`].
//!
//! The detect stage is one thread so that stateful detectors see batches in source order. The
//! detectors of a run (event policies, the rule pack's windows, Sigma, the anomaly engine) are
//! independent of each other, so running them one after the other on that thread only adds
//! their times. `Fanout` hands each batch to every detector at once — the first on the calling
//! thread, the others on a thread each — and waits for all of them before it returns: every
//! detector still sees every batch in order, and the alerts of a batch come out in the
//! detectors' order, exactly as if they had run in sequence.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use trailwarden_alert::Alert;

use crate::{Batch, Detector};

enum Job {
    Batch(Arc<Batch>),
    Finish,
}

/// A detector on a thread of its own.
struct Worker {
    jobs: SyncSender<Job>,
    found: Receiver<Vec<Alert>>,
    thread: Option<JoinHandle<()>>,
    name: String,
}

impl Worker {
    fn spawn(name: String, mut d: Box<dyn Detector>) -> std::io::Result<Worker> {
        let (jobs, job_rx) = sync_channel::<Job>(1);
        let (found_tx, found) = sync_channel::<Vec<Alert>>(1);
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                while let Ok(job) = job_rx.recv() {
                    let mut out = Vec::new();
                    let last = match job {
                        Job::Batch(b) => {
                            d.detect(&b, &mut out);
                            false
                        }
                        Job::Finish => {
                            d.finish(&mut out);
                            true
                        }
                    };
                    if found_tx.send(out).is_err() || last {
                        return;
                    }
                }
            })?;
        Ok(Worker {
            jobs,
            found,
            thread: Some(thread),
            name,
        })
    }

    /// The alerts of the job sent last. A detector that panicked takes the stage down with
    /// it, as it would on the detect thread itself.
    fn collect(&mut self, out: &mut Vec<Alert>) {
        match self.found.recv() {
            Ok(mut a) => out.append(&mut a),
            Err(_) => self.failed(),
        }
    }

    fn send(&mut self, job: Job) {
        if self.jobs.send(job).is_err() {
            self.failed();
        }
    }

    fn failed(&mut self) -> ! {
        let msg = match self.thread.take().map(JoinHandle::join) {
            Some(Err(p)) => p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string()),
            _ => "its thread stopped".to_string(),
        };
        panic!("detector {} failed: {msg}", self.name);
    }
}

/// Detectors run side by side on a batch; see the module documentation.
pub struct Fanout {
    first: Box<dyn Detector>,
    rest: Vec<Worker>,
}

impl Fanout {
    /// `detectors` with their names (the threads' names, and what a failure reports). The
    /// first runs on the caller's thread.
    pub fn start(
        detectors: Vec<(String, Box<dyn Detector>)>,
    ) -> std::io::Result<Box<dyn Detector>> {
        let mut it = detectors.into_iter();
        let Some((_, first)) = it.next() else {
            return Ok(Box::new(Nothing));
        };
        let rest = it
            .map(|(name, d)| Worker::spawn(name, d))
            .collect::<std::io::Result<Vec<_>>>()?;
        if rest.is_empty() {
            return Ok(first);
        }
        Ok(Box::new(Fanout { first, rest }))
    }
}

impl Detector for Fanout {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
        // The workers need a batch they can hold: the events are shared, not copied.
        let shared = Arc::new(Batch {
            object: batch.object.clone(),
            events: batch.events.clone(),
            low_watermark: batch.low_watermark,
        });
        for w in &mut self.rest {
            w.send(Job::Batch(shared.clone()));
        }
        drop(shared);
        self.first.detect(batch, out);
        for w in &mut self.rest {
            w.collect(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        for w in &mut self.rest {
            w.send(Job::Finish);
        }
        self.first.finish(out);
        for w in &mut self.rest {
            w.collect(out);
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        // Closing the job channels stops the threads (a finished one has stopped already).
        for w in self.rest.drain(..) {
            drop(w.jobs);
            if let Some(t) = w.thread {
                let _ = t.join();
            }
        }
    }
}

/// No detector at all.
struct Nothing;

impl Detector for Nothing {
    fn detect(&mut self, _batch: &Batch, _out: &mut Vec<Alert>) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use trailwarden_ingest::{Location, ObjectRef};

    use super::*;

    /// Records the batches it sees, and alerts once per batch with its name and the object.
    struct Probe {
        name: &'static str,
        seen: Arc<Mutex<Vec<String>>>,
        panic_on: Option<&'static str>,
    }

    impl Detector for Probe {
        fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>) {
            if self.panic_on == Some(batch.object.key.as_str()) {
                panic!("probe {} broke", self.name);
            }
            self.seen.lock().unwrap().push(batch.object.key.clone());
            out.push(alert(&format!("{}:{}", self.name, batch.object.key)));
        }

        fn finish(&mut self, out: &mut Vec<Alert>) {
            out.push(alert(&format!("{}:finish", self.name)));
        }
    }

    fn alert(id: &str) -> Alert {
        Alert {
            schema_version: trailwarden_alert::SCHEMA_VERSION,
            id: id.to_string(),
            rule_id: "probe".into(),
            title: "probe".into(),
            severity: trailwarden_alert::Severity::Low,
            mitre: Vec::new(),
            account: None,
            region: None,
            principal: None,
            principal_type: None,
            source_ip: None,
            user_agent: None,
            first_event_time: String::new(),
            last_event_time: String::new(),
            event_ids: Vec::new(),
            count: 1,
            summary: String::new(),
            evidence: Default::default(),
        }
    }

    fn batch(key: &str) -> Batch {
        Batch {
            object: ObjectRef {
                key: key.into(),
                location: Location::Local(key.into()),
            },
            events: Vec::new(),
            low_watermark: None,
        }
    }

    /// What each probe saw.
    type Seen = Arc<Mutex<Vec<String>>>;

    fn probes(n: usize, panic_on: Option<&'static str>) -> (Box<dyn Detector>, Vec<Seen>) {
        let names = ["a", "b", "c", "d"];
        let mut seen = Vec::new();
        let mut ds: Vec<(String, Box<dyn Detector>)> = Vec::new();
        for name in names.into_iter().take(n) {
            let s = Arc::new(Mutex::new(Vec::new()));
            seen.push(s.clone());
            ds.push((
                name.to_string(),
                Box::new(Probe {
                    name,
                    seen: s,
                    panic_on: if name == "c" { panic_on } else { None },
                }),
            ));
        }
        (Fanout::start(ds).unwrap(), seen)
    }

    /// Every detector sees every batch in order; a batch's alerts come back before `detect`
    /// returns, in the detectors' order; `finish` reaches every detector once.
    #[test]
    fn every_detector_sees_every_batch_and_alerts_keep_their_order() {
        let (mut d, seen) = probes(3, None);
        let mut out = Vec::new();
        for key in ["o1", "o2", "o3"] {
            d.detect(&batch(key), &mut out);
            let ids: Vec<&str> = out.iter().map(|a| a.id.as_str()).collect();
            assert_eq!(
                ids,
                [format!("a:{key}"), format!("b:{key}"), format!("c:{key}")]
            );
            out.clear();
        }
        d.finish(&mut out);
        let ids: Vec<&str> = out.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a:finish", "b:finish", "c:finish"]);
        for s in seen {
            assert_eq!(*s.lock().unwrap(), ["o1", "o2", "o3"]);
        }
    }

    /// A detector that panics on its thread fails the batch on the calling thread, naming it.
    #[test]
    fn a_failing_detector_fails_the_stage() {
        let (mut d, _) = probes(3, Some("bad"));
        let mut out = Vec::new();
        d.detect(&batch("ok"), &mut out);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            d.detect(&batch("bad"), &mut out)
        }));
        let msg = r
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(msg.contains("detector c failed: probe c broke"), "{msg}");
    }

    /// One detector runs as itself; none is a detector that finds nothing.
    #[test]
    fn one_or_no_detector() {
        let (mut d, seen) = probes(1, None);
        let mut out = Vec::new();
        d.detect(&batch("o"), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(*seen[0].lock().unwrap(), ["o"]);
        let mut none = Fanout::start(Vec::new()).unwrap();
        none.detect(&batch("o"), &mut out);
        none.finish(&mut out);
        assert_eq!(out.len(), 1);
    }
}
