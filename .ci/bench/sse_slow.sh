#!/usr/bin/env bash
# Slow live clients (not a test): SSE clients that never read, while MESSAGES 站内信 go to their
# user, on a release `herald serve`; the server's peak RSS with 20 such clients and with 300 (the
# peer in the same run: memory must not grow with clients × messages), how many were dropped as
# too slow, and how long SIGTERM takes to stop the server with them connected.
# Usage: bash .ci/bench/sse_slow.sh [MESSAGES] [CLIENTS...]   (default 30000 20 300)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
if [ -z "${HERALD:-}" ]; then release_herald; fi
ulimit -n 8192 2>/dev/null || true
messages="${1:-30000}"
shift || true
[ $# -gt 0 ] || set -- 20 300
python3 .ci/bench/sse_slow.py "$HERALD" "$messages" "$@"
