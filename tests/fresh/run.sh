#!/usr/bin/env bash
# tests/fresh/run.sh - the README's two commands on a fresh Debian 12.
#
# Builds a minimal Debian 12 (bookworm) root file system with debootstrap
# (--variant=minbase: no compiler, no make, none of hoheit's packages),
# copies a clean clone of this repository's HEAD (not the work tree) and
# ../shared beside it (HOHEIT_FRESH_SHARED: another directory) into it, and inside, as root, does what the README
# tells an administrator on a fresh server:
#
#     apt-get install make         (a Debian 12 server install has no make)
#     make all                     (must stop, naming the missing packages)
#     make serve                   (background; until /health answers)
#     make test
#
# apt inside uses the Debian mirror this machine uses (its apt sources), npm
# the registry `npm config get registry` names here. The bootstrapped base is
# cached as a tarball between runs:
#     ${HOHEIT_FRESH_CACHE:-${XDG_CACHE_HOME:-~/.cache}/hoheit/fresh}/bookworm-minbase.tar.gz
# (delete it, or HOHEIT_FRESH_REBUILD=1, for a new one), and apt's downloaded
# .deb files in apt-archives/ beside it (installed anew in every run). Everything goes to a
# log file (HOHEIT_FRESH_LOG, default in the cache directory); on failure its
# tail is printed. Needs root (chroot, mount) and debootstrap (scripts/deps.sh).
#
#   sudo bash tests/fresh/run.sh            (or: make test-fresh)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
SHARED=$(cd "${HOHEIT_FRESH_SHARED:-$REPO/../shared}" 2>/dev/null && pwd) ||
  { echo "fresh: no ${HOHEIT_FRESH_SHARED:-../shared beside $REPO}" >&2; exit 1; }
CACHE=${HOHEIT_FRESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hoheit/fresh}
BASE=$CACHE/bookworm-minbase.tar.gz
LOG=${HOHEIT_FRESH_LOG:-$CACHE/fresh.log}
HEALTH_TIMEOUT=${HOHEIT_FRESH_HEALTH_TIMEOUT:-3600}   # deps + build inside `make serve`

[ "$(id -u)" -eq 0 ] || { echo "fresh: needs root (chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh: debootstrap missing: run scripts/deps.sh" >&2; exit 1; }
mkdir -p "$CACHE"
: >"$LOG"

# The first Debian mirror of this machine's apt sources (deb822 or one-line
# format), and its security mirror; deb.debian.org when none is found.
apt_uri() {   # $1: suite pattern (bookworm or bookworm-security)
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources)
        awk -v want="$1" '
          /^[[:space:]]*$/ { if (uri != "" && suite ~ ("(^| )" want "( |$)")) { print uri; exit } uri = ""; suite = ""; next }
          /^URIs:/ { uri = $2 } /^Suites:/ { $1 = ""; suite = $0 " " }
          END { if (uri != "" && suite ~ ("(^| )" want "( |$)")) print uri }' "$f" ;;
      *)
        awk -v want="$1" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == want) { print $i; exit } break } }' "$f" ;;
    esac
  done | head -n 1
}
MIRROR=$(apt_uri bookworm); MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(apt_uri bookworm-security); SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
NPM_REGISTRY=$(npm config get registry 2>/dev/null || true); NPM_REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org/}

WORK=$(mktemp -d "$CACHE/run.XXXXXX")
ROOT=$WORK/root
MOUNTS=()
cleanup() {
  local rc=$? i
  # A server left behind by a failed run would keep /proc busy.
  if [ -d "$ROOT/proc" ]; then
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
  fi
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  if ! grep -q " $WORK/" /proc/mounts; then rm -rf "$WORK"; fi
  if [ $rc -ne 0 ]; then
    echo "fresh: FAILED (exit $rc); last lines of $LOG:" >&2
    tail -n 60 "$LOG" >&2
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "fresh: $*" | tee -a "$LOG"; }
START=$(date +%s)

if [ ! -s "$BASE" ] || [ -n "${HOHEIT_FRESH_REBUILD:-}" ]; then
  say "debootstrap --variant=minbase bookworm from $MIRROR (cached as $BASE)"
  mkdir -p "$WORK/base"
  debootstrap --variant=minbase bookworm "$WORK/base" "$MIRROR" >>"$LOG" 2>&1
  rm -rf "$WORK/base/var/cache/apt/archives/"*.deb
  tar -C "$WORK/base" -czf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
  rm -rf "$WORK/base"
fi
say "unpacking $BASE"
mkdir -p "$ROOT"
tar -C "$ROOT" -xzf "$BASE"

cat >"$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
SRC
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf 'registry=%s\n' "$NPM_REGISTRY" >"$ROOT/root/.npmrc"
# This machine's own CAs (a TLS-inspecting proxy's, say): an admin behind
# one adds it the same way; the ca-certificates package that deps.sh
# installs takes them into /etc/ssl/certs. Node reads that bundle through
# NODE_EXTRA_CA_CERTS when this machine sets it.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
fi

COMMIT=$(git -C "$REPO" rev-parse HEAD)
say "clone of $COMMIT and $SHARED into /srv"
git clone --quiet --no-checkout "$REPO" "$ROOT/srv/hoheit" >>"$LOG" 2>&1
git -C "$ROOT/srv/hoheit" checkout --quiet --detach "$COMMIT" >>"$LOG" 2>&1
cp -a "$SHARED" "$ROOT/srv/shared"

# apt's download cache survives between runs (the packages are the same;
# what is installed is not: every run starts from the bare base).
mkdir -p "$CACHE/apt-archives/partial"
for m in proc sys dev dev/pts var/cache/apt/archives; do
  mkdir -p "$ROOT/$m"
  case $m in
    proc) mount -t proc proc "$ROOT/proc" ;;
    sys) mount -t sysfs sysfs "$ROOT/sys" ;;
    dev) mount --bind /dev "$ROOT/dev" ;;
    dev/pts) mount -t devpts devpts "$ROOT/dev/pts" -o newinstance,ptmxmode=0666 ;;
    var/cache/apt/archives) mount --bind "$CACHE/apt-archives" "$ROOT/$m" ;;
  esac
  MOUNTS+=("$ROOT/$m")
done
mkdir -p "$ROOT/dev/shm" 2>/dev/null || true

# Inside: what the README says, as root, with a clean environment.
cat >"$ROOT/srv/fresh-inside.sh" <<'INSIDE'
set -euo pipefail
cd /srv/hoheit
step() { echo "fresh: $(date -u +%H:%M:%S) $*"; }
for c in make gcc cc pkg-config curl node; do
  if command -v $c >/dev/null; then echo "fresh: $c already present on the fresh system"; exit 1; fi
done
step "apt-get install make"
apt-get update -qq
apt-get install -y -qq --no-install-recommends make
step "make all before the packages (must stop and name them)"
if make all >/srv/all.log 2>&1; then echo "fresh: make all built without the packages?"; exit 1; fi
cat /srv/all.log
grep -q "pkg-config finds no .*make deps" /srv/all.log || { echo "fresh: make all did not say what is missing"; exit 1; }
step "make serve (background)"
setsid make serve >/srv/serve.log 2>&1 &
SERVE=$!
up=
for ((i = 0; i < HEALTH_TIMEOUT; i += 2)); do
  if ! kill -0 $SERVE 2>/dev/null; then break; fi
  if command -v curl >/dev/null && h=$(curl -fsS --max-time 5 http://127.0.0.1:8080/health 2>/dev/null); then
    up=1; break
  fi
  sleep 2
done
cat /srv/serve.log
if [ -z "$up" ]; then
  echo "fresh: make serve: /health did not answer"
  kill -TERM -- -$SERVE 2>/dev/null || true
  exit 1
fi
step "/health: $h"
kill -TERM -- -$SERVE
wait $SERVE || true
if curl -fsS --max-time 2 http://127.0.0.1:8080/health >/dev/null 2>&1; then
  echo "fresh: the server still answers after SIGTERM"; exit 1
fi
step "make test"
make test
step "done"
INSIDE

say "in the chroot: apt-get install make; make serve; make test (log: $LOG)"
# In the background and waited for, so that a TERM/INT to this script runs
# the cleanup at once (it kills whatever still runs inside).
chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive HOHEIT_NO_SKIP=1 HEALTH_TIMEOUT="$HEALTH_TIMEOUT" \
  ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt} \
  /bin/bash /srv/fresh-inside.sh >>"$LOG" 2>&1 &
wait $!
say "passed in $(( $(date +%s) - START )) s"
grep -E '^fresh: .*/health:|passed, [0-9]+ failed' "$LOG" || true
