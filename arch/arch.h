/*
 * What differs per architecture behind one interface: the KVM capabilities
 * an arch needs, its in-kernel interrupt controller (x86: PIC, IOAPIC and
 * PIT; arm64: the GIC), a vCPU's architectural setup, interrupt numbering,
 * the kernel loader and the entry registers. arch/x86/arch.c and
 * arch/arm64/arch.c implement it; the Makefile builds one of them. The
 * arch layer knows KVM file descriptors, not vmm/'s structures.
 */
#ifndef ARCH_ARCH_H
#define ARCH_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "arch/boot_src.h"
#include "mem/guest_mem.h"

/* struct arch_vm, struct arch_boot, ARCH_NAME, ARCH_DEFAULT_CMDLINE. */
#if defined(__x86_64__)
#include "arch/x86/arch_types.h"
#elif defined(__aarch64__)
#include "arch/arm64/arch_types.h"
#else
#error "microvm builds for x86_64 or aarch64 hosts only"
#endif

/*
 * /dev/kvm is open as kvm_fd: check every capability this arch needs and
 * read what the vCPUs will need from it (x86: the supported CPUID). 0, or
 * -ENOTSUP / -ENOMEM with err naming what is missing and the fix.
 */
int arch_vm_open(struct arch_vm *a, int kvm_fd, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The machine type argument of KVM_CREATE_VM. */
unsigned long arch_vm_type(const struct arch_vm *a);

/*
 * The VM exists (vm_fd): create its interrupt controller and what KVM
 * needs before any vCPU. 0, or a negative errno with the ioctl in err.
 */
int arch_vm_create(struct arch_vm *a, int vm_fd, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * vCPU `index` of `ncpus` was just created (vcpu_fd): its architectural
 * state (x86: CPUID, MSRs, FPU, LAPIC LINTs; arm64: KVM_ARM_VCPU_INIT with
 * PSCI 0.2, every vCPU but 0 powered off until the guest's CPU_ON). 0, or
 * a negative errno with "vCPU N: what" in err.
 */
int arch_vcpu_init(struct arch_vm *a, int vcpu_fd, unsigned index,
		   unsigned ncpus, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Every vCPU exists: finish the interrupt controller (arm64 initializes
 * the GIC, which must know its vCPUs). 0, or a negative errno with err.
 */
int arch_vm_ready(struct arch_vm *a, unsigned ncpus, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Release what arch_vm_open/arch_vm_create acquired (safe twice). */
void arch_vm_destroy(struct arch_vm *a);

/*
 * The `irq` field of KVM_IRQ_LINE for the board's interrupt line `line`
 * (x86: the GSI; arm64: SPI number `line`, INTID 32 + line). irqfd routes
 * take `line` itself.
 */
uint32_t arch_irq_line_number(unsigned line);

/*
 * Load kernel (and initrd unless NULL) into gm with cmdline and what the
 * guest needs to find its hardware: cpus vCPUs and the first nr_virtio
 * virtio-mmio slots of the layout (x86: on the command line, which the
 * board already wrote; arm64: in the device tree built here). *bi says
 * where and how to enter. 0, or a negative errno (-ENOEXEC: not a kernel
 * this arch boots) with one line in err.
 */
int arch_load(const struct arch_vm *a, const struct guest_mem *gm,
	      const struct boot_src *kernel, const struct boot_src *initrd,
	      const char *cmdline, unsigned cpus, unsigned nr_virtio,
	      struct arch_boot *bi, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* What was loaded and where it is entered, for the log. */
void arch_boot_describe(const struct arch_boot *bi, char *buf, size_t len);

/*
 * Load the boot vCPU's entry registers for bi (the others wait for the
 * guest to start them). 0 or a negative errno.
 */
int arch_vcpu_boot(int vcpu_fd, const struct arch_boot *bi)
	__attribute__((warn_unused_result));

#endif
