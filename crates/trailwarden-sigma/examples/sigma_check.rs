//! `cargo run -p trailwarden-sigma --example sigma_check -- DIR…`: loads Sigma rules and prints
//! the `rules check` report and the `rules test` table (what the CLI will print).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    match trailwarden_sigma::SigmaRules::load_dirs(&dirs) {
        Ok(rules) => {
            print!("{}", trailwarden_sigma::check_report(&rules));
            let report = trailwarden_sigma::run_rule_tests(&rules);
            print!("{}", report.render());
            if report.all_passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(4)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
