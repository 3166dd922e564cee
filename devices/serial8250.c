/*
 * A 16550A UART (register map from the TI/National PC16550D datasheet).
 *
 * The transmitter is infinitely fast: a byte written to THR is handed to
 * out_fd at once, so LSR always shows THRE|TEMT. The receiver has a
 * SERIAL8250_FIFO_SIZE byte FIFO (one byte when the guest disables FIFOs)
 * fed by serial8250_input(). Multi-byte accesses are split into byte
 * accesses at consecutive offsets, as an 8-bit ISA device sees them.
 *
 * Interrupts: the line follows IIR, as the chip's INTR pin does: asserted
 * (irq_set 1) while an enabled interrupt is pending, deasserted when none
 * is. COM1 is ISA IRQ 4, which KVM's in-kernel PIC and IOAPIC treat as
 * edge-triggered: they inject on a 0->1 transition of the KVM_IRQ_LINE
 * level. That is what real PCs do too, and Linux's 8250 driver copes by
 * servicing until IIR reads "no interrupt", which drops the line so the
 * next condition makes a fresh edge. The one place an emulation must help
 * is THR: a real UART drops THRE for a character time after a THR write;
 * ours transmits instantly, so a THR write lowers the line (if THRE was
 * the only cause) before raising it again, giving the edge the guest
 * waits for. irqfd is not used: it can only pulse, not hold a level.
 * MCR.OUT2, which gates INTR on PC boards, is not modelled (the line is
 * never gated), as in most VMMs.
 */
#include "devices/serial8250.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

/* Register offsets. */
#define UART_RX	 0 /* RBR (read), THR (write); DLL with DLAB */
#define UART_IER 1 /* DLM with DLAB */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI  0x01 /* received data available */
#define UART_IER_THRI 0x02 /* THR empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI  0x08 /* modem status */

#define UART_IIR_NO_INT	 0x01
#define UART_IIR_MSI	 0x00
#define UART_IIR_THRI	 0x02
#define UART_IIR_RDI	 0x04
#define UART_IIR_RLSI	 0x06
#define UART_IIR_TIMEOUT 0x0c
#define UART_IIR_ID_MASK 0x0f
#define UART_IIR_FIFO_ON 0xc0

#define UART_FCR_ENABLE	   0x01
#define UART_FCR_CLEAR_RX  0x02
#define UART_FCR_CLEAR_TX  0x04
#define UART_FCR_DMA	   0x08
#define UART_FCR_TRIG_MASK 0xc0

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f /* bits 5-7 read as 0 on a 16550A */

#define UART_LSR_DR	0x01
#define UART_LSR_OE	0x02
#define UART_LSR_PE	0x04
#define UART_LSR_FE	0x08
#define UART_LSR_BI	0x10
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS	0x01
#define UART_MSR_DDSR	0x02
#define UART_MSR_TERI	0x04
#define UART_MSR_DDCD	0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

/* How long one byte may wait for a full console before it is dropped.
 * After a drop, later bytes do not wait at all until a write succeeds, so
 * a stuck reader costs the vCPU one wait, not one per byte. */
#define SERIAL_TX_WAIT_MS 100

/* 9600 baud with the PC's 1.8432 MHz clock. */
#define SERIAL_DEFAULT_DIVISOR 12

static unsigned serial_rx_capacity(const struct serial8250 *s)
{
	return (s->fcr & UART_FCR_ENABLE) ? SERIAL8250_FIFO_SIZE : 1;
}

static unsigned serial_rx_trigger(const struct serial8250 *s)
{
	static const unsigned levels[4] = {1, 4, 8, 14};

	if (!(s->fcr & UART_FCR_ENABLE))
		return 1;
	return levels[s->fcr >> 6];
}

static void serial_rx_clear(struct serial8250 *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

static int serial_rx_push(struct serial8250 *s, uint8_t b)
{
	if (s->rx_count >= serial_rx_capacity(s))
		return -1;
	s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL8250_FIFO_SIZE] = b;
	s->rx_count++;
	return 0;
}

/* The modem status inputs. In loopback they are wired to MCR outputs
 * (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD); otherwise a console cable
 * that is always ready: CTS, DSR and DCD up, so no guest waits on flow
 * control. */
static uint8_t serial_msr_status(const struct serial8250 *s)
{
	uint8_t m = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

/* IIR, by the 16550's fixed priorities. Received data below the trigger
 * level reports the character timeout straight away: we have no timer,
 * and the guest treats both the same (drain while LSR.DR). */
static uint8_t serial_iir(const struct serial8250 *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO_ON : 0;

	if ((s->ier & UART_IER_RLSI) && (s->lsr & UART_LSR_ERRORS))
		return fifo | UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count) {
		if (s->rx_count >= serial_rx_trigger(s))
			return fifo | UART_IIR_RDI;
		return fifo | UART_IIR_TIMEOUT;
	}
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return fifo | UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_DELTAS))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NO_INT;
}

static void serial_update_irq(struct serial8250 *s)
{
	int level = !(serial_iir(s) & UART_IIR_NO_INT);

	if (!s->has_irq || level == s->irq_level)
		return;
	s->irq_level = level;
	irq_set(&s->irq, level);
}

/* Input refused earlier may fit now: tell the VMM once. */
static void serial_rx_maybe_wake(struct serial8250 *s)
{
	uint64_t one = 1;
	ssize_t n;

	if (!s->rx_refused || s->rx_wakeup_fd < 0 || (s->mcr & UART_MCR_LOOP) ||
	    s->rx_count >= serial_rx_capacity(s))
		return;
	s->rx_refused = 0;
	do
		n = write(s->rx_wakeup_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN means a wakeup is already pending: nothing lost. */
}

static int serial_wait_writable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	/* EINTR (a vCPU kick) counts as a timeout: the caller is being
	 * asked to stop, not to wait longer. */
	return poll(&p, 1, timeout_ms) > 0;
}

static void serial_tx(struct serial8250 *s, uint8_t b)
{
	int timeout = s->out_congested ? 0 : SERIAL_TX_WAIT_MS;
	int err = 0, waited = 0;
	ssize_t n;

	if (s->out_fd < 0)
		return;
	if (s->out_gone) {
		s->tx_dropped++;
		return;
	}
	/* A blocking fd could hold the vCPU forever in write(); poll first
	 * (POLLOUT means a one-byte write will not block). */
	if (s->out_poll_first && !serial_wait_writable(s->out_fd, timeout)) {
		err = EAGAIN;
		goto drop;
	}
	for (int tries = 0; tries < 4; tries++) {
		n = write(s->out_fd, &b, 1);
		if (n == 1) {
			s->out_congested = 0;
			s->tx_bytes++;
			return;
		}
		err = n < 0 ? errno : EIO;
		if (err == EINTR)
			continue;
		if (err != EAGAIN || waited || !timeout)
			break;
		waited = 1;
		if (!serial_wait_writable(s->out_fd, timeout))
			break;
	}
drop:
	s->tx_dropped++;
	if (err == EPIPE) {
		/* The reader closed the console (`microvm | head`): that is
		 * the user's choice, not a failure. The guest runs on, as on
		 * a serial line nobody listens to; its output is discarded
		 * without further writes. */
		s->out_gone = 1;
		log_once(&s->out_err_logged, LOG_WARN,
			 "serial: console output closed by its reader; the "
			 "guest keeps running, its output is discarded");
		return;
	}
	s->out_congested = 1;
	log_once(&s->out_err_logged, LOG_WARN,
		 "serial: console output %s; dropping bytes",
		 err == EAGAIN ? "blocked" : strerror(err));
}

static void serial_write_thr(struct serial8250 *s, uint8_t b)
{
	/* See the top comment: drop THRE for the "character time". */
	s->thr_ipending = 0;
	serial_update_irq(s);
	if (s->mcr & UART_MCR_LOOP) {
		if (serial_rx_push(s, b))
			s->lsr |= UART_LSR_OE;
	} else {
		serial_tx(s, b);
	}
	s->thr_ipending = 1;
	serial_update_irq(s);
}

static void serial_write_fcr(struct serial8250 *s, uint8_t v)
{
	/* Turning the FIFOs on or off empties them. */
	if ((v ^ s->fcr) & UART_FCR_ENABLE)
		serial_rx_clear(s);
	else if (v & UART_FCR_CLEAR_RX)
		serial_rx_clear(s);
	/* The transmitter has no FIFO to clear: it is always empty. */
	s->fcr = v & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIG_MASK);
	serial_rx_maybe_wake(s);
}

static void serial_write_mcr(struct serial8250 *s, uint8_t v)
{
	uint8_t old = serial_msr_status(s), now, changed;

	s->mcr = v & UART_MCR_MASK;
	now = serial_msr_status(s);
	changed = old ^ now;
	if (changed & UART_MSR_CTS)
		s->msr |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		s->msr |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		s->msr |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		s->msr |= UART_MSR_DDCD;
	serial_rx_maybe_wake(s);
}

static void serial_write_byte(struct serial8250 *s, uint64_t off, uint8_t v)
{
	int dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_RX:
		if (dlab)
			s->dll = v;
		else
			serial_write_thr(s, v);
		return; /* THR updates the line itself */
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			return;
		}
		v &= 0x0f;
		/* Enabling the THRE interrupt while THR is empty (always)
		 * raises it at once; a real 16550 does too, and Linux tests
		 * that at startup. */
		if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thr_ipending = 1;
		else if (!(v & UART_IER_THRI))
			s->thr_ipending = 0;
		s->ier = v;
		break;
	case UART_FCR: serial_write_fcr(s, v); break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: serial_write_mcr(s, v); break;
	case UART_LSR:
	case UART_MSR:
		/* Read-only (factory test on some parts): ignore. */
		return;
	case UART_SCR: s->scr = v; return;
	}
	serial_update_irq(s);
}

static uint8_t serial_read_byte(struct serial8250 *s, uint64_t off)
{
	int dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (off) {
	case UART_RX:
		if (dlab)
			return s->dll;
		if (s->rx_count) {
			s->rbr_last = s->rx_fifo[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL8250_FIFO_SIZE;
			s->rx_count--;
		}
		/* Empty: the holding register keeps its last byte. */
		v = s->rbr_last;
		serial_rx_maybe_wake(s);
		break;
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR:
		/* Reading IIR acknowledges THRE when THRE is what it shows. */
		v = serial_iir(s);
		if ((v & UART_IIR_ID_MASK) == UART_IIR_THRI)
			s->thr_ipending = 0;
		break;
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	case UART_LSR:
		v = s->lsr | UART_LSR_THRE | UART_LSR_TEMT;
		if (s->rx_count)
			v |= UART_LSR_DR;
		s->lsr &= ~UART_LSR_ERRORS;
		break;
	case UART_MSR:
		v = serial_msr_status(s) | s->msr;
		s->msr &= ~UART_MSR_DELTAS;
		break;
	case UART_SCR: return s->scr;
	default: return 0xff;
	}
	serial_update_irq(s);
	return v;
}

static void serial_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct serial8250 *s = opaque;
	uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++)
		p[i] = off + i < SERIAL8250_LEN ? serial_read_byte(s, off + i)
						: 0xff;
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *opaque, uint64_t off, const void *data,
			 uint32_t len)
{
	struct serial8250 *s = opaque;
	const uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len && off + i < SERIAL8250_LEN; i++)
		serial_write_byte(s, off + i, p[i]);
	pthread_mutex_unlock(&s->lock);
}

/* Power-on state; the caller holds the lock (or owns s exclusively). */
static void serial_power_on(struct serial8250 *s)
{
	s->ier = 0;
	s->lcr = 0;
	s->mcr = 0;
	s->lsr = 0;
	s->msr = 0;
	s->scr = 0;
	s->fcr = 0;
	s->dll = SERIAL_DEFAULT_DIVISOR;
	s->dlm = 0;
	s->rbr_last = 0;
	s->thr_ipending = 0;
	serial_rx_clear(s);
}

static void serial_reset(void *opaque)
{
	struct serial8250 *s = opaque;

	pthread_mutex_lock(&s->lock);
	serial_power_on(s);
	serial_update_irq(s);
	serial_rx_maybe_wake(s);
	pthread_mutex_unlock(&s->lock);
}

/* Snapshot layout: version byte, the registers, the receive FIFO in
 * order (count, then bytes). The line level follows from the registers:
 * load recomputes it rather than trusting the blob. */
#define SERIAL_SNAP_VERSION 1
#define SERIAL_SNAP_FIXED   12

static ssize_t serial_save(void *opaque, void *buf, size_t len)
{
	struct serial8250 *s = opaque;
	uint8_t *p = buf;
	size_t need;

	pthread_mutex_lock(&s->lock);
	need = SERIAL_SNAP_FIXED + s->rx_count;
	if (len < need) {
		pthread_mutex_unlock(&s->lock);
		return -ENOSPC;
	}
	p[0] = SERIAL_SNAP_VERSION;
	p[1] = s->ier;
	p[2] = s->lcr;
	p[3] = s->mcr;
	p[4] = s->lsr;
	p[5] = s->msr;
	p[6] = s->scr;
	p[7] = s->dll;
	p[8] = s->dlm;
	p[9] = s->fcr;
	p[10] = s->rbr_last;
	p[11] = (uint8_t)((s->thr_ipending ? 1 : 0) | (s->rx_count << 1));
	for (unsigned i = 0; i < s->rx_count; i++)
		p[SERIAL_SNAP_FIXED + i] =
			s->rx_fifo[(s->rx_head + i) % SERIAL8250_FIFO_SIZE];
	pthread_mutex_unlock(&s->lock);
	return (ssize_t)need;
}

static int serial_load(void *opaque, const void *buf, size_t len)
{
	struct serial8250 *s = opaque;
	const uint8_t *p = buf;
	unsigned count;

	if (len < SERIAL_SNAP_FIXED || p[0] != SERIAL_SNAP_VERSION)
		return -EINVAL;
	count = p[11] >> 1;
	if (count > SERIAL8250_FIFO_SIZE || len != SERIAL_SNAP_FIXED + count)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = p[1];
	s->lcr = p[2];
	s->mcr = p[3];
	s->lsr = p[4];
	s->msr = p[5];
	s->scr = p[6];
	s->dll = p[7];
	s->dlm = p[8];
	s->fcr = p[9];
	s->rbr_last = p[10];
	s->thr_ipending = p[11] & 1;
	s->rx_head = 0;
	s->rx_count = count;
	memcpy(s->rx_fifo, p + SERIAL_SNAP_FIXED, count);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

const struct bus_ops serial8250_ops = {
	.read = serial_read,
	.write = serial_write,
	.reset = serial_reset,
	.save = serial_save,
	.load = serial_load,
};

int serial8250_init(struct serial8250 *s, int out_fd,
		    const struct irq_line *irq)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->out_fd = out_fd;
	s->rx_wakeup_fd = -1;
	if (out_fd >= 0) {
		struct stat st;
		int fl = fcntl(out_fd, F_GETFL);

		if (fl < 0 || fstat(out_fd, &st) < 0)
			return -errno;
		/* Regular files never block; non-blocking fds report EAGAIN
		 * and are polled only then. */
		s->out_poll_first = !(fl & O_NONBLOCK) && !S_ISREG(st.st_mode);
	}
	if (irq) {
		s->irq = *irq;
		s->has_irq = 1;
	}
	err = pthread_mutex_init(&s->lock, NULL);
	if (err)
		return -err;
	serial_power_on(s);
	return 0;
}

void serial8250_destroy(struct serial8250 *s)
{
	pthread_mutex_destroy(&s->lock);
}

void serial8250_set_rx_wakeup_fd(struct serial8250 *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	s->rx_wakeup_fd = fd;
	pthread_mutex_unlock(&s->lock);
}

size_t serial8250_input(struct serial8250 *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver is cut off from the line. */
	if (!(s->mcr & UART_MCR_LOOP))
		while (n < len && !serial_rx_push(s, p[n]))
			n++;
	if (n < len)
		s->rx_refused = 1;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}
