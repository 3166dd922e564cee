/*
 * virtio-mem (virtio 1.2 section 5.15, device ID 24): memory the guest
 * plugs and unplugs in blocks of a size the host chooses, inside one
 * device-managed region of guest-physical space above RAM.
 *
 * One request queue. Each request is a chain of a 24-byte readable
 * request {le16 type, pad[3], le64 addr, le16 nb_blocks, pad[3]} and a
 * writable response {le16 type, pad[3], le16 state} (10 bytes):
 *
 *   - PLUG: the blocks are allocated on the host (region_populate) before
 *     the ACK, so the guest never touches memory the host could not give.
 *     With workers (virtio_mem_start_workers) that runs on them in
 *     parallel chunks, off the event loop; the answer goes out from
 *     virtio_mem_done when they finish, and the queue waits meanwhile.
 *     A short hugetlb pool (checked first) or a failed allocation answers
 *     BUSY; more than requested_size answers NACK.
 *   - UNPLUG: the blocks go back to the host per backing (region_discard:
 *     punch hole for memfd and hugetlb, MADV_DONTNEED for anonymous).
 *     Blocks the VMM holds host pointers into (any device's ring, set up
 *     with virtq_setup, or this request's own buffers) are pinned: such
 *     an UNPLUG answers BUSY and changes nothing (5.15.6.2: the driver
 *     must not unplug memory in use, the device may answer BUSY).
 *   - UNPLUG_ALL: every plugged block, then ACK; all or nothing (BUSY
 *     when one is pinned).
 *   - STATE: PLUGGED, UNPLUGGED or MIXED for a range.
 * Misaligned addresses, zero blocks, ranges outside the usable region,
 * blocks already in the target state and unknown types answer ERROR.
 * A chain without room for the response fails the device (the transport's
 * DEVICE_NEEDS_RESET): the VMM keeps running.
 *
 * VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE is offered and required (a driver
 * without it is refused at FEATURES_OK): the guest does not read
 * unplugged blocks, so they cost the host nothing.
 *
 * VIRTIO_MEM_F_ACPI_PXM is not offered and node_id is always 0. With the
 * feature, node_id is an ACPI proximity domain (5.15.3): Linux accepts it
 * only when built with CONFIG_ACPI_NUMA and turns it into a node with
 * pxm_to_node(), from the SRAT. microvm gives the guest no ACPI tables (an
 * MP table; the guest kernel has CONFIG_ACPI off), so there is no PXM to
 * name: the guest puts the memory on the node of its address, node 0. A
 * zone's host-node= binds host memory only; offering guest NUMA would
 * need an SRAT first.
 *
 * Block state survives a device reset (the spec: a reset does not change
 * memory blocks); Linux sends UNPLUG_ALL at probe when plugged_size > 0.
 *
 * The whole region is usable (usable_region_size == region_size): with
 * unplugged blocks inaccessible, a bigger usable region costs nothing.
 *
 * VMM wiring:
 *   virtio_mem_layout(ram_end, max, pages, &lay) -> map the hotplug region
 *   virtio_mem_init(&m, &cfg); virtio_mmio_attach(&m.mmio, gm, base, &irq)
 *   virtio_mem_start_workers(&m, 0) before seccomp
 *   poll virtio_mmio_event_fd(&m.mmio) -> virtio_mmio_process(&m.mmio)
 *   poll virtio_mem_done_source(&m) -> virtio_mem_done(&m)
 *   virtio_mem_set_requested() from the control socket
 *   at exit: virtio_mem_close(&m)
 */
#ifndef DEVICES_VIRTIO_MEM_H
#define DEVICES_VIRTIO_MEM_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/event_source.h"
#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "lib/log.h"
#include "mem/region.h"

#define VIRTIO_MEM_DEVICE_ID 24

#define VIRTIO_MEM_F_ACPI_PXM		    0
#define VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE 1
#define VIRTIO_MEM_F_PERSISTENT_SUSPEND	    2

#define VIRTIO_MEM_REQ_PLUG	  0
#define VIRTIO_MEM_REQ_UNPLUG	  1
#define VIRTIO_MEM_REQ_UNPLUG_ALL 2
#define VIRTIO_MEM_REQ_STATE	  3

#define VIRTIO_MEM_RESP_ACK   0
#define VIRTIO_MEM_RESP_NACK  1
#define VIRTIO_MEM_RESP_BUSY  2
#define VIRTIO_MEM_RESP_ERROR 3

#define VIRTIO_MEM_STATE_PLUGGED   0
#define VIRTIO_MEM_STATE_UNPLUGGED 1
#define VIRTIO_MEM_STATE_MIXED	   2

#define VIRTIO_MEM_REQ_SIZE  24
#define VIRTIO_MEM_RESP_SIZE 10
#define VIRTIO_MEM_CFG_SIZE  56

/* Config space offsets (little endian). */
#define VIRTIO_MEM_CFG_BLOCK_SIZE	  0
#define VIRTIO_MEM_CFG_NODE_ID		  8
#define VIRTIO_MEM_CFG_ADDR		  16
#define VIRTIO_MEM_CFG_REGION_SIZE	  24
#define VIRTIO_MEM_CFG_USABLE_REGION_SIZE 32
#define VIRTIO_MEM_CFG_PLUGGED_SIZE	  40
#define VIRTIO_MEM_CFG_REQUESTED_SIZE	  48

#define VIRTIO_MEM_QUEUE_SIZE 128
/* Linux's memory block on x86_64: the region is aligned to it so the
 * guest can add whole blocks. */
#define VIRTIO_MEM_LINUX_MEMBLOCK (128ULL << 20)

/* Where the region goes and its block size. */
struct virtio_mem_layout {
	uint64_t addr;	      /* guest-physical start */
	uint64_t region_size; /* device-managed region */
	uint64_t usable_size; /* usable_region_size */
	uint64_t block_size;
};

/*
 * Place a hotplug region of up to `max` bytes with `pages` above guest RAM
 * ending at ram_end. Block size: the page size, at least 2 MiB (2 MiB for
 * base, thp and huge; 1 GiB for huge1g). Address and size are aligned to
 * the larger of 128 MiB and the block size. -EINVAL for max 0, -ERANGE on
 * overflow.
 */
int virtio_mem_layout(uint64_t ram_end, uint64_t max, enum region_pages pages,
		      struct virtio_mem_layout *out)
	__attribute__((warn_unused_result));

struct virtio_mem_cfg {
	struct virtio_mem_layout lay;
	uint64_t requested; /* requested_size at start (plugged=) */
	/* Must be 0: node_id only means something with
	 * VIRTIO_MEM_F_ACPI_PXM, which is not offered (see above). */
	uint16_t node_id;
};

/* Page sizes for the returned-bytes split. */
enum virtio_mem_psize {
	VIRTIO_MEM_PS_4K,
	VIRTIO_MEM_PS_2M,
	VIRTIO_MEM_PS_1G,
	VIRTIO_MEM_PS_NR
};

/* Counters since the VMM started (a driver reset keeps them). */
struct virtio_mem_counters {
	uint64_t plugs;	      /* PLUG requests ACKed */
	uint64_t unplugs;     /* UNPLUG requests ACKed */
	uint64_t unplug_alls; /* UNPLUG_ALL requests ACKed */
	uint64_t states;      /* STATE requests answered */
	uint64_t plugged_bytes;
	uint64_t unplugged_bytes;
	uint64_t errors;      /* ERROR answers (malformed requests) */
	uint64_t nacks;	      /* NACK: would exceed requested_size */
	uint64_t busy_pool;   /* BUSY: hugetlb pool short (checked first) */
	uint64_t busy_alloc;  /* BUSY: the host could not allocate */
	uint64_t busy_in_use; /* BUSY: UNPLUG of memory the VMM holds (a
				 ring, the request itself) */
	uint64_t returned_bytes;
	uint64_t returned[VIRTIO_MEM_PS_NR]; /* by the backing's page size */
	uint64_t discard_errors; /* discards that failed (memory kept) */
	uint64_t async_plugs;	 /* PLUGs populated by the workers */
	uint64_t plug_threads;	 /* most workers one PLUG kept busy */
};

struct virtio_mem_info {
	struct virtio_mem_layout lay;
	uint64_t plugged_size;
	uint64_t requested_size;
	size_t page_size; /* the backing's */
	int driver_ok;
	struct virtio_mem_counters c;
};

#define VIRTIO_MEM_MAX_WORKERS 8
#define VIRTIO_MEM_WORKER_NAME "vmem-populate" /* the workers' comm */
/* Workers take the range of a PLUG in chunks of this (or of one page,
 * when a page is bigger). */
#define VIRTIO_MEM_CHUNK (32ULL << 20)

struct virtio_mem_job;

struct virtio_mem_worker {
	struct virtio_mem_job *job;
	unsigned idx;
};

/* The populate workers and the one PLUG they work on. */
struct virtio_mem_job {
	pthread_t threads[VIRTIO_MEM_MAX_WORKERS];
	struct virtio_mem_worker w[VIRTIO_MEM_MAX_WORKERS];
	unsigned nr_threads; /* 0: PLUG populates on the loop thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;	  /* workers leave (atomic, set under lock) */
	uint64_t gen;	  /* under lock: a new job */
	unsigned active;  /* under lock: workers not done with the job */
	struct region *r; /* the job, set under lock before gen moves */
	uint64_t off, len, chunk, nr_chunks;
	uint64_t next_chunk; /* atomic */
	int error;	     /* atomic: the first failure, negative errno */
	uint32_t used_mask;  /* atomic: workers that took a chunk */
	int done_fd;	     /* eventfd: the last worker left the job */
};

struct virtio_mem {
	struct virtio_mmio_dev mmio; /* register this with the bus */
	struct virtio_mem_job job;
	/* A PLUG with the workers: m->chain is its request (pinned), no
	 * other request is taken until virtio_mem_done answers it.
	 * abandoned: a device reset came meanwhile (no answer, the memory
	 * goes back). */
	int inflight, abandoned;
	uint64_t inflight_first, inflight_n;
	struct virtio_mem_layout lay;
	uint16_t node_id;
	uint64_t plugged_size;
	uint64_t requested_size;
	uint64_t nr_blocks;
	uint64_t *plugged; /* bitmap, one bit per block */
	struct virtio_mem_counters c;
	struct virtq_chain chain;
	struct log_ratelimit rl;
};

/* Initialize (m->mmio not yet attached). requested must be a multiple of
 * the block size within the region. 0, -EINVAL or -ENOMEM. */
int virtio_mem_init(struct virtio_mem *m, const struct virtio_mem_cfg *cfg)
	__attribute__((warn_unused_result));

/*
 * Start `threads` populate workers (0: one per CPU, at most
 * VIRTIO_MEM_MAX_WORKERS): from then on a PLUG is populated by them, off
 * the event loop thread, and answered by virtio_mem_done when they finish;
 * the loop serves other devices meanwhile. Call before seccomp is loaded
 * (they are threads of the VMM, made with lib/thread.h; no filter of
 * their own, like the prefault workers: they run fallocate/madvise over
 * ranges the device checked). Without workers a PLUG populates on the
 * loop thread. 0 or a negative errno.
 */
int virtio_mem_start_workers(struct virtio_mem *m, unsigned threads)
	__attribute__((warn_unused_result));

/* Stop and join the workers (each finishes the chunk it is on). Safe
 * without workers. */
void virtio_mem_stop_workers(struct virtio_mem *m);

/* The workers' completion eventfd as an event source for the loop
 * (level-triggered EPOLLIN: virtio_mem_done drains it). fd -1 without
 * workers. */
struct event_source virtio_mem_done_source(struct virtio_mem *m);

/* Event loop: the workers finished a PLUG: answer it (ACK, or BUSY with
 * the memory given back) and look at the ring for more. */
void virtio_mem_done(struct virtio_mem *m);

/* Stop the workers, destroy the transport, free the bitmap. Safe after a
 * failed init. */
void virtio_mem_close(struct virtio_mem *m);

/* Set requested_size (bytes) and tell the driver (config generation
 * bump and config interrupt, only when it changes). -EINVAL if not a
 * multiple of the block size, -ERANGE if beyond the usable region. Any
 * thread. */
int virtio_mem_set_requested(struct virtio_mem *m, uint64_t bytes)
	__attribute__((warn_unused_result));

/* A consistent snapshot of the state and counters. Any thread. */
void virtio_mem_get(struct virtio_mem *m, struct virtio_mem_info *out);

/* Print the counters (the --verbose exit report). */
void virtio_mem_print(struct virtio_mem *m, FILE *f);

#endif
