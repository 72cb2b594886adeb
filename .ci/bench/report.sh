#!/usr/bin/env bash
# Report benchmark (not a test): writes a day's log of N lines (default 1,000,000) shaped like a
# busy day — mail, SMS with receipts, site messages; retries, failures, invalid rows — then times
# a release `herald report` over it (HTML + CSV) and prints seconds, lines/s and peak RSS.
# The metrics refresh that follows every report is timed apart (first refresh reads the whole log).
# Usage: bash .ci/bench/report.sh [LINES]
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command /usr/bin/time time

release_herald
LINES="${1:-1000000}"

WORK="$(mktemp -d /tmp/herald-report-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/templates" "$WORK/outbox/log"
cp herald.yaml "$WORK/"
cp templates/*.yaml "$WORK/templates/"

python3 - "$WORK/outbox/log/2026-11-26.jsonl" "$LINES" <<'PY'
import json, random, sys
path, total = sys.argv[1], int(sys.argv[2])
random.seed(7)
batch = "8318553918b6bfd9"
written = 0
row = 0
def line(f, seconds, mid, status, channel, account, template, attempt=1, latency=None, error=None, file="order_shipped.bench.csv"):
    global written
    ms = int(seconds * 1000)
    h, m, s = ms // 3600000, ms // 60000 % 60, ms // 1000 % 60
    obj = {"ts": f"2026-11-26T{h:02d}:{m:02d}:{s:02d}.{ms % 1000:03d}+08:00", "message_id": mid, "batch": "sha256:" + batch * 4,
           "file": file, "row": row, "line": row + 1, "template": template, "category": "transactional"}
    if channel: obj.update(channel=channel, account=account, transport="smtp" if channel == "mail" else channel)
    obj.update(recipient="+86138****8000" if channel == "sms" else "l***@example.com", status=status, attempt=attempt)
    if latency is not None: obj["latency_ms"] = latency
    if error: obj["error"] = {"stage": "send", "code": error[0], "message": error[1]}
    f.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
    written += 1
with open(path, "w", encoding="utf-8") as f:
    while written < total:
        row += 1
        t = 86000 * row / (total * 0.9)
        kind = random.random()
        channel, account, code = [("mail", "default", 2), ("sms", "aliyun", 3), ("site", "site", 1)][row % 3]
        template = ["order_shipped", "verify_code", "coupon_expiring"][row % 3]
        mid = f"{batch}{row:012x}{code:04x}"
        latency = round(random.lognormvariate(3.0, 0.8), 3)
        if kind < 0.03:
            line(f, t, f"{batch}{row:012x}0000", "invalid", None, None, template, error=("invalid_email", f"email 'u{row}@@example.com' is not a valid address"))
        elif kind < 0.05:
            line(f, t, mid, "suppressed", channel, account, template, error=("opted_out", "recipient opted out of marketing"))
        elif kind < 0.08:
            line(f, t, mid, "failed", channel, account, template, latency=latency, error=("550", f"5.1.1 <u{row}@example.com>: Recipient address rejected"))
        elif kind < 0.13:
            line(f, t, mid, "deferred", channel, account, template, latency=latency, error=("451", "4.7.1 greylisted, try again later"))
            line(f, t + 120, mid, "sent", channel, account, template, attempt=2, latency=latency)
        else:
            line(f, t, mid, "sent", channel, account, template, latency=latency)
            if channel == "sms":
                delivered = random.random() < 0.97
                line(f, t + 5, mid, "delivered" if delivered else "undelivered", channel, account, template,
                     error=None if delivered else ("MK:0001", "用户关机"), file="receipts")
print(f"wrote {written} log lines for {row} messages", file=sys.stderr)
PY
LOG_MB=$(du -m "$WORK/outbox/log/2026-11-26.jsonl" | cut -f1)

# The report alone: --out to a fresh folder, metrics refreshed first so the timed run refreshes nothing new.
/usr/bin/time -f '%e %M' -o "$WORK/metrics.time" "$HERALD" report -C "$WORK" --date 2026-11-27 --out "$WORK/warm" > /dev/null 2>&1 || true
/usr/bin/time -f '%e %M' -o "$WORK/report.time" "$HERALD" report -C "$WORK" --date 2026-11-26 > "$WORK/report.out"
read -r seconds rss_kb < "$WORK/report.time"
read -r mseconds mrss_kb < "$WORK/metrics.time"
head -1 "$WORK/report.out"
printf '%-12s %10s %12s %12s %10s\n' "log lines" seconds "lines/s" "peak RSS MB" "log MB"
printf '%-12s %10s %12.0f %12.1f %10s\n' "$LINES" "$seconds" "$(echo "$LINES / $seconds" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)" "$LOG_MB"
printf 'first metrics refresh over the same log (inside an empty report): %ss, %.1f MB\n' "$mseconds" "$(echo "$mrss_kb / 1024" | bc -l)"
