//! Turning rendered JSON into `.json.gz` objects on disk.
//!
//! Compression is the expensive part of a run, so log objects go through a small pool of
//! worker threads. The bytes of every object are decided before it reaches the pool (the
//! RNG is only used on the generating thread), and gzip at a fixed level with a zero header
//! mtime is a pure function of its input, so the output is identical whatever the thread
//! count or scheduling.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

/// The gzip level of every object.
pub(crate) const GZIP_LEVEL: u32 = 6;

/// Gzips `content` (header mtime 0, no file name) and writes it to `path`, creating parent
/// folders. Returns the compressed size.
pub(crate) fn write_gz(path: &Path, content: &[u8]) -> io::Result<u64> {
    let mut enc = GzBuilder::new().mtime(0).write(
        Vec::with_capacity(content.len() / 6 + 64),
        Compression::new(GZIP_LEVEL),
    );
    enc.write_all(content)?;
    let gz = enc.finish()?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| with_path(e, parent))?;
    }
    fs::write(path, &gz).map_err(|e| with_path(e, path))?;
    Ok(gz.len() as u64)
}

pub(crate) fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

pub(crate) fn sha256(content: &[u8]) -> [u8; 32] {
    Sha256::digest(content).into()
}

/// A log object to compress and write.
pub(crate) struct Job {
    pub index: usize,
    pub path: PathBuf,
    pub content: Vec<u8>,
}

/// What the pool reports for a written object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub index: usize,
    /// SHA-256 of the uncompressed content (the digest files' `hashValue`).
    pub sha256: [u8; 32],
    pub bytes_gz: u64,
}

/// A pool of compress-and-write workers fed through a bounded queue.
pub(crate) struct Pool {
    tx: Option<SyncSender<Job>>,
    results: Receiver<io::Result<Written>>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    pub(crate) fn new(workers: usize) -> Pool {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(workers * 2);
        let rx = Arc::new(Mutex::new(rx));
        let (rtx, results) = mpsc::channel();
        let handles = (0..workers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                let rtx: Sender<io::Result<Written>> = rtx.clone();
                thread::spawn(move || loop {
                    let job = {
                        let guard = match rx.lock() {
                            Ok(g) => g,
                            Err(poisoned) => poisoned.into_inner(),
                        };
                        guard.recv()
                    };
                    let Ok(job) = job else { break };
                    let hash = sha256(&job.content);
                    let result = write_gz(&job.path, &job.content).map(|bytes_gz| Written {
                        index: job.index,
                        sha256: hash,
                        bytes_gz,
                    });
                    if rtx.send(result).is_err() {
                        break;
                    }
                })
            })
            .collect();
        Pool {
            tx: Some(tx),
            results,
            handles,
        }
    }

    /// Queues a job (blocks while the queue is full).
    pub(crate) fn submit(&self, job: Job) -> io::Result<()> {
        match &self.tx {
            Some(tx) => tx
                .send(job)
                .map_err(|_| io::Error::other("output workers stopped unexpectedly")),
            None => Err(io::Error::other("output pool already finished")),
        }
    }

    /// Collects results that are already available, without waiting.
    pub(crate) fn drain_ready(&self, into: &mut Vec<io::Result<Written>>) {
        while let Ok(r) = self.results.try_recv() {
            into.push(r);
        }
    }

    /// Closes the queue, waits for the workers, and returns every remaining result.
    pub(crate) fn finish(mut self, into: &mut Vec<io::Result<Written>>) -> io::Result<()> {
        self.tx = None;
        let mut panicked = false;
        for h in self.handles.drain(..) {
            panicked |= h.join().is_err();
        }
        while let Ok(r) = self.results.try_recv() {
            into.push(r);
        }
        if panicked {
            return Err(io::Error::other("an output worker panicked"));
        }
        Ok(())
    }
}
