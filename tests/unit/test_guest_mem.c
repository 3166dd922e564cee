/* Translation, spanning copies and overlap rules of the guest memory map. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static struct guest_mem gm;

/* Two adjacent regions [0, 2M) and [2M, 4M), and one at 4G [4G, 4G+2M). */
static void setup(void)
{
	static const uint64_t gpas[] = {0, 2 * MiB, 4 * GiB};
	struct region r;

	guest_mem_init(&gm);
	for (unsigned i = 0; i < 3; i++) {
		struct region_policy pol = {.pages = REGION_PAGES_BASE};
		char err[256];

		ck_assert_int_eq(region_map(&r, gpas[i], 2 * MiB, &pol, -1, 0,
					    err, sizeof(err)),
				 0);
		ck_assert_int_eq(guest_mem_add(&gm, &r), 0);
	}
}

static void teardown(void)
{
	guest_mem_destroy(&gm);
}

START_TEST(gm_sorted_and_overlap)
{
	struct region r = {.gpa = 1 * MiB, .size = 4096, .hva = (void *)1};

	ck_assert_uint_eq(gm.nr, 3);
	ck_assert_uint_eq(gm.regions[0].gpa, 0);
	ck_assert_uint_eq(gm.regions[1].gpa, 2 * MiB);
	ck_assert_uint_eq(gm.regions[2].gpa, 4 * GiB);
	ck_assert_int_eq(guest_mem_add(&gm, &r), -EEXIST);
	r.gpa = 4 * GiB - 4096;
	r.size = 8192;
	ck_assert_int_eq(guest_mem_add(&gm, &r), -EEXIST);
	r.gpa = UINT64_MAX - 4095;
	r.size = 8192;
	ck_assert_int_eq(guest_mem_add(&gm, &r), -EINVAL);
	r.size = 0;
	ck_assert_int_eq(guest_mem_add(&gm, &r), -EINVAL);
	ck_assert_uint_eq(guest_mem_size(&gm), 6 * MiB);
}
END_TEST

START_TEST(gm_ptr_boundaries)
{
	const struct region *r0 = &gm.regions[0], *r2 = &gm.regions[2];

	ck_assert_ptr_eq(guest_mem_ptr(&gm, 0, 1), r0->hva);
	ck_assert_ptr_eq(guest_mem_ptr(&gm, 2 * MiB - 1, 1),
			 r0->hva + 2 * MiB - 1);
	ck_assert_ptr_eq(guest_mem_ptr(&gm, 0, 2 * MiB), r0->hva);
	/* Spans two regions: no single pointer. */
	ck_assert_ptr_null(guest_mem_ptr(&gm, 2 * MiB - 1, 2));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 0, 2 * MiB + 1));
	/* End of RAM below the gap, and the gap. */
	ck_assert_ptr_nonnull(guest_mem_ptr(&gm, 4 * MiB - 8, 8));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 4 * MiB - 8, 9));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 4 * MiB, 1));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 4 * GiB - 1, 1));
	ck_assert_ptr_eq(guest_mem_ptr(&gm, 4 * GiB, 16), r2->hva);
	ck_assert_ptr_nonnull(guest_mem_ptr(&gm, 4 * GiB + 2 * MiB - 1, 1));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 4 * GiB + 2 * MiB - 1, 2));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 4 * GiB + 2 * MiB, 1));
	/* Zero length and overflowing ranges. */
	ck_assert_ptr_null(guest_mem_ptr(&gm, 0, 0));
	ck_assert_ptr_null(guest_mem_ptr(&gm, 4096, UINT64_MAX));
	ck_assert_ptr_null(guest_mem_ptr(&gm, UINT64_MAX, 2));
	ck_assert_ptr_null(guest_mem_ptr(&gm, UINT64_MAX, 1));
	ck_assert_ptr_null(guest_mem_find(&gm, 4 * MiB, 1));
	ck_assert_ptr_eq(guest_mem_find(&gm, 2 * MiB, 0), &gm.regions[1]);
}
END_TEST

START_TEST(gm_spanning_copy)
{
	uint8_t buf[8192], back[8192];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	/* Straddles the boundary of the two adjacent regions. */
	ck_assert_int_eq(guest_mem_write(&gm, 2 * MiB - 4096, buf, sizeof(buf)),
			 0);
	ck_assert_int_eq(memcmp(gm.regions[0].hva + 2 * MiB - 4096, buf, 4096),
			 0);
	ck_assert_int_eq(memcmp(gm.regions[1].hva, buf + 4096, 4096), 0);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(
		guest_mem_read(&gm, 2 * MiB - 4096, back, sizeof(back)), 0);
	ck_assert_int_eq(memcmp(back, buf, sizeof(buf)), 0);

	/* Runs into the gap: refused, and nothing at all is written. */
	memset(gm.regions[1].hva + 2 * MiB - 4096, 0xaa, 4096);
	ck_assert_int_eq(guest_mem_write(&gm, 4 * MiB - 4096, buf, sizeof(buf)),
			 -EFAULT);
	ck_assert_uint_eq(gm.regions[1].hva[2 * MiB - 1], 0xaa);
	ck_assert_int_eq(
		guest_mem_read(&gm, 4 * MiB - 4096, back, sizeof(back)),
		-EFAULT);
	ck_assert_int_eq(guest_mem_read(&gm, UINT64_MAX - 10, back, 20),
			 -EFAULT);
	ck_assert_int_eq(guest_mem_write(&gm, 8 * GiB, buf, 1), -EFAULT);
	/* Zero-length copies are fine anywhere. */
	ck_assert_int_eq(guest_mem_read(&gm, 8 * GiB, back, 0), 0);
}
END_TEST

START_TEST(gm_discard_span)
{
	uint64_t got;

	memset(gm.regions[0].hva, 0x55, 2 * MiB);
	memset(gm.regions[1].hva, 0x66, 2 * MiB);
	/* Half a page at each end is kept, whole pages between are zeroed. */
	ck_assert_int_eq(
		guest_mem_discard(&gm, 2 * MiB - 8192 - 100, 16384 + 200, &got),
		0);
	ck_assert_uint_eq(got, 16384);
	ck_assert_uint_eq(gm.regions[0].hva[2 * MiB - 8192 - 1], 0x55);
	ck_assert_uint_eq(gm.regions[0].hva[2 * MiB - 8192], 0);
	ck_assert_uint_eq(gm.regions[1].hva[8191], 0);
	ck_assert_uint_eq(gm.regions[1].hva[8192], 0x66);
	ck_assert_int_eq(guest_mem_discard(&gm, 4 * MiB - 4096, 8192, &got),
			 -EFAULT);
	ck_assert_uint_eq(got, 0);
}
END_TEST

/* Pins on hotplug blocks (the region at 4G, tracked in 4K blocks here):
 * only plugged blocks pin, pinned blocks do not unplug, a failed pin or
 * unplug leaves nothing changed, and regions without tracking pin
 * freely. */
START_TEST(gm_pin_blocks)
{
	struct region *r = &gm.regions[2];
	const uint64_t a = 4 * GiB;

	ck_assert_int_eq(region_track_plugs(r, 4096), 0);
	ck_assert_ptr_null(guest_mem_ptr_pin(&gm, a, 8192));
	region_set_plugged(r, 0, 8192, 1);
	ck_assert_ptr_eq(guest_mem_ptr_pin(&gm, a + 4096, 4096), r->hva + 4096);
	/* Blocks 1 and 2: block 2 is unplugged, so block 1 gets no
	 * second pin either. */
	ck_assert_ptr_null(guest_mem_ptr_pin(&gm, a + 4096, 8192));
	ck_assert_uint_eq(r->plug_state[1], 1 + REGION_PIN);
	ck_assert_int_eq(region_try_unplug(r, 0, 8192), -EBUSY);
	ck_assert_int_eq(region_plugged(r, 0, 8192), 1);
	ck_assert_int_eq(region_try_unplug(r, 0, 4096), 0);
	ck_assert_int_eq(region_plugged(r, 0, 1), 0);
	ck_assert_int_eq(region_try_unplug(r, 0, 4096), -EINVAL);
	guest_mem_unpin(&gm, a + 4096, 4096);
	ck_assert_int_eq(region_try_unplug(r, 4096, 4096), 0);
	ck_assert_ptr_null(guest_mem_ptr(&gm, a, 1));
	ck_assert_int_eq(region_try_unplug(r, 2 * MiB, 1), -EFAULT);
	/* No tracking: pins are free and change nothing. */
	ck_assert_ptr_eq(guest_mem_ptr_pin(&gm, 0, 2 * MiB), gm.regions[0].hva);
	guest_mem_unpin(&gm, 0, 2 * MiB);
	ck_assert_int_eq(region_try_unplug(&gm.regions[0], 0, 4096), -EINVAL);
}
END_TEST

Suite *guest_mem_suite(void);
Suite *guest_mem_suite(void)
{
	Suite *s = suite_create("guest_mem");
	TCase *tc = tcase_create("map");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, gm_sorted_and_overlap);
	tcase_add_test(tc, gm_ptr_boundaries);
	tcase_add_test(tc, gm_spanning_copy);
	tcase_add_test(tc, gm_discard_span);
	tcase_add_test(tc, gm_pin_blocks);
	suite_add_tcase(s, tc);
	return s;
}
