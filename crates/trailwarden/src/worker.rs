//! `trailwarden run`: the live worker. The SQS source feeds the same pipeline replay uses,
//! with the same detectors (policies, Sigma rules with a live lateness, the anomaly engine);
//! outputs are the archive (local or S3) and the alert sinks; `/metrics`, `/healthz` and
//! `/readyz` on request.
//!
//! Anomaly state: with `detection.state` the snapshot is restored before the first receive,
//! saved every `state_save_interval_secs` when something changed, and saved once more after
//! the pipeline has drained at shutdown. Events still held behind the watermark stay in the
//! snapshot instead of being processed early, so the next start goes on in event-time order.
//!
//! Shutdown: SIGTERM or SIGINT (or `idle_exit_secs` of nothing to do) stops the source; the
//! pipeline drains what was received; the process exits within the grace period, leaving
//! what is unfinished on the queue.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use trailwarden_archive::ArchiveOptions;
use trailwarden_aws::deadletter::DeadLetters;
use trailwarden_aws::s3::{S3Archive, S3Blob, S3Fetcher};
use trailwarden_aws::sinks::{Fanout, JsonlFile, S3Jsonl, SnsAlerts, SqsAlerts, Stdout, Webhook};
use trailwarden_aws::sqs::{Health, SqsSource};
use trailwarden_ingest::Filter;
use trailwarden_parse::Limits;
use trailwarden_pipeline::{AlertOutput, ArchiveWriter, Job, Options, Pipeline, Stats};

use crate::cli::RunArgs;
use crate::config::{self, DeadLetterDest, Out, StateLocation, WorkerSettings};
use crate::rules::{AnomalyState, Detectors, StateStore, SNAPSHOT_NAME};

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let (_, s) = config::resolve(&a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(s.workers.clamp(2, 4))
        .max_blocking_threads(s.workers * 4 + 16)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = rt.block_on(run_async(s));
    // blocking threads stuck on a down sink must not hold the exit
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run_async(s: WorkerSettings) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let health = Arc::new(Health::default());
    if let Some(addr) = s.listen_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr().ok();
        tracing::info!(addr = ?local, "serving /metrics, /healthz, /readyz");
        tokio::spawn(serve(listener, metrics, health.clone()));
    }

    let sdk = trailwarden_aws::sdk_config(s.region.as_deref(), s.endpoint_url.as_deref()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let s3 = trailwarden_aws::s3::client(&sdk);

    let store = match &s.state {
        None => None,
        Some(StateLocation::Dir(d)) => Some(StateStore::dir(d)?),
        Some(StateLocation::S3(u)) => Some(StateStore::S3(
            S3Blob::new(s3.clone(), u, SNAPSHOT_NAME)
                .map_err(|e| anyhow::anyhow!("anomaly state {u}: {e}"))?,
        )),
    };
    // rules, databases and the snapshot are read on a blocking thread
    let detect = s.detect.clone();
    let Detectors {
        detector,
        state: anomaly_state,
    } = tokio::task::spawn_blocking(move || crate::rules::detectors(&detect, store, true))
        .await
        .context("loading the detectors")??;
    let archive: Option<Arc<dyn ArchiveWriter>> = match (&s.out, s.archive) {
        (_, false) => None,
        (Out::Dir(d), true) => Some(crate::rules::archive_writer(
            &d.join("archive"),
            s.row_group_rows,
        )?),
        (Out::S3(u), true) => {
            let options = ArchiveOptions {
                row_group_rows: s.row_group_rows,
                ..ArchiveOptions::default()
            };
            Some(
                S3Archive::new(s3.clone(), u.join("archive"), options)
                    .map_err(|e| anyhow::anyhow!("archive options: {e}"))?,
            )
        }
    };
    let alerts = alert_outputs(&s, &sdk, &s3, &sqs)?;
    let dead_letters = match &s.dead_letter {
        DeadLetterDest::Sqs(q) => DeadLetters::Sqs {
            client: sqs.clone(),
            queue_url: q.clone(),
        },
        DeadLetterDest::S3(u) => DeadLetters::S3 {
            client: s3.clone(),
            url: u.clone(),
        },
        DeadLetterDest::Dir(d) => DeadLetters::Dir(d.clone()),
    };
    let filter = Filter::new(
        s.processing.accounts.clone(),
        s.processing.regions.clone(),
        None,
        None,
    )?;
    let stats = Arc::new(Stats::default());
    let pipeline = Pipeline {
        options: Options {
            decode_workers: s.workers,
            archive_workers: s.workers,
            channel_capacity: 2 * s.workers,
            reorder_window: 8 * s.workers,
            limits: Limits {
                max_decompressed_bytes: s.max_object_bytes,
                ..Limits::default()
            },
            filter,
        },
        detector,
        archive,
        alerts: Box::new(alerts),
        fetcher: Some(Arc::new(S3Fetcher::new(s3.clone(), s.max_object_bytes))),
        stats: stats.clone(),
    };
    let source = SqsSource {
        client: sqs,
        settings: s.sqs.clone(),
        dead_letters,
        health: health.clone(),
    };
    source
        .check()
        .await
        .with_context(|| format!("the queue {} cannot be used", s.sqs.queue_url))?;
    tracing::info!(queue = %s.sqs.queue_url, out = ?s.out, dead_letter = ?s.dead_letter, state = ?s.state.as_ref().map(ToString::to_string), "worker started");

    let (job_tx, job_rx) = mpsc::channel::<Job>(2 * s.workers);
    let mut pipe = tokio::spawn(pipeline.run(job_rx));
    let (dead_tx, mut dead_rx) = tokio::sync::oneshot::channel::<()>();
    let idle = s.idle_exit;
    let idle_stats = stats.clone();
    let shutdown = async move {
        tokio::select! {
            () = signal() => tracing::info!("signal received"),
            () = idle_watch(idle, idle_stats) => tracing::info!("idle: stopping"),
            _ = &mut dead_rx => tracing::error!("pipeline stopped: shutting down"),
        }
    };
    let mut source_task = tokio::spawn(source.run(job_tx, shutdown, s.grace));
    let saver = anomaly_state
        .clone()
        .map(|st| tokio::spawn(save_periodically(st, s.state_save_interval)));
    // the pipeline ends after the source closes the job channel, or early when a stage failed
    let mut dead_tx = Some(dead_tx);
    let mut pipe_result = None;
    let report = loop {
        tokio::select! {
            r = &mut pipe, if pipe_result.is_none() => {
                if let Some(t) = dead_tx.take() {
                    let _ = t.send(());
                }
                pipe_result = Some(r);
            }
            r = &mut source_task => break r.context("source task failed")?,
        }
    };
    let pipe_result = match pipe_result {
        Some(r) => r,
        None => match tokio::time::timeout(Duration::from_secs(2), &mut pipe).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!("pipeline did not drain in time");
                pipe.abort();
                Ok(Ok(()))
            }
        },
    };
    // the last snapshot: after the pipeline, so it holds everything detection has seen
    if let Some(t) = saver {
        t.abort();
    }
    let anomaly_line = match &anomaly_state {
        Some(st) => Some(final_save(st).await),
        None => None,
    };
    let sum = stats.summary();
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    eprintln!(
        "worker summary\n  messages     {} received, {} deleted, {} ignored, {} dead-lettered, {} left to retry, {} unfinished at exit\n  objects      {} ({} read)\n  events       {} ({:.0}/s over {:.1}s)\n  alerts       {}\n  archive      {} rows in {} files",
        report.messages,
        report.deleted,
        report.ignored,
        report.dead_lettered,
        report.retried,
        report.abandoned,
        report.objects,
        sum.objects,
        sum.events,
        sum.events as f64 / secs,
        secs,
        sum.alerts,
        sum.archive_rows,
        sum.archive_files
    );
    if let Some(line) = anomaly_line {
        eprintln!("  anomaly      {line}");
    }
    match pipe_result {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context("the pipeline failed")),
        Err(e) => Err(anyhow::anyhow!("pipeline task failed: {e}")),
    }
}

fn alert_outputs(
    s: &WorkerSettings,
    sdk: &aws_config::SdkConfig,
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
) -> anyhow::Result<Fanout> {
    let mut outs: Vec<Box<dyn AlertOutput>> = Vec::new();
    let a = &s.alerts;
    if a.jsonl {
        match &s.out {
            Out::Dir(d) => {
                let p = d.join("alerts.jsonl");
                outs.push(Box::new(
                    JsonlFile::open(&p).with_context(|| format!("opening {}", p.display()))?,
                ));
            }
            Out::S3(u) => outs.push(Box::new(S3Jsonl::new(s3.clone(), u.join("alerts"))?)),
        }
    }
    if a.stdout {
        outs.push(Box::new(Stdout));
    }
    if let Some(q) = &a.sqs_queue_url {
        outs.push(Box::new(SqsAlerts::new(sqs.clone(), q.clone())?));
    }
    if let Some(t) = &a.sns_topic_arn {
        outs.push(Box::new(SnsAlerts::new(
            aws_sdk_sns::Client::new(sdk),
            t.clone(),
        )?));
    }
    if let Some(w) = &a.webhook_url {
        outs.push(Box::new(Webhook::new(
            w.clone(),
            Duration::from_secs(u64::from(a.webhook_timeout_secs)),
        )?));
    }
    if outs.is_empty() {
        tracing::warn!("no alert output configured: alerts are counted and dropped");
    }
    Ok(Fanout(outs))
}

/// How long the snapshot at shutdown may take (the orchestrator's grace period is meant to be
/// `grace_period_secs` plus a margin of this order).
const FINAL_SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Saves the anomaly state every `every` (when something changed), until aborted. A failed
/// save is logged and counted; the next one tries again.
async fn save_periodically(state: Arc<AnomalyState>, every: Duration) {
    let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        t.tick().await;
        let st = state.clone();
        match tokio::task::spawn_blocking(move || st.save()).await {
            Ok(Ok(Some(s))) => {
                tracing::debug!(state = %state.describe(), bytes = s.bytes, principals = s.principals, pending = s.pending, "anomaly state saved")
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!("{e:#}"),
            Err(e) => tracing::error!("anomaly state save task failed: {e}"),
        }
    }
}

/// The snapshot at shutdown; returns the summary line.
async fn final_save(state: &Arc<AnomalyState>) -> String {
    let st = state.clone();
    let saved = tokio::time::timeout(
        FINAL_SAVE_TIMEOUT,
        tokio::task::spawn_blocking(move || st.save()),
    )
    .await;
    let restored = match state.restored() {
        Some(n) => format!("restored {n} principals at start"),
        None => "none at start".to_string(),
    };
    let at = state.describe();
    let last = match saved {
        Ok(Ok(Ok(Some(s)))) => {
            tracing::info!(state = %at, principals = s.principals, pending = s.pending, "anomaly state saved");
            format!(
                "saved at exit ({} principals, {} events held behind the watermark)",
                s.principals, s.pending
            )
        }
        Ok(Ok(Ok(None))) => "unchanged since the last save".to_string(),
        Ok(Ok(Err(e))) => {
            tracing::error!("{e:#}");
            format!("NOT saved at exit: {e:#}")
        }
        Ok(Err(e)) => {
            tracing::error!("anomaly state save task failed: {e}");
            format!("NOT saved at exit: {e}")
        }
        Err(_) => {
            tracing::error!(state = %at, "anomaly state save did not finish within {}s", FINAL_SAVE_TIMEOUT.as_secs());
            "NOT saved at exit: timed out".to_string()
        }
    };
    format!("state {at}: {restored}, {} saves; {last}", state.saves())
}

/// SIGTERM or SIGINT.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves after `idle` with no object finished (pending for ever when `idle` is `None`).
async fn idle_watch(idle: Option<Duration>, stats: Arc<Stats>) {
    let Some(idle) = idle else {
        return std::future::pending().await;
    };
    let mut last = (u64::MAX, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let n =
            stats.objects.load(Ordering::Relaxed) + stats.objects_skipped.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() >= idle {
            return;
        }
    }
}

/// A minimal HTTP/1.1 responder for probes and scrapes.
async fn serve(
    listener: tokio::net::TcpListener,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    health: Arc<Health>,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let health = health.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match path {
                "/metrics" => ("200 OK", metrics.render()),
                "/healthz" => ("200 OK", "ok\n".to_string()),
                "/readyz" if health.ready.load(Ordering::Relaxed) => {
                    ("200 OK", "ready\n".to_string())
                }
                "/readyz" => ("503 Service Unavailable", "not ready\n".to_string()),
                _ => ("404 Not Found", "not found\n".to_string()),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
