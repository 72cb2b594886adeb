#!/usr/bin/env bash
# Live 站内信 benchmark (not a test): CLIENTS Server-Sent Events clients (one user each) on a
# release `herald serve`; the server's RSS idle with them; then a batch of one 站内信 per client
# stored by `herald run` in another process: every client must get its own message and no one
# else's; event latency (arrival − the message's log line) p50/p99/max.
# Usage: bash .ci/bench/sse.sh [CLIENTS]   (default 1000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_venv
release_herald
ulimit -n 8192 2>/dev/null || true
python3 .ci/bench/sse.py "$HERALD" "${1:-1000}"
