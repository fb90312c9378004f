//! [`AlertSpool`]: canonical order for any number of alerts in bounded memory.
//!
//! A replay must write its alerts in canonical order (see [`crate::canonical_order`]), so it
//! cannot stream them out as they come. Holding every [`Alert`] until the end costs several
//! kilobytes each — a noisy rule firing on most events of a large trail would need gigabytes.
//! The spool writes each alert's JSON line to a temporary file as it arrives and keeps only a
//! fixed-size sort key in memory (~80 bytes per alert); [`AlertSpool::finish`] sorts the keys
//! and copies the lines into place.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Alert, ID_HEX_LEN};

/// Fixed-width, zero-padded text: compares like the text itself (a shorter string that is a
/// prefix sorts first, as `\0` is below every character that appears in a time or an id).
type Fixed = [u8; 32];

fn fixed(s: &str) -> Fixed {
    let mut out = [0u8; 32];
    let b = s.as_bytes();
    let n = b.len().min(32);
    out[..n].copy_from_slice(&b[..n]);
    out
}

#[derive(Debug, Clone, Copy)]
struct Key {
    /// `first_event_time` without its `Z`, as [`crate::canonical_order`] compares it.
    time: Fixed,
    id: Fixed,
    rule: u32,
    len: u32,
    offset: u64,
}

/// Collects alerts into a temporary file next to the final output and writes them in
/// canonical order, each id once.
#[derive(Debug)]
pub struct AlertSpool {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    keys: Vec<Key>,
    rules: HashMap<String, u32>,
    line: String,
}

impl AlertSpool {
    /// Creates the spool file `path` (truncated; removed by [`AlertSpool::finish`]).
    pub fn create(path: impl AsRef<Path>) -> io::Result<AlertSpool> {
        let path = path.as_ref().to_path_buf();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        Ok(AlertSpool {
            path,
            out: BufWriter::with_capacity(256 * 1024, file),
            offset: 0,
            keys: Vec::new(),
            rules: HashMap::new(),
            line: String::new(),
        })
    }

    /// Appends alerts.
    pub fn push(&mut self, alerts: &[Alert]) -> io::Result<()> {
        for a in alerts {
            self.line.clear();
            self.line.push_str(&a.to_json_line());
            self.line.push('\n');
            let len = u32::try_from(self.line.len())
                .map_err(|_| io::Error::other("an alert line over 4 GiB"))?;
            self.out.write_all(self.line.as_bytes())?;
            let next = self.rules.len() as u32;
            let rule = *self.rules.entry(a.rule_id.clone()).or_insert(next);
            // Ids are ID_HEX_LEN (32) hex characters; a longer one would compare on its first
            // 32 only, which is why the width is tied to it.
            debug_assert!(a.id.len() <= ID_HEX_LEN);
            self.keys.push(Key {
                time: fixed(a.first_event_time.trim_end_matches('Z')),
                id: fixed(&a.id),
                rule,
                len,
                offset: self.offset,
            });
            self.offset += u64::from(len);
        }
        Ok(())
    }

    /// Alerts pushed so far (duplicates included).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Writes every alert in canonical order (by first event time, rule id, id; each id once)
    /// to `out`, removes the spool file, and returns how many lines were written.
    pub fn finish(mut self, out: &mut dyn Write) -> io::Result<u64> {
        self.out.flush()?;
        let file = self.out.get_ref().try_clone()?;
        // Rule ids by name: their rank replaces the interned index in the sort.
        let mut names: Vec<(&String, u32)> = self.rules.iter().map(|(k, v)| (k, *v)).collect();
        names.sort();
        let mut rank = vec![0u32; names.len()];
        for (r, (_, idx)) in names.iter().enumerate() {
            rank[*idx as usize] = r as u32;
        }
        let rank_of = |k: &Key| rank.get(k.rule as usize).copied().unwrap_or(u32::MAX);
        self.keys.sort_unstable_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| rank_of(a).cmp(&rank_of(b)))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.offset.cmp(&b.offset))
        });
        let mut buf = Vec::new();
        let mut written = 0u64;
        let mut prev: Option<Fixed> = None;
        // The same id means the same rule and evidence, hence the same first event time and
        // rule: duplicates are neighbours after the sort.
        for k in &self.keys {
            if prev
                .as_ref()
                .is_some_and(|p| p.cmp(&k.id) == Ordering::Equal)
            {
                continue;
            }
            prev = Some(k.id);
            buf.resize(k.len as usize, 0);
            file.read_exact_at(&mut buf, k.offset)?;
            out.write_all(&buf)?;
            written += 1;
        }
        drop(file);
        let path = self.path.clone();
        drop(self);
        std::fs::remove_file(&path)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{canonical_order, Severity};
    use serde_json::Map;

    fn alert(id: &str, rule: &str, time: &str) -> Alert {
        Alert {
            schema_version: crate::SCHEMA_VERSION,
            id: id.into(),
            rule_id: rule.into(),
            title: "t".into(),
            severity: Severity::Low,
            mitre: vec![],
            account: None,
            region: None,
            principal: None,
            principal_type: None,
            source_ip: None,
            user_agent: None,
            first_event_time: time.into(),
            last_event_time: time.into(),
            event_ids: vec![],
            count: 1,
            summary: String::new(),
            evidence: Map::new(),
        }
    }

    #[test]
    fn spool_writes_what_canonical_order_gives() {
        let dir = tempfile::tempdir().unwrap();
        let mut input = Vec::new();
        let times = [
            "2024-03-04T08:15:02Z",
            "2024-03-04T08:15:02.5Z",
            "2024-03-04T08:15:01.999Z",
            "2024-03-05T00:00:00Z",
        ];
        for i in 0..200u32 {
            let id = format!("{:032x}", (i * 7919) % 97); // some ids repeat
            let rule = ["b-rule", "a-rule", "c"][(i % 3) as usize];
            let t = times[(i as usize * 31) % times.len()];
            // a repeated id always comes with the same rule and time, as in real alerts
            let t = if (i * 7919) % 97 < 50 { t } else { times[0] };
            input.push(alert(&id, rule, t));
        }
        // Duplicate ids must carry the same rule/time: make them consistent.
        let mut by_id: HashMap<String, Alert> = HashMap::new();
        let input: Vec<Alert> = input
            .into_iter()
            .map(|a| by_id.entry(a.id.clone()).or_insert(a).clone())
            .collect();
        let mut spool = AlertSpool::create(dir.path().join("spool")).unwrap();
        for chunk in input.chunks(7) {
            spool.push(chunk).unwrap();
        }
        assert_eq!(spool.len(), 200);
        let mut got = Vec::new();
        let n = spool.finish(&mut got).unwrap();
        let mut want = input.clone();
        canonical_order(&mut want);
        let want_text: String = want.iter().map(|a| a.to_json_line() + "\n").collect();
        assert_eq!(n as usize, want.len());
        assert_eq!(String::from_utf8(got).unwrap(), want_text);
        assert!(!dir.path().join("spool").exists());
    }
}
