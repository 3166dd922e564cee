#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "devices/bus.h"
#include "tests/harness/harness.h"

/* A fake device: reads return off-based bytes, writes and resets are
 * recorded. */
struct fake_dev {
	int id;
	unsigned reads, writes, resets;
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_data[8];
};

static int bus_reset_order[8];
static unsigned bus_reset_count;

static void fake_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *f = opaque;
	uint8_t *p = data;

	f->reads++;
	f->last_off = off;
	f->last_len = len;
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(f->id * 16 + off + i);
}

static void fake_write(void *opaque, uint64_t off, const void *data,
		       uint32_t len)
{
	struct fake_dev *f = opaque;

	f->writes++;
	f->last_off = off;
	f->last_len = len;
	memcpy(f->last_data, data, len);
}

static void fake_reset(void *opaque)
{
	struct fake_dev *f = opaque;

	f->resets++;
	if (bus_reset_count < 8)
		bus_reset_order[bus_reset_count++] = f->id;
}

static const struct bus_ops fake_ops = {
	.read = fake_read,
	.write = fake_write,
	.reset = fake_reset,
};

static const struct bus_ops fake_ops_noreset = {
	.read = fake_read,
	.write = fake_write,
};

START_TEST(bus_sorted_and_found)
{
	struct fake_dev a = {.id = 1}, c = {.id = 3}, d = {.id = 4};
	struct bus b;

	bus_init(&b, "pio");
	/* Added out of order; the array must come out sorted. */
	ck_assert_int_eq(bus_add(&b, 0x3f8, 8, &fake_ops, &c, "c"), 0);
	ck_assert_int_eq(bus_add(&b, 0x60, 1, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_add(&b, 0x1000, 0x100, &fake_ops, &d, "d"), 0);
	ck_assert_uint_eq(b.nr, 3);
	ck_assert_uint_eq(b.devs[0].base, 0x60);
	ck_assert_uint_eq(b.devs[1].base, 0x3f8);
	ck_assert_uint_eq(b.devs[2].base, 0x1000);

	ck_assert_ptr_eq(bus_find(&b, 0x60, 1)->opaque, &a);
	ck_assert_ptr_eq(bus_find(&b, 0x3f8, 1)->opaque, &c);
	ck_assert_ptr_eq(bus_find(&b, 0x3ff, 1)->opaque, &c);
	ck_assert_ptr_eq(bus_find(&b, 0x3fc, 4)->opaque, &c);
	ck_assert_ptr_eq(bus_find(&b, 0x10f8, 8)->opaque, &d);
	ck_assert_ptr_null(bus_find(&b, 0x5f, 1));
	ck_assert_ptr_null(bus_find(&b, 0x61, 1));
	ck_assert_ptr_null(bus_find(&b, 0x400, 1));
	ck_assert_ptr_null(bus_find(&b, 0x1100, 1));
	ck_assert_ptr_null(bus_find(&b, 0, 1));
	ck_assert_ptr_null(bus_find(&b, UINT64_MAX, 1));
	ck_assert_ptr_null(bus_find(&b, 0x60, 0));
}
END_TEST

START_TEST(bus_binary_search_many)
{
	static struct fake_dev devs[BUS_MAX_DEVS];
	struct fake_dev extra = {.id = 99};
	struct bus b;

	bus_init(&b, "mmio");
	/* Fill in a scrambled order: 0x1000-spaced, 0x800 long. */
	for (unsigned k = 0; k < BUS_MAX_DEVS; k++) {
		unsigned i = (k * 7) % BUS_MAX_DEVS;

		devs[i].id = (int)i;
		ck_assert_int_eq(bus_add(&b, 0x10000 + i * 0x1000ULL, 0x800,
					 &fake_ops, &devs[i], "d"),
				 0);
	}
	ck_assert_int_eq(bus_add(&b, 0x900000, 1, &fake_ops, &extra, "x"),
			 -ENOSPC);
	for (unsigned i = 0; i < BUS_MAX_DEVS; i++) {
		uint64_t base = 0x10000 + i * 0x1000ULL;

		ck_assert_uint_eq(b.devs[i].base, base);
		ck_assert_ptr_eq(bus_find(&b, base, 1)->opaque, &devs[i]);
		ck_assert_ptr_eq(bus_find(&b, base + 0x7ff, 1)->opaque,
				 &devs[i]);
		ck_assert_ptr_null(bus_find(&b, base + 0x800, 1));
		ck_assert_ptr_null(bus_find(&b, base + 0xfff, 1));
	}
}
END_TEST

START_TEST(bus_overlap)
{
	struct fake_dev a = {.id = 1};
	struct bus b;

	bus_init(&b, "pio");
	ck_assert_int_eq(bus_add(&b, 0x100, 0x10, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_add(&b, 0x100, 0x10, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_int_eq(bus_add(&b, 0x10f, 1, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_int_eq(bus_add(&b, 0xf0, 0x11, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_int_eq(bus_add(&b, 0x0, 0x1000, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_int_eq(bus_add(&b, 0x108, 2, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_uint_eq(b.nr, 1);
	/* Touching ranges on both sides are fine. */
	ck_assert_int_eq(bus_add(&b, 0xf0, 0x10, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_add(&b, 0x110, 0x10, &fake_ops, &a, "a"), 0);
	ck_assert_uint_eq(b.nr, 3);
	/* A hole of exactly the right size between two devices. */
	ck_assert_int_eq(bus_add(&b, 0x200, 0x10, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_add(&b, 0x11f, 0xe2, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_int_eq(bus_add(&b, 0x120, 0xe1, &fake_ops, &a, "a"), -EEXIST);
	ck_assert_int_eq(bus_add(&b, 0x120, 0xe0, &fake_ops, &a, "a"), 0);
	ck_assert_uint_eq(b.nr, 5);
}
END_TEST

START_TEST(bus_bad_ranges)
{
	struct fake_dev a = {.id = 1};
	struct bus b;

	bus_init(&b, "mmio");
	ck_assert_int_eq(bus_add(&b, 0x1000, 0, &fake_ops, &a, "a"), -EINVAL);
	ck_assert_int_eq(bus_add(&b, UINT64_MAX, 2, &fake_ops, &a, "a"),
			 -EINVAL);
	ck_assert_int_eq(bus_add(&b, 1, UINT64_MAX, &fake_ops, &a, "a"),
			 -EINVAL);
	/* [2^64 - 16, 2^64) has an end that does not fit in 64 bits. */
	ck_assert_int_eq(bus_add(&b, UINT64_MAX - 15, 16, &fake_ops, &a, "a"),
			 -EINVAL);
	ck_assert_uint_eq(b.nr, 0);
	/* The last representable range is fine, and findable. */
	ck_assert_int_eq(bus_add(&b, UINT64_MAX - 15, 15, &fake_ops, &a, "a"),
			 0);
	ck_assert_ptr_eq(bus_find(&b, UINT64_MAX - 1, 1)->opaque, &a);
	ck_assert_ptr_null(bus_find(&b, UINT64_MAX, 1));
	ck_assert_ptr_null(bus_find(&b, UINT64_MAX - 1, 2));
}
END_TEST

START_TEST(bus_straddle_unclaimed)
{
	struct fake_dev a = {.id = 1}, c = {.id = 2};
	uint8_t buf[8];
	struct bus b;

	bus_init(&b, "pio");
	ck_assert_int_eq(bus_add(&b, 0x60, 1, &fake_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_add(&b, 0x61, 4, &fake_ops, &c, "c"), 0);

	/* Straddles a's end into c: nobody claims it. */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(bus_read(&b, 0x60, buf, 2), 0);
	ck_assert_uint_eq(buf[0], 0xff);
	ck_assert_uint_eq(buf[1], 0xff);
	ck_assert_uint_eq(buf[2], 0);
	/* Straddles c's end into nothing. */
	ck_assert_int_eq(bus_read(&b, 0x63, buf, 4), 0);
	ck_assert_int_eq(bus_write(&b, 0x64, buf, 2), 0);
	/* Starts below a. */
	ck_assert_int_eq(bus_write(&b, 0x5f, buf, 2), 0);
	ck_assert_uint_eq(a.reads + a.writes + c.reads + c.writes, 0);

	/* Fully unclaimed: 8 bytes of all-ones. */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(bus_read(&b, 0x1000, buf, 8), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(buf[i], 0xff);

	/* Inside c, at the very end: claimed, offset relative to base. */
	ck_assert_int_eq(bus_read(&b, 0x63, buf, 2), 1);
	ck_assert_uint_eq(c.reads, 1);
	ck_assert_uint_eq(c.last_off, 2);
	ck_assert_uint_eq(c.last_len, 2);
	ck_assert_uint_eq(buf[0], 2 * 16 + 2);
	ck_assert_uint_eq(buf[1], 2 * 16 + 3);

	buf[0] = 0xab;
	ck_assert_int_eq(bus_write(&b, 0x60, buf, 1), 1);
	ck_assert_uint_eq(a.writes, 1);
	ck_assert_uint_eq(a.last_off, 0);
	ck_assert_uint_eq(a.last_data[0], 0xab);

	/* Lengths outside 1..8 never reach a device. */
	ck_assert_int_eq(bus_write(&b, 0x61, buf, 0), 0);
	ck_assert_uint_eq(c.writes, 0);
}
END_TEST

START_TEST(bus_reset_all)
{
	struct fake_dev a = {.id = 1}, c = {.id = 2}, d = {.id = 3};
	struct bus b;

	bus_init(&b, "mmio");
	bus_reset_count = 0;
	ck_assert_int_eq(bus_add(&b, 0x3000, 1, &fake_ops, &d, "d"), 0);
	ck_assert_int_eq(bus_add(&b, 0x2000, 1, &fake_ops_noreset, &c, "c"), 0);
	ck_assert_int_eq(bus_add(&b, 0x1000, 1, &fake_ops, &a, "a"), 0);
	bus_reset(&b);
	ck_assert_uint_eq(a.resets, 1);
	ck_assert_uint_eq(c.resets, 0);
	ck_assert_uint_eq(d.resets, 1);
	/* In address order. */
	ck_assert_uint_eq(bus_reset_count, 2);
	ck_assert_int_eq(bus_reset_order[0], 1);
	ck_assert_int_eq(bus_reset_order[1], 3);
}
END_TEST

Suite *bus_suite(void);
Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_add_test(tc, bus_sorted_and_found);
	tcase_add_test(tc, bus_binary_search_many);
	tcase_add_test(tc, bus_overlap);
	tcase_add_test(tc, bus_bad_ranges);
	tcase_add_test(tc, bus_straddle_unclaimed);
	tcase_add_test(tc, bus_reset_all);
	suite_add_tcase(s, tc);
	return s;
}
