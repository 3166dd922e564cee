/*
 * virtio-balloon (virtio 1.2 section 5.5) with free page reporting: the
 * guest hands memory it does not use back to the host.
 *
 * Queues, in this order, numbered without gaps (what Linux's virtio-mmio
 * driver and other VMMs do: an absent queue takes no index):
 *   inflate, deflate, stats (if VIRTIO_BALLOON_F_STATS_VQ was negotiated),
 *   reporting (if VIRTIO_BALLOON_F_FREE_PAGE_REPORTING was negotiated).
 * So reporting is queue 3 with stats and queue 2 without.
 *
 *   - inflate: buffers of 32-bit 4 KiB PFNs; the pages are discarded
 *     (sorted and coalesced into contiguous runs first).
 *   - deflate: counted only; the pages come back when the guest touches
 *     them (no VIRTIO_BALLOON_F_MUST_TELL_HOST).
 *   - stats: the driver's buffer of {le16 tag, le64 val} entries is kept
 *     until the next poll (every `stats` seconds, a timerfd the event loop
 *     serves), then given back so the driver sends fresh numbers.
 *   - reporting: each buffer of a chain is one free block of guest memory
 *     (2 or 4 MiB with Linux on x86); it is discarded and acknowledged.
 *
 * Discarding goes through guest_mem_discard(): MADV_DONTNEED for anonymous
 * memory, fallocate(PUNCH_HOLE) for memfd, hugetlb and files, whole pages
 * of the backing only. On a hugetlb region a range that does not cover a
 * whole huge page frees nothing and is acknowledged anyway (counted as
 * unfreed). Pages the guest touches again come back zero-filled, with the
 * same page size. On hugetlb they are taken from the pool again at that
 * fault: if the pool ran dry meanwhile the VMM gets SIGBUS.
 *
 * Config space: num_pages (target, 4 KiB pages, set by the VMM) and actual
 * (written by the driver), little endian.
 *
 * VMM wiring:
 *   cfg from the command line (cli_parse_balloon: --balloon=OPTS)
 *   virtio_balloon_init(&b, &cfg);
 *   virtio_mmio_attach(&b.mmio, gm, base, &irq) + bus_add as for any device
 *   poll virtio_mmio_event_fd(&b.mmio) -> virtio_mmio_process(&b.mmio)
 *   poll virtio_balloon_timer_fd(&b) (if >= 0) -> virtio_balloon_timer(&b)
 *   at exit: virtio_balloon_close(&b)
 */
#ifndef DEVICES_VIRTIO_BALLOON_H
#define DEVICES_VIRTIO_BALLOON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "lib/log.h"

#define VIRTIO_BALLOON_DEVICE_ID 5

#define VIRTIO_BALLOON_F_MUST_TELL_HOST	     0
#define VIRTIO_BALLOON_F_STATS_VQ	     1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM	     2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT	     3
#define VIRTIO_BALLOON_F_PAGE_POISON	     4
#define VIRTIO_BALLOON_F_FREE_PAGE_REPORTING 5

/* Linux reports up to 32 blocks per chain: the queue must hold them. */
#define VIRTIO_BALLOON_QUEUE_SIZE  256
#define VIRTIO_BALLOON_PFN_SHIFT   12
#define VIRTIO_BALLOON_MAX_STATS   16 /* tags we keep (10 defined) */
#define VIRTIO_BALLOON_STATS_MAX_S 3600

/* Guest statistics tags (virtio 1.2 section 5.5.6.3). */
enum {
	VIRTIO_BALLOON_S_SWAP_IN,
	VIRTIO_BALLOON_S_SWAP_OUT,
	VIRTIO_BALLOON_S_MAJFLT,
	VIRTIO_BALLOON_S_MINFLT,
	VIRTIO_BALLOON_S_MEMFREE,
	VIRTIO_BALLOON_S_MEMTOT,
	VIRTIO_BALLOON_S_AVAIL,
	VIRTIO_BALLOON_S_CACHES,
	VIRTIO_BALLOON_S_HTLB_PGALLOC,
	VIRTIO_BALLOON_S_HTLB_PGFAIL,
	VIRTIO_BALLOON_S_NR
};

/* What --balloon=OPTS asked for. */
struct virtio_balloon_cfg {
	int reporting;		 /* free page reporting queue */
	int deflate_on_oom;	 /* the guest may deflate under OOM */
	unsigned stats_interval; /* seconds between stats polls, 0: none */
};

/* Page sizes of the backing, for the returned-bytes split. */
enum virtio_balloon_psize {
	VIRTIO_BALLOON_PS_4K,
	VIRTIO_BALLOON_PS_2M,
	VIRTIO_BALLOON_PS_1G,
	VIRTIO_BALLOON_PS_NR
};

/* Counters since the VMM started (never reset by a driver reset). */
struct virtio_balloon_counters {
	uint64_t reported_bytes;  /* free blocks the guest reported */
	uint64_t reports;	  /* free blocks (report buffers) */
	uint64_t unfreed_reports; /* reports that released nothing */
	uint64_t unfreed_bytes;	  /* reported bytes not released */
	uint64_t inflated_bytes;  /* pages the guest put in the balloon */
	uint64_t deflated_bytes;  /* pages it took back */
	/* Bytes discarded: given back to the host (pages never touched
	 * count too: the discard cannot tell). Sum of returned[]. */
	uint64_t returned_bytes;
	/* By page size given back: the backing's page size, except that on
	 * THP only whole 2M pages count as 2M and the rest as 4K. */
	uint64_t returned[VIRTIO_BALLOON_PS_NR];
	uint64_t discards;   /* guest_mem_discard calls (after coalescing) */
	uint64_t bad_ranges; /* ranges outside RAM or failed: ignored */
};

/* A snapshot for the control channel and tests. */
struct virtio_balloon_info {
	uint64_t target_bytes; /* num_pages * 4 KiB */
	uint64_t actual_bytes; /* actual * 4 KiB, as the driver last wrote */
	int driver_ok;
	uint64_t features; /* negotiated */
	struct virtio_balloon_counters c;
	uint64_t stats_updates; /* stats buffers received */
	uint32_t stats_valid;	/* bit t: stats[t] was sent */
	uint64_t stats[VIRTIO_BALLOON_MAX_STATS];
};

/* One contiguous run of inflated pages. */
struct virtio_balloon_run {
	uint64_t pfn;
	uint64_t count;
};

struct virtio_balloon {
	struct virtio_mmio_dev mmio; /* register this with the bus */
	struct virtio_balloon_cfg cfg;
	uint32_t num_pages; /* config: target */
	uint32_t actual;    /* config: written by the driver */
	struct virtio_balloon_counters c;
	uint64_t stats_updates;
	uint32_t stats_valid;
	uint64_t stats[VIRTIO_BALLOON_MAX_STATS];
	int stats_held; /* a stats buffer is waiting for the next poll */
	uint16_t stats_head;
	int timer_fd; /* stats poll timerfd, -1 without stats */
	struct virtq_chain chain;
	struct log_ratelimit rl;
};

/* Initialize (b->mmio not yet attached) with the features cfg asks for;
 * creates the stats timerfd when cfg->stats_interval. 0 or -errno. */
int virtio_balloon_init(struct virtio_balloon *b,
			const struct virtio_balloon_cfg *cfg)
	__attribute__((warn_unused_result));

/* Destroy the transport, close the timer. Safe after a failed init. */
void virtio_balloon_close(struct virtio_balloon *b);

/* The stats poll timer to watch for EPOLLIN, or -1. */
int virtio_balloon_timer_fd(const struct virtio_balloon *b);

/* Event loop: the timer fired: give the held stats buffer back so the
 * driver refreshes it. */
void virtio_balloon_timer(struct virtio_balloon *b);

/* The stats timer as an event source (fd -1 without stats): level-
 * triggered EPOLLIN, virtio_balloon_timer reads the expirations. */
struct event_source virtio_balloon_timer_source(struct virtio_balloon *b);

/* Set the target (bytes, rounded down to 4 KiB pages) and tell the
 * driver. -ERANGE if more than guest RAM (or 2^32 pages). Any thread. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
	__attribute__((warn_unused_result));

/* A consistent snapshot of the state and counters. Any thread. */
void virtio_balloon_get(struct virtio_balloon *b,
			struct virtio_balloon_info *out);

/* Print the counters (the --verbose exit report). */
void virtio_balloon_print(struct virtio_balloon *b, FILE *f);

/* The name of a stats tag ("free-memory"...), or NULL if unknown. */
const char *virtio_balloon_stat_name(unsigned tag);

/*
 * Sort pfns[0..n) in place and merge them into contiguous runs (duplicates
 * collapse). runs must have room for n entries. Returns the number of
 * runs.
 */
unsigned virtio_balloon_runs(uint32_t *pfns, unsigned n,
			     struct virtio_balloon_run *runs);

/*
 * Discard [gpa, gpa+len) with accounting: returned bytes are added to the
 * counters by the page size of each region the range touches. *returned
 * (may be NULL) gets the total. -EFAULT if some of the range is not RAM
 * (the RAM parts are still discarded). Called with the device lock held
 * (or before the device is live, in tests).
 */
int virtio_balloon_discard(struct virtio_balloon *b, uint64_t gpa, uint64_t len,
			   uint64_t *returned)
	__attribute__((warn_unused_result));

#endif
