/*
 * Initial vCPU state for the two kernel entries: the Linux 64-bit boot
 * protocol (long mode, identity-mapped 4 GiB, RSI = zero page) and PVH
 * (32-bit protected mode, paging off, EBX = hvm_start_info).
 */
#ifndef ARCH_X86_REGS_H
#define ARCH_X86_REGS_H

#include <stdint.h>

#include <linux/kvm.h>

#include "mem/guest_mem.h"

/* GDT selectors (entries at LAYOUT_GDT_ADDR). */
#define REGS_SEL_CODE	 0x08
#define REGS_SEL_DATA	 0x10
#define REGS_SEL_TSS	 0x18
#define REGS_GDT_ENTRIES 4

/* Descriptors: the code one is 64-bit for long mode, 32-bit for PVH. */
#define REGS_GDT_CODE64 0x00af9b000000ffffULL
#define REGS_GDT_CODE32 0x00cf9b000000ffffULL
#define REGS_GDT_DATA	0x00cf93000000ffffULL
#define REGS_GDT_TSS	0x00008b0000000067ULL /* busy TSS, base 0, limit 0x67 */

#define REGS_CR0_PE   (1ULL << 0)
#define REGS_CR0_NW   (1ULL << 29)
#define REGS_CR0_CD   (1ULL << 30)
#define REGS_CR0_PG   (1ULL << 31)
#define REGS_CR4_PAE  (1ULL << 5)
#define REGS_EFER_LME (1ULL << 8)
#define REGS_EFER_LMA (1ULL << 10)

/* Page table entry bits. */
#define REGS_PTE_P  (1ULL << 0)
#define REGS_PTE_RW (1ULL << 1)
#define REGS_PTE_PS (1ULL << 7)

/*
 * Identity-map [0, 4 GiB) with 2 MiB pages: PML4 at LAYOUT_PML4_ADDR, one
 * PDPT at LAYOUT_PDPTE_ADDR, four PD pages from LAYOUT_PDE_ADDR.
 * 0 or -EFAULT if that memory is not RAM.
 */
int regs_write_page_tables(const struct guest_mem *gm)
	__attribute__((warn_unused_result));

/*
 * Write the GDT (null, code, data, TSS) at LAYOUT_GDT_ADDR, with a 64-bit
 * code segment when long_mode, else a flat 32-bit one, and an empty IDT at
 * LAYOUT_IDT_ADDR. 0 or -EFAULT.
 */
int regs_write_gdt(const struct guest_mem *gm, int long_mode)
	__attribute__((warn_unused_result));

/*
 * Fill the state for the 64-bit entry: sregs (as got from KVM_GET_SREGS;
 * only segments, tables, CR0 (PE|PG set, CD|NW cleared), CR3, CR4 and
 * EFER change) and regs (cleared:
 * RIP entry, RSI zero_page, RSP/RBP LAYOUT_BOOT_STACK, RFLAGS 0x2).
 */
void regs_setup_long(struct kvm_sregs *sregs, struct kvm_regs *regs,
		     uint64_t entry, uint64_t zero_page);

/*
 * Fill the state for the PVH entry: 32-bit flat segments, CR0 PE set and
 * PG|CD|NW cleared (paging off), CR4/EFER cleared; regs cleared, RIP entry, RBX start_info,
 * RFLAGS 0x2.
 */
void regs_setup_pvh(struct kvm_sregs *sregs, struct kvm_regs *regs,
		    uint64_t entry, uint64_t start_info);

/* Decode a GDT descriptor into KVM's segment form (exported for tests). */
void regs_segment(uint64_t desc, uint16_t selector, struct kvm_segment *seg);

#endif
