#include "mem/guest_mem.h"

#include <errno.h>
#include <string.h>

void guest_mem_init(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
}

int guest_mem_add(struct guest_mem *gm, struct region *r)
{
	uint64_t end;
	unsigned i;

	if (gm->nr >= GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	if (!r->size || __builtin_add_overflow(r->gpa, r->size, &end))
		return -EINVAL;
	for (i = 0; i < gm->nr; i++) {
		const struct region *o = &gm->regions[i];

		if (r->gpa < o->gpa + o->size && o->gpa < end)
			return -EEXIST;
	}
	for (i = gm->nr; i > 0 && gm->regions[i - 1].gpa > r->gpa; i--)
		gm->regions[i] = gm->regions[i - 1];
	gm->regions[i] = *r;
	gm->nr++;
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	return 0;
}

int guest_mem_destroy(struct guest_mem *gm)
{
	int ret = 0, r;

	for (unsigned i = 0; i < gm->nr; i++)
		if ((r = region_unmap(&gm->regions[i])) && !ret)
			ret = r;
	gm->nr = 0;
	return ret;
}

/* Region index holding gpa, or -1. Few regions: a linear scan is enough. */
static int guest_mem_index(const struct guest_mem *gm, uint64_t gpa)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (int)i;
	}
	return -1;
}

struct region *guest_mem_find(const struct guest_mem *gm, uint64_t gpa,
			      uint64_t len)
{
	uint64_t last;
	int i;

	if (!len)
		len = 1;
	if (__builtin_add_overflow(gpa, len - 1, &last))
		return NULL;
	i = guest_mem_index(gm, gpa);
	if (i < 0)
		return NULL;
	/* Both ends in the same region; regions never overlap. */
	if (last - gm->regions[i].gpa >= gm->regions[i].size)
		return NULL;
	return (struct region *)(uintptr_t)&gm->regions[i];
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	struct region *r;

	if (!len)
		return NULL;
	r = guest_mem_find(gm, gpa, len);
	/* An unplugged hotplug block is not the guest's memory: refusing it
	 * keeps devices off pages the host may not be able to back. */
	if (!r || !region_plugged(r, gpa - r->gpa, len))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

void *guest_mem_ptr_pin(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	struct region *r;

	if (!len)
		return NULL;
	r = guest_mem_find(gm, gpa, len);
	/* The pin checks the blocks plugged itself, atomically with
	 * taking it. */
	if (!r || region_pin(r, gpa - r->gpa, len))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

void guest_mem_unpin(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	struct region *r = guest_mem_find(gm, gpa, len);

	if (r)
		region_unpin(r, gpa - r->gpa, len);
}

/*
 * Walk [gpa, gpa+len) region by region. With `check` set nothing is copied:
 * the walk only proves every byte is RAM, so a failed copy copies nothing.
 */
static int guest_mem_walk(const struct guest_mem *gm, uint64_t gpa,
			  uint8_t *buf, uint64_t len, int to_guest, int check)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return -EFAULT;
	while (gpa < end) {
		int i = guest_mem_index(gm, gpa);
		const struct region *r;
		uint64_t n;

		if (i < 0)
			return -EFAULT;
		r = &gm->regions[i];
		n = r->gpa + r->size - gpa;
		if (n > end - gpa)
			n = end - gpa;
		if (!region_plugged(r, gpa - r->gpa, n))
			return -EFAULT;
		if (!check) {
			if (to_guest)
				memcpy(r->hva + (gpa - r->gpa), buf, n);
			else
				memcpy(buf, r->hva + (gpa - r->gpa), n);
		}
		if (!check)
			buf += n;
		gpa += n;
	}
	return 0;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf,
		   uint64_t len)
{
	int ret = guest_mem_walk(gm, gpa, buf, len, 0, 1);

	return ret ? ret : guest_mem_walk(gm, gpa, buf, len, 0, 0);
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf,
		    uint64_t len)
{
	int ret = guest_mem_walk(gm, gpa, (uint8_t *)(uintptr_t)buf, len, 1, 1);

	return ret ? ret
		   : guest_mem_walk(gm, gpa, (uint8_t *)(uintptr_t)buf, len, 1,
				    0);
}

uint64_t guest_mem_size(const struct guest_mem *gm)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < gm->nr; i++)
		if (!gm->regions[i].hotplug)
			total += gm->regions[i].size;
	return total;
}

int guest_mem_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
		      uint64_t *returned)
{
	uint64_t end;
	int ret;

	*returned = 0;
	ret = guest_mem_walk(gm, gpa, NULL, len, 0, 1);
	if (ret)
		return ret;
	end = gpa + len;
	while (gpa < end) {
		struct region *r = (struct region *)(uintptr_t)&gm
					   ->regions[guest_mem_index(gm, gpa)];
		uint64_t n = r->gpa + r->size - gpa, got;

		if (n > end - gpa)
			n = end - gpa;
		ret = region_discard(r, gpa - r->gpa, n, &got);
		if (ret)
			return ret;
		*returned += got;
		gpa += n;
	}
	return 0;
}
