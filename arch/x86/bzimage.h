/*
 * Loader for an x86 bzImage (Linux boot protocol >= 2.06 with a 64-bit
 * entry). Works on a memory buffer, fully bounds-checked, so it can be
 * fuzzed. The setup (real-mode) part is not loaded: the VMM enters the
 * protected-mode kernel at its 64-bit entry with a zero page it builds.
 */
#ifndef ARCH_X86_BZIMAGE_H
#define ARCH_X86_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "arch/boot_src.h"
#include "mem/guest_mem.h"

#define BZIMAGE_HDR_OFFSET   0x1f1	 /* struct setup_header in the file */
#define BZIMAGE_MAGIC_OFFSET 0x202	 /* "HdrS" */
#define BZIMAGE_MAGIC	     0x53726448U /* "HdrS" little-endian */
#define BZIMAGE_MIN_VERSION  0x0206
#define BZIMAGE_XLF_VERSION  0x020c /* first protocol with xloadflags */

struct bzimage_info {
	/* The file's setup header; fields past the header's own end (as the
	 * jump at 0x200 gives it) are zero. */
	struct setup_header hdr;
	uint64_t load_addr;  /* where the protected-mode kernel went */
	uint64_t load_size;  /* bytes copied there */
	uint64_t kernel_end; /* end of the memory the kernel decompresses
			      * into (exclusive): place the initrd above */
	uint64_t entry64;    /* load_addr + 0x200 */
};

/* 1 if buf carries the "HdrS" setup header magic at 0x202. */
int bzimage_probe(const void *buf, size_t len);

/*
 * Parse and check the setup header of [buf, buf+len) and copy the
 * protected-mode kernel to 1 MiB in gm. Requires protocol >= 2.06,
 * LOADED_HIGH and XLF_KERNEL_64 (so protocol >= 2.12 in practice). Checks
 * that RAM holds the kernel and the area it decompresses into (init_size
 * at max(aligned load address, pref_address)). Nothing is written on error.
 * Returns 0, -ENOEXEC (bad or unsupported image), -ENOMEM (does not fit in
 * RAM); err gets a one-line reason.
 */
int bzimage_load(const struct guest_mem *gm, const void *buf, size_t len,
		 struct bzimage_info *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same from any image source; the kernel is copied straight from the
 * source into guest memory. */
int bzimage_load_src(const struct guest_mem *gm, const struct boot_src *src,
		     struct bzimage_info *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
