//! The archive's error type.

use std::path::PathBuf;

/// Everything that can go wrong while encoding or writing the archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// [`crate::ArchiveOptions`] are out of range.
    #[error("invalid archive options: {reason}")]
    InvalidOptions { reason: String },

    /// One event's string data cannot fit an Arrow `Utf8` array (over 2 GiB).
    #[error(
        "record {record_index} of {source_object} is too large to archive ({bytes} bytes of text)"
    )]
    EventTooLarge {
        source_object: String,
        record_index: u32,
        bytes: usize,
    },

    /// Building an Arrow record batch failed.
    #[error("building Arrow batch for {rel_path}")]
    Arrow {
        rel_path: String,
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// Encoding Parquet failed.
    #[error("encoding Parquet file {rel_path}")]
    Parquet {
        rel_path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// An [`crate::EncodedFile::rel_path`] that is empty, absolute, or leaves the archive root.
    #[error("refusing to write {rel_path:?}: not a relative path inside the archive")]
    UnsafePath { rel_path: String },

    /// Creating a directory failed.
    #[error("creating directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Creating, writing or syncing the temporary file failed.
    #[error("writing {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Renaming the temporary file over the final name failed.
    #[error("renaming {} to {}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Syncing a directory (making the new entry durable) failed.
    #[error("syncing directory {}", path.display())]
    SyncDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
