//! Compiling a rule's `detection` section into an expression tree, and evaluating it.
//!
//! * A selection that is a map is the `and` of its fields; a list of maps is the `or` of the
//!   maps; a list of plain values is a keyword search (any of them).
//! * A field's list of values is an `or` (an `and` with `|all`); each value is compiled with
//!   the field's modifiers into [`Matcher`]s (see `matcher.rs`).
//! * The condition is parsed (`condition.rs`) and the identifiers are replaced by their
//!   selections. Children of an `and` are reordered cheapest first (typed fields, then raw
//!   JSON paths, then keyword searches) — evaluation has no side effects, so this only changes
//!   speed.

use std::collections::BTreeSet;

use ipnet::IpNet;
use regex::RegexBuilder;

use crate::condition::{ident_matches, parse_condition, Cond, OfTarget, Quant};
use crate::field::{Ctx, Field, Typed};
use crate::matcher::{
    base64_offsets, base64_plain, wildcard_tokens, windash_variants, Cmp, Matcher, RefMode, StrPat,
    Tok,
};
use crate::yaml::{Node, Value};

/// A compile problem: the line and the message (the caller adds file and rule).
#[derive(Debug, Clone)]
pub(crate) struct CompileError {
    pub line: u32,
    pub message: String,
}

fn err<T>(line: u32, message: impl Into<String>) -> Result<T, CompileError> {
    Err(CompileError {
        line,
        message: message.into(),
    })
}

/// A field test: `field|mods: values`.
#[derive(Debug, Clone)]
pub(crate) struct FieldCond {
    pub name: String,
    pub field: Field,
    /// One group per YAML value; a group holds the value's variants (`windash`, `base64offset`),
    /// any of which may match.
    pub groups: Vec<Vec<Matcher>>,
    pub all: bool,
    pub neq: bool,
}

/// A keyword search (a list of values without a field).
#[derive(Debug, Clone)]
pub(crate) struct KeywordCond {
    pub groups: Vec<Vec<StrPat>>,
    pub all: bool,
}

/// A compiled detection expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    AtLeast(usize, Vec<Expr>),
    Field(Box<FieldCond>),
    Keywords(Box<KeywordCond>),
    Const(bool),
}

/// What a rule uses, for `rules check` and the docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    pub fields: BTreeSet<String>,
    pub modifiers: BTreeSet<String>,
    pub keywords: bool,
    pub absent_fields: BTreeSet<String>,
    pub unused_identifiers: Vec<String>,
    pub warnings: Vec<String>,
}

const UNSUPPORTED_MODIFIERS: &[&str] = &[
    "expand", "utf16le", "utf16be", "utf16", "wide", "minute", "hour", "day", "week", "month",
    "year",
];

#[derive(Debug, Default, Clone, Copy)]
struct Mods {
    contains: bool,
    startswith: bool,
    endswith: bool,
    all: bool,
    cased: bool,
    re: bool,
    re_i: bool,
    re_m: bool,
    re_s: bool,
    exists: bool,
    cidr: bool,
    fieldref: bool,
    cmp: Option<Cmp>,
    base64: bool,
    base64offset: bool,
    windash: bool,
    neq: bool,
}

fn parse_mods(mods: &[&str], line: u32, usage: &mut Usage) -> Result<Mods, CompileError> {
    let mut m = Mods::default();
    for raw in mods {
        let name = raw.to_ascii_lowercase();
        usage.modifiers.insert(name.clone());
        match name.as_str() {
            "contains" => m.contains = true,
            "startswith" => m.startswith = true,
            "endswith" => m.endswith = true,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "re" => m.re = true,
            "i" | "ignorecase" => m.re_i = true,
            "m" | "multiline" => m.re_m = true,
            "s" | "dotall" => m.re_s = true,
            "exists" => m.exists = true,
            "cidr" => m.cidr = true,
            "fieldref" => m.fieldref = true,
            "gt" => m.cmp = Some(Cmp::Gt),
            "gte" => m.cmp = Some(Cmp::Gte),
            "lt" => m.cmp = Some(Cmp::Lt),
            "lte" => m.cmp = Some(Cmp::Lte),
            "base64" => m.base64 = true,
            "base64offset" => m.base64offset = true,
            "windash" => m.windash = true,
            "neq" => m.neq = true,
            other if UNSUPPORTED_MODIFIERS.contains(&other) => {
                return err(line, format!("unsupported feature `|{other}` (modifier)"))
            }
            "" => return err(line, "empty modifier (`||`) in field name"),
            other => return err(line, format!("unknown modifier `|{other}`")),
        }
    }
    let n_pos = [m.contains, m.startswith, m.endswith]
        .iter()
        .filter(|b| **b)
        .count();
    if n_pos > 1 {
        return err(
            line,
            "at most one of `contains`, `startswith`, `endswith` per field",
        );
    }
    if (m.re_i || m.re_m || m.re_s) && !m.re {
        return err(line, "`i`, `m` and `s` are sub-modifiers of `re`");
    }
    let special = [m.re, m.exists, m.cidr, m.cmp.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if special > 1 || (special == 1 && (n_pos > 0 || m.base64 || m.base64offset || m.windash)) {
        return err(
            line,
            "`re`, `exists`, `cidr` and `gt/gte/lt/lte` cannot be combined with other value modifiers",
        );
    }
    if m.fieldref && (special > 0 || m.base64 || m.base64offset || m.windash) {
        return err(
            line,
            "`fieldref` combines only with `contains`, `startswith`, `endswith` and `cased`",
        );
    }
    if m.base64 && m.base64offset {
        return err(line, "`base64` and `base64offset` are exclusive");
    }
    if m.base64offset && !m.contains {
        return err(
            line,
            "`base64offset` needs `contains` (`|base64offset|contains`)",
        );
    }
    Ok(m)
}

fn wrap(mut toks: Vec<Tok>, m: &Mods) -> Vec<Tok> {
    if (m.contains || m.endswith) && toks.first() != Some(&Tok::Many) {
        toks.insert(0, Tok::Many);
    }
    if (m.contains || m.startswith) && toks.last() != Some(&Tok::Many) {
        toks.push(Tok::Many);
    }
    toks
}

fn lit_toks(s: &str) -> Vec<Tok> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![Tok::Lit(s.to_string())]
    }
}

/// Compiles one YAML value under the field's modifiers into its variants.
fn compile_value(v: &Node, m: &Mods, usage: &mut Usage) -> Result<Vec<Matcher>, CompileError> {
    let line = v.line;
    if m.exists {
        return match v.value {
            Value::Bool(b) => Ok(vec![Matcher::Exists(b)]),
            Value::Str(ref s) if s.eq_ignore_ascii_case("true") => Ok(vec![Matcher::Exists(true)]),
            Value::Str(ref s) if s.eq_ignore_ascii_case("false") => {
                Ok(vec![Matcher::Exists(false)])
            }
            _ => err(line, "`exists` needs `true` or `false`"),
        };
    }
    if let Some(op) = m.cmp {
        let n = match &v.value {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Str(s) => match crate::matcher::parse_num(s) {
                Some(n) => n,
                None => return err(line, format!("`{s}` is not a number")),
            },
            _ => {
                return err(
                    line,
                    format!("a comparison needs a number, not {}", v.kind()),
                )
            }
        };
        return Ok(vec![Matcher::Cmp(op, n)]);
    }
    if matches!(v.value, Value::Null) {
        if m.fieldref || m.cidr || m.re || m.base64 || m.base64offset {
            return err(line, "`null` cannot be used with this modifier");
        }
        return Ok(vec![Matcher::Null]);
    }
    if matches!(v.value, Value::Seq(_) | Value::Map(_)) {
        return err(
            line,
            format!("a field value must be a scalar, not {}", v.kind()),
        );
    }
    let text = v.scalar_text().unwrap_or_default();
    if m.fieldref {
        let mode = if m.contains {
            RefMode::Contains
        } else if m.startswith {
            RefMode::StartsWith
        } else if m.endswith {
            RefMode::EndsWith
        } else {
            RefMode::Equals
        };
        let field = Field::compile(&text);
        if field == Field::Absent {
            usage.absent_fields.insert(text.clone());
        }
        usage.fields.insert(text.clone());
        return Ok(vec![Matcher::FieldRef {
            field,
            mode,
            cased: m.cased,
        }]);
    }
    if m.cidr {
        let net: IpNet = match text.parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => match text.parse::<std::net::IpAddr>() {
                Ok(ip) => IpNet::from(ip),
                Err(_) => return err(line, format!("`{text}` is not a CIDR network")),
            },
        };
        return Ok(vec![Matcher::Cidr(vec![net])]);
    }
    if m.re {
        let re = RegexBuilder::new(&text)
            .case_insensitive(m.re_i)
            .multi_line(m.re_m)
            .dot_matches_new_line(m.re_s)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| CompileError {
                line,
                message: format!(
                    "unsupported feature `regular expression syntax` (`{text}`): {}",
                    e.to_string()
                        .lines()
                        .last()
                        .unwrap_or("invalid regex")
                        .trim()
                ),
            })?;
        return Ok(vec![Matcher::Str(StrPat {
            pat: crate::matcher::Pat::Regex(re),
            cased: true,
        })]);
    }
    if matches!(v.value, Value::Int(_) | Value::Float(_))
        && !(m.contains || m.startswith || m.endswith || m.base64 || m.base64offset || m.windash)
    {
        let n = match v.value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => 0.0,
        };
        return Ok(vec![Matcher::Num(n, text)]);
    }
    // Strings (and booleans/numbers used as text).
    if text.contains('.') {
        if let Field::Typed(_) | Field::Raw(..) = Field::compile(&text) {
            usage.warnings.push(format!(
                "value `{text}` is a field name but is matched as text; did you mean `|fieldref`?"
            ));
        }
    }
    let mut variants: Vec<Vec<Tok>> = Vec::new();
    if m.base64 || m.base64offset {
        if text.contains(['*', '?']) {
            return err(
                line,
                "unsupported feature `wildcards inside a base64 value` (the encoded text cannot contain them)",
            );
        }
        let sources = if m.windash {
            windash_variants(&text)
        } else {
            vec![text.clone()]
        };
        for s in sources {
            if m.base64 {
                variants.push(lit_toks(&base64_plain(s.as_bytes())));
            } else {
                for o in base64_offsets(s.as_bytes()) {
                    variants.push(lit_toks(&o));
                }
            }
        }
    } else if m.windash {
        for s in windash_variants(&text) {
            variants.push(wildcard_tokens(&s));
        }
    } else {
        variants.push(wildcard_tokens(&text));
    }
    // base64 output is case-sensitive by nature.
    let cased = m.cased || m.base64 || m.base64offset;
    variants
        .into_iter()
        .map(|t| {
            StrPat::from_tokens(wrap(t, m), cased)
                .map(Matcher::Str)
                .map_err(|e| CompileError {
                    line,
                    message: format!("cannot compile value `{text}`: {e}"),
                })
        })
        .collect()
}

fn values_of(v: &Node) -> Vec<&Node> {
    match &v.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![v],
    }
}

fn compile_field(key: &Node, v: &Node, usage: &mut Usage) -> Result<Expr, CompileError> {
    let line = key.line;
    let Some(key_text) = key.scalar_text() else {
        return err(line, "a selection key must be a field name");
    };
    let mut parts = key_text.split('|');
    let name = parts.next().unwrap_or("").trim().to_string();
    let mods: Vec<&str> = parts.collect();
    let m = parse_mods(&mods, line, usage)?;
    let values = values_of(v);
    if values.is_empty() {
        return err(v.line, format!("`{key_text}` has an empty list of values"));
    }
    if name.is_empty() {
        // `|contains: [...]`: keywords with modifiers.
        if m.exists || m.cmp.is_some() || m.cidr || m.fieldref || m.neq {
            return err(line, "a keyword search accepts only string modifiers");
        }
        usage.keywords = true;
        // Keywords are searched inside values (as plain keyword lists are).
        let mut m = m;
        if !(m.startswith || m.endswith || m.re) {
            m.contains = true;
        }
        let mut groups = Vec::new();
        for val in values {
            let ms = compile_value(val, &m, usage)?;
            groups.push(
                ms.into_iter()
                    .filter_map(|x| match x {
                        Matcher::Str(p) => Some(p),
                        _ => None,
                    })
                    .collect(),
            );
        }
        return Ok(Expr::Keywords(Box::new(KeywordCond { groups, all: m.all })));
    }
    let field = Field::compile(&name);
    usage.fields.insert(name.clone());
    if field == Field::Absent {
        usage.absent_fields.insert(name.clone());
    }
    let mut groups = Vec::new();
    for val in values {
        groups.push(compile_value(val, &m, usage)?);
    }
    Ok(Expr::Field(Box::new(FieldCond {
        name,
        field,
        groups,
        all: m.all,
        neq: m.neq,
    })))
}

fn compile_map(entries: &[(Node, Node)], usage: &mut Usage) -> Result<Expr, CompileError> {
    let mut items = Vec::new();
    for (k, v) in entries {
        items.push(compile_field(k, v, usage)?);
    }
    Ok(Expr::And(items))
}

fn keyword_expr(values: &[&Node], usage: &mut Usage) -> Result<Expr, CompileError> {
    usage.keywords = true;
    let m = Mods {
        contains: true,
        ..Mods::default()
    };
    let mut groups = Vec::new();
    for v in values {
        if matches!(v.value, Value::Null | Value::Seq(_) | Value::Map(_)) {
            return err(
                v.line,
                format!("a keyword must be a scalar, not {}", v.kind()),
            );
        }
        let ms = compile_value(v, &m, usage)?;
        groups.push(
            ms.into_iter()
                .filter_map(|x| match x {
                    Matcher::Str(p) => Some(p),
                    _ => None,
                })
                .collect(),
        );
    }
    Ok(Expr::Keywords(Box::new(KeywordCond { groups, all: false })))
}

fn compile_selection(node: &Node, usage: &mut Usage) -> Result<Expr, CompileError> {
    match &node.value {
        Value::Map(entries) => compile_map(entries, usage),
        Value::Seq(items) => {
            if items.is_empty() {
                return err(node.line, "an empty list cannot be a selection");
            }
            if items.iter().all(|i| matches!(i.value, Value::Map(_))) {
                let mut ors = Vec::new();
                for i in items {
                    if let Value::Map(entries) = &i.value {
                        ors.push(compile_map(entries, usage)?);
                    }
                }
                Ok(Expr::Or(ors))
            } else if items.iter().any(|i| matches!(i.value, Value::Map(_))) {
                err(
                    node.line,
                    "a selection list mixes maps and keywords (not supported)",
                )
            } else {
                let refs: Vec<&Node> = items.iter().collect();
                keyword_expr(&refs, usage)
            }
        }
        Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            keyword_expr(&[node], usage)
        }
        Value::Null => err(node.line, "a selection cannot be null"),
    }
}

/// Compiles a `detection:` map. Returns the expression and what it uses.
pub(crate) fn compile_detection(det: &Node) -> Result<(Expr, Usage), CompileError> {
    let Value::Map(entries) = &det.value else {
        return err(
            det.line,
            format!("`detection` must be a map, not {}", det.kind()),
        );
    };
    let mut usage = Usage::default();
    let mut idents: Vec<(String, Expr)> = Vec::new();
    let mut condition: Option<&Node> = None;
    for (k, v) in entries {
        let Some(name) = k.scalar_text() else {
            return err(k.line, "a detection key must be a name");
        };
        match name.as_str() {
            "condition" => condition = Some(v),
            "timeframe" => {
                return err(
                    k.line,
                    "unsupported feature `timeframe` (legacy aggregation): write a correlation rule with `timespan`",
                )
            }
            _ => {
                if idents.iter().any(|(n, _)| *n == name) {
                    return err(k.line, format!("search identifier `{name}` defined twice"));
                }
                let e = compile_selection(v, &mut usage)?;
                idents.push((name, e));
            }
        }
    }
    let Some(cnode) = condition else {
        return err(det.line, "`detection` has no `condition`");
    };
    let cond_texts: Vec<(String, u32)> = match &cnode.value {
        Value::Str(s) => vec![(s.clone(), cnode.line)],
        Value::Seq(items) => {
            let mut v = Vec::new();
            for i in items {
                match i.as_str() {
                    Some(s) => v.push((s.to_string(), i.line)),
                    None => return err(i.line, "a condition must be a string"),
                }
            }
            v
        }
        _ => {
            return err(
                cnode.line,
                "a condition must be a string or a list of strings",
            )
        }
    };
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut ors = Vec::new();
    for (text, line) in &cond_texts {
        let c = parse_condition(text).map_err(|m| CompileError {
            line: *line,
            message: format!("condition `{text}`: {m}"),
        })?;
        ors.push(resolve(&c, &idents, &mut used).map_err(|m| CompileError {
            line: *line,
            message: format!("condition `{text}`: {m}"),
        })?);
    }
    usage.unused_identifiers = idents
        .iter()
        .filter(|(n, _)| !used.contains(n))
        .map(|(n, _)| n.clone())
        .collect();
    let expr = if ors.len() == 1 {
        ors.pop().unwrap_or(Expr::Const(false))
    } else {
        Expr::Or(ors)
    };
    Ok((optimize(expr), usage))
}

fn resolve(
    c: &Cond,
    idents: &[(String, Expr)],
    used: &mut BTreeSet<String>,
) -> Result<Expr, String> {
    Ok(match c {
        Cond::And(items) => Expr::And(
            items
                .iter()
                .map(|i| resolve(i, idents, used))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(items) => Expr::Or(
            items
                .iter()
                .map(|i| resolve(i, idents, used))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Not(i) => Expr::Not(Box::new(resolve(i, idents, used)?)),
        Cond::Ident(name) => match idents.iter().find(|(n, _)| n == name) {
            Some((n, e)) => {
                used.insert(n.clone());
                e.clone()
            }
            None => return Err(format!("unknown search identifier `{name}`")),
        },
        Cond::Of(q, target) => {
            let picked: Vec<&(String, Expr)> = idents
                .iter()
                .filter(|(n, _)| match target {
                    OfTarget::Them => !n.starts_with('_'),
                    OfTarget::Pattern(p) => ident_matches(p, n),
                })
                .collect();
            if picked.is_empty() {
                let what = match target {
                    OfTarget::Them => "them".to_string(),
                    OfTarget::Pattern(p) => format!("`{p}`"),
                };
                return Err(format!("{what} matches no search identifier"));
            }
            let exprs: Vec<Expr> = picked
                .iter()
                .map(|(n, e)| {
                    used.insert(n.clone());
                    e.clone()
                })
                .collect();
            match q {
                Quant::All => Expr::And(exprs),
                Quant::AtLeast(1) => Expr::Or(exprs),
                Quant::AtLeast(n) => Expr::AtLeast(*n, exprs),
            }
        }
    })
}

fn cost(e: &Expr) -> u32 {
    match e {
        Expr::Const(_) => 0,
        Expr::Field(f) => match f.field {
            Field::Typed(_) | Field::Absent => {
                if f.groups
                    .iter()
                    .flatten()
                    .any(|m| matches!(m, Matcher::FieldRef { .. }))
                {
                    20
                } else {
                    1
                }
            }
            Field::EventTime => 5,
            Field::Raw(..) => 10,
        },
        Expr::Keywords(_) => 30,
        Expr::Not(i) => cost(i),
        Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
            v.iter().map(cost).sum::<u32>().min(1000)
        }
    }
}

/// Flattens nested and/or, drops single-child wrappers, orders `and` children cheapest first.
fn optimize(e: Expr) -> Expr {
    match e {
        Expr::And(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(optimize) {
                match i {
                    Expr::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            out.sort_by_key(cost);
            if out.len() == 1 {
                out.pop().unwrap_or(Expr::Const(true))
            } else {
                Expr::And(out)
            }
        }
        Expr::Or(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(optimize) {
                match i {
                    Expr::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            out.sort_by_key(cost);
            if out.len() == 1 {
                out.pop().unwrap_or(Expr::Const(false))
            } else {
                Expr::Or(out)
            }
        }
        Expr::Not(i) => Expr::Not(Box::new(optimize(*i))),
        Expr::AtLeast(n, items) => Expr::AtLeast(n, items.into_iter().map(optimize).collect()),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

impl FieldCond {
    fn eval(&self, ctx: &mut Ctx<'_, '_>) -> bool {
        ctx.prepare(&self.field);
        for g in &self.groups {
            for m in g {
                if let Matcher::FieldRef { field, .. } = m {
                    ctx.prepare(field);
                }
            }
        }
        let ctx: &Ctx<'_, '_> = ctx;
        let group_holds = |g: &Vec<Matcher>| g.iter().any(|m| matcher_holds(m, &self.field, ctx));
        let hit = if self.all {
            self.groups.iter().all(group_holds)
        } else {
            self.groups.iter().any(group_holds)
        };
        if self.neq {
            ctx.exists(&self.field) && !hit
        } else {
            hit
        }
    }
}

fn matcher_holds(m: &Matcher, field: &Field, ctx: &Ctx<'_, '_>) -> bool {
    match m {
        Matcher::Null => !ctx.exists(field),
        Matcher::Exists(b) => ctx.exists(field) == *b,
        Matcher::FieldRef {
            field: other,
            mode,
            cased,
        } => ctx.visit(field, &mut |v| {
            ctx.visit(other, &mut |o| Matcher::ref_matches(*mode, *cased, v, o))
        }),
        _ => ctx.visit(field, &mut |v| m.matches_value(v)),
    }
}

impl KeywordCond {
    fn eval(&self, ctx: &Ctx<'_, '_>) -> bool {
        let group_holds = |g: &Vec<StrPat>| ctx.visit_all(&mut |v| g.iter().any(|p| p.matches(v)));
        if self.all {
            self.groups.iter().all(group_holds)
        } else {
            self.groups.iter().any(group_holds)
        }
    }
}

impl Expr {
    /// Evaluates the expression on the event in `ctx`. Pure; never panics.
    pub(crate) fn eval(&self, ctx: &mut Ctx<'_, '_>) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Field(f) => f.eval(ctx),
            Expr::Keywords(k) => k.eval(ctx),
            Expr::Not(i) => !i.eval(ctx),
            Expr::And(items) => items.iter().all(|i| i.eval(ctx)),
            Expr::Or(items) => items.iter().any(|i| i.eval(ctx)),
            Expr::AtLeast(n, items) => {
                let mut hits = 0usize;
                for i in items {
                    if i.eval(ctx) {
                        hits += 1;
                        if hits >= *n {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }

    /// The set of (lower-case) values `typed` must take for this expression to hold, if the
    /// expression constrains it to a finite set of literals. Used to index rules.
    pub(crate) fn literal_constraint(&self, typed: Typed) -> Option<BTreeSet<String>> {
        match self {
            Expr::Const(false) => Some(BTreeSet::new()),
            Expr::Const(true) | Expr::Not(_) | Expr::Keywords(_) => None,
            Expr::Field(f) => {
                if f.field != Field::Typed(typed) || f.neq || f.groups.is_empty() {
                    return None;
                }
                let mut set = BTreeSet::new();
                for g in &f.groups {
                    for m in g {
                        match m {
                            Matcher::Str(p) => set.insert(p.exact_literal()?.to_ascii_lowercase()),
                            _ => return None,
                        };
                    }
                }
                Some(set)
            }
            Expr::And(items) => items
                .iter()
                .filter_map(|i| i.literal_constraint(typed))
                .min_by_key(BTreeSet::len),
            Expr::Or(items) | Expr::AtLeast(_, items) => {
                if let Expr::AtLeast(n, _) = self {
                    if *n == items.len() {
                        return Expr::And(items.clone()).literal_constraint(typed);
                    }
                }
                let mut set = BTreeSet::new();
                for i in items {
                    set.extend(i.literal_constraint(typed)?);
                }
                Some(set)
            }
        }
    }

    /// The field conditions (for evidence).
    pub(crate) fn field_conds<'a>(&'a self, out: &mut Vec<&'a FieldCond>) {
        match self {
            Expr::Field(f) => out.push(f),
            Expr::Not(i) => i.field_conds(out),
            Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
                v.iter().for_each(|i| i.field_conds(out))
            }
            _ => {}
        }
    }
}
