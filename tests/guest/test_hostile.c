/*
 * A hostile guest on this machine's KVM: real virtio-rng and virtio-blk on
 * the MMIO bus (attached as vmm/machine.c does, once with notifications and
 * interrupts through the VMM as with MICROVM_NO_IOEVENTFD/NO_IRQFD, once
 * through ioeventfd and irqfd; a poller thread stands in for the event
 * loop), and a payload that misuses them every way it can: garbage
 * in every register of the 4 KiB slots, narrow and misaligned accesses,
 * reads of write-only registers and of config space nobody initialized,
 * queues in the MMIO gap, beyond RAM and wrapping, descriptor loops,
 * over-long indirect tables, runaway available indices, buffers in the gap,
 * out-of-range heads, status bits cleared without a reset, refused
 * features in a loop, and accesses to unclaimed ports and addresses.
 *
 * The payload is a tiny interpreter (flat 32-bit protected mode, the only
 * mode this host's paravirtual KVM runs reliably) that executes a script of
 * {op, addr, value} triples the test builds in guest RAM: every access is
 * made by the vCPU itself. Phases report progress on a test port.
 *
 * Asserted: the VMM (this process) stays up and the payload finishes; each
 * device ends in DEVICE_NEEDS_RESET; each class of misuse is logged once
 * per device (stderr is captured) and the log stays bounded; and a clean
 * payload then drives both devices correctly on a fresh VM. A third VM
 * runs virtio-mem over a hotplug memory slot: a driver without the feature
 * it requires is refused, a plugged block is memory the guest writes, and
 * garbage requests are answered ERROR or NACK or stop the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/layout.h"
#include "arch/x86/regs.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mem.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_rng.h"
#include "lib/log.h"
#include "tests/guest/testvm.h"
#include "tests/harness/harness.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define HP_CODE_GPA	 0x1000
#define HP_BUDGET_GPA	 0xffc /* the wait op's read budget */
#define HP_WAIT_BUDGET	 2000000
#define HP_RESULT_GPA	 0x20000 /* 4 KiB of read results per device */
#define HP_MISC_GPA	 0x30000 /* read results of the unclaimed phase */
#define HP_SCRIPT_GPA	 0x100000
#define HP_SCRIPT_MAX	 16384 /* ops */
#define HP_QUEUE_GPA(i)	 (0x400000U + (uint32_t)(i)*0x100000U)
#define HP_AVAIL	 0x1000 /* offsets inside a device's queue area */
#define HP_USED		 0x2000
#define HP_INDIRECT	 0x3000
#define HP_BUF		 0x10000
#define HP_PORT		 0x500 /* write: progress marker */
#define HP_STOP_PORT	 0x501 /* write: payload done */
#define HP_TIMEOUT_PORT	 0x502 /* write: a wait op gave up */
#define HP_DISK_SECTORS	 128
#define HP_NR_DEVS	 2
#define HP_MARK_DONE	 0xff
#define HP_STATUS_OFF(i) (0x800 + (i)*4) /* final status, in misc */
#define HP_BLK_IOERR_OFF 0x900		 /* status byte, then status */

/* The interpreter: esi points at 12-byte ops {op, addr, val}; assembled
 * with `as --32` from the listing in the comments. */
enum hp_op {
	HP_END = 0,  /* out HP_STOP_PORT; hlt */
	HP_W32 = 1,  /* mov [addr], val */
	HP_R32 = 2,  /* mov eax, [addr]; mov [val], eax */
	HP_W8 = 3,   /* mov byte [addr], val */
	HP_W16 = 4,  /* mov word [addr], val */
	HP_R8 = 5,   /* mov al, [addr]; mov [val], al */
	HP_OUTB = 6, /* out addr, val */
	HP_INB = 7,  /* in al, addr; mov [val], al */
	HP_WAIT = 8, /* spin until [addr] & val, at most [HP_BUDGET_GPA]
		      * reads, then out HP_TIMEOUT_PORT */
	HP_R16 = 9,  /* mov ax, [addr]; mov [val], ax */
};

static const uint8_t hp_code[] = {
	/* next: */
	0x8b, 0x06,		/* 00 mov eax, [esi] */
	0x8b, 0x5e, 0x04,	/* 02 mov ebx, [esi+4] */
	0x8b, 0x4e, 0x08,	/* 05 mov ecx, [esi+8] */
	0x83, 0xc6, 0x0c,	/* 08 add esi, 12 */
	0x83, 0xf8, 0x01,	/* 0b cmp eax, 1 */
	0x74, 0x32,		/* 0e je w32 (42) */
	0x83, 0xf8, 0x02,	/* 10 cmp eax, 2 */
	0x74, 0x31,		/* 13 je r32 (46) */
	0x83, 0xf8, 0x03,	/* 15 cmp eax, 3 */
	0x74, 0x32,		/* 18 je w8 (4c) */
	0x83, 0xf8, 0x04,	/* 1a cmp eax, 4 */
	0x74, 0x31,		/* 1d je w16 (50) */
	0x83, 0xf8, 0x05,	/* 1f cmp eax, 5 */
	0x74, 0x31,		/* 22 je r8 (55) */
	0x83, 0xf8, 0x06,	/* 24 cmp eax, 6 */
	0x74, 0x3a,		/* 27 je outb (63) */
	0x83, 0xf8, 0x07,	/* 29 cmp eax, 7 */
	0x74, 0x3c,		/* 2c je inb (6a) */
	0x83, 0xf8, 0x08,	/* 2e cmp eax, 8 */
	0x74, 0x3e,		/* 31 je wait (71) */
	0x83, 0xf8, 0x09,	/* 33 cmp eax, 9 */
	0x74, 0x23,		/* 36 je r16 (5b) */
	0x66, 0xba, 0x01, 0x05, /* 38 mov dx, 0x501 */
	0x30, 0xc0,		/* 3c xor al, al */
	0xee,			/* 3e out dx, al */
	0xf4,			/* 3f hlt */
	0xeb, 0xfd,		/* 40 jmp 3f */
	/* w32: */
	0x89, 0x0b, /* 42 mov [ebx], ecx */
	0xeb, 0xba, /* 44 jmp next */
	/* r32: */
	0x8b, 0x03, /* 46 mov eax, [ebx] */
	0x89, 0x01, /* 48 mov [ecx], eax */
	0xeb, 0xb4, /* 4a jmp next */
	/* w8: */
	0x88, 0x0b, /* 4c mov [ebx], cl */
	0xeb, 0xb0, /* 4e jmp next */
	/* w16: */
	0x66, 0x89, 0x0b, /* 50 mov [ebx], cx */
	0xeb, 0xab,	  /* 53 jmp next */
	/* r8: */
	0x8a, 0x03, /* 55 mov al, [ebx] */
	0x88, 0x01, /* 57 mov [ecx], al */
	0xeb, 0xa5, /* 59 jmp next */
	/* r16: */
	0x66, 0x8b, 0x03, /* 5b mov ax, [ebx] */
	0x66, 0x89, 0x01, /* 5e mov [ecx], ax */
	0xeb, 0x9d,	  /* 61 jmp next */
	/* outb: */
	0x89, 0xda, /* 63 mov edx, ebx */
	0x88, 0xc8, /* 65 mov al, cl */
	0xee,	    /* 67 out dx, al */
	0xeb, 0x96, /* 68 jmp next */
	/* inb: */
	0x89, 0xda, /* 6a mov edx, ebx */
	0xec,	    /* 6c in al, dx */
	0x88, 0x01, /* 6d mov [ecx], al */
	0xeb, 0x8f, /* 6f jmp next */
	/* wait: */
	0x8b, 0x3d, 0xfc, 0x0f, 0x00, 0x00, /* 71 mov edi, [0xffc] */
	0x8b, 0x03,			    /* 77 1: mov eax, [ebx] */
	0x85, 0xc8,			    /* 79 test eax, ecx */
	0x75, 0x83,			    /* 7b jnz next */
	0x4f,				    /* 7d dec edi */
	0x75, 0xf7,			    /* 7e jnz 1b */
	0x66, 0xba, 0x02, 0x05,		    /* 80 mov dx, 0x502 */
	0xb0, 0xee,			    /* 84 mov al, 0xee */
	0xee,				    /* 86 out dx, al */
	0xe9, 0x74, 0xff, 0xff, 0xff,	    /* 87 jmp next */
};

struct hp_script {
	uint32_t ops[HP_SCRIPT_MAX][3];
	unsigned n;
};

struct hp_vm {
	struct testvm t; /* the VM, its memory and vCPU 0 */
	struct virtio_rng rng;
	struct virtio_blk blk;
	struct virtio_mmio_dev *devs[HP_NR_DEVS];
	int rng_ready, blk_ready;
	int fast; /* irqfd + ioeventfd, as machine.c does */
	int irqfds[HP_NR_DEVS];
	char disk[64];
	pthread_t poller;
	int poller_started;
	int poll_stop; /* atomic */
	uint8_t marks[256];
	unsigned nmarks;
	unsigned timeouts;
};

/* Big: static, one per test process (Check forks each test). */
static struct hp_vm hp_vm;
static struct hp_script hp_s;

static void hp_op(struct hp_script *s, enum hp_op op, uint32_t addr,
		  uint32_t val)
{
	ck_assert_uint_lt(s->n, HP_SCRIPT_MAX);
	s->ops[s->n][0] = op;
	s->ops[s->n][1] = addr;
	s->ops[s->n][2] = val;
	s->n++;
}

static uint32_t hp_base(unsigned i)
{
	return (uint32_t)(LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_MMIO_SLOT_SIZE);
}

static void hp_mark(struct hp_script *s, uint8_t m)
{
	hp_op(s, HP_OUTB, HP_PORT, m);
}

static void hp_reg(struct hp_script *s, unsigned dev, uint32_t off, uint32_t v)
{
	hp_op(s, HP_W32, hp_base(dev) + off, v);
}

/* A split-ring descriptor, written by the guest. */
static void hp_desc(struct hp_script *s, uint32_t table, unsigned idx,
		    uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint32_t d = table + idx * 16;

	hp_op(s, HP_W32, d, (uint32_t)addr);
	hp_op(s, HP_W32, d + 4, (uint32_t)(addr >> 32));
	hp_op(s, HP_W32, d + 8, len);
	hp_op(s, HP_W32, d + 12, flags | (uint32_t)next << 16);
}

/* Available ring: flags 0, idx, ring[0] = head. */
static void hp_avail(struct hp_script *s, unsigned dev, uint16_t idx,
		     uint16_t head)
{
	uint32_t a = HP_QUEUE_GPA(dev) + HP_AVAIL;

	hp_op(s, HP_W32, a, (uint32_t)idx << 16);
	hp_op(s, HP_W32, a + 4, head);
}

/* Reset, then the driver sequence up to FEATURES_OK (VERSION_1 plus
 * feat_lo in the low word). */
static void hp_init(struct hp_script *s, unsigned dev, uint32_t feat_lo)
{
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 1);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES, 1);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES, feat_lo);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0xb);
}

/* Queue 0: size num, areas as given, then QueueReady. */
static void hp_queue(struct hp_script *s, unsigned dev, uint32_t num,
		     uint64_t desc, uint64_t avail, uint64_t used)
{
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NUM, num);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_DESC_LOW, (uint32_t)desc);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW, (uint32_t)avail);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH,
	       (uint32_t)(avail >> 32));
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW, (uint32_t)used);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH,
	       (uint32_t)(used >> 32));
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_READY, 1);
}

/* The queue in its RAM area, size 8. */
static void hp_queue_ram(struct hp_script *s, unsigned dev)
{
	uint32_t q = HP_QUEUE_GPA(dev);

	hp_queue(s, dev, 8, q, q + HP_AVAIL, q + HP_USED);
}

/* DRIVER_OK and a notify for queue 0. */
static void hp_go(struct hp_script *s, unsigned dev)
{
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0xf);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
}

static void hp_wait_reset_needed(struct hp_script *s, unsigned dev)
{
	hp_op(s, HP_WAIT, hp_base(dev) + VIRTIO_MMIO_REG_STATUS,
	      VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Wait until the used index is nonzero. */
static void hp_wait_used(struct hp_script *s, unsigned dev)
{
	hp_op(s, HP_WAIT, HP_QUEUE_GPA(dev) + HP_USED, 0xffff0000);
}

/* A ring that fails the device: the variants below each set
 * DEVICE_NEEDS_RESET, which the guest waits to see. */
static void hp_broken_rings(struct hp_script *s, unsigned dev)
{
	uint32_t q = HP_QUEUE_GPA(dev), buf = q + HP_BUF;

	/* Queue areas in the MMIO gap, beyond RAM, on the device itself. */
	hp_init(s, dev, 0);
	hp_queue(s, dev, 8, 0xd0000000, 0x40000000, hp_base(dev));
	hp_wait_reset_needed(s, dev);
	/* A descriptor table that wraps past 2^64. */
	hp_init(s, dev, 0);
	hp_queue(s, dev, 8, 0xffffffffffffffc0ULL, q + HP_AVAIL, q + HP_USED);
	hp_wait_reset_needed(s, dev);
	/* A buffer whose range wraps past 2^64. */
	hp_init(s, dev, 0);
	hp_desc(s, q, 0, 0xfffffffffffffff0ULL, 0x100, VIRTQ_DESC_F_WRITE, 0);
	hp_avail(s, dev, 1, 0);
	hp_queue_ram(s, dev);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
	/* A two-descriptor loop; and QueueNum written while ready. */
	hp_init(s, dev, 0);
	hp_desc(s, q, 0, buf, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	hp_desc(s, q, 1, buf, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	hp_avail(s, dev, 1, 0);
	hp_queue_ram(s, dev);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NUM, 4);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
	/* A full-queue chain whose last link points back to its head. */
	hp_init(s, dev, 0);
	for (unsigned i = 0; i < 8; i++)
		hp_desc(s, q, i, buf, 16,
			VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
			(uint16_t)((i + 1) % 8));
	hp_avail(s, dev, 1, 0);
	hp_queue_ram(s, dev);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
	/* An indirect table twice as long as the largest queue. */
	hp_init(s, dev, 1U << VIRTIO_F_INDIRECT_DESC);
	hp_desc(s, q, 0, q + HP_INDIRECT, 16 * 512, VIRTQ_DESC_F_INDIRECT, 0);
	hp_avail(s, dev, 1, 0);
	hp_queue_ram(s, dev);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
	/* The available index runs 1000 entries ahead. */
	hp_init(s, dev, 0);
	hp_desc(s, q, 0, buf, 16, VIRTQ_DESC_F_WRITE, 0);
	hp_avail(s, dev, 1000, 0);
	hp_queue_ram(s, dev);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
	/* A buffer in the MMIO gap (the device's own registers). */
	hp_init(s, dev, 0);
	hp_desc(s, q, 0, hp_base(dev), 0x100, VIRTQ_DESC_F_WRITE, 0);
	hp_avail(s, dev, 1, 0);
	hp_queue_ram(s, dev);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
	/* A head index out of range. */
	hp_init(s, dev, 0);
	hp_avail(s, dev, 1, 200);
	hp_queue_ram(s, dev);
	hp_go(s, dev);
	hp_wait_reset_needed(s, dev);
}

/* A well-formed read of a sector far past the end of the disk: an IOERR
 * status, and the device carries on (it is not a transport error). */
static void hp_blk_bad_sector(struct hp_script *s)
{
	uint32_t q = HP_QUEUE_GPA(1), hdr = q + HP_BUF;

	hp_init(s, 1, 0);
	hp_op(s, HP_W32, hdr, VIRTIO_BLK_T_IN);
	hp_op(s, HP_W32, hdr + 4, 0);
	hp_op(s, HP_W32, hdr + 8, 0xfffffff0);
	hp_op(s, HP_W32, hdr + 12, 0xffff);
	hp_op(s, HP_W8, hdr + 0x400, 0x77);
	hp_op(s, HP_W32, q + HP_USED, 0);
	hp_desc(s, q, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
	hp_desc(s, q, 1, hdr + 0x100, VIRTIO_BLK_SECTOR,
		VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	hp_desc(s, q, 2, hdr + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	hp_avail(s, 1, 1, 0);
	hp_queue_ram(s, 1);
	hp_go(s, 1);
	hp_wait_used(s, 1);
	hp_op(s, HP_R8, hdr + 0x400, HP_MISC_GPA + HP_BLK_IOERR_OFF);
	hp_op(s, HP_R32, hp_base(1) + VIRTIO_MMIO_REG_STATUS,
	      HP_MISC_GPA + HP_BLK_IOERR_OFF + 4);
}

/* The hostile script for device dev. */
static void hp_hostile_dev(struct hp_script *s, unsigned dev)
{
	uint32_t res = HP_RESULT_GPA + dev * 0x1000, x = 0x12345678 + dev;

	/* Garbage in every 32-bit word of the slot, config space included. */
	hp_mark(s, (uint8_t)(0x10 + dev));
	for (uint32_t off = 0; off < VIRTIO_MMIO_SLOT_SIZE; off += 4) {
		x = x * 1103515245 + 12345;
		hp_reg(s, dev, off, x ^ 0xdeadbeef);
	}
	/* Narrow and misaligned register accesses. */
	hp_op(s, HP_W8, hp_base(dev) + VIRTIO_MMIO_REG_STATUS, 0xff);
	hp_op(s, HP_W16, hp_base(dev) + VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	hp_op(s, HP_W32, hp_base(dev) + VIRTIO_MMIO_REG_STATUS + 1, 0xf);
	hp_op(s, HP_R8, hp_base(dev) + VIRTIO_MMIO_REG_MAGIC, res + 0xffc);
	hp_op(s, HP_R16, hp_base(dev) + VIRTIO_MMIO_REG_STATUS + 2,
	      res + 0xffc);

	/* Read the whole slot: registers (write-only ones too) and config
	 * space nobody initialized. */
	hp_mark(s, (uint8_t)(0x20 + dev));
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0);
	for (uint32_t off = 0; off < VIRTIO_MMIO_SLOT_SIZE; off += 4)
		hp_op(s, HP_R32, hp_base(dev) + off, res + off);
	hp_op(s, HP_R8, hp_base(dev) + VIRTIO_MMIO_REG_CONFIG + 3, res + 0xff8);
	hp_op(s, HP_R16, hp_base(dev) + VIRTIO_MMIO_REG_CONFIG + 0x7f,
	      res + 0xff8);

	/* Register misuse in the wrong state. */
	hp_mark(s, (uint8_t)(0x30 + dev));
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_READY, 1); /* no FEATURES_OK */
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_SEL, 99);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NUM, 8);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_SEL, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NUM, 3);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NUM, 4096);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL, 7);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES, 0xffff);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_DRIVER);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_FEATURES_OK);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, VIRTIO_STATUS_DRIVER_OK);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 77);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0xffffffff);
	hp_init(s, dev, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_DRIVER_FEATURES, 0x55); /* too late */
	/* Features refused over and over: a flood the log must absorb. */
	for (unsigned i = 0; i < 50; i++) {
		hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0);
		hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 3);
		hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0xb);  /* no VERSION_1 */
		hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0x83); /* FAILED */
	}

	/* Rings that break the device, each waited for. */
	hp_mark(s, (uint8_t)(0x40 + dev));
	if (dev == 1)
		hp_blk_bad_sector(s);
	hp_broken_rings(s, dev);

	/* Once broken, more of the same is ignored. */
	hp_mark(s, (uint8_t)(0x50 + dev));
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	hp_reg(s, dev, VIRTIO_MMIO_REG_STATUS, 0xff);
	hp_reg(s, dev, VIRTIO_MMIO_REG_QUEUE_NUM, 2);
	hp_op(s, HP_R32, hp_base(dev) + VIRTIO_MMIO_REG_STATUS,
	      HP_MISC_GPA + HP_STATUS_OFF(dev));
}

/* Ports and addresses nobody claims, twenty rounds; reads land in the
 * misc area (bytes at 0..0x3f, words at 0x100..). */
static const uint16_t hp_ports[] = {0x80, 0x3f8, 0xcf8, 0x510, 0xffff};
/* as many as hp_ports: */
static const uint32_t hp_addrs[] = {
	0xd0000000, /* gap, nothing there */
	0xc0000000, /* boot timer slot, not registered here */
	0xc0003000, /* the virtio slot after ours */
	0x20000000, /* above RAM */
	0xfebff000, /* just below the IOAPIC */
};
#define HP_NR_PORTS (sizeof(hp_ports) / sizeof(hp_ports[0]))
#define HP_NR_ADDRS (sizeof(hp_addrs) / sizeof(hp_addrs[0]))
#define HP_ROUNDS   20

static void hp_unclaimed(struct hp_script *s)
{
	hp_mark(s, 0x60);
	for (unsigned r = 0; r < HP_ROUNDS; r++) {
		/* Interleaved: one rate limiter covers both buses. */
		for (unsigned i = 0; i < HP_NR_PORTS; i++) {
			hp_op(s, HP_OUTB, hp_ports[i], 0xa5);
			hp_op(s, HP_W32, hp_addrs[i], 0xdeadbeef);
			hp_op(s, HP_INB, hp_ports[i], HP_MISC_GPA + i);
			hp_op(s, HP_R32, hp_addrs[i],
			      HP_MISC_GPA + 0x100 + i * 4);
		}
	}
}

static void hp_pio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void hp_pio_write(void *opaque, uint64_t off, const void *data,
			 uint32_t len)
{
	struct hp_vm *h = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	if (off == 0 && h->nmarks < sizeof(h->marks))
		h->marks[h->nmarks++] = v;
	else if (off == 1)
		vm_request_stop(&h->t.vm, 0, "payload done");
	else if (off == 2)
		h->timeouts++;
}

static const struct bus_ops hp_pio_ops = {
	.read = hp_pio_read,
	.write = hp_pio_write,
};

/* The event loop's part: service a device when its notify fd fires. */
static void *hp_poller(void *arg)
{
	struct hp_vm *h = arg;
	struct pollfd pfd[HP_NR_DEVS];

	for (unsigned i = 0; i < HP_NR_DEVS; i++)
		pfd[i] = (struct pollfd){.fd = virtio_mmio_event_fd(h->devs[i]),
					 .events = POLLIN};
	while (!__atomic_load_n(&h->poll_stop, __ATOMIC_ACQUIRE)) {
		if (poll(pfd, HP_NR_DEVS, 20) <= 0)
			continue;
		for (unsigned i = 0; i < HP_NR_DEVS; i++)
			if (pfd[i].revents & POLLIN)
				virtio_mmio_process(h->devs[i]);
	}
	return NULL;
}

/* A disk of HP_DISK_SECTORS sectors; sector k is filled with byte k+1. */
static void hp_make_disk(struct hp_vm *h)
{
	uint8_t sec[VIRTIO_BLK_SECTOR];
	int fd;

	snprintf(h->disk, sizeof(h->disk), "/tmp/microvm-hostile-XXXXXX");
	fd = mkstemp(h->disk);
	ck_assert_int_ge(fd, 0);
	for (unsigned k = 0; k < HP_DISK_SECTORS; k++) {
		memset(sec, (int)(k + 1), sizeof(sec));
		ck_assert_int_eq(write(fd, sec, sizeof(sec)), sizeof(sec));
	}
	close(fd);
}

static void hp_attach(struct hp_vm *h, unsigned i, struct virtio_mmio_dev *d,
		      const char *name)
{
	struct irq_line irq = {
		.set = vm_irq_line,
		.opaque = &h->t.vm,
		.gsi = LAYOUT_VIRTIO_FIRST_IRQ + i,
		.irqfd = -1,
	};

	if (h->fast) {
		h->irqfds[i] = vm_irqfd(&h->t.vm, irq.gsi);
		ck_assert_int_ge(h->irqfds[i], 0);
		irq.irqfd = h->irqfds[i];
	}
	ck_assert_int_eq(virtio_mmio_attach(d, &h->t.gm, hp_base(i), &irq), 0);
	ck_assert_int_eq(bus_add(&h->t.vm.mmio, hp_base(i),
				 VIRTIO_MMIO_SLOT_SIZE, &virtio_mmio_bus_ops, d,
				 name),
			 0);
	if (h->fast)
		ck_assert_int_eq(
			vm_ioeventfd(&h->t.vm, virtio_mmio_event_fd(d),
				     hp_base(i) + VIRTIO_MMIO_REG_QUEUE_NOTIFY,
				     4),
			0);
	h->devs[i] = d;
}

static void hp_setup(struct hp_vm *h, const struct hp_script *s, int fast)
{
	uint32_t budget = HP_WAIT_BUDGET;
	char err[512];

	memset(h, 0, sizeof(*h));
	h->fast = fast;
	for (unsigned i = 0; i < HP_NR_DEVS; i++)
		h->irqfds[i] = -1;
	ck_assert_msg(testvm_open(&h->t, HP_CODE_GPA, hp_code, sizeof(hp_code),
				  err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(guest_mem_write(&h->t.gm, HP_BUDGET_GPA, &budget,
					 sizeof(budget)),
			 0);
	ck_assert_int_eq(guest_mem_write(&h->t.gm, HP_SCRIPT_GPA, s->ops,
					 (s->n + 1) * sizeof(s->ops[0])),
			 0);
	ck_assert_int_eq(bus_add(&h->t.vm.pio, HP_PORT, 3, &hp_pio_ops, h,
				 "hostile-probe"),
			 0);

	virtio_rng_init(&h->rng);
	h->rng_ready = 1;
	hp_attach(h, 0, &h->rng.mmio, "virtio-rng");
	hp_make_disk(h);
	ck_assert_msg(virtio_blk_open(&h->blk, h->disk, 0, err, sizeof(err)) ==
			      0,
		      "%s", err);
	h->blk_ready = 1;
	hp_attach(h, 1, &h->blk.mmio, "virtio-blk");
	ck_assert_int_eq(pthread_create(&h->poller, NULL, hp_poller, h), 0);
	h->poller_started = 1;

	/* The payload finds its script at rsi. */
	ck_assert_msg(testvm_vcpu(&h->t, HP_CODE_GPA, HP_SCRIPT_GPA, err,
				  sizeof(err)) == 0,
		      "%s", err);
}

static void hp_teardown(struct hp_vm *h)
{
	if (h->poller_started) {
		__atomic_store_n(&h->poll_stop, 1, __ATOMIC_RELEASE);
		pthread_join(h->poller, NULL);
	}
	vcpu_destroy(&h->t.vcpu);
	if (h->rng_ready)
		virtio_rng_close(&h->rng);
	if (h->blk_ready)
		virtio_blk_close(&h->blk);
	for (unsigned i = 0; i < HP_NR_DEVS; i++)
		if (h->irqfds[i] >= 0)
			close(h->irqfds[i]);
	testvm_close(&h->t);
	if (h->disk[0])
		unlink(h->disk);
}

/* stderr into a temp file while the VM runs; the text comes back. */
struct hp_capture {
	int saved;
	FILE *f;
};

static void hp_capture_start(struct hp_capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	ck_assert_ptr_nonnull(c->f);
	c->saved = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_ge(dup2(fileno(c->f), STDERR_FILENO), 0);
}

static char *hp_capture_end(struct hp_capture *c)
{
	long len;
	char *text;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	len = ftell(c->f);
	ck_assert_int_ge(len, 0);
	text = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(text);
	rewind(c->f);
	ck_assert_uint_eq(fread(text, 1, (size_t)len, c->f), (size_t)len);
	fclose(c->f);
	return text;
}

/* Lines of log holding every one of the given substrings. */
static unsigned hp_count(const char *log, const char *a, const char *b)
{
	unsigned n = 0;

	for (const char *line = log; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (memmem(line, len, a, strlen(a)) &&
		    (!b || memmem(line, len, b, strlen(b))))
			n++;
		line += len + (end ? 1 : 0);
	}
	return n;
}

/* HOSTILE_LOG=FILE keeps what the hostile run logged, for a look. */
static void hp_save_log(const char *log)
{
	const char *path = getenv("HOSTILE_LOG");
	FILE *f = path ? fopen(path, "w") : NULL;

	if (f) {
		fputs(log, f);
		fclose(f);
	}
}

static unsigned hp_lines(const char *log)
{
	return hp_count(log, "", NULL);
}

static uint32_t hp_rd32(struct hp_vm *h, uint64_t gpa)
{
	uint32_t v;

	ck_assert_int_eq(guest_mem_read(&h->t.gm, gpa, &v, 4), 0);
	return v;
}

static void hp_run(struct hp_vm *h)
{
	vcpu_loop(&h->t.vcpu);
	/* Let the poller finish what the last notify started. */
	__atomic_store_n(&h->poll_stop, 1, __ATOMIC_RELEASE);
	pthread_join(h->poller, NULL);
	h->poller_started = 0;
}

/* Each class of transport misuse, as virtio-mmio words it: exactly one
 * line per device however often the guest repeats it. */
static const char *const hp_classes[][2] = {
	{"-byte access at", NULL},
	{"or unknown register", NULL},
	{"written with QueueSel", NULL},
	{"unsupported (power of two", NULL},
	{"written while the queue is ready", NULL},
	{"QueueReady before FEATURES_OK", "queue 0: "},
	{"DriverFeatures written after", "driver features word"},
	{"without a reset", "FEATURES_OK before"},
	{"notify for queue", NULL},
	{"config space is read-only", NULL},
	{"guest error:", NULL},
};

#define HP_NR_CLASSES (sizeof(hp_classes) / sizeof(hp_classes[0]))

static void hp_clean_run(int fast);

/* fast: notifications through ioeventfd and interrupts through irqfd, the
 * machine.c default; else both exit to the VMM. */
static void hp_hostile(int fast)
{
	struct hp_vm *h = &hp_vm;
	struct hp_capture cap;
	static const char *const names[HP_NR_DEVS] = {"virtio-rng",
						      "virtio-blk"};
	char *log;

	hp_s.n = 0;
	for (unsigned d = 0; d < HP_NR_DEVS; d++)
		hp_hostile_dev(&hp_s, d);
	hp_unclaimed(&hp_s);
	hp_mark(&hp_s, HP_MARK_DONE);
	hp_op(&hp_s, HP_END, 0, 0);

	log_set_level(LOG_INFO); /* unclaimed accesses log at info */
	hp_capture_start(&cap);
	hp_setup(h, &hp_s, fast);
	hp_run(h);
	log = hp_capture_end(&cap);
	log_set_level(LOG_WARN);
	hp_save_log(log);

	/* The VMM is up (we are running) and the payload got to the end. */
	ck_assert_msg(h->t.vm.exit_status == 0, "stopped: %s",
		      h->t.vm.stop_reason);
	ck_assert_str_eq(h->t.vm.stop_reason, "payload done");
	ck_assert_uint_eq(h->nmarks, 5 * HP_NR_DEVS + 2);
	ck_assert_uint_eq(h->marks[h->nmarks - 1], HP_MARK_DONE);
	ck_assert_uint_eq(h->timeouts, 0); /* every failure was seen */

	for (unsigned d = 0; d < HP_NR_DEVS; d++) {
		uint32_t res = HP_RESULT_GPA + d * 0x1000, st;

		/* Identity registers read right; config space past what the
		 * device has reads zero; the device ends broken. */
		ck_assert_uint_eq(hp_rd32(h, res + VIRTIO_MMIO_REG_MAGIC),
				  VIRTIO_MMIO_MAGIC);
		ck_assert_uint_eq(hp_rd32(h, res + VIRTIO_MMIO_REG_VERSION),
				  VIRTIO_MMIO_VERSION);
		ck_assert_uint_eq(hp_rd32(h, res + VIRTIO_MMIO_REG_DEVICE_ID),
				  d == 0 ? VIRTIO_RNG_DEVICE_ID
					 : VIRTIO_BLK_DEVICE_ID);
		for (uint32_t off = 0x200; off < 0xff8; off += 4)
			ck_assert_msg(hp_rd32(h, res + off) == 0,
				      "%s config +%#x reads %#x", names[d],
				      off - 0x100, hp_rd32(h, res + off));
		st = hp_rd32(h, HP_MISC_GPA + HP_STATUS_OFF(d));
		ck_assert_msg(st & VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			      "%s status %#x (guest view)", names[d], st);
		ck_assert_msg(h->devs[d]->status &
				      VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			      "%s status %#x", names[d], h->devs[d]->status);
	}
	ck_assert_uint_eq(hp_rd32(h, HP_RESULT_GPA + 0x1000 + 0x100),
			  HP_DISK_SECTORS); /* blk capacity, low word */
	/* The bad sector: IOERR, and the device still live. */
	ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA + HP_BLK_IOERR_OFF) & 0xff,
			  VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA + HP_BLK_IOERR_OFF + 4), 0xf);
	for (unsigned i = 0; i < HP_NR_PORTS; i++)
		ck_assert_uint_eq(
			*(uint8_t *)guest_mem_ptr(&h->t.gm, HP_MISC_GPA + i, 1),
			0xff);
	for (unsigned i = 0; i < HP_NR_ADDRS; i++)
		ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA + 0x100 + i * 4),
				  0xffffffff);

	/* Each misuse class logged exactly once per device. */
	for (unsigned d = 0; d < HP_NR_DEVS; d++) {
		char who[32];

		snprintf(who, sizeof(who), "%s: ", names[d]);
		for (size_t c = 0;
		     c < sizeof(hp_classes) / sizeof(hp_classes[0]); c++) {
			unsigned n = hp_count(log, who, hp_classes[c][0]);

			if (hp_classes[c][1])
				n += hp_count(log, who, hp_classes[c][1]);
			/* With an ioeventfd, 4-byte QueueNotify writes go to
			 * the eventfd: the device never sees the value. */
			if (fast &&
			    !strcmp(hp_classes[c][0], "notify for queue")) {
				ck_assert_uint_eq(n, 0);
				continue;
			}
			ck_assert_msg(n == 1,
				      "%s'%s' logged %u times; log:\n%.3000s",
				      who, hp_classes[c][0], n, log);
		}
	}
	/* Unclaimed accesses: seen, but rate limited (HP_ROUNDS rounds of
	 * HP_NR_PORTS * 2 + HP_NR_ADDRS * 2 accesses). */
	ck_assert_uint_ge(hp_count(log, "unclaimed port", NULL), 1);
	ck_assert_uint_ge(hp_count(log, "unclaimed MMIO", NULL), 1);
	/* One limiter per kind (10 lines, then one "suppressed" line). */
	ck_assert_uint_le(hp_count(log, "unclaimed port", NULL), 11);
	ck_assert_uint_le(hp_count(log, "unclaimed MMIO", NULL), 11);
	/* The driver-choice lines (refused features, FAILED) have one
	 * limiter per device: no device's flood hides another's. */
	for (unsigned d = 0; d < HP_NR_DEVS; d++) {
		char who[32];
		unsigned n;

		snprintf(who, sizeof(who), "%s: ", names[d]);
		n = hp_count(log, who, "FEATURES_OK refused") +
		    hp_count(log, who, "the driver gave up");
		ck_assert_msg(n >= 1 && n <= 11, "%s%u driver-choice lines",
			      who, n);
	}
	/* And nothing floods: thousands of misuses, a bounded log. Each
	 * device logs each misuse class once and at most 11 driver-choice
	 * lines (its limiter: 10, then one "suppressed" line); the vCPU's
	 * exit context at most 11 per kind (port, MMIO). */
	ck_assert_msg(hp_lines(log) <=
			      HP_NR_DEVS * (HP_NR_CLASSES + 11) + 2 * 11,
		      "%u log lines:\n%.3000s", hp_lines(log), log);
	free(log);
	hp_teardown(h);

	/* Afterwards, in the same process: a fresh VM works. */
	hp_clean_run(fast);
}

START_TEST(hostile_guest_cannot_break_the_vmm)
{
	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	hp_hostile(0);
}
END_TEST

START_TEST(hostile_guest_ioeventfd_irqfd)
{
	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	hp_hostile(1);
}
END_TEST

/* The same code, a fresh VM, a well-behaved driver: both devices work and
 * nothing is logged. */
static void hp_clean_run(int fast)
{
	struct hp_vm *h = &hp_vm;
	struct hp_capture cap;
	uint32_t q0 = HP_QUEUE_GPA(0), q1 = HP_QUEUE_GPA(1);
	uint32_t hdr = q1 + HP_BUF, data = hdr + 0x100, st = hdr + 0x400;
	const uint8_t *p;
	char *log;
	int nonzero = 0;

	hp_s.n = 0;
	/* rng: one 64-byte writable buffer. */
	hp_mark(&hp_s, 1);
	hp_init(&hp_s, 0, 0);
	hp_desc(&hp_s, q0, 0, q0 + HP_BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	hp_avail(&hp_s, 0, 1, 0);
	hp_queue_ram(&hp_s, 0);
	hp_go(&hp_s, 0);
	hp_wait_used(&hp_s, 0);
	/* blk: read sector 5 (header, data, status). */
	hp_mark(&hp_s, 2);
	hp_init(&hp_s, 1, 0);
	hp_op(&hp_s, HP_W32, hdr, VIRTIO_BLK_T_IN);
	hp_op(&hp_s, HP_W32, hdr + 4, 0);
	hp_op(&hp_s, HP_W32, hdr + 8, 5);
	hp_op(&hp_s, HP_W32, hdr + 12, 0);
	hp_op(&hp_s, HP_W8, st, 0x77);
	hp_desc(&hp_s, q1, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
	hp_desc(&hp_s, q1, 1, data, VIRTIO_BLK_SECTOR,
		VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	hp_desc(&hp_s, q1, 2, st, 1, VIRTQ_DESC_F_WRITE, 0);
	hp_avail(&hp_s, 1, 1, 0);
	hp_queue_ram(&hp_s, 1);
	hp_go(&hp_s, 1);
	hp_wait_used(&hp_s, 1);
	for (unsigned d = 0; d < HP_NR_DEVS; d++)
		hp_op(&hp_s, HP_R32, hp_base(d) + VIRTIO_MMIO_REG_STATUS,
		      HP_MISC_GPA + HP_STATUS_OFF(d));
	/* The wait op's give-up path is live: a zero word never sets. */
	hp_op(&hp_s, HP_W32, HP_BUDGET_GPA, 1000);
	hp_op(&hp_s, HP_WAIT, HP_MISC_GPA + 0xf00, 1);
	hp_mark(&hp_s, HP_MARK_DONE);
	hp_op(&hp_s, HP_END, 0, 0);

	hp_capture_start(&cap);
	hp_setup(h, &hp_s, fast);
	hp_run(h);
	log = hp_capture_end(&cap);

	ck_assert_msg(h->t.vm.exit_status == 0, "stopped: %s",
		      h->t.vm.stop_reason);
	ck_assert_str_eq(h->t.vm.stop_reason, "payload done");
	ck_assert_uint_eq(h->nmarks, 3);
	ck_assert_uint_eq(h->timeouts, 1); /* the deliberate one */
	ck_assert_msg(log[0] == 0, "a clean guest made the VMM log:\n%s", log);
	for (unsigned d = 0; d < HP_NR_DEVS; d++) {
		ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA + HP_STATUS_OFF(d)),
				  0xf);
		ck_assert_uint_eq(h->devs[d]->status, 0xf);
		/* used ring: idx 1, elem 0 = {head 0, len}. */
		ck_assert_uint_eq(hp_rd32(h, HP_QUEUE_GPA(d) + HP_USED) >> 16,
				  1);
		ck_assert_uint_eq(hp_rd32(h, HP_QUEUE_GPA(d) + HP_USED + 4), 0);
	}
	ck_assert_uint_eq(hp_rd32(h, q0 + HP_USED + 8), 64);
	p = guest_mem_ptr(&h->t.gm, q0 + HP_BUF, 64);
	for (unsigned i = 0; i < 64; i++)
		nonzero |= p[i];
	ck_assert_int_ne(nonzero, 0);
	ck_assert_uint_eq(hp_rd32(h, q1 + HP_USED + 8), VIRTIO_BLK_SECTOR + 1);
	p = guest_mem_ptr(&h->t.gm, data, VIRTIO_BLK_SECTOR);
	for (unsigned i = 0; i < VIRTIO_BLK_SECTOR; i++)
		ck_assert_uint_eq(p[i], 6);
	ck_assert_uint_eq(*(uint8_t *)guest_mem_ptr(&h->t.gm, st, 1),
			  VIRTIO_BLK_S_OK);
	free(log);
	hp_teardown(h);
}

START_TEST(hostile_clean_payload_baseline)
{
	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	hp_clean_run(0);
	hp_clean_run(1);
}
END_TEST

/*
 * virtio-mem against a payload guest on real KVM: the hotplug region is a
 * memory slot, a plugged block is memory the guest really writes (the
 * host sees it at the region), and garbage requests (misaligned, zero
 * blocks, outside the region, unknown types, short, already in that
 * state, over the requested size, no room for the answer) are answered
 * ERROR or NACK or stop the device; the VMM stays up.
 */
#define HM_HP_GPA   0x8000000U /* 128 MiB: above the 16 MiB of RAM */
#define HM_HP_SIZE  (128U << 20)
#define HM_BLOCK    (2U << 20)
#define HM_REQS	    0x60000U /* request i at +i*0x40, response +0x20 */
#define HM_NR_REQS  13
#define HM_PATTERN  0xc0ffee11U
#define HM_MEM_SLOT 0

struct hm_req {
	uint16_t type;
	uint32_t addr;
	uint16_t nb;
	uint32_t out_len, in_len;
	uint16_t want; /* response type; 0xffff: none (device stops) */
};

static const struct hm_req hm_reqs[HM_NR_REQS] = {
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA, 2, 24, 10, VIRTIO_MEM_RESP_ACK},
	{VIRTIO_MEM_REQ_STATE, HM_HP_GPA, 4, 24, 10, VIRTIO_MEM_RESP_ACK},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA + 8 * HM_BLOCK + 4096, 1, 24, 10,
	 VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA + 8 * HM_BLOCK, 0, 24, 10,
	 VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA + HM_HP_SIZE, 1, 24, 10,
	 VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_UNPLUG, HM_HP_GPA - HM_BLOCK, 2, 24, 10,
	 VIRTIO_MEM_RESP_ERROR},
	{9, HM_HP_GPA, 1, 24, 10, VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA, 1, 24, 10, VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_UNPLUG, HM_HP_GPA + 2 * HM_BLOCK, 1, 24, 10,
	 VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA + 8 * HM_BLOCK, 1, 8, 10,
	 VIRTIO_MEM_RESP_ERROR},
	{VIRTIO_MEM_REQ_UNPLUG, HM_HP_GPA + HM_BLOCK, 1, 24, 10,
	 VIRTIO_MEM_RESP_ACK},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA + 8 * HM_BLOCK, 8, 24, 10,
	 VIRTIO_MEM_RESP_NACK},
	{VIRTIO_MEM_REQ_PLUG, HM_HP_GPA + 8 * HM_BLOCK, 1, 24, 4, 0xffff},
};

/* Request i as the guest writes it, its two descriptors, the avail entry,
 * the notify, and a wait for its used entry (or for the device to stop). */
static void hm_request(struct hp_script *s, unsigned i)
{
	const struct hm_req *r = &hm_reqs[i];
	uint32_t q = HP_QUEUE_GPA(HM_MEM_SLOT), req = HM_REQS + i * 0x40;

	hp_op(s, HP_W32, req, r->type);
	hp_op(s, HP_W32, req + 4, 0xa5a5a5a5); /* padding: ignored */
	hp_op(s, HP_W32, req + 8, r->addr);
	hp_op(s, HP_W32, req + 12, 0);
	hp_op(s, HP_W32, req + 16, r->nb | 0xa5a50000U);
	hp_op(s, HP_W32, req + 20, 0xa5a5a5a5);
	hp_op(s, HP_W32, req + 0x20, 0xeeeeeeee);
	hp_op(s, HP_W32, req + 0x28, 0xeeeeeeee);
	hp_desc(s, q, 2 * i, req, r->out_len, VIRTQ_DESC_F_NEXT,
		(uint16_t)(2 * i + 1));
	hp_desc(s, q, 2 * i + 1, req + 0x20, r->in_len, VIRTQ_DESC_F_WRITE, 0);
	hp_op(s, HP_W16, q + HP_AVAIL + 4 + 2 * i, 2 * i);
	hp_op(s, HP_W16, q + HP_AVAIL + 2, i + 1);
	hp_reg(s, HM_MEM_SLOT, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	if (r->want == 0xffff)
		hp_wait_reset_needed(s, HM_MEM_SLOT);
	else /* the used element's len */
		hp_op(s, HP_WAIT, q + HP_USED + 8 + 8 * i, 0xff);
}

START_TEST(hostile_virtio_mem)
{
	struct hp_vm *h = &hp_vm;
	struct hp_capture cap;
	struct virtio_mem vm;
	struct virtio_mem_info in;
	struct virtio_mem_cfg cfg = {
		.lay = {.addr = HM_HP_GPA,
			.region_size = HM_HP_SIZE,
			.usable_size = HM_HP_SIZE,
			.block_size = HM_BLOCK},
		.requested = 8 * HM_BLOCK,
	};
	struct irq_line irq = {.set = vm_irq_line,
			       .gsi = LAYOUT_VIRTIO_FIRST_IRQ,
			       .irqfd = -1};
	uint32_t q = HP_QUEUE_GPA(HM_MEM_SLOT), budget = HP_WAIT_BUDGET;
	const struct region *r;
	char err[512], *log;

	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	hp_s.n = 0;
	hp_mark(&hp_s, 1);
	/* A driver without UNPLUGGED_INACCESSIBLE is refused. */
	hp_init(&hp_s, HM_MEM_SLOT, 0);
	hp_op(&hp_s, HP_R32, hp_base(HM_MEM_SLOT) + VIRTIO_MMIO_REG_STATUS,
	      HP_MISC_GPA);
	hp_init(&hp_s, HM_MEM_SLOT, 1U << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
	hp_queue(&hp_s, HM_MEM_SLOT, 32, q, q + HP_AVAIL, q + HP_USED);
	hp_reg(&hp_s, HM_MEM_SLOT, VIRTIO_MMIO_REG_STATUS, 0xf);
	hp_mark(&hp_s, 2);
	hm_request(&hp_s, 0);
	/* The plugged blocks are the guest's memory now. */
	hp_op(&hp_s, HP_W32, HM_HP_GPA, HM_PATTERN);
	hp_op(&hp_s, HP_W32, HM_HP_GPA + 2 * HM_BLOCK - 4, HM_PATTERN + 1);
	hp_op(&hp_s, HP_R32, HM_HP_GPA, HP_MISC_GPA + 4);
	for (unsigned i = 1; i < HM_NR_REQS; i++)
		hm_request(&hp_s, i);
	hp_op(&hp_s, HP_R32, hp_base(HM_MEM_SLOT) + VIRTIO_MMIO_REG_STATUS,
	      HP_MISC_GPA + 8);
	hp_mark(&hp_s, HP_MARK_DONE);
	hp_op(&hp_s, HP_END, 0, 0);

	memset(h, 0, sizeof(*h));
	h->irqfds[0] = h->irqfds[1] = -1;
	hp_capture_start(&cap);
	ck_assert_msg(testvm_open_hotplug(&h->t, HP_CODE_GPA, hp_code,
					  sizeof(hp_code), HM_HP_GPA,
					  HM_HP_SIZE, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(guest_mem_write(&h->t.gm, HP_BUDGET_GPA, &budget,
					 sizeof(budget)),
			 0);
	ck_assert_int_eq(guest_mem_write(&h->t.gm, HP_SCRIPT_GPA, hp_s.ops,
					 (hp_s.n + 1) * sizeof(hp_s.ops[0])),
			 0);
	ck_assert_int_eq(bus_add(&h->t.vm.pio, HP_PORT, 3, &hp_pio_ops, h,
				 "hostile-probe"),
			 0);
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
	irq.opaque = &h->t.vm;
	ck_assert_int_eq(virtio_mmio_attach(&vm.mmio, &h->t.gm,
					    hp_base(HM_MEM_SLOT), &irq),
			 0);
	ck_assert_int_eq(bus_add(&h->t.vm.mmio, hp_base(HM_MEM_SLOT),
				 VIRTIO_MMIO_SLOT_SIZE, &virtio_mmio_bus_ops,
				 &vm.mmio, "virtio-mem"),
			 0);
	h->devs[0] = h->devs[1] = &vm.mmio;
	ck_assert_int_eq(pthread_create(&h->poller, NULL, hp_poller, h), 0);
	h->poller_started = 1;
	ck_assert_msg(testvm_vcpu(&h->t, HP_CODE_GPA, HP_SCRIPT_GPA, err,
				  sizeof(err)) == 0,
		      "%s", err);
	hp_run(h);
	log = hp_capture_end(&cap);
	hp_save_log(log);

	ck_assert_msg(h->t.vm.exit_status == 0, "stopped: %s",
		      h->t.vm.stop_reason);
	ck_assert_str_eq(h->t.vm.stop_reason, "payload done");
	ck_assert_uint_eq(h->timeouts, 0);
	ck_assert_uint_eq(h->nmarks, 3);
	/* Refused without the feature: FEATURES_OK reads back clear. */
	ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA) & VIRTIO_STATUS_FEATURES_OK,
			  0);
	for (unsigned i = 0; i < HM_NR_REQS; i++) {
		uint32_t resp = hp_rd32(h, HM_REQS + i * 0x40 + 0x20);

		if (hm_reqs[i].want == 0xffff)
			ck_assert_uint_eq(resp, 0xeeeeeeee);
		else
			ck_assert_msg((resp & 0xffff) == hm_reqs[i].want,
				      "request %u answered %#x, want %u", i,
				      resp, hm_reqs[i].want);
	}
	/* STATE of 4 blocks, 2 plugged: MIXED. */
	ck_assert_uint_eq(hp_rd32(h, HM_REQS + 1 * 0x40 + 0x28) & 0xffff,
			  VIRTIO_MEM_STATE_MIXED);
	/* What the guest wrote is in the region on the host. */
	r = guest_mem_find(&h->t.gm, HM_HP_GPA, HM_HP_SIZE);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->hotplug, 1);
	ck_assert_uint_eq(*(uint32_t *)r->hva, HM_PATTERN);
	ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA + 4), HM_PATTERN);
	/* The device stopped at the chain with no room for the answer. */
	ck_assert_uint_eq(hp_rd32(h, HP_MISC_GPA + 8) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	virtio_mem_get(&vm, &in);
	ck_assert_uint_eq(in.plugged_size, HM_BLOCK);
	ck_assert_uint_eq(in.c.plugs, 1);
	ck_assert_uint_eq(in.c.unplugs, 1);
	ck_assert_uint_eq(in.c.errors, 8);
	ck_assert_uint_eq(in.c.nacks, 1);
	ck_assert_uint_eq(in.c.states, 1);
	/* The second block went back: it reads zero on the host. */
	ck_assert_uint_eq(*(uint32_t *)(r->hva + 2 * HM_BLOCK - 4), 0);
	free(log);
	__atomic_store_n(&h->poll_stop, 1, __ATOMIC_RELEASE);
	vcpu_destroy(&h->t.vcpu);
	virtio_mem_close(&vm);
	testvm_close(&h->t);
}
END_TEST

Suite *hostile_suite(void);
Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("virtio");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hostile_guest_cannot_break_the_vmm);
	tcase_add_test(tc, hostile_guest_ioeventfd_irqfd);
	tcase_add_test(tc, hostile_clean_payload_baseline);
	tcase_add_test(tc, hostile_virtio_mem);
	suite_add_tcase(s, tc);
	return s;
}
