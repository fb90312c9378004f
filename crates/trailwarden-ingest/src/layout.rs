//! The CloudTrail S3 delivery layout.
//!
//! ```text
//! AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_RANDOM.json.gz
//! AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/…_CloudTrail-Digest_…_YYYYMMDDTHHmmssZ.json.gz
//! AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail-Insight/REGION/YYYY/MM/DD/…
//! ```
//! Keys outside this layout (a flat directory of files) have no [`Layout`] and are never
//! skipped by layout; their events are still filtered one by one.

use trailwarden_parse::MicrosUtc;

/// Which CloudTrail product wrote the object, from the path segment after the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectClass {
    Trail,
    Digest,
    Insight,
}

/// What an object's key tells before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub org: Option<String>,
    pub account: String,
    pub class: ObjectClass,
    pub region: String,
    /// The delivery date folder, as days since the epoch.
    pub day: i64,
    /// The time in the file name (end of the delivery window), when present.
    pub file_time: Option<MicrosUtc>,
}

/// Reads the layout from a key or path (any prefix before `AWSLogs/` is ignored).
pub fn parse(key: &str) -> Option<Layout> {
    let norm = key.replace('\\', "/");
    let segs: Vec<&str> = norm.split('/').collect();
    let start = segs.iter().rposition(|s| *s == "AWSLogs")?;
    let mut rest = &segs[start + 1..];
    let org = match rest.first() {
        Some(s) if s.starts_with("o-") => {
            let o = s.to_string();
            rest = &rest[1..];
            Some(o)
        }
        _ => None,
    };
    let [account, class, region, y, m, d, file, ..] = rest else {
        return None;
    };
    let class = match *class {
        "CloudTrail" => ObjectClass::Trail,
        "CloudTrail-Digest" => ObjectClass::Digest,
        "CloudTrail-Insight" => ObjectClass::Insight,
        _ => return None,
    };
    let date = format!("{y}-{m}-{d}T00:00:00Z");
    let day = trailwarden_parse::parse_event_time(&date)? / 86_400_000_000;
    Some(Layout {
        org,
        account: account.to_string(),
        class,
        region: region.to_string(),
        day,
        file_time: file_name_time(file),
    })
}

/// `…_20240301T0005Z_…` or `…_20240301T000512Z…` in a file name → the time.
fn file_name_time(name: &str) -> Option<MicrosUtc> {
    for part in name.split(['_', '.']) {
        let b = part.as_bytes();
        if (b.len() == 14 || b.len() == 16) && b[8] == b'T' && b[b.len() - 1] == b'Z' {
            let digits = |r: std::ops::Range<usize>| {
                part.get(r)
                    .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
            };
            let (y, mo, d, h, mi) = (
                digits(0..4)?,
                digits(4..6)?,
                digits(6..8)?,
                digits(9..11)?,
                digits(11..13)?,
            );
            let s = if b.len() == 16 { digits(13..15)? } else { "00" };
            return trailwarden_parse::parse_event_time(&format!("{y}-{mo}-{d}T{h}:{mi}:{s}Z"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_org_layouts() {
        let l = parse("/data/AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T0005Z_abcDEF0123456789.json.gz").unwrap();
        assert_eq!(l.account, "111122223333");
        assert_eq!(l.region, "us-east-1");
        assert_eq!(l.class, ObjectClass::Trail);
        assert_eq!(l.org, None);
        assert_eq!(l.day, 19783);
        assert_eq!(
            l.file_time,
            trailwarden_parse::parse_event_time("2024-03-01T00:05:00Z")
        );
        let l = parse("s3://b/p/AWSLogs/o-abc123/444455556666/CloudTrail-Digest/eu-west-1/2024/03/02/444455556666_CloudTrail-Digest_eu-west-1_trail_us-east-1_20240302T010203Z.json.gz").unwrap();
        assert_eq!(
            (l.org.as_deref(), l.class),
            (Some("o-abc123"), ObjectClass::Digest)
        );
        assert_eq!(
            l.file_time,
            trailwarden_parse::parse_event_time("2024-03-02T01:02:03Z")
        );
    }

    #[test]
    fn flat_and_odd_keys_have_no_layout() {
        assert_eq!(parse("trail.json.gz"), None);
        assert_eq!(
            parse("AWSLogs/111122223333/CloudTrail/us-east-1/2024/13/01/x.json"),
            None
        );
        assert_eq!(
            parse("AWSLogs/111122223333/Config/us-east-1/2024/03/01/x.json"),
            None
        );
    }
}
