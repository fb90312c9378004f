//! Embeds every rule file of the crate: `policies/*.yaml` (the seed policies) and
//! `rules/<tactic>/*.yaml` (the built-in rule pack). Adding a rule is adding a file; the
//! generated table lists them in path order so the built-in set is deterministic.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?);
    let mut files = Vec::new();
    for sub in ["policies", "rules"] {
        println!("cargo::rerun-if-changed={sub}");
        collect(&root.join(sub), &mut files)?;
    }
    files.sort();
    let mut code =
        String::from("/// Built-in rule files (path relative to the crate, YAML text).\n");
    code.push_str("const BUILTIN: &[(&str, &str)] = &[\n");
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .map_err(std::io::Error::other)?
            .to_string_lossy()
            .replace('\\', "/");
        // Relative to the crate at compile time, not an absolute path of the checkout the
        // script last ran in: a build directory shared by several checkouts stays valid.
        let _ = writeln!(
            code,
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{rel}\"))),"
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?);
    std::fs::write(out.join("builtin.rs"), code)
}
