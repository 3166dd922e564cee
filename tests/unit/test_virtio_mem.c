/* virtio-mem: layout and block size per policy, config space and its
 * generation, every request type and the spec's error cases, population
 * before the ACK, memory given back per backing, BUSY on a short pool. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio_mem.h"
#include "tests/harness/harness.h"
#include "tests/unit/vtest.h"

#define MiB	     (1ULL << 20)
#define GiB	     (1ULL << 30)
#define BLK	     (2 * MiB)
#define F(bit)	     (1ULL << (bit))
#define F_VERSION_1  F(VIRTIO_F_VERSION_1)
#define F_INACC	     F(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE)
#define REQ_GPA	     VTEST_DATA
#define RESP_GPA     (VTEST_DATA + 0x100)
#define HUGE_FREE_KB 2048

static struct virtio_mem vm;
static struct guest_mem *gm;
static struct virtio_mem_layout lay;
static int hp_mapped;

/* Map the hotplug region of lay with `pages` (reserving nothing). */
static void hp_region(enum region_pages pages, enum region_backing backing)
{
	struct region_policy pol = {
		.pages = pages, .backing = backing, .noreserve = 1};
	struct region r;
	char err[256];
	int fd = -1, created = 0;

	ck_assert_int_eq(region_open_backing(&pol, lay.region_size, &fd,
					     &created, err, sizeof(err)),
			 0);
	ck_assert_msg(region_map(&r, lay.addr, lay.region_size, &pol, fd, 0,
				 err, sizeof(err)) == 0,
		      "%s", err);
	if (fd >= 0)
		close(fd);
	ck_assert_int_eq(region_track_plugs(&r, lay.block_size), 0);
	ck_assert_int_eq(guest_mem_add(gm, &r), 0);
	hp_mapped = 1;
}

static uint8_t *hp_hva(uint64_t off)
{
	return gm->regions[1].hva + off;
}

/* Resident pages of [off, off+len) of the hotplug region. */
static uint64_t hp_resident(uint64_t off, uint64_t len)
{
	static unsigned char vec[(64 * MiB) / 4096];
	uint64_t k = 0;

	ck_assert_uint_le(len, sizeof(vec) * 4096);
	ck_assert_int_eq(mincore(hp_hva(off), len, vec), 0);
	for (uint64_t i = 0; i < len / 4096; i++)
		k += vec[i] & 1;
	return k * 4096;
}

/* A device over lay with `requested`, attached, driver up. */
static void start(uint64_t requested)
{
	struct virtio_mem_cfg cfg = {.lay = lay, .requested = requested};
	struct irq_line irq;

	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&vm.mmio, gm, 0xc0003000, &irq), 0);
	ck_assert_uint_eq(
		vtest_driver_init(&vm.mmio, F_INACC | F_VERSION_1, 1) &
			VIRTIO_STATUS_DRIVER_OK,
		VIRTIO_STATUS_DRIVER_OK);
}

/* Send one request of `out_len` bytes with a response buffer of `in_len`;
 * returns the response type (the state in *state if not NULL). */
static uint16_t req_raw(uint16_t type, uint64_t addr, uint16_t nb,
			uint32_t out_len, uint32_t in_len, uint16_t *state)
{
	uint8_t *req = vtest_gpa(REQ_GPA), *resp = vtest_gpa(RESP_GPA);
	uint16_t t = htole16(type), n = htole16(nb), used, rt, st;
	uint64_t a = htole64(addr);

	memset(req, 0x5a, VIRTIO_MEM_REQ_SIZE); /* padding: ignored */
	memcpy(req, &t, 2);
	memcpy(req + 8, &a, 8);
	memcpy(req + 16, &n, 2);
	memset(resp, 0xee, VIRTIO_MEM_RESP_SIZE);
	used = vtest_used_idx(0);
	vtest_desc(0, 0, REQ_GPA, out_len, VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(0, 1, RESP_GPA, in_len, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(&vm.mmio);
	if (vtest_used_idx(0) == used)
		return 0xffff; /* not answered */
	ck_assert_uint_eq(vtest_used_len(0, used), VIRTIO_MEM_RESP_SIZE);
	memcpy(&rt, resp, 2);
	memcpy(&st, resp + 8, 2);
	if (state)
		*state = le16toh(st);
	return le16toh(rt);
}

static uint16_t req(uint16_t type, uint64_t addr, uint16_t nb)
{
	return req_raw(type, addr, nb, VIRTIO_MEM_REQ_SIZE,
		       VIRTIO_MEM_RESP_SIZE, NULL);
}

static uint16_t state_of(uint64_t addr, uint16_t nb)
{
	uint16_t st = 0xffff;

	ck_assert_uint_eq(req_raw(VIRTIO_MEM_REQ_STATE, addr, nb,
				  VIRTIO_MEM_REQ_SIZE, VIRTIO_MEM_RESP_SIZE,
				  &st),
			  VIRTIO_MEM_RESP_ACK);
	return st;
}

static uint64_t cfg64(uint64_t off)
{
	return (uint64_t)vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG + off) |
	       (uint64_t)vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG + off + 4)
		       << 32;
}

static void setup(void)
{
	gm = vtest_ram();
	hp_mapped = 0;
	/* RAM ends at 2 MiB: the region goes to 128 MiB, 128 MiB long. */
	ck_assert_int_eq(virtio_mem_layout(VTEST_RAM_BASE + VTEST_RAM_SIZE,
					   100 * MiB, REGION_PAGES_BASE, &lay),
			 0);
}

static void teardown(void)
{
	virtio_mem_close(&vm);
	if (hp_mapped) {
		region_unmap(&gm->regions[1]);
		gm->nr = 1;
	}
	vtest_ram_free();
}

/* Block = page size, at least 2 MiB; region aligned to 128 MiB (Linux's
 * x86 memory block) and to the block. */
START_TEST(vm_layout)
{
	struct virtio_mem_layout l;
	static const enum region_pages two_m[] = {
		REGION_PAGES_BASE, REGION_PAGES_THP, REGION_PAGES_HUGE};

	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(
			virtio_mem_layout(GiB + 4096, 200 * MiB, two_m[i], &l),
			0);
		ck_assert_uint_eq(l.block_size, 2 * MiB);
		ck_assert_uint_eq(l.addr, GiB + 128 * MiB);
		ck_assert_uint_eq(l.region_size, 256 * MiB);
		ck_assert_uint_eq(l.usable_size, 256 * MiB);
	}
	ck_assert_int_eq(virtio_mem_layout(GiB + 4096, 200 * MiB,
					   REGION_PAGES_HUGE1G, &l),
			 0);
	ck_assert_uint_eq(l.block_size, GiB);
	ck_assert_uint_eq(l.addr, 2 * GiB);
	ck_assert_uint_eq(l.region_size, GiB);
	ck_assert_uint_eq(l.usable_size, GiB);
	/* Already aligned: unchanged. */
	ck_assert_int_eq(
		virtio_mem_layout(4 * GiB, 512 * MiB, REGION_PAGES_HUGE, &l),
		0);
	ck_assert_uint_eq(l.addr, 4 * GiB);
	ck_assert_uint_eq(l.region_size, 512 * MiB);
	ck_assert_int_eq(virtio_mem_layout(GiB, 0, REGION_PAGES_BASE, &l),
			 -EINVAL);
	ck_assert_int_eq(
		virtio_mem_layout(UINT64_MAX - MiB, GiB, REGION_PAGES_BASE, &l),
		-ERANGE);
	ck_assert_int_eq(
		virtio_mem_layout(GiB, UINT64_MAX - 10, REGION_PAGES_BASE, &l),
		-ERANGE);
	ck_assert_int_eq(virtio_mem_layout(UINT64_MAX - 128 * MiB, 64 * MiB,
					   REGION_PAGES_BASE, &l),
			 -ERANGE);
}
END_TEST

START_TEST(vm_init_checks)
{
	struct virtio_mem_cfg cfg = {.lay = lay};

	cfg.requested = MiB; /* not a block multiple */
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), -EINVAL);
	virtio_mem_close(&vm);
	cfg.requested = lay.region_size + BLK;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), -EINVAL);
	virtio_mem_close(&vm);
	cfg.requested = 0;
	cfg.lay.block_size = 3 * MiB;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), -EINVAL);
	virtio_mem_close(&vm);
	cfg.lay = lay;
	cfg.lay.addr += MiB;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), -EINVAL);
	virtio_mem_close(&vm);
	cfg.lay = lay;
	/* node_id names an ACPI proximity domain (VIRTIO_MEM_F_ACPI_PXM):
	 * without ACPI there is none, so anything but 0 is refused. */
	cfg.node_id = 1;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), -EINVAL);
	virtio_mem_close(&vm);
	cfg.node_id = 0;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
}
END_TEST

/* The layout of virtio 1.2 5.15.4, and a generation bump (with a config
 * interrupt) exactly when requested_size changes. */
START_TEST(vm_config)
{
	uint32_t gen;
	unsigned irqs;

	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(4 * MiB);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_DEVICE_ID), 24);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_BLOCK_SIZE), BLK);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG +
						     VIRTIO_MEM_CFG_NODE_ID),
			  0);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_ADDR), 128 * MiB);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_REGION_SIZE), 128 * MiB);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_USABLE_REGION_SIZE), 128 * MiB);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 0);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_REQUESTED_SIZE), 4 * MiB);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_SIZE), 0); /* past the end */

	gen = vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION);
	irqs = vtest_irq_raised();
	ck_assert_int_eq(virtio_mem_set_requested(&vm, 4 * MiB), 0);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION),
			  gen);
	ck_assert_int_eq(virtio_mem_set_requested(&vm, 10 * MiB), 0);
	ck_assert_uint_ne(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION),
			  gen);
	ck_assert_uint_gt(vtest_irq_raised(), irqs);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_INTERRUPT_STATUS) &
				  VIRTIO_MMIO_INT_CONFIG,
			  VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_REQUESTED_SIZE), 10 * MiB);
	gen = vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION);
	ck_assert_int_eq(virtio_mem_set_requested(&vm, 3 * MiB), -EINVAL);
	ck_assert_int_eq(virtio_mem_set_requested(&vm, 130 * MiB), -ERANGE);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION),
			  gen);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_REQUESTED_SIZE), 10 * MiB);

	/* Plugging changes plugged_size in the config. */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, 128 * MiB, 2),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 4 * MiB);
}
END_TEST

/* UNPLUGGED_INACCESSIBLE is offered and required. */
START_TEST(vm_feature_required)
{
	struct virtio_mem_cfg cfg = {.lay = lay};
	struct irq_line irq;
	uint32_t st;

	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&vm.mmio, gm, 0xc0003000, &irq), 0);
	vtest_wr(&vm.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES) &
				  F_INACC,
			  F_INACC);
	/* Not ACPI_PXM: there is no ACPI table for node_id to name. */
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES) &
				  F(VIRTIO_MEM_F_ACPI_PXM),
			  0);
	st = vtest_driver_init(&vm.mmio, F_VERSION_1, 1);
	ck_assert_uint_eq(st & VIRTIO_STATUS_FEATURES_OK, 0);
	/* A driver asking for ACPI_PXM anyway is refused. */
	st = vtest_driver_init(
		&vm.mmio, F_VERSION_1 | F_INACC | F(VIRTIO_MEM_F_ACPI_PXM), 1);
	ck_assert_uint_eq(st & VIRTIO_STATUS_FEATURES_OK, 0);
	st = vtest_driver_init(&vm.mmio, F_VERSION_1 | F_INACC, 1);
	ck_assert_uint_eq(st & VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
}
END_TEST

/* PLUG allocates before the ACK; UNPLUG gives it back (anonymous:
 * MADV_DONTNEED, the blocks read zero again). */
START_TEST(vm_plug_unplug_anon)
{
	struct virtio_mem_info in;

	uint8_t byte = 0;

	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(8 * MiB);
	ck_assert_uint_eq(hp_resident(0, 8 * MiB), 0);
	/* Unplugged: no device may reach it through guest memory. */
	ck_assert_ptr_null(guest_mem_ptr(gm, 128 * MiB + BLK, 1));
	ck_assert_int_eq(guest_mem_read(gm, 128 * MiB + BLK, &byte, 1),
			 -EFAULT);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, 128 * MiB + BLK, 2),
			  VIRTIO_MEM_RESP_ACK);
	/* Populated before the answer: resident, nothing else. */
	ck_assert_uint_eq(hp_resident(BLK, 2 * BLK), 2 * BLK);
	ck_assert_uint_eq(hp_resident(0, BLK), 0);
	ck_assert_uint_eq(hp_resident(3 * BLK, BLK), 0);
	memset(hp_hva(BLK), 0xab, 2 * BLK);
	/* Plugged: translations work, but not across into an unplugged
	 * block. */
	ck_assert_ptr_eq(guest_mem_ptr(gm, 128 * MiB + BLK, 2 * BLK),
			 hp_hva(BLK));
	ck_assert_int_eq(guest_mem_read(gm, 128 * MiB + 3 * BLK - 1, &byte, 1),
			 0);
	ck_assert_uint_eq(byte, 0xab);
	ck_assert_ptr_null(guest_mem_ptr(gm, 128 * MiB + 3 * BLK - 1, 2));
	ck_assert_ptr_null(guest_mem_ptr(gm, 128 * MiB + BLK - 1, 2));
	ck_assert_uint_eq(state_of(128 * MiB + BLK, 2),
			  VIRTIO_MEM_STATE_PLUGGED);
	ck_assert_uint_eq(state_of(128 * MiB, 2), VIRTIO_MEM_STATE_MIXED);
	ck_assert_uint_eq(state_of(128 * MiB + 3 * BLK, 5),
			  VIRTIO_MEM_STATE_UNPLUGGED);

	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG, 128 * MiB + 2 * BLK, 1),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(hp_resident(2 * BLK, BLK), 0);
	ck_assert_uint_eq(hp_resident(BLK, BLK), BLK);
	ck_assert_uint_eq(hp_hva(BLK)[0], 0xab);
	ck_assert_uint_eq(hp_hva(2 * BLK)[0], 0);
	ck_assert_ptr_null(guest_mem_ptr(gm, 128 * MiB + 2 * BLK, 1));
	ck_assert_ptr_nonnull(guest_mem_ptr(gm, 128 * MiB + BLK, BLK));
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.plugged_size, BLK);
	ck_assert_uint_eq(in.c.plugs, 1);
	ck_assert_uint_eq(in.c.unplugs, 1);
	ck_assert_uint_eq(in.c.plugged_bytes, 2 * BLK);
	ck_assert_uint_eq(in.c.unplugged_bytes, BLK);
	ck_assert_uint_eq(in.c.returned_bytes, BLK);
	ck_assert_uint_eq(in.c.returned[VIRTIO_MEM_PS_4K], BLK);
	ck_assert_uint_eq(in.c.errors, 0);
	ck_assert_uint_eq(in.page_size, 4096);
}
END_TEST

/* Every malformed request answers ERROR and changes nothing; NACK past
 * requested_size; the device stays live. */
START_TEST(vm_errors)
{
	struct virtio_mem_info in;
	const uint64_t a = 128 * MiB, end = a + 128 * MiB;
	static const uint16_t types[] = {VIRTIO_MEM_REQ_PLUG,
					 VIRTIO_MEM_REQ_UNPLUG,
					 VIRTIO_MEM_REQ_STATE};
	uint64_t errs = 0;

	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(6 * MiB);
	for (unsigned i = 0; i < 3; i++) {
		uint16_t t = types[i];

		ck_assert_uint_eq(req(t, a + 4096, 1), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, a + MiB, 1), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, a, 0), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, a - BLK, 1), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, 0, 1), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, end, 1), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, end - BLK, 2), VIRTIO_MEM_RESP_ERROR);
		ck_assert_uint_eq(req(t, a, 65535), VIRTIO_MEM_RESP_ERROR);
		/* gpa + len wraps. */
		ck_assert_uint_eq(req(t, UINT64_MAX - BLK + 1, 2),
				  VIRTIO_MEM_RESP_ERROR);
		errs += 9;
	}
	ck_assert_uint_eq(req(7, a, 1), VIRTIO_MEM_RESP_ERROR);
	ck_assert_uint_eq(req(0xffff, a, 1), VIRTIO_MEM_RESP_ERROR);
	/* A request shorter than 24 bytes. */
	ck_assert_uint_eq(req_raw(VIRTIO_MEM_REQ_PLUG, a, 1, 8,
				  VIRTIO_MEM_RESP_SIZE, NULL),
			  VIRTIO_MEM_RESP_ERROR);
	errs += 3;
	/* State transitions: unplug what is unplugged, plug what is
	 * plugged, unplug a partly plugged range. */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG, a, 1),
			  VIRTIO_MEM_RESP_ERROR);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a, 2), VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + BLK, 1),
			  VIRTIO_MEM_RESP_ERROR);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG, a + BLK, 2),
			  VIRTIO_MEM_RESP_ERROR);
	errs += 3;
	/* 4 MiB plugged of 6 requested: 2 more blocks would exceed. */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 4 * BLK, 2),
			  VIRTIO_MEM_RESP_NACK);
	ck_assert_uint_eq(hp_resident(4 * BLK, 2 * BLK), 0);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 4 * BLK, 1),
			  VIRTIO_MEM_RESP_ACK);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.errors, errs);
	ck_assert_uint_eq(in.c.nacks, 1);
	ck_assert_uint_eq(in.c.plugs, 2);
	ck_assert_uint_eq(in.plugged_size, 3 * BLK);
	ck_assert_uint_eq(in.c.busy_pool + in.c.busy_alloc, 0);
	ck_assert_int_eq(virtio_mmio_live(&vm.mmio), 1);
	ck_assert_uint_eq(state_of(a, 2), VIRTIO_MEM_STATE_PLUGGED);
	ck_assert_uint_eq(state_of(a + 2 * BLK, 2), VIRTIO_MEM_STATE_UNPLUGGED);
}
END_TEST

/* A usable region smaller than the region: requests past it are ERROR. */
START_TEST(vm_usable_region)
{
	lay.usable_size = 16 * MiB;
	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(16 * MiB);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_USABLE_REGION_SIZE), 16 * MiB);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, 128 * MiB + 14 * MiB, 1),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, 128 * MiB + 16 * MiB, 1),
			  VIRTIO_MEM_RESP_ERROR);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_STATE, 128 * MiB + 14 * MiB, 2),
			  VIRTIO_MEM_RESP_ERROR);
	ck_assert_int_eq(virtio_mem_set_requested(&vm, 18 * MiB), -ERANGE);
}
END_TEST

/* UNPLUG_ALL returns every plugged block; block state survives a driver
 * reset (the spec), so a new driver sees plugged_size. */
START_TEST(vm_unplug_all_and_reset)
{
	struct virtio_mem_info in;
	const uint64_t a = 128 * MiB;

	hp_region(REGION_PAGES_BASE, REGION_BACKING_SHARED);
	start(64 * MiB);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a, 3), VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 10 * BLK, 4),
			  VIRTIO_MEM_RESP_ACK);
	memset(hp_hva(0), 0x11, 3 * BLK);
	memset(hp_hva(10 * BLK), 0x22, 4 * BLK);
	/* Driver reset and re-init: nothing changes. */
	ck_assert_uint_eq(
		vtest_driver_init(&vm.mmio, F_INACC | F_VERSION_1, 1) &
			VIRTIO_STATUS_DRIVER_OK,
		VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 7 * BLK);
	ck_assert_uint_eq(hp_hva(10 * BLK)[0], 0x22);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 0);
	ck_assert_ptr_null(guest_mem_ptr(gm, a + 10 * BLK, 1));
	ck_assert_ptr_null(guest_mem_ptr(gm, a, 1));
	/* memfd: the hole was punched (reads zero, not resident). */
	ck_assert_uint_eq(hp_hva(0)[0], 0);
	ck_assert_uint_eq(hp_hva(10 * BLK + 4 * BLK - 1)[0], 0);
	ck_assert_uint_eq(state_of(a, 64), VIRTIO_MEM_STATE_UNPLUGGED);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.unplug_alls, 1);
	ck_assert_uint_eq(in.c.unplugged_bytes, 7 * BLK);
	ck_assert_uint_eq(in.c.returned_bytes, 7 * BLK);
	/* UNPLUG_ALL with nothing plugged is fine too. */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG_ALL, 12345, 9),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a, 1), VIRTIO_MEM_RESP_ACK);
}
END_TEST

/* Snapshot: the transport's blob carries the device's blocks, sizes and
 * counters; a fresh device over the same region (a restored board) loads
 * them: plugged blocks translate again, unplugged ones do not, the driver
 * goes on. A blob that does not match the device is refused. */
START_TEST(vm_snapshot_round_trip)
{
	static uint8_t blob[65536];
	struct virtio_mem_cfg cfg;
	struct virtio_mem_info in;
	struct irq_line irq;
	const uint64_t a = 128 * MiB;
	ssize_t n;

	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(16 * MiB);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + BLK, 2),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 5 * BLK, 1),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_int_eq(virtio_mem_set_requested(&vm, 12 * MiB), 0);
	memset(hp_hva(5 * BLK), 0x5c, BLK);
	n = virtio_mmio_bus_ops.save(&vm.mmio, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);

	/* The restored board: a new device, nothing plugged yet. The
	 * memory itself is the snapshot's memory files' business. */
	virtio_mem_close(&vm);
	region_set_plugged(&gm->regions[1], 0, lay.region_size, 0);
	cfg = (struct virtio_mem_cfg){.lay = lay, .requested = 0};
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&vm.mmio, gm, 0xc0003000, &irq), 0);
	/* A flipped block bit no longer matches the plugged size. */
	blob[n - 8] ^= 0x80;
	ck_assert_int_eq(virtio_mmio_bus_ops.load(&vm.mmio, blob, (size_t)n),
			 -EINVAL);
	blob[n - 8] ^= 0x80;
	ck_assert_int_eq(virtio_mmio_bus_ops.load(&vm.mmio, blob, (size_t)n),
			 0);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.plugged_size, 3 * BLK);
	ck_assert_uint_eq(in.requested_size, 12 * MiB);
	ck_assert_uint_eq(in.c.plugs, 2);
	ck_assert_uint_eq(in.c.plugged_bytes, 3 * BLK);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 3 * BLK);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_REQUESTED_SIZE), 12 * MiB);
	ck_assert_ptr_eq(guest_mem_ptr(gm, a + BLK, 2 * BLK), hp_hva(BLK));
	ck_assert_ptr_eq(guest_mem_ptr(gm, a + 5 * BLK, BLK), hp_hva(5 * BLK));
	ck_assert_uint_eq(*(uint8_t *)guest_mem_ptr(gm, a + 5 * BLK, 1), 0x5c);
	ck_assert_ptr_null(guest_mem_ptr(gm, a, 1));
	ck_assert_ptr_null(guest_mem_ptr(gm, a + 3 * BLK, 1));
	/* The driver goes on with the same blocks. */
	ck_assert_uint_eq(state_of(a + BLK, 2), VIRTIO_MEM_STATE_PLUGGED);
	ck_assert_uint_eq(state_of(a, 8), VIRTIO_MEM_STATE_MIXED);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + BLK, 1),
			  VIRTIO_MEM_RESP_ERROR); /* already plugged */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG, a + 5 * BLK, 1),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 2 * BLK);
	n = virtio_mmio_bus_ops.save(&vm.mmio, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);

	/* Another layout (a board built differently) refuses the blob. */
	virtio_mem_close(&vm);
	cfg.lay.region_size = 64 * MiB;
	cfg.lay.usable_size = 64 * MiB;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
	ck_assert_int_eq(virtio_mmio_attach(&vm.mmio, gm, 0xc0003000, &irq), 0);
	ck_assert_int_eq(virtio_mmio_bus_ops.load(&vm.mmio, blob, (size_t)n),
			 -EINVAL);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.plugged_size, 0);
}
END_TEST

/* A chain with no room for the response: the device fails, the VMM
 * does not. */
START_TEST(vm_no_response_room)
{
	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(8 * MiB);
	ck_assert_uint_eq(req_raw(VIRTIO_MEM_REQ_PLUG, 128 * MiB, 1,
				  VIRTIO_MEM_REQ_SIZE, 4, NULL),
			  0xffff);
	ck_assert_uint_eq(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_STATUS) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 0);
}
END_TEST

/* No region behind the device (cannot back it): BUSY, counted. */
START_TEST(vm_busy_unbacked)
{
	struct virtio_mem_info in;

	start(8 * MiB);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, 128 * MiB, 1),
			  VIRTIO_MEM_RESP_BUSY);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.busy_alloc, 1);
	ck_assert_uint_eq(in.plugged_size, 0);
	ck_assert_uint_eq(state_of(128 * MiB, 1), VIRTIO_MEM_STATE_UNPLUGGED);
}
END_TEST

/* hugetlb, reserving nothing: PLUG takes pages from the pool before the
 * ACK, a request bigger than the free pool is BUSY (no SIGBUS, nothing
 * taken), UNPLUG punches the hole and the pages go back to the pool. */
START_TEST(vm_hugetlb_pool)
{
	struct virtio_mem_info in;
	const uint64_t a = 128 * MiB;
	long free0, free1;

	if (harness_hugepages(HUGE_FREE_KB, 2))
		HARNESS_SKIP("needs 2 free 2M hugepages (echo 8 > "
			     "/proc/sys/vm/nr_hugepages as root)");
	ck_assert_int_eq(virtio_mem_layout(VTEST_RAM_BASE + VTEST_RAM_SIZE,
					   128 * MiB, REGION_PAGES_HUGE, &lay),
			 0);
	hp_region(REGION_PAGES_HUGE, REGION_BACKING_ANON);
	start(128 * MiB);
	free0 = harness_hugepages_free(HUGE_FREE_KB);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a, 2), VIRTIO_MEM_RESP_ACK);
	ck_assert_int_eq(harness_hugepages_free(HUGE_FREE_KB), free0 - 2);
	memset(hp_hva(0), 0x77, 2 * BLK);
	/* More blocks than the pool has left (the region is 64 pages and
	 * the pool is smaller, or this is skipped below). */
	free1 = harness_hugepages_free(HUGE_FREE_KB);
	if (free1 >= 62)
		HARNESS_SKIP("the hugetlb pool is too big to run short");
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 2 * BLK, 62),
			  VIRTIO_MEM_RESP_BUSY);
	ck_assert_int_eq(harness_hugepages_free(HUGE_FREE_KB), free1);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.busy_pool, 1);
	ck_assert_uint_eq(in.plugged_size, 2 * BLK);
	ck_assert_uint_eq(state_of(a + 2 * BLK, 62),
			  VIRTIO_MEM_STATE_UNPLUGGED);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG, a, 2),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_int_eq(harness_hugepages_free(HUGE_FREE_KB), free0);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.returned[VIRTIO_MEM_PS_2M], 2 * BLK);
	ck_assert_uint_eq(in.page_size, BLK);
	ck_assert_int_eq(virtio_mmio_live(&vm.mmio), 1);
}
END_TEST

/*
 * A driver that places rings or request buffers in plugged hotplug
 * memory and then unplugs it (virtio 1.2 5.15.6: the driver MUST NOT
 * unplug memory in use; the device MAY answer BUSY). The VMM holds host
 * pointers to every ready ring: giving those blocks back would leave it
 * writing into memory it returned (repopulating it; on hugetlb with an
 * empty pool, a SIGBUS). Such an UNPLUG or UNPLUG_ALL is BUSY and changes
 * nothing, until the ring is gone.
 */
#define RING_Q 8 /* entries */

/* Driver re-init with queue 0's rings at ring (desc, avail +0x1000, used
 * +0x2000), all written through the region's host view. */
static void ring_init(uint64_t ring)
{
	struct virtio_mmio_dev *d = &vm.mmio;

	memset(hp_hva(ring - lay.addr), 0, 0x3000);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, (uint32_t)F_INACC);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, 1); /* VERSION_1 */
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, 0xb);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, RING_Q);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_LOW, (uint32_t)ring);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW, (uint32_t)ring + 0x1000);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW, (uint32_t)ring + 0x2000);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_READY, 1);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, 0xf);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS), 0xf);
}

/* One request on the ring of ring_init, request at rq and response at
 * rq + 0x100 (both in the hotplug region). Returns the response type,
 * 0xffff when nothing was answered. */
static uint16_t ring_req(uint64_t ring, uint16_t *avail_idx, uint16_t type,
			 uint64_t addr, uint16_t nb, uint64_t rq)
{
	uint8_t *base = hp_hva(ring - lay.addr), *req = hp_hva(rq - lay.addr);
	uint8_t *resp = req + 0x100, *d = base + 16 * (*avail_idx % RING_Q);
	uint16_t t = htole16(type), n = htole16(nb), used0, used1, rt, idx;
	uint16_t next = (uint16_t)((*avail_idx + 1) % RING_Q);
	uint64_t a = htole64(addr), ra = htole64(rq), sa = htole64(rq + 0x100);
	uint32_t rl = htole32(VIRTIO_MEM_REQ_SIZE);
	uint32_t sl = htole32(VIRTIO_MEM_RESP_SIZE);
	uint16_t f0 = htole16(VIRTQ_DESC_F_NEXT),
		 f1 = htole16(VIRTQ_DESC_F_WRITE);
	uint16_t nx = htole16(next), zero = 0;

	memset(req, 0, VIRTIO_MEM_REQ_SIZE);
	memcpy(req, &t, 2);
	memcpy(req + 8, &a, 8);
	memcpy(req + 16, &n, 2);
	memset(resp, 0xee, VIRTIO_MEM_RESP_SIZE);
	/* Descriptors avail_idx and avail_idx+1 (mod RING_Q). */
	memcpy(d, &ra, 8);
	memcpy(d + 8, &rl, 4);
	memcpy(d + 12, &f0, 2);
	memcpy(d + 14, &nx, 2);
	d = base + 16 * next;
	memcpy(d, &sa, 8);
	memcpy(d + 8, &sl, 4);
	memcpy(d + 12, &f1, 2);
	memcpy(d + 14, &zero, 2);
	idx = htole16((uint16_t)(*avail_idx % RING_Q));
	memcpy(base + 0x1000 + 4 + 2 * ((*avail_idx / 2) % RING_Q), &idx, 2);
	memcpy(&used0, base + 0x2000 + 2, 2);
	*avail_idx = (uint16_t)(*avail_idx + 2);
	idx = htole16((uint16_t)(*avail_idx / 2));
	memcpy(base + 0x1000 + 2, &idx, 2);
	virtio_mmio_process(&vm.mmio);
	memcpy(&used1, base + 0x2000 + 2, 2);
	if (used1 == used0)
		return 0xffff;
	memcpy(&rt, resp, 2);
	return le16toh(rt);
}

START_TEST(vm_unplug_memory_in_use)
{
	struct virtio_mem_info in;
	const uint64_t a = 128 * MiB, ring = a + BLK + 0x10000;
	struct virtq other;
	uint16_t ai = 0;

	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(16 * MiB);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a, 6), VIRTIO_MEM_RESP_ACK);
	/* The device's own queue in block 1, its requests in block 2. */
	ring_init(ring);
	ck_assert_uint_eq(ring_req(ring, &ai, VIRTIO_MEM_REQ_UNPLUG, a + BLK, 1,
				   a + 2 * BLK),
			  VIRTIO_MEM_RESP_BUSY);
	/* Nothing changed: still plugged, still resident, the ring works. */
	ck_assert_uint_eq(hp_resident(BLK, BLK), BLK);
	ck_assert_ptr_nonnull(guest_mem_ptr(gm, a + BLK, BLK));
	/* The request's own buffers are in use too. */
	ck_assert_uint_eq(ring_req(ring, &ai, VIRTIO_MEM_REQ_UNPLUG,
				   a + 2 * BLK, 1, a + 2 * BLK),
			  VIRTIO_MEM_RESP_BUSY);
	ck_assert_uint_eq(hp_resident(2 * BLK, BLK), BLK);
	/* Another device's ring (a bare queue here) in block 4. */
	virtq_init(&other, gm);
	ck_assert_int_eq(virtq_setup(&other, 16, a + 4 * BLK,
				     a + 4 * BLK + 4096, a + 4 * BLK + 8192, 1,
				     0),
			 0);
	ck_assert_uint_eq(ring_req(ring, &ai, VIRTIO_MEM_REQ_UNPLUG,
				   a + 4 * BLK, 2, a + 2 * BLK),
			  VIRTIO_MEM_RESP_BUSY);
	/* UNPLUG_ALL is all or nothing. */
	ck_assert_uint_eq(ring_req(ring, &ai, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0,
				   a + 2 * BLK),
			  VIRTIO_MEM_RESP_BUSY);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 6 * BLK);
	ck_assert_uint_eq(hp_resident(0, 6 * BLK), 6 * BLK);
	/* Memory nothing uses goes back as before. */
	ck_assert_uint_eq(
		ring_req(ring, &ai, VIRTIO_MEM_REQ_UNPLUG, a, 1, a + 2 * BLK),
		VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(hp_resident(0, BLK), 0);
	/* Once the ring is gone, its block can go. */
	virtq_reset(&other);
	ck_assert_uint_eq(ring_req(ring, &ai, VIRTIO_MEM_REQ_UNPLUG,
				   a + 4 * BLK, 2, a + 2 * BLK),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(hp_resident(4 * BLK, 2 * BLK), 0);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.busy_in_use, 4);
	ck_assert_uint_eq(in.plugged_size, 3 * BLK);
	/* The device's own ring moves back to RAM (driver reset): then
	 * UNPLUG_ALL takes everything and nothing is left resident. */
	ck_assert_uint_eq(
		vtest_driver_init(&vm.mmio, F_INACC | F_VERSION_1, 1) &
			VIRTIO_STATUS_DRIVER_OK,
		VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0),
			  VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(hp_resident(0, 8 * BLK), 0);
	ck_assert_int_eq(virtio_mmio_live(&vm.mmio), 1);
}
END_TEST

/* Threads of this process named as virtio-mem's workers. */
static unsigned nr_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
		n += !strcmp(comm, VIRTIO_MEM_WORKER_NAME);
	}
	closedir(d);
	return n;
}

/* The workers' completion, as the event loop would see it: 1 when it
 * fired within 10 s. */
static int wait_done(void)
{
	struct pollfd p = {.fd = virtio_mem_done_source(&vm).fd,
			   .events = POLLIN};

	return poll(&p, 1, 10000) == 1;
}

/*
 * With workers, a PLUG is populated off the event loop thread, in
 * parallel: virtio_mmio_process (the loop's handler) returns at once with
 * the request unanswered, so the loop serves other devices meanwhile; the
 * answer (ACK, memory resident) goes out from virtio_mem_done when the
 * workers signal. A device reset meanwhile: no answer, the memory goes
 * back.
 */
static uint8_t snap_blob[64 * 1024];

START_TEST(vm_plug_off_the_loop)
{
	struct virtio_mem_info in;
	const uint64_t a = 128 * MiB;
	uint16_t used, rt;

	ck_assert_int_eq(virtio_mem_layout(VTEST_RAM_BASE + VTEST_RAM_SIZE,
					   512 * MiB, REGION_PAGES_BASE, &lay),
			 0);
	hp_region(REGION_PAGES_BASE, REGION_BACKING_ANON);
	start(512 * MiB);
	ck_assert_uint_eq(nr_workers(), 0);
	ck_assert_int_eq(virtio_mem_start_workers(&vm, 2), 0);
	ck_assert_uint_eq(nr_workers(), 2);
	ck_assert_int_ge(virtio_mem_done_source(&vm).fd, 0);

	used = vtest_used_idx(0);
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a, 128), 0xffff);
	/* Not answered, not plugged yet: the guest may not use it. */
	ck_assert_uint_eq(vtest_used_idx(0), used);
	ck_assert_ptr_null(guest_mem_ptr(gm, a, 1));
	/* A request behind it waits in the ring (one at a time). */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_STATE, a, 1), 0xffff);
	/* No snapshot meanwhile: it would hold the PLUG as taken and never
	 * answered, and a restored guest would wait for it forever. */
	ck_assert_int_eq(virtio_mmio_bus_ops.save(&vm.mmio, snap_blob,
						  sizeof(snap_blob)),
			 -EBUSY);
	ck_assert_msg(wait_done(), "the workers never signalled");
	virtio_mem_done(&vm);
	ck_assert_int_gt(virtio_mmio_bus_ops.save(&vm.mmio, snap_blob,
						  sizeof(snap_blob)),
			 0);
	ck_assert_uint_eq(vtest_used_idx(0), (uint16_t)(used + 1));
	memcpy(&rt, vtest_gpa(RESP_GPA), 2);
	ck_assert_uint_eq(le16toh(rt), VIRTIO_MEM_RESP_ACK);
	ck_assert_uint_eq(hp_resident(0, 64 * MiB), 64 * MiB);
	ck_assert_ptr_nonnull(guest_mem_ptr(gm, a, 256 * MiB));
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 256 * MiB);
	/* The STATE behind it is served at the kick virtio_mem_done gave. */
	virtio_mmio_process(&vm.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), (uint16_t)(used + 2));
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.c.async_plugs, 1);
	ck_assert_uint_ge(in.c.plug_threads, 1);
	ck_assert_uint_le(in.c.plug_threads, 2);
	ck_assert_uint_eq(in.c.plugs, 1);

	/* A reset while the workers run: nothing answered, nothing
	 * plugged, the memory given back. */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 256 * MiB, 16), 0xffff);
	ck_assert_uint_eq(
		vtest_driver_init(&vm.mmio, F_INACC | F_VERSION_1, 1) &
			VIRTIO_STATUS_DRIVER_OK,
		VIRTIO_STATUS_DRIVER_OK);
	ck_assert_msg(wait_done(), "the workers never signalled");
	virtio_mem_done(&vm);
	ck_assert_uint_eq(vtest_used_idx(0), 0);
	ck_assert_uint_eq(hp_resident(256 * MiB, 32 * MiB), 0);
	ck_assert_uint_eq(cfg64(VIRTIO_MEM_CFG_PLUGGED_SIZE), 256 * MiB);
	ck_assert_uint_eq(state_of(a + 256 * MiB, 16),
			  VIRTIO_MEM_STATE_UNPLUGGED);
	/* The device goes on: a plug answered as before. */
	ck_assert_uint_eq(req(VIRTIO_MEM_REQ_PLUG, a + 256 * MiB, 1), 0xffff);
	ck_assert_msg(wait_done(), "the workers never signalled");
	virtio_mem_done(&vm);
	memcpy(&rt, vtest_gpa(RESP_GPA), 2);
	ck_assert_uint_eq(le16toh(rt), VIRTIO_MEM_RESP_ACK);
	virtio_mem_stop_workers(&vm);
	ck_assert_uint_eq(nr_workers(), 0);
}
END_TEST

Suite *virtio_mem_suite(void);
Suite *virtio_mem_suite(void)
{
	Suite *s = suite_create("virtio_mem");
	TCase *dev = tcase_create("device");

	tcase_add_checked_fixture(dev, setup, teardown);
	tcase_add_test(dev, vm_layout);
	tcase_add_test(dev, vm_init_checks);
	tcase_add_test(dev, vm_config);
	tcase_add_test(dev, vm_feature_required);
	tcase_add_test(dev, vm_plug_unplug_anon);
	tcase_add_test(dev, vm_errors);
	tcase_add_test(dev, vm_usable_region);
	tcase_add_test(dev, vm_unplug_all_and_reset);
	tcase_add_test(dev, vm_no_response_room);
	tcase_add_test(dev, vm_busy_unbacked);
	tcase_add_test(dev, vm_hugetlb_pool);
	tcase_add_test(dev, vm_unplug_memory_in_use);
	tcase_add_test(dev, vm_plug_off_the_loop);
	tcase_add_test(dev, vm_snapshot_round_trip);
	suite_add_tcase(s, dev);
	return s;
}
