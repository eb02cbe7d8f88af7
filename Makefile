# hoheit build. One binary for any x86-64: generic code is built for the
# baseline ISA; files named *_avx2.c / *_avx512.c get their ISA flags and are
# only called after run-time CPU detection (src/base/cpu.c). *_neon.c builds
# on aarch64 only.
#
#   make            optimized build -> build/hoheit
#   make test       deps, build, unit + reference tests, test-node, test-ui
#   make test-ui    the web UI in headless chromium (tests/ui/run.sh)
#   make sanitize   ASan + UBSan build of the tests, run
#   make fuzz       libFuzzer targets (clang), bounded run
#   make bench      benchmark models + hoheit bench -> docs/BENCHMARKS.md
#   make serve      deps, build, serve ./hoheit-data on 127.0.0.1:8080
#   make deps       only the Debian packages (scripts/deps.sh)
#   make install    PREFIX=/usr/local DESTDIR= : binary, man page, unit, config
#   make uninstall  removes what install put there (keeps config and data)
#   make deb        Debian package -> build/hoheit_VERSION_ARCH.deb
#   make test-package  checks install, uninstall, deb and the unit (packaging/test-package.sh)
#   make test-fresh the README's commands in a fresh Debian 12 chroot (root)
#
# BUILD=dir selects the build directory (parallel builds must not share one).

BUILD    ?= build
CC       ?= cc
ARCH     := $(shell uname -m)
OPT      ?= -O2
CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
INCS     := -Isrc
DEPFLAGS  = -MMD -MP
PKGS     := libcjson libpcre2-8 libutf8proc libmicrohttpd sqlite3 libsodium libxml-2.0 libzip gmime-3.0
# Evaluated when make starts: the targets that install packages first (test,
# serve, sanitize, fuzz, bench) run `deps` and then a new $(MAKE), which sees
# them. A build without them stops at `pkgcheck` with the list of what is missing.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PKG_MISSING := $(shell command -v pkg-config >/dev/null 2>&1 || echo pkg-config; \
                 for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || echo $$p; done)
CFLAGS   ?=
CFLAGS   += $(OPT) -g $(CSTD) $(WARN) $(INCS) $(PKG_CFLAGS) -pthread
LDLIBS   += $(PKG_LIBS) -lstemmer -lm -pthread   # libstemmer ships no .pc file
LDFLAGS  ?=

ifeq ($(ARCH),x86_64)
  CFLAGS += -march=x86-64 -mtune=generic
  FLAGS_AVX2   := -mavx2 -mfma -mf16c -mbmi2
  FLAGS_AVX512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c -mbmi2
  EXCLUDE := %_neon.c
else ifeq ($(ARCH),aarch64)
  EXCLUDE := %_avx2.c %_avx512.c
else
  EXCLUDE := %_avx2.c %_avx512.c %_neon.c
endif

# `hoheit --version` (src/cli/cmd_version.c): the release from VERSION, the
# git commit and the build flags, in a header rewritten only when they change.
VERSION_H := $(BUILD)/gen/hh_version.h
$(VERSION_H): FORCE_VERSION
	@mkdir -p $(dir $@)
	@sh scripts/version.sh $@ "$(CC)" $(OPT) $(filter -march=% -mtune=%,$(CFLAGS))
$(BUILD)/src/cli/cmd_version.o: $(VERSION_H)
$(BUILD)/src/cli/cmd_version.o: CFLAGS += -I$(BUILD)/gen
.PHONY: FORCE_VERSION
FORCE_VERSION:

# The web UI (web/) built into the binary: scripts/webgen.c writes every
# file as a byte array with its content type and ETag (src/http/web_assets.h);
# it runs at each make and rewrites the C file only when web/ changed.
WEB_FILES := $(shell find web -type f ! -name '.*' 2>/dev/null | sort)
WEBGEN    := $(BUILD)/gen/webgen
WEB_C     := $(BUILD)/gen/web_assets.c
WEB_O     := $(BUILD)/gen/web_assets.o
$(WEBGEN): scripts/webgen.c src/http/web_assets.h | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) -O1 $(CSTD) $(WARN) $(INCS) $(PKG_CFLAGS) $< -o $@ $(PKG_LIBS)
$(WEB_C): $(WEBGEN) FORCE_VERSION
	@$(WEBGEN) web $@ $(WEB_FILES)
$(WEB_O): $(WEB_C)
	$(CC) $(CFLAGS) -c $< -o $@

# The person-name lists (data/pii/*.txt) are embedded into pii_de_lex.o with
# .incbin (src/govern/pii_de_lex.c); the compiler's -MMD does not see them.
$(BUILD)/src/govern/pii_de_lex.o: $(wildcard data/pii/*.txt)

LIB_SRC  := $(filter-out $(EXCLUDE) src/cli/%,$(shell find src -name '*.c' | sort))
CLI_SRC  := $(filter-out $(EXCLUDE),$(wildcard src/cli/*.c))
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(WEB_O)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

BIN   := $(BUILD)/hoheit
TESTS := $(BUILD)/hoheit-tests
LIBA  := $(BUILD)/libhoheit.a

.PHONY: all test test-node test-ui test-crash test-fresh check sanitize fuzz fuzz-run bench deps clean serve pkgcheck install install-prebuilt uninstall deb test-package
all: $(BIN) $(TESTS)

deps:
	@bash scripts/deps.sh

# Every object waits for this check (order-only: it never forces a rebuild).
pkgcheck:
ifneq ($(strip $(PKG_MISSING)),)
	@echo "make: pkg-config finds no $(strip $(PKG_MISSING)): install the build packages first with 'make deps' (scripts/deps.sh, as root or with sudo)" >&2
	@exit 1
endif

$(BUILD)/%_avx2.o: %_avx2.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FLAGS_AVX2) -O3 $(DEPFLAGS) -c $< -o $@

$(BUILD)/%_avx512.o: %_avx512.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FLAGS_AVX512) -O3 $(DEPFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBA) $(LDLIBS)

$(TESTS): $(TEST_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(LIBA) $(LDLIBS)

# The test binary finds ../shared/testdata by default (HOHEIT_TESTDATA overrides)
# and the hoheit binary through HOHEIT_BIN for CLI tests.
test: deps
	@$(MAKE) --no-print-directory all
	HOHEIT_BIN=$(abspath $(BIN)) $(TESTS) $(T)
	@if [ -z "$(T)" ]; then $(MAKE) --no-print-directory test-node && $(MAKE) --no-print-directory test-ui; fi

# The official OpenAI npm client against a running `hoheit serve` (stories260K).
test-node: $(BIN)
	@bash tests/node/run.sh $(abspath $(BIN))

# The web UI in a headless chromium (puppeteer-core, axe-core) against a
# running `hoheit serve` (tests/ui/run.sh; docs/UI.md); the compliance
# screens (approvals, register, audit, GDPR, usage) in tests/ui/screens.sh;
# the admin screens and settings in tests/ui/admin.sh.
test-ui: $(BIN)
	@bash tests/ui/run.sh $(abspath $(BIN))
	@bash tests/ui/screens.sh $(abspath $(BIN))
	@bash tests/ui/conv.sh $(abspath $(BIN))
	@bash tests/ui/admin.sh $(abspath $(BIN))

# Knowledge base: kill -9 during `hoheit ingest`, 50 times, consistency
# checked after each (tests/kb/crash.sh; ~35 s plus a one-time corpus build).
CRASH_KILLS ?= 50
test-crash: $(BIN)
	bash tests/kb/crash.sh $(abspath $(BIN)) $(CRASH_KILLS) build/kb-corpus

check: test

sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all
	HOHEIT_BIN=$(abspath build-san/hoheit) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-san/hoheit-tests $(T)

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link" build-fuzz/libhoheit.a
	@set -e; for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  clang -O1 -g -fsanitize=address,undefined,fuzzer $(CSTD) $(INCS) $(PKG_CFLAGS) $$f build-fuzz/libhoheit.a $(LDLIBS) -o build-fuzz/$$n; \
	  mkdir -p build-fuzz/corpus-$$n; \
	  seeds=fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 build-fuzz/corpus-$$n $$seeds; \
	done

bench: deps
	@$(MAKE) --no-print-directory all
	bash bench/run.sh

# Serves ./hoheit-data on :8080; puts the tiny demo model there if none is present.
DATA ?= ./hoheit-data
serve: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(DATA)/models
	@ls $(DATA)/models/*.gguf >/dev/null 2>&1 || cp demo/stories260K.gguf $(DATA)/models/
	$(BIN) serve --data $(DATA)

# ---- install and package -----------------------------------------------------
# PREFIX=/usr (the Debian package): config in /etc, unit in /lib/systemd/system;
# any other PREFIX keeps both under it. The data dir is always /var/lib/hoheit
# (the unit's StateDirectory). An existing config file is never overwritten.
VERSION      := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PREFIX       ?= /usr/local
BINDIR       := $(PREFIX)/bin
MANDIR       := $(PREFIX)/share/man
PKGDATADIR   := $(PREFIX)/share/hoheit
DOCDIR       := $(PREFIX)/share/doc/hoheit
LOGROTATEDIR ?= /etc/logrotate.d
ifeq ($(PREFIX),/usr)
  SYSCONFDIR ?= /etc
  UNITDIR    ?= /lib/systemd/system
else
  SYSCONFDIR ?= $(PREFIX)/etc
  UNITDIR    ?= $(PREFIX)/lib/systemd/system
endif

# The files of `make install`; install-prebuilt does the same without building
# (packaging/*.sh install the binary they were given, e.g. a sanitizer build).
define install-files
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PKGDATADIR)/demo \
	  $(DESTDIR)$(SYSCONFDIR)/hoheit $(DESTDIR)$(LOGROTATEDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/hoheit
	install -m 0644 docs/hoheit.1 $(DESTDIR)$(MANDIR)/man1/hoheit.1
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' packaging/hoheit.service.in \
	  > $(DESTDIR)$(UNITDIR)/hoheit.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hoheit.service
	install -m 0644 packaging/hoheit.logrotate $(DESTDIR)$(LOGROTATEDIR)/hoheit
	install -m 0644 demo/stories260K.gguf demo/README.md $(DESTDIR)$(PKGDATADIR)/demo/
	install -m 0644 README.md docs/OPERATIONS.md $(DESTDIR)$(DOCDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/hoheit/hoheit.conf ]; then \
	  install -m 0644 packaging/hoheit.conf $(DESTDIR)$(SYSCONFDIR)/hoheit/hoheit.conf.default; \
	  echo "install: kept $(SYSCONFDIR)/hoheit/hoheit.conf; the new default is hoheit.conf.default beside it"; \
	else \
	  install -m 0644 packaging/hoheit.conf $(DESTDIR)$(SYSCONFDIR)/hoheit/hoheit.conf; \
	fi
endef

install: $(BIN)
	$(install-files)

install-prebuilt:
	@test -x $(BIN) || { echo "install-prebuilt: no $(BIN) (make first)"; exit 1; }
	$(install-files)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hoheit $(DESTDIR)$(MANDIR)/man1/hoheit.1 $(DESTDIR)$(UNITDIR)/hoheit.service \
	  $(DESTDIR)$(LOGROTATEDIR)/hoheit $(DESTDIR)$(PKGDATADIR)/demo/stories260K.gguf $(DESTDIR)$(PKGDATADIR)/demo/README.md \
	  $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/OPERATIONS.md $(DESTDIR)$(SYSCONFDIR)/hoheit/hoheit.conf.default
	-rmdir $(DESTDIR)$(PKGDATADIR)/demo $(DESTDIR)$(PKGDATADIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "uninstall: kept $(SYSCONFDIR)/hoheit/hoheit.conf, the data (/var/lib/hoheit) and the logs"

# The package: `make install PREFIX=/usr` into a staging root, plus DEBIAN/
# (control with Depends from dpkg-shlibdeps, maintainer scripts, conffiles).
deb: $(BIN)
	bash packaging/build-deb.sh $(abspath $(BIN)) $(VERSION) $(abspath $(BUILD))/deb

test-package: $(BIN)
	bash packaging/test-package.sh $(abspath $(BIN))

# The README's two commands on a fresh Debian 12 (debootstrap chroot, as
# root; tests/fresh/run.sh says how; ~7 min here with the base and the apt
# downloads cached, up to 15 on 2 busy cores; the first run adds ~3 min).
test-fresh:
	@if [ "$$(id -u)" -eq 0 ]; then bash tests/fresh/run.sh; else sudo -E bash tests/fresh/run.sh; fi

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
