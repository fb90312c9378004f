//! UTC calendar arithmetic and the handful of timestamp spellings CloudTrail uses.
//!
//! Times are whole seconds since the Unix epoch (`i64`). The civil-date conversion is the
//! classic days-from-civil / civil-from-days algorithm, exact for the proleptic Gregorian
//! calendar.

/// `2024-03-01T00:00:00Z` as Unix seconds: where every synthetic trail starts.
pub const TRAIL_START: i64 = 1_709_251_200;

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

pub(crate) fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: month as u32,
        day: day as u32,
        hour: (sod / 3600) as u32,
        minute: (sod % 3600 / 60) as u32,
        second: (sod % 60) as u32,
    }
}

/// Start of the UTC day containing `secs`.
pub(crate) fn day_start(secs: i64) -> i64 {
    secs - secs.rem_euclid(86_400)
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

fn push4(out: &mut Vec<u8>, v: i64) {
    let v = v.clamp(0, 9999) as u32;
    push2(out, v / 100);
    push2(out, v % 100);
}

/// Appends `2024-03-01T12:34:56Z` (no quotes).
pub(crate) fn push_iso(out: &mut Vec<u8>, secs: i64) {
    let c = civil(secs);
    push4(out, c.year);
    out.push(b'-');
    push2(out, c.month);
    out.push(b'-');
    push2(out, c.day);
    out.push(b'T');
    push2(out, c.hour);
    out.push(b':');
    push2(out, c.minute);
    out.push(b':');
    push2(out, c.second);
    out.push(b'Z');
}

fn to_string(buf: Vec<u8>) -> String {
    // Only ASCII digits and punctuation are ever pushed.
    String::from_utf8(buf).unwrap_or_default()
}

/// `2024-03-01T12:34:56Z`.
pub(crate) fn iso(secs: i64) -> String {
    let mut b = Vec::with_capacity(20);
    push_iso(&mut b, secs);
    to_string(b)
}

/// `20240301T1234Z`: the timestamp in log-file names.
pub(crate) fn compact_minutes(secs: i64) -> String {
    let c = civil(secs);
    let mut b = Vec::with_capacity(14);
    push4(&mut b, c.year);
    push2(&mut b, c.month);
    push2(&mut b, c.day);
    b.push(b'T');
    push2(&mut b, c.hour);
    push2(&mut b, c.minute);
    b.push(b'Z');
    to_string(b)
}

/// `20240301T123456Z`: the timestamp in digest-file names.
pub(crate) fn compact_seconds(secs: i64) -> String {
    let c = civil(secs);
    let mut b = Vec::with_capacity(16);
    push4(&mut b, c.year);
    push2(&mut b, c.month);
    push2(&mut b, c.day);
    b.push(b'T');
    push2(&mut b, c.hour);
    push2(&mut b, c.minute);
    push2(&mut b, c.second);
    b.push(b'Z');
    to_string(b)
}

/// `2024/03/01`: the date folders of the S3 layout.
pub(crate) fn date_path(secs: i64) -> String {
    let c = civil(secs);
    let mut b = Vec::with_capacity(10);
    push4(&mut b, c.year);
    b.push(b'/');
    push2(&mut b, c.month);
    b.push(b'/');
    push2(&mut b, c.day);
    to_string(b)
}

/// `Mar 1, 2024, 1:05:09 PM`: the Java-style date STS writes for credential expiry.
pub(crate) fn java_date(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(secs);
    let month = MONTHS
        .get(c.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{month} {}, {}, {h12}:{:02}:{:02} {ampm}",
        c.day, c.year, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso(TRAIL_START), "2024-03-01T00:00:00Z");
        assert_eq!(iso(TRAIL_START - 1), "2024-02-29T23:59:59Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        let t = TRAIL_START + 3 * 86_400 + 13 * 3600 + 5 * 60 + 9;
        assert_eq!(iso(t), "2024-03-04T13:05:09Z");
        assert_eq!(compact_minutes(t), "20240304T1305Z");
        assert_eq!(compact_seconds(t), "20240304T130509Z");
        assert_eq!(date_path(t), "2024/03/04");
        assert_eq!(java_date(t), "Mar 4, 2024, 1:05:09 PM");
        assert_eq!(java_date(TRAIL_START), "Mar 1, 2024, 12:00:00 AM");
        assert_eq!(day_start(t), TRAIL_START + 3 * 86_400);
        assert_eq!(iso(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
