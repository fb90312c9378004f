//! Field access: Sigma field names (CloudTrail JSON paths) compiled to typed accessors into
//! [`Event`], or to paths into its raw JSON members.
//!
//! * A typed field (`eventName`, `userIdentity.arn`,
//!   `userIdentity.sessionContext.sessionIssuer.userName`…) yields at most one string borrowed
//!   from the event: no parsing, no allocation.
//! * A raw path (`requestParameters.bucketName`, `additionalEventData.MFAUsed`) yields every
//!   leaf at that path. The member's JSON text is tokenized at most once per event, on first
//!   use, into a tape buffer that is reused from event to event ([`Scratch`]). Arrays on the way
//!   fan out (any element); an array at the end yields each element; JSON `null` is missing.
//!   A path that ends on an object yields the object's raw JSON text, and the member itself
//!   (`requestParameters`) yields its whole text, byte for byte as CloudTrail wrote it.
//! * A name that is not part of a CloudTrail record (`status`) is [`Field::Absent`]: it never
//!   has a value (so `status: success` never matches and `status: null` always does);
//!   `rules check` warns about it.

use trailwarden_alert::format_event_time;
use trailwarden_parse::Event;

use crate::json::{self, Kind, Tok};

// The typed-field and raw-member tables are shared with the activity policies
// (`trailwarden_parse::fields`); Sigma accepts only CloudTrail's own names, not the derived
// `principal` / `account`.
pub(crate) use trailwarden_parse::fields::{RawRoot, TypedField as Typed, RAW_COUNT, RAW_ROOTS};

/// The CloudTrail record fields Sigma rules can name as typed fields.
pub(crate) fn record_fields() -> impl Iterator<Item = &'static trailwarden_parse::fields::FieldName>
{
    trailwarden_parse::fields::TYPED_FIELDS
        .iter()
        .filter(|f| !f.derived)
}

/// One step of a raw path; digits also index arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seg {
    pub key: String,
    pub index: Option<usize>,
}

/// A compiled field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Typed(Typed),
    /// `eventTime`, as RFC 3339 UTC text.
    EventTime,
    Raw(RawRoot, Vec<Seg>),
    /// Not a member of a CloudTrail record as trailwarden parses it: never has a value.
    Absent,
}

impl Field {
    /// Compiles a Sigma field name. Never fails: unknown names are [`Field::Absent`].
    pub(crate) fn compile(name: &str) -> Field {
        if name == "eventTime" {
            return Field::EventTime;
        }
        if let Some(f) = record_fields().find(|f| f.name == name) {
            return Field::Typed(f.field);
        }
        let mut parts = name.split('.');
        let first = parts.next().unwrap_or("");
        if let Some((_, root)) = RAW_ROOTS.iter().find(|(n, _)| *n == first) {
            let segs: Vec<Seg> = parts
                .map(|k| Seg {
                    key: k.to_string(),
                    index: if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
                        k.parse().ok()
                    } else {
                        None
                    },
                })
                .collect();
            if segs.iter().all(|s| !s.key.is_empty()) {
                return Field::Raw(*root, segs);
            }
        }
        Field::Absent
    }
}

#[derive(Debug, Clone, Copy)]
enum RootState {
    Unparsed,
    Missing,
    Parsed(u32),
}

/// Buffers reused from event to event (one per engine): the JSON tape and small texts.
#[derive(Debug)]
pub(crate) struct Scratch {
    toks: Vec<Tok>,
    roots: [RootState; RAW_COUNT],
    time_text: String,
    time_for: Option<i64>,
    /// Raw-member parses done (a statistic).
    pub(crate) parses: u64,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            toks: Vec::with_capacity(256),
            roots: [RootState::Unparsed; RAW_COUNT],
            time_text: String::new(),
            time_for: None,
            parses: 0,
        }
    }
}

/// The evaluation context of one event: the event and the scratch buffers.
pub(crate) struct Ctx<'e, 's> {
    pub(crate) event: &'e Event,
    s: &'s mut Scratch,
}

impl<'e, 's> Ctx<'e, 's> {
    /// Starts evaluating `event`: forgets what was parsed for the previous one (keeps capacity).
    pub(crate) fn new(event: &'e Event, s: &'s mut Scratch) -> Self {
        s.toks.clear();
        s.roots = [RootState::Unparsed; RAW_COUNT];
        Ctx { event, s }
    }

    /// Makes `field` ready for [`Ctx::visit`] (parses its raw member on first use).
    pub(crate) fn prepare(&mut self, field: &Field) {
        match field {
            Field::Raw(root, _) => self.prepare_root(*root),
            Field::EventTime if self.s.time_for != Some(self.event.event_time) => {
                self.s.time_text = format_event_time(self.event.event_time);
                self.s.time_for = Some(self.event.event_time);
            }
            _ => {}
        }
    }

    pub(crate) fn prepare_root(&mut self, root: RawRoot) {
        let slot = root as usize;
        if !matches!(self.s.roots.get(slot), Some(RootState::Unparsed)) {
            return;
        }
        let state = match root.text(self.event) {
            None => RootState::Missing,
            Some(text) => {
                let at = self.s.toks.len() as u32;
                self.s.parses += 1;
                match json::parse_into(text, &mut self.s.toks) {
                    Ok(()) => RootState::Parsed(at),
                    Err(()) => RootState::Missing,
                }
            }
        };
        if let Some(r) = self.s.roots.get_mut(slot) {
            *r = state;
        }
    }

    /// Calls `f` with each value of `field` until it returns `true`; returns whether it did.
    /// `field` must have been [prepared](Ctx::prepare); an unprepared raw field has no value.
    pub(crate) fn visit(&self, field: &Field, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.visit_with(field, true, f)
    }

    /// [`Ctx::visit`]; `deescape` also offers the de-escaped text of objects that embed JSON
    /// strings (matching does, evidence does not).
    fn visit_with(&self, field: &Field, deescape: bool, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            Field::Typed(t) => t.get(self.event).is_some_and(f),
            Field::EventTime => {
                self.s.time_for == Some(self.event.event_time) && f(&self.s.time_text)
            }
            Field::Absent => false,
            Field::Raw(root, segs) => {
                let Some(RootState::Parsed(at)) = self.s.roots.get(*root as usize).copied() else {
                    return false;
                };
                let Some(text) = root.text(self.event) else {
                    return false;
                };
                let at = at as usize;
                if segs.is_empty() {
                    // The member itself: its whole text (a string member: the string).
                    return match self.s.toks.get(at) {
                        Some(t) if t.kind == Kind::Null => false,
                        Some(t) if t.kind == Kind::Str => leaf(text, t, deescape, f),
                        Some(_) => composite(text.trim(), deescape, f),
                        None => false,
                    };
                }
                walk(text, &self.s.toks, at, segs, deescape, f)
            }
        }
    }

    /// True when `field` has at least one value.
    pub(crate) fn exists(&self, field: &Field) -> bool {
        self.visit(field, &mut |_| true)
    }

    /// Every value of `field` (for evidence and correlation keys; allocates).
    pub(crate) fn values(&mut self, field: &Field) -> Vec<String> {
        self.prepare(field);
        let mut out = Vec::new();
        self.visit_with(field, false, &mut |v| {
            out.push(v.to_string());
            false
        });
        out
    }

    /// Every string a keyword may match: each typed field and each raw member's text.
    pub(crate) fn visit_all(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        for t in record_fields().map(|f| &f.field) {
            if t.get(self.event).is_some_and(&mut *f) {
                return true;
            }
        }
        for (_, root) in RAW_ROOTS {
            if root.text(self.event).is_some_and(&mut *f) {
                return true;
            }
        }
        false
    }
}

/// An object or array value: its raw JSON text; when that text holds escaped quotes (a JSON
/// document embedded as a string, like IAM policy documents), the text with one level of `\"`
/// and `\\` escapes removed is tried too, so `"s3:GetObject"` matches an embedded policy.
fn composite(raw: &str, deescape: bool, f: &mut dyn FnMut(&str) -> bool) -> bool {
    if f(raw) {
        return true;
    }
    if !deescape || !raw.contains("\\\"") {
        return false;
    }
    let mut de = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => de.push(n),
                Some(n) => {
                    de.push('\\');
                    de.push(n);
                }
                None => de.push('\\'),
            }
        } else {
            de.push(c);
        }
    }
    f(&de)
}

fn leaf(text: &str, t: &Tok, deescape: bool, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match t.kind {
        Kind::Null => false,
        Kind::Obj | Kind::Arr => composite(json::raw_text(text, t), deescape, f),
        Kind::Str if t.escaped => {
            let mut buf = String::new();
            json::unescape(json::raw_text(text, t), &mut buf);
            f(&buf)
        }
        _ => f(json::raw_text(text, t)),
    }
}

fn walk(
    text: &str,
    toks: &[Tok],
    at: usize,
    segs: &[Seg],
    de: bool,
    f: &mut dyn FnMut(&str) -> bool,
) -> bool {
    let Some(t) = toks.get(at) else {
        return false;
    };
    let Some((seg, rest)) = segs.split_first() else {
        // End of the path: arrays yield their elements, everything else itself.
        if t.kind == Kind::Arr {
            let mut i = at + 1;
            while i < t.next as usize {
                if walk(text, toks, i, &[], de, f) {
                    return true;
                }
                i = toks.get(i).map_or(usize::MAX, |c| c.next as usize);
            }
            return false;
        }
        return leaf(text, t, de, f);
    };
    match t.kind {
        Kind::Obj => {
            let mut i = at + 1;
            while i < t.next as usize {
                let Some(key) = toks.get(i) else {
                    return false;
                };
                let vi = i + 1;
                if json::key_eq(text, key, &seg.key) {
                    return walk(text, toks, vi, rest, de, f);
                }
                i = toks.get(vi).map_or(usize::MAX, |c| c.next as usize);
            }
            false
        }
        Kind::Arr => {
            let mut i = at + 1;
            if let Some(n) = seg.index {
                let mut k = 0;
                while i < t.next as usize {
                    if k == n {
                        return walk(text, toks, i, rest, de, f);
                    }
                    k += 1;
                    i = toks.get(i).map_or(usize::MAX, |c| c.next as usize);
                }
                return false;
            }
            while i < t.next as usize {
                if walk(text, toks, i, segs, de, f) {
                    return true;
                }
                i = toks.get(i).map_or(usize::MAX, |c| c.next as usize);
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vals(e: &Event, path: &str) -> Vec<String> {
        let mut s = Scratch::default();
        let mut ctx = Ctx::new(e, &mut s);
        ctx.values(&Field::compile(path))
    }

    #[test]
    fn raw_paths() {
        let e = Event {
            request_parameters: Some(
                r#"{"b":"x","n":1,"t":false,"l":["p","q"],"o":[{"k":"a"},{"k":"b\"c"}],"z":null}"#
                    .into(),
            ),
            ..Event::default()
        };
        assert_eq!(vals(&e, "requestParameters.b"), ["x"]);
        assert_eq!(vals(&e, "requestParameters.n"), ["1"]);
        assert_eq!(vals(&e, "requestParameters.t"), ["false"]);
        assert_eq!(vals(&e, "requestParameters.l"), ["p", "q"]);
        assert_eq!(vals(&e, "requestParameters.l.1"), ["q"]);
        assert_eq!(vals(&e, "requestParameters.o.k"), ["a", "b\"c"]);
        assert_eq!(vals(&e, "requestParameters.o.0"), [r#"{"k":"a"}"#]);
        assert!(vals(&e, "requestParameters.z").is_empty());
        assert!(vals(&e, "requestParameters.nope").is_empty());
        assert!(vals(&e, "requestParameters.b.deeper").is_empty());
        assert_eq!(vals(&e, "requestParameters").len(), 1);
        assert!(vals(&e, "responseElements").is_empty());
        assert!(vals(&e, "status").is_empty());
        assert_eq!(Field::compile("status"), Field::Absent);
        assert_eq!(Field::compile("requestParameters..x"), Field::Absent);
    }

    #[test]
    fn typed_and_time() {
        let e = Event {
            event_name: "X".into(),
            event_time: 1_668_097_474_000_000,
            read_only: Some(true),
            ..Event::default()
        };
        assert_eq!(vals(&e, "eventName"), ["X"]);
        assert_eq!(vals(&e, "readOnly"), ["true"]);
        assert_eq!(vals(&e, "eventTime"), ["2022-11-10T16:24:34Z"]);
        assert!(vals(&e, "userIdentity.type").is_empty());
        assert!(vals(&e, "eventSource").is_empty());
    }
}
