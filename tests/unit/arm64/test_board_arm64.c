/*
 * The arm64 board (vmm/board.h with arch/arm64/layout.h) built without
 * KVM, like tests/unit/x86/test_board.c: the 16550 on the MMIO bus at
 * 0x9000000 with SPI 1, no port device and no i8042, the virtio-mmio
 * slots at 0x0a001000 + n * 4 KiB with SPI 16 + n, and a kernel command
 * line without virtio_mmio.device= (the device tree describes the slots).
 * Built and run for ARCH=arm64 only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/serial8250.h"
#include "tests/harness/harness.h"
#include "tests/unit/board_fixture.h"
#include "vmm/board.h"
#include "vmm/cli.h"

static const char *bt_name(const struct bus *b, uint64_t addr)
{
	const struct bus_dev *d = bus_find(b, addr, 1);

	return d ? d->name : "(none)";
}

START_TEST(arm64_board_full)
{
	struct cli_opts o;
	char want[BOARD_CMDLINE_MAX];
	uint8_t v;

	bt_disks();
	bt_parse(&o, "--kernel", "Image", "--disk", bt_disk[0], "--disk",
		 bt_disk[1], "--rng", "--balloon", "--boot-timer", NULL);
	ck_assert_msg(bt_build(&o) == 0, "%s", bt_err);
	ck_assert_uint_eq(bt_board.nr_vdevs, 4);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t base = 0x0a001000ULL + i * 0x1000;
		const struct bus_dev *d = bus_find(&bt_mmio, base, 4);

		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(d->base, base);
		ck_assert_uint_eq(bt_seen.irqfd_gsi[i], 16 + i);
	}
	ck_assert_str_eq(bt_name(&bt_mmio, 0x0a001000ULL), "virtio-blk0");
	ck_assert_str_eq(bt_name(&bt_mmio, 0x0a003000ULL), "virtio-rng");
	ck_assert_str_eq(bt_name(&bt_mmio, 0x0a004000ULL), "virtio-balloon");
	/* The console UART on the MMIO bus, nothing on ports. */
	ck_assert_str_eq(bt_name(&bt_mmio, 0x09000000ULL), "serial8250");
	ck_assert_str_eq(bt_name(&bt_mmio, 0x09000007ULL), "serial8250");
	ck_assert_str_eq(bt_name(&bt_mmio, 0x09000008ULL), "(none)");
	ck_assert_uint_eq(bt_pio.nr, 0);
	ck_assert_int_eq(bt_board.i8042_ready, 0);
	ck_assert_str_eq(bt_name(&bt_mmio, 0x0a000000ULL), "boot-timer");
	/* The UART raises SPI 1 through the VM's line: enable the
	 * transmitter-empty interrupt (IER bit 1). */
	v = 0x02;
	serial8250_ops.write(&bt_board.serial, 1, &v, 1);
	ck_assert_uint_ge(bt_seen.irq_sets, 1);
	ck_assert_uint_eq(bt_seen.last_gsi, 1);
	ck_assert_ptr_eq(bt_seen.irq_opaque, &bt_vm_token);
	/* The command line is the user's plus root=: no virtio fragment. */
	snprintf(want, sizeof(want), "%s root=/dev/vda rw",
		 CLI_DEFAULT_CMDLINE);
	ck_assert_str_eq(bt_board.cmdline, want);
	ck_assert_ptr_null(strstr(bt_board.cmdline, "virtio_mmio"));
	ck_assert_ptr_nonnull(
		strstr(bt_board.cmdline, "earlycon=uart8250,mmio,0x9000000"));
	ck_assert_ptr_null(strstr(bt_board.cmdline, "i8042"));
	board_free(&bt_board);
	bt_disks_rm();
}
END_TEST

/* 16 slots (SPIs 16-31), as many as the device tree describes. */
START_TEST(arm64_board_slots)
{
	ck_assert_int_eq(BOARD_MAX_VIRTIO, 16);
}
END_TEST

Suite *board_arm64_suite(void);
Suite *board_arm64_suite(void)
{
	Suite *s = suite_create("board_arm64");
	TCase *tc = tcase_create("board");

	tcase_add_test(tc, arm64_board_full);
	tcase_add_test(tc, arm64_board_slots);
	suite_add_tcase(s, tc);
	return s;
}
