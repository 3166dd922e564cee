/*
 * arch/arm64/boot.c: the arm64 Image header, where the kernel, initrd and
 * device tree go, and the device tree's description of the machine (read
 * back with libfdt). Portable C: runs on every host. MICROVM_DTB_DUMP=FILE
 * writes the two-vCPU tree there (for dtc -I dtb -O dts).
 */
#include <errno.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/boot.h"
#include "tests/harness/harness.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void ab_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header like a v6.1 defconfig Image's: text_offset 0, flags 0xa (4K
 * pages, anywhere in RAM). */
static void ab_header(uint8_t *h, uint64_t text_offset, uint64_t image_size,
		      uint64_t flags)
{
	memset(h, 0, ARM64_IMAGE_HDR_LEN);
	h[0] = 0x4d; /* "MZ": the EFI stub's code0 */
	h[1] = 0x5a;
	ab_put64(h + 8, text_offset);
	ab_put64(h + 16, image_size);
	ab_put64(h + 24, flags);
	memcpy(h + 56, "ARM\x64", 4);
}

START_TEST(ab_parse_image)
{
	uint8_t h[ARM64_IMAGE_HDR_LEN];
	struct arm64_image img;
	char err[256] = "";

	ab_header(h, 0, 40 * MiB + 4096, 0xa);
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 30 * MiB, &img,
						err, sizeof(err)),
			 0);
	ck_assert_uint_eq(img.text_offset, 0);
	ck_assert_uint_eq(img.image_size, 40 * MiB + 4096);
	ck_assert_uint_eq(img.flags, 0xa);
	ck_assert_uint_eq(img.file_len, 30 * MiB);
	/* Pre-5.8 kernels: text_offset 0x80000. */
	ab_header(h, 0x80000, 20 * MiB, 0x2);
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 20 * MiB, &img,
						err, sizeof(err)),
			 0);
	ck_assert_uint_eq(img.text_offset, 0x80000);
}
END_TEST

/* Each of these is refused with one line that says why. */
START_TEST(ab_parse_rejects)
{
	static const struct {
		const char *what;
		const char *bytes; /* at offset 0 */
		const char *why;
	} notimage[] = {
		{"vmlinux ELF",
		 "\x7f"
		 "ELF\x02\x01\x01",
		 "not an arm64 kernel Image"},
		{"Image.gz", "\x1f\x8b\x08\x00", "not an arm64 kernel Image"},
		{"EFI zboot", "MZ\0\0zimg", "not an arm64 kernel Image"},
	};
	uint8_t h[ARM64_IMAGE_HDR_LEN];
	struct arm64_image img;
	char err[256];

	for (unsigned i = 0; i < sizeof(notimage) / sizeof(notimage[0]); i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, notimage[i].bytes, 8);
		err[0] = 0;
		ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 1 * MiB,
							&img, err, sizeof(err)),
				 -ENOEXEC);
		ck_assert_msg(strstr(err, notimage[i].why), "%s: %s",
			      notimage[i].what, err);
		ck_assert_ptr_null(strchr(err, '\n'));
	}
	/* An x86 bzImage: "HdrS" at 0x202, nothing at 56. */
	ab_header(h, 0, 10 * MiB, 0xa);
	memset(h + 56, 0, 4);
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 1 * MiB, &img,
						err, sizeof(err)),
			 -ENOEXEC);
	/* A file shorter than the header. */
	ab_header(h, 0, 10 * MiB, 0xa);
	ck_assert_int_eq(
		arm64_boot_parse_image(h, 40, 40, &img, err, sizeof(err)),
		-ENOEXEC);
	/* Big-endian kernel. */
	ab_header(h, 0, 10 * MiB, 0xb);
	err[0] = 0;
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 1 * MiB, &img,
						err, sizeof(err)),
			 -ENOEXEC);
	ck_assert_ptr_nonnull(strstr(err, "big-endian"));
	/* image_size 0: a kernel older than 3.17. */
	ab_header(h, 0x80000, 0, 0);
	err[0] = 0;
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 1 * MiB, &img,
						err, sizeof(err)),
			 -ENOEXEC);
	ck_assert_ptr_nonnull(strstr(err, "image_size 0"));
	/* text_offset past 2 MiB or not page aligned. */
	ab_header(h, 2 * MiB, 10 * MiB, 0xa);
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 1 * MiB, &img,
						err, sizeof(err)),
			 -ENOEXEC);
	ab_header(h, 0x80010, 10 * MiB, 0xa);
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 1 * MiB, &img,
						err, sizeof(err)),
			 -ENOEXEC);
	/* A file longer than the header's image_size. */
	ab_header(h, 0, 10 * MiB, 0xa);
	err[0] = 0;
	ck_assert_int_eq(arm64_boot_parse_image(h, sizeof(h), 10 * MiB + 1,
						&img, err, sizeof(err)),
			 -ENOEXEC);
	ck_assert_ptr_nonnull(strstr(err, "image_size"));
}
END_TEST

START_TEST(ab_plan)
{
	struct arm64_image img = {.text_offset = 0,
				  .image_size = 30 * MiB + 123,
				  .file_len = 20 * MiB};
	struct arm64_boot_plan p;
	char err[256] = "";

	/* Kernel at the start of RAM, initrd at the next 2 MiB after its
	 * image_size (BSS included), the tree 2 MiB aligned after that. */
	ck_assert_int_eq(arm64_boot_plan(2 * GiB, 512 * MiB, &img, 5 * MiB + 1,
					 64 << 10, &p, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(p.kernel, 2 * GiB);
	ck_assert_uint_eq(p.kernel_end, 2 * GiB + 30 * MiB + 123);
	ck_assert_uint_eq(p.initrd, 2 * GiB + 32 * MiB);
	ck_assert_uint_eq(p.initrd_end, 2 * GiB + 37 * MiB + 1);
	ck_assert_uint_eq(p.dtb, 2 * GiB + 38 * MiB);
	/* No initrd: the tree right after the kernel. */
	ck_assert_int_eq(arm64_boot_plan(2 * GiB, 512 * MiB, &img, 0, 64 << 10,
					 &p, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(p.initrd, p.initrd_end);
	ck_assert_uint_eq(p.dtb, 2 * GiB + 32 * MiB);
	/* text_offset from the 2 MiB aligned base. */
	img.text_offset = 0x80000;
	ck_assert_int_eq(arm64_boot_plan(2 * GiB + 4096, 512 * MiB, &img, 0,
					 64 << 10, &p, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(p.kernel, 2 * GiB + 2 * MiB + 0x80000);
	/* Too little RAM: one line with what it needs. */
	img.text_offset = 0;
	err[0] = 0;
	ck_assert_int_eq(arm64_boot_plan(2 * GiB, 32 * MiB, &img, 0, 64 << 10,
					 &p, err, sizeof(err)),
			 -ENOMEM);
	ck_assert_ptr_nonnull(strstr(err, "--mem"));
	/* Exactly enough. */
	ck_assert_int_eq(arm64_boot_plan(2 * GiB, 32 * MiB + (64 << 10), &img,
					 0, 64 << 10, &p, err, sizeof(err)),
			 0);
	/* Sizes that wrap the address space are refused, not wrapped. */
	img.image_size = UINT64_MAX - 3 * MiB;
	ck_assert_int_lt(arm64_boot_plan(2 * GiB, 512 * MiB, &img, 0, 64 << 10,
					 &p, err, sizeof(err)),
			 0);
	img.image_size = 10 * MiB;
	ck_assert_int_lt(arm64_boot_plan(2 * GiB, 512 * MiB, &img,
					 UINT64_MAX - 2 * GiB, 64 << 10, &p,
					 err, sizeof(err)),
			 0);
	ck_assert_int_lt(arm64_boot_plan(UINT64_MAX - MiB, 512 * MiB, &img, 0,
					 64 << 10, &p, err, sizeof(err)),
			 0);
}
END_TEST

static uint64_t ab_blob[DTB_MAX_SIZE / 8 + 1];

static const uint8_t *ab_prop(const char *path, const char *name, int *len)
{
	int off = fdt_path_offset(ab_blob, path);

	ck_assert_msg(off >= 0, "no node %s", path);
	return fdt_getprop(ab_blob, off, name, len);
}

static uint32_t ab_cell(const uint8_t *p, unsigned i)
{
	p += 4 * i;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The machine's tree: memory from the guest map (two zones merged, the
 * hotplug region left out), 2 vCPUs on a GICv3 with their redistributors,
 * the UART, two virtio-mmio slots with SPIs 16 and 17, the command line
 * as bootargs (no virtio_mmio.device=) and the initrd. */
START_TEST(ab_dtb_config)
{
	struct guest_mem gm;
	struct arm64_boot_plan p = {.kernel = 2 * GiB,
				    .initrd = 2 * GiB + 32 * MiB,
				    .initrd_end = 2 * GiB + 33 * MiB,
				    .dtb = 2 * GiB + 34 * MiB};
	struct dtb_config c;
	const char *cmdline = "console=ttyS0 earlycon=uart8250,mmio,0x9000000";
	const char *dump = getenv("MICROVM_DTB_DUMP");
	const uint8_t *v;
	char err[256] = "";
	size_t used = 0;
	int len;

	memset(&gm, 0, sizeof(gm));
	gm.nr = 3;
	gm.regions[0].gpa = 2 * GiB;
	gm.regions[0].size = 256 * MiB;
	gm.regions[1].gpa = 2 * GiB + 256 * MiB;
	gm.regions[1].size = 1 * GiB;
	gm.regions[2].gpa = 4 * GiB;
	gm.regions[2].size = 1 * GiB;
	gm.regions[2].hotplug = 1;
	ck_assert_int_eq(arm64_boot_dtb_config(&gm, cmdline, 2, 2, 3, &p, &c,
					       err, sizeof(err)),
			 0);
	ck_assert_int_eq(dtb_build(&c, ab_blob, sizeof(ab_blob), &used, err,
				   sizeof(err)),
			 0);
	if (dump) {
		FILE *f = fopen(dump, "wb");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(ab_blob, 1, used, f), used);
		fclose(f);
	}
	v = ab_prop("/memory@80000000", "reg", &len);
	ck_assert_int_eq(len, 16);
	ck_assert_uint_eq(ab_cell(v, 0), 0);
	ck_assert_uint_eq(ab_cell(v, 1), 0x80000000);
	ck_assert_uint_eq(ab_cell(v, 2), 0);
	ck_assert_uint_eq(ab_cell(v, 3), 0x50000000); /* 1.25 GiB */
	ck_assert_int_lt(fdt_path_offset(ab_blob, "/memory@100000000"), 0);
	v = ab_prop("/intc@8000000", "compatible", &len);
	ck_assert_str_eq((const char *)v, "arm,gic-v3");
	v = ab_prop("/intc@8000000", "reg", &len);
	ck_assert_int_eq(len, 32);
	ck_assert_uint_eq(ab_cell(v, 5), 0x080a0000);
	ck_assert_uint_eq(ab_cell(v, 7), 2 * 0x20000);
	ck_assert_int_ge(fdt_path_offset(ab_blob, "/cpus/cpu@1"), 0);
	v = ab_prop("/uart@9000000", "interrupts", &len);
	ck_assert_int_eq(len, 12);
	ck_assert_uint_eq(ab_cell(v, 1), 1);
	v = ab_prop("/virtio_mmio@a001000", "reg", &len);
	ck_assert_uint_eq(ab_cell(v, 1), 0x0a001000);
	ck_assert_uint_eq(ab_cell(v, 3), 0x1000);
	v = ab_prop("/virtio_mmio@a001000", "interrupts", &len);
	ck_assert_uint_eq(ab_cell(v, 1), 16);
	v = ab_prop("/virtio_mmio@a002000", "interrupts", &len);
	ck_assert_uint_eq(ab_cell(v, 1), 17);
	ck_assert_int_lt(fdt_path_offset(ab_blob, "/virtio_mmio@a003000"), 0);
	v = ab_prop("/chosen", "bootargs", &len);
	ck_assert_str_eq((const char *)v, cmdline);
	v = ab_prop("/chosen", "linux,initrd-start", &len);
	ck_assert_int_eq(len, 8);
	ck_assert_uint_eq(ab_cell(v, 1), 0x82000000);
	v = ab_prop("/chosen", "linux,initrd-end", &len);
	ck_assert_uint_eq(ab_cell(v, 1), 0x82100000);
	/* GICv2: the CPU interface instead of redistributors. */
	ck_assert_int_eq(arm64_boot_dtb_config(&gm, cmdline, 2, 0, 2, &p, &c,
					       err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.gic, DTB_GIC_V2);
	ck_assert_uint_eq(c.gic_cpu.base, 0x08010000);
	/* More virtio devices than the tree describes. */
	err[0] = 0;
	ck_assert_int_eq(arm64_boot_dtb_config(&gm, cmdline, 1,
					       DTB_MAX_VIRTIO + 1, 3, &p, &c,
					       err, sizeof(err)),
			 -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "virtio"));
}
END_TEST

Suite *arm64_boot_suite(void);
Suite *arm64_boot_suite(void)
{
	Suite *s = suite_create("arm64_boot");
	TCase *tc = tcase_create("boot");

	tcase_add_test(tc, ab_parse_image);
	tcase_add_test(tc, ab_parse_rejects);
	tcase_add_test(tc, ab_plan);
	tcase_add_test(tc, ab_dtb_config);
	suite_add_tcase(s, tc);
	return s;
}
