#!/usr/bin/env bash
# Digest benchmark (not a test): ROWS rows of one user id folded into one digest (`digest:` with max
# ROWS, at most 10000) by a release `herald run`, against the same rows without `digest:` (each sent
# to the file transport) in the same run. The digest's cost per row must not grow with the rows
# it holds already: rows/s for ROWS and ROWS/10 say whether it does.
# Usage: bash .ci/bench/digest.sh [ROWS]   (default 10000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
if [ -z "${HERALD:-}" ]; then release_herald; fi
rows="${1:-10000}"
work="$(mktemp -d /tmp/herald-digest-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# run NAME ROWS DIGEST: seconds for `herald run` on ROWS rows of user 42 in a fresh workspace.
run() {
    local dir="$work/$1" count="$2" digest="$3"
    mkdir -p "$dir/templates" "$dir/recipients/inbox"
    printf 'site: {transport: file}\n' > "$dir/herald.yaml"
    {
        printf 'site: {nickname: 商城助手, content: "您有 {digest_count} 个订单已发货：{digest_items}"}\n'
        [ "$digest" = yes ] && printf 'digest: {window: 1h, key: user_id, item: "订单 {orderId}", separator: "；", max: %d}\n' "$count"
    } > "$dir/templates/order_shipped.yaml"
    [ "$digest" = yes ] || sed -i 's/您有 {digest_count} 个订单已发货：{digest_items}/订单 {orderId} 已发货/' "$dir/templates/order_shipped.yaml"
    python3 -c "
import sys
n = int(sys.argv[1])
with open(sys.argv[2], 'w') as f:
    f.write('user_id,orderId\n' + ''.join(f'42,A{i}\n' for i in range(n)))" "$count" "$dir/recipients/inbox/order_shipped.bench.csv"
    local start end
    start=$(date +%s.%N)
    "$HERALD" run -C "$dir" --settle 0s > "$dir/out.txt" 2>&1 || { cat "$dir/out.txt" >&2; exit 1; }
    end=$(date +%s.%N)
    grep -q "digested" "$dir/out.txt" || [ "$digest" = no ] || { echo "no digested rows: $(cat "$dir/out.txt")" >&2; exit 1; }
    python3 -c "print(f'{float(\"$end\") - float(\"$start\"):.3f}')"
}

small=$((rows / 10))
t_small=$(run small "$small" yes)
t_digest=$(run digest "$rows" yes)
t_plain=$(run plain "$rows" no)
python3 - "$rows" "$small" "$t_digest" "$t_small" "$t_plain" <<'PY'
import sys
rows, small, digest, smalls, plain = int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"digest: {rows} rows of one user folded into one digest in {digest:.2f}s = {rows / digest:,.0f} rows/s")
print(f"        {small} rows in {smalls:.2f}s = {small / smalls:,.0f} rows/s  (rate at {rows} / rate at {small}: {(rows / digest) / (small / smalls):.2f}; 1.0 is linear)")
print(f"peer:   the same {rows} rows without digest: (sent one by one, file transport) in {plain:.2f}s = {rows / plain:,.0f} rows/s")
print(f"digest / plain rows/s: {(rows / digest) / (rows / plain):.2f}")
PY
