//! `trailwarden replay`: historical trails through the live topology.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::mpsc;
use trailwarden_alert::{Alert, AlertSpool};
use trailwarden_ingest::{local, Filter};
use trailwarden_parse::Limits;
use trailwarden_pipeline::{Ack, AlertOutput, Job, Options, Pipeline, Stats, Summary};

use crate::cli::ReplayArgs;
use crate::progress::Progress;

/// Alerts of a replay go to a spool (a temporary file plus small sort keys) and are written
/// in canonical order at the end, so the file does not depend on the order objects finish in,
/// and a rule that fires on most events costs disk, not memory.
#[derive(Clone)]
struct Collect(Arc<Mutex<AlertSpool>>);

impl AlertOutput for Collect {
    fn write(&mut self, alerts: &[Alert]) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut v) => v.push(alerts),
            Err(p) => p.into_inner().push(alerts),
        }
    }
}

pub fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    if a.paths
        .iter()
        .any(|p| p.to_string_lossy().starts_with("s3://"))
    {
        return crate::s3replay::run(a);
    }
    for p in &a.paths {
        // a dangling symlink exists as an entry: it is reported as unreadable, not fatal
        if p.symlink_metadata().is_err() {
            bail!("{} does not exist", p.display());
        }
    }
    let filter = Filter::new(
        a.accounts.clone(),
        a.regions.clone(),
        a.from.as_deref(),
        a.to.as_deref(),
    )?;
    let detect = crate::config::replay_detection(&a)?;
    let state = a
        .detect
        .state
        .as_deref()
        .map(crate::rules::StateStore::dir)
        .transpose()?;
    let detector = crate::rules::detectors(&detect, state, false)?.detector;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let archive = if a.no_archive {
        None
    } else {
        Some(crate::rules::archive_writer(
            &a.out.join("archive"),
            a.row_group_rows,
        )?)
    };

    let (mut objects, walk_errors) = local::walk(&a.paths);
    // roughly event-time order (the time in the file name), so windowed detectors see a
    // stream within their allowed lateness; the key breaks ties, so the order never depends on
    // how the paths were given
    objects.sort_by_cached_key(|o| {
        let t = trailwarden_ingest::layout::parse(&o.key).and_then(|l| l.file_time);
        (t.unwrap_or(i64::MIN), o.key.clone())
    });
    let watermarks = delivery_watermarks(&objects, &detect);
    for e in &walk_errors {
        tracing::warn!("{e}");
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = a.workers.unwrap_or(cores).max(1);
    let options = Options {
        decode_workers: workers,
        archive_workers: workers,
        channel_capacity: 2 * workers,
        reorder_window: 8 * workers,
        limits: Limits {
            max_decompressed_bytes: a.max_object_mib.saturating_mul(1 << 20),
            ..Limits::default()
        },
        filter,
    };
    let stats = Arc::new(Stats::default());
    let spool_path = a.out.join("alerts.jsonl.spool");
    let alerts = Collect(Arc::new(Mutex::new(
        AlertSpool::create(&spool_path)
            .with_context(|| format!("creating {}", spool_path.display()))?,
    )));
    let pipeline = Pipeline {
        options,
        detector,
        archive,
        alerts: Box::new(alerts.clone()),
        fetcher: None,
        stats: stats.clone(),
    };
    let total = objects.len() as u64;
    tracing::info!(objects = total, out = %a.out.display(), "replay starting");
    let started = Instant::now();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.min(4))
        .max_blocking_threads(workers * 2 + 4)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut progress = Progress::new(stats.clone(), total, !a.no_progress);
    let failures = rt.block_on(async {
        let (job_tx, job_rx) = mpsc::channel::<Job>(options_capacity(workers));
        let (ack_tx, mut ack_rx) = Ack::channel();
        let feeder = tokio::spawn(async move {
            for (i, (object, low_watermark)) in objects.into_iter().zip(watermarks).enumerate() {
                let ack = Ack::new(i as u64, ack_tx.clone());
                let job = Job {
                    object,
                    ack,
                    low_watermark,
                };
                if job_tx.send(job).await.is_err() {
                    break;
                }
            }
        });
        let run = tokio::spawn(pipeline.run(job_rx));
        let mut done = 0u64;
        let mut failures = Vec::new();
        let mut timer = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                o = ack_rx.recv() => match o {
                    Some(o) => {
                        done += 1;
                        if let Some(f) = o.failure { failures.push(f); }
                        progress.tick(done);
                    }
                    None => break,
                },
                _ = timer.tick() => progress.tick(done),
            }
        }
        let _ = feeder.await;
        let result = run.await;
        progress.finish();
        match result {
            Ok(Ok(())) => Ok(failures),
            Ok(Err(e)) => Err(anyhow::Error::new(e)),
            Err(e) => Err(anyhow::anyhow!("pipeline task failed: {e}")),
        }
    })?;
    let elapsed = started.elapsed();

    write_alerts(alerts, &a.out.join("alerts.jsonl"), a.alerts_stdout)?;
    let mut summary = stats.summary();
    for e in &walk_errors {
        summary.bad_objects += 1;
        summary.rejects.push(trailwarden_pipeline::Reject {
            object: e.path.display().to_string(),
            record_index: None,
            reason: "unreadable",
            detail: e.source.to_string(),
        });
    }
    summary.rejects.sort();
    write_rejects(&a.out.join("rejects.jsonl"), &summary)?;
    eprint!("{}", render_summary(&summary, total, elapsed, &a.out));
    if !failures.is_empty() {
        // outputs that could not be written: the run did not do its job
        bail!(
            "{} objects were not fully written: {}",
            failures.len(),
            failures[0]
        );
    }
    Ok(if summary.had_bad_input() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn options_capacity(workers: usize) -> usize {
    2 * workers
}

/// Writes the spooled alerts to `path` in canonical order (atomically: a temporary file,
/// fsync, rename), and to stdout when asked.
fn write_alerts(alerts: Collect, path: &Path, stdout: bool) -> anyhow::Result<()> {
    let spool = match Arc::try_unwrap(alerts.0) {
        Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(_) => bail!("the alert spool is still shared after the run"),
    };
    let tmp: PathBuf = path.with_extension("tmp");
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
    spool
        .finish(&mut w)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let f = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.display(), e.error()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if stdout {
        let mut src =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut src, &mut out).context("writing alerts to stdout")?;
        out.flush().context("writing alerts to stdout")?;
    }
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn write_rejects(path: &Path, s: &Summary) -> anyhow::Result<()> {
    let mut text = String::new();
    for r in &s.rejects {
        let v = serde_json::json!({
            "object": r.object,
            "record_index": r.record_index,
            "reason": r.reason,
            "detail": r.detail,
        });
        text.push_str(&v.to_string());
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

fn render_summary(s: &Summary, total: u64, elapsed: Duration, out: &Path) -> String {
    let secs = elapsed.as_secs_f64().max(1e-6);
    let mut t = String::new();
    let _ = writeln!(t, "replay summary");
    let _ = writeln!(
        t,
        "  files        {} found, {} read, {} skipped by filter, {} digest files",
        total, s.objects, s.objects_skipped, s.digests
    );
    let _ = writeln!(
        t,
        "  events       {} ({} insight events), {:.1} MB gzip, {:.1} MB JSON",
        s.events,
        s.insight_events,
        s.compressed_bytes as f64 / 1e6,
        s.decoded_bytes as f64 / 1e6
    );
    let _ = writeln!(t, "  alerts       {}", s.alerts);
    for (rule, n) in &s.alerts_by_rule {
        let _ = writeln!(t, "    {rule:<28} {n}");
    }
    let _ = writeln!(
        t,
        "  archive      {} rows in {} Parquet files ({:.1} MB){}",
        s.archive_rows,
        s.archive_files,
        s.archive_bytes as f64 / 1e6,
        if s.archive_failures > 0 {
            format!(", {} objects FAILED to write", s.archive_failures)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        t,
        "  bad input    {} bad files, {} bad records",
        s.bad_objects, s.bad_records
    );
    for (reason, n) in s.rejects_by_reason() {
        let _ = writeln!(t, "    {reason:<28} {n}");
    }
    for r in s.rejects.iter().take(10) {
        match r.record_index {
            Some(i) => {
                let _ = writeln!(
                    t,
                    "    {} record {}: {}: {}",
                    r.object, i, r.reason, r.detail
                );
            }
            None => {
                let _ = writeln!(t, "    {}: {}: {}", r.object, r.reason, r.detail);
            }
        }
    }
    if s.rejects.len() > 10 {
        let _ = writeln!(
            t,
            "    … {} more in {}",
            s.rejects.len() - 10,
            out.join("rejects.jsonl").display()
        );
    }
    let _ = writeln!(
        t,
        "  elapsed      {:.2}s, {:.0} events/s, {:.1} MB/s JSON",
        secs,
        s.events as f64 / secs,
        s.decoded_bytes as f64 / 1e6 / secs
    );
    let _ = writeln!(t, "  output       {}", out.display());
    t
}

/// Each object's low watermark (see `layout::low_watermarks`): from the trail's delivery order,
/// so that windowed detectors hold events only as long as the trail's objects overlap, not for
/// the whole allowed lateness (6 hours in a replay). The margin for events CloudTrail delivers
/// late is the worker's lateness, 15 minutes (or `--allowed-lateness-secs` when smaller); a
/// stream's first object is assumed to span at most the allowed lateness.
pub(crate) fn delivery_watermarks(
    objects: &[trailwarden_ingest::ObjectRef],
    detect: &crate::config::DetectSettings,
) -> Vec<Option<i64>> {
    const MARGIN_SECS: u64 = 15 * 60;
    let lateness = detect
        .allowed_lateness_secs
        .unwrap_or(crate::rules::REPLAY_LATENESS_SECS);
    let us = |secs: u64| i64::try_from(secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
    let layouts: Vec<_> = objects
        .iter()
        .map(|o| trailwarden_ingest::layout::parse(&o.key))
        .collect();
    trailwarden_ingest::layout::low_watermarks(
        &layouts,
        us(lateness),
        us(MARGIN_SECS.min(lateness)),
    )
}
