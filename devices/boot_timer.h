/*
 * The boot timer (Firecracker's convention, so the same guest init works
 * on both VMMs): the guest writes the byte LAYOUT_BOOT_TIMER_MAGIC at
 * offset 0 of LAYOUT_BOOT_TIMER_ADDR when it reaches init, and the VMM
 * records and prints the wall and CPU time since VM construction began.
 *
 * MMIO: register boot_timer_ops on the mmio bus at LAYOUT_BOOT_TIMER_ADDR,
 * length LAYOUT_MMIO_SLOT_SIZE, opaque = the struct boot_timer.
 */
#ifndef DEVICES_BOOT_TIMER_H
#define DEVICES_BOOT_TIMER_H

#include <stdint.h>

#include "devices/bus.h"

struct boot_timer {
	uint64_t start_wall_ns; /* CLOCK_MONOTONIC at the start */
	uint64_t start_cpu_ns;	/* CLOCK_PROCESS_CPUTIME_ID at the start */
	uint64_t setup_ns;	/* start to first KVM_RUN */
	uint64_t wall_ns;	/* start to the guest's write */
	uint64_t cpu_ns;	/* process CPU time over the same span */
	int fired; /* 0, 1 while recording, 2 once the results are valid */
};

/* Set up t with the start point the VMM captured with clock_wall_ns() and
 * clock_cpu_ns() (lib/clock.h). */
void boot_timer_init(struct boot_timer *t, uint64_t start_wall_ns,
		     uint64_t start_cpu_ns);

/* Record the VMM setup time (start to first KVM_RUN), shown in the line
 * printed when the guest fires. Call before the first KVM_RUN. */
void boot_timer_set_setup_ns(struct boot_timer *t, uint64_t ns);

/* 0 with the times since the start once the guest has fired, -EAGAIN
 * before. Thread-safe. Either pointer may be NULL. */
int boot_timer_result(const struct boot_timer *t, uint64_t *wall_ns,
		      uint64_t *cpu_ns);

extern const struct bus_ops boot_timer_ops;

#endif
