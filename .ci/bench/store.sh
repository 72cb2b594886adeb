#!/usr/bin/env bash
# Store benchmark (not a test): the same ROWS mail rows (HTML + text, Chinese; discard transport)
# through one release `herald run`, embedded (SQLite) and in PostgreSQL mode (a throwaway local
# cluster, a fresh schema per run), back to back, best of RUNS (default 3) each; prints seconds,
# rows/s and peak RSS of both and the PostgreSQL / embedded ratio of rows/s measured in this run.
# Usage: bash .ci/bench/store.sh [ROWS]   (default 100000); HERALD=path picks a binary
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time
ensure_venv
ROWS="${1:-100000}"
if [ -z "${HERALD:-}" ]; then release_herald; fi
start_postgres
WORK="$(mktemp -d /tmp/herald-store.XXXXXX)"
trap 'rm -rf "$WORK"; stop_postgres' EXIT

workspace() {  # DIR STORE: herald.yaml (embedded, or PostgreSQL in schema STORE) and the template
    rm -rf "$1"
    mkdir -p "$1/templates" "$1/recipients/inbox"
    printf 'timezone: Asia/Shanghai\nmail:\n  accounts:\n    default: {transport: discard, from: noreply@shop.example.com}\n' > "$1/herald.yaml"
    if [ "$2" != embedded ]; then
        printf 'store: {url: "${HERALD_DATABASE_URL}", schema: %s}\nworker: {name: bench}\n' "$2" >> "$1/herald.yaml"
    fi
    cat > "$1/templates/order_shipped.yaml" <<'YAML'
mail:
  account: default
  nickname: 云商城客服
  title: "【云商城】{name}，您的订单 {orderId} 已发货"
  text: "{name}，您好：\n您的订单 {orderId} 已于今日发货，预计 2–3 天送达。\n查看物流：https://shop.example.com/orders/{orderId}"
  html: "<p>{name}，您好：</p><p>您的订单 <b>{orderId}</b> 已于今日发货，预计 2–3 天送达。</p><p><a href=\"https://shop.example.com/orders/{orderId}\">查看物流</a></p>"
YAML
    cp "$WORK/batch.csv" "$1/recipients/inbox/order_shipped.bench.csv"
}

python3 - "$WORK/batch.csv" "$ROWS" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
surnames = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
with open(path, "w", encoding="utf-8") as f:
    f.write("user_id,email,name,orderId\n")
    for i in range(rows):
        f.write(f"{i},user{i}@example.com,{surnames[i % len(surnames)]}雷,A{i:08d}\n")
PY

export HERALD_DATABASE_URL="$HERALD_TEST_DATABASE_URL"
declare -A RATE
printf '%-10s %8s %10s %10s %12s\n' store rows seconds rows/s "peak RSS MB"
for run in $(seq "${RUNS:-3}"); do
    for store in embedded postgres; do
        target="$store"
        if [ "$store" = postgres ]; then
            target="bench_$run"
            psql "$HERALD_DATABASE_URL" -qAtX -c "DROP SCHEMA IF EXISTS $target CASCADE; CREATE SCHEMA $target" >/dev/null
        fi
        workspace "$WORK/ws" "$target"
        timed_run "$ROWS" "$WORK/out" "$HERALD" run -C "$WORK/ws" --settle 0s
        grep -qE "^mail +$ROWS +$ROWS" "$WORK/out" || { echo "not every row was sent:" >&2; cat "$WORK/out" >&2; exit 1; }
        printf '%-10s %8s %10s %10s %12s\n' "$store" "$ROWS" "$RUN_SECONDS" "$RUN_ROWS_PER_S" "$RUN_RSS_MB"
        [ "$RUN_ROWS_PER_S" -gt "${RATE[$store]:-0}" ] && RATE[$store]=$RUN_ROWS_PER_S
    done
done
echo
python3 -c "print(f'best of ${RUNS:-3}: embedded ${RATE[embedded]} rows/s, PostgreSQL ${RATE[postgres]} rows/s; PostgreSQL / embedded = {${RATE[postgres]} / ${RATE[embedded]}:.2f}')"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
