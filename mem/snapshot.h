/*
 * Guest memory in a snapshot directory: one sparse file per region
 * ("mem-<index>": only the pages the guest populated hold data, the rest are
 * holes) and a "mem-layout" text file with a CRC. Regions backed by a
 * --mem-file are flushed and only their path is recorded. Restore checks the
 * layout against a freshly built guest_mem and fills it either now (copy, on
 * worker threads) or lazily at first touch at the region's own page size:
 * base by mapping the file privately over the region (clones share clean
 * pages; large holes stay anonymous), hugetlb and THP through an in-process
 * userfaultfd handler thread that fills whole huge pages: hugetlb read into
 * the memfd and mapped with UFFDIO_CONTINUE, THP filled in a huge page of
 * its own and moved in with UFFDIO_MOVE (older kernels: UFFDIO_COPY, and
 * MADV_COLLAPSE for THP). docs/snapshot-memory.md has the format.
 * mem/ does not log: every function returns what happened.
 */
#ifndef MEM_SNAPSHOT_H
#define MEM_SNAPSHOT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define MEMSNAP_LAYOUT "mem-layout"

enum memsnap_mode {
	MEMSNAP_LAZY, /* pages come from the files at first touch (default) */
	MEMSNAP_COPY, /* read everything before returning */
};

/* What a save or a restore did. */
struct memsnap_stats {
	uint64_t bytes_written;	  /* save: data bytes in the mem files */
	uint64_t bytes_populated; /* save: resident guest bytes found;
				     copy restore: bytes read into memory */
	uint64_t holes;		  /* bytes left as holes (never populated,
				     or all zero) */
	uint64_t ns;		  /* wall time of the call */
};

/*
 * Run first thing on the lazy restore's handler thread, before it serves a
 * page: the caller's per-thread setup (vmm/ loads the thread's seccomp
 * list with it; mem/ knows no seccomp). 0, or a negative errno: the handler
 * then stops with that error (error_fd).
 */
struct memsnap_hook {
	int (*fn)(void *opaque);
	void *opaque;
};

/* One region served by the lazy handler (internal to mem/snapshot.c). */
struct memsnap_lazy_region {
	uint8_t *hva;
	uint64_t size;
	uint64_t unit;	  /* bytes copied per fault: the region's page size */
	int src_fd;	  /* snapshot data, -1 when not served from a file */
	uint64_t src_off; /* where the region starts in src_fd */
	int uffd;	  /* 1 when served by userfaultfd (else private map) */
	int thp;	  /* each unit must end on a 2 MiB page */
	int anon;	  /* anonymous private memory */
	int move;	  /* THP units arrive by UFFDIO_MOVE of a huge page */
	uint8_t *served;  /* one byte per unit: 1 once filled (atomic) */
	int mem_fd;	  /* hugetlb: the region's memfd (not owned), or -1 */
	uint64_t mem_off; /* where the region starts in mem_fd */
	uint8_t *alias;	  /* hugetlb: unregistered mapping of mem_fd that
			     units are read into before UFFDIO_CONTINUE */
};

/*
 * A lazy restore in progress. Zero it (or leave it as memsnap_restore
 * wrote it) before memsnap_lazy_stop(). Counters are atomic and may be read
 * while the handler runs.
 */
struct memsnap_lazy {
	int active;   /* 1 between memsnap_restore(LAZY) and _stop() */
	int uffd;     /* userfaultfd, -1 when no region needs it */
	int stop_fd;  /* eventfd: stop the handler */
	int error_fd; /* eventfd, readable once the handler failed: the VM
			 must stop (a vCPU may wait for a page forever);
			 register it in the event loop; -1 without a handler */
	pthread_t thread;
	int thread_running;
	unsigned nr;
	struct memsnap_lazy_region regions[GUEST_MEM_MAX_REGIONS];
	uint8_t *buf, *zero;	     /* bounce and zero source, one unit each */
	uint8_t *buf_map, *zero_map; /* their mappings (unit + 2 MiB) */
	size_t buf_len;
	uint8_t *stage, *stage_map; /* THP: the 2 MiB page to move in */
	int can_move;		    /* the kernel has UFFDIO_MOVE (6.8) */
	uint64_t faults;	    /* page faults served */
	uint64_t bytes_copied;	    /* bytes copied from the files */
	uint64_t bytes_zero;	    /* bytes filled with zeros (holes) */
	uint64_t units_moved;	    /* THP units moved in whole */
	uint64_t collapse_failed;   /* THP units copied and left on 4K */
	uint64_t start_ns, first_fault_ns;
	struct memsnap_hook on_start; /* fn NULL: none */
	int error; /* first negative errno of the handler, 0 if none */
	char error_msg[160];
};

/*
 * Write every region of gm into dir (created by the caller, empty): sparse
 * "mem-<i>" files (pages resident in memory or swapped, per
 * /proc/self/pagemap, written whole hugetlb page by whole hugetlb page;
 * all-zero 4K blocks stay holes) and "mem-layout" last. A region backed by
 * a --mem-file is msync'ed and only its path recorded. `lazy` is the lazy
 * restore this memory came from, or NULL: pages not faulted in yet are then
 * copied from its files, so a snapshot of a clone is complete. vCPUs (and
 * device work) must be paused by the caller. st may be NULL. Returns 0 or a
 * negative errno with a reason in err (files written so far stay).
 */
int memsnap_save(const struct guest_mem *gm, const struct memsnap_lazy *lazy,
		 const char *dir, struct memsnap_stats *st, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/*
 * Check dir's layout (CRC, version, regions' gpa and size) against gm,
 * freshly built by the caller with memmap_build() and never touched (the
 * page policy may differ from the snapshot's), and fill gm from it: COPY
 * reads every data extent now on prefault-style workers; LAZY arranges for
 * every page to come from the files at first touch, at the region's page
 * size (see the file comment), and starts the handler thread in *lazy when
 * a region needs one; the thread calls hook->fn first (hook may be NULL). A region whose memory file is the one recorded in the
 * snapshot is left alone; a --mem-file target that is not is copied now.
 * Without userfaultfd (EPERM, ENOSYS) the error names the fix. Any damage
 * (bad CRC or version, truncated file, a layout that does not match gm) is
 * an error with the reason, nothing is mapped over gm then. st may be NULL.
 * A LAZY restore must end with memsnap_lazy_stop(), after the vCPUs stop
 * and before gm is destroyed.
 */
int memsnap_restore(struct guest_mem *gm, const char *dir,
		    enum memsnap_mode mode, struct memsnap_lazy *lazy,
		    const struct memsnap_hook *hook, struct memsnap_stats *st,
		    char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Stop and join a lazy restore's handler thread and close its files; safe
 * on a zeroed struct and when called twice. Pages not yet faulted in read
 * as zero afterwards: call it only when the guest is done. Closing the
 * userfaultfd also releases every thread still waiting for a page (it
 * then reads zeros): after a handler failure, call it before joining the
 * vCPUs, which may wait for a page that never comes. */
void memsnap_lazy_stop(struct memsnap_lazy *lazy);

/* 1 once the handler failed (error_fd readable, error_msg set). */
int memsnap_lazy_failed(const struct memsnap_lazy *lazy);

/* "lazy" or "copy"; memsnap_mode_parse returns 0 or -EINVAL. */
const char *memsnap_mode_name(enum memsnap_mode mode);
int memsnap_mode_parse(const char *s, enum memsnap_mode *mode);

#endif
