#!/usr/bin/env bash
# Inbox scale check (not a test): 1,000,000 site messages over 100,000 users inserted through a
# release `herald run`, then `unread-count` and the first page of `list` for one user, timed
# in-process over 200 runs each, and an announcement published to all of them (one row).
# Usage: bash .ci/bench/inbox.sh [ROWS] [USERS]
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_apt libcurl4-openssl-dev

ROWS="${1:-1000000}"
USERS="${2:-100000}"
release_herald
WORK="$(mktemp -d /tmp/herald-inbox-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
printf 'site: {transport: inbox}\n' > "$WORK/herald.yaml"
site_batch "$WORK" "$ROWS" "$USERS"
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$WORK/rss" "$HERALD" run -C "$WORK" --settle 0s > "$WORK/out"
end=$(date +%s.%N)
python3 -c "print(f'inserted $ROWS site messages for $USERS users in {$end - $start:.1f}s ({int($ROWS / ($end - $start))} rows/s), peak RSS {$(cat "$WORK/rss") / 1024:.0f} MB')"
USER=$((USERS / 2))
"$HERALD" notice publish -C "$WORK" --title 系统维护 --content "12月1日 02:00-04:00 系统维护" --type announcement > /dev/null
echo "user $USER: $((ROWS / USERS)) messages + 1 announcement"
swift build -c release --product herald-bench >&2
"$(swift build -c release --show-bin-path)/herald-bench" inbox "$WORK" "$USER" 200
python3 - "$WORK/outbox/herald.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print("rows: site_messages %d, notices %d (an announcement to every user is one row)" % (
    db.execute("SELECT COUNT(*) FROM site_messages").fetchone()[0], db.execute("SELECT COUNT(*) FROM notices").fetchone()[0]))
PY
