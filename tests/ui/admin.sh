#!/usr/bin/env bash
# admin.sh - the admin screens (users, departments, collections and
# rights, models, quotas) and the settings screen in a real headless chromium,
# like screens.sh: starts `hoheit serve` on a free port over a temporary
# data dir holding stories260K, creates through the CLI root (the only
# admin), pruef (auditor), mia (member of personal), ben (member of
# einkauf), a collection "bewerbung" of personal with one document and a
# collection "einkauf-docs" of einkauf, runs admin.mjs, stops the server.
#   bash tests/ui/admin.sh path/to/hoheit
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-$HERE/../../build/hoheit}
MODEL=${HOHEIT_TESTDATA:-$HERE/../../../shared/testdata}/models/stories260K.gguf
CHROME=${HOHEIT_CHROMIUM:-$(command -v chromium || true)}

fail() { echo "ui-admin: 0 passed, 1 failed ($1)"; exit 1; }
command -v node >/dev/null 2>&1 || fail "node is not installed: run scripts/deps.sh"
[ -n "$CHROME" ] && [ -x "$CHROME" ] || fail "chromium is not installed: run scripts/deps.sh"
if [ ! -d "$HERE/node_modules/puppeteer-core" ] || [ ! -d "$HERE/node_modules/axe-core" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) ||
    fail "npm ci failed: no network, or no registry: npm config get registry"
fi

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
D=$TMP/data
mkdir -p "$D/models" "$TMP/docs"
cp "$MODEL" "$D/models/"
PW=ui-test-password-1
setup() {
  for u in root:admin pruef:auditor mia:member ben:member; do
    printf '%s\n' "$PW" | "$BIN" users passwd "${u%%:*}" --role "${u##*:}" --password-stdin --data "$D" >/dev/null 2>&1 || return 1
  done
  "$BIN" departments add-user mia personal --create --data "$D" >/dev/null 2>&1 &&
  "$BIN" departments add-user ben einkauf --create --data "$D" >/dev/null 2>&1 &&
  "$BIN" collections create bewerbung --departments personal --data "$D" >/dev/null 2>&1 &&
  "$BIN" collections create einkauf-docs --departments einkauf --data "$D" >/dev/null 2>&1 || return 1
  printf '# Auswahl\n\nHöchstens fünf Bewerbungen je Stelle werden eingeladen.\n' >"$TMP/docs/auswahl.md"
  "$BIN" ingest "$TMP/docs/auswahl.md" --collection bewerbung --quiet --data "$D" >/dev/null 2>&1
}
setup || fail "setting up users, departments and collections with the CLI failed"

"$BIN" serve --data "$D" --port 0 --slots 2 -t 1 --access-log off >"$TMP/out" 2>"$TMP/err" &
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
  fail "server did not start"
fi
HOHEIT_URL="http://127.0.0.1:$PORT" HOHEIT_PASSWORD="$PW" HOHEIT_CHROMIUM="$CHROME" \
  HOHEIT_UI_TMP="$TMP" node "$HERE/admin.mjs"
rc=$?
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
src=$?
SERVER_PID=
if [ $src -ne 0 ]; then
  echo "ui-admin: server exited with $src on SIGTERM" >&2
  cat "$TMP/err" >&2
  exit 1
fi
exit $rc
