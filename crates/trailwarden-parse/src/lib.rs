//! trailwarden-parse: CloudTrail objects → typed [`Event`]s.
//!
//! Pure and synchronous: no IO, no async, and no panic on any input. Broken input is data:
//! [`parse_object`] returns the good events *beside* the bad records and the object-level
//! problem, so one bad record never loses the rest of its object, and a truncated object
//! yields every record that arrived whole.
//!
//! The path an object takes: [`decode`] (gzip, all members, capped) → a structural pre-scan
//! that splits `Records` into one byte range per record (`scan`) → simd-json over each record
//! (`record`) → [`Event`]. Raw JSON members are copied from the original text, never
//! re-serialised.

mod decode;
pub mod fields;
mod model;
mod packed;
mod principal;
mod record;
mod scan;
mod time;

use std::fmt;

pub use decode::{decode, decode_into, is_gzip, DecodeProblem};
pub use model::{Event, Identity, IdentityType, MicrosUtc};
pub use packed::PackedEvent;
pub use record::RecordParser;
pub use time::{date_of, format_micros, parse_event_time};

/// Size limits applied while decoding and parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest decompressed object accepted, in bytes (the gzip-bomb guard). Default 1 GiB;
    /// real CloudTrail objects are a few MB.
    pub max_decompressed_bytes: u64,
    /// Largest single record, in bytes of JSON text. Default 256 KiB, CloudTrail's own limit.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 1 << 30,
            max_record_bytes: 256 * 1024,
        }
    }
}

/// Why a record was not turned into an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadRecordReason {
    TooLarge,
    InvalidJson,
    NotAnObject,
    MissingEventTime,
    InvalidEventTime,
    BadUserIdentity,
}

impl BadRecordReason {
    /// Stable kebab-case name used in summaries, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BadRecordReason::TooLarge => "record-too-large",
            BadRecordReason::InvalidJson => "invalid-json",
            BadRecordReason::NotAnObject => "not-an-object",
            BadRecordReason::MissingEventTime => "missing-event-time",
            BadRecordReason::InvalidEventTime => "invalid-event-time",
            BadRecordReason::BadUserIdentity => "bad-user-identity",
        }
    }
}

/// A record that could not be parsed, with its position in the object's `Records` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub index: u32,
    pub reason: BadRecordReason,
    pub detail: String,
}

impl BadRecord {
    pub fn new(index: u32, reason: BadRecordReason, detail: String) -> Self {
        BadRecord {
            index,
            reason,
            detail,
        }
    }
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {}: {}: {}",
            self.index,
            self.reason.as_str(),
            self.detail
        )
    }
}

/// What kind of object this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A log file with `Records` (management, data, network-activity or insight events).
    Trail,
    /// A CloudTrail-Digest file (log-file validation): recognised and counted, not parsed.
    Digest,
}

/// Why (part of) an object could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectProblemKind {
    CorruptGzip,
    TruncatedGzip,
    TooLarge,
    NotJson,
    NoRecords,
    TruncatedJson,
    /// Set by the caller when the object could not be read at all.
    Unreadable,
}

impl ObjectProblemKind {
    /// Stable kebab-case name used in summaries, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectProblemKind::CorruptGzip => "corrupt-gzip",
            ObjectProblemKind::TruncatedGzip => "truncated-gzip",
            ObjectProblemKind::TooLarge => "decompressed-too-large",
            ObjectProblemKind::NotJson => "not-json",
            ObjectProblemKind::NoRecords => "no-records",
            ObjectProblemKind::TruncatedJson => "truncated-json",
            ObjectProblemKind::Unreadable => "unreadable",
        }
    }
}

/// An object-level problem. Records read before it are still in [`ParsedObject::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProblem {
    pub kind: ObjectProblemKind,
    pub detail: String,
}

impl fmt::Display for ObjectProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

/// Everything one object yielded.
#[derive(Debug, Clone)]
pub struct ParsedObject {
    pub kind: ObjectKind,
    /// Good events, in `Records` order.
    pub events: Vec<Event>,
    pub bad_records: Vec<BadRecord>,
    pub problem: Option<ObjectProblem>,
    /// Bytes of JSON text after decompression.
    pub decoded_bytes: u64,
}

impl ParsedObject {
    /// Records seen: good plus bad.
    pub fn records(&self) -> u64 {
        (self.events.len() + self.bad_records.len()) as u64
    }
}

/// Decodes and parses one object's bytes (gzip or plain JSON).
pub fn parse_object(bytes: &[u8], limits: &Limits) -> ParsedObject {
    let mut parser = RecordParser::new();
    parse_object_with(&mut parser, bytes, limits)
}

/// [`parse_object`] with a caller-kept [`RecordParser`] (reused scratch space).
pub fn parse_object_with(parser: &mut RecordParser, bytes: &[u8], limits: &Limits) -> ParsedObject {
    let mut text = std::mem::take(&mut parser.text);
    let decode_problem = decode_into(bytes, limits.max_decompressed_bytes, &mut text);
    let mut out = ParsedObject {
        kind: ObjectKind::Trail,
        events: std::mem::take(&mut parser.spare_events),
        bad_records: Vec::new(),
        problem: None,
        decoded_bytes: text.len() as u64,
    };
    let decode_problem = decode_problem.map(|p| match p {
        DecodeProblem::CorruptGzip(d) => ObjectProblem {
            kind: ObjectProblemKind::CorruptGzip,
            detail: d,
        },
        DecodeProblem::TruncatedGzip => ObjectProblem {
            kind: ObjectProblemKind::TruncatedGzip,
            detail: "gzip stream ends early".to_string(),
        },
        DecodeProblem::TooLarge { limit } => ObjectProblem {
            kind: ObjectProblemKind::TooLarge,
            detail: format!("decompressed size exceeds the cap of {limit} bytes"),
        },
    });
    if let Some(p) = &decode_problem {
        if p.kind == ObjectProblemKind::TooLarge {
            out.problem = decode_problem;
            parser.keep_text(text);
            return out;
        }
    }
    parse_text_into(parser, &text, limits, &mut out);
    parser.keep_text(text);
    // A decode problem explains a JSON one (a truncated gzip ends in truncated JSON).
    if let Some(p) = decode_problem {
        let salvaged = out.records();
        out.problem = Some(ObjectProblem {
            detail: format!(
                "{}; {salvaged} complete records before it were kept",
                p.detail
            ),
            kind: p.kind,
        });
    }
    out
}

/// Parses decoded JSON text (`{"Records": [...]}`) into `out`.
fn parse_text_into(
    parser: &mut RecordParser,
    text: &[u8],
    limits: &Limits,
    out: &mut ParsedObject,
) {
    let top = scan::scan_top(text);
    if top.digest_keys && !top.has_records {
        out.kind = ObjectKind::Digest;
        return;
    }
    if let Some((offset, what)) = top.error {
        let kind = if top.truncated && (top.has_records || offset > 0) {
            ObjectProblemKind::TruncatedJson
        } else {
            ObjectProblemKind::NotJson
        };
        let detail = if top.truncated {
            format!("JSON ends at byte {offset} where {what} was expected")
        } else {
            format!("expected {what} at byte {offset}")
        };
        out.problem = Some(ObjectProblem { kind, detail });
    } else if !top.has_records {
        out.problem = Some(ObjectProblem {
            kind: ObjectProblemKind::NoRecords,
            detail: "the JSON has no \"Records\" array".to_string(),
        });
        return;
    }
    out.events.reserve(top.records.len());
    // simd-json over runs of records at once (a tape per run, not per object: the scratch
    // space stays the size of a run however large the object); a run that does not parse is
    // parsed record by record, so one broken record costs only itself. The pre-scan's spans
    // hold complete records only, so a truncated object keeps every record before the cut.
    let records = &top.records;
    let mut i = 0;
    while i < records.len() {
        let Some(first) = records.get(i) else { break };
        if first.span.len() > limits.max_record_bytes {
            out.bad_records
                .push(too_large(record_index(i), first.span.len(), limits));
            i += 1;
            continue;
        }
        let start = first.span.start;
        let mut end = i + 1;
        while let Some(r) = records.get(end) {
            if r.span.len() > limits.max_record_bytes || r.span.end - start > RUN_BYTES {
                break;
            }
            end += 1;
        }
        let run = records.get(i..end).unwrap_or_default();
        if !parse_run(parser, text, run, i, out) {
            for (k, rec) in run.iter().enumerate() {
                let span = rec.span.clone();
                match parser.parse_with_raw(
                    &text[span.clone()],
                    &rec.raw,
                    span.start,
                    record_index(i + k),
                ) {
                    Ok(ev) => out.events.push(ev),
                    Err(bad) => out.bad_records.push(bad),
                }
            }
        }
        i = end;
    }
}

/// JSON text parsed per simd-json call: records are grouped into runs of about this size.
/// Bounds the parser's scratch space (padded copy, structural indexes, tape: together about
/// 5× the text), and a run this size stays in the cache between the tape and the conversion
/// into events. See docs/PERFORMANCE.md for the measurements.
const RUN_BYTES: usize = 256 << 10;

fn record_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn too_large(index: u32, len: usize, limits: &Limits) -> BadRecord {
    BadRecord::new(
        index,
        BadRecordReason::TooLarge,
        format!(
            "{len} bytes, over the {} byte limit",
            limits.max_record_bytes
        ),
    )
}

/// The fast path: one simd-json call over a run of consecutive records (`run`, the first
/// being record `first`), parsed as the array `[` + their text + `]` (only commas and
/// whitespace lie between records). Returns false (having added nothing) when that array is
/// not valid JSON or does not hold exactly the run's records; the caller then parses them one
/// by one.
fn parse_run(
    parser: &mut RecordParser,
    text: &[u8],
    run: &[scan::RecordSpan],
    first: usize,
    out: &mut ParsedObject,
) -> bool {
    let (Some(a), Some(b)) = (run.first(), run.last()) else {
        return true;
    };
    let Some(body) = text.get(a.span.start..b.span.end) else {
        return false;
    };
    let RecordParser {
        scratch,
        buffers,
        tape: tape_slot,
        ..
    } = parser;
    let len = body.len() + 2;
    scratch.clear();
    scratch.reserve(len + simd_json::INPUT_PADDING);
    scratch.push(b'[');
    scratch.extend_from_slice(body);
    scratch.push(b']');
    scratch.resize(len + simd_json::INPUT_PADDING, b' ');
    let mut tape = tape_slot
        .take()
        .unwrap_or_else(|| simd_json::tape::Tape::null().reset());
    let mut ok = false;
    if simd_json::fill_tape_padded(scratch, len, buffers, &mut tape).is_ok() {
        let values = tape.as_value().as_array();
        if let Some(values) = values.filter(|v| v.len() == run.len()) {
            ok = true;
            for (k, (value, rec)) in values.iter().zip(run).enumerate() {
                match record::event_from_value(value, text, &rec.raw, 0, record_index(first + k)) {
                    Ok(ev) => out.events.push(ev),
                    Err(bad) => out.bad_records.push(bad),
                }
            }
        }
    }
    *tape_slot = Some(tape.reset());
    ok
}

/// Parses the JSON text of a single record (one element of `Records`), as policy test cases
/// and tools need.
pub fn parse_record(json: &[u8]) -> Result<Event, BadRecord> {
    RecordParser::new().parse(json, 0)
}
