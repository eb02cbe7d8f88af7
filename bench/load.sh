#!/usr/bin/env bash
# bench/load.sh - load benchmark of `hoheit serve`: one streaming client vs
# 16 concurrent ones (continuous batching), a client that disconnects
# mid-stream (its slot freed, seen in /metrics), and 200 idle or slow
# connections next to a streaming client. Prints a markdown fragment for
# docs/BENCHMARKS.md on stdout (progress on stderr):
#
#   bash bench/load.sh >> docs/BENCHMARKS.md
#   HOHEIT=build/hoheit LOAD_THREADS=2 LOAD_REPS=2 LOAD_MODELS="tinyllama-q4_0 load-llama-q8_0" bash bench/load.sh
#
# LOAD_TESTS=burst runs only the 16 concurrent streams (a burst of arrivals:
# the time to first token of each and the aggregate tokens/s);
# LOAD_SERVE_ARGS adds options to `hoheit serve` (e.g. --prefill-budget 32).
# tinyllama-l4-q4_0 is TinyLlama-1.1B's shape with 4 of its 22 layers (181
# MiB), for a 2-core machine.
#
# Builds what it needs (hoheit if missing, bench/load_client.c, the models in
# bench/models/), runs each server over a temporary data dir on a free port,
# and stops it and removes the temp dir on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HOHEIT=${HOHEIT:-build/hoheit}
MD=bench/models
PY=/usr/bin/python3
THREADS=${LOAD_THREADS:-2}
REPS=${LOAD_REPS:-2}
SLOTS=16
CLIENTS=16
MAX_TOKENS=${LOAD_MAX_TOKENS:-64}
IDLE=200
CTX=512
MODELS=${LOAD_MODELS:-"tinyllama-q4_0 load-llama-q8_0"}
TESTS=${LOAD_TESTS:-all}
SERVE_ARGS=${LOAD_SERVE_ARGS:-}
DONOR=../shared/testdata/vocab/ggml-vocab-llama-spm.gguf

TMP=$(mktemp -d)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
cleanup() { stop_server; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -------------------------------------------------------------------
if [ ! -x "$HOHEIT" ]; then
  echo "load: building $HOHEIT" >&2
  make BUILD="$(dirname "$HOHEIT")" -j2 "$HOHEIT" >&2
fi
CLIENT=$TMP/load_client
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I/usr/include/cjson -pthread bench/load_client.c -o "$CLIENT" -lcjson

# --- models (random weights, real shapes and vocabulary) ----------------------
mkdir -p "$MD"
model_file() {  # prints the path of a model name, making it if needed
  local name=$1 f=$MD/$1.gguf
  if [ ! -f "$f" ]; then
    case $name in
      tinyllama-q4_0)
        [ -f $MD/tinyllama-f16.gguf ] || $PY bench/mkmodel.py --arch llama --out $MD/tinyllama-f16.gguf \
          --n-vocab 32000 --n-embd 2048 --n-ff 5632 --n-head 32 --n-head-kv 4 --n-layer 22 --donor $DONOR >&2
        "$HOHEIT" quantize $MD/tinyllama-f16.gguf "$f" q4_0 >/dev/null ;;
      tinyllama-l4-q4_0)
        [ -f $MD/tinyllama-l4-f16.gguf ] || $PY bench/mkmodel.py --arch llama --out $MD/tinyllama-l4-f16.gguf \
          --n-vocab 32000 --n-embd 2048 --n-ff 5632 --n-head 32 --n-head-kv 4 --n-layer 4 --donor $DONOR >&2
        "$HOHEIT" quantize $MD/tinyllama-l4-f16.gguf "$f" q4_0 >/dev/null ;;
      load-llama-q8_0)
        [ -f $MD/load-llama-f16.gguf ] || $PY bench/mkmodel.py --arch llama --out $MD/load-llama-f16.gguf \
          --n-vocab 32000 --n-embd 512 --n-ff 1536 --n-head 8 --n-head-kv 4 --n-layer 8 --donor $DONOR >&2
        "$HOHEIT" quantize $MD/load-llama-f16.gguf "$f" q8_0 >/dev/null ;;
      *) echo "load: unknown model $name (put it in $MD/)" >&2; return 1 ;;
    esac
  fi
  echo "$f"
}

# --- server ------------------------------------------------------------------
PORT= KEY=
start_server() {  # $1: model file
  local data=$TMP/data-$(basename "$1" .gguf)
  mkdir -p "$data/models"
  ln -sf "$(realpath "$1")" "$data/models/"
  # admin: the client also reads /metrics (admin and auditor keys only)
  KEY=$("$HOHEIT" keys create --user load --role admin --data "$data" 2>/dev/null)
  "$HOHEIT" serve --data "$data" --port 0 --slots $SLOTS --ctx $CTX -t "$THREADS" $SERVE_ARGS >"$TMP/out" 2>"$TMP/err" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$TMP/out")
    [ -n "$PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$TMP/err" >&2
  echo "load: server did not start" >&2
  return 1
}

RES=$TMP/results.jsonl
: > "$RES"
run() {  # $1: model name, $2: test name, rest: load_client mode args; appends one tagged JSON line
  local name=$1 test=$2
  shift 2
  local out
  out=$("$CLIENT" "$PORT" "$KEY" "$name" "$@") || echo "load: $name $test: a client failed (see above)" >&2
  [ -n "$out" ] || out='{}'
  echo "{\"model\":\"$name\",\"test\":\"$test\",\"r\":$out}" >> "$RES"
  echo "load: $name $test $out" >&2
}

for name in $MODELS; do
  f=$(model_file "$name")
  echo "load: $name" >&2
  start_server "$f"
  run "$name" warmup stream 1 4 >/dev/null   # loads the model
  if [ "$TESTS" = burst ]; then
    # A new opening per repetition: no prompt is in the prefix cache.
    for rep in $(seq 1 "$REPS"); do
      LOAD_SALT="Run $rep" run "$name" concurrent stream $CLIENTS "$MAX_TOKENS"
    done
    stop_server
    continue
  fi
  for _ in $(seq 1 "$REPS"); do
    run "$name" single stream 1 "$MAX_TOKENS"
    run "$name" concurrent stream $CLIENTS "$MAX_TOKENS"
  done
  run "$name" disconnect disconnect 3
  for _ in $(seq 1 "$REPS"); do
    run "$name" alone stream 1 "$MAX_TOKENS"
    run "$name" with_idle stream 1 "$MAX_TOKENS" $IDLE
  done
  stop_server
done

# --- report ------------------------------------------------------------------
$PY - "$RES" "$THREADS" "$REPS" "$SLOTS" "$CLIENTS" "$MAX_TOKENS" "$IDLE" "$CTX" "$MD" "$TESTS" "$SERVE_ARGS" <<'PYEOF'
import json, os, platform, statistics, subprocess, sys
res, threads, reps, slots, clients, max_tokens, idle, ctx, md, tests, serve_args = sys.argv[1:12]
rows = [json.loads(l) for l in open(res) if l.strip()]
cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load = os.getloadavg()[0]
models = []
for r in rows:
    if r["model"] not in models:
        models.append(r["model"])
def sel(m, t): return [r["r"] for r in rows if r["model"] == m and r["test"] == t and r["r"]]
def mean(xs, k): return statistics.mean(x[k] for x in xs) if xs else float("nan")
def runs(xs, k, f="%.1f"): return ", ".join(f % x[k] for x in xs)
p = print
if tests == "burst":
    isa = os.environ.get("HOHEIT_ISA", "best")
    p("\n### A burst of %s arrivals (bench/load.sh, LOAD_TESTS=burst)\n" % clients)
    p("Machine: %s, %d cores, ISA %s, load average %.1f at the end (shared machine). hoheit commit %s. "
      "Server: `hoheit serve --slots %s --ctx %s -t %s %s`; %s clients send at once (`POST /v1/completions`, "
      "stream, `max_tokens` %s, temperature 0, ~16-token prompts). %s repetitions, single runs in brackets.\n" %
      (cpu, os.cpu_count(), isa, load, commit, slots, ctx, threads, serve_args, clients, max_tokens, reps))
    p("| model | aggregate t/s | median TTFT s | mean TTFT s | max TTFT s | streams ok |")
    p("|---|---|---|---|---|---|")
    for m in models:
        c = sel(m, "concurrent")
        p("| %s | %.1f [%s] | %.2f [%s] | %.2f | %.2f | %d/%d |" %
          (m, mean(c, "tokens_per_s"), runs(c, "tokens_per_s"), mean(c, "ttft_median_s"),
           runs(c, "ttft_median_s", "%.2f"), mean(c, "ttft_mean_s"), mean(c, "ttft_max_s"),
           sum(x["ok"] for x in c), sum(x["clients"] for x in c)))
    sys.exit(0)
p("\n## Serving under load (bench/load.sh)\n")
p("Machine: %s, %d cores visible, %s, load average %.1f at the end (shared machine). hoheit commit %s." %
  (cpu, os.cpu_count(), platform.platform(), load, commit))
p("Server: `hoheit serve --slots %s --ctx %s -t %s` over a fresh data dir; driver: `bench/load_client.c` "
  "(plain sockets, one thread per client). Each stream: `POST /v1/completions`, `stream: true`, "
  "`stream_options.include_usage`, `max_tokens` %s, temperature 0, a distinct prompt per client (~16 tokens); "
  "tokens = `usage.completion_tokens` of the stream, t/s = tokens ÷ wall time from the first request to the "
  "last `[DONE]` (prefill included). %s repetitions; the mean is shown, single runs in brackets.\n" %
  (slots, ctx, threads, max_tokens, reps))
p("Models: random weights with real shapes and the Llama SPM vocabulary (`bench/mkmodel.py`, `hoheit quantize`), "
  "files in `%s/`.\n" % md)
p("| model | MiB | 1 stream t/s | %s streams t/s | ratio | streams ok | mean / max TTFT s (%s) | slowest client t/s |" % (clients, clients))
p("|---|---|---|---|---|---|---|---|")
for m in models:
    s, c = sel(m, "single"), sel(m, "concurrent")
    size = os.path.getsize(os.path.join(md, m + ".gguf")) / 1048576.0
    a, b = mean(s, "tokens_per_s"), mean(c, "tokens_per_s")
    ok = "%d/%d" % (sum(x["ok"] for x in c), sum(x["clients"] for x in c))
    p("| %s | %.0f | %.1f [%s] | %.1f [%s] | **%.1f×** | %s | %.2f / %.2f | %.1f |" %
      (m, size, a, runs(s, "tokens_per_s"), b, runs(c, "tokens_per_s"), b / a if a else float("nan"), ok,
       mean(c, "ttft_mean_s"), mean(c, "ttft_max_s"), mean(c, "client_tokens_per_s_min")))
l3 = "unknown"
try:
    l3 = open("/sys/devices/system/cpu/cpu0/cache/index3/size").read().strip()
except OSError:
    pass
p("\nL3 cache: %s. Batching pays where one decode step is bound by reading the weights from memory: a model "
  "larger than the cache (tinyllama-q4_0) streams its weights once per step for all %s sequences. A model that "
  "fits in the cache (load-llama-q8_0, 59 MiB) decodes compute-bound already at one sequence, and 16 "
  "sequences cost ~16× the multiply-adds; on a quiet machine its ratio is what the "
  "batched kernels gain over the one-token path (`hoheit bench` pp16 vs tg; ~1× measured), on a busy one it is "
  "larger because every step waits for a core once for 16 tokens." % (l3, clients))
p("\n`streams ok`: the stream ended with a `finish_reason` chunk and `data: [DONE]`, no error event, tokens > 0 "
  "(every stream ran to `max_tokens`: finish `%s`)." %
  ", ".join(sorted({x.get("finish", "?") for m in models for x in sel(m, "concurrent")})))
p("\n### A client that disconnects mid-stream\n")
p("The client reads 3 content chunks of a long generation, reads `/metrics`, closes its socket, then polls "
  "`/metrics` every 10 ms until the slot is free.\n")
p("| model | metrics while streaming | metrics after the disconnect | slot free after |\n|---|---|---|---|")
for m in models:
    for d in sel(m, "disconnect"):
        p("| %s | `%s` | `%s` | %.0f ms |" % (m, d["before"].replace("\n", "`<br>`"), d["after"].replace("\n", "`<br>`"),
                                          d["freed_after_s"] * 1000))
p("\n### %s idle or slow connections next to a streaming client\n" % idle)
p("Half of the connections send nothing, half send a partial request header one byte per 200 ms; all stay open "
  "while one client streams %s tokens (the server runs a thread per connection).\n" % max_tokens)
p("| model | alone t/s | with %s idle t/s | ratio | TTFT alone / with idle s | longest chunk gap alone / with idle s | idle conns still open |" % idle)
p("|---|---|---|---|---|---|---|")
for m in models:
    a, w = sel(m, "alone"), sel(m, "with_idle")
    ta, tw = mean(a, "tokens_per_s"), mean(w, "tokens_per_s")
    p("| %s | %.1f [%s] | %.1f [%s] | %.2f | %.3f / %.3f | %.3f / %.3f | %s |" %
      (m, ta, runs(a, "tokens_per_s"), tw, runs(w, "tokens_per_s"), tw / ta if ta else float("nan"),
       mean(a, "ttft_mean_s"), mean(w, "ttft_mean_s"), max(x["max_gap_s"] for x in a), max(x["max_gap_s"] for x in w),
       "/".join(str(x["idle_open_at_end"]) for x in w)))
PYEOF
