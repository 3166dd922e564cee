/*
 * The virtio-mmio transport, modern interface (virtio 1.2 section 4.2.2,
 * Version 2), shared by every virtio device. A device embeds a struct
 * virtio_mmio_dev and describes itself with a const struct virtio_mmio_ops.
 *
 * Threads. Guest register accesses arrive on vCPU threads through
 * virtio_mmio_bus_ops; device work (disk I/O, TAP reads and writes) runs on
 * the VMM's event loop thread. They meet through one eventfd per device:
 *
 *   - a guest write to QueueNotify signals the eventfd (the vCPU never does
 *     device I/O itself);
 *   - with KVM, the VMM may register that same fd as an ioeventfd
 *     (KVM_IOEVENTFD at base + VIRTIO_MMIO_REG_QUEUE_NOTIFY, len 4, no
 *     datamatch: every queue of the device) so notifications do not exit
 *     to user space at all;
 *   - the event loop polls virtio_mmio_event_fd() for EPOLLIN and calls
 *     virtio_mmio_process(), which drains the fd and services every ready
 *     queue of the device (a handful of index reads per queue).
 *
 * One mutex per device serializes register accesses and device work. Device
 * callbacks run with it held; entry points a device exposes to the event
 * loop (e.g. virtio_net_rx) take it with virtio_mmio_lock(). The registers
 * a running driver touches on its hot paths (QueueNotify, InterruptStatus,
 * InterruptACK) do not take it: a vCPU never waits behind device I/O. The
 * interrupt status and line have their own short lock (irq_lock, always
 * taken after the device lock, never before).
 *
 * Guest errors: a register write with a bad value, or one the spec forbids
 * in the current state, is ignored and logged once per class. A malformed
 * ring or request makes the device set DEVICE_NEEDS_RESET and raise a
 * configuration interrupt; it then does nothing until the driver resets it.
 * The VMM and other devices keep running.
 */
#ifndef DEVICES_VIRTIO_MMIO_H
#define DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/event_source.h"
#include "devices/irq.h"
#include "devices/virtq.h"
#include "lib/log.h"
#include "mem/guest_mem.h"

/* Register offsets in the 4 KiB slot (bus-relative). */
#define VIRTIO_MMIO_REG_MAGIC		    0x000
#define VIRTIO_MMIO_REG_VERSION		    0x004
#define VIRTIO_MMIO_REG_DEVICE_ID	    0x008
#define VIRTIO_MMIO_REG_VENDOR_ID	    0x00c
#define VIRTIO_MMIO_REG_DEVICE_FEATURES	    0x010
#define VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_REG_DRIVER_FEATURES	    0x020
#define VIRTIO_MMIO_REG_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_REG_QUEUE_SEL	    0x030
#define VIRTIO_MMIO_REG_QUEUE_NUM_MAX	    0x034
#define VIRTIO_MMIO_REG_QUEUE_NUM	    0x038
#define VIRTIO_MMIO_REG_QUEUE_READY	    0x044
#define VIRTIO_MMIO_REG_QUEUE_NOTIFY	    0x050
#define VIRTIO_MMIO_REG_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_REG_INTERRUPT_ACK	    0x064
#define VIRTIO_MMIO_REG_STATUS		    0x070
#define VIRTIO_MMIO_REG_QUEUE_DESC_LOW	    0x080
#define VIRTIO_MMIO_REG_QUEUE_DESC_HIGH	    0x084
#define VIRTIO_MMIO_REG_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_REG_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_REG_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_REG_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_REG_SHM_SEL		    0x0ac
#define VIRTIO_MMIO_REG_SHM_LEN_LOW	    0x0b0
#define VIRTIO_MMIO_REG_SHM_LEN_HIGH	    0x0b4
#define VIRTIO_MMIO_REG_SHM_BASE_LOW	    0x0b8
#define VIRTIO_MMIO_REG_SHM_BASE_HIGH	    0x0bc
#define VIRTIO_MMIO_REG_QUEUE_RESET	    0x0c0
#define VIRTIO_MMIO_REG_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_REG_CONFIG		    0x100

#define VIRTIO_MMIO_MAGIC     0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION   2
#define VIRTIO_MMIO_VENDOR    0x4d564d /* "MVM" */
#define VIRTIO_MMIO_SLOT_SIZE 0x1000

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING  1
#define VIRTIO_MMIO_INT_CONFIG 2

/* Device status bits (virtio 1.2 section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED		 0x80

#define VIRTIO_MMIO_MAX_QUEUES 8 /* balloon uses up to 5 */

/* What a device type supplies. Callbacks run with the device lock held. */
struct virtio_mmio_ops {
	uint32_t device_id;  /* virtio device type (1 net, 2 blk, 4 rng) */
	unsigned num_queues; /* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_max;  /* QueueNumMax, a power of two <= 256 */
	/* Device config space, `off` relative to its start. Reads past the
	 * end must return zeros (see virtio_mmio_config_copy). */
	void (*config_read)(void *opaque, uint64_t off, void *data,
			    uint32_t len);
	/* Optional; NULL means the config space is read-only. */
	void (*config_write)(void *opaque, uint64_t off, const void *data,
			     uint32_t len);
	/* Queue `q` may have new buffers. Event loop thread. Only called
	 * while the device is live (DRIVER_OK, no error) and q is ready. */
	void (*notify)(void *opaque, unsigned q);
	/* Optional: drop per-driver state (device reset by the driver or
	 * the VMM). Queues are reset by the transport. */
	void (*reset)(void *opaque);
	/* Optional: the driver set DRIVER_OK. Nonzero fails the device
	 * (DEVICE_NEEDS_RESET). */
	int (*activate)(void *opaque);
	/* Optional: may the driver run with these features (already a
	 * subset of the offered ones)? 0 refuses FEATURES_OK, for a
	 * device that requires a feature. */
	int (*features_ok)(void *opaque, uint64_t features);
	/* Optional: does queue q exist under the negotiated features? For a
	 * device whose queue set depends on them (the driver numbers only
	 * the queues it uses, so the balloon's stats and reporting queues
	 * move down when a feature is off). NULL: all num_queues exist. A
	 * queue that does not exist reads QueueNumMax 0 (virtio 1.2, 4.2.2). */
	int (*queue_in_use)(void *opaque, unsigned q);
	/*
	 * Snapshot hooks for the device type's own state (config space,
	 * counters, a frame or buffer it holds), optional: NULL when the
	 * transport's state is all there is (rng, net). The transport's state (registers,
	 * features, queue addresses and indices) belongs to
	 * virtio_mmio_bus_ops.save/load, which call these for the rest; the
	 * contract is bus_ops's (devices/bus.h): VMM thread, every vCPU
	 * paused, the loop idle; here also with the device lock held.
	 */
	ssize_t (*save)(void *opaque, void *buf, size_t len);
	int (*load)(void *opaque, const void *buf, size_t len);
};

struct virtio_mmio_queue {
	struct virtq vq;
	uint16_t num;
	uint32_t ready;
	uint64_t desc, driver, device;
};

enum virtio_mmio_log {
	VIRTIO_MMIO_LOG_ACCESS,
	VIRTIO_MMIO_LOG_REG,
	VIRTIO_MMIO_LOG_QUEUE_SEL,
	VIRTIO_MMIO_LOG_QUEUE_NUM,
	VIRTIO_MMIO_LOG_QUEUE_BUSY,
	VIRTIO_MMIO_LOG_QUEUE_SETUP,
	VIRTIO_MMIO_LOG_FEATURES,
	VIRTIO_MMIO_LOG_STATUS,
	VIRTIO_MMIO_LOG_NOTIFY,
	VIRTIO_MMIO_LOG_CONFIG,
	VIRTIO_MMIO_LOG_FAIL,
	VIRTIO_MMIO_LOG_NR
};

struct virtio_mmio_dev {
	pthread_mutex_t lock;
	pthread_mutex_t irq_lock; /* int_status and the line level */
	const struct virtio_mmio_ops *ops;
	void *opaque;
	const char *name; /* for logs, e.g. "virtio-blk" */
	const struct guest_mem *gm;
	struct irq_line irq;
	uint64_t base;
	int event_fd;
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t int_status; /* under irq_lock */
	uint32_t config_generation;
	struct virtio_mmio_queue queues[VIRTIO_MMIO_MAX_QUEUES];
	int logged[VIRTIO_MMIO_LOG_NR];
	/* Driver choices worth a --verbose line (refused features, FAILED)
	 * are guest-triggered too: rate limited per device, or a guest
	 * looping on them floods. */
	struct log_ratelimit info_rl;
};

/* The bus_ops every virtio-mmio device registers with (opaque: the
 * struct virtio_mmio_dev), over a VIRTIO_MMIO_SLOT_SIZE range. */
extern const struct bus_ops virtio_mmio_bus_ops;

/* Describe a device (no fds yet). `features` are the offered feature
 * bits; VIRTIO_F_VERSION_1 is always added. */
void virtio_mmio_init(struct virtio_mmio_dev *d,
		      const struct virtio_mmio_ops *ops, void *opaque,
		      const char *name, uint64_t features);

/* Place the device: guest memory for its queues, its MMIO base (for the
 * command line) and its interrupt line (copied). Creates the notify
 * eventfd. 0 or a negative errno. */
int virtio_mmio_attach(struct virtio_mmio_dev *d, const struct guest_mem *gm,
		       uint64_t base, const struct irq_line *irq)
	__attribute__((warn_unused_result));

/* Close the eventfd, destroy the lock. Safe after init alone. */
void virtio_mmio_destroy(struct virtio_mmio_dev *d);

/* Format "virtio_mmio.device=4K@0x<base>:<gsi>" into buf. Returns the
 * length, or -ENOSPC if it does not fit. */
int virtio_mmio_cmdline(const struct virtio_mmio_dev *d, char *buf, size_t len);

/* The fd to poll for EPOLLIN (and to register as ioeventfd). */
int virtio_mmio_event_fd(const struct virtio_mmio_dev *d);

/* Event loop: drain the event fd and service every ready queue. */
void virtio_mmio_process(struct virtio_mmio_dev *d);

/* The event fd as an event source: level-triggered EPOLLIN (the handler,
 * virtio_mmio_process, always drains it). After virtio_mmio_attach. */
struct event_source virtio_mmio_source(struct virtio_mmio_dev *d);

/* Ask for a virtio_mmio_process() call soon (signals the event fd). */
void virtio_mmio_kick(struct virtio_mmio_dev *d);

/* Serialize with register accesses and process(); for device entry
 * points called from outside the transport. */
void virtio_mmio_lock(struct virtio_mmio_dev *d);
void virtio_mmio_unlock(struct virtio_mmio_dev *d);

/* The rest is for device implementations, called with the lock held. */

/* Queue q (valid index). */
struct virtq *virtio_mmio_queue(struct virtio_mmio_dev *d, unsigned q);

/* 1 if the driver set DRIVER_OK and the device is not failed. */
int virtio_mmio_live(const struct virtio_mmio_dev *d);

/* 1 if feature `bit` was offered and accepted. */
int virtio_mmio_negotiated(const struct virtio_mmio_dev *d, unsigned bit);

/* After pushing to queue q: raise a used-buffer interrupt if the driver
 * wants one. */
void virtio_mmio_used(struct virtio_mmio_dev *d, unsigned q);

/* The guest broke the device (why: static string): set
 * DEVICE_NEEDS_RESET, raise a config interrupt, log once. */
void virtio_mmio_fail(struct virtio_mmio_dev *d, const char *why);

/* The config space changed: bump ConfigGeneration, config interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio_dev *d);

/* Helper for config_read: copy [off, off+len) of a config struct of
 * cfg_len bytes into data, zeros past its end. */
void virtio_mmio_config_copy(const void *cfg, size_t cfg_len, uint64_t off,
			     void *data, uint32_t len);

#endif
