#include "devices/virtio_rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "lib/log.h"

/* Requests per virtio_mmio_process() before yielding the event loop. */
#define VIRTIO_RNG_BUDGET 64

/* Fill up to `max` bytes of the chain's writable buffers; returns how many
 * were filled (short only if getrandom fails). */
static size_t virtio_rng_fill(struct virtio_rng *r, const struct virtq_chain *c,
			      size_t max)
{
	size_t done = 0;

	/* Readable buffers carry nothing for this device: skip them. */
	for (unsigned i = c->n_out; i < c->n_out + c->n_in && done < max; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len, off = 0;

		if (len > max - done)
			len = max - done;
		while (off < len) {
			ssize_t n = getrandom(p + off, len - off, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				log_once(&r->logged_getrandom, LOG_WARN,
					 "virtio-rng: getrandom: %s",
					 n < 0 ? strerror(errno) : "no data");
				return done + off;
			}
			off += (size_t)n;
		}
		done += len;
	}
	return done;
}

static void virtio_rng_notify(void *opaque, unsigned qi)
{
	struct virtio_rng *r = opaque;
	struct virtq *q = virtio_mmio_queue(&r->mmio, qi);
	unsigned budget = VIRTIO_RNG_BUDGET;
	int ret = 0;

	while (budget && (ret = virtq_pop(q, &r->chain)) > 0) {
		size_t n =
			virtio_rng_fill(r, &r->chain, VIRTIO_RNG_MAX_REQUEST);

		virtq_push(q, r->chain.head, (uint32_t)n);
		budget--;
	}
	if (!budget)
		virtio_mmio_kick(&r->mmio);
	else if (ret < 0) {
		virtio_mmio_fail(&r->mmio, q->err);
		return;
	}
	virtio_mmio_used(&r->mmio, qi);
}

static void virtio_rng_config_read(void *opaque, uint64_t off, void *data,
				   uint32_t len)
{
	(void)opaque;
	virtio_mmio_config_copy(NULL, 0, off, data, len);
}

static const struct virtio_mmio_ops virtio_rng_ops = {
	.device_id = VIRTIO_RNG_DEVICE_ID,
	.num_queues = 1,
	.queue_max = VIRTIO_RNG_QUEUE_SIZE,
	.config_read = virtio_rng_config_read,
	.notify = virtio_rng_notify,
	/* Snapshot: nothing beyond the transport's state (no config space,
	 * no held buffer). */
	.save = NULL,
	.load = NULL,
};

void virtio_rng_init(struct virtio_rng *r)
{
	memset(r, 0, sizeof(*r));
	virtio_mmio_init(&r->mmio, &virtio_rng_ops, r, "virtio-rng",
			 (1ULL << VIRTIO_F_RING_EVENT_IDX) |
				 (1ULL << VIRTIO_F_INDIRECT_DESC));
}

void virtio_rng_close(struct virtio_rng *r)
{
	virtio_mmio_destroy(&r->mmio);
}
