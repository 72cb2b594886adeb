#!/usr/bin/env bash
# Latency benchmark (not a test): a running release `herald watch`, a one-row verification file
# dropped by rename (NAME.tmp → NAME) DROPS times, and the time until a loopback fake SMS
# provider (the webhook transport's documented format) receives the request: p50/p90/p99/max.
# For comparison, a few files written in place, which wait for the settle time (2 s).
# Usage: bash .ci/bench/latency.sh [DROPS]   (default 200)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_venv
release_herald
python3 .ci/bench/latency.py "$HERALD" "${1:-200}"
