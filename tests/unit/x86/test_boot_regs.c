#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/layout.h"
#include "arch/x86/regs.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define RAM (2ULL << 20)

static uint64_t rd64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, 8);
	return v;
}

/* Walk the tables like the MMU: virtual address -> physical. */
static uint64_t walk(const uint8_t *ram, uint64_t va)
{
	uint64_t e = rd64(ram, LAYOUT_PML4_ADDR + ((va >> 39) & 511) * 8);

	ck_assert(e & 1);
	e = rd64(ram, (e & ~0xfffULL) + ((va >> 30) & 511) * 8);
	ck_assert(e & 1);
	e = rd64(ram, (e & ~0xfffULL) + ((va >> 21) & 511) * 8);
	ck_assert(e & 1);
	ck_assert(e & REGS_PTE_PS);
	ck_assert(e & REGS_PTE_RW);
	return (e & ~0x1fffffULL & ((1ULL << 52) - 1)) | (va & 0x1fffff);
}

START_TEST(regs_page_tables)
{
	uint8_t *ram = harness_ram_map(RAM);
	struct guest_mem gm;

	harness_gm_one(&gm, ram, RAM);
	memset(ram + LAYOUT_PML4_ADDR, 0xff, 0x6000); /* stale */
	ck_assert_int_eq(regs_write_page_tables(&gm), 0);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PML4_ADDR), 0xa003);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PML4_ADDR + 8), 0);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDPTE_ADDR), 0xb003);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDPTE_ADDR + 8), 0xc003);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDPTE_ADDR + 24), 0xe003);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDPTE_ADDR + 32), 0);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDE_ADDR), 0x83);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDE_ADDR + 8), 0x200083);
	ck_assert_uint_eq(rd64(ram, LAYOUT_PDE_ADDR + 4 * 4096 - 8),
			  0xffe00083);
	/* Identity map everywhere below 4 GiB. */
	for (uint64_t va = 0; va < (4ULL << 30); va += 0x1234567)
		ck_assert_uint_eq(walk(ram, va), va);
	ck_assert_uint_eq(walk(ram, 0xffffffff), 0xffffffff);

	gm.regions[0].size = LAYOUT_PDE_ADDR + 0x1000; /* PD pages cut off */
	ck_assert_int_eq(regs_write_page_tables(&gm), -EFAULT);
	munmap(ram, RAM);
}
END_TEST

START_TEST(regs_gdt)
{
	uint8_t *ram = harness_ram_map(RAM);
	struct guest_mem gm;

	harness_gm_one(&gm, ram, RAM);
	memset(ram + LAYOUT_GDT_ADDR, 0xff, 0x40);
	ck_assert_int_eq(regs_write_gdt(&gm, 1), 0);
	ck_assert_uint_eq(rd64(ram, LAYOUT_GDT_ADDR), 0);
	ck_assert_uint_eq(rd64(ram, LAYOUT_GDT_ADDR + 8), 0x00af9b000000ffff);
	ck_assert_uint_eq(rd64(ram, LAYOUT_GDT_ADDR + 16), 0x00cf93000000ffff);
	ck_assert_uint_eq(rd64(ram, LAYOUT_GDT_ADDR + 24), REGS_GDT_TSS);
	ck_assert_uint_eq(rd64(ram, LAYOUT_IDT_ADDR), 0);
	ck_assert_int_eq(regs_write_gdt(&gm, 0), 0);
	ck_assert_uint_eq(rd64(ram, LAYOUT_GDT_ADDR + 8), 0x00cf9b000000ffff);
	munmap(ram, RAM);
}
END_TEST

START_TEST(regs_segment_decode)
{
	struct kvm_segment s;

	regs_segment(0x00af9b000000ffff, 8, &s);
	ck_assert_uint_eq(s.base, 0);
	ck_assert_uint_eq(s.limit, 0xffffffff);
	ck_assert_uint_eq(s.selector, 8);
	ck_assert_uint_eq(s.type, 0xb);
	ck_assert_uint_eq(s.present, 1);
	ck_assert_uint_eq(s.dpl, 0);
	ck_assert_uint_eq(s.db, 0);
	ck_assert_uint_eq(s.s, 1);
	ck_assert_uint_eq(s.l, 1);
	ck_assert_uint_eq(s.g, 1);
	ck_assert_uint_eq(s.unusable, 0);
	/* Base and byte-granular limit bits from all their fields. */
	regs_segment(0x12408b345678abcd, 0x18, &s);
	ck_assert_uint_eq(s.base, 0x12345678);
	ck_assert_uint_eq(s.limit, 0xabcd);
	ck_assert_uint_eq(s.g, 0);
	ck_assert_uint_eq(s.db, 1);
	ck_assert_uint_eq(s.s, 0);
	ck_assert_uint_eq(s.type, 0xb);
}
END_TEST

/* What KVM_GET_SREGS returns after vCPU reset, more or less. */
static void reset_sregs(struct kvm_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->cr0 = 0x60000010;
	s->apic_base = 0xfee00900;
	s->ldt.unusable = 1;
	s->ldt.type = 2;
	s->cs.selector = 0xf000;
	s->cs.base = 0xffff0000;
}

START_TEST(regs_long_mode)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	reset_sregs(&s);
	memset(&r, 0xff, sizeof(r));
	regs_setup_long(&s, &r, 0x1000000, LAYOUT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(s.cr0, 0x80000011); /* PG | ET | PE */
	ck_assert_uint_eq(s.cr3, LAYOUT_PML4_ADDR);
	ck_assert_uint_eq(s.cr4, 0x20);
	ck_assert_uint_eq(s.efer, 0x500);
	ck_assert_uint_eq(s.apic_base, 0xfee00900); /* untouched */
	ck_assert_uint_eq(s.ldt.unusable, 1);
	ck_assert_uint_eq(s.cs.selector, 8);
	ck_assert_uint_eq(s.cs.base, 0);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.cs.db, 0);
	ck_assert_uint_eq(s.cs.type, 0xb);
	ck_assert_uint_eq(s.ds.selector, 0x10);
	ck_assert_uint_eq(s.ss.selector, 0x10);
	ck_assert_uint_eq(s.gs.type, 3);
	ck_assert_uint_eq(s.ds.limit, 0xffffffff);
	ck_assert_uint_eq(s.ds.present, 1);
	ck_assert_uint_eq(s.tr.selector, 0x18);
	ck_assert_uint_eq(s.tr.type, 0xb);
	ck_assert_uint_eq(s.tr.s, 0);
	ck_assert_uint_eq(s.gdt.base, LAYOUT_GDT_ADDR);
	ck_assert_uint_eq(s.gdt.limit, 31);
	ck_assert_uint_eq(s.idt.base, LAYOUT_IDT_ADDR);
	ck_assert_uint_eq(s.idt.limit, 7);
	ck_assert_uint_eq(r.rip, 0x1000000);
	ck_assert_uint_eq(r.rsi, LAYOUT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(r.rsp, LAYOUT_BOOT_STACK);
	ck_assert_uint_eq(r.rbp, LAYOUT_BOOT_STACK);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rax | r.rbx | r.rcx | r.rdx | r.rdi, 0);
}
END_TEST

START_TEST(regs_pvh)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	reset_sregs(&s);
	s.cr4 = 0x20;
	s.efer = 0x500;
	memset(&r, 0xff, sizeof(r));
	regs_setup_pvh(&s, &r, 0x1000040, LAYOUT_PVH_INFO_ADDR);
	ck_assert_uint_eq(s.cr0, 0x11); /* ET | PE, paging off */
	ck_assert_uint_eq(s.cr4, 0);
	ck_assert_uint_eq(s.efer, 0);
	ck_assert_uint_eq(s.cs.selector, 8);
	ck_assert_uint_eq(s.cs.db, 1);
	ck_assert_uint_eq(s.cs.l, 0);
	ck_assert_uint_eq(s.cs.type, 0xb);
	ck_assert_uint_eq(s.cs.limit, 0xffffffff);
	ck_assert_uint_eq(s.es.db, 1);
	ck_assert_uint_eq(s.es.type, 3);
	ck_assert_uint_eq(s.tr.base, 0);
	ck_assert_uint_eq(s.tr.limit, 0x67);
	ck_assert_uint_eq(s.apic_base, 0xfee00900);
	ck_assert_uint_eq(r.rip, 0x1000040);
	ck_assert_uint_eq(r.rbx, LAYOUT_PVH_INFO_ADDR);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rsi | r.rsp | r.rax, 0);
}
END_TEST

Suite *boot_regs_suite(void);
Suite *boot_regs_suite(void)
{
	Suite *s = suite_create("boot_regs");
	TCase *tc = tcase_create("regs");

	tcase_add_test(tc, regs_page_tables);
	tcase_add_test(tc, regs_gdt);
	tcase_add_test(tc, regs_segment_decode);
	tcase_add_test(tc, regs_long_mode);
	tcase_add_test(tc, regs_pvh);
	suite_add_tcase(s, tc);
	return s;
}
