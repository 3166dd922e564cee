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
#include "vmm/board.h"
#include "vmm/cli.h"

#define BT_MAX 64

/* What the fake VM and loop saw. */
struct bt_fake {
	int irqfd_ok;	/* irqfd hands out eventfds (else -ENOSYS) */
	int ioevent_ok; /* ioeventfd accepts (else -ENOSYS) */
	int watch_fail; /* fail the watch call with this number (1-based) */
	unsigned irq_sets, last_gsi;
	int last_level;
	void *irq_opaque;
	unsigned nr_irqfd;
	unsigned irqfd_gsi[BT_MAX];
	int irqfd_fd[BT_MAX];
	unsigned nr_ioevent;
	int ioevent_fd[BT_MAX];
	uint64_t ioevent_addr[BT_MAX];
	unsigned ioevent_len[BT_MAX];
	unsigned nr_watch;
	struct event_source watched[BT_MAX];
	unsigned resets;
};

static struct bt_fake fake;
static struct bt_fake vm_token; /* what the board must pass as `vm` */

static void bt_irq_line(void *vm, unsigned gsi, int level)
{
	fake.irq_opaque = vm;
	fake.irq_sets++;
	fake.last_gsi = gsi;
	fake.last_level = level;
}

static int bt_irqfd(void *vm, unsigned gsi)
{
	int fd;

	ck_assert_ptr_eq(vm, &vm_token);
	if (!fake.irqfd_ok)
		return -ENOSYS;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	fake.irqfd_gsi[fake.nr_irqfd] = gsi;
	fake.irqfd_fd[fake.nr_irqfd++] = fd;
	return fd;
}

static int bt_ioeventfd(void *vm, int fd, uint64_t addr, unsigned len)
{
	ck_assert_ptr_eq(vm, &vm_token);
	if (!fake.ioevent_ok)
		return -ENOSYS;
	fake.ioevent_fd[fake.nr_ioevent] = fd;
	fake.ioevent_addr[fake.nr_ioevent] = addr;
	fake.ioevent_len[fake.nr_ioevent++] = len;
	return 0;
}

static int bt_watch(void *opaque, const struct event_source *s)
{
	ck_assert_ptr_eq(opaque, &fake);
	if (fake.watch_fail && fake.nr_watch + 1 == (unsigned)fake.watch_fail)
		return -ENOSPC;
	ck_assert_uint_lt(fake.nr_watch, BT_MAX);
	fake.watched[fake.nr_watch++] = *s;
	return 0;
}

static void bt_reset(void *opaque)
{
	ck_assert_ptr_eq(opaque, &fake);
	fake.resets++;
}

static const struct board_hooks bt_hooks = {
	.vm = &vm_token,
	.irq_line = bt_irq_line,
	.irqfd = bt_irqfd,
	.ioeventfd = bt_ioeventfd,
	.opaque = &fake,
	.watch = bt_watch,
	.reset = bt_reset,
};

static struct guest_mem bt_gm;
static struct bus bt_pio, bt_mmio;
static struct board bt_board;
static char bt_err[512];
static char bt_disk[2][64];

/* Two small disk images. */
static void bt_disks(void)
{
	char zero[4096] = {0};

	for (unsigned i = 0; i < 2; i++) {
		int fd;

		snprintf(bt_disk[i], sizeof(bt_disk[i]),
			 "/tmp/microvm-board-XXXXXX");
		fd = mkstemp(bt_disk[i]);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, zero, sizeof(zero)),
				 (ssize_t)sizeof(zero));
		close(fd);
	}
}

static void bt_disks_rm(void)
{
	for (unsigned i = 0; i < 2; i++)
		unlink(bt_disk[i]);
}

/* cli_parse "microvm" + the NULL-terminated arguments into *o. */
static void bt_parse(struct cli_opts *o, const char *first, ...)
{
	char *argv[40];
	const char *a;
	va_list ap;
	int n = 0;

	unsetenv("MICROVM_NO_IOEVENTFD");
	unsetenv("MICROVM_NO_IRQFD");
	argv[n++] = (char *)(uintptr_t) "microvm";
	va_start(ap, first);
	for (a = first; a && n < 39; a = va_arg(ap, const char *))
		argv[n++] = (char *)(uintptr_t)a;
	va_end(ap);
	argv[n] = NULL;
	ck_assert_msg(cli_parse(n, argv, o, bt_err, sizeof(bt_err)) == 0, "%s",
		      bt_err);
}

/* A fresh board, buses and fakes; returns board_build's result. */
static int bt_build(const struct cli_opts *o)
{
	memset(&fake, 0, sizeof(fake));
	fake.irqfd_ok = fake.ioevent_ok = 1;
	guest_mem_init(&bt_gm);
	bus_init(&bt_pio, "pio");
	bus_init(&bt_mmio, "mmio");
	board_init(&bt_board);
	memset(bt_err, 0, sizeof(bt_err));
	return board_build(&bt_board, o, &bt_gm, &bt_pio, &bt_mmio, &bt_hooks,
			   1000, 2000, bt_err, sizeof(bt_err));
}

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
		ck_assert_uint_eq(fake.irqfd_gsi[i], 16 + i);
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
	ck_assert_uint_ge(fake.irq_sets, 1);
	ck_assert_uint_eq(fake.last_gsi, 1);
	ck_assert_ptr_eq(fake.irq_opaque, &vm_token);
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
