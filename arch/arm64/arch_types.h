/* arm64's halves of arch/arch.h's types. Include arch/arch.h instead. */
#ifndef ARCH_ARM64_ARCH_TYPES_H
#define ARCH_ARM64_ARCH_TYPES_H

#include <linux/kvm.h>
#include <stdint.h>

#define ARCH_NAME "arm64"
/* The 16550 on MMIO from the first instruction (earlycon), then as
 * ttyS0; reboot and poweroff go through PSCI, which ends the VM. */
#define ARCH_DEFAULT_CMDLINE                       \
	"console=ttyS0 reboot=k panic=1 nomodule " \
	"earlycon=uart8250,mmio,0x9000000 swiotlb=noforce cryptomgr.notests"

/* What --kernel takes (microvm --help, the missing-kernel error). */
#define ARCH_KERNEL_HELP  "arm64 kernel Image (arch/arm64/boot/Image)"
#define ARCH_KERNEL_FILES "Image (arch/arm64/boot/Image)"

struct arch_vm {
	int vm_fd;	 /* not owned */
	int gic_fd;	 /* the vGIC device, -1 until created */
	int gic_version; /* 3, or 2 where the host has no GICv3 */
};

struct arch_boot {
	uint64_t entry; /* the kernel's first instruction */
	uint64_t dtb;	/* x0 */
	uint64_t dtb_size;
	uint64_t kernel_size; /* image_size, BSS included */
	uint64_t initrd;      /* 0: none */
	uint64_t initrd_size;
	int gic_version; /* the GIC the device tree describes */
};

#endif
