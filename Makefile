# peertrack — top-level Makefile.
#
#   make            build every program into bin/ (peertrack-peer only when
#                   GStreamer's dev packages are there)
#   make daemon     build peertrackd and peertrackctl only
#   make run        install missing build deps, build the daemon, run it on its
#                   embedded defaults (state under ./var)
#   make check      install missing build and test deps, build, run every test
#                   (plain and sanitized), then the system tests once
#   make test       run the test suite against the current build
#   make asan       the whole test suite under AddressSanitizer + UBSan (build-asan/)
#   make system-test  tests of the system (tests/system/: fresh machine, package)
#   make demo       peertrackd and the demo site (examples/site/) behind nginx
#                   on 127.0.0.1:8080 (DEMO_PORT=...), until Ctrl-C
#   make layers     no file includes across a forbidden layer edge (and the check's self-test)
#   make soak       a bounded churn run: RSS, fds, index, database size over time
#   make install    peertrackd, peertrackctl, man pages, units; PREFIX=/usr/local
#                   DESTDIR= honoured
#   make deb        the Debian package, built in a copy of the tree, into
#                   $(DEB_OUT) (build/deb/peertrack_VERSION_ARCH.deb)
#   make clean
#
# Dependencies: `run` and `check` install what is missing first
# (scripts/install-deps.sh, and --test for scripts/deps-test.txt), then build
# in a new make, so nothing probed before the install (pkg-config) is used
# after it. Within one make, pkg-config runs when a recipe first needs it.
#
# Layout: src/<layer>/*.c (docs/DESIGN.md, "Architecture"). Everything except the programs' own main files goes
# into one static archive (build/libpeertrack.a) that every program and test
# links, so a module is compiled once and shared, never copied.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/peertrack
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=

VERSION    := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PKG_CONFIG ?= pkg-config
CC         ?= cc

# BUILD=asan selects the sanitizer build; its objects live apart so the two
# builds never mix.
BUILD ?= release
ifeq ($(BUILD),asan)
  O        := build-asan
  BIN      := build-asan/bin
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPTFLAGS := -O1 -g
else
  O        := build
  BIN      := bin
  SANFLAGS :=
  # Link-time optimisation: the hot path crosses many small modules
  # (registry, id, session), whose one-line accessors it inlines.
  OPTFLAGS := -O2 -g -flto=auto
  LDFLAGS  += -O2 -flto=auto
  AR       := gcc-ar
endif

PKGS      := libwebsockets libuv jansson openssl inih sqlite3 libsystemd hiredis
# Evaluated on first use (in a recipe), then kept: a `make` that installs the
# dependencies first must not see what pkg-config said before they existed.
lazy = $(eval $1 := $$(shell $2))$($1)
PKG_CFLAGS = $(call lazy,PKG_CFLAGS,$(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   = $(call lazy,PKG_LIBS,$(PKG_CONFIG) --libs $(PKGS))

CFLAGS   ?= $(OPTFLAGS)
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing \
            -D_GNU_SOURCE -DPT_VERSION='"$(VERSION)"' \
            -Iinclude $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LDLIBS   += $(PKG_LIBS) -lm -lpthread

# Programs: the main file of each, kept out of the shared archive.
MAINS := src/daemon/main.c src/ctl/main.c src/peer/main.c src/bench/main.c
# The peer links GStreamer; its sources are built only with its own flags.
PEER_SRC := $(wildcard src/peer/*.c)
BENCH_SRC := $(wildcard src/bench/*.c)
LIB_SRC := $(filter-out $(MAINS) $(PEER_SRC) $(BENCH_SRC), \
             $(wildcard src/base/*.c src/core/*.c src/cluster/*.c src/net/*.c src/store/*.c src/admin/*.c src/daemon/*.c src/ctl/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
LIB     := $(O)/libpeertrack.a

# What `make run` and `make install` build: the daemon and its CLI.
DAEMON_PROGRAMS := $(BIN)/peertrackd $(BIN)/peertrackctl
PROGRAMS := $(DAEMON_PROGRAMS)
ifneq ($(wildcard src/bench/main.c),)
  PROGRAMS += $(BIN)/peertrack-bench
endif
# peertrack-peer needs GStreamer; it is built when its dev packages exist.
GST_PKGS := gstreamer-1.0 gstreamer-webrtc-1.0 gstreamer-sdp-1.0 nice glib-2.0 libsoup-3.0
HAVE_GST := $(shell $(PKG_CONFIG) --exists $(GST_PKGS) 2>/dev/null && echo 1)
ifneq ($(wildcard src/peer/main.c),)
ifeq ($(HAVE_GST),1)
  PROGRAMS += $(BIN)/peertrack-peer
endif
endif

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%)
ITEST_LIB_SRC := $(wildcard tests/integration/lib/*.c)
ITEST_LIB_OBJ := $(ITEST_LIB_SRC:%.c=$(O)/%.o)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(O)/tests/integration/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(O)/tests/fuzz/%)
TEST_BINS := $(UNIT_BIN) $(ITEST_BIN) $(FUZZ_BIN)
EXTRA_BINS :=
ifneq ($(wildcard tests/bench/*.c),)
  EXTRA_BINS += $(patsubst tests/bench/%.c,$(O)/tests/bench/%,$(wildcard tests/bench/*.c))
endif

.PHONY: all daemon run check test unit integration asan system-test install uninstall clean \
        deps deps-test tests-build bench soak fuzz man deb layers demo
all: $(PROGRAMS)
daemon: $(DAEMON_PROGRAMS)

INSTALL_DEPS ?= scripts/install-deps.sh
# The JS test tooling's npm packages, from their lock files.
INSTALL_NPM_DEPS ?= scripts/install-npm-deps.sh
deps:
	@$(INSTALL_DEPS)
deps-test:
	@$(INSTALL_DEPS) --test
	@$(INSTALL_NPM_DEPS)

# -- the shared archive and the programs ------------------------------------
$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN)/peertrackd: $(O)/src/daemon/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/peertrackctl: $(O)/src/ctl/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/peertrack-bench: $(BENCH_SRC:%.c=$(O)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

GST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(GST_PKGS))
GST_LIBS   = $(shell $(PKG_CONFIG) --libs $(GST_PKGS))
$(O)/src/peer/%.o: src/peer/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(GST_CFLAGS) -Wno-error=deprecated-declarations -c -o $@ $<

$(BIN)/peertrack-peer: $(PEER_SRC:%.c=$(O)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(GST_LIBS) $(LDLIBS)

# -- tests -------------------------------------------------------------------
$(O)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(O)/tests/integration/lib/%.o: tests/integration/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c -o $@ $<

$(O)/tests/integration/%: tests/integration/%.c $(ITEST_LIB_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(ITEST_LIB_OBJ) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# Fuzz targets build as plain replay drivers (tests/fuzz/driver.c) so the
# corpus runs in every test run; `make fuzz` builds them with libFuzzer.
$(O)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/driver.c $(LIB) $(LDFLAGS) $(LDLIBS)

$(O)/tests/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# libFuzzer builds of the fuzz targets (clang), with the core compiled in
# so coverage reaches it: `make fuzz` then build/libfuzzer/fuzz_msg CORPUS_DIR.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -Iinclude
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build/libfuzzer/%)
FUZZ_LIB   := $(wildcard src/core/*.c src/base/*.c) src/admin/commands.c
build/libfuzzer/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB) -ljansson -lcrypto -linih

tests-build: $(PROGRAMS) $(TEST_BINS) $(EXTRA_BINS)

# The runner exports where the binaries are, so the same scripts test both
# the plain and the sanitized build.
test: tests-build
	PT_BUILD=$(O) PT_BIN=$(BIN) scripts/run-tests.sh

unit: tests-build
	PT_BUILD=$(O) PT_BIN=$(BIN) scripts/run-tests.sh unit

integration: tests-build
	PT_BUILD=$(O) PT_BIN=$(BIN) scripts/run-tests.sh integration

asan:
	$(MAKE) BUILD=asan test

# Tests of the system (the fresh-machine install, the package, ...) run once,
# after the plain and the sanitized suite, never under the sanitizers.
system-test: daemon
	PT_BUILD=$(O) PT_BIN=$(BIN) scripts/run-tests.sh system

# The layering of docs/DESIGN.md ("Architecture"), read from the sources.
layers:
	scripts/check-layers.sh
	tests/layers/selftest.sh >/dev/null

check: deps-test
	$(MAKE) layers
	$(MAKE) all
	$(MAKE) test
	$(MAKE) asan
	$(MAKE) system-test

run: deps
	$(MAKE) daemon
	@mkdir -p var
	exec $(BIN)/peertrackd

# The browser side at work: two browsers on the printed URL share the site's
# pictures and video (scripts/demo.sh). Needs nginx besides the build set.
demo:
	@$(INSTALL_DEPS) --demo
	$(MAKE) daemon
	exec scripts/demo.sh

bench: deps-test
	$(MAKE) all
	scripts/bench.sh

# A bounded churn run (minutes): RSS, descriptors, index and database size
# over time (docs/BENCHMARKS.md, "Soak").
soak: deps-test
	$(MAKE) daemon
	scripts/soak.sh

# -- install -----------------------------------------------------------------
# The daemon and its CLI only: the test peer and the bench tool stay in bin/.
install: daemon
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/peertrack $(DESTDIR)$(DOCDIR)
	install -m 0755 $(DAEMON_PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/peertrackd.8 man/peertrackctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/peertrack.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 conf/peertrack.conf $(DESTDIR)$(SYSCONFDIR)/peertrack/peertrack.conf.example
	test -e $(DESTDIR)$(SYSCONFDIR)/peertrack/peertrack.conf || \
	  install -m 0644 conf/peertrack.conf $(DESTDIR)$(SYSCONFDIR)/peertrack/peertrack.conf
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 conf/nginx/peertrack.conf $(DESTDIR)$(DOCDIR)/examples/nginx-peertrack.conf
	install -m 0644 conf/nginx/nginx.conf $(DESTDIR)$(DOCDIR)/examples/nginx.conf
	install -m 0644 conf/nginx/nginx.service.d/limits.conf $(DESTDIR)$(DOCDIR)/examples/nginx.service.d-limits.conf
	install -m 0755 conf/certbot/peertrack-deploy-hook $(DESTDIR)$(DOCDIR)/examples/certbot-deploy-hook
	install -m 0644 conf/prometheus/peertrack.rules.yml conf/grafana/peertrack.json $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 docker/Dockerfile docker/compose.yml $(DESTDIR)$(DOCDIR)/examples/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d
	for u in peertrackd.service peertrackd@.service; do \
	  sed 's|@BINDIR@|$(BINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g; s|@DOCDIR@|$(DOCDIR)|g' \
	    systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 systemd/peertrack.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/peertrack.conf

# The config file in use (peertrack.conf) stays: it is the operator's.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(DAEMON_PROGRAMS)))
	rm -f $(DESTDIR)$(UNITDIR)/peertrackd.service $(DESTDIR)$(UNITDIR)/peertrackd@.service
	rm -f $(DESTDIR)$(MANDIR)/man8/peertrackd.8 $(DESTDIR)$(MANDIR)/man8/peertrackctl.8
	rm -f $(DESTDIR)$(MANDIR)/man5/peertrack.conf.5
	rm -f $(DESTDIR)$(PREFIX)/lib/sysusers.d/peertrack.conf
	rm -f $(DESTDIR)$(SYSCONFDIR)/peertrack/peertrack.conf.example
	rm -rf $(DESTDIR)$(DOCDIR)

# dpkg-buildpackage in a copy of the tracked and new files (in a temporary
# directory), so the checkout gets no debian/ build products; the .debs land
# in DEB_OUT.
DEB_OUT ?= build/deb
deb:
	@set -e; w=$$(mktemp -d); trap 'rm -rf "$$w"' EXIT; \
	mkdir -p "$$w/peertrack-$(VERSION)" $(DEB_OUT); \
	git ls-files -z --cached --others --exclude-standard | \
	  xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' _ | \
	  tar --null -T - -cf - | tar -C "$$w/peertrack-$(VERSION)" -xf -; \
	(cd "$$w/peertrack-$(VERSION)" && dpkg-buildpackage -us -uc -b -j2) >"$$w/build.log" 2>&1 || \
	  { tail -n 40 "$$w/build.log"; exit 1; }; \
	mv "$$w"/*.deb $(DEB_OUT)/; ls $(DEB_OUT)/*.deb

clean:
	rm -rf build build-asan bin

-include $(shell find build build-asan -name '*.d' 2>/dev/null)
