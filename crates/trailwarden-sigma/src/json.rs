//! A tiny JSON tokenizer for the raw fields of an event (`requestParameters`…).
//!
//! It writes a flat tape of tokens into a buffer the caller reuses, so parsing a raw field
//! allocates nothing once the buffer has grown. Tokens point into the original text (the
//! event's own `String`): strings are never copied unless they contain escapes, and an object
//! or array keeps the byte range of its raw JSON text, so matching "the whole object" matches
//! the text CloudTrail wrote. Never panics: malformed text is reported as `Err(())` and the
//! tape is rolled back; nesting is capped at [`MAX_DEPTH`].

/// Deepest nesting accepted (CloudTrail's own limit is far below).
pub(crate) const MAX_DEPTH: u32 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    True,
    False,
    Num,
    Str,
    Obj,
    Arr,
}

/// One token. For strings `start..end` is the content between the quotes; for everything else
/// the whole value's text. `next` is the index of the first token after this value's subtree;
/// the children of an object are key (string) and value tokens, alternating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    pub next: u32,
    pub escaped: bool,
}

/// Appends the tokens of `text` to `toks`; on error, `toks` is left as it was.
pub(crate) fn parse_into(text: &str, toks: &mut Vec<Tok>) -> Result<(), ()> {
    if text.len() >= u32::MAX as usize {
        return Err(());
    }
    let mark = toks.len();
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
        toks,
    };
    let ok = p.value(0).is_ok() && {
        p.ws();
        p.i == p.b.len()
    };
    if ok {
        Ok(())
    } else {
        toks.truncate(mark);
        Err(())
    }
}

struct Parser<'a, 'b> {
    b: &'a [u8],
    i: usize,
    toks: &'b mut Vec<Tok>,
}

impl Parser<'_, '_> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn push(&mut self, kind: Kind, start: usize, end: usize, escaped: bool) -> usize {
        let idx = self.toks.len();
        self.toks.push(Tok {
            kind,
            start: start as u32,
            end: end as u32,
            next: (idx + 1) as u32,
            escaped,
        });
        idx
    }

    fn lit(&mut self, word: &[u8], kind: Kind) -> Result<(), ()> {
        let start = self.i;
        if self.b.get(start..start + word.len()) == Some(word) {
            self.i += word.len();
            self.push(kind, start, self.i, false);
            Ok(())
        } else {
            Err(())
        }
    }

    fn value(&mut self, depth: u32) -> Result<(), ()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        self.ws();
        match self.b.get(self.i).copied().ok_or(())? {
            b'{' => self.container(depth, true),
            b'[' => self.container(depth, false),
            b'"' => self.string().map(|_| ()),
            b't' => self.lit(b"true", Kind::True),
            b'f' => self.lit(b"false", Kind::False),
            b'n' => self.lit(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(()),
        }
    }

    fn number(&mut self) -> Result<(), ()> {
        let start = self.i;
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                self.i += 1;
            } else {
                break;
            }
        }
        let text = std::str::from_utf8(self.b.get(start..self.i).ok_or(())?).map_err(|_| ())?;
        text.parse::<f64>().map_err(|_| ())?;
        self.push(Kind::Num, start, self.i, false);
        Ok(())
    }

    fn string(&mut self) -> Result<usize, ()> {
        // at the opening quote
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.b.get(self.i).copied().ok_or(())? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                c if c < 0x20 => return Err(()),
                _ => self.i += 1,
            }
        }
        let end = self.i;
        if end > self.b.len() {
            return Err(());
        }
        self.i += 1;
        Ok(self.push(Kind::Str, start, end, escaped))
    }

    fn container(&mut self, depth: u32, object: bool) -> Result<(), ()> {
        let start = self.i;
        let idx = self.push(
            if object { Kind::Obj } else { Kind::Arr },
            start,
            start,
            false,
        );
        self.i += 1;
        let close = if object { b'}' } else { b']' };
        self.ws();
        if self.b.get(self.i) == Some(&close) {
            self.i += 1;
        } else {
            loop {
                if object {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(());
                    }
                    self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(());
                    }
                    self.i += 1;
                }
                self.value(depth + 1)?;
                self.ws();
                match self.b.get(self.i).copied() {
                    Some(b',') => self.i += 1,
                    Some(c) if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(()),
                }
            }
        }
        let next = self.toks.len() as u32;
        if let Some(t) = self.toks.get_mut(idx) {
            t.end = self.i as u32;
            t.next = next;
        }
        Ok(())
    }
}

/// The text of token `t` in `text`: string content (still escaped), or the raw value text.
pub(crate) fn raw_text<'a>(text: &'a str, t: &Tok) -> &'a str {
    text.get(t.start as usize..t.end as usize).unwrap_or("")
}

/// Decodes JSON string escapes. Invalid escapes are kept as written.
pub(crate) fn unescape(s: &str, out: &mut String) {
    out.clear();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let parsed = if hex.len() == 4 {
                    u32::from_str_radix(&hex, 16).ok()
                } else {
                    None
                };
                let Some(hi) = parsed else {
                    out.push_str("\\u");
                    out.push_str(&hex);
                    continue;
                };
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // a surrogate pair: \uD83D\uDE00
                    let rest = chars.as_str();
                    match rest
                        .strip_prefix("\\u")
                        .and_then(|r| r.get(..4))
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                    {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            for _ in 0..6 {
                                chars.next();
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        }
                        _ => 0xFFFD,
                    }
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
}

/// True when the (possibly escaped) key token equals `key`.
pub(crate) fn key_eq(text: &str, t: &Tok, key: &str) -> bool {
    let raw = raw_text(text, t);
    if !t.escaped {
        return raw == key;
    }
    let mut buf = String::new();
    unescape(raw, &mut buf);
    buf == key
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tape(s: &str) -> Vec<Tok> {
        let mut v = Vec::new();
        parse_into(s, &mut v).unwrap();
        v
    }

    #[test]
    fn parses_nested_values() {
        let s = r#" {"a": [1, "x\"y", {"b": null}], "c": true} "#;
        let t = tape(s);
        assert_eq!(t[0].kind, Kind::Obj);
        assert_eq!(t[0].next as usize, t.len());
        assert_eq!(
            raw_text(s, &t[0]),
            r#"{"a": [1, "x\"y", {"b": null}], "c": true}"#
        );
        assert_eq!(raw_text(s, &t[1]), "a");
        assert_eq!(t[2].kind, Kind::Arr);
        assert_eq!(raw_text(s, &t[2]), r#"[1, "x\"y", {"b": null}]"#);
        assert!(t[4].escaped);
        let mut u = String::new();
        unescape(raw_text(s, &t[4]), &mut u);
        assert_eq!(u, "x\"y");
        let c = t[2].next as usize;
        assert_eq!(raw_text(s, &t[c]), "c");
        assert_eq!(t[c + 1].kind, Kind::True);
    }

    #[test]
    fn rejects_garbage_and_rolls_back() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "tru",
            "\"abc",
            "{\"a\":1}x",
            "[\"\\",
            "-",
        ] {
            let mut v = vec![Tok {
                kind: Kind::Null,
                start: 0,
                end: 0,
                next: 1,
                escaped: false,
            }];
            assert!(parse_into(bad, &mut v).is_err(), "{bad}");
            assert_eq!(v.len(), 1);
        }
        let deep = "[".repeat(1000);
        assert!(parse_into(&deep, &mut Vec::new()).is_err());
    }

    #[test]
    fn unicode_escapes() {
        let mut u = String::new();
        unescape(r"\u00e9\ud83d\ude00\/\u12", &mut u);
        assert_eq!(u, "é😀/\\u12");
    }
}
