#!/usr/bin/env bash
# Profile (not a test): where a release `herald run` spends its CPU per message, part by part of
# the chain, sampled with `perf` (DWARF call stacks) over 3 runs each of ROWS mail rows (HTML +
# text, Chinese) through the discard transport and MESSAGES of them over SMTP to Postfix's
# smtp-sink (4 connections). Prints CPU µs per message for each part and its share of samples.
# Usage: bash .ci/bench/profile.sh [ROWS] [MESSAGES]   (default: 20000 5000)
#        HERALD=path/to/herald profiles that binary instead of a fresh release build.
#        STORE=postgres profiles the discard rows in PostgreSQL mode (a throwaway local cluster,
#        a fresh schema per run) instead of both kinds embedded.
# Why perf and not callgrind: valgrind 3.19 (Debian 12) crashes in `herald run` (it does run
# `herald --version`), and this VM exposes no hardware counters, so perf samples the CPU clock.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_apt linux-perf postfix
ensure_command /usr/bin/time time
ROWS="${1:-20000}"
MESSAGES="${2:-5000}"
if [ -z "${HERALD:-}" ]; then release_herald; fi
WORK="$(mktemp -d /tmp/herald-profile.XXXXXX)"
start_smtp_sink
trap 'kill $SINK 2>/dev/null; rm -rf "$WORK"' EXIT

workspace() {  # DIR TRANSPORT ROWS
    rm -rf "$1"
    mkdir -p "$1/templates" "$1/recipients/inbox"
    if [ "$2" = smtp ]; then
        printf 'mail:\n  accounts:\n    default: {transport: smtp, host: 127.0.0.1, port: %s, security: none, from: noreply@shop.example.com, connections: 4}\n' "$PORT" > "$1/herald.yaml"
    else
        printf 'mail:\n  accounts:\n    default: {transport: discard, from: noreply@shop.example.com}\n' > "$1/herald.yaml"
    fi
    if [ "${STORE:-}" = postgres ]; then
        psql "$HERALD_TEST_DATABASE_URL" -qAtX -c "DROP SCHEMA IF EXISTS profile CASCADE; CREATE SCHEMA profile" >/dev/null 2>&1
        printf 'store: {url: "${HERALD_TEST_DATABASE_URL}", schema: profile}\nworker: {name: profile}\n' >> "$1/herald.yaml"
    fi
    cat > "$1/templates/order_shipped.yaml" <<'YAML'
mail:
  account: default
  nickname: 云商城客服
  title: "【云商城】{name}，您的订单 {orderId} 已发货"
  text: "{name}，您好：\n您的订单 {orderId} 已发货，请留意查收。感谢您的支持！"
  html: "<p>{name}，您好：</p><p>您的订单 <b>{orderId}</b> 已发货，请留意查收。感谢您的支持！</p>"
YAML
    python3 -c "
with open('$1/recipients/inbox/order_shipped.bench.csv', 'w') as f:
    f.write('email,name,orderId\n')
    for i in range($3): f.write(f'user{i}@example.com,李雷{i % 100},A{i:08d}\n')
"
}

KINDS=(discard smtp)
if [ "${STORE:-}" = postgres ]; then
    ensure_venv
    start_postgres
    trap 'kill $SINK 2>/dev/null; rm -rf "$WORK"; stop_postgres' EXIT
    KINDS=(discard)
fi
for kind in "${KINDS[@]}"; do
    count=$([ "$kind" = smtp ] && echo "$MESSAGES" || echo "$ROWS")
    files=()
    cpu=0
    for run in 1 2 3; do
        workspace "$WORK/$kind" "$kind" "$count"
        /usr/bin/time -f "%U %S" -o "$WORK/time" perf record -q -F 999 --call-graph dwarf,16384 -o "$WORK/$kind-$run.data" \
            "$HERALD" run -C "$WORK/$kind" --settle 0s > "$WORK/$kind.log" 2>&1
        grep -q "mail  *$count  *$count" "$WORK/$kind.log" || { echo "not every message was sent:"; cat "$WORK/$kind.log"; exit 1; }
        # perf's own CPU is in the time too; the samples say what herald's share is.
        cpu=$(python3 -c "print($cpu + sum(map(float, open('$WORK/time').read().split())))")
        files+=("$WORK/$kind-$run.data")
    done
    python3 "$HERALD_ROOT/.ci/bench/profile_table.py" "$kind" "$count" "${files[@]}"
    echo
done
