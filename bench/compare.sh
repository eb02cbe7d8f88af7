#!/usr/bin/env bash
# bench/compare.sh - hoheit vs llama.cpp, side by side, on the same files.
#
#   LLAMA_CPP_BIN=/path/to/llama.cpp/build/bin bash bench/compare.sh
#
# For every model and thread count it runs llama.cpp's llama-bench and
# `hoheit bench` one after the other (alternating, so both see the same
# machine load), both on bench/models/<model>.gguf as made by
# `hoheit quantize` (so llama.cpp loading them also shows the files are
# standard GGUF), and prints a markdown table of t/s, the hoheit/llama.cpp
# ratios and peak RSS to stdout. Progress goes to stderr.
#
# Environment: LLAMA_CPP_BIN (required: directory holding llama-bench),
# COMPARE_DIR (bench/models),
# HOHEIT (default build/hoheit), COMPARE_MODELS (names without .gguf),
# REPS (3), BENCH_THREADS (1,2), PP (512), TG (128), ROUNDS (1: how many
# times each llama.cpp/hoheit pair is repeated; results are averaged).
# llama-bench runs with -lm none: weights read into memory, as `hoheit
# bench` does by default (mapped weights get evicted on shared machines).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMA_CPP_BIN:?set LLAMA_CPP_BIN to the directory holding llama-bench}"
LB="$LLAMA_CPP_BIN/llama-bench"
[ -x "$LB" ] || { echo "compare: $LB not found or not executable" >&2; exit 2; }
HOHEIT=${HOHEIT:-build/hoheit}
[ -x "$HOHEIT" ] || { echo "compare: $HOHEIT not found (make first)" >&2; exit 2; }
MD=${COMPARE_DIR:-bench/models}
MODELS=${COMPARE_MODELS:-"tinyllama-q4_0 tinyllama-q4_k_m tinyllama-q8_0 qwen2-0.5b-q4_k_m qwen3moe-a3b-l2-q4_k_m"}
REPS=${REPS:-3}
THREADS=${BENCH_THREADS:-1,2}
PP=${PP:-512}
TG=${TG:-128}
ROUNDS=${ROUNDS:-1}
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Memory-bandwidth ceiling (bench/stream.c) before and after the runs; the
# roofline of a decode result uses the best read bandwidth seen.
MAXT=$(echo "${THREADS//,/ }" | tr ' ' '\n' | sort -n | tail -n 1)
cc -O3 -march=native -pthread bench/stream.c -o "$TMP/stream"
"$TMP/stream" "$MAXT" > "$TMP/stream.jsonl"

# One JSON line per measurement: {"engine", "model", "threads", "test", "avg_ts", "stddev_ts", "rss_kb"}
# (hoheit's also carry "weight_bytes": bytes of weights read per decoded token)
OUT=$TMP/all.jsonl
: > "$OUT"
for m in $MODELS; do
  f=$MD/$m.gguf
  if [ ! -f "$f" ]; then echo "compare: $f missing (bash bench/run.sh makes it), skipped" >&2; continue; fi
  for r in $(seq "$ROUNDS"); do
    for t in ${THREADS//,/ }; do
      echo "compare: $m, $t thread(s), round $r: llama.cpp" >&2
      if /usr/bin/time -v -o "$TMP/lt" "$LB" -m "$f" -lm none -p "$PP" -n "$TG" -t "$t" -r "$REPS" -o json \
           > "$TMP/l.json" 2> "$TMP/l.err"; then
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/lt")
        $PY - "$TMP/l.json" "$m" "$rss" >> "$OUT" <<'PYEOF'
import json, sys
path, model, rss = sys.argv[1], sys.argv[2], int(sys.argv[3] or 0)
for j in json.load(open(path)):
    test = "pp%d" % j["n_prompt"] if j["n_prompt"] > 0 else "tg%d" % j["n_gen"]
    print(json.dumps({"engine": "llama.cpp", "model": model, "threads": j["n_threads"], "test": test,
                      "avg_ts": j["avg_ts"], "stddev_ts": j["stddev_ts"], "rss_kb": rss}))
PYEOF
      else
        echo "compare: llama-bench failed on $f ($t threads): $(tail -n 3 "$TMP/l.err" | tr '\n' ' ')" >&2
      fi
      echo "compare: $m, $t thread(s), round $r: hoheit" >&2
      if "$HOHEIT" bench -m "$f" -p "$PP" -n "$TG" -t "$t" -r "$REPS" --json > "$TMP/h.json" 2> "$TMP/h.err"; then
        $PY - "$TMP/h.json" "$m" >> "$OUT" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        j = json.loads(line)
        print(json.dumps({"engine": "hoheit", "model": sys.argv[2], "threads": j["threads"], "test": j["test"],
                          "avg_ts": j["avg_ts"], "stddev_ts": j["stddev_ts"], "rss_kb": j.get("peak_rss_kb", 0),
                          "weight_bytes": j.get("weight_bytes", 0)}))
PYEOF
      else
        echo "compare: hoheit bench failed on $f ($t threads): $(tail -n 3 "$TMP/h.err" | tr '\n' ' ')" >&2
      fi
    done
  done
done

"$TMP/stream" "$MAXT" >> "$TMP/stream.jsonl"

$PY - "$OUT" "$PP" "$TG" "$REPS" "$ROUNDS" "$TMP/stream.jsonl" <<'PYEOF'
import json, sys, statistics
path, pp, tg, reps, rounds, stream_path = sys.argv[1:7]
rows = [json.loads(l) for l in open(path) if l.strip()]
bw = {}
for l in open(stream_path):
    if l.strip():
        j = json.loads(l)
        bw[j["threads"]] = max(bw.get(j["threads"], 0.0), j["read_gbs"])
wbytes = {}
agg = {}
for r in rows:
    k = (r["model"], r["threads"], r["test"], r["engine"])
    a = agg.setdefault(k, {"ts": [], "sd": [], "rss": 0})
    a["ts"].append(r["avg_ts"]); a["sd"].append(r["stddev_ts"]); a["rss"] = max(a["rss"], r["rss_kb"])
    if r.get("weight_bytes"):
        wbytes[r["model"]] = r["weight_bytes"]
keys = sorted({(m, t, x) for (m, t, x, e) in agg}, key=lambda k: (k[0], k[1], not k[2].startswith("pp")))
p = print
p("## hoheit vs llama.cpp (bench/compare.sh)\n")
p("Same GGUF files (made by `hoheit quantize`), run alternately in one session: "
  "`llama-bench -lm none -p %s -n %s -t T -r %s -o json` and `hoheit bench -p %s -n %s -t T -r %s --json`, "
  "%s round(s). t/s = mean ± stddev; ratio = hoheit ÷ llama.cpp; RSS = peak resident MiB of each process.\n"
  % (pp, tg, reps, pp, tg, reps, rounds))
p("Roofline (decode rows): a decoded token reads every weight once, so t/s cannot exceed read bandwidth ÷ "
  "weight bytes per token (hoheit's count; both engines read the same file). `%% roof` = t/s ÷ that bound, with "
  "the best read bandwidth `bench/stream.c` measured before and after the runs: %s.\n"
  % ", ".join("%d thread(s) %.1f GB/s" % (t, g) for t, g in sorted(bw.items())))
p("| model | threads | test | llama.cpp t/s | hoheit t/s | ratio | llama.cpp % roof | hoheit % roof | llama.cpp RSS | hoheit RSS |")
p("|---|---|---|---|---|---|---|---|---|---|")
def roof(m, t, x, a):
    if not a or not x.startswith("tg") or not wbytes.get(m) or not bw.get(t):
        return ""
    return "%.0f %%" % (100.0 * statistics.mean(a["ts"]) * wbytes[m] / (bw[t] * 1e9))
def cell(a):
    return "%.2f ± %.2f" % (statistics.mean(a["ts"]), statistics.mean(a["sd"])) if a else "—"
for (m, t, x) in keys:
    l, h = agg.get((m, t, x, "llama.cpp")), agg.get((m, t, x, "hoheit"))
    ratio = "%.2f×" % (statistics.mean(h["ts"]) / statistics.mean(l["ts"])) if l and h else "—"
    rss = lambda a: "%.0f" % (a["rss"] / 1024.0) if a and a["rss"] else "—"
    p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (m, t, x, cell(l), cell(h), ratio, roof(m, t, x, l),
      roof(m, t, x, h), rss(l), rss(h)))
PYEOF
