//! A structural pre-scan of the object text: finds where each record of the `Records` array
//! begins and ends, and where the raw JSON of a record's top-level members lies.
//!
//! It validates structure only (brackets, strings, commas) — simd-json validates every byte of
//! each record afterwards. Splitting first is what lets one bad record (too large, invalid
//! UTF-8, a bad escape) be reported while its neighbours are kept, and what lets a truncated
//! object yield every record that arrived whole.

use std::ops::Range;

/// One element of `Records`: where it is, and where its raw members are (absolute offsets).
#[derive(Debug, Clone)]
pub(crate) struct RecordSpan {
    pub span: Range<usize>,
    pub raw: RawMembers,
}

/// What the top level of an object holds.
#[derive(Debug, Default)]
pub(crate) struct TopLevel {
    /// The elements of `Records`, in order (complete elements only).
    pub records: Vec<RecordSpan>,
    /// `Records` was present and an array.
    pub has_records: bool,
    /// Top-level keys seen (digest files are recognised by theirs).
    pub digest_keys: bool,
    /// Where the structure broke, if it did: (offset, what was expected).
    pub error: Option<(usize, &'static str)>,
    /// The structure ended before the closing bracket (a truncated object).
    pub truncated: bool,
}

#[derive(Debug)]
pub(crate) struct ScanError {
    pub offset: usize,
    pub what: &'static str,
    pub eof: bool,
}

type Scan<T> = Result<T, ScanError>;

fn err<T>(offset: usize, what: &'static str, len: usize) -> Scan<T> {
    Err(ScanError {
        offset,
        what,
        eof: offset >= len,
    })
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// `i` points at the opening quote; returns the index just past the closing quote.
#[inline]
fn skip_string(b: &[u8], i: usize) -> Scan<usize> {
    let mut j = i + 1;
    loop {
        match memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
            None => return err(b.len(), "end of string", b.len()),
            Some(k) => {
                let at = j + k;
                if b[at] == b'"' {
                    return Ok(at + 1);
                }
                // a backslash escapes the next byte, whatever it is
                j = at + 2;
                if j > b.len() {
                    return err(b.len(), "end of string", b.len());
                }
            }
        }
    }
}

/// Skips one JSON value starting at `i` (after whitespace); returns the index past it.
fn skip_value(b: &[u8], i: usize) -> Scan<usize> {
    let i = skip_ws(b, i);
    let Some(&c) = b.get(i) else {
        return err(i, "a value", b.len());
    };
    match c {
        b'"' => skip_string(b, i),
        b'{' | b'[' => skip_container(b, i),
        b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => {
            let mut j = i;
            while j < b.len()
                && matches!(b[j], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'+' | b'.')
            {
                j += 1;
            }
            if j == b.len() {
                // a scalar that runs into the end of the text may be cut short
                return err(j, "the rest of a value", b.len());
            }
            Ok(j)
        }
        _ => err(i, "a value", b.len()),
    }
}

/// Skips an object or array starting at `i` by bracket depth, strings skipped whole.
fn skip_container(b: &[u8], i: usize) -> Scan<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = skip_string(b, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    err(b.len(), "a closing bracket", b.len())
}

/// Scans the top level of an object: `{ ..., "Records": [ {...}, ... ], ... }`.
pub(crate) fn scan_top(b: &[u8]) -> TopLevel {
    let mut top = TopLevel::default();
    if let Err(e) = scan_top_inner(b, &mut top) {
        top.truncated = e.eof;
        top.error = Some((e.offset, e.what));
    }
    top
}

fn scan_top_inner(b: &[u8], top: &mut TopLevel) -> Scan<()> {
    // a UTF-8 byte order mark is tolerated
    let start = if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut i = skip_ws(b, start);
    if b.get(i) != Some(&b'{') {
        return err(i, "an object", b.len());
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return err(i, "a member name", b.len());
        }
        let key_end = skip_string(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return err(i, "a colon", b.len());
        }
        i = skip_ws(b, i + 1);
        if key == b"Records" && b.get(i) == Some(&b'[') {
            top.has_records = true;
            top.records.clear();
            i = scan_records(b, i, &mut top.records)?;
        } else {
            if key == b"digestStartTime" || key == b"digestS3Object" {
                top.digest_keys = true;
            }
            i = skip_value(b, i)?;
        }
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(()),
            _ => return err(i, "a comma or closing brace", b.len()),
        }
    }
}

fn scan_records(b: &[u8], open: usize, out: &mut Vec<RecordSpan>) -> Scan<usize> {
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b']') {
        return Ok(i + 1);
    }
    loop {
        let start = skip_ws(b, i);
        let mut raw = RawMembers::default();
        // one pass: an object's members are located while its end is found
        let end = if b.get(start) == Some(&b'{') {
            match scan_members(b, start, &mut raw) {
                Ok(end) => end,
                Err(e) if e.eof => return Err(e),
                // a malformed record: find its end by brackets alone; simd-json will say
                // what is wrong with it
                Err(_) => {
                    raw = RawMembers::default();
                    skip_value(b, start)?
                }
            }
        } else {
            skip_value(b, start)?
        };
        out.push(RecordSpan {
            span: start..end,
            raw,
        });
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Ok(i + 1),
            _ => return err(i, "a comma or closing bracket", b.len()),
        }
    }
}

/// The raw text of a record's top-level members that are kept as JSON text.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawMembers {
    pub spans: [Option<Range<usize>>; RAW_FIELDS.len()],
}

/// Top-level record members kept as raw JSON text, in [`RawMembers::spans`] order.
pub(crate) const RAW_FIELDS: [&str; 9] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
    "tlsDetails",
    "insightDetails",
    "addendum",
    "edgeDeviceDetails",
];

/// Finds the raw spans (relative to `rec`) of the [`RAW_FIELDS`] members of one record
/// given alone; errors leave spans unset.
pub(crate) fn scan_raw_members(rec: &[u8]) -> RawMembers {
    let mut raw = RawMembers::default();
    let start = skip_ws(rec, 0);
    if rec.get(start) == Some(&b'{') {
        let _ = scan_members(rec, start, &mut raw);
    }
    raw
}

/// Scans the object opening at `open`, noting the spans of its [`RAW_FIELDS`] members;
/// returns the index past its closing brace.
fn scan_members(b: &[u8], open: usize, raw: &mut RawMembers) -> Scan<usize> {
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return err(i, "a member name", b.len());
        }
        let key_end = skip_string(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return err(i, "a colon", b.len());
        }
        let vstart = skip_ws(b, i + 1);
        let vend = skip_value(b, vstart)?;
        if let Some(k) = raw_field_index(key) {
            raw.spans[k] = Some(vstart..vend);
        }
        i = skip_ws(b, vend);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(i + 1),
            _ => return err(i, "a comma or closing brace", b.len()),
        }
    }
}

#[inline]
fn raw_field_index(key: &[u8]) -> Option<usize> {
    // cheap reject: every raw member name is 7..=19 bytes and starts with one of these
    if key.len() < 7 || !matches!(key.first(), Some(b'r' | b'a' | b's' | b't' | b'i' | b'e')) {
        return None;
    }
    RAW_FIELDS.iter().position(|f| f.as_bytes() == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(b: &'a str, t: &TopLevel) -> Vec<&'a str> {
        t.records.iter().map(|r| &b[r.span.clone()]).collect()
    }

    #[test]
    fn splits_records_with_tricky_strings() {
        let b = r#"{"Records": [ {"a":"}]\"{"}, {"b":[1,{"c":"\\"}]} ,{} ], "x": 1}"#;
        let t = scan_top(b.as_bytes());
        assert!(t.error.is_none(), "{:?}", t.error);
        assert!(t.has_records);
        assert_eq!(
            texts(b, &t),
            vec![r#"{"a":"}]\"{"}"#, r#"{"b":[1,{"c":"\\"}]}"#, "{}"]
        );
    }

    #[test]
    fn truncated_object_keeps_complete_records() {
        let b = r#"{"Records":[{"a":1},{"b":2},{"c":"unfini"#;
        let t = scan_top(b.as_bytes());
        assert!(t.truncated);
        assert_eq!(texts(b, &t), vec![r#"{"a":1}"#, r#"{"b":2}"#]);
    }

    #[test]
    fn records_after_other_keys_and_digest_keys() {
        let b = r#"{"digestStartTime":"x","Records":[]}"#;
        let t = scan_top(b.as_bytes());
        assert!(t.digest_keys && t.has_records && t.records.is_empty());
        let t = scan_top(br#"{"foo": {"Records": [1]}}"#);
        assert!(!t.has_records && t.error.is_none());
    }

    #[test]
    fn not_an_object() {
        let t = scan_top(b"[1,2]");
        assert!(t.error.is_some() && !t.truncated);
        let t = scan_top(b"");
        assert!(t.truncated);
    }

    #[test]
    fn raw_spans_found_while_splitting() {
        let b = r#"{"Records":[{"x":1,"resources":[{"ARN":"a"}]},{"tlsDetails":{}}]}"#;
        let t = scan_top(b.as_bytes());
        let r0 = t.records[0].raw.spans[3].clone().map(|s| &b[s]);
        assert_eq!(r0, Some(r#"[{"ARN":"a"}]"#));
        let r1 = t.records[1].raw.spans[5].clone().map(|s| &b[s]);
        assert_eq!(r1, Some("{}"));
    }

    #[test]
    fn raw_member_spans() {
        let r =
            r#"{"eventName":"X", "requestParameters" : {"a": [1, "}"]}, "responseElements":null}"#;
        let m = scan_raw_members(r.as_bytes());
        let rp = m.spans[0].clone().map(|s| &r[s]);
        assert_eq!(rp, Some(r#"{"a": [1, "}"]}"#));
        assert_eq!(m.spans[1].clone().map(|s| &r[s]), Some("null"));
        assert!(m.spans[2].is_none());
    }
}
