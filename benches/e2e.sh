#!/usr/bin/env bash
# End-to-end bench against DuckDB on the same files and cores: see benches/e2e.py.
#   benches/e2e.sh [--events N] [--work DIR] [--threads 2] [--skip-duckdb]
# DuckDB comes from the Python at TRAILWARDEN_PYTHON (default: the venv .ci/run makes).
set -euo pipefail
cd "$(dirname "$0")/.."
export TRAILWARDEN_PYTHON="${TRAILWARDEN_PYTHON:-/var/tmp/trailwarden-venv/bin/python}"
exec python3 benches/e2e.py "$@"
