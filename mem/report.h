/*
 * What the host really gave: per region, the bytes resident on 4K pages,
 * transparent hugepages and hugetlb pages, read from /proc/self/smaps.
 */
#ifndef MEM_REPORT_H
#define MEM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "mem/guest_mem.h"

struct report_region {
	uint64_t gpa, size;
	uint64_t bytes_4k;	/* resident on base pages */
	uint64_t bytes_thp;	/* resident on transparent hugepages */
	uint64_t bytes_hugetlb; /* resident on hugetlb pages (2M or 1G) */
};

/*
 * Fill out[i] for each region of gm from /proc/self/smaps (the VMAs that
 * overlap the region's host range). Returns 0 or a negative errno.
 */
int report_read(const struct guest_mem *gm, struct report_region *out)
	__attribute__((warn_unused_result));

/* Print a table of the report to f, one line per region and a total. */
void report_print(FILE *f, const struct guest_mem *gm,
		  const struct report_region *rep);

#endif
