//! The user-supplied list of terminated (off-boarded) users.

use std::path::Path;

use serde::{Deserialize, Serialize};
use trailwarden_parse::parse_event_time;

use crate::AnomalyError;

/// One entry: a name, an IAM user ARN or a principal key, optionally with the time from which
/// activity is suspect (none: any activity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminatedEntry {
    pub who: Who,
    pub since_us: Option<i64>,
    /// The line as written (for the alert).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    /// A bare user name: matches `*:user/NAME`, the session name part of `*:role/R/NAME` and the
    /// `NAME` of Identity Center / SAML / web identity keys.
    Name(String),
    /// An exact principal key (from an IAM user ARN, or given as a key).
    Key(String),
}

/// Terminated users, loaded at start-up.
///
/// File format: one entry per line; `#` starts a comment; blank lines are ignored. An entry is
/// a user name (`alice`, `alice@example.com`), an IAM user ARN
/// (`arn:aws:iam::111122223333:user/eng/alice`) or a trailwarden principal key
/// (`111122223333:user/alice`), optionally followed by `,` and an RFC 3339 time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminatedUsers {
    entries: Vec<TerminatedEntry>,
}

impl TerminatedUsers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn load(path: &Path) -> Result<TerminatedUsers, AnomalyError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnomalyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<TerminatedUsers, AnomalyError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let bad = |m: String| AnomalyError::TerminatedUsers {
                file: origin.to_string(),
                line: i + 1,
                message: m,
            };
            let (who, since) = match content.split_once(',') {
                Some((w, t)) => {
                    let t = t.trim();
                    let us = parse_event_time(t)
                        .ok_or_else(|| bad(format!("`{t}` is not an RFC 3339 time")))?;
                    (w.trim(), Some(us))
                }
                None => (content, None),
            };
            if who.is_empty() {
                return Err(bad("empty user".to_string()));
            }
            let who = if let Some(rest) = who.strip_prefix("arn:") {
                // arn:PARTITION:iam::ACCOUNT:user/PATH/NAME
                let parts: Vec<&str> = rest.splitn(5, ':').collect();
                match parts.as_slice() {
                    [_, "iam", _, acct, res] if res.starts_with("user/") => {
                        let name = res.rsplit('/').next().unwrap_or_default();
                        if name.is_empty() || acct.is_empty() {
                            return Err(bad(format!("`{who}` is not an IAM user ARN")));
                        }
                        Who::Key(format!("{acct}:user/{name}"))
                    }
                    _ => return Err(bad(format!("`{who}` is not an IAM user ARN"))),
                }
            } else if who.contains(':') {
                Who::Key(who.to_string())
            } else {
                Who::Name(who.to_string())
            };
            entries.push(TerminatedEntry {
                who,
                since_us: since,
                text: content.to_string(),
            });
        }
        Ok(TerminatedUsers { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry that `principal` (a principal key) acting at `time_us` falls under.
    pub fn matching(&self, principal: &str, time_us: i64) -> Option<&TerminatedEntry> {
        self.entries.iter().find(|e| {
            e.since_us.is_none_or(|s| time_us >= s)
                && match &e.who {
                    Who::Key(k) => k == principal,
                    Who::Name(n) => name_of(principal) == Some(n.as_str()),
                }
        })
    }
}

/// The person/user name part of a principal key: `A:user/NAME`, `A:role/R/NAME`,
/// `A:federated-user/NAME`, `saml:P/NAME`, `identity-center:NAME`.
fn name_of(principal: &str) -> Option<&str> {
    if let Some((_, rest)) = principal.split_once(":user/") {
        return Some(rest);
    }
    if let Some((_, rest)) = principal.split_once(":federated-user/") {
        return Some(rest);
    }
    if let Some((_, rest)) = principal.split_once(":role/") {
        return rest.split_once('/').map(|(_, s)| s);
    }
    if let Some(rest) = principal.strip_prefix("identity-center:") {
        return Some(rest);
    }
    if principal.starts_with("saml:") || principal.starts_with("web-identity:") {
        return principal.rsplit('/').next();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let t = TerminatedUsers::parse(
            "# offboarded\nalice\narn:aws:iam::111122223333:user/eng/bob, 2024-03-01T00:00:00Z\n\n111122223333:role/Admin/carol@example.com\n",
            "f",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert!(t.matching("999:user/alice", 0).is_some());
        assert!(t.matching("999:role/AWSReservedSSO_X/alice", 0).is_some());
        assert!(t.matching("999:user/alicex", 0).is_none());
        let mar1 = 1_709_251_200_000_000;
        assert!(t.matching("111122223333:user/bob", mar1 - 1).is_none());
        assert!(t.matching("111122223333:user/bob", mar1).is_some());
        assert!(t.matching("222:user/bob", mar1).is_none());
        assert!(t
            .matching("111122223333:role/Admin/carol@example.com", 0)
            .is_some());
        let e = TerminatedUsers::parse("ok\nbob, yesterday\n", "f.txt").unwrap_err();
        assert!(e.to_string().contains("f.txt:2"), "{e}");
        assert!(TerminatedUsers::parse("arn:aws:iam::1:role/x\n", "f").is_err());
    }
}
