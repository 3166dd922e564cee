#include "arch/x86/bzimage.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "lib/err.h"

#define BZIMAGE_SECTOR	       512
#define BZIMAGE_ENTRY64_OFFSET 0x200

int bzimage_probe(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return p && len >= BZIMAGE_MAGIC_OFFSET + 4 &&
	       !memcmp(p + BZIMAGE_MAGIC_OFFSET, "HdrS", 4);
}

static int bzimage_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Copy the setup header; its length is given by the short jump at 0x200
 * (the header ends at 0x202 + that byte), capped by what we know and by the
 * file. */
static void bzimage_copy_hdr(const uint8_t *p, size_t len,
			     struct setup_header *hdr)
{
	size_t end = BZIMAGE_MAGIC_OFFSET + p[0x201];
	size_t n;

	if (end > len)
		end = len;
	n = end - BZIMAGE_HDR_OFFSET;
	if (n > sizeof(*hdr))
		n = sizeof(*hdr);
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr, p + BZIMAGE_HDR_OFFSET, n);
}

static int bzimage_check(const struct setup_header *h, uint64_t len,
			 uint64_t setup_size, char *err, size_t errlen)
{
	if (h->boot_flag != 0xaa55)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt bzImage: boot flag 0x%04x, not 0xaa55",
			       h->boot_flag);
	if (h->version < BZIMAGE_MIN_VERSION)
		return err_set(err, errlen, -ENOEXEC,
			       "bzImage boot protocol %u.%02u is too old "
			       "(need 2.06 or newer)",
			       h->version >> 8, h->version & 0xff);
	if (setup_size >= len)
		return err_set(err, errlen, -ENOEXEC,
			       "truncated bzImage: %llu bytes, setup alone is "
			       "%llu",
			       (unsigned long long)len,
			       (unsigned long long)setup_size);
	if ((uint64_t)h->syssize * 16 > len - setup_size)
		return err_set(err, errlen, -ENOEXEC,
			       "truncated bzImage: kernel is %llu bytes, "
			       "header says %llu",
			       (unsigned long long)(len - setup_size),
			       (unsigned long long)h->syssize * 16);
	if (!(h->loadflags & LOADED_HIGH))
		return err_set(err, errlen, -ENOEXEC,
			       "bzImage is not loaded high (zImage?): "
			       "unsupported");
	if (h->version < BZIMAGE_XLF_VERSION ||
	    !(h->xloadflags & XLF_KERNEL_64))
		return err_set(err, errlen, -ENOEXEC,
			       "bzImage has no 64-bit entry (XLF_KERNEL_64, "
			       "protocol %u.%02u)",
			       h->version >> 8, h->version & 0xff);
	if (h->relocatable_kernel && !bzimage_is_pow2(h->kernel_alignment))
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt bzImage: kernel_alignment 0x%x",
			       h->kernel_alignment);
	if (!h->init_size)
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt bzImage: init_size is 0");
	return 0;
}

int bzimage_load_src(const struct guest_mem *gm, const struct boot_src *src,
		     struct bzimage_info *out, char *err, size_t errlen)
{
	/* The setup header ends before 0x202 + 255: read just that much. */
	uint8_t p[BZIMAGE_MAGIC_OFFSET + 256];
	size_t plen = src->len < sizeof(p) ? (size_t)src->len : sizeof(p);
	uint64_t len = src->len;
	struct bzimage_info bi;
	uint64_t setup_size, dest, end;
	uint8_t *dst;
	int ret;

	ret = boot_src_read(src, 0, p, plen);
	if (ret)
		return err_set(err, errlen, ret, "reading the bzImage header");
	if (!bzimage_probe(p, plen))
		return err_set(err, errlen, -ENOEXEC,
			       "not a bzImage (no HdrS magic)");
	memset(&bi, 0, sizeof(bi));
	bzimage_copy_hdr(p, plen, &bi.hdr);
	setup_size =
		(uint64_t)((bi.hdr.setup_sects ? bi.hdr.setup_sects : 4) + 1) *
		BZIMAGE_SECTOR;
	ret = bzimage_check(&bi.hdr, len, setup_size, err, errlen);
	if (ret)
		return ret;

	/* The setup code is for real-mode entry; we only load the rest. The
	 * 64-bit entry is 0x200 into it. */
	bi.load_addr = LAYOUT_HIMEM_START;
	bi.load_size = len - setup_size;
	bi.entry64 = bi.load_addr + BZIMAGE_ENTRY64_OFFSET;
	/* Else the vCPU would start in whatever RAM holds past the image. */
	if (bi.load_size <= BZIMAGE_ENTRY64_OFFSET)
		return err_set(err, errlen, -ENOEXEC,
			       "truncated bzImage: the %llu-byte kernel ends "
			       "before its 64-bit entry at 0x%x",
			       (unsigned long long)bi.load_size,
			       BZIMAGE_ENTRY64_OFFSET);

	/*
	 * Where the decompressor will run: a relocatable kernel rounds its
	 * load address up to kernel_alignment but never goes below
	 * pref_address (LOAD_PHYSICAL_ADDR); a fixed one uses pref_address.
	 * It needs init_size bytes there.
	 */
	dest = bi.load_addr;
	if (bi.hdr.relocatable_kernel)
		dest = (dest + bi.hdr.kernel_alignment - 1) &
		       ~((uint64_t)bi.hdr.kernel_alignment - 1);
	if (!bi.hdr.relocatable_kernel || dest < bi.hdr.pref_address)
		dest = bi.hdr.pref_address ? bi.hdr.pref_address : dest;
	if (__builtin_add_overflow(dest, (uint64_t)bi.hdr.init_size, &end))
		return err_set(err, errlen, -ENOEXEC,
			       "corrupt bzImage: pref_address 0x%llx",
			       (unsigned long long)bi.hdr.pref_address);
	if (end < bi.load_addr + bi.load_size)
		end = bi.load_addr + bi.load_size;
	bi.kernel_end = end;

	if (!guest_mem_ptr(gm, bi.load_addr, end - bi.load_addr))
		return err_set(err, errlen, -ENOMEM,
			       "kernel does not fit in RAM: bzImage needs "
			       "[0x%llx, 0x%llx) (%llu MiB)",
			       (unsigned long long)bi.load_addr,
			       (unsigned long long)end,
			       (unsigned long long)((end + LAYOUT_MiB - 1) /
						    LAYOUT_MiB));
	dst = guest_mem_ptr(gm, bi.load_addr, bi.load_size);
	if (!dst)
		return err_set(err, errlen, -EFAULT, "kernel area vanished");
	ret = boot_src_read(src, setup_size, dst, bi.load_size);
	if (ret)
		return err_set(err, errlen, ret, "reading the bzImage kernel");
	*out = bi;
	return 0;
}

int bzimage_load(const struct guest_mem *gm, const void *image, size_t len,
		 struct bzimage_info *out, char *err, size_t errlen)
{
	struct boot_src src = boot_src_mem(image, len);

	return bzimage_load_src(gm, &src, out, err, errlen);
}
