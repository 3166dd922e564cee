/* virtio-balloon: options, PFN coalescing, inflate/report discards with
 * their accounting per page size, stats polling, config space. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_balloon.h"
#include "tests/harness/harness.h"
#include "tests/unit/vtest.h"

#define MiB	     (1ULL << 20)
#define EXTRA_GPA    0x40000000ULL /* the discard-test region */
#define EXTRA_SIZE   (4 * MiB)
#define F(bit)	     (1ULL << (bit))
#define F_VERSION_1  F(VIRTIO_F_VERSION_1)
#define F_STATS	     F(VIRTIO_BALLOON_F_STATS_VQ)
#define F_REPORTING  F(VIRTIO_BALLOON_F_FREE_PAGE_REPORTING)
#define HUGE_FREE_KB 2048

static struct virtio_balloon bl;
static struct guest_mem *gm;
static int extra_mapped;

/* Map `size` bytes of `pages` at EXTRA_GPA into the test's guest memory. */
static void extra_region_size(enum region_pages pages, uint64_t size)
{
	struct region_policy pol = {.pages = pages};
	struct region r;
	char err[256];
	int fd = -1, created = 0;

	ck_assert_int_eq(region_open_backing(&pol, size, &fd, &created, err,
					     sizeof(err)),
			 0);
	ck_assert_msg(region_map(&r, EXTRA_GPA, size, &pol, fd, 0, err,
				 sizeof(err)) == 0,
		      "%s", err);
	if (fd >= 0)
		close(fd);
	ck_assert_int_eq(guest_mem_add(gm, &r), 0);
	extra_mapped = 1;
}

static void extra_region(enum region_pages pages)
{
	extra_region_size(pages, EXTRA_SIZE);
}

static uint8_t *extra_hva(uint64_t off)
{
	return gm->regions[1].hva + off;
}

/* A balloon with cfg, attached, driver up with `features`. */
static void start(const struct virtio_balloon_cfg *cfg, uint64_t features,
		  unsigned nq)
{
	struct irq_line irq;

	ck_assert_int_eq(virtio_balloon_init(&bl, cfg), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&bl.mmio, gm, 0xc0003000, &irq), 0);
	ck_assert_uint_eq(
		vtest_driver_init(&bl.mmio, features | F_VERSION_1, nq) &
			VIRTIO_STATUS_DRIVER_OK,
		VIRTIO_STATUS_DRIVER_OK);
}

static void setup(void)
{
	gm = vtest_ram();
	extra_mapped = 0;
}

static void teardown(void)
{
	virtio_balloon_close(&bl);
	if (extra_mapped) {
		region_unmap(&gm->regions[1]);
		gm->nr = 1;
	}
	vtest_ram_free();
}

START_TEST(bl_runs)
{
	uint32_t pfns[] = {10, 3, 4, 12, 5, 11, 4, 100, 2};
	struct virtio_balloon_run runs[9];
	unsigned n = virtio_balloon_runs(pfns, 9, runs);

	/* 2,3,4,5 | 10,11,12 | 100 (the duplicate 4 collapses). */
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(runs[0].pfn, 2);
	ck_assert_uint_eq(runs[0].count, 4);
	ck_assert_uint_eq(runs[1].pfn, 10);
	ck_assert_uint_eq(runs[1].count, 3);
	ck_assert_uint_eq(runs[2].pfn, 100);
	ck_assert_uint_eq(runs[2].count, 1);
	ck_assert_uint_eq(virtio_balloon_runs(pfns, 0, runs), 0);
	pfns[0] = UINT32_MAX;
	ck_assert_uint_eq(virtio_balloon_runs(pfns, 1, runs), 1);
	ck_assert_uint_eq(runs[0].pfn, UINT32_MAX);
}
END_TEST

/* A full inflate buffer the way Linux fills it (descending), and a
 * scrambled one with every third page missing. */
START_TEST(bl_runs_big)
{
	static uint32_t pfns[256];
	static struct virtio_balloon_run runs[256];
	unsigned n, kept = 0;

	for (unsigned i = 0; i < 256; i++)
		pfns[i] = 5000 - i;
	ck_assert_uint_eq(virtio_balloon_runs(pfns, 256, runs), 1);
	ck_assert_uint_eq(runs[0].pfn, 5000 - 255);
	ck_assert_uint_eq(runs[0].count, 256);

	/* (i * 97) % 256 permutes 0..255: a scrambled order. */
	for (unsigned i = 0; i < 256; i++) {
		unsigned v = (i * 97) % 256;

		if (v % 3 != 2)
			pfns[kept++] = 100 + v;
	}
	n = virtio_balloon_runs(pfns, kept, runs);
	ck_assert_uint_eq(n, 86); /* {0,1} {3,4} ... {255} */
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(runs[i].pfn, 100 + 3 * i);
		ck_assert_uint_eq(runs[i].count, i == n - 1 ? 1 : 2);
	}
}
END_TEST

START_TEST(bl_features_and_config)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1, .stats_interval = 1};
	struct virtio_balloon_info in;
	unsigned before;

	start(&cfg, F_STATS | F_REPORTING, 4);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_DEVICE_ID), 5);
	vtest_wr(&bl.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES) &
				  0x3f,
			  F_STATS | F_REPORTING);
	ck_assert_int_ge(virtio_balloon_timer_fd(&bl), 0);

	before = vtest_irq_raised();
	ck_assert_int_eq(virtio_balloon_set_target(&bl, 192 * 4096), 0);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG), 192);
	ck_assert_uint_gt(vtest_irq_raised(), before);
	ck_assert_int_eq(virtio_balloon_set_target(&bl, 2 * VTEST_RAM_SIZE),
			 -ERANGE);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG), 192);
	/* The driver writes actual; it cannot write num_pages. */
	vtest_wr(&bl.mmio, VIRTIO_MMIO_REG_CONFIG + 4, 100);
	vtest_wr(&bl.mmio, VIRTIO_MMIO_REG_CONFIG, 7);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG + 4), 100);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG), 192);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.target_bytes, 192 * 4096);
	ck_assert_uint_eq(in.actual_bytes, 100 * 4096);
	ck_assert_int_eq(in.driver_ok, 1);
}
END_TEST

static uint32_t queue_num_max(unsigned qi)
{
	vtest_wr(&bl.mmio, VIRTIO_MMIO_REG_QUEUE_SEL, qi);
	return vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_QUEUE_NUM_MAX);
}

/* The driver numbers only the queues it uses: with reporting but no
 * stats, reporting is queue 2 and queue 3 does not exist, so it reads
 * QueueNumMax 0 (a driver probing for it must see no queue). */
START_TEST(bl_queue_num_max_follows_features)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1, .stats_interval = 1};

	start(&cfg, F_REPORTING, 3);
	ck_assert_uint_eq(queue_num_max(0), VIRTIO_BALLOON_QUEUE_SIZE);
	ck_assert_uint_eq(queue_num_max(1), VIRTIO_BALLOON_QUEUE_SIZE);
	ck_assert_uint_eq(queue_num_max(2), VIRTIO_BALLOON_QUEUE_SIZE);
	ck_assert_uint_eq(queue_num_max(3), 0);
	virtio_balloon_close(&bl);

	start(&cfg, 0, 2);
	ck_assert_uint_eq(queue_num_max(1), VIRTIO_BALLOON_QUEUE_SIZE);
	ck_assert_uint_eq(queue_num_max(2), 0);
	ck_assert_uint_eq(queue_num_max(3), 0);
	virtio_balloon_close(&bl);

	start(&cfg, F_STATS | F_REPORTING, 4);
	ck_assert_uint_eq(queue_num_max(3), VIRTIO_BALLOON_QUEUE_SIZE);
}
END_TEST

/* Inflate: pages out of order, coalesced into runs; the contents are
 * gone (zero) afterwards, the neighbours are not. */
START_TEST(bl_inflate_coalesce)
{
	struct virtio_balloon_cfg cfg = {0};
	uint32_t pfns[] = {0x40003, 0x40001, 0x40002, 0x40010, 0x40000};
	uint32_t *buf = vtest_gpa(VTEST_DATA);
	struct virtio_balloon_info in;

	extra_region(REGION_PAGES_BASE);
	start(&cfg, 0, 2);
	memset(extra_hva(0), 0xab, 0x20000);
	for (unsigned i = 0; i < 5; i++)
		buf[i] = htole32(pfns[i]);
	vtest_desc(0, 0, VTEST_DATA, sizeof(pfns), 0, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 1);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.inflated_bytes, 5 * 4096);
	ck_assert_uint_eq(in.c.discards, 2); /* 0x40000-3 and 0x40010 */
	ck_assert_uint_eq(in.c.returned[VIRTIO_BALLOON_PS_4K], 5 * 4096);
	ck_assert_uint_eq(in.c.returned_bytes, 5 * 4096);
	ck_assert_uint_eq(extra_hva(0)[0], 0);
	ck_assert_uint_eq(extra_hva(0x3fff)[0], 0);
	ck_assert_uint_eq(extra_hva(0x4000)[0], 0xab);
	ck_assert_uint_eq(extra_hva(0x10000)[0], 0);
	ck_assert_uint_eq(extra_hva(0x11000)[0], 0xab);

	/* A PFN outside RAM is ignored; the device keeps working. */
	buf[0] = htole32(0x30000);
	vtest_desc(0, 1, VTEST_DATA, 4, 0, 0);
	vtest_avail(0, 1);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 2);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.bad_ranges, 1);
	ck_assert_uint_eq(in.c.returned_bytes, 5 * 4096);
	ck_assert_int_eq(virtio_mmio_live(&bl.mmio), 1);

	/* Deflate only counts. */
	vtest_desc(1, 0, VTEST_DATA, 8, 0, 0);
	vtest_avail(1, 0);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(1), 1);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.deflated_bytes, 2 * 4096);
}
END_TEST

/* Without stats the reporting queue is index 2. */
START_TEST(bl_report_base)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1};
	struct virtio_balloon_info in;

	extra_region(REGION_PAGES_BASE);
	start(&cfg, F_REPORTING, 3);
	memset(extra_hva(0), 0xcd, 2 * MiB);
	vtest_desc(2, 0, EXTRA_GPA, (uint32_t)MiB,
		   VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(2, 1, EXTRA_GPA + MiB + 4096, 8192, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(2, 0);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(2), 1);
	ck_assert_uint_eq(vtest_used_len(2, 0), 0);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.reports, 2);
	ck_assert_uint_eq(in.c.reported_bytes, MiB + 8192);
	ck_assert_uint_eq(in.c.returned[VIRTIO_BALLOON_PS_4K], MiB + 8192);
	ck_assert_uint_eq(in.c.unfreed_reports, 0);
	ck_assert_uint_eq(extra_hva(MiB - 1)[0], 0);
	ck_assert_uint_eq(extra_hva(MiB)[0], 0xcd);
	ck_assert_uint_eq(extra_hva(MiB + 4096)[0], 0);
	ck_assert_uint_eq(extra_hva(MiB + 3 * 4096)[0], 0xcd);
}
END_TEST

/* On hugetlb only whole 2M pages go back: a 2M report frees one page of
 * the pool, a 1M report frees nothing and is counted. */
START_TEST(bl_report_hugetlb)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1, .stats_interval = 1};
	struct virtio_balloon_info in;
	long free0, free1;

	if (harness_hugepages(HUGE_FREE_KB, 2))
		HARNESS_SKIP("needs 2 free 2M hugepages (echo 8 > "
			     "/proc/sys/vm/nr_hugepages as root)");
	extra_region(REGION_PAGES_HUGE);
	start(&cfg, F_STATS | F_REPORTING, 4);
	memset(extra_hva(0), 0xee, EXTRA_SIZE); /* both pages allocated */
	free0 = harness_hugepages_free(HUGE_FREE_KB);
	vtest_desc(3, 0, EXTRA_GPA, (uint32_t)(2 * MiB),
		   VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(3, 1, EXTRA_GPA + 2 * MiB, (uint32_t)MiB, VIRTQ_DESC_F_WRITE,
		   0);
	vtest_avail(3, 0);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(3), 1);
	free1 = harness_hugepages_free(HUGE_FREE_KB);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.reports, 2);
	ck_assert_uint_eq(in.c.reported_bytes, 3 * MiB);
	ck_assert_uint_eq(in.c.returned[VIRTIO_BALLOON_PS_2M], 2 * MiB);
	ck_assert_uint_eq(in.c.returned[VIRTIO_BALLOON_PS_4K], 0);
	ck_assert_uint_eq(in.c.returned_bytes, 2 * MiB);
	ck_assert_uint_eq(in.c.unfreed_reports, 1);
	ck_assert_uint_eq(in.c.unfreed_bytes, MiB);
	ck_assert_int_eq(free1, free0 + 1);
	/* The second page is untouched; the first comes back zero. */
	ck_assert_uint_eq(extra_hva(2 * MiB)[0], 0xee);
	ck_assert_uint_eq(extra_hva(2 * MiB + MiB)[0], 0xee);
	ck_assert_uint_eq(extra_hva(0)[0], 0);
	ck_assert_uint_eq(extra_hva(2 * MiB - 1)[0], 0);

	/* Inflating 4K pages of a huge page frees nothing; a whole
	 * contiguous huge page does. */
	ck_assert_int_eq(
		virtio_balloon_discard(&bl, EXTRA_GPA + 2 * MiB, 4096, NULL),
		0);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.returned_bytes, 2 * MiB);
}
END_TEST

/*
 * One report chain on a region of each policy: A is 4K at +4K, B is the
 * 2M-aligned 2M at +2M. Only whole pages of the backing go back: 4K
 * granules for base and thp, 2M pages for huge, nothing for huge1g.
 */
static void report_policy(enum region_pages pages, uint64_t size,
			  uint64_t want_a, enum virtio_balloon_psize bucket_a,
			  uint64_t want_b, enum virtio_balloon_psize bucket_b)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1};
	struct virtio_balloon_info in;
	uint64_t unfreed = (want_a == 0) + (want_b == 0);

	extra_region_size(pages, size);
	start(&cfg, F_REPORTING, 3);
	memset(extra_hva(0), 0x5a, 4 * MiB);
	vtest_desc(2, 0, EXTRA_GPA + 4096, 4096,
		   VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(2, 1, EXTRA_GPA + 2 * MiB, (uint32_t)(2 * MiB),
		   VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(2, 0);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(2), 1);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.reports, 2);
	ck_assert_uint_eq(in.c.reported_bytes, 2 * MiB + 4096);
	ck_assert_uint_eq(in.c.returned_bytes, want_a + want_b);
	ck_assert_uint_eq(in.c.returned[bucket_a],
			  want_a + (bucket_b == bucket_a ? want_b : 0));
	ck_assert_uint_eq(in.c.returned[bucket_b],
			  want_b + (bucket_b == bucket_a ? want_a : 0));
	ck_assert_uint_eq(in.c.unfreed_reports, unfreed);
	ck_assert_uint_eq(in.c.unfreed_bytes, 2 * MiB + 4096 - want_a - want_b);
	/* What was freed reads zero; what was kept kept its data. */
	ck_assert_uint_eq(extra_hva(4096)[0], want_a ? 0 : 0x5a);
	ck_assert_uint_eq(extra_hva(2 * MiB)[0], want_b ? 0 : 0x5a);
	ck_assert_uint_eq(extra_hva(0)[0], 0x5a);
	ck_assert_uint_eq(extra_hva(8192)[0], 0x5a);
}

START_TEST(bl_align_base)
{
	report_policy(REGION_PAGES_BASE, EXTRA_SIZE, 4096, VIRTIO_BALLOON_PS_4K,
		      2 * MiB, VIRTIO_BALLOON_PS_4K);
}
END_TEST

START_TEST(bl_align_thp)
{
	/* The 4K piece splits a huge page; the aligned 2M is a whole one. */
	report_policy(REGION_PAGES_THP, EXTRA_SIZE, 4096, VIRTIO_BALLOON_PS_4K,
		      2 * MiB, VIRTIO_BALLOON_PS_2M);
}
END_TEST

START_TEST(bl_align_huge)
{
	if (harness_hugepages(HUGE_FREE_KB, 2))
		HARNESS_SKIP("needs 2 free 2M hugepages (echo 8 > "
			     "/proc/sys/vm/nr_hugepages as root)");
	report_policy(REGION_PAGES_HUGE, EXTRA_SIZE, 0, VIRTIO_BALLOON_PS_2M,
		      2 * MiB, VIRTIO_BALLOON_PS_2M);
}
END_TEST

START_TEST(bl_align_huge1g)
{
	if (harness_hugepages(1048576, 1))
		HARNESS_SKIP(
			"needs a free 1G hugepage (echo 1 > /sys/kernel/mm/"
			"hugepages/hugepages-1048576kB/nr_hugepages)");
	report_policy(REGION_PAGES_HUGE1G, 1ULL << 30, 0, VIRTIO_BALLOON_PS_1G,
		      0, VIRTIO_BALLOON_PS_1G);
}
END_TEST

/*
 * Reports discard by the guest address the chain carries. A second
 * region aliases the first one's host memory under another guest address
 * and a 2M discard granule: a report there must be handled by that
 * region's rules (the 4K piece stays, the whole 2M goes, counted as 2M).
 * Translating the host pointer back would land in the base-page region
 * and free both.
 */
START_TEST(bl_report_by_gpa)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1};
	struct virtio_balloon_info in;
	const uint64_t alias_gpa = EXTRA_GPA + 0x10000000ULL;
	struct region alias;

	extra_region(REGION_PAGES_BASE);
	alias = gm->regions[1];
	alias.gpa = alias_gpa;
	alias.fd = -1;
	alias.page_size = 2 * MiB;
	alias.pages = REGION_PAGES_THP;
	alias.discard_granule = 2 * MiB;
	ck_assert_int_eq(guest_mem_add(gm, &alias), 0);
	ck_assert_uint_eq(gm->nr, 3);
	start(&cfg, F_REPORTING, 3);
	memset(extra_hva(0), 0x5a, 4 * MiB);
	vtest_desc(2, 0, alias_gpa + 4096, 4096,
		   VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(2, 1, alias_gpa + 2 * MiB, (uint32_t)(2 * MiB),
		   VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(2, 0);
	virtio_mmio_process(&bl.mmio);
	gm->nr = 2; /* the alias owns nothing: teardown unmaps regions[1] */
	ck_assert_uint_eq(vtest_used_idx(2), 1);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.c.reports, 2);
	ck_assert_uint_eq(in.c.returned_bytes, 2 * MiB);
	ck_assert_uint_eq(in.c.returned[VIRTIO_BALLOON_PS_2M], 2 * MiB);
	ck_assert_uint_eq(in.c.returned[VIRTIO_BALLOON_PS_4K], 0);
	ck_assert_uint_eq(in.c.unfreed_reports, 1);
	ck_assert_uint_eq(extra_hva(4096)[0], 0x5a);
	ck_assert_uint_eq(extra_hva(2 * MiB)[0], 0);
}
END_TEST

/* Stats: the buffer is held until the timer, then given back. */
START_TEST(bl_stats)
{
	struct virtio_balloon_cfg cfg = {.stats_interval = 1};
	struct virtio_balloon_info in;
	uint8_t *p = vtest_gpa(VTEST_DATA);
	uint16_t tag;
	uint64_t val;

	start(&cfg, F_STATS, 3);
	tag = htole16(VIRTIO_BALLOON_S_MEMFREE);
	val = htole64(123456789);
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
	tag = htole16(VIRTIO_BALLOON_S_MEMTOT);
	val = htole64(987654321);
	memcpy(p + 10, &tag, 2);
	memcpy(p + 12, &val, 8);
	tag = htole16(200); /* unknown tag: skipped */
	memcpy(p + 20, &tag, 2);
	vtest_desc(2, 0, VTEST_DATA, 30, 0, 0);
	vtest_avail(2, 0);
	virtio_mmio_process(&bl.mmio);
	ck_assert_uint_eq(vtest_used_idx(2), 0); /* held */
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.stats_updates, 1);
	ck_assert_uint_eq(in.stats[VIRTIO_BALLOON_S_MEMFREE], 123456789);
	ck_assert_uint_eq(in.stats[VIRTIO_BALLOON_S_MEMTOT], 987654321);
	ck_assert_uint_eq(in.stats_valid,
			  (1U << VIRTIO_BALLOON_S_MEMFREE) |
				  (1U << VIRTIO_BALLOON_S_MEMTOT));
	virtio_balloon_timer(&bl);
	ck_assert_uint_eq(vtest_used_idx(2), 1);
	ck_assert_uint_eq(vtest_used_id(2, 0), 0);
	/* Nothing held: a second tick does nothing. */
	virtio_balloon_timer(&bl);
	ck_assert_uint_eq(vtest_used_idx(2), 1);
	ck_assert_str_eq(virtio_balloon_stat_name(VIRTIO_BALLOON_S_AVAIL),
			 "available-memory");
	ck_assert_ptr_null(virtio_balloon_stat_name(VIRTIO_BALLOON_S_NR));
}
END_TEST

Suite *virtio_balloon_suite(void);
Suite *virtio_balloon_suite(void)
{
	Suite *s = suite_create("virtio_balloon");
	TCase *pure = tcase_create("parse");
	TCase *dev = tcase_create("device");

	tcase_add_test(pure, bl_runs);
	tcase_add_test(pure, bl_runs_big);
	tcase_add_checked_fixture(dev, setup, teardown);
	tcase_add_test(dev, bl_features_and_config);
	tcase_add_test(dev, bl_queue_num_max_follows_features);
	tcase_add_test(dev, bl_inflate_coalesce);
	tcase_add_test(dev, bl_report_base);
	tcase_add_test(dev, bl_report_hugetlb);
	tcase_add_test(dev, bl_align_base);
	tcase_add_test(dev, bl_align_thp);
	tcase_add_test(dev, bl_align_huge);
	tcase_add_test(dev, bl_align_huge1g);
	tcase_add_test(dev, bl_report_by_gpa);
	tcase_add_test(dev, bl_stats);
	suite_add_tcase(s, pure);
	suite_add_tcase(s, dev);
	return s;
}
