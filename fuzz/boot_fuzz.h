/*
 * The harness shared by the boot_load() fuzz targets (elf_fuzz.c,
 * bzimage_fuzz.c): it turns an input into a guest memory map, a vCPU
 * count, an initrd, a command line and a kernel image, runs boot_load(),
 * and checks what boot_load promises for every kernel format. The target
 * supplies how the image is forced into its format and the checks that
 * are specific to it.
 *
 * Input layout:
 *   0     bits 0-1: low RAM size (512K, 2M, 8M, 40M, from GPA 0)
 *         bit 2: a second 2 MiB region at 4 GiB
 *         bit 3: an initrd
 *         bits 4-6: command line (NULL, "", short, 255, 4095, 4096, 5000
 *         bytes, "quiet")
 *   1     vCPUs: byte % 66 (0 and 65 are refused)
 *   2..3  initrd length / 16 (little endian)
 *   4..   kernel image
 */
#ifndef FUZZ_BOOT_FUZZ_H
#define FUZZ_BOOT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/layout.h"
#include "arch/x86/loader.h"
#include "mem/guest_mem.h"

#define FUZZ_HIGH_SIZE (2ULL << 20)
#define FUZZ_IMG_OFF   4

static const uint64_t fuzz_ram_sizes[4] = {512ULL << 10, 2ULL << 20, 8ULL << 20,
					   40ULL << 20};
static uint8_t *fuzz_ram[4], *fuzz_high;
static char fuzz_cmdline[5001];

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "boot_load broke its contract: %s\n", what);
		abort();
	}
}

static void fuzz_map(struct guest_mem *gm, uint8_t cfg)
{
	unsigned s = cfg & 3;

	if (!fuzz_ram[s])
		fuzz_ram[s] = calloc(1, fuzz_ram_sizes[s]);
	if (!fuzz_high)
		fuzz_high = calloc(1, FUZZ_HIGH_SIZE);
	if (!fuzz_ram[s] || !fuzz_high)
		abort();
	memset(gm, 0, sizeof(*gm));
	gm->regions[0] = (struct region){
		.gpa = 0, .size = fuzz_ram_sizes[s], .hva = fuzz_ram[s]};
	gm->regions[1] = (struct region){.gpa = LAYOUT_HIGH_RAM_START,
					 .size = FUZZ_HIGH_SIZE,
					 .hva = fuzz_high};
	gm->nr = cfg & 4 ? 2 : 1;
}

static const char *fuzz_pick_cmdline(unsigned sel)
{
	static const size_t lens[] = {0, 0, 13, 255, 4095, 4096, 5000};

	if (sel == 0)
		return NULL;
	if (sel == 7)
		return "quiet";
	memset(fuzz_cmdline, 'c', lens[sel - 1]);
	fuzz_cmdline[lens[sel - 1]] = 0;
	return fuzz_cmdline;
}

static int fuzz_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Run one input. prepare() forces the image into the target's format;
 * check() adds the format's own checks on a successful load.
 */
static int boot_fuzz_one(const uint8_t *data, size_t size,
			 void (*prepare)(uint8_t *img, size_t len),
			 void (*check)(const struct guest_mem *gm,
				       const struct boot_info *bi))
{
	struct guest_mem gm;
	struct boot_info bi;
	const char *cmdline;
	uint8_t *img, *initrd = NULL;
	size_t img_len, initrd_len = 0;
	char err[256];
	int ret;

	if (size < FUZZ_IMG_OFF)
		return 0;
	fuzz_map(&gm, data[0]);
	cmdline = fuzz_pick_cmdline((data[0] >> 4) & 7);
	img_len = size - FUZZ_IMG_OFF;
	/* An exact-size copy: reads past the image are caught too. */
	img = malloc(img_len ? img_len : 1);
	if (!img)
		abort();
	memcpy(img, data + FUZZ_IMG_OFF, img_len);
	prepare(img, img_len);
	if (data[0] & 8) {
		initrd_len = ((size_t)data[2] | (size_t)data[3] << 8) * 16;
		initrd = malloc(initrd_len ? initrd_len : 1);
		if (!initrd)
			abort();
		for (size_t i = 0; i < initrd_len; i++)
			initrd[i] = (uint8_t)(i * 7 + 1);
	}

	err[0] = 0;
	ret = boot_load(&gm, img, img_len, initrd, initrd_len, cmdline,
			data[1] % 66, &bi, err, sizeof(err));
	fuzz_check(ret <= 0, "positive return");
	fuzz_check(ret == 0 || err[0], "error without a reason");
	fuzz_check(memchr(err, 0, sizeof(err)) != NULL, "unterminated err");
	if (ret == 0) {
		const uint8_t *p;

		fuzz_check(bi.kernel_start >= LAYOUT_HIMEM_START &&
				   bi.kernel_start < bi.kernel_end,
			   "kernel range");
		fuzz_check(bi.entry >= bi.kernel_start &&
				   bi.entry < bi.kernel_end,
			   "entry outside the kernel");
		check(&gm, &bi);
		if (initrd_len) {
			p = guest_mem_ptr(&gm, bi.initrd_addr, initrd_len);
			fuzz_check(p != NULL, "initrd outside RAM");
			fuzz_check(!memcmp(p, initrd, initrd_len),
				   "initrd contents");
			fuzz_check(
				!fuzz_overlap(bi.initrd_addr, initrd_len,
					      bi.kernel_start,
					      bi.kernel_end - bi.kernel_start),
				"initrd overlaps the kernel");
			fuzz_check(bi.initrd_addr >= LAYOUT_HIMEM_START,
				   "initrd over the boot structures");
		}
		p = guest_mem_ptr(&gm, bi.cmdline_addr, 1);
		fuzz_check(p != NULL, "cmdline outside RAM");
		if (cmdline)
			fuzz_check(!strcmp((const char *)p, cmdline),
				   "cmdline contents");
	}
	free(initrd);
	free(img);
	return 0;
}

#endif
