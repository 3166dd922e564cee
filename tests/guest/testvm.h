/*
 * The payload guests' VM, built with the VMM's own steps (vm_open,
 * vm_create, memmap_build, vm_set_memory, vcpu_create, regs_setup_pvh):
 * one vCPU, base-page RAM below the MMIO gap, the code at its entry in the
 * PVH state (flat 32-bit protected mode, paging off). Shared by every
 * test in tests/guest/ that runs a hand-built guest. The functions report
 * errors instead of asserting, so a forked child (the seccomp tests) can
 * use them too.
 */
#ifndef TESTS_GUEST_TESTVM_H
#define TESTS_GUEST_TESTVM_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define TESTVM_RAM (16ULL << 20)

struct testvm {
	struct vm vm;
	struct guest_mem gm;
	struct vcpu vcpu;
};

/*
 * Open /dev/kvm, create the VM, build TESTVM_RAM of guest memory the way
 * the VMM does (base pages, the MMIO gap of arch/layout.h) and register it,
 * then write `len` bytes of `code` at code_gpa. 0, or a negative errno
 * with err naming the step that failed (what was acquired is released).
 */
int testvm_open(struct testvm *t, uint64_t code_gpa, const void *code,
		size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same, with a base-page hotplug region of hp_size bytes at hp_gpa
 * (memmap_add_hotplug, as --mem-hotplug maps it) registered as a memory
 * slot too; hp_size 0: none. */
int testvm_open_hotplug(struct testvm *t, uint64_t code_gpa, const void *code,
			size_t len, uint64_t hp_gpa, uint64_t hp_size,
			char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Create vCPU 0 in the PVH entry state at entry_gpa with rsi set to `rsi`
 * (the boot-parameters pointer; payloads may use it as an argument).
 * Devices on the buses may be added before or after. 0, or a negative
 * errno with err naming the step.
 */
int testvm_vcpu(struct testvm *t, uint64_t entry_gpa, uint64_t rsi, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* Join and close the vCPU (if any), close the VM, unmap guest memory.
 * Safe after a partial open and to call twice. */
void testvm_close(struct testvm *t);

#endif
