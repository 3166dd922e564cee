#include "tests/guest/testvm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/layout.h"
#include "arch/x86/regs.h"
#include "mem/memmap.h"

/* Prefix err with the step that failed, keeping the step's own message. */
static int testvm_fail(int ret, const char *step, char *err, size_t errlen)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", err[0] ? err : strerror(-ret));
	snprintf(err, errlen, "%s: %s", step, why);
	return ret;
}

int testvm_open(struct testvm *t, uint64_t code_gpa, const void *code,
		size_t len, char *err, size_t errlen)
{
	return testvm_open_hotplug(t, code_gpa, code, len, 0, 0, err, errlen);
}

int testvm_open_hotplug(struct testvm *t, uint64_t code_gpa, const void *code,
			size_t len, uint64_t hp_gpa, uint64_t hp_size,
			char *err, size_t errlen)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct memmap_info info;
	int ret;

	memset(t, 0, sizeof(*t));
	t->vcpu.fd = -1;
	err[0] = 0;
	ret = vm_open(&t->vm, err, errlen);
	if (ret) {
		testvm_fail(ret, "vm_open", err, errlen);
		goto fail_vm;
	}
	ret = vm_create(&t->vm, err, errlen);
	if (ret) {
		testvm_fail(ret, "vm_create", err, errlen);
		goto fail_vm;
	}
	ret = memmap_build(&t->gm, TESTVM_RAM, LAYOUT_MMIO_GAP_START,
			   LAYOUT_MMIO_GAP_END, &pol, &info, err, errlen);
	if (ret) {
		testvm_fail(ret, "memmap_build", err, errlen);
		goto fail_vm;
	}
	if (hp_size) {
		ret = memmap_add_hotplug(&t->gm, hp_gpa, hp_size,
					 REGION_PAGES_BASE, -1, "hotplug", err,
					 errlen);
		if (ret) {
			testvm_fail(ret, "memmap_add_hotplug", err, errlen);
			goto fail_mem;
		}
	}
	ret = vm_set_memory(&t->vm, &t->gm, err, errlen);
	if (ret) {
		testvm_fail(ret, "vm_set_memory", err, errlen);
		goto fail_mem;
	}
	err[0] = 0;
	ret = guest_mem_write(&t->gm, code_gpa, code, len);
	if (ret) {
		testvm_fail(ret, "guest_mem_write (code)", err, errlen);
		goto fail_mem;
	}
	return 0;

fail_mem:
	guest_mem_destroy(&t->gm);
fail_vm:
	vm_destroy(&t->vm);
	return ret;
}

int testvm_vcpu(struct testvm *t, uint64_t entry_gpa, uint64_t rsi, char *err,
		size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	err[0] = 0;
	ret = vcpu_create(&t->vcpu, &t->vm, 0, err, errlen);
	if (ret)
		return testvm_fail(ret, "vcpu_create", err, errlen);
	if (ioctl(t->vcpu.fd, KVM_GET_SREGS, &sregs))
		return testvm_fail(-errno, "KVM_GET_SREGS", err, errlen);
	/* Flat 32-bit protected mode, paging off: the PVH entry state. */
	regs_setup_pvh(&sregs, &regs, entry_gpa, 0);
	regs.rsi = rsi;
	if (ioctl(t->vcpu.fd, KVM_SET_SREGS, &sregs))
		return testvm_fail(-errno, "KVM_SET_SREGS", err, errlen);
	if (ioctl(t->vcpu.fd, KVM_SET_REGS, &regs))
		return testvm_fail(-errno, "KVM_SET_REGS", err, errlen);
	return 0;
}

void testvm_close(struct testvm *t)
{
	vcpu_destroy(&t->vcpu);
	vm_destroy(&t->vm);
	guest_mem_destroy(&t->gm);
}
