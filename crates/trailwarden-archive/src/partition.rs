//! Hive partitioning, partition-value sanitising and deterministic file naming.

use trailwarden_parse::{Event, MicrosUtc};

/// Partition value used when the account or region is absent or empty, or the date is
/// outside the years 0000–9999.
pub const UNKNOWN: &str = "unknown";

/// Escaped partition values longer than this are shortened (see [`sanitize_partition_value`]).
pub const MAX_PARTITION_VALUE_LEN: usize = 128;

/// Longest file-name stem taken from the source object (see [`file_name`]).
pub const MAX_STEM_LEN: usize = 80;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// The Hive partition of one event: `account=<a>/region=<r>/date=<YYYY-MM-DD>`.
///
/// Values are already sanitised (safe as path segments and S3 key parts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// [`Event::account`], sanitised; [`UNKNOWN`] when absent.
    pub account: String,
    /// `awsRegion`, sanitised; [`UNKNOWN`] when absent.
    pub region: String,
    /// UTC calendar day of `eventTime`, `YYYY-MM-DD`.
    pub date: String,
}

impl Partition {
    /// The partition an event is archived under.
    pub fn of(event: &Event) -> Partition {
        Partition::from_parts(
            event.account(),
            event.aws_region.as_deref(),
            day_of(event.event_time),
        )
    }

    /// Builds a partition from raw (unsanitised) account and region and a day number
    /// (days since 1970-01-01, see [`day_of`]).
    pub(crate) fn from_parts(account: Option<&str>, region: Option<&str>, day: i64) -> Partition {
        Partition {
            account: sanitize_partition_value(account),
            region: sanitize_partition_value(region),
            date: format_day(day),
        }
    }

    /// The partition directory, relative to the archive root, `/`-separated, no trailing slash.
    pub fn dir(&self) -> String {
        format!(
            "account={}/region={}/date={}",
            self.account, self.region, self.date
        )
    }
}

/// Days since 1970-01-01 (UTC) of a microsecond timestamp; negative before the epoch.
pub fn day_of(t: MicrosUtc) -> i64 {
    t.div_euclid(MICROS_PER_DAY)
}

/// `YYYY-MM-DD` of a day number, or [`UNKNOWN`] outside the years 0000–9999.
fn format_day(day: i64) -> String {
    let date = i32::try_from(day + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|jd| time::Date::from_julian_day(jd).ok());
    match date {
        Some(d) if (0..=9999).contains(&d.year()) => {
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        }
        _ => UNKNOWN.to_string(),
    }
}

fn is_safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Makes a raw value safe as a Hive partition value.
///
/// * `None` and `""` become [`UNKNOWN`].
/// * Bytes in `[A-Za-z0-9._-]` are kept; every other byte (of the UTF-8 encoding) becomes `%XX`
///   (upper-case hex), as in URL percent-encoding. The mapping is injective, so distinct values
///   never share a partition (apart from `"unknown"` itself and the absent value).
/// * A value whose escaped form is longer than [`MAX_PARTITION_VALUE_LEN`] is cut to its first
///   100 bytes (never inside a `%XX`) followed by `-` and the first 16 hex digits of the BLAKE3
///   hash of the raw value, keeping directory names short.
///
/// Real account ids (12 digits) and region names pass through unchanged.
pub fn sanitize_partition_value(raw: Option<&str>) -> String {
    let raw = match raw {
        None | Some("") => return UNKNOWN.to_string(),
        Some(r) => r,
    };
    let mut out = String::with_capacity(raw.len());
    for &b in raw.as_bytes() {
        if is_safe_byte(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    if out.len() > MAX_PARTITION_VALUE_LEN {
        let mut cut = 100;
        // `out` is ASCII; step back so the cut does not split a `%XX` escape.
        let bytes = out.as_bytes();
        if bytes.get(cut - 1) == Some(&b'%') {
            cut -= 1;
        } else if bytes.get(cut - 2) == Some(&b'%') {
            cut -= 2;
        }
        out.truncate(cut);
        out.push('-');
        out.push_str(&hash16(raw));
    }
    out
}

/// First 16 hex digits (64 bits) of the BLAKE3 hash of `s`.
fn hash16(s: &str) -> String {
    let hex = blake3::hash(s.as_bytes()).to_hex();
    hex.as_str().chars().take(16).collect()
}

/// Suffixes stripped from the object name to form the file stem (so `x.json.gz` → `x`).
const STRIPPED_SUFFIXES: &[&str] = &[".gz", ".json", ".jsonl", ".ndjson", ".zst", ".bz2"];

/// The deterministic Parquet file name for the events of one source object:
/// `<stem>-<first 16 hex of blake3(source_object)>.parquet`.
///
/// The stem is the last `/`- or `\`-separated segment of `source_object`, without its
/// `.gz`/`.json`/`.jsonl`/`.ndjson`/`.zst`/`.bz2` suffixes (ASCII case-insensitive, repeatedly),
/// with every character outside `[A-Za-z0-9._-]` replaced by `_`, leading `.`, `_` and `-`
/// removed (hidden-file and Hive "ignore" conventions), cut to [`MAX_STEM_LEN`] bytes, and
/// `object` if nothing is left. The hash is over the whole
/// `source_object` exactly as given, so the same object always maps to the same name (a re-run
/// or a redelivery overwrites its file) and two objects sharing a stem do not collide.
pub fn file_name(source_object: &str) -> String {
    let last = source_object
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let mut base = last;
    'strip: loop {
        for suffix in STRIPPED_SUFFIXES {
            let (b, s) = (base.as_bytes(), suffix.as_bytes());
            if b.len() > s.len() && b[b.len() - s.len()..].eq_ignore_ascii_case(s) {
                // The suffix is ASCII, so the cut lies on a char boundary; `get` keeps it total.
                if let Some(shorter) = base.get(..b.len() - s.len()) {
                    base = shorter;
                    continue 'strip;
                }
            }
        }
        break;
    }
    let mut stem = String::with_capacity(base.len().min(MAX_STEM_LEN));
    for c in base.chars() {
        if stem.is_empty() && matches!(c, '.' | '_' | '-') {
            continue;
        }
        if stem.len() >= MAX_STEM_LEN {
            break;
        }
        if c.is_ascii() && is_safe_byte(c as u8) {
            stem.push(c);
        } else {
            stem.push('_');
        }
    }
    if stem.is_empty() {
        stem.push_str("object");
    }
    format!("{stem}-{}.parquet", hash16(source_object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(-1), "1969-12-31");
        assert_eq!(format_day(day_of(-1)), "1969-12-31");
        // 2024-02-29T23:59:59.999999Z
        let t = 1_709_251_199_999_999;
        assert_eq!(format_day(day_of(t)), "2024-02-29");
        assert_eq!(format_day(day_of(t + 1)), "2024-03-01");
        assert_eq!(format_day(day_of(i64::MAX)), UNKNOWN);
        assert_eq!(format_day(day_of(i64::MIN)), UNKNOWN);
        // 0000-01-01 and 9999-12-31 are the bounds.
        assert_eq!(format_day(-719_528), "0000-01-01");
        assert_eq!(format_day(-719_529), UNKNOWN);
        assert_eq!(format_day(2_932_896), "9999-12-31");
        assert_eq!(format_day(2_932_897), UNKNOWN);
    }

    #[test]
    fn sanitize_keeps_normal_values() {
        assert_eq!(
            sanitize_partition_value(Some("123456789012")),
            "123456789012"
        );
        assert_eq!(sanitize_partition_value(Some("us-east-1")), "us-east-1");
        assert_eq!(sanitize_partition_value(Some("a.b_c-D9")), "a.b_c-D9");
        assert_eq!(sanitize_partition_value(None), UNKNOWN);
        assert_eq!(sanitize_partition_value(Some("")), UNKNOWN);
    }

    #[test]
    fn sanitize_escapes_everything_else() {
        assert_eq!(sanitize_partition_value(Some("../x")), "..%2Fx");
        assert_eq!(sanitize_partition_value(Some("a b=c")), "a%20b%3Dc");
        assert_eq!(sanitize_partition_value(Some("%")), "%25");
        assert_eq!(sanitize_partition_value(Some("é")), "%C3%A9");
        assert_eq!(sanitize_partition_value(Some("a\\b\0")), "a%5Cb%00");
        assert_eq!(sanitize_partition_value(Some("x/y")), "x%2Fy");
        assert_ne!(
            sanitize_partition_value(Some("x/y")),
            sanitize_partition_value(Some("x%2Fy"))
        );
    }

    #[test]
    fn sanitize_shortens_long_values() {
        let long = "a".repeat(500);
        let s = sanitize_partition_value(Some(&long));
        assert_eq!(s.len(), 100 + 1 + 16);
        assert!(s.starts_with(&"a".repeat(100)));
        let other = sanitize_partition_value(Some(&"a".repeat(501)));
        assert_ne!(s, other);

        // Cuts never split an escape.
        for pad in 0..4 {
            let v = format!("{}{}", "b".repeat(pad), "/".repeat(200));
            let s = sanitize_partition_value(Some(&v));
            assert!(s.len() <= MAX_PARTITION_VALUE_LEN, "{s}");
            let head = &s[..s.len() - 17];
            let tail = head.trim_start_matches('b');
            assert_eq!(tail.len() % 3, 0, "{s}");
            assert!(tail.as_bytes().chunks(3).all(|c| c == b"%2F"), "{s}");
        }
    }

    #[test]
    fn file_names() {
        let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/\
                   123456789012_CloudTrail_us-east-1_20240102T0005Z_AbCdEf0123456789.json.gz";
        let name = file_name(key);
        let stem = "123456789012_CloudTrail_us-east-1_20240102T0005Z_AbCdEf0123456789";
        assert!(name.starts_with(&format!("{stem}-")), "{name}");
        assert!(name.ends_with(".parquet"));
        assert_eq!(name.len(), stem.len() + 1 + 16 + ".parquet".len());
        let hash = &name[stem.len() + 1..stem.len() + 17];
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(name, file_name(key));
        assert_ne!(name, file_name(&format!("s3://bucket/{key}")));

        let stem = |s: &str| {
            let n = file_name(s);
            n[..n.len() - 17 - ".parquet".len()].to_string()
        };
        assert_eq!(stem("x.JSON.GZ"), "x");
        assert_eq!(stem("a/b/"), "b");
        assert_eq!(stem(""), "object");
        assert_eq!(stem(".json.gz"), "json");
        assert_eq!(stem(".hidden"), "hidden");
        assert_eq!(stem("__x"), "x");
        assert_eq!(stem("../.."), "object");
        assert_eq!(stem("C:\\logs\\x y.json"), "x_y");
        assert_eq!(stem("déjà vu.gz"), "d_j__vu");
        assert_eq!(stem("日本.gz"), "__");
        assert_eq!(stem(&"z".repeat(300)).len(), MAX_STEM_LEN);
        assert_eq!(stem(&"é".repeat(300)).len(), MAX_STEM_LEN);
    }

    #[test]
    fn partition_dir() {
        let mut e = Event {
            recipient_account_id: Some("111122223333".into()),
            aws_region: Some("eu-west-1".into()),
            event_time: 1_704_153_600_000_000, // 2024-01-02T00:00:00Z
            ..Event::default()
        };
        assert_eq!(
            Partition::of(&e).dir(),
            "account=111122223333/region=eu-west-1/date=2024-01-02"
        );
        e.recipient_account_id = None;
        e.identity.account_id = Some("444455556666".into());
        e.aws_region = None;
        assert_eq!(
            Partition::of(&e).dir(),
            "account=444455556666/region=unknown/date=2024-01-02"
        );
        e.identity.account_id = None;
        assert_eq!(Partition::of(&e).account, UNKNOWN);
    }
}
