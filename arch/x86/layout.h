/* The x86_64 guest-physical map: constants shared by boot/, devices/, vmm/. */
#ifndef ARCH_X86_LAYOUT_H
#define ARCH_X86_LAYOUT_H

#include <stdint.h>

#define LAYOUT_KiB (1ULL << 10)
#define LAYOUT_MiB (1ULL << 20)
#define LAYOUT_GiB (1ULL << 30)

/* Low RAM runs from 0 up to the MMIO gap; RAM above it starts at 4 GiB. */
#define LAYOUT_MMIO_GAP_START (3ULL * LAYOUT_GiB)
#define LAYOUT_MMIO_GAP_END   (4ULL * LAYOUT_GiB)
#define LAYOUT_HIGH_RAM_START LAYOUT_MMIO_GAP_END

/* Boot structures in low memory. */
#define LAYOUT_GDT_ADDR	      0x500ULL
#define LAYOUT_IDT_ADDR	      0x520ULL
#define LAYOUT_PVH_INFO_ADDR  0x6000ULL /* hvm_start_info + memmap */
#define LAYOUT_ZERO_PAGE_ADDR 0x7000ULL /* struct boot_params */
#define LAYOUT_BOOT_STACK     0x8ff0ULL
#define LAYOUT_PML4_ADDR      0x9000ULL
#define LAYOUT_PDPTE_ADDR     0xa000ULL
#define LAYOUT_PDE_ADDR	      0xb000ULL /* 4 pages: identity map of 4 GiB */
#define LAYOUT_CMDLINE_ADDR   0x20000ULL
#define LAYOUT_CMDLINE_MAX    4096ULL
#define LAYOUT_EBDA_START     0x9fc00ULL  /* MP table lives here */
#define LAYOUT_HIMEM_START    0x100000ULL /* kernel load address */

/* KVM needs three pages for the TSS and one for the identity map, placed
 * in the MMIO gap just below 4 GiB where no RAM or device lives. */
#define LAYOUT_KVM_TSS_ADDR   0xfffbd000ULL
#define LAYOUT_KVM_IDMAP_ADDR 0xfffbc000ULL

/* MMIO devices, in the gap. The boot timer is first. */
#define LAYOUT_BOOT_TIMER_ADDR	0xc0000000ULL
#define LAYOUT_BOOT_TIMER_MAGIC 123
#define LAYOUT_MMIO_SLOT_SIZE	0x1000ULL
#define LAYOUT_VIRTIO_MMIO_BASE 0xc0001000ULL
#define LAYOUT_VIRTIO_FIRST_IRQ 5
#define LAYOUT_VIRTIO_LAST_IRQ	23

/* IOAPIC and LAPIC (for the MP table). */
#define LAYOUT_IOAPIC_ADDR 0xfec00000ULL
#define LAYOUT_LAPIC_ADDR  0xfee00000ULL

/* Legacy ports. */
#define LAYOUT_COM1_PORT       0x3f8
#define LAYOUT_COM1_IRQ	       4
#define LAYOUT_I8042_DATA_PORT 0x60
#define LAYOUT_I8042_CMD_PORT  0x64

/* What the board builds (vmm/board.c): the console UART is COM1 on the
 * port bus, an i8042 carries the reset line, and the kernel learns the
 * virtio-mmio slots from virtio_mmio.device= on its command line. */
#define LAYOUT_SERIAL_ON_PIO	 1
#define LAYOUT_SERIAL_ADDR	 LAYOUT_COM1_PORT
#define LAYOUT_SERIAL_IRQ	 LAYOUT_COM1_IRQ
#define LAYOUT_HAS_I8042	 1
#define LAYOUT_VIRTIO_ON_CMDLINE 1

/* RAM from guest address 0, around the MMIO gap. */
#define LAYOUT_RAM_START 0ULL

#endif
