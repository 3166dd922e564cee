#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness/harness.h"
#include "vmm/kvm_stats.h"

/* A stats file image laid out the way the kernel writes it: header, id
 * string, descriptors (each followed by name_size bytes of name), data. */
#define NAME_SIZE 48
#define ID_OFF	  sizeof(struct kvm_stats_header)
#define DESC_OFF  (ID_OFF + 64)
#define DESC_SIZE (sizeof(struct kvm_stats_desc) + NAME_SIZE)

struct fake_stat {
	const char *name;
	uint32_t flags;
	uint16_t size;
	uint64_t values[4];
};

static const struct fake_stat fake[] = {
	{"pages_4k", KVM_STATS_TYPE_INSTANT, 1, {1234}},
	{"pages_2m", KVM_STATS_TYPE_INSTANT, 1, {56}},
	{"max_mmu_rmap_size", KVM_STATS_TYPE_PEAK, 1, {9}},
	{"halt_wait_hist",
	 KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS,
	 4,
	 {1, 2, 3, 4}},
	{"pf_fixed", KVM_STATS_TYPE_CUMULATIVE, 1, {0xfedcba9876543210ULL}},
};
#define NFAKE (sizeof(fake) / sizeof(fake[0]))

/* Build the image into a malloc'd buffer; data values are stored in the
 * reverse order of the descriptors, so offsets really get used. */
static unsigned char *fake_image(size_t *len)
{
	struct kvm_stats_header h = {
		.name_size = NAME_SIZE,
		.num_desc = NFAKE,
		.id_offset = ID_OFF,
		.desc_offset = DESC_OFF,
		.data_offset = DESC_OFF + DESC_SIZE * NFAKE,
	};
	size_t data_len = 0, off = 0;
	unsigned char *buf;

	for (size_t i = 0; i < NFAKE; i++)
		data_len += fake[i].size * sizeof(uint64_t);
	*len = h.data_offset + data_len;
	buf = calloc(1, *len);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, &h, sizeof(h));
	strcpy((char *)buf + ID_OFF, "kvm-4242");
	for (size_t i = NFAKE; i-- > 0;) {
		struct kvm_stats_desc d = {
			.flags = fake[i].flags,
			.exponent =
				fake[i].flags & KVM_STATS_UNIT_SECONDS ? -9 : 0,
			.size = fake[i].size,
			.offset = (uint32_t)off,
		};
		unsigned char *dp = buf + DESC_OFF + DESC_SIZE * i;

		memcpy(dp, &d, sizeof(d));
		strcpy((char *)dp + sizeof(d), fake[i].name);
		memcpy(buf + h.data_offset + off, fake[i].values,
		       fake[i].size * sizeof(uint64_t));
		off += fake[i].size * sizeof(uint64_t);
	}
	return buf;
}

START_TEST(kvm_stats_parses_kernel_layout)
{
	struct kvm_stats s;
	size_t len;
	unsigned char *img = fake_image(&len);
	uint64_t v;

	ck_assert_int_eq(kvm_stats_parse(img, len, &s, NULL), 0);
	ck_assert_uint_eq(s.n, NFAKE);
	ck_assert_int_eq(kvm_stats_get(&s, "pages_4k", &v), 0);
	ck_assert_uint_eq(v, 1234);
	ck_assert_int_eq(kvm_stats_get(&s, "pages_2m", &v), 0);
	ck_assert_uint_eq(v, 56);
	ck_assert_int_eq(kvm_stats_get(&s, "pf_fixed", &v), 0);
	ck_assert_uint_eq(v, 0xfedcba9876543210ULL);
	/* A histogram reads as the sum of its buckets. */
	ck_assert_int_eq(kvm_stats_get(&s, "halt_wait_hist", &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_uint_eq(s.items[3].size, 4);
	ck_assert_int_eq(s.items[3].exponent, -9);
	ck_assert_uint_eq(s.items[2].flags & KVM_STATS_TYPE_MASK,
			  KVM_STATS_TYPE_PEAK);
	ck_assert_int_eq(kvm_stats_get(&s, "pages_1g", &v), -ENOENT);
	kvm_stats_free(&s);
	ck_assert_uint_eq(s.n, 0);
	free(img);
}
END_TEST

START_TEST(kvm_stats_short_image_says_what_it_needs)
{
	struct kvm_stats s;
	size_t len, need = 0;
	unsigned char *img = fake_image(&len);

	ck_assert_int_eq(kvm_stats_parse(img, 10, &s, &need), -ENODATA);
	ck_assert_uint_eq(need, sizeof(struct kvm_stats_header));
	ck_assert_int_eq(kvm_stats_parse(img, DESC_OFF + 3, &s, &need),
			 -ENODATA);
	ck_assert_uint_eq(need, DESC_OFF + DESC_SIZE * NFAKE);
	ck_assert_int_eq(kvm_stats_parse(img, len - 1, &s, &need), -ENODATA);
	ck_assert_uint_eq(need, len);
	ck_assert_ptr_null(s.items);
	ck_assert_uint_eq(s.n, 0);
	free(img);
}
END_TEST

START_TEST(kvm_stats_rejects_malformed_images)
{
	struct kvm_stats s;
	struct kvm_stats_header h;
	struct kvm_stats_desc d;
	size_t len;
	unsigned char *img = fake_image(&len);
	unsigned char *bad = malloc(len);

	ck_assert_ptr_nonnull(bad);
	/* A name filling name_size with no NUL. */
	memcpy(bad, img, len);
	memset(bad + DESC_OFF + sizeof(d), 'x', NAME_SIZE);
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -EINVAL);
	ck_assert_ptr_null(s.items);
	/* An empty name. */
	memcpy(bad, img, len);
	bad[DESC_OFF + sizeof(d)] = 0;
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -EINVAL);
	/* A zero-sized stat. */
	memcpy(bad, img, len);
	memcpy(&d, bad + DESC_OFF, sizeof(d));
	d.size = 0;
	memcpy(bad + DESC_OFF, &d, sizeof(d));
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -EINVAL);
	/* Header fields out of range. */
	memcpy(&h, img, sizeof(h));
	h.name_size = 0;
	memcpy(bad, img, len);
	memcpy(bad, &h, sizeof(h));
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -EINVAL);
	memcpy(&h, img, sizeof(h));
	h.num_desc = 1u << 30;
	memcpy(bad, &h, sizeof(h));
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -EINVAL);
	memcpy(&h, img, sizeof(h));
	h.desc_offset = 4; /* inside the header */
	memcpy(bad, &h, sizeof(h));
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -EINVAL);
	/* An offset far past the end asks for more than any read gives. */
	memcpy(bad, img, len);
	memcpy(&d, bad + DESC_OFF, sizeof(d));
	d.offset = 0xfffffff0u;
	memcpy(bad + DESC_OFF, &d, sizeof(d));
	ck_assert_int_eq(kvm_stats_parse(bad, len, &s, NULL), -ENODATA);
	free(bad);
	free(img);
}
END_TEST

START_TEST(kvm_stats_read_from_a_file)
{
	char path[] = "/tmp/microvm-kvm-stats.XXXXXX";
	struct kvm_stats s;
	size_t len;
	unsigned char *img = fake_image(&len);
	uint64_t v;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, img, len), (ssize_t)len);
	ck_assert_int_eq(kvm_stats_read(fd, &s), 0);
	ck_assert_int_eq(kvm_stats_get(&s, "pages_2m", &v), 0);
	ck_assert_uint_eq(v, 56);
	kvm_stats_free(&s);
	/* A file cut short of its data block is malformed, not parsed. */
	ck_assert_int_eq(ftruncate(fd, (off_t)len - 8), 0);
	ck_assert_int_eq(kvm_stats_read(fd, &s), -EINVAL);
	ck_assert_ptr_null(s.items);
	close(fd);
	free(img);
}
END_TEST

START_TEST(kvm_stats_merge_sums_counters_and_maxes_peaks)
{
	struct kvm_stats a, b, acc = {0};
	struct kvm_stat extra = {.name = "only_b", .size = 1, .value = 7};
	size_t len;
	unsigned char *img = fake_image(&len);
	uint64_t v;

	ck_assert_int_eq(kvm_stats_parse(img, len, &a, NULL), 0);
	ck_assert_int_eq(kvm_stats_parse(img, len, &b, NULL), 0);
	/* b: a smaller peak, a bigger counter, one stat a does not have. */
	b.items[2].value = 3;
	b.items[0].value = 1;
	ck_assert_int_eq(kvm_stats_merge(&acc, &a), 0);
	ck_assert_int_eq(kvm_stats_merge(&acc, &b), 0);
	ck_assert_int_eq(kvm_stats_merge(&acc, &(struct kvm_stats){&extra, 1}),
			 0);
	ck_assert_uint_eq(acc.n, NFAKE + 1);
	ck_assert_int_eq(kvm_stats_get(&acc, "pages_4k", &v), 0);
	ck_assert_uint_eq(v, 1235);
	ck_assert_int_eq(kvm_stats_get(&acc, "max_mmu_rmap_size", &v), 0);
	ck_assert_uint_eq(v, 9);
	ck_assert_int_eq(kvm_stats_get(&acc, "halt_wait_hist", &v), 0);
	ck_assert_uint_eq(v, 20);
	ck_assert_int_eq(kvm_stats_get(&acc, "only_b", &v), 0);
	ck_assert_uint_eq(v, 7);
	kvm_stats_free(&a);
	kvm_stats_free(&b);
	kvm_stats_free(&acc);
	free(img);
}
END_TEST

static struct kvm_stats_run sample_run(void)
{
	struct kvm_stats_run r = {
		.boot_fired = 1,
		.boot_wall_ns = 123456789,
		.boot_cpu_ns = 1500,
		.setup_known = 1,
		.setup_wall_ns = 7000000,
		.setup_cpu_ns = 6000000,
		.mem_bytes = 512ULL << 20,
		.cpus = 2,
		.minflt = 321,
		.majflt = 2,
		.vm_hwm_kib = 70000,
		.vm_rss_kib = 69000,
		.guest_known = 1,
		.guest_rss_kib = 66000,
		.guest_hugetlb_kib = 4096,
		.vcpu_err = -ENOTTY,
	};
	size_t len;
	unsigned char *img = fake_image(&len);

	ck_assert_int_eq(kvm_stats_parse(img, len, &r.vm, NULL), 0);
	free(img);
	return r;
}

START_TEST(kvm_stats_json_line)
{
	struct kvm_stats_run r = sample_run();
	char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	ck_assert_ptr_nonnull(f);
	kvm_stats_json(f, &r);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "{\"boot_wall_us\":123456.789,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"boot_cpu_us\":1.500,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"setup_wall_us\":7000.000,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"minflt\":321,\"majflt\":2,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"vmm_rss_kib\":3000,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"vmm_peak_kib\":4000,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"guest_hugetlb_kib\":4096,"));
	ck_assert_ptr_nonnull(
		strstr(buf, "\"kvm_vm\":{\"pages_4k\":1234,\"pages_2m\":56,"));
	/* Histograms are left out of the line. */
	ck_assert_ptr_null(strstr(buf, "halt_wait_hist"));
	ck_assert_ptr_nonnull(strstr(buf, "\"kvm_vcpu\":null,"
					  "\"kvm_vcpu_error\":\""));
	ck_assert_int_eq(buf[strlen(buf) - 1], '}');
	ck_assert_ptr_null(strchr(buf, '\n'));

	/* The setup peak (before the guest grew) wins when it is higher. */
	r.setup_peak_known = 1;
	r.setup_peak_kib = 17000;
	f = fmemopen(buf, sizeof(buf), "w");
	kvm_stats_json(f, &r);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"vmm_peak_kib\":17000,"));
	r.setup_peak_kib = 100;
	f = fmemopen(buf, sizeof(buf), "w");
	kvm_stats_json(f, &r);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"vmm_peak_kib\":4000,"));

	/* A guest that never fired the timer gives nulls, not zeros. */
	r.boot_fired = 0;
	r.guest_known = 0;
	f = fmemopen(buf, sizeof(buf), "w");
	kvm_stats_json(f, &r);
	fclose(f);
	ck_assert_ptr_nonnull(
		strstr(buf, "\"boot_wall_us\":null,\"boot_cpu_us\":null,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"vmm_peak_kib\":null"));
	kvm_stats_run_free(&r);
}
END_TEST

START_TEST(kvm_stats_write_is_atomic_and_reports_errors)
{
	char dir[] = "/tmp/microvm-kvm-stats-dir.XXXXXX";
	char path[128], line[4096], err[256];
	struct kvm_stats_run r = sample_run();
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run.json", dir);
	ck_assert_int_eq(kvm_stats_write(path, &r, err, sizeof(err)), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_ptr_nonnull(strstr(line, "\"pages_2m\":56"));
	ck_assert_int_eq(line[strlen(line) - 1], '\n');
	/* Only the final file is left behind: rmdir fails on any other. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);

	/* A missing directory: an error that names the path. */
	ck_assert_int_eq(kvm_stats_write(path, &r, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
	kvm_stats_run_free(&r);
}
END_TEST

Suite *kvm_stats_suite(void);
Suite *kvm_stats_suite(void)
{
	Suite *s = suite_create("kvm_stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, kvm_stats_parses_kernel_layout);
	tcase_add_test(tc, kvm_stats_short_image_says_what_it_needs);
	tcase_add_test(tc, kvm_stats_rejects_malformed_images);
	tcase_add_test(tc, kvm_stats_read_from_a_file);
	tcase_add_test(tc, kvm_stats_merge_sums_counters_and_maxes_peaks);
	tcase_add_test(tc, kvm_stats_json_line);
	tcase_add_test(tc, kvm_stats_write_is_atomic_and_reports_errors);
	suite_add_tcase(s, tc);
	return s;
}
