#!/usr/bin/env bash
# Pipeline benchmark (not a test): generates Chinese batches of SMS rows (a mobile each) and of
# mail rows (an email each; the template has an HTML and a text body), runs each through a release
# `herald run` with the discard transport, and prints rows/s and peak RSS, the mail/SMS ratio at
# each size and, for each kind, the RSS of the largest size against the smallest (flat: ≤ 1.2).
# Each is run RUNS times (default 3): the fastest run's time and the highest peak RSS are shown,
# since the machines this runs on are shared and a run can lose a third of its speed to a neighbour.
# Usage: bash .ci/bench/pipeline.sh [ROWS...]   (default: 100000 1000000); RUNS=1 for one run each
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time

if [ -z "${HERALD:-}" ]; then release_herald; fi
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(100000 1000000)

WORK="$(mktemp -d /tmp/herald-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

workspace() {  # workspace DIR: herald.yaml and the template, every channel discarding
    mkdir -p "$1/templates" "$1/recipients/inbox"
    cat > "$1/herald.yaml" <<'YAML'
timezone: Asia/Shanghai
site: {transport: discard}
mail:
  accounts:
    default: {transport: discard, from: noreply@shop.example.com}
sms:
  channels:
    aliyun: {transport: discard, signature: 云商城}
YAML
    cat > "$1/templates/order_shipped.yaml" <<'YAML'
name: 订单发货通知
params:
  name: {required: true}
  orderId: {required: true}
  note: {required: false}
sms: {channel: aliyun, api_template_id: SMS_154950909, content: "{name}，您的订单{orderId}已发货，请留意查收。"}
mail:
  account: default
  nickname: 云商城客服
  title: "【云商城】{name}，您的订单 {orderId} 已发货"
  text: |
    {name}，您好：
    您的订单 {orderId} 已于今日发货，预计 2–3 天送达。备注：{note}
    查看物流：https://shop.example.com/orders/{orderId}
  html: |
    <html><body style="font-family: sans-serif">
    <p>{name}，您好：</p>
    <p>您的订单 <b>{orderId}</b> 已于今日发货，预计 2–3 天送达。</p>
    <p>备注：{note}</p>
    <p><a href="https://shop.example.com/orders/{orderId}">查看物流</a></p>
    </body></html>
YAML
}

batch() {  # batch FILE ROWS KIND
    python3 - "$1" "$2" "$3" <<'PY'
import sys
path, rows, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
surnames = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
given = ["雷", "梅梅", "小明", "建国", "丽华", "志强", "秀英", "伟", "芳", "娜"]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("user_id,mobile,name,orderId,note\r\n" if kind == "sms" else "user_id,email,name,orderId,note\r\n")
    for i in range(rows):
        name = surnames[i % len(surnames)] + given[i % len(given)]
        note = '"放门口, 谢谢 <急>"' if i % 10 == 0 else "普通"
        address = f"138{i % 100000000:08d}" if kind == "sms" else f"user{i}@example.com"
        f.write(f"{i},{address},{name},A{i:08d},{note}\r\n")
PY
}

declare -A RATE RSS
printf '%-6s %-10s %10s %10s %12s %10s\n' kind rows seconds rows/s "peak RSS MB" "file MB"
for rows in "${SIZES[@]}"; do
    for kind in sms mail; do
        batch "$WORK/batch.csv" "$rows" "$kind"
        file_mb=$(du -m "$WORK/batch.csv" | cut -f1)
        best_seconds=""; best_rate=0; peak_rss=0
        for _ in $(seq "${RUNS:-3}"); do
            ws="$WORK/ws-$kind-$rows"
            rm -rf "$ws"
            workspace "$ws"
            cp "$WORK/batch.csv" "$ws/recipients/inbox/order_shipped.bench.csv"
            timed_run "$rows" "$WORK/out" "$HERALD" run -C "$ws" --settle 0s
            grep -qE "^$kind +$rows +$rows" "$WORK/out" || { echo "not every row was sent:" >&2; cat "$WORK/out" >&2; exit 1; }
            if [ "$RUN_ROWS_PER_S" -gt "$best_rate" ]; then best_rate=$RUN_ROWS_PER_S; best_seconds=$RUN_SECONDS; fi
            peak_rss=$(python3 -c "print(max($peak_rss, $RUN_RSS_MB))")
            rm -rf "$ws"
        done
        printf '%-6s %-10s %10s %10s %12s %10s\n' "$kind" "$rows" "$best_seconds" "$best_rate" "$peak_rss" "$file_mb"
        RATE[$kind-$rows]=$best_rate
        RSS[$kind-$rows]=$peak_rss
    done
done
echo
first="${SIZES[0]}"; last="${SIZES[${#SIZES[@]}-1]}"
for rows in "${SIZES[@]}"; do
    python3 -c "print(f'mail / sms rows/s at $rows rows: {${RATE[mail-$rows]} / ${RATE[sms-$rows]}:.2f}')"
done
if [ "$first" != "$last" ]; then
    for kind in sms mail; do
        python3 -c "print(f'$kind peak RSS, $last rows / $first rows: {${RSS[$kind-$last]} / ${RSS[$kind-$first]}:.2f} (flat: at most 1.2)')"
    done
fi
