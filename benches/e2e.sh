#!/usr/bin/env bash
# End-to-end throughput: generate N events (default 1,000,000) once, then time a replay with
# the archive on and with it off. Prints events/s from the replay summary and peak RSS from
# /usr/bin/time. Usage: benches/e2e.sh [EVENTS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
work=${2:-/var/tmp/trailwarden-e2e}
cargo build --release --bin trailwarden -q
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/trailwarden
trail="$work/trail-$events"
if [ ! -d "$trail/AWSLogs" ]; then
  "$bin" gen --out "$trail" --events "$events" --seed 7
fi
for mode in archive no-archive; do
  flags=()
  [ "$mode" = no-archive ] && flags=(--no-archive)
  rm -rf "$work/out"
  /usr/bin/time -f "peak_rss_kb=%M wall_s=%e user_s=%U sys_s=%S" \
    "$bin" replay "$trail" --out "$work/out" --no-progress -q \
    --ip-list "risky=$trail/risky-ips.txt" "${flags[@]}" 2>&1 \
    | grep -E "elapsed|peak_rss" | sed "s/^/$mode: /"
done
