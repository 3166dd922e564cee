/*
 * An address bus (one for port I/O, one for MMIO): sorted, overlap-checked
 * ranges, each served by a device through a small const ops table.
 */
#ifndef DEVICES_BUS_H
#define DEVICES_BUS_H

#include <stdint.h>

/* Offsets are relative to the start of the device's range. len is 1..8.
 * Devices never fail a guest access: bad input is logged and ignored. */
struct bus_ops {
	void (*read)(void *opaque, uint64_t off, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t off, const void *data,
		      uint32_t len);
	void (*reset)(void *opaque); /* optional */
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
