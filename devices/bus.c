#include "devices/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

/* Index of the first device whose base is > addr (0..nr). The array is
 * sorted by base and ranges never overlap, so the only candidate holding
 * addr is the one just before that index. */
static unsigned bus_upper(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (b->devs[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len,
	    const struct bus_ops *ops, void *opaque, const char *name)
{
	uint64_t end;
	unsigned i;

	if (!len || !ops || __builtin_add_overflow(base, len, &end))
		return -EINVAL;
	if (b->nr >= BUS_MAX_DEVS)
		return -ENOSPC;
	i = bus_upper(b, base);
	/* The neighbour below must end at or before base; the one above must
	 * start at or after end. */
	if (i > 0 && b->devs[i - 1].base + b->devs[i - 1].len > base)
		return -EEXIST;
	if (i < b->nr && b->devs[i].base < end)
		return -EEXIST;
	memmove(&b->devs[i + 1], &b->devs[i], (b->nr - i) * sizeof(b->devs[0]));
	b->devs[i] = (struct bus_dev){
		.base = base,
		.len = len,
		.ops = ops,
		.opaque = opaque,
		.name = name,
	};
	b->nr++;
	return 0;
}

const struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	const struct bus_dev *d;
	uint64_t end;
	unsigned i;

	if (!len || __builtin_add_overflow(addr, (uint64_t)len, &end))
		return NULL;
	i = bus_upper(b, addr);
	if (!i)
		return NULL;
	d = &b->devs[i - 1];
	/* d->base <= addr; the whole access must fit (a straddling access
	 * belongs to nobody). base + len cannot overflow: bus_add checked. */
	if (end > d->base + d->len)
		return NULL;
	return d;
}

/* Devices are promised 1..8 byte accesses; anything else is unclaimed. */
static const struct bus_dev *bus_lookup(const struct bus *b, uint64_t addr,
					uint32_t len)
{
	if (len < 1 || len > 8)
		return NULL;
	return bus_find(b, addr, len);
}

int bus_read(const struct bus *b, uint64_t addr, void *data, uint32_t len)
{
	const struct bus_dev *d = bus_lookup(b, addr, len);

	if (!d) {
		memset(data, 0xff, len);
		return 0;
	}
	d->ops->read(d->opaque, addr - d->base, data, len);
	return 1;
}

int bus_write(const struct bus *b, uint64_t addr, const void *data,
	      uint32_t len)
{
	const struct bus_dev *d = bus_lookup(b, addr, len);

	if (!d)
		return 0;
	d->ops->write(d->opaque, addr - d->base, data, len);
	return 1;
}

void bus_reset(const struct bus *b)
{
	for (unsigned i = 0; i < b->nr; i++)
		if (b->devs[i].ops->reset)
			b->devs[i].ops->reset(b->devs[i].opaque);
}
