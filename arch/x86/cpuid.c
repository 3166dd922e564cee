#include "arch/x86/cpuid.h"

#include <errno.h>

#define CPUID_1_EDX_HTT	       (1U << 28)
#define CPUID_1_ECX_HYPERVISOR (1U << 31)

/* Level types of leaves 0xb/0x1f (ECX[15:8]). */
#define CPUID_LEVEL_INVALID 0
#define CPUID_LEVEL_SMT	    1
#define CPUID_LEVEL_CORE    2

/* Bits needed to number n items: ceil(log2(n)). */
static unsigned cpuid_bits(unsigned n)
{
	unsigned b = 0;

	while ((1U << b) < n)
		b++;
	return b;
}

static void cpuid_leaf4(struct kvm_cpuid_entry2 *e, unsigned ncpus)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned cores = ncpus > 64 ? 64 : ncpus;
	unsigned sharing = level >= 3 ? ncpus : 1;

	if ((e->eax & 0x1f) == 0) /* no cache: the end of the list */
		return;
	if (sharing > 4096)
		sharing = 4096;
	e->eax &= ~(0x3fU << 26 | 0xfffU << 14);
	e->eax |= (cores - 1) << 26 | (sharing - 1) << 14;
}

/* One package of ncpus cores, one thread each: the SMT level holds 1 CPU
 * and needs no id bits; the core level holds them all. */
static void cpuid_topology(struct kvm_cpuid_entry2 *e, unsigned index,
			   unsigned ncpus)
{
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = CPUID_LEVEL_SMT << 8 | 0;
		break;
	case 1:
		e->eax = cpuid_bits(ncpus);
		e->ebx = ncpus;
		e->ecx = CPUID_LEVEL_CORE << 8 | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = CPUID_LEVEL_INVALID << 8 | (e->index & 0xff);
		break;
	}
	e->edx = index;
}

int cpuid_patch(struct kvm_cpuid_entry2 *entries, unsigned nent, unsigned index,
		unsigned ncpus)
{
	if (!ncpus || ncpus > CPUID_MAX_CPUS || index >= ncpus)
		return -EINVAL;
	for (unsigned i = 0; i < nent; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];

		switch (e->function) {
		case 1:
			e->ebx &= 0x0000ffff;
			e->ebx |= index << 24 | ncpus << 16;
			if (ncpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 4: cpuid_leaf4(e, ncpus); break;
		case 6: e->ecx = 0; break;
		case 0xb:
		case 0x1f: cpuid_topology(e, index, ncpus); break;
		case 0x40000000:
			if (e->eax < 0x40000001)
				e->eax = 0x40000001;
			e->ebx = CPUID_KVM_SIG_EBX;
			e->ecx = CPUID_KVM_SIG_ECX;
			e->edx = CPUID_KVM_SIG_EDX;
			break;
		case 0x80000008:
			/* NC = cores - 1, ApicIdCoreIdSize = id bits. */
			e->ecx &= ~0xf0ffU;
			e->ecx |= (ncpus - 1) | cpuid_bits(ncpus) << 12;
			break;
		case 0x8000001e:
			e->eax = index;	       /* extended APIC id */
			e->ebx = index & 0xff; /* core id, 1 thread per core */
			e->ecx = 0;	       /* node 0, 1 node per package */
			break;
		default: break;
		}
	}
	return 0;
}
