/*
 * Exit dispatch: a pure function over struct kvm_run and an explicit
 * context. It touches nothing but the run structure, the buses and the
 * context's own log limiters, so tests feed it synthetic exits and two
 * contexts (two vCPUs, two VMs) never share state.
 */
#ifndef VMM_EXIT_H
#define VMM_EXIT_H

#include <linux/kvm.h>
#include <stddef.h>

#include "devices/bus.h"
#include "lib/log.h"

enum exit_action {
	EXIT_CONTINUE,	 /* handled: run the vCPU again */
	EXIT_GUEST_STOP, /* the guest reset or powered off: exit status 0 */
	EXIT_ERROR,	 /* the VM cannot go on: `why` says what happened */
};

struct exit_ctx {
	const struct bus *pio;
	const struct bus *mmio;
	size_t run_size; /* bytes mapped for struct kvm_run (bounds IO data) */
	/* One limiter per kind, so a flood of port accesses cannot hide
	 * MMIO misuse (or the other way round). Zero-init. */
	struct log_ratelimit pio_rl, mmio_rl;
};

/*
 * Handle one exit. For IO and MMIO, dispatch to the bus (reads fill
 * run's data; unclaimed reads give all-ones and are logged, rate limited).
 * `why` gets a one-line reason for EXIT_ERROR and for EXIT_GUEST_STOP.
 */
enum exit_action exit_dispatch(struct kvm_run *run, struct exit_ctx *ctx,
			       char *why, size_t whylen);

#endif
