//! The floor the end-to-end bench compares against: how fast these cores can only read,
//! gunzip, and (optionally) parse the same objects, with no detection and no output.
//!
//! ```text
//! cargo run --release -p trailwarden-parse --example floor -- DIR [--threads N] [--gunzip-only]
//! ```
//!
//! Prints one JSON line: mode, threads, objects, events, JSON bytes, seconds. Objects are
//! shared out one at a time (an atomic counter), each thread reusing its buffers — the same
//! regime as the replay's decode workers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

// The same allocator as the `trailwarden` binary, so the floor is measured like the replay.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use trailwarden_parse::{decode_into, parse_object_with, Limits, RecordParser};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".json.gz") || n.ends_with(".json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut threads = 2usize;
    let mut gunzip_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().ok_or("--threads needs a value")?.parse()?,
            "--gunzip-only" => gunzip_only = true,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or("usage: floor DIR [--threads N] [--gunzip-only]")?;
    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    files.sort();
    let next = AtomicUsize::new(0);
    let limits = Limits::default();
    let started = Instant::now();
    let totals = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| -> std::io::Result<(u64, u64)> {
                    let mut parser = RecordParser::new();
                    let mut text = Vec::new();
                    let (mut events, mut bytes) = (0u64, 0u64);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        let raw = std::fs::read(path)?;
                        if gunzip_only {
                            decode_into(&raw, limits.max_decompressed_bytes, &mut text);
                            bytes += text.len() as u64;
                        } else {
                            let parsed = parse_object_with(&mut parser, &raw, &limits);
                            events += parsed.events.len() as u64;
                            bytes += parsed.decoded_bytes;
                        }
                    }
                    Ok((events, bytes))
                })
            })
            .collect();
        let mut t = (0u64, 0u64);
        for h in handles {
            let (e, b) = h.join().map_err(|_| "a floor thread panicked")??;
            t.0 += e;
            t.1 += b;
        }
        Ok::<_, Box<dyn std::error::Error>>(t)
    })?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"{}\",\"threads\":{threads},\"objects\":{},\"events\":{},\"json_bytes\":{},\"seconds\":{secs:.3}}}",
        if gunzip_only { "gunzip" } else { "gunzip+parse" },
        files.len(),
        totals.0,
        totals.1
    );
    Ok(())
}
