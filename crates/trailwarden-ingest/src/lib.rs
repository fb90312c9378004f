//! trailwarden-ingest: where CloudTrail objects come from.
//!
//! - [`layout`]: the S3 delivery layout (`AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…`)
//!   read from an object key or path, including the time in the file name;
//! - [`filter`]: `--account`, `--region`, `--from`/`--to`, applied first to whole objects (by
//!   their layout) and then to each event (by `eventTime`);
//! - [`local`]: walking files and directories of historical trails.
//!
//! The live SQS source and the S3 listing build on the same [`ObjectRef`].

pub mod filter;
pub mod layout;
pub mod local;

pub use filter::{Filter, FilterError};
pub use layout::{Layout, ObjectClass};

/// One object to read: its display key (a path or `s3://bucket/key`) and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The key used in reports, archive file names and alert ids: stable for the object.
    pub key: String,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(std::path::PathBuf),
    S3 { bucket: String, key: String },
}
