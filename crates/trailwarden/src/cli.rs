//! Command-line arguments, raw; each subcommand validates its own into settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "trailwarden",
    version,
    about = "CloudTrail threat detection: policies, alerts and a Parquet archive"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Only print errors (and the final summary).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Logs as JSON lines on stderr.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay historical trails: files and directories of CloudTrail objects.
    Replay(ReplayArgs),
    /// Built-in and user rules: run their test cases, list them, document them.
    Rules(RulesArgs),
    /// Generate a realistic synthetic trail in the S3 delivery layout.
    Gen(GenArgs),
    /// The live worker: S3 notifications from an SQS queue, until SIGTERM/SIGINT.
    Run(RunArgs),
    /// Validate a worker config file and print the effective settings.
    CheckConfig {
        /// The TOML file (`version = 1`).
        file: PathBuf,
    },
}

/// `run` flags; each overrides the config file and the environment (see docs/config.md).
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// The TOML config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The SQS queue the trail bucket notifies.
    #[arg(long)]
    pub queue_url: Option<String>,
    /// A local directory (alerts.jsonl, archive/) or s3://bucket/prefix/.
    #[arg(long)]
    pub out: Option<String>,
    /// Dead letters: an SQS queue URL, s3://bucket/prefix/ or a directory.
    #[arg(long)]
    pub dead_letter: Option<String>,
    /// Also print the alerts on stdout as JSON lines.
    #[arg(long)]
    pub alerts_stdout: bool,
    /// Also send each alert to this SQS queue.
    #[arg(long, value_name = "QUEUE_URL")]
    pub alerts_sqs: Option<String>,
    /// Also publish each alert to this SNS topic.
    #[arg(long, value_name = "TOPIC_ARN")]
    pub alerts_sns: Option<String>,
    /// Also POST each alert to this webhook (Slack-compatible body).
    #[arg(long, value_name = "URL")]
    pub alerts_webhook: Option<String>,
    /// AWS region (else AWS_REGION / the profile).
    #[arg(long)]
    pub region: Option<String>,
    /// An S3/SQS-compatible endpoint (else AWS_ENDPOINT_URL).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Serve /metrics, /healthz and /readyz on HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    #[arg(long)]
    pub max_in_flight_objects: Option<usize>,
    #[arg(long)]
    pub visibility_timeout_secs: Option<u32>,
    #[arg(long)]
    pub heartbeat_interval_secs: Option<u32>,
    #[arg(long)]
    pub max_receive_count: Option<u32>,
    #[arg(long)]
    pub wait_time_secs: Option<u32>,
    #[arg(long)]
    pub retry_backoff_base_secs: Option<u32>,
    #[arg(long)]
    pub grace_period_secs: Option<u32>,
    /// Exit after this long with nothing received and nothing in flight.
    #[arg(long)]
    pub idle_exit_secs: Option<u32>,
    /// Objects decoded and parsed at once (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// A directory of additional policy files (*.yaml).
    #[arg(long = "policies", value_name = "DIR")]
    pub policy_dirs: Vec<PathBuf>,
    /// A named IP list: NAME=FILE (repeatable).
    #[arg(long = "ip-list", value_name = "NAME=FILE")]
    pub ip_lists: Vec<String>,
    #[command(flatten)]
    pub detect: DetectArgs,
    /// How often the anomaly state is saved (also at shutdown); default 300.
    #[arg(long, value_name = "SECS")]
    pub state_save_interval_secs: Option<u32>,
    /// How late (event time) an event may arrive and still count in windowed rules (policy
    /// windows, Sigma correlations); default 900.
    #[arg(long, value_name = "SECS")]
    pub allowed_lateness_secs: Option<u64>,
    /// Do not write the Parquet archive.
    #[arg(long)]
    pub no_archive: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Files or directories (walked recursively for *.json.gz and *.json).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output directory: alerts.jsonl, archive/ (Parquet, Hive-partitioned) and rejects.jsonl.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Only events at or after this date (YYYY-MM-DD, UTC) or RFC 3339 time.
    #[arg(long)]
    pub from: Option<String>,
    /// Only events before the end of this date (YYYY-MM-DD, inclusive) or before this RFC 3339 time.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this account (repeatable).
    #[arg(long = "account", value_name = "ACCOUNT_ID")]
    pub accounts: Vec<String>,
    /// Only this region (repeatable).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// A named IP list: NAME=FILE, one IP or CIDR per line, `#` comments (repeatable).
    /// `risky` feeds the risky-ip-logon policy.
    #[arg(long = "ip-list", value_name = "NAME=FILE")]
    pub ip_lists: Vec<String>,
    /// A directory of additional policy files (*.yaml).
    #[arg(long = "policies", value_name = "DIR")]
    pub policy_dirs: Vec<PathBuf>,
    #[command(flatten)]
    pub detect: DetectArgs,
    /// Take the detection settings (policies, IP lists, Sigma, anomaly tuning) from this
    /// worker config file; flags add to or override them. Its `detection.state` is not used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How far (event time) behind the newest event an event may come, in the replay's
    /// file-time order, and still count in order in windowed rules, Sigma grouping and the
    /// anomaly engine (windowed rules default: 6 hours; the anomaly engine: its `[anomaly]`
    /// setting, 900). Raise it for trails whose files hold much older records.
    #[arg(long, value_name = "SECS")]
    pub allowed_lateness_secs: Option<u64>,
    /// Do not write the Parquet archive (detection only).
    #[arg(long)]
    pub no_archive: bool,
    /// Also print the alerts on stdout as JSON lines.
    #[arg(long)]
    pub alerts_stdout: bool,
    /// Largest decompressed object accepted (a gzip-bomb guard), in MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_object_mib: u64,
    /// Objects decoded and parsed at once (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 8192)]
    pub row_group_rows: usize,
    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Sigma rules and the anomaly engine.
#[derive(Debug, Args, Default, Clone)]
pub struct DetectArgs {
    /// A directory (or file) of Sigma rules to run natively (repeatable).
    #[arg(long = "sigma", value_name = "DIR")]
    pub sigma: Vec<PathBuf>,
    /// A MaxMind-format City database (.mmdb) for the geo anomaly detections.
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,
    /// An anonymous-IP database for `anonymous-ip`: GeoIP2 Anonymous IP or an IPinfo
    /// privacy-detection .mmdb (which categories count: `[anomaly.detections.anonymous-ip]
    /// categories`, default all but `hosting`).
    #[arg(long, value_name = "FILE")]
    pub anonymous_ip_db: Option<PathBuf>,
    /// An ASN database (GeoLite2-ASN or GeoIP2-ISP .mmdb): needed by --asn-list; puts `asn` and
    /// `as_org` in the anonymous-ip and suspicious-ip alerts.
    #[arg(long, value_name = "FILE")]
    pub asn_db: Option<PathBuf>,
    /// A named ASN list: NAME=FILE, one AS number per line (`AS16509`, `16509`), `#` comments
    /// (repeatable; needs --asn-db). `anonymous` adds to anonymous-ip, `suspicious` to
    /// suspicious-ip, like IP lists of those names.
    #[arg(long = "asn-list", value_name = "NAME=FILE")]
    pub asn_lists: Vec<String>,
    /// Terminated users: one user name or ARN per line, optionally `,<RFC 3339 time>`.
    #[arg(long, value_name = "FILE")]
    pub terminated_users: Option<PathBuf>,
    /// Where the anomaly baselines persist (restored at start, saved at the end): a directory,
    /// or for `run` also s3://bucket/prefix/.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Turn the anomaly detections off.
    #[arg(long)]
    pub no_anomaly: bool,
    /// Group the alerts of each Sigma rule (up to `detection.sigma_group_max_level`, default
    /// medium) per principal into buckets of this many seconds of event time; 0: one alert per
    /// matching event. Default 3600.
    #[arg(long, value_name = "SECS")]
    pub sigma_group_window_secs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Run every policy's test cases (built-in, plus the files in DIR) and print a table.
    Test {
        /// A directory of additional policy files.
        dir: Option<PathBuf>,
        /// Also run the test events of these Sigma rule directories (repeatable).
        #[arg(long = "sigma", value_name = "DIR")]
        sigma: Vec<PathBuf>,
    },
    /// Parse Sigma rules and report what each uses; errors with file:line.
    Check {
        /// Sigma rule directories or files (repeatable).
        #[arg(long = "sigma", value_name = "DIR", required = true)]
        sigma: Vec<PathBuf>,
    },
    /// List the rules: id, title, severity, ATT&CK, kind, test count, enabled.
    List {
        /// A directory of additional policy files.
        dir: Option<PathBuf>,
        /// `table`, or `json` (one JSON object per line).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Write the built-in rules' documentation (docs/rules.md), grouped by ATT&CK tactic.
    Docs {
        /// Where to write it (default: print to stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Output directory (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of events.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Background only: no injected attack scenarios.
    #[arg(long)]
    pub no_scenarios: bool,
    /// Also inject the anomaly detections' scenarios (a week of history for their principals,
    /// then positives and near misses on days 8–9; needs a span of at least 10 days, which it
    /// sets when --days is not given). Writes anonymous-ips.txt, suspicious-ips.txt and
    /// terminated-users.txt beside the trail.
    #[arg(long)]
    pub anomaly_scenarios: bool,
    /// Days of event time the trail spans (default: what the event count needs).
    #[arg(long, value_name = "DAYS")]
    pub days: Option<u32>,
    /// Replace a trail already in --out.
    #[arg(long)]
    pub overwrite: bool,
}
