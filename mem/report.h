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
	uint64_t bytes_locked;	/* smaps Locked: mlock'd and resident */
};

#define REPORT_ZONE_RANGES 4

/* One memory zone's backing: its regions added up. */
struct report_zone {
	const char *id; /* the zone's id (region.zone_id) */
	unsigned nr_ranges;
	uint64_t gpa[REPORT_ZONE_RANGES], size[REPORT_ZONE_RANGES];
	uint64_t bytes;		 /* guest RAM in the zone */
	enum region_pages pages; /* the zone's policy */
	uint64_t fallback_bytes; /* on the fallback policy */
	enum region_pages fallback;
	int host_node;	       /* -1: not bound */
	uint64_t bytes_locked; /* resident and locked */
	uint64_t bytes_4k, bytes_thp, bytes_2m, bytes_1g; /* resident */
};

/*
 * Fill out[i] for each region of gm from /proc/self/smaps (the VMAs that
 * overlap the region's host range). Returns 0 or a negative errno.
 */
int report_read(const struct guest_mem *gm, struct report_region *out)
	__attribute__((warn_unused_result));

/*
 * Group a report by zone (region.zone), in zone order; adjacent regions of
 * a zone form one range. Returns the number of zones written (at most
 * max).
 */
unsigned report_zones(const struct guest_mem *gm,
		      const struct report_region *rep, struct report_zone *out,
		      unsigned max);

/* The zones as a JSON array (no newline) into buf, snprintf-style (the
 * length it needs is returned; buf holds a terminated prefix): id,
 * ranges, bytes, pages, fallback and its bytes, host_node, locked_bytes,
 * bytes_4k, bytes_thp, bytes_2m, bytes_1g. */
#define REPORT_ZONES_JSON_MAX 8192 /* MEMMAP_MAX_ZONES zones of ~500 bytes */
size_t report_zones_json(char *buf, size_t len, const struct report_zone *z,
			 unsigned n);

/* Print a table of the report to f, one line per region and a total,
 * then one line per zone. */
void report_print(FILE *f, const struct guest_mem *gm,
		  const struct report_region *rep);

#endif
