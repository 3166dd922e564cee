#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/layout.h"
#include "arch/x86/params.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void check_e820(const struct boot_e820_entry *e, uint64_t addr,
		       uint64_t size, uint32_t type)
{
	ck_assert_uint_eq(e->addr, addr);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->type, type);
}

START_TEST(params_e820_512m)
{
	struct boot_e820_entry tab[PARAMS_E820_MAX];
	struct guest_mem gm;

	harness_gm_one(&gm, NULL, 512 * MiB); /* e820 never touches RAM */
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX), 3);
	check_e820(&tab[0], 0, 0x9fc00, PARAMS_E820_RAM);
	check_e820(&tab[1], 0x9fc00, 0x100000 - 0x9fc00, PARAMS_E820_RESERVED);
	check_e820(&tab[2], 0x100000, 512 * MiB - 0x100000, PARAMS_E820_RAM);
	ck_assert_int_eq(params_e820_build(&gm, tab, 2), -E2BIG);
}
END_TEST

START_TEST(params_e820_two_regions)
{
	struct boot_e820_entry tab[PARAMS_E820_MAX];
	struct guest_mem gm;

	memset(&gm, 0, sizeof(gm));
	gm.nr = 2;
	gm.regions[0] = (struct region){.gpa = 0, .size = 3 * GiB};
	gm.regions[1] = (struct region){.gpa = 4 * GiB, .size = 2 * GiB};
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX), 4);
	check_e820(&tab[0], 0, 0x9fc00, PARAMS_E820_RAM);
	check_e820(&tab[1], 0x9fc00, 0x100000 - 0x9fc00, PARAMS_E820_RESERVED);
	check_e820(&tab[2], 0x100000, 3 * GiB - 0x100000, PARAMS_E820_RAM);
	check_e820(&tab[3], 4 * GiB, 2 * GiB, PARAMS_E820_RAM);
}
END_TEST

/* A hotplug region (virtio-mem) is not RAM at boot: no e820 entry. */
START_TEST(params_e820_hotplug_left_out)
{
	struct boot_e820_entry tab[PARAMS_E820_MAX];
	struct guest_mem gm;

	memset(&gm, 0, sizeof(gm));
	gm.nr = 3;
	gm.regions[0] = (struct region){.gpa = 0, .size = 3 * GiB};
	gm.regions[1] = (struct region){.gpa = 4 * GiB, .size = 2 * GiB};
	gm.regions[2] =
		(struct region){.gpa = 6 * GiB, .size = 4 * GiB, .hotplug = 1};
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX), 4);
	check_e820(&tab[2], 0x100000, 3 * GiB - 0x100000, PARAMS_E820_RAM);
	check_e820(&tab[3], 4 * GiB, 2 * GiB, PARAMS_E820_RAM);
	ck_assert_uint_eq(guest_mem_size(&gm), 5 * GiB);
	gm.regions[2].hotplug = 0;
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX), 4);
	check_e820(&tab[3], 4 * GiB, 6 * GiB, PARAMS_E820_RAM);
	ck_assert_uint_eq(guest_mem_size(&gm), 9 * GiB);
}
END_TEST

/* Adjacent regions (e.g. split by page policy) merge into one entry. */
START_TEST(params_e820_adjacent_merge)
{
	struct boot_e820_entry tab[PARAMS_E820_MAX];
	struct guest_mem gm;

	memset(&gm, 0, sizeof(gm));
	gm.nr = 3;
	gm.regions[0] = (struct region){.gpa = 0, .size = 2 * MiB};
	gm.regions[1] = (struct region){.gpa = 2 * MiB, .size = 126 * MiB};
	gm.regions[2] = (struct region){.gpa = 4 * GiB, .size = 1 * GiB};
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX), 4);
	check_e820(&tab[2], 0x100000, 127 * MiB, PARAMS_E820_RAM);
	check_e820(&tab[3], 4 * GiB, GiB, PARAMS_E820_RAM);
}
END_TEST

/* Memory zones: every region of every zone is RAM in the e820 map, an
 * alignment gap between zones stays a hole, the full region table fits. */
START_TEST(params_e820_zones)
{
	struct boot_e820_entry tab[PARAMS_E820_MAX];
	struct guest_mem gm;

	memset(&gm, 0, sizeof(gm));
	gm.nr = 4;
	gm.regions[0] = (struct region){.gpa = 0, .size = 12 * MiB + 4096};
	gm.regions[1] = (struct region){.gpa = GiB, .size = 2 * GiB};
	gm.regions[2] = (struct region){.gpa = 4 * GiB, .size = 2 * MiB};
	gm.regions[3] =
		(struct region){.gpa = 4 * GiB + 2 * MiB, .size = 6 * MiB};
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX), 5);
	check_e820(&tab[2], 0x100000, 11 * MiB + 4096, PARAMS_E820_RAM);
	check_e820(&tab[3], GiB, 2 * GiB, PARAMS_E820_RAM);
	check_e820(&tab[4], 4 * GiB, 8 * MiB, PARAMS_E820_RAM);

	/* GUEST_MEM_MAX_REGIONS separate regions all fit. */
	memset(&gm, 0, sizeof(gm));
	gm.nr = GUEST_MEM_MAX_REGIONS;
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		gm.regions[i] = (struct region){.gpa = 4 * GiB + 4 * i * MiB,
						.size = 2 * MiB};
	ck_assert_int_eq(params_e820_build(&gm, tab, PARAMS_E820_MAX),
			 1 + GUEST_MEM_MAX_REGIONS);
}
END_TEST

START_TEST(params_cmdline)
{
	uint8_t *ram = harness_ram_map(4 * MiB);
	char line[LAYOUT_CMDLINE_MAX + 8], err[256] = "";
	struct guest_mem gm;

	harness_gm_one(&gm, ram, 4 * MiB);
	ck_assert_int_eq(params_write_cmdline(&gm, "console=ttyS0 panic=1", 100,
					      err, sizeof(err)),
			 0);
	ck_assert_str_eq((char *)ram + LAYOUT_CMDLINE_ADDR,
			 "console=ttyS0 panic=1");
	ck_assert_int_eq(params_write_cmdline(&gm, NULL, 100, NULL, 0), 0);
	ck_assert_uint_eq(ram[LAYOUT_CMDLINE_ADDR], 0);

	memset(line, 'x', sizeof(line));
	line[100] = 0; /* exactly the kernel's limit */
	ck_assert_int_eq(params_write_cmdline(&gm, line, 100, NULL, 0), 0);
	line[100] = 'x';
	line[101] = 0;
	ck_assert_int_eq(params_write_cmdline(&gm, line, 100, err, sizeof(err)),
			 -E2BIG);
	ck_assert_msg(strstr(err, "command line too long: 101 bytes"), "%s",
		      err);
	/* The layout's slot bounds it even if the kernel allows more. */
	memset(line, 'x', sizeof(line));
	line[LAYOUT_CMDLINE_MAX - 1] = 0;
	ck_assert_int_eq(params_write_cmdline(&gm, line, 100000, NULL, 0), 0);
	line[LAYOUT_CMDLINE_MAX - 1] = 'x';
	line[LAYOUT_CMDLINE_MAX] = 0;
	ck_assert_int_eq(params_write_cmdline(&gm, line, 100000, NULL, 0),
			 -E2BIG);
	munmap(ram, 4 * MiB);
}
END_TEST

START_TEST(params_initrd_top)
{
	uint8_t *ram = harness_ram_map(128 * MiB), initrd[10000];
	struct guest_mem gm;
	uint64_t addr = 1;
	char err[256] = "";

	for (unsigned i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	harness_gm_one(&gm, ram, 128 * MiB);
	ck_assert_int_eq(params_place_initrd(&gm, initrd, sizeof(initrd),
					     32 * MiB, 0x7fffffff, &addr, err,
					     sizeof(err)),
			 0);
	/* Highest page-aligned start that still ends inside RAM. */
	ck_assert_uint_eq(addr, (128 * MiB - sizeof(initrd)) & ~0xfffULL);
	ck_assert_mem_eq(ram + addr, initrd, sizeof(initrd));

	/* initrd_addr_max below the top of RAM caps it. */
	ck_assert_int_eq(params_place_initrd(&gm, initrd, sizeof(initrd),
					     32 * MiB, 64 * MiB - 1, &addr,
					     NULL, 0),
			 0);
	ck_assert_uint_eq(addr, (64 * MiB - sizeof(initrd)) & ~0xfffULL);

	ck_assert_int_eq(params_place_initrd(&gm, NULL, 0, 32 * MiB, 0x7fffffff,
					     &addr, NULL, 0),
			 0);
	ck_assert_uint_eq(addr, 0);
	munmap(ram, 128 * MiB);
}
END_TEST

START_TEST(params_initrd_no_fit)
{
	const uint64_t ram_size = 64 * MiB, len = 40 * MiB;
	uint8_t *ram = harness_ram_map(ram_size),
		*initrd = harness_ram_map(len);
	struct guest_mem gm;
	uint64_t addr = 1;
	char err[256] = "";

	harness_gm_one(&gm, ram, ram_size);
	/* Kernel up to 32 MiB leaves 32 MiB: a 40 MiB initrd can't fit. */
	ck_assert_int_eq(params_place_initrd(&gm, initrd, len, 32 * MiB,
					     0x7fffffff, &addr, err,
					     sizeof(err)),
			 -ENOMEM);
	ck_assert_msg(!strncmp(err, "initrd (40 MiB) does not fit: 32 MiB", 36),
		      "%s", err);
	ck_assert_uint_eq(addr, 0);
	/* Bigger than RAM itself. */
	ck_assert_int_eq(params_place_initrd(&gm, initrd, len, 0, 16 * MiB,
					     &addr, err, sizeof(err)),
			 -ENOMEM);
	/* Exactly fits: kernel ends at 24 MiB. */
	ck_assert_int_eq(params_place_initrd(&gm, initrd, len, 24 * MiB,
					     0x7fffffff, &addr, NULL, 0),
			 0);
	ck_assert_uint_eq(addr, 24 * MiB);
	munmap(ram, ram_size);
	munmap(initrd, len);
}
END_TEST

START_TEST(params_zero_page_vmlinux)
{
	uint8_t *ram = harness_ram_map(512 * MiB);
	struct params_boot pb = {.cmdline_addr = LAYOUT_CMDLINE_ADDR,
				 .initrd_addr = 0x1f000000,
				 .initrd_size = 0x123456};
	struct boot_params bp;
	struct guest_mem gm;

	harness_gm_one(&gm, ram, 512 * MiB);
	memset(ram + LAYOUT_ZERO_PAGE_ADDR, 0xee, 4096); /* stale */
	ck_assert_int_eq(params_write_zero_page(&gm, NULL, &pb, NULL, 0), 0);
	memcpy(&bp, ram + LAYOUT_ZERO_PAGE_ADDR, sizeof(bp));
	ck_assert_uint_eq(bp.hdr.boot_flag, 0xaa55);
	ck_assert_mem_eq(ram + LAYOUT_ZERO_PAGE_ADDR + 0x202, "HdrS", 4);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.version, PARAMS_VMLINUX_VERSION);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE_ADDR);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 0x1f000000);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 0x123456);
	ck_assert_uint_eq(bp.hdr.loadflags & LOADED_HIGH, LOADED_HIGH);
	ck_assert_uint_eq(bp.ext_ramdisk_image, 0);
	ck_assert_uint_eq(bp.sentinel, 0);
	/* e820 at its ABI offset 0x2d0, count at 0x1e8. */
	ck_assert_uint_eq(ram[LAYOUT_ZERO_PAGE_ADDR + 0x1e8], 3);
	ck_assert_uint_eq(bp.e820_entries, 3);
	check_e820(&bp.e820_table[0], 0, 0x9fc00, PARAMS_E820_RAM);
	check_e820(&bp.e820_table[1], 0x9fc00, 0x60400, PARAMS_E820_RESERVED);
	check_e820(&bp.e820_table[2], MiB, 511 * MiB, PARAMS_E820_RAM);
	ck_assert_uint_eq(bp.e820_table[3].size, 0);
	munmap(ram, 512 * MiB);
}
END_TEST

START_TEST(params_zero_page_bzimage)
{
	uint8_t *ram = harness_ram_map(64 * MiB);
	struct params_boot pb = {.cmdline_addr = LAYOUT_CMDLINE_ADDR};
	struct setup_header h;
	struct boot_params bp;
	struct guest_mem gm;

	memset(&h, 0, sizeof(h));
	h.setup_sects = 27;
	h.boot_flag = 0xaa55;
	h.header = 0x53726448;
	h.version = 0x020f;
	h.type_of_loader = 0;
	h.loadflags = LOADED_HIGH;
	h.init_size = 0x1234000;
	h.xloadflags = XLF_KERNEL_64;
	harness_gm_one(&gm, ram, 64 * MiB);
	ck_assert_int_eq(params_write_zero_page(&gm, &h, &pb, NULL, 0), 0);
	memcpy(&bp, ram + LAYOUT_ZERO_PAGE_ADDR, sizeof(bp));
	ck_assert_uint_eq(bp.hdr.setup_sects, 27);
	ck_assert_uint_eq(bp.hdr.init_size, 0x1234000);
	ck_assert_uint_eq(bp.hdr.xloadflags, XLF_KERNEL_64);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE_ADDR);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 0);
	ck_assert_uint_eq(bp.e820_entries, 3);
	munmap(ram, 64 * MiB);
}
END_TEST

START_TEST(params_pvh)
{
	uint8_t *ram = harness_ram_map(512 * MiB);
	struct params_boot pb = {.cmdline_addr = LAYOUT_CMDLINE_ADDR,
				 .initrd_addr = 0x1f000000,
				 .initrd_size = 0x4000};
	struct params_pvh_start_info si;
	struct params_pvh_modlist_entry mod;
	struct params_pvh_memmap_entry map[4];
	struct guest_mem gm;

	harness_gm_one(&gm, ram, 512 * MiB);
	ck_assert_int_eq(params_write_pvh(&gm, &pb, NULL, 0), 0);
	memcpy(&si, ram + LAYOUT_PVH_INFO_ADDR, sizeof(si));
	ck_assert_uint_eq(si.magic, 0x336ec578);
	ck_assert_uint_eq(si.version, 1);
	ck_assert_uint_eq(si.cmdline_paddr, LAYOUT_CMDLINE_ADDR);
	ck_assert_uint_eq(si.nr_modules, 1);
	ck_assert_uint_eq(si.rsdp_paddr, 0);
	ck_assert_uint_eq(si.memmap_entries, 3);
	memcpy(&mod, ram + si.modlist_paddr, sizeof(mod));
	ck_assert_uint_eq(mod.paddr, 0x1f000000);
	ck_assert_uint_eq(mod.size, 0x4000);
	memcpy(map, ram + si.memmap_paddr, sizeof(map));
	ck_assert_uint_eq(map[0].addr, 0);
	ck_assert_uint_eq(map[0].size, 0x9fc00);
	ck_assert_uint_eq(map[0].type, PARAMS_E820_RAM);
	ck_assert_uint_eq(map[1].type, PARAMS_E820_RESERVED);
	ck_assert_uint_eq(map[2].addr, MiB);
	ck_assert_uint_eq(map[2].size, 511 * MiB);
	ck_assert_uint_eq(map[2].reserved, 0);
	/* The structures stay clear of the zero page. */
	ck_assert_uint_le(si.memmap_paddr + 3 * sizeof(map[0]),
			  LAYOUT_ZERO_PAGE_ADDR);

	pb.initrd_size = 0;
	pb.initrd_addr = 0;
	ck_assert_int_eq(params_write_pvh(&gm, &pb, NULL, 0), 0);
	memcpy(&si, ram + LAYOUT_PVH_INFO_ADDR, sizeof(si));
	ck_assert_uint_eq(si.nr_modules, 0);
	ck_assert_uint_eq(si.modlist_paddr, 0);
	munmap(ram, 512 * MiB);
}
END_TEST

START_TEST(params_no_low_ram)
{
	uint8_t *ram = harness_ram_map(0x10000);
	struct params_boot pb = {.cmdline_addr = LAYOUT_CMDLINE_ADDR};
	struct guest_mem gm;
	char err[256] = "";

	harness_gm_one(&gm, ram, 0x10000); /* 64 KiB: no room at 0x20000 */
	ck_assert_int_eq(params_write_cmdline(&gm, "x", 100, err, sizeof(err)),
			 -EFAULT);
	ck_assert_msg(strstr(err, "too small"), "%s", err);
	gm.regions[0].size = 0x7000; /* zero page would be outside */
	ck_assert_int_eq(params_write_zero_page(&gm, NULL, &pb, NULL, 0),
			 -EFAULT);
	munmap(ram, 0x10000);
}
END_TEST

Suite *boot_params_suite(void);
Suite *boot_params_suite(void)
{
	Suite *s = suite_create("boot_params");
	TCase *tc = tcase_create("params");

	tcase_add_test(tc, params_e820_512m);
	tcase_add_test(tc, params_e820_two_regions);
	tcase_add_test(tc, params_e820_hotplug_left_out);
	tcase_add_test(tc, params_e820_adjacent_merge);
	tcase_add_test(tc, params_e820_zones);
	tcase_add_test(tc, params_cmdline);
	tcase_add_test(tc, params_initrd_top);
	tcase_add_test(tc, params_initrd_no_fit);
	tcase_add_test(tc, params_zero_page_vmlinux);
	tcase_add_test(tc, params_zero_page_bzimage);
	tcase_add_test(tc, params_pvh);
	tcase_add_test(tc, params_no_low_ram);
	suite_add_tcase(s, tc);
	return s;
}
