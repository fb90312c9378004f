//! trailwarden: the command-line entry point. Parses arguments, sets up logging, runs one
//! subcommand and maps its result to an exit status:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | fatal error (bad arguments or config, an output that cannot be written) |
//! | 2 | usage error (reported by the argument parser) |
//! | 3 | finished, but some input was bad (bad objects or records; see the summary) |
//! | 4 | `rules test`: at least one policy test case failed |

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

/// Rust allocates through mimalloc; the C libraries linked in (zstd above all: Parquet makes
/// compression contexts for every column chunk it writes) use the C allocator. glibc serves
/// blocks above its mmap threshold (128 KiB at first) with fresh mappings, so each context's
/// tables were page-faulted in and unmapped again: ~1 s of system time per million events in
/// the end-to-end bench (docs/PERFORMANCE.md). With the threshold at 32 MiB (and trimming at
/// 64 MiB) they come from the heap, and freed blocks are reused.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_c_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called first thing in main,
    // before any other thread exists. A refused setting (return 0) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_c_allocator() {}

use clap::Parser;
use trailwarden::{cli, config, gen, replay, rules, worker};

fn main() -> ExitCode {
    tune_c_allocator();
    let args = cli::Cli::parse();
    init_logging(&args);
    let result = match args.command {
        cli::Command::Replay(a) => replay::run(a),
        cli::Command::Rules(a) => rules::run(a),
        cli::Command::Gen(a) => gen::run(a),
        cli::Command::Run(a) => worker::run(a),
        cli::Command::CheckConfig { file } => config::check(&file),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(args: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let default = if args.quiet {
        "error"
    } else {
        "warn,trailwarden=info"
    };
    let filter =
        EnvFilter::try_from_env("TRAILWARDEN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.log_json {
        builder.json().init();
    } else {
        builder.with_target(false).init();
    }
}
