#!/usr/bin/env bash
# make bench: builds benchmark models (random weights, real shapes) once,
# measures memory bandwidth, hoheit's prefill/decode speed at 1 and 2
# threads, resident memory after loading (mmap vs read), and writes
# docs/BENCHMARKS.md. Models live in bench/models/ (git-ignored, ~5 GiB).
#
#   REPS=3 BENCH_THREADS=1,2 BENCH_MODELS="tinyllama-q4_0 ..." bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HOHEIT=${HOHEIT:-build/hoheit}
MD=bench/models
REPS=${REPS:-3}
THREADS=${BENCH_THREADS:-1,2}
PY=/usr/bin/python3
OUT=docs/BENCHMARKS.md
mkdir -p "$MD" build

# --- models ---------------------------------------------------------------
if [ ! -f $MD/tinyllama-f16.gguf ]; then
  $PY bench/mkmodel.py --arch llama --out $MD/tinyllama-f16.gguf --n-vocab 32000 --n-embd 2048 --n-ff 5632 \
      --n-head 32 --n-head-kv 4 --n-layer 22 --donor ../shared/testdata/vocab/ggml-vocab-llama-spm.gguf
fi
if [ ! -f $MD/qwen2-0.5b-f16.gguf ]; then
  $PY bench/mkmodel.py --arch qwen2 --out $MD/qwen2-0.5b-f16.gguf --n-vocab 151936 --n-embd 896 --n-ff 4864 \
      --n-head 14 --n-head-kv 2 --n-layer 24 --tied
fi
# Qwen3-30B-A3B shape (2048 wide, 32/4 heads of 128, 128 experts of 768,
# 8 used, vocabulary 151936) with 2 of its 48 layers: per-layer work real.
if [ ! -f $MD/qwen3moe-a3b-l2-f16.gguf ]; then
  $PY bench/mkmodel.py --arch qwen3moe --out $MD/qwen3moe-a3b-l2-f16.gguf --n-vocab 151936 --n-embd 2048 \
      --n-ff 6144 --n-head 32 --n-head-kv 4 --head-dim 128 --n-layer 2 --n-expert 128 --n-expert-used 8 \
      --n-ff-exp 768 --ctx 40960
fi
f=$MD/qwen3moe-a3b-l2-q4_k_m.gguf
[ -f "$f" ] || "$HOHEIT" quantize $MD/qwen3moe-a3b-l2-f16.gguf "$f" q4_k_m
for base in tinyllama qwen2-0.5b; do
  for t in q4_0 q4_k_m q8_0; do
    f=$MD/$base-$t.gguf
    [ -f "$f" ] || "$HOHEIT" quantize $MD/$base-f16.gguf "$f" $t
  done
done
# With a llama.cpp peer (LLAMA_CPP_BIN), bench/compare.sh measures the
# target files side by side; the hoheit-only table then covers the rest.
if [ -n "${LLAMA_CPP_BIN:-}" ]; then
  MODELS=${BENCH_MODELS:-"qwen2-0.5b-q4_0 qwen2-0.5b-q8_0"}
else
  MODELS=${BENCH_MODELS:-"tinyllama-q4_0 tinyllama-q4_k_m tinyllama-q8_0 qwen2-0.5b-q4_0 qwen2-0.5b-q4_k_m qwen2-0.5b-q8_0 qwen3moe-a3b-l2-q4_k_m"}
fi

# --- bandwidth ceiling -----------------------------------------------------
cc -O3 -march=native -pthread bench/stream.c -o build/stream
STREAM_JSON=$(build/stream 2)

# --- speed -------------------------------------------------------------------
RESULTS=build/bench-results.jsonl
: > $RESULTS
for m in $MODELS; do
  echo "bench: $m" >&2
  "$HOHEIT" bench -m $MD/$m.gguf -p 512 -n 128 -t "$THREADS" -r "$REPS" --json >> $RESULTS
done

# --- resident memory after loading -------------------------------------------
RSS_MODEL=$MD/tinyllama-q4_0.gguf
rss() {  # prints max RSS in KiB of: hoheit run on one token
  /usr/bin/time -v "$HOHEIT" run -m $RSS_MODEL --tokens 1 -n 1 --temp 0 -c 512 "$@" 2>&1 >/dev/null \
    | awk -F': ' '/Maximum resident set size/ {print $2}'
}
RSS_MMAP=$(rss --mmap)
RSS_READ=$(rss --no-mmap)

$PY - "$RESULTS" "$STREAM_JSON" "$RSS_MODEL" "$RSS_MMAP" "$RSS_READ" "$REPS" "$THREADS" > $OUT <<'PYEOF'
import json, os, platform, subprocess, sys
res_path, stream_json, rss_model, rss_mmap, rss_read, reps, threads = sys.argv[1:8]
rows = [json.loads(l) for l in open(res_path) if l.strip()]
bw = {j["threads"]: j for j in (json.loads(l) for l in stream_json.splitlines())}
cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
p = print
p("# Benchmarks\n")
p("Written by `make bench` (bench/run.sh). Machine: %s, %d cores visible, %s. hoheit commit %s." %
  (cpu, os.cpu_count(), platform.platform(), commit))
p("Models: random weights with real shapes, made by `bench/mkmodel.py` (F16) and `hoheit quantize`. "
  "Weights read into memory (`--no-mmap` is the default of `hoheit bench`), F16 KV cache, %s repetitions after one warm-up; "
  "t/s = mean ± stddev. These machines are shared: compare ratios from one run, not absolute numbers across runs.\n" % reps)
p("Command: `hoheit bench -m MODEL -p 512 -n 128 -t %s -r %s --json`\n" % (threads, reps))
p("## Memory bandwidth (bench/stream.c)\n")
p("| threads | read GB/s | copy GB/s | triad GB/s |\n|---|---|---|---|")
for t, j in sorted(bw.items()):
    p("| %d | %.1f | %.1f | %.1f |" % (t, j["read_gbs"], j["copy_gbs"], j["triad_gbs"]))
p("\n## Prefill and decode\n")
p("Roofline: decode cannot beat read bandwidth ÷ weight bytes per token; `% roof` = achieved decode t/s ÷ that bound.\n")
p("| model | size MiB | ISA | threads | test | t/s | % roof | peak RSS MiB |\n|---|---|---|---|---|---|---|---|")
for r in rows:
    roof = ""
    if r["test"].startswith("tg") and r["threads"] in bw and r["weight_bytes"] > 0:
        bound = bw[r["threads"]]["read_gbs"] * 1e9 / r["weight_bytes"]
        roof = "%.0f %%" % (100.0 * r["avg_ts"] / bound)
    p("| %s | %.0f | %s | %d | %s | %.2f ± %.2f | %s | %.0f |" % (r["model"], r["model_size"] / 1048576.0, r["isa"],
      r["threads"], r["test"], r["avg_ts"], r["stddev_ts"], roof, r["peak_rss_kb"] / 1024.0))
size = os.path.getsize(rss_model) / 1048576.0
p("\n## Resident memory after loading\n")
p("`/usr/bin/time -v hoheit run -m %s --tokens 1 -n 1 -c 512 [--mmap|--no-mmap]` (file %.0f MiB):\n" % (os.path.basename(rss_model), size))
p("| load mode | max RSS MiB | RSS − file size MiB |\n|---|---|---|")
for name, v in (("mmap", rss_mmap), ("read (--no-mmap)", rss_read)):
    kb = float(v) if v else float("nan")
    p("| %s | %.0f | %.0f |" % (name, kb / 1024.0, kb / 1024.0 - size))
p("\nEither way the weights exist once in memory: RSS is the file plus the KV cache and scratch buffers, never a second copy.")
PYEOF

# --- side by side with llama.cpp (only when a peer build is given) ----------
if [ -n "${LLAMA_CPP_BIN:-}" ]; then
  { echo
    REPS=$REPS BENCH_THREADS=$THREADS bash bench/compare.sh
    echo; echo "Command: \`LLAMA_CPP_BIN=... REPS=$REPS bash bench/compare.sh\` (llama.cpp built outside the repository, CPU only, \`-lm none\`)."; } >> $OUT
fi
# --- server load (bench/load.sh appends its own section) --------------------
if [ -f bench/load.sh ]; then
  HOHEIT="$HOHEIT" bash bench/load.sh >> $OUT
fi
# --- weight-type matmul (bench/bench_matmul.c, owner: kernels) -------------
# One 2048 x 5632 matrix per type through hh_matmul, 1 thread: the IQ4
# types against Q4_K and Q4_0, with the load-time x4 repack and without.
MM_BUILD="$(dirname "$HOHEIT")"
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/bench_matmul.c "$MM_BUILD/libhoheit.a" \
   $(pkg-config --libs $(sed -n 's/^PKGS *:= *//p' Makefile)) -lstemmer -lm -pthread -o "$MM_BUILD/bench_matmul"
echo "bench: weight-type matmul (bench_matmul)" >&2
{ echo; echo "## Weight-type matmul (bench/bench_matmul.c)"; echo
  echo "Command: \`bench_matmul -r 5 q4_K iq4_nl iq4_xs q4_0\` (x4 repack where the type has it, as the loader does) and the same with \`-x 0\` (every type on its stored rows). Decode = one token (weights streamed once), prefill = 64 tokens in one call."; echo
  "$MM_BUILD/bench_matmul" -r 5 q4_K iq4_nl iq4_xs q4_0; echo
  "$MM_BUILD/bench_matmul" -r 5 -x 0 q4_K iq4_nl iq4_xs q4_0 | tail -4; } >> $OUT
# --- end weight-type matmul ---------------------------------------------------
# --- tokenizer throughput: bench/tok.sh appends its own section ------------
BUILD="$(dirname "$HOHEIT")" bash bench/tok.sh >> $OUT
# --- end tokenizer throughput -----------------------------------------------
# --- retrieval latency (bench/bench_kb.c, owner: kb vindex) -----------------
# Dense vector index at 100k chunks x 384 dims: build time, exact vs HNSW
# p50/p95, recall@10, 50 % filter; then the whole retrieval (hh_kb_retrieve:
# FTS5 BM25 with the access join + dense + RRF) over a 100k-chunk store of
# sentences sampled from build/kb-corpus (built below if missing; else
# /usr/share/common-licenses); appends "## Retrieval latency".
bash tests/kb/build_corpus.sh build/kb-corpus >&2 || echo "bench: no Debian corpus; sampling license texts" >&2
KB_BUILD="$(dirname "$HOHEIT")"
KB_PKGS=$(sed -n 's/^PKGS *:= *//p' Makefile)
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/bench_kb.c "$KB_BUILD/libhoheit.a" \
   $(pkg-config --libs $KB_PKGS) -lstemmer -lm -pthread -o "$KB_BUILD/bench_kb"
echo "bench: retrieval latency (bench_kb, 100k x 384)" >&2
"$KB_BUILD/bench_kb" -n "${KB_CHUNKS:-100000}" -d 384 -t build/kb-corpus >> $OUT
# --- end retrieval latency ----------------------------------------------------
# --- retrieval quality (tests/kb/queries*.jsonl, owner: kb retrieve) -------
# Two labeled query sets: the 40 queries over the man-page corpus of
# tests/kb/retrieval_corpus.sh, and the 40 queries (20 en + 20 de) over the
# whole Debian corpus of tests/kb/build_corpus.sh (HOHEIT_KB_EVAL_FULL=1:
# every query, every document). recall@5 and MRR, printed by the tests.
KB_EVAL=$("$KB_BUILD/hoheit-tests" retrieve_eval_queries | sed -n 's/^ *retrieval eval //p')
KB_EVAL_DEB=$(HOHEIT_KB_EVAL_FULL=1 "$KB_BUILD/hoheit-tests" retrieve_eval_debian | sed -n 's/^ *retrieval eval debian //p')
{ echo; echo "## Retrieval quality"; echo
  echo "Two labeled query sets, each query with the document and a passage substring that answers it; a query counts for recall@5 when a chunk holding the passage, of the right document, is among the first 5; MRR over the first 10. Default chunking, BM25 through FTS5 with the access filter in the query."; echo
  echo "Debian corpus (\`tests/kb/queries_debian.jsonl\`, 20 English + 20 German questions over the Debian Reference HTML chapters, man pages as text and Markdown, and their groff PDF and pandoc DOCX/ODT renderings, against every document that \`tests/kb/build_corpus.sh\` builds; the same page in another format of the corpus counts as the right document):"; echo
  echo "    $KB_EVAL_DEB"; echo
  echo "Man-page set (\`tests/kb/queries.jsonl\`, 20 English + 20 German questions over 50 Debian manual pages (25 in English and German) rendered to text by \`tests/kb/retrieval_corpus.sh\`):"; echo
  echo "    $KB_EVAL"; echo
  echo "Dense and hybrid rows need a trained embedding model: the test data only has a random-weight bert (\`reference/bert-q8_0.gguf\`), whose vectors carry no meaning, so its numbers would say nothing. \`hh_kb_retrieve_mode\` (and \`/api/ask\` with \`\"retrieval\": \"dense\"\`) computes them when one is installed. The queries were written while reading the passages, so they share words with them: the BM25 numbers are an upper bound for real users' questions."; } >> $OUT
# --- end retrieval quality -----------------------------------------------------
# --- ingest throughput (tests/kb/build_corpus.sh, owner: kb ingest) --------
# The Debian-documentation corpus (HTML, man pages as text/Markdown/PDF,
# DOCX, ODT, e-mail; built once into build/kb-corpus), ingested into a fresh
# data directory without an embedding model: extraction in the sandbox,
# chunking, FTS5, one fsync'd transaction per document.
bash tests/kb/build_corpus.sh build/kb-corpus >&2
KB_ING=$(mktemp -d /tmp/hoheit-bench-ingest.XXXXXX)
"$HOHEIT" collections create corpus --departments Docs --create --data "$KB_ING" >/dev/null
echo "bench: ingest throughput (build/kb-corpus)" >&2
KB_ING_LINE=$("$HOHEIT" ingest build/kb-corpus --collection corpus --data "$KB_ING" --quiet 2>/dev/null | tail -1)
rm -rf "$KB_ING"
{ echo; echo "## Ingest throughput"; echo
  echo "\`hoheit ingest build/kb-corpus\` ($(find build/kb-corpus -type f ! -name .done | wc -l) files from \`tests/kb/build_corpus.sh\`: Debian Reference HTML en/de, man pages as text, Markdown, PDF (groff), DOCX and ODT (pandoc), e-mails with attachments; the \`small/\` copies count as unchanged), no embedding model, one sandboxed extraction process per file, synchronous=FULL:"; echo
  echo "    $KB_ING_LINE"; } >> $OUT
# --- end ingest throughput ----------------------------------------------------
# --- memory of a long context (bench/bench_swa.c, owner: model) -------------
# Gemma-3-shape model (Gemma 3 4B's attention: 8/4 heads of 256, window
# 1024, every 6th layer global; 6 layers, small n_embd): KV bytes and RSS
# growth after filling n_ctx positions, window cache on and off.
SWA_BUILD="$(dirname "$HOHEIT")"
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -Itests bench/bench_swa.c tests/synth_model.c "$SWA_BUILD/libhoheit.a" \
   $(pkg-config --libs $(sed -n 's/^PKGS *:= *//p' Makefile)) -lstemmer -lm -pthread -o "$SWA_BUILD/bench_swa"
echo "bench: long-context memory (bench_swa)" >&2
{ echo; echo "## Memory of a long context (Gemma-3 shape, bench/bench_swa.c)"; echo
  echo "Command: \`build/bench_swa -t 2 ${BENCH_SWA_CTX:-1024 4096 16384}\` (one process per row; RSS growth = resident memory after filling the context minus after loading the model; peak = VmHWM)."; echo
  "$SWA_BUILD/bench_swa" -t 2 ${BENCH_SWA_CTX:-1024 4096 16384}; } >> $OUT
# --- end memory of a long context ---------------------------------------------
echo "bench: wrote $OUT" >&2
