//! The bytes of a MaxMind-format database: memory-mapped from its file, or owned.
//!
//! Mapped, only the pages that lookups touch are resident: a GeoLite2 City database is ~57 MB,
//! and reading it into memory made it the largest single item of a replay's peak RSS (76 MB
//! more than without `--geoip` in the end-to-end bench; docs/PERFORMANCE.md). The price of a
//! mapping: the file must not be modified in place while trailwarden runs. Replace it by
//! writing a new file and renaming it over the old one (as `geoipupdate` does); a process
//! that is running keeps the old file's contents until it restarts.

use std::fs::File;
use std::path::Path;

/// A database's bytes.
#[derive(Debug)]
pub(crate) enum DbBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for DbBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            DbBytes::Mapped(m) => m,
            DbBytes::Owned(v) => v,
        }
    }
}

/// The reader every database of this crate is read through.
pub(crate) type Reader = maxminddb::Reader<DbBytes>;

/// Maps `path` read-only and opens it as a MaxMind database. The error is the reason only;
/// the caller names the file.
pub(crate) fn open(path: &Path) -> Result<Reader, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    // SAFETY: the mapping is read-only and private to this process's reader. Its contents must
    // not change while it is mapped: the module docs and docs/anomaly.md say to replace a
    // database by rename (the old inode, and so the mapping, stays intact), never in place.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
    maxminddb::Reader::from_source(DbBytes::Mapped(map)).map_err(|e| e.to_string())
}

/// A database from bytes held in memory (tests, or fetched elsewhere).
pub(crate) fn from_bytes(bytes: Vec<u8>) -> Result<Reader, String> {
    maxminddb::Reader::from_source(DbBytes::Owned(bytes)).map_err(|e| e.to_string())
}
