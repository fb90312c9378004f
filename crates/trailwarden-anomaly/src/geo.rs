//! Geo-location: a MaxMind-format City database (GeoLite2/GeoIP2 City, DB-IP City) behind the
//! small [`GeoLookup`] trait, so the detections can be tested with a fake.

use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::AnomalyError;

/// Where an IP address is, as far as the database knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// ISO 3166-1 alpha-2 country code (`DE`), when known.
    pub country: Option<String>,
    /// City name in English, when known.
    pub city: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    /// The database's `accuracy_radius`, in km (0 when absent).
    pub accuracy_radius_km: f64,
}

/// Looks up IP addresses. Implementations must be pure (same answer for the same address).
pub trait GeoLookup: Send {
    /// `None` when the address is not in the database or has no coordinates and no country.
    fn lookup(&self, ip: IpAddr) -> Option<GeoLocated>;
}

/// A lookup's answer: coordinates are optional (country-only records exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoLocated {
    pub country: Option<String>,
    pub city: Option<String>,
    pub coords: Option<(f64, f64)>,
    pub accuracy_radius_km: f64,
}

impl GeoLocated {
    pub fn point(&self) -> Option<GeoPoint> {
        let (latitude, longitude) = self.coords?;
        Some(GeoPoint {
            country: self.country.clone(),
            city: self.city.clone(),
            latitude,
            longitude,
            accuracy_radius_km: self.accuracy_radius_km,
        })
    }
}

/// A MaxMind-format City database, read into memory at start-up.
pub struct GeoDb {
    reader: crate::mmdb::Reader,
    description: String,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("database", &self.description)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct MmNames<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct MmCountry<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct MmCity<'a> {
    #[serde(borrow, default)]
    names: Option<MmNames<'a>>,
}

#[derive(Deserialize)]
struct MmLocation {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    accuracy_radius: Option<u16>,
}

#[derive(Deserialize)]
struct MmRecord<'a> {
    #[serde(borrow, default)]
    country: Option<MmCountry<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<MmCountry<'a>>,
    #[serde(borrow, default)]
    city: Option<MmCity<'a>>,
    #[serde(default)]
    location: Option<MmLocation>,
}

impl GeoDb {
    /// Opens a MaxMind-format database (memory-mapped: replace the file by rename, never in
    /// place, while trailwarden runs).
    pub fn open(path: &Path) -> Result<GeoDb, AnomalyError> {
        let reader = crate::mmdb::open(path).map_err(|message| AnomalyError::GeoDb {
            path: path.to_path_buf(),
            message,
        })?;
        Self::check(reader, &path.display().to_string())
    }

    /// A database from bytes (tests, or a caller that fetched it elsewhere).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<GeoDb, AnomalyError> {
        let reader = crate::mmdb::from_bytes(bytes).map_err(|message| AnomalyError::GeoDb {
            path: "<memory>".into(),
            message,
        })?;
        Self::check(reader, "<memory>")
    }

    fn check(reader: crate::mmdb::Reader, origin: &str) -> Result<GeoDb, AnomalyError> {
        let m = reader.metadata();
        let description = format!("{} ({}, built {})", m.database_type, origin, m.build_epoch);
        Ok(GeoDb {
            reader,
            description,
        })
    }

    /// `database_type (path, built EPOCH)`, for the start-up log line.
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl GeoLookup for GeoDb {
    fn lookup(&self, ip: IpAddr) -> Option<GeoLocated> {
        let result = self.reader.lookup(ip).ok()?;
        let rec: MmRecord<'_> = result.decode().ok()??;
        let country = rec
            .country
            .and_then(|c| c.iso_code)
            .or(rec.registered_country.and_then(|c| c.iso_code))
            .map(str::to_string);
        let city = rec
            .city
            .and_then(|c| c.names)
            .and_then(|n| n.en)
            .map(str::to_string);
        let (coords, radius) = match rec.location {
            Some(MmLocation {
                latitude: Some(la),
                longitude: Some(lo),
                accuracy_radius,
            }) if la.is_finite() && lo.is_finite() => {
                (Some((la, lo)), f64::from(accuracy_radius.unwrap_or(0)))
            }
            _ => (None, 0.0),
        };
        if coords.is_none() && country.is_none() {
            return None;
        }
        Some(GeoLocated {
            country,
            city,
            coords,
            accuracy_radius_km: radius,
        })
    }
}

/// Great-circle distance in km (haversine, mean Earth radius 6371 km).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().clamp(0.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        // Paris – New York ≈ 5837 km
        let d = distance_km((48.8566, 2.3522), (40.7128, -74.0060));
        assert!((d - 5837.0).abs() < 20.0, "{d}");
        assert!(distance_km((1.0, 1.0), (1.0, 1.0)).abs() < 1e-9);
        // antipodes do not produce NaN
        assert!(distance_km((0.0, 0.0), (0.0, 180.0)).is_finite());
    }
}
