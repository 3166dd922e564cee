/*
 * bench-mem: how long guest memory takes to become usable under each page
 * policy, against a memset of already-populated memory on the same machine.
 *
 * For each guest size and policy (base, thp, huge, huge1g), built the way the
 * VMM builds it (memmap_build() with the 3-4 GiB hole):
 *   prefault-1   create + prefault_run() with 1 thread
 *   prefault-N   create + prefault_run() with prefault_auto_threads() threads
 *   first-touch  create (lazy) + one written byte per 4 KiB, with the page
 *                faults taken by the walk (getrusage, around the walk only)
 * and per size a memset of a populated base-page buffer as the bandwidth
 * baseline. Every figure is the median of --runs runs; guest memory is
 * destroyed between runs so each starts cold.
 *
 * Then zone layouts (bench_zones): one base zone against a hugetlb zone
 * plus a base zone of the same total, prefault per zone, lock vs no lock.
 *
 * As root the hugepage pools are grown for the largest guest while their
 * policy is measured and put back to the previous nr_hugepages afterwards,
 * at exit and on SIGINT/SIGTERM/SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "mem/guest_mem.h"
#include "mem/memmap.h"
#include "mem/prefault.h"
#include "mem/region.h"
#include "mem/report.h"
#include "mem/size.h"

#define BENCH_HOLE_START  (3ULL << 30)
#define BENCH_HOLE_END	  (4ULL << 30)
#define BENCH_MAX_SIZES	  8
#define BENCH_MAX_RUNS	  100
#define BENCH_NR_POLICIES 4
#define BENCH_WALK_STEP	  4096

static const enum region_pages bench_policies[BENCH_NR_POLICIES] = {
	REGION_PAGES_BASE,
	REGION_PAGES_THP,
	REGION_PAGES_HUGE,
	REGION_PAGES_HUGE1G,
};

/* Median, min and max of one measurement's runs. */
struct bench_stat {
	double med, min, max;
};

struct bench_row {
	uint64_t size;
	enum region_pages pages;
	int done;      /* 1: measured; 0: see why */
	char why[320]; /* skip or error reason */
	unsigned threads;
	struct bench_stat p1, pn, ft, faults;
	/* host backing after prefault, from the run with the fewest bytes on
	 * large pages */
	uint64_t b4k, bthp, bhugetlb;
	int have_backing;
};

struct bench_size {
	uint64_t size;
	int ok;
	char why[320];
	struct bench_stat memset_ms;
};

/*
 * Hugepage pools we changed: the sysfs file and the value to write back.
 * Kept as ready strings so the signal handler only needs open/write/close.
 */
struct bench_pool {
	const char *path;
	char restore[32];
	int changed;
};

static struct bench_pool bench_pools[2] = {
	{"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "", 0},
	{"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "", 0},
};

static struct bench_pool *bench_pool_of(enum region_pages pages)
{
	return pages == REGION_PAGES_HUGE1G ? &bench_pools[1] : &bench_pools[0];
}

/* Async-signal-safe: open, write, close only. */
static void bench_pool_restore(struct bench_pool *p)
{
	int fd;

	if (!p->changed)
		return;
	fd = open(p->path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = write(fd, p->restore, strlen(p->restore));

		(void)n;
		close(fd);
	}
	p->changed = 0;
}

static void bench_pools_restore(void)
{
	bench_pool_restore(&bench_pools[0]);
	bench_pool_restore(&bench_pools[1]);
}

static void bench_on_signal(int sig)
{
	static const char msg[] =
		"\nbench-mem: interrupted, hugepage pools restored\n";
	ssize_t n;

	bench_pools_restore();
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	signal(sig, SIG_DFL);
	raise(sig);
}

static long bench_read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int bench_write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/*
 * Make `need` pages of this hugetlb size free for us. Only as root; the old
 * nr_hugepages is remembered the first time the pool is touched. A pool that
 * cannot grow enough is left as it came out: the caller reads the pool again
 * and skips the rows that do not fit.
 */
static void bench_pool_grow(enum region_pages pages, unsigned long need)
{
	struct bench_pool *p = bench_pool_of(pages);
	long avail = region_pool_available(pages);
	long total = bench_read_long(p->path);

	if (avail < 0 || total < 0 || (unsigned long)avail >= need ||
	    geteuid() != 0)
		return;
	if (!p->changed) {
		snprintf(p->restore, sizeof(p->restore), "%ld\n", total);
		p->changed = 1;
	}
	if (bench_write_long(p->path, total + (long)need - avail))
		return;
	if ((unsigned long)region_pool_available(pages) >= need)
		return;
	/* Short, likely fragmentation: compact once and try again. */
	(void)bench_write_long("/proc/sys/vm/compact_memory", 1);
	total = bench_read_long(p->path);
	avail = region_pool_available(pages);
	if (total >= 0 && avail >= 0 && (unsigned long)avail < need)
		(void)bench_write_long(p->path, total + (long)need - avail);
}

static double bench_now_ms(void)
{
	return (double)clock_wall_ns() / 1e6;
}

static uint64_t bench_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct bench_stat bench_stat_of(double *v, unsigned n)
{
	struct bench_stat s;

	qsort(v, n, sizeof(*v), bench_cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

static int bench_build(struct guest_mem *gm, uint64_t size,
		       enum region_pages pages, char *err, size_t errlen)
{
	struct region_policy pol = {
		.pages = pages,
		.has_fallback = 0,
		.backing = REGION_BACKING_ANON,
		.path = NULL,
	};
	struct memmap_info info;

	return memmap_build(gm, size, BENCH_HOLE_START, BENCH_HOLE_END, &pol,
			    &info, err, errlen);
}

/* One write per 4 KiB; volatile so every store happens. */
static void bench_walk(const struct guest_mem *gm, uint8_t val)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		volatile uint8_t *p = gm->regions[i].hva;
		uint64_t size = gm->regions[i].size;

		for (uint64_t o = 0; o < size; o += BENCH_WALK_STEP)
			p[o] = val;
	}
}

static uint64_t bench_mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kb;
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			v = (uint64_t)kb * 1024;
	fclose(f);
	return v;
}

/* Enough ordinary memory for a non-hugetlb guest of `size`, with room to
 * spare, so the benchmark does not wake the OOM killer. */
static int bench_room_for(uint64_t size, char *why, size_t len)
{
	uint64_t avail = bench_mem_available();
	char a[32], b[32];

	if (avail && avail - avail / 8 >= size)
		return 1;
	snprintf(why, len, "skipped: needs %s, only %s MemAvailable",
		 size_format(size, a, sizeof(a)),
		 size_format(avail, b, sizeof(b)));
	return 0;
}

/* Per size: memset of a populated base-page buffer, `runs` times. */
static void bench_memset(struct bench_size *bs, unsigned runs)
{
	struct guest_mem gm;
	double t[BENCH_MAX_RUNS];
	char err[256];
	int ret;

	if (!bench_room_for(bs->size, bs->why, sizeof(bs->why)))
		return;
	ret = bench_build(&gm, bs->size, REGION_PAGES_BASE, err, sizeof(err));
	if (ret) {
		snprintf(bs->why, sizeof(bs->why), "error: %s", err);
		return;
	}
	ret = prefault_run(&gm, 0, err, sizeof(err));
	if (ret) {
		snprintf(bs->why, sizeof(bs->why), "error: %s", err);
		guest_mem_destroy(&gm);
		return;
	}
	for (unsigned r = 0; r < runs; r++) {
		double t0 = bench_now_ms();

		for (unsigned i = 0; i < gm.nr; i++)
			memset(gm.regions[i].hva, (int)(r + 1),
			       gm.regions[i].size);
		/* The stores must happen before the clock is read. */
		__asm__ volatile("" ::: "memory");
		t[r] = bench_now_ms() - t0;
	}
	guest_mem_destroy(&gm);
	bs->memset_ms = bench_stat_of(t, runs);
	bs->ok = 1;
}

/* Record what the host gave; keep the run with the fewest large pages. */
static void bench_backing(struct bench_row *row, const struct guest_mem *gm)
{
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	uint64_t b4 = 0, bt = 0, bh = 0;

	if (report_read(gm, rep))
		return;
	for (unsigned i = 0; i < gm->nr; i++) {
		b4 += rep[i].bytes_4k;
		bt += rep[i].bytes_thp;
		bh += rep[i].bytes_hugetlb;
	}
	if (!row->have_backing || bt + bh < row->bthp + row->bhugetlb) {
		row->b4k = b4;
		row->bthp = bt;
		row->bhugetlb = bh;
		row->have_backing = 1;
	}
}

/* create + prefault with `threads` (0: auto). Returns 0 or -errno. */
static int bench_prefault_once(struct bench_row *row, unsigned threads,
			       double *ms)
{
	struct guest_mem gm;
	char err[256];
	double t0 = bench_now_ms();
	int ret;

	ret = bench_build(&gm, row->size, row->pages, err, sizeof(err));
	if (ret)
		goto fail;
	if (!threads)
		row->threads = threads = prefault_auto_threads(&gm);
	ret = prefault_run(&gm, threads, err, sizeof(err));
	*ms = bench_now_ms() - t0;
	if (ret) {
		guest_mem_destroy(&gm);
		goto fail;
	}
	bench_backing(row, &gm);
	guest_mem_destroy(&gm);
	return 0;
fail:
	snprintf(row->why, sizeof(row->why), "error: %s", err);
	return ret;
}

/* create (lazy) + first-touch walk; faults counted around the walk. */
static int bench_touch_once(struct bench_row *row, uint8_t val, double *ms,
			    double *faults)
{
	struct guest_mem gm;
	char err[256];
	double t0 = bench_now_ms();
	uint64_t f0;
	int ret;

	ret = bench_build(&gm, row->size, row->pages, err, sizeof(err));
	if (ret) {
		snprintf(row->why, sizeof(row->why), "error: %s", err);
		return ret;
	}
	f0 = bench_faults();
	bench_walk(&gm, val);
	*faults = (double)(bench_faults() - f0);
	*ms = bench_now_ms() - t0;
	guest_mem_destroy(&gm);
	return 0;
}

static void bench_row_run(struct bench_row *row, unsigned runs)
{
	double p1[BENCH_MAX_RUNS], pn[BENCH_MAX_RUNS], ft[BENCH_MAX_RUNS],
		fl[BENCH_MAX_RUNS];
	size_t ps = region_page_size(row->pages);
	char a[32], b[32];

	if (row->size % ps) {
		snprintf(row->why, sizeof(row->why),
			 "skipped: %s is not a multiple of the %s page",
			 size_format(row->size, a, sizeof(a)),
			 size_format(ps, b, sizeof(b)));
		return;
	}
	if (row->pages == REGION_PAGES_HUGE ||
	    row->pages == REGION_PAGES_HUGE1G) {
		long avail = region_pool_available(row->pages);
		const char *sz = row->pages == REGION_PAGES_HUGE ? "2M" : "1G";

		if (avail < 0) {
			snprintf(row->why, sizeof(row->why),
				 "skipped: no %s hugepage support", sz);
			return;
		}
		if ((uint64_t)avail < row->size / ps) {
			snprintf(row->why, sizeof(row->why),
				 "skipped: %ld free %s pages, need %" PRIu64,
				 avail, sz, row->size / ps);
			return;
		}
	} else if (!bench_room_for(row->size, row->why, sizeof(row->why))) {
		return;
	}

	/* Interleaved so slow drift on a shared machine hits all three. */
	for (unsigned r = 0; r < runs; r++) {
		if (bench_prefault_once(row, 1, &p1[r]) ||
		    bench_prefault_once(row, 0, &pn[r]) ||
		    bench_touch_once(row, (uint8_t)(r + 1), &ft[r], &fl[r]))
			return;
	}
	row->p1 = bench_stat_of(p1, runs);
	row->pn = bench_stat_of(pn, runs);
	row->ft = bench_stat_of(ft, runs);
	row->faults = bench_stat_of(fl, runs);
	row->done = 1;
}

static int bench_parse_sizes(const char *arg, uint64_t *sizes, unsigned *n)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (*n == BENCH_MAX_SIZES || size_parse(tok, &v) || !v)
			return -EINVAL;
		sizes[(*n)++] = v;
	}
	return *n ? 0 : -EINVAL;
}

static void bench_thp_mode(char *out, size_t len)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	char buf[128] = "";
	char *s, *e;

	snprintf(out, len, "unknown");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		s = strchr(buf, '[');
		e = s ? strchr(s, ']') : NULL;
		if (s && e) {
			*e = 0;
			snprintf(out, len, "%s", s + 1);
		}
	}
	fclose(f);
}

/* "0.12x", with more digits when a ratio is far below 1. */
static const char *bench_ratio(double num, double den, char *buf, size_t len)
{
	double r;

	if (!(den > 0)) {
		snprintf(buf, len, "-");
		return buf;
	}
	r = num / den;
	if (r >= 0.095 || r <= 0) {
		snprintf(buf, len, "%.2fx", r);
	} else {
		/* Two significant digits, never an exponent. */
		int digits = 2;

		for (double x = r; x < 0.095 && digits < 9; x *= 10)
			digits++;
		snprintf(buf, len, "%.*fx", digits, r);
	}
	return buf;
}

static double bench_pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* "100% 4K", "98% THP +2% 4K", "100% hugetlb". */
static const char *bench_backing_str(const struct bench_row *row, char *buf,
				     size_t len)
{
	double p4 = bench_pct(row->b4k, row->size);
	double pt = bench_pct(row->bthp, row->size);
	double ph = bench_pct(row->bhugetlb, row->size);
	const char *big = row->pages == REGION_PAGES_HUGE1G ? "1G" : "2M";

	if (!row->have_backing)
		snprintf(buf, len, "-");
	else if (ph > 0)
		snprintf(buf, len, "%.0f%% hugetlb-%s%s", ph, big,
			 p4 + pt >= 0.5 ? " +other" : "");
	else if (pt > 0 && p4 >= 0.5)
		snprintf(buf, len, "%.0f%% THP-2M +%.0f%% 4K", pt, p4);
	else if (pt > 0)
		snprintf(buf, len, "%.0f%% THP-2M", pt);
	else
		snprintf(buf, len, "%.0f%% 4K", p4);
	return buf;
}

static void bench_print(const struct bench_size *sizes, unsigned nsizes,
			struct bench_row rows[][BENCH_NR_POLICIES],
			unsigned runs)
{
	char s[32], c[6][32], back[64], thr[16];

	printf("\nColumns: times in ms, each the median of %u runs on this "
	       "machine (min..max below);\n"
	       "ratios use values measured in this same run, never fixed "
	       "numbers.\n"
	       "  memset      memset of an already-populated base-page buffer "
	       "of the guest size (bandwidth baseline)\n"
	       "  pf-1        memmap_build + prefault_run with 1 thread\n"
	       "  pf-N (N)    memmap_build + prefault_run with N = "
	       "prefault_auto_threads threads\n"
	       "  touch       memmap_build (lazy) + a walk writing one byte "
	       "per 4 KiB over all guest memory\n"
	       "  faults      page faults (getrusage minflt+majflt) taken by "
	       "the walk alone\n"
	       "  pfN/mset    pf-N / memset       touch/mset  touch / memset\n"
	       "  touch/base  touch vs the base policy at the same size\n"
	       "  flt/base    faults vs the base policy at the same size\n"
	       "  host pages  what /proc/self/smaps showed after prefault (run "
	       "with fewest large pages)\n\n",
	       runs);
	printf("%-6s %-7s %9s %9s %9s %4s %9s %9s %9s %10s %10s %10s "
	       "%s\n",
	       "size", "policy", "memset", "pf-1", "pf-N", "(N)", "touch",
	       "faults", "pfN/mset", "touch/mset", "touch/base", "flt/base",
	       "host pages");
	for (unsigned i = 0; i < nsizes; i++) {
		const struct bench_row *base = &rows[i][0];
		double ms = sizes[i].ok ? sizes[i].memset_ms.med : 0;

		size_format(sizes[i].size, s, sizeof(s));
		if (!sizes[i].ok)
			printf("%-6s memset baseline %s\n", s, sizes[i].why);
		for (unsigned p = 0; p < BENCH_NR_POLICIES; p++) {
			const struct bench_row *r = &rows[i][p];

			if (!r->done) {
				printf("%-6s %-7s %s\n", s,
				       region_pages_name(r->pages), r->why);
				continue;
			}
			snprintf(thr, sizeof(thr), "(%u)", r->threads);
			printf("%-6s %-7s %9s %9.1f %9.1f %4s %9.1f %9.0f %9s "
			       "%10s %10s %10s %s\n",
			       s, region_pages_name(r->pages),
			       sizes[i].ok ? (snprintf(c[5], sizeof(c[5]),
						       "%.1f", ms),
					      c[5])
					   : "-",
			       r->p1.med, r->pn.med, thr, r->ft.med,
			       r->faults.med,
			       bench_ratio(r->pn.med, ms, c[0], sizeof(c[0])),
			       bench_ratio(r->ft.med, ms, c[1], sizeof(c[1])),
			       bench_ratio(r->ft.med,
					   base->done ? base->ft.med : 0, c[2],
					   sizeof(c[2])),
			       bench_ratio(r->faults.med,
					   base->done ? base->faults.med : 0,
					   c[3], sizeof(c[3])),
			       bench_backing_str(r, back, sizeof(back)));
		}
	}

	printf("\nSpread over the %u runs (min..max, ms; faults as counts):\n",
	       runs);
	printf("%-6s %-7s %-17s %-17s %-17s %-17s %s\n", "size", "policy",
	       "memset", "pf-1", "pf-N", "touch", "faults");
	for (unsigned i = 0; i < nsizes; i++) {
		char m[40] = "-";

		size_format(sizes[i].size, s, sizeof(s));
		if (sizes[i].ok)
			snprintf(m, sizeof(m), "%.1f..%.1f",
				 sizes[i].memset_ms.min,
				 sizes[i].memset_ms.max);
		for (unsigned p = 0; p < BENCH_NR_POLICIES; p++) {
			const struct bench_row *r = &rows[i][p];
			char a[40], b[40], d[40], f[48];

			if (!r->done)
				continue;
			snprintf(a, sizeof(a), "%.1f..%.1f", r->p1.min,
				 r->p1.max);
			snprintf(b, sizeof(b), "%.1f..%.1f", r->pn.min,
				 r->pn.max);
			snprintf(d, sizeof(d), "%.1f..%.1f", r->ft.min,
				 r->ft.max);
			snprintf(f, sizeof(f), "%.0f..%.0f", r->faults.min,
				 r->faults.max);
			printf("%-6s %-7s %-17s %-17s %-17s %-17s %s\n", s,
			       region_pages_name(r->pages), m, a, b, d, f);
		}
	}
}

static int bench_write_csv(const char *path, const struct bench_size *sizes,
			   unsigned nsizes,
			   struct bench_row rows[][BENCH_NR_POLICIES],
			   unsigned runs)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "size_bytes,policy,status,runs,threads,memset_ms,"
		   "prefault1_ms,prefaultN_ms,firsttouch_ms,firsttouch_faults,"
		   "prefaultN_over_memset,firsttouch_over_memset,"
		   "firsttouch_over_base,faults_over_base,bytes_4k,bytes_thp,"
		   "bytes_hugetlb\n");
	for (unsigned i = 0; i < nsizes; i++) {
		const struct bench_row *base = &rows[i][0];
		double ms = sizes[i].ok ? sizes[i].memset_ms.med : 0;

		for (unsigned p = 0; p < BENCH_NR_POLICIES; p++) {
			const struct bench_row *r = &rows[i][p];

			if (!r->done) {
				/* The reason has no commas or quotes worth
				 * keeping; quote it as one field. */
				fprintf(f, "%" PRIu64 ",%s,\"", r->size,
					region_pages_name(r->pages));
				for (const char *c = r->why; *c; c++)
					fputc(*c == '"' ? '\'' : *c, f);
				fprintf(f, "\",%u,,,,,,,,,,,,,\n", runs);
				continue;
			}
			fprintf(f, "%" PRIu64 ",%s,ok,%u,%u,", r->size,
				region_pages_name(r->pages), runs, r->threads);
			if (sizes[i].ok)
				fprintf(f, "%.3f", ms);
			fprintf(f, ",%.3f,%.3f,%.3f,%.0f,", r->p1.med,
				r->pn.med, r->ft.med, r->faults.med);
			if (ms > 0)
				fprintf(f, "%.4f,%.4f", r->pn.med / ms,
					r->ft.med / ms);
			else
				fprintf(f, ",");
			if (base->done && base->ft.med > 0 &&
			    base->faults.med > 0)
				fprintf(f, ",%.6f,%.6f",
					r->ft.med / base->ft.med,
					r->faults.med / base->faults.med);
			else
				fprintf(f, ",,");
			fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
				r->b4k, r->bthp, r->bhugetlb);
		}
	}
	if (fclose(f))
		return -errno;
	return 0;
}

/*
 * Zone layouts (--zones SIZE): one zone of base pages against the same
 * size split into a hugetlb zone and a base zone, each zone's prefault
 * timed on its own with 1 and N threads (prefault_start_zones), and lock=on
 * (mlock after the prefault, or mlock populating alone) against no lock.
 */
#define BENCH_ZONE_ROWS 12

struct bench_zone_row {
	char name[160];
	struct bench_stat ms;
	int done;
	char why[320];
};

static struct memmap_zone bench_zone(const char *id, uint64_t size,
				     enum region_pages pages,
				     enum memmap_lock lock)
{
	struct memmap_zone z = {
		.size = size,
		.policy = {.pages = pages, .backing = REGION_BACKING_ANON},
		.host_node = -1,
		.lock = lock};

	snprintf(z.id, sizeof(z.id), "%s", id);
	return z;
}

/* What one run measures: build the zones, then `what`. */
enum bench_zone_what {
	BZ_BUILD,      /* memmap_build_zones alone (hugetlb: the reserve) */
	BZ_PREFAULT,   /* prefault of the zones in mask */
	BZ_LOCK_AFTER, /* prefault N, then memmap_lock: both timed */
	BZ_LOCK_ONLY,  /* memmap_lock alone: mlock populates */
};

static int bench_zone_once(const struct memmap_zone *z, unsigned nz,
			   enum bench_zone_what what, uint32_t mask,
			   unsigned threads, double *ms, char *err,
			   size_t errlen)
{
	struct memmap_info info;
	struct guest_mem gm;
	struct prefault pf;
	double t0 = bench_now_ms();
	int ret;

	ret = memmap_build_zones(&gm, z, nz, BENCH_HOLE_START, BENCH_HOLE_END,
				 &info, err, errlen);
	if (ret)
		return ret;
	if (what == BZ_BUILD) {
		*ms = bench_now_ms() - t0;
		guest_mem_destroy(&gm);
		return 0;
	}
	t0 = bench_now_ms();
	if (what == BZ_PREFAULT || what == BZ_LOCK_AFTER) {
		ret = prefault_start_zones(&pf, &gm, threads, mask);
		if (ret)
			snprintf(err, errlen, "prefault threads: %s",
				 strerror(-ret));
		else
			ret = prefault_wait(&pf, err, errlen);
	}
	if (!ret && (what == BZ_LOCK_AFTER || what == BZ_LOCK_ONLY))
		ret = memmap_lock(&gm, z, nz, err, errlen);
	*ms = bench_now_ms() - t0;
	guest_mem_destroy(&gm);
	return ret;
}

static void bench_zone_row(struct bench_zone_row *row,
			   const struct memmap_zone *z, unsigned nz,
			   enum bench_zone_what what, uint32_t mask,
			   unsigned threads, unsigned runs)
{
	double t[BENCH_MAX_RUNS];
	char err[256];

	fprintf(stderr, "bench-mem: zones: %s ...", row->name);
	for (unsigned r = 0; r < runs; r++) {
		if (bench_zone_once(z, nz, what, mask, threads, &t[r], err,
				    sizeof(err))) {
			snprintf(row->why, sizeof(row->why), "error: %s", err);
			fprintf(stderr, " %s\n", row->why);
			return;
		}
	}
	row->ms = bench_stat_of(t, runs);
	row->done = 1;
	fprintf(stderr, " %.1f ms\n", row->ms.med);
}

static void bench_zones(uint64_t size, unsigned runs)
{
	struct bench_zone_row rows[BENCH_ZONE_ROWS];
	struct bench_size base = {.size = size};
	struct memmap_zone one[1], two[2], lock[1];
	uint64_t half = size / 2;
	unsigned n = 0, nt;
	char a[32], b[32], why[320];
	struct guest_mem probe;

	half -= half % (2ULL << 20);
	memset(rows, 0, sizeof(rows));
	printf("\nzone layouts, %s of guest memory:\n",
	       size_format(size, a, sizeof(a)));
	if (!bench_room_for(size, why, sizeof(why))) {
		printf("  skipped: %s\n", why);
		return;
	}
	bench_memset(&base, runs);
	one[0] = bench_zone("all", size, REGION_PAGES_BASE, MEMMAP_LOCK_NONE);
	two[0] = bench_zone("fast", half, REGION_PAGES_HUGE, MEMMAP_LOCK_NONE);
	two[1] = bench_zone("lazy", size - half, REGION_PAGES_BASE,
			    MEMMAP_LOCK_NONE);
	lock[0] = bench_zone("pinned", size, REGION_PAGES_BASE, MEMMAP_LOCK_ON);
	/* N: what the VMM would pick for the whole size. */
	memset(&probe, 0, sizeof(probe));
	probe.nr = 1;
	probe.regions[0].size = size;
	nt = prefault_auto_threads(&probe);

#define BZ(fmt, ...) \
	snprintf(rows[n].name, sizeof(rows[n].name), fmt, __VA_ARGS__)
	BZ("1 zone base %s: prefault 1 thread", a);
	bench_zone_row(&rows[n++], one, 1, BZ_PREFAULT, 1, 1, runs);
	BZ("1 zone base %s: prefault %u threads", a, nt);
	bench_zone_row(&rows[n++], one, 1, BZ_PREFAULT, 1, nt, runs);

	bench_pool_grow(REGION_PAGES_HUGE, half / (2ULL << 20));
	size_format(half, b, sizeof(b));
	BZ("2 zones huge %s + base %s: build (reserve)", b, b);
	bench_zone_row(&rows[n++], two, 2, BZ_BUILD, 0, 0, runs);
	BZ("  zone huge %s: prefault 1 thread", b);
	bench_zone_row(&rows[n++], two, 2, BZ_PREFAULT, 1, 1, runs);
	BZ("  zone huge %s: prefault %u threads", b, nt);
	bench_zone_row(&rows[n++], two, 2, BZ_PREFAULT, 1, nt, runs);
	BZ("  zone base %s: prefault 1 thread", b);
	bench_zone_row(&rows[n++], two, 2, BZ_PREFAULT, 2, 1, runs);
	BZ("  zone base %s: prefault %u threads", b, nt);
	bench_zone_row(&rows[n++], two, 2, BZ_PREFAULT, 2, nt, runs);
	BZ("  both zones: prefault %u threads", nt);
	bench_zone_row(&rows[n++], two, 2, BZ_PREFAULT, 3, nt, runs);
	bench_pool_restore(bench_pool_of(REGION_PAGES_HUGE));

	BZ("1 zone base %s lock=on: prefault %u threads + mlock", a, nt);
	bench_zone_row(&rows[n++], lock, 1, BZ_LOCK_AFTER, 1, nt, runs);
	BZ("1 zone base %s lock=on: mlock alone (populates)", a);
	bench_zone_row(&rows[n++], lock, 1, BZ_LOCK_ONLY, 1, 0, runs);
#undef BZ

	printf("  (median of %u runs, min-max; memset of %s populated: %s)\n",
	       runs, a,
	       base.ok ? (snprintf(why, sizeof(why), "%.1f ms",
				   base.memset_ms.med),
			  why)
		       : base.why);
	for (unsigned i = 0; i < n; i++) {
		if (!rows[i].done) {
			printf("  %-52s %s\n", rows[i].name, rows[i].why);
			continue;
		}
		printf("  %-52s %9.1f ms (%.1f-%.1f)", rows[i].name,
		       rows[i].ms.med, rows[i].ms.min, rows[i].ms.max);
		if (base.ok && rows[i].ms.med > 0)
			printf("  %.1fx memset",
			       rows[i].ms.med / base.memset_ms.med);
		printf("\n");
	}
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: bench-mem [--sizes 512M,4G,8G] [--runs 5] [--csv "
		"FILE] [--zones SIZE|off]\n"
		"  --sizes LIST  guest sizes, comma separated (K/M/G/T)\n"
		"  --runs N      runs per measurement, median reported "
		"(1..%d)\n"
		"  --csv FILE    also write the medians as CSV\n"
		"  --zones SIZE  zone layouts at SIZE (default: the largest "
		"size);\n"
		"                --zones off skips them, --zones-only SIZE "
		"runs only them\n",
		BENCH_MAX_RUNS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"sizes", required_argument, NULL, 's'},
		{"runs", required_argument, NULL, 'r'},
		{"csv", required_argument, NULL, 'c'},
		{"zones", required_argument, NULL, 'z'},
		{"zones-only", required_argument, NULL, 'Z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct bench_row rows[BENCH_MAX_SIZES][BENCH_NR_POLICIES];
	struct bench_size sizes[BENCH_MAX_SIZES];
	uint64_t sz[BENCH_MAX_SIZES] = {512ULL << 20, 4ULL << 30, 8ULL << 30};
	unsigned nsizes = 3, runs = 5;
	const char *csv = NULL;
	uint64_t zones = UINT64_MAX; /* default: the largest size */
	int zones_only = 0;
	struct sigaction sa;
	struct utsname un;
	char thp[32], a[32];
	double t_start, la[1] = {-1};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (bench_parse_sizes(optarg, sz, &nsizes)) {
				fprintf(stderr,
					"bench-mem: bad --sizes '%s' (e.g. "
					"512M,4G; at most %d)\n",
					optarg, BENCH_MAX_SIZES);
				return 2;
			}
			break;
		case 'r': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > BENCH_MAX_RUNS) {
				fprintf(stderr,
					"bench-mem: bad --runs '%s' (1..%d)\n",
					optarg, BENCH_MAX_RUNS);
				return 2;
			}
			runs = (unsigned)v;
			break;
		}
		case 'c': csv = optarg; break;
		case 'z':
		case 'Z':
			zones_only = c == 'Z';
			if (c == 'z' && !strcmp(optarg, "off")) {
				zones = 0;
				break;
			}
			if (size_parse(optarg, &zones) ||
			    zones < (4ULL << 20)) {
				fprintf(stderr,
					"bench-mem: bad --zones '%s' (a size "
					"of 4M or more, or off)\n",
					optarg);
				return 2;
			}
			break;
		case 'h': bench_usage(stdout); return 0;
		default: bench_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		bench_usage(stderr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(bench_pools_restore);

	bench_thp_mode(thp, sizeof(thp));
	if (uname(&un))
		snprintf(un.release, sizeof(un.release), "unknown");
	printf("bench-mem: guest memory population, microvm mem/ allocator\n");
	printf("machine: nproc %ld, kernel %s, THP %s, MemAvailable %.1f GiB, "
	       "loadavg at start %.2f\n",
	       sysconf(_SC_NPROCESSORS_ONLN), un.release, thp,
	       (double)bench_mem_available() / (1ULL << 30),
	       getloadavg(la, 1) == 1 ? la[0] : -1.0);
	fflush(stdout);

	t_start = bench_now_ms();
	if (zones == UINT64_MAX) {
		zones = 0;
		for (unsigned i = 0; i < nsizes; i++)
			if (sz[i] > zones)
				zones = sz[i];
	}
	if (zones_only) {
		bench_zones(zones, runs);
		bench_pools_restore();
		printf("\ntotal benchmark time %.0f s\n",
		       (bench_now_ms() - t_start) / 1e3);
		return 0;
	}
	for (unsigned i = 0; i < nsizes; i++) {
		memset(&sizes[i], 0, sizeof(sizes[i]));
		sizes[i].size = sz[i];
		for (unsigned p = 0; p < BENCH_NR_POLICIES; p++) {
			memset(&rows[i][p], 0, sizeof(rows[i][p]));
			rows[i][p].size = sz[i];
			rows[i][p].pages = bench_policies[p];
		}
	}

	/* Baselines first, each buffer freed before the guests are built, so
	 * the peak is one guest and not a guest plus a baseline. */
	for (unsigned i = 0; i < nsizes; i++) {
		fprintf(stderr, "bench-mem: %s memset baseline\n",
			size_format(sz[i], a, sizeof(a)));
		bench_memset(&sizes[i], runs);
	}

	/* Policy by policy: a hugetlb pool is grown for the largest guest
	 * that fits its page size, and given back before the next policy, so
	 * the 2M and 1G pools never hold memory at the same time. */
	for (unsigned p = 0; p < BENCH_NR_POLICIES; p++) {
		enum region_pages pages = bench_policies[p];
		size_t ps = region_page_size(pages);
		unsigned long need = 0;

		if (pages == REGION_PAGES_HUGE ||
		    pages == REGION_PAGES_HUGE1G) {
			for (unsigned i = 0; i < nsizes; i++)
				if (sz[i] % ps == 0 && sz[i] / ps > need)
					need = sz[i] / ps;
			if (need)
				bench_pool_grow(pages, need);
		}
		for (unsigned i = 0; i < nsizes; i++) {
			double t0 = bench_now_ms();

			fprintf(stderr, "bench-mem: %s %s ...",
				size_format(sz[i], a, sizeof(a)),
				region_pages_name(pages));
			bench_row_run(&rows[i][p], runs);
			fprintf(stderr, " %.1f s%s%s\n",
				(bench_now_ms() - t0) / 1e3,
				rows[i][p].done ? "" : ", ",
				rows[i][p].done ? "" : rows[i][p].why);
		}
		bench_pool_restore(bench_pool_of(pages));
	}
	bench_pools_restore();

	bench_print(sizes, nsizes, rows, runs);
	if (zones)
		bench_zones(zones, runs);
	bench_pools_restore();
	printf("\ntotal benchmark time %.0f s\n",
	       (bench_now_ms() - t_start) / 1e3);
	if (csv) {
		int ret = bench_write_csv(csv, sizes, nsizes, rows, runs);

		if (ret) {
			fprintf(stderr, "bench-mem: cannot write %s: %s\n", csv,
				strerror(-ret));
			return 1;
		}
		printf("medians written to %s\n", csv);
	}
	return 0;
}
