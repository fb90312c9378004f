#!/usr/bin/env bash
# The live worker's throughput against moto_server (S3 + SQS on loopback, through the real AWS
# SDK), next to a local replay of the same objects, on this machine.
#
# Regime: a backlog — every object is already notified on the queue when the worker starts
# (what a worker sees after an outage or when scaled from zero). Reports events/s for both and
# checks that they produced the same alerts and archive.
#
#   benches/worker.sh [EVENTS=200000]
# Needs: moto_server (TRAILWARDEN_MOTO, default /var/tmp/trailwarden-venv/bin/moto_server, with
# boto3 in the same venv).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"
moto="${TRAILWARDEN_MOTO:-/var/tmp/trailwarden-venv/bin/moto_server}"
py="$(dirname "$moto")/python"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p trailwarden
bin="$target/release/trailwarden"
work="$(mktemp -d /var/tmp/trailwarden-worker-bench.XXXXXX)"
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" gen --out "$work/trail" --events "$events" --seed 7 >/dev/null
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$moto" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

queue_url="$("$py" - "$work/trail" <<'PY'
import os, sys, boto3
root = sys.argv[1]
ep = os.environ["AWS_ENDPOINT_URL"]
s3 = boto3.client("s3", endpoint_url=ep)
sqs = boto3.client("sqs", endpoint_url=ep)
s3.create_bucket(Bucket="trail")
q = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
s3.put_bucket_notification_configuration(Bucket="trail", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:123456789012:events",
                             "Events": ["s3:ObjectCreated:*"]}]})
n = 0
for d, _, files in os.walk(os.path.join(root, "AWSLogs")):
    for f in files:
        if f.endswith(".json.gz"):
            p = os.path.join(d, f)
            s3.upload_file(p, "trail", os.path.relpath(p, root))
            n += 1
print(q)
print(f"uploaded {n} objects", file=sys.stderr)
PY
)"

idle=3
start=$(date +%s.%N)
# The whole trail is queued at once, in no particular event-time order: a backlog spanning
# more than the default 15-minute lateness would make windowed rules drop late events (as a
# real worker catching up would); a day of lateness makes live and replay comparable.
"$bin" run --queue-url "$queue_url" --out "$work/live" --idle-exit-secs "$idle" --wait-time-secs 1 \
  --allowed-lateness-secs 86400 2> "$work/live.log"
end=$(date +%s.%N)
grep -E "events|messages|archive|alerts" "$work/live.log" | sed 's/^/  live   /'
live_secs=$(echo "$end - $start - $idle" | bc -l)

start=$(date +%s.%N)
"$bin" replay "$work/trail" --out "$work/local" --no-progress 2> "$work/local.log" || true
end=$(date +%s.%N)
local_secs=$(echo "$end - $start" | bc -l)

sort "$work/live/alerts.jsonl" > "$work/a1"; sort "$work/local/alerts.jsonl" > "$work/a2"
cmp -s "$work/a1" "$work/a2" && same_alerts=yes || same_alerts=NO
if [ "$same_alerts" = NO ]; then
  # which rules differ, by alert id and by content
  python3 - "$work/a1" "$work/a2" <<'PY'
import collections, json, sys
live, local = ({json.loads(l)["id"]: l for l in open(p)} for p in sys.argv[1:3])
diff = collections.Counter()
for k in live.keys() | local.keys():
    if live.get(k) != local.get(k):
        rule = json.loads(live.get(k) or local.get(k))["rule_id"]
        where = "both, content differs" if k in live and k in local else ("live only" if k in live else "replay only")
        diff[(rule, where)] += 1
for (rule, where), n in sorted(diff.items()):
    print(f"  differs: {rule}: {n} ({where})")
PY
fi
(cd "$work/live/archive" && find . -name '*.parquet' -exec sha256sum {} + | sort -k2) > "$work/h1"
(cd "$work/local/archive" && find . -name '*.parquet' -exec sha256sum {} + | sort -k2) > "$work/h2"
cmp -s "$work/h1" "$work/h2" && same_archive=yes || same_archive=NO

printf '\nworker vs replay, %s events, %s cores\n' "$events" "$(nproc)"
printf '  worker (moto S3+SQS)  %6.1f s  %8.0f events/s  (idle wait excluded)\n' "$live_secs" "$(echo "$events / $live_secs" | bc -l)"
printf '  replay (local files)  %6.1f s  %8.0f events/s\n' "$local_secs" "$(echo "$events / $local_secs" | bc -l)"
printf '  identical alerts: %s, identical archive files: %s\n' "$same_alerts" "$same_archive"
