/*
 * How a device raises an interrupt without knowing about the VM: vmm/ hands
 * it one of these (backed by KVM_IRQ_LINE, or an irqfd). Devices never reach
 * into the VM.
 */
#ifndef DEVICES_IRQ_H
#define DEVICES_IRQ_H

#include "lib/log.h"

struct irq_line {
	/* Set the line's level (1 asserted, 0 deasserted). Edge-style users
	 * call it with 1 then 0. Thread-safe. */
	void (*set)(void *opaque, unsigned gsi, int level);
	void *opaque;
	unsigned gsi;
	/* eventfd for the irqfd fast path, -1 when not available. Writing
	 * 1 to it injects an edge on gsi. */
	int irqfd;
	/* irqfd write failures, this line's own (zero-init). */
	struct log_ratelimit rl;
};

/* Raise an edge (via irqfd when present). Not const: a failed irqfd
 * write is logged through l->rl. */
void irq_pulse(struct irq_line *l);
/* Set a level. */
void irq_set(const struct irq_line *l, int level);

#endif
