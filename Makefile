# Liaison — one hand-written, non-recursive Makefile.
#
#   make            liaison-broker, liaisonctl (and liaison-agent once it exists) in build/
#   make test       installs missing Debian packages, builds, runs every test (plain and ASan/UBSan)
#   make asan       the same programs built with AddressSanitizer + UBSan, in build/asan/
#   make fuzz       libFuzzer over envelope decoding and label validation, at length
#   make bench      load generator: broker throughput and latency beside raw ZeroMQ
#   make demo       a broker and four agencies on loopback: deliveries, refusals, queue state
#   make demo-up    the same, left running for exploring
#   make install    PREFIX=/usr/local
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
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
LDFLAGS_ALL := $(LDSAN) $(LDFLAGS)

GEN_C := $(B)/gen/liaison.pb-c.c
GEN_H := $(B)/gen/liaison.pb-c.h

COMMON_SRC := $(sort $(wildcard common/*.c)) proto/wire.c
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

.PHONY: all test tools units asan demo-up fuzz fuzz-smoke bench install help deps clean format format-check demo
.DEFAULT_GOAL := all

all: $(PROGRAMS)

help:
	@sed -n '3,12p' Makefile | sed 's/^# \{0,1\}//'

# ---- generated protobuf-c code (build/ only) --------------------------------
$(GEN_C) $(GEN_H) &: proto/liaison.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto proto/liaison.proto

# Generated code is not ours to lint: compile it with warnings but not -Werror.
$(B)/obj/gen/liaison.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(PKG_CFLAGS) -I$(B)/gen -c $< -o $@

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

# ---- packages ------------------------------------------------------------------
# Installs the Debian packages the build and tests need, only when pkg-config
# (or the command) is missing, so a ready machine pays nothing.
deps:
	@sh tests/deps.sh

# ---- tests ---------------------------------------------------------------------

test: deps
	@$(MAKE) --no-print-directory all units tools B=build
	@$(MAKE) --no-print-directory all units tools B=build/asan SAN=1
	@$(MAKE) --no-print-directory fuzz-smoke
	@if command -v clang-format >/dev/null; then $(MAKE) --no-print-directory format-check; \
	 else echo "format-check skipped: clang-format is not installed"; fi
	@sh tests/run.sh

asan:
	@$(MAKE) --no-print-directory all units tools B=build/asan SAN=1

# ---- fuzzing -------------------------------------------------------------------
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -Icommon -Iproto -Ibuild/fuzz/gen $(PKG_CFLAGS)
FUZZ_SRC := tests/fuzz/fuzz_envelope.c proto/wire.c common/label.c common/topic.c common/util.c \
            common/log.c build/fuzz/gen/liaison.pb-c.c

build/fuzz/gen/liaison.pb-c.c: proto/liaison.proto
	@mkdir -p build/fuzz/gen
	protoc-c --c_out=build/fuzz/gen -Iproto proto/liaison.proto

build/fuzz/fuzz_envelope: $(FUZZ_SRC)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRC) $(PKG_LIBS)

fuzz: build/fuzz/fuzz_envelope
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_envelope -max_total_time=$${FUZZ_SECONDS:-600} build/fuzz/corpus tests/fuzz/seeds

fuzz-smoke: build/fuzz/fuzz_envelope
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_envelope -runs=$${FUZZ_RUNS:-200000} build/fuzz/corpus tests/fuzz/seeds

# ---- benchmark -----------------------------------------------------------------
bench: deps
	@$(MAKE) --no-print-directory all tools $(B)/bench
	@sh tests/bench/run.sh $(B)

# ---- demo ---------------------------------------------------------------------
# A broker and four agencies on loopback with fresh keys; see config/demo/.
demo: deps
	@$(MAKE) --no-print-directory all
	@bash config/demo/demo.sh $(B)
demo-up: deps
	@$(MAKE) --no-print-directory all
	@bash config/demo/demo.sh $(B) --up

# ---- install, format, clean ----------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

FORMAT_SRC = $(sort $(wildcard broker/*.[ch] agent/*.[ch] ctl/*.[ch] common/*.[ch] proto/*.[ch] \
             tests/*/*.c))
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: clean"

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
