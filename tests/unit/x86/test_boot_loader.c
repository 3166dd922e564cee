#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/bzimage.h"
#include "arch/layout.h"
#include "arch/x86/loader.h"
#include "arch/x86/mptable.h"
#include "arch/x86/params.h"
#include "arch/x86/regs.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define MiB	(1ULL << 20)
#define KPA	0x1000000ULL /* vmlinux load address */
#define ELF_LEN 0x300
#define BZ_PM	4096
#define BZ_LEN	(2 * 512 + BZ_PM)

/* One PT_LOAD of 0x100 bytes (+ 4 MiB bss) at 16 MiB, optional PVH note. */
static void build_elf(uint8_t *img, int pvh)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	uint32_t note[3] = {4, 4, 18}, entry = (uint32_t)KPA + 0x80;

	memset(img, 0, ELF_LEN);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = KPA;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
			     .p_offset = 0x200,
			     .p_vaddr = 0xffffffff81000000ULL,
			     .p_paddr = KPA,
			     .p_filesz = 0x100,
			     .p_memsz = 4 * MiB};
	ph[1] = (Elf64_Phdr){.p_type = pvh ? PT_NOTE : PT_NULL,
			     .p_offset = 0x100,
			     .p_filesz = 20,
			     .p_align = 4};
	memcpy(img + 0x100, note, 12);
	memcpy(img + 0x10c, "Xen", 4);
	memcpy(img + 0x110, &entry, 4);
	memset(img + 0x200, 0x90, 0x100);
}

static void build_bz(uint8_t *img)
{
	struct setup_header h;

	memset(img, 0, BZ_LEN);
	memset(&h, 0, sizeof(h));
	h.setup_sects = 1;
	h.syssize = BZ_PM / 16;
	h.boot_flag = 0xaa55;
	h.jump = (uint16_t)(0xeb | (0x1f1 + sizeof(h) - 0x202) << 8);
	h.header = BZIMAGE_MAGIC;
	h.version = 0x020f;
	h.loadflags = LOADED_HIGH;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = 255;
	h.initrd_addr_max = 0x7fffffff;
	h.pref_address = 0x1000000;
	h.init_size = 0x1000000;
	memcpy(img + BZIMAGE_HDR_OFFSET, &h, sizeof(h));
	memset(img + 1024, 0xcc, BZ_PM);
}

START_TEST(loader_vmlinux_pvh)
{
	const uint64_t ram_size = 128 * MiB;
	uint8_t img[ELF_LEN], initrd[5000], *ram = harness_ram_map(ram_size);
	struct params_pvh_start_info si;
	struct guest_mem gm;
	struct boot_info bi;
	struct kvm_sregs s;
	struct kvm_regs r;
	char err[256] = "";

	build_elf(img, 1);
	memset(initrd, 0x42, sizeof(initrd));
	harness_gm_one(&gm, ram, ram_size);
	ck_assert_int_eq(boot_load(&gm, img, sizeof(img), initrd,
				   sizeof(initrd), "console=ttyS0", 2, &bi, err,
				   sizeof(err)),
			 0);
	ck_assert_int_eq(bi.format, BOOT_FORMAT_VMLINUX);
	ck_assert_int_eq(bi.mode, BOOT_ENTRY_PVH32);
	ck_assert_uint_eq(bi.entry, KPA + 0x80);
	ck_assert_uint_eq(bi.params_addr, LAYOUT_PVH_INFO_ADDR);
	ck_assert_uint_eq(bi.kernel_end, KPA + 4 * MiB);
	ck_assert_uint_eq(bi.initrd_size, sizeof(initrd));
	ck_assert_uint_eq(bi.initrd_addr,
			  (ram_size - sizeof(initrd)) & ~0xfffULL);
	ck_assert_uint_eq(ram[bi.initrd_addr], 0x42);
	ck_assert_uint_eq(ram[KPA], 0x90);
	ck_assert_str_eq((char *)ram + LAYOUT_CMDLINE_ADDR, "console=ttyS0");
	memcpy(&si, ram + LAYOUT_PVH_INFO_ADDR, sizeof(si));
	ck_assert_uint_eq(si.magic, PARAMS_PVH_MAGIC);
	ck_assert_uint_eq(si.nr_modules, 1);
	ck_assert_mem_eq(ram + LAYOUT_EBDA_START, "_MP_", 4);
	/* 32-bit code segment in the GDT. */
	ck_assert_uint_eq(ram[LAYOUT_GDT_ADDR + 8 + 6], 0xcf);

	memset(&s, 0, sizeof(s));
	s.cr0 = 0x60000010;
	boot_setup_regs(&bi, &s, &r);
	ck_assert_uint_eq(r.rip, KPA + 0x80);
	ck_assert_uint_eq(r.rbx, LAYOUT_PVH_INFO_ADDR);
	ck_assert_uint_eq(s.cr0, 0x11);
	ck_assert_uint_eq(s.efer, 0);
	munmap(ram, ram_size);
}
END_TEST

START_TEST(loader_vmlinux_64)
{
	uint8_t img[ELF_LEN], *ram = harness_ram_map(64 * MiB);
	struct boot_params bp;
	struct guest_mem gm;
	struct boot_info bi;
	struct kvm_sregs s;
	struct kvm_regs r;

	build_elf(img, 0);
	harness_gm_one(&gm, ram, 64 * MiB);
	ck_assert_int_eq(boot_load(&gm, img, sizeof(img), NULL, 0, NULL, 1, &bi,
				   NULL, 0),
			 0);
	ck_assert_int_eq(bi.mode, BOOT_ENTRY_64);
	ck_assert_uint_eq(bi.entry, KPA);
	ck_assert_uint_eq(bi.params_addr, LAYOUT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(bi.initrd_addr, 0);
	memcpy(&bp, ram + LAYOUT_ZERO_PAGE_ADDR, sizeof(bp));
	ck_assert_uint_eq(bp.hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE_ADDR);
	ck_assert_uint_eq(bp.e820_entries, 3);
	/* Page tables and a 64-bit code segment. */
	ck_assert_uint_eq(ram[LAYOUT_PML4_ADDR], 0x03);
	ck_assert_uint_eq(ram[LAYOUT_GDT_ADDR + 8 + 6], 0xaf);

	memset(&s, 0, sizeof(s));
	boot_setup_regs(&bi, &s, &r);
	ck_assert_uint_eq(r.rip, KPA);
	ck_assert_uint_eq(r.rsi, LAYOUT_ZERO_PAGE_ADDR);
	ck_assert_uint_eq(s.efer, 0x500);
	ck_assert_uint_eq(s.cr3, LAYOUT_PML4_ADDR);
	munmap(ram, 64 * MiB);
}
END_TEST

START_TEST(loader_bzimage)
{
	uint8_t img[BZ_LEN], initrd[4096], *ram = harness_ram_map(256 * MiB);
	struct boot_params bp;
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";

	build_bz(img);
	memset(initrd, 0x17, sizeof(initrd));
	harness_gm_one(&gm, ram, 256 * MiB);
	ck_assert_int_eq(boot_load(&gm, img, sizeof(img), initrd,
				   sizeof(initrd), "quiet", 4, &bi, err,
				   sizeof(err)),
			 0);
	ck_assert_int_eq(bi.format, BOOT_FORMAT_BZIMAGE);
	ck_assert_int_eq(bi.mode, BOOT_ENTRY_64);
	ck_assert_uint_eq(bi.entry, 0x100200);
	ck_assert_uint_eq(bi.kernel_end, 0x2000000);
	ck_assert_uint_eq(ram[0x100000], 0xcc);
	memcpy(&bp, ram + LAYOUT_ZERO_PAGE_ADDR, sizeof(bp));
	ck_assert_uint_eq(bp.hdr.version, 0x020f);
	ck_assert_uint_eq(bp.hdr.setup_sects, 1);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, bi.initrd_addr);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, sizeof(initrd));
	ck_assert_uint_eq(bi.initrd_addr, 256 * MiB - 4096);
	ck_assert_str_eq(boot_format_name(bi.format), "bzImage");
	ck_assert_str_eq(boot_entry_name(bi.mode), "64-bit");
	munmap(ram, 256 * MiB);
}
END_TEST

static void expect_err(const void *k, size_t klen, size_t ilen,
		       const char *cmdline, unsigned ncpus, uint64_t ram_size,
		       int want, const char *prefix)
{
	uint8_t *ram = harness_ram_map(ram_size), *initrd = NULL;
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";

	if (ilen)
		initrd = harness_ram_map(ilen);
	harness_gm_one(&gm, ram, ram_size);
	ck_assert_int_eq(boot_load(&gm, k, klen, initrd, ilen, cmdline, ncpus,
				   &bi, err, sizeof(err)),
			 want);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)),
		      "reason '%s' does not start with '%s'", err, prefix);
	ck_assert_ptr_null(strchr(err, '\n'));
	munmap(ram, ram_size);
	if (ilen)
		munmap(initrd, ilen);
}

START_TEST(loader_errors)
{
	uint8_t elf[ELF_LEN], bz[BZ_LEN], junk[512];
	char longline[300];

	build_elf(elf, 1);
	build_bz(bz);
	memset(junk, 'A', sizeof(junk));
	expect_err(junk, sizeof(junk), 0, "", 1, 64 * MiB, -ENOEXEC,
		   "not a kernel: neither ELF vmlinux nor bzImage");
	expect_err(junk, 0, 0, "", 1, 64 * MiB, -ENOEXEC, "not a kernel");
	expect_err(elf, 100, 0, "", 1, 64 * MiB, -ENOEXEC, "truncated ELF");
	/* Kernel at 16 MiB + 4 MiB in 8 MiB of RAM. */
	expect_err(elf, sizeof(elf), 0, "", 1, 8 * MiB, -ENOMEM,
		   "kernel does not fit in RAM");
	expect_err(bz, sizeof(bz), 0, "", 1, 16 * MiB, -ENOMEM,
		   "kernel does not fit in RAM");
	/* 64 MiB RAM, kernel to 20 MiB: 50 MiB of initrd does not fit. */
	expect_err(elf, sizeof(elf), 50 * MiB, "", 1, 64 * MiB, -ENOMEM,
		   "initrd (50 MiB) does not fit:");
	/* The bzImage says cmdline_size 255. */
	memset(longline, 'y', sizeof(longline));
	longline[256] = 0;
	expect_err(bz, sizeof(bz), 0, longline, 1, 64 * MiB, -E2BIG,
		   "kernel command line too long: 256 bytes, the limit is 255");
	expect_err(elf, sizeof(elf), 0, "", MPTABLE_MAX_CPUS + 1, 64 * MiB,
		   -E2BIG, "too many CPUs for the MP table: 65");
	expect_err(elf, sizeof(elf), 0, "", 0, 64 * MiB, -EINVAL, "no vCPUs");
	/* Less than 1 MiB of RAM: no room for the boot structures. */
	expect_err(elf, sizeof(elf), 0, "", 1, 512 * 1024, -EFAULT,
		   "guest RAM too small");
}
END_TEST

/* Random corruption of either image through the whole path, in little RAM:
 * an error or a success, never a crash. */
START_TEST(loader_mutations)
{
	const uint64_t ram_size = 40 * MiB;
	uint8_t elf[ELF_LEN], bz[BZ_LEN], *ram = harness_ram_map(ram_size);
	uint8_t initrd[8192];
	struct guest_mem gm;
	struct boot_info bi;
	unsigned seed = 3;

	memset(initrd, 1, sizeof(initrd));
	harness_gm_one(&gm, ram, ram_size);
	for (int iter = 0; iter < 4000; iter++) {
		uint8_t *img = iter & 1 ? bz : elf;
		size_t len = iter & 1 ? sizeof(bz) : sizeof(elf);
		unsigned span = iter & 1 ? 0x280 : 0x120;
		int r;

		build_elf(elf, iter & 2);
		build_bz(bz);
		for (int k = 0; k < 1 + iter % 3; k++)
			img[(unsigned)rand_r(&seed) % span] =
				(uint8_t)rand_r(&seed);
		r = boot_load(&gm, img, len, initrd, sizeof(initrd), "x",
			      1 + iter % 8, &bi, NULL, 0);
		ck_assert(r == 0 || r == -ENOEXEC || r == -ENOMEM);
		if (r == 0) {
			ck_assert_uint_lt(bi.entry, ram_size);
			ck_assert_uint_ge(bi.initrd_addr, bi.kernel_end);
		}
	}
	munmap(ram, ram_size);
}
END_TEST

/* The whole path over the microVM kernel the build script makes, when it
 * is there: vmlinux through PVH, bzImage through the 64-bit entry. */
START_TEST(loader_real_kernels)
{
	static const char *const names[] = {"vmlinux", "bzImage"};
	const uint64_t ram_size = 256 * MiB;
	const char *home = getenv("HOME") ? getenv("HOME") : "/root";
	uint8_t *ram = harness_ram_map(ram_size), initrd[65536];
	unsigned tried = 0;

	memset(initrd, 0x33, sizeof(initrd));
	for (unsigned n = 0; n < 2; n++) {
		char pattern[512], err[256] = "";
		glob_t g = {0};
		struct guest_mem gm;
		struct boot_info bi;
		uint8_t *buf;
		long len;
		FILE *f;

		snprintf(pattern, sizeof(pattern),
			 "%s/.cache/microvm/kernel-*/%s", home, names[n]);
		if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
			globfree(&g);
			continue;
		}
		f = fopen(g.gl_pathv[0], "rb");
		ck_assert_ptr_nonnull(f);
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = malloc((size_t)len);
		ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		memset(ram, 0, 2 * MiB);
		harness_gm_one(&gm, ram, ram_size);
		ck_assert_msg(boot_load(&gm, buf, (size_t)len, initrd,
					sizeof(initrd),
					"console=ttyS0 reboot=k panic=1", 2,
					&bi, err, sizeof(err)) == 0,
			      "%s: %s", g.gl_pathv[0], err);
		ck_assert_int_eq(bi.format,
				 n ? BOOT_FORMAT_BZIMAGE : BOOT_FORMAT_VMLINUX);
		ck_assert_int_eq(bi.mode, n ? BOOT_ENTRY_64 : BOOT_ENTRY_PVH32);
		ck_assert(bi.entry >= bi.kernel_start &&
			  bi.entry < bi.kernel_end);
		ck_assert_uint_ge(bi.initrd_addr, bi.kernel_end);
		ck_assert_uint_eq(ram[bi.initrd_addr], 0x33);
		ck_assert_mem_eq(ram + LAYOUT_EBDA_START, "_MP_", 4);
		tried++;
		free(buf);
		globfree(&g);
	}
	munmap(ram, ram_size);
	if (!tried)
		HARNESS_SKIP("no kernel under ~/.cache/microvm/kernel-*");
}
END_TEST

Suite *boot_loader_suite(void);
Suite *boot_loader_suite(void)
{
	Suite *s = suite_create("boot_loader");
	TCase *tc = tcase_create("loader");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, loader_vmlinux_pvh);
	tcase_add_test(tc, loader_vmlinux_64);
	tcase_add_test(tc, loader_bzimage);
	tcase_add_test(tc, loader_errors);
	tcase_add_test(tc, loader_mutations);
	tcase_add_test(tc, loader_real_kernels);
	suite_add_tcase(s, tc);
	return s;
}
