# microvm: one non-recursive Makefile.
# Everything but vmm/main.c goes into build/libmicrovm.a, which the unit and
# payload tests link.

# ARCH: the guest (= host) architecture, x86 or arm64; defaults to the
# host's. arch/$(ARCH)/ holds what differs; everything else is shared.
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
# The names uname -m gives are taken too (ARCH=aarch64, ARCH=x86_64).
override ARCH := $(patsubst aarch64,arm64,$(patsubst x86_64,x86,$(ARCH)))
# Scripts the recipes run (run-vm, bench-boot, ...) read it too.
export ARCH
ifeq ($(filter x86 arm64,$(ARCH)),)
$(error ARCH=$(ARCH): microvm builds for ARCH=x86 or ARCH=arm64)
endif

# Cross builds (ARCH not the host's) go to build/ARCH/ with the Debian
# cross compiler and the multiarch libraries (scripts/install-deps).
ifneq ($(ARCH),$(HOST_ARCH))
ifeq ($(ARCH),arm64)
CC := aarch64-linux-gnu-gcc
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
else
CC := x86_64-linux-gnu-gcc
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
endif
BUILD := build/$(ARCH)
else
CC ?= cc
PKG_CONFIG := pkg-config
BUILD := build
endif
PKGS := libseccomp check

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
SECCOMP_LIBS := $(shell $(PKG_CONFIG) --libs libseccomp 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

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

SRCS := $(wildcard lib/*.c mem/*.c devices/*.c arch/*.c arch/$(ARCH)/*.c \
	vmm/*.c vmm/$(ARCH)/*.c)
# vmm/snapshot.c saves x86 KVM state; other arches build their
# vmm/ARCH/snapshot.c instead.
ifneq ($(ARCH),x86)
SRCS := $(filter-out vmm/snapshot.c,$(SRCS))
endif
LIB_SRCS := $(filter-out vmm/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libmicrovm.a

# Tests of one arch's code live in tests/unit/ARCH/.
UNIT_SRCS := $(wildcard tests/unit/test_*.c tests/unit/$(ARCH)/test_*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/main.o \
	$(BUILD)/tests/unit/board_fixture.o
# The arm64 device tree builder and boot plan are portable C with no KVM:
# the unit tests build and test them on every host (libfdt). Left out when
# LIB has them.
UNIT_OBJS += $(filter-out $(LIB_OBJS),$(BUILD)/arch/arm64/dtb.o \
	$(BUILD)/arch/arm64/boot.o)
# libfdt-dev is not Multi-Arch: same; a host with libfdt-dev:arm64 (for
# ARCH=arm64) has only the runtime libfdt.so.1 of its own arch: link that.
FDT_LIBS := $(if $(findstring /,$(shell $(CC) -print-file-name=libfdt.so)),\
	-lfdt,-l:libfdt.so.1)
# The arm64 VMM builds its guest's device tree with libfdt.
ARCH_LIBS := $(if $(filter arm64,$(ARCH)),-lfdt)
GUEST_SRCS := $(wildcard tests/guest/test_*.c)
GUEST_OBJS := $(GUEST_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/guest/testvm.o \
	$(BUILD)/tests/guest/main.o

.PHONY: all check test clean format format-check run bench-mem static \
	fuzz fuzz-smoke check-asan
all: $(BUILD)/microvm

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/microvm: $(BUILD)/vmm/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(SECCOMP_LIBS) $(ARCH_LIBS)

# A static build for the nested L1 initramfs, which has no shared libraries.
static: $(BUILD)/microvm-static
$(BUILD)/microvm-static: $(BUILD)/vmm/main.o $(LIB)
	$(CC) $(LDFLAGS) -static -o $@ $^ $(SECCOMP_LIBS) $(ARCH_LIBS)

# Each test directory's runner gets a generated list of its suites: a file
# tests/X/test_foo.c defines `Suite *foo_suite(void)`. No constructors.
$(BUILD)/tests/%/suites.h: $(UNIT_SRCS) $(GUEST_SRCS)
	@mkdir -p $(dir $@)
	@{ for f in $(sort $(filter tests/$*/%,$(UNIT_SRCS) $(GUEST_SRCS))); do \
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
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(SECCOMP_LIBS) $(FDT_LIBS)
$(BUILD)/guest-tests: $(GUEST_OBJS) $(BUILD)/tests/harness/harness.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(SECCOMP_LIBS)

# Test-only build: every vCPU thread makes a syscall outside its seccomp
# list (openat) at its first exit; tests/boot/seccomp.sh expects SIGSYS.
.PHONY: seccomp-selftest
seccomp-selftest:
	@$(MAKE) -s BUILD=$(BUILD)/seccomp-selftest \
		EXTRA_CFLAGS=-DMICROVM_SECCOMP_SELFTEST \
		$(BUILD)/seccomp-selftest/microvm

# Unit tests: no KVM needed. A cross build (ARCH not the host's) builds
# them but cannot run them here: it says SKIP.
check: $(BUILD)/unit-tests
ifeq ($(ARCH),$(HOST_ARCH))
	$(BUILD)/unit-tests
else
	@echo "unit: SKIP: $(BUILD)/unit-tests is an $(ARCH) binary and this" \
		"host is $(HOST_ARCH): run it on an $(ARCH) host"
endif

# Unit and payload-guest tests built with AddressSanitizer and UBSan (any
# UB aborts) into build/asan/, then run; prints each runner's summary and
# one combined "asan: N passed, N failed, N skipped" line last. ASan leaves
# SIGSEGV alone: the guard-page tests expect the plain signal. Suites in
# ASAN_SKIP_SUITES (runner:suite) are not run and count as one skip each,
# with ASAN_SKIP_WHY; none need it now (the seccomp lists admit what the
# sanitizer runtime calls in ASan builds).
ASAN_BUILD := $(BUILD)/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
ASAN_SKIP_SUITES :=
ASAN_SKIP_WHY :=
check-asan:
	@$(MAKE) -s BUILD=$(ASAN_BUILD) OPT=-O1 EXTRA_CFLAGS="$(ASAN_FLAGS)" \
		EXTRA_LDFLAGS="$(ASAN_FLAGS)" $(ASAN_BUILD)/unit-tests \
		$(ASAN_BUILD)/guest-tests
	@. scripts/summary.sh; summary_reset; bad=0; for r in unit guest; do \
		log=$(ASAN_BUILD)/$$r.log; run=; \
		for x in $$(sed -n 's/^SUITE(\(.*\))$$/\1/p' \
				$(ASAN_BUILD)/tests/$$r/suites.h); do \
			case " $(ASAN_SKIP_SUITES) " in \
			*" $$r:$$x "*) summary_add 0 0 1; echo "asan: $$r suite" \
				"$$x SKIP: $(ASAN_SKIP_WHY)";; \
			*) run="$$run $$x";; esac; done; \
		ASAN_OPTIONS=handle_segv=0:detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1 \
			$(ASAN_BUILD)/$$r-tests $$run > $$log 2>&1; rc=$$?; \
		cat $$log; \
		if ! summary_parse $$log "^$$r: "; then \
			echo "asan: $$r runner gave no summary (exit $$rc)"; \
			summary_add 0 1 0; bad=1; continue; fi; \
		summary_add $$parsed_p $$parsed_f $$parsed_s; \
		if [ $$rc -ne 0 ] && [ $$parsed_f -eq 0 ]; then \
			echo "asan: $$r runner exited $$rc with no failed test"; \
			summary_add 0 1 0; fi; \
		if grep -aqE 'ERROR: (Address|Leak)Sanitizer|runtime error:' $$log; then \
			echo "asan: sanitizer report in $$log"; bad=1; fi; \
	done; [ $$bad -eq 0 ] || [ $$summary_f -gt 0 ] || summary_add 0 1 0; \
	summary_print asan; [ $$summary_f -eq 0 ]

# Everything: unit, payload guests on this machine's KVM, Linux boots.
test: $(BUILD)/microvm $(BUILD)/microvm-static $(BUILD)/unit-tests \
	$(BUILD)/guest-tests
	scripts/run-tests

# libFuzzer targets (clang): fuzz/NAME_fuzz.c with seeds in fuzz/corpus/NAME/.
# `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-smoke` (part of make
# test) runs each for FUZZ_RUNS inputs on the committed corpus.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -I. -Wall -Wextra
FUZZ_RUNS ?= 5000
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst fuzz/%_fuzz.c,%,$(wildcard fuzz/*_fuzz.c))
FUZZ_LIB_SRCS := $(filter-out vmm/main.c,$(SRCS))
$(BUILD)/fuzz/%-fuzz: fuzz/%_fuzz.c $(wildcard fuzz/*.h) $(FUZZ_LIB_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) -pthread $(SECCOMP_LIBS)
fuzz-smoke: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%-fuzz)
	@. scripts/summary.sh; summary_reset; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		if $(BUILD)/fuzz/$$t-fuzz -runs=$(FUZZ_RUNS) \
			$(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t \
			> $(BUILD)/fuzz/$$t.log 2>&1; then \
			echo "fuzz $$t: PASS ($(FUZZ_RUNS) runs)"; summary_add 1 0 0; \
		else echo "fuzz $$t: FAIL (see $(BUILD)/fuzz/$$t.log)"; \
			tail -n 30 $(BUILD)/fuzz/$$t.log; summary_add 0 1 0; fi; \
	done; summary_print fuzz; [ $$summary_f -eq 0 ]
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%-fuzz)
	@for t in $(FUZZ_TARGETS); do mkdir -p $(BUILD)/fuzz/corpus-$$t; \
		$(BUILD)/fuzz/$$t-fuzz -max_total_time=$(FUZZ_SECONDS) \
			$(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; done

# Boot the default microVM with the built kernel and initramfs: directly on
# hardware KVM, inside the nested L1 otherwise. RUN_ARGS adds options.
run: $(BUILD)/microvm $(BUILD)/microvm-static
	ARCH=$(ARCH) scripts/run-vm $(RUN_ARGS)

bench-mem: $(BUILD)/bench-mem
	$(BUILD)/bench-mem $(BENCH_ARGS)
# Guest memory into a snapshot and back per page policy (mem/snapshot.c):
# save, copy restore, lazy restore to first touch and to all (see
# scripts/bench_memsnap.c; BENCH_ARGS="--size 128M --runs 3").
.PHONY: bench-memsnap
bench-memsnap: $(BUILD)/bench-memsnap
	$(BUILD)/bench-memsnap $(BENCH_ARGS)
.PHONY: bench-io
bench-io: ; scripts/bench-io $(BENCH_ARGS)
.PHONY: bench-balloon
bench-balloon: ; scripts/bench-balloon $(BENCH_ARGS)
.PHONY: bench-cmdline
bench-cmdline: ; scripts/bench-cmdline $(BENCH_ARGS)
.PHONY: bench-restore
bench-restore: ; scripts/bench-restore $(BENCH_ARGS)
.PHONY: bench-hotplug
bench-hotplug: ; scripts/bench-hotplug $(BENCH_ARGS)

.PHONY: guest-kernel guest-initramfs lint-sh check-layers
guest-kernel:
	scripts/build-guest-kernel
guest-initramfs:
	scripts/build-initramfs
# Every shell script through shellcheck (Debian's package, scripts/install-deps):
# one line per file, then "lint-sh: N passed, N failed, N skipped". Scripts
# with a #! line are checked as what they declare, following sourced files
# (-x); the boot case files and guest scripts are POSIX sh fragments.
LINT_SH := .ci/run $(wildcard scripts/bench-balloon scripts/bench-boot \
	scripts/bench-cmdline scripts/bench-restore \
	scripts/bench-io scripts/build-guest-kernel scripts/build-initramfs \
	scripts/check-layers scripts/build-rootfs scripts/install-deps \
	scripts/kvm-mode scripts/nested scripts/run-tests scripts/run-vm scripts/test \
	scripts/lib.sh scripts/summary.sh scripts/bench-boot.d/*.sh scripts/bench-boot.d/fake-vmm \
	scripts/bench-restore.d/*.sh \
	tests/boot/run tests/boot/errors.sh tests/boot/seccomp.sh \
	tests/boot/reliability.sh tests/boot/files.sh tests/boot/zones.sh \
	tests/boot/snapshot.sh \
	tests/boot/hotplug.sh \
	scripts/hugepool.sh \
	tests/tiny/build.sh \
	tests/scripts/run tests/user/run tests/user/*.sh)
LINT_SH_FRAGMENTS := $(wildcard tests/guest/scripts/*.sh tests/boot/cases-*.sh)
lint-sh:
	@. scripts/summary.sh; summary_reset; \
	if ! command -v shellcheck >/dev/null; then \
		echo "lint-sh: SKIP: shellcheck is not installed" \
			"(scripts/install-deps installs it)"; \
		summary_add 0 0 1; summary_print lint-sh; exit 0; fi; \
	for x in $(LINT_SH) -s $(LINT_SH_FRAGMENTS); do \
		if [ "$$x" = -s ]; then opt="-s sh"; continue; fi; \
		if shellcheck -x $${opt:-} "$$x"; then summary_add 1 0 0; \
		else echo "lint-sh: FAIL $$x"; summary_add 0 1 0; fi; \
	done; summary_print lint-sh; [ $$summary_f -eq 0 ]

# No #include goes up a layer (lib < mem < arch, devices < vmm): one line
# per violation, then "layers: N passed, N failed, N skipped".
check-layers:
	@scripts/check-layers

$(BUILD)/bench-mem: $(BUILD)/scripts/bench_mem.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^
$(BUILD)/bench-memsnap: $(BUILD)/scripts/bench_memsnap.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^

# Boot-time benchmark of the page policies: boot time, faults, KVM page
# sizes, VMM RSS; table, CSV and chart under build/bench/ (see
# scripts/bench-boot --help; BENCH_ARGS="--quick" for a short run).
.PHONY: bench
bench: all static
	scripts/bench-boot --no-build $(BENCH_ARGS)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
