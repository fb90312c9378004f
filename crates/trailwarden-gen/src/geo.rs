//! Where generated addresses are. Every public address of the background (and of the anomaly
//! scenarios' principals) comes from one [`GeoSite`]: a place and address prefixes that a
//! MaxMind-format City database (GeoLite2-City) puts there. A principal draws all its addresses
//! from one site, so its background activity is geo-consistent: it never seems to travel and
//! stays in one country. (Other source addresses are not geo-located at all: service host
//! names, `AWS Internal`, VPC-endpoint private addresses, and the documentation ranges of the
//! risky, anonymous and suspicious lists.)
//!
//! The generator does not read a database. The prefixes were chosen by looking every /24 of
//! candidate ranges up in GeoLite2-City (the build of 3 July 2018 in `../shared/data/geo/`) and
//! keeping those located in the site's metro area; for cloud ranges and residential IPv6 the
//! database often knows little more than the country, with an accuracy radius to match.
//! `crates/trailwarden/tests/anomaly_scenarios.rs` checks the table against that database when
//! it is present — every sampled address in the site's country, and any two places of one site
//! less than the impossible-travel minimum distance (500 km) apart once both accuracy radii are
//! subtracted — and builds from the table the tiny database it uses otherwise.

use rand::seq::IndexedRandom;
use rand::Rng;

/// A place and the address prefixes located there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoSite {
    /// Stable name (`de-berlin`, `aws-us-east-1`).
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    pub city: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    /// An accuracy radius (km) for a database built from this table: about what GeoLite2 says
    /// for these prefixes.
    pub accuracy_radius_km: u16,
    /// Address prefixes as text: `"91.64.0."` is a /24, `"18.206."` a /16,
    /// `"2a02:8108:1dc0:"` a /48. See [`GeoSite::cidrs`].
    pub prefixes: &'static [&'static str],
}

impl GeoSite {
    /// The prefixes as CIDR blocks (`91.64.0.0/24`, `18.206.0.0/16`, `2a02:8108:1dc0::/48`).
    pub fn cidrs(&self) -> Vec<String> {
        self.prefixes.iter().map(|p| prefix_cidr(p)).collect()
    }
}

fn prefix_cidr(p: &str) -> String {
    if p.contains(':') {
        let groups = p.trim_end_matches(':').split(':').count();
        format!("{p}:/{}", groups * 16)
    } else {
        let octets = p.trim_end_matches('.').split('.').count();
        let zeros = vec!["0"; 4 - octets.min(4)].join(".");
        format!("{p}{zeros}/{}", octets * 8)
    }
}

/// Every site the generator draws addresses from, the anomaly scenarios' included.
pub const GEO_SITES: &[GeoSite] = &[
    // ---- where people live (background and scenario principals)
    GeoSite {
        name: "us-san-francisco",
        country: "US",
        city: "San Francisco",
        latitude: 37.77,
        longitude: -122.42,
        accuracy_radius_km: 10,
        prefixes: &[
            "73.92.8.",
            "73.92.9.",
            "73.92.24.",
            "73.92.25.",
            "73.92.48.",
            "73.92.49.",
            "98.207.4.",
            "98.207.16.",
            "98.207.17.",
            "98.207.112.",
            "2600:1700:5a40:",
        ],
    },
    GeoSite {
        name: "us-seattle",
        country: "US",
        city: "Seattle",
        latitude: 47.61,
        longitude: -122.33,
        accuracy_radius_km: 5,
        prefixes: &[
            "24.18.44.",
            "24.18.45.",
            "24.18.70.",
            "24.18.128.",
            "24.18.129.",
            "24.18.176.",
            "24.18.177.",
            "24.18.208.",
        ],
    },
    GeoSite {
        name: "ca-toronto",
        country: "CA",
        city: "Toronto",
        latitude: 43.65,
        longitude: -79.38,
        accuracy_radius_km: 5,
        prefixes: &[
            "99.224.0.",
            "99.224.1.",
            "99.224.16.",
            "99.224.56.",
            "99.224.128.",
            "99.224.129.",
        ],
    },
    GeoSite {
        name: "gb-london",
        country: "GB",
        city: "London",
        latitude: 51.51,
        longitude: -0.13,
        accuracy_radius_km: 10,
        prefixes: &[
            "86.144.192.",
            "86.144.193.",
            "90.201.104.",
            "90.201.148.",
            "90.201.164.",
            "90.201.184.",
            "90.201.185.",
            "109.150.220.",
        ],
    },
    GeoSite {
        name: "de-berlin",
        country: "DE",
        city: "Berlin",
        latitude: 52.52,
        longitude: 13.40,
        accuracy_radius_km: 5,
        prefixes: &[
            "91.64.0.",
            "91.64.7.",
            "91.64.32.",
            "91.64.33.",
            "91.64.56.",
            "91.64.72.",
            "91.64.186.",
            "2a02:8108:1dc0:",
        ],
    },
    GeoSite {
        name: "fr-paris",
        country: "FR",
        city: "Paris",
        latitude: 48.86,
        longitude: 2.35,
        accuracy_radius_km: 5,
        prefixes: &[
            "86.246.4.",
            "86.246.5.",
            "86.246.32.",
            "86.246.33.",
            "86.246.64.",
            "86.246.80.",
            "2a01:cb1d:8b3:",
        ],
    },
    // ---- only the anomaly scenarios go there
    GeoSite {
        name: "jp-tokyo",
        country: "JP",
        city: "Tokyo",
        latitude: 35.69,
        longitude: 139.69,
        accuracy_radius_km: 10,
        prefixes: &["126.15.0.", "126.15.1.", "126.15.48.", "126.15.128."],
    },
    GeoSite {
        name: "in-mumbai",
        country: "IN",
        city: "Mumbai",
        latitude: 19.08,
        longitude: 72.88,
        accuracy_radius_km: 10,
        prefixes: &["49.36.0.", "49.36.1.", "49.36.2.", "49.36.3."],
    },
    GeoSite {
        name: "au-melbourne",
        country: "AU",
        city: "Melbourne",
        latitude: -37.81,
        longitude: 144.96,
        accuracy_radius_km: 50,
        prefixes: &["101.160.0.", "101.160.2.", "101.160.3."],
    },
    GeoSite {
        name: "br-brasilia",
        country: "BR",
        city: "Brasília",
        latitude: -15.79,
        longitude: -47.88,
        accuracy_radius_km: 5,
        prefixes: &["189.6.0.", "189.6.1.", "189.6.80.", "189.6.81."],
    },
    // ---- cloud egress: EC2, Lambda and machine callers, per AWS region
    GeoSite {
        name: "aws-us-east-1",
        country: "US",
        city: "Ashburn",
        latitude: 39.04,
        longitude: -77.49,
        accuracy_radius_km: 1000,
        prefixes: &["18.206.", "52.23.", "54.165."],
    },
    GeoSite {
        name: "aws-eu-west-1",
        country: "IE",
        city: "Dublin",
        latitude: 53.34,
        longitude: -6.26,
        accuracy_radius_km: 200,
        prefixes: &["34.245.", "52.18.", "54.78."],
    },
    GeoSite {
        name: "aws-ap-southeast-2",
        country: "AU",
        city: "Sydney",
        latitude: -33.87,
        longitude: 151.21,
        accuracy_radius_km: 1000,
        prefixes: &["52.62.", "13.54."],
    },
    GeoSite {
        name: "aws-us-west-2",
        country: "US",
        city: "Boardman",
        latitude: 45.84,
        longitude: -119.70,
        accuracy_radius_km: 1000,
        prefixes: &["34.216.", "52.88."],
    },
    GeoSite {
        name: "aws-eu-central-1",
        country: "DE",
        city: "Frankfurt am Main",
        latitude: 50.11,
        longitude: 8.68,
        accuracy_radius_km: 1000,
        prefixes: &["3.120.", "52.28."],
    },
    GeoSite {
        name: "aws-eu-west-3",
        country: "FR",
        city: "Paris",
        latitude: 48.86,
        longitude: 2.35,
        accuracy_radius_km: 500,
        prefixes: &["35.180.", "52.47."],
    },
    // ---- CI runners (Azure, United States; the database knows little more than the country)
    GeoSite {
        name: "azure-us",
        country: "US",
        city: "",
        latitude: 37.75,
        longitude: -97.82,
        accuracy_radius_km: 1000,
        prefixes: &["20.42.", "20.84.", "40.76."],
    },
];

/// Where people live, with relative weights.
const HOME_SITES: [(&str, u32); 6] = [
    ("us-san-francisco", 3),
    ("us-seattle", 2),
    ("ca-toronto", 1),
    ("gb-london", 3),
    ("de-berlin", 2),
    ("fr-paris", 2),
];

/// The site named `name`; the first site for an unknown name (a programming error that tests
/// catch, never a panic).
pub(crate) fn site(name: &str) -> &'static GeoSite {
    GEO_SITES
        .iter()
        .find(|s| s.name == name)
        .unwrap_or(&GEO_SITES[0])
}

/// The egress site of an AWS region.
pub(crate) fn region_site(region: &str) -> &'static GeoSite {
    site(match region {
        "us-east-1" => "aws-us-east-1",
        "eu-west-1" => "aws-eu-west-1",
        "ap-southeast-2" => "aws-ap-southeast-2",
        "us-west-2" => "aws-us-west-2",
        "eu-west-3" => "aws-eu-west-3",
        _ => "aws-eu-central-1",
    })
}

/// A person's home, drawn by weight.
pub(crate) fn home_site<R: Rng>(rng: &mut R) -> &'static GeoSite {
    let total: u32 = HOME_SITES.iter().map(|h| h.1).sum();
    let mut x = rng.random_range(0..total);
    for (name, w) in HOME_SITES {
        if x < w {
            return site(name);
        }
        x -= w;
    }
    site(HOME_SITES[0].0)
}

/// An address of `site`. IPv6 prefixes are drawn with probability 0.15 when the site has any
/// (people at home); cloud sites have none.
pub(crate) fn site_ip<R: Rng>(rng: &mut R, site: &GeoSite) -> String {
    let (v6, v4): (Vec<&str>, Vec<&str>) = site.prefixes.iter().partition(|p| p.contains(':'));
    let use_v6 = !v6.is_empty() && (v4.is_empty() || rng.random_bool(0.15));
    let pool = if use_v6 { &v6 } else { &v4 };
    let p = pool.choose(rng).copied().unwrap_or("91.64.0.");
    address_in(rng, p)
}

/// An address of the site's IPv4 prefixes only.
pub(crate) fn site_ipv4<R: Rng>(rng: &mut R, site: &GeoSite, index: usize) -> String {
    let v4: Vec<&str> = site
        .prefixes
        .iter()
        .copied()
        .filter(|p| !p.contains(':'))
        .collect();
    let p = v4
        .get(index % v4.len().max(1))
        .copied()
        .unwrap_or("91.64.0.");
    address_in(rng, p)
}

/// A random host address in a prefix written as in [`GeoSite::prefixes`].
pub(crate) fn address_in<R: Rng>(rng: &mut R, p: &str) -> String {
    if p.contains(':') {
        format!(
            "{p}{:x}:{:x}:{:x}:{:x}:{:x}",
            rng.random_range(0x1000..0xffffu32),
            rng.random_range(0x1000..0xffffu32),
            rng.random_range(0x1000..0xffffu32),
            rng.random_range(0x1000..0xffffu32),
            rng.random_range(0x1000..0xffffu32)
        )
    } else if p.matches('.').count() == 3 {
        format!("{p}{}", rng.random_range(2..=254u32))
    } else {
        format!(
            "{p}{}.{}",
            rng.random_range(0..=255u32),
            rng.random_range(2..=254u32)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn cidrs_are_well_formed() {
        assert_eq!(prefix_cidr("91.64.0."), "91.64.0.0/24");
        assert_eq!(prefix_cidr("18.206."), "18.206.0.0/16");
        assert_eq!(prefix_cidr("2a02:8108:1dc0:"), "2a02:8108:1dc0::/48");
        for s in GEO_SITES {
            for c in s.cidrs() {
                let (addr, len) = c.split_once('/').unwrap();
                assert!(addr.parse::<std::net::IpAddr>().is_ok(), "{c}");
                assert!(len.parse::<u8>().is_ok(), "{c}");
            }
        }
    }

    #[test]
    fn names_are_unique_and_lookups_resolve() {
        let mut names: Vec<&str> = GEO_SITES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), GEO_SITES.len());
        for (h, _) in HOME_SITES {
            assert_eq!(site(h).name, h);
        }
        for r in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-2",
            "us-west-2",
            "eu-central-1",
            "eu-west-3",
        ] {
            assert!(region_site(r).name.ends_with(r), "{r}");
        }
    }

    #[test]
    fn no_prefix_is_in_two_sites_and_addresses_stay_in_their_prefix() {
        let mut all: Vec<&str> = GEO_SITES
            .iter()
            .flat_map(|s| s.prefixes.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a prefix is listed twice");
        for a in &all {
            for b in &all {
                assert!(a == b || !b.starts_with(a), "{a} contains {b}");
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for s in GEO_SITES {
            for _ in 0..50 {
                let ip = site_ip(&mut rng, s);
                assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
                assert!(s.prefixes.iter().any(|p| ip.starts_with(p)), "{ip}");
            }
        }
    }
}
