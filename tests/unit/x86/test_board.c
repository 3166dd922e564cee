/*
 * The board (vmm/board.h) built from a parsed command line without KVM:
 * bt_seen hooks record the interrupt routing, ioeventfd/irqfd requests and
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
#include "tests/unit/board_fixture.h"
#include "vmm/board.h"
#include "vmm/cli.h"

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
		ck_assert_ptr_eq(d->irq.opaque, &bt_vm_token);
		ck_assert_str_eq(bt_name(&bt_mmio, base), names[i]);
		ck_assert_str_eq(bt_name(&bt_mmio, base + 0xfff), names[i]);
		/* irqfd: asked for this slot's gsi, handed to the device,
		 * owned by the board. */
		ck_assert_uint_eq(bt_seen.irqfd_gsi[i], 5 + i);
		ck_assert_int_eq(d->irq.irqfd, bt_seen.irqfd_fd[i]);
		ck_assert_int_eq(bt_board.irqfds[i], bt_seen.irqfd_fd[i]);
		/* ioeventfd: QueueNotify, 4 bytes, the device's notify fd. */
		ck_assert_uint_eq(bt_seen.ioevent_addr[i], base + 0x50);
		ck_assert_uint_eq(bt_seen.ioevent_len[i], 4);
		ck_assert_int_eq(bt_seen.ioevent_fd[i],
				 virtio_mmio_event_fd(d));
	}
	ck_assert_uint_eq(bt_seen.nr_irqfd, 4);
	ck_assert_uint_eq(bt_seen.nr_ioevent, 4);
	ck_assert_str_eq(bt_name(&bt_mmio, 0xc0005000ULL), "(none)");

	/* Watched: each transport's notify fd, level-triggered (its handler
	 * drains it), and the balloon's stats timer right after the balloon.
	 * Nothing else. */
	ck_assert_uint_eq(bt_seen.nr_watch, 5);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(bt_seen.watched[i].fd,
				 virtio_mmio_event_fd(bt_board.vdevs[i]));
		ck_assert_uint_eq(bt_seen.watched[i].events, EPOLLIN);
		ck_assert_ptr_eq(bt_seen.watched[i].opaque, bt_board.vdevs[i]);
		ck_assert_ptr_nonnull(bt_seen.watched[i].handle);
	}
	ck_assert_int_eq(bt_seen.watched[3].fd,
			 virtio_mmio_event_fd(bt_board.vdevs[3]));
	ck_assert_int_eq(bt_seen.watched[4].fd,
			 virtio_balloon_timer_fd(bt_board.balloon));
	ck_assert_int_ge(bt_seen.watched[4].fd, 0);
	ck_assert_uint_eq(bt_seen.watched[4].events, EPOLLIN);

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
	ck_assert_uint_ge(bt_seen.irq_sets, 1);
	ck_assert_uint_eq(bt_seen.last_gsi, 4);
	ck_assert_int_eq(bt_seen.last_level, 1);
	ck_assert_ptr_eq(bt_seen.irq_opaque, &bt_vm_token);
	/* The i8042's reset pulse (command 0xfe) reaches the VMM. */
	v = 0xfe;
	i8042_cmd_ops.write(&bt_board.i8042, 0, &v, 1);
	ck_assert_uint_eq(bt_seen.resets, 1);

	snprintf(want, sizeof(want),
		 "%s virtio_mmio.device=4K@0xc0001000:5"
		 " virtio_mmio.device=4K@0xc0002000:6"
		 " virtio_mmio.device=4K@0xc0003000:7"
		 " virtio_mmio.device=4K@0xc0004000:8 root=/dev/vda rw",
		 CLI_DEFAULT_CMDLINE);
	ck_assert_str_eq(bt_board.cmdline, want);

	board_free(&bt_board);
	for (unsigned i = 0; i < 4; i++)
		ck_assert(!bt_fd_open(bt_seen.irqfd_fd[i]));
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
	memset(&bt_seen, 0, sizeof(bt_seen));
	bt_seen.irqfd_ok = bt_seen.ioevent_ok = 1;
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
	ck_assert_uint_eq(bt_seen.nr_irqfd, 0);
	ck_assert_uint_eq(bt_seen.nr_ioevent, 0);
	ck_assert_int_eq(bt_board.vdevs[0]->irq.irqfd, -1);
	ck_assert_int_eq(bt_board.irqfds[0], -1);
	ck_assert_uint_eq(bt_seen.nr_watch, 1);
	ck_assert_str_eq(bt_name(&bt_mmio, 0xc0000000ULL), "(none)");
	board_free(&bt_board);

	/* The VM offers neither: same paths, and still one watch. */
	snprintf(spec, sizeof(spec), "%s,ro", bt_disk[0]);
	bt_parse(&o, "--kernel", "k", "--cmdline", "c", "--disk", spec, NULL);
	memset(&bt_seen, 0, sizeof(bt_seen));
	ck_assert_msg(bt_build_keep(&o) == 0, "%s", bt_err);
	ck_assert_str_eq(bt_board.cmdline,
			 "c virtio_mmio.device=4K@0xc0001000:5 "
			 "root=/dev/vda ro");
	ck_assert_uint_eq(bt_seen.nr_irqfd, 0);
	ck_assert_uint_eq(bt_seen.nr_ioevent, 0);
	ck_assert_int_eq(bt_board.vdevs[0]->irq.irqfd, -1);
	ck_assert_uint_eq(bt_seen.nr_watch, 1);
	board_free(&bt_board);

	/* Nothing but the legacy devices. */
	bt_parse(&o, "--kernel", "k", NULL);
	ck_assert_msg(bt_build(&o) == 0, "%s", bt_err);
	ck_assert_str_eq(bt_board.cmdline, CLI_DEFAULT_CMDLINE);
	ck_assert_uint_eq(bt_board.nr_vdevs, 0);
	ck_assert_uint_eq(bt_seen.nr_watch, 0);
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
	fd = bt_seen.irqfd_fd[0];
	ck_assert(bt_fd_open(fd));
	board_free(&bt_board);
	ck_assert(!bt_fd_open(fd));

	/* The loop refuses the second source (the rng's). */
	bt_parse(&o, "--kernel", "k", "--disk", bt_disk[0], "--rng", NULL);
	memset(&bt_seen, 0, sizeof(bt_seen));
	bt_seen.irqfd_ok = bt_seen.ioevent_ok = 1;
	bt_seen.watch_fail = 2;
	ck_assert_int_eq(bt_build_keep(&o), -ENOSPC);
	ck_assert_str_eq(bt_err, "setting up virtio-rng: No space left on "
				 "device");
	ck_assert_uint_eq(bt_board.nr_vdevs, 2);
	board_free(&bt_board);
	for (unsigned i = 0; i < bt_seen.nr_irqfd; i++)
		ck_assert(!bt_fd_open(bt_seen.irqfd_fd[i]));

	/* The balloon's timer refused. */
	bt_parse(&o, "--kernel", "k", "--balloon=stats=2", NULL);
	memset(&bt_seen, 0, sizeof(bt_seen));
	bt_seen.watch_fail = 2;
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
