#!/usr/bin/env bash
# test-package.sh - checks what `make install`, `make uninstall` and
# `make deb` produce, and the systemd unit:
#   - make install DESTDIR PREFIX=/usr and PREFIX=/usr/local: the exact file
#     list, the unit's ExecStart, an existing config kept, make uninstall
#   - systemd-analyze verify of the installed unit (pointed at the staged
#     binary and man page), systemd-analyze security --offline exposure
#   - the shipped config parses: the installed binary serves with it
#   - make deb: control fields, Depends, conffiles, file list, owners, modes,
#     a stripped binary; lintian when it is installed
#   - the package for real: dpkg -i / -r / -P in a throw-away overlay of /
#     (root + overlayfs; the host is not changed): user hoheit, data dir
#     0700, the service as that user with the default config, data kept
#     after remove AND purge
#
#   bash packaging/test-package.sh path/to/hoheit
#
# Ends with "package: N passed, N failed, N skipped"; exit 1 if any failed.
# Run by `make test-package` and by the test service_package_checks.
set -uo pipefail
umask 022
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/hoheit}")
BUILD=$(dirname "$BIN")
VERSION=$(cat "$ROOT/VERSION")
T=$(mktemp -d /tmp/hoheit-pkg.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

PASS=0 FAIL=0 SKIP=0
ok()   { echo "ok   $1"; PASS=$((PASS + 1)); }
bad()  { echo "FAIL $1"; FAIL=$((FAIL + 1)); }
skip() { echo "skip $1"; SKIP=$((SKIP + 1)); }
# check NAME CMD...: ok when CMD succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }

# make in the repository, with the build dir of the binary under test (its
# targets install-prebuilt/uninstall never build: the binary is used as it is)
mk() { env -u MAKEFLAGS -u MFLAGS make --no-print-directory -C "$ROOT" BUILD="$BUILD" "$@"; }

# Starts BIN serve ARGS... (stdout to $T/serve.out) and waits for its
# "listening PORT" line; stops it again. 0 when it listened.
serves() {
  : >"$T/serve.out"   # exists before the background job opens it
  "$@" >"$T/serve.out" 2>"$T/serve.err" &
  SERVER_PID=$!
  local port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$T/serve.out")
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=
  if [ -z "$port" ] || [ $rc -ne 0 ]; then
    sed 's/^/    /' "$T/serve.err"
    return 1
  fi
}

files_of() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort); }

# ---- make install, PREFIX=/usr ------------------------------------------------
D="$T/inst"
if mk install-prebuilt PREFIX=/usr DESTDIR="$D" >"$T/install.log" 2>&1; then ok "make install PREFIX=/usr DESTDIR"; else
  bad "make install PREFIX=/usr DESTDIR"; cat "$T/install.log"; fi
cat >"$T/expect-usr" <<'EOF'
etc/hoheit/hoheit.conf
etc/logrotate.d/hoheit
lib/systemd/system/hoheit.service
usr/bin/hoheit
usr/share/doc/hoheit/OPERATIONS.md
usr/share/doc/hoheit/README.md
usr/share/hoheit/demo/README.md
usr/share/hoheit/demo/stories260K.gguf
usr/share/man/man1/hoheit.1
EOF
files_of "$D" >"$T/got-usr"
check "install file list (PREFIX=/usr)" diff -u "$T/expect-usr" "$T/got-usr"
check "installed binary is executable and runs" sh -c "'$D/usr/bin/hoheit' --help >/dev/null"
check "unit ExecStart" grep -qx 'ExecStart=/usr/bin/hoheit serve --config /etc/hoheit/hoheit.conf' \
  "$D/lib/systemd/system/hoheit.service"
check "man page is roff that man renders" sh -c "MANWIDTH=80 man -l '$D/usr/share/man/man1/hoheit.1' 2>&1 | grep -q 'EXIT STATUS'"
for k in 'data = /var/lib/hoheit' 'host = 127.0.0.1' 'port = 8080'; do
  check "default config: $k" grep -qx "$k" "$D/etc/hoheit/hoheit.conf"
done

# every hardening line the unit promises
for l in User=hoheit ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes \
  'ReadWritePaths=/var/lib/hoheit /var/log/hoheit' ProtectKernelTunables=yes ProtectKernelModules=yes \
  ProtectKernelLogs=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' LockPersonality=yes \
  MemoryDenyWriteExecute=yes SystemCallArchitectures=native CapabilityBoundingSet= UMask=0077 \
  Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID'; do
  check "unit has $l" grep -qxF "$l" "$D/lib/systemd/system/hoheit.service"
done

# ---- systemd-analyze -----------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
  # verify needs ExecStart's binary and the Documentation= man page to exist
  mkdir -p "$T/unit"
  sed -e "s|^ExecStart=/usr/bin/hoheit |ExecStart=$D/usr/bin/hoheit |" \
      -e "s| /etc/hoheit/hoheit.conf| $D/etc/hoheit/hoheit.conf|" \
      "$D/lib/systemd/system/hoheit.service" >"$T/unit/hoheit.service"
  if MANPATH="$D/usr/share/man" systemd-analyze verify "$T/unit/hoheit.service" >"$T/verify.out" 2>&1 &&
     [ ! -s "$T/verify.out" ]; then ok "systemd-analyze verify (no output)"; else
    bad "systemd-analyze verify"; sed 's/^/    /' "$T/verify.out"; fi
  # a unit that is broken must fail the same check (else it proves nothing)
  sed 's/^ProtectSystem=strict/ProtectSystem=sideways/' "$T/unit/hoheit.service" >"$T/unit/broken.service"
  if MANPATH="$D/usr/share/man" systemd-analyze verify "$T/unit/broken.service" >"$T/verify2.out" 2>&1 &&
     [ ! -s "$T/verify2.out" ]; then bad "systemd-analyze verify refuses a broken unit"; else
    ok "systemd-analyze verify refuses a broken unit"; fi
  score=$(systemd-analyze security --offline=yes "$T/unit/hoheit.service" 2>/dev/null |
          sed -n 's/.*Overall exposure level for hoheit.service: \([0-9.]*\).*/\1/p')
  if [ -n "$score" ] && awk "BEGIN{exit !($score <= 2.0)}"; then ok "systemd-analyze security exposure $score <= 2.0"
  else bad "systemd-analyze security exposure '${score:-none}' <= 2.0"; fi
else
  skip "systemd-analyze not installed (scripts/deps.sh installs systemd)"
fi

# ---- the shipped config works with the installed binary -------------------------
# (data and port overridden on the command line: /var/lib/hoheit and 8080 are
# not ours here; that the command line wins is tested in test_service.c)
mkdir -p "$T/data/models"
check "installed binary serves with the shipped config" \
  serves "$D/usr/bin/hoheit" serve --config "$D/etc/hoheit/hoheit.conf" --data "$T/data" --port 0 --threads 1

# ---- reinstall keeps an edited config; uninstall -------------------------------
echo "port = 9999" >>"$D/etc/hoheit/hoheit.conf"
mk install-prebuilt PREFIX=/usr DESTDIR="$D" >"$T/install2.log" 2>&1
check "reinstall keeps the edited config" grep -qx 'port = 9999' "$D/etc/hoheit/hoheit.conf"
check "reinstall puts the new default beside it" cmp -s "$ROOT/packaging/hoheit.conf" "$D/etc/hoheit/hoheit.conf.default"
mk uninstall PREFIX=/usr DESTDIR="$D" >"$T/uninstall.log" 2>&1
check "uninstall leaves only the config" sh -c "[ \"\$(cd '$D' && find . -type f | sed 's|^./||')\" = etc/hoheit/hoheit.conf ]"

# ---- make install, PREFIX=/usr/local --------------------------------------------
L="$T/local"
mk install-prebuilt DESTDIR="$L" >"$T/install3.log" 2>&1
check "PREFIX=/usr/local: unit under the prefix" test -f "$L/usr/local/lib/systemd/system/hoheit.service"
check "PREFIX=/usr/local: config under the prefix" test -f "$L/usr/local/etc/hoheit/hoheit.conf"
check "PREFIX=/usr/local: ExecStart" grep -qx \
  'ExecStart=/usr/local/bin/hoheit serve --config /usr/local/etc/hoheit/hoheit.conf' \
  "$L/usr/local/lib/systemd/system/hoheit.service"

# ---- make deb ------------------------------------------------------------------
if ! command -v dpkg-deb >/dev/null || ! command -v dpkg-shlibdeps >/dev/null; then
  skip "make deb: dpkg-deb / dpkg-shlibdeps not installed (dpkg-dev)"
else
  # what `make deb` runs, with the binary under test and into $T (build/ untouched)
  DEB=$(bash "$ROOT/packaging/build-deb.sh" "$BIN" "$VERSION" "$T/deb" 2>"$T/deb.err" | tail -1)
  if [ -f "$DEB" ]; then ok "build-deb.sh -> $(basename "$DEB")"; else bad "build-deb.sh"; cat "$T/deb.err"; fi
  ARCH=$(dpkg --print-architecture)
  check "deb file name" test "$(basename "$DEB")" = "hoheit_${VERSION}_${ARCH}.deb"
  field() { dpkg-deb -f "$DEB" "$1"; }
  check "control Package" test "$(field Package)" = hoheit
  check "control Version = VERSION" test "$(field Version)" = "$VERSION"
  check "control Architecture" test "$(field Architecture)" = "$ARCH"
  deps=$(field Depends)
  for p in libc6 libcjson1 libpcre2-8-0 libutf8proc2 libmicrohttpd12 libsqlite3-0 libsodium23 libxml2 libzip4 \
    libgmime-3.0-0 libstemmer0d adduser poppler-utils wngerman openthesaurus-de-text trans-de-en; do
    check "Depends names $p" sh -c "echo '$deps' | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx -- '$p'"
  done
  dpkg-deb --ctrl-tarfile "$DEB" | tar -x -O ./conffiles >"$T/conffiles"
  check "conffiles" diff -u "$ROOT/packaging/debian/conffiles" "$T/conffiles"
  dpkg-deb -c "$DEB" >"$T/deb.list"
  awk '$1 !~ /^d/ {sub(/^\.\//, "", $6); print $6}' "$T/deb.list" | sort >"$T/got-deb"
  sed -e 's|^usr/share/man/man1/hoheit.1$|usr/share/man/man1/hoheit.1.gz|' "$T/expect-usr" |
    cat - <(printf 'usr/share/doc/hoheit/changelog.Debian.gz\nusr/share/doc/hoheit/copyright\n') | sort >"$T/expect-deb"
  check "deb file list" diff -u "$T/expect-deb" "$T/got-deb"
  check "deb: every file root/root" sh -c "! awk '\$2 != \"root/root\"' '$T/deb.list' | grep -q ."
  check "deb: binary 0755" grep -q '^-rwxr-xr-x root/root .* ./usr/bin/hoheit$' "$T/deb.list"
  check "deb: config 0644" grep -q '^-rw-r--r-- root/root .* ./etc/hoheit/hoheit.conf$' "$T/deb.list"
  for s in postinst prerm postrm; do
    check "maintainer script $s is valid sh" sh -n "$ROOT/packaging/debian/$s"
  done
  X="$T/x"
  dpkg-deb -x "$DEB" "$X"
  check "deb: binary stripped" sh -c "! readelf -S '$X/usr/bin/hoheit' | grep -q debug_info"
  check "deb: extracted binary runs" sh -c "'$X/usr/bin/hoheit' --help >/dev/null"
  if command -v lintian >/dev/null; then
    lintian --no-tag-display-limit "$DEB" >"$T/lintian.out" 2>&1
    if grep -q '^E:' "$T/lintian.out"; then bad "lintian: no errors"; grep '^E:' "$T/lintian.out"; else
      ok "lintian: no errors ($(grep -c '^W:' "$T/lintian.out") warnings)"; fi
  else
    skip "lintian not installed (not in scripts/deps.sh: heavy)"
  fi

  # ---- the package for real, in an overlay of / ---------------------------------
  if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
    skip "dpkg -i/-r/-P: needs root and mount namespaces"
  else
    mkdir -p "$T/ov/up" "$T/ov/work" "$T/ov/m"
    cp "$DEB" "$T/hoheit.deb"
    cat >"$T/inside.sh" <<'EOF'
#!/bin/sh
# runs chrooted in the overlay: prints one "ok NAME" / "FAIL NAME" per check
set -u
c() { n=$1; shift; if "$@" >/dev/null 2>&1; then echo "ok   $n"; else echo "FAIL $n"; fi; }
getent passwd hoheit >/dev/null && echo "FAIL no user hoheit before the install"
# man-db's trigger would rebuild the whole man database after each dpkg run,
# and dpkg's fsyncs are not needed in a throw-away overlay (10 s each)
rm -f /var/lib/man-db/auto-update
dpkg() { command dpkg --force-unsafe-io "$@"; }
c "dpkg -i" dpkg -i /tmp/pkgtest/hoheit.deb
c "user hoheit: system user, no login shell" sh -c 'getent passwd hoheit | grep -q ":/usr/sbin/nologin$" && [ "$(id -u hoheit)" -lt 1000 ]'
c "data dir 0700 hoheit:hoheit" sh -c '[ "$(stat -c %a:%U:%G /var/lib/hoheit)" = 700:hoheit:hoheit ]'
c "log dir 0750 hoheit:hoheit" sh -c '[ "$(stat -c %a:%U:%G /var/log/hoheit)" = 750:hoheit:hoheit ]'
c "dpkg -s: installed" sh -c 'dpkg -s hoheit | grep -q "^Status: install ok installed"'
c "man hoheit" sh -c 'man -w hoheit | grep -q /usr/share/man/man1/hoheit.1.gz'
c "models dir 0700 hoheit:hoheit" sh -c '[ "$(stat -c %a:%U:%G /var/lib/hoheit/models)" = 700:hoheit:hoheit ]'
# the service's command as the service's user, the port moved off 8080, with
# the demo model installed as README.md says
install -o hoheit -g hoheit -m 0600 /usr/share/hoheit/demo/stories260K.gguf /var/lib/hoheit/models/
runuser -u hoheit -- sh -c 'umask 077; exec /usr/bin/hoheit serve --config /etc/hoheit/hoheit.conf --port 0 --threads 1' \
  >/tmp/pkgtest/s.out 2>/tmp/pkgtest/s.err &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q '^listening ' /tmp/pkgtest/s.out; do sleep 0.1; i=$((i + 1)); done
c "hoheit serve as user hoheit with /etc/hoheit/hoheit.conf" grep -q '^listening ' /tmp/pkgtest/s.out
c "it found the demo model" grep -q 'model stories260K' /tmp/pkgtest/s.err
kill -TERM $pid; wait $pid
c "database made by the service user" sh -c '[ "$(stat -c %U /var/lib/hoheit/hoheit.db)" = hoheit ]'
echo "# edited" >>/etc/hoheit/hoheit.conf
c "dpkg -i again (upgrade path)" dpkg -i /tmp/pkgtest/hoheit.deb
c "edited conffile kept" grep -qx '# edited' /etc/hoheit/hoheit.conf
c "dpkg -r" dpkg -r hoheit
c "remove: binary gone" sh -c '! [ -e /usr/bin/hoheit ]'
c "remove: data kept" test -s /var/lib/hoheit/hoheit.db
c "remove: config kept" test -f /etc/hoheit/hoheit.conf
c "dpkg -P" dpkg -P hoheit
c "purge: config gone" sh -c '! [ -e /etc/hoheit ]'
c "purge: data kept" test -s /var/lib/hoheit/hoheit.db
c "purge: model kept" test -s /var/lib/hoheit/models/stories260K.gguf
c "purge: user kept (owns the data)" getent passwd hoheit
EOF
    mkdir -p "$T/ov/up/tmp/pkgtest"
    cp "$T/hoheit.deb" "$T/inside.sh" "$T/ov/up/tmp/pkgtest/"
    unshare -m sh -c "
      mount -t overlay overlay -o lowerdir=/,upperdir='$T/ov/up',workdir='$T/ov/work' '$T/ov/m' || exit 3
      mount -t proc proc '$T/ov/m/proc' && mount --rbind /dev '$T/ov/m/dev' || exit 3
      mount -t tmpfs tmpfs '$T/ov/m/run' || exit 3
      chroot '$T/ov/m' sh /tmp/pkgtest/inside.sh" >"$T/inside.out" 2>"$T/inside.err"
    rc=$?
    if [ $rc -eq 3 ]; then
      skip "dpkg -i/-r/-P: overlayfs mount refused here"
    else
      while read -r st name; do
        case $st in ok) ok "in overlay: $name" ;; *) bad "in overlay: $name" ;; esac
      done <"$T/inside.out"
      grep -q . "$T/inside.out" || { bad "in overlay: no output"; sed 's/^/    /' "$T/inside.err"; }
    fi
  fi
fi

echo "package: $PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" -eq 0 ]
