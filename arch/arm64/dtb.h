/*
 * The arm64 guest's flattened device tree, built with libfdt's
 * sequential-write API into a caller's buffer: memory, CPUs with the PSCI
 * enable-method, PSCI, the GIC (v3 or v2), the architected timer, the 16550
 * UART as stdout-path, one virtio-mmio node per device and /chosen. Plain
 * C with no KVM or guest-memory dependency, so it is unit-tested on any host.
 */
#ifndef ARCH_ARM64_DTB_H
#define ARCH_ARM64_DTB_H

#include <stddef.h>
#include <stdint.h>

#define DTB_MAX_CPUS   64
#define DTB_MAX_MEM    8
#define DTB_MAX_VIRTIO 16
#define DTB_MAX_SIZE   (64 * 1024)
/* Longest bootargs accepted, with its NUL (arm64 COMMAND_LINE_SIZE). */
#define DTB_MAX_BOOTARGS 2048
/* GICv3 redistributor frames per vCPU (RD_base + SGI_base, no VLPI). */
#define DTB_GICV3_REDIST_STRIDE 0x20000
/* GICv2 addresses at most 8 CPUs (the PPI CPU mask is 8 bits). */
#define DTB_GICV2_MAX_CPUS 8

struct dtb_range {
	uint64_t base, size;
};

struct dtb_virtio {
	struct dtb_range reg;
	uint32_t spi; /* the DT cell (INTID - 32) */
};

enum dtb_gic { DTB_GIC_V2 = 2, DTB_GIC_V3 = 3 };

struct dtb_config {
	unsigned nr_cpus; /* 1..64; cpu n has reg mpidr(n), see cpu_mpidr */
	unsigned nr_mem;  /* one memory@BASE node per range */
	struct dtb_range mem[DTB_MAX_MEM];
	enum dtb_gic gic;
	struct dtb_range gic_dist;
	struct dtb_range gic_cpu; /* v2: CPU interface; v3: redistributors */
	struct dtb_range uart;
	uint32_t uart_spi;
	uint32_t uart_clock_hz;
	unsigned nr_virtio;
	struct dtb_virtio virtio[DTB_MAX_VIRTIO];
	const char *bootargs;		   /* /chosen/bootargs; NULL: none */
	uint64_t initrd_start, initrd_end; /* equal: no initrd properties */
	/* NULL: cpu n's reg is dtb_cpu_mpidr(n), KVM's reset MPIDR; else
	 * nr_cpus values read from the vCPUs (MPIDR_EL1, affinity bits). */
	const uint64_t *cpu_mpidr;
};

/* The affinity KVM gives vCPU n at reset (Aff0 = n & 0xf, Aff1 = n >> 4:
 * GICv3 SGIs reach 16 CPUs per Aff0 group), which is cpu n's reg. */
uint64_t dtb_cpu_mpidr(unsigned n);

/* Build the flattened device tree for c into buf (len bytes, 8-byte
 * aligned; DTB_MAX_SIZE is enough for every valid c); *used gets the blob's
 * size (fdt_totalsize). 0, or -EINVAL (c out of range) / -ENOSPC with one
 * line in err. No allocation; buf is the caller's. */
int dtb_build(const struct dtb_config *c, void *buf, size_t len, size_t *used,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
