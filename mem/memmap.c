#include "mem/memmap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mem/size.h"

struct memmap_range {
	uint64_t gpa, size;
};

static unsigned memmap_split(uint64_t mem_size, uint64_t hole_start,
			     uint64_t hole_end, struct memmap_range out[2])
{
	if (mem_size <= hole_start) {
		out[0] = (struct memmap_range){0, mem_size};
		return 1;
	}
	out[0] = (struct memmap_range){0, hole_start};
	out[1] = (struct memmap_range){hole_end, mem_size - hole_start};
	return 2;
}

/* Map one range with the policy, adding it to gm. */
static int memmap_add(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		      const struct region_policy *pol, int fd, uint64_t off,
		      int downgraded, char *err, size_t errlen)
{
	struct region r;
	int ret;

	ret = region_map(&r, gpa, size, pol, fd, off, err, errlen);
	if (ret)
		return ret;
	r.downgraded = downgraded;
	ret = guest_mem_add(gm, &r);
	if (ret) {
		/* Nothing was written to it yet: a sync error loses nothing. */
		(void)region_unmap(&r);
		snprintf(err, errlen, "internal: overlapping guest regions");
	}
	return ret;
}

int memmap_build(struct guest_mem *gm, uint64_t mem_size, uint64_t hole_start,
		 uint64_t hole_end, const struct region_policy *pol,
		 struct memmap_info *info, char *err, size_t errlen)
{
	size_t ps = region_page_size(pol->pages);
	struct memmap_range rg[2];
	struct region_policy fb;
	uint64_t huge_left = UINT64_MAX, end;
	unsigned n;
	int fd = -1, fb_fd = -1, created = 0, ret = 0;
	char a[32], b[32];

	memset(info, 0, sizeof(*info));
	guest_mem_init(gm);
	if (!mem_size || mem_size % ps) {
		snprintf(err, errlen,
			 "--mem %s is not a multiple of the %s page size of "
			 "--pages %s: use a multiple of %s",
			 size_format(mem_size, a, sizeof(a)),
			 size_format(ps, b, sizeof(b)),
			 region_pages_name(pol->pages), b);
		return -EINVAL;
	}
	if (hole_start % ps || hole_end % ps || hole_start > hole_end ||
	    __builtin_add_overflow(mem_size, hole_end - hole_start, &end)) {
		snprintf(err, errlen, "internal: bad memory hole");
		return -EINVAL;
	}
	if (pol->has_fallback && pol->backing == REGION_BACKING_FILE) {
		snprintf(err, errlen,
			 "fallback= cannot be combined with --mem-file: one "
			 "file "
			 "has one page size");
		return -EINVAL;
	}
	n = memmap_split(mem_size, hole_start, hole_end, rg);

	fb = *pol;
	if (pol->has_fallback && (pol->pages == REGION_PAGES_HUGE ||
				  pol->pages == REGION_PAGES_HUGE1G)) {
		long avail = region_pool_available(pol->pages);

		huge_left = avail > 0 ? (uint64_t)avail * ps : 0;
		fb.pages = pol->fallback;
		fb.has_fallback = 0;
	}
	if (!pol->has_fallback && (pol->pages == REGION_PAGES_HUGE ||
				   pol->pages == REGION_PAGES_HUGE1G)) {
		long avail = region_pool_available(pol->pages);

		/* Check the whole map at once, so the error counts every page
		 * the guest needs, not just the first region's. */
		if (avail < 0 || (uint64_t)avail < mem_size / ps) {
			region_pool_error(pol, mem_size, err, errlen);
			return -ENOMEM;
		}
	}
	if (huge_left < mem_size) {
		/* The fallback part may need its own backing: hugetlb and
		 * ordinary memfds are different files. */
		if (huge_left &&
		    (ret = region_open_backing(pol, huge_left, &fd, &created,
					       err, errlen)))
			return ret;
		ret = region_open_backing(&fb, mem_size - huge_left, &fb_fd,
					  &created, err, errlen);
	} else {
		ret = region_open_backing(pol, mem_size, &fd, &created, err,
					  errlen);
	}
	if (ret)
		goto out;
	info->file_created = created;

	for (unsigned i = 0; i < n && !ret; i++) {
		uint64_t huge = rg[i].size < huge_left ? rg[i].size : huge_left;

		/* Fallback pieces stay aligned to the huge page size, so the
		 * boundary between the two regions is on a huge page. */
		huge -= huge % ps;
		if (huge) {
			ret = memmap_add(gm, rg[i].gpa, huge, pol, fd,
					 info->bytes_requested_pages, 0, err,
					 errlen);
			info->bytes_requested_pages += huge;
			if (huge_left != UINT64_MAX)
				huge_left -= huge;
		}
		if (!ret && huge < rg[i].size) {
			ret = memmap_add(gm, rg[i].gpa + huge,
					 rg[i].size - huge, &fb, fb_fd,
					 info->bytes_fallback, 1, err, errlen);
			info->bytes_fallback += rg[i].size - huge;
		}
	}
	if (!ret && info->bytes_fallback) {
		long avail = region_pool_available(pol->pages);

		snprintf(
			info->warning, sizeof(info->warning),
			"hugepage pool short: only %s of %s guest memory is on "
			"%s pages (%.1f%%), the rest falls back to --pages %s; "
			"%ld pages still free",
			size_format(info->bytes_requested_pages, a, sizeof(a)),
			size_format(mem_size, b, sizeof(b)),
			region_pages_name(pol->pages),
			100.0 * (double)info->bytes_requested_pages /
				(double)mem_size,
			region_pages_name(fb.pages), avail);
	}
out:
	if (fd >= 0)
		close(fd);
	if (fb_fd >= 0)
		close(fb_fd);
	if (ret) {
		(void)guest_mem_destroy(gm); /* nothing written yet, as above */
		if (created && pol->path)
			unlink(pol->path);
		info->file_created = 0;
	}
	return ret;
}
