/*
 * libFuzzer target for the vmlinux (ELF64/PVH) path of boot_load(). The
 * image always starts with the ELF magic (the fuzzer's first four image
 * bytes are replaced), so every input reaches elf_load. RAM is heap memory
 * of the exact size, so ASan flags any write past it. Input layout and the
 * checks common to every format: fuzz/boot_fuzz.h.
 */
#include "fuzz/boot_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void elf_fuzz_prepare(uint8_t *img, size_t len)
{
	memcpy(img, "\177ELF", len < 4 ? len : 4);
}

static void elf_fuzz_check(const struct guest_mem *gm,
			   const struct boot_info *bi)
{
	fuzz_check(bi->format == BOOT_FORMAT_VMLINUX, "format");
	/* Segments may sit in different regions (one below the MMIO gap, one
	 * above): the span then has a hole, but each end is RAM. */
	fuzz_check(guest_mem_ptr(gm, bi->kernel_start, 1) &&
			   guest_mem_ptr(gm, bi->kernel_end - 1, 1),
		   "kernel outside RAM");
	fuzz_check(bi->mode != BOOT_ENTRY_PVH32 || bi->entry <= UINT32_MAX,
		   "PVH entry above 4 GiB");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return boot_fuzz_one(data, size, elf_fuzz_prepare, elf_fuzz_check);
}
