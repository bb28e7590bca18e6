# ANOSIP — the one entry point: build, test, demo, bench, fuzz.
#
#   make            build build/anosip (optimised)
#   make test       unit + integration tests under ASan/UBSan
#   make demo       a network on loopback and an anonymous call between two softphones
#   make bench      benchmarks, numbers into docs/benchmarks.md
#   make bench-sim  only the simulator's benchmark (printed)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS each
#   make soak       a testbed under steady call load for SOAK_SECONDS (ASan, leaks, memory)
#   make ASAN=1     the sanitizer build as the main build
#   make V=1        show every command
#
# Every target first makes sure the Debian packages are there
# (scripts/install-deps.sh installs what is missing).

PARTS      := util db keys topo link circuit sip node router lighthouse lookup iddir ua sim cli
LIB_PARTS  := util db keys topo link circuit sip node router lighthouse lookup iddir ua sim
PROTOS     := $(wildcard proto/*.proto)

ifeq ($(ASAN),1)
BUILD      ?= build/asan
else
BUILD      ?= build
endif

CC         ?= cc
PKGS       := libsodium libuv libprotobuf-c inih sqlite3 libosip2
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    = $(shell pkg-config --libs $(PKGS))

WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wno-unused-parameter
CSTD       := -std=c17 -D_GNU_SOURCE
OPT        := -O2 -g
ifeq ($(ASAN),1)
OPT        := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined
LDSAN      := -fsanitize=address,undefined
endif

GEN        := $(BUILD)/gen
CPPFLAGS   += -I. -I$(GEN)
CFLAGS_ALL  = $(CSTD) $(OPT) $(WARN) $(PKG_CFLAGS) $(CPPFLAGS) -MMD -MP
LDFLAGS_ALL = $(LDSAN) $(PKG_LIBS) -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

DEPS_STAMP := $(BUILD)/.deps-ok

PROTO_C    := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_O    := $(PROTO_C:$(GEN)/%.c=$(BUILD)/gen/%.o)

# sim/main.c and sim/report.c are the anosip-sim program, not the library.
SIM_PROG   := sim/main.c sim/report.c
LIB_SRC    := $(filter-out $(SIM_PROG),$(foreach p,$(LIB_PARTS),$(wildcard $(p)/*.c)))
LIB_O      := $(LIB_SRC:%.c=$(BUILD)/%.o) $(PROTO_O)
CLI_SRC    := $(wildcard cli/*.c)
CLI_O      := $(CLI_SRC:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libanosip.a
BIN        := $(BUILD)/anosip
SIM_BIN    := $(BUILD)/anosip-sim

UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_O     := $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(BUILD)/tests/unit-tests

TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)

BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BIN  := $(BUILD)/bench/anosip-bench

.PHONY: FORCE all deps test unit integration demo bench bench-sip bench-sim fuzz fuzz-build clean format format-check layout-check soak

all: $(BIN) $(SIM_BIN)

# Generated code is kept between runs, not treated as intermediate.
.SECONDARY: $(PROTO_C) $(PROTO_H) $(TOOL_SRC:%.c=$(BUILD)/%.o)

# The check is cheap (dpkg-query), so it runs on every make: a package
# removed since the last build is noticed and installed again.
# Sub-makes share the parent's check.
deps: $(DEPS_STAMP)
ifeq ($(ANOSIP_DEPS_CHECKED),)
$(DEPS_STAMP): FORCE
	$(Q)scripts/install-deps.sh
	$(Q)mkdir -p $(@D) && touch $@
else
$(DEPS_STAMP):
	$(Q)mkdir -p $(@D) && touch $@
endif
export ANOSIP_DEPS_CHECKED := 1
FORCE:

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto | $(DEPS_STAMP)
	@mkdir -p $(GEN)
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(GEN) $<

# Generated protobuf code is not ours to hold to -Wextra.
$(BUILD)/gen/%.o: $(GEN)/%.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CSTD) $(OPT) $(PKG_CFLAGS) -I$(GEN) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c | $(PROTO_H) $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_O)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_O) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -o $@ $(CLI_O) $(LIB) $(LDFLAGS_ALL)

$(SIM_BIN): $(SIM_PROG:%.c=$(BUILD)/%.o) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -o $@ $(SIM_PROG:%.c=$(BUILD)/%.o) $(LIB) $(LDFLAGS_ALL)

$(UNIT_BIN): $(UNIT_O) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -o $@ $(UNIT_O) $(LIB) $(LDFLAGS_ALL) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -o $@ $< $(LIB) $(LDFLAGS_ALL)

# --- tests: always the sanitizer build -----------------------------------
test: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory ASAN=1 build/asan/anosip build/asan/anosip-sim \
		build/asan/tests/unit-tests $(TOOL_SRC:tests/tools/%.c=build/asan/tests/%)
	$(Q)$(MAKE) --no-print-directory layout-check format-check
	$(Q)tests/run-all.sh build/asan

unit: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory ASAN=1 build/asan/tests/unit-tests
	$(Q)build/asan/tests/unit-tests

integration: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory ASAN=1 build/asan/anosip build/asan/anosip-sim \
		$(TOOL_SRC:tests/tools/%.c=build/asan/tests/%)
	$(Q)tests/run-all.sh build/asan integration

layout-check:
	$(Q)scripts/check-layout.sh

# --- demo ------------------------------------------------------------------
demo: $(BIN)
	$(Q)scripts/demo.sh $(BIN)

# --- bench -----------------------------------------------------------------
$(BENCH_BIN): $(BENCH_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(OPT) -o $@ $(BENCH_SRC:%.c=$(BUILD)/%.o) $(LIB) $(LDFLAGS_ALL)

bench: $(BIN) $(SIM_BIN) $(BENCH_BIN)
	$(Q)scripts/bench.sh $(BUILD)

# Only the SIP part of the benchmark (printed, not written to docs/).
bench-sip: $(BIN)
	$(Q)python3 scripts/bench_sip.py $(BIN) $(BUILD)/bench-sip.md

# Only the simulator's benchmark (printed, not written to docs/).
bench-sim: $(SIM_BIN)
	$(Q)python3 scripts/bench_sim.py $(SIM_BIN) $(BUILD)/bench-sim.md

# --- fuzz (clang libFuzzer) ------------------------------------------------
FUZZ_SECONDS ?= 20

fuzz-build: $(DEPS_STAMP)
	$(Q)scripts/fuzz.sh build

fuzz: $(DEPS_STAMP)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh run

# --- soak: steady call load on the sanitizer build ---------------------------
SOAK_SECONDS ?= 600

soak: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory ASAN=1 build/asan/anosip
	$(Q)SOAK_SECONDS=$(SOAK_SECONDS) python3 scripts/soak.py build/asan

format:
	$(Q)clang-format -i $(foreach p,$(PARTS) tests bench,$(wildcard $(p)/*.[ch] $(p)/*/*.[ch]))

format-check:
	$(Q)clang-format --dry-run -Werror $(foreach p,$(PARTS) tests bench,$(wildcard $(p)/*.[ch] $(p)/*/*.[ch]))

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
