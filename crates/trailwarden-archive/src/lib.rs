//! trailwarden-archive: the Parquet archive of every good event.
//!
//! Synchronous and IO-free apart from [`LocalArchive`]:
//!
//! * [`schema`] — one explicit Arrow schema, versioned by [`ARCHIVE_SCHEMA_VERSION`] (also written
//!   into every file as the Parquet key-value metadata [`SCHEMA_VERSION_KEY`]).
//! * [`encode_object`] / [`Encoder`] — the events of one source object (a CloudTrail log file)
//!   become one in-memory Parquet file per Hive partition
//!   `account=<account>/region=<region>/date=<YYYY-MM-DD>/` ([`Partition`]), named
//!   deterministically from the source object ([`file_name`]) so that re-running or redelivering
//!   an object overwrites its files instead of duplicating rows. The same input always gives
//!   byte-identical files.
//! * [`LocalArchive`] — atomic, durable writes of those files below a directory.
//!
//! The partition columns `account`, `region` and `date` are only in the directory names, not in
//! the files; readers recover them with Hive partitioning (DuckDB
//! `read_parquet('archive/**/*.parquet', hive_partitioning = 1)`, Athena/Glue partitions).
//! `docs/archive.md` documents the columns, the partitioning and sanitising rules and the
//! versioning policy.
//!
//! ```
//! use trailwarden_archive::{encode_object, ArchiveOptions};
//! use trailwarden_parse::Event;
//!
//! let event = Event {
//!     event_time: 1_704_067_200_000_000, // 2024-01-01T00:00:00Z
//!     event_name: "ListBuckets".into(),
//!     recipient_account_id: Some("123456789012".into()),
//!     aws_region: Some("us-east-1".into()),
//!     ..Event::default()
//! };
//! let files = encode_object("AWSLogs/x.json.gz", &[event], &ArchiveOptions::default())?;
//! assert_eq!(files.len(), 1);
//! assert!(files[0]
//!     .rel_path
//!     .starts_with("account=123456789012/region=us-east-1/date=2024-01-01/x-"));
//! # Ok::<(), trailwarden_archive::ArchiveError>(())
//! ```

mod encode;
mod error;
mod local;
mod partition;
mod schema;

pub use encode::{
    encode_object, ArchiveOptions, EncodedFile, Encoder, EncoderPool, CREATED_BY,
    DEFAULT_MIN_COMPRESSED_CHUNK_BYTES, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL,
    MAX_ROW_GROUP_STRING_BYTES,
};
pub use error::ArchiveError;
pub use local::LocalArchive;
pub use partition::{
    day_of, file_name, sanitize_partition_value, Partition, MAX_PARTITION_VALUE_LEN, MAX_STEM_LEN,
    UNKNOWN,
};
pub use schema::{
    schema, ARCHIVE_SCHEMA_MINOR, ARCHIVE_SCHEMA_VERSION, SCHEMA_MINOR_KEY, SCHEMA_VERSION_KEY,
    TIMESTAMP_TZ,
};
