/*
 * The board: every device the guest sees, built in one place from the
 * typed configuration (struct cli_opts). The legacy devices (8250 UART on
 * COM1, i8042 for the reset line, the boot timer), the virtio-mmio slots
 * (slot i at LAYOUT_VIRTIO_MMIO_BASE + i * 4 KiB, IRQ
 * LAYOUT_VIRTIO_FIRST_IRQ + i, in the order disks, net, rng, balloon, mem), the
 * control socket that serves the balloon, and the kernel command line
 * fragments that announce them (virtio_mmio.device=..., root=/dev/vda).
 *
 * The board knows no KVM: interrupts, ioeventfd/irqfd, the event loop and
 * the guest's reset request go through struct board_hooks, so a test can
 * build a board with fakes. Devices are registered on the buses given to
 * board_build and their event sources handed to hooks->watch.
 */
#ifndef VMM_BOARD_H
#define VMM_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "arch/layout.h"
#include "devices/boot_timer.h"
#include "devices/bus.h"
#include "devices/event_source.h"
#include "devices/i8042.h"
#include "devices/serial8250.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mem.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "mem/guest_mem.h"
#include "vmm/cli.h"
#include "vmm/control.h"

#define BOARD_MAX_VIRTIO  (LAYOUT_VIRTIO_LAST_IRQ - LAYOUT_VIRTIO_FIRST_IRQ + 1)
#define BOARD_CMDLINE_MAX CLI_CMDLINE_MAX /* with its NUL */
#define BOARD_NAME_MAX	  24		  /* a slot's name, with its NUL */

/* What the board needs from the VM and the VMM; all called during
 * board_build on the calling thread, except irq_line and reset, which the
 * devices call later from any thread. */
struct board_hooks {
	/* The VM's interrupt routing (vmm/vm.h: vm_irq_line,
	 * vm_irqfd_hook, vm_ioeventfd_hook), each passed `vm`. */
	void *vm;
	/* Set an interrupt line's level (KVM_IRQ_LINE): an irq_line.set.
	 * Thread-safe. */
	void (*irq_line)(void *vm, unsigned gsi, int level);
	/* An irqfd for gsi (an eventfd the board then owns), or a negative
	 * errno: the device raises its line through irq_line. NULL: none. */
	int (*irqfd)(void *vm, unsigned gsi);
	/* Make guest writes of len bytes at addr signal fd; a negative
	 * errno: the notification exits to the VMM as an MMIO write, which
	 * the transport turns into the same signal. NULL: none. */
	int (*ioeventfd)(void *vm, int fd, uint64_t addr, unsigned len);
	/* The VMM's side, each passed `opaque`. */
	void *opaque;
	/* Watch s in the event loop (the source's events are its poll
	 * contract: take them as they are). 0 or a negative errno. */
	int (*watch)(void *opaque, const struct event_source *s);
	/* The guest asked for a reset (i8042 pulse). Any thread. */
	void (*reset)(void *opaque);
};

struct board {
	const struct cli_opts *o;
	const struct board_hooks *h;
	const struct guest_mem *gm;
	struct bus *pio, *mmio;
	struct serial8250 serial;
	int serial_ready;
	struct i8042 i8042;
	int i8042_ready;
	struct boot_timer timer;
	/* virtio devices; the structs are large: heap. */
	struct virtio_blk *disks[CLI_MAX_DISKS];
	unsigned nr_disks;
	struct virtio_net *net;
	struct virtio_rng *rng;
	struct virtio_balloon *balloon;
	struct virtio_mem *vmem; /* --mem-hotplug */
	struct control *ctl;	 /* --control-socket */
	/* The slots in order: slot i is vdevs[i] (not owned: the device
	 * structs above own them), its irqfd irqfds[i] (owned, or -1). */
	struct virtio_mmio_dev *vdevs[BOARD_MAX_VIRTIO];
	int irqfds[BOARD_MAX_VIRTIO];
	/* Slot names ("virtio-blk0"): the bus keeps the pointer, so they
	 * live here, not in the caller's buffer. */
	char names[BOARD_MAX_VIRTIO][BOARD_NAME_MAX];
	unsigned nr_vdevs;
	/* --cmdline and --cmdline-append, then the fragments the board
	 * appends: the kernel's whole command line. */
	char cmdline[BOARD_CMDLINE_MAX];
};

/* An empty board (nothing to free yet): board_free is then a no-op. */
void board_init(struct board *b);

/*
 * Build every device o asks for: the command line from --cmdline and
 * --cmdline-append; the virtio devices in slot order, each attached to gm,
 * registered on mmio, routed through irqfd/ioeventfd where the hooks give
 * them (unless o->no_irqfd / o->no_ioeventfd), watched, and announced on
 * the command line; root=/dev/vda when a disk is the root file system (no
 * initrd); the control socket; then the 8250, the i8042 and (with
 * --boot-timer) the boot timer, whose clock starts at t0_wall_ns and
 * t0_cpu_ns. o, gm, the buses and h must outlive the board. 0, or a
 * negative errno with a one-line reason in err (-E2BIG: the command line
 * does not fit; -ENOSPC: more virtio devices than IRQs); what was built
 * is freed by board_free.
 */
int board_build(struct board *b, const struct cli_opts *o,
		const struct guest_mem *gm, struct bus *pio, struct bus *mmio,
		const struct board_hooks *h, uint64_t t0_wall_ns,
		uint64_t t0_cpu_ns, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Place d (initialized, not attached) in the next virtio slot: attach it,
 * register it on the MMIO bus as `name` (copied, truncated to
 * BOARD_NAME_MAX - 1 bytes), route it and watch its event
 * source, append its virtio_mmio.device= fragment to the command line.
 * board_build calls it for each device; b must have been through
 * board_build's first step (the buses, hooks and command line set). 0, or
 * a negative errno with the reason in err (-ENOSPC: no slot left; -E2BIG:
 * the fragment does not fit). The caller keeps owning d.
 */
int board_add_virtio(struct board *b, struct virtio_mmio_dev *d,
		     const char *name, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Close every device in teardown order (disks flush with fdatasync as they
 * close: call after the vCPUs stopped), the irqfds, the i8042 and the
 * 8250. Safe after a failed or partial board_build, and twice.
 */
void board_free(struct board *b);

#endif
