#!/usr/bin/env bash
# make_docx.sh - renders the Markdown sources in tests/kb/de/src/ to DOCX in
# tests/kb/de/corpus/ with pandoc (the DOCX files are committed; rerun after
# editing a source). Usage: tests/kb/de/make_docx.sh
set -euo pipefail
d=$(dirname "$0")
command -v pandoc >/dev/null || { echo "make_docx: pandoc missing (scripts/deps.sh)" >&2; exit 1; }
for f in "$d"/src/*.md; do
  b=$(basename "$f" .md)
  pandoc -f markdown-smart -t docx -o "$d/corpus/$b.docx" "$f"
done
