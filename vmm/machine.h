/*
 * One microVM from options to exit: memory, VM, kernel, vCPUs, devices, the
 * main event loop, and teardown. vmm/main.c turns the result into an exit
 * status; everything else lives here so tests can link it.
 */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/cli.h"

/* Wall (CLOCK_MONOTONIC) and process CPU time, in nanoseconds. */
struct machine_timing {
	uint64_t wall_ns;
	uint64_t cpu_ns;
};

void machine_timing_now(struct machine_timing *t);

/*
 * Build and run the VM described by o until the guest resets or powers
 * off, a signal stops it, or it fails. t0 is when the process started VM
 * construction (for the boot timer). Returns the exit status (0: the
 * guest rebooted or powered off; 128+N: stopped by signal N), or a negative
 * errno with a one-line reason in err.
 */
int machine_run(const struct cli_opts *o, const struct machine_timing *t0,
		char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
