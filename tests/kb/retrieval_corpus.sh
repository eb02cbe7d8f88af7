#!/bin/sh
# retrieval_corpus.sh OUTDIR - a small fixed retrieval corpus: 25 manual
# pages in English and German, each rendered to plain UTF-8 text as
# OUTDIR/{en,de}/NAME.txt (50 files). tests/kb/queries.jsonl is labeled
# against these files. Used by the retrieval evaluation (tests/test_retrieve.c,
# bench/run.sh) when the full Debian-doc corpus is not built.
#
# Only pages of packages every Debian 12 has (essential: coreutils diffutils
# findutils grep gzip tar) or scripts/deps.sh installs (procps, manpages-de,
# groff-base to render), so the corpus is the same on every machine; a
# missing page stops it with the package that has it.
set -eu
out=${1:?usage: retrieval_corpus.sh OUTDIR}
# PAGE:PACKAGE (English page; the German one is always manpages-de's, but
# kill's, which procps ships in both languages).
pages="chmod:coreutils chown:coreutils cp:coreutils cut:coreutils date:coreutils dd:coreutils df:coreutils
diff:diffutils du:coreutils find:findutils grep:grep gzip:gzip head:coreutils kill:procps ln:coreutils
ls:coreutils mkdir:coreutils mv:coreutils rm:coreutils sort:coreutils tail:coreutils tar:tar
touch:coreutils uniq:coreutils wc:coreutils"
command -v groff >/dev/null || { echo "retrieval_corpus: groff missing (package groff-base; run scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$out/en" "$out/de"
n=0
for pp in $pages; do
    p=${pp%%:*}
    for l in en de; do
        if [ "$l" = en ]; then
            src=/usr/share/man/man1/$p.1.gz; pkg=${pp#*:}
        else
            src=/usr/share/man/de/man1/$p.1.gz; pkg=manpages-de; [ "$p" = kill ] && pkg=procps
        fi
        [ -f "$src" ] || { echo "retrieval_corpus: $src missing (package $pkg; run scripts/deps.sh)" >&2; exit 1; }
        # -k: the page's own encoding (preconv); long lines, no hyphenation,
        # no overstrike, so phrases stay on one line.
        zcat "$src" | groff -k -man -Tutf8 -rLL=250n -rHY=0 -P -cbou 2>/dev/null | tr -s ' ' > "$out/$l/$p.txt"
        [ -s "$out/$l/$p.txt" ] || { echo "retrieval_corpus: $src renders to nothing" >&2; exit 1; }
        n=$((n + 1))
    done
done
echo "$n pages in $out"
