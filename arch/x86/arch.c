/* x86_64's half of arch/arch.h: PIC/IOAPIC/PIT, CPUID, MSRs, LAPIC, the
 * ELF/PVH and bzImage loaders and the entry registers. */
#include "arch/arch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/layout.h"
#include "arch/x86/cpuid.h"

#define ARCH_CPUID_MAX 256

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

struct arch_cap {
	int cap;
	const char *name;
};

static const struct arch_cap arch_caps[] = {
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
};

int arch_vm_open(struct arch_vm *a, int kvm_fd, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	for (unsigned i = 0; i < sizeof(arch_caps) / sizeof(arch_caps[0]);
	     i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, arch_caps[i].cap) <= 0) {
			snprintf(err, errlen,
				 "KVM lacks %s, which microvm needs: use a "
				 "newer host kernel",
				 arch_caps[i].name);
			return -ENOTSUP;
		}
	}
	a->supported_cpuid = calloc(
		1, sizeof(struct kvm_cpuid2) +
			   ARCH_CPUID_MAX * sizeof(struct kvm_cpuid_entry2));
	if (!a->supported_cpuid) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->supported_cpuid->nent = ARCH_CPUID_MAX;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, a->supported_cpuid)) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s",
			 strerror(errno));
		arch_vm_destroy(a);
		return -ENOTSUP;
	}
	return 0;
}

unsigned long arch_vm_type(const struct arch_vm *a)
{
	(void)a;
	return 0;
}

int arch_vm_create(struct arch_vm *a, int vm_fd, char *err, size_t errlen)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t idmap = LAYOUT_KVM_IDMAP_ADDR;
	const char *what;
	int ret;

	(void)a;
	/* Intel needs these pages even with unrestricted guests; they sit
	 * in the MMIO gap where no RAM or device lives. */
	what = "KVM_SET_TSS_ADDR";
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS_ADDR))
		goto fail;
	what = "KVM_SET_IDENTITY_MAP_ADDR";
	if (ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap))
		goto fail;
	what = "KVM_CREATE_IRQCHIP";
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0))
		goto fail;
	what = "KVM_CREATE_PIT2";
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit))
		goto fail;
	return 0;
fail:
	ret = -errno;
	snprintf(err, errlen, "%s: %s", what, strerror(-ret));
	return ret;
}

static int arch_set_cpuid(const struct arch_vm *a, int fd, unsigned index,
			  unsigned ncpus)
{
	const struct kvm_cpuid2 *sup = a->supported_cpuid;
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret;

	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	ret = cpuid_patch(c->entries, c->nent, index, ncpus);
	if (!ret && ioctl(fd, KVM_SET_CPUID2, c))
		ret = -errno;
	free(c);
	return ret;
}

static int arch_set_msrs(int fd)
{
	static const uint32_t zero_msrs[] = {
		MSR_IA32_SYSENTER_CS,
		MSR_IA32_SYSENTER_ESP,
		MSR_IA32_SYSENTER_EIP,
		MSR_STAR,
		MSR_CSTAR,
		MSR_KERNEL_GS_BASE,
		MSR_SYSCALL_MASK,
		MSR_LSTAR,
		MSR_IA32_TSC,
	};
	enum { N = sizeof(zero_msrs) / sizeof(zero_msrs[0]) + 2 };
	/* struct kvm_msrs ends in a flexible array: give it room in a
	 * suitably aligned buffer. */
	union {
		struct kvm_msrs hdr;
		uint8_t buf[sizeof(struct kvm_msrs) +
			    N * sizeof(struct kvm_msr_entry)];
	} m;
	struct kvm_msr_entry *e = m.hdr.entries;
	unsigned n = 0;

	memset(&m, 0, sizeof(m));
	for (unsigned i = 0; i < N - 2; i++)
		e[n++].index = zero_msrs[i];
	/* Fast strings on; MTRRs enabled with write-back as the default, so
	 * the guest does not run its RAM uncached. */
	e[n].index = MSR_IA32_MISC_ENABLE;
	e[n++].data = 1;
	e[n].index = MSR_MTRR_DEF_TYPE;
	e[n++].data = (1 << 11) | 6;
	m.hdr.nmsrs = n;
	return ioctl(fd, KVM_SET_MSRS, &m) == (int)n ? 0 : -EINVAL;
}

static int arch_set_lint(int fd)
{
	struct kvm_lapic_state lapic;
	uint32_t *lvt0, *lvt1;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic))
		return -errno;
	lvt0 = (uint32_t *)(void *)&lapic.regs[APIC_LVT0];
	lvt1 = (uint32_t *)(void *)&lapic.regs[APIC_LVT1];
	*lvt0 = (*lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic))
		return -errno;
	return 0;
}

int arch_vcpu_init(struct arch_vm *a, int vcpu_fd, unsigned index,
		   unsigned ncpus, char *err, size_t errlen)
{
	struct kvm_fpu fpu;
	const char *what;
	int ret;

	what = "KVM_SET_CPUID2";
	if ((ret = arch_set_cpuid(a, vcpu_fd, index, ncpus)))
		goto fail;
	what = "KVM_SET_MSRS";
	if ((ret = arch_set_msrs(vcpu_fd)))
		goto fail;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	what = "KVM_SET_FPU";
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu)) {
		ret = -errno;
		goto fail;
	}
	what = "KVM_SET_LAPIC";
	if ((ret = arch_set_lint(vcpu_fd)))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "vCPU %u: %s: %s", index, what, strerror(-ret));
	return ret;
}

int arch_vm_ready(struct arch_vm *a, unsigned ncpus, char *err, size_t errlen)
{
	/* The in-kernel LAPICs exist with their vCPUs: nothing to finish. */
	(void)a;
	(void)ncpus;
	(void)err;
	(void)errlen;
	return 0;
}

void arch_vm_destroy(struct arch_vm *a)
{
	free(a->supported_cpuid);
	a->supported_cpuid = NULL;
}

uint32_t arch_irq_line_number(unsigned line)
{
	return line;
}

int arch_load(const struct arch_vm *a, const struct guest_mem *gm,
	      const struct boot_src *kernel, const struct boot_src *initrd,
	      const char *cmdline, unsigned cpus, unsigned nr_virtio,
	      struct arch_boot *bi, char *err, size_t errlen)
{
	/* The virtio devices are on the command line already. */
	(void)a;
	(void)nr_virtio;
	return boot_load_src(gm, kernel, initrd, cmdline, cpus, &bi->info, err,
			     errlen);
}

void arch_boot_describe(const struct arch_boot *bi, char *buf, size_t len)
{
	snprintf(buf, len, "%s, %s entry at %#llx",
		 boot_format_name(bi->info.format),
		 boot_entry_name(bi->info.mode),
		 (unsigned long long)bi->info.entry);
}

int arch_vcpu_boot(int vcpu_fd, const struct arch_boot *bi)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	boot_setup_regs(&bi->info, &sregs, &regs);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs))
		return -errno;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}
