//! Named IP lists (`risky`, `tor`…): sorted, merged address ranges, looked up by binary search.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use crate::DetectError;

/// A set of IPv4 and IPv6 addresses, stored as sorted, non-overlapping, non-adjacent inclusive
/// ranges. Lookup is a binary search; IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked
/// up as IPv4.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRanges {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// Parses `ADDR` or `ADDR/PREFIX` into an inclusive range. Host bits below the prefix are
/// ignored (`10.1.2.3/8` is `10.0.0.0/8`).
pub(crate) fn parse_cidr(text: &str) -> Result<Range, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an IP address or CIDR"))?;
    let bits: u32 = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix = match prefix {
        None => bits,
        Some(p) => {
            let p = p.trim();
            match p.parse::<u32>() {
                Ok(n) if n <= bits && !p.starts_with('+') => n,
                _ => return Err(format!("`{text}` has an invalid prefix length")),
            }
        }
    };
    Ok(match ip {
        IpAddr::V4(a) => {
            let host_mask = u32::MAX.checked_shr(prefix).unwrap_or(0);
            let start = u32::from(a) & !host_mask;
            Range::V4(start, start | host_mask)
        }
        IpAddr::V6(a) => {
            let host_mask = u128::MAX.checked_shr(prefix).unwrap_or(0);
            let start = u128::from(a) & !host_mask;
            Range::V6(start, start | host_mask)
        }
    })
}

/// One inclusive address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    V4(u32, u32),
    V6(u128, u128),
}

fn merge<T: Ord + Copy>(ranges: &mut Vec<(T, T)>, next: impl Fn(T) -> Option<T>) {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        if let Some(last) = out.last_mut() {
            // Overlapping or adjacent (last end + 1 == start) ranges merge.
            if s <= last.1 || next(last.1).is_some_and(|n| n == s) {
                if e > last.1 {
                    last.1 = e;
                }
                continue;
            }
        }
        out.push((s, e));
    }
    *ranges = out;
}

fn find<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|&(s, _)| s <= x);
    i.checked_sub(1)
        .and_then(|j| ranges.get(j))
        .is_some_and(|&(_, e)| x <= e)
}

impl IpRanges {
    pub fn new() -> Self {
        IpRanges::default()
    }

    /// Builds ranges from IP/CIDR texts.
    pub fn from_cidrs<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<IpRanges, String> {
        let mut r = IpRanges::new();
        for item in items {
            r.push(parse_cidr(item.trim())?);
        }
        r.normalize();
        Ok(r)
    }

    pub(crate) fn push(&mut self, range: Range) {
        match range {
            Range::V4(s, e) => self.v4.push((s, e)),
            Range::V6(s, e) => self.v6.push((s, e)),
        }
    }

    pub(crate) fn normalize(&mut self) {
        merge(&mut self.v4, |x: u32| x.checked_add(1));
        merge(&mut self.v6, |x: u128| x.checked_add(1));
    }

    fn extend(&mut self, other: &IpRanges) {
        self.v4.extend_from_slice(&other.v4);
        self.v6.extend_from_slice(&other.v6);
        self.normalize();
    }

    /// True when `ip` falls in one of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(a)),
            },
        }
    }

    /// Number of merged ranges (IPv4 + IPv6).
    pub fn range_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range_count() == 0
    }
}

/// Named IP lists, given on the command line as `name=FILE` pairs.
///
/// File format: one IP address or CIDR per line; `#` starts a comment (whole line or the rest
/// of a line); blank lines are ignored. Several files may feed the same name (their union).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpLists {
    lists: BTreeMap<String, IpRanges>,
}

fn valid_list_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_name(name: &str, origin: &str) -> Result<(), DetectError> {
    if valid_list_name(name) {
        return Ok(());
    }
    Err(DetectError::IpList {
        name: name.to_string(),
        file: origin.to_string(),
        line: 0,
        message: "list names use letters, digits, `-` and `_`".to_string(),
    })
}

impl IpLists {
    pub fn new() -> Self {
        IpLists::default()
    }

    /// Parses list text (the contents of `origin`, used in error messages as `origin:line`)
    /// and adds it to list `name`.
    pub fn add_text(&mut self, name: &str, origin: &str, text: &str) -> Result<(), DetectError> {
        check_name(name, origin)?;
        let mut ranges = IpRanges::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let range = parse_cidr(content).map_err(|message| DetectError::IpList {
                name: name.to_string(),
                file: origin.to_string(),
                line: i + 1,
                message,
            })?;
            ranges.push(range);
        }
        ranges.normalize();
        self.lists
            .entry(name.to_string())
            .or_default()
            .extend(&ranges);
        Ok(())
    }

    /// Reads `path` and adds it to list `name` (start-up IO; evaluation never reads files).
    pub fn add_file(&mut self, name: &str, path: &Path) -> Result<(), DetectError> {
        check_name(name, &path.display().to_string())?;
        let text = std::fs::read_to_string(path).map_err(|source| DetectError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_text(name, &path.display().to_string(), &text)
    }

    /// Adds one `name=FILE` pair, as given on the command line.
    pub fn add_spec(&mut self, spec: &str) -> Result<(), DetectError> {
        match spec.split_once('=') {
            Some((name, file)) if !file.is_empty() => self.add_file(name.trim(), Path::new(file)),
            _ => Err(DetectError::IpList {
                name: spec.to_string(),
                file: String::new(),
                line: 0,
                message: "expected NAME=FILE".to_string(),
            }),
        }
    }

    /// Loads every `name=FILE` pair.
    pub fn load_specs<S: AsRef<str>>(specs: &[S]) -> Result<IpLists, DetectError> {
        let mut lists = IpLists::new();
        for s in specs {
            lists.add_spec(s.as_ref())?;
        }
        Ok(lists)
    }

    /// Adds (or merges into) list `name` directly.
    pub fn insert(&mut self, name: &str, ranges: IpRanges) {
        self.lists
            .entry(name.to_string())
            .or_default()
            .extend(&ranges);
    }

    /// Sets list `name` to `ranges`, replacing any list of that name.
    pub fn replace(&mut self, name: &str, ranges: IpRanges) {
        self.lists.insert(name.to_string(), ranges);
    }

    pub fn get(&self, name: &str) -> Option<&IpRanges> {
        self.lists.get(name)
    }

    /// True when list `name` exists and contains `ip`.
    pub fn contains(&self, name: &str, ip: IpAddr) -> bool {
        self.get(name).is_some_and(|r| r.contains(ip))
    }

    /// The list names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_and_v6_lookup() {
        let r = IpRanges::from_cidrs([
            "203.0.113.0/24",
            "198.51.100.7",
            "2001:db8::/32",
            "2001:db9::1",
        ])
        .unwrap();
        assert!(r.contains(ip("203.0.113.0")));
        assert!(r.contains(ip("203.0.113.255")));
        assert!(!r.contains(ip("203.0.114.0")));
        assert!(!r.contains(ip("203.0.112.255")));
        assert!(r.contains(ip("198.51.100.7")));
        assert!(!r.contains(ip("198.51.100.8")));
        assert!(r.contains(ip("2001:db8:ffff::1")));
        assert!(!r.contains(ip("2001:db7::1")));
        assert!(r.contains(ip("2001:db9::1")));
        assert!(!r.contains(ip("2001:db9::2")));
        assert!(r.contains(ip("::ffff:203.0.113.9")));
        assert!(!IpRanges::new().contains(ip("1.2.3.4")));
    }

    #[test]
    fn ranges_merge() {
        let r = IpRanges::from_cidrs([
            "10.0.0.0/25",
            "10.0.0.128/25",
            "10.0.0.7",
            "10.0.1.0/24",
            "0.0.0.0/0",
            "255.255.255.255",
            "::/0",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ])
        .unwrap();
        assert_eq!(r.range_count(), 2);
        assert!(r.contains(ip("255.255.255.255")));
        let r = IpRanges::from_cidrs(["10.0.0.0/25", "10.0.0.128/25", "10.0.2.0/24"]).unwrap();
        assert_eq!(r.range_count(), 2);
        assert!(r.contains(ip("10.0.0.200")) && !r.contains(ip("10.0.1.1")));
    }

    #[test]
    fn host_bits_are_masked() {
        let r = IpRanges::from_cidrs(["10.1.2.3/8"]).unwrap();
        assert!(r.contains(ip("10.255.0.1")) && !r.contains(ip("11.0.0.0")));
    }

    #[test]
    fn bad_entries() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "hello",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
        ] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_text_with_comments_and_errors() {
        let mut lists = IpLists::new();
        lists
            .add_text(
                "risky",
                "risky.txt",
                "# Tor exits\n\n203.0.113.0/24  # documentation range\n  2001:db8::1\n",
            )
            .unwrap();
        assert!(lists.contains("risky", ip("203.0.113.77")));
        assert!(lists.contains("risky", ip("2001:db8::1")));
        assert!(!lists.contains("other", ip("203.0.113.77")));
        let err = lists
            .add_text("risky", "more.txt", "192.0.2.1\n\n# c\nnot-an-ip\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("more.txt:4"), "{msg}");
        assert!(msg.contains("not-an-ip"), "{msg}");
        // Union of two sources under one name.
        lists.add_text("risky", "b.txt", "192.0.2.1").unwrap();
        assert!(lists.contains("risky", ip("192.0.2.1")));
        assert!(lists.contains("risky", ip("203.0.113.1")));
        assert_eq!(lists.names().collect::<Vec<_>>(), ["risky"]);
    }

    #[test]
    fn list_files_and_specs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tor.txt");
        std::fs::write(&p, "198.51.100.0/24\n").unwrap();
        let lists = IpLists::load_specs(&[format!("tor={}", p.display())]).unwrap();
        assert!(lists.contains("tor", ip("198.51.100.9")));
        assert!(IpLists::load_specs(&["tor"]).is_err());
        assert!(matches!(
            IpLists::load_specs(&["bad name=x"]),
            Err(DetectError::IpList { .. })
        ));
        let missing = IpLists::load_specs(&[format!("x={}", dir.path().join("no").display())]);
        assert!(matches!(missing, Err(DetectError::Io { .. })));
    }
}
