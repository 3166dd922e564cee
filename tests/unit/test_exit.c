/* Exit dispatch over synthetic struct kvm_run: no KVM needed. */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "tests/harness/harness.h"
#include "vmm/exit.h"

#define RUN_SIZE (3 * 4096) /* KVM: kvm_run, then the PIO page */

static struct bus pio, mmio;
static struct kvm_run *run;
static struct exit_ctx ctx;
static char why[256];

struct rec {
	uint64_t off[16];
	uint8_t val[16];
	unsigned n;
};

static struct rec wrec;

static void rec_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(0x40 + off + i);
}

static void rec_write(void *opaque, uint64_t off, const void *data,
		      uint32_t len)
{
	struct rec *r = opaque;

	(void)len;
	if (r->n < 16) {
		r->off[r->n] = off;
		r->val[r->n++] = *(const uint8_t *)data;
	}
}

static const struct bus_ops rec_ops = {.read = rec_read, .write = rec_write};

static void setup(void)
{
	run = calloc(1, RUN_SIZE);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	memset(&wrec, 0, sizeof(wrec));
	ck_assert_int_eq(bus_add(&pio, 0x3f8, 8, &rec_ops, &wrec, "uart"), 0);
	ck_assert_int_eq(
		bus_add(&mmio, 0xc0000000, 0x1000, &rec_ops, &wrec, "dev"), 0);
	ctx = (struct exit_ctx){
		.pio = &pio, .mmio = &mmio, .run_size = RUN_SIZE};
}

static void teardown(void)
{
	free(run);
}

static uint8_t *io_setup(uint8_t dir, uint16_t port, uint8_t size,
			 uint32_t count)
{
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.port = port;
	run->io.size = size;
	run->io.count = count;
	run->io.data_offset = 4096;
	return (uint8_t *)run + 4096;
}

START_TEST(exit_io_out_and_string)
{
	uint8_t *d = io_setup(KVM_EXIT_IO_OUT, 0x3f9, 1, 3);

	memcpy(d, "abc", 3);
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	/* rep outsb: three writes at the same port, bus-relative offset 1. */
	ck_assert_uint_eq(wrec.n, 3);
	ck_assert_uint_eq(wrec.off[0], 1);
	ck_assert_uint_eq(wrec.val[0], 'a');
	ck_assert_uint_eq(wrec.val[2], 'c');
}
END_TEST

START_TEST(exit_io_in_claimed_and_unclaimed)
{
	uint8_t *d = io_setup(KVM_EXIT_IO_IN, 0x3fa, 1, 1);

	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(d[0], 0x42);
	d = io_setup(KVM_EXIT_IO_IN, 0x2f8, 4, 1);
	memset(d, 0, 4);
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(d[0], 0xff);
	ck_assert_uint_eq(d[3], 0xff);
	/* Straddling the end of the device: unclaimed, all-ones. */
	d = io_setup(KVM_EXIT_IO_IN, 0x3ff, 2, 1);
	memset(d, 0, 2);
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(d[0], 0xff);
}
END_TEST

START_TEST(exit_io_bad_offsets)
{
	io_setup(KVM_EXIT_IO_OUT, 0x3f8, 1, 1);
	run->io.data_offset = RUN_SIZE;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	ck_assert_ptr_nonnull(strstr(why, "bad IO exit"));
	io_setup(KVM_EXIT_IO_OUT, 0x3f8, 4,
		 2049); /* 8196 bytes: 4 past the end */
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	io_setup(KVM_EXIT_IO_OUT, 0x3f8, 3, 1);
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	io_setup(KVM_EXIT_IO_OUT, 0x3f8, 1, 1);
	run->io.data_offset = 8; /* inside struct kvm_run itself */
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	ck_assert_uint_eq(wrec.n, 0);
}
END_TEST

START_TEST(exit_mmio_read_write)
{
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xc0000010;
	run->mmio.len = 4;
	run->mmio.is_write = 0;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(run->mmio.data[0], 0x50);
	ck_assert_uint_eq(run->mmio.data[3], 0x53);
	run->mmio.is_write = 1;
	run->mmio.data[0] = 0x99;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(wrec.n, 1);
	ck_assert_uint_eq(wrec.off[0], 0x10);
	ck_assert_uint_eq(wrec.val[0], 0x99);
	/* Unclaimed MMIO read: all-ones. Bad length: ignored, VM goes on. */
	run->mmio.is_write = 0;
	run->mmio.phys_addr = 0xd0000000;
	run->mmio.len = 8;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(run->mmio.data[7], 0xff);
	run->mmio.len = 9;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	run->mmio.len = 0;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
}
END_TEST

START_TEST(exit_stops_and_errors)
{
	run->exit_reason = KVM_EXIT_SHUTDOWN;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_GUEST_STOP);
	ck_assert_ptr_nonnull(strstr(why, "triple fault"));
	run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_GUEST_STOP);
	ck_assert_str_eq(why, "guest powered off");
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_GUEST_STOP);
	run->system_event.type = 77;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	ck_assert_ptr_nonnull(strstr(why, "emulation failed"));
	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	ck_assert_ptr_nonnull(strstr(why, "0x21"));
	run->exit_reason = KVM_EXIT_INTR;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_CONTINUE);
	run->exit_reason = 9999;
	ck_assert_int_eq(exit_dispatch(run, &ctx, why, sizeof(why)),
			 EXIT_ERROR);
	ck_assert_ptr_nonnull(strstr(why, "9999"));
}
END_TEST

Suite *exit_suite(void);
Suite *exit_suite(void)
{
	Suite *s = suite_create("exit");
	TCase *tc = tcase_create("dispatch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, exit_io_out_and_string);
	tcase_add_test(tc, exit_io_in_claimed_and_unclaimed);
	tcase_add_test(tc, exit_io_bad_offsets);
	tcase_add_test(tc, exit_mmio_read_write);
	tcase_add_test(tc, exit_stops_and_errors);
	suite_add_tcase(s, tc);
	return s;
}
