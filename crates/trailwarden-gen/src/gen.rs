//! Planning a run (time span, delivery windows, how many events go where) and producing
//! every object in a fixed order from one seeded RNG.

use std::fs;
use std::io;
use std::path::Path;

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::anomaly;
use crate::background::{write_background, Where};
use crate::catalog::{self, OpTable, ALL_PROFILES};
use crate::ids;
use crate::json::JsonWriter;
use crate::output::{self, Job, Pool, Written};
use crate::record::Scratch;
use crate::scenarios;
use crate::timefmt::{self, TRAIL_START};
use crate::world::{pick_cumulative, Kind, World};
use crate::{
    GenConfig, GenSummary, ANOMALY_SPAN_DAYS, ANONYMOUS_IPS_FILE, INSIGHT_EVENTS, MANIFEST_FILE,
    RISKY_CIDR, RISKY_IPS_FILE, RISKY_SINGLE_IP, SUSPICIOUS_IPS_FILE, TERMINATED_USERS_FILE,
};

/// Average records per log object the automatic window length aims at.
const TARGET_RECORDS_PER_OBJECT: f64 = 2000.0;
/// Seconds of trail time per event (sets how the span grows with `events`).
const SECONDS_PER_EVENT: f64 = 0.4;
/// Shortest span of a run.
const MIN_SPAN: i64 = 3600;
/// Relative event volume of an account's 1st, 2nd, 3rd and 4th region.
const REGION_VOLUME: [f64; 4] = [0.62, 0.2, 0.12, 0.06];
/// How active people are at night relative to the day (UTC).
const NIGHT_FACTOR: f64 = 0.2;
/// Mixed into the seed for the anomaly scenarios' own random stream, so turning them on does
/// not change the world or the policy scenarios.
const ANOMALY_SEED: u64 = 0x616e_6f6d_616c_7921;

#[derive(Debug, Clone)]
struct Window {
    start: i64,
    len: i64,
    count: u64,
    scenarios: Vec<usize>,
    /// Scheduled background events: (time, principal index).
    scheduled: Vec<(i64, usize)>,
}

#[derive(Debug, Clone)]
struct Stream {
    account: usize,
    /// Index into the account's regions; past them for a scenario-only region.
    region_index: usize,
    region: &'static str,
    weight: f64,
    windows: Vec<Window>,
    /// Principal indices (into the account's principals) that act in this stream.
    principals: Vec<usize>,
    cum_day: Vec<f64>,
    cum_night: Vec<f64>,
}

/// What one record of a window is.
#[derive(Debug, Clone, Copy)]
enum Item {
    /// A background event of a randomly drawn principal and operation.
    Random,
    /// A scheduled background root console sign-in (principal index).
    RootSignIn(usize),
    /// An injected scenario event (index into the scenarios).
    Scenario(usize),
}

#[derive(Debug, Clone)]
struct LogFile {
    stream: usize,
    window_start: i64,
    key: String,
    oldest: i64,
    newest: i64,
}

/// The trail's time span for a configuration.
fn span_for(cfg: &GenConfig) -> io::Result<i64> {
    let min_days = if cfg.anomaly_scenarios {
        ANOMALY_SPAN_DAYS
    } else {
        0
    };
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    match cfg.span_days {
        Some(0) => Err(invalid("span_days must be at least 1".to_string())),
        Some(d) if d < min_days => Err(invalid(format!(
            "anomaly scenarios need a span of at least {min_days} days (a week of learning first); span_days is {d}"
        ))),
        // ten years at most, as for the derived span
        Some(d) => Ok(i64::from(d.min(3650)) * 86_400),
        None => Ok(span_seconds(cfg.events).max(i64::from(min_days) * 86_400)),
    }
}

/// The trail's time span for a number of events.
pub(crate) fn span_seconds(events: u64) -> i64 {
    // Capped at ten years, which also keeps the arithmetic far from overflow.
    let raw = (events as f64 * SECONDS_PER_EVENT).min(3650.0 * 86_400.0) as i64;
    let span = raw.max(MIN_SPAN);
    (span + 299) / 300 * 300
}

fn auto_window(events: u64, span: i64, streams: usize) -> i64 {
    let objects = (events as f64 / TARGET_RECORDS_PER_OBJECT).max(1.0);
    let per_stream = (objects / streams.max(1) as f64).max((span as f64 / 300.0).min(6.0));
    let w = span as f64 / per_stream.max(1.0);
    let w = ((w / 300.0).floor() as i64).max(1) * 300;
    w.clamp(300, 6 * 3600)
}

fn is_day(t: i64) -> bool {
    (7..=19).contains(&timefmt::civil(t).hour)
}

fn prepare_out(cfg: &GenConfig) -> io::Result<()> {
    fs::create_dir_all(&cfg.out).map_err(|e| output::with_path(e, &cfg.out))?;
    let logs = cfg.out.join("AWSLogs");
    if logs.exists() {
        if cfg.overwrite {
            fs::remove_dir_all(&logs).map_err(|e| output::with_path(e, &logs))?;
        } else {
            let non_empty = fs::read_dir(&logs)
                .map_err(|e| output::with_path(e, &logs))?
                .next()
                .is_some();
            if non_empty {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} already holds a trail; choose an empty output folder or set overwrite",
                        logs.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn write_text(path: &Path, text: &[u8]) -> io::Result<()> {
    fs::write(path, text).map_err(|e| output::with_path(e, path))
}

pub(crate) fn run(cfg: &GenConfig) -> io::Result<GenSummary> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let world = World::build(&mut rng);
    let mut scenarios = if cfg.inject_scenarios {
        scenarios::build(&world, &mut rng)
    } else {
        Vec::new()
    };
    let extra_regions = if cfg.anomaly_scenarios {
        let mut arng = ChaCha8Rng::seed_from_u64(cfg.seed ^ ANOMALY_SEED);
        scenarios.extend(anomaly::build(&world, &mut arng));
        anomaly::extra_regions(&world)
    } else {
        Vec::new()
    };
    let n_scenarios = scenarios.len() as u64;
    let span = span_for(cfg)?;
    if (cfg.inject_scenarios || cfg.anomaly_scenarios) && cfg.events < n_scenarios + INSIGHT_EVENTS
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "events must be at least {} with scenarios injected ({n_scenarios} scenario events + {INSIGHT_EVENTS} insight events)",
                n_scenarios + INSIGHT_EVENTS
            ),
        ));
    }
    prepare_out(cfg)?;
    let insight_events = if cfg.events >= n_scenarios + INSIGHT_EVENTS {
        INSIGHT_EVENTS
    } else {
        0
    };
    let background = cfg.events - n_scenarios - insight_events;
    let start = TRAIL_START;
    let end = start + span;

    // Operation tables per (profile, home region or not).
    let op_tables: Vec<[OpTable; 2]> = ALL_PROFILES
        .iter()
        .map(|&p| [OpTable::new(p, false), OpTable::new(p, true)])
        .collect();
    let table = |profile: crate::catalog::Profile, home: bool| -> &OpTable {
        &op_tables[profile as usize][usize::from(home)]
    };

    // Streams: one per account and region, with the principals that act there.
    let mut streams: Vec<Stream> = Vec::new();
    for (a, acc) in world.accounts.iter().enumerate() {
        let n = acc.regions.len().min(REGION_VOLUME.len());
        let region_total: f64 = REGION_VOLUME[..n].iter().sum();
        for (ri, region_volume) in REGION_VOLUME.iter().enumerate().take(n) {
            let home = ri == 0;
            let mut principals = Vec::new();
            let mut cum_day = Vec::new();
            let mut cum_night = Vec::new();
            let (mut day, mut night) = (0.0, 0.0);
            for (pi, p) in acc.principals.iter().enumerate() {
                if p.region.is_some_and(|r| r != ri) || table(p.profile, home).ops.is_empty() {
                    continue;
                }
                day += p.activity;
                night += p.activity * if p.human { NIGHT_FACTOR } else { 1.0 };
                principals.push(pi);
                cum_day.push(day);
                cum_night.push(night);
            }
            streams.push(Stream {
                account: a,
                region_index: ri,
                region: acc.regions[ri],
                weight: acc.volume * region_volume / region_total,
                windows: Vec::new(),
                principals,
                cum_day,
                cum_night,
            });
        }
    }

    // Regions only scenarios act in: a stream each, without background.
    for (k, &(a, region)) in extra_regions.iter().enumerate() {
        let n = world.accounts.get(a).map_or(0, |acc| acc.regions.len());
        streams.push(Stream {
            account: a,
            region_index: n + k,
            region,
            weight: 0.0,
            windows: Vec::new(),
            principals: Vec::new(),
            cum_day: Vec::new(),
            cum_night: Vec::new(),
        });
    }

    // Delivery windows, and how many background events each one holds.
    let window = match cfg.window_minutes {
        Some(m) => i64::from(m.max(1)) * 60,
        // CloudTrail's own: the anomaly engine's 15-minute lateness covers the delivery order
        None if cfg.anomaly_scenarios => 300,
        None => auto_window(cfg.events, span, streams.len()),
    };
    let mut weights: Vec<f64> = Vec::new();
    for s in &mut streams {
        let day_total = s.cum_day.last().copied().unwrap_or(0.0);
        let night_ratio = if day_total > 0.0 {
            s.cum_night.last().copied().unwrap_or(0.0) / day_total
        } else {
            1.0
        };
        let mut t = start;
        while t < end {
            // Now and then CloudTrail delivers a longer window at once (5 → 15 minutes).
            let len = if rng.random_bool(0.08) {
                window + (2 * window).min(600)
            } else {
                window
            };
            let len = len.min(end - t);
            let factor = if is_day(t + len / 2) {
                1.0
            } else {
                night_ratio
            };
            let w = if s.principals.is_empty() {
                0.0
            } else {
                s.weight * factor * len as f64 * rng.random_range(0.85..1.15)
            };
            weights.push(w);
            s.windows.push(Window {
                start: t,
                len,
                count: 0,
                scenarios: Vec::new(),
                scheduled: Vec::new(),
            });
            t += len;
        }
    }
    // A few root console sign-ins per account, so that every run has some (random
    // sampling alone would almost never pick the root user in a small run).
    let mut scheduled: Vec<(usize, i64, usize)> = Vec::new();
    for (si, s) in streams.iter().enumerate() {
        if s.region_index != 0 {
            continue;
        }
        let acc = &world.accounts[s.account];
        if let Some(pi) = acc.principals.iter().position(|p| p.kind == Kind::Root) {
            for _ in 0..1 + span / (2 * 86_400) {
                scheduled.push((si, rng.random_range(start..end), pi));
            }
        }
    }
    if scheduled.len() as u64 > background {
        scheduled.clear();
    }
    for &(si, t, pi) in &scheduled {
        let wins = &mut streams[si].windows;
        let wi = wins.partition_point(|w| w.start <= t).saturating_sub(1);
        if let Some(w) = wins.get_mut(wi) {
            w.scheduled.push((t, pi));
        }
    }
    let counts = allocate(background - scheduled.len() as u64, &weights);
    let mut k = 0;
    for s in &mut streams {
        for w in &mut s.windows {
            w.count = counts.get(k).copied().unwrap_or(0);
            k += 1;
        }
    }

    // Scenario times: each group at a random moment, its events a few seconds apart.
    let n_groups = scenarios.iter().map(|e| e.group).max().unwrap_or(0) + 1;
    let lo = start + span / 20;
    let hi = (end - span / 20 - 60).max(lo + 1);
    let group_time: Vec<i64> = (0..n_groups).map(|_| rng.random_range(lo..hi)).collect();
    for (i, ev) in scenarios.iter_mut().enumerate() {
        ev.time = match ev.at {
            Some(at) => start + at,
            None => group_time.get(ev.group).copied().unwrap_or(lo) + ev.offset,
        }
        .min(end - 1);
        let si = streams
            .iter()
            .position(|s| {
                s.account == ev.account
                    && match ev.region {
                        Some(r) => s.region == r,
                        None => s.region_index == ev.region_index,
                    }
            })
            .or_else(|| streams.iter().position(|s| s.account == ev.account))
            .unwrap_or(0);
        ev.region_index = streams[si].region_index;
        let wins = &mut streams[si].windows;
        let wi = wins
            .partition_point(|w| w.start <= ev.time)
            .saturating_sub(1);
        if let Some(w) = wins.get_mut(wi) {
            w.scenarios.push(i);
        }
    }

    // Generate and write the log objects.
    let workers = if cfg.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8)
    } else {
        cfg.threads
    };
    let pool = Pool::new(workers);
    let mut results: Vec<io::Result<Written>> = Vec::new();
    let mut files: Vec<LogFile> = Vec::new();
    let mut scenario_ids: Vec<Option<[u8; 36]>> = vec![None; scenarios.len()];
    let mut scratch = Scratch::default();
    let mut arena: Vec<u8> = Vec::new();
    let mut recs: Vec<(usize, usize, i64)> = Vec::new();
    // events with a fixed time (anomaly scenarios), never delivered late
    let mut pinned: Vec<bool> = Vec::new();
    let mut items: Vec<(i64, Item)> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    let mut carry_in: Vec<u8> = Vec::new();
    let mut carry_in_recs: Vec<(usize, usize, i64)> = Vec::new();
    let mut carry_out: Vec<u8> = Vec::new();
    let mut carry_out_recs: Vec<(usize, usize, i64)> = Vec::new();
    let mut records_written: u64 = 0;

    let gen_result: io::Result<()> = (|| {
        for (si, s) in streams.iter().enumerate() {
            let acc = &world.accounts[s.account];
            let region = s.region;
            let at = Where {
                account: acc,
                region_index: s.region_index,
            };
            let home = s.region_index == 0;
            let prefix = acc.prefix();
            carry_in.clear();
            carry_in_recs.clear();
            for (wi, win) in s.windows.iter().enumerate() {
                let last = wi + 1 == s.windows.len();
                items.clear();
                for _ in 0..win.count {
                    items.push((
                        win.start + rng.random_range(0..win.len.max(1)),
                        Item::Random,
                    ));
                }
                for &(t, pi) in &win.scheduled {
                    items.push((t, Item::RootSignIn(pi)));
                }
                for &k in &win.scenarios {
                    items.push((scenarios[k].time, Item::Scenario(k)));
                }
                items.sort_by_key(|x| x.0);
                arena.clear();
                recs.clear();
                pinned.clear();
                for &(t, sc) in &items {
                    let begin = arena.len();
                    match sc {
                        Item::RootSignIn(pi) => {
                            write_background(
                                &mut arena,
                                &mut rng,
                                &mut scratch,
                                &at,
                                &acc.principals[pi],
                                &catalog::SIGNIN_CONSOLE_LOGIN,
                                t,
                            );
                        }
                        Item::Random => {
                            let cum = if is_day(t) { &s.cum_day } else { &s.cum_night };
                            let Some(ci) = pick_cumulative(&mut rng, cum) else {
                                continue;
                            };
                            let p = &acc.principals[s.principals[ci]];
                            let ops = table(p.profile, home);
                            let Some(oi) = pick_cumulative(&mut rng, &ops.cum) else {
                                continue;
                            };
                            write_background(
                                &mut arena,
                                &mut rng,
                                &mut scratch,
                                &at,
                                p,
                                ops.ops[oi],
                                t,
                            );
                        }
                        Item::Scenario(k) => {
                            let id = scenarios::write_scenario(
                                &mut arena,
                                &mut rng,
                                &mut scratch,
                                acc,
                                &scenarios[k],
                            )?;
                            scenario_ids[k] = Some(id);
                        }
                    }
                    recs.push((begin, arena.len(), t));
                    pinned.push(matches!(sc, Item::Scenario(k) if scenarios[k].at.is_some()));
                }

                // Small local shuffles, as CloudTrail's own ordering is loose.
                let n = recs.len();
                order.clear();
                order.extend(0..n);
                for i in 0..n.saturating_sub(1) {
                    if rng.random_bool(0.15) {
                        let j = (i + rng.random_range(1..=3usize)).min(n - 1);
                        order.swap(i, j);
                    }
                }
                // Late delivery: some of the last events go out with the next window.
                let late_from = win.start + win.len - (win.len / 10).min(120);
                carry_out.clear();
                carry_out_recs.clear();
                let mut kept: Vec<(bool, usize)> = Vec::with_capacity(n + carry_in_recs.len());
                for &i in &order {
                    let (b, e, t) = recs[i];
                    if !last && t >= late_from && !pinned[i] && rng.random_bool(0.35) {
                        let cb = carry_out.len();
                        carry_out.extend_from_slice(&arena[b..e]);
                        carry_out_recs.push((cb, carry_out.len(), t));
                    } else {
                        kept.push((false, i));
                    }
                }
                for ci in 0..carry_in_recs.len() {
                    let pos = rng.random_range(0..=kept.len());
                    kept.insert(pos, (true, ci));
                }
                if !kept.is_empty() {
                    let mut content = Vec::with_capacity(arena.len() + carry_in.len() + 32);
                    content.extend_from_slice(b"{\"Records\":[");
                    let (mut oldest, mut newest) = (i64::MAX, i64::MIN);
                    for (idx, &(from_carry, i)) in kept.iter().enumerate() {
                        if idx > 0 {
                            content.push(b',');
                        }
                        let (b, e, t) = if from_carry {
                            carry_in_recs[i]
                        } else {
                            recs[i]
                        };
                        let src = if from_carry { &carry_in } else { &arena };
                        content.extend_from_slice(&src[b..e]);
                        oldest = oldest.min(t);
                        newest = newest.max(t);
                    }
                    content.extend_from_slice(b"]}");
                    records_written += kept.len() as u64;
                    let key = format!(
                        "{prefix}/CloudTrail/{region}/{}/{}_CloudTrail_{region}_{}_{}.json.gz",
                        timefmt::date_path(win.start),
                        acc.id,
                        timefmt::compact_minutes(win.start),
                        ids::alnum(&mut rng, 16)
                    );
                    let index = files.len();
                    pool.submit(Job {
                        index,
                        path: cfg.out.join(&key),
                        content,
                    })?;
                    files.push(LogFile {
                        stream: si,
                        window_start: win.start,
                        key,
                        oldest,
                        newest,
                    });
                    pool.drain_ready(&mut results);
                    if results.iter().any(|r| r.is_err()) {
                        return Ok(());
                    }
                }
                std::mem::swap(&mut carry_in, &mut carry_out);
                std::mem::swap(&mut carry_in_recs, &mut carry_out_recs);
            }
        }
        Ok(())
    })();
    let finish_result = pool.finish(&mut results);
    gen_result?;
    finish_result?;
    let mut hashes: Vec<Option<Written>> = vec![None; files.len()];
    for r in results {
        let w = r?;
        if let Some(slot) = hashes.get_mut(w.index) {
            *slot = Some(w);
        }
    }
    let mut bytes_gz: u64 = 0;
    let mut written: Vec<Written> = Vec::with_capacity(files.len());
    for (i, h) in hashes.into_iter().enumerate() {
        let h = h.ok_or_else(|| io::Error::other(format!("log object {i} was not written")))?;
        bytes_gz += h.bytes_gz;
        written.push(h);
    }
    let mut object_count = files.len() as u64;

    // Digest files: one per account, region and day, chained.
    for (si, s) in streams.iter().enumerate() {
        let acc = &world.accounts[s.account];
        let region = s.region;
        let fingerprint = ids::hex(&mut rng, 32);
        let mut previous: Option<(String, String)> = None;
        let mut day = timefmt::day_start(start);
        while day < end {
            let digest_end = day + 86_400;
            let key = format!(
                "{}/CloudTrail-Digest/{region}/{}/{}_CloudTrail-Digest_{region}_{}_us-east-1_{}.json.gz",
                acc.prefix(),
                timefmt::date_path(digest_end),
                acc.id,
                acc.trail_name,
                timefmt::compact_seconds(digest_end)
            );
            let listed: Vec<usize> = files
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    f.stream == si && f.window_start >= day && f.window_start < digest_end
                })
                .map(|(i, _)| i)
                .collect();
            let oldest = listed.iter().map(|&i| files[i].oldest).min();
            let newest = listed.iter().map(|&i| files[i].newest).max();
            let signature = ids::hex(&mut rng, 512);
            let mut buf = Vec::with_capacity(1024 + listed.len() * 400);
            let mut w = JsonWriter::new(&mut buf);
            let opt_time = |w: &mut JsonWriter<'_>, k: &str, t: Option<i64>| match t {
                Some(t) => {
                    w.kv_str(k, &timefmt::iso(t));
                }
                None => {
                    w.kv_null(k);
                }
            };
            w.obj()
                .kv_str("awsAccountId", &acc.id)
                .kv_str("digestStartTime", &timefmt::iso(day))
                .kv_str("digestEndTime", &timefmt::iso(digest_end))
                .kv_str("digestS3Bucket", &acc.trail_bucket)
                .kv_str("digestS3Object", &key)
                .kv_str("digestPublicKeyFingerprint", &fingerprint)
                .kv_str("digestSignatureAlgorithm", "SHA256withRSA");
            opt_time(&mut w, "newestEventTime", newest);
            opt_time(&mut w, "oldestEventTime", oldest);
            match &previous {
                Some((prev_key, prev_hash)) => {
                    w.kv_str("previousDigestS3Bucket", &acc.trail_bucket)
                        .kv_str("previousDigestS3Object", prev_key)
                        .kv_str("previousDigestHashValue", prev_hash)
                        .kv_str("previousDigestHashAlgorithm", "SHA-256")
                        .kv_str("previousDigestSignature", &signature);
                }
                None => {
                    w.kv_null("previousDigestS3Bucket")
                        .kv_null("previousDigestS3Object")
                        .kv_null("previousDigestHashValue")
                        .kv_null("previousDigestHashAlgorithm")
                        .kv_null("previousDigestSignature");
                }
            }
            w.key("logFiles").arr();
            for &i in &listed {
                w.obj()
                    .kv_str("s3Bucket", &acc.trail_bucket)
                    .kv_str("s3Object", &files[i].key)
                    .kv_str("hashValue", &ids::to_hex(&written[i].sha256))
                    .kv_str("hashAlgorithm", "SHA-256")
                    .kv_str("newestEventTime", &timefmt::iso(files[i].newest))
                    .kv_str("oldestEventTime", &timefmt::iso(files[i].oldest))
                    .end_obj();
            }
            w.end_arr().end_obj();
            bytes_gz += output::write_gz(&cfg.out.join(&key), &buf)?;
            object_count += 1;
            previous = Some((key, ids::to_hex(&output::sha256(&buf))));
            day = digest_end;
        }
    }

    // One CloudTrail Insights object with a Start/End pair.
    if insight_events == INSIGHT_EVENTS {
        let (bytes, key) = insight_object(&world, &mut rng, start, span);
        bytes_gz += output::write_gz(&cfg.out.join(&key), &bytes)?;
        object_count += 1;
        records_written += INSIGHT_EVENTS;
    }

    // Manifest and risky address list.
    let mut manifest = Vec::with_capacity(scenarios.len() * 120);
    for (ev, id) in scenarios.iter().zip(&scenario_ids) {
        let id = id
            .as_ref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| io::Error::other(format!("scenario {} was not written", ev.scenario)))?;
        let mut line =
            serde_json::json!({"event_id": id, "scenario": ev.scenario, "expect": ev.expect});
        if let (Some(a), Some(o)) = (&ev.anomaly, line.as_object_mut()) {
            o.insert("detection".into(), a.detection.into());
            o.insert("anomaly".into(), a.alerts.clone().into());
            o.insert("principal".into(), a.principal.clone().into());
        }
        serde_json::to_writer(&mut manifest, &line).map_err(io::Error::other)?;
        manifest.push(b'\n');
    }
    write_text(&cfg.out.join(MANIFEST_FILE), &manifest)?;
    let risky = format!(
        "# trailwarden gen: risky source addresses for the risky-ip-logon policy.\n# The injected risky-ip scenarios sign in from these; background traffic never does.\n{RISKY_CIDR}\n{RISKY_SINGLE_IP}\n"
    );
    write_text(&cfg.out.join(RISKY_IPS_FILE), risky.as_bytes())?;
    let anomaly_files = [
        (ANONYMOUS_IPS_FILE, anomaly::anonymous_list()),
        (SUSPICIOUS_IPS_FILE, anomaly::suspicious_list()),
        (TERMINATED_USERS_FILE, anomaly::terminated_users()),
    ];
    for (name, text) in anomaly_files {
        let path = cfg.out.join(name);
        if cfg.anomaly_scenarios {
            write_text(&path, text.as_bytes())?;
        } else if path.exists() {
            // left by an earlier run with anomaly scenarios into this folder
            fs::remove_file(&path).map_err(|e| output::with_path(e, &path))?;
        }
    }

    if records_written != cfg.events {
        return Err(io::Error::other(format!(
            "internal error: wrote {records_written} records, expected {}",
            cfg.events
        )));
    }
    Ok(GenSummary {
        files: object_count,
        events: records_written,
        scenario_events: n_scenarios,
        bytes_gz,
    })
}

/// Splits `total` over cells in proportion to `weights`, exactly (largest remainder).
fn allocate(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if weights.is_empty() || sum <= 0.0 {
        let mut v = vec![0; weights.len()];
        if let Some(first) = v.first_mut() {
            *first = total;
        }
        return v;
    }
    let mut counts = Vec::with_capacity(weights.len());
    let mut fracs: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    let mut assigned: u64 = 0;
    for (i, w) in weights.iter().enumerate() {
        let exact = total as f64 * w.max(0.0) / sum;
        let floor = exact.floor();
        counts.push(floor as u64);
        assigned += floor as u64;
        fracs.push((exact - floor, i));
    }
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total.saturating_sub(assigned);
    let mut k = 0;
    while left > 0 && !fracs.is_empty() {
        let i = fracs[k % fracs.len()].1;
        if weights[i] > 0.0 {
            counts[i] += 1;
            left -= 1;
        }
        k += 1;
    }
    counts
}

fn insight_object<R: Rng>(world: &World, rng: &mut R, start: i64, span: i64) -> (Vec<u8>, String) {
    let acc = &world.accounts[0];
    let t0 = (start + span / 2) / 60 * 60;
    let duration = rng.random_range(3..=12i64).min((span / 120).max(1));
    let shared = ids::uuid(rng);
    let arn = acc
        .principals
        .iter()
        .find(|p| p.profile == crate::catalog::Profile::Ci)
        .map(|p| p.arn.clone())
        .unwrap_or_default();
    let baseline = 8.0 + rng.random::<f64>() * 4.0;
    let burst = baseline * (8.0 + rng.random::<f64>() * 10.0);
    let mut buf = Vec::with_capacity(4096);
    let mut w = JsonWriter::new(&mut buf);
    w.obj().key("Records").arr();
    for (state, t) in [("Start", t0), ("End", t0 + duration * 60)] {
        let event_id = ids::uuid(rng);
        w.obj()
            .kv_str("eventVersion", "1.07")
            .kv_str("eventTime", &timefmt::iso(t))
            .kv_str("awsRegion", "us-east-1")
            .kv_str("eventID", &event_id)
            .kv_str("eventType", "AwsCloudTrailInsight")
            .kv_str("recipientAccountId", &acc.id)
            .kv_str("sharedEventID", &shared)
            .key("insightDetails")
            .obj()
            .kv_str("state", state)
            .kv_str("eventSource", "ec2.amazonaws.com")
            .kv_str("eventName", "DescribeInstances")
            .kv_str("insightType", "ApiCallRateInsight")
            .key("insightContext")
            .obj()
            .key("statistics")
            .obj()
            .key("baseline")
            .obj()
            .key("average")
            .f64((baseline * 1e4).round() / 1e4)
            .end_obj()
            .key("insight")
            .obj()
            .key("average")
            .f64((burst * 1e2).round() / 1e2)
            .end_obj();
        if state == "End" {
            w.kv_u64("insightDuration", duration as u64)
                .kv_u64("baselineDuration", 10_080);
        }
        w.end_obj();
        w.key("attributions")
            .arr()
            .obj()
            .kv_str("attribute", "userIdentityArn")
            .key("insight")
            .arr()
            .obj()
            .kv_str("value", &arn)
            .key("average")
            .f64((burst * 1e2).round() / 1e2)
            .end_obj()
            .end_arr()
            .key("baseline")
            .arr()
            .obj()
            .kv_str("value", &arn)
            .key("average")
            .f64((baseline * 1e4).round() / 1e4)
            .end_obj()
            .end_arr()
            .end_obj()
            .obj()
            .kv_str("attribute", "errorCode")
            .key("insight")
            .arr()
            .obj()
            .kv_str("value", "null")
            .key("average")
            .f64((burst * 1e2).round() / 1e2)
            .end_obj()
            .end_arr()
            .key("baseline")
            .arr()
            .obj()
            .kv_str("value", "null")
            .key("average")
            .f64((baseline * 1e4).round() / 1e4)
            .end_obj()
            .end_arr()
            .end_obj()
            .end_arr();
        w.end_obj()
            .end_obj()
            .kv_str("eventCategory", "Insight")
            .end_obj();
    }
    w.end_arr().end_obj();
    let key = format!(
        "{}/CloudTrail-Insight/us-east-1/{}/{}_CloudTrail-Insight_us-east-1_{}_{}.json.gz",
        acc.prefix(),
        timefmt::date_path(t0),
        acc.id,
        timefmt::compact_minutes(t0),
        ids::alnum(rng, 16)
    );
    (buf, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact() {
        let w = [0.3, 0.0, 1.7, 2.2, 0.11];
        for total in [0u64, 1, 7, 1000, 999_983] {
            let c = allocate(total, &w);
            assert_eq!(c.iter().sum::<u64>(), total);
            assert_eq!(c[1], 0);
        }
    }

    #[test]
    fn spans_and_windows() {
        assert_eq!(span_seconds(10), 3600);
        let span = span_seconds(1_000_000);
        assert!((3 * 86_400..=7 * 86_400).contains(&span), "{span}");
        let w = auto_window(1_000_000, span, 10);
        assert!(w % 300 == 0 && w >= 300);
        assert_eq!(auto_window(5000, span_seconds(5000), 10), 600);
    }
}
