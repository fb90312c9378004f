//! Progress while a replay runs: a bar on a terminal, periodic log lines otherwise.

use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use trailwarden_pipeline::Stats;

pub struct Progress {
    bar: Option<ProgressBar>,
    stats: Arc<Stats>,
    total: u64,
    started: Instant,
    last_log: Instant,
    log_every: Duration,
}

impl Progress {
    pub fn new(stats: Arc<Stats>, total_objects: u64, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total_objects);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            b
        });
        Progress {
            bar,
            stats,
            total: total_objects,
            started: Instant::now(),
            last_log: Instant::now(),
            log_every: Duration::from_secs(10),
        }
    }

    /// Called whenever an object completes, and on a timer.
    pub fn tick(&mut self, done: u64) {
        let events = self.stats.events.load(Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = events as f64 / secs;
        if let Some(b) = &self.bar {
            b.set_position(done);
            b.set_message(format!("{events} events · {:.0} events/s", rate));
        } else if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!(
                files = done,
                of = self.total,
                events,
                events_per_sec = rate.round() as u64,
                "replay progress"
            );
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
