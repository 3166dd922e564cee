/*
 * The board (vmm/board.h) built from a parsed command line without KVM:
 * fake hooks record the interrupt routing, ioeventfd/irqfd requests and
 * the event sources handed to the loop. Checks the virtio slots and IRQs,
 * the legacy devices on their ports, the command line fragments, and the
 * error paths (too many devices, a command line too long, a device that
 * fails), each leaving a board that frees cleanly.
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

/* Same, with the fakes already set up by the caller. */
static int bt_build_keep(const struct cli_opts *o)
{
	guest_mem_init(&bt_gm);
	bus_init(&bt_pio, "pio");
	bus_init(&bt_mmio, "mmio");
	board_init(&bt_board);
	memset(bt_err, 0, sizeof(bt_err));
	return board_build(&bt_board, o, &bt_gm, &bt_pio, &bt_mmio, &bt_hooks,
			   1000, 2000, bt_err, sizeof(bt_err));
}

static int bt_fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static const char *bt_name(const struct bus *b, uint64_t addr)
{
	const struct bus_dev *d = bus_find(b, addr, 1);

	return d ? d->name : "(none)";
}

/* Every device of a full command line: slots in order disks, rng,
 * balloon at 4 KiB steps from 0xc0001000 with IRQs 5, 6, ...; irqfd and
 * ioeventfd on each; every event source watched with its own contract;
 * the legacy devices on their ports; the fragments appended in slot
 * order, then root=. */
START_TEST(board_full)
{
	static const char *names[] = {"virtio-blk0", "virtio-blk1",
				      "virtio-rng", "virtio-balloon"};
	struct cli_opts o;
	char want[BOARD_CMDLINE_MAX];
	char spec1[80];
	uint8_t v;

	bt_disks();
	snprintf(spec1, sizeof(spec1), "%s,ro", bt_disk[1]);
	bt_parse(&o, "--kernel", "k", "--disk", bt_disk[0], "--disk", spec1,
		 "--rng", "--balloon=stats=1", "--boot-timer", NULL);
	ck_assert_msg(bt_build(&o) == 0, "%s", bt_err);

	ck_assert_uint_eq(bt_board.nr_vdevs, 4);
	ck_assert_ptr_eq(bt_board.vdevs[0], &bt_board.disks[0]->mmio);
	ck_assert_ptr_eq(bt_board.vdevs[1], &bt_board.disks[1]->mmio);
	ck_assert_ptr_eq(bt_board.vdevs[2], &bt_board.rng->mmio);
	ck_assert_ptr_eq(bt_board.vdevs[3], &bt_board.balloon->mmio);
	ck_assert_ptr_null(bt_board.net);
	ck_assert_ptr_null(bt_board.ctl);
	for (unsigned i = 0; i < 4; i++) {
		struct virtio_mmio_dev *d = bt_board.vdevs[i];
		uint64_t base = 0xc0001000ULL + i * 0x1000;

		ck_assert_uint_eq(d->base, base);
		ck_assert_uint_eq(d->irq.gsi, 5 + i);
		ck_assert_ptr_eq(d->irq.opaque, &vm_token);
		ck_assert_str_eq(bt_name(&bt_mmio, base), names[i]);
		ck_assert_str_eq(bt_name(&bt_mmio, base + 0xfff), names[i]);
		/* irqfd: asked for this slot's gsi, handed to the device,
		 * owned by the board. */
		ck_assert_uint_eq(fake.irqfd_gsi[i], 5 + i);
		ck_assert_int_eq(d->irq.irqfd, fake.irqfd_fd[i]);
		ck_assert_int_eq(bt_board.irqfds[i], fake.irqfd_fd[i]);
		/* ioeventfd: QueueNotify, 4 bytes, the device's notify fd. */
		ck_assert_uint_eq(fake.ioevent_addr[i], base + 0x50);
		ck_assert_uint_eq(fake.ioevent_len[i], 4);
		ck_assert_int_eq(fake.ioevent_fd[i], virtio_mmio_event_fd(d));
	}
	ck_assert_uint_eq(fake.nr_irqfd, 4);
	ck_assert_uint_eq(fake.nr_ioevent, 4);
	ck_assert_str_eq(bt_name(&bt_mmio, 0xc0005000ULL), "(none)");

	/* Watched: each transport's notify fd, level-triggered (its handler
	 * drains it), and the balloon's stats timer right after the balloon.
	 * Nothing else. */
	ck_assert_uint_eq(fake.nr_watch, 5);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(fake.watched[i].fd,
				 virtio_mmio_event_fd(bt_board.vdevs[i]));
		ck_assert_uint_eq(fake.watched[i].events, EPOLLIN);
		ck_assert_ptr_eq(fake.watched[i].opaque, bt_board.vdevs[i]);
		ck_assert_ptr_nonnull(fake.watched[i].handle);
	}
	ck_assert_int_eq(fake.watched[3].fd,
			 virtio_mmio_event_fd(bt_board.vdevs[3]));
	ck_assert_int_eq(fake.watched[4].fd,
			 virtio_balloon_timer_fd(bt_board.balloon));
	ck_assert_int_ge(fake.watched[4].fd, 0);
	ck_assert_uint_eq(fake.watched[4].events, EPOLLIN);

	/* The legacy devices. */
	ck_assert_str_eq(bt_name(&bt_pio, 0x3f8), "serial8250");
	ck_assert_str_eq(bt_name(&bt_pio, 0x3ff), "serial8250");
	ck_assert_str_eq(bt_name(&bt_pio, 0x60), "i8042-data");
	ck_assert_str_eq(bt_name(&bt_pio, 0x64), "i8042-cmd");
	ck_assert_str_eq(bt_name(&bt_mmio, 0xc0000000ULL), "boot-timer");
	ck_assert_uint_eq(bt_pio.nr, 3);
	ck_assert_uint_eq(bt_mmio.nr, 5);
	/* COM1 raises IRQ 4 through the VM's line: enable the transmitter
	 * empty interrupt. */
	v = 0x02;
	serial8250_ops.write(&bt_board.serial, 1, &v, 1);
	ck_assert_uint_ge(fake.irq_sets, 1);
	ck_assert_uint_eq(fake.last_gsi, 4);
	ck_assert_int_eq(fake.last_level, 1);
	ck_assert_ptr_eq(fake.irq_opaque, &vm_token);
	/* The i8042's reset pulse (command 0xfe) reaches the VMM. */
	v = 0xfe;
	i8042_cmd_ops.write(&bt_board.i8042, 0, &v, 1);
	ck_assert_uint_eq(fake.resets, 1);

	snprintf(want, sizeof(want),
		 "%s virtio_mmio.device=4K@0xc0001000:5"
		 " virtio_mmio.device=4K@0xc0002000:6"
		 " virtio_mmio.device=4K@0xc0003000:7"
		 " virtio_mmio.device=4K@0xc0004000:8 root=/dev/vda rw",
		 CLI_DEFAULT_CMDLINE);
	ck_assert_str_eq(bt_board.cmdline, want);

	board_free(&bt_board);
	for (unsigned i = 0; i < 4; i++)
		ck_assert(!bt_fd_open(fake.irqfd_fd[i]));
	ck_assert_ptr_null(bt_board.rng);
	board_free(&bt_board); /* twice is fine */
	bt_disks_rm();
}
END_TEST

/* --mem-hotplug: virtio-mem in the slot after the balloon, over the
 * region marked hotplug, with its fragment; plugged= is the requested
 * size at boot; no hotplug region is an error, not a crash. */
START_TEST(board_hotplug)
{
	struct cli_opts o;
	char want[BOARD_CMDLINE_MAX];
	struct virtio_mem_info in;

	bt_parse(&o, "--kernel", "k", "--balloon", "--mem-hotplug",
		 "size=1G,pages=huge,plugged=256M", NULL);
	memset(&fake, 0, sizeof(fake));
	fake.irqfd_ok = fake.ioevent_ok = 1;
	guest_mem_init(&bt_gm);
	bt_gm.nr = 2;
	bt_gm.regions[0] = (struct region){
		.gpa = 0, .size = 512ULL << 20, .page_size = 4096};
	bt_gm.regions[1] = (struct region){.gpa = 4ULL << 30,
					   .size = 1ULL << 30,
					   .page_size = 2ULL << 20,
					   .pages = REGION_PAGES_HUGE,
					   .hotplug = 1};
	bus_init(&bt_pio, "pio");
	bus_init(&bt_mmio, "mmio");
	board_init(&bt_board);
	ck_assert_msg(board_build(&bt_board, &o, &bt_gm, &bt_pio, &bt_mmio,
				  &bt_hooks, 1000, 2000, bt_err,
				  sizeof(bt_err)) == 0,
		      "%s", bt_err);
	ck_assert_uint_eq(bt_board.nr_vdevs, 2);
	ck_assert_ptr_eq(bt_board.vdevs[1], &bt_board.vmem->mmio);
	ck_assert_str_eq(bt_name(&bt_mmio, 0xc0002000ULL), "virtio-mem");
	ck_assert_uint_eq(bt_board.vdevs[1]->irq.gsi, 6);
	virtio_mem_get(bt_board.vmem, &in);
	ck_assert_uint_eq(in.lay.addr, 4ULL << 30);
	ck_assert_uint_eq(in.lay.region_size, 1ULL << 30);
	ck_assert_uint_eq(in.lay.usable_size, 1ULL << 30);
	ck_assert_uint_eq(in.lay.block_size, 2ULL << 20);
	ck_assert_uint_eq(in.requested_size, 256ULL << 20);
	ck_assert_uint_eq(in.plugged_size, 0);
	snprintf(want, sizeof(want),
		 "%s virtio_mmio.device=4K@0xc0001000:5"
		 " virtio_mmio.device=4K@0xc0002000:6",
		 CLI_DEFAULT_CMDLINE);
	ck_assert_str_eq(bt_board.cmdline, want);
	board_free(&bt_board);
	ck_assert_ptr_null(bt_board.vmem);

	/* The memory step did not map the region: an error. */
	ck_assert_int_eq(bt_build(&o), -EINVAL);
	ck_assert_ptr_nonnull(strstr(bt_err, "no hotplug region"));
	board_free(&bt_board);
}
END_TEST

/* --cmdline-append is added after a space; with an initrd the disk is not
 * the root; a read-only root disk is mounted ro; --no-irqfd and
 * --no-ioeventfd (or a VM without them) leave the MMIO exit and
 * KVM_IRQ_LINE paths; no boot timer without --boot-timer. */
START_TEST(board_options)
{
	struct cli_opts o;
	char spec[80];

	bt_disks();
	bt_parse(&o, "--kernel", "k", "--initrd", "i", "--cmdline", "a=1",
		 "--cmdline-append", "b=2", "--disk", bt_disk[0], "--no-irqfd",
		 "--no-ioeventfd", NULL);
	ck_assert_msg(bt_build(&o) == 0, "%s", bt_err);
	ck_assert_str_eq(bt_board.cmdline,
			 "a=1 b=2 virtio_mmio.device=4K@0xc0001000:5");
	ck_assert_uint_eq(fake.nr_irqfd, 0);
	ck_assert_uint_eq(fake.nr_ioevent, 0);
	ck_assert_int_eq(bt_board.vdevs[0]->irq.irqfd, -1);
	ck_assert_int_eq(bt_board.irqfds[0], -1);
	ck_assert_uint_eq(fake.nr_watch, 1);
	ck_assert_str_eq(bt_name(&bt_mmio, 0xc0000000ULL), "(none)");
	board_free(&bt_board);

	/* The VM offers neither: same paths, and still one watch. */
	snprintf(spec, sizeof(spec), "%s,ro", bt_disk[0]);
	bt_parse(&o, "--kernel", "k", "--cmdline", "c", "--disk", spec, NULL);
	memset(&fake, 0, sizeof(fake));
	ck_assert_msg(bt_build_keep(&o) == 0, "%s", bt_err);
	ck_assert_str_eq(bt_board.cmdline,
			 "c virtio_mmio.device=4K@0xc0001000:5 "
			 "root=/dev/vda ro");
	ck_assert_uint_eq(fake.nr_irqfd, 0);
	ck_assert_uint_eq(fake.nr_ioevent, 0);
	ck_assert_int_eq(bt_board.vdevs[0]->irq.irqfd, -1);
	ck_assert_uint_eq(fake.nr_watch, 1);
	board_free(&bt_board);

	/* Nothing but the legacy devices. */
	bt_parse(&o, "--kernel", "k", NULL);
	ck_assert_msg(bt_build(&o) == 0, "%s", bt_err);
	ck_assert_str_eq(bt_board.cmdline, CLI_DEFAULT_CMDLINE);
	ck_assert_uint_eq(bt_board.nr_vdevs, 0);
	ck_assert_uint_eq(fake.nr_watch, 0);
	ck_assert_uint_eq(bt_pio.nr, 3);
	ck_assert_uint_eq(bt_mmio.nr, 0);
	board_free(&bt_board);
	bt_disks_rm();
}
END_TEST

/* Slots run out after IRQ 23: the 20th virtio device is refused with the
 * limit in the message, and the board still frees. */
START_TEST(board_too_many_devices)
{
	struct virtio_rng *extra = calloc(BOARD_MAX_VIRTIO, sizeof(*extra));
	struct cli_opts o;
	unsigned n = 0;
	int ret;

	ck_assert_ptr_nonnull(extra);
	ck_assert_int_eq(BOARD_MAX_VIRTIO, 19);
	bt_parse(&o, "--kernel", "k", "--rng", NULL);
	ck_assert_msg(bt_build(&o) == 0, "%s", bt_err);
	ck_assert_uint_eq(bt_board.nr_vdevs, 1);
	for (;; n++) {
		ck_assert_uint_lt(n, BOARD_MAX_VIRTIO);
		virtio_rng_init(&extra[n]);
		ret = board_add_virtio(&bt_board, &extra[n].mmio, "extra-rng",
				       bt_err, sizeof(bt_err));
		if (ret)
			break;
	}
	ck_assert_int_eq(ret, -ENOSPC);
	ck_assert_uint_eq(n, BOARD_MAX_VIRTIO - 1);
	ck_assert_uint_eq(bt_board.nr_vdevs, BOARD_MAX_VIRTIO);
	ck_assert_str_eq(bt_err,
			 "too many virtio devices: at most 19 (IRQs 5-23)");
	/* The last slot that fit: IRQ 23, announced. */
	ck_assert_uint_eq(bt_board.vdevs[18]->irq.gsi, 23);
	ck_assert_ptr_nonnull(strstr(bt_board.cmdline,
				     "virtio_mmio.device=4K@0xc0013000:23"));
	board_free(&bt_board);
	for (unsigned i = 0; i <= n; i++)
		virtio_rng_close(&extra[i]);
	free(extra);
}
END_TEST

/* A command line with no room left: the base itself too long, no room
 * for a virtio fragment, or room for the fragment but not root=. Each is
 * -E2BIG naming the limit and what did not fit; the command line is left
 * whole (no half fragment). */
START_TEST(board_cmdline_too_long)
{
	static char base[BOARD_CMDLINE_MAX + 8];
	const char *frag = " virtio_mmio.device=4K@0xc0001000:5";
	struct cli_opts o;
	size_t len;

	bt_disks();
	/* The base over the limit (cli_parse refuses it; the board checks
	 * again). */
	bt_parse(&o, "--kernel", "k", NULL);
	memset(base, 'x', BOARD_CMDLINE_MAX);
	base[BOARD_CMDLINE_MAX] = '\0';
	o.cmdline = base;
	ck_assert_int_eq(bt_build(&o), -E2BIG);
	ck_assert_str_eq(bt_err, "the kernel command line (--cmdline and "
				 "--cmdline-append) is longer than 4095 "
				 "bytes: shorten it");
	ck_assert_uint_eq(bt_board.nr_vdevs, 0);
	board_free(&bt_board);

	/* No room for the disk's fragment. */
	len = BOARD_CMDLINE_MAX - 1 - strlen(frag) + 1;
	memset(base, 'x', len);
	base[len] = '\0';
	bt_parse(&o, "--kernel", "k", "--cmdline", base, "--disk", bt_disk[0],
		 NULL);
	ck_assert_int_eq(bt_build(&o), -E2BIG);
	ck_assert_msg(strstr(bt_err, "kernel command line too long: "
				     "--cmdline is 4061 bytes and microvm "
				     "must append a virtio_mmio.device= "
				     "parameter per virtio device to it, "
				     "over the limit of 4095 bytes: shorten "
				     "--cmdline") == bt_err,
		      "%s", bt_err);
	ck_assert_uint_eq(strlen(bt_board.cmdline), len);
	board_free(&bt_board);

	/* The fragment fits exactly; " root=/dev/vda rw" does not. */
	len = BOARD_CMDLINE_MAX - 1 - strlen(frag);
	base[len] = '\0';
	bt_parse(&o, "--kernel", "k", "--cmdline", base, "--disk", bt_disk[0],
		 NULL);
	ck_assert_int_eq(bt_build(&o), -E2BIG);
	ck_assert_msg(strstr(bt_err, "microvm must append root=/dev/vda for "
				     "the root --disk to it") != NULL,
		      "%s", bt_err);
	ck_assert_uint_eq(strlen(bt_board.cmdline), BOARD_CMDLINE_MAX - 1);
	ck_assert_ptr_nonnull(strstr(bt_board.cmdline, frag));
	board_free(&bt_board);
	bt_disks_rm();
}
END_TEST

/* A device that cannot be built (a missing disk) or a loop that refuses
 * a source: the error names it, and what was built is freed (the first
 * slot's irqfd closed). */
START_TEST(board_device_errors)
{
	struct cli_opts o;
	int fd;

	bt_disks();
	bt_parse(&o, "--kernel", "k", "--disk", bt_disk[0], "--disk",
		 "/nonexistent/microvm-disk", NULL);
	ck_assert_int_ne(bt_build(&o), 0);
	ck_assert_ptr_nonnull(strstr(bt_err, "/nonexistent/microvm-disk"));
	ck_assert_uint_eq(bt_board.nr_vdevs, 1);
	ck_assert_uint_eq(bt_board.nr_disks, 1);
	fd = fake.irqfd_fd[0];
	ck_assert(bt_fd_open(fd));
	board_free(&bt_board);
	ck_assert(!bt_fd_open(fd));

	/* The loop refuses the second source (the rng's). */
	bt_parse(&o, "--kernel", "k", "--disk", bt_disk[0], "--rng", NULL);
	memset(&fake, 0, sizeof(fake));
	fake.irqfd_ok = fake.ioevent_ok = 1;
	fake.watch_fail = 2;
	ck_assert_int_eq(bt_build_keep(&o), -ENOSPC);
	ck_assert_str_eq(bt_err, "setting up virtio-rng: No space left on "
				 "device");
	ck_assert_uint_eq(bt_board.nr_vdevs, 2);
	board_free(&bt_board);
	for (unsigned i = 0; i < fake.nr_irqfd; i++)
		ck_assert(!bt_fd_open(fake.irqfd_fd[i]));

	/* The balloon's timer refused. */
	bt_parse(&o, "--kernel", "k", "--balloon=stats=2", NULL);
	memset(&fake, 0, sizeof(fake));
	fake.watch_fail = 2;
	ck_assert_int_eq(bt_build_keep(&o), -ENOSPC);
	ck_assert_str_eq(bt_err, "epoll_ctl: No space left on device");
	board_free(&bt_board);
	bt_disks_rm();
}
END_TEST

Suite *board_suite(void);
Suite *board_suite(void)
{
	Suite *s = suite_create("board");
	TCase *tc = tcase_create("board");

	tcase_add_test(tc, board_full);
	tcase_add_test(tc, board_options);
	tcase_add_test(tc, board_too_many_devices);
	tcase_add_test(tc, board_cmdline_too_long);
	tcase_add_test(tc, board_device_errors);
	tcase_add_test(tc, board_hotplug);
	suite_add_tcase(s, tc);
	return s;
}
