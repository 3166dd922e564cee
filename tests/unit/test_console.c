/*
 * Console input flow control, device plus wiring: a paste longer than the
 * UART's receive FIFO reaches a slowly reading guest whole and in order,
 * and stdin is not read while bytes wait for room.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/serial8250.h"
#include "tests/harness/harness.h"
#include "vmm/console.h"
#include "vmm/loop.h"

#define CON_RBR 0
#define CON_FCR 2
#define CON_LSR 5
#define CON_MCR 4

static uint8_t con_rd(struct serial8250 *s, uint64_t off)
{
	uint8_t v;

	serial8250_ops.read(s, off, &v, 1);
	return v;
}

static void con_wr(struct serial8250 *s, uint64_t off, uint8_t v)
{
	serial8250_ops.write(s, off, &v, 1);
}

static int con_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

static int con_pending(int fd)
{
	int n = -1;

	ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/* Paste `len` bytes; the guest reads one byte at a time while LSR.DR says
 * there is one; the loop is emulated by hand (console_attach_flow runs
 * the real one). */
static void con_paste(int fifo)
{
	struct serial8250 s;
	struct console_in c;
	struct console term = {.fd = -1};
	enum console_in_state st;
	uint8_t in[300], got[sizeof(in)];
	size_t n = 0;
	int p[2];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(serial8250_init(&s, -1, NULL), 0);
	if (fifo)
		con_wr(&s, CON_FCR, 0x01);
	term.fd = p[0];
	ck_assert_int_eq(console_in_init(&c, &s, &term), 0);
	ck_assert_int_eq(write(p[1], in, sizeof(in)), (ssize_t)sizeof(in));

	st = console_in_read(&c);
	/* 64 bytes read from stdin; the FIFO took 64 (or 1): the rest of
	 * the paste stays in stdin while bytes wait. */
	ck_assert_int_eq(st, fifo ? CONSOLE_IN_READ : CONSOLE_IN_WAIT);
	ck_assert_int_eq(con_pending(p[0]), (int)sizeof(in) - 64);
	for (unsigned spins = 0; n < sizeof(in) && spins < 100000; spins++) {
		if (con_rd(&s, CON_LSR) & 0x01) {
			got[n++] = con_rd(&s, CON_RBR);
			continue;
		}
		/* The guest drained the FIFO: the loop wakes. */
		if (st == CONSOLE_IN_WAIT) {
			ck_assert(con_readable(c.wake_fd));
			st = console_in_wake(&c);
		} else if (st == CONSOLE_IN_READ && con_readable(p[0])) {
			st = console_in_read(&c);
		} else {
			break;
		}
	}
	ck_assert_uint_eq(n, sizeof(in));
	ck_assert_int_eq(memcmp(in, got, sizeof(in)), 0);
	ck_assert_int_eq(st, CONSOLE_IN_READ);
	close(p[1]);
	ck_assert_int_eq(console_in_read(&c), CONSOLE_IN_EOF);
	console_in_close(&c);
	serial8250_destroy(&s);
	close(p[0]);
}

START_TEST(console_paste_fifo_off)
{
	con_paste(0);
}
END_TEST

START_TEST(console_paste_fifo_on)
{
	con_paste(1);
}
END_TEST

/* In loopback the receiver is cut off: input waits (not dropped) and
 * arrives once the guest leaves loopback. */
START_TEST(console_loopback_waits)
{
	struct serial8250 s;
	struct console_in c;
	struct console term = {.fd = -1};
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(serial8250_init(&s, -1, NULL), 0);
	term.fd = p[0];
	ck_assert_int_eq(console_in_init(&c, &s, &term), 0);
	con_wr(&s, CON_MCR, 0x10);
	ck_assert_int_eq(write(p[1], "hi", 2), 2);
	ck_assert_int_eq(console_in_read(&c), CONSOLE_IN_WAIT);
	ck_assert(!con_readable(c.wake_fd));
	con_wr(&s, CON_MCR, 0);
	ck_assert(con_readable(c.wake_fd));
	ck_assert_int_eq(console_in_wake(&c), CONSOLE_IN_WAIT); /* 1-byte rx */
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'h');
	ck_assert_int_eq(console_in_wake(&c), CONSOLE_IN_READ);
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'i');
	console_in_close(&c);
	serial8250_destroy(&s);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Ctrl-A x stops, Ctrl-A Ctrl-A is one Ctrl-A, Ctrl-A then another key
 * sends both, and an escape split across two reads still counts. */
START_TEST(console_escapes)
{
	struct console term = {.fd = -1};
	enum console_event ev;
	char out[16];
	size_t n;

	n = console_input(&term,
			  "ab\x01\x01"
			  "c",
			  5, out, &ev);
	ck_assert_int_eq(ev, CONSOLE_NONE);
	ck_assert_uint_eq(n, 4);
	ck_assert(!memcmp(out,
			  "ab\x01"
			  "c",
			  4));
	n = console_input(&term, "\x01q", 2, out, &ev);
	ck_assert_int_eq(ev, CONSOLE_NONE);
	ck_assert_uint_eq(n, 2);
	ck_assert(!memcmp(out, "\x01q", 2));
	n = console_input(&term, "z\x01", 2, out, &ev);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(term.escape_pending, 1);
	n = console_input(&term, "xyz", 3, out, &ev);
	ck_assert_int_eq(ev, CONSOLE_QUIT);
	ck_assert_uint_eq(n, 0);
	/* A pending Ctrl-A and a full read: one byte more than was read. */
	term.escape_pending = 1;
	n = console_input(&term, "1234567", 7, out, &ev);
	ck_assert_int_eq(ev, CONSOLE_NONE);
	ck_assert_uint_eq(n, 8);
	ck_assert(!memcmp(out,
			  "\x01"
			  "1234567",
			  8));
}
END_TEST

/* Through the flow-controlled input: bytes before Ctrl-A x reach the
 * UART, and the state says stop. */
START_TEST(console_in_quit)
{
	struct serial8250 s;
	struct console_in c;
	struct console term = {.fd = -1};
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(serial8250_init(&s, -1, NULL), 0);
	con_wr(&s, CON_FCR, 0x01);
	term.fd = p[0];
	ck_assert_int_eq(console_in_init(&c, &s, &term), 0);
	ck_assert_int_eq(write(p[1], "ok\x01x", 4), 4);
	ck_assert_int_eq(console_in_read(&c), CONSOLE_IN_QUIT);
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'o');
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'k');
	ck_assert_uint_eq(con_rd(&s, CON_LSR) & 0x01, 0);
	console_in_close(&c);
	serial8250_destroy(&s);
	close(p[0]);
	close(p[1]);
}
END_TEST

static unsigned con_quits;

static void con_quit(void *opaque)
{
	ck_assert_ptr_eq(opaque, &con_quits);
	con_quits++;
}

/* Set up a UART (receive FIFO off: one byte at a time), a pipe as the
 * terminal and the input attached to a loop. */
static void con_attached(struct serial8250 *s, struct console_in *c,
			 struct console *term, struct loop *l, int p[2])
{
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(serial8250_init(s, -1, NULL), 0);
	term->fd = p[0];
	ck_assert_int_eq(loop_init(l), 0);
	ck_assert_int_eq(console_in_init(c, s, term), 0);
	con_quits = 0;
	ck_assert_int_eq(console_in_attach(c, l, con_quit, &con_quits), 0);
	ck_assert(loop_watching(l, p[0]));
	ck_assert(loop_watching(l, c->wake_fd));
}

/* On the loop: the terminal leaves the loop while a byte waits for the
 * UART (level-triggered stdin left unread would spin), comes back once
 * the guest drains the receiver, and leaves for good at EOF. Nothing is
 * lost or reordered. */
START_TEST(console_attach_flow)
{
	struct serial8250 s;
	struct console_in c;
	struct console term = {.fd = -1};
	struct loop l;
	int p[2], wake;

	con_attached(&s, &c, &term, &l, p);
	wake = c.wake_fd;
	ck_assert_int_eq(write(p[1], "hi", 2), 2);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	/* 'h' is in the receiver, 'i' waits: stdin is out of the loop. */
	ck_assert(!loop_watching(&l, p[0]));
	ck_assert_int_eq(loop_once(&l, 0), 0);
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'h');
	/* The UART's wakeup: 'i' goes in, stdin is back. */
	ck_assert_int_ge(loop_once(&l, 1000), 1);
	ck_assert(loop_watching(&l, p[0]));
	ck_assert_uint_eq(con_rd(&s, CON_LSR) & 0x01, 1);
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'i');
	while (loop_once(&l, 0) > 0) {
		/* the wakeup after 'i' was read: nothing waits */
	}
	ck_assert(loop_watching(&l, p[0]));
	close(p[1]);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert(!loop_watching(&l, p[0]));
	ck_assert_int_eq(loop_once(&l, 0), 0);
	ck_assert_uint_eq(con_quits, 0);
	console_in_close(&c);
	ck_assert(!loop_watching(&l, wake));
	loop_destroy(&l);
	serial8250_destroy(&s);
	close(p[0]);
}
END_TEST

/* Ctrl-A x on the loop: quit is called once, the byte before it still
 * reaches the guest, and the terminal is no longer read. */
START_TEST(console_attach_quit)
{
	struct serial8250 s;
	struct console_in c;
	struct console term = {.fd = -1};
	struct loop l;
	int p[2];

	con_attached(&s, &c, &term, &l, p);
	ck_assert_int_eq(write(p[1], "k\x01x", 3), 3);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert_uint_eq(con_quits, 1);
	ck_assert(!loop_watching(&l, p[0]));
	ck_assert_uint_eq(con_rd(&s, CON_RBR), 'k');
	ck_assert_int_eq(write(p[1], "more", 4), 4);
	while (loop_once(&l, 0) > 0) {
		/* only the UART's wakeup */
	}
	ck_assert_uint_eq(con_quits, 1);
	ck_assert_int_eq(con_pending(p[0]), 4);
	console_in_close(&c);
	loop_destroy(&l);
	serial8250_destroy(&s);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *console_suite(void);
Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("input");

	tcase_add_test(tc, console_paste_fifo_off);
	tcase_add_test(tc, console_paste_fifo_on);
	tcase_add_test(tc, console_loopback_waits);
	tcase_add_test(tc, console_escapes);
	tcase_add_test(tc, console_in_quit);
	tcase_add_test(tc, console_attach_flow);
	tcase_add_test(tc, console_attach_quit);
	suite_add_tcase(s, tc);
	return s;
}
