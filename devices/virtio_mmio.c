#include "devices/virtio_mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"

/* Features the transport itself can honour for every device. */
#define VIRTIO_MMIO_TRANSPORT_FEATURES                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX) | \
	 (1ULL << VIRTIO_F_INDIRECT_DESC))

#define virtio_mmio_log_once(d, cls, ...) \
	log_once(&(d)->logged[cls], LOG_WARN, __VA_ARGS__)

void virtio_mmio_init(struct virtio_mmio_dev *d,
		      const struct virtio_mmio_ops *ops, void *opaque,
		      const char *name, uint64_t features)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->irq_lock, NULL);
	d->ops = ops;
	d->opaque = opaque;
	d->name = name;
	d->event_fd = -1;
	d->irq.irqfd = -1;
	/* Ring features beyond these would need transport support. */
	d->device_features =
		(features | (1ULL << VIRTIO_F_VERSION_1)) &
		(VIRTIO_MMIO_TRANSPORT_FEATURES | ((1ULL << 24) - 1));
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		virtq_init(&d->queues[i].vq, NULL);
		d->queues[i].num = ops->queue_max;
	}
}

int virtio_mmio_attach(struct virtio_mmio_dev *d, const struct guest_mem *gm,
		       uint64_t base, const struct irq_line *irq)
{
	if (!d->ops->num_queues || d->ops->num_queues > VIRTIO_MMIO_MAX_QUEUES)
		return -EINVAL;
	d->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->event_fd < 0)
		return -errno;
	d->gm = gm;
	d->base = base;
	d->irq = *irq;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		virtq_init(&d->queues[i].vq, gm);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio_dev *d)
{
	if (d->event_fd >= 0)
		close(d->event_fd);
	d->event_fd = -1;
	pthread_mutex_destroy(&d->irq_lock);
	pthread_mutex_destroy(&d->lock);
}

int virtio_mmio_cmdline(const struct virtio_mmio_dev *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, "virtio_mmio.device=4K@0x%" PRIx64 ":%u",
			 d->base, d->irq.gsi);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int virtio_mmio_event_fd(const struct virtio_mmio_dev *d)
{
	return d->event_fd;
}

static void virtio_mmio_event(void *opaque, uint32_t revents)
{
	(void)revents;
	virtio_mmio_process(opaque);
}

struct event_source virtio_mmio_source(struct virtio_mmio_dev *d)
{
	return (struct event_source){.fd = d->event_fd,
				     .events = EPOLLIN,
				     .handle = virtio_mmio_event,
				     .opaque = d};
}

void virtio_mmio_lock(struct virtio_mmio_dev *d)
{
	pthread_mutex_lock(&d->lock);
}

void virtio_mmio_unlock(struct virtio_mmio_dev *d)
{
	pthread_mutex_unlock(&d->lock);
}

void virtio_mmio_kick(struct virtio_mmio_dev *d)
{
	uint64_t one = 1;

	/* Only a saturated counter fails, and then a wakeup is pending
	 * anyway. */
	if (d->event_fd >= 0 && write(d->event_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_NOTIFY,
				     "%s: eventfd write failed: %s", d->name,
				     strerror(errno));
}

struct virtq *virtio_mmio_queue(struct virtio_mmio_dev *d, unsigned q)
{
	return &d->queues[q].vq;
}

int virtio_mmio_live(const struct virtio_mmio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status &
		 (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

int virtio_mmio_negotiated(const struct virtio_mmio_dev *d, unsigned bit)
{
	return bit < 64 &&
	       ((d->driver_features & d->device_features) >> bit) & 1;
}

/* Level mode (no irqfd): the line stays up while InterruptStatus has a
 * bit. With an irqfd every event is an edge; the guest's handler reads
 * InterruptStatus, so a spurious edge costs one register read. */
static void virtio_mmio_raise(struct virtio_mmio_dev *d, uint32_t bits)
{
	pthread_mutex_lock(&d->irq_lock);
	d->int_status |= bits;
	if (d->irq.irqfd >= 0)
		irq_pulse(&d->irq);
	else
		irq_set(&d->irq, 1);
	pthread_mutex_unlock(&d->irq_lock);
}

/* The driver acknowledged `bits`. In level mode the line drops only when
 * nothing is pending; status and line change together under irq_lock, so
 * a raise racing with the ack cannot leave the line low with a bit set. */
static void virtio_mmio_ack(struct virtio_mmio_dev *d, uint32_t bits)
{
	pthread_mutex_lock(&d->irq_lock);
	d->int_status &= ~bits;
	if (!d->int_status && d->irq.irqfd < 0)
		irq_set(&d->irq, 0);
	pthread_mutex_unlock(&d->irq_lock);
}

static uint32_t virtio_mmio_int_status(struct virtio_mmio_dev *d)
{
	uint32_t v;

	pthread_mutex_lock(&d->irq_lock);
	v = d->int_status;
	pthread_mutex_unlock(&d->irq_lock);
	return v;
}

void virtio_mmio_used(struct virtio_mmio_dev *d, unsigned q)
{
	if (virtq_should_notify(&d->queues[q].vq))
		virtio_mmio_raise(d, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_fail(struct virtio_mmio_dev *d, const char *why)
{
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_FAIL,
			     "%s: guest error: %s; device stopped until the "
			     "driver resets it",
			     d->name, why ? why : "unknown");
	virtio_mmio_raise(d, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio_dev *d)
{
	d->config_generation++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_raise(d, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_copy(const void *cfg, size_t cfg_len, uint64_t off,
			     void *data, uint32_t len)
{
	memset(data, 0, len);
	if (off >= cfg_len)
		return;
	if (len > cfg_len - off)
		len = (uint32_t)(cfg_len - off);
	memcpy(data, (const uint8_t *)cfg + off, len);
}

/* Back to the state after power-on; the lock is held. */
static void virtio_mmio_do_reset(struct virtio_mmio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d->opaque);
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		struct virtio_mmio_queue *q = &d->queues[i];

		virtq_reset(&q->vq);
		q->num = d->ops->queue_max;
		q->ready = 0;
		q->desc = q->driver = q->device = 0;
	}
	d->driver_features = 0;
	d->device_features_sel = 0;
	d->driver_features_sel = 0;
	d->queue_sel = 0;
	d->status = 0;
	virtio_mmio_ack(d, 0xffffffff);
}

static struct virtio_mmio_queue *virtio_mmio_sel(struct virtio_mmio_dev *d)
{
	if (d->queue_sel >= d->ops->num_queues)
		return NULL;
	return &d->queues[d->queue_sel];
}

static uint32_t virtio_mmio_reg_read(struct virtio_mmio_dev *d, uint64_t off)
{
	struct virtio_mmio_queue *q = virtio_mmio_sel(d);

	switch (off) {
	case VIRTIO_MMIO_REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_REG_VERSION: return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_REG_DEVICE_ID: return d->ops->device_id;
	case VIRTIO_MMIO_REG_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_REG_DEVICE_FEATURES:
		if (d->device_features_sel > 1)
			return 0;
		return (uint32_t)(d->device_features >>
				  (32 * d->device_features_sel));
	case VIRTIO_MMIO_REG_QUEUE_NUM_MAX:
		if (!q || (d->ops->queue_in_use &&
			   !d->ops->queue_in_use(d->opaque, d->queue_sel)))
			return 0;
		return d->ops->queue_max;
	case VIRTIO_MMIO_REG_QUEUE_READY: return q ? q->ready : 0;
	case VIRTIO_MMIO_REG_STATUS: return d->status;
	case VIRTIO_MMIO_REG_SHM_LEN_LOW:
	case VIRTIO_MMIO_REG_SHM_LEN_HIGH:
	case VIRTIO_MMIO_REG_SHM_BASE_LOW:
	case VIRTIO_MMIO_REG_SHM_BASE_HIGH:
		return 0xffffffff; /* no shared memory regions */
	case VIRTIO_MMIO_REG_QUEUE_RESET: return 0;
	case VIRTIO_MMIO_REG_CONFIG_GENERATION: return d->config_generation;
	default:
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_REG,
				     "%s: read of write-only or unknown "
				     "register 0x%03" PRIx64 " ignored",
				     d->name, off);
		return 0;
	}
}

static void virtio_mmio_set_features(struct virtio_mmio_dev *d, uint32_t v)
{
	unsigned shift;

	if (d->status & VIRTIO_STATUS_FEATURES_OK) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_FEATURES,
				     "%s: DriverFeatures written after "
				     "FEATURES_OK; ignored",
				     d->name);
		return;
	}
	if (d->driver_features_sel > 1) {
		if (v)
			virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_FEATURES,
					     "%s: driver features word %u "
					     "(0x%x) ignored",
					     d->name, d->driver_features_sel,
					     v);
		return;
	}
	shift = 32 * d->driver_features_sel;
	d->driver_features &= ~(0xffffffffULL << shift);
	d->driver_features |= (uint64_t)v << shift;
}

static int virtio_mmio_features_ok(struct virtio_mmio_dev *d)
{
	if (d->driver_features & ~d->device_features) {
		log_ratelimited(
			&d->info_rl, LOG_INFO,
			"%s: driver asked for features 0x%" PRIx64
			" the device does not offer; FEATURES_OK refused",
			d->name, d->driver_features & ~d->device_features);
		return 0;
	}
	if (!(d->driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
		log_ratelimited(
			&d->info_rl, LOG_INFO,
			"%s: driver did not accept VIRTIO_F_VERSION_1 (legacy "
			"drivers are not supported); FEATURES_OK refused",
			d->name);
		return 0;
	}
	if (d->ops->features_ok &&
	    !d->ops->features_ok(d->opaque, d->driver_features)) {
		log_ratelimited(&d->info_rl, LOG_INFO,
				"%s: driver features 0x%" PRIx64
				" lack one the device requires; FEATURES_OK "
				"refused",
				d->name, d->driver_features);
		return 0;
	}
	return 1;
}

static void virtio_mmio_set_status(struct virtio_mmio_dev *d, uint32_t v)
{
	uint32_t old = d->status, added;

	if (!v) {
		virtio_mmio_do_reset(d);
		return;
	}
	/* DEVICE_NEEDS_RESET belongs to the device. */
	v = (v & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
	    (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	if (old & ~v) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_STATUS,
				     "%s: driver cleared status bits 0x%x "
				     "without a reset; ignored",
				     d->name, old & ~v);
		return;
	}
	added = v & ~old;
	if ((added & VIRTIO_STATUS_FEATURES_OK) &&
	    (!(v & VIRTIO_STATUS_ACKNOWLEDGE) || !(v & VIRTIO_STATUS_DRIVER))) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_STATUS,
				     "%s: FEATURES_OK before ACKNOWLEDGE and "
				     "DRIVER; ignored",
				     d->name);
		return;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) &&
	    !(v & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_STATUS,
				     "%s: DRIVER_OK without FEATURES_OK; "
				     "ignored",
				     d->name);
		return;
	}
	/* A refused FEATURES_OK reads back clear: that is how the driver
	 * learns the negotiation failed. */
	if ((added & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_mmio_features_ok(d)) {
		v &= ~VIRTIO_STATUS_FEATURES_OK;
		/* Both in one write: the device must not go live on refused
		 * features. */
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	}
	d->status = v;
	if (added & VIRTIO_STATUS_FAILED)
		log_ratelimited(&d->info_rl, LOG_INFO,
				"%s: the driver gave up on the device",
				d->name);
	if ((added & VIRTIO_STATUS_DRIVER_OK) &&
	    (d->status & VIRTIO_STATUS_FEATURES_OK)) {
		if (d->ops->activate && d->ops->activate(d->opaque)) {
			virtio_mmio_fail(d, "device activation failed");
			return;
		}
		/* Buffers made available before DRIVER_OK wait for us. */
		virtio_mmio_kick(d);
	}
}

static void virtio_mmio_queue_ready(struct virtio_mmio_dev *d,
				    struct virtio_mmio_queue *q, uint32_t v)
{
	if (!v) {
		q->ready = 0;
		virtq_reset(&q->vq);
		return;
	}
	if (q->ready)
		return;
	if (!(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_QUEUE_SETUP,
				     "%s: QueueReady before FEATURES_OK; "
				     "ignored",
				     d->name);
		return;
	}
	if (virtq_setup(&q->vq, q->num, q->desc, q->driver, q->device,
			virtio_mmio_negotiated(d, VIRTIO_F_RING_EVENT_IDX),
			virtio_mmio_negotiated(d, VIRTIO_F_INDIRECT_DESC))) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_QUEUE_SETUP,
				     "%s: queue %u: %s", d->name,
				     (unsigned)(q - d->queues), q->vq.err);
		virtio_mmio_fail(d, q->vq.err);
		return;
	}
	q->ready = 1;
}

/* Registers that configure the selected queue; only while it is not
 * ready. */
static void virtio_mmio_queue_write(struct virtio_mmio_dev *d, uint64_t off,
				    uint32_t v)
{
	struct virtio_mmio_queue *q = virtio_mmio_sel(d);
	uint64_t *addr = NULL;

	if (!q) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_QUEUE_SEL,
				     "%s: queue register 0x%03" PRIx64
				     " written with QueueSel %u out of range; "
				     "ignored",
				     d->name, off, d->queue_sel);
		return;
	}
	if (off == VIRTIO_MMIO_REG_QUEUE_READY) {
		virtio_mmio_queue_ready(d, q, v);
		return;
	}
	if (q->ready) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_QUEUE_BUSY,
				     "%s: queue register 0x%03" PRIx64
				     " written while the queue is ready; "
				     "ignored",
				     d->name, off);
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_REG_QUEUE_NUM:
		if (!v || v > d->ops->queue_max || (v & (v - 1))) {
			virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_QUEUE_NUM,
					     "%s: queue size %u unsupported "
					     "(power of two up to %u); ignored",
					     d->name, v, d->ops->queue_max);
			return;
		}
		q->num = (uint16_t)v;
		return;
	case VIRTIO_MMIO_REG_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_REG_QUEUE_DESC_HIGH: addr = &q->desc; break;
	case VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH: addr = &q->driver; break;
	default: addr = &q->device; break;
	}
	if (off & 4)
		*addr = (*addr & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

static void virtio_mmio_reg_write(struct virtio_mmio_dev *d, uint64_t off,
				  uint32_t v)
{
	switch (off) {
	case VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL:
		d->device_features_sel = v;
		return;
	case VIRTIO_MMIO_REG_DRIVER_FEATURES:
		virtio_mmio_set_features(d, v);
		return;
	case VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL:
		d->driver_features_sel = v;
		return;
	case VIRTIO_MMIO_REG_QUEUE_SEL:
		/* Kept even when out of range: QueueNumMax and QueueReady
		 * then read 0, which is how a driver probes queues. */
		d->queue_sel = v;
		return;
	case VIRTIO_MMIO_REG_QUEUE_NUM:
	case VIRTIO_MMIO_REG_QUEUE_READY:
	case VIRTIO_MMIO_REG_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_REG_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH:
		virtio_mmio_queue_write(d, off, v);
		return;
	case VIRTIO_MMIO_REG_STATUS: virtio_mmio_set_status(d, v); return;
	case VIRTIO_MMIO_REG_SHM_SEL: return;
	default:
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_REG,
				     "%s: write of read-only or unknown "
				     "register 0x%03" PRIx64 " ignored",
				     d->name, off);
	}
}

static void virtio_mmio_read(void *opaque, uint64_t off, void *data,
			     uint32_t len)
{
	struct virtio_mmio_dev *d = opaque;
	uint32_t v;

	if (off >= VIRTIO_MMIO_REG_CONFIG) {
		pthread_mutex_lock(&d->lock);
		d->ops->config_read(d->opaque, off - VIRTIO_MMIO_REG_CONFIG,
				    data, len);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	memset(data, 0, len);
	if (len != 4 || (off & 3)) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_ACCESS,
				     "%s: %u-byte access at 0x%03" PRIx64
				     " (registers are 32-bit); ignored",
				     d->name, len, off);
		return;
	}
	if (off == VIRTIO_MMIO_REG_INTERRUPT_STATUS) {
		v = virtio_mmio_int_status(d);
	} else {
		pthread_mutex_lock(&d->lock);
		v = virtio_mmio_reg_read(d, off);
		pthread_mutex_unlock(&d->lock);
	}
	memcpy(data, &v, 4);
}

static void virtio_mmio_write(void *opaque, uint64_t off, const void *data,
			      uint32_t len)
{
	struct virtio_mmio_dev *d = opaque;
	uint32_t v;

	if (off >= VIRTIO_MMIO_REG_CONFIG) {
		pthread_mutex_lock(&d->lock);
		if (d->ops->config_write)
			d->ops->config_write(d->opaque,
					     off - VIRTIO_MMIO_REG_CONFIG, data,
					     len);
		else
			virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_CONFIG,
					     "%s: config space is read-only; "
					     "write ignored",
					     d->name);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (len != 4 || (off & 3)) {
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_ACCESS,
				     "%s: %u-byte access at 0x%03" PRIx64
				     " (registers are 32-bit); ignored",
				     d->name, len, off);
		return;
	}
	memcpy(&v, data, 4);
	if (off == VIRTIO_MMIO_REG_QUEUE_NOTIFY) {
		/* No lock and no device work on the vCPU: wake the event
		 * loop, which services every queue of the device. */
		if (v >= d->ops->num_queues)
			virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_NOTIFY,
					     "%s: notify for queue %u out of "
					     "range; ignored",
					     d->name, v);
		else
			virtio_mmio_kick(d);
		return;
	}
	if (off == VIRTIO_MMIO_REG_INTERRUPT_ACK) {
		virtio_mmio_ack(d, v);
		return;
	}
	pthread_mutex_lock(&d->lock);
	virtio_mmio_reg_write(d, off, v);
	pthread_mutex_unlock(&d->lock);
}

static void virtio_mmio_bus_reset(void *opaque)
{
	struct virtio_mmio_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	virtio_mmio_do_reset(d);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Snapshot of the transport: version, device id, queue count, features
 * (offered and accepted), the selectors, status, interrupt status,
 * config generation; per queue its size, ready bit, the three addresses
 * and the ring positions (next avail slot, used index, last signalled);
 * then the device type's own blob (ops->save), length-prefixed.
 */
#define VIRTIO_MMIO_SNAP_VERSION 1

struct virtio_mmio_snap_queue {
	uint64_t desc, driver, device;
	uint32_t ready;
	uint16_t num, last_avail, used_idx, signalled_used;
};

struct virtio_mmio_snap {
	uint32_t version, device_id, num_queues;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t device_features, driver_features;
	uint32_t status, int_status, config_generation, dev_len;
	struct virtio_mmio_snap_queue q[VIRTIO_MMIO_MAX_QUEUES];
};

static ssize_t virtio_mmio_save(void *opaque, void *buf, size_t len)
{
	struct virtio_mmio_dev *d = opaque;
	struct virtio_mmio_snap h;
	ssize_t n = 0;

	if (len < sizeof(h))
		return -ENOSPC;
	memset(&h, 0, sizeof(h));
	pthread_mutex_lock(&d->lock);
	h.version = VIRTIO_MMIO_SNAP_VERSION;
	h.device_id = d->ops->device_id;
	h.num_queues = d->ops->num_queues;
	h.device_features_sel = d->device_features_sel;
	h.driver_features_sel = d->driver_features_sel;
	h.queue_sel = d->queue_sel;
	h.device_features = d->device_features;
	h.driver_features = d->driver_features;
	h.status = d->status;
	h.int_status = virtio_mmio_int_status(d);
	h.config_generation = d->config_generation;
	for (unsigned i = 0; i < d->ops->num_queues; i++) {
		const struct virtio_mmio_queue *q = &d->queues[i];

		h.q[i].desc = q->desc;
		h.q[i].driver = q->driver;
		h.q[i].device = q->device;
		h.q[i].ready = q->ready;
		h.q[i].num = q->num;
		h.q[i].last_avail = q->vq.last_avail;
		h.q[i].used_idx = q->vq.used_idx;
		h.q[i].signalled_used = q->vq.signalled_used;
	}
	if (d->ops->save)
		n = d->ops->save(d->opaque, (uint8_t *)buf + sizeof(h),
				 len - sizeof(h));
	pthread_mutex_unlock(&d->lock);
	if (n < 0)
		return n;
	h.dev_len = (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	return (ssize_t)(sizeof(h) + (size_t)n);
}

static int virtio_mmio_load(void *opaque, const void *buf, size_t len)
{
	struct virtio_mmio_dev *d = opaque;
	struct virtio_mmio_snap h;
	int ret = 0;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.version != VIRTIO_MMIO_SNAP_VERSION ||
	    h.device_id != d->ops->device_id ||
	    h.num_queues != d->ops->num_queues ||
	    h.device_features != d->device_features ||
	    h.dev_len != len - sizeof(h) || (h.dev_len && !d->ops->load) ||
	    h.queue_sel > VIRTIO_MMIO_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	virtio_mmio_do_reset(d);
	d->device_features_sel = h.device_features_sel;
	d->driver_features_sel = h.driver_features_sel;
	d->queue_sel = h.queue_sel;
	d->driver_features = h.driver_features;
	d->status = h.status;
	d->config_generation = h.config_generation;
	for (unsigned i = 0; i < h.num_queues && !ret; i++) {
		struct virtio_mmio_queue *q = &d->queues[i];

		if (!h.q[i].num || h.q[i].num > d->ops->queue_max ||
		    (h.q[i].num & (h.q[i].num - 1)) || h.q[i].ready > 1) {
			ret = -EINVAL;
			break;
		}
		q->num = h.q[i].num;
		q->desc = h.q[i].desc;
		q->driver = h.q[i].driver;
		q->device = h.q[i].device;
		if (!h.q[i].ready)
			continue;
		/* The same checks as the driver's QueueReady write: a
		 * snapshot cannot place a ring outside RAM. */
		if (virtq_setup(
			    &q->vq, q->num, q->desc, q->driver, q->device,
			    virtio_mmio_negotiated(d, VIRTIO_F_RING_EVENT_IDX),
			    virtio_mmio_negotiated(d,
						   VIRTIO_F_INDIRECT_DESC))) {
			ret = -EINVAL;
			break;
		}
		q->ready = 1;
		q->vq.last_avail = h.q[i].last_avail;
		q->vq.used_idx = h.q[i].used_idx;
		q->vq.signalled_used = h.q[i].signalled_used;
	}
	if (!ret && h.dev_len)
		ret = d->ops->load(d->opaque, (const uint8_t *)buf + sizeof(h),
				   h.dev_len);
	if (ret) {
		virtio_mmio_do_reset(d);
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	pthread_mutex_unlock(&d->lock);
	/* The saved interrupt level, and a look at the rings for buffers
	 * made available while the snapshot was taken. */
	if (h.int_status)
		virtio_mmio_raise(d, h.int_status);
	if (virtio_mmio_live(d))
		virtio_mmio_kick(d);
	return 0;
}

const struct bus_ops virtio_mmio_bus_ops = {
	.read = virtio_mmio_read,
	.write = virtio_mmio_write,
	.reset = virtio_mmio_bus_reset,
	.save = virtio_mmio_save,
	.load = virtio_mmio_load,
};

void virtio_mmio_process(struct virtio_mmio_dev *d)
{
	uint64_t count;

	/* Drain first: a notification arriving after this read signals
	 * the fd again and we come back. */
	if (d->event_fd >= 0 && read(d->event_fd, &count, sizeof(count)) < 0 &&
	    errno != EAGAIN)
		virtio_mmio_log_once(d, VIRTIO_MMIO_LOG_NOTIFY,
				     "%s: eventfd read failed: %s", d->name,
				     strerror(errno));
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->ops->num_queues; i++) {
		if (!virtio_mmio_live(d))
			break;
		if (d->queues[i].ready && virtq_ready(&d->queues[i].vq))
			d->ops->notify(d->opaque, i);
	}
	pthread_mutex_unlock(&d->lock);
}
