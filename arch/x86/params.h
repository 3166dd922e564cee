/*
 * Boot parameters handed to the kernel: the command line, the initrd, the
 * e820 memory map, and either the zero page (struct boot_params, Linux
 * 64-bit boot protocol) or the PVH start info (struct hvm_start_info).
 */
#ifndef ARCH_X86_PARAMS_H
#define ARCH_X86_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "arch/x86/layout.h"
#include "arch/boot_src.h"
#include "mem/guest_mem.h"

#define PARAMS_E820_RAM	     1
#define PARAMS_E820_RESERVED 2
#define PARAMS_E820_MAX	     128 /* what the zero page holds */

/* A vmlinux has no setup header to say so: x86's COMMAND_LINE_SIZE (2048,
 * with the NUL) and the protocol's default initrd ceiling. */
#define PARAMS_CMDLINE_SIZE_DEFAULT    2047U
#define PARAMS_INITRD_ADDR_MAX_DEFAULT 0x7fffffffU

/* Setup header version we claim for a vmlinux (no header of its own). */
#define PARAMS_VMLINUX_VERSION 0x020f

#define PARAMS_PVH_MAGIC	0x336ec578U
#define PARAMS_PVH_MODLIST_ADDR (LAYOUT_PVH_INFO_ADDR + 0x40)
#define PARAMS_PVH_MEMMAP_ADDR	(LAYOUT_PVH_INFO_ADDR + 0x80)

/* The PVH ABI structures (Xen public/arch-x86/hvm/start_info.h). */
struct params_pvh_start_info {
	uint32_t magic; /* PARAMS_PVH_MAGIC */
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version >= 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct params_pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));

struct params_pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 type */
	uint32_t reserved;
} __attribute__((packed));

/* What the kernel is told about cmdline and initrd. */
struct params_boot {
	uint64_t cmdline_addr;
	uint64_t initrd_addr; /* 0 if none */
	uint64_t initrd_size;
};

/*
 * Build the e820 map from gm's regions (sorted): RAM below the EBDA is
 * usable, [LAYOUT_EBDA_START, 1 MiB) is reserved (MP table, legacy holes),
 * RAM from 1 MiB up is usable. Adjacent entries of a type are merged.
 * Returns the number of entries written to tab, or -E2BIG if max is short.
 */
int params_e820_build(const struct guest_mem *gm, struct boot_e820_entry *tab,
		      unsigned max) __attribute__((warn_unused_result));

/*
 * Copy cmdline (NULL means empty) with its NUL to LAYOUT_CMDLINE_ADDR.
 * -E2BIG if strlen exceeds max_len (the kernel's cmdline_size) or does not
 * fit in LAYOUT_CMDLINE_MAX; -EFAULT if that address is not RAM.
 */
int params_write_cmdline(const struct guest_mem *gm, const char *cmdline,
			 uint32_t max_len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Copy the initrd to the top of the low RAM region (the one holding 1 MiB),
 * page aligned, ending at or below addr_max + 1 and starting at or above
 * kernel_end. *addr gets its address (0 and nothing written if len is 0).
 * -ENOMEM with "initrd (N MiB) does not fit: ..." when it does not.
 */
int params_place_initrd(const struct guest_mem *gm, const void *initrd,
			size_t len, uint64_t kernel_end, uint64_t addr_max,
			uint64_t *addr, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same from any image source (NULL or empty: no initrd). */
int params_place_initrd_src(const struct guest_mem *gm,
			    const struct boot_src *initrd, uint64_t kernel_end,
			    uint64_t addr_max, uint64_t *addr, char *err,
			    size_t errlen) __attribute__((warn_unused_result));

/*
 * Write the zero page at LAYOUT_ZERO_PAGE_ADDR: a clean boot_params with
 * hdr (the bzImage's setup header) copied in, or, when hdr is NULL (vmlinux),
 * a minimal header of our own; then loader type, cmdline, initrd and e820.
 */
int params_write_zero_page(const struct guest_mem *gm,
			   const struct setup_header *hdr,
			   const struct params_boot *pb, char *err,
			   size_t errlen) __attribute__((warn_unused_result));

/*
 * Write hvm_start_info (version 1) at LAYOUT_PVH_INFO_ADDR, its module list
 * (the initrd) at PARAMS_PVH_MODLIST_ADDR and the e820-style memory map at
 * PARAMS_PVH_MEMMAP_ADDR.
 */
int params_write_pvh(const struct guest_mem *gm, const struct params_boot *pb,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
