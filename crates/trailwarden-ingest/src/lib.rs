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

/// One object to read: its stable key and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The object's identity in outputs (archive file names, the `source_object` column, alert
    /// ids when a record has no `eventID`): see [`stable_key`].
    pub key: String,
    pub location: Location,
}

impl ObjectRef {
    /// Where the object is, for people: the local path or `s3://bucket/key`.
    pub fn describe(&self) -> String {
        match &self.location {
            Location::Local(p) => p.display().to_string(),
            Location::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Local(std::path::PathBuf),
    S3 { bucket: String, key: String },
}

/// The stable key of an object at `path` (a local path or an S3 key): from `AWSLogs/` on when
/// the path is in the delivery layout, else the file name. The same object read from a local
/// copy, from another working directory or from its bucket therefore gets the same key, and so
/// the same archive file names: a re-run overwrites instead of duplicating.
pub fn stable_key(path: &str) -> String {
    let norm = path.replace('\\', "/");
    if let Some(i) = norm.rfind("AWSLogs/") {
        if i == 0 || norm.as_bytes()[i - 1] == b'/' {
            return norm[i..].to_string();
        }
    }
    norm.rsplit('/').next().unwrap_or(&norm).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn stable_keys() {
        let k = "AWSLogs/1/CloudTrail/r/2024/03/01/f.json.gz";
        assert_eq!(super::stable_key(&format!("/data/x/{k}")), k);
        assert_eq!(super::stable_key(&format!("./{k}")), k);
        assert_eq!(super::stable_key(k), k);
        assert_eq!(super::stable_key("dir/sub/flat.json"), "flat.json");
        assert_eq!(super::stable_key("dir/NotAWSLogs/x.json"), "x.json");
    }
}
