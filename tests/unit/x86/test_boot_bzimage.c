#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/bzimage.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define RAM	(64ULL << 20)
#define PM_LEN	4096
#define MAX_IMG (5 * 512 + PM_LEN)

/* A minimal bzImage: boot sector + (setup_sects) setup sectors carrying a
 * protocol 2.15 header, then PM_LEN bytes of "kernel". Returns its length. */
static size_t build_bz(uint8_t *img, uint8_t setup_sects)
{
	size_t setup = (size_t)((setup_sects ? setup_sects : 4) + 1) * 512;
	struct setup_header h;

	memset(img, 0, MAX_IMG);
	memset(&h, 0, sizeof(h));
	h.setup_sects = setup_sects;
	h.syssize = PM_LEN / 16;
	h.boot_flag = 0xaa55;
	/* Short jump over the header: it ends at 0x202 + this byte. */
	h.jump = (uint16_t)(0xeb | (0x1f1 + sizeof(h) - 0x202) << 8);
	h.header = BZIMAGE_MAGIC;
	h.version = 0x020f;
	h.loadflags = LOADED_HIGH;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = 2047;
	h.initrd_addr_max = 0x7fffffff;
	h.pref_address = 0x1000000;
	h.init_size = 0x800000;
	memcpy(img + BZIMAGE_HDR_OFFSET, &h, sizeof(h));
	for (unsigned i = 0; i < PM_LEN; i++)
		img[setup + i] = (uint8_t)(i * 7 + 3);
	return setup + PM_LEN;
}

static struct setup_header *hdr(uint8_t *img)
{
	return (struct setup_header *)(img + BZIMAGE_HDR_OFFSET);
}

START_TEST(bz_load_good)
{
	uint8_t img[MAX_IMG], *ram = harness_ram_map(RAM);
	size_t len = build_bz(img, 1);
	struct bzimage_info bi;
	struct guest_mem gm;
	char err[256] = "";

	harness_gm_one(&gm, ram, RAM);
	ck_assert(bzimage_probe(img, len));
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, err, sizeof(err)), 0);
	ck_assert_uint_eq(bi.load_addr, 0x100000);
	ck_assert_uint_eq(bi.load_size, PM_LEN);
	ck_assert_uint_eq(bi.entry64, 0x100200);
	/* Relocatable: rounds 1 MiB up to 2 MiB, then floors at pref. */
	ck_assert_uint_eq(bi.kernel_end, 0x1000000 + 0x800000);
	ck_assert_mem_eq(ram + 0x100000, img + 1024, PM_LEN);
	ck_assert_uint_eq(bi.hdr.version, 0x020f);
	ck_assert_uint_eq(bi.hdr.cmdline_size, 2047);
	ck_assert_uint_eq(bi.hdr.setup_sects, 1);
	ck_assert_uint_eq(bi.hdr.header, BZIMAGE_MAGIC);
	munmap(ram, RAM);
}
END_TEST

START_TEST(bz_setup_sects_zero)
{
	uint8_t img[MAX_IMG], *ram = harness_ram_map(RAM);
	size_t len = build_bz(img, 0);
	struct bzimage_info bi;
	struct guest_mem gm;

	ck_assert_uint_eq(len, 5 * 512 + PM_LEN);
	harness_gm_one(&gm, ram, RAM);
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, NULL, 0), 0);
	ck_assert_uint_eq(bi.load_size, PM_LEN);
	ck_assert_mem_eq(ram + 0x100000, img + 5 * 512, PM_LEN);
	munmap(ram, RAM);
}
END_TEST

START_TEST(bz_kernel_end_variants)
{
	uint8_t img[MAX_IMG], *ram = harness_ram_map(RAM);
	size_t len = build_bz(img, 1);
	struct bzimage_info bi;
	struct guest_mem gm;

	harness_gm_one(&gm, ram, RAM);
	/* Relocatable, 16 MiB alignment, low pref: aligned address wins. */
	hdr(img)->kernel_alignment = 0x1000000;
	hdr(img)->pref_address = 0x100000;
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, NULL, 0), 0);
	ck_assert_uint_eq(bi.kernel_end, 0x1000000 + 0x800000);
	/* Not relocatable: decompresses at pref_address. */
	hdr(img)->relocatable_kernel = 0;
	hdr(img)->pref_address = 0x2000000;
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, NULL, 0), 0);
	ck_assert_uint_eq(bi.kernel_end, 0x2000000 + 0x800000);
	munmap(ram, RAM);
}
END_TEST

static void expect_fail(uint8_t *img, size_t len, uint64_t ram_size, int want,
			const char *needle)
{
	uint8_t *ram = harness_ram_map(ram_size);
	struct bzimage_info bi;
	struct guest_mem gm;
	char err[256] = "";

	harness_gm_one(&gm, ram, ram_size);
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, err, sizeof(err)),
			 want);
	ck_assert_msg(strstr(err, needle), "reason '%s' lacks '%s'", err,
		      needle);
	ck_assert_uint_eq(ram[0x100000], 0); /* nothing copied */
	munmap(ram, ram_size);
}

START_TEST(bz_old_protocol)
{
	uint8_t img[MAX_IMG];
	size_t len = build_bz(img, 1);

	hdr(img)->version = 0x0205;
	expect_fail(img, len, RAM, -ENOEXEC, "too old");
	/* 2.11 has no xloadflags, hence no 64-bit entry. */
	hdr(img)->version = 0x020b;
	expect_fail(img, len, RAM, -ENOEXEC, "64-bit entry");
}
END_TEST

START_TEST(bz_no_kernel64)
{
	uint8_t img[MAX_IMG];
	size_t len = build_bz(img, 1);

	hdr(img)->xloadflags = 0;
	expect_fail(img, len, RAM, -ENOEXEC, "XLF_KERNEL_64");
	len = build_bz(img, 1);
	hdr(img)->loadflags = 0;
	expect_fail(img, len, RAM, -ENOEXEC, "loaded high");
	/* A header cut short by its jump: xloadflags lies past its end. */
	len = build_bz(img, 1);
	img[0x201] = 0x20;
	expect_fail(img, len, RAM, -ENOEXEC, "64-bit entry");
}
END_TEST

START_TEST(bz_corrupt)
{
	uint8_t img[MAX_IMG];
	size_t len = build_bz(img, 1);

	hdr(img)->boot_flag = 0;
	expect_fail(img, len, RAM, -ENOEXEC, "boot flag");
	len = build_bz(img, 1);
	hdr(img)->kernel_alignment = 0x3000;
	expect_fail(img, len, RAM, -ENOEXEC, "kernel_alignment");
	len = build_bz(img, 1);
	hdr(img)->init_size = 0;
	expect_fail(img, len, RAM, -ENOEXEC, "init_size");
	len = build_bz(img, 1);
	hdr(img)->relocatable_kernel = 0;
	hdr(img)->pref_address = UINT64_MAX - 10;
	expect_fail(img, len, RAM, -ENOEXEC, "pref_address");
}
END_TEST

START_TEST(bz_truncated)
{
	uint8_t img[MAX_IMG];
	size_t len = build_bz(img, 1);

	/* syssize says PM_LEN, file has less. */
	expect_fail(img, len - 16, RAM, -ENOEXEC, "truncated bzImage");
	/* Setup sectors alone overrun the file. */
	hdr(img)->setup_sects = 200;
	expect_fail(img, len, RAM, -ENOEXEC, "truncated bzImage");
	ck_assert(!bzimage_probe(img, 0x205));
	expect_fail(img, 0x205, RAM, -ENOEXEC, "HdrS");
}
END_TEST

START_TEST(bz_not_in_ram)
{
	uint8_t img[MAX_IMG];
	size_t len = build_bz(img, 1);

	/* Decompression needs up to 24 MiB; give 16 MiB. */
	expect_fail(img, len, 16ULL << 20, -ENOMEM,
		    "kernel does not fit in RAM");
}
END_TEST

START_TEST(bz_every_truncation)
{
	uint8_t img[MAX_IMG], *ram = harness_ram_map(RAM);
	size_t len = build_bz(img, 1);
	struct bzimage_info bi;
	struct guest_mem gm;

	harness_gm_one(&gm, ram, RAM);
	for (size_t l = 0; l < len; l++) {
		uint8_t *copy = malloc(l ? l : 1);

		memcpy(copy, img, l);
		ck_assert_int_lt(bzimage_load(&gm, copy, l, &bi, NULL, 0), 0);
		free(copy);
	}
	munmap(ram, RAM);
}
END_TEST

START_TEST(bz_mutations)
{
	uint8_t img[MAX_IMG], *ram = harness_ram_map(RAM);
	struct bzimage_info bi;
	struct guest_mem gm;
	unsigned seed = 7;

	harness_gm_one(&gm, ram, RAM);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = build_bz(img, 1);
		int r;

		for (int k = 0; k < 1 + iter % 4; k++) {
			unsigned pos = 0x1f1 + (unsigned)rand_r(&seed) % 0x80;

			img[pos] = (uint8_t)rand_r(&seed);
		}
		r = bzimage_load(&gm, img, len, &bi, NULL, 0);
		ck_assert(r == 0 || r == -ENOEXEC || r == -ENOMEM);
		if (r == 0)
			ck_assert(bi.kernel_end <= RAM && bi.load_size <= len);
	}
	munmap(ram, RAM);
}
END_TEST

/* Read a whole file into a malloc'd buffer; NULL if it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0) {
		rewind(f);
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Real bzImages when present: the microVM kernel the build script makes and
 * Debian's amd64 cloud kernel fetched for the nested L1 (not the arm64
 * one beside it). */
START_TEST(bz_real_images)
{
	const uint64_t ram_size = 512ULL << 20;
	const char *env = getenv("MICROVM_BZIMAGE");
	const char *home = getenv("HOME") ? getenv("HOME") : "/root";
	char pattern[512];
	glob_t g = {0};
	unsigned tried = 0;
	uint8_t *ram = harness_ram_map(ram_size);
	struct guest_mem gm;

	harness_gm_one(&gm, ram, ram_size);
	snprintf(pattern, sizeof(pattern), "%s/.cache/microvm/kernel-*/bzImage",
		 home);
	glob(pattern, 0, NULL, &g);
	snprintf(pattern, sizeof(pattern),
		 "%s/.cache/microvm/l1-*-amd64-*/vmlinuz", home);
	glob(pattern, GLOB_APPEND, NULL, &g);
	for (size_t i = 0; i <= g.gl_pathc; i++) {
		const char *path = i < g.gl_pathc ? g.gl_pathv[i] : env;
		struct bzimage_info bi;
		char err[256] = "";
		size_t len = 0, setup;
		uint8_t *buf;

		if (!path || !(buf = slurp(path, &len)))
			continue;
		tried++;
		ck_assert_msg(bzimage_probe(buf, len), "%s", path);
		ck_assert_msg(
			bzimage_load(&gm, buf, len, &bi, err, sizeof(err)) == 0,
			"%s: %s", path, err);
		setup = (size_t)((buf[0x1f1] ? buf[0x1f1] : 4) + 1) * 512;
		ck_assert_uint_eq(bi.entry64, 0x100200);
		ck_assert_uint_ge(bi.hdr.version, 0x020c);
		ck_assert_uint_eq(bi.load_size, len - setup);
		ck_assert_mem_eq(ram + 0x100000, buf + setup, 4096);
		ck_assert_uint_gt(bi.kernel_end, 0x100000 + bi.load_size);
		ck_assert_uint_le(bi.kernel_end, ram_size);
		free(buf);
	}
	globfree(&g);
	munmap(ram, ram_size);
	if (!tried)
		HARNESS_SKIP("no bzImage under ~/.cache/microvm "
			     "(set MICROVM_BZIMAGE)");
}
END_TEST

Suite *boot_bzimage_suite(void);
Suite *boot_bzimage_suite(void)
{
	Suite *s = suite_create("boot_bzimage");
	TCase *tc = tcase_create("bzimage");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, bz_load_good);
	tcase_add_test(tc, bz_setup_sects_zero);
	tcase_add_test(tc, bz_kernel_end_variants);
	tcase_add_test(tc, bz_old_protocol);
	tcase_add_test(tc, bz_no_kernel64);
	tcase_add_test(tc, bz_corrupt);
	tcase_add_test(tc, bz_truncated);
	tcase_add_test(tc, bz_not_in_ram);
	tcase_add_test(tc, bz_every_truncation);
	tcase_add_test(tc, bz_mutations);
	tcase_add_test(tc, bz_real_images);
	suite_add_tcase(s, tc);
	return s;
}
