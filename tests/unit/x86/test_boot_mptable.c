#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/layout.h"
#include "arch/x86/mptable.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define RAM (2ULL << 20)

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

/* Parse the table the way a kernel would and check every entry. */
static void check_table(const uint8_t *ram, unsigned ncpus)
{
	const uint8_t *fp = ram + LAYOUT_EBDA_START, *cfg, *e, *end;
	unsigned cpus = 0, buses = 0, ioapics = 0, ioints = 0, lints = 0;
	unsigned nent = 0;
	uint32_t irq_seen = 0;

	ck_assert_mem_eq(fp, "_MP_", 4);
	ck_assert_uint_eq(fp[8], 1); /* length, 16-byte units */
	ck_assert_uint_eq(fp[9], 4); /* spec 1.4 */
	ck_assert_uint_eq(sum(fp, 16), 0);
	ck_assert_uint_eq(fp[11], 0); /* config table present */
	ck_assert_uint_eq(rd32(fp + 4), ncpus <= 37 ? LAYOUT_EBDA_START + 16
						    : MPTABLE_HIGH_ADDR);

	cfg = ram + rd32(fp + 4);
	ck_assert_mem_eq(cfg, "PCMP", 4);
	ck_assert_uint_eq(cfg[6], 4);
	ck_assert_uint_eq(rd16(cfg + 4), MPTABLE_SIZE(ncpus) - 16);
	ck_assert_uint_eq(sum(cfg, rd16(cfg + 4)), 0);
	ck_assert_uint_eq(rd32(cfg + 36), LAYOUT_LAPIC_ADDR);
	/* Inside the EBDA KiB, or inside the 64 KiB BIOS area. */
	if (ncpus <= 37)
		ck_assert_uint_le(LAYOUT_EBDA_START + MPTABLE_SIZE(ncpus),
				  0xa0000);
	else
		ck_assert_uint_le(MPTABLE_HIGH_ADDR + MPTABLE_SIZE(ncpus),
				  0x100000);

	end = cfg + rd16(cfg + 4);
	for (e = cfg + 44; e < end; nent++) {
		switch (e[0]) {
		case 0:
			ck_assert_uint_eq(e[1], cpus); /* APIC id = index */
			ck_assert_uint_eq(e[3] & 1, 1);
			ck_assert_uint_eq(!!(e[3] & 2), cpus == 0);
			cpus++;
			e += 20;
			break;
		case 1:
			ck_assert_mem_eq(e + 2, "ISA   ", 6);
			buses++;
			e += 8;
			break;
		case 2:
			ck_assert_uint_eq(e[1], ncpus);
			ck_assert_uint_eq(e[3] & 1, 1);
			ck_assert_uint_eq(rd32(e + 4), LAYOUT_IOAPIC_ADDR);
			ioapics++;
			e += 8;
			break;
		case 3:
			ck_assert_uint_eq(e[1], 0); /* INT */
			ck_assert_uint_eq(e[4], 0); /* ISA bus */
			ck_assert_uint_eq(e[5], e[7]);
			ck_assert_uint_eq(e[6], ncpus);
			irq_seen |= 1U << e[5];
			ioints++;
			e += 8;
			break;
		case 4:
			ck_assert(e[1] == 3 || e[1] == 1);
			ck_assert_uint_eq(e[7], e[1] == 3 ? 0 : 1);
			lints++;
			e += 8;
			break;
		default: ck_abort_msg("bad MP entry type %u", e[0]);
		}
	}
	ck_assert_ptr_eq(e, end);
	ck_assert_uint_eq(nent, rd16(cfg + 34));
	ck_assert_uint_eq(cpus, ncpus);
	ck_assert_uint_eq(buses, 1);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(ioints, 24);
	ck_assert_uint_eq(irq_seen, 0xffffff);
	ck_assert_uint_eq(lints, 2);
}

START_TEST(mptable_counts)
{
	static const unsigned counts[] = {1, 2, 4, 8, 17, MPTABLE_MAX_CPUS};
	uint8_t *ram = harness_ram_map(RAM);
	struct guest_mem gm;

	harness_gm_one(&gm, ram, RAM);
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memset(ram + LAYOUT_EBDA_START, 0xcc, 0x400);
		memset(ram + MPTABLE_HIGH_ADDR, 0xcc, 0x1000);
		ck_assert_int_eq(mptable_write(&gm, counts[i]), 0);
		check_table(ram, counts[i]);
	}
	munmap(ram, RAM);
}
END_TEST

START_TEST(mptable_limits)
{
	uint8_t *ram = harness_ram_map(RAM);
	struct guest_mem gm;

	/* The EBDA KiB holds 37 processors next to the fixed entries. */
	ck_assert_uint_eq(MPTABLE_EBDA_MAX_CPUS, 37);
	ck_assert_uint_eq(MPTABLE_MAX_CPUS, 64);
	harness_gm_one(&gm, ram, RAM);
	ck_assert_int_eq(mptable_write(&gm, MPTABLE_MAX_CPUS + 1), -E2BIG);
	ck_assert_int_eq(mptable_write(&gm, 255), -E2BIG);
	ck_assert_int_eq(mptable_write(&gm, 0), -EINVAL);
	ck_assert_uint_eq(ram[LAYOUT_EBDA_START], 0);
	gm.regions[0].size = LAYOUT_EBDA_START; /* RAM ends below it */
	ck_assert_int_eq(mptable_write(&gm, 1), -EFAULT);
	gm.regions[0].size = 0xa0000; /* no BIOS area for a big table */
	ck_assert_int_eq(mptable_write(&gm, 1), 0);
	memset(ram + LAYOUT_EBDA_START, 0, 16);
	ck_assert_int_eq(mptable_write(&gm, 38), -EFAULT);
	ck_assert_uint_eq(ram[LAYOUT_EBDA_START], 0); /* no dangling pointer */
	munmap(ram, RAM);
}
END_TEST

Suite *boot_mptable_suite(void);
Suite *boot_mptable_suite(void)
{
	Suite *s = suite_create("boot_mptable");
	TCase *tc = tcase_create("mptable");

	tcase_add_test(tc, mptable_counts);
	tcase_add_test(tc, mptable_limits);
	suite_add_tcase(s, tc);
	return s;
}
