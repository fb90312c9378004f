//! trailwarden-pipeline: the topology every run shares, live or replay.
//!
//! ```text
//!  source ──jobs──▶ decode ×N ──batches──┬──▶ detect (1, event order kept) ──alerts──▶ alert sink
//!  (objects + acks)  (blocking pool)      └──▶ archive ×M (blocking pool: encode + write)
//! ```
//! One unit of work is one object, carried with an [`Ack`]. Its clones travel with the batch
//! into each branch; a branch drops its clone only once its output is durable (archive file
//! written, alerts handed to a flushed sink). When the last clone is gone the source learns the
//! object's outcome — replay counts it, the SQS worker deletes the message.
//!
//! Every channel is bounded ([`Options::channel_capacity`]); CPU work (gunzip, parse, encode,
//! detection) runs on blocking threads, never on the async executor. Only the source watches
//! for shutdown: later stages drain and stop when their input closes.

mod ack;
mod fanout;
mod stats;

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tracing::{debug, warn};
use trailwarden_alert::Alert;
use trailwarden_ingest::{layout, Filter, Location, ObjectRef};
use trailwarden_parse::{
    parse_object_with, Event, Limits, MicrosUtc, ObjectKind, ObjectProblem, ObjectProblemKind,
    ParsedObject, RecordParser,
};

pub use ack::{Ack, AckOutcome, AckReceiver, Failure, FailureKind};
pub use fanout::Fanout;
pub use stats::{Reject, Stats, Summary};

/// The events of one object, shared by the detect and archive branches.
#[derive(Debug)]
pub struct Batch {
    pub object: ObjectRef,
    /// Good events that passed the filter, in record order. Shared: a windowed detection keeps
    /// the events it may report on without copying them.
    pub events: Vec<Arc<Event>>,
    /// No later batch holds an event before this time, as far as the source can tell (a replay
    /// knows it from the trail's delivery order: `layout::low_watermarks`). Windowed detectors
    /// may then apply what they hold up to it rather than wait out their allowed lateness; an
    /// event that arrives behind it anyway is late (counted like any late event).
    pub low_watermark: Option<MicrosUtc>,
}

/// Detection: everything that turns events into alerts (policies today; anomaly and Sigma
/// engines join behind the same trait). Called from one blocking thread, batch by batch.
pub trait Detector: Send + 'static {
    fn detect(&mut self, batch: &Batch, out: &mut Vec<Alert>);
    /// Called once after the last batch; windowed detectors flush what they hold.
    fn finish(&mut self, _out: &mut Vec<Alert>) {}
}

/// Where the archive goes. `write` runs on a blocking thread and returns once the object's
/// archive files are durable.
pub trait ArchiveWriter: Send + Sync + 'static {
    fn write(&self, batch: &Batch) -> Result<ArchiveWritten, String>;
}

/// What one object's archive write produced.
#[derive(Debug, Default, Clone, Copy)]
pub struct ArchiveWritten {
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// Where alerts go. `write` must make them durable before it returns (flush/fsync), because
/// the objects they came from are acknowledged after it.
pub trait AlertOutput: Send + 'static {
    fn write(&mut self, alerts: &[Alert]) -> std::io::Result<()>;
    /// Called once at the end.
    fn close(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads an object's bytes. Local files are read by the pipeline itself; other locations
/// (S3) need a fetcher, which says of a failure whether it may pass ([`FailureKind`]).
pub trait Fetcher: Send + Sync + 'static {
    fn fetch<'a>(&'a self, object: &'a ObjectRef) -> BoxFuture<'a, Result<Vec<u8>, Failure>>;
}

/// One object to process and the ack that reports its outcome.
pub struct Job {
    pub object: ObjectRef,
    pub ack: Ack,
    /// Given to the object's [`Batch::low_watermark`].
    pub low_watermark: Option<MicrosUtc>,
}

/// Tunables; every buffer is bounded by these.
#[derive(Debug, Clone)]
pub struct Options {
    /// Objects decoded and parsed at once.
    pub decode_workers: usize,
    /// Objects encoded into the archive at once.
    pub archive_workers: usize,
    /// Capacity of each inter-stage channel, in objects.
    pub channel_capacity: usize,
    /// How many objects decoding may run ahead of detection (detection sees objects in the
    /// order the source gave them).
    pub reorder_window: usize,
    pub limits: Limits,
    pub filter: Filter,
}

impl Default for Options {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Options {
            decode_workers: cores,
            archive_workers: cores,
            channel_capacity: 4,
            reorder_window: 16,
            limits: Limits::default(),
            filter: Filter::default(),
        }
    }
}

/// The stages a run is made of.
pub struct Pipeline {
    pub options: Options,
    pub detector: Box<dyn Detector>,
    pub archive: Option<Arc<dyn ArchiveWriter>>,
    pub alerts: Box<dyn AlertOutput>,
    pub fetcher: Option<Arc<dyn Fetcher>>,
    pub stats: Arc<Stats>,
}

/// A stage failed in a way that must stop the run (an output that cannot be written).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("alert output failed: {0}")]
    Alerts(#[source] std::io::Error),
    #[error("pipeline stage {0} stopped unexpectedly")]
    Stage(&'static str),
}

impl Pipeline {
    /// Runs until `jobs` closes and every stage has drained. Returns the detector's and the
    /// outputs' final state through [`Stats`].
    pub async fn run(self, jobs: mpsc::Receiver<Job>) -> Result<(), PipelineError> {
        let Pipeline {
            options,
            mut detector,
            archive,
            mut alerts,
            fetcher,
            stats,
        } = self;
        let cap = options.channel_capacity.max(1);
        let (det_tx, mut det_rx) = mpsc::channel::<Sequenced>(cap);
        let (arc_tx, mut arc_rx) = mpsc::channel::<(Arc<Batch>, Ack)>(cap);
        let (alert_tx, mut alert_rx) = mpsc::channel::<(Vec<Alert>, Vec<Ack>)>(cap);

        // decode: up to N objects at once, on blocking threads
        let decode = tokio::spawn(decode_stage(
            jobs,
            options.clone(),
            fetcher,
            stats.clone(),
            det_tx,
            archive.is_some().then_some(arc_tx),
        ));

        // detect: one blocking thread, batches in source order (decoding finishes in any
        // order; a reorder buffer of at most `reorder_window` objects puts them back), so
        // stateful detectors see the same sequence on every run
        let det_stats = stats.clone();
        let detect = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0u64;
            while let Some(msg) = det_rx.blocking_recv() {
                waiting.insert(msg.seq, msg);
                while let Some(msg) = waiting.remove(&next) {
                    next += 1;
                    let Some((batch, ack)) = msg.item else {
                        continue;
                    };
                    let t = std::time::Instant::now();
                    detector.detect(&batch, &mut out);
                    det_stats.add_detect_time(t.elapsed());
                    let found = std::mem::take(&mut out);
                    if alert_tx.blocking_send((found, vec![ack])).is_err() {
                        return;
                    }
                }
            }
            detector.finish(&mut out);
            if !out.is_empty() {
                let _ = alert_tx.blocking_send((out, Vec::new()));
            }
        });

        // archive: up to M objects encoded and written at once
        let arc_stats = stats.clone();
        let archive_workers = options.archive_workers.max(1);
        let archiver = tokio::spawn(async move {
            let Some(writer) = archive else {
                return;
            };
            let limit = Arc::new(tokio::sync::Semaphore::new(archive_workers));
            let mut tasks = tokio::task::JoinSet::new();
            while let Some((batch, ack)) = arc_rx.recv().await {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let writer = writer.clone();
                let st = arc_stats.clone();
                tasks.spawn_blocking(move || {
                    let _permit = permit;
                    match writer.write(&batch) {
                        Ok(w) => {
                            st.add_archive(w);
                            ack.done();
                        }
                        Err(e) => {
                            warn!(object = %batch.object.describe(), error = %e, "archive write failed");
                            st.add_archive_failure(&batch.object.describe(), &e);
                            ack.fail(Failure::transient(format!("archive: {e}")));
                        }
                    }
                });
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        });

        // alerts: the sink makes them durable, then the acks go
        let sink_stats = stats.clone();
        let sink = tokio::task::spawn_blocking(move || -> Result<(), std::io::Error> {
            while let Some((found, acks)) = alert_rx.blocking_recv() {
                if !found.is_empty() {
                    sink_stats.add_alerts(&found);
                    if let Err(e) = alerts.write(&found) {
                        for a in acks {
                            a.fail(Failure::transient(format!("alerts: {e}")));
                        }
                        return Err(e);
                    }
                }
                for a in acks {
                    a.done();
                }
            }
            alerts.close()
        });

        let d = decode.await;
        let t = detect.await;
        let a = archiver.await;
        let s = sink.await;
        d.map_err(|_| PipelineError::Stage("decode"))?;
        t.map_err(|_| PipelineError::Stage("detect"))?;
        a.map_err(|_| PipelineError::Stage("archive"))?;
        s.map_err(|_| PipelineError::Stage("alerts"))?
            .map_err(PipelineError::Alerts)?;
        Ok(())
    }
}

type BatchTx = mpsc::Sender<(Arc<Batch>, Ack)>;

/// What the detect stage receives: every job, in any order, by its sequence number — with its
/// batch, or `None` when the object yielded nothing to detect on (skipped, digest, unreadable).
/// The permit bounds how far decoding may run ahead of detection.
struct Sequenced {
    seq: u64,
    item: Option<(Arc<Batch>, Ack)>,
    _window: tokio::sync::OwnedSemaphorePermit,
}

async fn decode_stage(
    mut jobs: mpsc::Receiver<Job>,
    options: Options,
    fetcher: Option<Arc<dyn Fetcher>>,
    stats: Arc<Stats>,
    det_tx: mpsc::Sender<Sequenced>,
    arc_tx: Option<BatchTx>,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(options.decode_workers.max(1)));
    let window = Arc::new(tokio::sync::Semaphore::new(options.reorder_window.max(1)));
    let mut seq = 0u64;
    let parsers = Arc::new(ParserPool::default());
    let options = Arc::new(options);
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(job) = jobs.recv().await {
        let Ok(window_permit) = window.clone().acquire_owned().await else {
            break;
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let this = seq;
        seq += 1;
        let (options, fetcher, stats) = (options.clone(), fetcher.clone(), stats.clone());
        let parsers = parsers.clone();
        let (det_tx, arc_tx) = (det_tx.clone(), arc_tx.clone());
        tasks.spawn(async move {
            let item = decode_one(job, options, fetcher, stats, parsers, arc_tx).await;
            drop(permit);
            let _ = det_tx
                .send(Sequenced {
                    seq: this,
                    item,
                    _window: window_permit,
                })
                .await;
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Reads, decodes and parses one object, and hands its batch to the archive branch; returns
/// the batch for detection.
async fn decode_one(
    job: Job,
    options: Arc<Options>,
    fetcher: Option<Arc<dyn Fetcher>>,
    stats: Arc<Stats>,
    parsers: Arc<ParserPool>,
    arc_tx: Option<BatchTx>,
) -> Option<(Arc<Batch>, Ack)> {
    {
        {
            let Job {
                object,
                ack,
                low_watermark,
            } = job;
            // skip by layout before reading a byte
            let layout = layout::parse(&object.key);
            if let Some(l) = &layout {
                if options.filter.skips_object(l) {
                    stats.add_skipped();
                    ack.done();
                    return None;
                }
            }
            let bytes = match read_object(&object, fetcher.as_deref()).await {
                Ok(b) => b,
                Err(e) => {
                    stats.add_object(&object.describe(), &unreadable(e.reason.clone()), 0);
                    ack.fail(e.context("read"));
                    return None;
                }
            };
            let opts = options.clone();
            let pool = parsers.clone();
            let (key, object_stats) = (object.describe(), stats.clone());
            let parsed = tokio::task::spawn_blocking(move || {
                // at most `decode_workers` parsers exist: one per permit
                let mut parser = pool.take();
                let compressed = bytes.len() as u64;
                let mut p = parse_object_with(&mut parser, &bytes, &opts.limits);
                drop(bytes);
                if !opts.filter.is_empty() {
                    p.events.retain(|e| opts.filter.keeps(e));
                }
                object_stats.add_object(&key, &p, compressed);
                // the events move into their `Arc`s here; the emptied list goes back to the
                // parser for the next object (see `RecordParser::recycle_events`)
                let events: Vec<Arc<Event>> = p.events.drain(..).map(Arc::new).collect();
                parser.recycle_events(p.events);
                pool.put(parser);
                (p.kind, events)
            })
            .await;
            let Ok((kind, events)) = parsed else {
                stats.add_object(
                    &object.describe(),
                    &unreadable("parser thread failed".into()),
                    0,
                );
                ack.fail(Failure::transient("parser thread failed"));
                return None;
            };
            if kind == ObjectKind::Digest {
                debug!(object = %object.describe(), "digest file recognised; not parsed as events");
                ack.done();
                return None;
            }
            let batch = Arc::new(Batch {
                object,
                events,
                low_watermark,
            });
            if let Some(tx) = &arc_tx {
                if tx.send((batch.clone(), ack.clone())).await.is_err() {
                    return None;
                }
            }
            Some((batch, ack))
        }
    }
}

/// Parsers (and their scratch buffers, sized by the largest object seen) kept for reuse.
#[derive(Default)]
struct ParserPool(std::sync::Mutex<Vec<RecordParser>>);

impl ParserPool {
    fn take(&self) -> RecordParser {
        let mut v = match self.0.lock() {
            Ok(v) => v,
            Err(p) => p.into_inner(),
        };
        v.pop().unwrap_or_default()
    }

    fn put(&self, p: RecordParser) {
        match self.0.lock() {
            Ok(mut v) => v.push(p),
            Err(e) => e.into_inner().push(p),
        }
    }
}

fn unreadable(detail: String) -> ParsedObject {
    ParsedObject {
        kind: ObjectKind::Trail,
        events: Vec::new(),
        bad_records: Vec::new(),
        problem: Some(ObjectProblem {
            kind: ObjectProblemKind::Unreadable,
            detail,
        }),
        decoded_bytes: 0,
    }
}

async fn read_object(
    object: &ObjectRef,
    fetcher: Option<&dyn Fetcher>,
) -> Result<Vec<u8>, Failure> {
    match &object.location {
        Location::Local(path) => {
            let p = path.clone();
            tokio::task::spawn_blocking(move || std::fs::read(&p))
                .await
                .map_err(|e| Failure::transient(e.to_string()))?
                .map_err(|e| Failure::transient(e.to_string()))
        }
        Location::S3 { .. } => match fetcher {
            Some(f) => f.fetch(object).await,
            None => Err(Failure::transient("no S3 client configured")),
        },
    }
}
