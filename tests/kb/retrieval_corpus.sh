#!/bin/sh
# retrieval_corpus.sh OUTDIR - a small fixed retrieval corpus from the manual
# pages installed on Debian (English: man-db / coreutils & co., German:
# manpages-de): each page rendered to plain UTF-8 text as OUTDIR/{en,de}/NAME.txt.
# tests/kb/queries.jsonl is labeled against these files. Used by the
# retrieval evaluation (tests/test_retrieve.c, bench/run.sh) when the full
# Debian-doc corpus is not built.
set -eu
out=${1:?usage: retrieval_corpus.sh OUTDIR}
pages="chmod chown cp cut date dd df diff du find grep gzip head kill ln ls mkdir mv rm sort ssh tail tar touch uniq wc"
mkdir -p "$out/en" "$out/de"
n=0
for p in $pages; do
    for l in en de; do
        if [ "$l" = en ]; then src=/usr/share/man/man1/$p.1.gz; else src=/usr/share/man/de/man1/$p.1.gz; fi
        [ -f "$src" ] || continue
        # -k: the page's own encoding (preconv); long lines, no hyphenation,
        # no overstrike, so phrases stay on one line.
        zcat "$src" | groff -k -man -Tutf8 -rLL=250n -rHY=0 -P -cbou 2>/dev/null | tr -s ' ' > "$out/$l/$p.txt"
        n=$((n + 1))
    done
done
echo "$n pages in $out"
