# kresponder: one Makefile, explicit targets (all test check run bench fuzz asan clean deps).
# Sources are discovered by directory: every src/**/*.c except src/core/main.c goes into
# build/libkr.a; each tests/unit/test_*.c is one test binary; each tests/fuzz/fuzz_*.c one
# libFuzzer target; each bench/*.c one benchmark; each tests/sim/*.c / tests/tools/*.c a helper.

O        ?= build
BIN      ?= bin
CC       ?= cc
PKGS     := libevent libevent_pthreads jansson yaml-0.1 libcurl openssl rdkafka
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ZK_CFLAGS  := -DTHREADED -I/usr/include/zookeeper
ZK_LIBS    := -lzookeeper_mt

OPT      ?= -O2 -g
SAN      ?=
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
CFLAGS   += -std=gnu11 $(OPT) $(SAN) $(WARN) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) $(ZK_CFLAGS) -MMD -MP
LDLIBS   += $(PKG_LIBS) $(ZK_LIBS) -lpthread -lm
LDFLAGS  += $(SAN)

LIB_SRCS   := $(filter-out src/core/main.c,$(wildcard src/*/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(O)/%.o)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
TOOL_SRCS  := $(wildcard tests/sim/*.c tests/tools/*.c)
TOOL_BINS  := $(patsubst %.c,$(O)/%,$(TOOL_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(O)/bench/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)

.SECONDARY:
.DELETE_ON_ERROR:
.PHONY: all test check run bench fuzz asan clean deps unit integration golden rules-check valgrind
all: $(BIN)/kresponder $(UNIT_BINS) $(TOOL_BINS) $(BENCH_BINS)

$(O)/libkr.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/kresponder: $(O)/src/core/main.o $(O)/libkr.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(O)/tests/unit/kr_test.o $(O)/libkr.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/unit/kr_test.o: tests/unit/kr_test.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/tests/sim/%: $(O)/tests/sim/%.o $(O)/libkr.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/tools/%: $(O)/tests/tools/%.o $(O)/libkr.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bench/%: $(O)/bench/%.o $(O)/libkr.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# deps: install what is missing, with apt-get (Debian 12). Idempotent and quiet when
# everything is there.
DEB_PKGS := build-essential pkg-config libevent-dev librdkafka-dev libzookeeper-mt-dev \
            zookeeper default-jre-headless libcurl4-openssl-dev libjansson-dev libyaml-dev \
            libssl-dev openssl curl python3 clang libclang-rt-14-dev wrk \
            prometheus-alertmanager valgrind
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all present"; fi

# test: every layer; tests/run.sh prints the final "N passed, N failed" line.
test: all
	@KR_BUILD=$(O) KR_BIN=$(BIN)/kresponder tests/run.sh

check: test

rules-check: $(BIN)/kresponder
	$(BIN)/kresponder check-rules rules/

asan:
	$(MAKE) O=build/asan BIN=build/asan/bin OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# valgrind: the integration tests with every daemon under memcheck. Errors and definite
# leaks are "==PID==" lines in the logs, which must have none ("--PID--" lines are
# valgrind's own notes, e.g. pidfd_open unknown to valgrind 3.19: exec falls back to polling).
VALGRIND_TESTS ?= daemon intake incidents compaction paging exec
valgrind: all
	@rm -rf build/valgrind && mkdir -p build/valgrind
	@for t in $(VALGRIND_TESTS); do \
	  KR_VALGRIND=1 KR_VALGRIND_DIR=$$PWD/build/valgrind KR_TEST_TIMEOUT_MULT=8 KR_TEST_FILTER=$$t \
	    KR_BUILD=$(O) KR_BIN=$(BIN)/kresponder tests/run.sh | tail -n 2; done
	@bad=$$(grep -l '^==' build/valgrind/valgrind.*.log 2>/dev/null); \
	if [ -n "$$bad" ]; then echo "valgrind found errors:"; grep -h '^==' $$bad | head -n 80; exit 1; fi; \
	echo "valgrind: $$(ls build/valgrind | wc -l) daemon runs, no errors, no definite leaks"

FUZZ_TIME ?= 10
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) $(ZK_CFLAGS)
fuzz:
	@mkdir -p build/fuzz
	$(MAKE) O=build/fuzz/obj BIN=build/fuzz/bin CC=clang OPT="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" build/fuzz/obj/libkr.a
	@set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o build/fuzz/$$n $$f build/fuzz/obj/libkr.a $(LDLIBS); \
	  mkdir -p build/fuzz/corpus/$$n; \
	  seeds=tests/fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$n for $(FUZZ_TIME)s"; \
	  build/fuzz/$$n -max_total_time=$(FUZZ_TIME) -print_final_stats=0 build/fuzz/corpus/$$n $$seeds 2>build/fuzz/$$n.log \
	    || { tail -40 build/fuzz/$$n.log; exit 1; }; done; echo "fuzz: all targets clean"

bench: all
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done
	@[ ! -x bench/intake/run.sh ] || bench/intake/run.sh

run: deps all
	tests/demo/run.sh

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
