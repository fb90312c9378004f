#!/usr/bin/env python3
"""End-to-end bench: trailwarden replay with every detection on, against DuckDB, on the same
gzip objects and the same cores, in one run.

    benches/e2e.sh [--events N] [--work DIR] [--threads 2] [--skip-duckdb]

Steps (each timed with /usr/bin/time for wall time and peak RSS):
  1. `trailwarden gen --events N --seed 7` into WORK/trail-N, made afresh on every run (a corpus
     kept from an older build is not what this build's generator makes: ~7 s per 1M events);
  2. the floor: the `floor` example of trailwarden-parse reads + gunzips (and parses) the same
     objects on the same number of threads, nothing else;
  3. `trailwarden replay` with everything on: built-in policies and rule pack (with the
     generated `risky` IP list), the anomaly engine with the GeoLite2 City database, every
     SigmaHQ CloudTrail rule, and the Parquet archive;
  4. the same replay without the archive (detection only), and with 1 worker thread;
  5. DuckDB (the `duckdb` Python package): read_json(format='auto') -> unnest(Records) ->
     COPY ... (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (account, region, date)),
     `SET threads` to the same count.
Prints a Markdown table: wall s, events/s, MB/s of JSON, peak RSS, and the ratios.

The SigmaHQ rules and the GeoLite2 database come from ../shared/data when present (the bench
says so when they are not, and runs without them).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
SIGMA = os.path.join(SHARED, "sigma", "rules", "cloud", "aws", "cloudtrail")
GEOIP = os.path.join(SHARED, "geo", "GeoLite2-City.mmdb")

DUCKDB_SQL = """
SET threads={threads};
SET preserve_insertion_order=false;
COPY (
  SELECT unnest(rec),
         rec.recipientAccountId AS account,
         rec.awsRegion AS region,
         strftime(CAST(rec.eventTime AS TIMESTAMP), '%Y-%m-%d') AS date
  FROM (SELECT unnest(Records) AS rec
        FROM read_json('{glob}', format='auto', maximum_object_size=536870912))
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (account, region, date));
"""


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (stdout+stderr text, wall s, peak RSS MiB)."""
    full = ["/usr/bin/time", "-f", "@@time wall=%e rss=%M user=%U sys=%S"] + cmd
    p = subprocess.run(full, capture_output=True, text=True, env=env)
    text = p.stdout + p.stderr
    if p.returncode not in (0, 3):
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{text}")
    m = re.search(r"@@time wall=([\d.]+) rss=(\d+) user=([\d.]+) sys=([\d.]+)", text)
    if not m:
        sys.exit(f"no timing from {' '.join(cmd)}\n{text}")
    return text, float(m.group(1)), int(m.group(2)) / 1024, float(m.group(3)) + float(m.group(4))


def target_dir():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)["target_directory"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--work", default="/var/tmp/trailwarden-e2e")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=os.environ.get("TRAILWARDEN_PYTHON", sys.executable),
                    help="a Python with the duckdb package")
    ap.add_argument("--skip-duckdb", action="store_true")
    a = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "trailwarden"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "trailwarden-parse", "--example", "floor"],
                   cwd=ROOT, check=True)
    tdir = target_dir()
    tw = os.path.join(tdir, "release", "trailwarden")
    floor = os.path.join(tdir, "release", "examples", "floor")

    trail = os.path.join(a.work, f"trail-{a.events}")
    shutil.rmtree(trail, ignore_errors=True)
    os.makedirs(a.work, exist_ok=True)
    subprocess.run([tw, "gen", "--out", trail, "--events", str(a.events), "--seed", "7"], check=True)
    gz_bytes = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(os.path.join(trail, "AWSLogs")) for f in fs)

    rows = []  # (what, wall, events/s, MB/s, rss, cpu)
    json_bytes = None

    for mode in (["--gunzip-only"], []):
        text, wall, rss, cpu = timed([floor, trail, "--threads", str(a.threads)] + mode)
        rec = json.loads(text.splitlines()[0])
        json_bytes = rec["json_bytes"]
        rows.append((f"floor: read + {rec['mode']}, {a.threads} threads", wall, a.events / wall,
                     json_bytes / wall / 1e6, rss, cpu))
    floor_wall = rows[-1][1]

    detect = ["--ip-list", f"risky={trail}/risky-ips.txt"]
    notes = []
    if os.path.isdir(SIGMA):
        detect += ["--sigma", SIGMA]
    else:
        notes.append(f"SigmaHQ rules not found at {SIGMA}: replay ran without Sigma")
    if os.path.isfile(GEOIP):
        detect += ["--geoip", GEOIP]
    else:
        notes.append(f"GeoLite2 database not found at {GEOIP}: geo detections off")

    out = os.path.join(a.work, "out")
    runs = [
        ("trailwarden replay, everything on + archive", ["--workers", str(a.threads)]),
        ("trailwarden replay, everything on, no archive", ["--workers", str(a.threads), "--no-archive"]),
        ("trailwarden replay, everything on + archive, 1 worker", ["--workers", "1"]),
    ]
    replay_wall = None
    alerts = None
    for what, extra in runs:
        shutil.rmtree(out, ignore_errors=True)
        text, wall, rss, cpu = timed([tw, "replay", trail, "--out", out, "--no-progress", "-q"] + detect + extra)
        m = re.search(r"alerts\s+(\d+)", text)
        if m and alerts is None:
            alerts = int(m.group(1))
        rows.append((what, wall, a.events / wall, json_bytes / wall / 1e6, rss, cpu))
        if replay_wall is None:
            replay_wall = wall

    duck_wall = None
    if not a.skip_duckdb:
        duck_out = os.path.join(a.work, "duckdb-out")
        shutil.rmtree(duck_out, ignore_errors=True)
        sql = DUCKDB_SQL.format(threads=a.threads,
                                glob=os.path.join(trail, "AWSLogs", "**", "*.json.gz"), out=duck_out)
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write("import duckdb, sys\ncon = duckdb.connect()\n")
            f.write(f"con.execute({sql!r})\n")
            script = f.name
        text, wall, rss, cpu = timed([a.python, script])
        os.unlink(script)
        rows.append((f"DuckDB: gz -> partitioned zstd Parquet, {a.threads} threads", wall, a.events / wall,
                     json_bytes / wall / 1e6, rss, cpu))
        duck_wall = wall

    print(f"\n{a.events:,} events, {json_bytes / 1e9:.2f} GB JSON, {gz_bytes / 1e6:.0f} MB gzip, "
          f"{a.threads} threads, {os.cpu_count()} cores; alerts from the everything-on replay: {alerts}\n")
    print("| what | wall s | events/s | MB/s JSON | peak RSS MiB | CPU s |")
    print("|---|---|---|---|---|---|")
    for what, wall, eps, mbs, rss, cpu in rows:
        print(f"| {what} | {wall:.2f} | {eps:,.0f} | {mbs:.0f} | {rss:,.0f} | {cpu:.1f} |")
    print()
    if duck_wall:
        print(f"trailwarden (everything on + archive) vs DuckDB conversion: {duck_wall / replay_wall:.2f}x faster")
    print(f"trailwarden (everything on + archive) vs gunzip+parse floor: {floor_wall / replay_wall * 100:.0f}% of the floor")
    for n in notes:
        print(f"note: {n}")


if __name__ == "__main__":
    main()
