/*
 * libFuzzer target for the bzImage path of boot_load(). The image always
 * carries the "HdrS" magic at 0x202 and never the ELF magic (the fuzzer's
 * bytes there are replaced), so every input long enough reaches
 * bzimage_load. Input layout and the checks common to every format:
 * fuzz/boot_fuzz.h.
 */
#include "arch/x86/bzimage.h"
#include "fuzz/boot_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bzimage_fuzz_prepare(uint8_t *img, size_t len)
{
	if (len >= 4 && !memcmp(img, "\177ELF", 4))
		img[0] = 0;
	if (len >= BZIMAGE_MAGIC_OFFSET + 4)
		memcpy(img + BZIMAGE_MAGIC_OFFSET, "HdrS", 4);
}

static void bzimage_fuzz_check(const struct guest_mem *gm,
			       const struct boot_info *bi)
{
	fuzz_check(bi->format == BOOT_FORMAT_BZIMAGE, "format");
	fuzz_check(guest_mem_ptr(gm, bi->kernel_start,
				 bi->kernel_end - bi->kernel_start) != NULL,
		   "kernel outside RAM");
	fuzz_check(bi->mode == BOOT_ENTRY_64, "entry mode");
	fuzz_check(bi->kernel_start == LAYOUT_HIMEM_START, "load address");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return boot_fuzz_one(data, size, bzimage_fuzz_prepare,
			     bzimage_fuzz_check);
}
