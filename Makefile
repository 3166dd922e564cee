# microvm: one non-recursive Makefile.
# Everything but vmm/main.c goes into build/libmicrovm.a, which the unit and
# payload tests link.

CC ?= cc
BUILD := build
PKGS := libseccomp check libfdt

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wundef -Wvla -Wcast-qual \
	-Wwrite-strings -Wnull-dereference -Wimplicit-fallthrough
ifeq ($(CI),true)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

OPT ?= -O2
CFLAGS ?= $(OPT) -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -I. $(PKG_CFLAGS) -pthread \
	-fno-strict-aliasing -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS += -pthread $(EXTRA_LDFLAGS)

SRCS := $(wildcard vmm/*.c mem/*.c devices/*.c boot/*.c)
LIB_SRCS := $(filter-out vmm/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libmicrovm.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/main.o
GUEST_SRCS := $(wildcard tests/guest/test_*.c)
GUEST_OBJS := $(GUEST_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/guest/main.o

.PHONY: all check test clean format format-check run bench-mem static
all: $(BUILD)/microvm

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/microvm: $(BUILD)/vmm/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(SECCOMP_LIBS)

# A static build for the nested L1 initramfs, which has no shared libraries.
static: $(BUILD)/microvm-static
$(BUILD)/microvm-static: $(BUILD)/vmm/main.o $(LIB)
	$(CC) $(LDFLAGS) -static -o $@ $^ $(SECCOMP_LIBS)

# Each test directory's runner gets a generated list of its suites: a file
# tests/X/test_foo.c defines `Suite *foo_suite(void)`. No constructors.
$(BUILD)/tests/%/suites.h: $(wildcard tests/*/test_*.c)
	@mkdir -p $(dir $@)
	@{ for f in $(sort $(wildcard tests/$*/test_*.c)); do \
		n=$$(basename $$f .c); n=$${n#test_}; \
		echo "SUITE($$n)"; done; } > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/unit/main.o: $(BUILD)/tests/unit/suites.h
$(BUILD)/tests/guest/main.o: $(BUILD)/tests/guest/suites.h
$(BUILD)/tests/unit/main.o: tests/harness/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/tests/unit -DRUNNER_NAME='"unit"' -c -o $@ $<
$(BUILD)/tests/guest/main.o: tests/harness/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/tests/guest -DRUNNER_NAME='"guest"' -c -o $@ $<

$(BUILD)/tests/harness/harness.o: tests/harness/harness.c
$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/tests/harness/harness.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(SECCOMP_LIBS)
$(BUILD)/guest-tests: $(GUEST_OBJS) $(BUILD)/tests/harness/harness.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(SECCOMP_LIBS)

# Unit tests: no KVM needed.
check: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

# Everything: unit, payload guests on this machine's KVM, Linux boots.
test: $(BUILD)/microvm $(BUILD)/unit-tests $(BUILD)/guest-tests
	scripts/run-tests

bench-mem: $(BUILD)/bench-mem
	$(BUILD)/bench-mem $(BENCH_ARGS)
$(BUILD)/bench-mem: $(BUILD)/scripts/bench_mem.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
