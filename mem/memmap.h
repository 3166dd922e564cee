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

#define MEMMAP_MAX_ZONES   8
#define MEMMAP_ZONE_ID_MAX 32 /* with its NUL */

enum memmap_prefault {
	MEMMAP_PREFAULT_NONE,	    /* lazy: populated on first touch */
	MEMMAP_PREFAULT_ON,	    /* populated before boot */
	MEMMAP_PREFAULT_BACKGROUND, /* populated while the guest boots */
};

enum memmap_lock {
	MEMMAP_LOCK_NONE,
	MEMMAP_LOCK_ON,	     /* populate and mlock at start */
	MEMMAP_LOCK_ONFAULT, /* mlock2(MLOCK_ONFAULT): locked when touched */
};

/*
 * One zone of guest RAM (--mem-zone, or the whole RAM for the one-zone
 * shorthand --mem/--pages/--prefault/--mem-file/--shared-mem). Zones fill
 * guest-physical RAM in order.
 */
struct memmap_zone {
	char id[MEMMAP_ZONE_ID_MAX]; /* nonempty */
	uint64_t size;		     /* a multiple of the policy's page size */
	struct region_policy policy;
	enum memmap_prefault prefault;
	int host_node; /* host NUMA node to bind to, -1 for none */
	enum memmap_lock lock;
};

/* What the build did, for the startup report. mem/ does not log: the
 * caller prints `warning` (empty when there is nothing to say). */
struct memmap_info {
	uint64_t bytes_requested_pages; /* bytes under the asked-for policy */
	uint64_t bytes_fallback;	/* bytes under the fallback policy */
	int file_created;		/* --mem-file was created by us */
	/* For the caller to print, one line each ("" when none): warnings
	 * ("hugepage pool short: ...", one per zone) and notes for
	 * --verbose. */
	char warning[1024];
	char note[512];
	/* Per zone, in the order given: the same two figures, and which
	 * memory files we created (removed again on a failed start). */
	uint64_t zone_requested[MEMMAP_MAX_ZONES];
	uint64_t zone_fallback[MEMMAP_MAX_ZONES];
	int zone_file_created[MEMMAP_MAX_ZONES];
};

/*
 * Where zones go, without mapping anything: zone after zone from guest
 * address 0 up to hole_start, then from hole_end. Every piece starts and
 * ends on its zone's page size (a zone's start is aligned up, so a small
 * unbacked gap may separate zones of different page sizes); a zone that
 * reaches the hole continues above it. Writes at most `max` pieces
 * (gpa, size, zone index) and returns their count, or -EINVAL (a size not
 * a multiple of its page size, nothing fits) / -ENOSPC (too many pieces)
 * with the reason in err.
 */
struct memmap_piece {
	uint64_t gpa, size;
	unsigned zone;
};
int memmap_layout(const struct memmap_zone *zones, unsigned nr,
		  uint64_t hole_start, uint64_t hole_end,
		  struct memmap_piece *out, unsigned max, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/*
 * Map every zone per memmap_layout. Each zone keeps every rule of its
 * policy: hugetlb pages reserved now (all zones' needs checked before
 * anything is mapped, so a short pool for a later zone is an error naming
 * it and nothing stays reserved); an explicit fallback= takes what the
 * pool holds after the zones without one, and is reported with its
 * fraction. host_node binds a zone (mbind MPOL_BIND, strict, move) before
 * anything populates it; lock=onfault applies mlock2(MLOCK_ONFAULT) here;
 * lock=on is memmap_lock()'s, after any prefault. Regions carry their
 * zone index. On failure gm is empty, memory files we created are
 * removed, and err says why.
 */
int memmap_build_zones(struct guest_mem *gm, const struct memmap_zone *zones,
		       unsigned nr, uint64_t hole_start, uint64_t hole_end,
		       struct memmap_info *info, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Check what the zones need of the host before anything is mapped: the
 * host nodes exist and have memory (the error names those that do), and
 * RLIMIT_MEMLOCK covers the locked non-hugetlb zones unless the process
 * has CAP_IPC_LOCK (the error gives the fix). 0 or a negative errno.
 */
int memmap_zones_check(const struct memmap_zone *zones, unsigned nr, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/*
 * lock=on: mlock every region of the zones that ask for it (populating
 * what a prefault has not). hugetlb zones are never swapped: nothing is
 * locked and an info line says so. 0 or a negative errno with err set.
 */
int memmap_lock(struct guest_mem *gm, const struct memmap_zone *zones,
		unsigned nr, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Map the hotplug region [gpa, gpa+size) with `pages` and add it to gm,
 * reserving and populating nothing (region_policy.noreserve: hugetlb
 * pages come from the pool block by block as the guest plugs them). Its
 * backing: anonymous for base and thp, a hugetlb memfd for huge and
 * huge1g (so unplugging punches holes the pool gets back). host_node >= 0
 * binds it like a zone's. The region is marked hotplug, its zone index is
 * MEMMAP_MAX_ZONES and its zone id `id` (which must outlive gm). 0 or a
 * negative errno with err set; on failure gm is unchanged.
 */
int memmap_add_hotplug(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		       enum region_pages pages, int host_node, const char *id,
		       char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The host NUMA nodes with memory, e.g. "0-1", from sysfs ("" if none
 * can be read). A test hook reads another root. */
extern const char *memmap_sysfs_node_root;

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
