/*
 * Building the guest memory map from one size and one policy: RAM below a
 * hole (the MMIO gap) and above it, every region on its page size, with an
 * explicit, reported fallback when the hugepage pool is short.
 */
#ifndef MEM_MEMMAP_H
#define MEM_MEMMAP_H

#include <stdint.h>

#include "mem/guest_mem.h"
#include "mem/region.h"

/* What the build did, for the startup report. mem/ does not log: the
 * caller prints `warning` (empty when there is nothing to say). */
struct memmap_info {
	uint64_t bytes_requested_pages; /* bytes under the asked-for policy */
	uint64_t bytes_fallback;	/* bytes under the fallback policy */
	int file_created;		/* --mem-file was created by us */
	char warning[320];		/* "hugepage pool short: ..." or "" */
};

/*
 * Map `mem_size` bytes of guest RAM: [0, min(mem_size, hole_start)) and the
 * rest from hole_end up. With a fallback and a short hugepage pool, as many
 * huge pages as the pool holds back the start of each range and the rest
 * uses the fallback policy (separate, adjacent regions), and info->warning
 * says so with the fraction on huge pages. Without one a short pool is an error.
 * On failure gm is empty, a memory file we created is removed, and err
 * says why.
 */
int memmap_build(struct guest_mem *gm, uint64_t mem_size, uint64_t hole_start,
		 uint64_t hole_end, const struct region_policy *pol,
		 struct memmap_info *info, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
