#!/usr/bin/env bash
# Property-based check of herald serve against Sources/HeraldServer/openapi.yaml with schemathesis
# (PyPI): generated requests for every operation — valid and invalid — must get documented
# statuses and schema-valid bodies, never a 5xx. The seed is fixed, but the stateful phase
# follows what the server answers, so runs differ a little.
# Usage: [FUZZ_EXAMPLES=50] bash .ci/openapi_fuzz.sh [HERALD_BINARY]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$HERALD_ROOT"
ensure_swift
ensure_venv

HERALD="${1:-$(swift build --show-bin-path)/herald}"
WORK="$(mktemp -d /tmp/herald-openapi.XXXXXX)"
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -r herald.yaml templates "$WORK/"
cat >> "$WORK/herald.yaml" <<'YAML'
serve:
  clients:
    fuzz: {token: "${HERALD_FUZZ_TOKEN}", tenants: ["*"], scopes: [inbox, send]}
  receipts: {secret: "${HERALD_FUZZ_RECEIPTS}"}
YAML
mkdir -p "$WORK/recipients/inbox"
cp recipients/samples/* "$WORK/recipients/inbox/"
export HERALD_FUZZ_TOKEN="fuzz-token-$RANDOM$RANDOM$RANDOM" HERALD_FUZZ_RECEIPTS="fuzz-receipts-$RANDOM$RANDOM$RANDOM"
"$HERALD" run -C "$WORK" --settle 0s > /dev/null
"$HERALD" serve -C "$WORK" --bind 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/access.log" &
SERVER=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT="$(grep -o '[0-9]*$' "$WORK/serve.out")"
# Run from the scratch folder: schemathesis keeps a .schemathesis/ cache where it runs.
cd "$WORK"
python3 -m schemathesis.cli --config-file "$HERALD_ROOT/.ci/schemathesis.toml" run "$HERALD_ROOT/Sources/HeraldServer/openapi.yaml" \
    --url "http://127.0.0.1:$PORT" \
    -H "Authorization: Bearer $HERALD_FUZZ_TOKEN" --max-examples "${FUZZ_EXAMPLES:-50}" --seed 20261127 --no-color
