#include "arch/x86/mptable.h"

#include <errno.h>
#include <string.h>

#define MP_SPEC_REV 4 /* 1.4 */

#define MP_ENTRY_PROCESSOR 0
#define MP_ENTRY_BUS	   1
#define MP_ENTRY_IOAPIC	   2
#define MP_ENTRY_IOINT	   3
#define MP_ENTRY_LINT	   4

#define MP_CPU_ENABLED	  0x01
#define MP_CPU_BSP	  0x02
#define MP_APIC_VERSION	  0x14 /* integrated local APIC */
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_SIGNATURE  0x600 /* family 6; informative only */
#define MP_CPU_FEATURES	  0x201 /* FPU, APIC */

#define MP_INT_INT    0
#define MP_INT_NMI    1
#define MP_INT_EXTINT 3

#define MP_ISA_BUS_ID 0

/* A cursor over the table being built in a host buffer. */
struct mp_buf {
	uint8_t *p;
	size_t pos;
};

static void mp_put8(struct mp_buf *b, uint8_t v)
{
	b->p[b->pos++] = v;
}

static void mp_put16(struct mp_buf *b, uint16_t v)
{
	mp_put8(b, (uint8_t)v);
	mp_put8(b, (uint8_t)(v >> 8));
}

static void mp_put32(struct mp_buf *b, uint32_t v)
{
	mp_put16(b, (uint16_t)v);
	mp_put16(b, (uint16_t)(v >> 16));
}

static void mp_putstr(struct mp_buf *b, const char *s, size_t n)
{
	/* Fixed-width fields, space padded. */
	for (size_t i = 0; i < n; i++)
		mp_put8(b, *s ? (uint8_t)*s++ : ' ');
}

/* The byte that makes [p, p+n) sum to zero once stored in it. */
static uint8_t mp_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static void mp_lint(struct mp_buf *b, uint8_t type, uint8_t dst_apic,
		    uint8_t lint)
{
	mp_put8(b, MP_ENTRY_LINT);
	mp_put8(b, type);
	mp_put16(b, 0); /* polarity/trigger conform to the bus */
	mp_put8(b, MP_ISA_BUS_ID);
	mp_put8(b, 0);
	mp_put8(b, dst_apic);
	mp_put8(b, lint);
}

int mptable_write(const struct guest_mem *gm, unsigned ncpus)
{
	uint8_t fp[MPTABLE_FLOATING_SIZE];
	uint8_t tab[MPTABLE_SIZE(MPTABLE_MAX_CPUS) - MPTABLE_FLOATING_SIZE];
	struct mp_buf b = {.p = fp};
	uint64_t cfg = LAYOUT_EBDA_START + MPTABLE_FLOATING_SIZE;
	uint8_t ioapic_id = (uint8_t)ncpus;

	if (!ncpus)
		return -EINVAL;
	if (ncpus > MPTABLE_MAX_CPUS)
		return -E2BIG;
	if (ncpus > MPTABLE_EBDA_MAX_CPUS)
		cfg = MPTABLE_HIGH_ADDR;

	/* Floating pointer structure. */
	mp_putstr(&b, "_MP_", 4);
	mp_put32(&b, (uint32_t)cfg);
	mp_put8(&b, 1); /* length in 16-byte units */
	mp_put8(&b, MP_SPEC_REV);
	mp_put8(&b, 0); /* checksum, below */
	for (int i = 0; i < 5; i++)
		mp_put8(&b, 0); /* feature bytes: config table present */
	fp[10] = mp_checksum(fp, sizeof(fp));

	/* Configuration table header; length and checksum patched below. */
	b = (struct mp_buf){.p = tab};
	mp_putstr(&b, "PCMP", 4);
	mp_put16(&b, 0); /* base table length */
	mp_put8(&b, MP_SPEC_REV);
	mp_put8(&b, 0); /* checksum */
	mp_putstr(&b, "MICROVM", 8);
	mp_putstr(&b, "000000000000", 12);
	mp_put32(&b, 0); /* OEM table pointer */
	mp_put16(&b, 0); /* OEM table size */
	mp_put16(&b, (uint16_t)(ncpus + 2 + MPTABLE_NR_IRQS + 2));
	mp_put32(&b, (uint32_t)LAYOUT_LAPIC_ADDR);
	mp_put16(&b, 0); /* extended table length */
	mp_put8(&b, 0);	 /* extended table checksum */
	mp_put8(&b, 0);	 /* reserved */

	for (unsigned i = 0; i < ncpus; i++) {
		mp_put8(&b, MP_ENTRY_PROCESSOR);
		mp_put8(&b, (uint8_t)i);
		mp_put8(&b, MP_APIC_VERSION);
		mp_put8(&b, MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0));
		mp_put32(&b, MP_CPU_SIGNATURE);
		mp_put32(&b, MP_CPU_FEATURES);
		mp_put32(&b, 0);
		mp_put32(&b, 0);
	}

	mp_put8(&b, MP_ENTRY_BUS);
	mp_put8(&b, MP_ISA_BUS_ID);
	mp_putstr(&b, "ISA", 6);

	mp_put8(&b, MP_ENTRY_IOAPIC);
	mp_put8(&b, ioapic_id);
	mp_put8(&b, MP_IOAPIC_VERSION);
	mp_put8(&b, 1); /* enabled */
	mp_put32(&b, (uint32_t)LAYOUT_IOAPIC_ADDR);

	for (unsigned irq = 0; irq < MPTABLE_NR_IRQS; irq++) {
		mp_put8(&b, MP_ENTRY_IOINT);
		mp_put8(&b, MP_INT_INT);
		mp_put16(&b, 0); /* conforms to the bus */
		mp_put8(&b, MP_ISA_BUS_ID);
		mp_put8(&b, (uint8_t)irq);
		mp_put8(&b, ioapic_id);
		mp_put8(&b, (uint8_t)irq);
	}

	mp_lint(&b, MP_INT_EXTINT, 0, 0);
	mp_lint(&b, MP_INT_NMI, 0xff, 1); /* all local APICs */

	tab[4] = (uint8_t)b.pos;
	tab[5] = (uint8_t)(b.pos >> 8);
	tab[7] = mp_checksum(tab, b.pos);

	/* Table first: a failure leaves no pointer to a missing table. */
	if (guest_mem_write(gm, cfg, tab, b.pos) ||
	    guest_mem_write(gm, LAYOUT_EBDA_START, fp, sizeof(fp)))
		return -EFAULT;
	return 0;
}
