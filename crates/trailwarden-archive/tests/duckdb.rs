//! The archive as DuckDB sees it: Hive partitions, row count, column types.
//!
//! Needs a Python with the `duckdb` module: `$TRAILWARDEN_PYTHON` if set, else `python3`.
//! Without one the test is skipped (with a message), except under CI (`$CI` set), where it fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{full_event, DAY, T0};
use trailwarden_archive::{encode_object, ArchiveOptions, LocalArchive};
use trailwarden_parse::Event;

/// Runs in Python; argv[1] = archive root, argv[2] = expected row count. Exits non-zero with a
/// message on the first failed check.
const SCRIPT: &str = r#"
import datetime, sys
import duckdb

root, expected_rows = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
# The recommended way to read the archive (docs/archive.md): partition types pinned, so a
# numeric-looking account id stays text (leading zeros kept).
src = (f"read_parquet('{root}/**/*.parquet', hive_partitioning = 1, "
       "hive_types = {'account': 'VARCHAR', 'region': 'VARCHAR', 'date': 'DATE'})")

def check(cond, msg):
    if not cond:
        sys.exit(f"CHECK FAILED: {msg}")

(rows,) = con.execute(f"select count(*) from {src}").fetchone()
check(rows == expected_rows, f"row count {rows} != {expected_rows}")

types = {name: typ for (name, typ, *_rest) in con.execute(f"describe select * from {src}").fetchall()}
check(types.get("event_time") == "TIMESTAMP WITH TIME ZONE", f"event_time is {types.get('event_time')}")
check(types.get("session_creation_time") == "TIMESTAMP WITH TIME ZONE", "session_creation_time type")
check(types.get("record_index") == "UINTEGER", f"record_index is {types.get('record_index')}")
check(types.get("read_only") == "BOOLEAN", "read_only type")
for col, want in (("account", "VARCHAR"), ("region", "VARCHAR"), ("date", "DATE")):
    check(types.get(col) == want, f"partition column {col} is {types.get(col)} (want {want})")

# The files themselves do not contain the partition columns.
inner = [r[0] for r in con.execute(
    f"describe select * from read_parquet('{root}/**/*.parquet', hive_partitioning = 0)").fetchall()]
for col in ("account", "region", "date"):
    check(col not in inner, f"{col} stored inside the files")
check("event_time" in inner and "source_object" in inner, "file columns")

# Partition values agree with the events.
bad = 0
for account, region, date, us, recipient, ident, aws_region in con.execute(f"""
        select account, region, date, epoch_us(event_time), recipient_account_id,
               identity_account_id, aws_region from {src}""").fetchall():
    want_account = recipient or ident or "unknown"
    want_region = aws_region or "unknown"
    want_date = (datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
                 + datetime.timedelta(microseconds=us)).strftime("%Y-%m-%d")
    if (account, region, str(date)) != (want_account, want_region, want_date):
        bad += 1
        print("mismatch:", (account, region, date), (want_account, want_region, want_date))
check(bad == 0, f"{bad} rows with wrong partition values")

# Plain `hive_partitioning = 1` infers the types: `date` becomes a DATE too.
default_types = {name: typ for (name, typ, *_rest) in con.execute(
    f"describe select * from read_parquet('{root}/**/*.parquet', hive_partitioning = 1)").fetchall()}
check(default_types.get("date") == "DATE", f"default date type {default_types.get('date')}")

# Percent-escaped partition values are decoded back by DuckDB.
(n,) = con.execute(f"select count(*) from {src} where account = 'odd account/1'").fetchone()
check(n == 1, f"escaped account: {n} rows")

groups = con.execute(f"""
    select account, region, cast(date as varchar), count(*) from {src} group by all order by all
""").fetchall()
print("groups:", groups)
print("duckdb", duckdb.__version__, "ok")
"#;

/// Finds a Python interpreter that can `import duckdb`; `Err` lists the ones tried.
fn python_with_duckdb() -> Result<String, String> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("TRAILWARDEN_PYTHON").filter(|p| !p.is_empty()) {
        candidates.push(p.to_string_lossy().into_owned());
    }
    candidates.push("python3".to_string());
    for py in &candidates {
        let ok = Command::new(py)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(py.clone());
        }
    }
    Err(candidates.join(", "))
}

fn events() -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..40u32 {
        let mut e = full_event(i);
        // Two accounts (one with a leading zero), two regions, two days, and a few events
        // without region / recipient account.
        e.recipient_account_id = Some(
            if i % 2 == 0 {
                "012345678901"
            } else {
                "999988887777"
            }
            .into(),
        );
        e.aws_region = Some(if i % 4 < 2 { "us-east-1" } else { "eu-west-1" }.into());
        e.event_time = T0 + if i % 5 == 0 { DAY } else { 0 } + i64::from(i) * 1_000_000;
        if i == 7 {
            e.aws_region = None;
        }
        if i == 9 {
            e.recipient_account_id = None;
            e.identity.account_id = None;
        }
        if i == 11 {
            // Stored as `account=odd%20account%2F1`.
            e.recipient_account_id = Some("odd account/1".into());
        }
        events.push(e);
    }
    events
}

#[test]
fn duckdb_reads_the_archive_with_hive_partitions() {
    let python = match python_with_duckdb() {
        Ok(python) => python,
        Err(tried) => {
            let msg = format!(
                "no Python with the `duckdb` module (tried: {tried}); set TRAILWARDEN_PYTHON to \
                 one, e.g. `python3 -m venv /var/tmp/tw-venv && /var/tmp/tw-venv/bin/pip install \
                 duckdb` (`.ci/run` does this)"
            );
            if std::env::var_os("CI").is_some() {
                panic!("CI is set: {msg}");
            }
            eprintln!("SKIPPED duckdb_reads_the_archive_with_hive_partitions: {msg}");
            return;
        }
    };

    let tmp = tempfile::tempdir().unwrap();
    let archive = LocalArchive::new(tmp.path().join("archive"));
    let events = events();
    // Two source objects, small row groups: several files per partition, several row groups.
    let opts = ArchiveOptions {
        row_group_rows: 4,
        ..ArchiveOptions::default()
    };
    let (a, b) = events.split_at(25);
    for (object, part) in [("obj/a.json.gz", a), ("obj/b.json.gz", b)] {
        for f in encode_object(object, part, &opts).unwrap() {
            archive.write(&f).unwrap();
        }
    }

    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(archive.root())
        .arg(events.len().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "duckdb checks failed ({python}):\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    assert!(stdout.contains("ok"), "{stdout}");
}
