//! The SQS source: S3 notifications in, one pipeline [`Job`] per object out, each message
//! deleted on its own once every object it names is durable in every output.
//!
//! ```text
//!  receiver task ──messages──▶ source loop ──jobs (bounded)──▶ pipeline
//!   (long poll, asked for       │  ▲                              │
//!    ≤ free capacity)           │  └──────── ack outcomes ────────┘
//!                               ├─ heartbeat task per message (ChangeMessageVisibility)
//!                               └─ finalizers: delete │ dead-letter + delete │ back off
//! ```
//!
//! * **Bounded.** The loop asks the receiver for at most `max_in_flight_objects` minus the
//!   objects it holds, so objects in the pipeline plus those waiting never exceed the bound
//!   (a CloudTrail notification naming several keys can overshoot by that message's keys).
//! * **No head-of-line blocking.** Each message is finalised the moment its last object's ack
//!   arrives, whatever the others are doing.
//! * **At-least-once.** A message is deleted only after all its objects' acks succeeded; an
//!   object that failed leaves the message to reappear (its visibility set to a backoff by its
//!   receive count); a message received more than `max_receive_count` times, one in no known
//!   envelope, or one whose object is poison is dead-lettered with the reason, then deleted.
//! * **Shutdown.** When `shutdown` resolves the receiver stops (an in-progress long poll is
//!   abandoned: those messages reappear after their visibility timeout); messages already
//!   received are processed and finalised; after `grace` the loop gives up, releases the
//!   visibility of what is unfinished (so another worker takes it at once) and returns
//!   without deleting it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use trailwarden_ingest::{stable_key, Location, ObjectRef};
use trailwarden_pipeline::{Ack, AckOutcome, Failure, FailureKind, Job};

use crate::deadletter::{DeadLetter, DeadLetters};
use crate::envelope::{self, Envelope};
use crate::error::{classify, retry, AwsError, Backoff, ErrorClass};

/// How the source talks to the queue.
#[derive(Debug, Clone)]
pub struct SqsSettings {
    pub queue_url: String,
    /// Long-poll wait per ReceiveMessage (0–20).
    pub wait_time_secs: i32,
    /// Messages per ReceiveMessage (1–10).
    pub max_messages_per_receive: i32,
    /// Objects received and not yet acknowledged, at most.
    pub max_in_flight_objects: usize,
    /// Visibility requested on receive and renewed by each heartbeat.
    pub visibility_timeout_secs: i32,
    /// How often a heartbeat renews an in-flight message's visibility.
    pub heartbeat_interval: Duration,
    /// A message received more often than this is dead-lettered unprocessed.
    pub max_receive_count: u32,
    /// Visibility of a failed message before it reappears: doubled per receive, capped.
    pub retry_backoff_base_secs: i32,
    pub retry_backoff_max_secs: i32,
}

impl Default for SqsSettings {
    fn default() -> Self {
        SqsSettings {
            queue_url: String::new(),
            wait_time_secs: 20,
            max_messages_per_receive: 10,
            max_in_flight_objects: 16,
            visibility_timeout_secs: 300,
            heartbeat_interval: Duration::from_secs(100),
            max_receive_count: 5,
            retry_backoff_base_secs: 10,
            retry_backoff_max_secs: 900,
        }
    }
}

impl SqsSettings {
    /// Seconds a failed message stays invisible before its next attempt.
    pub fn backoff_secs(&self, receive_count: u32) -> i32 {
        let shift = receive_count.saturating_sub(1).min(16);
        self.retry_backoff_base_secs
            .saturating_mul(1 << shift)
            .min(self.retry_backoff_max_secs)
            .clamp(0, 43_200)
    }
}

/// What a run of the source did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub messages: u64,
    pub objects: u64,
    pub deleted: u64,
    pub ignored: u64,
    pub dead_lettered: u64,
    pub retried: u64,
    /// Messages still unfinished when the grace period ran out (left to reappear).
    pub abandoned: u64,
}

/// Liveness and readiness for `/healthz` and `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    /// The last receive succeeded and the source is not shutting down.
    pub ready: AtomicBool,
}

/// The source. Build it, then [`SqsSource::run`] it beside a pipeline.
pub struct SqsSource {
    pub client: aws_sdk_sqs::Client,
    pub settings: SqsSettings,
    pub dead_letters: DeadLetters,
    pub health: Arc<Health>,
}

struct InFlight {
    message_id: String,
    receipt: String,
    body: String,
    receive_count: u32,
    objects: Vec<String>,
    remaining: usize,
    failures: Vec<Failure>,
    heartbeat: JoinHandle<()>,
}

enum Finish {
    Delete,
    DeadLetter(String),
    Retry(Failure),
}

#[derive(Clone)]
struct Ctx {
    client: aws_sdk_sqs::Client,
    settings: Arc<SqsSettings>,
    dead_letters: DeadLetters,
    /// The one task that deletes messages (see [`deleter`]).
    deletes: mpsc::Sender<DeleteRequest>,
}

/// A message to delete, and where to say whether it was.
struct DeleteRequest {
    receipt: String,
    message_id: String,
    done: tokio::sync::oneshot::Sender<bool>,
}

impl SqsSource {
    /// Checks the queue exists and is reachable (fails fast on a wrong URL or missing
    /// permission).
    pub async fn check(&self) -> Result<(), AwsError> {
        let url = &self.settings.queue_url;
        retry(Backoff::AWS_CALL, "check queue", || async {
            self.client
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    let (c, d) = classify(&e);
                    AwsError::new(c, format!("queue {url}"), d)
                })
        })
        .await
    }

    /// Receives until `shutdown`, then drains. Jobs go to `jobs`, which is dropped when the
    /// source is done, so the pipeline drains after it.
    pub async fn run(
        self,
        jobs: mpsc::Sender<Job>,
        shutdown: impl Future<Output = ()> + Send,
        grace: Duration,
    ) -> SourceReport {
        let (deletes, delete_rx) = mpsc::channel::<DeleteRequest>(64);
        let settings = Arc::new(self.settings);
        let deleter = tokio::spawn(deleter(
            self.client.clone(),
            settings.queue_url.clone(),
            delete_rx,
        ));
        let ctx = Ctx {
            client: self.client,
            settings,
            dead_letters: self.dead_letters,
            deletes,
        };
        let health = self.health;
        let s = ctx.settings.clone();
        let max_in_flight = s.max_in_flight_objects.max(1);
        let (req_tx, req_rx) = mpsc::channel::<usize>(1);
        let mut req_tx = Some(req_tx);
        let (resp_tx, mut resp_rx) = mpsc::channel::<Vec<Message>>(1);
        let receiver = tokio::spawn(receiver(ctx.clone(), health.clone(), req_rx, resp_tx));
        let (ack_tx, mut ack_rx) = Ack::channel();

        let mut jobs = Some(jobs);
        let mut report = SourceReport::default();
        let mut msgs: HashMap<u64, InFlight> = HashMap::new();
        let mut tokens: HashMap<u64, u64> = HashMap::new();
        let mut pending: VecDeque<(u64, ObjectRef)> = VecDeque::new();
        let mut in_flight = 0usize;
        let mut next_seq = 0u64;
        let mut next_token = 0u64;
        let mut outstanding = false;
        let mut stopping = false;
        let mut pipeline_gone = false;
        let mut finalizers: JoinSet<Finish> = JoinSet::new();
        let deadline = tokio::time::sleep(Duration::MAX / 4);
        tokio::pin!(deadline);
        tokio::pin!(shutdown);

        loop {
            let held = in_flight + pending.len();
            metrics::gauge!("trailwarden_sqs_objects_in_flight").set(held as f64);
            if let (false, false, true, Some(tx)) =
                (stopping, outstanding, held < max_in_flight, &req_tx)
            {
                let n =
                    (max_in_flight - held).min(s.max_messages_per_receive.clamp(1, 10) as usize);
                if tx.try_send(n).is_ok() {
                    outstanding = true;
                }
            }
            if (pipeline_gone || (stopping && pending.is_empty())) && jobs.is_some() {
                // nothing more will be sent: let the pipeline drain
                jobs = None;
            }
            if stopping
                && !outstanding
                && msgs.is_empty()
                && jobs.is_none()
                && finalizers.is_empty()
            {
                break;
            }
            tokio::select! {
                biased;
                () = &mut shutdown, if !stopping => {
                    tracing::info!(in_flight = msgs.len(), "shutting down: no more receives, draining");
                    stopping = true;
                    health.ready.store(false, Ordering::Relaxed);
                    // no new receive; one in progress may finish: what it brings is released
                    req_tx = None;
                    deadline.as_mut().reset(tokio::time::Instant::now() + grace);
                }
                () = &mut deadline, if stopping => {
                    tracing::warn!(unfinished = msgs.len(), "grace period over: leaving unfinished messages to reappear");
                    break;
                }
                Some(o) = ack_rx.recv() => {
                    in_flight = in_flight.saturating_sub(1);
                    if let Some((seq, finish)) = on_outcome(o, &mut tokens, &mut msgs) {
                        if let Some(m) = msgs.remove(&seq) {
                            m.heartbeat.abort();
                            spawn_finish(&mut finalizers, &ctx, m, finish);
                        }
                    }
                }
                Some(r) = finalizers.join_next(), if !finalizers.is_empty() => {
                    match r {
                        Ok(Finish::Delete) => report.deleted += 1,
                        Ok(Finish::DeadLetter(_)) => report.dead_lettered += 1,
                        Ok(Finish::Retry(_)) => report.retried += 1,
                        Err(e) => tracing::error!(error = %e, "message finaliser failed"),
                    }
                }
                permit = reserve(&jobs), if !pending.is_empty() && !pipeline_gone => {
                    match permit {
                        Some(permit) => {
                            if let Some((token, object)) = pending.pop_front() {
                                permit.send(Job { object, ack: Ack::new(token, ack_tx.clone()), low_watermark: None });
                                in_flight += 1;
                            }
                        }
                        // the pipeline is gone: keep the objects; their messages will reappear
                        None => pipeline_gone = true,
                    }
                }
                r = resp_rx.recv(), if outstanding => {
                    outstanding = false;
                    let Some(r) = r else { continue };
                    if stopping {
                        release(&ctx, r.iter().filter_map(|m| m.receipt_handle.as_deref())).await;
                        continue;
                    }
                    for m in r {
                        report.messages += 1;
                        metrics::counter!("trailwarden_sqs_messages_received_total").increment(1);
                        let Some(m) = accept(m, &ctx, &mut finalizers, &mut report) else { continue };
                        let (receipt, message_id, body, receive_count, objects) = m;
                        let seq = next_seq;
                        next_seq += 1;
                        let heartbeat = tokio::spawn(heartbeat(ctx.clone(), receipt.clone()));
                        let mut names = Vec::with_capacity(objects.len());
                        for o in &objects {
                            let token = next_token;
                            next_token += 1;
                            tokens.insert(token, seq);
                            names.push(format!("s3://{}/{}", o.bucket, o.key));
                            pending.push_back((token, ObjectRef {
                                key: stable_key(&o.key),
                                location: Location::S3 { bucket: o.bucket.clone(), key: o.key.clone() },
                            }));
                        }
                        report.objects += objects.len() as u64;
                        msgs.insert(seq, InFlight {
                            message_id,
                            receipt,
                            body,
                            receive_count,
                            objects: names,
                            remaining: objects.len(),
                            failures: Vec::new(),
                            heartbeat,
                        });
                    }
                }
            }
        }
        receiver.abort();
        drop(jobs);
        // unfinished: stop renewing and let another worker have them now
        let left: Vec<InFlight> = msgs.into_values().collect();
        report.abandoned = left.len() as u64;
        for m in &left {
            m.heartbeat.abort();
        }
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            release(&ctx, left.iter().map(|m| m.receipt.as_str())),
        )
        .await;
        finalizers.abort_all();
        while finalizers.join_next().await.is_some() {}
        // every sender is gone once the last context is: the deleter finishes what it holds
        drop(ctx);
        let _ = tokio::time::timeout(Duration::from_secs(5), deleter).await;
        report
    }
}

/// Makes messages visible again at once (they were received but will not be processed here).
async fn release<'a>(ctx: &Ctx, receipts: impl Iterator<Item = &'a str>) {
    for r in receipts {
        let _ = ctx
            .client
            .change_message_visibility()
            .queue_url(&ctx.settings.queue_url)
            .receipt_handle(r)
            .visibility_timeout(0)
            .send()
            .await;
    }
}

async fn reserve(jobs: &Option<mpsc::Sender<Job>>) -> Option<mpsc::Permit<'_, Job>> {
    match jobs {
        Some(j) => j.reserve().await.ok(),
        None => std::future::pending().await,
    }
}

type Accepted = (String, String, String, u32, Vec<envelope::S3Object>);

/// Classifies a received message: objects to process, or finalised on the spot.
fn accept(
    m: Message,
    ctx: &Ctx,
    finalizers: &mut JoinSet<Finish>,
    report: &mut SourceReport,
) -> Option<Accepted> {
    let receipt = m.receipt_handle?.to_string();
    let message_id = m.message_id.unwrap_or_default();
    let body = m.body.unwrap_or_default();
    let receive_count = m
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1);
    let mut m = InFlight {
        message_id,
        receipt,
        body,
        receive_count,
        objects: Vec::new(),
        remaining: 0,
        failures: Vec::new(),
        heartbeat: tokio::spawn(async {}),
    };
    if receive_count > ctx.settings.max_receive_count {
        let why = format!(
            "received {receive_count} times, over max_receive_count {}",
            ctx.settings.max_receive_count
        );
        spawn_finish(finalizers, ctx, m, Finish::DeadLetter(why));
        return None;
    }
    match envelope::parse(&m.body) {
        Envelope::Objects { kind, objects } => {
            metrics::counter!("trailwarden_sqs_envelopes_total", "kind" => kind.as_str())
                .increment(1);
            tracing::debug!(message_id = %m.message_id, kind = kind.as_str(), objects = objects.len(), "message received");
            Some((m.receipt, m.message_id, m.body, receive_count, objects))
        }
        Envelope::Ignore { reason } => {
            report.ignored += 1;
            metrics::counter!("trailwarden_sqs_messages_ignored_total").increment(1);
            tracing::info!(message_id = %m.message_id, reason, "message ignored");
            m.objects.clear();
            spawn_finish(finalizers, ctx, m, Finish::Delete);
            None
        }
        Envelope::Unknown { reason } => {
            spawn_finish(
                finalizers,
                ctx,
                m,
                Finish::DeadLetter(format!("unknown envelope: {reason}")),
            );
            None
        }
    }
}

/// Records one object's outcome; when it was the message's last, says how to finish it.
fn on_outcome(
    o: AckOutcome,
    tokens: &mut HashMap<u64, u64>,
    msgs: &mut HashMap<u64, InFlight>,
) -> Option<(u64, Finish)> {
    let seq = tokens.remove(&o.token)?;
    let m = msgs.get_mut(&seq)?;
    m.remaining = m.remaining.saturating_sub(1);
    if let Some(f) = o.failure {
        m.failures.push(f);
    }
    if m.remaining > 0 {
        return None;
    }
    if m.failures.is_empty() {
        return Some((seq, Finish::Delete));
    }
    // one failure that may pass is worth another attempt; only poison everywhere is final
    if let Some(first) = m.failures.iter().find(|f| f.kind != FailureKind::Poison) {
        return Some((seq, Finish::Retry(first.clone())));
    }
    let reasons: Vec<&str> = m.failures.iter().map(|f| f.reason.as_str()).collect();
    Some((seq, Finish::DeadLetter(reasons.join("; "))))
}

fn spawn_finish(finalizers: &mut JoinSet<Finish>, ctx: &Ctx, m: InFlight, f: Finish) {
    let ctx = ctx.clone();
    finalizers.spawn(async move {
        match &f {
            Finish::Delete => {
                delete(&ctx, &m).await;
            }
            Finish::DeadLetter(reason) => {
                tracing::warn!(message_id = %m.message_id, reason, objects = ?m.objects, dead_letter = %ctx.dead_letters.describe(), "dead-lettering message");
                let d = DeadLetter {
                    message_id: m.message_id.clone(),
                    reason: reason.clone(),
                    receive_count: m.receive_count,
                    objects: m.objects.clone(),
                    body: m.body.clone(),
                    dead_lettered_at: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                };
                match ctx.dead_letters.send(&d).await {
                    Ok(()) => {
                        metrics::counter!("trailwarden_sqs_messages_dead_lettered_total")
                            .increment(1);
                        delete(&ctx, &m).await;
                    }
                    Err(e) => {
                        // not stored: leave it to reappear rather than lose it
                        tracing::error!(message_id = %m.message_id, error = %e, "dead letter not stored; message left on the queue");
                        return Finish::Retry(e.failure());
                    }
                }
            }
            Finish::Retry(failure) => {
                let secs = ctx.settings.backoff_secs(m.receive_count);
                let reason = failure.reason.as_str();
                if failure.kind == FailureKind::Fatal {
                    tracing::error!(message_id = %m.message_id, reason, retry_in_secs = secs, "object failed (permissions or credentials?)");
                } else {
                    tracing::warn!(message_id = %m.message_id, reason, retry_in_secs = secs, "object failed; message will reappear");
                }
                metrics::counter!("trailwarden_sqs_messages_retried_total").increment(1);
                let _ = ctx
                    .client
                    .change_message_visibility()
                    .queue_url(&ctx.settings.queue_url)
                    .receipt_handle(&m.receipt)
                    .visibility_timeout(secs)
                    .send()
                    .await;
            }
        }
        f
    });
}

async fn delete(ctx: &Ctx, m: &InFlight) {
    let (done, result) = tokio::sync::oneshot::channel();
    let req = DeleteRequest {
        receipt: m.receipt.clone(),
        message_id: m.message_id.clone(),
        done,
    };
    if ctx.deletes.send(req).await.is_err() || result.await.is_err() {
        tracing::warn!(message_id = %m.message_id, "delete not done (shutting down); the message will be redelivered");
    }
}

/// Deletes messages, one `DeleteMessageBatch` (up to 10) at a time: whatever finished while
/// the previous batch was in flight goes in the next. One deleter per worker keeps the calls
/// few under load (a tenth of one-by-one deletes) and never concurrent — concurrent deletes
/// gain nothing here, and some SQS-compatible servers lose one of two racing deletes.
async fn deleter(
    client: aws_sdk_sqs::Client,
    queue_url: String,
    mut rx: mpsc::Receiver<DeleteRequest>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 10 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let deleted = delete_batch(&client, &queue_url, &batch).await;
        for (i, r) in batch.into_iter().enumerate() {
            let ok = deleted.get(i).copied().unwrap_or(false);
            if ok {
                metrics::counter!("trailwarden_sqs_messages_deleted_total").increment(1);
            }
            let _ = r.done.send(ok);
        }
    }
}

/// One batch delete (with retries); which entries were deleted, by position.
async fn delete_batch(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    batch: &[DeleteRequest],
) -> Vec<bool> {
    use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
    let mut entries = Vec::with_capacity(batch.len());
    for (i, r) in batch.iter().enumerate() {
        match DeleteMessageBatchRequestEntry::builder()
            .id(i.to_string())
            .receipt_handle(&r.receipt)
            .build()
        {
            Ok(e) => entries.push(e),
            Err(e) => {
                tracing::error!(message_id = %r.message_id, error = %e, "cannot build a delete entry")
            }
        }
    }
    let r = retry(Backoff::AWS_CALL, "delete messages", || async {
        client
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(|e| {
                let (c, d) = classify(&e);
                AwsError::new(c, "delete messages", d)
            })
    })
    .await;
    let mut ok = vec![false; batch.len()];
    match r {
        Ok(out) => {
            for e in out.successful() {
                if let Some(slot) = e.id().parse::<usize>().ok().and_then(|i| ok.get_mut(i)) {
                    *slot = true;
                }
            }
            for f in out.failed() {
                let message_id = f
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| batch.get(i))
                    .map_or("?", |r| r.message_id.as_str());
                // the message reappears; outputs are idempotent, so redelivery is harmless
                tracing::warn!(message_id, code = f.code(), error = ?f.message(), "delete failed; the message will be redelivered");
            }
        }
        Err(e) => {
            tracing::warn!(messages = batch.len(), error = %e, "delete failed; the messages will be redelivered");
        }
    }
    ok
}

async fn heartbeat(ctx: Ctx, receipt: String) {
    let every = ctx
        .settings
        .heartbeat_interval
        .max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let r = ctx
            .client
            .change_message_visibility()
            .queue_url(&ctx.settings.queue_url)
            .receipt_handle(&receipt)
            .visibility_timeout(ctx.settings.visibility_timeout_secs)
            .send()
            .await;
        match r {
            Ok(_) => {
                metrics::counter!("trailwarden_sqs_visibility_extensions_total").increment(1);
            }
            Err(e) => {
                let (class, detail) = classify(&e);
                tracing::warn!(error = %detail, "visibility extension failed");
                if class != ErrorClass::Transient {
                    return;
                }
            }
        }
    }
}

/// Long-polls when asked, for at most the number of messages asked for.
async fn receiver(
    ctx: Ctx,
    health: Arc<Health>,
    mut req: mpsc::Receiver<usize>,
    resp: mpsc::Sender<Vec<Message>>,
) {
    let s = &ctx.settings;
    let mut failures = 0u32;
    while let Some(n) = req.recv().await {
        let r = ctx
            .client
            .receive_message()
            .queue_url(&s.queue_url)
            .max_number_of_messages(n.clamp(1, 10) as i32)
            .wait_time_seconds(s.wait_time_secs.clamp(0, 20))
            .visibility_timeout(s.visibility_timeout_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        let msgs = match r {
            Ok(out) => {
                failures = 0;
                health.ready.store(true, Ordering::Relaxed);
                out.messages.unwrap_or_default()
            }
            Err(e) => {
                let (class, detail) = classify(&e);
                failures += 1;
                health.ready.store(false, Ordering::Relaxed);
                metrics::counter!("trailwarden_sqs_receive_errors_total").increment(1);
                if class == ErrorClass::Fatal {
                    tracing::error!(error = %detail, "receive refused: check the queue URL, credentials and permissions");
                } else {
                    tracing::warn!(error = %detail, "receive failed");
                }
                tokio::time::sleep(Backoff::AWS_CALL.delay(failures.min(6))).await;
                Vec::new()
            }
        };
        if resp.send(msgs).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_by_receive_count() {
        let s = SqsSettings::default();
        assert_eq!(s.backoff_secs(1), 10);
        assert_eq!(s.backoff_secs(2), 20);
        assert_eq!(s.backoff_secs(4), 80);
        assert_eq!(s.backoff_secs(60), 900);
    }

    fn inflight(n: usize) -> InFlight {
        InFlight {
            message_id: "m".into(),
            receipt: "r".into(),
            body: String::new(),
            receive_count: 1,
            objects: vec![],
            remaining: n,
            failures: vec![],
            heartbeat: tokio::spawn(async {}),
        }
    }

    #[tokio::test]
    async fn message_finishes_after_its_last_object() {
        let mut tokens = HashMap::from([(1, 9), (2, 9)]);
        let mut msgs = HashMap::from([(9, inflight(2))]);
        let ok = |t| AckOutcome {
            token: t,
            failure: None,
        };
        assert!(on_outcome(ok(1), &mut tokens, &mut msgs).is_none());
        assert!(matches!(
            on_outcome(ok(2), &mut tokens, &mut msgs),
            Some((9, Finish::Delete))
        ));
    }

    #[tokio::test]
    async fn poison_dead_letters_transient_retries() {
        let mut tokens = HashMap::from([(1, 1), (2, 1), (3, 2), (4, 2)]);
        let mut msgs = HashMap::from([(1, inflight(2)), (2, inflight(2))]);
        let f = |t, k: FailureKind, s: &str| AckOutcome {
            token: t,
            failure: Some(Failure::new(k, s)),
        };
        assert!(on_outcome(
            AckOutcome {
                token: 1,
                failure: None
            },
            &mut tokens,
            &mut msgs
        )
        .is_none());
        let r = on_outcome(
            f(2, FailureKind::Poison, "read: get: not CloudTrail"),
            &mut tokens,
            &mut msgs,
        );
        assert!(
            matches!(r, Some((1, Finish::DeadLetter(ref why))) if why.contains("not CloudTrail"))
        );
        assert!(on_outcome(f(3, FailureKind::Poison, "read: x"), &mut tokens, &mut msgs).is_none());
        let r = on_outcome(
            f(4, FailureKind::Transient, "archive: disk full"),
            &mut tokens,
            &mut msgs,
        );
        assert!(
            matches!(r, Some((2, Finish::Retry(ref why))) if why.kind == FailureKind::Transient && why.reason.contains("disk full"))
        );
    }
}
