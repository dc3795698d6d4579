# Makefile - builds supersweep, its tests, benchmarks and fuzzer.
#
# One non-recursive Makefile.  Objects live under build/<mode>/ with
# automatic header dependencies (-MMD -MP); `make SAN=address,undefined`
# builds everything with sanitizers in its own directory.  Quiet by default;
# V=1 prints the commands.
#
#   make            build build/supersweep
#   make deps       install missing Debian packages (or print the command)
#   make check      build and run every test (unit, fuzz corpus, MPI, e2e, Slurm, tools)
#   make check-unit unit tests only (CI runs them again with SAN=address,undefined)
#   make demo       run the demo campaign sweeps/demo.yaml end to end
#   make bench      benchmarks: figures and ratios measured side by side
#   make fuzz       run the spec fuzzer (FUZZ_SECONDS, default 600)
#   make format / format-check / clean

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:

ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang-14
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
comma := ,

VERSION := 0.1.0
# the commit the binary is built from, with -dirty when tracked files differ
# from it (recorded in every campaign file it creates)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell \
	git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet HEAD -- 2>/dev/null && echo -dirty)

PKGS := hdf5-openmpi yaml-0.1 openblas libxxhash
TEST_PKGS := cmocka
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

SAN ?=
ifeq ($(SAN),)
MODE := release
OUT := build
OPT ?= -O2
else
MODE := san-$(subst $(comma),-,$(SAN))
OUT := build/$(MODE)
OPT ?= -O1
SAN_FLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
OBJ_DIR := build/obj-$(MODE)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Werror
CPPFLAGS += -Iinclude -D_GNU_SOURCE -MMD -MP
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -lpthread

BIN := $(OUT)/supersweep
SRC := $(wildcard src/*.c)
LIB_OBJ := $(patsubst src/%.c,$(OBJ_DIR)/src/%.o,$(filter-out src/main.c,$(SRC)))
MAIN_OBJ := $(OBJ_DIR)/src/main.o

# Unit tests: tests/test_<module>.c, each its own cmocka binary, linked with
# every library object and the helpers in tests/support/.  Allocation calls
# of the project's code are wrapped so that tests can make the N-th one fail.
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRC))
SUPPORT_OBJ := $(patsubst tests/support/%.c,$(OBJ_DIR)/tests/support/%.o,$(wildcard tests/support/*.c))
WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup,--wrap=free

BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRC))

# The spec fuzzer: libFuzzer target tests/fuzz/fuzz_spec.c over the spec
# module; tests/fuzz/replay.c runs the same target over a corpus without
# libFuzzer (part of `make check`).
FUZZ_LIB_SRC := $(wildcard src/spec*.c) src/err.c
FUZZ_BIN := build/fuzz/fuzz_spec
REPLAY_BIN := $(OUT)/tests/fuzz_replay
FUZZ_SECONDS ?= 600

.PHONY: all deps check check-all check-unit demo demo-run bench fuzz format format-check clean

all: $(BIN)

$(OBJ_DIR)/src/version.o: CPPFLAGS += -DSS_VERSION='"$(VERSION)"' -DSS_GIT_COMMIT='"$(GIT_COMMIT)"'
$(OBJ_DIR)/src/version.o: build/git-commit-stamp

# Rebuild version.o only when the commit changes.  FORCE is phony: under
# .SECONDARY a target without a recipe counts as an intermediate that never
# changes, and the stamp would keep the commit of the checkout's first build.
build/git-commit-stamp: FORCE
	@mkdir -p build; echo '$(GIT_COMMIT)' | cmp -s - $@ || echo '$(GIT_COMMIT)' > $@
.PHONY: FORCE
FORCE:

$(OBJ_DIR)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_ALL)

$(OBJ_DIR)/tests/%.o: ALL_CFLAGS += $(TEST_CFLAGS)
$(OBJ_DIR)/tests/%.o: CPPFLAGS += -Itests/support
$(OUT)/tests/test_%: $(OBJ_DIR)/tests/test_%.o $(LIB_OBJ) $(SUPPORT_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(ALL_CFLAGS) $(WRAP) $^ -o $@ $(LDLIBS_ALL) $(TEST_LIBS)

$(REPLAY_BIN): $(OBJ_DIR)/tests/fuzz/replay.o $(OBJ_DIR)/tests/fuzz/fuzz_spec.o $(LIB_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_ALL)

$(OUT)/bench/%: $(OBJ_DIR)/tests/bench/%.o $(LIB_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS_ALL)

deps:
	@sh tools/deps.sh test

# Everything a test needs, then the runner (tests/run.sh prints the verdict
# line "N passed, N failed" and exits non-zero on any failure).
check-unit: $(BIN) $(TEST_BINS) $(REPLAY_BIN)
	@SUPERSWEEP=$(BIN) sh tests/run.sh unit $(TEST_BINS) $(REPLAY_BIN)

# check and demo first make sure the packages are there (make deps), then
# build and run in a fresh make that sees them.
check:
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory check-all

check-all: $(BIN) $(TEST_BINS) $(REPLAY_BIN)
	@SUPERSWEEP=$(BIN) sh tests/run.sh all $(TEST_BINS) $(REPLAY_BIN)

demo:
	@sh tools/deps.sh core
	@$(MAKE) --no-print-directory demo-run

demo-run: $(BIN)
	@SUPERSWEEP=$(BIN) sh tools/demo.sh sweeps/demo.yaml

bench: $(BIN) $(BENCH_BINS)
	@SUPERSWEEP=$(BIN) BENCH_DIR=$(OUT)/bench sh tests/bench/run.sh

FUZZ_FLAGS := -std=c11 -g -O1 -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
$(FUZZ_BIN): tests/fuzz/fuzz_spec.c $(FUZZ_LIB_SRC) $(wildcard include/supersweep/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CLANG   $@')
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(PKG_CFLAGS) tests/fuzz/fuzz_spec.c $(FUZZ_LIB_SRC) -o $@ $(LDLIBS_ALL)

fuzz: $(FUZZ_BIN)
	@mkdir -p build/fuzz/work tests/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
		-dict=tests/fuzz/spec.dict build/fuzz/work tests/fuzz/corpus tests/specs sweeps
	@# keep the smallest set of inputs that covers every feature seen
	rm -rf build/fuzz/merged && mkdir -p build/fuzz/merged
	$(FUZZ_BIN) -set_cover_merge=1 build/fuzz/merged tests/fuzz/corpus build/fuzz/work
	rm -rf tests/fuzz/corpus && mv build/fuzz/merged tests/fuzz/corpus

FORMAT_FILES = $(wildcard src/*.c include/supersweep/*.h tests/*.c tests/*/*.c)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
