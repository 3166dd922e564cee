/*
 * virtio-mmio transport tests, and the small guest-driver emulation
 * (vtest_*) that the virtio device tests share: test RAM, register
 * accessors, the driver init sequence, and ring helpers.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio_mmio.h"
#include "tests/harness/harness.h"

#include "tests/unit/vtest.h"

static struct guest_mem vtest_gm;
static uint8_t *vtest_mem;
static uint16_t vtest_avail_idx[VIRTIO_MMIO_MAX_QUEUES];
static int vtest_level;
static unsigned vtest_raised;

static uint64_t vtest_desc_gpa(unsigned q)
{
	return VTEST_RAM_BASE + q * 0x4000ULL;
}

static uint64_t vtest_avail_gpa(unsigned q)
{
	return vtest_desc_gpa(q) + 0x1000;
}

static uint64_t vtest_used_gpa(unsigned q)
{
	return vtest_desc_gpa(q) + 0x2000;
}

struct guest_mem *vtest_ram(void)
{
	vtest_mem = mmap(NULL, VTEST_RAM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(vtest_mem, MAP_FAILED);
	memset(&vtest_gm, 0, sizeof(vtest_gm));
	vtest_gm.nr = 1;
	vtest_gm.regions[0] = (struct region){.gpa = VTEST_RAM_BASE,
					      .size = VTEST_RAM_SIZE,
					      .hva = vtest_mem};
	memset(vtest_avail_idx, 0, sizeof(vtest_avail_idx));
	vtest_level = 0;
	vtest_raised = 0;
	return &vtest_gm;
}

void vtest_ram_free(void)
{
	munmap(vtest_mem, VTEST_RAM_SIZE);
}

void *vtest_gpa(uint64_t gpa)
{
	ck_assert(gpa >= VTEST_RAM_BASE &&
		  gpa < VTEST_RAM_BASE + VTEST_RAM_SIZE);
	return vtest_mem + (gpa - VTEST_RAM_BASE);
}

uint32_t vtest_rd(struct virtio_mmio_dev *d, uint64_t off)
{
	uint32_t v;

	virtio_mmio_bus_ops.read(d, off, &v, 4);
	return v;
}

void vtest_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(d, off, &v, 4);
}

static void vtest_irq_set(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	ck_assert_uint_eq(gsi, 7);
	if (level && !vtest_level)
		vtest_raised++;
	vtest_level = level;
}

/* A level-mode line (no irqfd) on gsi 7 that records what it sees. */
void vtest_irq(struct irq_line *l)
{
	*l = (struct irq_line){
		.set = vtest_irq_set, .opaque = NULL, .gsi = 7, .irqfd = -1};
}

int vtest_irq_level(void)
{
	return vtest_level;
}

unsigned vtest_irq_raised(void)
{
	return vtest_raised;
}

/* The Linux driver's sequence: ACKNOWLEDGE, DRIVER, features, FEATURES_OK,
 * queues 0..nq-1 at VTEST_QSZ entries, DRIVER_OK. Returns the status. */
uint32_t vtest_driver_init(struct virtio_mmio_dev *d, uint64_t features,
			   unsigned nq)
{
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, (uint32_t)features);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES,
		 (uint32_t)(features >> 32));
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK);
	if (!(vtest_rd(d, VIRTIO_MMIO_REG_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return vtest_rd(d, VIRTIO_MMIO_REG_STATUS);
	for (unsigned q = 0; q < nq; q++) {
		memset(vtest_gpa(vtest_desc_gpa(q)), 0, 0x4000);
		vtest_avail_idx[q] = 0;
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, q);
		ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_READY), 0);
		ck_assert_uint_ge(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_NUM_MAX),
				  VTEST_QSZ);
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, VTEST_QSZ);
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_LOW,
			 (uint32_t)vtest_desc_gpa(q));
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, 0);
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW,
			 (uint32_t)vtest_avail_gpa(q));
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH, 0);
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW,
			 (uint32_t)vtest_used_gpa(q));
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH, 0);
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_READY, 1);
	}
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return vtest_rd(d, VIRTIO_MMIO_REG_STATUS);
}

void vtest_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len,
		uint16_t flags, uint16_t next)
{
	uint8_t *p = vtest_gpa(vtest_desc_gpa(q) + 16ULL * i);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

void vtest_avail(unsigned q, uint16_t head)
{
	uint16_t *ring = vtest_gpa(vtest_avail_gpa(q));
	uint16_t i = vtest_avail_idx[q]++;

	ring[2 + i % VTEST_QSZ] = htole16(head);
	__atomic_store_n(&ring[1], htole16(vtest_avail_idx[q]),
			 __ATOMIC_RELEASE);
}

uint16_t vtest_used_idx(unsigned q)
{
	uint16_t *used = vtest_gpa(vtest_used_gpa(q));

	return le16toh(__atomic_load_n(&used[1], __ATOMIC_ACQUIRE));
}

uint32_t vtest_used_id(unsigned q, uint16_t slot)
{
	uint32_t *e =
		vtest_gpa(vtest_used_gpa(q) + 4 + 8ULL * (slot % VTEST_QSZ));

	return le32toh(e[0]);
}

uint32_t vtest_used_len(unsigned q, uint16_t slot)
{
	uint32_t *e =
		vtest_gpa(vtest_used_gpa(q) + 4 + 8ULL * (slot % VTEST_QSZ));

	return le32toh(e[1]);
}

/* ---- the transport tests, with a dummy two-queue device ---- */

#define TDEV_ID	       42
#define TDEV_FEATURE_X 3 /* a device feature bit it offers */
#define VERSION_1      (1ULL << VIRTIO_F_VERSION_1)

struct tdev {
	struct virtio_mmio_dev mmio;
	unsigned notified[2];
	unsigned resets, activations;
	int fail_activate;
	uint8_t cfg[6];
	struct virtq_chain ch;
};

static void tdev_config_read(void *opaque, uint64_t off, void *data,
			     uint32_t len)
{
	struct tdev *t = opaque;

	virtio_mmio_config_copy(t->cfg, sizeof(t->cfg), off, data, len);
}

static void tdev_notify(void *opaque, unsigned q)
{
	struct tdev *t = opaque;
	struct virtq *vq = virtio_mmio_queue(&t->mmio, q);
	int r;

	t->notified[q]++;
	while ((r = virtq_pop(vq, &t->ch)) > 0)
		virtq_push(vq, t->ch.head, (uint32_t)t->ch.in_len);
	if (r < 0)
		virtio_mmio_fail(&t->mmio, vq->err);
	virtio_mmio_used(&t->mmio, q);
}

static void tdev_reset(void *opaque)
{
	((struct tdev *)opaque)->resets++;
}

static int tdev_activate(void *opaque)
{
	struct tdev *t = opaque;

	t->activations++;
	return t->fail_activate ? -EIO : 0;
}

static const struct virtio_mmio_ops tdev_ops = {
	.device_id = TDEV_ID,
	.num_queues = 2,
	.queue_max = 64,
	.config_read = tdev_config_read,
	.notify = tdev_notify,
	.reset = tdev_reset,
	.activate = tdev_activate,
};

static struct tdev td;
static struct guest_mem *tgm;

static void mmio_setup(void)
{
	struct irq_line irq;

	tgm = vtest_ram();
	memset(&td, 0, sizeof(td));
	memcpy(td.cfg, "\x01\x02\x03\x04\x05\x06", 6);
	virtio_mmio_init(&td.mmio, &tdev_ops, &td, "tdev",
			 (1ULL << TDEV_FEATURE_X) |
				 (1ULL << VIRTIO_F_RING_EVENT_IDX) |
				 (1ULL << 40)); /* not a transport feature */
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&td.mmio, tgm, 0xc0002000, &irq),
			 0);
}

static void mmio_teardown(void)
{
	virtio_mmio_destroy(&td.mmio);
	vtest_ram_free();
}

static int event_pending(void)
{
	struct pollfd p = {.fd = virtio_mmio_event_fd(&td.mmio),
			   .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

START_TEST(mmio_id_registers)
{
	struct virtio_mmio_dev *d = &td.mmio;

	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_MAGIC), 0x74726976);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_VERSION), 2);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_DEVICE_ID), TDEV_ID);
	ck_assert_uint_ne(vtest_rd(d, VIRTIO_MMIO_REG_VENDOR_ID), 0);
	vtest_wr(d, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_DEVICE_FEATURES),
			  (1U << TDEV_FEATURE_X) |
				  (1U << VIRTIO_F_RING_EVENT_IDX));
	vtest_wr(d, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 1);
	/* VERSION_1 always; bit 40 is not something the transport does. */
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_DEVICE_FEATURES), 1);
	vtest_wr(d, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 2);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_DEVICE_FEATURES), 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 1);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), 64);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 2); /* no such queue */
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_NUM_MAX), 0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_SHM_LEN_LOW), 0xffffffff);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_CONFIG_GENERATION), 0);
	/* Sub-word register reads are refused (zeros), not misread. */
	{
		uint16_t h = 0xffff;

		virtio_mmio_bus_ops.read(d, VIRTIO_MMIO_REG_MAGIC, &h, 2);
		ck_assert_uint_eq(h, 0);
	}
}
END_TEST

START_TEST(mmio_config_space)
{
	uint8_t b[8];
	uint32_t w;

	virtio_mmio_bus_ops.read(&td.mmio, 0x100 + 1, b, 1);
	ck_assert_uint_eq(b[0], 2);
	virtio_mmio_bus_ops.read(&td.mmio, 0x100 + 4, &w, 4);
	ck_assert_uint_eq(w, 0x0605); /* zeros past the end */
	virtio_mmio_bus_ops.read(&td.mmio, 0x200, &w, 4);
	ck_assert_uint_eq(w, 0);
	/* Writes to a read-only config space change nothing. */
	w = 0xffffffff;
	virtio_mmio_bus_ops.write(&td.mmio, 0x100, &w, 4);
	virtio_mmio_bus_ops.read(&td.mmio, 0x100, b, 1);
	ck_assert_uint_eq(b[0], 1);
}
END_TEST

START_TEST(mmio_features)
{
	struct virtio_mmio_dev *d = &td.mmio;
	const uint32_t ad = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	/* Without VERSION_1: FEATURES_OK does not stick. */
	ck_assert_uint_eq(vtest_driver_init(d, 1ULL << TDEV_FEATURE_X, 2), ad);
	/* A feature the device does not offer: refused too. */
	ck_assert_uint_eq(vtest_driver_init(d, VERSION_1 | (1ULL << 7), 2), ad);
	ck_assert_uint_eq(vtest_driver_init(d, VERSION_1 | (1ULL << 40), 2),
			  ad);
	/* A subset with VERSION_1 is accepted. */
	ck_assert_uint_eq(
		vtest_driver_init(d, VERSION_1 | (1ULL << TDEV_FEATURE_X), 2),
		ad | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	ck_assert_int_eq(virtio_mmio_negotiated(d, TDEV_FEATURE_X), 1);
	ck_assert_int_eq(virtio_mmio_negotiated(d, VIRTIO_F_RING_EVENT_IDX), 0);
	ck_assert_uint_eq(td.activations, 1);
	/* Features cannot change after FEATURES_OK. */
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES,
		 1U << VIRTIO_F_RING_EVENT_IDX);
	ck_assert_int_eq(virtio_mmio_negotiated(d, VIRTIO_F_RING_EVENT_IDX), 0);
	ck_assert_int_eq(virtio_mmio_negotiated(d, TDEV_FEATURE_X), 1);
}
END_TEST

/* FEATURES_OK and DRIVER_OK in one write, with features the device
 * refuses: neither sticks and the device never goes live. */
START_TEST(mmio_refused_features_not_live)
{
	struct virtio_mmio_dev *d = &td.mmio;
	const uint32_t ad = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, ad);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, 1U << TDEV_FEATURE_X);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	vtest_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, 0); /* no VERSION_1 */
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 ad | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS), ad);
	ck_assert_int_eq(virtio_mmio_live(d), 0);
	ck_assert_uint_eq(td.activations, 0);
}
END_TEST

START_TEST(mmio_status_order)
{
	struct virtio_mmio_dev *d = &td.mmio;

	/* FEATURES_OK before DRIVER, DRIVER_OK before FEATURES_OK. */
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FEATURES_OK);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS), 0);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS),
			  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* Clearing a bit without a reset is ignored. */
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS),
			  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* The driver cannot set DEVICE_NEEDS_RESET. */
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS),
			  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	ck_assert_uint_eq(td.activations, 0);
	/* A failed activation marks the device as needing a reset. */
	td.fail_activate = 1;
	ck_assert_uint_ne(vtest_driver_init(d, VERSION_1, 2) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  0);
}
END_TEST

START_TEST(mmio_queue_setup)
{
	struct virtio_mmio_dev *d = &td.mmio;

	ck_assert_uint_eq(vtest_driver_init(d, VERSION_1, 2) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_READY), 1);
	ck_assert_uint_eq(virtio_mmio_queue(d, 0)->size, VTEST_QSZ);
	/* Writes to a ready queue's configuration are ignored. */
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, 32);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_LOW, 0x1234000);
	ck_assert_uint_eq(d->queues[0].num, VTEST_QSZ);
	ck_assert_uint_eq(d->queues[0].desc, VTEST_RAM_BASE);
	/* Disable queue 1, then bad sizes are refused, good ones kept. */
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 1);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_READY, 0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, 24);
	ck_assert_uint_eq(d->queues[1].num, VTEST_QSZ);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, 128); /* > QueueNumMax */
	ck_assert_uint_eq(d->queues[1].num, VTEST_QSZ);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, 0);
	ck_assert_uint_eq(d->queues[1].num, VTEST_QSZ);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, 8);
	ck_assert_uint_eq(d->queues[1].num, 8);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, 0x1);
	ck_assert_uint_eq(d->queues[1].desc,
			  0x100000000ULL + VTEST_RAM_BASE + 0x4000);
	/* Readying a queue whose rings are outside RAM fails the device. */
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_READY, 1);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_READY), 0);
	ck_assert_uint_ne(vtest_rd(d, VIRTIO_MMIO_REG_STATUS) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  0);
	/* Out-of-range QueueSel: queue writes go nowhere. */
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, 9);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, 4);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_READY, 1);
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		ck_assert_uint_ne(d->queues[i].num, 4);
}
END_TEST

START_TEST(mmio_notify_and_interrupt)
{
	struct virtio_mmio_dev *d = &td.mmio;

	vtest_driver_init(d, VERSION_1, 2);
	/* DRIVER_OK itself schedules a pass over the queues. */
	ck_assert(event_pending());
	virtio_mmio_process(d);
	ck_assert(!event_pending());
	ck_assert_int_eq(vtest_irq_level(), 0);

	vtest_desc(1, 0, VTEST_DATA, 100, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(1, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 1);
	/* The vCPU side only signals; nothing is processed yet. */
	ck_assert(event_pending());
	ck_assert_uint_eq(vtest_used_idx(1), 0);
	virtio_mmio_process(d);
	ck_assert(!event_pending());
	ck_assert_uint_eq(vtest_used_idx(1), 1);
	ck_assert_uint_eq(vtest_used_len(1, 0), 100);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS),
			  VIRTIO_MMIO_INT_VRING);
	ck_assert_int_eq(vtest_irq_level(), 1);
	vtest_wr(d, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	ck_assert_int_eq(vtest_irq_level(), 0);
	/* Notify for a queue that does not exist: nothing happens. */
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 5);
	ck_assert(!event_pending());
}
END_TEST

START_TEST(mmio_irqfd)
{
	struct virtio_mmio_dev *d = &td.mmio;
	uint64_t n = 0;
	int efd = eventfd(0, EFD_NONBLOCK);

	ck_assert_int_ge(efd, 0);
	d->irq.irqfd = efd;
	vtest_driver_init(d, VERSION_1, 2);
	vtest_desc(0, 3, VTEST_DATA, 8, 0, 0);
	vtest_avail(0, 3);
	virtio_mmio_process(d);
	ck_assert_int_eq(read(efd, &n, sizeof(n)), sizeof(n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(vtest_irq_level(), 0); /* the line is not used */
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 1);
	close(efd);
	d->irq.irqfd = -1;
}
END_TEST

START_TEST(mmio_bad_chain_needs_reset)
{
	struct virtio_mmio_dev *d = &td.mmio;

	vtest_driver_init(d, VERSION_1, 2);
	virtio_mmio_process(d);
	/* A descriptor loop. */
	vtest_desc(0, 0, VTEST_DATA, 8, VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(0, 1, VTEST_DATA, 8, VIRTQ_DESC_F_NEXT, 0);
	vtest_avail(0, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	virtio_mmio_process(d);
	ck_assert_uint_ne(vtest_rd(d, VIRTIO_MMIO_REG_STATUS) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS) &
				  VIRTIO_MMIO_INT_CONFIG,
			  VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(vtest_irq_level(), 1);
	ck_assert_int_eq(virtio_mmio_live(d), 0);
	/* Stopped: another good buffer on the other queue is not served. */
	td.notified[0] = td.notified[1] = 0;
	vtest_desc(1, 0, VTEST_DATA, 8, 0, 0);
	vtest_avail(1, 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 1);
	virtio_mmio_process(d);
	ck_assert_uint_eq(td.notified[0] + td.notified[1], 0);
	ck_assert_uint_eq(vtest_used_idx(1), 0);
	/* The driver resets: the device works again. */
	ck_assert_uint_eq(vtest_driver_init(d, VERSION_1, 2),
			  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK |
				  VIRTIO_STATUS_DRIVER_OK);
	ck_assert_int_eq(vtest_irq_level(), 0);
	vtest_desc(1, 0, VTEST_DATA, 8, 0, 0);
	vtest_avail(1, 0);
	virtio_mmio_process(d);
	ck_assert_uint_eq(vtest_used_idx(1), 1);
}
END_TEST

START_TEST(mmio_reset_clears)
{
	struct virtio_mmio_dev *d = &td.mmio;

	vtest_driver_init(d, VERSION_1 | (1ULL << TDEV_FEATURE_X), 2);
	vtest_desc(0, 0, VTEST_DATA, 8, 0, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(d);
	ck_assert_int_eq(vtest_irq_level(), 1);
	td.resets = 0;
	vtest_wr(d, VIRTIO_MMIO_REG_STATUS, 0);
	ck_assert_uint_eq(td.resets, 1);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS), 0);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS), 0);
	ck_assert_int_eq(vtest_irq_level(), 0);
	ck_assert_int_eq(virtio_mmio_negotiated(d, TDEV_FEATURE_X), 0);
	for (unsigned q = 0; q < 2; q++) {
		vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, q);
		ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_QUEUE_READY), 0);
		ck_assert_int_eq(virtq_ready(virtio_mmio_queue(d, q)), 0);
		ck_assert_uint_eq(d->queues[q].desc, 0);
	}
	/* The VMM's bus reset does the same. */
	vtest_driver_init(d, VERSION_1, 2);
	td.resets = 0;
	virtio_mmio_bus_ops.reset(d);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_STATUS), 0);
	ck_assert_uint_eq(td.resets, 1);
}
END_TEST

START_TEST(mmio_cmdline)
{
	char buf[64];

	ck_assert_int_eq(virtio_mmio_cmdline(&td.mmio, buf, sizeof(buf)),
			 (int)strlen("virtio_mmio.device=4K@0xc0002000:7"));
	ck_assert_str_eq(buf, "virtio_mmio.device=4K@0xc0002000:7");
	ck_assert_int_eq(virtio_mmio_cmdline(&td.mmio, buf, 10), -ENOSPC);
}
END_TEST

START_TEST(mmio_config_changed)
{
	struct virtio_mmio_dev *d = &td.mmio;

	vtest_driver_init(d, VERSION_1, 2);
	virtio_mmio_lock(d);
	virtio_mmio_config_changed(d);
	virtio_mmio_unlock(d);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_CONFIG_GENERATION), 1);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS),
			  VIRTIO_MMIO_INT_CONFIG);
}
END_TEST

START_TEST(mmio_hot_registers_lock_free)
{
	struct virtio_mmio_dev *d = &td.mmio;

	vtest_driver_init(d, VERSION_1, 2);
	vtest_desc(0, 0, VTEST_DATA, 8, 0, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(d);
	/* While the event loop holds the device (say, in a long disk
	 * write), a vCPU can still notify, read and ack interrupts. With a
	 * non-recursive lock held here, taking it would hang the test. */
	virtio_mmio_lock(d);
	ck_assert_uint_eq(vtest_rd(d, VIRTIO_MMIO_REG_INTERRUPT_STATUS),
			  VIRTIO_MMIO_INT_VRING);
	vtest_wr(d, VIRTIO_MMIO_REG_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert_int_eq(vtest_irq_level(), 0);
	vtest_wr(d, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	virtio_mmio_unlock(d);
	ck_assert(event_pending());
}
END_TEST

Suite *virtio_mmio_suite(void);
Suite *virtio_mmio_suite(void)
{
	Suite *s = suite_create("virtio_mmio");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, mmio_setup, mmio_teardown);
	tcase_add_test(tc, mmio_id_registers);
	tcase_add_test(tc, mmio_config_space);
	tcase_add_test(tc, mmio_features);
	tcase_add_test(tc, mmio_refused_features_not_live);
	tcase_add_test(tc, mmio_status_order);
	tcase_add_test(tc, mmio_queue_setup);
	tcase_add_test(tc, mmio_notify_and_interrupt);
	tcase_add_test(tc, mmio_irqfd);
	tcase_add_test(tc, mmio_bad_chain_needs_reset);
	tcase_add_test(tc, mmio_reset_clears);
	tcase_add_test(tc, mmio_cmdline);
	tcase_add_test(tc, mmio_config_changed);
	tcase_add_test(tc, mmio_hot_registers_lock_free);
	suite_add_tcase(s, tc);
	return s;
}
