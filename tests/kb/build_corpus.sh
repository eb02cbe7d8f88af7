#!/usr/bin/env bash
# build_corpus.sh - builds the knowledge-base test corpus from Debian
# documentation packages (scripts/deps.sh installs them) into OUT
# (default build/kb-corpus). Cached: a finished corpus (OUT/.done) is kept.
# Only files of named packages: the same corpus on every Debian 12; a
# missing file stops the build with the package that has it.
#
#   html/      Debian Reference, English and German chapters (HTML;
#              debian-reference-en, debian-reference-de)
#   man-txt/   German + English man pages rendered to plain text (the pages
#              tests/kb/corpus_man.txt lists, with their packages)
#   man-md/    the same pages as Markdown (section headings -> ##)
#   pdf/       man pages typeset to PDF with groff -Tpdf
#   docx/ odt/ Markdown pages converted with pandoc
#   eml/       e-mails (text body + a Markdown attachment) built here
#   small/     a handful of each format for fast tests (crash test)
#
# Usage: tests/kb/build_corpus.sh [OUT]
set -euo pipefail
OUT=${1:-build/kb-corpus}
LIST=$(dirname "$0")/corpus_man.txt
if [ -f "$OUT/.done" ]; then
  echo "corpus: $OUT is ready ($(find "$OUT" -type f ! -name .done | wc -l) files)"
  exit 0
fi
for t in man groff pandoc python3; do
  command -v $t >/dev/null || { echo "corpus: missing $t (run scripts/deps.sh)" >&2; exit 1; }
done
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"/{html,man-txt,man-md,pdf,docx,odt,eml,small}
T=$OUT.tmp

# HTML: the Debian Reference in both languages.
html_from() {   # package, glob, number of files it has
  local n=0 f
  for f in $2; do [ -f "$f" ] && cp "$f" "$T/html/" && n=$((n + 1)); done
  [ $n -eq "$3" ] || { echo "corpus: $2: $n files, expected $3 (package $1; run scripts/deps.sh)" >&2; exit 1; }
}
html_from debian-reference-en '/usr/share/debian-reference/*.en.html' 15
html_from debian-reference-de '/usr/share/debian-reference/*.de.html' 15
html_from debian-reference-common /usr/share/debian-reference/index.html 1

# Man pages: the pinned list, every file checked before any is rendered.
pages=()
while read -r lang pkg page; do
  case "$lang" in ''|'#'*) continue ;; esac
  dir=/usr/share/man/man1; [ "$lang" = de ] && dir=/usr/share/man/de/man1
  [ -f "$dir/$page.1.gz" ] || { echo "corpus: $dir/$page.1.gz missing (package $pkg; run scripts/deps.sh)" >&2; exit 1; }
  pages+=("$lang:$dir/$page.1.gz")
done < "$LIST"
to_md() {  # man text -> Markdown: all-caps lines at column 0 become headings
  awk 'BEGIN{first=1} /^[A-ZÄÖÜ][A-ZÄÖÜ0-9 ,()-]+$/ { if (first) { print "# " $0; first=0 } else print "\n## " $0; print ""; next } { sub(/^       /, ""); print }'
}
i=0
for lf in "${pages[@]}"; do
  lang=${lf%%:*}; f=${lf#*:}
  {
    base=$(basename "$f" .gz); base=${base%.1}; name="$lang-$base"
    txt=$(MANWIDTH=100 LC_ALL=C.UTF-8 man -l "$f" 2>/dev/null | col -bx) || true
    [ -n "$txt" ] || { echo "corpus: $f renders to nothing (man -l)" >&2; exit 1; }
    printf '%s\n' "$txt" > "$T/man-txt/$name.txt"
    printf '%s\n' "$txt" | to_md > "$T/man-md/$name.md"
    i=$((i + 1))
    # every 5th page also as PDF, every 7th as DOCX, every 9th as ODT
    if [ $((i % 5)) = 0 ]; then zcat "$f" | groff -man -Tpdf -k 2>/dev/null > "$T/pdf/$name.pdf" || rm -f "$T/pdf/$name.pdf"; fi
    if [ $((i % 7)) = 0 ]; then pandoc -f markdown -t docx -o "$T/docx/$name.docx" "$T/man-md/$name.md" 2>/dev/null || true; fi
    if [ $((i % 9)) = 0 ]; then pandoc -f markdown -t odt -o "$T/odt/$name.odt" "$T/man-md/$name.md" 2>/dev/null || true; fi
  }
done

# E-mails: a text body and one Markdown attachment each.
python3 - "$T" <<'PY'
import sys, os, email.message, email.utils
t = sys.argv[1]
mds = sorted(os.listdir(os.path.join(t, "man-md")))[:12]
for k, md in enumerate(mds):
    m = email.message.EmailMessage()
    m["From"] = "docs@example.org"; m["To"] = "team@example.org"
    m["Subject"] = "Manual page %s" % md[:-3]
    m["Date"] = email.utils.format_datetime(email.utils.localtime().replace(year=2024, month=1, day=1 + k % 28))
    m.set_content("Hello,\n\nattached is the manual page %s for the knowledge base.\n\nRegards\n" % md[:-3])
    with open(os.path.join(t, "man-md", md), "rb") as f:
        m.add_attachment(f.read(), maintype="text", subtype="markdown", filename=md)
    with open(os.path.join(t, "eml", md[:-3] + ".eml"), "wb") as f:
        f.write(bytes(m))
PY

# The small subset: the first few of every format.
for d in html man-txt man-md pdf docx odt eml; do
  for f in $(ls "$T/$d" | LC_ALL=C sort | head -n 4); do cp "$T/$d/$f" "$T/small/$d-$f"; done
done
touch "$T/.done"
rm -rf "$OUT"
mv "$T" "$OUT"
echo "corpus: $OUT: $(find "$OUT" -type f ! -name .done ! -path '*/small/*' | wc -l) documents," \
     "$(du -sh "$OUT" | cut -f1); per format:"
for d in html man-txt man-md pdf docx odt eml small; do printf '  %-8s %4d\n' $d "$(ls "$OUT/$d" | wc -l)"; done
