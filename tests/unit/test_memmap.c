/*
 * Memory zones (memmap_layout, memmap_build_zones): several zones around
 * the MMIO gap, each piece on its page size with hva congruent to gpa,
 * per-zone hugetlb reservation (a short pool in a later zone leaves nothing
 * of the earlier ones reserved), per-zone fallback, the host checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

static struct memmap_zone zone(const char *id, uint64_t size,
			       enum region_pages pages)
{
	struct memmap_zone z = {
		.size = size,
		.policy = {.pages = pages, .backing = REGION_BACKING_ANON},
		.host_node = -1};
	static char origins[MEMMAP_MAX_ZONES][64];
	static unsigned next;
	char *o = origins[next++ % MEMMAP_MAX_ZONES];

	snprintf(z.id, sizeof(z.id), "%s", id);
	snprintf(o, 64, "--mem-zone id=%s", id);
	z.policy.origin = o;
	return z;
}

START_TEST(layout_around_gap)
{
	struct memmap_zone z[3] = {zone("a", 2 * GiB, REGION_PAGES_BASE),
				   zone("b", 2 * GiB, REGION_PAGES_HUGE),
				   zone("c", 1 * GiB, REGION_PAGES_HUGE1G)};
	struct memmap_piece pc[8];

	/* b reaches the gap and continues above it with its policy; c
	 * follows it above 4 GiB, on a 1G boundary. */
	ck_assert_int_eq(
		memmap_layout(z, 3, 3 * GiB, 4 * GiB, pc, 8, err, sizeof(err)),
		4);
	ck_assert_uint_eq(pc[0].gpa, 0);
	ck_assert_uint_eq(pc[0].size, 2 * GiB);
	ck_assert_uint_eq(pc[0].zone, 0);
	ck_assert_uint_eq(pc[1].gpa, 2 * GiB);
	ck_assert_uint_eq(pc[1].size, 1 * GiB);
	ck_assert_uint_eq(pc[1].zone, 1);
	ck_assert_uint_eq(pc[2].gpa, 4 * GiB);
	ck_assert_uint_eq(pc[2].size, 1 * GiB);
	ck_assert_uint_eq(pc[2].zone, 1);
	ck_assert_uint_eq(pc[3].gpa, 5 * GiB);
	ck_assert_uint_eq(pc[3].size, 1 * GiB);
	ck_assert_uint_eq(pc[3].zone, 2);

	/* Exactly up to the gap: the next zone starts at 4 GiB. */
	z[0].size = 3 * GiB;
	z[1].size = 4 * MiB;
	ck_assert_int_eq(
		memmap_layout(z, 2, 3 * GiB, 4 * GiB, pc, 8, err, sizeof(err)),
		2);
	ck_assert_uint_eq(pc[1].gpa, 4 * GiB);
	ck_assert_uint_eq(pc[1].size, 4 * MiB);

	/* Too many pieces for the caller's array. */
	ck_assert_int_eq(
		memmap_layout(z, 2, 3 * GiB, 4 * GiB, pc, 1, err, sizeof(err)),
		-ENOSPC);
}
END_TEST

/* arm64: RAM from 2 GiB, everything below it devices. The "gap" is
 * [0, 2 GiB): every zone of every page policy goes above it, contiguous
 * where their page sizes allow, none below. */
START_TEST(layout_ram_from_2g)
{
	struct memmap_zone z[4] = {zone("base", 12 * 1024, REGION_PAGES_BASE),
				   zone("thp", 6 * MiB, REGION_PAGES_THP),
				   zone("h2m", 4 * MiB, REGION_PAGES_HUGE),
				   zone("h1g", 1 * GiB, REGION_PAGES_HUGE1G)};
	struct memmap_piece pc[8];

	ck_assert_int_eq(
		memmap_layout(z, 4, 0, 2 * GiB, pc, 8, err, sizeof(err)), 4);
	ck_assert_uint_eq(pc[0].gpa, 2 * GiB);
	ck_assert_uint_eq(pc[0].size, 12 * 1024);
	ck_assert_uint_eq(pc[1].gpa, 2 * GiB + 2 * MiB);
	ck_assert_uint_eq(pc[1].size, 6 * MiB);
	ck_assert_uint_eq(pc[2].gpa, 2 * GiB + 8 * MiB);
	ck_assert_uint_eq(pc[2].size, 4 * MiB);
	ck_assert_uint_eq(pc[3].gpa, 3 * GiB);
	ck_assert_uint_eq(pc[3].size, 1 * GiB);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(pc[i].zone, (unsigned)i);
	/* One zone of 1G pages: exactly at 2 GiB, in one piece. */
	ck_assert_int_eq(
		memmap_layout(&z[3], 1, 0, 2 * GiB, pc, 8, err, sizeof(err)),
		1);
	ck_assert_uint_eq(pc[0].gpa, 2 * GiB);
}
END_TEST

START_TEST(layout_alignment)
{
	struct memmap_zone z[3] = {zone("small", 12 * 1024, REGION_PAGES_BASE),
				   zone("big", 1 * GiB, REGION_PAGES_HUGE1G),
				   zone("thp", 6 * MiB, REGION_PAGES_THP)};
	struct memmap_piece pc[8];
	int n;

	/* 12K of base pages, then the 1G zone starts on 1G: the pages of a
	 * zone never straddle its page size. */
	n = memmap_layout(z, 3, 3 * GiB, 4 * GiB, pc, 8, err, sizeof(err));
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(pc[0].size, 12 * 1024);
	ck_assert_uint_eq(pc[1].gpa, 1 * GiB);
	ck_assert_uint_eq(pc[2].gpa, 2 * GiB);

	/* A 2M zone after 3G - 4K of base pages: no whole 2M page fits
	 * below the gap, so all of it goes above. */
	z[0].size = 3 * GiB - 4096;
	z[1] = zone("h", 4 * MiB, REGION_PAGES_HUGE);
	n = memmap_layout(z, 2, 3 * GiB, 4 * GiB, pc, 8, err, sizeof(err));
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(pc[1].gpa, 4 * GiB);
	ck_assert_uint_eq(pc[1].size, 4 * MiB);

	/* A hole that is not on the zone's page size: the piece below it
	 * ends on the last whole page. */
	z[0] = zone("t", 8 * MiB, REGION_PAGES_THP);
	n = memmap_layout(z, 1, 5 * MiB, 16 * MiB, pc, 8, err, sizeof(err));
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(pc[0].size, 4 * MiB);
	ck_assert_uint_eq(pc[1].gpa, 16 * MiB);
	ck_assert_uint_eq(pc[1].size, 4 * MiB);

	/* A size that is not whole pages names the zone and the fix. */
	z[0] = zone("odd", 3 * MiB, REGION_PAGES_HUGE);
	ck_assert_int_eq(
		memmap_layout(z, 1, 3 * GiB, 4 * GiB, pc, 8, err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, "--mem-zone id=odd: size=3M is not a "
				  "multiple of the 2M page size of pages=huge"),
		      "%s", err);
	/* The one-zone shorthand keeps its option names. */
	z[0].policy.origin = NULL;
	ck_assert_int_eq(
		memmap_layout(z, 1, 3 * GiB, 4 * GiB, pc, 8, err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, "--mem 3M is not a multiple of the 2M page "
				  "size of --pages huge"),
		      "%s", err);
}
END_TEST

/* Mapped for real: every region on its zone, hva == gpa modulo its page
 * size (2 MiB at least), the map sorted, e820-ready. */
START_TEST(build_two_zones_congruent)
{
	struct memmap_zone z[2] = {
		zone("lo", 6 * MiB + 4096, REGION_PAGES_BASE),
		zone("thp", 8 * MiB, REGION_PAGES_THP)};
	struct memmap_info info;
	struct guest_mem g;
	int ret;

	ret = memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info, err,
				 sizeof(err));
	if (ret == -EOPNOTSUPP) {
		z[1].policy.pages = REGION_PAGES_BASE;
		ret = memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info, err,
					 sizeof(err));
	}
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_eq(g.nr, 2);
	ck_assert_uint_eq(g.regions[0].gpa, 0);
	ck_assert_uint_eq(g.regions[0].zone, 0);
	ck_assert_uint_eq(g.regions[1].gpa, 8 * MiB);
	ck_assert_uint_eq(g.regions[1].zone, 1);
	for (unsigned i = 0; i < g.nr; i++)
		ck_assert_uint_eq(
			((uintptr_t)g.regions[i].hva - g.regions[i].gpa) %
				(2 * MiB),
			0);
	ck_assert_uint_eq(guest_mem_size(&g), 14 * MiB + 4096);
	ck_assert_uint_eq(info.zone_requested[0], 6 * MiB + 4096);
	ck_assert_uint_eq(info.zone_requested[1], 8 * MiB);
	/* Guest writes across the zone boundary land in both. */
	ck_assert_int_eq(guest_mem_write(&g, 6 * MiB, "abc", 3), 0);
	ck_assert_int_eq(guest_mem_write(&g, 8 * MiB, "def", 3), 0);
	guest_mem_destroy(&g);
}
END_TEST

/* All zones' pools are checked first: the error names the zone the pool
 * cannot cover, and nothing of an earlier zone stays reserved. */
START_TEST(build_short_pool_second_zone)
{
	long avail = region_pool_available(REGION_PAGES_HUGE);
	struct memmap_zone z[2];
	struct memmap_info info;
	struct guest_mem g;

	if (avail < 1)
		HARNESS_SKIP("need a free 2M hugepage (run as root or echo 4 "
			     "> /proc/sys/vm/nr_hugepages)");
	z[0] = zone("first", 2 * MiB, REGION_PAGES_HUGE);
	z[1] = zone("second", (uint64_t)avail * 2 * MiB, REGION_PAGES_HUGE);
	ck_assert_int_eq(memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info,
					    err, sizeof(err)),
			 -ENOMEM);
	ck_assert_msg(strstr(err, "--mem-zone id=second: hugepage pool too "
				  "small"),
		      "%s", err);
	ck_assert_msg(strstr(err, "includes the zones before it"), "%s", err);
	ck_assert_msg(strstr(err, "fallback=") && strstr(err, "--mem-zone"),
		      "%s", err);
	ck_assert_uint_eq(g.nr, 0);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), avail);
}
END_TEST

/* A later zone failing after an earlier one is mapped (its memory file is
 * too small) releases the earlier zone's reservation. */
START_TEST(build_later_failure_releases)
{
	char path[] = "/tmp/microvm-zone-XXXXXX";
	long avail = region_pool_available(REGION_PAGES_HUGE);
	struct memmap_zone z[2];
	struct memmap_info info;
	struct guest_mem g;
	int fd;

	if (avail < 2)
		HARNESS_SKIP("need 2 free 2M hugepages (run as root or echo 4 "
			     "> /proc/sys/vm/nr_hugepages)");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	z[0] = zone("huge", 4 * MiB, REGION_PAGES_HUGE);
	z[1] = zone("file", 8 * MiB, REGION_PAGES_BASE);
	z[1].policy.backing = REGION_BACKING_FILE;
	z[1].policy.path = path;
	ck_assert_int_eq(memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info,
					    err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "holds 1 but the guest needs 8M") ||
			      strstr(err, "but the guest needs 8M"),
		      "%s", err);
	ck_assert_uint_eq(g.nr, 0);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), avail);
	unlink(path);
}
END_TEST

/* fallback= is per zone and leaves the pages a later strict zone needs. */
START_TEST(build_fallback_per_zone)
{
	long avail = region_pool_available(REGION_PAGES_HUGE);
	struct memmap_zone z[2];
	struct memmap_info info;
	struct guest_mem g;

	if (avail < 2 || avail > 256)
		HARNESS_SKIP("need 2 to 256 free 2M hugepages, %ld free",
			     avail);
	z[0] = zone("fb", (uint64_t)(avail + 2) * 2 * MiB, REGION_PAGES_HUGE);
	z[0].policy.has_fallback = 1;
	z[0].policy.fallback = REGION_PAGES_BASE;
	z[1] = zone("strict", 2 * MiB, REGION_PAGES_HUGE);
	ck_assert_msg(memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info, err,
					 sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(info.zone_requested[0],
			  (uint64_t)(avail - 1) * 2 * MiB);
	ck_assert_uint_eq(info.zone_fallback[0], 3 * 2 * MiB);
	ck_assert_uint_eq(info.zone_requested[1], 2 * MiB);
	ck_assert_uint_eq(info.zone_fallback[1], 0);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), 0);
	/* The fallback piece follows the huge part of its zone; the strict
	 * zone comes after both. */
	ck_assert_uint_eq(g.nr, 3);
	ck_assert_int_eq(g.regions[0].pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(g.regions[1].pages, REGION_PAGES_BASE);
	ck_assert_int_eq(g.regions[1].downgraded, 1);
	ck_assert_uint_eq(g.regions[1].zone, 0);
	ck_assert_int_eq(g.regions[2].pages, REGION_PAGES_HUGE);
	ck_assert_uint_eq(g.regions[2].zone, 1);
	guest_mem_destroy(&g);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), avail);
}
END_TEST

/* host-node: a node without memory names those that have it. */
START_TEST(zones_check_nodes)
{
	char dir[] = "/tmp/microvm-nodes-XXXXXX", path[64];
	const char *saved = memmap_sysfs_node_root;
	struct memmap_zone z = zone("n", 2 * MiB, REGION_PAGES_BASE);
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/has_memory", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("0-1,4\n", f);
	fclose(f);
	memmap_sysfs_node_root = dir;
	z.host_node = 4;
	ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)), 0);
	z.host_node = 1;
	ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)), 0);
	z.host_node = 3;
	ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "--mem-zone id=n: host-node=3 does not "
				  "exist or has no memory; nodes with memory: "
				  "0-1,4"),
		      "%s", err);
	unlink(path);
	z.host_node = 0;
	ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)), -ENODEV);
	ck_assert_msg(strstr(err, "no NUMA information"), "%s", err);
	memmap_sysfs_node_root = saved;
	rmdir(dir);
}
END_TEST

/* RLIMIT_MEMLOCK is checked before anything is mapped; hugetlb zones
 * lock nothing and need no limit. */
START_TEST(zones_check_memlock)
{
	struct memmap_zone z = zone("locked", 64 * MiB, REGION_PAGES_BASE);
	struct rlimit old, rl;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "CapEff: %llx", &eff);
	fclose(f);
	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	z.lock = MEMMAP_LOCK_ON;
	rl = old;
	rl.rlim_cur = 1 * MiB;
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (eff & (1ULL << 14)) {
		/* CAP_IPC_LOCK: no limit applies. */
		ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)),
				 0);
	} else {
		ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)),
				 -EPERM);
		ck_assert_msg(strstr(err, "locking 64M of guest memory needs "
					  "RLIMIT_MEMLOCK") &&
				      strstr(err, "ulimit -l") &&
				      strstr(err, "CAP_IPC_LOCK"),
			      "%s", err);
	}
	z.policy.pages = REGION_PAGES_HUGE;
	ck_assert_int_eq(memmap_zones_check(&z, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &old), 0);
}
END_TEST

/* The backing report per zone: regions grouped by zone, adjacent pieces
 * one range, resident 4K bytes and locked bytes read from smaps, JSON. */
START_TEST(report_per_zone)
{
	struct memmap_zone z[2] = {zone("lazy", 8 * MiB, REGION_PAGES_BASE),
				   zone("pinned", 4 * MiB, REGION_PAGES_BASE)};
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	struct report_zone rz[GUEST_MEM_MAX_REGIONS];
	char json[REPORT_ZONES_JSON_MAX];
	struct memmap_info info;
	struct guest_mem g;
	unsigned n;

	z[1].lock = MEMMAP_LOCK_ONFAULT;
	z[1].host_node = -1;
	ck_assert_msg(memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info, err,
					 sizeof(err)) == 0,
		      "%s", err);
	/* Touch 1M of the first zone and 2M of the second. */
	memset(g.regions[0].hva, 1, 1 * MiB);
	memset(g.regions[1].hva, 1, 2 * MiB);
	ck_assert_int_eq(report_read(&g, rep), 0);
	n = report_zones(&g, rep, rz, GUEST_MEM_MAX_REGIONS);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(rz[0].id, "lazy");
	ck_assert_uint_eq(rz[0].nr_ranges, 1);
	ck_assert_uint_eq(rz[0].gpa[0], 0);
	ck_assert_uint_eq(rz[0].size[0], 8 * MiB);
	ck_assert_uint_eq(rz[0].bytes_4k, 1 * MiB);
	ck_assert_uint_eq(rz[0].bytes_locked, 0);
	ck_assert_int_eq(rz[0].host_node, -1);
	ck_assert_str_eq(rz[1].id, "pinned");
	ck_assert_uint_eq(rz[1].gpa[0], 8 * MiB);
	ck_assert_uint_eq(rz[1].bytes_4k, 2 * MiB);
	ck_assert_uint_eq(rz[1].bytes_locked, 2 * MiB);
	ck_assert_uint_lt(report_zones_json(json, sizeof(json), rz, n),
			  sizeof(json));
	ck_assert_msg(strstr(json, "[{\"id\":\"lazy\",\"ranges\":[{\"gpa\":0,"
				   "\"size\":8388608}],\"bytes\":8388608,"
				   "\"pages\":\"base\",\"host_node\":null,"
				   "\"locked_bytes\":0,\"bytes_4k\":1048576,"),
		      "%s", json);
	ck_assert_msg(strstr(json, "{\"id\":\"pinned\",\"ranges\":[{\"gpa\":"
				   "8388608,\"size\":4194304}]") &&
			      strstr(json,
				     "\"locked_bytes\":2097152,"
				     "\"bytes_4k\":2097152,\"bytes_thp\":0,"
				     "\"bytes_2m\":0,\"bytes_1g\":0}]"),
		      "%s", json);
	/* Too small a buffer: a terminated prefix and the length needed. */
	ck_assert_uint_gt(report_zones_json(json, 16, rz, n), 16);
	ck_assert_uint_eq(strlen(json), 15);
	guest_mem_destroy(&g);
}
END_TEST

/* A zone that reaches the gap is one zone with two ranges. */
START_TEST(report_zone_across_gap)
{
	struct guest_mem g;
	struct report_region rep[3] = {{0}};
	struct report_zone rz[3];

	memset(&g, 0, sizeof(g));
	g.nr = 3;
	g.regions[0] = (struct region){
		.gpa = 0, .size = 2 * MiB, .zone_id = "a", .page_size = 4096};
	g.regions[1] = (struct region){.gpa = 2 * MiB,
				       .size = 2 * MiB,
				       .zone_id = "b",
				       .bound = 1,
				       .page_size = 2 * MiB,
				       .pages = REGION_PAGES_HUGE};
	g.regions[2] = (struct region){.gpa = 4 * GiB,
				       .size = 4 * MiB,
				       .zone_id = "b",
				       .bound = 1,
				       .page_size = 2 * MiB,
				       .pages = REGION_PAGES_HUGE};
	rep[1].bytes_hugetlb = 2 * MiB;
	rep[2].bytes_hugetlb = 4 * MiB;
	ck_assert_uint_eq(report_zones(&g, rep, rz, 3), 2);
	ck_assert_uint_eq(rz[1].nr_ranges, 2);
	ck_assert_uint_eq(rz[1].gpa[1], 4 * GiB);
	ck_assert_uint_eq(rz[1].bytes, 6 * MiB);
	ck_assert_uint_eq(rz[1].bytes_2m, 6 * MiB);
	ck_assert_int_eq(rz[1].host_node, 0);
	/* Room for one zone only: the first. */
	ck_assert_uint_eq(report_zones(&g, rep, rz, 1), 1);
	ck_assert_str_eq(rz[0].id, "a");
}
END_TEST

/* Balloon discard over two zones: each frees whole pages of its own size
 * (the hugetlb zone whole 2M pages back to the pool, the base zone 4K). */
START_TEST(discard_two_zones)
{
	long avail = region_pool_available(REGION_PAGES_HUGE);
	struct memmap_zone z[2];
	struct memmap_info info;
	struct guest_mem g;
	uint64_t got;

	if (avail < 2)
		HARNESS_SKIP("need 2 free 2M hugepages (run as root or echo 4 "
			     "> /proc/sys/vm/nr_hugepages)");
	z[0] = zone("huge", 4 * MiB, REGION_PAGES_HUGE);
	z[1] = zone("base", 4 * MiB, REGION_PAGES_BASE);
	ck_assert_msg(memmap_build_zones(&g, z, 2, 3 * GiB, 4 * GiB, &info, err,
					 sizeof(err)) == 0,
		      "%s", err);
	memset(g.regions[0].hva, 1, 4 * MiB);
	memset(g.regions[1].hva, 1, 4 * MiB);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), avail - 2);
	/* [1M, 6M + 12K): in the huge zone only [2M, 4M) is a whole page;
	 * in the base zone [4M, 6M + 12K) is all whole 4K pages. */
	ck_assert_int_eq(guest_mem_discard(&g, 1 * MiB, 5 * MiB + 12288, &got),
			 0);
	ck_assert_uint_eq(got, 2 * MiB + 2 * MiB + 12288);
	/* The huge page went back to the pool (its reservation with it). */
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), avail - 1);
	/* Discarded memory reads back as zeros, the rest is kept. */
	ck_assert_uint_eq(g.regions[0].hva[2 * MiB], 0);
	ck_assert_uint_eq(g.regions[0].hva[1 * MiB], 1);
	ck_assert_uint_eq(g.regions[1].hva[0], 0);
	ck_assert_uint_eq(g.regions[1].hva[2 * MiB + 12288], 1);
	guest_mem_destroy(&g);
	ck_assert_int_eq(region_pool_available(REGION_PAGES_HUGE), avail);
}
END_TEST

/* The hotplug region: mapped after RAM, marked hotplug, not RAM for
 * guest_mem_size, never prefaulted (a prefault of every zone leaves it
 * untouched), hugetlb without taking pages from the pool. */
START_TEST(hotplug_region)
{
	struct guest_mem gm;
	struct memmap_zone z = {.id = "mem",
				.size = 64 * MiB,
				.policy = {.pages = REGION_PAGES_BASE},
				.host_node = -1};
	struct memmap_info info;
	struct prefault pf;
	unsigned char vec[64];
	long free0;

	guest_mem_init(&gm);
	ck_assert_msg(memmap_build_zones(&gm, &z, 1, 3ULL << 30, 4ULL << 30,
					 &info, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(memmap_add_hotplug(&gm, 128 * MiB, 128 * MiB,
					 REGION_PAGES_BASE, -1, "hp", err,
					 sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(gm.nr, 2);
	ck_assert_int_eq(gm.regions[1].hotplug, 1);
	ck_assert_str_eq(gm.regions[1].zone_id, "hp");
	ck_assert_uint_eq(gm.regions[1].zone, MEMMAP_MAX_ZONES);
	ck_assert_uint_eq(guest_mem_size(&gm), 64 * MiB);
	/* Overlapping RAM: refused, gm unchanged. */
	ck_assert_int_ne(memmap_add_hotplug(&gm, 0, 128 * MiB,
					    REGION_PAGES_BASE, -1, "hp", err,
					    sizeof(err)),
			 0);
	ck_assert_uint_eq(gm.nr, 2);
	ck_assert_int_eq(prefault_start_zones(&pf, &gm, 1, ~0U), 0);
	ck_assert_int_eq(prefault_wait(&pf, err, sizeof(err)), 0);
	ck_assert_int_eq(mincore(gm.regions[0].hva, 256 * 1024, vec), 0);
	ck_assert_uint_eq(vec[0] & 1, 1);
	ck_assert_int_eq(mincore(gm.regions[1].hva, 256 * 1024, vec), 0);
	for (unsigned i = 0; i < 64; i++)
		ck_assert_uint_eq(vec[i] & 1, 0);
	guest_mem_destroy(&gm);

	if (harness_hugepages(2048, 1))
		HARNESS_SKIP("needs a free 2M hugepage");
	free0 = harness_hugepages_free(2048);
	guest_mem_init(&gm);
	/* Far more than the pool: nothing is reserved at map time. */
	ck_assert_msg(memmap_add_hotplug(&gm, 4ULL << 30, 64ULL << 30,
					 REGION_PAGES_HUGE, -1, "hp", err,
					 sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(gm.regions[0].pages, REGION_PAGES_HUGE);
	ck_assert_int_ge(gm.regions[0].fd, 0);
	ck_assert_int_eq(harness_hugepages_free(2048), free0);
	guest_mem_destroy(&gm);
}
END_TEST

Suite *memmap_suite(void);
Suite *memmap_suite(void)
{
	Suite *s = suite_create("memmap");
	TCase *tc = tcase_create("zones");

	tcase_add_test(tc, layout_around_gap);
	tcase_add_test(tc, layout_alignment);
	tcase_add_test(tc, layout_ram_from_2g);
	tcase_add_test(tc, build_two_zones_congruent);
	tcase_add_test(tc, build_short_pool_second_zone);
	tcase_add_test(tc, build_later_failure_releases);
	tcase_add_test(tc, build_fallback_per_zone);
	tcase_add_test(tc, zones_check_nodes);
	tcase_add_test(tc, zones_check_memlock);
	tcase_add_test(tc, report_per_zone);
	tcase_add_test(tc, report_zone_across_gap);
	tcase_add_test(tc, discard_two_zones);
	tcase_add_test(tc, hotplug_region);
	suite_add_tcase(s, tc);
	return s;
}
