#include "arch/x86/params.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "lib/err.h"

#define PARAMS_PAGE		4096ULL
#define PARAMS_LOADER_UNDEFINED 0xff /* type_of_loader: "none of the above" */

static uint64_t params_mib_up(uint64_t v)
{
	return (v + LAYOUT_MiB - 1) / LAYOUT_MiB;
}

/* Append [addr, end) of type, merging with a touching previous entry of the
 * same type. Returns the new count or -E2BIG. */
static int params_e820_add(struct boot_e820_entry *tab, unsigned max, int n,
			   uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr)
		return n;
	if (n > 0 && tab[n - 1].type == type &&
	    tab[n - 1].addr + tab[n - 1].size == addr) {
		tab[n - 1].size += end - addr;
		return n;
	}
	if ((unsigned)n >= max)
		return -E2BIG;
	tab[n].addr = addr;
	tab[n].size = end - addr;
	tab[n].type = type;
	return n + 1;
}

int params_e820_build(const struct guest_mem *gm, struct boot_e820_entry *tab,
		      unsigned max)
{
	int n = 0;

	/* Regions are sorted, so three sweeps give a sorted map. A hotplug
	 * region is not RAM at boot: the guest's virtio-mem driver adds
	 * what it plugs. */
	for (unsigned i = 0; i < gm->nr && n >= 0; i++) {
		uint64_t a = gm->regions[i].gpa;
		uint64_t b = a + gm->regions[i].size;

		if (gm->regions[i].hotplug)
			continue;
		if (a < LAYOUT_EBDA_START)
			n = params_e820_add(
				tab, max, n, a,
				b < LAYOUT_EBDA_START ? b : LAYOUT_EBDA_START,
				PARAMS_E820_RAM);
	}
	if (n >= 0)
		n = params_e820_add(tab, max, n, LAYOUT_EBDA_START,
				    LAYOUT_HIMEM_START, PARAMS_E820_RESERVED);
	for (unsigned i = 0; i < gm->nr && n >= 0; i++) {
		uint64_t a = gm->regions[i].gpa;
		uint64_t b = a + gm->regions[i].size;

		if (gm->regions[i].hotplug)
			continue;
		if (b > LAYOUT_HIMEM_START)
			n = params_e820_add(
				tab, max, n,
				a > LAYOUT_HIMEM_START ? a : LAYOUT_HIMEM_START,
				b, PARAMS_E820_RAM);
	}
	return n;
}

int params_write_cmdline(const struct guest_mem *gm, const char *cmdline,
			 uint32_t max_len, char *err, size_t errlen)
{
	size_t len;

	if (!cmdline)
		cmdline = "";
	len = strlen(cmdline);
	if (len > max_len || len + 1 > LAYOUT_CMDLINE_MAX)
		return err_set(
			err, errlen, -E2BIG,
			"kernel command line too long: %zu bytes, the "
			"limit is %llu: shorten --cmdline (the count "
			"includes the virtio_mmio.device= and root= "
			"parameters microvm appends)",
			len,
			(unsigned long long)(max_len < LAYOUT_CMDLINE_MAX - 1
						     ? max_len
						     : LAYOUT_CMDLINE_MAX - 1));
	if (guest_mem_write(gm, LAYOUT_CMDLINE_ADDR, cmdline, len + 1))
		return err_set(err, errlen, -EFAULT,
			       "guest RAM too small: no room for the command "
			       "line at 0x%llx",
			       (unsigned long long)LAYOUT_CMDLINE_ADDR);
	return 0;
}

int params_place_initrd_src(const struct guest_mem *gm,
			    const struct boot_src *initrd, uint64_t kernel_end,
			    uint64_t addr_max, uint64_t *addr, char *err,
			    size_t errlen)
{
	uint64_t len = initrd ? initrd->len : 0;
	const struct region *low;
	uint64_t top, floor, start;
	void *dst;
	int ret;

	*addr = 0;
	if (!len)
		return 0;
	low = guest_mem_find(gm, LAYOUT_HIMEM_START, 1);
	if (!low)
		return err_set(err, errlen, -ENOMEM,
			       "initrd (%llu MiB) does not fit: no RAM at "
			       "1 MiB",
			       (unsigned long long)params_mib_up(len));
	top = low->gpa + low->size;
	if (addr_max < UINT64_MAX && top > addr_max + 1)
		top = addr_max + 1;
	floor = (kernel_end + PARAMS_PAGE - 1) & ~(PARAMS_PAGE - 1);
	if (floor < LAYOUT_HIMEM_START)
		floor = LAYOUT_HIMEM_START;
	if (len > top || ((top - len) & ~(PARAMS_PAGE - 1)) < floor)
		return err_set(
			err, errlen, -ENOMEM,
			"initrd (%llu MiB) does not fit: %llu MiB free "
			"between the kernel end 0x%llx and 0x%llx; "
			"give the VM more memory",
			(unsigned long long)params_mib_up(len),
			(unsigned long long)(top > floor ? (top - floor) /
								   LAYOUT_MiB
							 : 0),
			(unsigned long long)floor, (unsigned long long)top);
	start = (top - len) & ~(PARAMS_PAGE - 1);
	dst = guest_mem_ptr(gm, start, len);
	if (!dst)
		return err_set(err, errlen, -EFAULT,
			       "initrd area [0x%llx, +%llu) is not RAM",
			       (unsigned long long)start,
			       (unsigned long long)len);
	/* Straight from the file into guest memory: no copy on our heap. */
	ret = boot_src_read(initrd, 0, dst, len);
	if (ret)
		return err_set(err, errlen, ret, "reading the initrd");
	*addr = start;
	return 0;
}

int params_place_initrd(const struct guest_mem *gm, const void *initrd,
			size_t len, uint64_t kernel_end, uint64_t addr_max,
			uint64_t *addr, char *err, size_t errlen)
{
	struct boot_src src = boot_src_mem(initrd, len);

	return params_place_initrd_src(gm, &src, kernel_end, addr_max, addr,
				       err, errlen);
}

int params_write_zero_page(const struct guest_mem *gm,
			   const struct setup_header *hdr,
			   const struct params_boot *pb, char *err,
			   size_t errlen)
{
	struct boot_params bp;
	int n;

	_Static_assert(sizeof(struct boot_params) == 4096, "zero page size");
	memset(&bp, 0, sizeof(bp));
	if (hdr) {
		bp.hdr = *hdr;
	} else {
		/* A vmlinux has no header: claim what its 64-bit entry reads. */
		bp.hdr.boot_flag = 0xaa55;
		bp.hdr.header = 0x53726448; /* "HdrS" */
		bp.hdr.version = PARAMS_VMLINUX_VERSION;
		bp.hdr.loadflags = LOADED_HIGH;
		bp.hdr.kernel_alignment = 0x1000000;
		bp.hdr.cmdline_size = PARAMS_CMDLINE_SIZE_DEFAULT;
		bp.hdr.initrd_addr_max = PARAMS_INITRD_ADDR_MAX_DEFAULT;
	}
	bp.hdr.type_of_loader = PARAMS_LOADER_UNDEFINED;
	bp.hdr.cmd_line_ptr = (uint32_t)pb->cmdline_addr;
	bp.ext_cmd_line_ptr = (uint32_t)(pb->cmdline_addr >> 32);
	bp.hdr.ramdisk_image = (uint32_t)pb->initrd_addr;
	bp.ext_ramdisk_image = (uint32_t)(pb->initrd_addr >> 32);
	bp.hdr.ramdisk_size = (uint32_t)pb->initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(pb->initrd_size >> 32);

	n = params_e820_build(gm, bp.e820_table, PARAMS_E820_MAX);
	if (n < 0)
		return err_set(err, errlen, n, "e820 map does not fit");
	bp.e820_entries = (uint8_t)n;

	if (guest_mem_write(gm, LAYOUT_ZERO_PAGE_ADDR, &bp, sizeof(bp)))
		return err_set(err, errlen, -EFAULT,
			       "guest RAM too small: no room for the zero page "
			       "at 0x%llx",
			       (unsigned long long)LAYOUT_ZERO_PAGE_ADDR);
	return 0;
}

int params_write_pvh(const struct guest_mem *gm, const struct params_boot *pb,
		     char *err, size_t errlen)
{
	/* The memmap must end before the zero page area at 0x7000. */
	enum {
		PVH_MAX = (LAYOUT_ZERO_PAGE_ADDR - PARAMS_PVH_MEMMAP_ADDR) /
			  sizeof(struct params_pvh_memmap_entry)
	};
	struct boot_e820_entry e820[PVH_MAX];
	struct params_pvh_memmap_entry map[PVH_MAX];
	struct params_pvh_start_info si;
	struct params_pvh_modlist_entry mod;
	int n;

	_Static_assert(sizeof(si) == 56, "hvm_start_info size");
	_Static_assert(sizeof(mod) == 32, "hvm_modlist_entry size");
	_Static_assert(sizeof(map[0]) == 24, "hvm_memmap_table_entry size");
	_Static_assert(LAYOUT_PVH_INFO_ADDR + sizeof(si) <=
			       PARAMS_PVH_MODLIST_ADDR,
		       "start info overlaps module list");

	n = params_e820_build(gm, e820, PVH_MAX);
	if (n < 0)
		return err_set(err, errlen, n, "PVH memory map does not fit");
	memset(map, 0, sizeof(map));
	for (int i = 0; i < n; i++) {
		map[i].addr = e820[i].addr;
		map[i].size = e820[i].size;
		map[i].type = e820[i].type;
	}
	memset(&si, 0, sizeof(si));
	si.magic = PARAMS_PVH_MAGIC;
	si.version = 1;
	si.cmdline_paddr = pb->cmdline_addr;
	si.memmap_paddr = PARAMS_PVH_MEMMAP_ADDR;
	si.memmap_entries = (uint32_t)n;
	memset(&mod, 0, sizeof(mod));
	if (pb->initrd_size) {
		si.nr_modules = 1;
		si.modlist_paddr = PARAMS_PVH_MODLIST_ADDR;
		mod.paddr = pb->initrd_addr;
		mod.size = pb->initrd_size;
	}
	if (guest_mem_write(gm, LAYOUT_PVH_INFO_ADDR, &si, sizeof(si)) ||
	    guest_mem_write(gm, PARAMS_PVH_MODLIST_ADDR, &mod, sizeof(mod)) ||
	    guest_mem_write(gm, PARAMS_PVH_MEMMAP_ADDR, map,
			    (uint64_t)n * sizeof(map[0])))
		return err_set(err, errlen, -EFAULT,
			       "guest RAM too small: no room for the PVH "
			       "start info at 0x%llx",
			       (unsigned long long)LAYOUT_PVH_INFO_ADDR);
	return 0;
}
