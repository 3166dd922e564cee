/*
 * Split virtqueues (virtio 1.2 section 2.7) over guest memory.
 *
 * The device side of one queue: validates the ring placement, walks
 * descriptor chains (direct and indirect) with every guest address
 * translated with its length, publishes used entries with the barriers the
 * spec needs, and implements VIRTIO_F_RING_EVENT_IDX in both directions.
 * Any malformed guest structure is a queue error (-EINVAL): the queue is
 * marked broken, `err` says why, and nothing more is read from it until it
 * is set up again. No function here can loop more than the queue size.
 *
 * Not thread-safe: the owner (the transport's device lock) serializes calls.
 */
#ifndef DEVICES_VIRTQ_H
#define DEVICES_VIRTQ_H

#include <stdint.h>
#include <sys/uio.h>

#include "mem/guest_mem.h"

#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

/* Feature bits that concern the ring itself. */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1	32

/* Largest queue this implementation accepts (a power of two). A chain
 * never has more buffers than the queue size, so this also bounds
 * struct virtq_chain. */
#define VIRTQ_MAX_SIZE 256

/*
 * One popped descriptor chain, translated. iov[0..n_out) are the
 * device-readable buffers in order, iov[n_out..n_out+n_in) the
 * device-writable ones. A buffer that crosses from one guest memory region
 * into an adjacent one takes two entries; zero-length descriptors take
 * none. gpa[i] is the guest-physical address of iov[i] (same length): a
 * device that acts on guest addresses (the balloon discards) takes them
 * from here, never by translating a host pointer back.
 */
struct virtq_chain {
	uint16_t head; /* pass back to virtq_push */
	unsigned n_out, n_in;
	uint64_t out_len, in_len; /* total bytes readable / writable */
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint64_t gpa[VIRTQ_MAX_SIZE];
};

struct virtq {
	const struct guest_mem *gm;
	uint16_t size; /* 0 when not set up */
	int event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	int indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint8_t *desc; /* host views of the three areas */
	uint8_t *avail;
	uint8_t *used;
	/* The areas' guest ranges, pinned while set up (guest_mem_ptr_pin):
	 * the views above are kept, so virtio-mem must not unplug them. */
	uint64_t area_gpa[3], area_len[3];
	unsigned nr_pinned;
	uint16_t last_avail;	 /* next avail ring slot to consume */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last notify decision */
	int broken;
	const char *err; /* why it broke (static string) */
};

/* A queue that is not set up (pops nothing). */
void virtq_init(struct virtq *q, const struct guest_mem *gm);

/*
 * Place the queue: `size` entries (a power of two, 1..VIRTQ_MAX_SIZE),
 * descriptor table at desc_gpa (16-aligned), available ring at avail_gpa
 * (2-aligned), used ring at used_gpa (4-aligned). Each area must lie
 * entirely inside one RAM region, for its full length (the event fields
 * included when event_idx is set), in plugged memory; the areas stay
 * pinned (a virtio-mem UNPLUG of them is refused) until virtq_reset.
 * Resets the indices. 0 or -EINVAL (with q->err set; the queue then stays
 * unusable).
 */
int virtq_setup(struct virtq *q, uint16_t size, uint64_t desc_gpa,
		uint64_t avail_gpa, uint64_t used_gpa, int event_idx,
		int indirect) __attribute__((warn_unused_result));

/* Forget the placement and indices, unpinning the areas (queue reset /
 * device reset). */
void virtq_reset(struct virtq *q);

/* 1 if the queue is set up and not broken. */
int virtq_ready(const struct virtq *q);

/*
 * Take the next available chain into *c. Returns 1 with *c filled, 0 when
 * the ring is empty (and then, with EVENT_IDX, asks the driver to notify
 * on the next buffer, rechecking after that so nothing is missed), or
 * -EINVAL when the guest put something malformed there (queue broken:
 * head out of range, a loop or a chain longer than the queue, nested or
 * misplaced indirect tables, a readable buffer after a writable one, an
 * address range outside RAM or wrapping, avail idx more than the queue
 * size ahead of us).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c)
	__attribute__((warn_unused_result));

/* Give back the last n popped chains unconsumed (they will be popped
 * again). n must not exceed the number popped since the last push. */
void virtq_unpop(struct virtq *q, uint16_t n);

/* Return a chain: written_len bytes were written to its writable part.
 * Publishes the used index (release). No-op on a broken queue. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written_len);

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Return n chains at once: the driver sees all of them or none (the used
 * index moves once). Used for merged receive buffers. */
void virtq_push_many(struct virtq *q, const struct virtq_used_elem *e,
		     unsigned n);

/*
 * After pushing: 1 if the driver wants a used-buffer notification for
 * what was pushed since the last call (used_event with EVENT_IDX, else
 * the NO_INTERRUPT flag), 0 if not. Issues the full barrier the decision
 * needs.
 */
int virtq_should_notify(struct virtq *q);

/* vring_need_event: 1 if moving the index from old_idx to new_idx passes
 * event_idx (all modulo 2^16). */
int virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx);

/* Copy between a flat buffer and an iovec array, starting `off` bytes into
 * the iovecs. Return the bytes copied (short when the iovecs end). */
size_t virtq_iov_to_buf(const struct iovec *iov, unsigned n, size_t off,
			void *buf, size_t len);
size_t virtq_iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
			  const void *buf, size_t len);

#endif
