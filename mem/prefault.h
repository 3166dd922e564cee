/*
 * Populating guest memory ahead of the guest: MADV_POPULATE_WRITE on worker
 * threads started behind a barrier, about one per 64 MiB up to the CPU count
 * (at most 16). Errors are reported, never ignored.
 */
#ifndef MEM_PREFAULT_H
#define MEM_PREFAULT_H

#include <pthread.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define PREFAULT_MAX_THREADS 16
#define PREFAULT_CHUNK	     (64ULL << 20)

struct prefault {
	const struct guest_mem *gm;
	pthread_t threads[PREFAULT_MAX_THREADS];
	unsigned nr_threads;
	pthread_barrier_t barrier;
	uint64_t next_chunk; /* atomic: next chunk index to take */
	uint64_t nr_chunks;
	int error; /* first negative errno, atomic */
	uint64_t error_gpa;
	int used_touch; /* MADV_POPULATE_WRITE missing: touched pages */
	uint64_t start_ns, end_ns;
	int running;
};

/* Threads prefault would use for this map when `threads` is 0 (auto). */
unsigned prefault_auto_threads(const struct guest_mem *gm);

/*
 * Start populating every region. threads 0 means auto. The workers wait on
 * a barrier so they start together. The caller must keep gm alive until
 * prefault_wait() returns. Returns 0 or a negative errno (no thread left
 * running on failure).
 */
int prefault_start(struct prefault *pf, const struct guest_mem *gm,
		   unsigned threads) __attribute__((warn_unused_result));

/*
 * Join the workers. Returns 0 or the first error (negative errno); on error
 * writes a one-line reason into err. Safe to call once after a start.
 */
int prefault_wait(struct prefault *pf, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * 1 while chunks are left for the workers to take; once 0, each worker
 * finishes at most the chunk it is on. For a caller that waits for other
 * events (a stop signal) between checks.
 */
int prefault_pending(const struct prefault *pf);

/*
 * Make the workers stop after the chunk each is on (setup interrupted);
 * prefault_wait then returns -ECANCELED. Any thread may call it.
 */
void prefault_cancel(struct prefault *pf);

/* Start and wait: the synchronous --prefault. */
int prefault_run(const struct guest_mem *gm, unsigned threads, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

#endif
