//! `eventTime` parsing: RFC 3339 in UTC, fast path for CloudTrail's own `YYYY-MM-DDTHH:MM:SSZ`.

use crate::model::MicrosUtc;

/// Parses a CloudTrail timestamp to microseconds since the epoch, UTC.
pub fn parse_event_time(s: &str) -> Option<MicrosUtc> {
    let b = s.as_bytes();
    if b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[13] == b':'
        && b[16] == b':'
        && (b[19] == b'Z' || b[19] == b'z')
    {
        let n = |r: std::ops::Range<usize>| -> Option<i64> {
            let mut v = 0i64;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some(v)
        };
        let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
        let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
        if !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || se > 60
        {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        return Some(((days * 24 + h) * 60 + mi) * 60_000_000 + se * 1_000_000);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats microseconds UTC as RFC 3339 with `Z` (seconds precision when whole).
pub fn format_micros(t: MicrosUtc) -> String {
    let secs = t.div_euclid(1_000_000);
    let micros = t.rem_euclid(1_000_000);
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return t.to_string();
    };
    let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    if micros == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}Z")
    }
}

/// The UTC date `YYYY-MM-DD` of a time.
pub fn date_of(t: MicrosUtc) -> String {
    format_micros(t)[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_time_crate() {
        for s in [
            "2024-03-01T12:34:56Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2099-12-31T00:00:01Z",
        ] {
            let want =
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .unwrap()
                    .unix_timestamp()
                    * 1_000_000;
            assert_eq!(parse_event_time(s), Some(want), "{s}");
            assert_eq!(format_micros(want), s);
        }
    }

    #[test]
    fn other_rfc3339_forms() {
        assert_eq!(
            parse_event_time("2024-03-01T12:00:00.5Z"),
            Some(1_709_294_400_500_000)
        );
        assert_eq!(
            parse_event_time("2024-03-01T13:00:00+01:00"),
            Some(1_709_294_400_000_000)
        );
        assert_eq!(
            format_micros(1_709_294_400_500_000),
            "2024-03-01T12:00:00.500000Z"
        );
    }

    #[test]
    fn rejects_junk() {
        for s in [
            "",
            "yesterday",
            "2024-02-30T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-03-01 12:00:00",
        ] {
            assert_eq!(parse_event_time(s), None, "{s}");
        }
    }
}
