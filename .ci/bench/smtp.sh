#!/usr/bin/env bash
# SMTP benchmark (not a test): messages/s from a release `herald run` to Postfix's smtp-sink
# on 127.0.0.1, for 2,000 and 20,000 messages, against mailmerge (PyPI, --no-limit) and
# Postfix's own load generator smtp-source with the same number of connections, in one run.
# Usage: bash .ci/bench/smtp.sh [CONNECTIONS]   (default 4)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_apt libcurl4-openssl-dev postfix gcc
ensure_pip mailmerge mailmerge

CONNECTIONS="${1:-4}"
if [ -z "${HERALD:-}" ]; then release_herald; fi
WORK="$(mktemp -d /tmp/herald-smtp-bench.XXXXXX)"
start_smtp_sink
trap 'kill $SINK 2>/dev/null; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
rate() { python3 -c "print(int($1 / ($3 - $2)))"; }

make_workspace() { # DIR ROWS
    mkdir -p "$1/templates" "$1/recipients/inbox"
    cat > "$1/herald.yaml" <<YAML
mail:
  accounts:
    sink: {transport: smtp, host: 127.0.0.1, port: $PORT, security: none, from: noreply@shop.example.com, connections: $CONNECTIONS}
YAML
    cat > "$1/templates/order_shipped.yaml" <<'YAML'
mail:
  account: sink
  nickname: 云商城客服
  title: "【云商城】{name}，您的订单 {orderId} 已发货"
  text: "{name}，您好：\n您的订单 {orderId} 已发货，请留意查收。感谢您的支持！"
  html: "<p>{name}，您好：</p><p>您的订单 <b>{orderId}</b> 已发货，请留意查收。感谢您的支持！</p>"
YAML
    python3 - "$1/recipients/inbox/order_shipped.bench.csv" "$2" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w", encoding="utf-8") as f:
    f.write("email,name,orderId\n")
    for i in range(rows):
        f.write(f"user{i}@example.com,李雷{i % 100},A{i:08d}\n")
PY
}

declare -A RESULT
for count in 2000 20000; do
    make_workspace "$WORK/herald-$count" "$count"
    start=$(now)
    "$HERALD" run -C "$WORK/herald-$count" --settle 0s > "$WORK/out-$count" 2>&1 || { cat "$WORK/out-$count"; exit 1; }
    end=$(now)
    grep -q "mail  *$count  *$count" "$WORK/out-$count" || { echo "herald did not send all $count:"; cat "$WORK/out-$count"; exit 1; }
    RESULT["herald-$count"]=$(rate "$count" "$start" "$end")
done

# mailmerge: the same Chinese messages, one SMTP session each (its design).
mkdir -p "$WORK/mailmerge" && cd "$WORK/mailmerge"
cat > mailmerge_server.conf <<CONF
[smtp_server]
host = 127.0.0.1
port = $PORT
ratelimit = 0
CONF
cat > mailmerge_template.txt <<'TPL'
TO: {{email}}
SUBJECT: 【云商城】{{name}}，您的订单 {{orderId}} 已发货
FROM: 云商城客服 <noreply@shop.example.com>

{{name}}，您好：
您的订单 {{orderId}} 已发货，请留意查收。感谢您的支持！
TPL
for count in 2000 20000; do
    cp "$WORK/herald-$count/recipients/processed/order_shipped.bench.csv" mailmerge_database.csv
    start=$(now)
    mailmerge --no-limit --no-dry-run --output-format raw > /dev/null
    end=$(now)
    RESULT[mailmerge-$count]=$(rate "$count" "$start" "$end")
done
cd "$HERALD_ROOT"

# libcurl alone: a C loop with one reused easy handle per thread, the ceiling for any libcurl
# client. Timed from outside like herald (process start to exit), for both sizes.
gcc -O2 -o "$WORK/libcurl_loop" "$HERALD_ROOT/.ci/bench/libcurl_smtp_loop.c" -lcurl -lpthread
# smtp-source: Postfix's generator, the same sessions kept open (-d), messages of similar size.
for count in 2000 20000; do
    start=$(now)
    "$WORK/libcurl_loop" "$PORT" "$CONNECTIONS" "$count" > /dev/null
    end=$(now)
    RESULT[libcurl-loop-$count]=$(rate "$count" "$start" "$end")
    start=$(now)
    /usr/sbin/smtp-source -d -s "$CONNECTIONS" -m "$count" -l 1500 -f noreply@shop.example.com -t li@example.com "127.0.0.1:$PORT"
    end=$(now)
    RESULT[smtp-source-$count]=$(rate "$count" "$start" "$end")
done

printf '%-28s %12s\n' "sender ($CONNECTIONS connections)" "messages/s"
for key in herald-2000 herald-20000 libcurl-loop-2000 libcurl-loop-20000 mailmerge-2000 mailmerge-20000 smtp-source-2000 smtp-source-20000; do
    printf '%-28s %12s\n' "$key" "${RESULT[$key]}"
done
python3 - "${RESULT[herald-2000]}" "${RESULT[herald-20000]}" "${RESULT[libcurl-loop-2000]}" "${RESULT[libcurl-loop-20000]}" \
          "${RESULT[mailmerge-2000]}" "${RESULT[mailmerge-20000]}" "${RESULT[smtp-source-20000]}" <<'PY'
import sys
h2, h20, c2, c20, m2, m20, s20 = map(float, sys.argv[1:])
print(f"herald / libcurl loop (2,000)       = {h2 / c2:.2f}    (target >= 0.85)")
print(f"herald / libcurl loop (20,000)      = {h20 / c20:.2f}    (target >= 0.85)")
print(f"herald / mailmerge (2,000)          = {h2 / m2:.1f}x   (target >= 10x)")
print(f"herald / mailmerge (20,000)         = {h20 / m20:.1f}x   (target >= 10x)")
print(f"libcurl loop / smtp-source (20,000) = {c20 / s20:.2f}    (libcurl's own ceiling: no SMTP PIPELINING)")
PY
