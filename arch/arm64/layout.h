/*
 * The arm64 guest-physical map (the "virt"-like board of the arm64
 * contract): devices below 2 GiB, RAM from 2 GiB upward. Constants shared
 * by arch/, devices/ and vmm/ through arch/layout.h.
 */
#ifndef ARCH_ARM64_LAYOUT_H
#define ARCH_ARM64_LAYOUT_H

#include <stdint.h>

#define LAYOUT_KiB (1ULL << 10)
#define LAYOUT_MiB (1ULL << 20)
#define LAYOUT_GiB (1ULL << 30)

/* RAM starts at 2 GiB; everything below is devices. memmap places zones
 * from guest address 0 around the "gap" [0, 2 GiB): all above it. */
#define LAYOUT_RAM_START      (2ULL * LAYOUT_GiB)
#define LAYOUT_MMIO_GAP_START 0ULL
#define LAYOUT_MMIO_GAP_END   LAYOUT_RAM_START
#define LAYOUT_HIGH_RAM_START LAYOUT_RAM_START

/* GICv3 distributor and redistributors (one 128 KiB frame pair per vCPU,
 * 64 vCPUs at most); a GICv2 has its CPU interface after the
 * distributor. */
#define LAYOUT_GIC_DIST_ADDR	 0x08000000ULL
#define LAYOUT_GIC_DIST_SIZE	 0x10000ULL
#define LAYOUT_GIC_CPU_ADDR	 0x08010000ULL
#define LAYOUT_GIC_CPU_SIZE	 0x2000ULL
#define LAYOUT_GIC_REDIST_ADDR	 0x080a0000ULL
#define LAYOUT_GIC_REDIST_STRIDE 0x20000ULL
#define LAYOUT_GIC_MAX_CPUS	 64
/* SPIs are INTIDs 32 up; the GIC gets 32 private + 96 shared lines. */
#define LAYOUT_GIC_SPI_BASE 32
#define LAYOUT_GIC_NR_IRQS  128

/* The console UART: a 16550 on an MMIO page, SPI 1 (INTID 33). */
#define LAYOUT_UART_ADDR     0x09000000ULL
#define LAYOUT_UART_SIZE     0x1000ULL
#define LAYOUT_UART_SPI	     1
#define LAYOUT_UART_CLOCK_HZ 1843200

/* MMIO devices: the boot timer, then one page per virtio-mmio slot n with
 * SPI 16 + n (INTID 48 + n). */
#define LAYOUT_BOOT_TIMER_ADDR	0x0a000000ULL
#define LAYOUT_BOOT_TIMER_MAGIC 123
#define LAYOUT_MMIO_SLOT_SIZE	0x1000ULL
#define LAYOUT_VIRTIO_MMIO_BASE 0x0a001000ULL
#define LAYOUT_VIRTIO_FIRST_IRQ 16
#define LAYOUT_VIRTIO_LAST_IRQ	31

/* What the board builds (vmm/board.c): the UART on the MMIO bus, no
 * i8042 (PSCI resets and powers off), and the virtio-mmio slots in the
 * device tree rather than on the command line. */
#define LAYOUT_SERIAL_ON_PIO	 0
#define LAYOUT_SERIAL_ADDR	 LAYOUT_UART_ADDR
#define LAYOUT_SERIAL_IRQ	 LAYOUT_UART_SPI
#define LAYOUT_HAS_I8042	 0
#define LAYOUT_VIRTIO_ON_CMDLINE 0

/* The i8042 ports exist on x86 only; the shared board code names them
 * behind LAYOUT_HAS_I8042. */
#define LAYOUT_I8042_DATA_PORT 0x60
#define LAYOUT_I8042_CMD_PORT  0x64

/* Boot: the kernel Image 2 MiB aligned at RAM start + text_offset; the
 * device tree at most 64 KiB, never crossing a 2 MiB boundary. */
#define LAYOUT_KERNEL_ALIGN (2ULL * LAYOUT_MiB)
#define LAYOUT_DTB_MAX	    (64ULL * LAYOUT_KiB)

#endif
