//! A minimal MaxMind DB writer for tests (format 2.0, an IPv6 search tree with 24-bit records,
//! IPv4 networks under `::/96` as MaxMind lays them out): GeoIP2-City-shaped records
//! (`country.iso_code`, `city.names.en`, `location.latitude/longitude/accuracy_radius`) for
//! whole networks, so `GeoDb` and the geo detections run without the real database — and any
//! record maps ([`build_records`], [`Val`]: strings, booleans, unsigned integers, doubles,
//! maps) under any `database_type`, with helpers for GeoIP2-Anonymous-IP-, IPinfo-privacy- and
//! GeoLite2-ASN-shaped records.
//!
//! Shared by `crates/trailwarden-anomaly/tests/anomaly.rs` and
//! `crates/trailwarden/tests/anomaly_scenarios.rs` (through `#[path]`).

#![allow(dead_code)] // each test binary uses part of it

use std::net::IpAddr;

/// One network and where it is.
#[derive(Debug, Clone)]
pub struct CityNet {
    /// `198.51.100.0/24`, `2a02:8108:1dc0::/48`.
    pub cidr: String,
    pub country: String,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_radius_km: u16,
}

impl CityNet {
    pub fn new(cidr: &str, country: &str, city: &str, lat: f64, lon: f64, radius: u16) -> Self {
        CityNet {
            cidr: cidr.to_string(),
            country: country.to_string(),
            city: city.to_string(),
            latitude: lat,
            longitude: lon,
            accuracy_radius_km: radius,
        }
    }
}

/// A value of a record written by [`build_records`].
#[derive(Debug, Clone)]
pub enum Val {
    Str(String),
    /// MaxMind type 14: the size field is the value, no payload.
    Bool(bool),
    U16(u16),
    U32(u32),
    F64(f64),
    Map(Vec<(String, Val)>),
}

/// The `database_type` of [`anonymous_ip`] databases.
pub const ANONYMOUS_IP_TYPE: &str = "GeoIP2-Anonymous-IP";
/// The `database_type` of [`ipinfo_privacy`] databases.
pub const IPINFO_PRIVACY_TYPE: &str = "ipinfo standard_privacy.mmdb";
/// The `database_type` of [`asn`] databases.
pub const ASN_TYPE: &str = "GeoLite2-ASN";

/// A GeoIP2 Anonymous IP record: `is_anonymous` and each of `flags` (`is_tor_exit_node`,
/// `is_anonymous_vpn`, `is_public_proxy`, `is_residential_proxy`, `is_hosting_provider`) true —
/// MaxMind writes only the true keys.
pub fn anonymous_ip(flags: &[&str]) -> Val {
    let mut m = vec![("is_anonymous".to_string(), Val::Bool(true))];
    m.extend(flags.iter().map(|f| (f.to_string(), Val::Bool(true))));
    Val::Map(m)
}

/// An IPinfo privacy-detection record with every flag present as the strings `"true"` /
/// `"false"` (as IPinfo's mmdbs write them), `true` for those in `on` (`vpn`, `proxy`, `tor`,
/// `relay`, `hosting`), and `service`.
pub fn ipinfo_privacy(on: &[&str], service: &str) -> Val {
    let mut m: Vec<(String, Val)> = ["hosting", "proxy", "relay", "tor", "vpn"]
        .iter()
        .map(|k| {
            let v = if on.contains(k) { "true" } else { "false" };
            (k.to_string(), Val::Str(v.to_string()))
        })
        .collect();
    m.push(("service".to_string(), Val::Str(service.to_string())));
    Val::Map(m)
}

/// A GeoLite2-ASN record.
pub fn asn(number: u32, organization: &str) -> Val {
    Val::Map(vec![
        ("autonomous_system_number".to_string(), Val::U32(number)),
        (
            "autonomous_system_organization".to_string(),
            Val::Str(organization.to_string()),
        ),
    ])
}

fn encode_val(out: &mut Vec<u8>, v: &Val) {
    match v {
        Val::Str(s) => encode(out, &V::S(s)),
        Val::Bool(b) => ctrl(out, 14, usize::from(*b)),
        Val::U16(n) => encode(out, &V::U16(*n)),
        Val::U32(n) => encode(out, &V::U32(*n)),
        Val::F64(f) => encode(out, &V::F(*f)),
        Val::Map(pairs) => {
            ctrl(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &V::S(k));
                encode_val(out, v);
            }
        }
    }
}

/// A database of `database_type` mapping each network (`cidr`) to its record. Networks must
/// not overlap.
pub fn build_records(database_type: &str, records: &[(&str, Val)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nets = Vec::new();
    for (cidr, v) in records {
        nets.push((cidr.to_string(), data.len()));
        encode_val(&mut data, v);
    }
    assemble(database_type, &nets, data)
}

enum V<'a> {
    S(&'a str),
    F(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    M(Vec<(&'a str, V<'a>)>),
    A(Vec<V<'a>>),
}

fn ctrl(out: &mut Vec<u8>, ty: u8, size: usize) {
    let (first, ext) = if ty <= 7 {
        (ty << 5, None)
    } else {
        (0, Some(ty - 7))
    };
    assert!(size < 29 + 256, "value too long for this writer");
    out.push(first | size.min(29) as u8);
    if let Some(e) = ext {
        out.push(e);
    }
    if size >= 29 {
        out.push((size - 29) as u8);
    }
}

fn uint(out: &mut Vec<u8>, ty: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    ctrl(out, ty, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, v: &V) {
    match v {
        V::S(s) => {
            ctrl(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        V::F(f) => {
            ctrl(out, 3, 8);
            out.extend_from_slice(&f.to_be_bytes());
        }
        V::U16(n) => uint(out, 5, u64::from(*n)),
        V::U32(n) => uint(out, 6, u64::from(*n)),
        V::U64(n) => uint(out, 9, *n),
        V::M(pairs) => {
            ctrl(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &V::S(k));
                encode(out, v);
            }
        }
        V::A(items) => {
            ctrl(out, 11, items.len());
            for v in items {
                encode(out, v);
            }
        }
    }
}

/// `cidr` as a 128-bit key and prefix length in the IPv6 tree (IPv4 under `::/96`).
fn key(cidr: &str) -> (u128, u32) {
    let (addr, len) = cidr.split_once('/').expect("a CIDR");
    let len: u32 = len.parse().expect("a prefix length");
    match addr.parse::<IpAddr>().expect("an address") {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 96 + len),
        IpAddr::V6(a) => (u128::from(a), len),
    }
}

/// The database bytes (`database_type` `Tiny-Test-City`). Networks must not overlap.
pub fn build(nets: &[CityNet]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut placed = Vec::new();
    for n in nets {
        placed.push((n.cidr.clone(), data.len()));
        let mut city = vec![];
        if !n.city.is_empty() {
            city.push((
                "city",
                V::M(vec![("names", V::M(vec![("en", V::S(&n.city))]))]),
            ));
        }
        let mut rec = city;
        rec.push(("country", V::M(vec![("iso_code", V::S(&n.country))])));
        rec.push((
            "location",
            V::M(vec![
                ("accuracy_radius", V::U16(n.accuracy_radius_km)),
                ("latitude", V::F(n.latitude)),
                ("longitude", V::F(n.longitude)),
            ]),
        ));
        encode(&mut data, &V::M(rec));
    }
    assemble("Tiny-Test-City", &placed, data)
}

/// The search tree over `nets` (CIDR, offset of its record in `data`), the data section and
/// the metadata.
fn assemble(database_type: &str, nets: &[(String, usize)], data: Vec<u8>) -> Vec<u8> {
    // the search tree: nodes as [left, right]; EMPTY until filled, LEAF(i) for data i
    const EMPTY: u64 = u64::MAX;
    const LEAF: u64 = 1 << 62;
    let mut nodes: Vec<[u64; 2]> = vec![[EMPTY, EMPTY]];
    for (i, (cidr, _)) in nets.iter().enumerate() {
        let (bits, len) = key(cidr);
        assert!((1..=128).contains(&len), "{cidr}");
        let mut node = 0usize;
        for depth in 0..len {
            let side = ((bits >> (127 - depth)) & 1) as usize;
            let slot = nodes[node][side];
            if depth == len - 1 {
                assert!(slot == EMPTY, "{cidr} overlaps another network");
                nodes[node][side] = LEAF | i as u64;
            } else {
                assert!(
                    slot & LEAF == 0 || slot == EMPTY,
                    "{cidr} is inside another network"
                );
                if slot == EMPTY {
                    nodes.push([EMPTY, EMPTY]);
                    nodes[node][side] = (nodes.len() - 1) as u64;
                }
                node = nodes[node][side] as usize;
            }
        }
    }
    let count = nodes.len() as u64;
    let mut out = Vec::new();
    for row in &nodes {
        for &r in row {
            let v = if r == EMPTY {
                count // no data
            } else if r & LEAF != 0 {
                count + 16 + nets[(r & !LEAF) as usize].1 as u64
            } else {
                r
            };
            assert!(v < 1 << 24, "the tree outgrew 24-bit records");
            out.extend_from_slice(&v.to_be_bytes()[5..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let meta = V::M(vec![
        ("binary_format_major_version", V::U16(2)),
        ("binary_format_minor_version", V::U16(0)),
        ("build_epoch", V::U64(1_700_000_000)),
        ("database_type", V::S(database_type)),
        (
            "description",
            V::M(vec![("en", V::S("built by the trailwarden tests"))]),
        ),
        ("ip_version", V::U16(6)),
        ("languages", V::A(vec![V::S("en")])),
        ("node_count", V::U32(count as u32)),
        ("record_size", V::U16(24)),
    ]);
    encode(&mut out, &meta);
    out
}
