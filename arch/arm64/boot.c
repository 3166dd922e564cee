#include "arch/arm64/boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/layout.h"
#include "lib/err.h"

/* Header fields (booting.rst): code0, code1, text_offset, image_size,
 * flags, res2..res4, magic, res5. Little-endian whatever the host. */
#define HDR_TEXT_OFFSET 8
#define HDR_IMAGE_SIZE	16
#define HDR_FLAGS	24
#define HDR_MAGIC	56
#define FLAG_BE		(1ULL << 0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int arm64_boot_parse_image(const uint8_t *hdr, size_t hdr_len,
			   uint64_t file_len, struct arm64_image *out,
			   char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (hdr_len < ARM64_IMAGE_HDR_LEN || file_len < ARM64_IMAGE_HDR_LEN ||
	    le32(hdr + HDR_MAGIC) != ARM64_IMAGE_MAGIC)
		return err_set(err, errlen, -ENOEXEC,
			       "not an arm64 kernel Image (no ARM\\x64 magic "
			       "in its header): use arch/arm64/boot/Image, "
			       "not vmlinux, Image.gz or a bzImage");
	out->text_offset = le64(hdr + HDR_TEXT_OFFSET);
	out->image_size = le64(hdr + HDR_IMAGE_SIZE);
	out->flags = le64(hdr + HDR_FLAGS);
	out->file_len = file_len;
	if (out->flags & FLAG_BE)
		return err_set(err, errlen, -ENOEXEC,
			       "the kernel Image is big-endian: build a "
			       "little-endian kernel");
	if (!out->image_size)
		return err_set(err, errlen, -ENOEXEC,
			       "the kernel Image header has image_size 0 (a "
			       "kernel older than 3.17): use a newer kernel");
	/* text_offset is below 2 MiB (booting.rst: "a 2MB aligned base
	 * ... plus text_offset"); anything else is a damaged header. */
	if (out->text_offset >= ARM64_IMAGE_ALIGN || out->text_offset % 4096)
		return err_set(err, errlen, -ENOEXEC,
			       "the kernel Image header has text_offset %#llx "
			       "(not a 4 KiB multiple below 2 MiB): damaged "
			       "Image",
			       (unsigned long long)out->text_offset);
	if (file_len > out->image_size)
		return err_set(err, errlen, -ENOEXEC,
			       "the kernel Image is %llu bytes, more than its "
			       "header's image_size %llu: damaged Image",
			       (unsigned long long)file_len,
			       (unsigned long long)out->image_size);
	return 0;
}

/* x up to a multiple of a (a power of two); 0 on overflow. */
static int align_up(uint64_t x, uint64_t a, uint64_t *out)
{
	if (__builtin_add_overflow(x, a - 1, out))
		return -1;
	*out &= ~(a - 1);
	return 0;
}

int arm64_boot_plan(uint64_t ram, uint64_t ram_size,
		    const struct arm64_image *img, uint64_t initrd_len,
		    uint64_t dtb_max, struct arm64_boot_plan *out, char *err,
		    size_t errlen)
{
	uint64_t ram_end, base, next, need;

	memset(out, 0, sizeof(*out));
	if (__builtin_add_overflow(ram, ram_size, &ram_end) ||
	    dtb_max > ARM64_IMAGE_ALIGN ||
	    align_up(ram, ARM64_IMAGE_ALIGN, &base))
		return err_set(err, errlen, -EINVAL,
			       "internal: bad RAM range or DTB size");
	if (__builtin_add_overflow(base, img->text_offset, &out->kernel) ||
	    __builtin_add_overflow(out->kernel, img->image_size,
				   &out->kernel_end) ||
	    align_up(out->kernel_end, ARM64_IMAGE_ALIGN, &next))
		goto too_big;
	out->initrd = out->initrd_end = next;
	if (initrd_len) {
		if (__builtin_add_overflow(next, initrd_len,
					   &out->initrd_end) ||
		    align_up(out->initrd_end, ARM64_IMAGE_ALIGN, &next))
			goto too_big;
	}
	out->dtb = next;
	if (__builtin_add_overflow(next, dtb_max, &need))
		goto too_big;
	if (need > ram_end)
		return err_set(
			err, errlen, -ENOMEM,
			"the kernel (%llu MiB with its BSS)%s and the "
			"device tree need %llu MiB of RAM from its "
			"start, the first RAM range has %llu MiB: give "
			"more --mem",
			(unsigned long long)(img->image_size >> 20),
			initrd_len ? ", the initrd" : "",
			(unsigned long long)((need - ram + (1 << 20) - 1) >>
					     20),
			(unsigned long long)(ram_size >> 20));
	return 0;
too_big:
	return err_set(err, errlen, -ENOMEM,
		       "the kernel or initrd does not fit the guest address "
		       "space");
}

/* The guest's RAM: every region but the hotplug one (virtio-mem announces
 * that), adjacent ones merged. */
static int arm64_boot_dtb_memory(const struct guest_mem *gm,
				 struct dtb_config *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		struct dtb_range *last =
			c->nr_mem ? &c->mem[c->nr_mem - 1] : NULL;

		if (r->hotplug)
			continue;
		if (last && last->base + last->size == r->gpa) {
			last->size += r->size;
			continue;
		}
		if (c->nr_mem == DTB_MAX_MEM)
			return err_set(err, errlen, -E2BIG,
				       "guest memory has more than %d "
				       "separate ranges: use fewer zones",
				       DTB_MAX_MEM);
		c->mem[c->nr_mem++] =
			(struct dtb_range){.base = r->gpa, .size = r->size};
	}
	return 0;
}

int arm64_boot_dtb_config(const struct guest_mem *gm, const char *cmdline,
			  unsigned cpus, unsigned nr_virtio, int gic_version,
			  const struct arm64_boot_plan *p, struct dtb_config *c,
			  char *err, size_t errlen)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->nr_cpus = cpus;
	ret = arm64_boot_dtb_memory(gm, c, err, errlen);
	if (ret)
		return ret;
	c->gic = gic_version == 3 ? DTB_GIC_V3 : DTB_GIC_V2;
	c->gic_dist =
		(struct dtb_range){LAYOUT_GIC_DIST_ADDR, LAYOUT_GIC_DIST_SIZE};
	if (c->gic == DTB_GIC_V3)
		c->gic_cpu = (struct dtb_range){
			LAYOUT_GIC_REDIST_ADDR,
			(uint64_t)cpus * LAYOUT_GIC_REDIST_STRIDE};
	else
		c->gic_cpu = (struct dtb_range){LAYOUT_GIC_CPU_ADDR,
						LAYOUT_GIC_CPU_SIZE};
	c->uart = (struct dtb_range){LAYOUT_UART_ADDR, LAYOUT_UART_SIZE};
	c->uart_spi = LAYOUT_UART_SPI;
	c->uart_clock_hz = LAYOUT_UART_CLOCK_HZ;
	if (nr_virtio > DTB_MAX_VIRTIO)
		return err_set(err, errlen, -ENOSPC,
			       "too many virtio devices: at most %d",
			       DTB_MAX_VIRTIO);
	c->nr_virtio = nr_virtio;
	for (unsigned i = 0; i < nr_virtio; i++)
		c->virtio[i] = (struct dtb_virtio){
			.reg = {LAYOUT_VIRTIO_MMIO_BASE +
					i * LAYOUT_MMIO_SLOT_SIZE,
				LAYOUT_MMIO_SLOT_SIZE},
			.spi = LAYOUT_VIRTIO_FIRST_IRQ + i,
		};
	c->bootargs = cmdline;
	c->initrd_start = p->initrd;
	c->initrd_end = p->initrd_end;
	return 0;
}
