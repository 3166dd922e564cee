#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtio_rng.h"
#include "tests/harness/harness.h"
#include "tests/unit/vtest.h"

uint32_t vtest_rd(struct virtio_mmio_dev *d, uint64_t off);
uint32_t vtest_driver_init(struct virtio_mmio_dev *d, uint64_t features,
			   unsigned nq);
uint16_t vtest_used_idx(unsigned q);
uint32_t vtest_used_len(unsigned q, uint16_t slot);
uint32_t vtest_used_id(unsigned q, uint16_t slot);

static struct virtio_rng rng;

static void rng_setup(void)
{
	struct guest_mem *gm = vtest_ram();
	struct irq_line irq;

	virtio_rng_init(&rng);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&rng.mmio, gm, 0xc0003000, &irq),
			 0);
	ck_assert_uint_eq(
		vtest_driver_init(&rng.mmio, 1ULL << VIRTIO_F_VERSION_1, 1) &
			VIRTIO_STATUS_DRIVER_OK,
		VIRTIO_STATUS_DRIVER_OK);
	virtio_mmio_process(&rng.mmio);
}

static void rng_teardown(void)
{
	virtio_rng_close(&rng);
	vtest_ram_free();
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

START_TEST(rng_fill)
{
	uint8_t *a = vtest_gpa(VTEST_DATA), *b = vtest_gpa(VTEST_DATA + 0x100);
	uint8_t *after = vtest_gpa(VTEST_DATA + 0x100 + 100);

	ck_assert_uint_eq(vtest_rd(&rng.mmio, VIRTIO_MMIO_REG_DEVICE_ID), 4);
	memset(a, 0, 0x200);
	vtest_desc(0, 2, VTEST_DATA, 32, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		   5);
	vtest_desc(0, 5, VTEST_DATA + 0x100, 100, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 2);
	virtio_mmio_process(&rng.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 1);
	ck_assert_uint_eq(vtest_used_id(0, 0), 2);
	ck_assert_uint_eq(vtest_used_len(0, 0), 132);
	/* 32 and 100 random bytes are never all zero in practice. */
	ck_assert(!all_zero(a, 32));
	ck_assert(!all_zero(b, 100));
	ck_assert(all_zero(a + 32, 0x100 - 32)); /* nothing outside */
	ck_assert(all_zero(after, 16));
	ck_assert_int_eq(vtest_irq_level(), 1);
}
END_TEST

START_TEST(rng_readable_ignored_and_capped)
{
	uint8_t *ro = vtest_gpa(VTEST_DATA);

	/* A readable buffer is left alone; only the writable one fills. */
	memset(ro, 0x5a, 64);
	vtest_desc(0, 0, VTEST_DATA, 64, VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(0, 1, VTEST_DATA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(&rng.mmio);
	ck_assert_uint_eq(vtest_used_len(0, 0), 16);
	for (unsigned i = 0; i < 64; i++)
		ck_assert_uint_eq(ro[i], 0x5a);
	/* A huge request gets at most VIRTIO_RNG_MAX_REQUEST bytes. */
	vtest_desc(0, 3, VTEST_DATA, VTEST_RAM_SIZE - 0x40000,
		   VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 3);
	virtio_mmio_process(&rng.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 2);
	ck_assert_uint_eq(vtest_used_len(0, 1), VIRTIO_RNG_MAX_REQUEST);
}
END_TEST

START_TEST(rng_no_buffers)
{
	/* A chain with no writable buffer: used length 0, device fine. */
	vtest_desc(0, 0, VTEST_DATA, 8, 0, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(&rng.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 1);
	ck_assert_uint_eq(vtest_used_len(0, 0), 0);
	ck_assert_int_eq(virtio_mmio_live(&rng.mmio), 1);
}
END_TEST

/* The transport's snapshot hooks: a device loaded from a save goes on
 * from the same ring positions (the next buffer is used slot 1), and a
 * blob from another device type or cut short is refused. */
START_TEST(rng_snapshot_transport)
{
	struct virtio_rng other;
	struct irq_line irq;
	uint8_t blob[4096];
	ssize_t n;

	vtest_desc(0, 0, VTEST_DATA, 16, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(&rng.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 1);
	n = virtio_mmio_bus_ops.save(&rng.mmio, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(virtio_mmio_bus_ops.save(&rng.mmio, blob, 8), -ENOSPC);

	virtio_rng_init(&other);
	vtest_irq(&irq);
	ck_assert_int_eq(
		virtio_mmio_attach(&other.mmio, rng.mmio.gm, 0xc0004000, &irq),
		0);
	ck_assert_int_eq(
		virtio_mmio_bus_ops.load(&other.mmio, blob, (size_t)n - 1),
		-EINVAL);
	ck_assert_int_eq(virtio_mmio_bus_ops.load(&other.mmio, blob, (size_t)n),
			 0);
	ck_assert_uint_eq(vtest_rd(&other.mmio, VIRTIO_MMIO_REG_STATUS) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	vtest_desc(0, 1, VTEST_DATA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 1);
	virtio_mmio_process(&other.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 2);
	ck_assert_uint_eq(vtest_used_id(0, 1), 1);
	/* Another device type's blob: refused. */
	((uint32_t *)(void *)blob)[1] = 2;
	ck_assert_int_eq(virtio_mmio_bus_ops.load(&other.mmio, blob, (size_t)n),
			 -EINVAL);
	virtio_rng_close(&other);
}
END_TEST

Suite *virtio_rng_suite(void);
Suite *virtio_rng_suite(void)
{
	Suite *s = suite_create("virtio_rng");
	TCase *tc = tcase_create("entropy");

	tcase_add_checked_fixture(tc, rng_setup, rng_teardown);
	tcase_add_test(tc, rng_fill);
	tcase_add_test(tc, rng_readable_ignored_and_capped);
	tcase_add_test(tc, rng_no_buffers);
	tcase_add_test(tc, rng_snapshot_transport);
	suite_add_tcase(s, tc);
	return s;
}
