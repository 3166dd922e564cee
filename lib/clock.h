/*
 * The VMM's clocks, read in one place: wall time (CLOCK_MONOTONIC: never
 * steps with the date) and the process's CPU time (all threads). A leaf:
 * any module may use it.
 */
#ifndef LIB_CLOCK_H
#define LIB_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds (0 if the clock cannot be read). */
uint64_t clock_wall_ns(void);

/* CLOCK_PROCESS_CPUTIME_ID in nanoseconds (0 if it cannot be read). */
uint64_t clock_cpu_ns(void);

#endif
