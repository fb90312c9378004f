//! Loads every rule file under the given directories (recursively) next to the built-in
//! rules and runs their test cases — a quick loop for rule authors (stateful rules run in the
//! rule-pack runtime, `trailwarden-pack`, as `trailwarden rules test` runs them):
//!
//! ```text
//! cargo run -p trailwarden-detect --example rules_test -- path/to/rules [more dirs]
//! ```
//!
//! Prints the report of the directory's rules; exits 1 when a case fails or a file does not
//! load. `trailwarden rules test DIR` is the user-facing command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trailwarden_detect::{IpLists, Policies, Policy};
use trailwarden_pack::run_policy_tests;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut files = Vec::new();
    for dir in std::env::args().skip(1) {
        if let Err(e) = yaml_files(Path::new(&dir), &mut files) {
            eprintln!("{dir}: {e}");
            return ExitCode::FAILURE;
        }
    }
    files.sort();
    let mut builtin = match Policies::builtin() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("built-in rules: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut mine = Policies::new();
    let mut failed = false;
    for f in &files {
        let loaded = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                Policy::from_yaml(&f.display().to_string(), &text).map_err(|e| e.to_string())
            });
        match loaded {
            Ok(p) => {
                if let Err(e) = mine.add(p) {
                    eprintln!("{e}");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    let report = run_policy_tests(&mine, &IpLists::new());
    print!("{report}");
    // The directory must not redefine a built-in id (unless it is the built-in file itself).
    if let Err(e) = builtin.extend(mine.clone()) {
        if !e.to_string().contains("builtin:rules/") {
            eprintln!("{e}");
            failed = true;
        }
    }
    println!("{} rule files, {} cases", files.len(), report.results.len());
    if failed || !report.all_passed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
