#include "tests/unit/board_fixture.h"

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
struct bt_fake bt_seen;
struct bt_fake bt_vm_token; /* what the board must pass as `vm` */

static void bt_irq_line(void *vm, unsigned gsi, int level)
{
	bt_seen.irq_opaque = vm;
	bt_seen.irq_sets++;
	bt_seen.last_gsi = gsi;
	bt_seen.last_level = level;
}

static int bt_irqfd(void *vm, unsigned gsi)
{
	int fd;

	ck_assert_ptr_eq(vm, &bt_vm_token);
	if (!bt_seen.irqfd_ok)
		return -ENOSYS;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	bt_seen.irqfd_gsi[bt_seen.nr_irqfd] = gsi;
	bt_seen.irqfd_fd[bt_seen.nr_irqfd++] = fd;
	return fd;
}

static int bt_ioeventfd(void *vm, int fd, uint64_t addr, unsigned len)
{
	ck_assert_ptr_eq(vm, &bt_vm_token);
	if (!bt_seen.ioevent_ok)
		return -ENOSYS;
	bt_seen.ioevent_fd[bt_seen.nr_ioevent] = fd;
	bt_seen.ioevent_addr[bt_seen.nr_ioevent] = addr;
	bt_seen.ioevent_len[bt_seen.nr_ioevent++] = len;
	return 0;
}

static int bt_watch(void *opaque, const struct event_source *s)
{
	ck_assert_ptr_eq(opaque, &bt_seen);
	if (bt_seen.watch_fail &&
	    bt_seen.nr_watch + 1 == (unsigned)bt_seen.watch_fail)
		return -ENOSPC;
	ck_assert_uint_lt(bt_seen.nr_watch, BT_MAX);
	bt_seen.watched[bt_seen.nr_watch++] = *s;
	return 0;
}

static void bt_reset(void *opaque)
{
	ck_assert_ptr_eq(opaque, &bt_seen);
	bt_seen.resets++;
}

const struct board_hooks bt_hooks = {
	.vm = &bt_vm_token,
	.irq_line = bt_irq_line,
	.irqfd = bt_irqfd,
	.ioeventfd = bt_ioeventfd,
	.opaque = &bt_seen,
	.watch = bt_watch,
	.reset = bt_reset,
};

struct guest_mem bt_gm;
struct bus bt_pio, bt_mmio;
struct board bt_board;
char bt_err[512];
char bt_disk[2][64];

/* Two small disk images. */
void bt_disks(void)
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

void bt_disks_rm(void)
{
	for (unsigned i = 0; i < 2; i++)
		unlink(bt_disk[i]);
}

/* cli_parse "microvm" + the NULL-terminated arguments into *o. */
void bt_parse(struct cli_opts *o, const char *first, ...)
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

int bt_build(const struct cli_opts *o)
{
	memset(&bt_seen, 0, sizeof(bt_seen));
	bt_seen.irqfd_ok = bt_seen.ioevent_ok = 1;
	return bt_build_keep(o);
}

int bt_build_keep(const struct cli_opts *o)
{
	guest_mem_init(&bt_gm);
	bus_init(&bt_pio, "pio");
	bus_init(&bt_mmio, "mmio");
	board_init(&bt_board);
	memset(bt_err, 0, sizeof(bt_err));
	return board_build(&bt_board, o, &bt_gm, &bt_pio, &bt_mmio, &bt_hooks,
			   1000, 2000, bt_err, sizeof(bt_err));
}
