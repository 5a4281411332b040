# Liaison — one hand-written, non-recursive Makefile.
#
#   make            installs missing build packages; liaison-broker, liaison-agent, liaisonctl in build/
#   make test       installs missing test packages too, builds, runs every test (plain and ASan/UBSan)
#   make asan       the same programs built with AddressSanitizer + UBSan, in build/asan/
#   make fuzz       libFuzzer at length: envelopes, JSON, configs, a stateful broker, filters
#   make bench      load generator: broker throughput and latency beside raw ZeroMQ
#   make soak       200 agents for SOAK_MINUTES (30): memory, fds, commit p99, nothing lost
#   make demo       a broker and four agencies on loopback: deliveries, refusals with the
#                   audit trail's reasons, queue state, status page
#   make demo-up    the same, left running for exploring
#   make demo-federation  three brokers linked up and down (Humberside, Yorkshire,
#                   national): what crosses a link, what stays home, the links view
#   make install    PREFIX=/usr/local (and DESTDIR): programs, man pages, bash completion,
#                   systemd units, example configs, the docs the units link to
#   make deb        Debian packages liaison-broker, liaison-agent, liaison-tools in build/deb/
#   make package-check  (root) those packages installed, run, used and purged on this machine
#   make help       this list
#
# A variant build (ASan) is the same rules with B and SAN set; generated
# protobuf-c code lives only under $(B)/gen.

B       ?= build
SAN     ?=
PREFIX  ?= /usr/local
CC      ?= cc
FUZZ_CC ?= clang

PKGS := libzmq libprotobuf-c lmdb libconfig libsodium jansson libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wpointer-arith -Wcast-qual -Wvla -Wno-missing-field-initializers
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
else
OPT := -O2 -g
LDSAN :=
endif
INCLUDES := -Icommon -Iproto -Ibroker -Iagent -isystem $(B)/gen
# CPPFLAGS, CFLAGS and LDFLAGS from the environment come last (dpkg-buildflags'
# hardening in a package build).
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(LDSAN) $(LDFLAGS)

GEN_C := $(B)/gen/liaison.pb-c.c
GEN_H := $(B)/gen/liaison.pb-c.h

COMMON_SRC := $(sort $(wildcard common/*.c)) proto/wire.c proto/canon.c
BROKER_SRC := $(filter-out broker/main.c,$(sort $(wildcard broker/*.c)))
AGENT_SRC  := $(filter-out agent/main.c,$(sort $(wildcard agent/*.c)))
CTL_SRC    := $(sort $(wildcard ctl/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(B)/obj/gen/liaison.pb-c.o
BROKER_OBJ := $(call obj,$(BROKER_SRC))
AGENT_OBJ  := $(call obj,$(AGENT_SRC))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

PROGRAMS := $(B)/liaison-broker $(B)/liaisonctl
ifneq ($(wildcard agent/main.c),)
PROGRAMS += $(B)/liaison-agent
endif

.PHONY: all programs test tools units asan demo-up demo-federation fuzz fuzz-smoke bench install help \
        deps test-deps deb deb-deps package-check clean format format-check demo
.DEFAULT_GOAL := all

# The flags above come from pkg-config when the Makefile is read, so the
# programs are built by a second make, after deps has installed what was
# missing. `programs` alone skips the check.
all: deps
	@$(MAKE) --no-print-directory programs
programs: $(PROGRAMS)

help:
	@sed -n '3,19p' Makefile | sed 's/^# \{0,1\}//'

# ---- generated protobuf-c code (build/ only) --------------------------------
$(GEN_C) $(GEN_H) &: proto/liaison.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto proto/liaison.proto

# Generated code is not ours to lint: compile it with warnings but not -Werror.
$(B)/obj/gen/liaison.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(PKG_CFLAGS) -I$(B)/gen $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The status page (broker/status_page.html) is embedded in the broker as a C
# string literal: backslashes, quotes and '?' (trigraphs) escaped, one
# "line\n" per line.
$(B)/gen/status_page.inc: broker/status_page.html
	@mkdir -p $(B)/gen
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@
$(B)/obj/broker/metrics.o: $(B)/gen/status_page.inc

$(B)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

$(B)/libcommon.a: $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(B)/libbroker.a: $(BROKER_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(B)/libagent.a: $(AGENT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/liaison-broker: $(B)/obj/broker/main.o $(B)/libbroker.a $(B)/libcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
$(B)/liaison-agent: $(B)/obj/agent/main.o $(B)/libagent.a $(B)/libcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
# liaisonctl reuses the broker's store and audit modules for offline verify.
$(B)/liaisonctl: $(call obj,$(CTL_SRC)) $(B)/libbroker.a $(B)/libcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# Unit tests link the program libraries, so each module is tested as built.
$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/libbroker.a $(B)/libagent.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lcmocka

# Test tools used by the integration and fault scenarios.
# The unit test binaries of the build variant in B.
units: $(UNIT_BIN)

TOOLS = $(B)/tools/rawclient $(B)/tools/retrypub
tools: $(TOOLS)
$(B)/tools/rawclient: $(B)/obj/tests/integration/rawclient.o $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
$(B)/tools/retrypub: $(B)/obj/tests/fault/retrypub.o $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/bench: $(B)/obj/tests/bench/bench.o $(B)/libcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lpthread

# ---- power-loss tests ------------------------------------------------------------
# lossyfs (tests/powerloss/lossyfs.c) is a FUSE filesystem that forgets
# whatever was not fsynced when it is unmounted; `make powerloss` shows it
# forgets (selftest.sh), then runs the broker's and the agent's stores on it
# through POWERLOSS_CUTS power cuts each.
# It is built only here, so a machine without libfuse3 builds everything else.
POWERLOSS_CUTS ?= 20
$(B)/tools/lossyfs: tests/powerloss/lossyfs.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(shell pkg-config --cflags fuse3) $(CFLAGS) \
	  $(LDFLAGS_ALL) -o $@ $< $(shell pkg-config --libs fuse3)
.PHONY: powerloss
powerloss: deps
	@$(MAKE) --no-print-directory all tools $(B)/tools/lossyfs
	@BIN=$(B) bash tests/powerloss/selftest.sh
	@POWERLOSS_CUTS=$(POWERLOSS_CUTS) BIN=$(B) bash tests/powerloss/run.sh

# The soak (not in make test): SOAK_MINUTES (30), SOAK_AGENTS (200),
# SOAK_RATE (200 messages a second), SOAK_MAP_MB (8192).
.PHONY: soak
soak: test-deps
	@$(MAKE) --no-print-directory programs tools
	@BIN=$(B) bash tests/soak/run.sh

# ---- packages ------------------------------------------------------------------
# Installs the Debian packages that are missing, only when pkg-config (or the
# command) does not find them, so a ready machine pays nothing. deps is what
# building and running needs (make, make install, make demo); test-deps adds
# what only the tests use (cmocka, clang, chromium, prometheus...).
# NO_DEPS=1 skips the check: a package build (debian/rules) must not run
# apt-get, its Build-Depends are already there.
deps:
	@[ -n "$(NO_DEPS)" ] || sh tests/deps.sh build
test-deps:
	@sh tests/deps.sh test
deb-deps:
	@sh tests/deps.sh deb

# ---- tests ---------------------------------------------------------------------

test: test-deps
	@$(MAKE) --no-print-directory programs units tools build/tools/lossyfs B=build
	@$(MAKE) --no-print-directory programs units tools B=build/asan SAN=1
	@$(MAKE) --no-print-directory fuzz-smoke
	@if command -v clang-format >/dev/null; then $(MAKE) --no-print-directory format-check; \
	 else echo "format-check skipped: clang-format is not installed"; fi
	@sh tests/run.sh

asan: test-deps
	@$(MAKE) --no-print-directory programs units tools B=build/asan SAN=1

# ---- fuzzing -------------------------------------------------------------------
# One libFuzzer harness per tests/fuzz/fuzz_NAME.c, its seeds in
# tests/fuzz/seeds/NAME, its corpus in build/fuzz/corpus/NAME, anything it
# finds in build/fuzz/artifacts/NAME. The modules are built once more with
# clang's fuzzer, ASan and UBSan instrumentation into build/fuzz/ (UB stops
# the run, as a crash does); each harness links only what it calls.
#   make fuzz         every harness for FUZZ_SECONDS (600) each, one after another
#   make fuzz-smoke   every harness for FUZZ_RUNS runs (make test runs it)
#   make coverage     llvm-cov over each harness's corpus (FUZZ_CORPUS), per file
FUZZ_NAMES := envelope json config broker filter
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -fsanitize-ignorelist=tests/fuzz/ubsan.ignore \
              -Icommon -Iproto -Ibroker -Ibuild/fuzz/gen $(PKG_CFLAGS)
FUZZ_BINS := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_LIB_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(COMMON_SRC) $(BROKER_SRC)) \
                build/fuzz/obj/gen/liaison.pb-c.o
# The broker harness runs whole passes (several commits) per input. The
# config harness is fuzzed without leak checks (libconfig's own leaks would
# make one run after nearly every input: tests/fuzz/fuzz_config.c); every
# harness's corpus is then run once more with them.
FUZZ_ARGS_broker := -max_len=8192
FUZZ_ARGS_config := -detect_leaks=0

build/fuzz/gen/liaison.pb-c.c: proto/liaison.proto
	@mkdir -p build/fuzz/gen
	protoc-c --c_out=build/fuzz/gen -Iproto proto/liaison.proto
build/fuzz/gen/status_page.inc: broker/status_page.html
	@mkdir -p build/fuzz/gen
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $< >$@
build/fuzz/obj/broker/metrics.o: build/fuzz/gen/status_page.inc

build/fuzz/obj/gen/liaison.pb-c.o: build/fuzz/gen/liaison.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@
# The harnesses are ours and held to the warnings; the modules already are,
# by the compiler that builds them for real.
build/fuzz/obj/tests/fuzz/%.o: tests/fuzz/%.c build/fuzz/gen/liaison.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -MMD -MP -c $< -o $@
build/fuzz/obj/%.o: %.c build/fuzz/gen/liaison.pb-c.c tests/fuzz/ubsan.ignore
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c $< -o $@
build/fuzz/libfuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
# Kept, or make would delete them as intermediates and rebuild each time.
.SECONDARY: $(patsubst %,build/fuzz/obj/tests/fuzz/fuzz_%.o,$(FUZZ_NAMES))
build/fuzz/fuzz_%: build/fuzz/obj/tests/fuzz/fuzz_%.o build/fuzz/libfuzz.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# $(call fuzz_run,NAME,LIMIT): one harness over its corpus and seeds, then
# every input of the corpus once, leak checks on.
fuzz_run = mkdir -p build/fuzz/corpus/$(1) build/fuzz/artifacts/$(1) && \
    echo "fuzz_$(1): $(2)" && \
    build/fuzz/fuzz_$(1) $(2) $(FUZZ_ARGS_$(1)) -artifact_prefix=build/fuzz/artifacts/$(1)/ \
        build/fuzz/corpus/$(1) tests/fuzz/seeds/$(1) && \
    build/fuzz/fuzz_$(1) -runs=0 -detect_leaks=1 $(filter -max_len=%,$(FUZZ_ARGS_$(1))) \
        -artifact_prefix=build/fuzz/artifacts/$(1)/ build/fuzz/corpus/$(1) tests/fuzz/seeds/$(1)

fuzz: $(FUZZ_BINS)
	@$(foreach n,$(FUZZ_NAMES),$(call fuzz_run,$(n),-max_total_time=$${FUZZ_SECONDS:-600}) &&) true

# Line, function and region coverage of each harness's corpus (llvm-cov).
.PHONY: coverage
coverage: test-deps build/fuzz/gen/liaison.pb-c.c build/fuzz/gen/status_page.inc
	@sh tests/fuzz/coverage.sh

fuzz-smoke: $(FUZZ_BINS)
	@$(foreach n,$(FUZZ_NAMES),$(call fuzz_run,$(n),-runs=$${FUZZ_RUNS:-20000}) &&) true

-include $(shell find build/fuzz/obj -name '*.d' 2>/dev/null)

# ---- the Python client's generated code (build/python only) ----------------------
# clients/python/liaison imports liaison_pb2 from here; protoc is Debian's
# protobuf-compiler. Nothing generated is committed.
.PHONY: python
python: build/python/liaison_pb2.py
build/python/liaison_pb2.py: proto/liaison.proto
	@mkdir -p build/python
	protoc --python_out=build/python -Iproto proto/liaison.proto

# ---- benchmark -----------------------------------------------------------------
bench: test-deps
	@$(MAKE) --no-print-directory programs tools $(B)/bench
	@sh tests/bench/run.sh $(B)

# ---- demo ---------------------------------------------------------------------
# A broker and four agencies on loopback with fresh keys; see config/demo/.
demo: deps
	@$(MAKE) --no-print-directory programs
	@bash config/demo/demo.sh $(B)
demo-up: deps
	@$(MAKE) --no-print-directory programs
	@bash config/demo/demo.sh $(B) --up
# Three brokers linked in tiers on loopback; see config/demo/federation.sh.
demo-federation: deps
	@$(MAKE) --no-print-directory programs
	@bash config/demo/federation.sh $(B)

# ---- install, packages, format, clean -------------------------------------------
# The programs, their manuals (docs/man, mdoc: nothing to build), liaisonctl's
# bash completion, the systemd units, the example configs and the documents
# the units' Documentation= lines name. The units in config/ are written for
# PREFIX=/usr/local; they are installed with the paths of this PREFIX.
DOCDIR  ?= $(PREFIX)/share/doc/liaison
UNITDIR ?= $(PREFIX)/lib/systemd/system
UNITS   := config/liaison-broker.service config/liaison-agent.service
EXAMPLES := config/broker.cfg config/agent.cfg config/message.schema.json
DOCS    := docs/operator.md docs/design.md docs/status-page.png

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(wildcard docs/man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(wildcard docs/man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 config/liaisonctl.bash-completion \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/liaisonctl
	for u in $(UNITS); do \
	    sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' \
	        -e 's|file:///usr/local/share/doc/liaison/|file://$(DOCDIR)/|g' \
	        -e 's|^\(# Installed with paths for \)PREFIX=/usr/local|\1PREFIX=$(PREFIX)|' \
	        $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

# Debian packages (debian/), built from a copy of the tree under build/deb/
# so the working tree stays clean and the .debs land beside it, not in the
# parent directory. Unsigned: signing is the release manager's step.
deb: deb-deps
	rm -rf build/deb && mkdir -p build/deb/src
	tar --exclude=./build --exclude=./.git -cf - . | tar -C build/deb/src -xf -
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	@ls build/deb/*.deb
	@# lintian's errors fail the build; its warnings are printed for a person.
	@if command -v lintian >/dev/null; then lintian --info --fail-on error build/deb/*.changes; fi

# The packages installed, started and purged on this machine (root only;
# CI runs it after make test): tests/package/check.sh.
package-check: deb
	@bash tests/package/check.sh build/deb

FORMAT_SRC = $(sort $(wildcard broker/*.[ch] agent/*.[ch] ctl/*.[ch] common/*.[ch] proto/*.[ch] \
             tests/*/*.c))
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: clean"

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
