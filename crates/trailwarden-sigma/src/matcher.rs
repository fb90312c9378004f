//! Values and modifiers: one Sigma value (`'*foo?'`, `5`, `null`…) plus the field's modifiers
//! compiled into a [`Matcher`] that tests one field value without allocating.
//!
//! Strings follow Sigma's wildcard rules: `*` is any run of characters, `?` exactly one, `\*`
//! `\?` and `\\` are the literal characters, any other backslash is itself. Matching is
//! case-insensitive unless `|cased` (ASCII case folding for ASCII patterns; a pattern with other
//! letters is compiled to a Unicode case-insensitive regex). `|re` is a regular expression
//! (Rust `regex` syntax, case-sensitive unless `|re|i`; look-around and back-references are
//! refused when the rule loads).

use std::net::IpAddr;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use ipnet::IpNet;
use regex::Regex;

use crate::field::Field;

/// One element of a wildcard pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Lit(String),
    One,
    Many,
}

/// Parses Sigma wildcards and escapes.
pub(crate) fn wildcard_tokens(s: &str) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Tok::Lit(std::mem::take(&mut lit)));
                }
                if c == '*' {
                    if out.last() != Some(&Tok::Many) {
                        out.push(Tok::Many);
                    }
                } else {
                    out.push(Tok::One);
                }
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Tok::Lit(lit));
    }
    out
}

/// A compiled string pattern.
#[derive(Debug, Clone)]
pub(crate) enum Pat {
    /// Matches any value (`*`).
    Any,
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String, Option<AhoCorasick>),
    Glob(Vec<Tok>),
    Regex(Regex),
}

/// How a string pattern is applied.
#[derive(Debug, Clone)]
pub(crate) struct StrPat {
    pub pat: Pat,
    pub cased: bool,
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().eq_ignore_ascii_case(b.as_bytes())
}

fn starts_ci(h: &str, p: &str) -> bool {
    h.as_bytes()
        .get(..p.len())
        .is_some_and(|x| x.eq_ignore_ascii_case(p.as_bytes()))
}

fn ends_ci(h: &str, p: &str) -> bool {
    h.len() >= p.len()
        && h.as_bytes()
            .get(h.len() - p.len()..)
            .is_some_and(|x| x.eq_ignore_ascii_case(p.as_bytes()))
}

fn char_eq(a: char, b: char, cased: bool) -> bool {
    if cased {
        a == b
    } else {
        a.eq_ignore_ascii_case(&b)
    }
}

/// Wildcard match with backtracking to the last `*` (linear in practice, O(n·m) worst case).
fn glob(toks: &[Tok], h: &str, cased: bool) -> bool {
    // Positions are (token index, offset inside a literal token, byte offset in h).
    let mut ti = 0usize;
    let mut li = 0usize; // char offset inside Lit (in bytes of the literal)
    let mut hi = 0usize;
    let mut star: Option<(usize, usize)> = None; // (token after star, h position)
    loop {
        if let Some(tok) = toks.get(ti) {
            match tok {
                Tok::Many => {
                    star = Some((ti + 1, hi));
                    ti += 1;
                    li = 0;
                    continue;
                }
                Tok::One => {
                    if let Some(c) = h.get(hi..).and_then(|r| r.chars().next()) {
                        hi += c.len_utf8();
                        ti += 1;
                        continue;
                    }
                }
                Tok::Lit(l) => {
                    let pc = l.get(li..).and_then(|r| r.chars().next());
                    let hc = h.get(hi..).and_then(|r| r.chars().next());
                    match (pc, hc) {
                        (None, _) => {
                            ti += 1;
                            li = 0;
                            continue;
                        }
                        (Some(p), Some(c)) if char_eq(p, c, cased) => {
                            li += p.len_utf8();
                            hi += c.len_utf8();
                            continue;
                        }
                        _ => {}
                    }
                }
            }
        } else if hi == h.len() {
            return true;
        }
        // mismatch: backtrack
        match star {
            Some((after, at)) => {
                let Some(c) = h.get(at..).and_then(|r| r.chars().next()) else {
                    return false;
                };
                let next = at + c.len_utf8();
                star = Some((after, next));
                ti = after;
                li = 0;
                hi = next;
            }
            None => return false,
        }
    }
}

impl StrPat {
    /// Builds the pattern for wildcard tokens.
    pub(crate) fn from_tokens(toks: Vec<Tok>, cased: bool) -> Result<StrPat, String> {
        let ascii = toks.iter().all(|t| match t {
            Tok::Lit(s) => s.is_ascii(),
            _ => true,
        });
        if !cased && !ascii {
            // Unicode case folding: a regex does it right.
            let mut re = String::from("(?is)^");
            for t in &toks {
                match t {
                    Tok::Lit(s) => re.push_str(&regex::escape(s)),
                    Tok::One => re.push('.'),
                    Tok::Many => re.push_str(".*"),
                }
            }
            re.push('$');
            let r = Regex::new(&re).map_err(|e| e.to_string())?;
            return Ok(StrPat {
                pat: Pat::Regex(r),
                cased: true,
            });
        }
        let pat = match toks.as_slice() {
            [] => Pat::Exact(String::new()),
            [Tok::Many] => Pat::Any,
            [Tok::Lit(s)] => Pat::Exact(s.clone()),
            [Tok::Lit(s), Tok::Many] => Pat::Prefix(s.clone()),
            [Tok::Many, Tok::Lit(s)] => Pat::Suffix(s.clone()),
            [Tok::Many, Tok::Lit(s), Tok::Many] => {
                let ac = if cased {
                    None
                } else {
                    Some(
                        AhoCorasick::builder()
                            .ascii_case_insensitive(true)
                            .build([s.as_str()])
                            .map_err(|e| e.to_string())?,
                    )
                };
                Pat::Contains(s.clone(), ac)
            }
            _ => Pat::Glob(toks),
        };
        Ok(StrPat { pat, cased })
    }

    pub(crate) fn matches(&self, h: &str) -> bool {
        let c = self.cased;
        match &self.pat {
            Pat::Any => true,
            Pat::Exact(s) => {
                if c {
                    h == s
                } else {
                    eq_ci(h, s)
                }
            }
            Pat::Prefix(s) => {
                if c {
                    h.starts_with(s.as_str())
                } else {
                    starts_ci(h, s)
                }
            }
            Pat::Suffix(s) => {
                if c {
                    h.ends_with(s.as_str())
                } else {
                    ends_ci(h, s)
                }
            }
            Pat::Contains(s, ac) => match ac {
                Some(ac) => ac.is_match(h),
                None => h.contains(s.as_str()),
            },
            Pat::Glob(t) => glob(t, h, c),
            Pat::Regex(r) => r.is_match(h),
        }
    }

    /// The literal this pattern requires the whole value to equal, if it is that simple.
    pub(crate) fn exact_literal(&self) -> Option<&str> {
        match &self.pat {
            Pat::Exact(s) if !self.cased || s.is_ascii() => Some(s),
            _ => None,
        }
    }
}

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// How a `fieldref` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefMode {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// One compiled value.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Str(StrPat),
    /// A YAML number without modifiers: numeric equality, or the same text.
    Num(f64, String),
    Cmp(Cmp, f64),
    /// `null`: the field has no value.
    Null,
    Exists(bool),
    Cidr(Vec<IpNet>),
    FieldRef {
        field: Field,
        mode: RefMode,
        cased: bool,
    },
}

pub(crate) fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

impl Matcher {
    /// Whether one value of the field matches (not used for `Null`/`Exists`/`FieldRef`,
    /// which look at the whole field).
    pub(crate) fn matches_value(&self, v: &str) -> bool {
        match self {
            Matcher::Str(p) => p.matches(v),
            Matcher::Num(n, text) => eq_ci(v, text) || parse_num(v).is_some_and(|x| x == *n),
            Matcher::Cmp(op, n) => parse_num(v).is_some_and(|x| match op {
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
            }),
            Matcher::Cidr(nets) => v
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Matcher::Null | Matcher::Exists(_) | Matcher::FieldRef { .. } => false,
        }
    }

    pub(crate) fn ref_matches(mode: RefMode, cased: bool, v: &str, other: &str) -> bool {
        let (v, o): (std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>) = if cased {
            (v.into(), other.into())
        } else {
            (v.to_lowercase().into(), other.to_lowercase().into())
        };
        match mode {
            RefMode::Equals => v == o,
            RefMode::Contains => v.contains(o.as_ref()),
            RefMode::StartsWith => v.starts_with(o.as_ref()),
            RefMode::EndsWith => v.ends_with(o.as_ref()),
        }
    }
}

/// Base64 of `s`, and the three offset variants used by `base64offset` (the part of the
/// encoding that does not depend on the surrounding bytes).
pub(crate) fn base64_plain(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub(crate) fn base64_offsets(s: &[u8]) -> Vec<String> {
    // The specification's construction: encode with 0, 1 and 2 bytes of prefix and keep the
    // characters that depend only on `s`.
    let mut out: Vec<String> = Vec::new();
    for (i, start) in [0usize, 2, 3].into_iter().enumerate() {
        let mut buf = vec![b' '; i];
        buf.extend_from_slice(s);
        let enc = base64_plain(&buf);
        let end = match (s.len() + i) % 3 {
            1 => enc.len().saturating_sub(3),
            2 => enc.len().saturating_sub(2),
            _ => enc.len(),
        };
        if let Some(part) = enc.get(start..end).filter(|p| !p.is_empty()) {
            if !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// `windash`: every variant of `s` where each `-` or `/` at the start of a word is replaced by
/// each of `-`, `/`, en dash, em dash and horizontal bar.
pub(crate) fn windash_variants(s: &str) -> Vec<String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let positions: Vec<usize> = s
        .char_indices()
        .filter(|(i, c)| {
            (*c == '-' || *c == '/') && (*i == 0 || s[..*i].ends_with(|p: char| p.is_whitespace()))
        })
        .map(|(i, _)| i)
        .collect();
    if positions.is_empty() {
        return vec![s.to_string()];
    }
    // Sigma replaces all option dashes of a value with the same character.
    DASHES
        .iter()
        .map(|d| {
            s.char_indices()
                .map(|(i, c)| if positions.contains(&i) { *d } else { c })
                .collect()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str, cased: bool) -> StrPat {
        StrPat::from_tokens(wildcard_tokens(s), cased).unwrap()
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(p("foo", false).matches("FOO"));
        assert!(!p("foo", true).matches("FOO"));
        assert!(p("f*o", false).matches("fxxxO"));
        assert!(p("f?o", false).matches("fxo"));
        assert!(!p("f?o", false).matches("fo"));
        assert!(p("a*b*c", false).matches("aXbYbZc"));
        assert!(!p("a*b*c", false).matches("aXbYbZ"));
        assert!(p(r"a\*b", false).matches("a*b"));
        assert!(!p(r"a\*b", false).matches("axb"));
        assert!(p(r"a\?", false).matches("a?"));
        assert!(p(r"a\\", false).matches(r"a\"));
        assert!(p(r"C:\Windows\\*", false).matches(r"c:\windows\x"));
        assert!(p(r"C:\Windows\*", false).matches(r"c:\windows*"));
        assert!(!p(r"C:\Windows\*", false).matches(r"c:\windows\x"));
        assert!(p("*", false).matches(""));
        assert!(p("é*", false).matches("É!"));
        assert!(p("*mid*", false).matches("xMIDy"));
        assert!(p("?*", false).matches("x"));
        assert!(!p("?*", false).matches(""));
        assert!(p("*ß", true).matches("xß"));
    }

    #[test]
    fn windash() {
        let v = windash_variants("-enc x -f");
        assert_eq!(v.len(), 5);
        assert!(v.contains(&"/enc x /f".to_string()));
        assert!(v.contains(&"\u{2013}enc x \u{2013}f".to_string()));
        assert_eq!(windash_variants("a-b"), ["a-b"]);
    }

    #[test]
    fn base64_variants() {
        assert_eq!(base64_plain(b"http"), "aHR0cA==");
        let offs = base64_offsets(b"http://");
        // encoded "http://" in the three alignments (as the Sigma spec lists for this value)
        assert_eq!(offs, ["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]);
    }
}
