//! Field paths: typed fields by their CloudTrail names, and JSON paths into the raw fields.
//!
//! A typed field yields at most one string, borrowed from the [`Event`] (no allocation). A raw
//! path (`requestParameters.bucketName`) yields every leaf at that path: the raw field's JSON
//! text is parsed once per event evaluation, on first use, and only for events that already
//! passed the cheap eventSource/eventName/outcome filter. Arrays on the way fan out (any
//! element), arrays at the end are flattened, JSON `null` counts as missing.
//!
//! A `@json` segment decodes a string holding JSON text on the way
//! (`requestParameters.policyDocument.@json.Statement.Action`); the decoded document is cached
//! in the evaluation context, so each string is decoded at most once per event however many
//! conditions and analyzers read it.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use serde_json::Value;
use trailwarden_parse::Event;

// The typed-field and raw-member tables are shared with Sigma (`trailwarden_parse::fields`).
pub(crate) use trailwarden_parse::fields::{
    RawRoot, TypedField as Typed, RAW_COUNT, RAW_ROOTS, TYPED_FIELDS,
};

/// The path segment that decodes JSON text (`a.@json.b`); quoted (`"@json"`) it is a key.
pub(crate) const JSON_SEGMENT: &str = "@json";

/// One step of a raw path: an object key, or (when written as digits) also an array index, or
/// the JSON-decoding step `@json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seg {
    key: String,
    index: Option<usize>,
    /// `@json`: decode the string here as JSON and go on inside the document.
    json: bool,
}

/// A compiled field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Typed(Typed),
    Raw(RawRoot, Vec<Seg>),
}

/// Splits `a.b."c.d".0` into segments, each with whether it was quoted; quotes allow dots
/// inside a key.
fn split_path(path: &str) -> Result<Vec<(String, bool)>, String> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    let mut quoted_seg = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if cur.is_empty() && !quoted_seg => {
                quoted_seg = true;
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    cur.push(q);
                }
                if !closed {
                    return Err(format!("unclosed quote in field path `{path}`"));
                }
                match chars.peek() {
                    None | Some('.') => {}
                    Some(_) => {
                        return Err(format!(
                            "a quoted segment must be followed by `.` or the end in `{path}`"
                        ))
                    }
                }
            }
            '.' => {
                if cur.is_empty() && !quoted_seg {
                    return Err(format!("empty segment in field path `{path}`"));
                }
                segs.push((std::mem::take(&mut cur), quoted_seg));
                quoted_seg = false;
            }
            _ => cur.push(c),
        }
    }
    if cur.is_empty() && !quoted_seg {
        return Err(format!("empty segment in field path `{path}`"));
    }
    segs.push((cur, quoted_seg));
    Ok(segs)
}

impl Field {
    pub(crate) fn parse(path: &str) -> Result<Field, String> {
        if let Some(t) = TYPED_FIELDS
            .iter()
            .find(|f| f.name == path)
            .map(|f| &f.field)
        {
            return Ok(Field::Typed(*t));
        }
        let segs = split_path(path)?;
        let Some((first, rest)) = segs.split_first() else {
            return Err("empty field path".to_string());
        };
        let Some((_, root)) = RAW_ROOTS.iter().find(|(name, _)| *name == first.0) else {
            return Err(format!(
                "unknown field `{path}`: use a CloudTrail field ({}, …) or a path into {}",
                "eventName, errorCode, sourceIPAddress, userAgent, readOnly, userIdentity.type, userIdentity.arn, userIdentity.sessionContext.sessionIssuer.arn, principal, account",
                RAW_ROOTS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let segs = rest
            .iter()
            .map(|(k, quoted)| Seg {
                key: k.clone(),
                index: if k.bytes().all(|b| b.is_ascii_digit()) {
                    k.parse().ok()
                } else {
                    None
                },
                json: !quoted && k == JSON_SEGMENT,
            })
            .collect();
        Ok(Field::Raw(*root, segs))
    }
}

/// Per-event evaluation context: the event, its lazily parsed raw fields and the JSON
/// documents decoded from strings inside them (`@json`, the policy analyzers).
pub(crate) struct Ctx<'e> {
    pub(crate) event: &'e Event,
    raw: [OnceCell<Option<Value>>; RAW_COUNT],
    /// Decoded JSON text, keyed by the address of the string value it came from. Every such
    /// value lives in `raw` or in an earlier entry (an `Rc` never moves its contents and no
    /// entry is removed while the context lives), so an address names one string for the
    /// context's whole life. Empty (no allocation) until something decodes.
    decoded: RefCell<Vec<(usize, Option<Rc<Value>>)>>,
}

impl<'e> Ctx<'e> {
    pub(crate) fn new(event: &'e Event) -> Self {
        Ctx {
            event,
            raw: [const { OnceCell::new() }; RAW_COUNT],
            decoded: RefCell::new(Vec::new()),
        }
    }

    /// `v` decoded as JSON when it is a string holding JSON text (cached: each string is
    /// decoded at most once per context); `None` when it is not a string or not JSON, or the
    /// text is JSON `null`. `v` must be a value this context owns (inside a raw field or a
    /// document decoded earlier): the cache is keyed by its address.
    pub(crate) fn decode_json(&self, v: &Value) -> Option<Rc<Value>> {
        let Value::String(text) = v else {
            return None;
        };
        let key = v as *const Value as usize;
        if let Some((_, hit)) = self.decoded.borrow().iter().find(|(k, _)| *k == key) {
            return hit.clone();
        }
        let parsed = serde_json::from_str::<Value>(text)
            .ok()
            .filter(|d| !d.is_null())
            .map(Rc::new);
        self.decoded.borrow_mut().push((key, parsed.clone()));
        parsed
    }

    /// How many strings this context has decoded (tests pin the once-per-event promise).
    #[cfg(test)]
    pub(crate) fn decoded_count(&self) -> usize {
        self.decoded.borrow().len()
    }

    /// The parsed raw field; `None` when absent, JSON `null` or not valid JSON.
    pub(crate) fn raw(&self, root: RawRoot) -> Option<&Value> {
        self.raw[root as usize]
            .get_or_init(|| {
                root.text(self.event)
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    .filter(|v| !v.is_null())
            })
            .as_ref()
    }

    /// Calls `f` on every leaf of `field` until it returns `true`; returns whether it did.
    pub(crate) fn any_leaf(&self, field: &Field, f: &mut dyn FnMut(Leaf<'_>) -> bool) -> bool {
        match field {
            Field::Typed(t) => t.get(self.event).is_some_and(|s| f(Leaf::Str(s))),
            Field::Raw(root, segs) => match self.raw(*root) {
                Some(v) => self.visit(v, segs, f),
                None => false,
            },
        }
    }

    /// The first leaf's text, if any.
    pub(crate) fn first_text(&self, field: &Field) -> Option<String> {
        let mut out = None;
        self.any_leaf(field, &mut |leaf| {
            out = Some(leaf.text().into_owned());
            true
        });
        out
    }
}

/// A value at the end of a path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf<'a> {
    Str(&'a str),
    Json(&'a Value),
}

impl<'a> Leaf<'a> {
    /// The leaf as text: strings as they are, booleans and numbers as JSON text, objects as
    /// compact JSON.
    pub(crate) fn text(&self) -> Cow<'a, str> {
        match *self {
            Leaf::Str(s) => Cow::Borrowed(s),
            Leaf::Json(Value::String(s)) => Cow::Borrowed(s.as_str()),
            Leaf::Json(Value::Bool(true)) => Cow::Borrowed("true"),
            Leaf::Json(Value::Bool(false)) => Cow::Borrowed("false"),
            Leaf::Json(Value::Null) => Cow::Borrowed(""),
            Leaf::Json(v) => Cow::Owned(v.to_string()),
        }
    }

    /// The leaf as a JSON value (for evidence).
    pub(crate) fn to_value(self) -> Value {
        match self {
            Leaf::Str(s) => Value::String(s.to_string()),
            Leaf::Json(v) => v.clone(),
        }
    }
}

impl Ctx<'_> {
    fn visit(&self, v: &Value, segs: &[Seg], f: &mut dyn FnMut(Leaf<'_>) -> bool) -> bool {
        match (v, segs.split_first()) {
            (Value::Null, _) => false,
            (Value::Array(items), None) => items.iter().any(|item| self.visit(item, &[], f)),
            (_, None) => f(Leaf::Json(v)),
            // `@json`: a string is decoded (once per context); an array fans out first; an
            // object is taken as already decoded (S3 logs `bucketPolicy` as an object, other
            // services as text), so one path serves both shapes.
            (Value::String(_), Some((seg, rest))) if seg.json => match self.decode_json(v) {
                Some(doc) => self.visit(&doc, rest, f),
                None => false,
            },
            (Value::Object(_), Some((seg, rest))) if seg.json => self.visit(v, rest, f),
            (Value::Array(items), Some((seg, _))) if seg.json => {
                items.iter().any(|item| self.visit(item, segs, f))
            }
            (_, Some((seg, _))) if seg.json => false,
            (Value::Object(map), Some((seg, rest))) => map
                .get(&seg.key)
                .is_some_and(|next| self.visit(next, rest, f)),
            (Value::Array(items), Some((seg, rest))) => match seg.index {
                Some(i) => items.get(i).is_some_and(|next| self.visit(next, rest, f)),
                None => items.iter().any(|item| self.visit(item, segs, f)),
            },
            (_, Some(_)) => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (workspace lint policy)
mod tests {
    use super::*;

    fn ev_with_params(params: Option<&str>) -> Event {
        Event {
            event_source: "s3.amazonaws.com".into(),
            event_name: "PutBucketAcl".into(),
            request_parameters: params.map(str::to_string),
            ..Event::default()
        }
    }

    fn leaves(e: &Event, path: &str) -> Vec<String> {
        let f = Field::parse(path).unwrap();
        let ctx = Ctx::new(e);
        let mut out = Vec::new();
        ctx.any_leaf(&f, &mut |l| {
            out.push(l.text().into_owned());
            false
        });
        out
    }

    #[test]
    fn typed_names_resolve() {
        assert_eq!(
            Field::parse("userIdentity.arn").unwrap(),
            Field::Typed(Typed::Arn)
        );
        assert_eq!(
            Field::parse("sourceIPAddress").unwrap(),
            Field::Typed(Typed::SourceIpAddress)
        );
        assert!(Field::parse("userIdentity.nope").is_err());
        assert!(Field::parse("requestParameter.bucketName").is_err());
        assert!(Field::parse("requestParameters..x").is_err());
        assert!(Field::parse("requestParameters.\"x").is_err());
        assert!(Field::parse("").is_err());
    }

    #[test]
    fn raw_path_into_object() {
        let e = ev_with_params(Some(
            r#"{"bucketName":"b","acl":{"n":1,"t":true},"list":["x","y"],"nested":[{"k":"a"},{"k":"b"}]}"#,
        ));
        assert_eq!(leaves(&e, "requestParameters.bucketName"), ["b"]);
        assert_eq!(leaves(&e, "requestParameters.acl.n"), ["1"]);
        assert_eq!(leaves(&e, "requestParameters.acl.t"), ["true"]);
        assert_eq!(leaves(&e, "requestParameters.list"), ["x", "y"]);
        assert_eq!(leaves(&e, "requestParameters.list.1"), ["y"]);
        assert_eq!(leaves(&e, "requestParameters.nested.k"), ["a", "b"]);
        assert_eq!(leaves(&e, "requestParameters.nested.0.k"), ["a"]);
        assert_eq!(leaves(&e, "requestParameters.acl"), [r#"{"n":1,"t":true}"#]);
        assert!(leaves(&e, "requestParameters.missing").is_empty());
        assert!(leaves(&e, "requestParameters.bucketName.deeper").is_empty());
    }

    #[test]
    fn raw_path_quoted_segments() {
        let e = ev_with_params(Some(r#"{"x-amz-acl":["public-read"],"a.b":"dotted"}"#));
        assert_eq!(
            leaves(&e, "requestParameters.\"x-amz-acl\""),
            ["public-read"]
        );
        assert_eq!(leaves(&e, "requestParameters.x-amz-acl"), ["public-read"]);
        assert_eq!(leaves(&e, "requestParameters.\"a.b\""), ["dotted"]);
    }

    #[test]
    fn raw_root_null_missing_string_or_garbage() {
        for raw in [None, Some("null"), Some("not json"), Some("{\"a\":null}")] {
            let e = ev_with_params(raw);
            assert!(leaves(&e, "requestParameters.a").is_empty(), "{raw:?}");
        }
        // A raw field that is a JSON string is a leaf, but has no children.
        let e = ev_with_params(Some("\"text\""));
        assert_eq!(leaves(&e, "requestParameters"), ["text"]);
        assert!(leaves(&e, "requestParameters.a").is_empty());
    }

    #[test]
    fn json_segment_decodes_strings_once_per_event() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","iam:*"],"Resource":"*"},{"Effect":"Deny","Action":"ec2:*"}]}"#;
        let params = serde_json::json!({"policyName": "p", "policyDocument": doc, "n": 3,
            "list": [doc, "not json", "{\"Action\":\"kms:*\"}"],
            "obj": {"Statement": {"Action": "sqs:*"}}, "@json": "literal"});
        let e = ev_with_params(Some(&params.to_string()));
        let f = |p: &str| Field::parse(p).unwrap();
        let ctx = Ctx::new(&e);
        let collect = |field: &Field| {
            let mut out = Vec::new();
            ctx.any_leaf(field, &mut |l| {
                out.push(l.text().into_owned());
                false
            });
            out
        };
        assert_eq!(
            collect(&f(
                "requestParameters.policyDocument.@json.Statement.Action"
            )),
            ["s3:GetObject", "iam:*", "ec2:*"]
        );
        assert_eq!(
            collect(&f(
                "requestParameters.policyDocument.@json.Statement.0.Effect"
            )),
            ["Allow"]
        );
        assert_eq!(
            collect(&f("requestParameters.policyDocument.@json.Version")),
            ["2012-10-17"]
        );
        // Three conditions on one document: decoded once.
        assert_eq!(ctx.decoded_count(), 1);
        // An array of strings fans out before decoding; text that is not JSON is missing.
        assert_eq!(
            collect(&f("requestParameters.list.@json.Action")),
            ["kms:*"]
        );
        assert_eq!(
            collect(&f("requestParameters.list.@json.Statement.Action")).len(),
            3
        );
        // The list's three strings are other values: each decoded once (failures cached too).
        assert_eq!(ctx.decoded_count(), 4);
        // An object is taken as already decoded (S3 bucketPolicy); numbers have no inside.
        assert_eq!(
            collect(&f("requestParameters.obj.@json.Statement.Action")),
            ["sqs:*"]
        );
        assert!(collect(&f("requestParameters.n.@json.x")).is_empty());
        assert!(collect(&f("requestParameters.missing.@json.x")).is_empty());
        // The decoded document at the end of a path compares as its compact text.
        assert_eq!(
            collect(&f("requestParameters.policyDocument.@json.Statement.1")),
            [r#"{"Action":"ec2:*","Effect":"Deny"}"#]
        );
        // Quoted, `@json` is an ordinary key.
        assert_eq!(collect(&f("requestParameters.\"@json\"")), ["literal"]);
        // A context decodes nothing until asked.
        assert_eq!(Ctx::new(&e).decoded_count(), 0);
    }

    #[test]
    fn empty_typed_strings_are_missing() {
        let e = Event::default();
        assert!(Typed::EventName.get(&e).is_none());
        assert!(Typed::IdentityType.get(&e).is_none());
        assert!(Typed::ReadOnly.get(&e).is_none());
        let e = Event {
            read_only: Some(true),
            ..Event::default()
        };
        assert_eq!(Typed::ReadOnly.get(&e), Some("true"));
    }
}
