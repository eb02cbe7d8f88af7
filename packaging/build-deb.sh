#!/usr/bin/env bash
# build-deb.sh - builds the hoheit Debian package without debhelper:
# `make install PREFIX=/usr` into a staging root, the binary stripped, the
# man page and changelog gzipped, DEBIAN/ with control (Depends from
# dpkg-shlibdeps over the staged binary, plus what runs beside it),
# conffiles and the maintainer scripts from packaging/debian/; then
# dpkg-deb --build --root-owner-group (no root needed).
#
#   bash packaging/build-deb.sh path/to/hoheit VERSION WORKDIR
#
# Prints the path of the .deb (WORKDIR/../hoheit_VERSION_ARCH.deb) last.
set -euo pipefail
umask 022   # the package's modes must not depend on the caller's umask
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(readlink -f "$1")
VERSION=$2
WORK=$3
BUILD=$(dirname "$BIN")

for tool in dpkg-deb dpkg-shlibdeps gzip strip; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool not found (scripts/deps.sh installs it)" >&2; exit 1; }
done
ARCH=$(dpkg --print-architecture)
DEB="$(dirname "$WORK")/hoheit_${VERSION}_${ARCH}.deb"

rm -rf "$WORK"
STAGE="$WORK/debian/hoheit"   # dpkg-shlibdeps expects debian/<package>/
mkdir -p "$STAGE"
# MAKEFLAGS from an outer make (jobserver) do not belong to this one.
env -u MAKEFLAGS -u MFLAGS make --no-print-directory -C "$ROOT" BUILD="$BUILD" install-prebuilt \
  PREFIX=/usr DESTDIR="$STAGE" >/dev/null

strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE/usr/bin/hoheit"
gzip -9n "$STAGE/usr/share/man/man1/hoheit.1"
DOC="$STAGE/usr/share/doc/hoheit"
cat >"$DOC/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hoheit
Comment: The hoheit repository states no license yet; until it does, all
 rights are reserved by the hoheit authors. The demo model below is MIT.

Files: *
Copyright: the hoheit authors
License: none-stated
 No license has been stated for hoheit yet.

Files: usr/share/hoheit/demo/stories260K.gguf
Copyright: Andrej Karpathy (tinyllamas, llama2.c)
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files, to deal in them
 without restriction, subject to the MIT license conditions.
EOF
printf 'hoheit (%s) unstable; urgency=medium\n\n  * Built from the repository by make deb.\n\n -- hoheit maintainers <hoheit@localhost>  %s\n' \
  "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(stat -c %Y "$ROOT/VERSION")}")" | gzip -9n >"$DOC/changelog.Debian.gz"
chmod 0644 "$DOC/copyright" "$DOC/changelog.Debian.gz"

# Depends: the shared libraries the binary links (versions from their
# shlibs files, libstemmer0d among them), adduser for postinst,
# poppler-utils for pdftotext (PDF ingestion runs it), and the word lists the
# knowledge base's text analysis reads (src/kb/analyze.h: German compounds,
# synonyms, German-English translations; each is optional at run time).
mkdir -p "$WORK/debian"
printf 'Source: hoheit\n\nPackage: hoheit\nArchitecture: any\n' >"$WORK/debian/control"
SHLIBS=$(cd "$WORK" && dpkg-shlibdeps -O -e debian/hoheit/usr/bin/hoheit 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$SHLIBS" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$STAGE/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<EOF
Package: hoheit
Version: $VERSION
Architecture: $ARCH
Maintainer: hoheit maintainers <hoheit@localhost>
Installed-Size: $SIZE
Depends: $SHLIBS, adduser, poppler-utils, wngerman, openthesaurus-de-text, trans-de-en
Section: net
Priority: optional
Description: sovereign corporate LLM server (OpenAI-compatible API)
 hoheit runs language models on a company's own hardware: its own GGUF
 inference engine, an OpenAI-compatible HTTP API, a knowledge base over the
 company's documents, and the records the EU AI Act and the GDPR ask for
 (audit hash chain, use-case register, approvals, data-subject rights).
 .
 The package installs the binary, a hardened systemd unit (hoheit.service,
 not started until enabled), /etc/hoheit/hoheit.conf, a logrotate snippet,
 the man page and a tiny demo model. Data lives in /var/lib/hoheit and is
 never deleted by a package operation, not even purge.
EOF
install -m 0644 "$ROOT/packaging/debian/conffiles" "$STAGE/DEBIAN/conffiles"
for s in postinst prerm postrm; do
  install -m 0755 "$ROOT/packaging/debian/$s" "$STAGE/DEBIAN/$s"
done

dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
