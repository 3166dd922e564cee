#include "vmm/board.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

void board_init(struct board *b)
{
	memset(b, 0, sizeof(*b));
	for (unsigned i = 0; i < BOARD_MAX_VIRTIO; i++)
		b->irqfds[i] = -1;
}

/* Every failure path fills err: main prints it as the one error line. */
static int board_oom(const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory allocating %s", what);
	return -ENOMEM;
}

static int board_cmdline(struct board *b, char *err, size_t errlen)
{
	const char *append = b->o->cmdline_append;
	int n = snprintf(b->cmdline, sizeof(b->cmdline), "%s%s%s",
			 b->o->cmdline, append ? " " : "",
			 append ? append : "");

	if (n < 0 || (size_t)n >= sizeof(b->cmdline)) {
		b->cmdline[0] = '\0';
		snprintf(
			err, errlen,
			"the kernel command line (--cmdline and "
			"--cmdline-append) is longer than %d bytes: shorten it",
			BOARD_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	return 0;
}

/* What microvm appends to --cmdline did not fit: say so, with the limit
 * and the fix (not the ENOSPC of the snprintf that found out). */
static int board_cmdline_full(struct board *b, const char *adding, char *err,
			      size_t errlen)
{
	snprintf(err, errlen,
		 "kernel command line too long: --cmdline is %zu bytes and "
		 "microvm must append %s to it, over the limit of %d bytes: "
		 "shorten --cmdline",
		 strlen(b->o->cmdline), adding, BOARD_CMDLINE_MAX - 1);
	return -E2BIG;
}

/* Slot i of the MMIO gap, IRQ 5 + i: attach, register, announce on the
 * kernel command line, and route notifications and interrupts through
 * ioeventfd/irqfd where KVM has them (MMIO exits and KVM_IRQ_LINE else). */
int board_add_virtio(struct board *b, struct virtio_mmio_dev *d,
		     const char *name, char *err, size_t errlen)
{
	const struct board_hooks *h = b->h;
	unsigned i = b->nr_vdevs;
	uint64_t base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_MMIO_SLOT_SIZE;
	struct irq_line irq = {
		.set = h->irq_line,
		.opaque = h->vm,
		.gsi = LAYOUT_VIRTIO_FIRST_IRQ + i,
		.irqfd = -1,
	};
	struct event_source src;
	size_t len = strlen(b->cmdline);
	int ret;

	if (i >= BOARD_MAX_VIRTIO) {
		snprintf(err, errlen,
			 "too many virtio devices: at most %d (IRQs %d-%d)",
			 BOARD_MAX_VIRTIO, LAYOUT_VIRTIO_FIRST_IRQ,
			 LAYOUT_VIRTIO_LAST_IRQ);
		return -ENOSPC;
	}
	ret = b->o->no_irqfd || !h->irqfd ? -1 : h->irqfd(h->vm, irq.gsi);
	irq.irqfd = ret >= 0 ? ret : -1;
	b->irqfds[i] = irq.irqfd;
	snprintf(b->names[i], sizeof(b->names[i]), "%s", name);
	name = b->names[i];
	ret = virtio_mmio_attach(d, b->gm, base, &irq);
	if (ret)
		goto fail;
	b->vdevs[i] = d;
	b->nr_vdevs++;
	ret = bus_add(b->mmio, base, VIRTIO_MMIO_SLOT_SIZE,
		      &virtio_mmio_bus_ops, d, name);
	if (ret)
		goto fail;
	if (b->o->no_ioeventfd || !h->ioeventfd ||
	    h->ioeventfd(h->vm, virtio_mmio_event_fd(d),
			 base + VIRTIO_MMIO_REG_QUEUE_NOTIFY, 4))
		log_info("%s: no ioeventfd, queue notifications exit to the "
			 "VMM",
			 name);
	src = virtio_mmio_source(d);
	ret = h->watch(h->opaque, &src);
	if (ret)
		goto fail;
	/* Where the guest learns of it from a device tree (arm64), the
	 * command line stays the user's. */
	if (LAYOUT_VIRTIO_ON_CMDLINE &&
	    (len + 1 >= sizeof(b->cmdline) ||
	     virtio_mmio_cmdline(d, b->cmdline + len + 1,
				 sizeof(b->cmdline) - len - 1) < 0)) {
		b->cmdline[len] = '\0';
		return board_cmdline_full(
			b, "a virtio_mmio.device= parameter per virtio device",
			err, errlen);
	}
	if (LAYOUT_VIRTIO_ON_CMDLINE)
		b->cmdline[len] = ' ';
	log_info("%s at %#llx IRQ %u%s", name, (unsigned long long)base,
		 irq.gsi, irq.irqfd >= 0 ? " (irqfd)" : "");
	return 0;
fail:
	snprintf(err, errlen, "setting up %s: %s", name, strerror(-ret));
	return ret;
}

static int board_disks(struct board *b, char *err, size_t errlen)
{
	const struct cli_opts *o = b->o;
	char name[32];
	int ret;

	for (unsigned i = 0; i < o->nr_disks; i++) {
		struct virtio_blk *d = calloc(1, sizeof(*d));

		if (!d)
			return board_oom("a virtio-blk device", err, errlen);
		ret = virtio_blk_open(d, o->disks[i].path, o->disks[i].ro, err,
				      errlen);
		if (ret) {
			free(d);
			return ret;
		}
		b->disks[b->nr_disks++] = d;
		snprintf(name, sizeof(name), "virtio-blk%u", i);
		ret = board_add_virtio(b, &d->mmio, name, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int board_net(struct board *b, char *err, size_t errlen)
{
	struct event_source tap;
	int ret;

	b->net = calloc(1, sizeof(*b->net));
	if (!b->net)
		return board_oom("the virtio-net device", err, errlen);
	ret = virtio_net_open(b->net, &b->o->net, err, errlen);
	if (ret) {
		free(b->net);
		b->net = NULL;
		return ret;
	}
	ret = board_add_virtio(b, &b->net->mmio, "virtio-net", err, errlen);
	if (ret)
		return ret;
	/* The device says how (edge-triggered): frames it leaves in the TAP
	 * while the guest has no buffers must not wake us. */
	tap = virtio_net_tap_source(b->net);
	ret = b->h->watch(b->h->opaque, &tap);
	if (ret)
		snprintf(err, errlen, "epoll_ctl (virtio-net TAP): %s",
			 strerror(-ret));
	return ret;
}

static int board_rng(struct board *b, char *err, size_t errlen)
{
	b->rng = calloc(1, sizeof(*b->rng));
	if (!b->rng)
		return board_oom("the virtio-rng device", err, errlen);
	virtio_rng_init(b->rng);
	return board_add_virtio(b, &b->rng->mmio, "virtio-rng", err, errlen);
}

/* --balloon, its stats timer on the event loop. */
static int board_balloon(struct board *b, char *err, size_t errlen)
{
	struct event_source timer;
	int ret;

	b->balloon = calloc(1, sizeof(*b->balloon));
	if (!b->balloon)
		return board_oom("the virtio-balloon device", err, errlen);
	ret = virtio_balloon_init(b->balloon, &b->o->balloon);
	if (ret) {
		free(b->balloon);
		b->balloon = NULL;
		snprintf(err, errlen, "virtio-balloon stats timer: %s",
			 strerror(-ret));
		return ret;
	}
	ret = board_add_virtio(b, &b->balloon->mmio, "virtio-balloon", err,
			       errlen);
	if (ret)
		return ret;
	timer = virtio_balloon_timer_source(b->balloon);
	if (timer.fd >= 0 && (ret = b->h->watch(b->h->opaque, &timer)))
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
	return ret;
}

/* --mem-hotplug: virtio-mem over the hotplug region the memory step
 * mapped (the region marked hotplug in gm). */
static int board_hotplug(struct board *b, char *err, size_t errlen)
{
	struct virtio_mem_cfg cfg = {.requested = b->o->hotplug.plugged};
	const struct region *r = NULL;
	struct event_source done;
	int ret;

	for (unsigned i = 0; i < b->gm->nr; i++)
		if (b->gm->regions[i].hotplug)
			r = &b->gm->regions[i];
	if (!r) {
		snprintf(err, errlen, "internal: no hotplug region mapped");
		return -EINVAL;
	}
	cfg.lay.addr = r->gpa;
	cfg.lay.region_size = r->size;
	cfg.lay.usable_size = r->size;
	cfg.lay.block_size =
		r->page_size > (2ULL << 20) ? r->page_size : 2ULL << 20;
	b->vmem = calloc(1, sizeof(*b->vmem));
	if (!b->vmem)
		return board_oom("the virtio-mem device", err, errlen);
	ret = virtio_mem_init(b->vmem, &cfg);
	if (ret) {
		snprintf(err, errlen,
			 "virtio-mem: region %#llx+%llu MiB, plugged=%llu "
			 "MiB: %s",
			 (unsigned long long)r->gpa,
			 (unsigned long long)(r->size >> 20),
			 (unsigned long long)(cfg.requested >> 20),
			 strerror(-ret));
		return ret;
	}
	ret = board_add_virtio(b, &b->vmem->mmio, "virtio-mem", err, errlen);
	if (ret)
		return ret;
	/* PLUG populates on these, off the event loop: now, before
	 * seccomp (the VMM thread may not create threads). */
	ret = virtio_mem_start_workers(b->vmem, 0);
	if (ret) {
		snprintf(err, errlen,
			 "virtio-mem: cannot start populate threads: %s",
			 strerror(-ret));
		return ret;
	}
	done = virtio_mem_done_source(b->vmem);
	if ((ret = b->h->watch(b->h->opaque, &done)))
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
	return ret;
}

/* --control-socket: serves the balloon (set target, read counters). */
static int board_control(struct board *b, char *err, size_t errlen)
{
	struct event_source src;
	int ret;

	b->ctl = calloc(1, sizeof(*b->ctl));
	if (!b->ctl)
		return board_oom("the control socket", err, errlen);
	ret = control_open(b->ctl, b->o->control_socket, b->gm, b->balloon, err,
			   errlen);
	if (ret) {
		free(b->ctl);
		b->ctl = NULL;
		return ret;
	}
	control_set_mem(b->ctl, b->vmem);
	src = control_source(b->ctl);
	ret = b->h->watch(b->h->opaque, &src);
	if (ret)
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
	return ret;
}

/* Without an initrd the first disk is the root file system. */
static int board_root(struct board *b, char *err, size_t errlen)
{
	size_t len = strlen(b->cmdline);
	int n = snprintf(b->cmdline + len, sizeof(b->cmdline) - len,
			 " root=/dev/vda %s", b->disks[0]->ro ? "ro" : "rw");

	if (n < 0 || (size_t)n >= sizeof(b->cmdline) - len) {
		b->cmdline[len] = '\0';
		return board_cmdline_full(
			b, "root=/dev/vda for the root --disk", err, errlen);
	}
	return 0;
}

/* The i8042 on its two ports. */
static int board_i8042(struct board *b)
{
	int ret = i8042_init(&b->i8042, b->h->reset, b->h->opaque);

	if (ret)
		return ret;
	b->i8042_ready = 1;
	ret = bus_add(b->pio, LAYOUT_I8042_DATA_PORT, 1, &i8042_data_ops,
		      &b->i8042, "i8042-data");
	if (!ret)
		ret = bus_add(b->pio, LAYOUT_I8042_CMD_PORT, 1, &i8042_cmd_ops,
			      &b->i8042, "i8042-cmd");
	return ret;
}

/* The console UART (x86: COM1 on the port bus; arm64: an MMIO page), the
 * i8042 where the arch has one (its reset line ends the VM) and the boot
 * timer's MMIO page. */
static int board_legacy(struct board *b, uint64_t t0_wall_ns,
			uint64_t t0_cpu_ns, char *err, size_t errlen)
{
	struct irq_line com1 = {
		.set = b->h->irq_line,
		.opaque = b->h->vm,
		.gsi = LAYOUT_SERIAL_IRQ,
		.irqfd = -1,
	};
	int ret;

	ret = serial8250_init(&b->serial, STDOUT_FILENO, &com1);
	if (ret)
		goto fail;
	b->serial_ready = 1;
	ret = bus_add(LAYOUT_SERIAL_ON_PIO ? b->pio : b->mmio,
		      LAYOUT_SERIAL_ADDR, SERIAL8250_LEN, &serial8250_ops,
		      &b->serial, "serial8250");
	if (ret)
		goto fail;
	if (LAYOUT_HAS_I8042)
		ret = board_i8042(b);
	if (ret)
		goto fail;
	boot_timer_init(&b->timer, t0_wall_ns, t0_cpu_ns);
	if (b->o->boot_timer) {
		ret = bus_add(b->mmio, LAYOUT_BOOT_TIMER_ADDR,
			      LAYOUT_MMIO_SLOT_SIZE, &boot_timer_ops, &b->timer,
			      "boot-timer");
		if (ret)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "setting up devices: %s", strerror(-ret));
	return ret;
}

int board_build(struct board *b, const struct cli_opts *o,
		const struct guest_mem *gm, struct bus *pio, struct bus *mmio,
		const struct board_hooks *h, uint64_t t0_wall_ns,
		uint64_t t0_cpu_ns, char *err, size_t errlen)
{
	int ret;

	b->o = o;
	b->gm = gm;
	b->pio = pio;
	b->mmio = mmio;
	b->h = h;
	ret = board_cmdline(b, err, errlen);
	if (!ret)
		ret = board_disks(b, err, errlen);
	if (!ret && o->has_net)
		ret = board_net(b, err, errlen);
	if (!ret && o->rng)
		ret = board_rng(b, err, errlen);
	if (!ret && o->has_balloon)
		ret = board_balloon(b, err, errlen);
	if (!ret && o->has_hotplug)
		ret = board_hotplug(b, err, errlen);
	if (!ret && o->control_socket)
		ret = board_control(b, err, errlen);
	if (!ret && o->nr_disks && !o->initrd)
		ret = board_root(b, err, errlen);
	if (!ret)
		ret = board_legacy(b, t0_wall_ns, t0_cpu_ns, err, errlen);
	return ret;
}

void board_free(struct board *b)
{
	/* Disks flush (fdatasync) as they close. */
	for (unsigned i = 0; i < b->nr_disks; i++) {
		virtio_blk_close(b->disks[i]);
		free(b->disks[i]);
	}
	b->nr_disks = 0;
	if (b->net) {
		virtio_net_close(b->net);
		free(b->net);
		b->net = NULL;
	}
	if (b->rng) {
		virtio_rng_close(b->rng);
		free(b->rng);
		b->rng = NULL;
	}
	if (b->ctl) {
		control_close(b->ctl);
		free(b->ctl);
		b->ctl = NULL;
	}
	if (b->balloon) {
		virtio_balloon_close(b->balloon);
		free(b->balloon);
		b->balloon = NULL;
	}
	if (b->vmem) {
		virtio_mem_close(b->vmem);
		free(b->vmem);
		b->vmem = NULL;
	}
	/* Every slot's, including one whose attach failed. */
	for (unsigned i = 0; i < BOARD_MAX_VIRTIO; i++) {
		if (b->irqfds[i] >= 0)
			close(b->irqfds[i]);
		b->irqfds[i] = -1;
	}
	b->nr_vdevs = 0;
	if (b->i8042_ready)
		i8042_destroy(&b->i8042);
	b->i8042_ready = 0;
	if (b->serial_ready)
		serial8250_destroy(&b->serial);
	b->serial_ready = 0;
}
