/*
 * Guest memory snapshots (mem/snapshot.c) against the real kernel: sparse
 * files that hold only what the guest populated, copy and lazy restores
 * that give every byte back on the policy's own page size (smaps), two lazy
 * clones of one snapshot at once, a snapshot of a lazy clone, and damaged
 * snapshots refused with a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem/guest_mem.h"
#include "mem/memmap.h"
#include "mem/region.h"
#include "mem/report.h"
#include "mem/snapshot.h"
#include "tests/harness/harness.h"

#define MiB	   (1ULL << 20)
#define PAGE	   4096ULL
#define HOLE_START (3ULL << 30)
#define HOLE_END   (4ULL << 30)
#define SNAP_SIZE  (32 * MiB)

static char err[512];

/* Pages the "guest" writes: the first three of every 4 MiB, and one more
 * whose only non-zero byte is its last. The rest is never touched. */
static int snap_touched(uint64_t page)
{
	return page % 1024 < 3 || page % 1024 == 700;
}

static uint8_t snap_byte(uint64_t off)
{
	uint64_t page = off / PAGE;

	if (!snap_touched(page))
		return 0;
	if (page % 1024 == 700)
		return off % PAGE == PAGE - 1 ? 0xa5 : 0;
	return (uint8_t)((off * 2654435761u) >> 13) | 1;
}

static void snap_fill(struct guest_mem *gm)
{
	uint8_t *p = gm->regions[0].hva;

	for (uint64_t pg = 0; pg < SNAP_SIZE / PAGE; pg++)
		if (snap_touched(pg))
			for (uint64_t o = pg * PAGE; o < (pg + 1) * PAGE; o++)
				p[o] = snap_byte(o);
}

/* Every byte as written (0 where never touched). */
static void snap_check(const struct guest_mem *gm)
{
	const uint8_t *p = gm->regions[0].hva;

	for (uint64_t o = 0; o < SNAP_SIZE; o++)
		if (p[o] != snap_byte(o))
			ck_abort_msg("byte %#" PRIx64 " is %#x, want %#x", o,
				     p[o], snap_byte(o));
}

static char snap_dirs[4][160];

/*
 * Every directory the tests make lives under one per-run root in /tmp and
 * one in /dev/shm, made and removed around the whole test case by the
 * runner process: a test that fails exits its child at once, and the
 * parent still cleans up (and puts the hugepage pool back).
 */
static char snap_root[2][64];
static long snap_pool_before = -1;

static void snap_case_setup(void)
{
	static const char *const base[2] = {"/tmp", "/dev/shm"};
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");

	for (int i = 0; i < 2; i++) {
		snprintf(snap_root[i], sizeof(snap_root[i]),
			 "%s/memsnap-XXXXXX", base[i]);
		if (!mkdtemp(snap_root[i]))
			snap_root[i][0] = 0;
	}
	if (f) {
		if (fscanf(f, "%ld", &snap_pool_before) != 1)
			snap_pool_before = -1;
		fclose(f);
	}
}

static void snap_case_teardown(void)
{
	FILE *f;

	for (int i = 0; i < 2; i++) {
		char cmd[200];

		if (!snap_root[i][0])
			continue;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", snap_root[i]);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", snap_root[i]);
	}
	if (snap_pool_before < 0 || !harness_is_root())
		return;
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (f) {
		fprintf(f, "%ld\n", snap_pool_before);
		fclose(f);
	}
}

/* A new empty directory under root 0 (/tmp) or 1 (/dev/shm), or NULL. */
static const char *snap_tmpdir_at(unsigned i, int shm)
{
	if (!snap_root[shm][0])
		return NULL;
	snprintf(snap_dirs[i], sizeof(snap_dirs[i]), "%s/XXXXXX",
		 snap_root[shm]);
	return mkdtemp(snap_dirs[i]);
}

static const char *snap_tmpdir(unsigned i)
{
	const char *d = snap_tmpdir_at(i, 0);

	ck_assert_ptr_nonnull(d);
	return d;
}

static void snap_rmdir(const char *d)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
}

static char snap_path_buf[128];

static const char *snap_path(const char *dir, const char *name)
{
	snprintf(snap_path_buf, sizeof(snap_path_buf), "%s/%s", dir, name);
	return snap_path_buf;
}

/* 0, or 1 when the policy is not available here (the caller skips). */
static int snap_build(struct guest_mem *gm, enum region_pages pages)
{
	struct region_policy pol = {.pages = pages};
	struct memmap_info info;
	int ret;

	ret = memmap_build(gm, SNAP_SIZE, HOLE_START, HOLE_END, &pol, &info,
			   err, sizeof(err));
	if (ret == -EOPNOTSUPP || ret == -ENOMEM)
		return 1;
	ck_assert_msg(ret == 0, "memmap_build: %s", err);
	ck_assert_uint_eq(gm->nr, 1);
	return 0;
}

/* smaps field summed over the VMAs that start inside the region. */
static uint64_t snap_smaps(const struct region *r, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	uint64_t sum = 0;
	int in = 0;
	size_t n = strlen(field);

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e, kb;

		if (sscanf(line, "%llx-%llx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = s >= (uintptr_t)r->hva &&
			     s < (uintptr_t)r->hva + r->size;
			continue;
		}
		if (in && !strncmp(line, field, n) && line[n] == ':' &&
		    sscanf(line + n + 1, " %llu kB", &kb) == 1)
			sum += kb * 1024;
	}
	fclose(f);
	return sum;
}

/* The restored memory is on the policy's page size. */
static void snap_check_pages(const struct guest_mem *gm,
			     enum region_pages pages)
{
	struct report_region rep[GUEST_MEM_MAX_REGIONS];

	ck_assert_int_eq(report_read(gm, rep), 0);
	switch (pages) {
	case REGION_PAGES_BASE:
		ck_assert_uint_eq(rep[0].bytes_thp + rep[0].bytes_hugetlb, 0);
		ck_assert_uint_gt(rep[0].bytes_4k, 0);
		break;
	case REGION_PAGES_THP:
		/* Everything was read: every 2 MiB unit filled; a failed
		 * collapse (fragmentation) may leave a few on 4K. */
		ck_assert_msg(rep[0].bytes_thp >= SNAP_SIZE / 2,
			      "only %" PRIu64 " bytes on THP",
			      rep[0].bytes_thp);
		break;
	default:
		ck_assert_uint_eq(rep[0].bytes_hugetlb, SNAP_SIZE);
		ck_assert_uint_eq(rep[0].bytes_4k + rep[0].bytes_thp, 0);
		break;
	}
}

/* Only what the guest wrote has blocks; untouched pages are holes. */
static void snap_check_sparse(const char *dir)
{
	struct stat sb;
	uint64_t data = 0;
	int fd;
	off_t d;

	fd = open(snap_path(dir, "mem-0"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_uint_eq((uint64_t)sb.st_size, SNAP_SIZE);
	for (uint64_t pg = 0; pg < SNAP_SIZE / PAGE; pg++)
		data += snap_touched(pg) ? PAGE : 0;
	/* Block granularity: allow a little slack over the data. */
	ck_assert_msg((uint64_t)sb.st_blocks * 512 <= data + 64 * 1024,
		      "%" PRIu64 " bytes allocated for %" PRIu64 " of data",
		      (uint64_t)sb.st_blocks * 512, data);
	/* An untouched page is a hole SEEK_DATA skips. */
	d = lseek(fd, 4 * MiB + 3 * PAGE, SEEK_DATA);
	ck_assert_int_eq(d, 4 * MiB + 700 * PAGE);
	d = lseek(fd, 16 * MiB, SEEK_HOLE);
	ck_assert_int_eq(d, 16 * MiB + 3 * PAGE);
	close(fd);
}

/* hugetlb needs pages for three guests (original and two clones); the
 * case teardown puts the pool back. */
static int snap_pool(void)
{
	return harness_hugepages(2048, 3 * SNAP_SIZE / (2 * MiB));
}

static void snap_roundtrip(enum region_pages pages)
{
	struct guest_mem g, c1, c2, c3;
	struct memsnap_stats st;
	struct memsnap_lazy l1, l2, l3;
	const char *dir, *dir2, *dir3;
	uint64_t one = 0;

	if (pages == REGION_PAGES_HUGE && snap_pool())
		HARNESS_SKIP("not enough free 2M hugepages and not root to "
			     "reserve them");
	if (snap_build(&g, pages))
		HARNESS_SKIP("--pages %s unavailable: %s",
			     region_pages_name(pages), err);
	snap_fill(&g);
	dir = snap_tmpdir(0);
	ck_assert_msg(memsnap_save(&g, NULL, dir, &st, err, sizeof(err)) == 0,
		      "save: %s", err);
	ck_assert_uint_gt(st.bytes_written, 0);
	ck_assert_uint_lt(st.bytes_written, SNAP_SIZE / 64);
	ck_assert_uint_eq(st.bytes_written + st.holes, SNAP_SIZE);
	snap_check_sparse(dir);
	/* A second save into the same directory is refused. */
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, NULL, err, sizeof(err)),
			 -EEXIST);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);

	/* copy */
	ck_assert_int_eq(snap_build(&c1, pages), 0);
	ck_assert_msg(memsnap_restore(&c1, dir, MEMSNAP_COPY, &l1, NULL, &st,
				      err, sizeof(err)) == 0,
		      "copy restore: %s", err);
	ck_assert_int_eq(l1.active, 0);
	ck_assert_uint_eq(st.bytes_populated, SNAP_SIZE / 1024 * 4);
	snap_check(&c1);
	snap_check_pages(&c1, pages);
	memsnap_lazy_stop(&l1);
	ck_assert_int_eq(guest_mem_destroy(&c1), 0);

	/* two lazy clones at once */
	ck_assert_int_eq(snap_build(&c1, pages), 0);
	ck_assert_int_eq(snap_build(&c2, pages), 0);
	ck_assert_msg(memsnap_restore(&c1, dir, MEMSNAP_LAZY, &l1, NULL, NULL,
				      err, sizeof(err)) == 0,
		      "lazy restore: %s", err);
	ck_assert_msg(memsnap_restore(&c2, dir, MEMSNAP_LAZY, &l2, NULL, NULL,
				      err, sizeof(err)) == 0,
		      "second lazy restore: %s", err);
	ck_assert_int_eq(l1.active, 1);
	if (pages == REGION_PAGES_BASE) {
		/* Clean pages are the file's, shared between the clones. */
		ck_assert_uint_eq(c1.regions[0].hva[5], snap_byte(5));
		ck_assert_uint_eq(c2.regions[0].hva[5], snap_byte(5));
		ck_assert_uint_ge(snap_smaps(&c1.regions[0], "Shared_Clean"),
				  PAGE);
	} else {
		/* One touch fills one whole unit of the policy's size. */
		ck_assert_uint_eq(c1.regions[0].hva[8 * MiB + 1],
				  snap_byte(8 * MiB + 1));
		ck_assert_uint_eq(__atomic_load_n(&l1.faults, __ATOMIC_RELAXED),
				  1);
		ck_assert_uint_eq(
			__atomic_load_n(&l1.bytes_copied, __ATOMIC_RELAXED),
			2 * MiB);
	}
	/* A snapshot of a clone that has not faulted everything in yet is
	 * still complete: what is not in memory comes from its files. */
	dir2 = snap_tmpdir(1);
	ck_assert_msg(memsnap_save(&c1, &l1, dir2, NULL, err, sizeof(err)) == 0,
		      "save of a clone: %s", err);
	/* Without being told of the lazy restore, the save still finds it
	 * (a file mapping or userfaultfd registration) and reads everything
	 * through the mapping. */
	dir3 = snap_tmpdir(2);
	ck_assert_msg(memsnap_save(&c2, NULL, dir3, NULL, err, sizeof(err)) ==
			      0,
		      "save of a clone without its lazy state: %s", err);
	snap_check(&c1);
	snap_check(&c2);
	snap_check_pages(&c1, pages);
	snap_check_pages(&c2, pages);
	if (pages != REGION_PAGES_BASE) {
		uint64_t got;

		/* A page the balloon gives back after it was restored comes
		 * back as zeros, not as the snapshot's content. */
		ck_assert_int_eq(guest_mem_discard(&c2, 0, 2 * MiB, &got), 0);
		ck_assert_uint_eq(got, 2 * MiB);
		ck_assert_uint_eq(c2.regions[0].hva[5], 0);
		ck_assert_uint_eq(c2.regions[0].hva[2 * MiB - 1], 0);
		ck_assert_uint_eq(c2.regions[0].hva[2 * MiB + 1],
				  snap_byte(2 * MiB + 1));
	}
	ck_assert_int_eq(l1.error, 0);
	ck_assert_int_eq(l2.error, 0);
	if (pages == REGION_PAGES_THP) {
		/* whole huge pages moved in, or copied and collapsed */
		ck_assert_uint_lt(l1.collapse_failed, SNAP_SIZE / (4 * MiB));
		ck_assert(!l1.can_move || l1.units_moved > 0);
	}
	/* nothing went wrong: error_fd stays quiet */
	if (l1.error_fd >= 0)
		ck_assert_int_eq(read(l1.error_fd, &one, sizeof(one)), -1);
	memsnap_lazy_stop(&l1);
	memsnap_lazy_stop(&l1); /* twice is fine */
	memsnap_lazy_stop(&l2);
	ck_assert_int_eq(guest_mem_destroy(&c1), 0);
	ck_assert_int_eq(guest_mem_destroy(&c2), 0);

	ck_assert_int_eq(snap_build(&c3, pages), 0);
	ck_assert_msg(memsnap_restore(&c3, dir2, MEMSNAP_LAZY, &l3, NULL, NULL,
				      err, sizeof(err)) == 0,
		      "restore of the clone's snapshot: %s", err);
	snap_check(&c3);
	memsnap_lazy_stop(&l3);
	ck_assert_int_eq(guest_mem_destroy(&c3), 0);
	ck_assert_int_eq(snap_build(&c3, pages), 0);
	ck_assert_int_eq(memsnap_restore(&c3, dir3, MEMSNAP_COPY, NULL, NULL,
					 NULL, err, sizeof(err)),
			 0);
	snap_check(&c3);
	ck_assert_int_eq(guest_mem_destroy(&c3), 0);
	snap_rmdir(dir);
	snap_rmdir(dir2);
	snap_rmdir(dir3);
}

START_TEST(roundtrip_base)
{
	snap_roundtrip(REGION_PAGES_BASE);
}
END_TEST

START_TEST(roundtrip_thp)
{
	snap_roundtrip(REGION_PAGES_THP);
}
END_TEST

START_TEST(roundtrip_huge)
{
	snap_roundtrip(REGION_PAGES_HUGE);
}
END_TEST

/* Saved on base pages, restored on THP: --pages may change at restore. */
START_TEST(policy_change)
{
	struct guest_mem g;
	struct memsnap_lazy l;
	const char *dir;

	ck_assert_int_eq(snap_build(&g, REGION_PAGES_BASE), 0);
	snap_fill(&g);
	dir = snap_tmpdir(0);
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	if (snap_build(&g, REGION_PAGES_THP))
		HARNESS_SKIP("--pages thp unavailable: %s", err);
	ck_assert_msg(memsnap_restore(&g, dir, MEMSNAP_LAZY, &l, NULL, NULL,
				      err, sizeof(err)) == 0,
		      "%s", err);
	snap_check(&g);
	snap_check_pages(&g, REGION_PAGES_THP);
	memsnap_lazy_stop(&l);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	snap_rmdir(dir);
}
END_TEST

static void snap_rewrite(const char *path, const char *from, const char *to)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open(path, O_RDWR);

	ck_assert_int_ge(fd, 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	p = strstr(buf, from);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(strlen(from), strlen(to));
	memcpy(p, to, strlen(to));
	ck_assert_int_eq(pwrite(fd, buf, (size_t)n, 0), n);
	close(fd);
}

/* Restore must refuse `dir` with a reason containing `why`, and leave the
 * target untouched. */
static void snap_refused(const char *dir, const char *why, uint64_t size)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct memmap_info info;
	struct memsnap_lazy l;
	struct guest_mem g;

	ck_assert_int_eq(memmap_build(&g, size, HOLE_START, HOLE_END, &pol,
				      &info, err, sizeof(err)),
			 0);
	for (int m = 0; m < 2; m++) {
		err[0] = 0;
		ck_assert_int_lt(
			memsnap_restore(&g, dir,
					m ? MEMSNAP_COPY : MEMSNAP_LAZY, &l,
					NULL, NULL, err, sizeof(err)),
			0);
		ck_assert_msg(strstr(err, why), "'%s' does not say '%s'", err,
			      why);
		ck_assert_int_eq(l.active, 0);
		memsnap_lazy_stop(&l);
		/* nothing was mapped over the memory: still plain zeros */
		ck_assert_uint_eq(g.regions[0].hva[0], 0);
	}
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
}

START_TEST(damaged_snapshots)
{
	struct guest_mem g;
	const char *dir;
	char saved[128];

	ck_assert_int_eq(snap_build(&g, REGION_PAGES_BASE), 0);
	snap_fill(&g);
	dir = snap_tmpdir(0);
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);

	/* another memory size */
	snap_refused(dir, "restore with the memory size", 16 * MiB);
	/* a truncated memory file */
	ck_assert_int_eq(truncate(snap_path(dir, "mem-0"), SNAP_SIZE - PAGE),
			 0);
	snap_refused(dir, "(truncated)", SNAP_SIZE);
	ck_assert_int_eq(truncate(snap_path(dir, "mem-0"), SNAP_SIZE), 0);
	/* a flipped byte in the layout */
	snap_rewrite(snap_path(dir, MEMSNAP_LAYOUT), "size=0x2000000",
		     "size=0x2000001");
	snap_refused(dir, "CRC mismatch", SNAP_SIZE);
	snap_rewrite(snap_path(dir, MEMSNAP_LAYOUT), "size=0x2000001",
		     "size=0x2000000");
	snap_rewrite(snap_path(dir, MEMSNAP_LAYOUT), "crc32=", "crc33=");
	snap_refused(dir, "no CRC line", SNAP_SIZE);
	snap_rewrite(snap_path(dir, MEMSNAP_LAYOUT), "crc33=", "crc32=");
	/* a FIFO where a memory file belongs: refused, not waited on */
	snprintf(saved, sizeof(saved), "%s/mem-0.saved", dir);
	ck_assert_int_eq(rename(snap_path(dir, "mem-0"), saved), 0);
	ck_assert_int_eq(mkfifo(snap_path(dir, "mem-0"), 0600), 0);
	snap_refused(dir, "is not a regular file", SNAP_SIZE);
	ck_assert_int_eq(unlink(snap_path(dir, "mem-0")), 0);
	/* no layout at all */
	ck_assert_int_eq(unlink(snap_path(dir, MEMSNAP_LAYOUT)), 0);
	snap_refused(dir, "not a snapshot directory", SNAP_SIZE);
	snap_rmdir(dir);
	snap_refused("/nonexistent-memsnap", "cannot open snapshot directory",
		     SNAP_SIZE);
}
END_TEST

static void *snap_toucher(void *arg)
{
	volatile uint8_t *p = arg;

	return (void *)(uintptr_t)p[0];
}

/*
 * A memory file cut short under a running lazy clone: the handler cannot
 * fill the page, says so on error_fd (the VMM stops the VM), and the
 * thread that waits for the page is released by memsnap_lazy_stop.
 */
START_TEST(lazy_source_truncated)
{
	struct guest_mem g;
	struct memsnap_lazy l;
	struct pollfd p;
	pthread_t t;
	const char *dir;
	void *got;

	if (snap_build(&g, REGION_PAGES_THP))
		HARNESS_SKIP("--pages thp unavailable: %s", err);
	snap_fill(&g);
	dir = snap_tmpdir(0);
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	ck_assert_int_eq(snap_build(&g, REGION_PAGES_THP), 0);
	ck_assert_msg(memsnap_restore(&g, dir, MEMSNAP_LAZY, &l, NULL, NULL,
				      err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(truncate(snap_path(dir, "mem-0"), 0), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, snap_toucher,
					g.regions[0].hva + 20 * MiB),
			 0);
	p = (struct pollfd){.fd = l.error_fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 10000), 1);
	ck_assert_int_eq(l.error, -ENODATA);
	ck_assert_msg(strstr(l.error_msg, "memory file truncated"), "%s",
		      l.error_msg);
	memsnap_lazy_stop(&l);
	ck_assert_int_eq(pthread_join(t, &got), 0);
	ck_assert_ptr_null(got); /* an ordinary zero page after the stop */
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	snap_rmdir(dir);
}
END_TEST

/* A --mem-file region is flushed and recorded by path, not copied; it
 * restores into anonymous memory (copy and lazy) and onto itself. */
START_TEST(mem_file_recorded)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE,
				    .backing = REGION_BACKING_FILE};
	struct memmap_info info;
	struct memsnap_stats st;
	struct memsnap_lazy l;
	struct guest_mem g;
	char file[128], buf[4096];
	const char *dir, *fdir;
	struct stat sb;
	ssize_t n;
	int fd;

	fdir = snap_tmpdir(1);
	snprintf(file, sizeof(file), "%s/ram", fdir);
	pol.path = file;
	ck_assert_msg(memmap_build(&g, SNAP_SIZE, HOLE_START, HOLE_END, &pol,
				   &info, err, sizeof(err)) == 0,
		      "%s", err);
	snap_fill(&g);
	dir = snap_tmpdir(0);
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.bytes_written, 0);
	ck_assert_int_eq(stat(snap_path(dir, "mem-0"), &sb), -1);
	fd = open(snap_path(dir, MEMSNAP_LAYOUT), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	close(fd);
	ck_assert_msg(strstr(buf, "backing=file") && strstr(buf, file), "%s",
		      buf);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);

	for (int m = 0; m < 2; m++) {
		ck_assert_int_eq(snap_build(&g, REGION_PAGES_BASE), 0);
		ck_assert_msg(memsnap_restore(
				      &g, dir, m ? MEMSNAP_LAZY : MEMSNAP_COPY,
				      &l, NULL, NULL, err, sizeof(err)) == 0,
			      "%s", err);
		snap_check(&g);
		memsnap_lazy_stop(&l);
		ck_assert_int_eq(guest_mem_destroy(&g), 0);
	}
	/* onto the same file: already there, nothing read */
	ck_assert_int_eq(memmap_build(&g, SNAP_SIZE, HOLE_START, HOLE_END, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_int_eq(memsnap_restore(&g, dir, MEMSNAP_LAZY, &l, NULL, &st,
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(l.active, 0);
	ck_assert_uint_eq(st.bytes_populated, 0);
	snap_check(&g);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	snap_rmdir(dir);
	snap_rmdir(fdir);
}
END_TEST

/*
 * A lazy base clone that reads its untouched memory must not fill the
 * holes of its snapshot file: on tmpfs a read fault in a hole of a
 * private file mapping allocates a page the file keeps.
 */
START_TEST(lazy_base_keeps_holes)
{
	struct guest_mem g;
	struct memsnap_lazy l;
	struct stat before, after;
	const char *dir = snap_tmpdir_at(0, 1);
	char file[96];

	if (!dir)
		HARNESS_SKIP("no /dev/shm to put a snapshot on tmpfs");
	ck_assert_int_eq(snap_build(&g, REGION_PAGES_BASE), 0);
	snap_fill(&g);
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	snprintf(file, sizeof(file), "%s/mem-0", dir);
	ck_assert_int_eq(stat(file, &before), 0);
	ck_assert_int_eq(snap_build(&g, REGION_PAGES_BASE), 0);
	ck_assert_int_eq(memsnap_restore(&g, dir, MEMSNAP_LAZY, &l, NULL, NULL,
					 err, sizeof(err)),
			 0);
	snap_check(&g); /* reads every byte */
	ck_assert_int_eq(stat(file, &after), 0);
	ck_assert_msg(after.st_blocks <= before.st_blocks + 8 * 2048,
		      "snapshot file grew from %ld to %ld blocks",
		      (long)before.st_blocks, (long)after.st_blocks);
	memsnap_lazy_stop(&l);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	snap_rmdir(dir);
}
END_TEST

/*
 * A page given back after a lazy restore (the balloon, free page
 * reporting: region_discard) reads as zeros again, as without a
 * snapshot, never the snapshot's bytes: base pages map the file privately
 * (a plain MADV_DONTNEED would show the file again), THP and hugetlb
 * answer a later fault on a filled unit with zeros. Pages next to it keep
 * their data.
 */
static void snap_discard_after_lazy(enum region_pages pages)
{
	struct guest_mem g;
	struct memsnap_lazy l;
	struct region *r;
	uint64_t got, unit, first = 1024 * PAGE; /* page 1024: touched */
	const char *dir;

	if (snap_build(&g, pages))
		HARNESS_SKIP("--pages %s unavailable: %s",
			     region_pages_name(pages), err);
	snap_fill(&g);
	dir = snap_tmpdir(0);
	ck_assert_int_eq(memsnap_save(&g, NULL, dir, NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	ck_assert_int_eq(snap_build(&g, pages), 0);
	ck_assert_msg(memsnap_restore(&g, dir, MEMSNAP_LAZY, &l, NULL, NULL,
				      err, sizeof(err)) == 0,
		      "%s", err);
	r = &g.regions[0];
	unit = r->discard_granule;
	/* Read in from the snapshot, then given back. */
	ck_assert_uint_eq(r->hva[first + 5], snap_byte(first + 5));
	ck_assert_int_eq(region_discard(r, first, unit, &got), 0);
	ck_assert_uint_eq(got, unit);
	for (uint64_t o = first; o < first + unit; o++)
		if (r->hva[o])
			ck_abort_msg("%s: byte %#" PRIx64 " is %#x after the "
				     "discard, want 0",
				     region_pages_name(pages), o, r->hva[o]);
	/* The unit after it is untouched by the discard. */
	ck_assert_uint_eq(r->hva[first + unit + 5],
			  snap_byte(first + unit + 5));
	/* Given back before it was ever read in: zeros too. */
	first = 2048 * PAGE + (pages == REGION_PAGES_BASE ? 0 : 2 * unit);
	first -= first % unit;
	ck_assert_int_eq(region_discard(r, first, unit, &got), 0);
	if (pages == REGION_PAGES_BASE)
		for (uint64_t o = first; o < first + unit; o++)
			if (r->hva[o])
				ck_abort_msg("byte %#" PRIx64 " is %#x after "
					     "the discard, want 0",
					     o, r->hva[o]);
	memsnap_lazy_stop(&l);
	ck_assert_int_eq(guest_mem_destroy(&g), 0);
	snap_rmdir(dir);
}

START_TEST(discard_after_lazy_base)
{
	snap_discard_after_lazy(REGION_PAGES_BASE);
}
END_TEST

START_TEST(discard_after_lazy_thp)
{
	snap_discard_after_lazy(REGION_PAGES_THP);
}
END_TEST

START_TEST(discard_after_lazy_huge)
{
	snap_discard_after_lazy(REGION_PAGES_HUGE);
}
END_TEST

START_TEST(mode_names)
{
	enum memsnap_mode m;

	ck_assert_int_eq(memsnap_mode_parse("copy", &m), 0);
	ck_assert_int_eq(m, MEMSNAP_COPY);
	ck_assert_int_eq(memsnap_mode_parse("lazy", &m), 0);
	ck_assert_int_eq(m, MEMSNAP_LAZY);
	ck_assert_int_eq(memsnap_mode_parse("eager", &m), -EINVAL);
	ck_assert_str_eq(memsnap_mode_name(MEMSNAP_COPY), "copy");
}
END_TEST

Suite *memsnap_suite(void);
Suite *memsnap_suite(void)
{
	Suite *s = suite_create("memsnap");
	TCase *tc = tcase_create("memsnap");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, snap_case_setup, snap_case_teardown);
	tcase_add_test(tc, roundtrip_base);
	tcase_add_test(tc, roundtrip_thp);
	tcase_add_test(tc, roundtrip_huge);
	tcase_add_test(tc, policy_change);
	tcase_add_test(tc, damaged_snapshots);
	tcase_add_test(tc, lazy_source_truncated);
	tcase_add_test(tc, mem_file_recorded);
	tcase_add_test(tc, lazy_base_keeps_holes);
	tcase_add_test(tc, discard_after_lazy_base);
	tcase_add_test(tc, discard_after_lazy_thp);
	tcase_add_test(tc, discard_after_lazy_huge);
	tcase_add_test(tc, mode_names);
	suite_add_tcase(s, tc);
	return s;
}
