/*
 * Page size policies against the real kernel: what the host gives (smaps),
 * memory really returning on discard (RSS, the hugetlb pool), reservation
 * failures and the explicit fallback, file and memfd backing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem/guest_mem.h"
#include "mem/memmap.h"
#include "mem/prefault.h"
#include "mem/region.h"
#include "mem/report.h"
#include "tests/harness/harness.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static char err[512];

static struct report_region report_one(struct region *r)
{
	struct guest_mem g;
	struct report_region rep[GUEST_MEM_MAX_REGIONS];

	guest_mem_init(&g);
	g.regions[0] = *r;
	g.nr = 1;
	ck_assert_int_eq(report_read(&g, rep), 0);
	return rep[0];
}

START_TEST(policy_parse)
{
	struct region_policy p = {0};

	ck_assert_int_eq(region_policy_parse("huge", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(p.has_fallback, 0);
	ck_assert_int_eq(region_policy_parse("huge1g,fallback=huge", &p, err,
					     sizeof(err)),
			 0);
	ck_assert_int_eq(p.pages, REGION_PAGES_HUGE1G);
	ck_assert_int_eq(p.has_fallback, 1);
	ck_assert_int_eq(p.fallback, REGION_PAGES_HUGE);
	ck_assert_int_eq(
		region_policy_parse("huge,fallback=thp", &p, err, sizeof(err)),
		0);
	ck_assert_int_eq(p.fallback, REGION_PAGES_THP);
	ck_assert_int_eq(region_policy_parse("base", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.has_fallback, 0);
	ck_assert_int_eq(region_policy_parse("hug", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown page policy 'hug'"));
	ck_assert_int_eq(region_policy_parse("huge,fallback=huge1g", &p, err,
					     sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(
		region_policy_parse("huge,fallback=huge", &p, err, sizeof(err)),
		-EINVAL);
	ck_assert_int_eq(
		region_policy_parse("huge,fallback=", &p, err, sizeof(err)),
		-EINVAL);
	ck_assert_int_eq(region_policy_parse("huge,thp", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(region_policy_parse("", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_uint_eq(region_page_size(REGION_PAGES_HUGE1G), GiB);
}
END_TEST

START_TEST(map_alignment_and_sizes)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct region r;

	/* Host address congruent with the guest address modulo 2 MiB. */
	ck_assert_int_eq(region_map(&r, 4 * GiB + 4096, 8 * MiB, &pol, -1, 0,
				    err, sizeof(err)),
			 0);
	ck_assert_uint_eq(((uintptr_t)r.hva - r.gpa) % (2 * MiB), 0);
	ck_assert_uint_eq(r.page_size, 4096);
	ck_assert_ptr_eq(r.map_base < r.hva ? r.map_base : NULL, r.map_base);
	ck_assert(r.hva + r.size < r.map_base + r.map_len);
	region_unmap(&r);

	pol.pages = REGION_PAGES_HUGE;
	ck_assert_int_eq(
		region_map(&r, 0, 3 * MiB, &pol, 3, 0, err, sizeof(err)),
		-EINVAL);
	ck_assert_ptr_nonnull(
		strstr(err, "not a multiple of the 2M page size"));
	ck_assert_int_eq(
		region_map(&r, 1 * MiB, 2 * MiB, &pol, 3, 0, err, sizeof(err)),
		-EINVAL);
	pol.pages = REGION_PAGES_BASE;
	ck_assert_int_eq(region_map(&r, 0, 4097, &pol, -1, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(region_map(&r, 0, 0, &pol, -1, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(region_map(&r, UINT64_MAX - 4095, 8192, &pol, -1, 0,
				    err, sizeof(err)),
			 -EINVAL);
}
END_TEST

static struct region guard_r;

static void guard_setup(void)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};

	ck_assert_int_eq(
		region_map(&guard_r, 0, 1 * MiB, &pol, -1, 0, err, sizeof(err)),
		0);
}

/* Both of these must die with SIGSEGV: the pages around guest RAM are
 * PROT_NONE. */
START_TEST(guard_below)
{
	guard_r.hva[-1] = 1;
}
END_TEST

START_TEST(guard_above)
{
	guard_r.hva[guard_r.size] = 1;
}
END_TEST

/* Does the VMA that starts at hva carry VmFlags `flag` (smaps)? -1: no
 * such VMA. */
static int vma_has_flag(const void *hva, const char *flag)
{
	char line[512], want[32], pad[8];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, ret = -1;

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)hva);
	snprintf(pad, sizeof(pad), " %s ", flag);
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		/* A VMA's header line starts with its range, "start-end ". */
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = !strncmp(line, want, strlen(want));
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = ' ';
			ret = strstr(line, pad) != NULL;
		}
	}
	fclose(f);
	return ret;
}

/* Base is 4K even where THP is "always": the VMA says no hugepages. */
START_TEST(base_is_never_thp)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct report_region rep;
	struct region r;

	ck_assert_int_eq(
		region_map(&r, 0, 16 * MiB, &pol, -1, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(vma_has_flag(r.hva, "nh"), 1);
	memset(r.hva, 1, 16 * MiB);
	rep = report_one(&r);
	ck_assert_uint_eq(rep.bytes_thp, 0);
	region_unmap(&r);
}
END_TEST

START_TEST(base_discard_returns_rss)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct report_region rep;
	struct region r;
	uint64_t got;

	ck_assert_int_eq(
		region_map(&r, 0, 64 * MiB, &pol, -1, 0, err, sizeof(err)), 0);
	rep = report_one(&r);
	ck_assert_uint_eq(rep.bytes_4k + rep.bytes_thp, 0); /* lazy */
	memset(r.hva, 0x5a, 32 * MiB);
	rep = report_one(&r);
	ck_assert_uint_ge(rep.bytes_4k + rep.bytes_thp, 32 * MiB);
	ck_assert_uint_lt(rep.bytes_4k + rep.bytes_thp, 33 * MiB);
	ck_assert_int_eq(region_discard(&r, 0, 32 * MiB, &got), 0);
	ck_assert_uint_eq(got, 32 * MiB);
	rep = report_one(&r);
	ck_assert_uint_eq(rep.bytes_4k + rep.bytes_thp, 0);
	ck_assert_uint_eq(r.hva[12345], 0);
	/* Sub-page ranges free nothing; out of range is an error. */
	ck_assert_int_eq(region_discard(&r, 100, 4000, &got), 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_int_eq(region_discard(&r, 60 * MiB, 8 * MiB, &got), -EFAULT);
	region_unmap(&r);
}
END_TEST

START_TEST(thp_backs_with_hugepages)
{
	struct region_policy pol = {.pages = REGION_PAGES_THP};
	struct report_region rep;
	struct region r;
	uint64_t got;
	int ret;

	ret = region_map(&r, 0, 64 * MiB, &pol, -1, 0, err, sizeof(err));
	if (ret == -EOPNOTSUPP)
		HARNESS_SKIP("THP unavailable: %s", err);
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq((uintptr_t)r.hva % (2 * MiB), 0);
	memset(r.hva, 1, 64 * MiB);
	rep = report_one(&r);
	/* Fragmentation may deny a few; most must be huge. */
	ck_assert_msg(rep.bytes_thp >= 32 * MiB, "only %llu bytes on THP",
		      (unsigned long long)rep.bytes_thp);
	ck_assert_int_eq(region_discard(&r, 0, 64 * MiB, &got), 0);
	ck_assert_uint_eq(got, 64 * MiB);
	rep = report_one(&r);
	ck_assert_uint_eq(rep.bytes_thp + rep.bytes_4k, 0);
	region_unmap(&r);
}
END_TEST

START_TEST(huge_reserves_and_returns_to_pool)
{
	struct region_policy pol = {.pages = REGION_PAGES_HUGE};
	struct report_region rep;
	struct region r;
	long before, after_map, after_touch, after_discard;
	uint64_t got;
	int fd, created;

	if (harness_hugepages(2048, 16))
		HARNESS_SKIP("need 16 free 2M hugepages (run as root or echo "
			     "16 > /proc/sys/vm/nr_hugepages)");
	before = region_pool_available(REGION_PAGES_HUGE);
	ck_assert_int_eq(region_open_backing(&pol, 16 * MiB, &fd, &created, err,
					     sizeof(err)),
			 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(
		region_map(&r, 0, 16 * MiB, &pol, fd, 0, err, sizeof(err)), 0);
	close(fd);
	/* Reserved at creation, not at first touch. */
	after_map = region_pool_available(REGION_PAGES_HUGE);
	ck_assert_int_eq(before - after_map, 8);
	ck_assert_int_eq(
		prefault_run(&(struct guest_mem){.regions = {r}, .nr = 1}, 2,
			     err, sizeof(err)),
		0);
	after_touch = harness_hugepages_free(2048);
	rep = report_one(&r);
	ck_assert_uint_eq(rep.bytes_hugetlb, 16 * MiB);
	ck_assert_uint_eq(rep.bytes_4k, 0);
	memset(r.hva, 0x77, 16 * MiB);
	/* A partial hugepage is never returned. */
	ck_assert_int_eq(region_discard(&r, 4096, 2 * MiB, &got), 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(r.hva[4096], 0x77);
	ck_assert_int_eq(
		region_discard(&r, 2 * MiB - 4096, 4 * MiB + 8192, &got), 0);
	ck_assert_uint_eq(got, 4 * MiB);
	after_discard = harness_hugepages_free(2048);
	ck_assert_int_eq(after_discard - after_touch, 2);
	/* Touched again: zero-filled pages of the same size. */
	ck_assert_uint_eq(r.hva[2 * MiB], 0);
	ck_assert_uint_eq(r.hva[2 * MiB - 1], 0x77);
	r.hva[2 * MiB] = 1;
	rep = report_one(&r);
	ck_assert_uint_eq(rep.bytes_hugetlb, 14 * MiB);
	region_unmap(&r);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), before);
}
END_TEST

START_TEST(huge_short_pool_fails_clearly)
{
	struct region_policy pol = {.pages = REGION_PAGES_HUGE};
	long avail = region_pool_available(REGION_PAGES_HUGE);
	struct guest_mem g;
	struct memmap_info info;
	uint64_t size;

	if (avail < 0)
		HARNESS_SKIP("no 2M hugepage support in this kernel");
	if (avail > 1024)
		HARNESS_SKIP("pool has %ld free pages; a shortage would need "
			     "too much memory to test",
			     avail);
	size = ((uint64_t)avail + 3) * 2 * MiB;
	ck_assert_int_eq(memmap_build(&g, size, 3 * GiB, 4 * GiB, &pol, &info,
				      err, sizeof(err)),
			 -ENOMEM);
	ck_assert_uint_eq(g.nr, 0);
	ck_assert_msg(strstr(err, "hugepage pool too small") &&
			      strstr(err, "need ") &&
			      strstr(err, "/nr_hugepages"),
		      "unclear error: %s", err);
}
END_TEST

START_TEST(huge_explicit_fallback)
{
	struct region_policy pol = {.pages = REGION_PAGES_HUGE,
				    .has_fallback = 1,
				    .fallback = REGION_PAGES_THP};
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	struct memmap_info info;
	struct guest_mem g;
	long avail;
	uint64_t size, huge = 0, thp = 0;

	if (harness_hugepages(2048, 4))
		HARNESS_SKIP("need 4 free 2M hugepages (run as root)");
	avail = region_pool_available(REGION_PAGES_HUGE);
	if (avail > 1024)
		HARNESS_SKIP("pool too large (%ld) to test a shortage", avail);
	size = (uint64_t)avail * 2 * MiB + 32 * MiB;
	ck_assert_int_eq(memmap_build(&g, size, 3 * GiB, 4 * GiB, &pol, &info,
				      err, sizeof(err)),
			 0);
	ck_assert_uint_eq(info.bytes_requested_pages,
			  (uint64_t)avail * 2 * MiB);
	ck_assert_uint_eq(info.bytes_fallback, 32 * MiB);
	/* mem/ does not log: the warning comes back for vmm/ to print. */
	ck_assert_ptr_nonnull(
		strstr(info.warning, "hugepage pool short: only "));
	ck_assert_ptr_nonnull(
		strstr(info.warning, "the rest falls back to --pages thp"));
	ck_assert_uint_eq(g.nr, 2);
	ck_assert_int_eq(g.regions[0].pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(g.regions[1].pages, REGION_PAGES_THP);
	ck_assert_int_eq(g.regions[1].downgraded, 1);
	ck_assert_uint_eq(g.regions[1].gpa, (uint64_t)avail * 2 * MiB);
	ck_assert_int_eq(prefault_run(&g, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(report_read(&g, rep), 0);
	for (unsigned i = 0; i < g.nr; i++) {
		huge += rep[i].bytes_hugetlb;
		thp += rep[i].bytes_thp + rep[i].bytes_4k;
	}
	ck_assert_uint_eq(huge, (uint64_t)avail * 2 * MiB);
	ck_assert_uint_ge(thp, 32 * MiB);
	guest_mem_destroy(&g);
}
END_TEST

START_TEST(huge1g_when_available)
{
	struct region_policy pol = {.pages = REGION_PAGES_HUGE1G};
	struct memmap_info info;
	struct guest_mem g;
	struct report_region rep[GUEST_MEM_MAX_REGIONS];

	if (harness_hugepages(1048576, 1))
		HARNESS_SKIP("no free 1G hugepage (echo 1 > /sys/kernel/mm/"
			     "hugepages/hugepages-1048576kB/nr_hugepages)");
	ck_assert_int_eq(memmap_build(&g, GiB, 3 * GiB, 4 * GiB, &pol, &info,
				      err, sizeof(err)),
			 0);
	ck_assert_uint_eq((uintptr_t)g.regions[0].hva % GiB, 0);
	g.regions[0].hva[GiB - 1] = 1;
	ck_assert_int_eq(report_read(&g, rep), 0);
	ck_assert_uint_eq(rep[0].bytes_hugetlb, GiB);
	guest_mem_destroy(&g);
	/* Sizes must be whole 1G pages. */
	ck_assert_int_eq(memmap_build(&g, 1536 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(memmap_split_around_gap)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct memmap_info info;
	struct guest_mem g;

	ck_assert_int_eq(memmap_build(&g, 3584 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(g.nr, 2);
	ck_assert_uint_eq(g.regions[0].gpa, 0);
	ck_assert_uint_eq(g.regions[0].size, 3 * GiB);
	ck_assert_uint_eq(g.regions[1].gpa, 4 * GiB);
	ck_assert_uint_eq(g.regions[1].size, 512 * MiB);
	ck_assert_ptr_null(guest_mem_ptr(&g, 3 * GiB, 1));
	guest_mem_destroy(&g);
	ck_assert_int_eq(memmap_build(&g, 512 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(g.nr, 1);
	guest_mem_destroy(&g);
	pol.pages = REGION_PAGES_THP;
	ck_assert_int_eq(memmap_build(&g, 513 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "--mem 513M is not a multiple of the 2M"),
		      "%s", err);
}
END_TEST

START_TEST(file_backing_writes_back)
{
	char path[] = "/tmp/microvm-memfile-XXXXXX";
	struct region_policy pol = {.pages = REGION_PAGES_BASE,
				    .backing = REGION_BACKING_FILE,
				    .path = path};
	struct memmap_info info;
	struct guest_mem g;
	char buf[16] = {0};
	struct stat st;
	uint64_t got;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(memmap_build(&g, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_str_eq(info.warning, "");
	ck_assert_int_eq(guest_mem_write(&g, 5 * MiB, "written-back", 12), 0);
	ck_assert_int_eq(region_sync(&g.regions[0]), 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, 12, 5 * MiB), 12);
	ck_assert_str_eq(buf, "written-back");
	/* Discard punches a hole in the file: the guest said it is free. */
	ck_assert_int_eq(guest_mem_discard(&g, 5 * MiB, 4096, &got), 0);
	ck_assert_uint_eq(got, 4096);
	ck_assert_int_eq(pread(fd, buf, 12, 5 * MiB), 12);
	ck_assert_uint_eq(buf[0], 0);
	close(fd);
	guest_mem_destroy(&g);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 8 * MiB);

	/* A non-empty file that is too small is refused and left alone. */
	ck_assert_int_eq(truncate(path, 4096), 0);
	ck_assert_int_eq(memmap_build(&g, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "holds 4K but the guest needs 8M"));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 4096);
	unlink(path);

	/* A file we create and then cannot use is removed again. */
	pol.pages = REGION_PAGES_THP;
	ck_assert_int_ne(memmap_build(&g, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

/* Two VMs on one memory file would share RAM: the second is refused while
 * the first holds it (flock, like a writable disk), and may use it after. */
START_TEST(file_backing_locked)
{
	char path[] = "/tmp/microvm-memfile-XXXXXX";
	struct region_policy pol = {.pages = REGION_PAGES_BASE,
				    .backing = REGION_BACKING_FILE,
				    .path = path};
	struct memmap_info info;
	struct guest_mem g1, g2;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(memmap_build(&g1, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_int_eq(memmap_build(&g2, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 -EBUSY);
	ck_assert_msg(strstr(err, "is in use by another process (locked)"),
		      "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
	guest_mem_destroy(&g1);
	ck_assert_int_eq(memmap_build(&g2, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	guest_mem_destroy(&g2);
	unlink(path);
}
END_TEST

/* The short-pool error suggests a fallback only where one is accepted:
 * never for a --mem-file (memmap_build refuses fallback= there). */
START_TEST(pool_error_suggests_only_what_works)
{
	struct region_policy pol = {.pages = REGION_PAGES_HUGE,
				    .backing = REGION_BACKING_FILE,
				    .path = "/x"};
	struct memmap_info info;
	struct guest_mem g;

	if (region_pool_available(REGION_PAGES_HUGE) < 0)
		HARNESS_SKIP("no 2M hugepage support in this kernel");
	region_pool_error(&pol, 1ULL << 40, err, sizeof(err));
	ck_assert_msg(strstr(err, "hugepage pool too small"), "%s", err);
	ck_assert_msg(!strstr(err, "fallback="), "%s", err);
	ck_assert_msg(strstr(err, "--mem-file takes no fallback"), "%s", err);
	/* What it would have suggested is indeed refused. */
	pol.has_fallback = 1;
	pol.fallback = REGION_PAGES_THP;
	ck_assert_int_eq(memmap_build(&g, 8 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "fallback= cannot be combined with "
				  "--mem-file"),
		      "%s", err);
	/* Anonymous memory: a fallback is suggested. */
	pol.backing = REGION_BACKING_ANON;
	pol.has_fallback = 0;
	region_pool_error(&pol, 1ULL << 40, err, sizeof(err));
	ck_assert_msg(strstr(err, "(or add ,fallback="), "%s", err);
}
END_TEST

START_TEST(shared_memfd_discard)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE,
				    .backing = REGION_BACKING_SHARED};
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	struct memmap_info info;
	struct guest_mem g;
	uint64_t got;

	ck_assert_int_eq(memmap_build(&g, 32 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_int_ge(g.regions[0].fd, 0);
	memset(g.regions[0].hva, 3, 32 * MiB);
	ck_assert_int_eq(report_read(&g, rep), 0);
	ck_assert_uint_ge(rep[0].bytes_4k, 32 * MiB);
	ck_assert_int_eq(guest_mem_discard(&g, 0, 32 * MiB, &got), 0);
	ck_assert_uint_eq(got, 32 * MiB);
	ck_assert_int_eq(report_read(&g, rep), 0);
	ck_assert_uint_eq(rep[0].bytes_4k, 0);
	ck_assert_uint_eq(g.regions[0].hva[1000], 0);
	guest_mem_destroy(&g);
}
END_TEST

START_TEST(prefault_populates_everything)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	struct memmap_info info;
	struct guest_mem g;

	ck_assert_int_eq(memmap_build(&g, 256 * MiB, 128 * MiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(g.nr, 2);
	ck_assert_uint_ge(prefault_auto_threads(&g), 1);
	ck_assert_int_eq(prefault_run(&g, 3, err, sizeof(err)), 0);
	ck_assert_int_eq(report_read(&g, rep), 0);
	ck_assert_uint_eq(rep[0].bytes_4k + rep[0].bytes_thp, 128 * MiB);
	ck_assert_uint_eq(rep[1].bytes_4k + rep[1].bytes_thp, 128 * MiB);
	guest_mem_destroy(&g);
}
END_TEST

START_TEST(prefault_background_keeps_guest_writes)
{
	struct region_policy pol = {.pages = REGION_PAGES_BASE};
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	struct memmap_info info;
	struct prefault pf;
	struct guest_mem g;

	ck_assert_int_eq(memmap_build(&g, 256 * MiB, 3 * GiB, 4 * GiB, &pol,
				      &info, err, sizeof(err)),
			 0);
	ck_assert_int_eq(prefault_start(&pf, &g, 2), 0);
	/* "Guest" writes while the workers populate: nothing may be lost. */
	for (uint64_t o = 0; o < 256 * MiB; o += 4096)
		g.regions[0].hva[o] = (uint8_t)(o >> 12 | 1);
	ck_assert_int_eq(prefault_wait(&pf, err, sizeof(err)), 0);
	for (uint64_t o = 0; o < 256 * MiB; o += 4096)
		ck_assert_uint_eq(g.regions[0].hva[o], (uint8_t)(o >> 12 | 1));
	ck_assert_int_eq(report_read(&g, rep), 0);
	ck_assert_uint_eq(rep[0].bytes_4k + rep[0].bytes_thp, 256 * MiB);
	guest_mem_destroy(&g);
}
END_TEST

Suite *region_suite(void);
Suite *region_suite(void)
{
	Suite *s = suite_create("region");
	TCase *tc = tcase_create("policy");
	TCase *guard = tcase_create("guard");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, policy_parse);
	tcase_add_test(tc, map_alignment_and_sizes);
	tcase_add_test(tc, base_is_never_thp);
	tcase_add_test(tc, base_discard_returns_rss);
	tcase_add_test(tc, thp_backs_with_hugepages);
	tcase_add_test(tc, huge_reserves_and_returns_to_pool);
	tcase_add_test(tc, huge_short_pool_fails_clearly);
	tcase_add_test(tc, huge_explicit_fallback);
	tcase_add_test(tc, huge1g_when_available);
	tcase_add_test(tc, memmap_split_around_gap);
	tcase_add_test(tc, file_backing_writes_back);
	tcase_add_test(tc, file_backing_locked);
	tcase_add_test(tc, pool_error_suggests_only_what_works);
	tcase_add_test(tc, shared_memfd_discard);
	tcase_add_test(tc, prefault_populates_everything);
	tcase_add_test(tc, prefault_background_keeps_guest_writes);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(guard, guard_setup, NULL);
	tcase_add_test_raise_signal(guard, guard_below, SIGSEGV);
	tcase_add_test_raise_signal(guard, guard_above, SIGSEGV);
	suite_add_tcase(s, guard);
	return s;
}
