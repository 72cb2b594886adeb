#!/usr/bin/env bash
# Workers benchmark (not a test), PostgreSQL store: throughput of 1, 2 and 4 `herald watch`
# workers sharing one batch, mail over SMTP to a sink that answers each message after 20 ms (like
# a real provider), and the ratio against N x one worker (goal: >= 0.8). PostgreSQL mode against
# the embedded store on one `herald run` is store.sh.
# Starts a throwaway PostgreSQL unless HERALD_TEST_DATABASE_URL names one.
# Usage: bash .ci/bench/workers.sh [ROWS]   (default: 4000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time
ensure_venv
[ -n "${HERALD_TEST_DATABASE_URL:-}" ] || start_postgres
if [ -z "${HERALD:-}" ]; then release_herald; fi
python3 .ci/bench/workers.py "$HERALD" "${1:-4000}"
