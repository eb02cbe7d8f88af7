#!/usr/bin/env bash
# crash.sh - kill -9 during ingestion, again and again; after every kill the
# knowledge base must be consistent:
#   - PRAGMA integrity_check = ok, and the FTS5 index agrees with chunks;
#   - every document has all its chunks (ord 0..n-1, no gaps) and its
#     stored original (files/<sha[0:2]>/<sha>);
#   - every file the killed run reported as added/updated is in the
#     database under that id with exactly the reported number of chunks;
#   - no chunk, FTS row or vector without its document.
# Before every run a dozen files change, so replacements are killed too.
# A last uninterrupted run must then finish with no failure and one
# document per file.
#
# Usage: tests/kb/crash.sh HOHEIT_BIN [KILLS=50] [CORPUS=build/kb-corpus]
set -eu   # no pipefail: `ls | head` may end with SIGPIPE on purpose
BIN=${1:?usage: crash.sh HOHEIT_BIN [KILLS] [CORPUS]}
KILLS=${2:-50}
CORPUS=${3:-build/kb-corpus}
[ -d "$CORPUS/small" ] || bash "$(dirname "$0")/build_corpus.sh" "$CORPUS" >/dev/null
W=$(mktemp -d /tmp/hoheit-crash.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/docs"
cp "$CORPUS"/small/* "$W/docs/"
ls "$CORPUS/man-txt" | LC_ALL=C sort | head -n 40 | while read -r f; do cp "$CORPUS/man-txt/$f" "$W/docs/"; done
N_FILES=$(ls "$W/docs" | wc -l)
"$BIN" collections create crash --departments QA --create --data "$W/data" >/dev/null

check() {  # $1 = log of the killed run
python3 - "$W/data" "$1" <<'PY'
import os, sqlite3, sys
data, log = sys.argv[1], sys.argv[2]
db = sqlite3.connect(os.path.join(data, "hoheit.db"))
bad = []
ic = db.execute("PRAGMA integrity_check").fetchone()[0]
if ic != "ok": bad.append("integrity_check: " + ic)
try:
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
except sqlite3.DatabaseError as e:
    bad.append("fts integrity: %s" % e)
fk = db.execute("PRAGMA foreign_key_check").fetchall()
if fk: bad.append("foreign keys: %r" % fk[:3])
for did, sha, status in db.execute("SELECT id, sha256, status FROM documents"):
    ords = [r[0] for r in db.execute("SELECT ord FROM chunks WHERE document_id = ? ORDER BY ord", (did,))]
    if ords != list(range(len(ords))): bad.append("doc %d: chunk ords %r" % (did, ords[:10]))
    if status != "complete": bad.append("doc %d status %s" % (did, status))
    if not os.path.exists(os.path.join(data, "files", sha[:2], sha)): bad.append("doc %d: stored file missing" % did)
n_fts = db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
n_ch = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
if n_fts != n_ch: bad.append("fts rows %d != chunks %d" % (n_fts, n_ch))
reported = 0
for line in open(log, errors="replace"):
    p = line.split(None, 3)
    if len(p) == 4 and p[0] in ("added", "updated"):
        reported += 1
        n, did = int(p[1]), int(p[2])
        got = db.execute("SELECT COUNT(*) FROM chunks WHERE document_id = ?", (did,)).fetchone()[0]
        exists = db.execute("SELECT COUNT(*) FROM documents WHERE id = ?", (did,)).fetchone()[0]
        if not exists or got != n: bad.append("reported doc %d (%s): exists=%d chunks %d/%d" % (did, p[3].strip(), exists, got, n))
docs = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
if bad:
    print("FAIL: " + "; ".join(bad[:5])); sys.exit(1)
print("ok docs=%d chunks=%d reported=%d" % (docs, n_ch, reported))
PY
}

start=$(date +%s)
for i in $(seq 1 "$KILLS"); do
  # Change a dozen random text files: the run replaces them, so kills land
  # in replacements (delete + insert in one transaction), not only in skips.
  for f in $(ls "$W/docs" | grep -E '\.(txt|md)$' | shuf -n 12 --random-source=<(yes $i)); do
    echo "revision $i of $f" >> "$W/docs/$f"
  done
  "$BIN" ingest "$W/docs" --collection crash --data "$W/data" > "$W/log" 2>/dev/null &
  pid=$!
  # Random point: 20..700 ms into the run.
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.02 + (r % 680) / 1000 }')"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  if ! out=$(check "$W/log"); then
    echo "crash: after kill $i: $out" >&2
    exit 1
  fi
  [ $((i % 10)) = 0 ] && echo "crash: $i kills, $out"
done
"$BIN" ingest "$W/docs" --collection crash --data "$W/data" > "$W/log" 2>&1 || { echo "crash: final run failed:" >&2; tail -5 "$W/log" >&2; exit 1; }
out=$(check "$W/log") || { echo "crash: after the final run: $out" >&2; exit 1; }
docs=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(DISTINCT source_path) FROM documents').fetchone()[0])" "$W/data/hoheit.db")
orphans=$(find "$W/data/files" -type f | wc -l)
echo "crash: $KILLS kills in $(( $(date +%s) - start )) s; final: $(tail -1 "$W/log")"
echo "crash: $docs documents for $N_FILES files; stored files $orphans (unreferenced ones are removed by gc)"
[ "$docs" -le "$N_FILES" ] && [ "$docs" -ge $((N_FILES - 10)) ] || { echo "crash: expected about $N_FILES documents, got $docs" >&2; exit 1; }
echo "crash: ok"
