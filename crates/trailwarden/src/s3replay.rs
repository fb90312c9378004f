//! `trailwarden replay s3://bucket/prefix`: historical trails straight from their bucket.
//!
//! Listing uses the CloudTrail key layout to read only what was asked for: below `AWSLogs/`
//! it lists accounts (through `o-…/` organisation folders), keeps the `--account`s, lists
//! regions below `CloudTrail/` and `CloudTrail-Insight/`, keeps the `--region`s, and starts
//! each region's listing at the `--from` day (`StartAfter`), stopping after the `--to` day
//! plus the late-delivery margin. Objects then go through the same pipeline as every run.
//!
//! **Resuming.** Each object whose outputs are durable is appended to a checkpoint file
//! (`<out>/replay-checkpoint.txt`); the same command after an interruption skips those.
//! Alerts are appended to `alerts.jsonl` as they become durable (ids already there are not
//! written twice) and the file is put in canonical order at the end.

use std::collections::HashSet;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::mpsc;
use trailwarden_alert::{canonical_order, Alert};
use trailwarden_aws::error::{classify, retry, AwsError, Backoff};
use trailwarden_aws::s3::{S3Fetcher, S3Url};
use trailwarden_aws::sinks::JsonlFile;
use trailwarden_ingest::{layout, stable_key, Filter, Location, ObjectRef};
use trailwarden_parse::Limits;
use trailwarden_pipeline::{Ack, Job, Options, Pipeline, Stats};

use crate::cli::ReplayArgs;
use crate::progress::Progress;

const DAY_MICROS: i64 = 86_400_000_000;

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
    let out = a.out.clone();
    if out.to_string_lossy().starts_with("s3://") {
        bail!("replay s3://… writes to a local --out directory (use `run` for an S3 archive)");
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let detector = crate::rules::detector(&a.policy_dirs, &a.ip_lists)?;
    let archive = if a.no_archive {
        None
    } else {
        Some(crate::rules::archive_writer(
            &out.join("archive"),
            a.row_group_rows,
        )?)
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = a.workers.unwrap_or(cores).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.clamp(2, 4))
        .max_blocking_threads(workers * 4 + 8)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let checkpoint_path = out.join("replay-checkpoint.txt");
    let done_before = read_checkpoint(&checkpoint_path)?;
    let started = Instant::now();
    let result = rt.block_on(async {
        let sdk = trailwarden_aws::sdk_config(None, None).await;
        let s3 = trailwarden_aws::s3::client(&sdk);
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
        tracing::info!(
            objects = objects.len(),
            already_done = done_before.len(),
            "replay from S3 starting"
        );
        let stats = Arc::new(Stats::default());
        let alerts = JsonlFile::open(&out.join("alerts.jsonl"))
            .with_context(|| format!("opening {}", out.join("alerts.jsonl").display()))?;
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
            alerts: Box::new(alerts),
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
            for (i, object) in objects.into_iter().enumerate() {
                let ack = Ack::new(i as u64, ack_tx.clone());
                tokio::select! {
                    _ = &mut stop => {
                        tracing::warn!("interrupted: finishing what is in flight; run the same command to resume");
                        return true;
                    }
                    r = job_tx.send(Job { object, ack }) => if r.is_err() { return false },
                }
            }
            false
        });
        let run = tokio::spawn(pipeline.run(job_rx));
        let mut ckpt = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&checkpoint_path)
            .with_context(|| format!("opening {}", checkpoint_path.display()))?;
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
                                    writeln!(ckpt, "{k}").context("writing the checkpoint")?;
                                    unsynced = true;
                                }
                            }
                            Some(f) => failures.push(f),
                        }
                        progress.tick(done);
                    }
                    None => break,
                },
                _ = timer.tick() => {
                    if unsynced {
                        ckpt.sync_data().context("syncing the checkpoint")?;
                        unsynced = false;
                    }
                    progress.tick(done);
                }
            }
        }
        ckpt.sync_all().context("syncing the checkpoint")?;
        let interrupted = feeder.await.unwrap_or(false);
        progress.finish();
        match run.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(anyhow::Error::new(e)),
            Err(e) => bail!("pipeline task failed: {e}"),
        }
        Ok::<_, anyhow::Error>((stats, failures, interrupted, total))
    });
    let (stats, failures, interrupted, total) = result?;
    sort_alerts(&out.join("alerts.jsonl"))?;
    let s = stats.summary();
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    eprintln!(
        "replay summary (S3)\n  objects      {} listed, {} skipped as done before, {} read\n  events       {} ({:.0}/s)\n  alerts       {}\n  archive      {} rows in {} files\n  bad input    {} bad objects, {} bad records\n  output       {}",
        total,
        done_before.len(),
        s.objects,
        s.events,
        s.events as f64 / secs,
        s.alerts,
        s.archive_rows,
        s.archive_files,
        s.bad_objects,
        s.bad_records,
        out.display()
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
    // done: the checkpoint has served its purpose
    let _ = std::fs::remove_file(&checkpoint_path);
    Ok(if s.had_bad_input() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
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
