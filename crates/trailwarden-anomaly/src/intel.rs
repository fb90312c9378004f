//! IP intelligence for `anonymous-ip` and `suspicious-ip` beyond IP/CIDR lists: an
//! anonymous-IP database (MaxMind GeoIP2 Anonymous IP, or an IPinfo privacy-detection mmdb), an
//! ASN database (GeoLite2-ASN / GeoIP2-ISP) and named ASN lists. All of it is read at start-up;
//! lookups are pure and never fail (an address the database cannot answer for is "unknown").

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::AnomalyError;

// ------------------------------------------------------------------------ categories

/// Anonymiser categories an address can be in, as a small bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Categories(u8);

/// The category names, in the order of their bits (and of evidence lists).
pub const CATEGORY_NAMES: [&str; 6] = [
    "tor",
    "vpn",
    "public_proxy",
    "residential_proxy",
    "relay",
    "hosting",
];

impl Categories {
    pub const NONE: Categories = Categories(0);
    pub const TOR: Categories = Categories(1);
    pub const VPN: Categories = Categories(1 << 1);
    pub const PUBLIC_PROXY: Categories = Categories(1 << 2);
    pub const RESIDENTIAL_PROXY: Categories = Categories(1 << 3);
    pub const RELAY: Categories = Categories(1 << 4);
    pub const HOSTING: Categories = Categories(1 << 5);

    /// What `anonymous-ip` counts by default: everything but `hosting` (which would flag every
    /// cloud and CI address).
    pub const DEFAULT_COUNTED: Categories = Categories(0b01_1111);

    /// One category by name (`tor`, `vpn`, `public_proxy`, `residential_proxy`, `relay`,
    /// `hosting`).
    pub fn parse(name: &str) -> Option<Categories> {
        CATEGORY_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Categories(1 << i))
    }

    /// The names of the categories in the set, in [`CATEGORY_NAMES`] order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        CATEGORY_NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, other: Categories) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Categories) -> Categories {
        Categories(self.0 | other.0)
    }

    pub fn intersection(self, other: Categories) -> Categories {
        Categories(self.0 & other.0)
    }
}

// ------------------------------------------------------------------------ databases

fn open_reader(what: &'static str, path: &Path) -> Result<crate::mmdb::Reader, AnomalyError> {
    crate::mmdb::open(path).map_err(|message| AnomalyError::Database {
        what,
        path: path.to_path_buf(),
        message,
    })
}

fn bytes_reader(what: &'static str, bytes: Vec<u8>) -> Result<crate::mmdb::Reader, AnomalyError> {
    crate::mmdb::from_bytes(bytes).map_err(|message| AnomalyError::Database {
        what,
        path: "<memory>".into(),
        message,
    })
}

/// `database_type (origin, built EPOCH)`; refuses a database whose type names another kind of
/// data (a City database given as the ASN database, say): its lookups would silently find
/// nothing useful.
fn describe(
    reader: &crate::mmdb::Reader,
    what: &'static str,
    origin: &Path,
    wrong: &[&str],
    expected: &str,
) -> Result<String, AnomalyError> {
    let m = reader.metadata();
    let t = m.database_type.to_ascii_lowercase();
    if let Some(w) = wrong.iter().find(|w| t.contains(*w)) {
        return Err(AnomalyError::Database {
            what,
            path: origin.to_path_buf(),
            message: format!(
                "its database_type `{}` is {} data, not {expected}",
                m.database_type,
                match *w {
                    "city" | "country" => "geo-location",
                    "asn" | "isp" => "ASN",
                    _ => "anonymiser",
                }
            ),
        });
    }
    Ok(format!(
        "{} ({}, built {})",
        m.database_type,
        origin.display(),
        m.build_epoch
    ))
}

/// A boolean that may be stored as a boolean or as the strings `"true"`/`"false"` (IPinfo's
/// mmdbs); anything else reads as false.
#[derive(Debug, Default, Clone, Copy)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or \"true\"/\"false\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag(v.trim().eq_ignore_ascii_case("true")))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Flag, E> {
                self.visit_str(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_u16<E: de::Error>(self, v: u16) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_u32<E: de::Error>(self, v: u32) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_i32<E: de::Error>(self, v: i32) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
        }
        d.deserialize_any(V)
    }
}

/// Both shapes at once: GeoIP2 Anonymous IP (`is_*`) and IPinfo privacy detection. The umbrella
/// `is_anonymous` is ignored: the categories say more.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AnonRecord {
    is_tor_exit_node: Flag,
    is_anonymous_vpn: Flag,
    is_public_proxy: Flag,
    is_residential_proxy: Flag,
    is_hosting_provider: Flag,
    tor: Flag,
    vpn: Flag,
    proxy: Flag,
    relay: Flag,
    hosting: Flag,
}

impl AnonRecord {
    fn categories(&self) -> Categories {
        let mut c = Categories::NONE;
        for (on, cat) in [
            (self.is_tor_exit_node.0 || self.tor.0, Categories::TOR),
            (self.is_anonymous_vpn.0 || self.vpn.0, Categories::VPN),
            (
                self.is_public_proxy.0 || self.proxy.0,
                Categories::PUBLIC_PROXY,
            ),
            (self.is_residential_proxy.0, Categories::RESIDENTIAL_PROXY),
            (self.relay.0, Categories::RELAY),
            (
                self.is_hosting_provider.0 || self.hosting.0,
                Categories::HOSTING,
            ),
        ] {
            if on {
                c = c.union(cat);
            }
        }
        c
    }
}

/// An anonymous-IP database: a MaxMind GeoIP2 Anonymous IP database (`is_anonymous_vpn`,
/// `is_public_proxy`, `is_residential_proxy`, `is_tor_exit_node`, `is_hosting_provider`) or an
/// IPinfo privacy-detection mmdb (`vpn`, `proxy`, `tor`, `relay`, `hosting`; booleans or
/// `"true"`/`"false"`), read into memory at start-up.
pub struct AnonymousIpDb {
    reader: crate::mmdb::Reader,
    description: String,
}

impl fmt::Debug for AnonymousIpDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnonymousIpDb")
            .field("database", &self.description)
            .finish_non_exhaustive()
    }
}

const ANON_WHAT: &str = "anonymous-IP database";
const ANON_WRONG: &[&str] = &["city", "country", "asn", "isp"];
const ANON_EXPECTED: &str =
    "a GeoIP2 Anonymous IP or IPinfo privacy-detection database (--anonymous-ip-db)";

impl AnonymousIpDb {
    /// Opens (reads into memory) the database at `path`.
    pub fn open(path: &Path) -> Result<AnonymousIpDb, AnomalyError> {
        let reader = open_reader(ANON_WHAT, path)?;
        let description = describe(&reader, ANON_WHAT, path, ANON_WRONG, ANON_EXPECTED)?;
        Ok(AnonymousIpDb {
            reader,
            description,
        })
    }

    /// A database from bytes (tests, or a caller that fetched it elsewhere).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<AnonymousIpDb, AnomalyError> {
        let reader = bytes_reader(ANON_WHAT, bytes)?;
        let origin = Path::new("<memory>");
        let description = describe(&reader, ANON_WHAT, origin, ANON_WRONG, ANON_EXPECTED)?;
        Ok(AnonymousIpDb {
            reader,
            description,
        })
    }

    /// `database_type (path, built EPOCH)`, for the start-up log line.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The categories the database puts `ip` in (empty when it does not list it).
    pub fn lookup(&self, ip: IpAddr) -> Categories {
        let Ok(result) = self.reader.lookup(ip) else {
            return Categories::NONE;
        };
        match result.decode::<AnonRecord>() {
            Ok(Some(rec)) => rec.categories(),
            _ => Categories::NONE,
        }
    }
}

/// An unsigned number stored as any of the MaxMind unsigned types.
struct AnyUint(u64);

impl<'de> Deserialize<'de> for AnyUint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyUint, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyUint;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an unsigned integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnyUint, E> {
                Ok(AnyUint(v))
            }
            fn visit_u32<E: de::Error>(self, v: u32) -> Result<AnyUint, E> {
                Ok(AnyUint(u64::from(v)))
            }
            fn visit_u16<E: de::Error>(self, v: u16) -> Result<AnyUint, E> {
                Ok(AnyUint(u64::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnyUint, E> {
                u64::try_from(v).map(AnyUint).map_err(E::custom)
            }
            fn visit_i32<E: de::Error>(self, v: i32) -> Result<AnyUint, E> {
                u64::try_from(v).map(AnyUint).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<AnyUint>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// The autonomous system an address is announced by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnInfo {
    pub number: u32,
    pub organization: Option<String>,
}

/// An ASN database (GeoLite2-ASN / GeoIP2-ISP shape: `autonomous_system_number`,
/// `autonomous_system_organization`), read into memory at start-up.
pub struct AsnDb {
    reader: crate::mmdb::Reader,
    description: String,
}

impl fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsnDb")
            .field("database", &self.description)
            .finish_non_exhaustive()
    }
}

const ASN_WHAT: &str = "ASN database";
const ASN_WRONG: &[&str] = &["city", "country", "anonymous", "privacy"];
const ASN_EXPECTED: &str = "a GeoLite2-ASN or GeoIP2-ISP database (--asn-db)";

impl AsnDb {
    /// Opens (reads into memory) the database at `path`.
    pub fn open(path: &Path) -> Result<AsnDb, AnomalyError> {
        let reader = open_reader(ASN_WHAT, path)?;
        let description = describe(&reader, ASN_WHAT, path, ASN_WRONG, ASN_EXPECTED)?;
        Ok(AsnDb {
            reader,
            description,
        })
    }

    /// A database from bytes (tests, or a caller that fetched it elsewhere).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<AsnDb, AnomalyError> {
        let reader = bytes_reader(ASN_WHAT, bytes)?;
        let origin = Path::new("<memory>");
        let description = describe(&reader, ASN_WHAT, origin, ASN_WRONG, ASN_EXPECTED)?;
        Ok(AsnDb {
            reader,
            description,
        })
    }

    /// `database_type (path, built EPOCH)`, for the start-up log line.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The AS announcing `ip`; `None` when the database does not know it.
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo> {
        let result = self.reader.lookup(ip).ok()?;
        let rec: AsnRecord<'_> = result.decode().ok()??;
        let number = u32::try_from(rec.autonomous_system_number?.0).ok()?;
        Some(AsnInfo {
            number,
            organization: rec.autonomous_system_organization.map(str::to_string),
        })
    }
}

// ------------------------------------------------------------------------ ASN lists

/// A set of AS numbers (sorted, deduplicated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsnSet(Vec<u32>);

impl AsnSet {
    pub fn contains(&self, asn: u32) -> bool {
        self.0.binary_search(&asn).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `AS16509`, `as16509` or `16509`.
pub fn parse_asn(text: &str) -> Option<u32> {
    let digits = match text.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("as") => &text[2..],
        _ => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Named ASN lists, given as `NAME=FILE` (`--asn-list`, `[detection] asn_lists`).
///
/// File format: one AS number per line (`AS16509`, `as16509` or `16509`); `#` starts a comment
/// (whole line or the rest of a line); blank lines are ignored. Several files may feed one name
/// (their union). A line that is not an AS number is an error naming `FILE:LINE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsnLists {
    lists: BTreeMap<String, AsnSet>,
}

fn valid_list_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AsnLists {
    pub fn new() -> AsnLists {
        AsnLists::default()
    }

    /// Parses list text (the contents of `origin`, named in errors as `origin:line`) into list
    /// `name`.
    pub fn add_text(&mut self, name: &str, origin: &str, text: &str) -> Result<(), AnomalyError> {
        if !valid_list_name(name) {
            return Err(AnomalyError::AsnList {
                file: origin.to_string(),
                line: 0,
                message: format!("list name `{name}`: list names use letters, digits, `-` and `_`"),
            });
        }
        let mut asns = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let asn = parse_asn(content).ok_or_else(|| AnomalyError::AsnList {
                file: origin.to_string(),
                line: i + 1,
                message: format!(
                    "`{content}` is not an AS number (AS16509, as16509 or 16509 expected)"
                ),
            })?;
            asns.push(asn);
        }
        let set = self.lists.entry(name.to_string()).or_default();
        set.0.extend(asns);
        set.0.sort_unstable();
        set.0.dedup();
        Ok(())
    }

    /// Reads `path` into list `name` (start-up IO; lookups never read files).
    pub fn add_file(&mut self, name: &str, path: &Path) -> Result<(), AnomalyError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnomalyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_text(name, &path.display().to_string(), &text)
    }

    /// Adds one `NAME=FILE` pair, as given on the command line.
    pub fn add_spec(&mut self, spec: &str) -> Result<(), AnomalyError> {
        match spec.split_once('=') {
            Some((name, file)) if !file.is_empty() => self.add_file(name.trim(), Path::new(file)),
            _ => Err(AnomalyError::Config(format!(
                "ASN list `{spec}`: expected NAME=FILE"
            ))),
        }
    }

    /// Loads every `NAME=FILE` pair.
    pub fn load_specs<S: AsRef<str>>(specs: &[S]) -> Result<AsnLists, AnomalyError> {
        let mut lists = AsnLists::new();
        for s in specs {
            lists.add_spec(s.as_ref())?;
        }
        Ok(lists)
    }

    pub fn get(&self, name: &str) -> Option<&AsnSet> {
        self.lists.get(name)
    }

    /// The list names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

/// What the IP detections can use beyond IP lists, for [`crate::AnomalyEngine::with_intel`]:
/// an anonymous-IP database (a source of `anonymous-ip`), an ASN database (needed by ASN lists;
/// it also puts `asn` and `as_org` in the evidence of both IP detections) and ASN lists (named
/// in a detection's `lists` like IP lists).
#[derive(Debug, Default)]
pub struct IpIntel {
    pub anonymous_db: Option<AnonymousIpDb>,
    pub asn_db: Option<AsnDb>,
    pub asn_lists: AsnLists,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn asn_forms() {
        assert_eq!(parse_asn("AS16509"), Some(16509));
        assert_eq!(parse_asn("as16509"), Some(16509));
        assert_eq!(parse_asn("As16509"), Some(16509));
        assert_eq!(parse_asn("16509"), Some(16509));
        assert_eq!(parse_asn("4294967295"), Some(u32::MAX));
        for bad in [
            "",
            "AS",
            "AS-1",
            "ASN16509",
            "16509x",
            "4294967296",
            "+5",
            "AS 1",
        ] {
            assert_eq!(parse_asn(bad), None, "{bad}");
        }
    }

    #[test]
    fn asn_list_text_and_errors() {
        let mut l = AsnLists::new();
        l.add_text(
            "vpn",
            "vpn.txt",
            "# providers\nAS9009\n\nas20473  # vultr\n 60068 \n9009\n",
        )
        .unwrap();
        let s = l.get("vpn").unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.contains(9009) && s.contains(20473) && s.contains(60068));
        assert!(!s.contains(16509));
        let e = l
            .add_text("vpn", "more.txt", "AS1\nAS2\nAmazon\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("more.txt:3"), "{e}");
        assert!(e.contains("Amazon"), "{e}");
        let e = l.add_text("bad name", "x.txt", "").unwrap_err().to_string();
        assert!(e.contains("list names"), "{e}");
        assert!(l.add_spec("no-file").is_err());
    }

    #[test]
    fn categories() {
        assert_eq!(Categories::parse("tor"), Some(Categories::TOR));
        assert_eq!(Categories::parse("anonymous"), None);
        let c = Categories::TOR.union(Categories::HOSTING);
        assert_eq!(c.names().collect::<Vec<_>>(), ["tor", "hosting"]);
        assert!(!Categories::DEFAULT_COUNTED.contains(Categories::HOSTING));
        for n in CATEGORY_NAMES.iter().filter(|n| **n != "hosting") {
            let one = Categories::parse(n).unwrap();
            assert!(Categories::DEFAULT_COUNTED.contains(one), "{n}");
        }
        assert!(c.intersection(Categories::DEFAULT_COUNTED) == Categories::TOR);
    }
}
