#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/layout.h"
#include "devices/boot_timer.h"
#include "lib/clock.h"
#include "tests/harness/harness.h"

static void poke(struct boot_timer *t, uint64_t off, uint8_t v)
{
	boot_timer_ops.write(t, off, &v, 1);
}

/* Burn some CPU so both clocks visibly move. */
static void spin_ms(unsigned ms)
{
	uint64_t start, now;

	start = clock_wall_ns();
	do
		now = clock_wall_ns();
	while (now - start < ms * 1000000ULL);
}

/* Run fn with stderr captured into buf. */
static void capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
	int p[2], saved;
	ssize_t n;

	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(p[1], 2), 2);
	fn(arg);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	n = read(p[0], buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
	close(p[0]);
	close(p[1]);
}

static void fire(void *arg)
{
	poke(arg, 0, LAYOUT_BOOT_TIMER_MAGIC);
}

START_TEST(boot_timer_fires_once)
{
	struct boot_timer t;
	uint64_t w0, c0, w1, c1, wall, cpu, wall2, cpu2, v = 77;
	unsigned long long mw, mc, ms;
	char out[512];
	uint8_t r[8];

	w0 = clock_wall_ns();
	c0 = clock_cpu_ns();
	boot_timer_init(&t, w0, c0);
	boot_timer_set_setup_ns(&t, 7500000);
	ck_assert_int_eq(boot_timer_result(&t, &wall, &cpu), -EAGAIN);

	/* Wrong values, wrong offsets: ignored. */
	poke(&t, 0, 122);
	poke(&t, 0, 0);
	poke(&t, 1, LAYOUT_BOOT_TIMER_MAGIC);
	poke(&t, LAYOUT_MMIO_SLOT_SIZE - 1, LAYOUT_BOOT_TIMER_MAGIC);
	ck_assert_int_eq(boot_timer_result(&t, &wall, &cpu), -EAGAIN);
	/* Reads return 0 and do not fire it. */
	memset(r, 0xaa, sizeof(r));
	boot_timer_ops.read(&t, 0, r, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(r[i], 0);
	ck_assert_int_eq(boot_timer_result(&t, NULL, NULL), -EAGAIN);

	spin_ms(20);
	capture_stderr(fire, &t, out, sizeof(out));
	w1 = clock_wall_ns();
	c1 = clock_cpu_ns();
	ck_assert_int_eq(boot_timer_result(&t, &wall, &cpu), 0);
	/* Within what the test itself measured around the write. */
	ck_assert_uint_ge(wall, 20000000);
	ck_assert_uint_le(wall, w1 - w0);
	ck_assert_uint_gt(cpu, 0);
	ck_assert_uint_le(cpu, c1 - c0);
	/* Exactly one line, in the agreed format. */
	ck_assert_int_eq(sscanf(out,
				"microvm: guest boot time: %llu ms wall, %llu "
				"ms CPU (VMM setup %llu ms)\n",
				&mw, &mc, &ms),
			 3);
	ck_assert_uint_eq(mw, wall / 1000000);
	ck_assert_uint_eq(mc, cpu / 1000000);
	ck_assert_uint_eq(ms, 7);
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);

	/* A second write changes nothing and prints nothing. */
	spin_ms(5);
	capture_stderr(fire, &t, out, sizeof(out));
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(boot_timer_result(&t, &wall2, &cpu2), 0);
	ck_assert_uint_eq(wall2, wall);
	ck_assert_uint_eq(cpu2, cpu);
	ck_assert_int_eq(boot_timer_result(&t, &v, NULL), 0);
	ck_assert_uint_eq(v, wall);
}
END_TEST

/* A wide write of 123 has the byte 123 at offset 0. */
START_TEST(boot_timer_wide_write)
{
	struct boot_timer t;
	uint32_t v = LAYOUT_BOOT_TIMER_MAGIC;
	uint64_t w, c;

	w = clock_wall_ns();
	c = clock_cpu_ns();
	boot_timer_init(&t, w, c);
	v |= 0x100;
	boot_timer_ops.write(&t, 0, &v, 4);
	ck_assert_int_eq(boot_timer_result(&t, NULL, NULL), 0);
}
END_TEST

/* A start point in the future (clock skew, a caller's mistake) yields 0,
 * not a wrapped huge number. */
START_TEST(boot_timer_clamps)
{
	struct boot_timer t;
	uint64_t w, c, wall = 1, cpu = 1;
	char out[256];

	w = clock_wall_ns();
	c = clock_cpu_ns();
	boot_timer_init(&t, w + 60000000000ULL, c + 60000000000ULL);
	capture_stderr(fire, &t, out, sizeof(out));
	ck_assert_int_eq(boot_timer_result(&t, &wall, &cpu), 0);
	ck_assert_uint_eq(wall, 0);
	ck_assert_uint_eq(cpu, 0);
}
END_TEST

Suite *boot_timer_suite(void);
Suite *boot_timer_suite(void)
{
	Suite *s = suite_create("boot_timer");
	TCase *tc = tcase_create("boot_timer");

	tcase_add_test(tc, boot_timer_fires_once);
	tcase_add_test(tc, boot_timer_wide_write);
	tcase_add_test(tc, boot_timer_clamps);
	suite_add_tcase(s, tc);
	return s;
}
