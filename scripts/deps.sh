#!/usr/bin/env bash
# Installs the Debian packages hoheit needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are not reinstalled. Run as root on
# Debian 12 (or with sudo available); `apt-get update` runs only when a
# package is missing.
set -euo pipefail

PKGS=(
  build-essential make gcc pkg-config       # build
  clang libclang-rt-14-dev                  # libFuzzer + sanitizer runtimes (make fuzz)
  libcjson-dev                              # JSON (tests, --json output, later the API)
  libpcre2-dev libutf8proc-dev              # tokenizers: pre-tokenizer regexes, NFD
  python3 python3-numpy                     # ../shared/tools/mkgguf.py (benchmark models)
  time                                      # /usr/bin/time -v for RSS in make bench
  man-db groff-base manpages-de             # German + English text for the tokenizer bench (bench/tok.sh)
  libmicrohttpd-dev                         # HTTP server (hoheit serve)
  curl openssl                              # TLS test: self-signed certificate, HTTPS client
  libsqlite3-dev                            # store: users, keys (later documents, audit)
  libsodium-dev                             # API key hashes, random keys
  wrk                                       # HTTP load benchmark
  debian-reference-en debian-reference-de   # KB test corpus: HTML (tests/kb/build_corpus.sh)
  groff pandoc                              # KB corpus: man pages to PDF (groff), DOCX/ODT (pandoc)
  poppler-utils libxml2-dev libzip-dev      # kb extract: pdftohtml/pdftotext, HTML/DOCX/ODT/XLSX/PPTX XML, zip
  libgmime-3.0-dev groff                    # kb extract: e-mail (MIME); groff for test PDFs
  dpkg-dev systemd adduser                  # make deb (dpkg-shlibdeps), systemd-analyze verify of the unit,
                                            # the package test's dpkg -i (postinst runs adduser)
  procps fakeroot                           # man pages the KB test corpora pin (kill.1; fakeroot.1)
  ca-certificates                           # npm ci over https (tests/node, tests/ui) on a fresh system
  libstemmer-dev                            # kb analyze: Snowball stemmers (German, English); -lstemmer, no .pc
  wngerman                                  # kb analyze: German word list for compound splitting (/usr/share/dict/ngerman)
  openthesaurus-de-text                     # kb analyze: German synonyms (/usr/share/openthesaurus-de/openthesaurus.txt)
  trans-de-en                               # kb analyze: German-English dictionary, cross-lingual search (/usr/share/trans/de-en)
  chromium                                  # the web UI's browser tests (tests/ui: puppeteer-core drives it)
  debootstrap                               # only for `make test-fresh` (tests/fresh/run.sh)
)
# The OpenAI npm client tests need node + npm; Debian's packages only when no
# node is installed (a NodeSource nodejs already ships npm and conflicts).
if ! command -v node >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
