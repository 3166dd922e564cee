/*
 * A 16550A UART, the guest's console at COM1. Port I/O: register
 * serial8250_ops on the pio bus at LAYOUT_COM1_PORT, length
 * SERIAL8250_LEN, opaque = the struct serial8250.
 *
 * Transmitted bytes go to out_fd with write(); received bytes come from
 * serial8250_input() (the VMM's event loop, with stdin bytes). Guest
 * accesses (vCPU threads) and input (main thread) may run concurrently.
 */
#ifndef DEVICES_SERIAL8250_H
#define DEVICES_SERIAL8250_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define SERIAL8250_LEN	     8
#define SERIAL8250_FIFO_SIZE 64

struct serial8250 {
	pthread_mutex_t lock;

	/* Output side. */
	int out_fd;
	int out_poll_first; /* blocking fd: poll before write() */
	int out_congested;  /* last byte was dropped: do not wait again */
	int out_err_logged; /* log_once flag */
	int out_gone; /* EPIPE: the reader closed it; never written again */
	uint64_t tx_bytes, tx_dropped;

	/* Interrupt line (has_irq 0: polled only). */
	struct irq_line irq;
	int has_irq;
	int irq_level;

	/* Tell the VMM when input it could not take fits again. */
	int rx_wakeup_fd;
	int rx_refused;

	/* Registers. lsr holds only the sticky error bits (OE) and msr only
	 * the delta bits: the rest is computed on read. */
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t rbr_last;
	int thr_ipending; /* THR empty interrupt not yet acknowledged */

	uint8_t rx_fifo[SERIAL8250_FIFO_SIZE];
	unsigned rx_head, rx_count;
};

/* Set up s, powered on. out_fd receives transmitted bytes (not owned; -1
 * discards them; once a write fails with EPIPE, which needs SIGPIPE ignored,
 * the console counts as closed and later bytes are discarded); irq is copied, NULL means no interrupt; irq->set is
 * called with the device lock held, so it must not call back in. The line is level-following:
 * irq->set(1) while an enabled interrupt is pending, set(0) when none is.
 * Returns 0 or a negative errno. */
int serial8250_init(struct serial8250 *s, int out_fd,
		    const struct irq_line *irq)
	__attribute__((warn_unused_result));

/* Release what init took (the mutex). */
void serial8250_destroy(struct serial8250 *s);

/* Feed received bytes (from stdin). Returns how many were accepted (the
 * rx FIFO may be full, or hold one byte when the guest disabled FIFOs);
 * the caller keeps the rest and retries after the wakeup fd fires. */
size_t serial8250_input(struct serial8250 *s, const void *buf, size_t len);

/* Optional: an eventfd (or pipe) that gets written once the guest drains
 * the rx FIFO after serial8250_input() refused bytes. -1 disables. */
void serial8250_set_rx_wakeup_fd(struct serial8250 *s, int fd);

extern const struct bus_ops serial8250_ops;

#endif
