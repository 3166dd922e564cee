#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/irq.h"
#include "devices/serial8250.h"
#include "tests/harness/harness.h"

#define COM_RX	0
#define COM_IER 1
#define COM_IIR 2
#define COM_FCR 2
#define COM_LCR 3
#define COM_MCR 4
#define COM_LSR 5
#define COM_MSR 6
#define COM_SCR 7

/* A fake interrupt line that records every level it is set to. */
struct fake_irq {
	int levels[64];
	unsigned n;
};

static void fake_irq_set(void *opaque, unsigned gsi, int level)
{
	struct fake_irq *f = opaque;

	ck_assert_uint_eq(gsi, 4);
	if (f->n < 64)
		f->levels[f->n] = level;
	f->n++;
}

static uint8_t rd(struct serial8250 *s, uint64_t off)
{
	uint8_t v = 0x5a;

	serial8250_ops.read(s, off, &v, 1);
	return v;
}

static void wr(struct serial8250 *s, uint64_t off, uint8_t v)
{
	serial8250_ops.write(s, off, &v, 1);
}

struct uart_fixture {
	struct serial8250 s;
	struct fake_irq irq;
	struct irq_line line;
	int pipe[2];
};

/* A UART writing to a non-blocking pipe, with a fake IRQ line. */
static void uart_setup(struct uart_fixture *u)
{
	memset(u, 0, sizeof(*u));
	ck_assert_int_eq(pipe2(u->pipe, O_NONBLOCK), 0);
	u->line = (struct irq_line){
		.set = fake_irq_set,
		.opaque = &u->irq,
		.gsi = 4,
		.irqfd = -1,
	};
	ck_assert_int_eq(serial8250_init(&u->s, u->pipe[1], &u->line), 0);
}

static void uart_teardown(struct uart_fixture *u)
{
	serial8250_destroy(&u->s);
	close(u->pipe[0]);
	close(u->pipe[1]);
}

/* Bytes waiting in the pipe (non-blocking read), -1 when none. */
static ssize_t uart_drain(struct uart_fixture *u, char *buf, size_t len)
{
	return read(u->pipe[0], buf, len);
}

START_TEST(serial_thr_to_fd)
{
	struct uart_fixture u;
	char buf[16];
	const char msg[] = "hi\n";

	uart_setup(&u);
	for (unsigned i = 0; i < 3; i++)
		wr(&u.s, COM_RX, (uint8_t)msg[i]);
	ck_assert_int_eq(uart_drain(&u, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, msg, 3), 0);
	ck_assert_uint_eq(u.s.tx_bytes, 3);
	/* No interrupt is enabled: the line was never touched. */
	ck_assert_uint_eq(u.irq.n, 0);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_lsr_bits)
{
	struct uart_fixture u;

	uart_setup(&u);
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x60);
	wr(&u.s, COM_RX, 'x');
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x60);
	ck_assert_uint_eq(serial8250_input(&u.s, "a", 1), 1);
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x61);
	ck_assert_uint_eq(rd(&u.s, COM_RX), 'a');
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x60);
	/* An empty RBR keeps its last byte. */
	ck_assert_uint_eq(rd(&u.s, COM_RX), 'a');
	/* MSR outside loopback: CTS, DSR, DCD up, no deltas. */
	ck_assert_uint_eq(rd(&u.s, COM_MSR), 0xb0);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_dlab)
{
	struct uart_fixture u;
	char buf[4];

	uart_setup(&u);
	wr(&u.s, COM_IER, 0x05);
	wr(&u.s, COM_LCR, 0x83);		 /* DLAB, 8N1 */
	ck_assert_uint_eq(rd(&u.s, COM_RX), 12); /* power-on 9600 baud */
	wr(&u.s, COM_RX, 0x01);			 /* DLL: 115200 */
	wr(&u.s, COM_IER, 0x02);		 /* DLM */
	ck_assert_uint_eq(rd(&u.s, COM_RX), 0x01);
	ck_assert_uint_eq(rd(&u.s, COM_IER), 0x02);
	ck_assert_uint_eq(rd(&u.s, COM_LCR), 0x83);
	/* Nothing was transmitted while DLAB was set. */
	ck_assert_int_eq(uart_drain(&u, buf, sizeof(buf)), -1);
	wr(&u.s, COM_LCR, 0x03);
	ck_assert_uint_eq(rd(&u.s, COM_IER), 0x05);
	wr(&u.s, COM_LCR, 0x83);
	ck_assert_uint_eq(rd(&u.s, COM_RX), 0x01);
	ck_assert_uint_eq(rd(&u.s, COM_IER), 0x02);
	wr(&u.s, COM_LCR, 0x03);
	/* IER keeps only its four defined bits; SCR is plain storage. */
	wr(&u.s, COM_IER, 0xff);
	ck_assert_uint_eq(rd(&u.s, COM_IER), 0x0f);
	wr(&u.s, COM_SCR, 0xa5);
	ck_assert_uint_eq(rd(&u.s, COM_SCR), 0xa5);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_rx_fifo)
{
	struct uart_fixture u;
	uint8_t in[100];

	uart_setup(&u);
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i + 1);
	/* FIFOs off: a single holding register. */
	ck_assert_uint_eq(serial8250_input(&u.s, in, 3), 1);
	ck_assert_uint_eq(rd(&u.s, COM_IIR) & 0xc0, 0);
	/* Enabling the FIFO empties it. */
	wr(&u.s, COM_FCR, 0x01);
	ck_assert_uint_eq(rd(&u.s, COM_IIR) & 0xc0, 0xc0);
	ck_assert_uint_eq(rd(&u.s, COM_LSR) & 0x01, 0);
	ck_assert_uint_eq(serial8250_input(&u.s, in, sizeof(in)),
			  SERIAL8250_FIFO_SIZE);
	ck_assert_uint_eq(serial8250_input(&u.s, in, 1), 0);
	for (unsigned i = 0; i < SERIAL8250_FIFO_SIZE; i++) {
		ck_assert_uint_eq(rd(&u.s, COM_LSR) & 0x01, 1);
		ck_assert_uint_eq(rd(&u.s, COM_RX), in[i]);
	}
	ck_assert_uint_eq(rd(&u.s, COM_LSR) & 0x01, 0);
	/* Wraps around the ring. */
	ck_assert_uint_eq(serial8250_input(&u.s, in + 10, 5), 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_uint_eq(rd(&u.s, COM_RX), in[10 + i]);
	/* FCR "clear receiver" empties it too. */
	ck_assert_uint_eq(serial8250_input(&u.s, in, 5), 5);
	wr(&u.s, COM_FCR, 0x03);
	ck_assert_uint_eq(rd(&u.s, COM_LSR) & 0x01, 0);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_iir_priorities)
{
	struct uart_fixture u;

	uart_setup(&u);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x01);
	/* Loopback, FIFOs off: the second THR byte overruns RBR. */
	wr(&u.s, COM_MCR, 0x10);
	wr(&u.s, COM_RX, 'a');
	wr(&u.s, COM_RX, 'b');
	/* Still nothing: IER is 0. */
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x01);
	wr(&u.s, COM_IER, 0x0f);
	/* Line status (OE) first. */
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x06);
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x63);
	/* Then received data. */
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x04);
	ck_assert_uint_eq(rd(&u.s, COM_RX), 'a');
	/* Then THRE (enabled with THR empty), acknowledged by this read. */
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x02);
	/* Then modem status: entering loopback dropped CTS, DSR, DCD. */
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x00);
	ck_assert_uint_eq(rd(&u.s, COM_MSR), 0x0b);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x01);
	ck_assert_uint_eq(u.s.irq_level, 0);

	/* With FIFOs (trigger 4): below the trigger reports the timeout. */
	wr(&u.s, COM_MCR, 0x00);
	(void)rd(&u.s, COM_MSR);
	wr(&u.s, COM_IER, 0x01);
	wr(&u.s, COM_FCR, 0x41);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0xc1);
	ck_assert_uint_eq(serial8250_input(&u.s, "abc", 3), 3);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0xcc);
	ck_assert_uint_eq(serial8250_input(&u.s, "d", 1), 1);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0xc4);
	for (int i = 0; i < 4; i++)
		(void)rd(&u.s, COM_RX);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0xc1);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_thre_irq)
{
	struct uart_fixture u;
	char buf[8];

	uart_setup(&u);
	wr(&u.s, COM_RX, 'x');
	ck_assert_uint_eq(u.irq.n, 0);
	/* Enabling THRI with THR empty raises the line. */
	wr(&u.s, COM_IER, 0x02);
	ck_assert_uint_eq(u.irq.n, 1);
	ck_assert_int_eq(u.irq.levels[0], 1);
	/* Reading IIR acknowledges it: the line drops. */
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x02);
	ck_assert_uint_eq(u.irq.n, 2);
	ck_assert_int_eq(u.irq.levels[1], 0);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x01);
	/* A THR write makes THR empty again: line up. */
	wr(&u.s, COM_RX, 'y');
	ck_assert_uint_eq(u.irq.n, 3);
	ck_assert_int_eq(u.irq.levels[2], 1);
	/* Another write while it is up: down then up, a fresh edge. */
	wr(&u.s, COM_RX, 'z');
	ck_assert_uint_eq(u.irq.n, 5);
	ck_assert_int_eq(u.irq.levels[3], 0);
	ck_assert_int_eq(u.irq.levels[4], 1);
	/* Disabling the interrupt drops the line. */
	wr(&u.s, COM_IER, 0x00);
	ck_assert_uint_eq(u.irq.n, 6);
	ck_assert_int_eq(u.irq.levels[5], 0);
	/* Disable, then enable again: THRE is reasserted (Linux's
	 * UART_BUG_THRE probe). */
	wr(&u.s, COM_IER, 0x02);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x02);
	wr(&u.s, COM_IER, 0x00);
	wr(&u.s, COM_IER, 0x02);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x02);
	ck_assert_int_eq(uart_drain(&u, buf, sizeof(buf)), 3);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_rx_irq)
{
	struct uart_fixture u;

	uart_setup(&u);
	wr(&u.s, COM_FCR, 0x01);
	wr(&u.s, COM_IER, 0x01);
	ck_assert_uint_eq(u.irq.n, 0);
	ck_assert_uint_eq(serial8250_input(&u.s, "ab", 2), 2);
	ck_assert_uint_eq(u.irq.n, 1);
	ck_assert_int_eq(u.irq.levels[0], 1);
	ck_assert_uint_eq(rd(&u.s, COM_RX), 'a');
	ck_assert_uint_eq(u.irq.n, 1);
	ck_assert_uint_eq(rd(&u.s, COM_RX), 'b');
	ck_assert_uint_eq(u.irq.n, 2);
	ck_assert_int_eq(u.irq.levels[1], 0);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_loopback)
{
	struct uart_fixture u;
	char buf[4];

	uart_setup(&u);
	/* Linux's probe: LOOP | RTS | OUT2 must read back CTS | DCD. */
	wr(&u.s, COM_MCR, 0x1a);
	ck_assert_uint_eq(rd(&u.s, COM_MSR) & 0xf0, 0x90);
	ck_assert_uint_eq(rd(&u.s, COM_MCR), 0x1a);
	wr(&u.s, COM_MCR, 0x15); /* LOOP | DTR | OUT1 */
	ck_assert_uint_eq(rd(&u.s, COM_MSR), 0x60 | 0x01 | 0x02 | 0x08);
	wr(&u.s, COM_MCR, 0x10); /* RI falls: trailing edge */
	ck_assert_uint_eq(rd(&u.s, COM_MSR), 0x02 | 0x04);
	/* THR goes to RBR, not to the fd. */
	wr(&u.s, COM_RX, 'q');
	ck_assert_int_eq(uart_drain(&u, buf, sizeof(buf)), -1);
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x61);
	ck_assert_uint_eq(rd(&u.s, COM_RX), 'q');
	/* The outside line is disconnected. */
	ck_assert_uint_eq(serial8250_input(&u.s, "z", 1), 0);
	/* Bits 5-7 of MCR do not exist. */
	wr(&u.s, COM_MCR, 0xe3);
	ck_assert_uint_eq(rd(&u.s, COM_MCR), 0x03);
	wr(&u.s, COM_RX, 'r');
	ck_assert_int_eq(uart_drain(&u, buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'r');
	ck_assert_uint_eq(serial8250_input(&u.s, "z", 1), 1);
	uart_teardown(&u);
}
END_TEST

START_TEST(serial_rx_wakeup)
{
	struct uart_fixture u;
	uint8_t in[SERIAL8250_FIFO_SIZE + 1] = {0};
	uint64_t v;
	int efd;

	uart_setup(&u);
	efd = eventfd(0, EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	serial8250_set_rx_wakeup_fd(&u.s, efd);
	wr(&u.s, COM_FCR, 0x01);
	ck_assert_uint_eq(serial8250_input(&u.s, in, sizeof(in)),
			  SERIAL8250_FIFO_SIZE);
	ck_assert_int_eq(read(efd, &v, sizeof(v)), -1);
	(void)rd(&u.s, COM_RX);
	ck_assert_int_eq(read(efd, &v, sizeof(v)), sizeof(v));
	/* Once per refusal. */
	(void)rd(&u.s, COM_RX);
	ck_assert_int_eq(read(efd, &v, sizeof(v)), -1);
	close(efd);
	uart_teardown(&u);
}
END_TEST

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A full output pipe must not hold the vCPU: one bounded wait, then the
 * rest is dropped at once until the reader catches up. */
static void serial_full_pipe(int nonblock)
{
	struct serial8250 s;
	char junk[4096];
	uint64_t t0, t1;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	if (!nonblock)
		ck_assert_int_eq(fcntl(p[1], F_SETFL, 0), 0);
	ck_assert_int_eq(serial8250_init(&s, p[1], NULL), 0);
	t0 = now_ms();
	wr(&s, COM_RX, 'a');
	t1 = now_ms();
	ck_assert_uint_lt(t1 - t0, 1000);
	for (int i = 0; i < 100; i++)
		wr(&s, COM_RX, 'b');
	ck_assert_uint_lt(now_ms() - t1, 100);
	ck_assert_uint_eq(s.tx_dropped, 101);
	/* Room again: output resumes. */
	ck_assert_int_gt(read(p[0], junk, sizeof(junk)), 0);
	wr(&s, COM_RX, 'c');
	ck_assert_uint_eq(s.tx_bytes, 1);
	ck_assert_uint_eq(s.tx_dropped, 101);
	serial8250_destroy(&s);
	close(p[0]);
	close(p[1]);
}

START_TEST(serial_full_pipe_nonblock)
{
	serial_full_pipe(1);
}
END_TEST

START_TEST(serial_full_pipe_blocking)
{
	serial_full_pipe(0);
}
END_TEST

/* The console's reader went away (`microvm | head -c 1`), SIGPIPE ignored
 * as the VMM does: the bytes are dropped, the device says so once and does
 * not write again, the guest side sees a working UART. */
START_TEST(serial_console_closed)
{
	struct serial8250 s;
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(serial8250_init(&s, p[1], NULL), 0);
	wr(&s, COM_RX, 'a');
	ck_assert_uint_eq(s.tx_bytes, 1);
	close(p[0]);
	for (int i = 0; i < 10; i++)
		wr(&s, COM_RX, 'b');
	ck_assert_int_eq(s.out_gone, 1);
	ck_assert_uint_eq(s.tx_dropped, 10);
	ck_assert_uint_eq(rd(&s, COM_LSR) & 0x60, 0x60); /* THRE, TEMT */
	serial8250_destroy(&s);
	close(p[1]);
}
END_TEST

START_TEST(serial_reset_state)
{
	struct uart_fixture u;

	uart_setup(&u);
	wr(&u.s, COM_FCR, 0x01);
	wr(&u.s, COM_IER, 0x03);
	ck_assert_uint_eq(serial8250_input(&u.s, "ab", 2), 2);
	ck_assert_int_eq(u.s.irq_level, 1);
	serial8250_ops.reset(&u.s);
	ck_assert_int_eq(u.s.irq_level, 0);
	ck_assert_int_eq(u.irq.levels[u.irq.n - 1], 0);
	ck_assert_uint_eq(rd(&u.s, COM_IER), 0);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x01);
	ck_assert_uint_eq(rd(&u.s, COM_LSR), 0x60);
	uart_teardown(&u);
}
END_TEST

/* The multi-byte path splits into bytes at consecutive offsets. */
START_TEST(serial_wide_access)
{
	struct uart_fixture u;
	uint8_t v[2] = {0x03, 0x0b};
	uint8_t r[2];

	uart_setup(&u);
	serial8250_ops.write(&u.s, COM_LCR, v, 2);
	ck_assert_uint_eq(rd(&u.s, COM_LCR), 0x03);
	ck_assert_uint_eq(rd(&u.s, COM_MCR), 0x0b);
	serial8250_ops.read(&u.s, COM_LCR, r, 2);
	ck_assert_uint_eq(r[0], 0x03);
	ck_assert_uint_eq(r[1], 0x0b);
	uart_teardown(&u);
}
END_TEST

#define SERIAL_STREAM_LEN 20000

static void *serial_feeder(void *arg)
{
	struct serial8250 *s = arg;
	size_t sent = 0;

	while (sent < SERIAL_STREAM_LEN) {
		uint8_t chunk[37];
		size_t n = 0;

		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)((sent + i) * 7);
		n = serial8250_input(s, chunk,
				     SERIAL_STREAM_LEN - sent < sizeof(chunk)
					     ? SERIAL_STREAM_LEN - sent
					     : sizeof(chunk));
		sent += n;
		if (!n)
			sched_yield();
	}
	return NULL;
}

/* Input from the main thread while a vCPU drains: nothing lost, nothing
 * reordered. */
START_TEST(serial_concurrent_rx)
{
	struct uart_fixture u;
	pthread_t th;
	size_t got = 0;

	uart_setup(&u);
	wr(&u.s, COM_FCR, 0x01);
	wr(&u.s, COM_IER, 0x01);
	ck_assert_int_eq(pthread_create(&th, NULL, serial_feeder, &u.s), 0);
	while (got < SERIAL_STREAM_LEN) {
		if (!(rd(&u.s, COM_LSR) & 0x01))
			continue;
		ck_assert_uint_eq(rd(&u.s, COM_RX), (uint8_t)(got * 7));
		got++;
	}
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_eq(rd(&u.s, COM_LSR) & 0x01, 0);
	ck_assert_uint_eq(rd(&u.s, COM_IIR), 0x01 | 0xc0);
	ck_assert_int_eq(u.s.irq_level, 0);
	uart_teardown(&u);
}
END_TEST

struct irq_counts {
	int up, down;
};

static void count_set(void *opaque, unsigned gsi, int level)
{
	struct irq_counts *c = opaque;

	(void)gsi;
	if (level)
		c->up++;
	else
		c->down++;
}

START_TEST(irq_helpers)
{
	struct irq_counts c = {0, 0};
	struct irq_line l = {
		.set = count_set, .opaque = &c, .gsi = 5, .irqfd = -1};
	uint64_t v = 0;
	int efd;

	irq_pulse(&l);
	ck_assert_int_eq(c.up, 1);
	ck_assert_int_eq(c.down, 1);
	irq_set(&l, 1);
	ck_assert_int_eq(c.up, 2);
	irq_set(&l, 0);
	ck_assert_int_eq(c.down, 2);

	/* With an irqfd, a pulse is one eventfd write and no set(). */
	efd = eventfd(0, EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	l.irqfd = efd;
	irq_pulse(&l);
	irq_pulse(&l);
	ck_assert_int_eq(read(efd, &v, sizeof(v)), sizeof(v));
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(c.up, 2);
	close(efd);
}
END_TEST

Suite *serial8250_suite(void);
Suite *serial8250_suite(void)
{
	Suite *s = suite_create("serial8250");
	TCase *tc = tcase_create("uart");

	/* The concurrent-input test spins against a yielding feeder: on a
	 * loaded two-core machine that can take seconds. */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, serial_thr_to_fd);
	tcase_add_test(tc, serial_lsr_bits);
	tcase_add_test(tc, serial_dlab);
	tcase_add_test(tc, serial_rx_fifo);
	tcase_add_test(tc, serial_iir_priorities);
	tcase_add_test(tc, serial_thre_irq);
	tcase_add_test(tc, serial_rx_irq);
	tcase_add_test(tc, serial_loopback);
	tcase_add_test(tc, serial_rx_wakeup);
	tcase_add_test(tc, serial_full_pipe_nonblock);
	tcase_add_test(tc, serial_full_pipe_blocking);
	tcase_add_test(tc, serial_console_closed);
	tcase_add_test(tc, serial_reset_state);
	tcase_add_test(tc, serial_wide_access);
	tcase_add_test(tc, serial_concurrent_rx);
	tcase_add_test(tc, irq_helpers);
	suite_add_tcase(s, tc);
	return s;
}
