#!/usr/bin/env bash
# Tokenizer throughput (bench/bench_tok.c) on real English and German text
# from this machine's Debian documentation; writes the markdown section
# "## Tokenizer throughput" to stdout (progress goes to stderr).
#
#   BUILD=build TOK_CORPUS_MB=3 TOK_REPS=3 bash bench/tok.sh >> docs/BENCHMARKS.md
#
# The corpus is built once into $BUILD/tok-corpus-{en,de}.txt (not committed):
#   en: /usr/share/common-licenses/*, then man pages of sections 1 and 8
#       rendered by man(1) at 80 columns, then Debian changelogs;
#   de: German man pages (manpages-de, see scripts/deps.sh) rendered the
#       same way, then /usr/share/vim tutor.de and other *.de texts.
# Files are taken in sorted order until TOK_CORPUS_MB megabytes each.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MB=${TOK_CORPUS_MB:-3}
REPS=${TOK_REPS:-3}
TESTDATA=${HOHEIT_TESTDATA:-../shared/testdata}
LIMIT=$((MB * 1000000))
EN=$BUILD/tok-corpus-en.txt
DE=$BUILD/tok-corpus-de.txt
mkdir -p "$BUILD"

render() {  # render man page files (args) as UTF-8 plain text
  for f in "$@"; do LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -P cat -l "$f" 2>/dev/null || true; done
}

# append_until OUT CMD FILES...: appends CMD's output for each file (in
# batches of 16) until OUT holds LIMIT bytes, then truncates it there at a
# line end.
append_until() {
  local out=$1 cmd=$2; shift 2
  local batch=()
  for f in "$@"; do
    batch+=("$f")
    if [ ${#batch[@]} -ge 16 ]; then
      $cmd "${batch[@]}" >> "$out"; batch=()
      [ "$(stat -c %s "$out")" -ge "$LIMIT" ] && break
    fi
  done
  [ ${#batch[@]} -gt 0 ] && [ "$(stat -c %s "$out")" -lt "$LIMIT" ] && $cmd "${batch[@]}" >> "$out"
  return 0
}
zc() { zcat -f "$@" 2>/dev/null || true; }
trim() {  # cut to LIMIT bytes at the last newline before it
  head -c "$LIMIT" "$1" | sed '$d' > "$1.tmp" && mv "$1.tmp" "$1"
}

if [ ! -s "$EN" ] || [ "$(stat -c %s "$EN")" -lt $((LIMIT * 9 / 10)) ]; then
  echo "tok bench: building $EN" >&2
  : > "$EN.part"
  append_until "$EN.part" zc $(ls /usr/share/common-licenses/* 2>/dev/null | sort)
  append_until "$EN.part" render $(find /usr/share/man/man1 /usr/share/man/man8 -type f -name '*.gz' 2>/dev/null | sort | head -400)
  append_until "$EN.part" zc $(find /usr/share/doc -name 'changelog.Debian.gz' 2>/dev/null | sort)
  trim "$EN.part"; mv "$EN.part" "$EN"
fi
if [ ! -s "$DE" ] || [ "$(stat -c %s "$DE")" -lt $((LIMIT * 9 / 10)) ]; then
  echo "tok bench: building $DE" >&2
  : > "$DE.part"
  append_until "$DE.part" render $(find /usr/share/man/de -type f -name '*.gz' 2>/dev/null | sort)
  append_until "$DE.part" zc $(find /usr/share/vim /usr/share/gnupg -name '*.de*' -type f 2>/dev/null | sort)
  trim "$DE.part"; mv "$DE.part" "$DE"
fi

cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/bench_tok.c "$BUILD/libhoheit.a" \
   $(pkg-config --libs libcjson libpcre2-8 libutf8proc) -lm -pthread -o "$BUILD/bench_tok"

en_mb=$(awk -v n="$(stat -c %s "$EN")" 'BEGIN { printf "%.2f", n / 1e6 }')
de_mb=$(awk -v n="$(stat -c %s "$DE")" 'BEGIN { printf "%.2f", n / 1e6 }')
echo
echo "## Tokenizer throughput"
echo
echo "Written by \`bench/tok.sh\` (\`bench/bench_tok.c\`), one thread. Text: real Debian documentation from this machine,"
echo "built at bench time: **en** $en_mb MB (common licenses, man pages of sections 1 and 8 rendered at 80 columns,"
echo "Debian changelogs), **de** $de_mb MB (German man pages from manpages-de and other packages, rendered the same way)."
echo "Each text is tokenized in chunks of at most 64 KiB cut at a line end, without BOS/EOS or special parsing;"
echo "best of $REPS passes. MB = 10^6 bytes of input text. \`llama3.2 vocab, qwen2 pre\` runs the qwen2 pre-tokenizer"
echo "over the Llama 3.2 vocabulary (no qwen2 vocabulary is shipped)."
echo
"$BUILD/bench_tok" -r "$REPS" "$TESTDATA" en="$EN" de="$DE"
