/*
 * The guest physical map of the architecture this VMM is built for (KVM runs
 * guests of the host's own architecture, so the compiler's target picks it).
 * Shared code (devices/, vmm/) includes this header, never an arch's own.
 * Every arch's layout.h defines the same shared names: LAYOUT_KiB/MiB/GiB,
 * LAYOUT_BOOT_TIMER_ADDR/MAGIC, LAYOUT_MMIO_SLOT_SIZE, LAYOUT_VIRTIO_MMIO_BASE,
 * LAYOUT_VIRTIO_FIRST_IRQ/LAST_IRQ, LAYOUT_RAM_START and the MMIO gap.
 */
#ifndef ARCH_LAYOUT_H
#define ARCH_LAYOUT_H

#if defined(__x86_64__)
#include "arch/x86/layout.h"
#elif defined(__aarch64__)
#include "arch/arm64/layout.h"
#else
#error "microvm builds for x86_64 or aarch64 hosts only"
#endif

#endif
