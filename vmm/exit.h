/*
 * Exit dispatch: a pure function over struct kvm_run. It touches nothing but
 * the run structure and the buses, so tests feed it synthetic exits.
 */
#ifndef VMM_EXIT_H
#define VMM_EXIT_H

#include <linux/kvm.h>
#include <stddef.h>

#include "devices/bus.h"

enum exit_action {
	EXIT_CONTINUE,	 /* handled: run the vCPU again */
	EXIT_GUEST_STOP, /* the guest reset or powered off: exit status 0 */
	EXIT_ERROR,	 /* the VM cannot go on: `why` says what happened */
};

struct exit_ctx {
	const struct bus *pio;
	const struct bus *mmio;
	size_t run_size; /* bytes mapped for struct kvm_run (bounds IO data) */
};

/*
 * Handle one exit. For IO and MMIO, dispatch to the bus (reads fill
 * run's data; unclaimed reads give all-ones and are logged, rate limited).
 * `why` gets a one-line reason for EXIT_ERROR and for EXIT_GUEST_STOP.
 */
enum exit_action exit_dispatch(struct kvm_run *run, const struct exit_ctx *ctx,
			       char *why, size_t whylen);

#endif
