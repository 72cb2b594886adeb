#!/usr/bin/env bash
# Workers benchmark (not a test), PostgreSQL store:
#  1. throughput of 1, 2 and 4 `herald watch` workers sharing one batch, mail over SMTP to a sink
#     that answers each message after 20 ms (like a real provider), and the ratio against N x one
#     worker (goal: >= 0.8);
#  2. discard-transport rows/s of one `herald run` with the PostgreSQL store against the embedded
#     SQLite store, in the same run.
# Starts a throwaway PostgreSQL unless HERALD_TEST_DATABASE_URL names one.
# Usage: bash .ci/bench/workers.sh [ROWS_PER_WORKER_TEST] [DISCARD_ROWS]   (default: 4000 100000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time
ensure_venv
[ -n "${HERALD_TEST_DATABASE_URL:-}" ] || start_postgres
release_herald
python3 .ci/bench/workers.py "$HERALD" "${1:-4000}" "${2:-100000}"
