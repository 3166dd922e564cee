#include "devices/virtio_mem.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/thread.h"

/* Requests per virtio_mmio_process() before yielding the event loop: a
 * PLUG allocates memory, so keep the batch short. */
#define VIRTIO_MEM_BUDGET 16

#define MiB2 (2ULL << 20)
#define GiB1 (1ULL << 30)

static uint64_t virtio_mem_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

int virtio_mem_layout(uint64_t ram_end, uint64_t max, enum region_pages pages,
		      struct virtio_mem_layout *out)
{
	uint64_t block = virtio_mem_max(region_page_size(pages), MiB2);
	uint64_t align = virtio_mem_max(VIRTIO_MEM_LINUX_MEMBLOCK, block);
	uint64_t addr, size, end;

	memset(out, 0, sizeof(*out));
	if (!max)
		return -EINVAL;
	/* Both are powers of two: round up with masks, checking overflow. */
	if (__builtin_add_overflow(ram_end, align - 1, &addr) ||
	    __builtin_add_overflow(max, align - 1, &size))
		return -ERANGE;
	addr &= ~(align - 1);
	size &= ~(align - 1);
	if (__builtin_add_overflow(addr, size, &end))
		return -ERANGE;
	out->addr = addr;
	out->region_size = size;
	out->usable_size = size;
	out->block_size = block;
	return 0;
}

/* ---- block bitmap ---- */

static int virtio_mem_test(const struct virtio_mem *m, uint64_t b)
{
	return (m->plugged[b / 64] >> (b % 64)) & 1;
}

static void virtio_mem_set(struct virtio_mem *m, uint64_t first, uint64_t n,
			   int on)
{
	for (uint64_t b = first; b < first + n; b++) {
		if (on)
			m->plugged[b / 64] |= 1ULL << (b % 64);
		else
			m->plugged[b / 64] &= ~(1ULL << (b % 64));
	}
}

/* Plugged blocks in [first, first+n). */
static uint64_t virtio_mem_count(const struct virtio_mem *m, uint64_t first,
				 uint64_t n)
{
	uint64_t k = 0;

	for (uint64_t b = first; b < first + n; b++)
		k += (uint64_t)virtio_mem_test(m, b);
	return k;
}

static enum virtio_mem_psize virtio_mem_ps(size_t page_size)
{
	if (page_size >= GiB1)
		return VIRTIO_MEM_PS_1G;
	if (page_size >= MiB2)
		return VIRTIO_MEM_PS_2M;
	return VIRTIO_MEM_PS_4K;
}

/* The hotplug region in guest memory, or NULL (not mapped). */
static struct region *virtio_mem_region(const struct virtio_mem *m)
{
	if (!m->mmio.gm)
		return NULL;
	return guest_mem_find(m->mmio.gm, m->lay.addr, m->lay.region_size);
}

/* Tell guest memory that blocks [first, first+n) are plugged, so other
 * devices' translations accept them: after the allocation. */
static void virtio_mem_mark(struct virtio_mem *m, uint64_t first, uint64_t n)
{
	struct region *r = virtio_mem_region(m);

	if (r)
		region_set_plugged(
			r, m->lay.addr + first * m->lay.block_size - r->gpa,
			n * m->lay.block_size, 1);
}

/*
 * Before the discard: mark blocks [first, first+n) unplugged in guest
 * memory, so translations refuse them from now on, unless the VMM holds a
 * host pointer into one (a ring, this request's buffers: pinned). 0, or
 * -EBUSY with nothing changed. The spec forbids the driver to unplug
 * memory in use and lets the device answer BUSY; giving it back would
 * leave the VMM writing into memory it no longer has (a SIGBUS on hugetlb
 * with an empty pool).
 */
static int virtio_mem_unmark(struct virtio_mem *m, uint64_t first, uint64_t n)
{
	struct region *r = virtio_mem_region(m);

	if (!r)
		return 0;
	return region_try_unplug(
		       r, m->lay.addr + first * m->lay.block_size - r->gpa,
		       n * m->lay.block_size) == -EBUSY
		       ? -EBUSY
		       : 0;
}

/* Give blocks [first, first+n) back to the host. */
static void virtio_mem_discard(struct virtio_mem *m, uint64_t first, uint64_t n)
{
	struct region *r = virtio_mem_region(m);
	uint64_t off, len = n * m->lay.block_size, got = 0;
	int err;

	if (!r) {
		m->c.discard_errors++;
		return;
	}
	off = m->lay.addr + first * m->lay.block_size - r->gpa;
	err = region_discard(r, off, len, &got);
	if (err) {
		m->c.discard_errors++;
		log_ratelimited(&m->rl, LOG_WARN,
				"virtio-mem: giving back %" PRIu64
				" MiB at %#" PRIx64 ": %s; the memory stays "
				"allocated",
				len >> 20, r->gpa + off, strerror(-err));
	}
	m->c.returned_bytes += got;
	m->c.returned[virtio_mem_ps(r->page_size)] += got;
}

/* A PLUG that is being populated by the workers (VIRTIO_MEM_PENDING). */
#define VIRTIO_MEM_PENDING 0xfffe

/* Byte offset of block `first` in region r. */
static uint64_t virtio_mem_off(const struct virtio_mem *m,
			       const struct region *r, uint64_t first)
{
	return m->lay.addr + first * m->lay.block_size - r->gpa;
}

/* The end of a PLUG of blocks [first, first+n) whose population returned
 * err: the blocks plugged (ACK), or given back (BUSY). */
static uint16_t virtio_mem_plug_end(struct virtio_mem *m, uint64_t first,
				    uint64_t n, int err)
{
	struct region *r = virtio_mem_region(m);
	uint64_t len = n * m->lay.block_size, off, got;

	if (!r)
		return VIRTIO_MEM_RESP_BUSY;
	off = virtio_mem_off(m, r, first);
	if (err) {
		/* Part of it may be allocated: give it back. */
		if (region_discard(r, off, len, &got))
			m->c.discard_errors++;
		if (err == -ENOSPC && r->fd >= 0 &&
		    (r->pages == REGION_PAGES_HUGE ||
		     r->pages == REGION_PAGES_HUGE1G))
			m->c.busy_pool++;
		else
			m->c.busy_alloc++;
		log_ratelimited(&m->rl, LOG_WARN,
				"virtio-mem: cannot back %" PRIu64
				" MiB at %#" PRIx64 ": %s; answered BUSY",
				len >> 20, r->gpa + off, strerror(-err));
		return VIRTIO_MEM_RESP_BUSY;
	}
	virtio_mem_set(m, first, n, 1);
	region_set_plugged(r, off, len, 1);
	m->plugged_size += len;
	m->c.plugs++;
	m->c.plugged_bytes += len;
	return VIRTIO_MEM_RESP_ACK;
}

/*
 * Allocate blocks [first, first+n) on the host before the ACK. With
 * workers the population runs on them and this returns
 * VIRTIO_MEM_PENDING (virtio_mem_done answers); without, it runs here.
 * BUSY when the host cannot back them.
 */
static uint16_t virtio_mem_plug_start(struct virtio_mem *m, uint64_t first,
				      uint64_t n)
{
	struct virtio_mem_job *j = &m->job;
	struct region *r = virtio_mem_region(m);
	uint64_t off, len = n * m->lay.block_size;

	if (!r) {
		m->c.busy_alloc++;
		return VIRTIO_MEM_RESP_BUSY;
	}
	off = virtio_mem_off(m, r, first);
	if (r->pages == REGION_PAGES_HUGE || r->pages == REGION_PAGES_HUGE1G) {
		/* Checked first so the counter says why; fallocate below
		 * still catches a pool that shrank in between. -1: not
		 * readable here (seccomp), leave it to fallocate. */
		long avail = region_pool_available(r->pages);

		if (avail >= 0 && (uint64_t)avail < len / r->page_size) {
			m->c.busy_pool++;
			return VIRTIO_MEM_RESP_BUSY;
		}
	}
	if (!j->nr_threads)
		return virtio_mem_plug_end(m, first, n,
					   region_populate(r, off, len));
	/* Off the event loop: a 1 GiB plug takes a while, and the loop
	 * serves every other device meanwhile. Chunks of whole pages. */
	pthread_mutex_lock(&j->lock);
	j->r = r;
	j->off = off;
	j->len = len;
	j->chunk = VIRTIO_MEM_CHUNK > r->page_size ? VIRTIO_MEM_CHUNK
						   : r->page_size;
	j->nr_chunks = (len + j->chunk - 1) / j->chunk;
	j->next_chunk = 0;
	j->error = 0;
	j->used_mask = 0;
	j->active = j->nr_threads;
	j->gen++;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	m->inflight = 1;
	m->inflight_first = first;
	m->inflight_n = n;
	return VIRTIO_MEM_PENDING;
}

/*
 * Check a PLUG/UNPLUG/STATE range: aligned, at least one block, inside
 * the usable region. Sets *first and *n. 0 or -1 (ERROR).
 */
static int virtio_mem_range(const struct virtio_mem *m, uint64_t addr,
			    uint16_t nb, uint64_t *first, uint64_t *n)
{
	uint64_t len = (uint64_t)nb * m->lay.block_size, end;

	if (!nb || addr % m->lay.block_size || addr < m->lay.addr ||
	    __builtin_add_overflow(addr, len, &end) ||
	    end > m->lay.addr + m->lay.usable_size)
		return -1;
	*first = (addr - m->lay.addr) / m->lay.block_size;
	*n = nb;
	return 0;
}

/* The next run of plugged blocks at or after *b: [*b, *e). 0 when none
 * is left. */
static int virtio_mem_next_run(const struct virtio_mem *m, uint64_t *b,
			       uint64_t *e)
{
	while (*b < m->nr_blocks && !virtio_mem_test(m, *b))
		(*b)++;
	for (*e = *b; *e < m->nr_blocks && virtio_mem_test(m, *e); (*e)++)
		;
	return *e > *b;
}

/* virtio_mem_unmark for every plugged block: 0, or -EBUSY with every
 * block as it was. */
static int virtio_mem_unmark_all(struct virtio_mem *m)
{
	uint64_t b = 0, e, b2 = 0, e2;

	for (; virtio_mem_next_run(m, &b, &e); b = e)
		if (virtio_mem_unmark(m, b, e - b))
			break;
	if (b >= m->nr_blocks)
		return 0;
	/* Runs before the busy one were unmarked: plugged again. */
	for (; b2 < b && virtio_mem_next_run(m, &b2, &e2); b2 = e2)
		virtio_mem_mark(m, b2, e2 - b2);
	return -EBUSY;
}

/* Write a response into resp. */
static void virtio_mem_resp(uint8_t *resp, uint16_t rt, uint16_t state)
{
	memset(resp, 0, VIRTIO_MEM_RESP_SIZE);
	rt = htole16(rt);
	state = htole16(state);
	memcpy(resp, &rt, 2);
	memcpy(resp + 8, &state, 2);
}

/* One request: fills resp->type (and state), updates the counters. 0, or
 * 1 for a PLUG left to the workers (nothing in resp yet). */
static int virtio_mem_request(struct virtio_mem *m, const uint8_t *req,
			      uint8_t *resp)
{
	uint16_t type, nb, rt = VIRTIO_MEM_RESP_ERROR, state = 0;
	uint64_t addr, first, n, len;

	memcpy(&type, req, 2);
	memcpy(&addr, req + 8, 8);
	memcpy(&nb, req + 16, 2);
	type = le16toh(type);
	addr = le64toh(addr);
	nb = le16toh(nb);
	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
		if (virtio_mem_range(m, addr, nb, &first, &n) ||
		    virtio_mem_count(m, first, n))
			break;
		len = n * m->lay.block_size;
		if (m->plugged_size + len > m->requested_size) {
			rt = VIRTIO_MEM_RESP_NACK;
			m->c.nacks++;
			break;
		}
		rt = virtio_mem_plug_start(m, first, n);
		if (rt == VIRTIO_MEM_PENDING)
			return 1;
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		if (virtio_mem_range(m, addr, nb, &first, &n) ||
		    virtio_mem_count(m, first, n) != n)
			break;
		len = n * m->lay.block_size;
		if (virtio_mem_unmark(m, first, n)) {
			rt = VIRTIO_MEM_RESP_BUSY;
			m->c.busy_in_use++;
			break;
		}
		virtio_mem_set(m, first, n, 0);
		virtio_mem_discard(m, first, n);
		m->plugged_size -= len;
		m->c.unplugs++;
		m->c.unplugged_bytes += len;
		rt = VIRTIO_MEM_RESP_ACK;
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		/* All or nothing: every run of plugged blocks is unmarked
		 * first; one in use puts the others back and answers BUSY. */
		if (virtio_mem_unmark_all(m)) {
			rt = VIRTIO_MEM_RESP_BUSY;
			m->c.busy_in_use++;
			break;
		}
		/* Discard runs of plugged blocks, not block by block. */
		for (uint64_t b = 0; b < m->nr_blocks;) {
			uint64_t e = b;

			while (e < m->nr_blocks && virtio_mem_test(m, e))
				e++;
			if (e > b) {
				virtio_mem_set(m, b, e - b, 0);
				virtio_mem_discard(m, b, e - b);
				m->c.unplugged_bytes +=
					(e - b) * m->lay.block_size;
			}
			b = e + 1;
		}
		m->plugged_size = 0;
		m->c.unplug_alls++;
		rt = VIRTIO_MEM_RESP_ACK;
		break;
	case VIRTIO_MEM_REQ_STATE:
		if (virtio_mem_range(m, addr, nb, &first, &n))
			break;
		len = virtio_mem_count(m, first, n);
		state = len == n   ? VIRTIO_MEM_STATE_PLUGGED
			: len == 0 ? VIRTIO_MEM_STATE_UNPLUGGED
				   : VIRTIO_MEM_STATE_MIXED;
		m->c.states++;
		rt = VIRTIO_MEM_RESP_ACK;
		break;
	default: break;
	}
	if (rt == VIRTIO_MEM_RESP_ERROR) {
		m->c.errors++;
		log_ratelimited(&m->rl, LOG_WARN,
				"virtio-mem: request type %u addr %#" PRIx64
				" blocks %u refused (virtio 1.2 5.15.6); "
				"answered ERROR",
				type, addr, nb);
	}
	virtio_mem_resp(resp, rt, state);
	return 0;
}

/* Pin (on) or unpin the chain's buffers; pinning is 0 or -EFAULT with
 * nothing pinned. */
static int virtio_mem_pin_chain(struct virtio_mem *m,
				const struct virtq_chain *c, int on)
{
	unsigned n = c->n_out + c->n_in, i;

	for (i = 0; i < n && on; i++)
		if (!guest_mem_ptr_pin(m->mmio.gm, c->gpa[i],
				       c->iov[i].iov_len))
			break;
	if (on && i == n)
		return 0;
	/* Unpin all (off) or the ones pinned before the failure. */
	for (unsigned j = 0; j < (on ? i : n); j++)
		guest_mem_unpin(m->mmio.gm, c->gpa[j], c->iov[j].iov_len);
	return on ? -EFAULT : 0;
}

/* Give m->chain its response, unpin it, push it. */
static void virtio_mem_answer(struct virtio_mem *m, struct virtq *q,
			      const uint8_t *resp)
{
	struct virtq_chain *c = &m->chain;

	virtq_iov_from_buf(c->iov + c->n_out, c->n_in, 0, resp,
			   VIRTIO_MEM_RESP_SIZE);
	virtio_mem_pin_chain(m, c, 0);
	virtq_push(q, c->head, VIRTIO_MEM_RESP_SIZE);
}

static void virtio_mem_notify(void *opaque, unsigned qi)
{
	struct virtio_mem *m = opaque;
	struct virtq *q = virtio_mmio_queue(&m->mmio, qi);
	unsigned budget = VIRTIO_MEM_BUDGET;
	int ret = 0, pushed = 0;

	/* One request at a time: the next waits in the ring until the
	 * workers are done with this one. */
	if (m->inflight)
		return;
	while (budget && (ret = virtq_pop(q, &m->chain)) > 0) {
		struct virtq_chain *c = &m->chain;
		uint8_t req[VIRTIO_MEM_REQ_SIZE] = {0};
		uint8_t resp[VIRTIO_MEM_RESP_SIZE];

		budget--;
		if (c->in_len < VIRTIO_MEM_RESP_SIZE) {
			/* Nowhere to say ERROR: the driver is broken. */
			virtio_mmio_fail(&m->mmio, "request without room "
						   "for a response");
			return;
		}
		if (virtq_iov_to_buf(c->iov, c->n_out, 0, req, sizeof(req)) <
		    sizeof(req)) {
			/* Short request: type 0xffff is no request type,
			 * so it answers ERROR. */
			memset(req, 0xff, 2);
		}
		/* The request's buffers are in use until the answer is
		 * written: an UNPLUG of the memory they are in is BUSY. */
		if (virtio_mem_pin_chain(m, c, 1)) {
			virtio_mmio_fail(&m->mmio, "request buffer in "
						   "unplugged memory");
			return;
		}
		if (virtio_mem_request(m, req, resp))
			break; /* the workers have it: the chain stays
				  pinned, virtio_mem_done answers */
		virtio_mem_answer(m, q, resp);
		pushed = 1;
	}
	if (m->inflight)
		; /* virtio_mem_done kicks for the rest */
	else if (!budget)
		virtio_mmio_kick(&m->mmio);
	else if (ret < 0) {
		virtio_mmio_fail(&m->mmio, q->err);
		return;
	}
	if (pushed)
		virtio_mmio_used(&m->mmio, qi);
}

static void virtio_mem_config_read(void *opaque, uint64_t off, void *data,
				   uint32_t len)
{
	struct virtio_mem *m = opaque;
	uint8_t cfg[VIRTIO_MEM_CFG_SIZE] = {0};
	uint64_t v;
	uint16_t node = htole16(m->node_id);

#define PUT64(o, x)                       \
	do {                              \
		v = htole64(x);           \
		memcpy(cfg + (o), &v, 8); \
	} while (0)
	PUT64(VIRTIO_MEM_CFG_BLOCK_SIZE, m->lay.block_size);
	memcpy(cfg + VIRTIO_MEM_CFG_NODE_ID, &node, 2);
	PUT64(VIRTIO_MEM_CFG_ADDR, m->lay.addr);
	PUT64(VIRTIO_MEM_CFG_REGION_SIZE, m->lay.region_size);
	PUT64(VIRTIO_MEM_CFG_USABLE_REGION_SIZE, m->lay.usable_size);
	PUT64(VIRTIO_MEM_CFG_PLUGGED_SIZE, m->plugged_size);
	PUT64(VIRTIO_MEM_CFG_REQUESTED_SIZE, m->requested_size);
#undef PUT64
	virtio_mmio_config_copy(cfg, sizeof(cfg), off, data, len);
}

static int virtio_mem_features_ok(void *opaque, uint64_t features)
{
	(void)opaque;
	/* Without it a driver may read unplugged blocks, which would have
	 * to be backed: refused (the spec lets the device require it). */
	return !!(features & (1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE));
}

/* Device reset (lock held): a PLUG still with the workers will not be
 * answered (its ring is gone); virtio_mem_done gives its memory back. */
static void virtio_mem_reset(void *opaque)
{
	struct virtio_mem *m = opaque;

	if (m->inflight && !m->abandoned) {
		m->abandoned = 1;
		virtio_mem_pin_chain(m, &m->chain, 0);
	}
}

/*
 * Snapshot blob (after the transport's, devices/virtio_mmio.h): the layout
 * the device was built with (checked on load: the board must be the same),
 * requested and plugged size, the counters, then the plugged bitmap, one
 * bit per block. The memory of plugged blocks is guest memory: the
 * snapshot's memory files carry it.
 */
#define VIRTIO_MEM_SNAP_VERSION 1

struct virtio_mem_snap {
	uint32_t version;
	uint16_t node_id;
	uint16_t pad;
	uint64_t addr, region_size, usable_size, block_size;
	uint64_t requested_size, plugged_size, nr_blocks;
	struct virtio_mem_counters c;
};

static ssize_t virtio_mem_save(void *opaque, void *buf, size_t len)
{
	struct virtio_mem *m = opaque;
	struct virtio_mem_snap s;
	size_t words = (size_t)((m->nr_blocks + 63) / 64);
	size_t need = sizeof(s) + words * 8;

	if (len < need)
		return -ENOSPC;
	/* A PLUG with the workers: the transport already counted the
	 * request as taken, so a snapshot now would restore a guest that
	 * waits forever for its answer. The loop answers it shortly; the
	 * snapshot fails with nothing written and can be asked again. */
	if (m->inflight)
		return -EBUSY;
	memset(&s, 0, sizeof(s));
	s.version = VIRTIO_MEM_SNAP_VERSION;
	s.node_id = m->node_id;
	s.addr = m->lay.addr;
	s.region_size = m->lay.region_size;
	s.usable_size = m->lay.usable_size;
	s.block_size = m->lay.block_size;
	s.requested_size = m->requested_size;
	s.plugged_size = m->plugged_size;
	s.nr_blocks = m->nr_blocks;
	s.c = m->c;
	memcpy(buf, &s, sizeof(s));
	memcpy((uint8_t *)buf + sizeof(s), m->plugged, words * 8);
	return (ssize_t)need;
}

/* Called with the transport's lock held (virtio_mmio_load). Nothing
 * changes unless the whole blob is consistent with this device. */
static int virtio_mem_load(void *opaque, const void *buf, size_t len)
{
	struct virtio_mem *m = opaque;
	struct virtio_mem_snap s;
	size_t words = (size_t)((m->nr_blocks + 63) / 64);
	const uint8_t *bits = (const uint8_t *)buf + sizeof(s);
	uint64_t *map, count = 0;

	if (len != sizeof(s) + words * 8)
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.version != VIRTIO_MEM_SNAP_VERSION || s.node_id != m->node_id ||
	    s.addr != m->lay.addr || s.region_size != m->lay.region_size ||
	    s.usable_size != m->lay.usable_size ||
	    s.block_size != m->lay.block_size || s.nr_blocks != m->nr_blocks ||
	    s.requested_size % m->lay.block_size ||
	    s.requested_size > m->lay.usable_size)
		return -EINVAL;
	map = malloc(words * 8); /* nr_blocks >= 1 (virtio_mem_init) */
	if (!map)
		return -ENOMEM;
	memcpy(map, bits, words * 8);
	/* No bit past the last block; the plugged size is what the bits
	 * say. */
	if (m->nr_blocks % 64 && words &&
	    (map[words - 1] >> (m->nr_blocks % 64))) {
		free(map);
		return -EINVAL;
	}
	for (size_t w = 0; w < words; w++)
		count += (uint64_t)__builtin_popcountll(map[w]);
	if (count * m->lay.block_size != s.plugged_size) {
		free(map);
		return -EINVAL;
	}
	/* Unplug what this device had (nothing on a fresh board; -EBUSY if
	 * the VMM holds a pointer into it), then take the saved blocks:
	 * guest memory's translations follow. */
	if (virtio_mem_unmark(m, 0, m->nr_blocks)) {
		free(map);
		return -EBUSY;
	}
	memcpy(m->plugged, map, words * 8);
	free(map);
	for (uint64_t b = 0; b < m->nr_blocks;) {
		uint64_t e = b;

		while (e < m->nr_blocks && virtio_mem_test(m, e))
			e++;
		if (e > b)
			virtio_mem_mark(m, b, e - b);
		b = e + 1;
	}
	m->requested_size = s.requested_size;
	m->plugged_size = s.plugged_size;
	m->c = s.c;
	return 0;
}

static const struct virtio_mmio_ops virtio_mem_ops = {
	.device_id = VIRTIO_MEM_DEVICE_ID,
	.num_queues = 1,
	.queue_max = VIRTIO_MEM_QUEUE_SIZE,
	.config_read = virtio_mem_config_read,
	.config_write = NULL, /* read-only for the driver */
	.notify = virtio_mem_notify,
	/* A reset keeps the blocks as they are (virtio 1.2 5.15.5); it
	 * only drops a PLUG still with the workers. */
	.reset = virtio_mem_reset,
	.features_ok = virtio_mem_features_ok,
	/* Snapshot (devices/virtio_mmio.h): blocks and sizes. */
	.save = virtio_mem_save,
	.load = virtio_mem_load,
};

int virtio_mem_init(struct virtio_mem *m, const struct virtio_mem_cfg *cfg)
{
	const struct virtio_mem_layout *l = &cfg->lay;
	uint64_t features = (1ULL << VIRTIO_F_RING_EVENT_IDX) |
			    (1ULL << VIRTIO_F_INDIRECT_DESC) |
			    (1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);

	memset(m, 0, sizeof(*m));
	m->job.done_fd = -1;
	virtio_mmio_init(&m->mmio, &virtio_mem_ops, m, "virtio-mem", features);
	if (!l->block_size || (l->block_size & (l->block_size - 1)) ||
	    l->addr % l->block_size || !l->region_size ||
	    l->region_size % l->block_size || l->usable_size > l->region_size ||
	    l->usable_size % l->block_size || cfg->requested % l->block_size ||
	    cfg->requested > l->usable_size || cfg->node_id)
		return -EINVAL;
	m->lay = *l;
	m->node_id = cfg->node_id;
	m->requested_size = cfg->requested;
	m->nr_blocks = l->region_size / l->block_size;
	m->plugged = calloc((m->nr_blocks + 63) / 64, sizeof(uint64_t));
	if (!m->plugged)
		return -ENOMEM;
	return 0;
}

/* Populate chunks of the current job until none is left (or a stop or
 * an error); idx: this worker's bit in used_mask. */
static void virtio_mem_work(struct virtio_mem_job *j, unsigned idx)
{
	for (;;) {
		uint64_t k, off, len;
		int err, zero = 0;

		if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&j->error, __ATOMIC_RELAXED))
			return;
		k = __atomic_fetch_add(&j->next_chunk, 1, __ATOMIC_RELAXED);
		if (k >= j->nr_chunks)
			return;
		off = k * j->chunk;
		len = j->len - off < j->chunk ? j->len - off : j->chunk;
		__atomic_fetch_or(&j->used_mask, 1U << idx, __ATOMIC_RELAXED);
		err = region_populate(j->r, j->off + off, len);
		if (err)
			__atomic_compare_exchange_n(&j->error, &zero, err, 0,
						    __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
	}
}

/*
 * A worker: waits for a job (gen moves), works on it, and the last one to
 * finish it signals done_fd. A job starts only after the previous one was
 * answered, so every worker has left the old job before the new one's
 * fields change.
 */
static void *virtio_mem_worker(void *arg)
{
	struct virtio_mem_worker *w = arg;
	struct virtio_mem_job *j = w->job;
	uint64_t seen = 0, one = 1;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->stop && j->gen == seen)
			pthread_cond_wait(&j->cond, &j->lock);
		if (j->stop)
			break;
		seen = j->gen;
		pthread_mutex_unlock(&j->lock);
		virtio_mem_work(j, w->idx);
		pthread_mutex_lock(&j->lock);
		/* Only a saturated counter fails, and then a wakeup is
		 * pending anyway. */
		if (!--j->active && write(j->done_fd, &one, sizeof(one)) < 0) {
		}
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int virtio_mem_start_workers(struct virtio_mem *m, unsigned threads)
{
	struct virtio_mem_job *j = &m->job;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	if (!threads)
		threads = cpus < 1 ? 1 : (unsigned)cpus;
	if (threads > VIRTIO_MEM_MAX_WORKERS)
		threads = VIRTIO_MEM_MAX_WORKERS;
	j->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (j->done_fd < 0)
		return -errno;
	ret = -pthread_mutex_init(&j->lock, NULL);
	if (ret)
		goto err_fd;
	ret = -pthread_cond_init(&j->cond, NULL);
	if (ret)
		goto err_mutex;
	for (unsigned i = 0; i < threads; i++) {
		j->w[i].job = j;
		j->w[i].idx = i;
		ret = thread_spawn(&j->threads[i], virtio_mem_worker, &j->w[i],
				   0);
		if (ret) {
			j->nr_threads = i;
			virtio_mem_stop_workers(m);
			return ret;
		}
		/* For ps and the tests; a name is only a label. */
		(void)pthread_setname_np(j->threads[i], VIRTIO_MEM_WORKER_NAME);
	}
	j->nr_threads = threads;
	return 0;

err_mutex:
	pthread_mutex_destroy(&j->lock);
err_fd:
	close(j->done_fd);
	j->done_fd = -1;
	return ret;
}

void virtio_mem_stop_workers(struct virtio_mem *m)
{
	struct virtio_mem_job *j = &m->job;

	if (j->done_fd < 0)
		return;
	/* Workers on a chunk finish it and take no more. */
	pthread_mutex_lock(&j->lock);
	__atomic_store_n(&j->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	for (unsigned i = 0; i < j->nr_threads; i++)
		pthread_join(j->threads[i], NULL);
	j->nr_threads = 0;
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	close(j->done_fd);
	j->done_fd = -1;
}

void virtio_mem_done(struct virtio_mem *m)
{
	struct virtio_mem_job *j = &m->job;
	uint64_t v;
	uint8_t resp[VIRTIO_MEM_RESP_SIZE];
	uint16_t rt;
	unsigned used;

	if (read(j->done_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing finished after all. */
	}
	virtio_mmio_lock(&m->mmio);
	pthread_mutex_lock(&j->lock);
	if (!m->inflight || j->active) {
		pthread_mutex_unlock(&j->lock);
		virtio_mmio_unlock(&m->mmio);
		return;
	}
	pthread_mutex_unlock(&j->lock);
	m->inflight = 0;
	used = (unsigned)__builtin_popcount(j->used_mask);
	if (used > m->c.plug_threads)
		m->c.plug_threads = used;
	if (m->abandoned) {
		uint64_t got;

		/* Reset under it: nobody waits for the answer, and the
		 * blocks were never plugged. */
		m->abandoned = 0;
		if (region_discard(j->r, j->off, j->len, &got))
			m->c.discard_errors++;
	} else {
		struct virtq *q = virtio_mmio_queue(&m->mmio, 0);

		m->c.async_plugs++;
		rt = virtio_mem_plug_end(m, m->inflight_first, m->inflight_n,
					 j->error);
		virtio_mem_resp(resp, rt, 0);
		virtio_mem_answer(m, q, resp);
		virtio_mmio_used(&m->mmio, 0);
	}
	/* Requests that came meanwhile. */
	virtio_mmio_kick(&m->mmio);
	virtio_mmio_unlock(&m->mmio);
}

static void virtio_mem_done_event(void *opaque, uint32_t revents)
{
	(void)revents;
	virtio_mem_done(opaque);
}

struct event_source virtio_mem_done_source(struct virtio_mem *m)
{
	return (struct event_source){.fd = m->job.done_fd,
				     .events = EPOLLIN,
				     .handle = virtio_mem_done_event,
				     .opaque = m};
}

void virtio_mem_close(struct virtio_mem *m)
{
	virtio_mem_stop_workers(m);
	free(m->plugged);
	m->plugged = NULL;
	virtio_mmio_destroy(&m->mmio);
}

int virtio_mem_set_requested(struct virtio_mem *m, uint64_t bytes)
{
	int ret = 0;

	virtio_mmio_lock(&m->mmio);
	if (bytes % m->lay.block_size)
		ret = -EINVAL;
	else if (bytes > m->lay.usable_size)
		ret = -ERANGE;
	else if (bytes != m->requested_size) {
		m->requested_size = bytes;
		virtio_mmio_config_changed(&m->mmio);
	}
	virtio_mmio_unlock(&m->mmio);
	return ret;
}

void virtio_mem_get(struct virtio_mem *m, struct virtio_mem_info *out)
{
	struct region *r;

	memset(out, 0, sizeof(*out));
	virtio_mmio_lock(&m->mmio);
	out->lay = m->lay;
	out->plugged_size = m->plugged_size;
	out->requested_size = m->requested_size;
	r = virtio_mem_region(m);
	out->page_size = r ? r->page_size : 0;
	out->driver_ok = virtio_mmio_live(&m->mmio);
	out->c = m->c;
	virtio_mmio_unlock(&m->mmio);
}

void virtio_mem_print(struct virtio_mem *m, FILE *f)
{
	struct virtio_mem_info in;
	const struct virtio_mem_counters *c = &in.c;

	virtio_mem_get(m, &in);
	fprintf(f,
		"virtio-mem: requested %" PRIu64 " MiB, plugged %" PRIu64
		" MiB of %" PRIu64 " MiB in %" PRIu64 " KiB blocks; %" PRIu64
		" plugs, %" PRIu64 " unplugs, %" PRIu64
		" unplug-alls; BUSY %" PRIu64 " (pool %" PRIu64
		", allocation %" PRIu64 ", in use %" PRIu64 "), NACK %" PRIu64
		", ERROR %" PRIu64 "; returned to the host %" PRIu64
		" MiB (4K %" PRIu64 " MiB, 2M %" PRIu64 " MiB, 1G %" PRIu64
		" MiB)\n",
		in.requested_size >> 20, in.plugged_size >> 20,
		in.lay.usable_size >> 20, in.lay.block_size >> 10, c->plugs,
		c->unplugs, c->unplug_alls,
		c->busy_pool + c->busy_alloc + c->busy_in_use, c->busy_pool,
		c->busy_alloc, c->busy_in_use, c->nacks, c->errors,
		c->returned_bytes >> 20, c->returned[VIRTIO_MEM_PS_4K] >> 20,
		c->returned[VIRTIO_MEM_PS_2M] >> 20,
		c->returned[VIRTIO_MEM_PS_1G] >> 20);
}
