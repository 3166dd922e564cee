/*
 * libFuzzer target: a hostile guest against every virtio device through
 * the virtio-mmio transport. The input is a program of guest actions on a
 * 1 MiB guest RAM (the real allocator: anonymous memory between guard
 * pages) shared by five devices: virtio-blk over a memfd image, virtio-net
 * over a socketpair standing in for the TAP (the test end reads what the
 * guest sends and injects frames), virtio-rng, virtio-balloon (whose
 * discards really MADV_DONTNEED the guest RAM) and virtio-mem over a 16 MiB
 * hotplug region at FUZZ_HP_GPA (plugs really populate it, unplugs
 * discard it).
 *
 * Must hold for every input: no crash, no sanitizer report, no leak, no
 * hang (every op is bounded and devices process with budgets).
 *
 * Input (little endian):
 *   0     setup: bit 0 balloon reporting, 1 deflate-on-oom, 2 stats
 *         queue, 3 read-only disk, 4 virtio-mem requests 8 MiB at start
 *   then up to FUZZ_MAX_OPS ops, each an op byte (device d = op & 3:
 *   0 blk, 1 net, 2 rng, 3 balloon, kind = op >> 2; with bit 7 set the
 *   device is virtio-mem and kind = (op >> 2) & 0x1f) and its operands:
 *   kind 0  MMIO write: off le16 (& 0xfff), width byte (1 << b % 4),
 *           value le32
 *   kind 1  MMIO read: off le16, width byte
 *   kind 2  RAM write: gpa le32 (mod RAM size), len byte, len bytes
 *   kind 3  process: the event loop's work for d (queue processing; net:
 *           drain the TAP end and receive; balloon: the stats timer)
 *   kind 4  driver init: feature mask le64 (ANDed with what d offers),
 *           queue size byte (1 << b % 9); status ACK, DRIVER, features,
 *           FEATURES_OK, every queue at FUZZ_RING(d, q), DRIVER_OK
 *   kind 5  post a chain: queue byte, count byte (1 + b % 4), per
 *           descriptor addr le32, len le16, flags byte (bit 0 WRITE, bit
 *           1 INDIRECT, bit 2 no NEXT, bits 4-7 shift len left);
 *           descriptors, avail entry and idx
 *           are written at FUZZ_RING(d, q), then QueueNotify
 *   kind 6  net: a frame from the TAP: len le16 (% 2048), len bytes
 *   kind 7  balloon: set the target, le16 4K pages; mem: set the
 *           requested size, le16 2 MiB blocks
 *   kind 8  balloon: discard gpa le32, len le32 directly
 *   kind 9  reset: status 0
 *   others  nothing
 *
 * Seeds (fuzz/corpus/virtio_dev/, written by fuzz/virtio_dev_seeds.py):
 * per device a driver init and valid requests. VIRTIO_DEV_FUZZ_VERBOSE=1
 * prints each device's status and used counts per queue at the end of an
 * input, to see how deep an input got.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mem.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "lib/log.h"
#include "mem/guest_mem.h"
#include "mem/memmap.h"

#define FUZZ_RAM_SIZE	 0x100000ULL
#define FUZZ_HOLE	 0xc0000000ULL /* no RAM above 1 MiB anyway */
#define FUZZ_DISK_SIZE	 0x10000
#define FUZZ_MAX_OPS	 512
#define FUZZ_MAX_QUEUES	 5
#define FUZZ_MAX_FRAME	 2048
#define FUZZ_MMIO_BASE	 0xd0000000ULL
#define FUZZ_DRAIN_LIMIT 64
#define FUZZ_HP_GPA	 0x8000000ULL
#define FUZZ_HP_SIZE	 0x1000000ULL
/* Rings: device d, queue q: descriptors, then avail, then used, 4 KiB
 * each (room for 256 entries). Buffers go anywhere. */
#define FUZZ_RING(d, q) (0x20000ULL + (d)*0x10000ULL + (q)*0x3000ULL)

enum { FZ_BLK, FZ_NET, FZ_RNG, FZ_BALLOON, FZ_MEM, FZ_NDEV };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem fz_gm;
static int fz_gm_ready, fz_disk = -1;
static char fz_disk_path[64];
static struct virtio_blk fz_blk;
static struct virtio_net fz_net;
static struct virtio_rng fz_rng;
static struct virtio_balloon fz_bl;
static struct virtio_mem fz_mem;
static int fz_peer = -1;
static uint16_t fz_qsize[FZ_NDEV][FUZZ_MAX_QUEUES];
static uint16_t fz_next_desc[FZ_NDEV][FUZZ_MAX_QUEUES];
static unsigned fz_irqs;
static int fz_verbose; /* VIRTIO_DEV_FUZZ_VERBOSE: what each input reached */

/* The input, consumed front to back; reads past the end give zeros. */
struct fz_in {
	const uint8_t *p;
	size_t left;
};

static uint8_t fz_u8(struct fz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t fz_u16(struct fz_in *in)
{
	uint16_t lo = fz_u8(in);

	return (uint16_t)(lo | fz_u8(in) << 8);
}

static uint32_t fz_u32(struct fz_in *in)
{
	uint32_t lo = fz_u16(in);

	return lo | (uint32_t)fz_u16(in) << 16;
}

static void fz_irq_set(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	(void)gsi;
	fz_irqs += level != 0;
}

static void fz_die(const char *what)
{
	fprintf(stderr, "virtio_dev fuzz setup failed: %s\n", what);
	abort();
}

/* Once: the guest RAM and the disk image's memfd. */
static void fz_init_once(void)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE,
				    .backing = REGION_BACKING_ANON};
	struct memmap_info info;
	char err[256];

	if (fz_gm_ready)
		return;
	if (memmap_build(&fz_gm, FUZZ_RAM_SIZE, FUZZ_HOLE, FUZZ_HOLE + 0x1000,
			 &pol, &info, err, sizeof(err)))
		fz_die(err);
	if (memmap_add_hotplug(&fz_gm, FUZZ_HP_GPA, FUZZ_HP_SIZE,
			       REGION_PAGES_BASE, -1, "hp", err, sizeof(err)))
		fz_die(err);
	fz_disk = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (fz_disk < 0)
		fz_die("memfd_create");
	snprintf(fz_disk_path, sizeof(fz_disk_path), "/proc/self/fd/%d",
		 fz_disk);
	/* Device warnings are rate limited, but thousands of runs would
	 * still flood the log: errors only. */
	fz_verbose = getenv("VIRTIO_DEV_FUZZ_VERBOSE") != NULL;
	log_set_level(fz_verbose ? LOG_WARN : LOG_ERR);
	fz_gm_ready = 1;
}

static struct virtio_mmio_dev *fz_dev(unsigned d)
{
	switch (d) {
	case FZ_BLK: return &fz_blk.mmio;
	case FZ_NET: return &fz_net.mmio;
	case FZ_RNG: return &fz_rng.mmio;
	case FZ_MEM: return &fz_mem.mmio;
	default: return &fz_bl.mmio;
	}
}

static void fz_attach(struct virtio_mmio_dev *d, unsigned i)
{
	struct irq_line irq = {
		.set = fz_irq_set, .opaque = NULL, .gsi = 5 + i, .irqfd = -1};

	if (virtio_mmio_attach(d, &fz_gm, FUZZ_MMIO_BASE + 0x1000ULL * i, &irq))
		fz_die("virtio_mmio_attach");
}

static void fz_devices_up(uint8_t setup)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	struct virtio_balloon_cfg bcfg = {
		.reporting = setup & 1,
		.deflate_on_oom = !!(setup & 2),
		.stats_interval = (setup & 4) ? 1 : 0,
	};
	struct virtio_mem_cfg mcfg = {
		.lay = {.addr = FUZZ_HP_GPA,
			.region_size = FUZZ_HP_SIZE,
			.usable_size = FUZZ_HP_SIZE,
			.block_size = 2ULL << 20},
		.requested = (setup & 0x10) ? FUZZ_HP_SIZE / 2 : 0,
	};
	char err[256];
	int sv[2];

	/* A fresh zero RAM and disk per input, so runs are reproducible. */
	memset(fz_gm.regions[0].hva, 0, FUZZ_RAM_SIZE);
	if (ftruncate(fz_disk, 0) || ftruncate(fz_disk, FUZZ_DISK_SIZE))
		fz_die("ftruncate");
	if (virtio_blk_open(&fz_blk, fz_disk_path, setup & 8, err, sizeof(err)))
		fz_die(err);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		fz_die("socketpair");
	fz_peer = sv[1];
	if (virtio_net_open_fd(&fz_net, sv[0], mac, "fuzz"))
		fz_die("virtio_net_open_fd");
	virtio_rng_init(&fz_rng);
	if (virtio_balloon_init(&fz_bl, &bcfg))
		fz_die("virtio_balloon_init");
	if (virtio_mem_init(&fz_mem, &mcfg))
		fz_die("virtio_mem_init");
	for (unsigned i = 0; i < FZ_NDEV; i++)
		fz_attach(fz_dev(i), i);
	memset(fz_qsize, 0, sizeof(fz_qsize));
	memset(fz_next_desc, 0, sizeof(fz_next_desc));
}

/* For checking that the seeds reach deep: each device's status and how
 * many buffers each queue used. */
static void fz_report(void)
{
	static const char *const names[] = {"blk", "net", "rng", "balloon",
					    "mem"};

	for (unsigned di = 0; di < FZ_NDEV; di++) {
		fprintf(stderr, "%s: status %#x irqs %u used", names[di],
			fz_dev(di)->status, fz_irqs);
		for (unsigned q = 0; q < FUZZ_MAX_QUEUES && fz_qsize[di][q];
		     q++) {
			uint8_t b[2] = {0, 0};

			if (guest_mem_read(&fz_gm, FUZZ_RING(di, q) + 0x2002, b,
					   2)) {
			}
			fprintf(stderr, " q%u=%u", q, b[0] | b[1] << 8);
		}
		fputc('\n', stderr);
	}
}

/* The next input starts with every hotplug block unplugged and
 * unbacked, as a fresh VM would. */
static void fz_mem_down(void)
{
	struct region *r = guest_mem_find(&fz_gm, FUZZ_HP_GPA, FUZZ_HP_SIZE);
	uint64_t got;

	virtio_mem_close(&fz_mem);
	if (!r)
		fz_die("hotplug region");
	/* A fresh block map: unplugged, and no pin a queue left behind
	 * (devices are closed here, not reset). */
	if (region_track_plugs(r, 2ULL << 20))
		fz_die("hotplug block map");
	if (region_discard(r, 0, FUZZ_HP_SIZE, &got))
		fz_die("hotplug discard");
}

static void fz_devices_down(void)
{
	if (fz_verbose)
		fz_report();
	virtio_blk_close(&fz_blk);
	virtio_net_close(&fz_net);
	close(fz_peer);
	fz_peer = -1;
	virtio_rng_close(&fz_rng);
	virtio_balloon_close(&fz_bl);
	fz_mem_down();
}

static void fz_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_bus_ops.write(d, off, &v, 4);
}

static uint32_t fz_rd(struct virtio_mmio_dev *d, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_bus_ops.read(d, off, &v, 4);
	return v;
}

static void fz_ram_write(uint64_t gpa, const void *buf, size_t len)
{
	/* Out of RAM: the guest wrote to nothing. */
	if (guest_mem_write(&fz_gm, gpa, buf, len)) {
	}
}

static void fz_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void fz_le32(uint8_t *p, uint32_t v)
{
	fz_le16(p, (uint16_t)v);
	fz_le16(p + 2, (uint16_t)(v >> 16));
}

/* What Linux's virtio-mmio driver does at probe, with the features the
 * input allows. */
static void fz_driver_init(unsigned di, uint64_t mask, uint16_t qsz)
{
	struct virtio_mmio_dev *d = fz_dev(di);
	uint64_t feat;
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	fz_wr(d, VIRTIO_MMIO_REG_STATUS, 0);
	fz_wr(d, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	fz_wr(d, VIRTIO_MMIO_REG_STATUS, st);
	fz_wr(d, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	feat = fz_rd(d, VIRTIO_MMIO_REG_DEVICE_FEATURES);
	fz_wr(d, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 1);
	feat |= (uint64_t)fz_rd(d, VIRTIO_MMIO_REG_DEVICE_FEATURES) << 32;
	feat &= mask;
	fz_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	fz_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, (uint32_t)feat);
	fz_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	fz_wr(d, VIRTIO_MMIO_REG_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	st |= VIRTIO_STATUS_FEATURES_OK;
	fz_wr(d, VIRTIO_MMIO_REG_STATUS, st);
	for (unsigned q = 0; q < FUZZ_MAX_QUEUES; q++) {
		uint64_t ring = FUZZ_RING(di, q);
		uint32_t max;
		uint16_t n;

		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_SEL, q);
		max = fz_rd(d, VIRTIO_MMIO_REG_QUEUE_NUM_MAX);
		if (!max)
			break;
		n = qsz < max ? qsz : (uint16_t)max;
		fz_qsize[di][q] = n;
		fz_next_desc[di][q] = 0;
		if (guest_mem_ptr(&fz_gm, ring, 0x3000))
			memset(guest_mem_ptr(&fz_gm, ring, 0x3000), 0, 0x3000);
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_NUM, n);
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_LOW, (uint32_t)ring);
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, 0);
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW,
		      (uint32_t)(ring + 0x1000));
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH, 0);
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW,
		      (uint32_t)(ring + 0x2000));
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH, 0);
		fz_wr(d, VIRTIO_MMIO_REG_QUEUE_READY, 1);
	}
	fz_wr(d, VIRTIO_MMIO_REG_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
}

/* Descriptors at the queue's next slots, one avail entry, QueueNotify. */
static void fz_post(unsigned di, struct fz_in *in)
{
	unsigned q = fz_u8(in) % FUZZ_MAX_QUEUES, n = 1 + fz_u8(in) % 4;
	uint16_t qsz = fz_qsize[di][q] ? fz_qsize[di][q] : 16;
	uint64_t ring = FUZZ_RING(di, q);
	uint16_t head = (uint16_t)(fz_next_desc[di][q] % qsz), idx;
	uint8_t desc[16], b[2];

	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)((head + i) % qsz);
		uint32_t addr = fz_u32(in), len = fz_u16(in);
		uint8_t fl = fz_u8(in);
		uint16_t flags = 0;

		len <<= fl >> 4; /* up to 2 GiB: a reporting block is 2 MiB */

		if (fl & 1)
			flags |= VIRTQ_DESC_F_WRITE;
		if (fl & 2)
			flags |= VIRTQ_DESC_F_INDIRECT;
		if (i + 1 < n && !(fl & 4))
			flags |= VIRTQ_DESC_F_NEXT;
		fz_le32(desc, addr);
		fz_le32(desc + 4, 0);
		fz_le32(desc + 8, len);
		fz_le16(desc + 12, flags);
		fz_le16(desc + 14, (uint16_t)((slot + 1) % qsz));
		fz_ram_write(ring + 16ULL * slot, desc, sizeof(desc));
	}
	fz_next_desc[di][q] = (uint16_t)((head + n) % qsz);
	/* The avail index as the guest memory has it now (the input may
	 * have scribbled over it). */
	if (guest_mem_read(&fz_gm, ring + 0x1000 + 2, b, 2))
		return;
	idx = (uint16_t)(b[0] | b[1] << 8);
	fz_le16(b, head);
	fz_ram_write(ring + 0x1000 + 4 + 2ULL * (idx % qsz), b, 2);
	fz_le16(b, (uint16_t)(idx + 1));
	fz_ram_write(ring + 0x1000 + 2, b, 2);
	fz_wr(fz_dev(di), VIRTIO_MMIO_REG_QUEUE_NOTIFY, q);
}

/* What the event loop does for device di. */
static void fz_process(unsigned di)
{
	uint8_t buf[VIRTIO_NET_HDR_SIZE + FUZZ_MAX_FRAME];

	virtio_mmio_process(fz_dev(di));
	if (di == FZ_NET) {
		/* Read what the guest transmitted, so the socket never fills;
		 * then receive whatever waits. */
		for (unsigned i = 0; i < FUZZ_DRAIN_LIMIT; i++)
			if (recv(fz_peer, buf, sizeof(buf), MSG_DONTWAIT) < 0)
				break;
		virtio_net_rx(&fz_net);
	} else if (di == FZ_BALLOON) {
		virtio_balloon_timer(&fz_bl);
	}
}

static void fz_op(uint8_t op, struct fz_in *in)
{
	unsigned di = (op & 0x80) ? FZ_MEM : op & 3U;
	unsigned kind = (op & 0x80) ? (op >> 2) & 0x1fU : op >> 2U;
	struct virtio_mmio_dev *d = fz_dev(di);
	uint8_t buf[VIRTIO_NET_HDR_SIZE + FUZZ_MAX_FRAME];
	uint64_t v64;

	switch (kind) {
	case 0: {
		uint16_t off = fz_u16(in) & 0xfff;
		uint32_t w = 1u << (fz_u8(in) % 4), v = fz_u32(in);

		v64 = (uint64_t)v << 32 | v;
		virtio_mmio_bus_ops.write(d, off, &v64, w);
		break;
	}
	case 1: {
		uint16_t off = fz_u16(in) & 0xfff;
		uint32_t w = 1u << (fz_u8(in) % 4);

		v64 = 0;
		virtio_mmio_bus_ops.read(d, off, &v64, w);
		break;
	}
	case 2: {
		uint64_t gpa = fz_u32(in) % FUZZ_RAM_SIZE;
		size_t len = fz_u8(in);

		len = len < in->left ? len : in->left;
		fz_ram_write(gpa, in->p, len);
		in->p += len;
		in->left -= len;
		break;
	}
	case 3: fz_process(di); break;
	case 4: {
		uint64_t mask = fz_u32(in);

		mask |= (uint64_t)fz_u32(in) << 32;
		fz_driver_init(di, mask, (uint16_t)(1u << (fz_u8(in) % 9)));
		break;
	}
	case 5: fz_post(di, in); break;
	case 6: {
		size_t len = fz_u16(in) % FUZZ_MAX_FRAME, n;

		n = len < in->left ? len : in->left;
		memset(buf, 0, VIRTIO_NET_HDR_SIZE + len);
		memcpy(buf + VIRTIO_NET_HDR_SIZE, in->p, n);
		in->p += n;
		in->left -= n;
		if (send(fz_peer, buf, VIRTIO_NET_HDR_SIZE + len,
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* Full: the device has not read the last ones. */
		}
		virtio_net_rx(&fz_net);
		break;
	}
	case 7:
		if (di == FZ_MEM) {
			if (virtio_mem_set_requested(
				    &fz_mem, (uint64_t)fz_u16(in) << 21)) {
				/* Beyond the region: refused. */
			}
			break;
		}
		if (virtio_balloon_set_target(&fz_bl, (uint64_t)fz_u16(in)
							      << 12)) {
			/* More than RAM: refused, as the control socket
			 * would say. */
		}
		break;
	case 8: {
		uint64_t gpa = fz_u32(in), len = fz_u32(in), got;

		virtio_mmio_lock(&fz_bl.mmio);
		if (virtio_balloon_discard(&fz_bl, gpa, len, &got)) {
			/* Not all RAM: the RAM parts were discarded. */
		}
		virtio_mmio_unlock(&fz_bl.mmio);
		break;
	}
	case 9: fz_wr(d, VIRTIO_MMIO_REG_STATUS, 0); break;
	default: break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {.p = data, .left = size};

	if (!size)
		return 0;
	fz_init_once();
	fz_devices_up(fz_u8(&in));
	for (unsigned i = 0; i < FUZZ_MAX_OPS && in.left; i++)
		fz_op(fz_u8(&in), &in);
	/* Whatever the guest left queued is served once more, as the event
	 * loop would before exit. */
	for (unsigned di = 0; di < FZ_NDEV; di++)
		fz_process(di);
	fz_devices_down();
	return 0;
}
