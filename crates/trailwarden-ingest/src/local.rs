//! Local trails: files and directories, walked recursively.

use std::path::{Path, PathBuf};

use crate::{Location, ObjectRef};

/// Whether a file name looks like a CloudTrail object (`.json.gz` or `.json`).
pub fn is_trail_file(name: &str) -> bool {
    name.ends_with(".json.gz") || name.ends_with(".json")
}

/// A path that could not be walked.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct WalkError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Every trail file under `paths` (files named explicitly are taken whatever their name),
/// sorted by key so the walk order never depends on the file system. Unreadable entries are
/// returned beside the objects; they do not stop the walk.
pub fn walk(paths: &[PathBuf]) -> (Vec<ObjectRef>, Vec<WalkError>) {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        if root.is_file() {
            objects.push(object(root));
            continue;
        }
        for entry in walkdir::WalkDir::new(root).follow_links(true) {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if is_trail_file(&e.file_name().to_string_lossy()) {
                        objects.push(object(e.path()));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let path = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.clone());
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("file system loop"));
                    errors.push(WalkError { path, source });
                }
            }
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.location.cmp(&b.location)));
    objects.dedup_by(|a, b| a.location == b.location);
    (objects, errors)
}

fn object(p: &Path) -> ObjectRef {
    let path = p.to_string_lossy();
    ObjectRef {
        key: crate::stable_key(&path),
        location: Location::Local(p.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_recursively_and_sorts() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("AWSLogs/1/CloudTrail/r/2024/03/01");
        std::fs::create_dir_all(&sub).unwrap();
        for n in ["b.json.gz", "a.json", "notes.txt", "c.jsonl"] {
            std::fs::write(sub.join(n), b"{}").unwrap();
        }
        let (objs, errs) = walk(&[d.path().to_path_buf()]);
        assert!(errs.is_empty());
        let names: Vec<_> = objs
            .iter()
            .map(|o| o.key.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.json", "b.json.gz"]);
        let (_, errs) = walk(&[d.path().join("missing")]);
        assert_eq!(errs.len(), 1);
    }
}
