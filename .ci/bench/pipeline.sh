#!/usr/bin/env bash
# Pipeline benchmark (not a test): generates 100k- and 1M-row Chinese CSV batches and runs each
# through a release `herald run` with the discard transport, printing rows/s and peak RSS.
# Usage: bash .ci/bench/pipeline.sh [ROWS...]   (default: 100000 1000000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time

release_herald
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(100000 1000000)

WORK="$(mktemp -d /tmp/herald-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

printf '%-10s %12s %10s %12s %12s\n' rows seconds rows/s "peak RSS MB" "CSV MB"
for rows in "${SIZES[@]}"; do
    ws="$WORK/ws-$rows"
    mkdir -p "$ws/templates" "$ws/recipients/inbox"
    cat > "$ws/herald.yaml" <<'YAML'
timezone: Asia/Shanghai
site: {transport: discard}
mail:
  accounts:
    default: {transport: discard, from: noreply@shop.example.com}
sms:
  channels:
    aliyun: {transport: discard, signature: 云商城}
YAML
    cat > "$ws/templates/order_shipped.yaml" <<'YAML'
name: 订单发货通知
params:
  name: {required: true}
  orderId: {required: true}
sms: {channel: aliyun, api_template_id: SMS_154950909, content: "{name}，您的订单{orderId}已发货，请留意查收。"}
mail: {account: default, title: "订单 {orderId} 已发货", text: "{name}，您的订单 {orderId} 已发货。"}
YAML
    python3 - "$ws/recipients/inbox/order_shipped.bench.csv" "$rows" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
surnames = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
given = ["雷", "梅梅", "小明", "建国", "丽华", "志强", "秀英", "伟", "芳", "娜"]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("user_id,mobile,name,orderId,note\r\n")
    for i in range(rows):
        name = surnames[i % len(surnames)] + given[i % len(given)]
        note = '"备注, 含逗号"' if i % 10 == 0 else "普通"
        f.write(f"{i},138{i % 100000000:08d},{name},A{i:08d},{note}\r\n")
PY
    csv_mb=$(du -m "$ws/recipients/inbox/order_shipped.bench.csv" | cut -f1)
    # The benchmark measures sms only: the rows carry mobiles and no email.
    timed_run "$rows" "$WORK/out" "$HERALD" run -C "$ws" --settle 0s
    printf '%-10s %12s %10s %12s %12s\n' "$rows" "$RUN_SECONDS" "$RUN_ROWS_PER_S" "$RUN_RSS_MB" "$csv_mb"
    grep -E '^(sms|total) ' "$WORK/out" >&2 || true
done
