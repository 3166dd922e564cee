/* x86_64's halves of arch/arch.h's types. Include arch/arch.h instead. */
#ifndef ARCH_X86_ARCH_TYPES_H
#define ARCH_X86_ARCH_TYPES_H

#include <linux/kvm.h>

#include "arch/x86/loader.h"

#define ARCH_NAME "x86_64"
/* reboot=k: a guest reboot pulses the i8042 reset line, which ends the
 * VM; no keyboard or AUX port to probe. */
#define ARCH_DEFAULT_CMDLINE                                               \
	"console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux " \
	"i8042.nopnp i8042.dumbkbd swiotlb=noforce cryptomgr.notests"

/* What --kernel takes (microvm --help, the missing-kernel error). */
#define ARCH_KERNEL_HELP  "vmlinux (ELF, PVH or 64-bit entry) or bzImage"
#define ARCH_KERNEL_FILES "vmlinux (or bzImage)"

struct arch_vm {
	struct kvm_cpuid2 *supported_cpuid; /* owned; NULL until opened */
};

struct arch_boot {
	struct boot_info info;
};

#endif
