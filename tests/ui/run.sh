#!/usr/bin/env bash
# run.sh - the web UI in a real headless chromium: starts `hoheit serve` on a
# free port over a temporary data dir holding stories260K, creates users,
# departments, a collection with one document through the CLI, runs
# test.mjs (puppeteer-core drives Debian's chromium; axe-core checks
# accessibility), stops the server. Installs the npm packages once into
# tests/ui/node_modules (package-lock.json pins them).
#   bash tests/ui/run.sh path/to/hoheit
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-$HERE/../../build/hoheit}
MODEL=${HOHEIT_TESTDATA:-$HERE/../../../shared/testdata}/models/stories260K.gguf
CHROME=${HOHEIT_CHROMIUM:-$(command -v chromium || true)}

fail() { echo "ui: 0 passed, 1 failed ($1)"; exit 1; }
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
  for u in mia:member ben:member; do
    printf '%s\n' "$PW" | "$BIN" users passwd "${u%%:*}" --role "${u##*:}" --password-stdin --data "$D" >/dev/null 2>&1 || return 1
  done
  "$BIN" departments add-user mia vertrieb --create --data "$D" >/dev/null 2>&1 &&
  "$BIN" departments add-user ben einkauf --create --data "$D" >/dev/null 2>&1 &&
  "$BIN" collections create handbuch --departments vertrieb --data "$D" >/dev/null 2>&1 &&
  "$BIN" collections grant handbuch vertrieb manage --data "$D" >/dev/null 2>&1 &&
  "$BIN" collections create einkauf-intern --departments einkauf --data "$D" >/dev/null 2>&1 || return 1
  cat >"$TMP/docs/reisekosten.md" <<'MD'
# Reisekostenrichtlinie

## Hotels

Hotelkosten werden bis 120 Euro pro Nacht erstattet. Für München und Hamburg gilt eine Obergrenze von 150 Euro pro Nacht.

## Bahn

Dienstreisen mit der Bahn werden in der zweiten Klasse gebucht. Ab vier Stunden Fahrzeit ist die erste Klasse erlaubt.
MD
  cat >"$TMP/docs/lieferanten.md" <<'MD'
# Lieferantenliste

Der geheime Rahmenvertrag mit der Firma Zebrafisch läuft bis 2031.
MD
  "$BIN" ingest "$TMP/docs/reisekosten.md" --collection handbuch --quiet --data "$D" >/dev/null 2>&1 &&
  "$BIN" ingest "$TMP/docs/lieferanten.md" --collection einkauf-intern --quiet --data "$D" >/dev/null 2>&1 || return 1
  # an approver in the same department, and a use case whose answers wait for one
  printf '%s\n' "$PW" | "$BIN" users passwd anna --role approver --password-stdin --data "$D" >/dev/null 2>&1 &&
  "$BIN" departments add-user anna vertrieb --data "$D" >/dev/null 2>&1 || return 1
  cat >"$TMP/uc.json" <<'JSON'
{"slug": "bewerbungen", "name": "Bewerbungen vorsortieren", "purpose": "Fragen zu Bewerbungen",
 "departments": ["vertrieb"], "collections": ["handbuch"], "answers": {"h_employment": true}}
JSON
  "$BIN" register add --file "$TMP/uc.json" --data "$D" >/dev/null 2>&1 || return 1
  APPROVER_KEY=$("$BIN" keys create --user anna --role approver --data "$D" 2>/dev/null)
}
APPROVER_KEY=
setup || fail "setting up users, departments, collections and the register with the CLI failed"

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
HOHEIT_URL="http://127.0.0.1:$PORT" HOHEIT_PASSWORD="$PW" HOHEIT_APPROVER_KEY="$APPROVER_KEY" HOHEIT_CHROMIUM="$CHROME" \
  HOHEIT_UI_TMP="$TMP" node "$HERE/test.mjs"
rc=$?
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
src=$?
SERVER_PID=
if [ $src -ne 0 ]; then
  echo "ui: server exited with $src on SIGTERM" >&2
  cat "$TMP/err" >&2
  exit 1
fi
exit $rc
