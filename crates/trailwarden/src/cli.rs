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
    /// Built-in and user policies: run their test cases, list them.
    Rules(RulesArgs),
    /// Generate a realistic synthetic trail in the S3 delivery layout.
    Gen(GenArgs),
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
    },
    /// List the policies.
    List {
        /// A directory of additional policy files.
        dir: Option<PathBuf>,
        /// `table` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
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
    /// Replace a trail already in --out.
    #[arg(long)]
    pub overwrite: bool,
}
