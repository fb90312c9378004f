//! The `condition` expression of a detection: `and`, `or`, `not`, parentheses, search
//! identifiers, and `1 of` / `any of` / `all of` / `N of` over a pattern or `them`.
//!
//! Precedence, lowest first: `or`, `and`, `not`, then `X of` and identifiers (as in the Sigma
//! specification). Keywords are case-insensitive. A `|` (the legacy aggregation syntax,
//! `selection | count() > 5`) is refused with a message pointing to correlation rules.

/// A quantifier of `X of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    All,
    AtLeast(usize),
}

/// What `X of` ranges over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfTarget {
    /// Every search identifier not starting with `_`.
    Them,
    /// Identifiers matching a pattern (`*` wildcards).
    Pattern(String),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Ident(String),
    Of(Quant, OfTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum T {
    LParen,
    RParen,
    Word(String),
    Pipe,
}

fn lex(s: &str) -> Vec<T> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' | '|' => {
                if !word.is_empty() {
                    out.push(T::Word(std::mem::take(&mut word)));
                }
                out.push(match c {
                    '(' => T::LParen,
                    ')' => T::RParen,
                    _ => T::Pipe,
                });
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(T::Word(std::mem::take(&mut word)));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(T::Word(word));
    }
    out
}

fn is_kw(t: Option<&T>, kw: &str) -> bool {
    matches!(t, Some(T::Word(w)) if w.eq_ignore_ascii_case(kw))
}

struct P {
    toks: Vec<T>,
    i: usize,
    depth: usize,
}

impl P {
    fn peek(&self) -> Option<&T> {
        self.toks.get(self.i)
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Cond::Or(Vec::new()))
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.not()?];
        while is_kw(self.peek(), "and") {
            self.i += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Cond::And(Vec::new()))
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if is_kw(self.peek(), "not") {
            self.i += 1;
            self.depth += 1;
            if self.depth > 64 {
                return Err("condition nested too deeply".into());
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, String> {
        match self.peek().cloned() {
            None => Err("condition ends where an identifier was expected".into()),
            Some(T::LParen) => {
                self.i += 1;
                self.depth += 1;
                if self.depth > 64 {
                    return Err("condition nested too deeply".into());
                }
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&T::RParen) {
                    return Err("missing `)` in condition".into());
                }
                self.i += 1;
                Ok(inner)
            }
            Some(T::RParen) => Err("unexpected `)` in condition".into()),
            Some(T::Pipe) => Err(pipe_error()),
            Some(T::Word(w)) => {
                if is_kw(self.toks.get(self.i + 1), "of") {
                    let quant = if w.eq_ignore_ascii_case("all") {
                        Quant::All
                    } else if w.eq_ignore_ascii_case("any") {
                        Quant::AtLeast(1)
                    } else {
                        match w.parse::<usize>() {
                            Ok(n) if n >= 1 => Quant::AtLeast(n),
                            _ => {
                                return Err(format!(
                                    "`{w} of`: expected `1 of`, `any of`, `all of` or a positive number"
                                ))
                            }
                        }
                    };
                    self.i += 2;
                    let target = match self.peek().cloned() {
                        Some(T::Word(t)) if t.eq_ignore_ascii_case("them") => OfTarget::Them,
                        Some(T::Word(t)) if !is_reserved(&t) => OfTarget::Pattern(t),
                        _ => return Err(format!("`{w} of` needs a pattern or `them`")),
                    };
                    self.i += 1;
                    return Ok(Cond::Of(quant, target));
                }
                if is_reserved(&w) {
                    return Err(format!("unexpected `{w}` in condition"));
                }
                self.i += 1;
                Ok(Cond::Ident(w))
            }
        }
    }
}

fn pipe_error() -> String {
    "unsupported feature `legacy aggregation (| count() / | near)`: write a correlation rule \
     (event_count, value_count, temporal)"
        .into()
}

fn is_reserved(w: &str) -> bool {
    ["and", "or", "not", "of", "them"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// Parses a condition string.
pub fn parse_condition(s: &str) -> Result<Cond, String> {
    let toks = lex(s);
    if toks.contains(&T::Pipe) {
        return Err(pipe_error());
    }
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = P {
        toks,
        i: 0,
        depth: 0,
    };
    let c = p.or()?;
    match p.peek() {
        None => Ok(c),
        Some(T::Word(w)) => Err(format!(
            "unexpected `{w}` in condition (missing `and`/`or`?)"
        )),
        Some(T::RParen) => Err("unexpected `)` in condition".into()),
        Some(_) => Err("unexpected token in condition".into()),
    }
}

/// `*`-pattern match of identifiers (case-sensitive, as identifiers are).
pub fn ident_matches(pattern: &str, ident: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == ident;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !ident.starts_with(first) || ident.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &ident[first.len()..];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(s: &str) -> Cond {
        Cond::Ident(s.into())
    }

    #[test]
    fn precedence() {
        assert_eq!(
            parse_condition("a or b and not c").unwrap(),
            Cond::Or(vec![
                id("a"),
                Cond::And(vec![id("b"), Cond::Not(Box::new(id("c")))])
            ])
        );
        assert_eq!(
            parse_condition("(a or b) and c").unwrap(),
            Cond::And(vec![Cond::Or(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            parse_condition("sel AND NOT 1 of filter_*").unwrap(),
            Cond::And(vec![
                id("sel"),
                Cond::Not(Box::new(Cond::Of(
                    Quant::AtLeast(1),
                    OfTarget::Pattern("filter_*".into())
                )))
            ])
        );
        assert_eq!(
            parse_condition("all of them").unwrap(),
            Cond::Of(Quant::All, OfTarget::Them)
        );
        assert_eq!(
            parse_condition("any of x*").unwrap(),
            Cond::Of(Quant::AtLeast(1), OfTarget::Pattern("x*".into()))
        );
        assert_eq!(
            parse_condition("2 of x*").unwrap(),
            Cond::Of(Quant::AtLeast(2), OfTarget::Pattern("x*".into()))
        );
        assert_eq!(
            parse_condition("not not a").unwrap(),
            Cond::Not(Box::new(Cond::Not(Box::new(id("a")))))
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "a and",
            "(a",
            "a)",
            "a b",
            "sel | count() > 5",
            "0 of x",
            "1 of",
            "and",
            &"(".repeat(100),
        ] {
            assert!(parse_condition(bad).is_err(), "{bad}");
        }
        assert!(parse_condition("s | count() > 5")
            .unwrap_err()
            .contains("correlation"));
    }

    #[test]
    fn patterns() {
        assert!(ident_matches("sel_*", "sel_a"));
        assert!(ident_matches("*", "x"));
        assert!(ident_matches("a*b*c", "aXbYc"));
        assert!(!ident_matches("sel_*", "filter"));
        assert!(ident_matches("exact", "exact"));
        assert!(!ident_matches("a*a", "a"));
    }
}
