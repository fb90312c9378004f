//! Property test: the compiled, indexed engine agrees with a naive interpreter on random rules
//! and random CloudTrail records.
//!
//! The naive interpreter shares nothing with the engine but the record text: it walks the
//! record as a `serde_json::Value`, turns Sigma wildcards into a regular expression with its own
//! code, and evaluates the generated condition tree directly (the engine parses the rendered
//! condition string).
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use proptest::prelude::*;
use regex::RegexBuilder;
use serde_json::{json, Value as J};
use trailwarden_parse::parse_record;
use trailwarden_sigma::{SigmaEngine, SigmaOptions, SigmaRules};

#[derive(Debug, Clone)]
enum V {
    S(String),
    Null,
    Bool(bool),
    Num(i64),
}

#[derive(Debug, Clone)]
struct FieldSpec {
    field: &'static str,
    mods: Vec<&'static str>,
    values: Vec<V>,
}

#[derive(Debug, Clone)]
enum C {
    Sel(usize),
    Not(Box<C>),
    And(Box<C>, Box<C>),
    Or(Box<C>, Box<C>),
    OneOfAll,
    AllOfAll,
}

#[derive(Debug, Clone)]
struct RuleSpec {
    sels: Vec<Vec<FieldSpec>>,
    cond: C,
}

const STR_FIELDS: &[&str] = &[
    "eventName",
    "eventSource",
    "userAgent",
    "userIdentity.type",
    "userIdentity.arn",
    "errorCode",
    "requestParameters.bucketName",
    "requestParameters.list",
    "requestParameters.obj.k",
    "requestParameters",
    "additionalEventData.MFAUsed",
    "status",
];

const STR_VALUES: &[&str] = &[
    "GetObject",
    "get*",
    "*bucket*",
    "Put?ucket",
    "s3.amazonaws.com",
    "iam",
    "alice",
    "x\\*y",
    "*",
    "No",
    "arn:aws:iam::*",
    "IAMUser",
    "AccessDenied",
    "bucket-1",
    "Boto3",
];

fn str_mods() -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        Just(vec![]),
        Just(vec!["contains"]),
        Just(vec!["startswith"]),
        Just(vec!["endswith"]),
        Just(vec!["contains", "all"]),
        Just(vec!["cased"]),
        Just(vec!["contains", "cased"]),
        Just(vec!["neq"]),
        Just(vec!["re"]),
        Just(vec!["re", "i"]),
    ]
}

fn field_spec() -> impl Strategy<Value = FieldSpec> {
    let strs = (
        prop::sample::select(STR_FIELDS),
        str_mods(),
        prop::collection::vec(
            prop_oneof![
                8 => prop::sample::select(STR_VALUES).prop_map(|s| V::S(s.to_string())),
                1 => Just(V::Null),
            ],
            1..3,
        ),
    )
        .prop_map(|(field, mods, mut values)| {
            if mods.contains(&"re") {
                // regexes from the same pool, made valid
                values = values
                    .into_iter()
                    .map(|v| match v {
                        V::S(s) => V::S(s.replace('*', ".*").replace('?', ".")),
                        _ => V::S("^a".into()),
                    })
                    .collect();
            }
            if !mods.is_empty() {
                values.retain(|v| !matches!(v, V::Null));
                if values.is_empty() {
                    values.push(V::S("a".into()));
                }
            }
            FieldSpec {
                field,
                mods,
                values,
            }
        });
    let exists =
        (prop::sample::select(STR_FIELDS), any::<bool>()).prop_map(|(field, b)| FieldSpec {
            field,
            mods: vec!["exists"],
            values: vec![V::Bool(b)],
        });
    let cidr = prop::collection::vec(
        prop::sample::select(&["10.0.0.0/8", "203.0.113.0/24", "0.0.0.0/0", "2001:db8::/32"][..]),
        1..3,
    )
    .prop_map(|nets| FieldSpec {
        field: "sourceIPAddress",
        mods: vec!["cidr"],
        values: nets.into_iter().map(|n| V::S(n.to_string())).collect(),
    });
    let num = (
        prop::sample::select(&["", "gt", "gte", "lt", "lte"][..]),
        -2i64..12,
    )
        .prop_map(|(m, n)| FieldSpec {
            field: "requestParameters.n",
            mods: if m.is_empty() { vec![] } else { vec![m] },
            values: vec![V::Num(n)],
        });
    let boolean = any::<bool>().prop_map(|b| FieldSpec {
        field: "readOnly",
        mods: vec![],
        values: vec![V::Bool(b)],
    });
    prop_oneof![8 => strs, 1 => exists, 1 => cidr, 1 => num, 1 => boolean]
}

fn cond(n: usize) -> impl Strategy<Value = C> {
    let leaf = prop_oneof![
        6 => (0..n).prop_map(C::Sel),
        1 => Just(C::OneOfAll),
        1 => Just(C::AllOfAll),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| C::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| C::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    prop::collection::vec(prop::collection::vec(field_spec(), 1..4), 1..4)
        .prop_flat_map(|sels| {
            let n = sels.len();
            (Just(sels), cond(n))
        })
        .prop_map(|(sels, cond)| RuleSpec { sels, cond })
}

fn pick<T: Clone + std::fmt::Debug + 'static>(xs: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(xs)
}

fn record_strategy() -> impl Strategy<Value = J> {
    let pool = &[
        "alice",
        "x*y",
        "bucket-1",
        "GetObject",
        "No",
        "my-bucket-2",
        "Boto3",
    ][..];
    (
        pick(&["GetObject", "PutBucket", "ListBuckets", "x*y", "getobject", "CreateUser"][..]),
        pick(&["s3.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com"][..]),
        pick(&["aws-cli/2", "Boto3 alice", "No", "S3 Browser"][..]),
        pick(&["IAMUser", "AssumedRole", "Root"][..]),
        prop::option::of(pick(&["AccessDenied", "NoSuchBucket"][..])),
        pick(&["10.1.2.3", "203.0.113.9", "s3.amazonaws.com", "2001:db8::5"][..]),
        prop::option::of((
            pick(pool),
            prop::collection::vec(pick(pool), 0..3),
            pick(pool),
            -3i64..15,
        )),
        prop::option::of(pick(&["No", "Yes"][..])),
        any::<bool>(),
    )
        .prop_map(|(name, src, ua, kind, err, ip, rp, mfa, ro)| {
            let mut r = json!({
                "eventVersion": "1.09",
                "userIdentity": {"type": kind, "arn": format!("arn:aws:iam::1:user/alice-{kind}"), "accountId": "1"},
                "eventTime": "2024-05-02T10:00:00Z",
                "eventSource": src,
                "eventName": name,
                "awsRegion": "us-east-1",
                "sourceIPAddress": ip,
                "userAgent": ua,
                "eventID": "e1",
                "readOnly": ro,
                "eventType": "AwsApiCall",
                "recipientAccountId": "1"
            });
            if let Some(e) = err {
                r["errorCode"] = json!(e);
            }
            if let Some((b, list, k, n)) = rp {
                r["requestParameters"] = json!({"bucketName": b, "list": list, "obj": {"k": k}, "n": n});
            }
            if let Some(m) = mfa {
                r["additionalEventData"] = json!({"MFAUsed": m});
            }
            r
        })
}

// ------------------------------------------------------------------ rendering to Sigma YAML

fn yq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn render(rule: &RuleSpec) -> String {
    let mut y = String::from(
        "title: p\nid: p1\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n",
    );
    for (i, sel) in rule.sels.iter().enumerate() {
        y.push_str(&format!("    sel{i}:\n"));
        for (j, f) in sel.iter().enumerate() {
            // Duplicate keys are not allowed in a map: the same field twice gets its own
            // list-of-maps form by suffixing nothing; keep unique keys by using a list item map.
            let key = if f.mods.is_empty() {
                f.field.to_string()
            } else {
                format!("{}|{}", f.field, f.mods.join("|"))
            };
            let vals: Vec<String> = f
                .values
                .iter()
                .map(|v| match v {
                    V::S(s) => yq(s),
                    V::Null => "null".into(),
                    V::Bool(b) => b.to_string(),
                    V::Num(n) => n.to_string(),
                })
                .collect();
            let _ = j;
            y.push_str(&format!("        {}: [{}]\n", yq(&key), vals.join(", ")));
        }
    }
    y.push_str(&format!("    condition: {}\n", render_cond(&rule.cond)));
    y
}

fn render_cond(c: &C) -> String {
    match c {
        C::Sel(i) => format!("sel{i}"),
        C::Not(x) => format!("not ({})", render_cond(x)),
        C::And(a, b) => format!("({}) and ({})", render_cond(a), render_cond(b)),
        C::Or(a, b) => format!("({}) or ({})", render_cond(a), render_cond(b)),
        C::OneOfAll => "1 of sel*".into(),
        C::AllOfAll => "all of them".into(),
    }
}

/// Later duplicates of a key in one selection would be a YAML error; the naive side keeps the
/// last occurrence, as YAML maps do not allow duplicates we drop earlier ones.
fn dedup(rule: &mut RuleSpec) {
    for sel in &mut rule.sels {
        let mut seen = Vec::new();
        sel.retain(|f| {
            let k = format!("{}|{}", f.field, f.mods.join("|"));
            if seen.contains(&k) {
                false
            } else {
                seen.push(k);
                true
            }
        });
    }
}

// ------------------------------------------------------------------ the naive interpreter

fn leaves(rec: &J, field: &str) -> Vec<String> {
    if field == "status" {
        return Vec::new();
    }
    let parts: Vec<&str> = field.split('.').collect();
    let raw_roots = [
        "requestParameters",
        "responseElements",
        "additionalEventData",
    ];
    if parts.len() == 1 && raw_roots.contains(&parts[0]) {
        return match rec.get(parts[0]) {
            None | Some(J::Null) => Vec::new(),
            Some(v) => vec![v.to_string()],
        };
    }
    let mut out = Vec::new();
    walk(rec, &parts, &mut out);
    // typed fields: empty strings are missing
    if !raw_roots.contains(&parts[0]) {
        out.retain(|s| !s.is_empty());
    }
    out
}

fn walk(v: &J, path: &[&str], out: &mut Vec<String>) {
    match (v, path.split_first()) {
        (J::Null, _) => {}
        (J::Array(items), None) => items.iter().for_each(|i| walk(i, &[], out)),
        (J::String(s), None) => out.push(s.clone()),
        (J::Object(_), None) => out.push(v.to_string()),
        (other, None) => out.push(other.to_string()),
        (J::Object(m), Some((k, rest))) => {
            if let Some(n) = m.get(*k) {
                walk(n, rest, out)
            }
        }
        (J::Array(items), Some(_)) => items.iter().for_each(|i| walk(i, path, out)),
        _ => {}
    }
}

fn wildcard_regex(s: &str, pre: bool, post: bool, cased: bool) -> regex::Regex {
    let mut re = String::from("(?s)");
    if !cased {
        re.push_str("(?i)");
    }
    re.push('^');
    if pre {
        re.push_str(".*");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && matches!(chars[i + 1], '*' | '?' | '\\') {
            re.push_str(&regex::escape(&chars[i + 1].to_string()));
            i += 2;
            continue;
        }
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if post {
        re.push_str(".*");
    }
    re.push('$');
    regex::Regex::new(&re).unwrap()
}

fn value_matches(f: &FieldSpec, v: &V, leaf: &str) -> bool {
    let has = |m: &str| f.mods.contains(&m);
    match v {
        V::Null | V::Bool(_) if has("exists") => unreachable!(),
        V::Null => false,
        V::Bool(b) => leaf.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        V::Num(n) => {
            let x = leaf.trim().parse::<f64>().ok();
            let n = *n as f64;
            if has("gt") {
                x.is_some_and(|x| x > n)
            } else if has("gte") {
                x.is_some_and(|x| x >= n)
            } else if has("lt") {
                x.is_some_and(|x| x < n)
            } else if has("lte") {
                x.is_some_and(|x| x <= n)
            } else {
                x == Some(n) || leaf.eq_ignore_ascii_case(&n.to_string())
            }
        }
        V::S(s) => {
            if has("re") {
                RegexBuilder::new(s)
                    .case_insensitive(has("i"))
                    .build()
                    .unwrap()
                    .is_match(leaf)
            } else if has("cidr") {
                let net: IpNet = s.parse().unwrap();
                leaf.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip))
            } else {
                let c = has("contains");
                wildcard_regex(
                    s,
                    c || has("endswith"),
                    c || has("startswith"),
                    has("cased"),
                )
                .is_match(leaf)
            }
        }
    }
}

fn field_holds(rec: &J, f: &FieldSpec) -> bool {
    let ls = leaves(rec, f.field);
    if f.mods.contains(&"exists") {
        let V::Bool(b) = f.values[0] else {
            unreachable!()
        };
        return ls.is_empty() != b;
    }
    let one = |v: &V| match v {
        V::Null => ls.is_empty(),
        _ => ls.iter().any(|l| value_matches(f, v, l)),
    };
    let hit = if f.mods.contains(&"all") {
        f.values.iter().all(one)
    } else {
        f.values.iter().any(one)
    };
    if f.mods.contains(&"neq") {
        !ls.is_empty() && !hit
    } else {
        hit
    }
}

fn naive(rule: &RuleSpec, rec: &J) -> bool {
    let sel = |i: usize| rule.sels[i].iter().all(|f| field_holds(rec, f));
    fn ev(c: &C, sel: &dyn Fn(usize) -> bool, n: usize) -> bool {
        match c {
            C::Sel(i) => sel(*i),
            C::Not(x) => !ev(x, sel, n),
            C::And(a, b) => ev(a, sel, n) && ev(b, sel, n),
            C::Or(a, b) => ev(a, sel, n) || ev(b, sel, n),
            C::OneOfAll => (0..n).any(sel),
            C::AllOfAll => (0..n).all(sel),
        }
    }
    ev(&rule.cond, &sel, rule.sels.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_engine_agrees_with_naive_interpreter(
        mut rule in rule_spec(),
        recs in prop::collection::vec(record_strategy(), 1..6),
    ) {
        dedup(&mut rule);
        let text = render(&rule);
        let rules = SigmaRules::from_sources(&[(PathBuf::from("prop.yml"), text.clone())])
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut engine = SigmaEngine::new(rules, SigmaOptions::replay());
        for (i, r) in recs.iter().enumerate() {
            let mut e = parse_record(r.to_string().as_bytes()).unwrap();
            e.record_index = i as u32;
            let mut out = Vec::new();
            engine.evaluate(&e, "o", &mut out);
            let want = naive(&rule, r);
            prop_assert_eq!(!out.is_empty(), want, "rule:\n{}\nrecord: {}", text, r);
        }
    }
}

/// The generators are not vacuous: random rules match random records often enough, and not
/// always.
#[test]
fn generated_cases_cover_both_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut yes, mut no) = (0usize, 0usize);
    for _ in 0..500 {
        let mut rule = rule_spec().new_tree(&mut runner).unwrap().current();
        dedup(&mut rule);
        let rec = record_strategy().new_tree(&mut runner).unwrap().current();
        if naive(&rule, &rec) {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes >= 50 && no >= 50, "matches {yes}, misses {no}");
}
