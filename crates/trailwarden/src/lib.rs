//! The trailwarden binary's library half: subcommands as functions, so tests and benches run
//! exactly what the command line runs. `main.rs` only parses arguments and maps exit codes.

pub mod cli;
pub mod config;
pub mod gen;
mod progress;
pub mod replay;
pub mod rules;
pub mod rules_cmd;
pub mod s3replay;
pub mod worker;
