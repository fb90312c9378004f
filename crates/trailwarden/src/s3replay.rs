//! `trailwarden replay s3://bucket/prefix`: historical trails straight from their bucket.
//!
//! Listing uses the CloudTrail key layout to read only what was asked for: below `AWSLogs/`
//! it lists accounts (through `o-…/` organisation folders), keeps the `--account`s, lists
//! regions below `CloudTrail/` and `CloudTrail-Insight/`, keeps the `--region`s, and starts
//! each region's listing at the `--from` day (`StartAfter`), stopping after the `--to` day
//! plus the late-delivery margin. Objects then go through the same pipeline as every run.
//!
//! Objects are read in the order of the time in their names, as a local replay reads them, so
//! stateful detectors see the same stream and the outputs are the same.
//!
//! **Outputs.** `--out DIR` or `--out s3://bucket/prefix/`: the same `alerts.jsonl` (canonical
//! order) and `archive/` (same file names and bytes) either way.
//!
//! **Resuming.** With a local `--out`, each object whose outputs are durable is appended to a
//! checkpoint file (`<out>/replay-checkpoint.txt`); the same command after an interruption
//! skips those. Alerts are appended to `alerts.jsonl` as they become durable (ids already
//! there are not written twice) and the file is put in canonical order at the end. With an S3
//! `--out` the alerts are kept until the end; an interrupted run (Ctrl-C) or one with failed
//! objects writes `alerts.jsonl` and then `replay-checkpoint.txt` below the prefix, and the
//! next run takes both up; a killed run starts over (its outputs are overwritten, not
//! duplicated).

use std::collections::HashSet;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::mpsc;
use trailwarden_alert::{canonical_order, Alert};
use trailwarden_archive::ArchiveOptions;
use trailwarden_aws::error::{classify, retry, AwsError, Backoff};
use trailwarden_aws::s3::{get_optional, put, S3Archive, S3Fetcher, S3Url};
use trailwarden_aws::sinks::JsonlFile;
use trailwarden_ingest::{layout, stable_key, Filter, Location, ObjectRef};
use trailwarden_parse::Limits;
use trailwarden_pipeline::{Ack, AlertOutput, ArchiveWriter, Job, Options, Pipeline, Stats};

use crate::cli::ReplayArgs;
use crate::progress::Progress;

const DAY_MICROS: i64 = 86_400_000_000;

/// Where a replay from S3 writes.
enum Dest {
    /// `alerts.jsonl`, `archive/`, `replay-checkpoint.txt` in a directory.
    Dir(PathBuf),
    /// The same names below an S3 prefix.
    S3(S3Url),
}

/// Alerts of an S3 `--out`, kept until the end and written as one `alerts.jsonl` object.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Alert>>>);

impl AlertOutput for Collect {
    fn write(&mut self, alerts: &[Alert]) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(alerts);
        Ok(())
    }
}

const CHECKPOINT: &str = "replay-checkpoint.txt";

pub fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let mut urls = Vec::new();
    for p in &a.paths {
        let s = p.to_string_lossy();
        match S3Url::parse(&s) {
            Some(u) => urls.push(u),
            None => bail!("{s}: mix of s3:// URLs and local paths is not supported"),
        }
    }
    let filter = Filter::new(
        a.accounts.clone(),
        a.regions.clone(),
        a.from.as_deref(),
        a.to.as_deref(),
    )?;
    let out_text = a.out.to_string_lossy().into_owned();
    let dest = if out_text.starts_with("s3://") {
        Dest::S3(
            S3Url::parse(&out_text)
                .with_context(|| format!("--out {out_text:?} is not an s3://bucket/prefix URL"))?,
        )
    } else {
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        Dest::Dir(a.out.clone())
    };
    let detect = crate::config::replay_detection(&a)?;
    let state = a
        .detect
        .state
        .as_deref()
        .map(crate::rules::StateStore::dir)
        .transpose()?;
    let detector = crate::rules::detectors(&detect, state, false)?.detector;
    let archive_options = ArchiveOptions {
        row_group_rows: a.row_group_rows,
        ..ArchiveOptions::default()
    };
    let local_archive = match (&dest, a.no_archive) {
        (Dest::Dir(d), false) => Some(crate::rules::archive_writer(
            &d.join("archive"),
            a.row_group_rows,
        )?),
        _ => None,
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = a.workers.unwrap_or(cores).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.clamp(2, 4))
        .max_blocking_threads(workers * 4 + 8)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let started = Instant::now();
    let result = rt.block_on(async {
        let sdk = trailwarden_aws::sdk_config(None, None).await;
        let s3 = trailwarden_aws::s3::client(&sdk);
        // what an interrupted run finished, and (S3 --out) the alerts it had written
        let (done_before, alerts_before) = match &dest {
            Dest::Dir(d) => (read_checkpoint(&d.join(CHECKPOINT))?, Vec::new()),
            Dest::S3(u) => read_s3_checkpoint(&s3, u).await?,
        };
        let mut objects = Vec::new();
        for u in &urls {
            for key in list(&s3, u, &filter).await? {
                if done_before.contains(&key) {
                    continue;
                }
                objects.push(ObjectRef {
                    key: stable_key(&key),
                    location: Location::S3 {
                        bucket: u.bucket.clone(),
                        key,
                    },
                });
            }
        }
        // roughly event-time order, as a local replay: stateful detectors see the same stream
        objects.sort_by_cached_key(|o| {
            let t = layout::parse(&o.key).and_then(|l| l.file_time);
            (t.unwrap_or(i64::MIN), o.key.clone())
        });
        let watermarks = crate::replay::delivery_watermarks(&objects, &detect);
        tracing::info!(
            objects = objects.len(),
            already_done = done_before.len(),
            "replay from S3 starting"
        );
        let stats = Arc::new(Stats::default());
        let collected = Collect::default();
        let (alerts, archive): (Box<dyn AlertOutput>, Option<Arc<dyn ArchiveWriter>>) = match &dest
        {
            Dest::Dir(d) => {
                let p = d.join("alerts.jsonl");
                let f = JsonlFile::open(&p).with_context(|| format!("opening {}", p.display()))?;
                (Box::new(f), local_archive)
            }
            Dest::S3(u) => {
                let archive: Option<Arc<dyn ArchiveWriter>> = if a.no_archive {
                    None
                } else {
                    Some(
                        S3Archive::new(s3.clone(), u.join("archive"), archive_options.clone())
                            .map_err(|e| anyhow::anyhow!("archive options: {e}"))?,
                    )
                };
                (Box::new(collected.clone()), archive)
            }
        };
        let pipeline = Pipeline {
            options: Options {
                decode_workers: workers,
                archive_workers: workers,
                channel_capacity: 2 * workers,
                reorder_window: 8 * workers,
                limits: Limits {
                    max_decompressed_bytes: a.max_object_mib.saturating_mul(1 << 20),
                    ..Limits::default()
                },
                filter: filter.clone(),
            },
            detector,
            archive,
            alerts,
            fetcher: Some(Arc::new(S3Fetcher::new(s3.clone(), u64::MAX))),
            stats: stats.clone(),
        };
        let total = objects.len() as u64;
        let keys: Vec<String> = objects
            .iter()
            .map(|o| match &o.location {
                Location::S3 { key, .. } => key.clone(),
                Location::Local(p) => p.display().to_string(),
            })
            .collect();
        let (job_tx, job_rx) = mpsc::channel::<Job>(2 * workers);
        let (ack_tx, mut ack_rx) = Ack::channel();
        let feeder = tokio::spawn(async move {
            let stop = tokio::signal::ctrl_c();
            tokio::pin!(stop);
            for (i, (object, low_watermark)) in objects.into_iter().zip(watermarks).enumerate() {
                let ack = Ack::new(i as u64, ack_tx.clone());
                let job = Job {
                    object,
                    ack,
                    low_watermark,
                };
                tokio::select! {
                    _ = &mut stop => {
                        tracing::warn!("interrupted: finishing what is in flight; run the same command to resume");
                        return true;
                    }
                    r = job_tx.send(job) => if r.is_err() { return false },
                }
            }
            false
        });
        let run = tokio::spawn(pipeline.run(job_rx));
        // a local checkpoint grows as objects finish; an S3 one is written at the end, with
        // the alerts it goes with
        let mut ckpt = match &dest {
            Dest::Dir(d) => {
                let path = d.join(CHECKPOINT);
                Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .with_context(|| format!("opening {}", path.display()))?,
                )
            }
            Dest::S3(_) => None,
        };
        let mut finished_now: Vec<String> = Vec::new();
        let mut progress = Progress::new(stats.clone(), total, !a.no_progress);
        let mut done = 0u64;
        let mut failures = Vec::new();
        let mut timer = tokio::time::interval(Duration::from_millis(500));
        let mut unsynced = false;
        loop {
            tokio::select! {
                o = ack_rx.recv() => match o {
                    Some(o) => {
                        done += 1;
                        match o.failure {
                            None => {
                                let k = usize::try_from(o.token).ok().and_then(|i| keys.get(i));
                                if let Some(k) = k {
                                    match &mut ckpt {
                                        Some(f) => {
                                            writeln!(f, "{k}").context("writing the checkpoint")?;
                                            unsynced = true;
                                        }
                                        None => finished_now.push(k.clone()),
                                    }
                                }
                            }
                            Some(f) => failures.push(f),
                        }
                        progress.tick(done);
                    }
                    None => break,
                },
                _ = timer.tick() => {
                    if let (true, Some(f)) = (unsynced, &ckpt) {
                        f.sync_data().context("syncing the checkpoint")?;
                        unsynced = false;
                    }
                    progress.tick(done);
                }
            }
        }
        if let Some(f) = &ckpt {
            f.sync_all().context("syncing the checkpoint")?;
        }
        let interrupted = feeder.await.unwrap_or(false);
        progress.finish();
        match run.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(anyhow::Error::new(e)),
            Err(e) => bail!("pipeline task failed: {e}"),
        }
        if let Dest::S3(u) = &dest {
            let mut all = alerts_before;
            all.extend(std::mem::take(
                &mut *collected
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ));
            let complete = !interrupted && failures.is_empty();
            let mut done_keys: Vec<String> = done_before.iter().cloned().collect();
            done_keys.extend(finished_now);
            write_s3_results(&s3, u, all, (!complete).then_some(done_keys)).await?;
        }
        Ok::<_, anyhow::Error>((stats, failures, interrupted, total, done_before.len()))
    });
    let (stats, failures, interrupted, total, done_before) = result?;
    if let Dest::Dir(d) = &dest {
        sort_alerts(&d.join("alerts.jsonl"))?;
    }
    let s = stats.summary();
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    eprintln!(
        "replay summary (S3)\n  objects      {} listed, {} skipped as done before, {} read\n  events       {} ({:.0}/s)\n  alerts       {}\n  archive      {} rows in {} files\n  bad input    {} bad objects, {} bad records\n  output       {}",
        total,
        done_before,
        s.objects,
        s.events,
        s.events as f64 / secs,
        s.alerts,
        s.archive_rows,
        s.archive_files,
        s.bad_objects,
        s.bad_records,
        out_text
    );
    if interrupted {
        eprintln!("interrupted: run the same command to resume");
        return Ok(ExitCode::from(130));
    }
    if !failures.is_empty() {
        bail!(
            "{} objects were not fully written (they will be retried by the same command): {}",
            failures.len(),
            failures[0]
        );
    }
    if let Dest::Dir(d) = &dest {
        // done: the checkpoint has served its purpose
        let _ = std::fs::remove_file(d.join(CHECKPOINT));
    }
    Ok(if s.had_bad_input() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// The checkpoint an interrupted replay left below an S3 `--out`, and the alerts it wrote
/// with it (the alerts of a complete earlier run are replaced, not merged).
async fn read_s3_checkpoint(
    s3: &aws_sdk_s3::Client,
    u: &S3Url,
) -> anyhow::Result<(HashSet<String>, Vec<Alert>)> {
    let key = format!("{}{CHECKPOINT}", u.prefix);
    let Some(bytes) = get_optional(s3, &u.bucket, &key).await? else {
        return Ok((HashSet::new(), Vec::new()));
    };
    let done: HashSet<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let alerts_key = format!("{}alerts.jsonl", u.prefix);
    let text = get_optional(s3, &u.bucket, &alerts_key)
        .await?
        .unwrap_or_default();
    let mut alerts = Vec::new();
    for (i, line) in String::from_utf8_lossy(&text).lines().enumerate() {
        let a = serde_json::from_str::<Alert>(line).with_context(|| {
            format!(
                "s3://{}/{alerts_key} line {}: not an alert",
                u.bucket,
                i + 1
            )
        })?;
        alerts.push(a);
    }
    Ok((done, alerts))
}

/// Writes `alerts.jsonl` (canonical order, each id once) below an S3 `--out`, then the
/// checkpoint when the run is not complete (`done` = every finished key), or removes it.
async fn write_s3_results(
    s3: &aws_sdk_s3::Client,
    u: &S3Url,
    mut alerts: Vec<Alert>,
    done: Option<Vec<String>>,
) -> anyhow::Result<()> {
    let mut seen = HashSet::new();
    alerts.retain(|a| seen.insert(a.id.clone()));
    canonical_order(&mut alerts);
    let mut text = String::with_capacity(alerts.len() * 700);
    for a in &alerts {
        text.push_str(&a.to_json_line());
        text.push('\n');
    }
    let alerts_key = format!("{}alerts.jsonl", u.prefix);
    put(
        s3,
        &u.bucket,
        &alerts_key,
        text.into_bytes(),
        "application/x-ndjson",
    )
    .await?;
    let ckpt_key = format!("{}{CHECKPOINT}", u.prefix);
    match done {
        Some(mut keys) => {
            keys.sort();
            let mut body = keys.join("\n");
            body.push('\n');
            put(s3, &u.bucket, &ckpt_key, body.into_bytes(), "text/plain").await?;
        }
        None => {
            s3.delete_object()
                .bucket(&u.bucket)
                .key(&ckpt_key)
                .send()
                .await
                .with_context(|| format!("removing s3://{}/{ckpt_key}", u.bucket))?;
        }
    }
    Ok(())
}

fn read_checkpoint(path: &Path) -> anyhow::Result<HashSet<String>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut set = HashSet::new();
    for line in std::io::BufReader::new(f).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if !line.is_empty() {
            set.insert(line);
        }
    }
    Ok(set)
}

/// Rewrites the alerts file in canonical order (atomically).
fn sort_alerts(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut all: Vec<Alert> = Vec::new();
    for line in text.lines() {
        if let Ok(a) = serde_json::from_str::<Alert>(line) {
            all.push(a);
        }
    }
    canonical_order(&mut all);
    let mut out = String::with_capacity(text.len());
    for a in &all {
        out.push_str(&a.to_json_line());
        out.push('\n');
    }
    let tmp: PathBuf = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(out.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// One ListObjectsV2 level: (common prefixes, keys).
async fn list_level(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    delimiter: bool,
    start_after: Option<&str>,
    stop_after: Option<&str>,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut prefixes = Vec::new();
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let what = format!("list s3://{bucket}/{prefix}");
        let page = retry(Backoff::AWS_CALL, &what, || async {
            let mut req = s3.list_objects_v2().bucket(bucket).prefix(prefix);
            if delimiter {
                req = req.delimiter("/");
            }
            if let Some(s) = start_after {
                req = req.start_after(s);
            }
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            req.send().await.map_err(|e| {
                let (c, d) = classify(&e);
                AwsError::new(c, &what, d)
            })
        })
        .await?;
        for p in page.common_prefixes() {
            if let Some(p) = p.prefix() {
                prefixes.push(p.to_string());
            }
        }
        let mut past_end = false;
        for o in page.contents() {
            if let Some(k) = o.key() {
                if stop_after.is_some_and(|s| k > s) {
                    past_end = true;
                    break;
                }
                keys.push(k.to_string());
            }
        }
        match page.next_continuation_token() {
            Some(t) if !past_end && page.is_truncated() == Some(true) => {
                token = Some(t.to_string())
            }
            _ => break,
        }
    }
    Ok((prefixes, keys))
}

/// `YYYY/MM/DD` of a day number.
fn day_path(day: i64) -> String {
    let t = day.saturating_mul(DAY_MICROS);
    let d = trailwarden_parse::format_micros(t);
    // 2024-03-01T00:00:00Z → 2024/03/01
    d.get(..10)
        .map_or_else(String::new, |s| s.replace('-', "/"))
}

/// Every trail object key under `u` the filter may want, using the layout to prune.
pub async fn list(
    s3: &aws_sdk_s3::Client,
    u: &S3Url,
    filter: &Filter,
) -> anyhow::Result<Vec<String>> {
    let bucket = &u.bucket;
    // find the AWSLogs/ root
    let root = if u.prefix.ends_with("AWSLogs/") {
        Some(u.prefix.clone())
    } else {
        let (prefixes, _) = list_level(s3, bucket, &u.prefix, true, None, None).await?;
        let want = format!("{}AWSLogs/", u.prefix);
        prefixes.into_iter().find(|p| *p == want)
    };
    let Some(root) = root else {
        // not the CloudTrail layout: everything under the prefix
        let (_, keys) = list_level(s3, bucket, &u.prefix, false, None, None).await?;
        return Ok(keys.into_iter().filter(|k| is_trail_key(k)).collect());
    };
    let (level, _) = list_level(s3, bucket, &root, true, None, None).await?;
    let mut accounts = Vec::new();
    for p in level {
        let name = p
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        if name.starts_with("o-") {
            let (inner, _) = list_level(s3, bucket, &p, true, None, None).await?;
            accounts.extend(inner);
        } else {
            accounts.push(p);
        }
    }
    let from_day = filter.from.map(|f| f.div_euclid(DAY_MICROS));
    // events up to `to` may be delivered a day later
    let to_day = filter.to.map(|t| {
        (t - 1).div_euclid(DAY_MICROS)
            + 1
            + trailwarden_ingest::filter::LATE_DELIVERY_MARGIN / DAY_MICROS
    });
    let mut keys = Vec::new();
    for acct in accounts {
        let id = acct.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if !filter.accounts.is_empty() && !filter.accounts.iter().any(|a| a == id) {
            continue;
        }
        for class in ["CloudTrail/", "CloudTrail-Insight/"] {
            let (regions, _) =
                list_level(s3, bucket, &format!("{acct}{class}"), true, None, None).await?;
            for r in regions {
                let rid = r.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                if !filter.regions.is_empty() && !filter.regions.iter().any(|x| x == rid) {
                    continue;
                }
                let start = from_day.map(|d| format!("{r}{}", day_path(d)));
                // `~` sorts after every digit and `/`: the whole last day is kept
                let stop = to_day.map(|d| format!("{r}{}~", day_path(d)));
                let (_, ks) =
                    list_level(s3, bucket, &r, false, start.as_deref(), stop.as_deref()).await?;
                keys.extend(ks.into_iter().filter(|k| {
                    is_trail_key(k) && layout::parse(k).is_none_or(|l| !filter.skips_object(&l))
                }));
            }
        }
    }
    Ok(keys)
}

fn is_trail_key(k: &str) -> bool {
    trailwarden_ingest::local::is_trail_file(k.rsplit('/').next().unwrap_or(k))
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_paths() {
        assert_eq!(super::day_path(19783), "2024/03/01");
        assert_eq!(super::day_path(0), "1970/01/01");
    }
}
