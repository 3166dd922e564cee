#include "mem/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/thread.h"
#include "mem/prefault.h"
#include "mem/size.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
/* UFFDIO_MOVE (Linux 6.8), for headers that predate it. */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define _UFFDIO_MOVE 0x05
#define UFFDIO_MOVE  _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

#define MEMSNAP_MAGIC	   "microvm-memsnap"
#define MEMSNAP_VERSION	   1
#define MEMSNAP_LAYOUT_MAX (64 * 1024)
#define MEMSNAP_PAGE	   4096ULL
#define MEMSNAP_BATCH	   512 /* pages per pagemap read: 2 MiB */
#define MEMSNAP_CHUNK	   (64ULL << 20)
#define MEMSNAP_THP	   (2ULL << 20)

/* One region as the layout file records it. */
struct memsnap_entry {
	uint64_t gpa, size, page_size, offset;
	enum region_pages pages;
	enum region_backing backing;
	char data[PATH_MAX]; /* "mem-<i>" in dir, or a --mem-file's path */
};

const char *memsnap_mode_name(enum memsnap_mode mode)
{
	return mode == MEMSNAP_COPY ? "copy" : "lazy";
}

int memsnap_mode_parse(const char *s, enum memsnap_mode *mode)
{
	if (!strcmp(s, "lazy"))
		*mode = MEMSNAP_LAZY;
	else if (!strcmp(s, "copy"))
		*mode = MEMSNAP_COPY;
	else
		return -EINVAL;
	return 0;
}

/* CRC-32 (IEEE 802.3, reflected), bitwise: the layout file is small. */
static uint32_t memsnap_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static const char *memsnap_backing_name(enum region_backing b)
{
	switch (b) {
	case REGION_BACKING_ANON: return "anon";
	case REGION_BACKING_SHARED: return "shared";
	case REGION_BACKING_FILE: return "file";
	}
	return "?";
}

static int memsnap_backing_parse(const char *s, enum region_backing *b)
{
	static const enum region_backing all[] = {REGION_BACKING_ANON,
						  REGION_BACKING_SHARED,
						  REGION_BACKING_FILE};

	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(s, memsnap_backing_name(all[i]))) {
			*b = all[i];
			return 0;
		}
	return -EINVAL;
}

static int memsnap_pages_parse(const char *s, enum region_pages *p)
{
	static const enum region_pages all[] = {
		REGION_PAGES_BASE, REGION_PAGES_THP, REGION_PAGES_HUGE,
		REGION_PAGES_HUGE1G};

	for (unsigned i = 0; i < 4; i++)
		if (!strcmp(s, region_pages_name(all[i]))) {
			*p = all[i];
			return 0;
		}
	return -EINVAL;
}

static int memsnap_write_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Read exactly len bytes; a short file is -ENODATA (truncated). */
static int memsnap_read_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int memsnap_page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;

	for (unsigned i = 0; i < MEMSNAP_PAGE / 8; i++)
		acc |= q[i];
	return !acc;
}

/* The lazy region serving this hva, or NULL. */
static const struct memsnap_lazy_region *
memsnap_lazy_find(const struct memsnap_lazy *l, const uint8_t *hva)
{
	if (!l || !l->active)
		return NULL;
	for (unsigned i = 0; i < l->nr; i++)
		if (l->regions[i].hva == hva && l->regions[i].src_fd >= 0)
			return &l->regions[i];
	return NULL;
}

/* ---- save ---- */

struct memsnap_saver {
	int out;      /* the mem file */
	int pagemap;  /* /proc/self/pagemap, -1: assume every page present */
	int all;      /* read every page through the mapping */
	uint8_t *buf; /* one batch read from a lazy source */
	struct memsnap_stats *st;
};

/* Pages [first, first+n) of a batch that can go out in one pwrite: their
 * bytes are contiguous at src. */
static int memsnap_flush(struct memsnap_saver *s, const uint8_t *src,
			 uint64_t n, uint64_t off)
{
	int ret;

	if (!n)
		return 0;
	ret = memsnap_write_all(s->out, src, n * MEMSNAP_PAGE, (off_t)off);
	if (!ret)
		s->st->bytes_written += n * MEMSNAP_PAGE;
	return ret;
}

/*
 * One batch of up to MEMSNAP_BATCH pages at region offset `off`: each page
 * comes from memory when resident (or swapped), from the lazy source when a
 * lazy restore has not brought it in yet, or is a hole. All-zero pages are
 * holes too. Runs of pages that come from the same place go out together.
 */
static int memsnap_save_batch(struct memsnap_saver *s, const struct region *r,
			      const struct memsnap_lazy_region *lr,
			      uint64_t off, uint64_t n)
{
	uint64_t pm[MEMSNAP_BATCH];
	const uint8_t *src[MEMSNAP_BATCH];
	const uint8_t *run = NULL;
	uint64_t run_n = 0, run_off = 0;
	int have_src = 0, ret;

	if (s->pagemap >= 0 && !s->all) {
		uint64_t at = ((uintptr_t)(r->hva + off) / MEMSNAP_PAGE) * 8;

		ret = memsnap_read_all(s->pagemap, pm, n * 8, (off_t)at);
		if (ret)
			return ret;
	} else {
		for (uint64_t i = 0; i < n; i++)
			pm[i] = 1ULL << 63;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t o = off + i * MEMSNAP_PAGE;
		/* bit 63 present, bit 62 swapped */
		int resident = (pm[i] >> 62) & 3;

		src[i] = NULL;
		if (resident) {
			s->st->bytes_populated += MEMSNAP_PAGE;
			src[i] = r->hva + o;
		} else if (lr) {
			uint64_t u = o / lr->unit;
			int served =
				lr->uffd && __atomic_load_n(&lr->served[u],
							    __ATOMIC_ACQUIRE);

			if (!served) {
				if (!have_src) {
					ret = memsnap_read_all(
						lr->src_fd, s->buf,
						n * MEMSNAP_PAGE,
						(off_t)(lr->src_off + off));
					if (ret)
						return ret;
					have_src = 1;
				}
				src[i] = s->buf + i * MEMSNAP_PAGE;
			}
		}
		if (src[i] && memsnap_page_zero(src[i]))
			src[i] = NULL;
		if (!src[i])
			s->st->holes += MEMSNAP_PAGE;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (run && src[i] == run + run_n * MEMSNAP_PAGE) {
			run_n++;
			continue;
		}
		ret = memsnap_flush(s, run, run_n, run_off);
		if (ret)
			return ret;
		run = src[i];
		run_n = run ? 1 : 0;
		run_off = off + i * MEMSNAP_PAGE;
	}
	return memsnap_flush(s, run, run_n, run_off);
}

static int memsnap_save_region(struct memsnap_saver *s, int dirfd,
			       const struct region *r,
			       const struct memsnap_lazy_region *lr,
			       const char *name, const char *dir, char *err,
			       size_t errlen)
{
	int ret;

	s->out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600);
	if (s->out < 0)
		return err_set(err, errlen, -errno, "cannot create %s/%s: %s",
			       dir, name, strerror(errno));
	/* The size first: what is never written stays a hole. */
	if (ftruncate(s->out, (off_t)r->size)) {
		ret = err_set(err, errlen, -errno, "cannot size %s/%s: %s", dir,
			      name, strerror(errno));
		goto out;
	}
	for (uint64_t off = 0; off < r->size;
	     off += MEMSNAP_BATCH * MEMSNAP_PAGE) {
		uint64_t n = (r->size - off) / MEMSNAP_PAGE;

		if (n > MEMSNAP_BATCH)
			n = MEMSNAP_BATCH;
		ret = memsnap_save_batch(s, r, lr, off, n);
		if (ret) {
			err_set(err, errlen, ret,
				"writing guest memory at %#" PRIx64
				" to %s/%s: %s",
				r->gpa + off, dir, name, strerror(-ret));
			goto out;
		}
	}
	if (fdatasync(s->out)) {
		ret = err_set(err, errlen, -errno, "fdatasync %s/%s: %s", dir,
			      name, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	close(s->out);
	s->out = -1;
	return ret;
}

/*
 * 1 when the region is not what it was built as, but a lazy restore's
 * mapping: an anonymous region now mapping a file (base pages restored
 * privately from a snapshot), or a region registered with userfaultfd for
 * missing pages (smaps VmFlags "um"). Pages such a region has not faulted
 * in are the file's or the handler's, so the save reads every page through
 * the mapping instead of taking non-resident pages for holes.
 */
static int memsnap_mapped_lazily(const struct region *r)
{
	uintptr_t s0 = (uintptr_t)r->hva, e0 = s0 + r->size;
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, lazy = 0;

	if (!f)
		return 1; /* cannot tell: read everything, never lose data */
	while (!lazy && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, ino;
		char perms[8], dev[16];
		int used = 0;

		if (sscanf(line, "%llx-%llx %7s %*x %15s %llu %n", &s, &e,
			   perms, dev, &ino, &used) == 5 &&
		    used) {
			in = s < e0 && e > s0;
			/* a file where anonymous memory was built */
			if (in && r->backing == REGION_BACKING_ANON &&
			    r->fd < 0 && line[used] == '/')
				lazy = 1;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8) &&
		    strstr(line + 8, " um"))
			lazy = 1;
	}
	fclose(f);
	return lazy;
}

/* The path of a --mem-file region, from its open descriptor. */
static int memsnap_fd_path(int fd, char *path, size_t len, char *err,
			   size_t errlen)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, len - 1);
	if (n < 0)
		return err_set(err, errlen, -errno,
			       "cannot find the memory file's path (%s): %s",
			       link, strerror(errno));
	path[n] = 0;
	if ((size_t)n == len - 1 || strchr(path, '\n') || path[0] != '/')
		return err_set(err, errlen, -ENAMETOOLONG,
			       "memory file path %s cannot be recorded", path);
	if (strstr(path, " (deleted)"))
		return err_set(err, errlen, -ENOENT,
			       "memory file %s was removed: the snapshot "
			       "could not find it again",
			       path);
	return 0;
}

static int memsnap_append(char *buf, size_t len, size_t *used, const char *fmt,
			  ...) __attribute__((format(printf, 4, 5)));

static int memsnap_append(char *buf, size_t len, size_t *used, const char *fmt,
			  ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *used)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

int memsnap_save(const struct guest_mem *gm, const struct memsnap_lazy *lazy,
		 const char *dir, struct memsnap_stats *st, char *err,
		 size_t errlen)
{
	struct memsnap_stats local;
	struct memsnap_saver s = {.out = -1, .pagemap = -1};
	uint64_t t0 = clock_wall_ns();
	char *layout = NULL, *path = NULL;
	size_t used = 0;
	int dirfd, fd = -1, ret;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	s.st = st;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return err_set(err, errlen, -errno,
			       "cannot open snapshot directory %s: %s", dir,
			       strerror(errno));
	layout = malloc(MEMSNAP_LAYOUT_MAX);
	path = malloc(PATH_MAX);
	s.buf = malloc(MEMSNAP_BATCH * MEMSNAP_PAGE);
	if (!layout || !path || !s.buf) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	/* Without pagemap every page counts as populated: larger files, the
	 * same content. */
	s.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ret = memsnap_append(layout, MEMSNAP_LAYOUT_MAX, &used,
			     "%s %d\nregions %u\n", MEMSNAP_MAGIC,
			     MEMSNAP_VERSION, gm->nr);
	for (unsigned i = 0; i < gm->nr && !ret; i++) {
		const struct region *r = &gm->regions[i];
		uint64_t off = 0;

		if (r->backing == REGION_BACKING_FILE) {
			/* Already persisted: flush, record where. */
			ret = 0;
			if (msync(r->hva, r->size, MS_SYNC) || fdatasync(r->fd))
				ret = -errno;
			if (ret) {
				err_set(err, errlen, ret,
					"cannot flush the memory file of the "
					"region at %#" PRIx64 ": %s",
					r->gpa, strerror(-ret));
				break;
			}
			ret = memsnap_fd_path(r->fd, path, PATH_MAX, err,
					      errlen);
			if (ret)
				break;
			off = r->fd_offset;
		} else {
			const struct memsnap_lazy_region *lr =
				memsnap_lazy_find(lazy, r->hva);

			/* Memory a lazy restore we were not told about still
			 * maps: what is not in memory is not a hole. */
			s.all = !lr && memsnap_mapped_lazily(r);
			snprintf(path, PATH_MAX, "mem-%u", i);
			ret = memsnap_save_region(&s, dirfd, r, lr, path, dir,
						  err, errlen);
			if (ret)
				break;
		}
		ret = memsnap_append(layout, MEMSNAP_LAYOUT_MAX, &used,
				     "region %u gpa=%#" PRIx64 " size=%#" PRIx64
				     " page_size=%zu pages=%s backing=%s "
				     "offset=%#" PRIx64 " data=%s\n",
				     i, r->gpa, r->size, r->page_size,
				     region_pages_name(r->pages),
				     memsnap_backing_name(r->backing), off,
				     path);
	}
	if (ret == -ENOSPC)
		err_set(err, errlen, ret, "memory layout too long");
	if (ret)
		goto out;
	ret = memsnap_append(layout, MEMSNAP_LAYOUT_MAX, &used,
			     "crc32=%08" PRIx32 "\n",
			     memsnap_crc32(layout, used));
	if (ret) {
		err_set(err, errlen, ret, "memory layout too long");
		goto out;
	}
	fd = openat(dirfd, MEMSNAP_LAYOUT,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = err_set(err, errlen, -errno, "cannot create %s/%s: %s",
			      dir, MEMSNAP_LAYOUT, strerror(errno));
		goto out;
	}
	ret = memsnap_write_all(fd, layout, used, 0);
	if (!ret && fdatasync(fd))
		ret = -errno;
	if (ret)
		err_set(err, errlen, ret, "writing %s/%s: %s", dir,
			MEMSNAP_LAYOUT, strerror(-ret));
out:
	if (fd >= 0)
		close(fd);
	if (s.pagemap >= 0)
		close(s.pagemap);
	free(s.buf);
	free(path);
	free(layout);
	close(dirfd);
	st->ns = clock_wall_ns() - t0;
	return ret;
}

/* ---- layout ---- */

static int memsnap_damaged(char *err, size_t errlen, const char *dir,
			   const char *what)
{
	return err_set(err, errlen, -EINVAL, "snapshot %s/%s is damaged: %s",
		       dir, MEMSNAP_LAYOUT, what);
}

static int memsnap_data_name_ok(const struct memsnap_entry *x, unsigned i)
{
	char want[32];

	if (x->backing == REGION_BACKING_FILE)
		return x->data[0] == '/';
	snprintf(want, sizeof(want), "mem-%u", i);
	return !strcmp(x->data, want);
}

/* Parse and check the layout file; entries must hold GUEST_MEM_MAX_REGIONS. */
static int memsnap_layout_read(int dirfd, const char *dir,
			       struct memsnap_entry *e, unsigned *nr, char *err,
			       size_t errlen)
{
	char *buf, *line, *crcl, *save = NULL;
	struct stat sb;
	unsigned n = 0, version = 0, idx;
	uint32_t crc;
	int fd, ret;

	/* O_NONBLOCK: a FIFO planted in the directory must not block the
	 * open; it is refused below as not a regular file. */
	fd = openat(dirfd, MEMSNAP_LAYOUT, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, -errno,
			       "cannot open %s/%s: %s (not a snapshot "
			       "directory?)",
			       dir, MEMSNAP_LAYOUT, strerror(errno));
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    sb.st_size >= MEMSNAP_LAYOUT_MAX) {
		close(fd);
		return memsnap_damaged(err, errlen, dir,
				       "not a regular file of a sane size");
	}
	buf = calloc(1, (size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	ret = memsnap_read_all(fd, buf, (size_t)sb.st_size, 0);
	close(fd);
	if (ret) {
		ret = memsnap_damaged(err, errlen, dir, "unreadable");
		goto out;
	}
	if (strlen(buf) != (size_t)sb.st_size) {
		ret = memsnap_damaged(err, errlen, dir, "NUL byte");
		goto out;
	}
	/* The CRC line is last and covers everything before it. */
	crcl = strstr(buf, "\ncrc32=");
	if (!crcl || sscanf(crcl + 7, "%8" SCNx32, &crc) != 1 ||
	    strlen(crcl + 7) != 9 || crcl[15] != '\n') {
		ret = memsnap_damaged(err, errlen, dir, "no CRC line");
		goto out;
	}
	if (memsnap_crc32(buf, (size_t)(crcl + 1 - buf)) != crc) {
		ret = memsnap_damaged(err, errlen, dir, "CRC mismatch");
		goto out;
	}
	crcl[1] = 0;
	line = strtok_r(buf, "\n", &save);
	if (!line || sscanf(line, MEMSNAP_MAGIC " %u", &version) != 1) {
		ret = memsnap_damaged(err, errlen, dir, "no magic line");
		goto out;
	}
	if (version != MEMSNAP_VERSION) {
		ret = err_set(err, errlen, -EINVAL,
			      "snapshot %s has memory layout version %u; this "
			      "microvm reads version %d",
			      dir, version, MEMSNAP_VERSION);
		goto out;
	}
	line = strtok_r(NULL, "\n", &save);
	if (!line || sscanf(line, "regions %u", nr) != 1 || !*nr ||
	    *nr > GUEST_MEM_MAX_REGIONS) {
		ret = memsnap_damaged(err, errlen, dir, "bad region count");
		goto out;
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		char pages[16], backing[16];
		struct memsnap_entry *x;
		const char *data;
		int used = 0;

		if (n >= *nr ||
		    sscanf(line,
			   "region %u gpa=%" SCNx64 " size=%" SCNx64
			   " page_size=%" SCNu64 " pages=%15s backing=%15s "
			   "offset=%" SCNx64 " %n",
			   &idx, &e[n].gpa, &e[n].size, &e[n].page_size, pages,
			   backing, &e[n].offset, &used) != 7 ||
		    !used || idx != n || strncmp(line + used, "data=", 5)) {
			ret = memsnap_damaged(err, errlen, dir,
					      "bad region line");
			goto out;
		}
		x = &e[n];
		data = line + used + 5;
		if (memsnap_pages_parse(pages, &x->pages) ||
		    memsnap_backing_parse(backing, &x->backing) ||
		    x->page_size != region_page_size(x->pages) || !x->size ||
		    x->size % MEMSNAP_PAGE || x->gpa % MEMSNAP_PAGE ||
		    __builtin_add_overflow(x->gpa, x->size, &(uint64_t){0}) ||
		    strlen(data) >= sizeof(x->data)) {
			ret = memsnap_damaged(err, errlen, dir,
					      "bad region fields");
			goto out;
		}
		strcpy(x->data, data);
		/* Only the region's own file in dir, or an absolute
		 * --mem-file path: nothing else is read. */
		if (!memsnap_data_name_ok(x, n)) {
			ret = memsnap_damaged(err, errlen, dir,
					      "bad region data name");
			goto out;
		}
		n++;
	}
	if (n != *nr) {
		ret = memsnap_damaged(err, errlen, dir, "missing regions");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* ---- restore ---- */

/* Where one region of gm comes from. */
struct memsnap_src {
	int fd;	      /* -1: nothing to do (same --mem-file) */
	uint64_t off; /* region start in fd */
};

/* Open and check the data of every region before anything is changed. */
static int memsnap_open_sources(const struct guest_mem *gm, int dirfd,
				const char *dir, const struct memsnap_entry *e,
				struct memsnap_src *src, char *err,
				size_t errlen)
{
	char a[32], b[32];

	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		struct stat sb, rb;
		uint64_t need;
		int fd;

		if (r->gpa != e[i].gpa || r->size != e[i].size)
			return err_set(
				err, errlen, -EINVAL,
				"snapshot %s region %u is %s at %#" PRIx64
				" but the VM's is %s at %#" PRIx64
				": restore with the memory size the snapshot "
				"was taken with",
				dir, i, size_format(e[i].size, a, sizeof(a)),
				e[i].gpa, size_format(r->size, b, sizeof(b)),
				r->gpa);
		if (e[i].backing == REGION_BACKING_FILE)
			fd = open(e[i].data, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		else
			fd = openat(dirfd, e[i].data,
				    O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return err_set(err, errlen, -errno,
				       "cannot open snapshot memory %s%s%s: %s",
				       e[i].data[0] == '/' ? "" : dir,
				       e[i].data[0] == '/' ? "" : "/",
				       e[i].data, strerror(errno));
		src[i].fd = fd;
		src[i].off = e[i].offset;
		need = e[i].offset + e[i].size;
		if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
			return err_set(err, errlen, -EINVAL,
				       "snapshot memory %s%s%s is not a "
				       "regular file",
				       e[i].data[0] == '/' ? "" : dir,
				       e[i].data[0] == '/' ? "" : "/",
				       e[i].data);
		if ((e[i].backing == REGION_BACKING_FILE
			     ? (uint64_t)sb.st_size < need
			     : (uint64_t)sb.st_size != e[i].size))
			return err_set(
				err, errlen, -EINVAL,
				"snapshot memory %s%s%s is damaged: it holds "
				"%s, the region needs %s%s",
				e[i].data[0] == '/' ? "" : dir,
				e[i].data[0] == '/' ? "" : "/", e[i].data,
				size_format((uint64_t)sb.st_size, a, sizeof(a)),
				size_format(e[i].size, b, sizeof(b)),
				(uint64_t)sb.st_size < e[i].size
					? " (truncated)"
					: "");
		/* Restoring onto the very --mem-file the snapshot names:
		 * the memory is already there. */
		if (r->backing == REGION_BACKING_FILE && r->fd >= 0 &&
		    !fstat(r->fd, &rb) && rb.st_dev == sb.st_dev &&
		    rb.st_ino == sb.st_ino && r->fd_offset == e[i].offset) {
			close(fd);
			src[i].fd = -1;
		}
	}
	return 0;
}

struct memsnap_copier {
	const struct guest_mem *gm;
	const struct memsnap_src *src;
	const uint8_t *eager; /* per region: 1 to copy */
	uint64_t next, nr_chunks, bytes;
	int error;
	uint64_t error_gpa;
};

/* Copy the data extents of [off, off+len) of region i: holes stay
 * untouched (fresh memory reads as zero). */
static int memsnap_copy_range(const struct region *r,
			      const struct memsnap_src *s, uint64_t off,
			      uint64_t len, uint64_t *bytes)
{
	off_t pos = (off_t)(s->off + off), end = pos + (off_t)len;

	while (pos < end) {
		off_t d = lseek(s->fd, pos, SEEK_DATA), h;
		int ret;

		if (d < 0 && errno == ENXIO) {
			struct stat sb;

			/* Holes to the end, or a file cut short since the
			 * restore checked its size. */
			if (fstat(s->fd, &sb))
				return -errno;
			return sb.st_size < end ? -ENODATA : 0;
		}
		if (d < 0)
			return -errno;
		if (d >= end)
			return 0;
		h = lseek(s->fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		if (h > end)
			h = end;
		ret = memsnap_read_all(s->fd, r->hva + (d - (off_t)s->off),
				       (size_t)(h - d), d);
		if (ret)
			return ret;
		*bytes += (uint64_t)(h - d);
		pos = h;
	}
	return 0;
}

static void *memsnap_copy_worker(void *arg)
{
	struct memsnap_copier *c = arg;

	for (;;) {
		uint64_t k = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
		uint64_t bytes = 0;
		unsigned i;
		int ret;

		if (k >= c->nr_chunks ||
		    __atomic_load_n(&c->error, __ATOMIC_RELAXED))
			break;
		/* chunk k: walk the regions to copy, MEMSNAP_CHUNK each */
		for (i = 0; i < c->gm->nr; i++) {
			uint64_t n;

			if (!c->eager[i])
				continue;
			n = (c->gm->regions[i].size + MEMSNAP_CHUNK - 1) /
			    MEMSNAP_CHUNK;
			if (k < n)
				break;
			k -= n;
		}
		if (i == c->gm->nr)
			break;
		const struct region *r = &c->gm->regions[i];
		uint64_t off = k * MEMSNAP_CHUNK;
		uint64_t len = r->size - off < MEMSNAP_CHUNK ? r->size - off
							     : MEMSNAP_CHUNK;

		ret = memsnap_copy_range(r, &c->src[i], off, len, &bytes);
		__atomic_fetch_add(&c->bytes, bytes, __ATOMIC_RELAXED);
		if (ret) {
			int zero = 0;

			if (__atomic_compare_exchange_n(&c->error, &zero, ret,
							0, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
				c->error_gpa = r->gpa + off;
		}
	}
	return NULL;
}

static int memsnap_copy(const struct guest_mem *gm,
			const struct memsnap_src *src, const uint8_t *eager,
			const char *dir, uint64_t *bytes, char *err,
			size_t errlen)
{
	struct memsnap_copier c = {.gm = gm, .src = src, .eager = eager};
	pthread_t t[PREFAULT_MAX_THREADS];
	unsigned nt = prefault_auto_threads(gm), started = 0;

	for (unsigned i = 0; i < gm->nr; i++)
		if (eager[i])
			c.nr_chunks +=
				(gm->regions[i].size + MEMSNAP_CHUNK - 1) /
				MEMSNAP_CHUNK;
	if (!c.nr_chunks)
		return 0;
	if (nt > c.nr_chunks)
		nt = (unsigned)c.nr_chunks;
	/* This thread is one of the workers. */
	for (unsigned i = 1; i < nt; i++) {
		if (thread_spawn(&t[started], memsnap_copy_worker, &c, 0))
			break; /* fewer workers, same result */
		started++;
	}
	memsnap_copy_worker(&c);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	*bytes = c.bytes;
	if (c.error)
		return err_set(err, errlen, c.error,
			       "reading snapshot %s into guest memory at "
			       "%#" PRIx64 ": %s",
			       dir, c.error_gpa,
			       c.error == -ENODATA
				       ? "memory file truncated (damaged)"
				       : strerror(-c.error));
	return 0;
}

/* ---- lazy ---- */

/*
 * A userfaultfd with as many of UFFD_FEATURE_MOVE (THP, 6.8) and
 * UFFD_FEATURE_MINOR_HUGETLBFS (hugetlb, 5.13) as the kernel has; *features
 * says which. A negative errno with the fix in err.
 */
static int memsnap_uffd_open(uint64_t *features, char *err, size_t errlen)
{
	static const uint64_t tries[] = {
		UFFD_FEATURE_MOVE | UFFD_FEATURE_MINOR_HUGETLBFS,
		UFFD_FEATURE_MINOR_HUGETLBFS,
		UFFD_FEATURE_MOVE,
		0,
	};
	int fd, e = 0;

	*features = 0;
	for (unsigned t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
		struct uffdio_api api = {.api = UFFD_API, .features = tries[t]};

		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		e = errno;
		if (fd < 0 && (e == EPERM || e == EACCES)) {
			/* /dev/userfaultfd (5.11+) is the other way in, by
			 * file permission instead of the sysctl. */
			int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

			if (dev >= 0) {
				fd = ioctl(dev, USERFAULTFD_IOC_NEW,
					   O_CLOEXEC | O_NONBLOCK);
				close(dev);
			}
		}
		if (fd < 0)
			break;
		if (!ioctl(fd, UFFDIO_API, &api)) {
			*features = tries[t];
			return fd;
		}
		/* An unknown feature is EINVAL, and the API handshake is
		 * once per descriptor: try again on a new one with less. */
		e = errno;
		close(fd);
		if (e != EINVAL || !tries[t])
			return err_set(err, errlen, -e, "userfaultfd API: %s",
				       strerror(e));
	}
	if (e == ENOSYS)
		return err_set(err, errlen, -ENOSYS,
			       "a lazy restore needs userfaultfd, which this "
			       "kernel lacks (CONFIG_USERFAULTFD): use "
			       "--restore-mode copy");
	return err_set(err, errlen, -e,
		       "a lazy restore needs userfaultfd, which is not "
		       "permitted here (%s): run `sysctl "
		       "vm.unprivileged_userfaultfd=1`, give this user "
		       "read-write access to /dev/userfaultfd, run as root, or "
		       "use --restore-mode copy",
		       strerror(e));
}

static void memsnap_lazy_fail(struct memsnap_lazy *l, int ret, const char *what,
			      uint64_t addr)
{
	int zero = 0;
	uint64_t one = 1;

	if (!__atomic_compare_exchange_n(&l->error, &zero, ret, 0,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	const char *why =
		ret == -ENODATA ? "memory file truncated" : strerror(-ret);

	if (addr)
		snprintf(l->error_msg, sizeof(l->error_msg),
			 "%s at host address %#" PRIx64 ": %s", what, addr,
			 why);
	else
		snprintf(l->error_msg, sizeof(l->error_msg), "%s: %s", what,
			 why);
	if (write(l->error_fd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow from one write */
	}
}

/* UFFDIO_COPY [dst, dst+len) from src; pages already there are skipped
 * (4K at a time outside hugetlb), and everything is woken at the end. */
static int memsnap_uffd_copy(struct memsnap_lazy *l,
			     const struct memsnap_lazy_region *lr, uint8_t *dst,
			     const uint8_t *src, uint64_t len, int hugetlb,
			     int dontwake)
{
	uint64_t done = 0;
	int again = 0;

	while (done < len) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)(dst + done),
			.src = (uintptr_t)(src + done),
			.len = len - done,
			.mode = UFFDIO_COPY_MODE_DONTWAKE,
		};

		if (!ioctl(l->uffd, UFFDIO_COPY, &c)) {
			done = len;
			break;
		}
		if (c.copy > 0)
			done += (uint64_t)c.copy;
		if (errno == EAGAIN && again++ < 1000)
			continue;
		if (errno == EEXIST) {
			/* Already there (a racing fault, or a page put back
			 * behind our back): skip it. */
			done += hugetlb ? lr->unit : MEMSNAP_PAGE;
			done -= done % (hugetlb ? lr->unit : MEMSNAP_PAGE);
			continue;
		}
		return -errno;
	}
	if (!dontwake) {
		struct uffdio_range w = {.start = (uintptr_t)dst, .len = len};

		if (ioctl(l->uffd, UFFDIO_WAKE, &w))
			return -errno;
	}
	return 0;
}

/* *data = 1 when the unit at `at` holds data in the file, 0 for a hole. */
static int memsnap_unit_has_data(const struct memsnap_lazy_region *lr, off_t at,
				 int *data)
{
	off_t d = lseek(lr->src_fd, at, SEEK_DATA);
	struct stat sb;

	*data = d >= 0 && d < at + (off_t)lr->unit;
	if (d >= 0)
		return 0;
	if (errno != ENXIO)
		return -errno;
	/* No data up to the end: a hole, unless the file was cut short
	 * after the restore checked it. */
	if (fstat(lr->src_fd, &sb))
		return -errno;
	if ((uint64_t)sb.st_size < (uint64_t)at + lr->unit)
		return -ENODATA;
	return 0;
}

/*
 * THP: fill a 2 MiB page of our own (the stage, a fresh transparent
 * hugepage) and move it into place with UFFDIO_MOVE: the guest gets the
 * huge page itself, no 4K copies to collapse. The next stage page is
 * allocated after the wake, while the guest already runs. -EAGAIN when
 * this unit must take the copy path (the stage is emptied then); other
 * errors are the file's.
 */
static int memsnap_serve_move(struct memsnap_lazy *l,
			      const struct memsnap_lazy_region *lr, uint8_t *ua,
			      off_t at, int data)
{
	struct uffdio_move mv = {
		.dst = (uintptr_t)ua,
		.src = (uintptr_t)l->stage,
		.len = lr->unit,
		.mode = 0,
	};
	int ret = 0;

	if (data) {
		ret = memsnap_read_all(lr->src_fd, l->stage, lr->unit, at);
		__atomic_fetch_add(&l->bytes_copied, lr->unit,
				   __ATOMIC_RELAXED);
	} else {
		/* the stage is a fresh page: zeros */
		*(volatile uint8_t *)l->stage = 0;
		__atomic_fetch_add(&l->bytes_zero, lr->unit, __ATOMIC_RELAXED);
	}
	if (!ret) {
		if (!ioctl(l->uffd, UFFDIO_MOVE, &mv)) {
			__atomic_fetch_add(&l->units_moved, 1,
					   __ATOMIC_RELAXED);
			*(volatile uint8_t *)l->stage = 0;
			return 0;
		}
		ret = -EAGAIN;
	}
	/* Whatever is left of the stage must not reach another unit. */
	(void)madvise(l->stage, lr->unit, MADV_DONTNEED);
	return ret;
}

/*
 * hugetlb with its memfd: read the unit straight into the memfd's page
 * cache through the alias mapping (one copy, no bounce buffer), or
 * allocate it zeroed for a hole, then UFFDIO_CONTINUE maps it for the
 * guest and wakes the waiters. A minor fault (the page is there, just not
 * mapped here) only needs the CONTINUE; a missing fault on a unit already
 * served was given back (a balloon hole punch) and comes back zeroed.
 */
static int memsnap_serve_minor(struct memsnap_lazy *l,
			       struct memsnap_lazy_region *lr, uint64_t u,
			       int minor)
{
	struct uffdio_continue c = {
		.range = {.start = (uintptr_t)(lr->hva + u * lr->unit),
			  .len = lr->unit},
	};
	off_t at = (off_t)(lr->src_off + u * lr->unit);
	int ret;

	if (!minor) {
		int data = 0;

		if (!__atomic_load_n(&lr->served[u], __ATOMIC_ACQUIRE)) {
			ret = memsnap_unit_has_data(lr, at, &data);
			if (ret)
				return ret;
		}
		if (data) {
			ret = memsnap_read_all(lr->src_fd,
					       lr->alias + u * lr->unit,
					       lr->unit, at);
			__atomic_fetch_add(&l->bytes_copied, lr->unit,
					   __ATOMIC_RELAXED);
		} else {
			ret = fallocate(lr->mem_fd, 0,
					(off_t)(lr->mem_off + u * lr->unit),
					(off_t)lr->unit)
				      ? -errno
				      : 0;
			__atomic_fetch_add(&l->bytes_zero, lr->unit,
					   __ATOMIC_RELAXED);
		}
		if (ret)
			return ret;
	}
	if (ioctl(l->uffd, UFFDIO_CONTINUE, &c)) {
		struct uffdio_range w = c.range;

		/* EEXIST: mapped by a racing fault already; wake anyway */
		if (errno != EEXIST)
			return -errno;
		if (ioctl(l->uffd, UFFDIO_WAKE, &w))
			return -errno;
	}
	__atomic_store_n(&lr->served[u], 1, __ATOMIC_RELEASE);
	return 0;
}

static int memsnap_serve(struct memsnap_lazy *l, uint64_t addr, int minor)
{
	struct memsnap_lazy_region *lr = NULL;
	uint8_t *ua;
	uint64_t u;
	int ret, hugetlb;

	for (unsigned i = 0; i < l->nr; i++)
		if (l->regions[i].uffd &&
		    addr >= (uintptr_t)l->regions[i].hva &&
		    addr - (uintptr_t)l->regions[i].hva < l->regions[i].size)
			lr = &l->regions[i];
	if (!lr)
		return -EFAULT;
	hugetlb = !lr->thp && lr->unit > MEMSNAP_PAGE;
	u = (addr - (uintptr_t)lr->hva) / lr->unit;
	ua = lr->hva + u * lr->unit;
	if (lr->alias)
		return memsnap_serve_minor(l, lr, u, minor);
	if (__atomic_load_n(&lr->served[u], __ATOMIC_ACQUIRE)) {
		/* Filled once and given back since (a balloon discard): it
		 * comes back as zeros, as it would without a snapshot. */
		uint64_t len = hugetlb ? lr->unit : MEMSNAP_PAGE;
		uint8_t *pa =
			hugetlb ? ua
				: (uint8_t *)(uintptr_t)(addr &
							 ~(MEMSNAP_PAGE - 1));

		__atomic_fetch_add(&l->bytes_zero, len, __ATOMIC_RELAXED);
		return memsnap_uffd_copy(l, lr, pa, l->zero, len, hugetlb, 0);
	}
	off_t at = (off_t)(lr->src_off + u * lr->unit);
	const uint8_t *src = l->zero;
	int data;

	ret = memsnap_unit_has_data(lr, at, &data);
	if (ret)
		return ret;
	if (lr->move && l->stage) {
		ret = memsnap_serve_move(l, lr, ua, at, data);
		if (ret != -EAGAIN)
			goto done;
		/* could not move it: the 4K copy and a collapse below */
	}
	if (data) {
		ret = memsnap_read_all(lr->src_fd, l->buf, lr->unit, at);
		if (ret)
			return ret;
		src = l->buf;
		__atomic_fetch_add(&l->bytes_copied, lr->unit,
				   __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&l->bytes_zero, lr->unit, __ATOMIC_RELAXED);
	}
	ret = memsnap_uffd_copy(l, lr, ua, src, lr->unit, hugetlb, lr->thp);
	if (ret)
		return ret;
	if (lr->thp) {
		/* UFFDIO_COPY maps 4K pages: make them one 2 MiB page before
		 * the faulting thread sees them. */
		struct uffdio_range w = {.start = (uintptr_t)ua,
					 .len = lr->unit};

		if (madvise(ua, lr->unit, MADV_COLLAPSE))
			__atomic_fetch_add(&l->collapse_failed, 1,
					   __ATOMIC_RELAXED);
		if (ioctl(l->uffd, UFFDIO_WAKE, &w))
			return -errno;
	}
	ret = 0;
done:
	if (!ret)
		__atomic_store_n(&lr->served[u], 1, __ATOMIC_RELEASE);
	return ret;
}

static void *memsnap_handler(void *arg)
{
	struct memsnap_lazy *l = arg;
	struct uffd_msg msg[16];

	/* Before any page is served: a guest that could take this thread
	 * over through a page finds it already confined. */
	if (l->on_start.fn) {
		int ret = l->on_start.fn(l->on_start.opaque);

		if (ret) {
			memsnap_lazy_fail(l, ret, "setting up its thread", 0);
			return NULL;
		}
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = l->uffd, .events = POLLIN},
				      {.fd = l->stop_fd, .events = POLLIN}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			memsnap_lazy_fail(l, -errno, "poll", 0);
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		n = read(l->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			memsnap_lazy_fail(l, -errno, "read", 0);
			return NULL;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
			uint64_t addr = msg[i].arg.pagefault.address;
			int ret;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			if (!__atomic_load_n(&l->first_fault_ns,
					     __ATOMIC_RELAXED))
				__atomic_store_n(&l->first_fault_ns,
						 clock_wall_ns(),
						 __ATOMIC_RELAXED);
			/* counted first: the faulting thread may look once
			 * it is woken */
			__atomic_fetch_add(&l->faults, 1, __ATOMIC_RELAXED);
			ret = memsnap_serve(l, addr,
					    !!(msg[i].arg.pagefault.flags &
					       UFFD_PAGEFAULT_FLAG_MINOR));
			if (ret) {
				/* A vCPU waits for this page: the VM must
				 * stop (error_fd), not hang unnoticed. */
				memsnap_lazy_fail(l, ret, "filling a page",
						  addr);
				return NULL;
			}
		}
	}
}

int memsnap_lazy_failed(const struct memsnap_lazy *l)
{
	return l->active && __atomic_load_n(&l->error, __ATOMIC_RELAXED) != 0;
}

void memsnap_lazy_stop(struct memsnap_lazy *l)
{
	uint64_t one = 1;

	if (!l || !l->active)
		return;
	if (l->thread_running) {
		if (write(l->stop_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write of 1 cannot fail here */
		}
		pthread_join(l->thread, NULL);
		l->thread_running = 0;
	}
	/* Closing the userfaultfd unregisters its ranges: later faults are
	 * ordinary ones. */
	if (l->uffd >= 0)
		close(l->uffd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (l->error_fd >= 0)
		close(l->error_fd);
	for (unsigned i = 0; i < l->nr; i++) {
		if (l->regions[i].src_fd >= 0)
			close(l->regions[i].src_fd);
		if (l->regions[i].alias)
			munmap(l->regions[i].alias, l->regions[i].size);
		free(l->regions[i].served);
	}
	if (l->buf_map)
		munmap(l->buf_map, l->buf_len + MEMSNAP_THP);
	if (l->zero_map)
		munmap(l->zero_map, l->buf_len + MEMSNAP_THP);
	if (l->stage_map)
		munmap(l->stage_map, 2 * MEMSNAP_THP);
	memset(l, 0, sizeof(*l));
	l->uffd = l->stop_fd = l->error_fd = -1;
}

/*
 * len bytes of anonymous memory on a 2 MiB boundary, THP-advised: a 1 GiB
 * bounce buffer takes 512 faults instead of 262144, and reads of the zero
 * buffer map the huge zero page. *map gets what to munmap (len + 2 MiB).
 */
static uint8_t *memsnap_map_unit(size_t len, int prot, uint8_t **map)
{
	void *m = mmap(NULL, len + MEMSNAP_THP, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *p;

	if (m == MAP_FAILED)
		return NULL;
	*map = m;
	p = (uint8_t *)(((uintptr_t)m + MEMSNAP_THP - 1) & ~(MEMSNAP_THP - 1));
	if (len >= MEMSNAP_THP)
		(void)madvise(p, len, MADV_HUGEPAGE);
	(void)madvise(p, len, MADV_DONTDUMP);
	return p;
}

/* Register the uffd regions and start the handler. */
static int memsnap_lazy_start(struct memsnap_lazy *l, char *err, size_t errlen)
{
	size_t unit = 0;
	uint64_t features;
	int ret, can_move, move = 0;

	for (unsigned i = 0; i < l->nr; i++)
		if (l->regions[i].uffd && l->regions[i].unit > unit)
			unit = l->regions[i].unit;
	if (!unit)
		return 0;
	l->uffd = memsnap_uffd_open(&features, err, errlen);
	if (l->uffd < 0) {
		ret = l->uffd;
		l->uffd = -1;
		return ret;
	}
	can_move = !!(features & UFFD_FEATURE_MOVE);
	l->can_move = can_move;
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->error_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_fd < 0 || l->error_fd < 0)
		return err_set(err, errlen, -errno, "eventfd: %s",
			       strerror(errno));
	/* Bounce and zero source, one unit each, address space only until
	 * used (the zero one is never written). */
	l->buf_len = unit;
	l->buf = memsnap_map_unit(unit, PROT_READ | PROT_WRITE, &l->buf_map);
	l->zero = memsnap_map_unit(unit, PROT_READ, &l->zero_map);
	if (!l->buf || !l->zero)
		return err_set(err, errlen, -ENOMEM,
			       "cannot map the lazy restore's buffers");
	for (unsigned i = 0; i < l->nr; i++) {
		struct memsnap_lazy_region *lr = &l->regions[i];

		lr->move = can_move && lr->uffd && lr->thp && lr->anon;
		move |= lr->move;
	}
	if (move) {
		/* 2 MiB aligned, THP-advised, faulted now: the first fault
		 * does not wait for its allocation. */
		l->stage_map = mmap(
			NULL, 2 * MEMSNAP_THP, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (l->stage_map == MAP_FAILED) {
			l->stage_map = NULL;
		} else {
			l->stage = (uint8_t *)(((uintptr_t)l->stage_map +
						MEMSNAP_THP - 1) &
					       ~(MEMSNAP_THP - 1));
			(void)madvise(l->stage, MEMSNAP_THP, MADV_HUGEPAGE);
			(void)madvise(l->stage, MEMSNAP_THP, MADV_DONTDUMP);
			*(volatile uint8_t *)l->stage = 0;
		}
	}
	for (unsigned i = 0; i < l->nr; i++) {
		struct memsnap_lazy_region *lr = &l->regions[i];
		struct uffdio_register reg = {
			.range = {.start = (uintptr_t)lr->hva, .len = lr->size},
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (!lr->uffd)
			continue;
		if (lr->mem_fd >= 0 &&
		    (features & UFFD_FEATURE_MINOR_HUGETLBFS)) {
			/* hugetlb: a second mapping of the memfd, not
			 * registered, that the handler reads the file into;
			 * UFFDIO_CONTINUE then maps the filled page. */
			void *m = mmap(NULL, lr->size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, lr->mem_fd,
				       (off_t)lr->mem_off);

			if (m != MAP_FAILED) {
				lr->alias = m;
				reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
			}
		}
		if (ioctl(l->uffd, UFFDIO_REGISTER, &reg))
			return err_set(err, errlen, -errno,
				       "userfaultfd cannot serve the guest "
				       "memory at %p (%s): %s",
				       (void *)lr->hva,
				       lr->thp ? "thp" : "hugetlb or shared",
				       strerror(errno));
		if (lr->alias && !(reg.ioctls & (1ULL << _UFFDIO_CONTINUE)))
			return err_set(err, errlen, -EOPNOTSUPP,
				       "userfaultfd cannot map hugetlb pages "
				       "at %p: use --restore-mode copy",
				       (void *)lr->hva);
		if (!(reg.ioctls & (1ULL << _UFFDIO_COPY)))
			return err_set(err, errlen, -EOPNOTSUPP,
				       "userfaultfd cannot copy into the guest "
				       "memory at %p: use --restore-mode copy",
				       (void *)lr->hva);
	}
	ret = thread_spawn(&l->thread, memsnap_handler, l, 0);
	if (ret)
		return err_set(err, errlen, ret,
			       "cannot start the lazy restore thread: %s",
			       strerror(-ret));
	l->thread_running = 1;
	return 0;
}

/*
 * Large holes of the file go back to anonymous memory. Through a private
 * file mapping, a read of a hole is a page cache page, and on tmpfs one
 * the snapshot file keeps for good (reading 64M of holes allocated 64M
 * there): the guest's untouched memory would fill its snapshot. Anonymous
 * memory reads the zero page, as at boot. Holes of at least
 * max(64 KiB, size / 1024) count, which bounds the mappings made per
 * region (about 2048, against vm.max_map_count) whatever the file's
 * fragmentation; smaller holes stay file-backed.
 */
static int memsnap_anon_holes(const struct region *r, int fd, uint64_t off,
			      char *err, size_t errlen)
{
	uint64_t min = r->size / 1024 > 65536 ? r->size / 1024 : 65536;
	off_t pos = (off_t)off, end = (off_t)(off + r->size);

	while (pos < end) {
		off_t h = lseek(fd, pos, SEEK_HOLE), d;
		uint64_t hs, he;

		if (h < 0 || h >= end)
			break;
		d = lseek(fd, h, SEEK_DATA);
		if (d < 0 || d > end)
			d = end;
		/* whole pages inside the hole */
		hs = ((uint64_t)h + MEMSNAP_PAGE - 1) & ~(MEMSNAP_PAGE - 1);
		he = (uint64_t)d & ~(MEMSNAP_PAGE - 1);
		if (he > hs && he - hs >= min) {
			void *m = mmap(r->hva + (hs - off), he - hs,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS |
					       MAP_NORESERVE | MAP_FIXED,
				       -1, 0);

			if (m == MAP_FAILED)
				return err_set(err, errlen, -errno,
					       "cannot map guest memory at "
					       "%#" PRIx64 ": %s",
					       r->gpa + (hs - off),
					       strerror(errno));
			(void)madvise(m, he - hs, MADV_DONTDUMP);
		}
		pos = d;
	}
	return 0;
}

/* Base pages, anonymous private memory: the file itself, privately, over
 * the region. Clean pages stay the page cache's, shared by every clone. */
static int memsnap_map_private(struct region *r, int fd, uint64_t off,
			       char *err, size_t errlen)
{
	void *m = mmap(r->hva, r->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);

	if (m == MAP_FAILED)
		return err_set(err, errlen, -errno,
			       "cannot map the snapshot memory at %#" PRIx64
			       ": %s",
			       r->gpa, strerror(errno));
	(void)madvise(r->hva, r->size, MADV_DONTDUMP);
	/* The page cache may hold the file in large folios and map them
	 * with 2 MiB entries: base is 4K pages, as at boot. */
	(void)madvise(r->hva, r->size, MADV_NOHUGEPAGE);
	/* A page given back later must read zeros, not the file again. */
	r->file_behind = 1;
	return memsnap_anon_holes(r, fd, off, err, errlen);
}

int memsnap_restore(struct guest_mem *gm, const char *dir,
		    enum memsnap_mode mode, struct memsnap_lazy *lazy,
		    const struct memsnap_hook *hook, struct memsnap_stats *st,
		    char *err, size_t errlen)
{
	struct memsnap_entry *e;
	struct memsnap_src src[GUEST_MEM_MAX_REGIONS];
	struct memsnap_stats local;
	struct memsnap_lazy local_lazy;
	uint8_t eager[GUEST_MEM_MAX_REGIONS] = {0};
	uint64_t t0 = clock_wall_ns(), bytes = 0;
	unsigned nr = 0, nr_lazy = 0;
	int dirfd, ret;

	if (!st)
		st = &local;
	if (!lazy)
		lazy = &local_lazy;
	memset(st, 0, sizeof(*st));
	memset(lazy, 0, sizeof(*lazy));
	lazy->uffd = lazy->stop_fd = lazy->error_fd = -1;
	if (hook)
		lazy->on_start = *hook;
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		src[i].fd = lazy->regions[i].src_fd = -1;
	if (mode == MEMSNAP_LAZY && lazy == &local_lazy)
		return err_set(err, errlen, -EINVAL,
			       "internal: a lazy restore needs its state");
	e = calloc(GUEST_MEM_MAX_REGIONS, sizeof(*e));
	if (!e)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		ret = err_set(err, errlen, -errno,
			      "cannot open snapshot directory %s: %s", dir,
			      strerror(errno));
		free(e);
		return ret;
	}
	ret = memsnap_layout_read(dirfd, dir, e, &nr, err, errlen);
	if (ret)
		goto out;
	if (nr != gm->nr) {
		ret = err_set(err, errlen, -EINVAL,
			      "snapshot %s has %u memory regions, the VM %u: "
			      "restore with the memory size the snapshot was "
			      "taken with",
			      dir, nr, gm->nr);
		goto out;
	}
	ret = memsnap_open_sources(gm, dirfd, dir, e, src, err, errlen);
	if (ret)
		goto out;

	lazy->nr = gm->nr;
	lazy->active = 1;
	lazy->start_ns = t0;
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		struct memsnap_lazy_region *lr = &lazy->regions[i];

		if (src[i].fd < 0)
			continue;
		/* A --mem-file target cannot be registered with userfaultfd
		 * on most file systems and is not ours to map privately. */
		if (mode == MEMSNAP_COPY || r->backing == REGION_BACKING_FILE) {
			eager[i] = 1;
			continue;
		}
		lr->hva = r->hva;
		lr->size = r->size;
		lr->unit = r->page_size;
		lr->src_fd = src[i].fd;
		src[i].fd = -1;
		lr->src_off = src[i].off;
		lr->thp = r->pages == REGION_PAGES_THP;
		lr->anon = r->backing == REGION_BACKING_ANON;
		lr->mem_fd = -1;
		if (r->fd >= 0 && (r->pages == REGION_PAGES_HUGE ||
				   r->pages == REGION_PAGES_HUGE1G)) {
			lr->mem_fd = r->fd;
			lr->mem_off = r->fd_offset;
		}
		lr->uffd = !(r->pages == REGION_PAGES_BASE &&
			     r->backing == REGION_BACKING_ANON);
		nr_lazy++;
		if (lr->uffd) {
			lr->served = calloc(r->size / lr->unit, 1);
			if (!lr->served) {
				ret = err_set(err, errlen, -ENOMEM,
					      "out of memory");
				goto out;
			}
		}
	}
	/* What can fail for want of a host feature comes first, so a refusal
	 * leaves gm as it was. */
	ret = memsnap_lazy_start(lazy, err, errlen);
	if (ret)
		goto out;
	for (unsigned i = 0; i < gm->nr; i++) {
		struct memsnap_lazy_region *lr = &lazy->regions[i];

		if (!lr->hva || lr->uffd)
			continue;
		ret = memsnap_map_private(&gm->regions[i], lr->src_fd,
					  lr->src_off, err, errlen);
		if (ret)
			goto out;
	}
	ret = memsnap_copy(gm, src, eager, dir, &bytes, err, errlen);
	if (ret)
		goto out;
	st->bytes_populated = bytes;
out:
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		if (src[i].fd >= 0)
			close(src[i].fd);
	/* The lazy regions keep their source open: the handler reads it,
	 * and a snapshot of this clone copies what was not faulted in. */
	if (ret || !nr_lazy)
		memsnap_lazy_stop(lazy);
	close(dirfd);
	free(e);
	st->ns = clock_wall_ns() - t0;
	return ret;
}
