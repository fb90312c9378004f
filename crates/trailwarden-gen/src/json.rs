//! A minimal streaming JSON writer for the hot path.
//!
//! Background records are written straight into byte buffers (no intermediate `Value`
//! trees). The writer tracks only whether the next value needs a leading comma, which is
//! enough for well-formed output as long as callers pair `obj`/`end_obj` and
//! `arr`/`end_arr` and put a `key` before every object member. Strings are escaped per
//! RFC 8259; every `&str` is valid UTF-8, so non-ASCII text passes through unchanged.

/// Appends JSON to a borrowed buffer.
pub(crate) struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    need_comma: bool,
}

impl<'a> JsonWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        JsonWriter {
            out,
            need_comma: false,
        }
    }

    #[inline]
    fn sep(&mut self) {
        if self.need_comma {
            self.out.push(b',');
        }
    }

    pub(crate) fn obj(&mut self) -> &mut Self {
        self.sep();
        self.out.push(b'{');
        self.need_comma = false;
        self
    }

    pub(crate) fn end_obj(&mut self) -> &mut Self {
        self.out.push(b'}');
        self.need_comma = true;
        self
    }

    pub(crate) fn arr(&mut self) -> &mut Self {
        self.sep();
        self.out.push(b'[');
        self.need_comma = false;
        self
    }

    pub(crate) fn end_arr(&mut self) -> &mut Self {
        self.out.push(b']');
        self.need_comma = true;
        self
    }

    /// An object member name; the next call must write its value.
    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        escape_into(self.out, k);
        self.out.push(b':');
        self.need_comma = false;
        self
    }

    pub(crate) fn str(&mut self, v: &str) -> &mut Self {
        self.sep();
        escape_into(self.out, v);
        self.need_comma = true;
        self
    }

    /// A string value assembled from parts, without allocating.
    pub(crate) fn str_parts(&mut self, parts: &[&str]) -> &mut Self {
        self.sep();
        self.out.push(b'"');
        for p in parts {
            escape_body(self.out, p);
        }
        self.out.push(b'"');
        self.need_comma = true;
        self
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self.need_comma = true;
        self
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.sep();
        self.out.extend_from_slice(b"null");
        self.need_comma = true;
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.sep();
        push_u64(self.out, v);
        self.need_comma = true;
        self
    }

    /// A finite float, written with Rust's shortest round-trip formatting.
    pub(crate) fn f64(&mut self, v: f64) -> &mut Self {
        self.sep();
        let v = if v.is_finite() { v } else { 0.0 };
        let s = format!("{v:?}");
        self.out.extend_from_slice(s.as_bytes());
        self.need_comma = true;
        self
    }

    /// Already-serialised JSON (must be one valid JSON value).
    pub(crate) fn raw(&mut self, json: &[u8]) -> &mut Self {
        self.sep();
        self.out.extend_from_slice(json);
        self.need_comma = true;
        self
    }

    pub(crate) fn kv_str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k).str(v)
    }

    pub(crate) fn kv_bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k).bool(v)
    }

    pub(crate) fn kv_u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k).u64(v)
    }

    pub(crate) fn kv_null(&mut self, k: &str) -> &mut Self {
        self.key(k).null()
    }

    /// Writes a member whose value is a raw JSON fragment, or `null` when absent.
    pub(crate) fn kv_raw_or_null(&mut self, k: &str, v: Option<&[u8]>) -> &mut Self {
        self.key(k);
        match v {
            Some(json) => self.raw(json),
            None => self.null(),
        }
    }
}

/// Appends `v` as a quoted, escaped JSON string.
pub(crate) fn escape_into(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    escape_body(out, v);
    out.push(b'"');
}

/// Appends the escaped body of a JSON string (no quotes).
pub(crate) fn escape_body(out: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    // Fast path: almost every string needs no escaping.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends the decimal digits of `v`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip_through_serde_json() {
        let nasty = "quote\" back\\slash\nnew\tline\u{1} ctl \u{7f} é ✓ \u{1f600}";
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.obj()
            .kv_str("a", nasty)
            .key("b")
            .arr()
            .u64(0)
            .u64(18_446_744_073_709_551_615)
            .bool(false)
            .null()
            .f64(8.82145e-05)
            .end_arr()
            .key("c")
            .obj()
            .end_obj()
            .key("d")
            .str_parts(&["x\"", "y"])
            .end_obj();
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("valid json");
        assert_eq!(v["a"], nasty);
        assert_eq!(v["b"][1], 18_446_744_073_709_551_615u64);
        assert_eq!(v["b"][4], 8.82145e-05);
        assert_eq!(v["d"], "x\"y");
        assert!(v["c"].as_object().is_some_and(|o| o.is_empty()));
    }
}
