# hpcrec — the one build entry.  `make` builds bin/hpcrec.
#   make deps    install the Debian packages (idempotent; root)
#   make test    build everything and run every test (unit, multi-rank, pipeline, fuzz replay)
#   make check   the fast tier: unit tests only
#   make asan    the same tests against an ASan + UBSan build
#   make run     the main pipeline locally under mpirun on generated data
#   make bench   end-to-end benchmarks (numbers for the closing notes)
#   make fuzz    libFuzzer targets (clang), run for FUZZ_SECONDS each

VERSION   := 0.1.0
CC        := mpicc
BUILD     ?= build
SAN       ?=
OPT       ?= -O2
PKGS      := libzstd libarchive jansson libxxhash zlib liblzma sqlite3 libcrypto
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wformat=2 -Wno-format-truncation
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -I. $(SAN) \
             -DHR_VERSION=\"$(VERSION)\" -DHR_GIT=\"$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)\" \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lbz2 -lscalapack-openmpi -lopenblas -llapack -lm
LDFLAGS   += $(SAN)

MODULES   := core mpi partition solvers io jobs
LIB_SRCS  := $(filter-out jobs/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libhpcrec.a
BIN       ?= bin/hpcrec
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all deps test check asan run bench fuzz clean layout-check prefetch-check
all: $(BIN) $(UNIT_BINS) $(TOOL_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/jobs/main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  TOOL  $@"
	@$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

deps:
	bash tests/deps.sh

# Only mpi/ and jobs/ may talk to MPI; solvers/ and io/ never (DESIGN.md).
layout-check:
	@bad=$$(grep -rlE '#include *[<"]mpi\.h[>"]|MPI_[A-Z][a-z]+\(' --include='*.[ch]' core partition solvers io 2>/dev/null); \
	 if [ -n "$$bad" ]; then echo "layout-check: MPI used outside mpi/ and jobs/: $$bad"; exit 1; fi; echo "layout-check: ok"

# The gathers' row prefetch (solvers/als_kern.h) must survive the compiler: GCC deletes a call to
# a void function whose only effect is a prefetch unless it is inlined early.  A probe compiled
# with the project's flags must still hold a prefetch instruction (x86 or ARM).  Two callers:
# GCC inlines a static function called once, and a one-caller probe would pass regardless.
prefetch-check:
	@printf '#include "solvers/als_kern.h"\n#define ARGS const hr_als_rows *R, const float *Y, const float *b, uint64_t e, uint64_t n, int k\nvoid p1(ARGS);\nvoid p2(ARGS);\nvoid p1(ARGS) { hr_als_prefetch(R, Y, b, e, n, k); }\nvoid p2(ARGS) { hr_als_prefetch(R, Y, b, e, n, k); }\n' | \
	 $(CC) $(CFLAGS) -x c -S -o - - | grep -qE '^\s+(prefetch[a-z0-9]*|prfm)\s' || { echo "prefetch-check: hr_als_prefetch compiles to no prefetch instruction"; exit 1; }; echo "prefetch-check: ok"

test: deps
	$(MAKE) all layout-check prefetch-check
	bash tests/run.sh

check: all
	bash tests/run.sh --unit

asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/hpcrec SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" OPT=-O1 all
	HR_BUILD=build-asan HR_BIN=build-asan/hpcrec bash tests/run.sh --unit --fuzz-replay --only test_pipeline

run: deps
	$(MAKE) $(BIN)
	bash tests/demo.sh

bench: deps
	$(MAKE) $(BIN) $(TOOL_BINS)
	bash tests/bench/run.sh

fuzz:
	bash tests/fuzz/run.sh

clean:
	rm -rf build build-asan bin

-include $(LIB_OBJS:.o=.d) $(BUILD)/obj/jobs/main.d
