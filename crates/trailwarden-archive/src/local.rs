//! Crash-safe writes of encoded files below a local directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::encode::EncodedFile;
use crate::error::ArchiveError;

/// A Parquet archive rooted at a local directory.
///
/// Each [`write`](LocalArchive::write) is atomic: readers see either the previous file or the
/// complete new one, never a partial file, and after `write` returns the file survives a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArchive {
    root: PathBuf,
}

/// Distinguishes temporary files of concurrent writes within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalArchive {
    /// An archive below `root` (created on first write if missing).
    pub fn new(root: impl Into<PathBuf>) -> LocalArchive {
        LocalArchive { root: root.into() }
    }

    /// The archive root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `file` at `root/<rel_path>` and returns that path.
    ///
    /// Creates missing directories (syncing each new directory's parent), writes the bytes to a
    /// temporary `.<name>.tmp-<pid>-<n>` file in the target directory, fsyncs it, renames it over
    /// the final name (replacing an earlier version of the file) and fsyncs the directory. On
    /// error the temporary file is removed (best effort) and the final name is untouched.
    pub fn write(&self, file: &EncodedFile) -> Result<PathBuf, ArchiveError> {
        let (dir_rel, name) = split_rel_path(&file.rel_path)?;
        let dir = dir_rel.iter().fold(self.root.clone(), |p, c| p.join(c));
        create_dir_durably(&dir)?;
        let final_path = dir.join(name);

        let tmp_path = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = write_synced(&tmp_path, &file.bytes) {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
        if let Err(source) = fs::rename(&tmp_path, &final_path) {
            let _ = fs::remove_file(&tmp_path);
            return Err(ArchiveError::Rename {
                from: tmp_path,
                to: final_path,
                source,
            });
        }
        sync_dir(&dir)?;
        Ok(final_path)
    }
}

/// Splits a `/`-separated relative path into directory segments and file name, refusing
/// anything that is not a plain relative path (absolute, `..`, `.`, empty segments, `\`).
fn split_rel_path(rel_path: &str) -> Result<(Vec<&str>, &str), ArchiveError> {
    let unsafe_path = || ArchiveError::UnsafePath {
        rel_path: rel_path.to_string(),
    };
    let mut segments: Vec<&str> = rel_path.split('/').collect();
    let name = segments.pop().ok_or_else(unsafe_path)?;
    for seg in segments.iter().chain(std::iter::once(&name)) {
        let mut components = Path::new(seg).components();
        let plain = matches!(components.next(), Some(Component::Normal(c)) if c == *seg)
            && components.next().is_none()
            && !seg.contains('\\');
        if !plain {
            return Err(unsafe_path());
        }
    }
    Ok((segments, name))
}

/// `create_dir_all`, then fsync the parent of every directory it created so the new entries are
/// durable.
fn create_dir_durably(dir: &Path) -> Result<(), ArchiveError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    fs::create_dir_all(dir).map_err(|source| ArchiveError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    // Outermost first: each parent gets synced after its new child exists.
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let err = |source| ArchiveError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// fsync a directory (POSIX); a no-op elsewhere, where directories cannot be opened this way.
fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    if cfg!(unix) {
        let err = |source| ArchiveError::SyncDir {
            path: dir.to_path_buf(),
            source,
        };
        File::open(dir).map_err(err)?.sync_all().map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_path_validation() {
        let ok = |p: &str| split_rel_path(p).is_ok();
        assert!(ok("a=1/b=2/f.parquet"));
        assert!(ok("f.parquet"));
        assert!(ok("account=..%2F/x.parquet"));
        for bad in [
            "", "/abs/f", "a//f", "a/../f", "../f", "./f", "a/.", "a/", "a\\..\\f", "..",
        ] {
            assert!(!ok(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn write_creates_dirs_and_replaces_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = LocalArchive::new(tmp.path().join("archive"));
        let mut file = EncodedFile {
            rel_path: "account=1/region=r/date=2024-01-01/x.parquet".to_string(),
            bytes: b"one".to_vec(),
            rows: 1,
        };
        let p = archive.write(&file).unwrap();
        assert_eq!(
            p,
            tmp.path()
                .join("archive/account=1/region=r/date=2024-01-01/x.parquet")
        );
        assert_eq!(fs::read(&p).unwrap(), b"one");
        file.bytes = b"two".to_vec();
        assert_eq!(archive.write(&file).unwrap(), p);
        assert_eq!(fs::read(&p).unwrap(), b"two");
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.parquet"]);
    }

    #[test]
    fn write_refuses_escaping_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = LocalArchive::new(tmp.path());
        let file = EncodedFile {
            rel_path: "../escape.parquet".to_string(),
            bytes: Vec::new(),
            rows: 0,
        };
        assert!(matches!(
            archive.write(&file),
            Err(ArchiveError::UnsafePath { .. })
        ));
    }

    #[test]
    fn write_reports_the_path_on_io_errors() {
        let tmp = tempfile::tempdir().unwrap();
        // A file where a directory must go.
        fs::write(tmp.path().join("account=1"), b"").unwrap();
        let archive = LocalArchive::new(tmp.path());
        let file = EncodedFile {
            rel_path: "account=1/x.parquet".to_string(),
            bytes: Vec::new(),
            rows: 0,
        };
        let err = archive.write(&file).unwrap_err();
        assert!(matches!(err, ArchiveError::CreateDir { .. }), "{err:?}");
        assert!(err.to_string().contains("account=1"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }
}
