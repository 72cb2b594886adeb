#!/usr/bin/env bash
# HTTP load (not a test): 1,000,000 site messages over 100,000 users (a release `herald run`),
# an announcement, then `herald serve` on 127.0.0.1 loaded by wrk (Debian) against unread-count
# and the first page of the list, each request for a random user. Prints requests/s and latency
# percentiles (wrk --latency).
# Usage: bash .ci/bench/serve.sh [ROWS] [USERS] [SECONDS] [CONNECTIONS]
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_apt libcurl4-openssl-dev wrk

ROWS="${1:-1000000}"
USERS="${2:-100000}"
SECONDS_EACH="${3:-15}"
CONNECTIONS="${4:-32}"
release_herald
WORK="$(mktemp -d /tmp/herald-serve-bench.XXXXXX)"
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
cat > "$WORK/herald.yaml" <<'YAML'
site: {transport: inbox}
serve:
  clients:
    bench: {token: "${HERALD_BENCH_TOKEN}", tenants: [0]}
YAML
site_batch "$WORK" "$ROWS" "$USERS"
export HERALD_BENCH_TOKEN="bench-token-$(date +%s%N)"
"$HERALD" run -C "$WORK" --settle 0s > /dev/null
"$HERALD" notice publish -C "$WORK" --title 系统维护 --content "12月1日 02:00-04:00 系统维护" --type announcement > /dev/null
echo "store: $ROWS site messages for $USERS users ($((ROWS / USERS)) each) + 1 announcement"

"$HERALD" serve -C "$WORK" --bind 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/access.log" &
SERVER=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(grep -o '[0-9]*$' "$WORK/serve.out")"

for endpoint in "unread-count" "messages?size=20"; do
    cat > "$WORK/random-user.lua" <<LUA
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/users/" .. math.random(0, $USERS - 1) .. "/$endpoint", {["Authorization"] = "Bearer $HERALD_BENCH_TOKEN"})
end
response = function(status, headers, body)
  if status ~= 200 then print("unexpected status " .. status) end
end
LUA
    echo
    echo "== GET /v1/users/{random user}/$endpoint — $CONNECTIONS connections, 2 threads, ${SECONDS_EACH}s"
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$WORK/random-user.lua" "http://127.0.0.1:$PORT" | grep -v '^unexpected' | sed -n '/Thread Stats/,$p'
    grep -c '"status":"200"' "$WORK/access.log" | sed 's/^/access log: 200 answers so far: /'
done
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null
SERVER=""
tail -1 "$WORK/serve.out"
