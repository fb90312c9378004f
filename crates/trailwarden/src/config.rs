//! The worker's configuration: one TOML file (`version = 1`, unknown fields rejected), then a
//! short allow-list of environment overrides, then command-line flags; the result is validated
//! into [`WorkerSettings`] before anything starts. `docs/config.md` documents every option.
//!
//! Credentials are never configured here: the AWS default chain provides them. `AWS_REGION`
//! and `AWS_ENDPOINT_URL` are honoured by the SDK as they are; `[aws]` only overrides them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use trailwarden_anomaly::AnomalyConfig;
use trailwarden_aws::s3::S3Url;
use trailwarden_aws::sqs::SqsSettings;

use crate::cli::{DetectArgs, ReplayArgs, RunArgs};

/// The environment variables that may override the file (deployment values only).
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("TRAILWARDEN_QUEUE_URL", "source.queue_url"),
    ("TRAILWARDEN_OUT", "output.out"),
    ("TRAILWARDEN_DEAD_LETTER", "dead_letter.destination"),
    ("TRAILWARDEN_ALERTS_SQS_QUEUE_URL", "alerts.sqs_queue_url"),
    ("TRAILWARDEN_ALERTS_SNS_TOPIC_ARN", "alerts.sns_topic_arn"),
    ("TRAILWARDEN_ALERTS_WEBHOOK_URL", "alerts.webhook_url"),
    ("TRAILWARDEN_REGION", "aws.region"),
    ("TRAILWARDEN_ENDPOINT_URL", "aws.endpoint_url"),
    ("TRAILWARDEN_STATE", "detection.state"),
];

/// The file as written (every field defaulted), and the effective settings `check-config`
/// prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    #[serde(default)]
    pub aws: Aws,
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub output: Output,
    #[serde(default)]
    pub alerts: Alerts,
    #[serde(default)]
    pub dead_letter: DeadLetter,
    #[serde(default)]
    pub processing: Processing,
    #[serde(default)]
    pub detection: Detection,
    /// The anomaly engine's tuning (`docs/anomaly.md`); `enabled = false` turns it off.
    #[serde(default)]
    pub anomaly: AnomalyConfig,
    /// Which built-in and user rules run, severity overrides and exclusions
    /// (`docs/policies.md`, "Configuration").
    #[serde(default)]
    pub rules: trailwarden_detect::RulesConfig,
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub shutdown: Shutdown,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Aws {
    /// Overrides `AWS_REGION` / the profile's region.
    pub region: Option<String>,
    /// Overrides `AWS_ENDPOINT_URL` (an S3/SQS-compatible server).
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Source {
    pub queue_url: Option<String>,
    pub wait_time_secs: u32,
    pub max_messages_per_receive: u32,
    pub max_in_flight_objects: usize,
    pub visibility_timeout_secs: u32,
    /// Default: a third of the visibility timeout.
    pub heartbeat_interval_secs: Option<u32>,
    pub max_receive_count: u32,
    pub retry_backoff_base_secs: u32,
    pub retry_backoff_max_secs: u32,
}

impl Default for Source {
    fn default() -> Self {
        Source {
            queue_url: None,
            wait_time_secs: 20,
            max_messages_per_receive: 10,
            max_in_flight_objects: 16,
            visibility_timeout_secs: 300,
            heartbeat_interval_secs: None,
            max_receive_count: 5,
            retry_backoff_base_secs: 10,
            retry_backoff_max_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// A local directory or `s3://bucket/prefix/`.
    pub out: Option<String>,
    pub archive: bool,
    pub row_group_rows: usize,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            out: None,
            archive: true,
            row_group_rows: 8192,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// `alerts.jsonl` in a local `out`, `alerts/` objects in an S3 `out`.
    pub jsonl: bool,
    pub stdout: bool,
    pub sqs_queue_url: Option<String>,
    pub sns_topic_arn: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_timeout_secs: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            jsonl: true,
            stdout: false,
            sqs_queue_url: None,
            sns_topic_arn: None,
            webhook_url: None,
            webhook_timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadLetter {
    /// An SQS queue URL (`https://…`), `s3://bucket/prefix/` or a local directory. Default:
    /// `dead-letter/` under `output.out`.
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Processing {
    /// Default: the number of cores.
    pub workers: Option<usize>,
    pub max_object_mib: u64,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub policy_dirs: Vec<PathBuf>,
    /// `NAME=FILE` entries.
    pub ip_lists: Vec<String>,
}

impl Default for Processing {
    fn default() -> Self {
        Processing {
            workers: None,
            max_object_mib: 1024,
            accounts: Vec::new(),
            regions: Vec::new(),
            policy_dirs: Vec::new(),
            ip_lists: Vec::new(),
        }
    }
}

/// Sigma rules and what the anomaly engine needs (its tuning is the `[anomaly]` table).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detection {
    /// Directories (or files) of Sigma rules.
    pub sigma: Vec<PathBuf>,
    /// A MaxMind-format City database (`.mmdb`) for the geo detections.
    pub geoip: Option<PathBuf>,
    /// An anonymous-IP database (GeoIP2 Anonymous IP or IPinfo privacy `.mmdb`) for
    /// `anonymous-ip`.
    pub anonymous_ip_db: Option<PathBuf>,
    /// An ASN database (GeoLite2-ASN / GeoIP2-ISP `.mmdb`); needed by `asn_lists`.
    pub asn_db: Option<PathBuf>,
    /// `NAME=FILE` ASN lists (one AS number per line), named in a detection's `lists`.
    pub asn_lists: Vec<String>,
    /// Terminated users: one user name or ARN per line, optionally `,<RFC 3339 time>`.
    pub terminated_users: Option<PathBuf>,
    /// Where the anomaly snapshot is kept: a directory or `s3://bucket/prefix/`. Unset: the
    /// baselines start empty at every start.
    pub state: Option<String>,
    /// How often the worker saves the snapshot (it also saves at shutdown).
    pub state_save_interval_secs: u32,
    /// How far behind the newest event an event may arrive and still count in the windowed
    /// rules (policy windows, Sigma correlations) of the worker. Unset: 900. (`replay` waits
    /// for the end of its input; the anomaly engine has its own in `[anomaly]`.)
    pub allowed_lateness_secs: Option<u64>,
    /// Sigma alert grouping: the matches of one Sigma rule by one principal within a bucket
    /// of this many seconds of event time become one alert (count, event names, first event
    /// ids). 0: one alert per matching event.
    pub sigma_group_window_secs: u64,
    /// Rules up to this level are grouped (`info`, `low`, `medium`, `high`, `critical`);
    /// rules above it alert on every match.
    pub sigma_group_max_level: String,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            sigma: Vec::new(),
            geoip: None,
            anonymous_ip_db: None,
            asn_db: None,
            asn_lists: Vec::new(),
            terminated_users: None,
            state: None,
            state_save_interval_secs: 300,
            allowed_lateness_secs: None,
            sigma_group_window_secs: 3600,
            sigma_group_max_level: "medium".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// `/metrics`, `/healthz`, `/readyz`; off when unset.
    pub listen_addr: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    /// How long SIGTERM/SIGINT waits for in-flight objects (keep it below the orchestrator's).
    pub grace_period_secs: u32,
    /// Stop by itself after this long with nothing received and nothing in flight (batch
    /// runs, benchmarks); off when unset.
    pub idle_exit_secs: Option<u32>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            grace_period_secs: 25,
            idle_exit_secs: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 1,
            aws: Aws::default(),
            source: Source::default(),
            output: Output::default(),
            alerts: Alerts::default(),
            dead_letter: DeadLetter::default(),
            processing: Processing::default(),
            detection: Detection::default(),
            anomaly: AnomalyConfig::default(),
            rules: trailwarden_detect::RulesConfig::default(),
            server: Server::default(),
            shutdown: Shutdown::default(),
        }
    }
}

/// Where outputs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Dir(PathBuf),
    S3(S3Url),
}

impl Out {
    pub fn parse(s: &str) -> anyhow::Result<Out> {
        if s.starts_with("s3://") {
            return S3Url::parse(s)
                .map(Out::S3)
                .with_context(|| format!("{s:?} is not an s3://bucket/prefix URL"));
        }
        if s.is_empty() {
            bail!("output.out is empty");
        }
        Ok(Out::Dir(PathBuf::from(s)))
    }
}

/// Where dead letters go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterDest {
    Sqs(String),
    S3(S3Url),
    Dir(PathBuf),
}

/// Where the anomaly snapshot is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    Dir(PathBuf),
    S3(S3Url),
}

impl StateLocation {
    pub fn parse(s: &str) -> anyhow::Result<StateLocation> {
        if s.starts_with("s3://") {
            return S3Url::parse(s)
                .map(StateLocation::S3)
                .with_context(|| format!("{s:?} is not an s3://bucket/prefix URL"));
        }
        if s.is_empty() {
            bail!("detection.state is empty");
        }
        Ok(StateLocation::Dir(PathBuf::from(s)))
    }
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::Dir(d) => write!(f, "{}", d.display()),
            StateLocation::S3(u) => write!(f, "{u}"),
        }
    }
}

/// What detection runs: policies, Sigma rules, the anomaly engine. Shared by `run` and
/// `replay`.
#[derive(Debug, Clone, Default)]
pub struct DetectSettings {
    /// Policy directories beside the built-in policies.
    pub policy_dirs: Vec<PathBuf>,
    /// `NAME=FILE` IP lists.
    pub ip_lists: Vec<String>,
    pub sigma: Vec<PathBuf>,
    pub geoip: Option<PathBuf>,
    pub anonymous_ip_db: Option<PathBuf>,
    pub asn_db: Option<PathBuf>,
    /// `NAME=FILE` ASN lists.
    pub asn_lists: Vec<String>,
    pub terminated_users: Option<PathBuf>,
    /// The anomaly engine's configuration (validated); `None`: the engine is off.
    pub anomaly: Option<AnomalyConfig>,
    /// The worker's lateness for windowed rules; `None`: the engines' default (900 s).
    pub allowed_lateness_secs: Option<u64>,
    /// `[rules]`: enable/disable selectors, severity overrides, exclusions.
    pub rules: trailwarden_detect::RulesConfig,
    /// Sigma alert grouping; `None`: one alert per matching event.
    pub sigma_grouping: Option<trailwarden_sigma::Grouping>,
}

/// Validated settings: what the worker runs with.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub sqs: SqsSettings,
    pub out: Out,
    pub archive: bool,
    pub row_group_rows: usize,
    pub alerts: Alerts,
    pub dead_letter: DeadLetterDest,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub listen_addr: Option<std::net::SocketAddr>,
    pub grace: Duration,
    pub idle_exit: Option<Duration>,
    pub workers: usize,
    pub max_object_bytes: u64,
    pub processing: Processing,
    pub detect: DetectSettings,
    /// Where the anomaly snapshot is restored from and saved to.
    pub state: Option<StateLocation>,
    pub state_save_interval: Duration,
}

impl Config {
    /// Parses a file's text (no environment, no validation).
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        let c: Config = toml::from_str(text).context("parsing the config")?;
        if c.version != 1 {
            bail!("config version {} is not supported (expected 1)", c.version);
        }
        Ok(c)
    }

    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Config::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Applies the allow-listed environment overrides from `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        for (var, _) in ENV_OVERRIDES {
            let Some(v) = get(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            match *var {
                "TRAILWARDEN_QUEUE_URL" => self.source.queue_url = Some(v),
                "TRAILWARDEN_OUT" => self.output.out = Some(v),
                "TRAILWARDEN_DEAD_LETTER" => self.dead_letter.destination = Some(v),
                "TRAILWARDEN_ALERTS_SQS_QUEUE_URL" => self.alerts.sqs_queue_url = Some(v),
                "TRAILWARDEN_ALERTS_SNS_TOPIC_ARN" => self.alerts.sns_topic_arn = Some(v),
                "TRAILWARDEN_ALERTS_WEBHOOK_URL" => self.alerts.webhook_url = Some(v),
                "TRAILWARDEN_REGION" => self.aws.region = Some(v),
                "TRAILWARDEN_ENDPOINT_URL" => self.aws.endpoint_url = Some(v),
                "TRAILWARDEN_STATE" => self.detection.state = Some(v),
                _ => {}
            }
        }
    }

    /// Applies command-line flags (they win over the file and the environment).
    pub fn apply_flags(&mut self, a: &RunArgs) {
        fn set<T: Clone>(slot: &mut T, v: &Option<T>) {
            if let Some(v) = v {
                *slot = v.clone();
            }
        }
        fn set_opt<T: Clone>(slot: &mut Option<T>, v: &Option<T>) {
            if v.is_some() {
                slot.clone_from(v);
            }
        }
        set_opt(&mut self.source.queue_url, &a.queue_url);
        set_opt(&mut self.output.out, &a.out);
        set_opt(&mut self.dead_letter.destination, &a.dead_letter);
        set_opt(&mut self.alerts.sqs_queue_url, &a.alerts_sqs);
        set_opt(&mut self.alerts.sns_topic_arn, &a.alerts_sns);
        set_opt(&mut self.alerts.webhook_url, &a.alerts_webhook);
        set_opt(&mut self.aws.region, &a.region);
        set_opt(&mut self.aws.endpoint_url, &a.endpoint_url);
        set_opt(&mut self.server.listen_addr, &a.listen);
        set(
            &mut self.source.max_in_flight_objects,
            &a.max_in_flight_objects,
        );
        set(
            &mut self.source.visibility_timeout_secs,
            &a.visibility_timeout_secs,
        );
        set_opt(
            &mut self.source.heartbeat_interval_secs,
            &a.heartbeat_interval_secs,
        );
        set(&mut self.source.max_receive_count, &a.max_receive_count);
        set(&mut self.source.wait_time_secs, &a.wait_time_secs);
        set(
            &mut self.source.retry_backoff_base_secs,
            &a.retry_backoff_base_secs,
        );
        set(&mut self.shutdown.grace_period_secs, &a.grace_period_secs);
        set_opt(&mut self.shutdown.idle_exit_secs, &a.idle_exit_secs);
        set_opt(&mut self.processing.workers, &a.workers);
        if a.alerts_stdout {
            self.alerts.stdout = true;
        }
        if a.no_archive {
            self.output.archive = false;
        }
        self.processing
            .policy_dirs
            .extend(a.policy_dirs.iter().cloned());
        self.processing.ip_lists.extend(a.ip_lists.iter().cloned());
        self.apply_detect_flags(&a.detect);
        set(
            &mut self.detection.state_save_interval_secs,
            &a.state_save_interval_secs,
        );
        if a.allowed_lateness_secs.is_some() {
            self.detection.allowed_lateness_secs = a.allowed_lateness_secs;
        }
    }

    /// Applies the detection flags shared by `run` and `replay`: Sigma directories add to the
    /// file's, the others replace its values.
    pub fn apply_detect_flags(&mut self, d: &DetectArgs) {
        self.detection.sigma.extend(d.sigma.iter().cloned());
        if d.geoip.is_some() {
            self.detection.geoip.clone_from(&d.geoip);
        }
        if d.anonymous_ip_db.is_some() {
            self.detection
                .anonymous_ip_db
                .clone_from(&d.anonymous_ip_db);
        }
        if d.asn_db.is_some() {
            self.detection.asn_db.clone_from(&d.asn_db);
        }
        self.detection.asn_lists.extend(d.asn_lists.iter().cloned());
        if d.terminated_users.is_some() {
            self.detection
                .terminated_users
                .clone_from(&d.terminated_users);
        }
        if let Some(s) = &d.state {
            self.detection.state = Some(s.to_string_lossy().into_owned());
        }
        if d.no_anomaly {
            self.anomaly.enabled = Some(false);
        }
        if let Some(w) = d.sigma_group_window_secs {
            self.detection.sigma_group_window_secs = w;
        }
    }

    /// The detection settings of this file (`[processing]` policies and IP lists,
    /// `[detection]`, `[anomaly]`), validated.
    pub fn detect_settings(&self) -> anyhow::Result<DetectSettings> {
        self.anomaly
            .validate()
            .map_err(|e| anyhow::anyhow!("[anomaly]: {e}"))?;
        let d = &self.detection;
        for (what, p) in [
            ("geoip", &d.geoip),
            ("anonymous_ip_db", &d.anonymous_ip_db),
            ("asn_db", &d.asn_db),
            ("terminated_users", &d.terminated_users),
        ] {
            if p.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                bail!("detection.{what} is empty");
            }
        }
        for spec in &d.asn_lists {
            if !spec
                .split_once('=')
                .is_some_and(|(n, f)| !n.trim().is_empty() && !f.is_empty())
            {
                bail!("detection.asn_lists: `{spec}` is not NAME=FILE (--asn-list NAME=FILE)");
            }
        }
        if !d.asn_lists.is_empty() && d.asn_db.is_none() {
            bail!(
                "ASN lists (--asn-list / detection.asn_lists) need an ASN database: give \
                 --asn-db FILE (detection.asn_db), a GeoLite2-ASN or GeoIP2-ISP .mmdb"
            );
        }
        let max_severity: trailwarden_alert::Severity =
            d.sigma_group_max_level.parse().map_err(|_| {
                anyhow::anyhow!(
                    "detection.sigma_group_max_level {:?}: expected info, low, medium, high or critical",
                    d.sigma_group_max_level
                )
            })?;
        let sigma_grouping = (d.sigma_group_window_secs > 0).then(|| trailwarden_sigma::Grouping {
            window_secs: d.sigma_group_window_secs,
            max_severity,
            ..trailwarden_sigma::Grouping::default_hourly()
        });
        Ok(DetectSettings {
            sigma_grouping,
            policy_dirs: self.processing.policy_dirs.clone(),
            ip_lists: self.processing.ip_lists.clone(),
            sigma: d.sigma.clone(),
            geoip: d.geoip.clone(),
            anonymous_ip_db: d.anonymous_ip_db.clone(),
            asn_db: d.asn_db.clone(),
            asn_lists: d.asn_lists.clone(),
            terminated_users: d.terminated_users.clone(),
            anomaly: (self.anomaly.enabled != Some(false)).then(|| self.anomaly.clone()),
            allowed_lateness_secs: d.allowed_lateness_secs,
            rules: self.rules.clone(),
        })
    }

    /// Checks every value and resolves defaults.
    pub fn validate(&self) -> anyhow::Result<WorkerSettings> {
        let s = &self.source;
        let Some(queue_url) = s.queue_url.clone().filter(|q| !q.is_empty()) else {
            bail!("no queue: set source.queue_url, TRAILWARDEN_QUEUE_URL or --queue-url");
        };
        if !(queue_url.starts_with("https://") || queue_url.starts_with("http://")) {
            bail!("source.queue_url {queue_url:?} is not an SQS queue URL (https://…)");
        }
        let Some(out) = self.output.out.as_deref() else {
            bail!("no output: set output.out, TRAILWARDEN_OUT or --out");
        };
        let out = Out::parse(out)?;
        if s.wait_time_secs > 20 {
            bail!("source.wait_time_secs {} is over 20", s.wait_time_secs);
        }
        if !(1..=10).contains(&s.max_messages_per_receive) {
            bail!(
                "source.max_messages_per_receive {} is not within 1..=10",
                s.max_messages_per_receive
            );
        }
        if s.max_in_flight_objects == 0 {
            bail!("source.max_in_flight_objects must be at least 1");
        }
        if !(1..=43_200).contains(&s.visibility_timeout_secs) {
            bail!(
                "source.visibility_timeout_secs {} is not within 1..=43200",
                s.visibility_timeout_secs
            );
        }
        let heartbeat = s.heartbeat_interval_secs.map_or(
            Duration::from_millis(u64::from(s.visibility_timeout_secs) * 1000 / 3),
            |h| Duration::from_secs(u64::from(h)),
        );
        if heartbeat.is_zero()
            || heartbeat >= Duration::from_secs(u64::from(s.visibility_timeout_secs))
        {
            bail!(
                "source.heartbeat_interval_secs must be above 0 and below visibility_timeout_secs"
            );
        }
        if s.max_receive_count == 0 {
            bail!("source.max_receive_count must be at least 1");
        }
        if s.retry_backoff_base_secs > s.retry_backoff_max_secs || s.retry_backoff_max_secs > 43_200
        {
            bail!(
                "source.retry_backoff_base_secs must be at most retry_backoff_max_secs (≤ 43200)"
            );
        }
        let dead_letter = match self.dead_letter.destination.as_deref() {
            Some(d) if d.starts_with("https://") || d.starts_with("http://") => {
                DeadLetterDest::Sqs(d.to_string())
            }
            Some(d) if d.starts_with("s3://") => DeadLetterDest::S3(
                S3Url::parse(d).with_context(|| format!("dead_letter.destination {d:?}"))?,
            ),
            Some("") => bail!("dead_letter.destination is empty"),
            Some(d) => DeadLetterDest::Dir(PathBuf::from(d)),
            None => match &out {
                Out::Dir(d) => DeadLetterDest::Dir(d.join("dead-letter")),
                Out::S3(u) => DeadLetterDest::S3(u.join("dead-letter")),
            },
        };
        if let Some(w) = &self.alerts.webhook_url {
            if !(w.starts_with("https://") || w.starts_with("http://")) {
                bail!("alerts.webhook_url {w:?} is not an http(s) URL");
            }
        }
        if self.output.row_group_rows == 0 {
            bail!("output.row_group_rows must be at least 1");
        }
        let listen_addr = match self.server.listen_addr.as_deref() {
            None | Some("") => None,
            Some(a) => Some(
                a.parse()
                    .with_context(|| format!("server.listen_addr {a:?} is not HOST:PORT"))?,
            ),
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = self.processing.workers.unwrap_or(cores);
        if workers == 0 {
            bail!("processing.workers must be at least 1");
        }
        let detect = self.detect_settings()?;
        let state = match self.detection.state.as_deref() {
            None => None,
            Some(s) => {
                Some(StateLocation::parse(s).with_context(|| format!("detection.state {s:?}"))?)
            }
        };
        if self.detection.state_save_interval_secs == 0 {
            bail!("detection.state_save_interval_secs must be at least 1");
        }
        Ok(WorkerSettings {
            sqs: SqsSettings {
                queue_url,
                wait_time_secs: s.wait_time_secs as i32,
                max_messages_per_receive: s.max_messages_per_receive as i32,
                max_in_flight_objects: s.max_in_flight_objects,
                visibility_timeout_secs: s.visibility_timeout_secs as i32,
                heartbeat_interval: heartbeat,
                max_receive_count: s.max_receive_count,
                retry_backoff_base_secs: s.retry_backoff_base_secs as i32,
                retry_backoff_max_secs: s.retry_backoff_max_secs as i32,
            },
            out,
            archive: self.output.archive,
            row_group_rows: self.output.row_group_rows,
            alerts: self.alerts.clone(),
            dead_letter,
            region: self.aws.region.clone(),
            endpoint_url: self.aws.endpoint_url.clone(),
            listen_addr,
            grace: Duration::from_secs(u64::from(self.shutdown.grace_period_secs)),
            idle_exit: self
                .shutdown
                .idle_exit_secs
                .map(|s| Duration::from_secs(u64::from(s))),
            workers,
            max_object_bytes: self.processing.max_object_mib.saturating_mul(1 << 20),
            processing: self.processing.clone(),
            detect,
            state,
            state_save_interval: Duration::from_secs(u64::from(
                self.detection.state_save_interval_secs,
            )),
        })
    }
}

/// File (when given) → environment → flags → validated.
pub fn resolve(a: &RunArgs) -> anyhow::Result<(Config, WorkerSettings)> {
    let mut c = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    c.apply_env(|k| std::env::var(k).ok());
    c.apply_flags(a);
    let s = c.validate()?;
    Ok((c, s))
}

/// `replay`'s detection: the detection sections of `--config FILE` (when given) under the
/// flags. The file's `detection.state` is not used: it is the live worker's, and a replay of
/// other days must not write into its baselines; give `--state DIR` to keep a replay's own.
pub fn replay_detection(a: &ReplayArgs) -> anyhow::Result<DetectSettings> {
    let mut c = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(s) = c.detection.state.take() {
        tracing::info!(state = %s, "replay does not use the config's detection.state (the worker's); --state DIR keeps a replay's own");
    }
    c.processing
        .policy_dirs
        .extend(a.policy_dirs.iter().cloned());
    c.processing.ip_lists.extend(a.ip_lists.iter().cloned());
    c.apply_detect_flags(&a.detect);
    if a.allowed_lateness_secs.is_some() {
        c.detection.allowed_lateness_secs = a.allowed_lateness_secs;
    }
    let context = || match &a.config {
        Some(p) => format!("in {}", p.display()),
        None => "in the detection flags".to_string(),
    };
    c.detect_settings().with_context(context)
}

/// The line saying what feeds `anonymous-ip` (IP lists, ASN lists, the anonymous-IP
/// database), from the configuration alone: the files are not read.
pub fn anonymous_sources(c: &Config) -> anyhow::Result<String> {
    let names = |specs: &[String]| -> Vec<String> {
        specs
            .iter()
            .filter_map(|s| s.split_once('=').map(|(n, _)| n.trim().to_string()))
            .collect()
    };
    let (ips, asns) = (names(&c.processing.ip_lists), names(&c.detection.asn_lists));
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let asns: Vec<&str> = asns.iter().map(String::as_str).collect();
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let (anon, asn) = (
        path(&c.detection.anonymous_ip_db),
        path(&c.detection.asn_db),
    );
    c.anomaly
        .anonymous_ip_sources(&ips, &asns, anon.as_deref(), asn.as_deref())
        .map_err(|e| anyhow::anyhow!("[anomaly]: {e}"))
}

/// `trailwarden check-config FILE`: validates and prints the effective settings.
pub fn check(path: &Path) -> anyhow::Result<std::process::ExitCode> {
    let mut c = Config::load(path)?;
    c.apply_env(|k| std::env::var(k).ok());
    c.validate()?;
    // `[rules]` selectors must name rules that exist (built-in or in the policy directories).
    let policies = crate::rules::load_policies(&c.processing.policy_dirs)?;
    let overrides = c
        .rules
        .resolve(&policies)
        .context("checking the [rules] configuration")?;
    let text = toml::to_string_pretty(&c).context("printing the settings")?;
    println!(
        "# effective settings ({} + environment overrides)",
        path.display()
    );
    // Rules that are on but will not run for want of a setting (not an error).
    for d in trailwarden_detect::missing_settings(&policies, &overrides) {
        println!("# rule {} will not run: {}", d.id, d.reason);
    }
    println!("# {}", anonymous_sources(&c)?);
    print!("{text}");
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
version = 1
[source]
queue_url = "https://sqs.eu-west-1.amazonaws.com/111122223333/trail-events"
[output]
out = "s3://lake/cloudtrail/"
"#;

    #[test]
    fn minimal_config_defaults() {
        let c = Config::from_toml(MIN).unwrap();
        let s = c.validate().unwrap();
        assert_eq!(s.sqs.wait_time_secs, 20);
        assert_eq!(s.sqs.max_messages_per_receive, 10);
        assert_eq!(s.sqs.heartbeat_interval, Duration::from_secs(100));
        assert_eq!(
            s.out,
            Out::S3(S3Url::parse("s3://lake/cloudtrail/").unwrap())
        );
        assert_eq!(
            s.dead_letter,
            DeadLetterDest::S3(S3Url::parse("s3://lake/cloudtrail/dead-letter/").unwrap())
        );
        assert_eq!(s.grace, Duration::from_secs(25));
        assert!(s.listen_addr.is_none());
    }

    #[test]
    fn unknown_fields_and_versions_rejected() {
        assert!(Config::from_toml(&format!("{MIN}\nextra = 1")).is_err());
        let typo = MIN.replace("queue_url", "queue_ulr");
        assert!(Config::from_toml(&typo).is_err());
        assert!(Config::from_toml(&MIN.replace("version = 1", "version = 2")).is_err());
        assert!(
            Config::from_toml("[source]\n").is_err(),
            "version is required"
        );
    }

    #[test]
    fn env_allow_list_overrides_file() {
        let mut c = Config::from_toml(MIN).unwrap();
        c.apply_env(|k| match k {
            "TRAILWARDEN_QUEUE_URL" => Some("https://q/2".into()),
            "TRAILWARDEN_OUT" => Some("/data/out".into()),
            "TRAILWARDEN_ENDPOINT_URL" => Some("http://127.0.0.1:5000".into()),
            "TRAILWARDEN_WORKERS" => Some("99".into()), // not on the list
            _ => None,
        });
        let s = c.validate().unwrap();
        assert_eq!(s.sqs.queue_url, "https://q/2");
        assert_eq!(s.out, Out::Dir("/data/out".into()));
        assert_eq!(
            s.dead_letter,
            DeadLetterDest::Dir("/data/out/dead-letter".into())
        );
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_ne!(s.workers, 99);
    }

    #[test]
    fn invalid_values_rejected() {
        for (from, to) in [
            ("[output]", "[output]\nrow_group_rows = 0"),
            ("[source]", "[source]\nwait_time_secs = 21"),
            ("[source]", "[source]\nmax_messages_per_receive = 11"),
            ("[source]", "[source]\nmax_in_flight_objects = 0"),
            (
                "[source]",
                "[source]\nvisibility_timeout_secs = 30\nheartbeat_interval_secs = 30",
            ),
            ("queue_url = \"https", "queue_url = \"ftp"),
            ("s3://lake", "s3://"),
        ] {
            let c = Config::from_toml(&MIN.replace(from, to)).unwrap();
            assert!(c.validate().is_err(), "{to}");
        }
        let no_queue = Config::from_toml("version = 1\n[output]\nout = \"x\"").unwrap();
        assert!(no_queue.validate().is_err());
    }

    #[test]
    fn dead_letter_kinds() {
        for (d, want) in [
            ("https://sqs/q/dlq", "sqs"),
            ("s3://b/dl/", "s3"),
            ("/var/dl", "dir"),
        ] {
            let mut c = Config::from_toml(MIN).unwrap();
            c.dead_letter.destination = Some(d.into());
            let got = match c.validate().unwrap().dead_letter {
                DeadLetterDest::Sqs(_) => "sqs",
                DeadLetterDest::S3(_) => "s3",
                DeadLetterDest::Dir(_) => "dir",
            };
            assert_eq!(got, want);
        }
    }

    #[test]
    fn detection_and_anomaly_sections() {
        let text = format!(
            r#"{MIN}
[detection]
sigma = ["rules/sigma"]
terminated_users = "offboarded.txt"
state = "s3://lake/state/"
state_save_interval_secs = 60

[anomaly]
learning_days = 3
exclude = {{ principals = ["*:role/Scanner"] }}

[anomaly.detections.mass-vm-deletion]
min_count = 3
severity = "critical"
"#
        );
        let c = Config::from_toml(&text).unwrap();
        let s = c.validate().unwrap();
        assert_eq!(s.detect.sigma, vec![PathBuf::from("rules/sigma")]);
        assert_eq!(
            s.detect.terminated_users,
            Some(PathBuf::from("offboarded.txt"))
        );
        assert_eq!(
            s.state,
            Some(StateLocation::S3(S3Url::parse("s3://lake/state/").unwrap()))
        );
        assert_eq!(s.state_save_interval, Duration::from_secs(60));
        let a = s.detect.anomaly.unwrap();
        assert_eq!(a.learning_days, Some(3));
        assert_eq!(a.detections["mass-vm-deletion"].min_count, Some(3));
        // defaults: anomaly on, no state, five minutes
        let d = Config::from_toml(MIN).unwrap().validate().unwrap();
        assert!(d.detect.anomaly.is_some());
        assert!(d.state.is_none());
        assert_eq!(d.state_save_interval, Duration::from_secs(300));
        assert_eq!(d.detect.allowed_lateness_secs, None);
        // printing and re-reading keeps the anomaly table
        let again = Config::from_toml(&toml::to_string_pretty(&c).unwrap()).unwrap();
        assert_eq!(again.anomaly, c.anomaly);
        let off = Config::from_toml(&format!("{MIN}\n[anomaly]\nenabled = false\n")).unwrap();
        assert!(off.validate().unwrap().detect.anomaly.is_none());
    }

    #[test]
    fn bad_detection_settings_rejected() {
        let error = |extra: &str| -> String {
            let c = Config::from_toml(&format!("{MIN}\n{extra}\n")).unwrap();
            format!("{:#}", c.validate().expect_err(extra))
        };
        for (extra, names) in [
            (
                "[anomaly.detections.no-such-detection]\nenabled = true",
                "no-such-detection",
            ),
            (
                "[anomaly.detections.anonymous-ip]\nmin_count = 3",
                "min_count",
            ),
            ("[anomaly]\nmax_principals = 0", "max_principals"),
            ("[detection]\nstate = \"s3://\"", "detection.state"),
            (
                "[detection]\nstate_save_interval_secs = 0",
                "state_save_interval_secs",
            ),
        ] {
            let e = error(extra);
            assert!(e.contains(names), "{extra}: {e}");
        }
        assert!(error("[anomaly]\nmax_principals = 0").contains("[anomaly]"));
        for (typo, field) in [
            ("[anomaly]\nlearning_dayz = 3", "learning_dayz"),
            ("[detection]\nsigmas = []", "sigmas"),
        ] {
            let e = Config::from_toml(&format!("{MIN}\n{typo}\n")).unwrap_err();
            assert!(format!("{e:#}").contains(field), "{typo}: {e:#}");
        }
    }

    #[test]
    fn detection_flags_and_env_win() {
        let text = format!(
            "{MIN}\n[detection]\nsigma = [\"a\"]\ngeoip = \"file.mmdb\"\nstate = \"/var/state\"\n"
        );
        let mut c = Config::from_toml(&text).unwrap();
        c.apply_env(|k| (k == "TRAILWARDEN_STATE").then(|| "s3://b/st/".to_string()));
        let a = RunArgs {
            detect: DetectArgs {
                sigma: vec!["b".into()],
                geoip: Some("other.mmdb".into()),
                no_anomaly: true,
                ..DetectArgs::default()
            },
            state_save_interval_secs: Some(7),
            allowed_lateness_secs: Some(3600),
            ..RunArgs::default()
        };
        c.apply_flags(&a);
        let s = c.validate().unwrap();
        assert_eq!(s.detect.sigma, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(s.detect.geoip, Some(PathBuf::from("other.mmdb")));
        assert!(s.detect.anomaly.is_none());
        assert_eq!(
            s.state,
            Some(StateLocation::S3(S3Url::parse("s3://b/st/").unwrap()))
        );
        assert_eq!(s.state_save_interval, Duration::from_secs(7));
        assert_eq!(s.detect.allowed_lateness_secs, Some(3600));
    }

    #[test]
    fn anonymous_ip_databases_asn_lists_and_the_sources_line() {
        let text = format!(
            "{MIN}\n[processing]\nip_lists = [\"anonymous=tor.txt\", \"risky=r.txt\"]\n[detection]\nanonymous_ip_db = \"anon.mmdb\"\nasn_db = \"asn.mmdb\"\nasn_lists = [\"anonymous=vpn.txt\"]\n[anomaly.detections.anonymous-ip]\ncategories = [\"tor\", \"hosting\"]\n"
        );
        let mut c = Config::from_toml(&text).unwrap();
        let s = c.validate().unwrap();
        assert_eq!(s.detect.anonymous_ip_db, Some(PathBuf::from("anon.mmdb")));
        assert_eq!(s.detect.asn_db, Some(PathBuf::from("asn.mmdb")));
        assert_eq!(s.detect.asn_lists, vec!["anonymous=vpn.txt".to_string()]);
        let line = anonymous_sources(&c).unwrap();
        assert_eq!(
            line,
            "anonymous-ip sources: IP lists `anonymous`; ASN lists `anonymous`; anonymous-IP \
             database anon.mmdb, categories tor, hosting; ASN database asn.mmdb (asn, as_org in \
             the evidence)"
        );
        // flags: the databases replace the file's, ASN lists add to them
        c.apply_detect_flags(&DetectArgs {
            anonymous_ip_db: Some("other.mmdb".into()),
            asn_lists: vec!["suspicious=bad.txt".into()],
            ..DetectArgs::default()
        });
        let s = c.validate().unwrap();
        assert_eq!(s.detect.anonymous_ip_db, Some(PathBuf::from("other.mmdb")));
        assert_eq!(s.detect.asn_db, Some(PathBuf::from("asn.mmdb")));
        assert_eq!(
            s.detect.asn_lists,
            vec![
                "anonymous=vpn.txt".to_string(),
                "suspicious=bad.txt".to_string()
            ]
        );
        // nothing given: the line says the detection is off and what it takes
        let none = anonymous_sources(&Config::from_toml(MIN).unwrap()).unwrap();
        assert!(
            none.contains("none") && none.contains("--anonymous-ip-db"),
            "{none}"
        );
        // ASN lists need the ASN database; a list must be NAME=FILE; paths not empty
        for (extra, names) in [
            (
                "[detection]\nasn_lists = [\"anonymous=vpn.txt\"]",
                &["--asn-list", "--asn-db"][..],
            ),
            (
                "[detection]\nasn_db = \"a.mmdb\"\nasn_lists = [\"vpn.txt\"]",
                &["vpn.txt", "NAME=FILE"][..],
            ),
            (
                "[detection]\nanonymous_ip_db = \"\"",
                &["anonymous_ip_db"][..],
            ),
            (
                "[anomaly.detections.anonymous-ip]\ncategories = [\"darknet\"]",
                &["darknet"][..],
            ),
        ] {
            let c = Config::from_toml(&format!("{MIN}\n{extra}\n")).unwrap();
            let e = format!("{:#}", c.validate().expect_err(extra));
            for n in names {
                assert!(e.contains(n), "{extra}: {e}");
            }
        }
    }

    #[test]
    fn replay_reads_the_detection_sections_but_not_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.toml");
        std::fs::write(
            &file,
            format!(
                "{MIN}\n[processing]\nip_lists = [\"risky=r.txt\"]\n[detection]\nsigma = [\"a\"]\nterminated_users = \"t.txt\"\nstate = \"s3://lake/state/\"\n[anomaly]\nlearning_days = 2\n"
            ),
        )
        .unwrap();
        use clap::Parser as _;
        let parse = |extra: &[&str]| {
            let mut args = vec!["trailwarden", "replay", "trail/", "--config"];
            let f = file.to_string_lossy().to_string();
            args.push(&f);
            args.extend_from_slice(extra);
            match crate::cli::Cli::try_parse_from(args).unwrap().command {
                crate::cli::Command::Replay(r) => replay_detection(&r).unwrap(),
                _ => unreachable!(),
            }
        };
        let d = parse(&[]);
        assert_eq!(d.sigma, vec![PathBuf::from("a")]);
        assert_eq!(d.ip_lists, vec!["risky=r.txt".to_string()]);
        assert_eq!(d.terminated_users, Some(PathBuf::from("t.txt")));
        assert_eq!(d.anomaly.unwrap().learning_days, Some(2));
        let d = parse(&[
            "--terminated-users",
            "u.txt",
            "--sigma",
            "b",
            "--no-anomaly",
        ]);
        assert_eq!(d.terminated_users, Some(PathBuf::from("u.txt")));
        assert_eq!(d.sigma, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert!(d.anomaly.is_none());
    }

    #[test]
    fn rules_section_reaches_the_detection_settings_and_is_checked() {
        let text = format!(
            "{MIN}\n[rules]\ndisable = [\"tactic:discovery\"]\n[rules.rule.root-console-login]\nseverity = \"critical\"\n"
        );
        let c = Config::from_toml(&text).unwrap();
        let d = c.detect_settings().unwrap();
        assert_eq!(d.rules.disable, vec!["tactic:discovery".to_string()]);
        let policies = crate::rules::load_policies(&[]).unwrap();
        assert!(d.rules.resolve(&policies).is_ok());
        // An unknown key is refused; a selector naming no rule fails the resolution.
        assert!(Config::from_toml(&format!("{MIN}\n[rules]\ndisabled = []\n")).is_err());
        let bad =
            Config::from_toml(&format!("{MIN}\n[rules]\ndisable = [\"no-such-rule\"]\n")).unwrap();
        assert!(bad
            .detect_settings()
            .unwrap()
            .rules
            .resolve(&policies)
            .is_err());
    }

    #[test]
    fn example_config_parses_and_validates() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/trailwarden.example.toml");
        let c = Config::load(&p).unwrap();
        c.validate().unwrap();
        let policies = crate::rules::load_policies(&c.processing.policy_dirs).unwrap();
        c.rules.resolve(&policies).unwrap();
        // printing and re-reading the effective settings is lossless
        let again = Config::from_toml(&toml::to_string_pretty(&c).unwrap()).unwrap();
        assert_eq!(format!("{again:?}"), format!("{c:?}"));
    }
}
