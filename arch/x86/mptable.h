/*
 * Intel MultiProcessor Specification 1.4 table: how a kernel without ACPI
 * finds its CPUs, the IOAPIC and the ISA interrupt routing.
 */
#ifndef ARCH_X86_MPTABLE_H
#define ARCH_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/layout.h"
#include "mem/guest_mem.h"

/* Sizes of the structures (MP spec 1.4, chapter 4). */
#define MPTABLE_FLOATING_SIZE 16
#define MPTABLE_HEADER_SIZE   44
#define MPTABLE_CPU_SIZE      20
#define MPTABLE_ENTRY_SIZE    8	 /* bus, IOAPIC, IO and local interrupt */
#define MPTABLE_NR_IRQS	      24 /* IOAPIC pins, all routed as ISA IRQs */

/* Bytes the whole table takes for ncpus processors. */
#define MPTABLE_SIZE(ncpus)                            \
	(MPTABLE_FLOATING_SIZE + MPTABLE_HEADER_SIZE + \
	 (ncpus)*MPTABLE_CPU_SIZE +                    \
	 (2 + MPTABLE_NR_IRQS + 2) * MPTABLE_ENTRY_SIZE)

/* The floating pointer and, when it fits, the configuration table live in
 * the EBDA's last KiB below 640K, which Linux scans: room for 37 CPUs.
 * Larger tables go to the start of the BIOS area (reserved in the e820
 * like the EBDA), which the floating pointer points to. */
#define MPTABLE_END	  0xa0000ULL
#define MPTABLE_HIGH_ADDR 0xf0000ULL
#define MPTABLE_EBDA_MAX_CPUS \
	((MPTABLE_END - LAYOUT_EBDA_START - MPTABLE_SIZE(0)) / MPTABLE_CPU_SIZE)
#define MPTABLE_MAX_CPUS 64

/*
 * Write the floating pointer ("_MP_") at LAYOUT_EBDA_START and the
 * configuration table ("PCMP") right after it, or at MPTABLE_HIGH_ADDR
 * above MPTABLE_EBDA_MAX_CPUS: one processor per vCPU (APIC id = index,
 * cpu 0 the BSP), an ISA bus, the IOAPIC (id ncpus, LAYOUT_IOAPIC_ADDR),
 * IRQs 0-23 routed to the same IOAPIC pins, ExtINT on LINT0 and NMI on
 * LINT1. Returns 0, -EINVAL for 0 CPUs, -E2BIG above MPTABLE_MAX_CPUS,
 * -EFAULT if that memory is not RAM.
 */
int mptable_write(const struct guest_mem *gm, unsigned ncpus)
	__attribute__((warn_unused_result));

#endif
