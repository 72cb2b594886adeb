#!/usr/bin/env bash
# JSON batch benchmark (not a test): the same Chinese SMS rows as a CSV batch and as a JSON batch
# (one object with a "recipients" array), each through a release `herald run` with the discard
# transport. Prints seconds, rows/s and peak RSS, and the JSON/CSV RSS ratio measured in this run.
# Usage: bash .ci/bench/json_batch.sh [ROWS]   (default: 500000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time

release_herald
ROWS="${1:-500000}"
WORK="$(mktemp -d /tmp/herald-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

printf '%-6s %10s %10s %10s %12s %10s\n' format rows seconds rows/s "peak RSS MB" "file MB"
declare -A RSS
for format in csv json; do
    ws="$WORK/ws-$format"
    mkdir -p "$ws/templates" "$ws/recipients/inbox"
    cat > "$ws/herald.yaml" <<'YAML'
timezone: Asia/Shanghai
caps: {sms: [none]}
sms:
  channels:
    aliyun: {transport: discard, signature: 云商城}
YAML
    cat > "$ws/templates/order_shipped.yaml" <<'YAML'
sms: {channel: aliyun, api_template_id: SMS_154950909, content: "{name}，您的订单{orderId}已发货，请留意查收。"}
YAML
    python3 - "$ws/recipients/inbox/order_shipped.bench.$format" "$ROWS" "$format" <<'PY'
import json, sys
path, rows, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
surnames = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
given = ["雷", "梅梅", "小明", "建国", "丽华", "志强", "秀英", "伟", "芳", "娜"]
def row(i):
    return str(i), f"138{i % 100000000:08d}", surnames[i % len(surnames)] + given[i % len(given)], f"A{i:08d}"
with open(path, "w", encoding="utf-8", newline="") as f:
    if kind == "csv":
        f.write("user_id,mobile,name,orderId\n")
        for i in range(rows):
            f.write(",".join(row(i)) + "\n")
    else:
        f.write('{"id": "bench-json", "template": "order_shipped", "recipients": [\n')
        for i in range(rows):
            user, mobile, name, order = row(i)
            item = {"user_id": user, "mobile": mobile, "params": {"name": name, "orderId": order}}
            f.write(("," if i else "") + json.dumps(item, ensure_ascii=False) + "\n")
        f.write("]}\n")
PY
    file_mb=$(du -m "$ws/recipients/inbox/order_shipped.bench.$format" | cut -f1)
    timed_run "$ROWS" "$WORK/out" "$HERALD" run -C "$ws" --settle 0s
    RSS[$format]=$RUN_RSS_MB
    printf '%-6s %10s %10s %10s %12s %10s\n' "$format" "$ROWS" "$RUN_SECONDS" "$RUN_ROWS_PER_S" "$RUN_RSS_MB" "$file_mb"
    grep -E '^total ' "$WORK/out" >&2 || true
done
python3 -c "print(f'JSON/CSV peak RSS ratio: {${RSS[json]} / ${RSS[csv]}:.2f} (goal: at most 1.5)')"
