#include "arch/x86/regs.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

#define REGS_PAGE	     4096
#define REGS_PD_PAGES	     4 /* 4 x 512 x 2 MiB = 4 GiB */
#define REGS_RFLAGS_RESERVED 0x2ULL
#define REGS_IDT_LIMIT	     7 /* one empty gate */

int regs_write_page_tables(const struct guest_mem *gm)
{
	uint64_t pml4[512] = {0}, pdpt[512] = {0}, pd[512];

	_Static_assert(LAYOUT_PML4_ADDR + REGS_PAGE <= LAYOUT_PDPTE_ADDR &&
			       LAYOUT_PDPTE_ADDR + REGS_PAGE <= LAYOUT_PDE_ADDR,
		       "page table layout");
	pml4[0] = LAYOUT_PDPTE_ADDR | REGS_PTE_P | REGS_PTE_RW;
	for (unsigned i = 0; i < REGS_PD_PAGES; i++)
		pdpt[i] = (LAYOUT_PDE_ADDR + (uint64_t)i * REGS_PAGE) |
			  REGS_PTE_P | REGS_PTE_RW;
	if (guest_mem_write(gm, LAYOUT_PML4_ADDR, pml4, sizeof(pml4)) ||
	    guest_mem_write(gm, LAYOUT_PDPTE_ADDR, pdpt, sizeof(pdpt)))
		return -EFAULT;
	for (unsigned i = 0; i < REGS_PD_PAGES; i++) {
		for (unsigned j = 0; j < 512; j++)
			pd[j] = (((uint64_t)i * 512 + j) << 21) | REGS_PTE_P |
				REGS_PTE_RW | REGS_PTE_PS;
		if (guest_mem_write(gm,
				    LAYOUT_PDE_ADDR + (uint64_t)i * REGS_PAGE,
				    pd, sizeof(pd)))
			return -EFAULT;
	}
	return 0;
}

int regs_write_gdt(const struct guest_mem *gm, int long_mode)
{
	const uint64_t gdt[REGS_GDT_ENTRIES] = {
		0,
		long_mode ? REGS_GDT_CODE64 : REGS_GDT_CODE32,
		REGS_GDT_DATA,
		REGS_GDT_TSS,
	};
	const uint64_t idt = 0;

	_Static_assert(LAYOUT_GDT_ADDR + sizeof(gdt) <= LAYOUT_IDT_ADDR,
		       "GDT runs into the IDT");
	if (guest_mem_write(gm, LAYOUT_GDT_ADDR, gdt, sizeof(gdt)) ||
	    guest_mem_write(gm, LAYOUT_IDT_ADDR, &idt, sizeof(idt)))
		return -EFAULT;
	return 0;
}

void regs_segment(uint64_t desc, uint16_t selector, struct kvm_segment *seg)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));

	memset(seg, 0, sizeof(*seg));
	seg->base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000);
	seg->g = (desc >> 55) & 1;
	/* KVM wants the limit in bytes. */
	seg->limit = seg->g ? (limit << 12) | 0xfff : limit;
	seg->selector = selector;
	seg->type = (desc >> 40) & 0xf;
	seg->s = (desc >> 44) & 1;
	seg->dpl = (desc >> 45) & 3;
	seg->present = (desc >> 47) & 1;
	seg->avl = (desc >> 52) & 1;
	seg->l = (desc >> 53) & 1;
	seg->db = (desc >> 54) & 1;
	seg->unusable = !seg->present;
}

static void regs_segments(struct kvm_sregs *s, uint64_t code)
{
	struct kvm_segment data;

	regs_segment(code, REGS_SEL_CODE, &s->cs);
	regs_segment(REGS_GDT_DATA, REGS_SEL_DATA, &data);
	s->ds = data;
	s->es = data;
	s->fs = data;
	s->gs = data;
	s->ss = data;
	regs_segment(REGS_GDT_TSS, REGS_SEL_TSS, &s->tr);
	s->gdt.base = LAYOUT_GDT_ADDR;
	s->gdt.limit = REGS_GDT_ENTRIES * 8 - 1;
	s->idt.base = LAYOUT_IDT_ADDR;
	s->idt.limit = REGS_IDT_LIMIT;
}

void regs_setup_long(struct kvm_sregs *sregs, struct kvm_regs *regs,
		     uint64_t entry, uint64_t zero_page)
{
	regs_segments(sregs, REGS_GDT_CODE64);
	/* KVM resets CR0 with CD|NW set; boot with caching on. */
	sregs->cr0 &= ~(REGS_CR0_CD | REGS_CR0_NW);
	sregs->cr0 |= REGS_CR0_PE | REGS_CR0_PG;
	sregs->cr3 = LAYOUT_PML4_ADDR;
	sregs->cr4 |= REGS_CR4_PAE;
	sregs->efer |= REGS_EFER_LME | REGS_EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rsi = zero_page;
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;
	regs->rflags = REGS_RFLAGS_RESERVED;
}

void regs_setup_pvh(struct kvm_sregs *sregs, struct kvm_regs *regs,
		    uint64_t entry, uint64_t start_info)
{
	regs_segments(sregs, REGS_GDT_CODE32);
	/* PVH: protected mode, paging off, caching on. */
	sregs->cr0 &= ~(REGS_CR0_PG | REGS_CR0_CD | REGS_CR0_NW);
	sregs->cr0 |= REGS_CR0_PE;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rbx = start_info;
	regs->rflags = REGS_RFLAGS_RESERVED;
}
