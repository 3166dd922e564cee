/*
 * The arm64 kernel Image (Documentation/arch/arm64/booting.rst): its
 * 64-byte header, and where the kernel, initrd and device tree go in the
 * first RAM range, and the device tree's description of the machine. Pure
 * functions over bytes, numbers and the guest memory map: no KVM, so they
 * are unit-tested on any host.
 */
#ifndef ARCH_ARM64_BOOT_H
#define ARCH_ARM64_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arm64/dtb.h"
#include "mem/guest_mem.h"

#define ARM64_IMAGE_HDR_LEN 64
#define ARM64_IMAGE_MAGIC   0x644d5241u /* "ARM\x64", little-endian */
#define ARM64_IMAGE_ALIGN   (2ULL << 20)
/* Header flags bit 3: the kernel may sit anywhere in RAM (2 MiB aligned),
 * else as close as possible to the start of RAM. Either way we load it at
 * the start of the first RAM range. */
#define ARM64_IMAGE_FLAG_ANYWHERE (1ULL << 3)

struct arm64_image {
	uint64_t text_offset; /* from a 2 MiB aligned base */
	uint64_t image_size;  /* bytes the kernel occupies, BSS included */
	uint64_t flags;
	uint64_t file_len; /* bytes to copy from the file */
};

/*
 * Parse the header of an Image file of file_len bytes (hdr: its first
 * ARM64_IMAGE_HDR_LEN bytes, or fewer when the file is shorter; hdr_len
 * says how many). 0, or -ENOEXEC with one line in err: no "ARM\x64"
 * magic (not an Image: a vmlinux ELF, a gzip'd Image.gz, an EFI zboot or
 * an x86 bzImage), a big-endian kernel, image_size 0 (pre-3.17 kernels),
 * or a file longer than image_size.
 */
int arm64_boot_parse_image(const uint8_t *hdr, size_t hdr_len,
			   uint64_t file_len, struct arm64_image *out,
			   char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Where everything goes (guest-physical). */
struct arm64_boot_plan {
	uint64_t kernel, kernel_end; /* kernel_end = kernel + image_size */
	uint64_t initrd, initrd_end; /* equal: no initrd */
	uint64_t dtb;		     /* DTB_MAX bytes reserved */
};

/*
 * Plan the first RAM range [ram, ram + ram_size): the kernel at ram
 * aligned up to 2 MiB plus text_offset; the initrd (initrd_len bytes, 0:
 * none) at the next 2 MiB boundary after the kernel's image_size; the
 * device tree (dtb_max bytes, at most 2 MiB) at the next 2 MiB boundary
 * after that, so it never crosses one. 0, or -ENOMEM with one line naming
 * what does not fit and the RAM it needs. Overflow-checked.
 */
int arm64_boot_plan(uint64_t ram, uint64_t ram_size,
		    const struct arm64_image *img, uint64_t initrd_len,
		    uint64_t dtb_max, struct arm64_boot_plan *out, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/*
 * The device tree of this machine into *c: cpus vCPUs, the RAM of gm (the
 * hotplug region left out, adjacent regions merged), the GIC of
 * gic_version (3 or 2) and its frames, the UART, virtio-mmio slots
 * 0..nr_virtio-1 with their SPIs, cmdline as bootargs and the initrd of p.
 * c points into cmdline. 0, or -E2BIG / -ENOSPC with one line in err.
 */
int arm64_boot_dtb_config(const struct guest_mem *gm, const char *cmdline,
			  unsigned cpus, unsigned nr_virtio, int gic_version,
			  const struct arm64_boot_plan *p, struct dtb_config *c,
			  char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
