#include "devices/virtio_balloon.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/log.h"

/* Chains per virtio_mmio_process() before yielding the event loop. */
#define VIRTIO_BALLOON_BUDGET 64
/* PFNs read from an inflate buffer at a time (Linux sends up to 256). */
#define VIRTIO_BALLOON_PFN_BATCH 256
#define VIRTIO_BALLOON_STAT_SIZE 10 /* packed le16 tag + le64 val */

#define KiB4 4096ULL
#define MiB2 (2ULL << 20)
#define GiB1 (1ULL << 30)

enum { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORTING, Q_NONE };

static const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_S_NR] = {
	"swap-in",	    "swap-out",	   "major-faults",
	"minor-faults",	    "free-memory", "total-memory",
	"available-memory", "disk-caches", "hugetlb-allocations",
	"hugetlb-failures",
};

const char *virtio_balloon_stat_name(unsigned tag)
{
	return tag < VIRTIO_BALLOON_S_NR ? virtio_balloon_stat_names[tag]
					 : NULL;
}

/* Heapsort: in place, no allocation and no libc calls (glibc's qsort may
 * call sysinfo() to size a buffer, which the event loop's seccomp filter
 * refuses). */
static void virtio_balloon_sift(uint32_t *a, unsigned root, unsigned n)
{
	for (;;) {
		unsigned child = 2 * root + 1;
		uint32_t t;

		if (child >= n)
			return;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[root] >= a[child])
			return;
		t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void virtio_balloon_sort(uint32_t *a, unsigned n)
{
	for (unsigned i = n / 2; i-- > 0;)
		virtio_balloon_sift(a, i, n);
	for (unsigned end = n; end-- > 1;) {
		uint32_t t = a[0];

		a[0] = a[end];
		a[end] = t;
		virtio_balloon_sift(a, 0, end);
	}
}

unsigned virtio_balloon_runs(uint32_t *pfns, unsigned n,
			     struct virtio_balloon_run *runs)
{
	unsigned nr = 0;

	if (!n)
		return 0;
	virtio_balloon_sort(pfns, n);
	runs[0] = (struct virtio_balloon_run){.pfn = pfns[0], .count = 1};
	for (unsigned i = 1; i < n; i++) {
		struct virtio_balloon_run *r = &runs[nr];

		if (pfns[i] == pfns[i - 1])
			continue;
		if (pfns[i] == r->pfn + r->count) {
			r->count++;
			continue;
		}
		runs[++nr] =
			(struct virtio_balloon_run){.pfn = pfns[i], .count = 1};
	}
	return nr + 1;
}

static enum virtio_balloon_psize virtio_balloon_ps(size_t page_size)
{
	if (page_size >= GiB1)
		return VIRTIO_BALLOON_PS_1G;
	if (page_size >= MiB2)
		return VIRTIO_BALLOON_PS_2M;
	return VIRTIO_BALLOON_PS_4K;
}

/*
 * Count `got` bytes discarded from [s, e) of region r by page size. THP
 * regions discard in 4K granules: the whole 2M pages inside the range went
 * back as huge pages, the rest as 4K pieces (splitting a huge page).
 */
static void virtio_balloon_count(struct virtio_balloon *b,
				 const struct region *r, uint64_t s, uint64_t e,
				 uint64_t got)
{
	uint64_t hs, he, whole = 0;

	if (r->page_size <= r->discard_granule || !r->page_size) {
		b->c.returned[virtio_balloon_ps(r->page_size)] += got;
		return;
	}
	hs = (s + r->page_size - 1) & ~((uint64_t)r->page_size - 1);
	he = e & ~((uint64_t)r->page_size - 1);
	if (he > hs)
		whole = he - hs;
	if (whole > got)
		whole = got;
	b->c.returned[virtio_balloon_ps(r->page_size)] += whole;
	b->c.returned[VIRTIO_BALLOON_PS_4K] += got - whole;
}

/* Split by region so each piece is counted under its own page size. */
int virtio_balloon_discard(struct virtio_balloon *b, uint64_t gpa, uint64_t len,
			   uint64_t *returned)
{
	const struct guest_mem *gm = b->mmio.gm;
	uint64_t end, covered = 0, total = 0;
	int ret = 0;

	if (returned)
		*returned = 0;
	if (!len)
		return 0;
	if (!gm || __builtin_add_overflow(gpa, len, &end)) {
		b->c.bad_ranges++;
		return -EFAULT;
	}
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		uint64_t s = gpa > r->gpa ? gpa : r->gpa;
		uint64_t e = end < r->gpa + r->size ? end : r->gpa + r->size;
		uint64_t got = 0;
		int err;

		if (s >= e)
			continue;
		covered += e - s;
		err = guest_mem_discard(gm, s, e - s, &got);
		b->c.discards++;
		if (err) {
			ret = err;
			continue;
		}
		virtio_balloon_count(b, r, s, e, got);
		b->c.returned_bytes += got;
		total += got;
	}
	if (!ret && covered != len)
		ret = -EFAULT;
	if (ret)
		b->c.bad_ranges++;
	if (returned)
		*returned = total;
	return ret;
}

/* Which queue role index qi has under the negotiated features. */
static unsigned virtio_balloon_role(const struct virtio_balloon *b, unsigned qi)
{
	unsigned next = Q_STATS;

	if (qi < Q_STATS)
		return qi;
	if (virtio_mmio_negotiated(&b->mmio, VIRTIO_BALLOON_F_STATS_VQ)) {
		if (qi == next)
			return Q_STATS;
		next++;
	}
	if (virtio_mmio_negotiated(&b->mmio,
				   VIRTIO_BALLOON_F_FREE_PAGE_REPORTING) &&
	    qi == next)
		return Q_REPORTING;
	return Q_NONE;
}

static void virtio_balloon_inflate(struct virtio_balloon *b,
				   const struct virtq_chain *c)
{
	uint32_t pfns[VIRTIO_BALLOON_PFN_BATCH];
	struct virtio_balloon_run runs[VIRTIO_BALLOON_PFN_BATCH];
	size_t off = 0;

	for (;;) {
		size_t got = virtq_iov_to_buf(c->iov, c->n_out, off, pfns,
					      sizeof(pfns));
		unsigned n = (unsigned)(got / sizeof(uint32_t)), nr;

		if (!n)
			break;
		off += (size_t)n * sizeof(uint32_t);
		for (unsigned i = 0; i < n; i++)
			pfns[i] = le32toh(pfns[i]);
		b->c.inflated_bytes += (uint64_t)n << VIRTIO_BALLOON_PFN_SHIFT;
		nr = virtio_balloon_runs(pfns, n, runs);
		for (unsigned i = 0; i < nr; i++) {
			uint64_t gpa = runs[i].pfn << VIRTIO_BALLOON_PFN_SHIFT;
			uint64_t len = runs[i].count
				       << VIRTIO_BALLOON_PFN_SHIFT;
			int err = virtio_balloon_discard(b, gpa, len, NULL);

			if (err)
				log_ratelimited(&b->rl, LOG_WARN,
						"virtio-balloon: inflate of "
						"%#" PRIx64 "+%#" PRIx64
						": %s; ignored",
						gpa, len, strerror(-err));
		}
	}
}

static void virtio_balloon_report(struct virtio_balloon *b,
				  const struct virtq_chain *c)
{
	/* The driver posts the free blocks as device-writable buffers; we
	 * never write them. Readable ones would be a driver bug: take both. */
	for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
		uint64_t len = c->iov[i].iov_len, got = 0;
		int err;

		b->c.reports++;
		b->c.reported_bytes += len;
		/* The chain carries each buffer's guest address: no reverse
		 * translation of the host pointer. */
		err = virtio_balloon_discard(b, c->gpa[i], len, &got);
		if (err)
			log_ratelimited(&b->rl, LOG_WARN,
					"virtio-balloon: report of %#" PRIx64
					" bytes: %s; ignored",
					len, strerror(-err));
		if (got < len)
			b->c.unfreed_bytes += len - got;
		if (!got)
			b->c.unfreed_reports++;
	}
}

static void virtio_balloon_stats_in(struct virtio_balloon *b,
				    const struct virtq_chain *c)
{
	uint8_t e[VIRTIO_BALLOON_STAT_SIZE];
	size_t off = 0;

	while (virtq_iov_to_buf(c->iov, c->n_out, off, e, sizeof(e)) ==
	       sizeof(e)) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, e, 2);
		memcpy(&val, e + 2, 8);
		tag = le16toh(tag);
		if (tag < VIRTIO_BALLOON_MAX_STATS) {
			b->stats[tag] = le64toh(val);
			b->stats_valid |= 1U << tag;
		}
		off += sizeof(e);
	}
	b->stats_updates++;
}

static void virtio_balloon_notify(void *opaque, unsigned qi)
{
	struct virtio_balloon *b = opaque;
	struct virtq *q = virtio_mmio_queue(&b->mmio, qi);
	unsigned role = virtio_balloon_role(b, qi);
	unsigned budget = VIRTIO_BALLOON_BUDGET;
	int ret = 0, pushed = 0;

	if (role == Q_NONE) {
		log_ratelimited(&b->rl, LOG_WARN,
				"virtio-balloon: queue %u is not in use with "
				"the negotiated features; ignored",
				qi);
		return;
	}
	while (budget && (ret = virtq_pop(q, &b->chain)) > 0) {
		budget--;
		switch (role) {
		case Q_INFLATE: virtio_balloon_inflate(b, &b->chain); break;
		case Q_DEFLATE:
			b->c.deflated_bytes += b->chain.out_len / 4
					       << VIRTIO_BALLOON_PFN_SHIFT;
			break;
		case Q_REPORTING: virtio_balloon_report(b, &b->chain); break;
		case Q_STATS:
			virtio_balloon_stats_in(b, &b->chain);
			/* A driver sends one buffer at a time; if it sends
			 * another, the older one goes back at once. */
			if (b->stats_held) {
				virtq_push(q, b->stats_head, 0);
				pushed = 1;
			}
			b->stats_held = 1;
			b->stats_head = b->chain.head;
			continue;
		}
		virtq_push(q, b->chain.head, 0);
		pushed = 1;
	}
	if (!budget)
		virtio_mmio_kick(&b->mmio);
	else if (ret < 0) {
		virtio_mmio_fail(&b->mmio, q->err);
		return;
	}
	if (pushed)
		virtio_mmio_used(&b->mmio, qi);
}

/* Config space, little endian: num_pages, actual, free_page_hint_cmd_id,
 * poison_val. */
static void virtio_balloon_config_read(void *opaque, uint64_t off, void *data,
				       uint32_t len)
{
	struct virtio_balloon *b = opaque;
	uint32_t cfg[4] = {htole32(b->num_pages), htole32(b->actual), 0, 0};

	virtio_mmio_config_copy(cfg, sizeof(cfg), off, data, len);
}

static void virtio_balloon_config_write(void *opaque, uint64_t off,
					const void *data, uint32_t len)
{
	struct virtio_balloon *b = opaque;
	uint32_t actual = htole32(b->actual);

	/* Only `actual` (bytes 4..8) is the driver's to write. */
	if (off < 4 || off >= 8 || len > 8 - off) {
		log_ratelimited(&b->rl, LOG_WARN,
				"virtio-balloon: config write at %#" PRIx64
				"+%u outside 'actual'; ignored",
				off, len);
		return;
	}
	memcpy((uint8_t *)&actual + (off - 4), data, len);
	b->actual = le32toh(actual);
}

static void virtio_balloon_reset(void *opaque)
{
	struct virtio_balloon *b = opaque;

	/* The driver is gone: its balloon and stats buffer with it. */
	b->stats_held = 0;
	b->actual = 0;
}

/* Snapshot: the target, what the driver reports, the counters and the
 * last statistics, and the stats buffer the device holds (its head; the
 * transport saved the ring positions). */
struct virtio_balloon_snap {
	uint32_t version, num_pages, actual, stats_valid;
	uint32_t stats_held, stats_head;
	uint64_t stats_updates;
	struct virtio_balloon_counters c;
	uint64_t stats[VIRTIO_BALLOON_MAX_STATS];
};

static ssize_t virtio_balloon_save(void *opaque, void *buf, size_t len)
{
	struct virtio_balloon *b = opaque;
	struct virtio_balloon_snap s;

	if (len < sizeof(s))
		return -ENOSPC;
	memset(&s, 0, sizeof(s));
	s.version = 1;
	s.num_pages = b->num_pages;
	s.actual = b->actual;
	s.stats_valid = b->stats_valid;
	s.stats_held = b->stats_held ? 1 : 0;
	s.stats_head = b->stats_head;
	s.stats_updates = b->stats_updates;
	s.c = b->c;
	memcpy(s.stats, b->stats, sizeof(s.stats));
	memcpy(buf, &s, sizeof(s));
	return (ssize_t)sizeof(s);
}

static int virtio_balloon_load(void *opaque, const void *buf, size_t len)
{
	struct virtio_balloon *b = opaque;
	struct virtio_balloon_snap s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.version != 1 || s.stats_held > 1 ||
	    s.stats_head >= VIRTIO_BALLOON_QUEUE_SIZE)
		return -EINVAL;
	b->num_pages = s.num_pages;
	b->actual = s.actual;
	b->stats_valid = s.stats_valid;
	b->stats_held = (int)s.stats_held;
	b->stats_head = (uint16_t)s.stats_head;
	b->stats_updates = s.stats_updates;
	b->c = s.c;
	memcpy(b->stats, s.stats, sizeof(s.stats));
	return 0;
}

/* Inflate and deflate always; stats and reporting only when negotiated,
 * at the indices the driver gives them. */
static int virtio_balloon_queue_in_use(void *opaque, unsigned qi)
{
	return virtio_balloon_role(opaque, qi) != Q_NONE;
}

static const struct virtio_mmio_ops virtio_balloon_ops = {
	.device_id = VIRTIO_BALLOON_DEVICE_ID,
	.num_queues = 4,
	.queue_max = VIRTIO_BALLOON_QUEUE_SIZE,
	.config_read = virtio_balloon_config_read,
	.config_write = virtio_balloon_config_write,
	.notify = virtio_balloon_notify,
	.reset = virtio_balloon_reset,
	.queue_in_use = virtio_balloon_queue_in_use,
	.save = virtio_balloon_save,
	.load = virtio_balloon_load,
};

int virtio_balloon_init(struct virtio_balloon *b,
			const struct virtio_balloon_cfg *cfg)
{
	uint64_t features = (1ULL << VIRTIO_F_RING_EVENT_IDX) |
			    (1ULL << VIRTIO_F_INDIRECT_DESC);

	memset(b, 0, sizeof(*b));
	b->timer_fd = -1;
	b->cfg = *cfg;
	if (cfg->stats_interval)
		features |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (cfg->deflate_on_oom)
		features |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (cfg->reporting)
		features |= 1ULL << VIRTIO_BALLOON_F_FREE_PAGE_REPORTING;
	virtio_mmio_init(&b->mmio, &virtio_balloon_ops, b, "virtio-balloon",
			 features);
	if (cfg->stats_interval) {
		struct itimerspec its = {
			.it_interval.tv_sec = cfg->stats_interval,
			.it_value.tv_sec = cfg->stats_interval,
		};

		b->timer_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timer_fd < 0 ||
		    timerfd_settime(b->timer_fd, 0, &its, NULL)) {
			int ret = -errno;

			virtio_balloon_close(b);
			return ret;
		}
	}
	return 0;
}

void virtio_balloon_close(struct virtio_balloon *b)
{
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	b->timer_fd = -1;
	virtio_mmio_destroy(&b->mmio);
}

int virtio_balloon_timer_fd(const struct virtio_balloon *b)
{
	return b->timer_fd;
}

static void virtio_balloon_timer_event(void *opaque, uint32_t revents)
{
	(void)revents;
	virtio_balloon_timer(opaque);
}

struct event_source virtio_balloon_timer_source(struct virtio_balloon *b)
{
	return (struct event_source){.fd = b->timer_fd,
				     .events = EPOLLIN,
				     .handle = virtio_balloon_timer_event,
				     .opaque = b};
}

void virtio_balloon_timer(struct virtio_balloon *b)
{
	uint64_t ticks;
	unsigned qi = Q_STATS;

	if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: nothing expired after all. */
	}
	virtio_mmio_lock(&b->mmio);
	if (b->stats_held && virtio_mmio_live(&b->mmio) &&
	    virtio_mmio_negotiated(&b->mmio, VIRTIO_BALLOON_F_STATS_VQ)) {
		struct virtq *q = virtio_mmio_queue(&b->mmio, qi);

		b->stats_held = 0;
		virtq_push(q, b->stats_head, 0);
		virtio_mmio_used(&b->mmio, qi);
	}
	virtio_mmio_unlock(&b->mmio);
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	uint64_t pages = bytes >> VIRTIO_BALLOON_PFN_SHIFT;
	int ret = 0;

	virtio_mmio_lock(&b->mmio);
	if (pages > UINT32_MAX ||
	    (b->mmio.gm && bytes > guest_mem_size(b->mmio.gm))) {
		ret = -ERANGE;
	} else if (b->num_pages != pages) {
		b->num_pages = (uint32_t)pages;
		virtio_mmio_config_changed(&b->mmio);
	}
	virtio_mmio_unlock(&b->mmio);
	return ret;
}

void virtio_balloon_get(struct virtio_balloon *b,
			struct virtio_balloon_info *out)
{
	memset(out, 0, sizeof(*out));
	virtio_mmio_lock(&b->mmio);
	out->target_bytes = (uint64_t)b->num_pages << VIRTIO_BALLOON_PFN_SHIFT;
	out->actual_bytes = (uint64_t)b->actual << VIRTIO_BALLOON_PFN_SHIFT;
	out->driver_ok = virtio_mmio_live(&b->mmio);
	out->features = b->mmio.driver_features & b->mmio.device_features;
	out->c = b->c;
	out->stats_updates = b->stats_updates;
	out->stats_valid = b->stats_valid;
	memcpy(out->stats, b->stats, sizeof(out->stats));
	virtio_mmio_unlock(&b->mmio);
}

void virtio_balloon_print(struct virtio_balloon *b, FILE *f)
{
	struct virtio_balloon_info in;
	const struct virtio_balloon_counters *c = &in.c;

	virtio_balloon_get(b, &in);
	fprintf(f,
		"virtio-balloon: target %" PRIu64 " MiB, actual %" PRIu64
		" MiB; reported %" PRIu64 " MiB in %" PRIu64 " blocks (%" PRIu64
		" freed nothing, %" PRIu64 " MiB kept); inflated %" PRIu64
		" MiB, deflated %" PRIu64 " MiB; returned to the host %" PRIu64
		" MiB (4K %" PRIu64 " MiB, 2M %" PRIu64 " MiB, 1G %" PRIu64
		" MiB)\n",
		in.target_bytes >> 20, in.actual_bytes >> 20,
		c->reported_bytes >> 20, c->reports, c->unfreed_reports,
		c->unfreed_bytes >> 20, c->inflated_bytes >> 20,
		c->deflated_bytes >> 20, c->returned_bytes >> 20,
		c->returned[VIRTIO_BALLOON_PS_4K] >> 20,
		c->returned[VIRTIO_BALLOON_PS_2M] >> 20,
		c->returned[VIRTIO_BALLOON_PS_1G] >> 20);
}
