#!/usr/bin/env bash
# run.sh - starts `hoheit serve` on a free port over a temporary data dir
# holding stories260K, creates a key (a member of Sales; collections
# sales-docs of Sales and hr-docs of HR hold one document each), runs
# test.mjs with the official `openai` npm client and mcp.mjs with the
# official MCP TypeScript SDK's client, stops the server. Installs the
# clients once into tests/node/node_modules (package-lock.json pins them).
#   bash tests/node/run.sh path/to/hoheit
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-$HERE/../../build/hoheit}
MODEL=${HOHEIT_TESTDATA:-$HERE/../../../shared/testdata}/models/stories260K.gguf

if ! command -v node >/dev/null 2>&1; then
  echo "node: 0 passed, 1 failed (node is not installed: run scripts/deps.sh)"
  exit 1
fi
if [ ! -d "$HERE/node_modules/openai" ] || [ ! -d "$HERE/node_modules/@modelcontextprotocol/sdk" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || {
    echo "node: 0 passed, 1 failed (npm ci failed: no network, or no registry: npm config get registry)"
    exit 1
  }
fi

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/data/models"
cp "$MODEL" "$TMP/data/models/"
KEY=$("$BIN" keys create --user node --role member --data "$TMP/data" 2>/dev/null) || {
  echo "node: 0 passed, 1 failed (keys create failed)"
  exit 1
}
# the knowledge base of mcp.mjs: the key's user reads Sales, never HR
printf 'Travel policy SALESMARK. Travel expenses are refunded within 30 days after the trip.\n' >"$TMP/travel.txt"
printf 'Salaries HRSECRET. Travel expenses of the board are refunded within 30 days.\n' >"$TMP/salaries.txt"
{ "$BIN" departments add-user node Sales --create --data "$TMP/data" &&
  "$BIN" collections create sales-docs --departments Sales --data "$TMP/data" &&
  "$BIN" collections create hr-docs --departments HR --create --data "$TMP/data" &&
  "$BIN" ingest "$TMP/travel.txt" --collection sales-docs --data "$TMP/data" &&
  "$BIN" ingest "$TMP/salaries.txt" --collection hr-docs --data "$TMP/data"; } >/dev/null 2>"$TMP/setup.err" || {
  cat "$TMP/setup.err" >&2
  echo "node: 0 passed, 1 failed (knowledge base setup failed)"
  exit 1
}
"$BIN" serve --data "$TMP/data" --port 0 --slots 2 -t 1 >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$TMP/out")
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  cat "$TMP/err" >&2
  echo "node: 0 passed, 1 failed (server did not start)"
  exit 1
fi
HOHEIT_URL="http://127.0.0.1:$PORT/v1" HOHEIT_KEY="$KEY" HOHEIT_MODEL=stories260K node "$HERE/test.mjs"
rc=$?
HOHEIT_MCP_URL="http://127.0.0.1:$PORT/mcp" HOHEIT_KEY="$KEY" node "$HERE/mcp.mjs" || rc=1
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
src=$?
SERVER_PID=
if [ $src -ne 0 ]; then
  echo "node: server exited with $src on SIGTERM" >&2
  cat "$TMP/err" >&2
  exit 1
fi
exit $rc
