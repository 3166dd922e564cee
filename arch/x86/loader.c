#include "arch/x86/loader.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/bzimage.h"
#include "arch/x86/elf.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/params.h"
#include "arch/x86/regs.h"
#include "lib/err.h"

const char *boot_format_name(enum boot_format f)
{
	return f == BOOT_FORMAT_BZIMAGE ? "bzImage" : "vmlinux";
}

const char *boot_entry_name(enum boot_entry_mode m)
{
	return m == BOOT_ENTRY_PVH32 ? "PVH" : "64-bit";
}

/* Load the kernel image and say where it sits and how it is entered. */
static int boot_load_kernel(const struct guest_mem *gm,
			    const struct boot_src *kernel, struct boot_info *bi,
			    struct setup_header *hdr, int *have_hdr, char *err,
			    size_t errlen)
{
	/* Enough of the start of the image to tell the formats apart. */
	uint8_t head[BZIMAGE_MAGIC_OFFSET + 4];
	size_t hlen =
		kernel->len < sizeof(head) ? (size_t)kernel->len : sizeof(head);
	int ret;

	*have_hdr = 0;
	ret = boot_src_read(kernel, 0, head, hlen);
	if (ret)
		return err_set(err, errlen, ret, "reading the kernel");
	if (elf_probe(head, hlen)) {
		struct elf_image img;

		ret = elf_load_src(gm, kernel, &img, err, errlen);
		if (ret)
			return ret;
		bi->format = BOOT_FORMAT_VMLINUX;
		/* PVH needs neither page tables nor a zero page from us and is
		 * what vmlinux kernels are built to be entered through. */
		if (img.has_pvh) {
			bi->mode = BOOT_ENTRY_PVH32;
			bi->entry = img.pvh_entry;
		} else {
			bi->mode = BOOT_ENTRY_64;
			bi->entry = img.entry64;
		}
		bi->kernel_start = img.load_start;
		bi->kernel_end = img.load_end;
		return 0;
	}
	if (bzimage_probe(head, hlen)) {
		struct bzimage_info bz;

		ret = bzimage_load_src(gm, kernel, &bz, err, errlen);
		if (ret)
			return ret;
		bi->format = BOOT_FORMAT_BZIMAGE;
		bi->mode = BOOT_ENTRY_64;
		bi->entry = bz.entry64;
		bi->kernel_start = bz.load_addr;
		bi->kernel_end = bz.kernel_end;
		*hdr = bz.hdr;
		*have_hdr = 1;
		return 0;
	}
	return err_set(err, errlen, -ENOEXEC,
		       "not a kernel: neither ELF vmlinux nor bzImage");
}

int boot_load(const struct guest_mem *gm, const void *kernel, size_t kernel_len,
	      const void *initrd, size_t initrd_len, const char *cmdline,
	      unsigned ncpus, struct boot_info *out, char *err, size_t errlen)
{
	struct boot_src k = boot_src_mem(kernel, kernel_len);
	struct boot_src i = boot_src_mem(initrd, initrd_len);

	if ((!kernel && kernel_len) || (!initrd && initrd_len))
		return err_set(err, errlen, -EINVAL, "bad boot arguments");
	return boot_load_src(gm, &k, &i, cmdline, ncpus, out, err, errlen);
}

int boot_load_src(const struct guest_mem *gm, const struct boot_src *kernel,
		  const struct boot_src *initrd, const char *cmdline,
		  unsigned ncpus, struct boot_info *out, char *err,
		  size_t errlen)
{
	struct boot_info bi;
	struct setup_header hdr;
	struct params_boot pb;
	uint32_t cmdline_max = PARAMS_CMDLINE_SIZE_DEFAULT;
	uint64_t initrd_max = PARAMS_INITRD_ADDR_MAX_DEFAULT;
	int have_hdr, ret;

	if (!gm || !out || !kernel)
		return err_set(err, errlen, -EINVAL, "bad boot arguments");
	if (!ncpus)
		return err_set(err, errlen, -EINVAL, "no vCPUs");
	if (ncpus > MPTABLE_MAX_CPUS)
		return err_set(err, errlen, -E2BIG,
			       "too many CPUs for the MP table: %u, the limit "
			       "is %llu",
			       ncpus, (unsigned long long)MPTABLE_MAX_CPUS);
	/* The zero page, page tables, cmdline and MP table live there. */
	if (!guest_mem_ptr(gm, 0, LAYOUT_HIMEM_START))
		return err_set(err, errlen, -EFAULT,
			       "guest RAM too small: the boot structures need "
			       "RAM over the first 1 MiB");

	memset(&bi, 0, sizeof(bi));
	bi.ncpus = ncpus;
	ret = boot_load_kernel(gm, kernel, &bi, &hdr, &have_hdr, err, errlen);
	if (ret)
		return ret;
	if (have_hdr) {
		cmdline_max = hdr.cmdline_size;
		/* Protocol < 2.03 default; 2.06+ always sets it. */
		initrd_max =
			hdr.initrd_addr_max ? hdr.initrd_addr_max : 0x37ffffff;
	}

	ret = params_write_cmdline(gm, cmdline, cmdline_max, err, errlen);
	if (ret)
		return ret;
	bi.cmdline_addr = LAYOUT_CMDLINE_ADDR;

	ret = params_place_initrd_src(gm, initrd, bi.kernel_end, initrd_max,
				      &bi.initrd_addr, err, errlen);
	if (ret)
		return ret;
	bi.initrd_size = initrd ? initrd->len : 0;

	pb.cmdline_addr = bi.cmdline_addr;
	pb.initrd_addr = bi.initrd_addr;
	pb.initrd_size = bi.initrd_size;
	if (bi.mode == BOOT_ENTRY_PVH32) {
		bi.params_addr = LAYOUT_PVH_INFO_ADDR;
		ret = params_write_pvh(gm, &pb, err, errlen);
	} else {
		bi.params_addr = LAYOUT_ZERO_PAGE_ADDR;
		ret = params_write_zero_page(gm, have_hdr ? &hdr : NULL, &pb,
					     err, errlen);
	}
	if (ret)
		return ret;

	ret = mptable_write(gm, ncpus);
	if (ret)
		return err_set(err, errlen, ret,
			       "cannot write the MP table for %u CPUs", ncpus);
	if (bi.mode == BOOT_ENTRY_64 && regs_write_page_tables(gm))
		return err_set(err, errlen, -EFAULT,
			       "cannot write the boot page tables");
	if (regs_write_gdt(gm, bi.mode == BOOT_ENTRY_64))
		return err_set(err, errlen, -EFAULT, "cannot write the GDT");
	*out = bi;
	return 0;
}

void boot_setup_regs(const struct boot_info *bi, struct kvm_sregs *sregs,
		     struct kvm_regs *regs)
{
	if (bi->mode == BOOT_ENTRY_PVH32)
		regs_setup_pvh(sregs, regs, bi->entry, bi->params_addr);
	else
		regs_setup_long(sregs, regs, bi->entry, bi->params_addr);
}
