/*
 * arm64's half of arch/arch.h: the vGIC (v3, v2 where the host has no v3),
 * KVM_ARM_VCPU_INIT with PSCI 0.2, the Image loader with its device tree,
 * and the entry registers (x0 = the DTB, PC = the kernel, EL1h with DAIF
 * masked). The architected timer needs nothing but its DT node.
 */
#include "arch/arch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arm64/dtb.h"
#include "arch/arm64/boot.h"
#include "arch/arm64/layout.h"
#include "lib/err.h"

/* PSTATE at entry: EL1 with SP_EL1 (EL1h), D, A, I and F masked. */
#define ARM64_PSTATE_EL1H_DAIF 0x3c5ULL

#define ARM64_CORE_REG(x)                                      \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	 KVM_REG_ARM_CORE_REG(x))

struct arch_cap {
	int cap;
	const char *name;
};

static const struct arch_cap arch_caps[] = {
	{KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2"},
	{KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL"},
	{KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (an in-kernel GIC)"},
};

int arch_vm_open(struct arch_vm *a, int kvm_fd, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->vm_fd = -1;
	a->gic_fd = -1;
	for (unsigned i = 0; i < sizeof(arch_caps) / sizeof(arch_caps[0]); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, arch_caps[i].cap) <= 0)
			return err_set(err, errlen, -ENOTSUP,
				       "KVM lacks %s, which microvm needs: "
				       "use a newer host kernel",
				       arch_caps[i].name);
	return 0;
}

unsigned long arch_vm_type(const struct arch_vm *a)
{
	/* The default 40-bit IPA space: RAM from 2 GiB up to 1 TiB. */
	(void)a;
	return 0;
}

static int arch_gic_attr(int fd, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr da = {
		.group = group,
		.attr = attr,
		.addr = (uint64_t)(uintptr_t)val,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &da) ? -errno : 0;
}

/* A vGIC of `type` with its frames at the layout's addresses: 0, or a
 * negative errno (-ENODEV: the host cannot emulate this version). */
static int arch_gic_create(struct arch_vm *a, uint32_t type)
{
	struct kvm_create_device cd = {.type = type};
	const uint64_t dist = LAYOUT_GIC_DIST_ADDR;
	const uint64_t redist = LAYOUT_GIC_REDIST_ADDR;
	const uint64_t cpu = LAYOUT_GIC_CPU_ADDR;
	int v3 = type == KVM_DEV_TYPE_ARM_VGIC_V3, ret;

	if (ioctl(a->vm_fd, KVM_CREATE_DEVICE, &cd))
		return -errno;
	a->gic_fd = (int)cd.fd;
	ret = arch_gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
			    v3 ? KVM_VGIC_V3_ADDR_TYPE_DIST
			       : KVM_VGIC_V2_ADDR_TYPE_DIST,
			    &dist);
	if (!ret)
		ret = arch_gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				    v3 ? KVM_VGIC_V3_ADDR_TYPE_REDIST
				       : KVM_VGIC_V2_ADDR_TYPE_CPU,
				    v3 ? &redist : &cpu);
	if (ret) {
		close(a->gic_fd);
		a->gic_fd = -1;
		return ret;
	}
	a->gic_version = v3 ? 3 : 2;
	return 0;
}

int arch_vm_create(struct arch_vm *a, int vm_fd, char *err, size_t errlen)
{
	int ret;

	a->vm_fd = vm_fd;
	/* Before any vCPU, so the loader knows which GIC the device tree
	 * describes; it is initialized once every vCPU exists. */
	ret = arch_gic_create(a, KVM_DEV_TYPE_ARM_VGIC_V3);
	if (ret == -ENODEV || ret == -ENXIO || ret == -EINVAL)
		ret = arch_gic_create(a, KVM_DEV_TYPE_ARM_VGIC_V2);
	if (ret)
		return err_set(err, errlen, ret,
			       "creating the GIC (KVM_CREATE_DEVICE, GICv3 "
			       "then GICv2): %s",
			       strerror(-ret));
	return 0;
}

int arch_vcpu_init(struct arch_vm *a, int vcpu_fd, unsigned index,
		   unsigned ncpus, char *err, size_t errlen)
{
	struct kvm_vcpu_init init;

	(void)ncpus;
	memset(&init, 0, sizeof(init));
	if (ioctl(a->vm_fd, KVM_ARM_PREFERRED_TARGET, &init))
		return err_set(err, errlen, -errno,
			       "vCPU %u: KVM_ARM_PREFERRED_TARGET: %s", index,
			       strerror(errno));
	/* PSCI 0.2: the guest starts its secondaries (CPU_ON), resets and
	 * powers off through calls KVM turns into system events. */
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (index)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init))
		return err_set(err, errlen, -errno,
			       "vCPU %u: KVM_ARM_VCPU_INIT: %s", index,
			       strerror(errno));
	return 0;
}

int arch_vm_ready(struct arch_vm *a, unsigned ncpus, char *err, size_t errlen)
{
	const uint32_t nr_irqs = LAYOUT_GIC_NR_IRQS;
	int ret;

	(void)ncpus;
	ret = arch_gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0,
			    &nr_irqs);
	if (ret)
		return err_set(err, errlen, ret,
			       "GICv%d: setting %u interrupts: %s",
			       a->gic_version, nr_irqs, strerror(-ret));
	ret = arch_gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
			    KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (ret)
		return err_set(err, errlen, ret,
			       "GICv%d: KVM_DEV_ARM_VGIC_CTRL_INIT: %s",
			       a->gic_version, strerror(-ret));
	return 0;
}

void arch_vm_destroy(struct arch_vm *a)
{
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	a->gic_fd = -1;
}

uint32_t arch_irq_line_number(unsigned line)
{
	return (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT |
	       (LAYOUT_GIC_SPI_BASE + line);
}

/* The device tree for this VM into a heap buffer (8-byte aligned, as
 * libfdt and the kernel want it). */
static int arch_dtb(const struct arch_vm *a, const struct guest_mem *gm,
		    const char *cmdline, unsigned cpus, unsigned nr_virtio,
		    const struct arm64_boot_plan *p, void **blob, size_t *used,
		    char *err, size_t errlen)
{
	struct dtb_config c;
	int ret;

	ret = arm64_boot_dtb_config(gm, cmdline, cpus, nr_virtio,
				    a->gic_version, p, &c, err, errlen);
	if (ret)
		return ret;
	*blob = malloc(DTB_MAX_SIZE);
	if (!*blob)
		return err_set(err, errlen, -ENOMEM,
			       "out of memory for the device tree");
	ret = dtb_build(&c, *blob, DTB_MAX_SIZE, used, err, errlen);
	if (ret) {
		free(*blob);
		*blob = NULL;
	}
	return ret;
}

/* len bytes of src from offset 0 into guest memory at gpa. */
static int arch_copy(const struct guest_mem *gm, uint64_t gpa,
		     const struct boot_src *src, uint64_t len, const char *what,
		     char *err, size_t errlen)
{
	void *dst = guest_mem_ptr(gm, gpa, len);
	int ret;

	if (!dst)
		return err_set(err, errlen, -ENOMEM,
			       "the %s (%llu bytes at %#llx) is not inside one "
			       "RAM range: give more --mem",
			       what, (unsigned long long)len,
			       (unsigned long long)gpa);
	ret = boot_src_read(src, 0, dst, len);
	if (ret)
		return err_set(err, errlen, ret, "reading the %s: %s", what,
			       strerror(-ret));
	return 0;
}

int arch_load(const struct arch_vm *a, const struct guest_mem *gm,
	      const struct boot_src *kernel, const struct boot_src *initrd,
	      const char *cmdline, unsigned cpus, unsigned nr_virtio,
	      struct arch_boot *bi, char *err, size_t errlen)
{
	uint8_t hdr[ARM64_IMAGE_HDR_LEN];
	size_t hdr_len =
		kernel->len < sizeof(hdr) ? (size_t)kernel->len : sizeof(hdr);
	struct arm64_image img;
	struct arm64_boot_plan p;
	const struct region *ram = NULL;
	void *blob = NULL, *dst;
	size_t used = 0;
	int ret;

	memset(bi, 0, sizeof(*bi));
	for (unsigned i = 0; i < gm->nr && !ram; i++)
		if (!gm->regions[i].hotplug)
			ram = &gm->regions[i];
	if (!ram)
		return err_set(err, errlen, -ENOMEM, "no guest RAM");
	ret = boot_src_read(kernel, 0, hdr, hdr_len);
	if (ret)
		return err_set(err, errlen, ret, "reading the kernel: %s",
			       strerror(-ret));
	ret = arm64_boot_parse_image(hdr, hdr_len, kernel->len, &img, err,
				     errlen);
	if (!ret)
		ret = arm64_boot_plan(ram->gpa, ram->size, &img,
				      initrd ? initrd->len : 0, LAYOUT_DTB_MAX,
				      &p, err, errlen);
	if (!ret)
		ret = arch_copy(gm, p.kernel, kernel, img.file_len, "kernel",
				err, errlen);
	if (!ret && initrd)
		ret = arch_copy(gm, p.initrd, initrd, initrd->len, "initrd",
				err, errlen);
	if (!ret)
		ret = arch_dtb(a, gm, cmdline, cpus, nr_virtio, &p, &blob,
			       &used, err, errlen);
	if (ret)
		return ret;
	dst = guest_mem_ptr(gm, p.dtb, used);
	if (!dst) {
		free(blob);
		return err_set(err, errlen, -ENOMEM,
			       "the device tree does not fit in RAM: give "
			       "more --mem");
	}
	memcpy(dst, blob, used);
	free(blob);
	bi->entry = p.kernel;
	bi->dtb = p.dtb;
	bi->dtb_size = used;
	bi->kernel_size = img.image_size;
	bi->initrd = initrd ? p.initrd : 0;
	bi->initrd_size = initrd ? initrd->len : 0;
	return 0;
}

void arch_boot_describe(const struct arch_boot *bi, char *buf, size_t len)
{
	snprintf(buf, len,
		 "arm64 Image (%llu KiB) entry at %#llx, device tree (%llu "
		 "bytes) at %#llx",
		 (unsigned long long)(bi->kernel_size >> 10),
		 (unsigned long long)bi->entry,
		 (unsigned long long)bi->dtb_size, (unsigned long long)bi->dtb);
}

static int arch_set_reg(int fd, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&val};

	return ioctl(fd, KVM_SET_ONE_REG, &r) ? -errno : 0;
}

int arch_vcpu_boot(int vcpu_fd, const struct arch_boot *bi)
{
	/* booting.rst: x0 = the DTB's address, x1..x3 = 0, MMU and caches
	 * off (the reset state), interrupts masked. */
	int ret = arch_set_reg(vcpu_fd, ARM64_CORE_REG(regs.pstate),
			       ARM64_PSTATE_EL1H_DAIF);

	if (!ret)
		ret = arch_set_reg(vcpu_fd, ARM64_CORE_REG(regs.regs[0]),
				   bi->dtb);
	if (!ret)
		ret = arch_set_reg(vcpu_fd, ARM64_CORE_REG(regs.regs[1]), 0);
	if (!ret)
		ret = arch_set_reg(vcpu_fd, ARM64_CORE_REG(regs.regs[2]), 0);
	if (!ret)
		ret = arch_set_reg(vcpu_fd, ARM64_CORE_REG(regs.regs[3]), 0);
	if (!ret)
		ret = arch_set_reg(vcpu_fd, ARM64_CORE_REG(regs.pc), bi->entry);
	return ret;
}
