/*
 * An address bus (one for port I/O, one for MMIO): sorted, overlap-checked
 * ranges, each served by a device through a small const ops table.
 */
#ifndef DEVICES_BUS_H
#define DEVICES_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Offsets are relative to the start of the device's range. len is 1..8.
 * Devices never fail a guest access: bad input is logged and ignored. */
struct bus_ops {
	void (*read)(void *opaque, uint64_t off, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t off, const void *data,
		      uint32_t len);
	void (*reset)(void *opaque); /* optional */
	/*
	 * Snapshot hooks, optional: NULL for a device with no state to keep
	 * (the boot timer; the i8042's second port, saved through the
	 * first); vmm/snapshot.c refuses a virtio slot without them. Both
	 * run on the VMM (main) thread while every vCPU is paused out of
	 * KVM_RUN and the event loop dispatches nothing, so no register
	 * access or device work runs meanwhile; they take the device's own
	 * locks anyway.
	 *
	 * save: write the device's guest-visible state (registers, FIFOs,
	 * interrupt levels, for virtio the transport and queue positions;
	 * never host fds or pointers, which the restored VMM opens anew)
	 * into buf (len bytes), in a layout only load reads. Returns the
	 * bytes written, or -ENOSPC with nothing written when len is too
	 * small.
	 * load: restore what save wrote (len bytes) into a device built from
	 * the same configuration, before the vCPUs resume; it sets its
	 * interrupt lines to the saved levels itself. 0, or -EINVAL for a
	 * blob it did not write (the device is then as after reset).
	 */
	ssize_t (*save)(void *opaque, void *buf, size_t len);
	int (*load)(void *opaque, const void *buf, size_t len);
};

struct bus_dev {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_DEVS 32

struct bus {
	const char *name; /* "pio" or "mmio", for logs */
	struct bus_dev devs[BUS_MAX_DEVS];
	unsigned nr;
};

void bus_init(struct bus *b, const char *name);

/* Register [base, base+len). -EINVAL for len 0 or overflow, -EEXIST when it
 * overlaps a registered range, -ENOSPC when full. The ops table and opaque
 * must outlive the bus. */
int bus_add(struct bus *b, uint64_t base, uint64_t len,
	    const struct bus_ops *ops, void *opaque, const char *name)
	__attribute__((warn_unused_result));

/* Device whose range holds [addr, addr+len), or NULL. */
const struct bus_dev *bus_find(const struct bus *b, uint64_t addr,
			       uint32_t len);

/* Dispatch an access. Returns 1 if a device claimed it, 0 if not (a read
 * then fills data with all-ones; the caller logs, rate-limited). */
int bus_read(const struct bus *b, uint64_t addr, void *data, uint32_t len);
int bus_write(const struct bus *b, uint64_t addr, const void *data,
	      uint32_t len);

/* Call every device's reset, in address order. */
void bus_reset(const struct bus *b);

#endif
