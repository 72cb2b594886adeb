#!/usr/bin/env bash
# Opens the sample run's HTML report in headless Chromium at phone and desktop widths: fails on
# any console error or warning, sideways scrolling or a missing chart; keeps the screenshots.
# Usage: bash .ci/report_check.sh [HERALD_BINARY] [SCREENSHOT_DIR]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_command python3 python3
# A CJK font so the screenshot shows Chinese (the page names the usual system fonts first).
ensure_apt chromium fonts-wqy-zenhei

HERALD="${1:-$(swift build --show-bin-path)/herald}"
SHOTS="${2:-$(mktemp -d /tmp/herald-report-shots.XXXXXX)}"
mkdir -p "$SHOTS"
WORK="$(mktemp -d /tmp/herald-report-check.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

cp -r herald.yaml templates "$WORK/"
mkdir -p "$WORK/recipients/inbox"
cp recipients/samples/* "$WORK/recipients/inbox/"
"$HERALD" run -C "$WORK" --settle 0s > /dev/null
"$HERALD" report -C "$WORK" --date today > /dev/null
html="$(ls "$WORK"/reports/*/report.html)"
python3 .ci/report_browser_check.py "$html" "$SHOTS/report-phone.png" --width 390
python3 .ci/report_browser_check.py "$html" "$SHOTS/report-desktop.png" --width 1280 --height 900
