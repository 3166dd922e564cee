/*
 * The one boot entry point vmm/ calls: detect the kernel format, load it,
 * place the initrd and command line, write the zero page or PVH start info,
 * e820, MP table, page tables and GDT; then fill a vCPU's registers.
 */
#ifndef ARCH_X86_LOADER_H
#define ARCH_X86_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "arch/boot_src.h"
#include "mem/guest_mem.h"

enum boot_format {
	BOOT_FORMAT_VMLINUX, /* ELF64 vmlinux */
	BOOT_FORMAT_BZIMAGE,
};

enum boot_entry_mode {
	BOOT_ENTRY_64,	  /* Linux 64-bit boot protocol, RSI = zero page */
	BOOT_ENTRY_PVH32, /* PVH: 32-bit protected mode, EBX = start info */
};

struct boot_info {
	enum boot_format format;
	enum boot_entry_mode mode;
	uint64_t entry;	       /* guest-physical entry point */
	uint64_t params_addr;  /* zero page (64) or hvm_start_info (PVH) */
	uint64_t kernel_start; /* what the kernel occupies, [start, end) */
	uint64_t kernel_end;
	uint64_t initrd_addr; /* 0 if no initrd */
	uint64_t initrd_size;
	uint64_t cmdline_addr;
	unsigned ncpus;
};

/* "vmlinux"/"bzImage", "64-bit"/"PVH". */
const char *boot_format_name(enum boot_format f);
const char *boot_entry_name(enum boot_entry_mode m);

/*
 * Load kernel[0..kernel_len) (a vmlinux ELF, preferring its PVH entry when it
 * has one, or a bzImage through its 64-bit entry) and everything it needs
 * into gm for ncpus vCPUs. initrd may be NULL/0; cmdline may be NULL.
 * Returns 0 and fills *out, or a negative errno with a one-line reason in
 * err: -ENOEXEC not a kernel / corrupt or unsupported image, -ENOMEM kernel
 * or initrd does not fit in RAM, -E2BIG command line too long or too many
 * CPUs for the MP table, -EINVAL bad arguments, -EFAULT RAM too small for
 * the boot structures below 1 MiB.
 */
int boot_load(const struct guest_mem *gm, const void *kernel, size_t kernel_len,
	      const void *initrd, size_t initrd_len, const char *cmdline,
	      unsigned ncpus, struct boot_info *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * The same from image sources (initrd may be NULL or empty): the VMM passes
 * file descriptors, so segments and the initrd go straight from the files
 * into guest memory and no copy of the images stays on the VMM's heap.
 */
int boot_load_src(const struct guest_mem *gm, const struct boot_src *kernel,
		  const struct boot_src *initrd, const char *cmdline,
		  unsigned ncpus, struct boot_info *out, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/*
 * Fill the boot vCPU's registers for bi's entry. sregs comes from
 * KVM_GET_SREGS and only what the entry needs is changed; regs is
 * overwritten. Pure: no ioctl.
 */
void boot_setup_regs(const struct boot_info *bi, struct kvm_sregs *sregs,
		     struct kvm_regs *regs);

#endif
