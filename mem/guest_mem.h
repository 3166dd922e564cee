/*
 * The guest memory map: a sorted set of non-overlapping regions with checked
 * translation. Every translation takes a length; gpa + len is overflow-checked.
 */
#ifndef MEM_GUEST_MEM_H
#define MEM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "mem/region.h"

#define GUEST_MEM_MAX_REGIONS \
	32 /* 8 zones, each split by the gap and a fallback */

struct guest_mem {
	struct region regions[GUEST_MEM_MAX_REGIONS];
	unsigned nr;
};

/* Empty map. */
void guest_mem_init(struct guest_mem *gm);

/*
 * Add an already-mapped region (ownership moves into gm; *r is zeroed).
 * Keeps the set sorted; -EEXIST if it overlaps, -ENOSPC if full.
 */
int guest_mem_add(struct guest_mem *gm, struct region *r)
	__attribute__((warn_unused_result));

/* Unmap and forget every region (msync first for file-backed ones).
 * Returns 0 or the first msync error (negative errno), for the caller to
 * report; every region is gone either way. */
int guest_mem_destroy(struct guest_mem *gm);

/* Region containing [gpa, gpa+len), or NULL (len 0 is treated as 1). */
struct region *guest_mem_find(const struct guest_mem *gm, uint64_t gpa,
			      uint64_t len);

/*
 * Host pointer for [gpa, gpa+len) when the whole range is inside one region;
 * NULL when any byte is outside RAM or in an unplugged hotplug block, the range spans regions, or gpa+len
 * overflows. len 0 returns NULL.
 */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/*
 * Host pointer for [gpa, gpa+len) as guest_mem_ptr, and the blocks under
 * it pinned (region_pin): for a pointer kept past the call (a ring), so a
 * hotplug block under it cannot be unplugged until guest_mem_unpin with
 * the same range. NULL as guest_mem_ptr, or when a block was unplugged in
 * between (nothing pinned then).
 */
void *guest_mem_ptr_pin(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Drop the pin of a guest_mem_ptr_pin that returned non-NULL. */
void guest_mem_unpin(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy to/from guest memory, possibly spanning adjacent regions.
 * 0, or -EFAULT if any byte is outside RAM or in an unplugged hotplug
 * block (then nothing is copied). */
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf,
		   uint64_t len) __attribute__((warn_unused_result));
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf,
		    uint64_t len) __attribute__((warn_unused_result));

/* Total bytes of RAM present at boot (hotplug regions left out). */
uint64_t guest_mem_size(const struct guest_mem *gm);

/*
 * Discard [gpa, gpa+len) (may span regions); each region frees only whole
 * pages of its own page size. *returned = bytes really released.
 * -EFAULT if the range is not entirely RAM.
 */
int guest_mem_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
		      uint64_t *returned) __attribute__((warn_unused_result));

#endif
