#include "devices/virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Layout of the split ring (virtio 1.2 section 2.7), in bytes. */
#define VIRTQ_DESC_SIZE	 16
#define VIRTQ_AVAIL_RING 4 /* flags, idx, then ring[size], used_event */
#define VIRTQ_USED_RING	 4 /* flags, idx, then ring[size], avail_event */
#define VIRTQ_USED_ELEM	 8

struct virtq_desc_copy {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

void virtq_init(struct virtq *q, const struct guest_mem *gm)
{
	memset(q, 0, sizeof(*q));
	q->gm = gm;
}

void virtq_reset(struct virtq *q)
{
	for (unsigned i = 0; i < q->nr_pinned; i++)
		guest_mem_unpin(q->gm, q->area_gpa[i], q->area_len[i]);
	virtq_init(q, q->gm);
}

int virtq_ready(const struct virtq *q)
{
	return q->size && !q->broken;
}

static int virtq_fail(struct virtq *q, const char *why)
{
	q->broken = 1;
	q->err = why;
	return -EINVAL;
}

/* The whole of [gpa, gpa+len) must be one region's RAM: the rings are
 * accessed through plain pointers afterwards, so the area is pinned (a
 * hotplug block under it stays plugged) until virtq_reset. */
static uint8_t *virtq_area(struct virtq *q, uint64_t gpa, uint64_t len)
{
	uint64_t end;
	uint8_t *p;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	p = guest_mem_ptr_pin(q->gm, gpa, len);
	if (p) {
		q->area_gpa[q->nr_pinned] = gpa;
		q->area_len[q->nr_pinned++] = len;
	}
	return p;
}

int virtq_setup(struct virtq *q, uint16_t size, uint64_t desc_gpa,
		uint64_t avail_gpa, uint64_t used_gpa, int event_idx,
		int indirect)
{
	uint64_t extra = event_idx ? 2 : 0;

	virtq_reset(q);
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return virtq_fail(q, "queue size not a power of two up to 256");
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return virtq_fail(q, "misaligned queue area");
	q->desc = virtq_area(q, desc_gpa, (uint64_t)size * VIRTQ_DESC_SIZE);
	q->avail = virtq_area(q, avail_gpa,
			      VIRTQ_AVAIL_RING + 2ULL * size + extra);
	q->used = virtq_area(q, used_gpa,
			     VIRTQ_USED_RING +
				     (uint64_t)VIRTQ_USED_ELEM * size + extra);
	if (!q->desc || !q->avail || !q->used) {
		virtq_reset(q); /* unpins what was pinned */
		return virtq_fail(q, "queue area outside guest RAM");
	}
	q->size = size;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->broken = 0;
	q->err = NULL;
	return 0;
}

/* Ring fields are shared with the driver running on other CPUs: every
 * access is a single atomic load or store of an aligned field. */
static uint16_t virtq_load16(const uint8_t *p, int order)
{
	return le16toh(
		__atomic_load_n((const uint16_t *)(const void *)p, order));
}

static void virtq_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static void virtq_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Fetch a descriptor exactly once: the driver may rewrite it under us, and
 * every check must apply to the values we then use (no double fetch). */
static void virtq_read_desc(const uint8_t *src, struct virtq_desc_copy *d)
{
	uint8_t raw[VIRTQ_DESC_SIZE];
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, src, sizeof(raw));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	d->addr = le64toh(addr);
	d->len = le32toh(len);
	d->flags = le16toh(flags);
	d->next = le16toh(next);
}

/* Translate one guest buffer into iovecs. A buffer may run across
 * adjacent regions (the VMM may split RAM); each piece is translated with
 * its own length. */
static int virtq_add_buf(struct virtq *q, struct virtq_chain *c,
			 const struct virtq_desc_copy *d)
{
	int write = d->flags & VIRTQ_DESC_F_WRITE;
	uint64_t addr = d->addr, left = d->len, end;

	if (!write && c->n_in)
		return virtq_fail(q, "device-readable buffer after a "
				     "device-writable one");
	if (__builtin_add_overflow(addr, left, &end))
		return virtq_fail(q, "buffer address range wraps");
	while (left) {
		const struct region *r = guest_mem_find(q->gm, addr, 1);
		uint64_t piece;
		void *p;

		if (!r)
			return virtq_fail(q, "buffer outside guest RAM");
		piece = r->gpa + r->size - addr;
		if (piece > left)
			piece = left;
		p = guest_mem_ptr(q->gm, addr, piece);
		if (!p)
			return virtq_fail(q, "buffer outside guest RAM");
		if (c->n_out + c->n_in >= VIRTQ_MAX_SIZE)
			return virtq_fail(q, "chain has too many buffers");
		c->iov[c->n_out + c->n_in].iov_base = p;
		c->iov[c->n_out + c->n_in].iov_len = piece;
		c->gpa[c->n_out + c->n_in] = addr;
		if (write) {
			c->n_in++;
			c->in_len += piece;
		} else {
			c->n_out++;
			c->out_len += piece;
		}
		addr += piece;
		left -= piece;
	}
	return 0;
}

/* An indirect table is copied out of guest memory first: the walk then
 * works on a stable snapshot, and a table may span adjacent regions. */
static int virtq_walk_indirect(struct virtq *q, struct virtq_chain *c,
			       const struct virtq_desc_copy *ind)
{
	uint8_t table[VIRTQ_MAX_SIZE * VIRTQ_DESC_SIZE];
	struct virtq_desc_copy d;
	unsigned n, i = 0, steps = 0;
	uint64_t end;

	if (!q->indirect)
		return virtq_fail(q, "indirect descriptor not negotiated");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return virtq_fail(q, "indirect descriptor with NEXT set");
	if (!ind->len || ind->len % VIRTQ_DESC_SIZE)
		return virtq_fail(q, "indirect table length not a multiple "
				     "of 16");
	n = ind->len / VIRTQ_DESC_SIZE;
	if (n > VIRTQ_MAX_SIZE)
		return virtq_fail(q, "indirect table longer than 256 entries");
	if (__builtin_add_overflow(ind->addr, (uint64_t)ind->len, &end) ||
	    guest_mem_read(q->gm, ind->addr, table, ind->len))
		return virtq_fail(q, "indirect table outside guest RAM");
	for (;;) {
		int err;

		if (++steps > n)
			return virtq_fail(q, "indirect chain loops");
		virtq_read_desc(table + (size_t)i * VIRTQ_DESC_SIZE, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_fail(q, "nested indirect table");
		err = virtq_add_buf(q, c, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return virtq_fail(q,
					  "indirect next index out of range");
		i = d.next;
	}
}

static int virtq_walk(struct virtq *q, struct virtq_chain *c, uint16_t head)
{
	struct virtq_desc_copy d;
	uint16_t idx = head;
	unsigned steps = 0;
	int err;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		/* At most `size` descriptors: a longer walk is a loop. */
		if (++steps > q->size)
			return virtq_fail(q, "descriptor chain loops or is "
					     "longer than the queue");
		virtq_read_desc(q->desc + (size_t)idx * VIRTQ_DESC_SIZE, &d);
		/* Zero or more direct descriptors, then at most one
		 * indirect one, which ends the chain. */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_walk_indirect(q, c, &d);
		err = virtq_add_buf(q, c, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= q->size)
			return virtq_fail(q, "next index out of range");
		idx = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint8_t *avail_event;
	uint16_t avail_idx, head;
	int err;

	if (q->broken)
		return -EINVAL;
	if (!q->size)
		return 0;
	/* Acquire: ring entries and descriptors are read after the index
	 * that published them. */
	avail_idx = virtq_load16(q->avail + 2, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail) {
		if (!q->event_idx)
			return 0;
		/* Ask for a notification on the next buffer, then look
		 * again: the driver may have added one before it could see
		 * avail_event, and would then not notify. */
		avail_event = q->used + VIRTQ_USED_RING +
			      (size_t)VIRTQ_USED_ELEM * q->size;
		virtq_store16(avail_event, q->last_avail, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = virtq_load16(q->avail + 2, __ATOMIC_ACQUIRE);
		if (avail_idx == q->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return virtq_fail(q, "available index moved more than the "
				     "queue size");
	head = virtq_load16(q->avail + VIRTQ_AVAIL_RING +
				    2 * (size_t)(q->last_avail & (q->size - 1)),
			    __ATOMIC_RELAXED);
	if (head >= q->size)
		return virtq_fail(q, "chain head index out of range");
	err = virtq_walk(q, c, head);
	if (err)
		return err;
	q->last_avail++;
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail -= n;
}

void virtq_push_many(struct virtq *q, const struct virtq_used_elem *e,
		     unsigned n)
{
	if (!virtq_ready(q) || !n)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *slot =
			q->used + VIRTQ_USED_RING +
			(size_t)VIRTQ_USED_ELEM *
				((uint16_t)(q->used_idx + i) & (q->size - 1));

		virtq_store32(slot, e[i].id);
		virtq_store32(slot + 4, e[i].len);
	}
	q->used_idx += (uint16_t)n;
	/* Release: the entries (and the data written into the buffers)
	 * are visible before the index that hands them over. */
	virtq_store16(q->used + 2, q->used_idx, __ATOMIC_RELEASE);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written_len)
{
	struct virtq_used_elem e = {.id = head, .len = written_len};

	virtq_push_many(q, &e, 1);
}

int virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) <
	       (uint16_t)(new_idx - old_idx);
}

int virtq_should_notify(struct virtq *q)
{
	uint16_t old, event;

	if (!virtq_ready(q))
		return 0;
	/* Our used idx store must be visible before we read the driver's
	 * suppression fields, or both sides can miss each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = q->signalled_used;
	q->signalled_used = q->used_idx;
	if (old == q->used_idx)
		return 0; /* nothing pushed since the last decision */
	if (!q->event_idx)
		return !(virtq_load16(q->avail, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = virtq_load16(q->avail + VIRTQ_AVAIL_RING + 2 * (size_t)q->size,
			     __ATOMIC_RELAXED);
	return virtq_need_event(event, q->used_idx, old);
}

/* Copy between an iovec (from byte off on) and a flat buffer, either way. */
static size_t virtq_iov_copy(const struct iovec *iov, unsigned n, size_t off,
			     uint8_t *buf, size_t len, int to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		uint8_t *base = (uint8_t *)iov[i].iov_base;
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off;
		if (take > len - done)
			take = len - done;
		if (to_iov)
			memcpy(base + off, buf + done, take);
		else
			memcpy(buf + done, base + off, take);
		done += take;
		off = 0;
	}
	return done;
}

size_t virtq_iov_to_buf(const struct iovec *iov, unsigned n, size_t off,
			void *buf, size_t len)
{
	return virtq_iov_copy(iov, n, off, buf, len, 0);
}

size_t virtq_iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
			  const void *buf, size_t len)
{
	return virtq_iov_copy(iov, n, off, (uint8_t *)(uintptr_t)buf, len, 1);
}
