#include "mem/region.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "lib/file.h"
#include "mem/size.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif

#define REGION_GUARD (4096UL)
#define REGION_2M    (2UL << 20)

size_t region_page_size(enum region_pages pages)
{
	switch (pages) {
	case REGION_PAGES_BASE: return 4096;
	case REGION_PAGES_THP: return REGION_2M;
	case REGION_PAGES_HUGE: return REGION_2M;
	case REGION_PAGES_HUGE1G: return 1UL << 30;
	}
	return 4096;
}

const char *region_pages_name(enum region_pages pages)
{
	switch (pages) {
	case REGION_PAGES_BASE: return "base";
	case REGION_PAGES_THP: return "thp";
	case REGION_PAGES_HUGE: return "huge";
	case REGION_PAGES_HUGE1G: return "huge1g";
	}
	return "?";
}

static int region_pages_from_name(const char *s, size_t n,
				  enum region_pages *out)
{
	static const enum region_pages all[] = {
		REGION_PAGES_BASE, REGION_PAGES_THP, REGION_PAGES_HUGE,
		REGION_PAGES_HUGE1G};

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = region_pages_name(all[i]);

		if (strlen(name) == n && !strncmp(s, name, n)) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

static int region_is_hugetlb(enum region_pages p)
{
	return p == REGION_PAGES_HUGE || p == REGION_PAGES_HUGE1G;
}

int region_policy_parse(const char *s, struct region_policy *pol, char *err,
			size_t errlen)
{
	const char *comma = strchr(s, ',');
	size_t n = comma ? (size_t)(comma - s) : strlen(s);
	struct region_policy p = *pol;

	p.has_fallback = 0;
	if (region_pages_from_name(s, n, &p.pages)) {
		snprintf(err, errlen,
			 "unknown page policy '%.*s': use base, thp, huge or "
			 "huge1g",
			 (int)n, s);
		return -EINVAL;
	}
	if (comma) {
		const char *f = comma + 1;

		if (strncmp(f, "fallback=", 9) ||
		    region_pages_from_name(f + 9, strlen(f + 9), &p.fallback)) {
			snprintf(err, errlen,
				 "bad page policy option '%s': the only option "
				 "is fallback=base|thp|huge",
				 f);
			return -EINVAL;
		}
		if (region_page_size(p.fallback) > region_page_size(p.pages) ||
		    p.fallback == p.pages) {
			snprintf(err, errlen,
				 "fallback=%s is not smaller than %s: fall "
				 "back to a smaller page size",
				 region_pages_name(p.fallback),
				 region_pages_name(p.pages));
			return -EINVAL;
		}
		p.has_fallback = 1;
	}
	*pol = p;
	return 0;
}

static long region_sysfs_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static const char *region_hp_dir(enum region_pages pages)
{
	return pages == REGION_PAGES_HUGE1G
		       ? "/sys/kernel/mm/hugepages/hugepages-1048576kB"
		       : "/sys/kernel/mm/hugepages/hugepages-2048kB";
}

static long region_hp_read(enum region_pages pages, const char *file)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", region_hp_dir(pages), file);
	return region_sysfs_long(path);
}

long region_pool_available(enum region_pages pages)
{
	long free_pages = region_hp_read(pages, "free_hugepages");
	long resv = region_hp_read(pages, "resv_hugepages");

	if (free_pages < 0 || resv < 0)
		return -1;
	return free_pages > resv ? free_pages - resv : 0;
}

/* THP must really be available: a thp policy on a host with THP off would be
 * a silent fallback to 4K pages. */
static int region_thp_check(int shmem, char *err, size_t errlen)
{
	const char *path =
		shmem ? "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
		      : "/sys/kernel/mm/transparent_hugepage/enabled";
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	const char *sel;

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	sel = strchr(buf, '[');
	if (!sel) {
		snprintf(err, errlen,
			 "transparent hugepages are not available (%s "
			 "unreadable): use --pages base or huge",
			 path);
		return -EOPNOTSUPP;
	}
	if (!strncmp(sel, "[never]", 7) || !strncmp(sel, "[deny]", 6)) {
		snprintf(err, errlen,
			 "transparent hugepages are disabled (%s is %.*s): "
			 "echo %s > %s, or use --pages base or huge",
			 path, (int)(strchr(sel, ']') - sel + 1), sel,
			 shmem ? "advise" : "madvise", path);
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * The downgrade to suggest for a short pool, only one that would work:
 * none for a --mem-file (one file has one page size), thp only where THP
 * is enabled for that kind of memory (shmem for a memfd), base otherwise.
 */
static const char *region_pool_fallback(const struct region_policy *pol)
{
	char scratch[256];

	if (pol->backing == REGION_BACKING_FILE)
		return NULL;
	return region_thp_check(pol->backing == REGION_BACKING_SHARED, scratch,
				sizeof(scratch))
		       ? "base"
		       : "thp";
}

/* The one-line error for a short pool: how many pages are needed, how many
 * can be had, and the command that reserves the rest. */
void region_pool_error(const struct region_policy *pol, uint64_t size,
		       char *err, size_t errlen)
{
	enum region_pages pages = pol->pages;
	unsigned long need = size / region_page_size(pages);
	long avail = region_pool_available(pages);
	long total = region_hp_read(pages, "nr_hugepages");
	const char *sz = pages == REGION_PAGES_HUGE1G ? "1G" : "2M";
	const char *fb = region_pool_fallback(pol);
	char alt[64];

	if (avail < 0 || total < 0) {
		snprintf(err, errlen,
			 "%s hugepages are not supported by this kernel "
			 "(%s missing): use --pages huge or thp",
			 sz, region_hp_dir(pages));
		return;
	}
	if (fb)
		snprintf(alt, sizeof(alt), " (or add ,fallback=%s to %s)", fb,
			 pol->origin ? "that --mem-zone" : "--pages");
	else
		snprintf(alt, sizeof(alt),
			 " (--mem-file takes no fallback: a file has one "
			 "page size)");
	snprintf(err, errlen,
		 "%s%shugepage pool too small: need %lu %s pages, %ld free; "
		 "reserve them with: echo %lu > %s/nr_hugepages%s",
		 pol->origin ? pol->origin : "", pol->origin ? ": " : "", need,
		 sz, avail, (unsigned long)total + need - (unsigned long)avail,
		 region_hp_dir(pages), alt);
}

static const char *region_fs_name(long type)
{
	switch (type) {
	case TMPFS_MAGIC: return "tmpfs";
	case EXT4_SUPER_MAGIC: return "ext2/3/4";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case NFS_SUPER_MAGIC: return "nfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlay";
	case HUGETLBFS_MAGIC: return "hugetlbfs";
	}
	return NULL;
}

/*
 * Give every byte of the memory file its blocks now. A sparse file on a
 * full file system (a small tmpfs, a full disk) maps fine, and the first
 * guest write that needs a block the file system does not have is a
 * SIGBUS that kills the VMM: an error at setup instead, naming the file
 * system and what is missing. hugetlbfs needs none of this: the MAP_SHARED
 * mapping reserves its pages from the pool, checked in region_map.
 */
static int region_file_allocate(int fd, const char *path, uint64_t size,
				char *err, size_t errlen)
{
	char a[32], b[32], type[32];
	struct statfs sf;
	const char *name;
	int e;

	if (fstatfs(fd, &sf)) {
		e = errno;
		snprintf(err, errlen, "statfs on memory file %s: %s", path,
			 strerror(e));
		return -e;
	}
	if (sf.f_type == HUGETLBFS_MAGIC)
		return 0;
	/* posix_fallocate: fallocate(2), or writing every block where the
	 * file system lacks it. Returns the error, errno is untouched. */
	e = posix_fallocate(fd, 0, (off_t)size);
	if (!e)
		return 0;
	if (fstatfs(fd, &sf))
		memset(&sf, 0, sizeof(sf));
	name = region_fs_name((long)sf.f_type);
	if (!name) {
		snprintf(type, sizeof(type), "type %#lx", (long)sf.f_type);
		name = type;
	}
	snprintf(err, errlen,
		 "cannot allocate %s for memory file %s on its %s file system "
		 "(%s free): %s: free space there, use a file elsewhere or a "
		 "smaller --mem",
		 size_format(size, a, sizeof(a)), path, name,
		 size_format((uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize, b,
			     sizeof(b)),
		 strerror(e));
	return -e;
}

int region_open_backing(const struct region_policy *pol, uint64_t size, int *fd,
			int *created, char *err, size_t errlen)
{
	unsigned flags = MFD_CLOEXEC;
	struct stat st;
	int f, ret;

	*fd = -1;
	*created = 0;
	if (pol->backing == REGION_BACKING_FILE) {
		/* An existing file: its type is checked before the open (a
		 * FIFO or device is refused, never waited on). A new one:
		 * O_EXCL, so a link planted at the path is not followed. */
		f = file_open_input(pol->path, O_RDWR, 0, &st);
		if (f == -ENOENT) {
			f = open(pol->path,
				 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (f < 0)
				f = -errno;
			*created = f >= 0;
			if (f >= 0 && fstat(f, &st)) {
				snprintf(err, errlen, "fstat %s: %s", pol->path,
					 strerror(errno));
				goto fail_einval;
			}
		} else if (f == -EINVAL) {
			snprintf(err, errlen,
				 "memory file %s is not a regular file (it is "
				 "%s): name a file on a disk, tmpfs or "
				 "hugetlbfs",
				 pol->path, file_type_name(st.st_mode));
			return f;
		}
		if (f < 0) {
			snprintf(err, errlen, "cannot open memory file %s: %s",
				 pol->path, strerror(-f));
			return f;
		}
		/* Two VMs on one memory file would corrupt each other's RAM:
		 * an exclusive lock like a writable --disk's, held as long as
		 * the mappings' dup'd fds are open. */
		if (flock(f, LOCK_EX | LOCK_NB)) {
			int e = errno;

			if (e == EWOULDBLOCK) {
				snprintf(err, errlen,
					 "memory file %s is in use by another "
					 "process (locked): stop that VM or "
					 "use another file",
					 pol->path);
				e = EBUSY;
			} else {
				snprintf(err, errlen,
					 "memory file %s: lock: %s", pol->path,
					 strerror(e));
			}
			close(f);
			/* Even if we made it: whoever holds the lock uses
			 * it now, it is not ours to remove. */
			*created = 0;
			return -e;
		}
		if (st.st_size == 0) {
			if (ftruncate(f, (off_t)size)) {
				int e = errno;

				snprintf(err, errlen,
					 "cannot size memory file %s to %llu "
					 "bytes: %s",
					 pol->path, (unsigned long long)size,
					 strerror(e));
				close(f);
				if (*created)
					unlink(pol->path);
				*created = 0;
				return -e;
			}
		} else if ((uint64_t)st.st_size < size) {
			char a[32], b[32];

			snprintf(
				err, errlen,
				"memory file %s holds %s but the guest needs "
				"%s: use an empty or larger file",
				pol->path,
				size_format((uint64_t)st.st_size, a, sizeof(a)),
				size_format(size, b, sizeof(b)));
			goto fail_einval;
		}
		ret = region_file_allocate(f, pol->path, size, err, errlen);
		if (ret) {
			close(f);
			if (*created)
				unlink(pol->path);
			*created = 0;
			return ret;
		}
		*fd = f;
		return 0;
	}
	if (pol->backing == REGION_BACKING_ANON &&
	    !region_is_hugetlb(pol->pages))
		return 0;
	/* Hugetlb memory always comes from a memfd, even when private to us:
	 * fallocate(PUNCH_HOLE) on it returns pages to the pool cleanly. */
	if (pol->pages == REGION_PAGES_HUGE)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	else if (pol->pages == REGION_PAGES_HUGE1G)
		flags |= MFD_HUGETLB | MFD_HUGE_1GB;
	f = memfd_create("microvm-ram", flags);
	if (f < 0) {
		int e = errno;

		snprintf(err, errlen, "memfd_create for guest memory: %s",
			 strerror(e));
		return -e;
	}
	if (ftruncate(f, (off_t)size)) {
		int e = errno;

		snprintf(err, errlen, "cannot size guest memory memfd: %s",
			 strerror(e));
		close(f);
		return -e;
	}
	*fd = f;
	return 0;

fail_einval:
	close(f);
	if (*created)
		unlink(pol->path);
	*created = 0;
	return -EINVAL;
}

static int region_file_pages_ok(const struct region_policy *pol, int fd,
				char *err, size_t errlen)
{
	struct statfs sf;
	int huge_fs;

	if (pol->backing != REGION_BACKING_FILE)
		return 0;
	if (fstatfs(fd, &sf)) {
		snprintf(err, errlen, "statfs on %s: %s", pol->path,
			 strerror(errno));
		return -errno;
	}
	huge_fs = sf.f_type == HUGETLBFS_MAGIC;
	if (region_is_hugetlb(pol->pages) && !huge_fs) {
		snprintf(err, errlen,
			 "--pages %s needs the memory file on hugetlbfs, but "
			 "%s is not: mount hugetlbfs or use --pages base",
			 region_pages_name(pol->pages), pol->path);
		return -EINVAL;
	}
	if (pol->pages == REGION_PAGES_THP) {
		snprintf(err, errlen,
			 "--pages thp cannot back a regular memory file (%s): "
			 "use --pages base, or huge with a hugetlbfs file",
			 pol->path);
		return -EINVAL;
	}
	return 0;
}

int region_map(struct region *r, uint64_t gpa, uint64_t size,
	       const struct region_policy *pol, int fd, uint64_t fd_offset,
	       char *err, size_t errlen)
{
	size_t ps = region_page_size(pol->pages);
	size_t align = ps > REGION_2M ? ps : REGION_2M;
	int hugetlb = region_is_hugetlb(pol->pages);
	uint64_t end, len;
	uint8_t *res, *hva;
	void *m;
	int flags, ret, own_fd = -1;
	char a[32], b[32];

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->host_node = -1;
	if (!size || gpa % ps || size % ps ||
	    __builtin_add_overflow(gpa, size, &end)) {
		snprintf(err, errlen,
			 "guest memory at %#llx size %s is not a multiple of "
			 "the %s page size of %s pages=%s: use a multiple of "
			 "%s",
			 (unsigned long long)gpa,
			 size_format(size, a, sizeof(a)),
			 size_format(ps, b, sizeof(b)),
			 pol->origin ? pol->origin : "--pages",
			 region_pages_name(pol->pages), b);
		return -EINVAL;
	}
	if (fd < 0 && (hugetlb || pol->backing != REGION_BACKING_ANON)) {
		snprintf(err, errlen, "internal: region needs a backing fd");
		return -EINVAL;
	}
	if (fd >= 0 && (ret = region_file_pages_ok(pol, fd, err, errlen)))
		return ret;
	if (pol->pages == REGION_PAGES_THP &&
	    (ret = region_thp_check(fd >= 0, err, errlen)))
		return ret;
	if (hugetlb && !pol->noreserve) {
		long avail = region_pool_available(pol->pages);

		/* The kernel would refuse the mmap below anyway; checking
		 * first lets the error say how many pages are missing. */
		if (avail < 0 || (uint64_t)avail < size / ps) {
			region_pool_error(pol, size, err, errlen);
			return -ENOMEM;
		}
	}

	/* Reserve guard + alignment slack + size + guard as PROT_NONE, then
	 * map the memory over the middle. What stays PROT_NONE on either side
	 * are the guard pages. */
	if (__builtin_add_overflow(size, align + 2 * REGION_GUARD, &len)) {
		snprintf(err, errlen, "guest memory size overflows");
		return -EINVAL;
	}
	m = mmap(NULL, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "cannot reserve %s of address space: %s",
			 size_format(size, a, sizeof(a)), strerror(-ret));
		return ret;
	}
	res = m;
	hva = res + REGION_GUARD;
	/* hva == gpa modulo align, so KVM may map huge EPT/NPT entries. */
	hva += (gpa - (uintptr_t)hva) & (align - 1);

	if (fd >= 0) {
		flags = MAP_SHARED | MAP_FIXED |
			(pol->noreserve ? MAP_NORESERVE : 0);
		m = mmap(hva, size, PROT_READ | PROT_WRITE, flags, fd,
			 (off_t)fd_offset);
	} else {
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
		m = mmap(hva, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	}
	if (m == MAP_FAILED) {
		ret = -errno;
		if (hugetlb && ret == -ENOMEM)
			region_pool_error(pol, size, err, errlen);
		else
			snprintf(err, errlen,
				 "cannot map %s of guest memory: %s",
				 size_format(size, a, sizeof(a)),
				 strerror(-ret));
		goto fail_unmap;
	}
	if (pol->pages == REGION_PAGES_THP &&
	    madvise(hva, size, MADV_HUGEPAGE)) {
		/* Before any fault, or the first touches get 4K pages. */
		ret = -errno;
		snprintf(err, errlen, "madvise(MADV_HUGEPAGE): %s",
			 strerror(-ret));
		goto fail_unmap;
	}
	/* Base means 4K: a host with THP "always" (Debian's cloud kernels)
	 * would otherwise back base memory with 2M pages behind the policy's
	 * back. Where THP is not built in there is nothing to turn off. */
	if (pol->pages == REGION_PAGES_BASE)
		(void)madvise(hva, size, MADV_NOHUGEPAGE);
	/* Guest RAM in a core dump is noise and possibly secrets. */
	(void)madvise(hva, size, MADV_DONTDUMP);
	if (fd >= 0) {
		own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (own_fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "dup: %s", strerror(-ret));
			goto fail_unmap;
		}
	}

	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->map_base = res;
	r->map_len = len;
	r->page_size = ps;
	r->pages = pol->pages;
	r->requested = pol->pages;
	r->backing = pol->backing;
	r->fd = own_fd;
	r->fd_offset = fd_offset;
	r->discard_granule = hugetlb ? ps : 4096;
	return 0;

fail_unmap:
	munmap(res, len);
	return ret;
}

int region_sync(struct region *r)
{
	if (r->backing != REGION_BACKING_FILE || !r->hva)
		return 0;
	if (msync(r->hva, r->size, MS_SYNC))
		return -errno;
	if (r->fd >= 0 && fdatasync(r->fd))
		return -errno;
	return 0;
}

int region_unmap(struct region *r)
{
	int ret = 0;

	if (r->map_base) {
		/* File-backed guest memory must reach the file; callers
		 * that can report an error sync first themselves. */
		ret = region_sync(r);
		munmap(r->map_base, r->map_len);
	}
	if (r->fd >= 0 && r->map_base)
		close(r->fd);
	free(r->plug_state);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->host_node = -1;
	return ret;
}

/*
 * A discard where the region maps a file privately: fresh anonymous
 * memory over [off, off+len), so the range reads zeros as after any
 * discard. Each such range may split the file mapping in two; when the
 * process has no mappings left (ENOMEM, vm.max_map_count), the range is
 * zeroed in place: the right content, memory not returned.
 */
static int region_discard_remap(struct region *r, uint64_t off, uint64_t len,
				uint64_t *returned)
{
	void *m = mmap(r->hva + off, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		       -1, 0);

	if (m == MAP_FAILED) {
		if (errno != ENOMEM)
			return -errno;
		memset(r->hva + off, 0, len);
		return 0;
	}
	/* As the region's own anonymous memory: base pages, not dumped. */
	(void)madvise(m, len, MADV_NOHUGEPAGE);
	(void)madvise(m, len, MADV_DONTDUMP);
	*returned = len;
	return 0;
}

int region_discard(struct region *r, uint64_t off, uint64_t len,
		   uint64_t *returned)
{
	uint64_t g = r->discard_granule, start, end;

	*returned = 0;
	if (__builtin_add_overflow(off, len, &end) || end > r->size)
		return -EFAULT;
	/* Only whole granules inside the range: a partial hugepage stays. */
	start = (off + g - 1) & ~(g - 1);
	end &= ~(g - 1);
	if (start >= end)
		return 0;
	if (r->fd >= 0) {
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(r->fd_offset + start),
			      (off_t)(end - start)))
			return -errno;
	} else if (r->file_behind) {
		return region_discard_remap(r, start, end - start, returned);
	} else if (madvise(r->hva + start, end - start, MADV_DONTNEED)) {
		return -errno;
	}
	*returned = end - start;
	return 0;
}

int region_populate(struct region *r, uint64_t off, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(off, len, &end) || end > r->size || !r->hva)
		return -EFAULT;
	if (!len)
		return 0;
	if (off % r->page_size || len % r->page_size)
		return -EINVAL;
	/* A file's pages are allocated in the file: fallocate reports a
	 * short hugetlb pool or a full tmpfs as -ENOSPC, where a first
	 * touch would be SIGBUS. */
	if (r->fd >= 0) {
		if (fallocate(r->fd, 0, (off_t)(r->fd_offset + off),
			      (off_t)len))
			return -errno;
		return 0;
	}
	/* Anonymous: the kernel reports failure (-ENOMEM, -EFAULT) instead
	 * of delivering a signal. Kernels without it (-EINVAL) leave the
	 * pages to the first touch, which anonymous memory survives. */
	if (madvise(r->hva + off, len, MADV_POPULATE_WRITE))
		return errno == EINVAL ? 0 : -errno;
	return 0;
}

int region_track_plugs(struct region *r, uint64_t block)
{
	uint64_t n;

	if (!block || (block & (block - 1)) || r->size % block)
		return -EINVAL;
	n = r->size / block;
	free(r->plug_state);
	r->plug_state = calloc(n, sizeof(uint32_t));
	if (!r->plug_state)
		return -ENOMEM;
	r->plug_block = block;
	return 0;
}

/* Blocks covering [off, off+len) as [*first, *last]; -EFAULT when the
 * range leaves the region. len 0 counts as 1 byte. */
static int region_blocks(const struct region *r, uint64_t off, uint64_t len,
			 uint64_t *first, uint64_t *last)
{
	if (!len)
		len = 1;
	if (off >= r->size || len > r->size - off)
		return -EFAULT;
	*first = off / r->plug_block;
	*last = (off + len - 1) / r->plug_block;
	return 0;
}

void region_set_plugged(struct region *r, uint64_t off, uint64_t len, int on)
{
	uint64_t first, last;

	if (!r->plug_state || !len || off >= r->size)
		return;
	if (len > r->size - off)
		len = r->size - off;
	if (region_blocks(r, off, len, &first, &last))
		return;
	for (uint64_t b = first; b <= last; b++) {
		if (on)
			__atomic_fetch_or(&r->plug_state[b], 1U,
					  __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&r->plug_state[b], ~1U,
					   __ATOMIC_RELEASE);
	}
}

int region_plugged(const struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last;

	if (!r->plug_state)
		return 1;
	if (region_blocks(r, off, len, &first, &last))
		return 0;
	for (uint64_t b = first; b <= last; b++)
		if (!(__atomic_load_n(&r->plug_state[b], __ATOMIC_ACQUIRE) &
		      1U))
			return 0;
	return 1;
}

int region_pin(const struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last, b;

	if (!r->plug_state)
		return 0;
	if (region_blocks(r, off, len, &first, &last))
		return -EFAULT;
	for (b = first; b <= last; b++) {
		uint32_t s =
			__atomic_load_n(&r->plug_state[b], __ATOMIC_ACQUIRE);

		/* Plugged and pinned in one step: an unplug that gets in
		 * first makes this fail, one that comes later sees the
		 * pin. */
		do {
			if (!(s & 1U))
				goto undo;
		} while (!__atomic_compare_exchange_n(
			&r->plug_state[b], &s, s + REGION_PIN, 1,
			__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	}
	return 0;
undo:
	while (b-- > first)
		__atomic_fetch_sub(&r->plug_state[b], REGION_PIN,
				   __ATOMIC_RELEASE);
	return -EFAULT;
}

void region_unpin(const struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last;

	if (!r->plug_state || region_blocks(r, off, len, &first, &last))
		return;
	for (uint64_t b = first; b <= last; b++)
		__atomic_fetch_sub(&r->plug_state[b], REGION_PIN,
				   __ATOMIC_RELEASE);
}

int region_try_unplug(struct region *r, uint64_t off, uint64_t len)
{
	uint64_t first, last, b;

	if (!r->plug_state)
		return -EINVAL;
	if (region_blocks(r, off, len, &first, &last))
		return -EFAULT;
	/* Only this thread changes the plugged bits: a plain check is
	 * enough for them. */
	for (b = first; b <= last; b++)
		if (!(__atomic_load_n(&r->plug_state[b], __ATOMIC_ACQUIRE) &
		      1U))
			return -EINVAL;
	for (b = first; b <= last; b++) {
		uint32_t s = 1U;

		/* Exactly "plugged, no pin" becomes "unplugged". */
		if (!__atomic_compare_exchange_n(&r->plug_state[b], &s, 0U, 0,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			goto undo;
	}
	return 0;
undo:
	/* Nothing can pin an unplugged block: putting the bit back is
	 * safe. */
	while (b-- > first)
		__atomic_fetch_or(&r->plug_state[b], 1U, __ATOMIC_RELEASE);
	return -EBUSY;
}
