#!/usr/bin/env bash
# `herald trace` benchmark (not a test): a workspace with 1M messages (SMS through the discard
# transport, one release `herald run`), then each kind of trace query run 5 times, printing the
# median wall time against the peer measured in the same run: `grep -c` of the same message id
# over the whole log, i.e. a plain scan of every line.
# Usage: bash .ci/bench/trace.sh [MESSAGES]   (default: 1000000)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
release_herald
ROWS="${1:-1000000}"

WORK="$(mktemp -d /tmp/herald-trace.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ws="$WORK/ws"
mkdir -p "$ws/templates" "$ws/recipients/inbox"
cat > "$ws/herald.yaml" <<'YAML'
timezone: Asia/Shanghai
sms:
  channels:
    aliyun: {transport: discard, signature: 云商城}
YAML
cat > "$ws/templates/verify_code.yaml" <<'YAML'
category: verification
params: {code: {required: true}}
sms: {channel: aliyun, api_template_id: SMS_1, content: "您的验证码是{code}，5分钟内有效。"}
YAML
python3 - "$ws/recipients/inbox/verify_code.csv" "$ROWS" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("user_id,mobile,code\n")
    for i in range(rows):
        f.write(f"{i},139{i:08d},{i % 1000000:06d}\n")
PY
start=$(date +%s.%N)
"$HERALD" run -C "$ws" --settle 0s > "$WORK/run.out"
end=$(date +%s.%N)
messages=$(cat "$ws"/outbox/log/*.jsonl | wc -l)
log_mb=$(du -cm "$ws"/outbox/log/*.jsonl | tail -1 | cut -f1)
idx_mb=$(du -cm "$ws"/outbox/log/.index/*.idx | tail -1 | cut -f1)
printf 'workspace: %s log lines (%s MB of log, %s MB of index), written in %.1f s\n' "$messages" "$log_mb" "$idx_mb" "$(python3 -c "print($end - $start)")"

user=$((ROWS / 2 + 7))
id=$(grep -m1 "\"row\":$((user + 1))," "$ws"/outbox/log/*.jsonl | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["message_id"])')
mobile=$(printf '139%08d' "$user")

median() {  # median wall milliseconds of 5 runs of "$@"
    local times=()
    for _ in 1 2 3 4 5; do
        local t0 t1
        t0=$(date +%s%N); "$@" > "$WORK/q.out"; t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
scan=$(median grep -c "$id" "$ws"/outbox/log/*.jsonl)
printf '\n%-34s %10s %14s\n' query "median ms" "vs grep scan"
for query in "$id" "--to $mobile" "--user $user"; do
    # shellcheck disable=SC2086
    ms=$(median "$HERALD" trace -C "$ws" $query)
    found=$(grep -c '^  20' "$WORK/q.out" || true)
    printf '%-34s %10s %14s   (%s events)\n' "trace ${query:0:26}" "$ms" "$(python3 -c "print(f'{$ms/$scan:.2f}x')")" "$found"
done
printf '%-34s %10s %14s\n' "grep -c ID outbox/log/*.jsonl" "$scan" "1.00x"
