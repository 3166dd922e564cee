/*
 * Populating guest memory ahead of the guest: MADV_POPULATE_WRITE on worker
 * threads released together through a start gate, about one per 64 MiB up
 * to the CPU count (at most 16). Errors are reported, never ignored. A
 * background prefault can be stopped: workers look at the stop flag before
 * each chunk, so a VM that ends early does not wait for the whole memory.
 */
#ifndef MEM_PREFAULT_H
#define MEM_PREFAULT_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define PREFAULT_MAX_THREADS 16
#define PREFAULT_CHUNK	     (64ULL << 20)

#define PREFAULT_MAX_NODES 8

struct prefault {
	const struct guest_mem *gm;
	uint32_t zone_mask; /* bit z: populate the regions of zone z */
	/* Workers populating a region bound to a host node run on that
	 * node's CPUs (cpulist from sysfs); others on what they started
	 * with. */
	unsigned nr_nodes;
	int node[PREFAULT_MAX_NODES];
	cpu_set_t node_cpus[PREFAULT_MAX_NODES];
	cpu_set_t start_cpus;
	pthread_t threads[PREFAULT_MAX_THREADS];
	unsigned nr_threads;
	/* Start gate: workers wait while gate is 0; 1 go, -1 give up. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int gate;
	uint64_t next_chunk; /* atomic: next chunk index to take */
	uint64_t nr_chunks;
	uint64_t total_bytes;
	uint64_t done_bytes; /* atomic: bytes populated so far */
	int stop;	     /* atomic: prefault_stop() was called */
	int error;	     /* first negative errno, atomic */
	uint64_t error_gpa;
	int used_touch; /* MADV_POPULATE_WRITE missing: touched pages */
	uint64_t start_ns, end_ns;
	int running;
};

/* How prefault_start creates a worker: thread_spawn() with every signal
 * blocked. A test hook (unit tests inject a failing create). */
extern int (*prefault_spawn)(pthread_t *t, void *(*fn)(void *), void *arg);

/* Threads prefault would use for this map when `threads` is 0 (auto). */
unsigned prefault_auto_threads(const struct guest_mem *gm);

/*
 * Start populating every region. threads 0 means auto. The workers wait at
 * a gate so they start together. The caller must keep gm alive until
 * prefault_wait() returns. Returns 0 or a negative errno (no thread left
 * running on failure, e.g. when a worker cannot be created).
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
 * Ask the workers to stop: each finishes its current chunk (at most
 * PREFAULT_CHUNK) and takes no more. Any thread; prefault_wait() still
 * joins. Memory not populated stays lazy (faulted on first touch).
 */
void prefault_stop(struct prefault *pf);

/* After prefault_wait(): 1 if a stop left memory unpopulated. */
int prefault_stopped_early(const struct prefault *pf);

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

/*
 * prefault_start for the regions of the zones in zone_mask only (bit z for
 * region.zone z); threads 0 means auto for their size. Regions bound to a
 * host node (region.bound, host_node) are populated by workers moved onto that
 * node's CPUs (/sys/devices/system/node/nodeN/cpulist).
 */
int prefault_start_zones(struct prefault *pf, const struct guest_mem *gm,
			 unsigned threads, uint32_t zone_mask)
	__attribute__((warn_unused_result));

/* Start and wait: the synchronous --prefault. */
int prefault_run(const struct guest_mem *gm, unsigned threads, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

#endif
