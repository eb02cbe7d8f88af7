#!/usr/bin/env bash
# bench/lookup.sh - prompt-lookup (n-gram) speculative decoding on grounded
# answers: tokens/s with and without, and that the answers are identical.
#
#   bash bench/lookup.sh                  # prints a markdown fragment
#   LOOKUP_MODEL=../shared/testdata/models/stories260K.gguf LOOKUP_N=20 \
#   LOOKUP_MAX_TOKENS=64 LOOKUP_THREADS=1 LOOKUP_CTX=2048 bash bench/lookup.sh
#
# Ingests the German test corpus (tests/kb/de/corpus) into a collection of
# a temporary data dir, starts `hoheit serve` on a free port, and asks the
# first LOOKUP_N questions of tests/kb/de/queries.jsonl as grounded chats
# (`/v1/chat/completions` with `hoheit.collections`; greedy), each once
# with `"prompt_lookup": false` and once with the default (on), alternating
# which goes first. Reports completion tokens ÷ generation wall time per
# mode (the retrieval is the same in both), the drafted and kept tokens from
# /metrics, and fails if any answer differs.
set -euo pipefail
cd "$(dirname "$0")/.."
HOHEIT=${HOHEIT:-build/hoheit}
MODEL=${LOOKUP_MODEL:-../shared/testdata/models/stories260K.gguf}
N=${LOOKUP_N:-20}
MAX_TOKENS=${LOOKUP_MAX_TOKENS:-64}
THREADS=${LOOKUP_THREADS:-1}
CTX=${LOOKUP_CTX:-2048}   # stories260K trained on 512; the grounding prompt needs more (output stays deterministic)
PY=/usr/bin/python3
[ -x "$HOHEIT" ] || make -j2 "$HOHEIT" >&2

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

D=$TMP/data
mkdir -p "$D/models"
ln -s "$(realpath "$MODEL")" "$D/models/"
MID=$(basename "$MODEL" .gguf)
"$HOHEIT" collections create handbook --departments HR --create --data "$D" >/dev/null
"$HOHEIT" ingest tests/kb/de/corpus --collection handbook --data "$D" >/dev/null 2>&1
KEY=$("$HOHEIT" keys create --user bench --role member --data "$D" 2>/dev/null)
"$HOHEIT" departments add-user bench HR --data "$D" >/dev/null
AKEY=$("$HOHEIT" keys create --user benchadmin --role admin --data "$D" 2>/dev/null)
"$HOHEIT" serve --data "$D" --port 0 --slots 1 --ctx "$CTX" -t "$THREADS" >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$TMP/out")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$TMP/err" >&2; echo "lookup: server did not start" >&2; exit 1; }

$PY - "$PORT" "$KEY" "$AKEY" "$MID" "$N" "$MAX_TOKENS" "$THREADS" "$CTX" <<'PYEOF'
import json, os, platform, subprocess, sys, time, urllib.request
port, key, akey, model, n, max_tokens, threads, ctx = sys.argv[1:9]
n, max_tokens = int(n), int(max_tokens)
base = "http://127.0.0.1:%s" % port
def post(body, k=key):
    req = urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + k, "Content-Type": "application/json"})
    t0 = time.monotonic()
    with urllib.request.urlopen(req, timeout=600) as r:
        j = json.loads(r.read())
    return j, time.monotonic() - t0
def metric(name):
    req = urllib.request.Request(base + "/metrics", headers={"Authorization": "Bearer " + akey})
    for line in urllib.request.urlopen(req).read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")
qs = [json.loads(l)["query"] for l in open("tests/kb/de/queries.jsonl") if l.strip()][:n]
def ask(q, lookup):
    body = {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": q}],
            "hoheit": {"collections": ["handbook"]}}
    if not lookup:
        body["prompt_lookup"] = False
    j, dt = post(body)
    return j["choices"][0]["message"]["content"], j["usage"]["completion_tokens"], dt
ask(qs[0], False)   # loads the model
tot = {False: [0, 0.0], True: [0, 0.0]}
same = 0
d0, a0 = metric("hoheit_draft_tokens_total"), metric("hoheit_draft_accepted_total")
for i, q in enumerate(qs):
    res = {}
    for lookup in ((False, True) if i % 2 == 0 else (True, False)):
        res[lookup] = ask(q, lookup)
        tot[lookup][0] += res[lookup][1]
        tot[lookup][1] += res[lookup][2]
    if res[False][0] == res[True][0] and res[False][1] == res[True][1]:
        same += 1
    else:
        print("lookup: answers differ for %r:\n  off: %r\n  on:  %r" % (q, res[False][0], res[True][0]), file=sys.stderr)
drafted, kept = metric("hoheit_draft_tokens_total") - d0, metric("hoheit_draft_accepted_total") - a0
cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
if tot[False][0] == 0 or tot[True][0] == 0:
    print("lookup: no tokens generated (did the sources fit the context? try LOOKUP_CTX)", file=sys.stderr)
    sys.exit(1)
off, on = tot[False][0] / tot[False][1], tot[True][0] / tot[True][1]
print("\n### Prompt-lookup decoding on grounded answers (bench/lookup.sh)\n")
print("Machine: %s, %s, ISA %s, load average %.1f (shared machine), hoheit commit %s. Model %s, "
      "`hoheit serve --slots 1 --ctx %s -t %s`; collection: tests/kb/de/corpus (28 German documents); the first %d "
      "questions of tests/kb/de/queries.jsonl as grounded chats (`hoheit.collections`, greedy, `max_tokens` %d), "
      "each with `\"prompt_lookup\": false` and with the default (on), alternating which runs first. t/s = "
      "completion tokens ÷ request wall time (retrieval included, the same in both).\n" %
      (cpu, platform.platform(), os.environ.get("HOHEIT_ISA", "best"), os.getloadavg()[0], commit, model, ctx, threads,
       len(qs), max_tokens))
print("| mode | completion tokens | seconds | t/s |\n|---|---|---|---|")
print("| plain greedy | %d | %.2f | %.1f |" % (tot[False][0], tot[False][1], off))
print("| prompt lookup | %d | %.2f | %.1f |" % (tot[True][0], tot[True][1], on))
print("\nSpeed-up **%.2f×**; drafted %d tokens, kept %d (%.0f %%); answers identical: %d of %d." %
      (on / off, drafted, kept, 100.0 * kept / drafted if drafted else 0, same, len(qs)))
sys.exit(0 if same == len(qs) else 1)
PYEOF
