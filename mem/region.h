/*
 * A region: one host mapping of guest RAM placed at a guest-physical base,
 * with its own page size policy. Regions know nothing of KVM.
 */
#ifndef MEM_REGION_H
#define MEM_REGION_H

#include <stddef.h>
#include <stdint.h>

enum region_pages {
	REGION_PAGES_BASE,   /* 4K, anonymous private, MAP_NORESERVE */
	REGION_PAGES_THP,    /* transparent hugepages, MADV_HUGEPAGE */
	REGION_PAGES_HUGE,   /* hugetlb 2 MiB, reserved at creation */
	REGION_PAGES_HUGE1G, /* hugetlb 1 GiB, reserved at creation */
};

enum region_backing {
	REGION_BACKING_ANON,   /* anonymous private (hugetlb: MAP_HUGETLB) */
	REGION_BACKING_SHARED, /* memfd, MAP_SHARED */
	REGION_BACKING_FILE,   /* a user file, MAP_SHARED, msync on close */
};

/* How a region wants to be built. */
struct region_policy {
	enum region_pages pages;
	/* has_fallback 0: a short pool is an error. Otherwise `fallback` is
	 * the explicit, loudly reported downgrade target. */
	int has_fallback;
	enum region_pages fallback;
	enum region_backing backing;
	const char *path; /* REGION_BACKING_FILE only */
	/* The option that chose this policy, for messages: NULL means
	 * --pages (and --mem), else e.g. "--mem-zone id=fast". */
	const char *origin;
	/* 1: reserve nothing at map time (MAP_NORESERVE, no pool check):
	 * for a hotplug region whose blocks are populated one by one with
	 * region_populate(), which fails cleanly when the pool is short. */
	int noreserve;
};

/* What a region became. */
struct region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;	   /* guest RAM start (between the guard pages) */
	uint8_t *map_base; /* whole reservation incl. guards and slack */
	size_t map_len;
	size_t page_size;	     /* page size actually in use */
	enum region_pages pages;     /* policy actually in use */
	enum region_pages requested; /* policy asked for */
	enum region_backing backing;
	int fd;		    /* memfd or file (owned, dup'd), -1 for anonymous */
	uint64_t fd_offset; /* where this region starts in fd */
	size_t discard_granule; /* smallest unit discard frees */
	int downgraded;		/* 1 if this region is a fallback's result */
	unsigned zone;		/* index of the memory zone it belongs to */
	const char *zone_id;	/* that zone's id (outlives the region) */
	int bound;		/* 1: mbind'd to host_node */
	int host_node;		/* the host NUMA node, when bound */
	int locked;		/* mlock'd (lock=on) or MLOCK_ONFAULT */
	/* 1: a hotplug region (virtio-mem): not RAM at boot (no e820
	 * entry, no prefault, no lock), its blocks backed only while
	 * plugged. */
	int hotplug;
	/* Hotplug regions: one word per block of plug_block bytes
	 * (region_track_plugs): bit 0 set while the block is plugged, the
	 * rest counts pins (REGION_PIN each), host pointers the VMM keeps
	 * into the block. guest_mem's translations refuse unplugged blocks;
	 * region_try_unplug refuses pinned ones. NULL: every byte usable. */
	uint32_t *plug_state;
	uint64_t plug_block;
	/* 1: anonymous private memory that now maps a file privately (a
	 * lazy restore on base pages, mem/snapshot.c): MADV_DONTNEED would
	 * show the file's bytes again, so a discard maps fresh anonymous
	 * memory over the range instead. */
	int file_behind;
};

/* Page size in bytes for a policy (4K, 2M, 2M, 1G). */
size_t region_page_size(enum region_pages pages);

/* "base", "thp", "huge", "huge1g". */
const char *region_pages_name(enum region_pages pages);

/*
 * Parse "base|thp|huge|huge1g[,fallback=base|thp|huge]" into *pol (pages,
 * fallback only; backing is left alone). Returns 0 or -EINVAL; on error
 * writes a one-line reason into err.
 */
int region_policy_parse(const char *s, struct region_policy *pol, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/*
 * Hugepages of this policy's size that a new mapping could reserve now
 * (free minus reserved), or -1 when the size is not supported here.
 */
long region_pool_available(enum region_pages pages);

/* Write the short-pool error for `size` bytes of pol->pages into err:
 * pages needed and free, the command that reserves them, and a fallback
 * only where one would work (none for a --mem-file). */
void region_pool_error(const struct region_policy *pol, uint64_t size,
		       char *err, size_t errlen);

/*
 * Open the shared backing for a policy: a memfd (hugetlb for huge/huge1g)
 * for REGION_BACKING_SHARED and for hugetlb pages, or pol->path for
 * REGION_BACKING_FILE (created with `size` bytes if new or empty; an
 * existing non-empty file must be at least `size` bytes). *fd = -1 for
 * anonymous private memory. *created tells whether a file was made (so a
 * failed start can remove it). A file's blocks are allocated now (not on
 * hugetlbfs, whose mapping reserves its pages): a file system without
 * room is an error naming it and the size. A file is locked (flock LOCK_EX) for as
 * long as *fd or a dup of it is open: one in use is -EBUSY. The caller
 * closes *fd.
 */
int region_open_backing(const struct region_policy *pol, uint64_t size, int *fd,
			int *created, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Map a region of `size` bytes for guest address `gpa` under `pol`, from
 * `fd` at `fd_offset` (fd from region_open_backing(); -1 for anonymous).
 * Checks gpa and size are multiples of the page size; aligns the host
 * address so hva == gpa modulo the page size (and 2 MiB at least), so KVM
 * can use huge EPT entries; puts PROT_NONE guard pages on both sides; for
 * hugetlb reserves the pool now: a short pool is -ENOMEM with a reason
 * naming the pages needed and free and the command that reserves them.
 * THP with THP disabled on the host is -EOPNOTSUPP. Nothing is populated.
 * On success the caller owns *r (fd is dup'd) and releases it with
 * region_unmap(). On failure nothing is left mapped and err says why.
 */
int region_map(struct region *r, uint64_t gpa, uint64_t size,
	       const struct region_policy *pol, int fd, uint64_t fd_offset,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* msync (file backing), unmap, close. Safe on a zeroed region. Returns 0,
 * or the msync error (negative errno) for the caller to report: the region
 * is unmapped either way. */
int region_unmap(struct region *r);

/* msync a file-backed region; 0 for others. */
int region_sync(struct region *r) __attribute__((warn_unused_result));

/*
 * Give [off, off+len) of the region back to the host, the right way for its
 * backing: MADV_DONTNEED for anonymous private, fallocate(PUNCH_HOLE) for
 * memfd/hugetlb/file. Only whole discard granules (4K for base and thp, the
 * huge page for hugetlb) inside the range are returned; *returned gets the
 * bytes actually released (may be 0). Touching them again later gives
 * zero-filled pages of the same size. A region with file_behind gets
 * anonymous memory mapped over the range (zeroed in place, nothing
 * returned, when the process is out of mappings).
 * Returns 0 or a negative errno.
 */
int region_discard(struct region *r, uint64_t off, uint64_t len,
		   uint64_t *returned) __attribute__((warn_unused_result));

/*
 * Track which blocks of `block` bytes (a power of two dividing the size)
 * are plugged: all start unplugged, and guest_mem's translations refuse
 * them until region_set_plugged. 0, -EINVAL or -ENOMEM. Freed by
 * region_unmap.
 */
int region_track_plugs(struct region *r, uint64_t block)
	__attribute__((warn_unused_result));

/* One pin in a block's state word (bit 0 is the plugged bit). */
#define REGION_PIN 2U

/* Mark the blocks covering [off, off+len) plugged (on) or not; pins are
 * kept (unplugging what is pinned is region_try_unplug's to refuse). No-op
 * without tracking. Any thread (atomic updates). */
void region_set_plugged(struct region *r, uint64_t off, uint64_t len, int on);

/*
 * Pin the blocks covering [off, off+len): the caller keeps a host pointer
 * into them (a ring) and region_try_unplug refuses them until
 * region_unpin. Each block is checked plugged and pinned in one atomic
 * step, so a pin and an unplug on two threads never both succeed.
 * 0 (also without tracking), -EFAULT if a block is unplugged or the range
 * is outside the region (nothing left pinned). Any thread.
 */
int region_pin(const struct region *r, uint64_t off, uint64_t len)
	__attribute__((warn_unused_result));

/* Drop one pin from each block covering [off, off+len) (a range pinned
 * before). Any thread. */
void region_unpin(const struct region *r, uint64_t off, uint64_t len);

/*
 * Mark the blocks covering [off, off+len), all plugged, unplugged unless
 * one is pinned: 0, -EBUSY (one is pinned: nothing changed), -EINVAL (one
 * is not plugged, or no tracking), -EFAULT outside the region. One
 * thread owns plugging (the virtio-mem device); pins come from any.
 */
int region_try_unplug(struct region *r, uint64_t off, uint64_t len)
	__attribute__((warn_unused_result));

/* 1 if every block touching [off, off+len) is plugged (always 1 without
 * tracking), else 0. len 0 counts as 1 byte. Any thread. */
int region_plugged(const struct region *r, uint64_t off, uint64_t len);

/*
 * Allocate [off, off+len) of the region now, the way that fails with an
 * error instead of a later SIGBUS or OOM kill: fallocate for memfd, hugetlb
 * and file backings (hugetlbfs gives -ENOSPC when the pool is short),
 * MADV_POPULATE_WRITE for anonymous memory. off and len must be multiples
 * of the page size. 0 or a negative errno (-EFAULT outside the region);
 * after an error some of the range may be allocated: discard it.
 */
int region_populate(struct region *r, uint64_t off, uint64_t len)
	__attribute__((warn_unused_result));

#endif
