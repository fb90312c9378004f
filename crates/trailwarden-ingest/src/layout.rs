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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// For objects processed in the given order (file time order, as a replay feeds them): after
/// each object, the time before which no later object holds an event — its *low watermark* —
/// as far as CloudTrail's delivery tells, less `margin_us` for events delivered late.
///
/// CloudTrail delivers each stream (organization, account, class, region) in sequence: an
/// object holds the events since the stream's previous delivery, so every event of a stream's
/// next object is at or after the stream's last earlier file time. The watermark is the least
/// of those bounds over the streams that still have objects to come. A stream's first object
/// gives no bound (its events may begin at any time before its file time): until it is
/// processed, the watermark stays at most `first_span_us` before its file time. Objects that
/// hold no events (digests) constrain nothing. `None` after an object: no bound (an object
/// without a file time anywhere in the run, or nothing left to come).
///
/// Detectors apply what the watermark has passed instead of holding every observation for
/// their whole allowed lateness (see `Batch::low_watermark`).
pub fn low_watermarks(
    layouts: &[Option<Layout>],
    first_span_us: i64,
    margin_us: i64,
) -> Vec<Option<MicrosUtc>> {
    use std::collections::{BTreeSet, HashMap};
    let n = layouts.len();
    // (stream id, file time) per object; digests have no events and no stream
    let mut streams: HashMap<(Option<&str>, &str, ObjectClass, &str), usize> = HashMap::new();
    let mut of: Vec<Option<(usize, MicrosUtc)>> = Vec::with_capacity(n);
    for l in layouts {
        // no layout or no file time: nothing can be said about the order
        let Some(l) = l else { return vec![None; n] };
        if l.class == ObjectClass::Digest {
            of.push(None);
            continue;
        }
        let Some(t) = l.file_time else {
            return vec![None; n];
        };
        let next = streams.len();
        let id = *streams
            .entry((l.org.as_deref(), &l.account, l.class, &l.region))
            .or_insert(next);
        of.push(Some((id, t)));
    }
    // each stream's objects (positions), in processing order
    let mut by_stream: Vec<Vec<usize>> = vec![Vec::new(); streams.len()];
    for (i, o) in of.iter().enumerate() {
        if let Some((s, _)) = o {
            if let Some(v) = by_stream.get_mut(*s) {
                v.push(i);
            }
        }
    }
    let time = |i: usize| of.get(i).copied().flatten().map_or(i64::MIN, |(_, t)| t);
    // the bound of stream `s` when its next object is its `k`-th: the latest earlier file time
    // of the stream below the next object's, or the next object's file time − `first_span_us`
    let bound = |s: usize, k: usize| -> Option<i64> {
        let objs = by_stream.get(s)?;
        let next = time(*objs.get(k)?);
        let earlier = objs
            .get(..k)?
            .iter()
            .rev()
            .map(|&i| time(i))
            .find(|&t| t < next);
        Some(earlier.unwrap_or(next.saturating_sub(first_span_us)))
    };
    let mut next_of: Vec<usize> = vec![0; by_stream.len()];
    let mut open: BTreeSet<(i64, usize)> = BTreeSet::new();
    for s in 0..by_stream.len() {
        if let Some(b) = bound(s, 0) {
            open.insert((b, s));
        }
    }
    let mut out = Vec::with_capacity(n);
    for o in &of {
        if let Some((s, _)) = o {
            let k = next_of.get(*s).copied().unwrap_or(0);
            if let Some(b) = bound(*s, k) {
                open.remove(&(b, *s));
            }
            if let Some(slot) = next_of.get_mut(*s) {
                *slot = k + 1;
            }
            if let Some(b) = bound(*s, k + 1) {
                open.insert((b, *s));
            }
        }
        out.push(open.first().map(|(b, _)| b.saturating_sub(margin_us)));
    }
    out
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

    fn obj(region: &str, class: &str, hhmm: &str, suffix: &str) -> Option<Layout> {
        parse(&format!(
            "AWSLogs/111122223333/{class}/{region}/2024/03/01/111122223333_{class}_{region}_20240301T{hhmm}Z_{suffix}.json.gz"
        ))
    }

    fn t(hhmm: &str) -> i64 {
        trailwarden_parse::parse_event_time(&format!(
            "2024-03-01T{}:{}:00Z",
            &hhmm[..2],
            &hhmm[2..]
        ))
        .unwrap()
    }

    const H: i64 = 3_600_000_000;

    #[test]
    fn low_watermark_is_the_least_bound_over_streams_still_to_come() {
        let objs = [
            obj("us-east-1", "CloudTrail", "0100", "a"),
            obj("eu-west-1", "CloudTrail", "0130", "a"),
            obj("us-east-1", "CloudTrail", "0200", "a"),
            obj("eu-west-1", "CloudTrail", "0230", "a"),
            obj("us-east-1", "CloudTrail", "0300", "a"),
        ];
        let w = low_watermarks(&objs, H, 0);
        assert_eq!(
            w,
            vec![
                // eu-west-1 has not started: its first object may hold events from 00:30 on
                Some(t("0030")),
                Some(t("0100")),
                Some(t("0130")),
                Some(t("0200")),
                None,
            ]
        );
        // the margin is taken off every bound
        let m = low_watermarks(&objs, H, 60_000_000);
        assert_eq!(m[1], Some(t("0059")));
    }

    #[test]
    fn objects_of_one_delivery_time_bound_each_other_by_the_previous_time_only() {
        let objs = [
            obj("us-east-1", "CloudTrail", "0100", "a"),
            obj("us-east-1", "CloudTrail", "0200", "a"),
            obj("us-east-1", "CloudTrail", "0200", "b"),
            obj("us-east-1", "CloudTrail", "0300", "a"),
        ];
        // after the first 02:00 object the second may still hold events from 01:00 on
        assert_eq!(
            low_watermarks(&objs, H, 0),
            vec![Some(t("0100")), Some(t("0100")), Some(t("0200")), None]
        );
    }

    #[test]
    fn digests_constrain_nothing_and_an_unplaced_object_disables_the_bound() {
        let objs = [
            obj("us-east-1", "CloudTrail", "0100", "a"),
            obj("us-east-1", "CloudTrail-Digest", "0130", "a"),
            obj("us-east-1", "CloudTrail-Insight", "0140", "a"),
            obj("us-east-1", "CloudTrail", "0200", "a"),
        ];
        assert_eq!(
            low_watermarks(&objs, H, 0),
            vec![Some(t("0040")), Some(t("0040")), Some(t("0100")), None]
        );
        let mut odd = objs.to_vec();
        odd.push(parse("trail.json.gz"));
        assert_eq!(low_watermarks(&odd, H, 0), vec![None; 5]);
    }
}
