#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/elf.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define RAM	    (64ULL << 20)
#define SEG1_PA	    0x1000000ULL
#define SEG1_VA	    0xffffffff81000000ULL
#define SEG1_OFF    0x200
#define SEG1_SZ	    0x100
#define SEG2_PA	    0x1200000ULL
#define SEG2_OFF    0x300
#define SEG2_FILESZ 0x40
#define SEG2_MEMSZ  0x2000
#define NOTE_OFF    0x100
#define PVH_ENTRY   0x1000040ULL
#define IMG_LEN	    (SEG2_OFF + SEG2_FILESZ)

static Elf64_Phdr *phdr(uint8_t *img, unsigned i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr) +
			      i * sizeof(Elf64_Phdr));
}

/* A minimal vmlinux: two PT_LOADs (the second with bss) and a Xen PVH
 * note with a 64-bit descriptor, as Linux emits it. */
static void build_elf(uint8_t *img, int with_note)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	uint8_t *n = img + NOTE_OFF;
	uint32_t namesz = 4, descsz = 8, type = ELF_XEN_NOTE_PHYS32_ENTRY;
	uint64_t entry = PVH_ENTRY;

	memset(img, 0, IMG_LEN);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = SEG1_PA;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 3;

	*phdr(img, 0) = (Elf64_Phdr){.p_type = PT_LOAD,
				     .p_flags = PF_R | PF_X,
				     .p_offset = SEG1_OFF,
				     .p_vaddr = SEG1_VA,
				     .p_paddr = SEG1_PA,
				     .p_filesz = SEG1_SZ,
				     .p_memsz = SEG1_SZ,
				     .p_align = 0x200000};
	*phdr(img, 1) = (Elf64_Phdr){.p_type = PT_LOAD,
				     .p_flags = PF_R | PF_W,
				     .p_offset = SEG2_OFF,
				     .p_vaddr = SEG1_VA + 0x200000,
				     .p_paddr = SEG2_PA,
				     .p_filesz = SEG2_FILESZ,
				     .p_memsz = SEG2_MEMSZ,
				     .p_align = 0x200000};
	*phdr(img, 2) = (Elf64_Phdr){.p_type = with_note ? PT_NOTE : PT_NULL,
				     .p_offset = NOTE_OFF,
				     .p_filesz = 12 + 4 + 8,
				     .p_align = 4};
	memcpy(n, &namesz, 4);
	memcpy(n + 4, &descsz, 4);
	memcpy(n + 8, &type, 4);
	memcpy(n + 12, "Xen", 4);
	memcpy(n + 16, &entry, 8);
	for (unsigned i = 0; i < SEG1_SZ; i++)
		img[SEG1_OFF + i] = (uint8_t)(i + 1);
	for (unsigned i = 0; i < SEG2_FILESZ; i++)
		img[SEG2_OFF + i] = (uint8_t)(0x80 + i);
}

START_TEST(elf_load_good)
{
	uint8_t img[IMG_LEN], *ram = harness_ram_map(RAM);
	struct guest_mem gm;
	struct elf_image ei;
	char err[256] = "";

	build_elf(img, 1);
	harness_gm_one(&gm, ram, RAM);
	memset(ram + SEG2_PA, 0xaa, SEG2_MEMSZ + 16); /* stale bss */
	ck_assert(elf_probe(img, sizeof(img)));
	ck_assert_int_eq(elf_load(&gm, img, sizeof(img), &ei, err, sizeof(err)),
			 0);
	ck_assert(ei.has_pvh);
	ck_assert_uint_eq(ei.pvh_entry, PVH_ENTRY);
	ck_assert_uint_eq(ei.entry64, SEG1_PA);
	ck_assert_uint_eq(ei.load_start, SEG1_PA);
	ck_assert_uint_eq(ei.load_end, SEG2_PA + SEG2_MEMSZ);
	ck_assert_mem_eq(ram + SEG1_PA, img + SEG1_OFF, SEG1_SZ);
	ck_assert_mem_eq(ram + SEG2_PA, img + SEG2_OFF, SEG2_FILESZ);
	for (unsigned i = SEG2_FILESZ; i < SEG2_MEMSZ; i++)
		ck_assert_uint_eq(ram[SEG2_PA + i], 0);
	ck_assert_uint_eq(ram[SEG2_PA + SEG2_MEMSZ], 0xaa); /* past memsz */
	munmap(ram, RAM);
}
END_TEST

START_TEST(elf_note_32bit_desc)
{
	uint8_t img[IMG_LEN], *ram = harness_ram_map(RAM);
	uint32_t descsz = 4, entry = (uint32_t)SEG1_PA + 8;
	struct guest_mem gm;
	struct elf_image ei;

	build_elf(img, 1);
	memcpy(img + NOTE_OFF + 4, &descsz, 4);
	memcpy(img + NOTE_OFF + 16, &entry, 4);
	phdr(img, 2)->p_filesz = 12 + 4 + 4;
	harness_gm_one(&gm, ram, RAM);
	ck_assert_int_eq(elf_load(&gm, img, sizeof(img), &ei, NULL, 0), 0);
	ck_assert(ei.has_pvh);
	ck_assert_uint_eq(ei.pvh_entry, SEG1_PA + 8);
	munmap(ram, RAM);
}
END_TEST

START_TEST(elf_virtual_entry)
{
	uint8_t img[IMG_LEN], *ram = harness_ram_map(RAM);
	struct guest_mem gm;
	struct elf_image ei;

	build_elf(img, 0);
	((Elf64_Ehdr *)img)->e_entry = SEG1_VA + 0x10;
	harness_gm_one(&gm, ram, RAM);
	ck_assert_int_eq(elf_load(&gm, img, sizeof(img), &ei, NULL, 0), 0);
	ck_assert(!ei.has_pvh);
	ck_assert_uint_eq(ei.entry64, SEG1_PA + 0x10);
	munmap(ram, RAM);
}
END_TEST

START_TEST(elf_no_entry)
{
	uint8_t img[IMG_LEN], *ram = harness_ram_map(RAM);
	struct guest_mem gm;
	struct elf_image ei;
	char err[256] = "";

	build_elf(img, 0);
	((Elf64_Ehdr *)img)->e_entry = 0x12345;
	harness_gm_one(&gm, ram, RAM);
	ck_assert_int_eq(elf_load(&gm, img, sizeof(img), &ei, err, sizeof(err)),
			 -ENOEXEC);
	ck_assert_msg(strstr(err, "no usable entry"), "%s", err);
	munmap(ram, RAM);
}
END_TEST

/* Expect -ENOEXEC (or `want`) with `needle` in the reason, and guest RAM
 * left untouched. */
static void expect_fail(uint8_t *img, size_t len, int want, const char *needle)
{
	uint8_t *ram = harness_ram_map(RAM);
	struct guest_mem gm;
	struct elf_image ei;
	char err[256] = "";

	harness_gm_one(&gm, ram, RAM);
	ck_assert_int_eq(elf_load(&gm, img, len, &ei, err, sizeof(err)), want);
	ck_assert_msg(strstr(err, needle), "reason '%s' lacks '%s'", err,
		      needle);
	ck_assert_uint_eq(ram[SEG1_PA], 0);
	ck_assert_uint_eq(ram[SEG2_PA], 0);
	munmap(ram, RAM);
}

START_TEST(elf_truncated_header)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	expect_fail(img, 10, -ENOEXEC, "truncated ELF");
	expect_fail(img, sizeof(Elf64_Ehdr) - 1, -ENOEXEC, "truncated ELF");
	/* Header complete but program headers cut off. */
	expect_fail(img, sizeof(Elf64_Ehdr) + 60, -ENOEXEC, "truncated ELF");
	expect_fail(img, 3, -ENOEXEC, "not an ELF");
}
END_TEST

START_TEST(elf_phoff_past_end)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	((Elf64_Ehdr *)img)->e_phoff = IMG_LEN - 10;
	expect_fail(img, IMG_LEN, -ENOEXEC, "program headers");
	((Elf64_Ehdr *)img)->e_phoff = UINT64_MAX - 8; /* wraps */
	expect_fail(img, IMG_LEN, -ENOEXEC, "program headers");
}
END_TEST

START_TEST(elf_bad_ident)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	img[EI_CLASS] = ELFCLASS32;
	expect_fail(img, IMG_LEN, -ENOEXEC, "not 64-bit");
	build_elf(img, 1);
	((Elf64_Ehdr *)img)->e_machine = EM_AARCH64;
	expect_fail(img, IMG_LEN, -ENOEXEC, "not x86_64");
	build_elf(img, 1);
	((Elf64_Ehdr *)img)->e_type = ET_DYN;
	expect_fail(img, IMG_LEN, -ENOEXEC, "not an executable");
	build_elf(img, 1);
	((Elf64_Ehdr *)img)->e_phentsize = 40;
	expect_fail(img, IMG_LEN, -ENOEXEC, "program header size");
	build_elf(img, 1);
	((Elf64_Ehdr *)img)->e_phnum = 0;
	expect_fail(img, IMG_LEN, -ENOEXEC, "0 program headers");
}
END_TEST

START_TEST(elf_filesz_gt_memsz)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	phdr(img, 1)->p_memsz = SEG2_FILESZ - 1;
	expect_fail(img, IMG_LEN, -ENOEXEC, "file size");
	/* An empty segment with file bytes (found by fuzzing: it escaped
	 * the checks and fed the virtual entry translation). */
	build_elf(img, 0);
	phdr(img, 1)->p_memsz = 0;
	phdr(img, 1)->p_paddr = 0xab00000000ULL;
	((Elf64_Ehdr *)img)->e_entry = phdr(img, 1)->p_vaddr;
	expect_fail(img, IMG_LEN, -ENOEXEC, "memory size 0");
}
END_TEST

START_TEST(elf_segment_past_file)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	phdr(img, 1)->p_filesz = SEG2_FILESZ + 1;
	phdr(img, 1)->p_memsz = SEG2_MEMSZ;
	expect_fail(img, IMG_LEN, -ENOEXEC, "truncated ELF: segment 1");
	build_elf(img, 1);
	phdr(img, 0)->p_offset = UINT64_MAX - 4;
	expect_fail(img, IMG_LEN, -ENOEXEC, "truncated ELF: segment 0");
}
END_TEST

START_TEST(elf_paddr_overflow)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	phdr(img, 1)->p_paddr = UINT64_MAX - 0x100;
	expect_fail(img, IMG_LEN, -ENOEXEC, "overflows");
}
END_TEST

START_TEST(elf_segment_beyond_ram)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	phdr(img, 1)->p_paddr = RAM - 0x1000; /* memsz 0x2000 crosses the end */
	expect_fail(img, IMG_LEN, -ENOMEM, "kernel does not fit in RAM");
	build_elf(img, 1);
	phdr(img, 1)->p_paddr = 1ULL << 40;
	expect_fail(img, IMG_LEN, -ENOMEM, "kernel does not fit in RAM");
}
END_TEST

START_TEST(elf_segment_below_1m)
{
	uint8_t img[IMG_LEN];

	build_elf(img, 1);
	phdr(img, 1)->p_paddr = 0x7000;
	expect_fail(img, IMG_LEN, -ENOEXEC, "below 1 MiB");
}
END_TEST

START_TEST(elf_bad_note)
{
	uint8_t img[IMG_LEN];
	uint32_t big = 0xfffffff0;

	build_elf(img, 1);
	memcpy(img + NOTE_OFF + 4, &big, 4);
	expect_fail(img, IMG_LEN, -ENOEXEC, "note");
	build_elf(img, 1);
	phdr(img, 2)->p_filesz = IMG_LEN; /* note segment past the file */
	expect_fail(img, IMG_LEN, -ENOEXEC, "note segment");
	build_elf(img, 1);
	/* PVH entry outside any loaded segment. */
	memset(img + NOTE_OFF + 16, 0, 8);
	img[NOTE_OFF + 16] = 0x10;
	expect_fail(img, IMG_LEN, -ENOEXEC, "PVH entry");
}
END_TEST

/* Every truncation of a valid image fails cleanly (the last segment's data
 * ends the file), never crashes. */
START_TEST(elf_every_truncation)
{
	uint8_t img[IMG_LEN], *ram = harness_ram_map(RAM);
	struct guest_mem gm;
	struct elf_image ei;

	build_elf(img, 1);
	harness_gm_one(&gm, ram, RAM);
	for (size_t len = 0; len < IMG_LEN; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		/* A heap copy of exactly len bytes, so ASan/valgrind would
		 * catch an over-read. */
		memcpy(copy, img, len);
		ck_assert_int_lt(elf_load(&gm, copy, len, &ei, NULL, 0), 0);
		free(copy);
	}
	munmap(ram, RAM);
}
END_TEST

/* Random header corruption: must return 0 or a negative errno, and on
 * success the reported range lies in RAM. */
START_TEST(elf_mutations)
{
	uint8_t img[IMG_LEN], *ram = harness_ram_map(RAM);
	struct guest_mem gm;
	struct elf_image ei;
	unsigned seed = 1;

	harness_gm_one(&gm, ram, RAM);
	for (int iter = 0; iter < 20000; iter++) {
		int r;

		build_elf(img, 1);
		for (int k = 0; k < 1 + iter % 4; k++) {
			unsigned pos =
				(unsigned)rand_r(&seed) % (NOTE_OFF + 24);
			img[pos] = (uint8_t)rand_r(&seed);
		}
		r = elf_load(&gm, img, IMG_LEN, &ei, NULL, 0);
		ck_assert(r == 0 || r == -ENOEXEC || r == -ENOMEM);
		if (r == 0) {
			ck_assert(ei.load_end <= RAM);
			ck_assert(ei.load_start >= 0x100000);
		}
	}
	munmap(ram, RAM);
}
END_TEST

/* A real vmlinux, when one was built (scripts/build-guest-kernel). */
START_TEST(elf_real_vmlinux)
{
	const char *env = getenv("MICROVM_VMLINUX");
	char pattern[512];
	glob_t g = {0};
	const char *path = env;
	struct guest_mem gm;
	struct elf_image ei;
	char err[256] = "";
	uint8_t *ram, *buf;
	long len;
	FILE *f;

	if (!path) {
		snprintf(pattern, sizeof(pattern),
			 "%s/.cache/microvm/kernel-*/vmlinux",
			 getenv("HOME") ? getenv("HOME") : "/root");
		if (glob(pattern, 0, NULL, &g) || !g.gl_pathc)
			HARNESS_SKIP("no vmlinux under ~/.cache/microvm "
				     "(set MICROVM_VMLINUX)");
		path = g.gl_pathv[0];
	}
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	ram = harness_ram_map(512ULL << 20);
	harness_gm_one(&gm, ram, 512ULL << 20);
	ck_assert_msg(elf_load(&gm, buf, (size_t)len, &ei, err, sizeof(err)) ==
			      0,
		      "%s: %s", path, err);
	ck_assert_msg(ei.has_pvh, "%s has no PVH note", path);
	ck_assert(ei.pvh_entry >= ei.load_start && ei.pvh_entry < ei.load_end);
	ck_assert(ei.entry64 >= ei.load_start && ei.entry64 < ei.load_end);
	ck_assert_uint_ge(ei.load_start, 0x100000);
	munmap(ram, 512ULL << 20);
	free(buf);
	globfree(&g);
}
END_TEST

Suite *boot_elf_suite(void);
Suite *boot_elf_suite(void)
{
	Suite *s = suite_create("boot_elf");
	TCase *tc = tcase_create("elf");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, elf_load_good);
	tcase_add_test(tc, elf_note_32bit_desc);
	tcase_add_test(tc, elf_virtual_entry);
	tcase_add_test(tc, elf_no_entry);
	tcase_add_test(tc, elf_truncated_header);
	tcase_add_test(tc, elf_phoff_past_end);
	tcase_add_test(tc, elf_bad_ident);
	tcase_add_test(tc, elf_filesz_gt_memsz);
	tcase_add_test(tc, elf_segment_past_file);
	tcase_add_test(tc, elf_paddr_overflow);
	tcase_add_test(tc, elf_segment_beyond_ram);
	tcase_add_test(tc, elf_segment_below_1m);
	tcase_add_test(tc, elf_bad_note);
	tcase_add_test(tc, elf_every_truncation);
	tcase_add_test(tc, elf_mutations);
	tcase_add_test(tc, elf_real_vmlinux);
	suite_add_tcase(s, tc);
	return s;
}
