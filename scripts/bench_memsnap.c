/*
 * bench-memsnap: how long guest memory takes to go into a snapshot and come
 * back, per page policy, in one run (mem/snapshot.c, no VM):
 *   save        memsnap_save() of a guest that wrote --fill percent of its
 *               memory (the rest never touched), into a fresh directory
 *   copy        memsnap_restore(COPY) into a fresh guest_mem: every byte in
 *   lazy-setup  memsnap_restore(LAZY): until the guest could run
 *   lazy-first  lazy-setup plus the first touched byte (one fault served)
 *   lazy-all    lazy-setup plus a read of one byte per 4 KiB of all memory
 *   cold-write  for scale: a fresh guest_mem written once per 4 KiB, no
 *               snapshot (what populating memory costs without one)
 * Each figure is the median (min-max) of --runs runs, in milliseconds; the
 * snapshot's files are in --dir (default /tmp: the page cache is warm, as
 * for a restore right after the save). As root the 2M/1G hugepage pools are
 * grown for the original and one clone and put back afterwards.
 *
 * Usage: bench-memsnap [--size 512M] [--runs 5] [--fill 50] [--dir /tmp]
 *                      [--pages base,thp,huge,huge1g]
 * BENCH_MEMSNAP_DEBUG=1 prints the lazy handler's counters per run (faults,
 * THP units moved in whole, copied units whose collapse failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "mem/guest_mem.h"
#include "mem/memmap.h"
#include "mem/region.h"
#include "mem/report.h"
#include "mem/size.h"
#include "mem/snapshot.h"

#define BMS_HOLE_START (3ULL << 30)
#define BMS_HOLE_END   (4ULL << 30)
#define BMS_MAX_RUNS   50
#define BMS_NR_COLS    6

static const char *const bms_cols[BMS_NR_COLS] = {
	"save", "copy", "lazy-setup", "lazy-first", "lazy-all", "cold-write"};

/* Pools we grew, with the value to put back (async-signal-safe restore). */
static struct {
	const char *path;
	char restore[32];
	int changed;
} bms_pools[2] = {
	{"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "", 0},
	{"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "", 0},
};

static void bms_pools_restore(void)
{
	for (int i = 0; i < 2; i++) {
		int fd;

		if (!bms_pools[i].changed)
			continue;
		fd = open(bms_pools[i].path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = write(fd, bms_pools[i].restore,
					  strlen(bms_pools[i].restore));

			(void)n;
			close(fd);
		}
		bms_pools[i].changed = 0;
	}
}

static void bms_on_signal(int sig)
{
	bms_pools_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void bms_pool_grow(enum region_pages pages, unsigned long need)
{
	int i = pages == REGION_PAGES_HUGE1G;
	long avail = region_pool_available(pages), total = -1;
	FILE *f;

	if (avail < 0 || (unsigned long)avail >= need || geteuid())
		return;
	f = fopen(bms_pools[i].path, "re");
	if (!f)
		return;
	if (fscanf(f, "%ld", &total) != 1)
		total = -1;
	fclose(f);
	if (total < 0)
		return;
	if (!bms_pools[i].changed) {
		snprintf(bms_pools[i].restore, sizeof(bms_pools[i].restore),
			 "%ld\n", total);
		bms_pools[i].changed = 1;
	}
	f = fopen(bms_pools[i].path, "we");
	if (!f)
		return;
	fprintf(f, "%ld\n", total + (long)need - avail);
	fclose(f);
}

static double bms_ms(uint64_t t0)
{
	return (double)(clock_wall_ns() - t0) / 1e6;
}

static int bms_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bms_build(struct guest_mem *gm, uint64_t size,
		     enum region_pages pages, char *err, size_t errlen)
{
	struct region_policy pol = {.pages = pages};
	struct memmap_info info;

	return memmap_build(gm, size, BMS_HOLE_START, BMS_HOLE_END, &pol, &info,
			    err, errlen);
}

/* One read per 4 KiB of every region; the sum keeps the reads. */
static uint64_t bms_walk(const struct guest_mem *gm)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < gm->nr; i++) {
		const volatile uint8_t *p = gm->regions[i].hva;

		for (uint64_t o = 0; o < gm->regions[i].size; o += 4096)
			sum += p[o];
	}
	return sum;
}

/* One write per 4 KiB of every region. */
static void bms_write_walk(const struct guest_mem *gm)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		volatile uint8_t *p = gm->regions[i].hva;

		for (uint64_t o = 0; o < gm->regions[i].size; o += 4096)
			p[o] = 1;
	}
}

/* The first `fill` percent of every region: a distinct word per 4 KiB. */
static void bms_fill(const struct guest_mem *gm, unsigned fill)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		uint64_t end = r->size / 100 * fill;

		for (uint64_t o = 0; o < end; o += 8)
			*(uint64_t *)(void *)(r->hva + o) = (r->gpa + o) | 1;
	}
}

static void bms_rmdir(const char *d)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd))
		fprintf(stderr, "bench-memsnap: could not remove %s\n", d);
}

/* One policy, `runs` times; t[col][run] in ms. Returns 0 or -errno. */
static int bms_policy(enum region_pages pages, uint64_t size, unsigned fill,
		      unsigned runs, const char *base, double t[][BMS_MAX_RUNS],
		      uint64_t *written, uint64_t *thp_bytes, char *err,
		      size_t errlen)
{
	for (unsigned r = 0; r < runs; r++) {
		struct guest_mem g, c;
		struct memsnap_stats st;
		struct memsnap_lazy l;
		struct report_region rep[GUEST_MEM_MAX_REGIONS];
		char dir[PATH_MAX];
		uint64_t t0, sum;
		int ret;

		snprintf(dir, sizeof(dir), "%s/bench-memsnap-XXXXXX", base);
		if (!mkdtemp(dir))
			return -errno;
		ret = bms_build(&g, size, pages, err, errlen);
		if (ret)
			goto out_dir;
		bms_fill(&g, fill);
		t0 = clock_wall_ns();
		ret = memsnap_save(&g, NULL, dir, &st, err, errlen);
		t[0][r] = bms_ms(t0);
		*written = st.bytes_written;
		(void)guest_mem_destroy(&g);
		if (ret)
			goto out_dir;

		ret = bms_build(&c, size, pages, err, errlen);
		if (ret)
			goto out_dir;
		t0 = clock_wall_ns();
		ret = memsnap_restore(&c, dir, MEMSNAP_COPY, &l, NULL, NULL,
				      err, errlen);
		t[1][r] = bms_ms(t0);
		(void)guest_mem_destroy(&c);
		if (ret)
			goto out_dir;

		ret = bms_build(&c, size, pages, err, errlen);
		if (ret)
			goto out_dir;
		t0 = clock_wall_ns();
		ret = memsnap_restore(&c, dir, MEMSNAP_LAZY, &l, NULL, NULL,
				      err, errlen);
		t[2][r] = bms_ms(t0);
		if (!ret) {
			sum = ((volatile uint8_t *)c.regions[0].hva)[0];
			t[3][r] = bms_ms(t0);
			sum += bms_walk(&c);
			t[4][r] = bms_ms(t0);
			(void)sum;
			if (!report_read(&c, rep))
				*thp_bytes =
					rep[0].bytes_thp + rep[0].bytes_hugetlb;
			if (getenv("BENCH_MEMSNAP_DEBUG"))
				fprintf(stderr,
					"run %u: faults %" PRIu64
					" moved %" PRIu64 " copied+collapse "
					"failed %" PRIu64 "\n",
					r, l.faults, l.units_moved,
					l.collapse_failed);
			if (l.error) {
				snprintf(err, errlen, "%s", l.error_msg);
				ret = l.error;
			}
			memsnap_lazy_stop(&l);
		}
		(void)guest_mem_destroy(&c);
		if (ret)
			goto out_dir;

		ret = bms_build(&c, size, pages, err, errlen);
		if (ret)
			goto out_dir;
		t0 = clock_wall_ns();
		bms_write_walk(&c);
		t[5][r] = bms_ms(t0);
		(void)guest_mem_destroy(&c);
	out_dir:
		bms_rmdir(dir);
		if (ret)
			return ret;
	}
	return 0;
}

static void bms_usage(FILE *f)
{
	fprintf(f, "usage: bench-memsnap [--size 512M] [--runs 5] [--fill 50] "
		   "[--dir /tmp] [--pages base,thp,huge,huge1g]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"size", required_argument, NULL, 's'},
		{"runs", required_argument, NULL, 'r'},
		{"fill", required_argument, NULL, 'f'},
		{"dir", required_argument, NULL, 'd'},
		{"pages", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const enum region_pages all[] = {
		REGION_PAGES_BASE, REGION_PAGES_THP, REGION_PAGES_HUGE,
		REGION_PAGES_HUGE1G};
	const char *dir = "/tmp", *want = "base,thp,huge,huge1g";
	uint64_t size = 512ULL << 20;
	unsigned runs = 5, fill = 50;
	char a[32], b[32];
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (size_parse(optarg, &size) || !size) {
				fprintf(stderr, "bad --size %s\n", optarg);
				return 2;
			}
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			if (!runs || runs > BMS_MAX_RUNS) {
				fprintf(stderr, "--runs 1..%d\n", BMS_MAX_RUNS);
				return 2;
			}
			break;
		case 'f':
			fill = (unsigned)strtoul(optarg, NULL, 10);
			if (fill > 100) {
				fprintf(stderr, "--fill 0..100\n");
				return 2;
			}
			break;
		case 'd': dir = optarg; break;
		case 'p': want = optarg; break;
		case 'h': bms_usage(stdout); return 0;
		default: bms_usage(stderr); return 2;
		}
	}
	signal(SIGINT, bms_on_signal);
	signal(SIGTERM, bms_on_signal);
	signal(SIGHUP, bms_on_signal);
	printf("bench-memsnap: %s guest, %u%% written, %u runs, files in %s; "
	       "ms, median (min-max)\n",
	       size_format(size, a, sizeof(a)), fill, runs, dir);
	printf("%-7s %9s", "policy", "file");
	for (int k = 0; k < BMS_NR_COLS; k++)
		printf(" %21s", bms_cols[k]);
	printf(" %9s\n", "huge-after");
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = region_pages_name(all[i]);
		const char *hit = strstr(want, name);
		double t[BMS_NR_COLS][BMS_MAX_RUNS];
		uint64_t written = 0, huge = 0;
		char err[512] = "";
		int ret;

		/* "huge" must not match inside "huge1g" */
		while (hit && ((hit > want && hit[-1] != ',') ||
			       (hit[strlen(name)] && hit[strlen(name)] != ',')))
			hit = strstr(hit + 1, name);
		if (!hit)
			continue;
		if (size % region_page_size(all[i])) {
			printf("%-7s skipped: size not a multiple of its "
			       "page\n",
			       name);
			continue;
		}
		if (all[i] == REGION_PAGES_HUGE ||
		    all[i] == REGION_PAGES_HUGE1G)
			bms_pool_grow(all[i],
				      2 * size / region_page_size(all[i]));
		ret = bms_policy(all[i], size, fill, runs, dir, t, &written,
				 &huge, err, sizeof(err));
		if (ret) {
			printf("%-7s skipped: %s\n", name, err);
			if (ret != -ENOMEM && ret != -EOPNOTSUPP)
				status = 1;
			continue;
		}
		printf("%-7s %9s", name, size_format(written, b, sizeof(b)));
		for (int k = 0; k < BMS_NR_COLS; k++) {
			char cell[48];

			qsort(t[k], runs, sizeof(double), bms_cmp);
			snprintf(cell, sizeof(cell), "%.2f (%.2f-%.2f)",
				 runs % 2 ? t[k][runs / 2]
					  : (t[k][runs / 2 - 1] +
					     t[k][runs / 2]) /
						    2,
				 t[k][0], t[k][runs - 1]);
			printf(" %21s", cell);
		}
		printf(" %9s\n", size_format(huge, a, sizeof(a)));
		fflush(stdout);
	}
	bms_pools_restore();
	return status;
}
