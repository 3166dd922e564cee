/*
 * Per-vCPU CPUID: patch the table KVM_GET_SUPPORTED_CPUID returned so each
 * vCPU reports its own APIC id and a topology of ncpus single-thread cores
 * in one package, and that it runs on a hypervisor (KVM).
 */
#ifndef ARCH_X86_CPUID_H
#define ARCH_X86_CPUID_H

#include <stdint.h>

#include <linux/kvm.h>

/* "KVMKVMKVM\0\0\0" in EBX, ECX, EDX of leaf 0x40000000. */
#define CPUID_KVM_SIG_EBX 0x4b4d564bU
#define CPUID_KVM_SIG_ECX 0x564b4d56U
#define CPUID_KVM_SIG_EDX 0x0000004dU

#define CPUID_MAX_CPUS 255 /* 8-bit xAPIC ids */

/*
 * Patch entries[0..nent) in place for vCPU `index` of `ncpus`:
 * leaf 1: EBX[31:24] APIC id, EBX[23:16] logical count, EDX HTT when
 * ncpus > 1, ECX hypervisor bit; leaf 4: cores per package and cache
 * sharing; leaves 0xb/0x1f: SMT and core levels, x2APIC id in EDX;
 * leaf 6: ECX (perf/energy hints) cleared; 0x40000000: KVM signature
 * (0x40000001 is left as KVM gave it); AMD 0x80000008 ECX core count and
 * 0x8000001e ids. Leaves absent from the table are not added.
 * Returns 0, or -EINVAL if index >= ncpus or ncpus is 0 or > CPUID_MAX_CPUS.
 */
int cpuid_patch(struct kvm_cpuid_entry2 *entries, unsigned nent, unsigned index,
		unsigned ncpus) __attribute__((warn_unused_result));

#endif
