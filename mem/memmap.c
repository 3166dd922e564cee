#include "mem/memmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mem/size.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#define MEMMAP_MPOL_BIND      2
#define MEMMAP_MPOL_MF_STRICT 1
#define MEMMAP_MPOL_MF_MOVE   2
#define MEMMAP_MAX_NODE	      1024
#define MEMMAP_CAP_IPC_LOCK   14

const char *memmap_sysfs_node_root = "/sys/devices/system/node";

static int memmap_is_hugetlb(enum region_pages p)
{
	return p == REGION_PAGES_HUGE || p == REGION_PAGES_HUGE1G;
}

/* "--mem-zone id=X" or "--mem" for the one-zone shorthand. */
static const char *memmap_origin(const struct memmap_zone *z)
{
	return z->policy.origin ? z->policy.origin : "--mem";
}

int memmap_layout(const struct memmap_zone *zones, unsigned nr,
		  uint64_t hole_start, uint64_t hole_end,
		  struct memmap_piece *out, unsigned max, char *err,
		  size_t errlen)
{
	uint64_t cur = 0;
	unsigned n = 0;
	char a[32], b[32];

	if (hole_start > hole_end) {
		snprintf(err, errlen, "internal: bad memory hole");
		return -EINVAL;
	}
	for (unsigned zi = 0; zi < nr; zi++) {
		const struct memmap_zone *z = &zones[zi];
		uint64_t ps = region_page_size(z->policy.pages);
		uint64_t left = z->size;

		if (!left || left % ps) {
			const char *o = z->policy.origin;

			snprintf(err, errlen,
				 "%s%s%s is not a multiple of the %s page size "
				 "of %s%s: use a multiple of %s",
				 o ? o : "--mem ", o ? ": size=" : "",
				 size_format(left, a, sizeof(a)),
				 size_format(ps, b, sizeof(b)),
				 o ? "pages=" : "--pages ",
				 region_pages_name(z->policy.pages), b);
			return -EINVAL;
		}
		while (left) {
			uint64_t piece, end;

			/* Each piece starts on its page size: a zone of
			 * bigger pages may leave a small unbacked gap. */
			if (__builtin_add_overflow(cur, ps - 1, &cur))
				goto too_big;
			cur &= ~(ps - 1);
			if (cur < hole_start) {
				uint64_t room = (hole_start - cur) & ~(ps - 1);

				if (!room) {
					cur = hole_end;
					continue;
				}
				piece = left < room ? left : room;
			} else {
				if (cur < hole_end) {
					cur = hole_end;
					continue;
				}
				piece = left;
			}
			if (__builtin_add_overflow(cur, piece, &end))
				goto too_big;
			if (n == max) {
				snprintf(err, errlen,
					 "internal: too many guest memory "
					 "pieces (at most %u)",
					 max);
				return -ENOSPC;
			}
			out[n++] = (struct memmap_piece){cur, piece, zi};
			cur = end;
			left -= piece;
		}
	}
	return (int)n;
too_big:
	snprintf(err, errlen,
		 "guest memory does not fit the guest address space: use "
		 "smaller zones");
	return -EINVAL;
}

/* mbind(MPOL_BIND, strict, move) through the raw system call: no libnuma.
 * Before any page is populated, so every page comes from the node. */
static int memmap_bind(struct region *r, int node, char *err, size_t errlen)
{
	unsigned long mask[MEMMAP_MAX_NODE / (8 * sizeof(unsigned long))];

	memset(mask, 0, sizeof(mask));
	mask[(unsigned)node / (8 * sizeof(unsigned long))] |=
		1UL << ((unsigned)node % (8 * sizeof(unsigned long)));
	if (syscall(SYS_mbind, r->hva, r->size, MEMMAP_MPOL_BIND, mask,
		    (unsigned long)MEMMAP_MAX_NODE + 1,
		    MEMMAP_MPOL_MF_STRICT | MEMMAP_MPOL_MF_MOVE)) {
		int e = errno;

		snprintf(err, errlen,
			 "cannot bind guest memory at %#llx to host node %d "
			 "(mbind): %s",
			 (unsigned long long)r->gpa, node, strerror(e));
		return -e;
	}
	r->host_node = node;
	r->bound = 1;
	return 0;
}

int memmap_add_hotplug(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		       enum region_pages pages, int host_node, const char *id,
		       char *err, size_t errlen)
{
	struct region_policy pol = {.pages = pages,
				    .backing = REGION_BACKING_ANON,
				    .origin = "--mem-hotplug",
				    .noreserve = 1};
	struct region r;
	int fd = -1, created = 0, ret;

	ret = region_open_backing(&pol, size, &fd, &created, err, errlen);
	if (ret)
		return ret;
	ret = region_map(&r, gpa, size, &pol, fd, 0, err, errlen);
	if (fd >= 0)
		close(fd);
	if (ret)
		return ret;
	r.hotplug = 1;
	r.zone = MEMMAP_MAX_ZONES;
	r.zone_id = id;
	/* virtio-mem's block: the page size, at least 2 MiB. */
	ret = region_track_plugs(&r, r.page_size > (2ULL << 20) ? r.page_size
								: 2ULL << 20);
	if (ret) {
		snprintf(err, errlen, "hotplug region block map: %s",
			 strerror(-ret));
		goto fail;
	}
	if (host_node >= 0 && (ret = memmap_bind(&r, host_node, err, errlen)))
		goto fail;
	ret = guest_mem_add(gm, &r);
	if (ret) {
		snprintf(err, errlen,
			 "internal: the hotplug region overlaps guest RAM");
		goto fail;
	}
	return 0;
fail:
	(void)region_unmap(&r);
	return ret;
}

/* Map one piece with the policy, adding it to gm with its zone's
 * binding and on-fault lock. */
static int memmap_add(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		      const struct region_policy *pol, int fd, uint64_t off,
		      int downgraded, const struct memmap_zone *z, unsigned zi,
		      char *err, size_t errlen)
{
	struct region r;
	int ret;

	ret = region_map(&r, gpa, size, pol, fd, off, err, errlen);
	if (ret)
		return ret;
	r.downgraded = downgraded;
	r.zone = zi;
	r.zone_id = z->id;
	if (z->host_node >= 0 &&
	    (ret = memmap_bind(&r, z->host_node, err, errlen)))
		goto fail;
	if (z->lock == MEMMAP_LOCK_ONFAULT && !memmap_is_hugetlb(r.pages)) {
		if (mlock2(r.hva, r.size, MLOCK_ONFAULT)) {
			ret = -errno;
			snprintf(err, errlen,
				 "%s: cannot lock guest memory on fault "
				 "(mlock2): %s",
				 memmap_origin(z), strerror(-ret));
			goto fail;
		}
		r.locked = 1;
	}
	ret = guest_mem_add(gm, &r);
	if (ret) {
		snprintf(err, errlen, "internal: overlapping guest regions");
		goto fail;
	}
	return 0;
fail:
	/* Nothing was written to it yet: a sync error loses nothing. */
	(void)region_unmap(&r);
	return ret;
}

/* Bytes of hugetlb pages of this size the zones after `from` need and take
 * no fallback for: what a fallback zone must leave in the pool. */
static uint64_t memmap_strict_after(const struct memmap_zone *zones,
				    unsigned nr, unsigned from,
				    enum region_pages pages)
{
	uint64_t need = 0;

	for (unsigned i = from + 1; i < nr; i++)
		if (zones[i].policy.pages == pages &&
		    !zones[i].policy.has_fallback)
			need += zones[i].size;
	return need;
}

/*
 * Every zone without a fallback gets its hugetlb pages, or nothing is
 * mapped: the error names the first zone the pool cannot cover, counting
 * the zones before it.
 */
static int memmap_pool_check(const struct memmap_zone *zones, unsigned nr,
			     char *err, size_t errlen)
{
	static const enum region_pages sizes[] = {REGION_PAGES_HUGE,
						  REGION_PAGES_HUGE1G};

	for (unsigned s = 0; s < 2; s++) {
		uint64_t need = 0, ps = region_page_size(sizes[s]);
		long avail = -2;

		for (unsigned i = 0; i < nr; i++) {
			const struct memmap_zone *z = &zones[i];
			size_t at;

			if (z->policy.pages != sizes[s] ||
			    z->policy.has_fallback)
				continue;
			need += z->size;
			if (avail == -2)
				avail = region_pool_available(sizes[s]);
			if (avail >= 0 && (uint64_t)avail >= need / ps)
				continue;
			region_pool_error(&z->policy, need, err, errlen);
			at = strlen(err);
			if (need != z->size && at < errlen)
				snprintf(err + at, errlen - at,
					 " (the count includes the zones "
					 "before it)");
			return -ENOMEM;
		}
	}
	return 0;
}

static int memmap_zone_build(struct guest_mem *gm,
			     const struct memmap_zone *zones, unsigned nr,
			     unsigned zi, const struct memmap_piece *pc,
			     unsigned npc, struct memmap_info *info, char *err,
			     size_t errlen)
{
	const struct memmap_zone *z = &zones[zi];
	const struct region_policy *pol = &z->policy;
	size_t ps = region_page_size(pol->pages);
	uint64_t huge_left = UINT64_MAX, size = z->size;
	uint64_t *req = &info->zone_requested[zi],
		 *fbb = &info->zone_fallback[zi];
	struct region_policy fb = *pol;
	int fd = -1, fb_fd = -1, created = 0, ret = 0;
	char a[32], b[32];

	if (pol->has_fallback && pol->backing == REGION_BACKING_FILE) {
		snprintf(err, errlen,
			 "%s%sfallback= cannot be combined with %s: one file "
			 "has one page size",
			 pol->origin ? pol->origin : "",
			 pol->origin ? ": " : "",
			 pol->origin ? "file=" : "--mem-file");
		return -EINVAL;
	}
	if (pol->has_fallback && memmap_is_hugetlb(pol->pages)) {
		long avail = region_pool_available(pol->pages);
		uint64_t have = avail > 0 ? (uint64_t)avail * ps : 0;
		uint64_t later = memmap_strict_after(zones, nr, zi, pol->pages);

		/* What the zones after this one cannot do without stays in
		 * the pool for them. */
		huge_left = have > later ? have - later : 0;
		huge_left -= huge_left % ps;
		fb.pages = pol->fallback;
		fb.has_fallback = 0;
	}
	if (huge_left < size) {
		/* The fallback part may need its own backing: hugetlb and
		 * ordinary memfds are different files. */
		if (huge_left &&
		    (ret = region_open_backing(pol, huge_left, &fd, &created,
					       err, errlen)))
			return ret;
		ret = region_open_backing(&fb, size - huge_left, &fb_fd,
					  &created, err, errlen);
	} else {
		ret = region_open_backing(pol, size, &fd, &created, err,
					  errlen);
	}
	info->zone_file_created[zi] = created;
	if (created)
		info->file_created = 1;
	if (ret)
		goto out;

	for (unsigned i = 0; i < npc && !ret; i++) {
		uint64_t huge;

		if (pc[i].zone != zi)
			continue;
		/* Fallback pieces stay aligned to the huge page size, so the
		 * boundary between the two regions is on a huge page. */
		huge = pc[i].size < huge_left ? pc[i].size : huge_left;
		huge -= huge % ps;
		if (huge) {
			ret = memmap_add(gm, pc[i].gpa, huge, pol, fd, *req, 0,
					 z, zi, err, errlen);
			*req += huge;
			if (huge_left != UINT64_MAX)
				huge_left -= huge;
		}
		if (!ret && huge < pc[i].size) {
			ret = memmap_add(gm, pc[i].gpa + huge,
					 pc[i].size - huge, &fb, fb_fd, *fbb, 1,
					 z, zi, err, errlen);
			*fbb += pc[i].size - huge;
		}
	}
	if (!ret && *fbb) {
		long avail = region_pool_available(pol->pages);

		size_t used = strlen(info->warning);

		/* mem/ does not log: the caller prints the warning lines. */
		snprintf(
			info->warning + used, sizeof(info->warning) - used,
			"%s%s%shugepage pool short: only %s of %s guest memory "
			"is on %s pages (%.1f%%), the rest falls back to "
			"%s%s; %ld pages still free",
			used ? "\n" : "", pol->origin ? pol->origin : "",
			pol->origin ? ": " : "",
			size_format(*req, a, sizeof(a)),
			size_format(size, b, sizeof(b)),
			region_pages_name(pol->pages),
			100.0 * (double)*req / (double)size,
			pol->origin ? "pages=" : "--pages ",
			region_pages_name(fb.pages), avail);
	}
out:
	if (fd >= 0)
		close(fd);
	if (fb_fd >= 0)
		close(fb_fd);
	return ret;
}

int memmap_build_zones(struct guest_mem *gm, const struct memmap_zone *zones,
		       unsigned nr, uint64_t hole_start, uint64_t hole_end,
		       struct memmap_info *info, char *err, size_t errlen)
{
	struct memmap_piece pc[2 * MEMMAP_MAX_ZONES];
	int n, ret = 0;

	memset(info, 0, sizeof(*info));
	guest_mem_init(gm);
	if (!nr || nr > MEMMAP_MAX_ZONES) {
		snprintf(err, errlen, "internal: %u memory zones (1 to %d)", nr,
			 MEMMAP_MAX_ZONES);
		return -EINVAL;
	}
	n = memmap_layout(zones, nr, hole_start, hole_end, pc,
			  sizeof(pc) / sizeof(pc[0]), err, errlen);
	if (n < 0)
		return n;
	/* All zones' pools at once, before anything is reserved. */
	ret = memmap_pool_check(zones, nr, err, errlen);
	for (unsigned zi = 0; zi < nr && !ret; zi++) {
		info->zone_requested[zi] = info->zone_fallback[zi] = 0;
		ret = memmap_zone_build(gm, zones, nr, zi, pc, (unsigned)n,
					info, err, errlen);
		info->bytes_requested_pages += info->zone_requested[zi];
		info->bytes_fallback += info->zone_fallback[zi];
	}
	if (!ret) {
		for (unsigned zi = 0; zi < nr; zi++)
			if (zones[zi].lock != MEMMAP_LOCK_NONE &&
			    memmap_is_hugetlb(zones[zi].policy.pages) &&
			    !zones[zi].policy.has_fallback) {
				size_t used = strlen(info->note);

				snprintf(info->note + used,
					 sizeof(info->note) - used,
					 "%s%s: hugetlb pages are never "
					 "swapped: "
					 "lock=%s locks nothing",
					 used ? "\n" : "",
					 memmap_origin(&zones[zi]),
					 zones[zi].lock == MEMMAP_LOCK_ON
						 ? "on"
						 : "onfault");
			}
		return 0;
	}
	/* Nothing of any zone stays mapped or reserved (nor written: a sync
	 * error loses nothing). */
	(void)guest_mem_destroy(gm);
	for (unsigned zi = 0; zi < nr; zi++)
		if (info->zone_file_created[zi] && zones[zi].policy.path)
			unlink(zones[zi].policy.path);
	memset(info, 0, sizeof(*info));
	return ret;
}

int memmap_build(struct guest_mem *gm, uint64_t mem_size, uint64_t hole_start,
		 uint64_t hole_end, const struct region_policy *pol,
		 struct memmap_info *info, char *err, size_t errlen)
{
	struct memmap_zone z = {
		.id = "mem", .size = mem_size, .policy = *pol, .host_node = -1};

	int ret = memmap_build_zones(gm, &z, 1, hole_start, hole_end, info, err,
				     errlen);

	/* z dies here: the regions name their zone with a literal. */
	for (unsigned i = 0; i < gm->nr; i++)
		gm->regions[i].zone_id = "mem";
	return ret;
}

/* Whether `node` is in a sysfs list like "0-3,8" (has_memory). */
static int memmap_list_has(const char *list, int node)
{
	const char *p = list;

	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			return 0;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
			if (end == p)
				return 0;
		}
		if (node >= lo && node <= hi)
			return 1;
		p = end;
		if (*p == ',')
			p++;
		else
			break;
	}
	return 0;
}

static void memmap_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* CAP_IPC_LOCK in the effective set (/proc/self/status CapEff). */
static int memmap_cap_ipc_lock(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long eff = 0;
	char line[256];
	int have = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			have = (eff >> MEMMAP_CAP_IPC_LOCK) & 1;
			break;
		}
	fclose(f);
	return have;
}

int memmap_zones_check(const struct memmap_zone *zones, unsigned nr, char *err,
		       size_t errlen)
{
	uint64_t locked = 0;
	struct rlimit rl;
	char nodes[256], path[512], a[32], b[32];

	for (unsigned i = 0; i < nr; i++) {
		const struct memmap_zone *z = &zones[i];

		if (z->host_node >= 0) {
			snprintf(path, sizeof(path), "%s/has_memory",
				 memmap_sysfs_node_root);
			memmap_read_line(path, nodes, sizeof(nodes));
			if (!memmap_list_has(nodes, z->host_node)) {
				snprintf(err, errlen,
					 "%s: host-node=%d does not exist or "
					 "has no memory; nodes with memory: "
					 "%s",
					 memmap_origin(z), z->host_node,
					 nodes[0] ? nodes
						  : "none listed (no NUMA "
						    "information in sysfs)");
				return -ENODEV;
			}
		}
		if (z->lock != MEMMAP_LOCK_NONE &&
		    (!memmap_is_hugetlb(z->policy.pages) ||
		     z->policy.has_fallback))
			locked += z->size;
	}
	if (!locked || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= locked ||
	    memmap_cap_ipc_lock())
		return 0;
	snprintf(err, errlen,
		 "locking %s of guest memory needs RLIMIT_MEMLOCK of at least "
		 "that, but it is %s: raise it (ulimit -l unlimited, or "
		 "LimitMEMLOCK=infinity in a systemd unit), or run as root / "
		 "with CAP_IPC_LOCK",
		 size_format(locked, a, sizeof(a)),
		 size_format((uint64_t)rl.rlim_cur, b, sizeof(b)));
	return -EPERM;
}

int memmap_lock(struct guest_mem *gm, const struct memmap_zone *zones,
		unsigned nr, char *err, size_t errlen)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		struct region *r = &gm->regions[i];

		if (r->zone >= nr || zones[r->zone].lock != MEMMAP_LOCK_ON ||
		    memmap_is_hugetlb(r->pages))
			continue;
		/* mlock faults in whatever a prefault has not populated. */
		if (mlock(r->hva, r->size)) {
			int e = errno;
			char a[32];

			snprintf(err, errlen,
				 "%s: cannot lock %s of guest memory (mlock): "
				 "%s: raise RLIMIT_MEMLOCK (ulimit -l) or run "
				 "with CAP_IPC_LOCK",
				 memmap_origin(&zones[r->zone]),
				 size_format(r->size, a, sizeof(a)),
				 strerror(e));
			return -e;
		}
		r->locked = 1;
	}
	return 0;
}
