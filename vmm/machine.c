/*
 * One microVM from a checked configuration to its exit status. machine_run
 * at the bottom is the whole story, one step per function; each step says
 * what it builds and leaves the rest to its module: vmm/board.c (every
 * device), vmm/loop.c (the event loop), vmm/console.c (the terminal),
 * vmm/signals.c (stop signals). docs/architecture.md has the data flow,
 * threads, locks and layers.
 */
#include "vmm/machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "arch/layout.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "mem/memmap.h"
#include "mem/snapshot.h"
#include "vmm/board.h"
#include "vmm/console.h"
#include "vmm/image.h"
#include "vmm/kvm_stats.h"
#include "vmm/loop.h"
#include "vmm/memory.h"
#include "vmm/seccomp.h"
#include "vmm/signals.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Everything one VM owns; torn down in reverse order by machine_free. */
struct machine {
	const struct cli_opts *o;
	struct machine_timing t0;
	struct signals sig;
	struct image kernel, initrd; /* open until loaded */
	struct loop loop;
	struct vm vm;
	int vm_open;
	struct memory mem;
	struct board_hooks hooks; /* the board's view of the VM and loop */
	struct board board;
	struct arch_boot bi;
	struct vcpu vcpus[VM_MAX_VCPUS];
	unsigned nr_vcpus;
	struct console console;
	struct console_in con; /* terminal -> serial, when it is ours */
	int con_ready;
	struct seccomp_filters seccomp; /* built unless --no-seccomp */
	/* what the vCPU threads get: &seccomp, or NULL (--no-seccomp) */
	const struct seccomp_filters *vcpu_filters;
	struct kvm_stats_src stats;
	int setup_stopped; /* a stop signal came before the guest ran */
	struct machine_timing first_run; /* vCPU 0 entered the guest */
	/* --restore: the snapshot's state (freed once the vCPUs are set),
	 * the configuration rebuilt from it (o points here), and the lazy
	 * memory handler. */
	struct snapshot_state *snap;
	struct cli_opts ro;
	struct memsnap_lazy lazy;
};

void machine_timing_now(struct machine_timing *t)
{
	t->wall_ns = clock_wall_ns();
	t->cpu_ns = clock_cpu_ns();
}

/* Between setup steps: -EINTR if a stop signal came. */
static int machine_setup_check(struct machine *m, char *err, size_t errlen)
{
	if (!signals_poll(&m->sig, 0))
		return 0;
	m->setup_stopped = 1;
	snprintf(err, errlen, "stopped by %s during setup",
		 strsignal(m->sig.signo));
	return -EINTR;
}

/* Stop signals first, blocked before anything is acquired so one during
 * setup reaches the cleanup (vmm/signals.h); then the files the command
 * line names, the loop's epoll set, and /dev/kvm (its API version and
 * every capability we use). */
/* --restore: the options the snapshot fixes, from its configuration;
 * --pages may change the page policy. */
static void machine_restore_opts(struct machine *m)
{
	const struct snapshot_config *c = &m->snap->cfg;
	struct cli_opts *r = &m->ro;

	*r = *m->o;
	r->mem_size = c->mem_size;
	if (!m->o->pages_set) {
		r->policy.pages = (enum region_pages)c->pages;
		r->policy.has_fallback = 0;
	}
	/* The zones as saved, populated from the snapshot (no prefault),
	 * each with its saved page policy unless --pages overrides them
	 * all. A --mem-file zone restores as anonymous memory filled from
	 * the file (lazily or by copy, as the rest): the file stays the
	 * first VM's (clones must not share it), the snapshot only names
	 * it. */
	r->nr_zones = c->nr_zones;
	memset(r->zones, 0, sizeof(r->zones));
	for (unsigned i = 0; i < c->nr_zones; i++) {
		const struct snapshot_zone *sz = &c->zones[i];
		struct memmap_zone *z = &r->zones[i];

		snprintf(z->id, sizeof(z->id), "%s", sz->id);
		z->size = sz->size;
		z->policy = r->policy;
		if (!m->o->pages_set)
			z->policy.pages = (enum region_pages)sz->pages;
		z->policy.has_fallback = 0;
		z->policy.backing = sz->backing == REGION_BACKING_SHARED
					    ? REGION_BACKING_SHARED
					    : REGION_BACKING_ANON;
		z->policy.path = NULL;
		z->policy.origin = NULL;
		z->host_node = sz->host_node;
	}
	r->has_hotplug = (int)c->has_hotplug;
	memset(&r->hotplug, 0, sizeof(r->hotplug));
	if (c->has_hotplug) {
		r->hotplug.size = c->hotplug_size;
		r->hotplug.pages = (enum region_pages)c->hotplug_pages;
		r->hotplug.plugged = c->hotplug_plugged;
		r->hotplug.host_node = c->hotplug_node;
		snprintf(r->hotplug.id, sizeof(r->hotplug.id), "%s",
			 c->hotplug_id);
	}
	r->cpus = c->cpus;
	r->boot_timer = (int)c->boot_timer;
	r->nr_disks = c->nr_disks;
	memcpy(r->disks, c->disks, sizeof(r->disks));
	r->has_net = (int)c->has_net;
	memset(&r->net, 0, sizeof(r->net));
	memcpy(r->net.tap, c->tap,
	       sizeof(r->net.tap) < sizeof(c->tap) ? sizeof(r->net.tap)
						   : sizeof(c->tap));
	r->net.tap[sizeof(r->net.tap) - 1] = '\0';
	memcpy(r->net.mac, c->mac, sizeof(r->net.mac));
	r->net.has_mac = (int)c->has_mac;
	r->rng = (int)c->rng;
	r->has_balloon = (int)c->has_balloon;
	r->balloon.reporting = (int)c->balloon_reporting;
	r->balloon.deflate_on_oom = (int)c->balloon_deflate_on_oom;
	r->balloon.stats_interval = c->balloon_stats;
	m->o = r;
}

/* --restore: read and check the state file before anything else. */
static int machine_open_snapshot(struct machine *m, char *err, size_t errlen)
{
	int ret;

	m->snap = calloc(1, sizeof(*m->snap));
	if (!m->snap) {
		snprintf(err, errlen, "out of memory for the snapshot state");
		return -ENOMEM;
	}
	ret = snapshot_state_read(m->o->restore, m->snap, err, errlen);

	if (!ret)
		machine_restore_opts(m);
	return ret;
}

static int machine_open(struct machine *m, char *err, size_t errlen)
{
	int ret = signals_open(&m->sig, err, errlen);

	if (!ret && m->o->restore)
		ret = machine_open_snapshot(m, err, errlen);
	else if (!ret)
		ret = image_open(&m->kernel, "kernel", m->o->kernel, err,
				 errlen);
	if (!ret && m->o->initrd)
		ret = image_open(&m->initrd, "initrd", m->o->initrd, err,
				 errlen);
	if (ret)
		return ret;
	ret = loop_init(&m->loop);
	if (ret) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(-ret));
		return ret;
	}
	ret = vm_open(&m->vm, err, errlen);
	m->vm_open = !ret;
	/* The seccomp lists, compiled now: a lazy restore's handler thread
	 * (machine_memory) loads its own as it starts. */
	if (!ret)
		ret = seccomp_setup(&m->seccomp, m->o, &m->vcpu_filters, err,
				    errlen);
	return ret;
}

/* Guest memory: every zone mapped around the MMIO gap with its policy
 * (pools reserved, nodes bound), then the prefault and locks
 * (vmm/memory.h). */
static int machine_memory(struct machine *m, char *err, size_t errlen)
{
	const struct cli_opts *o = m->o;
	int ret;

	ret = memmap_zones_check(o->zones, o->nr_zones, err, errlen);
	if (!ret)
		ret = memmap_build_zones(&m->mem.gm, o->zones, o->nr_zones,
					 LAYOUT_MMIO_GAP_START,
					 LAYOUT_MMIO_GAP_END, &m->mem.info, err,
					 errlen);
	if (!ret && o->has_hotplug)
		ret = memory_hotplug(&m->mem, &o->hotplug, err, errlen);
	if (!ret)
		memory_log_build(&m->mem);
	if (!ret)
		ret = machine_setup_check(m, err, errlen);
	if (!ret && o->restore) {
		struct memsnap_stats st = {0};
		/* The handler thread loads its own seccomp list first thing
		 * (the lists are built in machine_open). */
		struct memsnap_hook hook = {.fn = seccomp_enter_uffd,
					    .opaque = &m->seccomp};

		ret = memsnap_restore(
			&m->mem.gm, o->restore,
			o->restore_copy ? MEMSNAP_COPY : MEMSNAP_LAZY, &m->lazy,
			m->vcpu_filters ? &hook : NULL, &st, err, errlen);
		if (!ret)
			log_info("guest memory restored (%s) from %s in %.1f "
				 "ms",
				 o->restore_copy ? "copy" : "lazy", o->restore,
				 (double)st.ns / 1e6);
		return ret ? ret : machine_setup_check(m, err, errlen);
	}
	if (!ret)
		ret = memory_prefault(&m->mem, o->zones, o->nr_zones,
				      o->prefault_threads, &m->sig, err,
				      errlen);
	return ret == 1 ? machine_setup_check(m, err, errlen) : ret;
}

/* The VM (irqchip, PIT) and one memory slot per guest memory region. */
static int machine_vm(struct machine *m, char *err, size_t errlen)
{
	int ret = vm_create(&m->vm, err, errlen);

	return ret ? ret : vm_set_memory(&m->vm, &m->mem.gm, err, errlen);
}

/* The board's hooks: the loop, and the reset line (i8042) that ends the
 * VM. */
static int machine_watch(void *opaque, const struct event_source *s)
{
	return loop_add(&((struct machine *)opaque)->loop, s);
}

static void machine_reset(void *opaque)
{
	struct machine *m = opaque;

	vm_request_stop(&m->vm, 0, "guest reset (i8042)");
	vcpu_kick_all(m->vcpus, m->nr_vcpus);
}

/* Every device, in one place (vmm/board.h), and the command line. */
static int machine_board(struct machine *m, char *err, size_t errlen)
{
	int ret;

	m->hooks = (struct board_hooks){.vm = &m->vm,
					.irq_line = vm_irq_line,
					.irqfd = vm_irqfd_hook,
					.ioeventfd = vm_ioeventfd_hook,
					.opaque = m,
					.watch = machine_watch,
					.reset = machine_reset};
	ret = board_build(&m->board, m->o, &m->mem.gm, &m->vm.pio, &m->vm.mmio,
			  &m->hooks, m->t0.wall_ns, m->t0.cpu_ns, err, errlen);
	return ret ? ret : machine_setup_check(m, err, errlen);
}

/* The kernel and initrd into guest memory with the board's command line
 * and the boot structures; the image files are closed after. */
static int machine_load(struct machine *m, char *err, size_t errlen)
{
	/* --restore: no kernel; the devices take their saved state. */
	if (m->snap)
		return snapshot_devs_restore(&m->vm.pio, &m->vm.mmio, m->snap,
					     err, errlen);
	return image_load(&m->kernel, &m->initrd, &m->vm.arch, &m->mem.gm,
			  m->board.cmdline, m->o->cpus, m->board.nr_vdevs,
			  &m->bi, err, errlen);
}

/* vCPU 0 enters the guest: the setup time, for the boot timer and stats. */
static void machine_first_run(struct vcpu *v)
{
	struct machine *m = v->opaque;
	struct machine_timing now;

	machine_timing_now(&now);
	boot_timer_set_setup_ns(&m->board.timer, now.wall_ns - m->t0.wall_ns);
	m->first_run = now;
	log_info("VMM setup took %.1f ms wall, %.1f ms CPU",
		 (double)(now.wall_ns - m->t0.wall_ns) / 1e6,
		 (double)(now.cpu_ns - m->t0.cpu_ns) / 1e6);
}

/* --restore: every vCPU's saved state, then the PIT, PIC, IOAPIC and the
 * clock; the state file is not needed after. */
static int machine_vcpus_restore(struct machine *m, char *err, size_t errlen)
{
	char why[256];
	int ret = 0;

	for (unsigned i = 0; !ret && i < m->nr_vcpus; i++) {
		ret = snapshot_vcpu_restore(m->vcpus[i].fd, &m->snap->vcpus[i],
					    why, sizeof(why));
		if (ret)
			snprintf(err, errlen, "restoring vCPU %u: %s", i, why);
	}
	if (!ret) {
		ret = snapshot_vm_restore(m->vm.vm_fd, m->snap, why,
					  sizeof(why));
		if (ret)
			snprintf(err, errlen, "restoring the VM: %s", why);
	}
	snapshot_state_free(m->snap);
	free(m->snap);
	m->snap = NULL;
	return ret;
}

/* The vCPUs (not running yet): CPUID, MSRs, LAPIC; entry registers on the
 * boot vCPU only, the others wait for the guest's INIT/SIPI. */
static int machine_vcpus(struct machine *m, char *err, size_t errlen)
{
	int ret = vcpu_create_all(m->vcpus, m->o->cpus, &m->nr_vcpus, &m->vm,
				  m->snap ? NULL : &m->bi, machine_first_run, m,
				  err, errlen);

	if (!ret && m->snap)
		ret = machine_vcpus_restore(m, err, errlen);
	return ret ? ret : machine_setup_check(m, err, errlen);
}

/* The control socket's pause and resume (vmm/control.h). */
static int machine_pause(void *opaque, char *err, size_t errlen)
{
	struct machine *m = opaque;
	int ret = vcpu_pause_all(m->vcpus, m->nr_vcpus);

	if (ret)
		snprintf(err, errlen, "%s",
			 ret == -ETIMEDOUT ? "a vCPU did not stop within 5 s"
					   : "the VM is stopping");
	return ret;
}

static int machine_resume(void *opaque, char *err, size_t errlen)
{
	struct machine *m = opaque;

	(void)err;
	(void)errlen;
	vcpu_resume_all(m->vcpus, m->nr_vcpus);
	return 0;
}

/* The configuration a restore rebuilds the board and memory from. */
static void machine_snapshot_config(const struct machine *m,
				    struct snapshot_config *c)
{
	const struct cli_opts *o = m->o;
	const struct guest_mem *gm = &m->mem.gm;

	c->mem_size = o->mem_size;
	/* The policy in use (a fallback may have downgraded it). */
	c->pages = (uint32_t)(gm->nr ? gm->regions[0].pages : o->policy.pages);
	c->cpus = m->nr_vcpus;
	c->boot_timer = o->boot_timer ? 1 : 0;
	c->nr_regions = gm->nr;
	for (unsigned i = 0; i < gm->nr; i++) {
		c->region_gpa[i] = gm->regions[i].gpa;
		c->region_size[i] = gm->regions[i].size;
	}
	c->nr_disks = o->nr_disks;
	memcpy(c->disks, o->disks, sizeof(c->disks));
	c->has_net = o->has_net ? 1 : 0;
	if (o->has_net) {
		snprintf(c->tap, sizeof(c->tap), "%s", o->net.tap);
		memcpy(c->mac, o->net.mac, sizeof(c->mac));
		c->has_mac = o->net.has_mac ? 1 : 0;
	}
	c->rng = o->rng ? 1 : 0;
	c->has_balloon = o->has_balloon ? 1 : 0;
	c->balloon_reporting = o->balloon.reporting ? 1 : 0;
	c->balloon_deflate_on_oom = o->balloon.deflate_on_oom ? 1 : 0;
	c->balloon_stats = o->balloon.stats_interval;
	c->nr_zones = o->nr_zones;
	for (unsigned z = 0; z < o->nr_zones; z++) {
		struct snapshot_zone *sz = &c->zones[z];

		snprintf(sz->id, sizeof(sz->id), "%s", o->zones[z].id);
		sz->size = o->zones[z].size;
		sz->pages = (uint32_t)o->zones[z].policy.pages;
		sz->backing = (uint32_t)o->zones[z].policy.backing;
		sz->host_node = o->zones[z].host_node;
		/* Where it landed and the policy in use (a fallback may
		 * have downgraded it): its first region's. */
		for (unsigned i = 0; i < gm->nr; i++)
			if (!gm->regions[i].hotplug &&
			    gm->regions[i].zone == z) {
				sz->gpa = gm->regions[i].gpa;
				sz->pages = (uint32_t)gm->regions[i].pages;
				break;
			}
		if (o->zones[z].policy.backing == REGION_BACKING_FILE &&
		    o->zones[z].policy.path)
			snprintf(sz->path, sizeof(sz->path), "%s",
				 o->zones[z].policy.path);
	}
	c->has_hotplug = o->has_hotplug ? 1 : 0;
	if (o->has_hotplug) {
		c->hotplug_size = o->hotplug.size;
		c->hotplug_pages = (uint32_t)o->hotplug.pages;
		c->hotplug_plugged = o->hotplug.plugged;
		c->hotplug_node = o->hotplug.host_node;
		snprintf(c->hotplug_id, sizeof(c->hotplug_id), "%s",
			 o->hotplug.id);
	}
}

/* Everything but memory into s, with the vCPUs paused. */
static int machine_snapshot_capture(struct machine *m, struct snapshot_state *s,
				    char *err, size_t errlen)
{
	char why[256];
	int ret;

	machine_snapshot_config(m, &s->cfg);
	ret = snapshot_devs_save(&m->vm.pio, &m->vm.mmio, s, err, errlen);
	if (ret)
		return ret;
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		s->nr_vcpus = i + 1;
		ret = snapshot_vcpu_save(m->vm.kvm_fd, m->vcpus[i].fd,
					 &s->vcpus[i], why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "saving vCPU %u: %s", i, why);
			return ret;
		}
	}
	ret = snapshot_vm_save(m->vm.vm_fd, s, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "saving the VM: %s", why);
	return ret;
}

/* Write DIR: the state file, then guest memory (mem/snapshot.h). */
static int machine_snapshot_write(struct machine *m, const char *dir,
				  struct control_snapshot_result *r, char *err,
				  size_t errlen)
{
	struct snapshot_state *s = calloc(1, sizeof(*s));
	struct memsnap_stats st = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	int dirfd = -1, ret;

	if (!s) {
		snprintf(err, errlen, "out of memory for the snapshot state");
		return -ENOMEM;
	}
	ret = machine_snapshot_capture(m, s, err, errlen);
	if (!ret && (ret = snapshot_state_encode(s, &buf, &len)))
		snprintf(err, errlen, "out of memory encoding the state");
	if (!ret)
		ret = snapshot_dir_create(dir, &dirfd, err, errlen);
	if (!ret)
		ret = snapshot_state_write(dirfd, buf, len, err, errlen);
	if (!ret)
		ret = memsnap_save(&m->mem.gm, m->lazy.active ? &m->lazy : NULL,
				   dir, &st, err, errlen);
	if (!ret) {
		r->state_bytes = len;
		r->memory_bytes = st.bytes_written;
	}
	if (dirfd >= 0)
		close(dirfd);
	free(buf);
	snapshot_state_free(s);
	free(s);
	return ret;
}

/* snapshot DIR: pause if running, write, and leave the vCPUs as they
 * were. */
static int machine_snapshot(void *opaque, const char *dir,
			    struct control_snapshot_result *r, char *err,
			    size_t errlen)
{
	struct machine *m = opaque;
	uint64_t t0 = clock_wall_ns();
	int was_paused = vcpu_paused(m->vcpus, m->nr_vcpus), ret = 0;

	if (!was_paused)
		ret = machine_pause(m, err, errlen);
	if (!ret)
		ret = machine_snapshot_write(m, dir, r, err, errlen);
	if (!was_paused) {
		vcpu_resume_all(m->vcpus, m->nr_vcpus);
		r->paused_ns = clock_wall_ns() - t0;
	}
	r->total_ns = clock_wall_ns() - t0;
	if (!ret)
		log_info("snapshot to %s: %llu bytes of state, %llu of memory "
			 "in %.1f ms",
			 dir, (unsigned long long)r->state_bytes,
			 (unsigned long long)r->memory_bytes,
			 (double)r->total_ns / 1e6);
	return ret;
}

static const struct control_vm_ops machine_control_ops = {
	.pause = machine_pause,
	.resume = machine_resume,
	.snapshot = machine_snapshot,
};

/* A lazy restore's page handler failed: a vCPU may wait for a page
 * forever, so the VM stops. */
static void machine_lazy_failed(void *opaque, uint32_t revents)
{
	struct machine *m = opaque;
	char why[256];

	(void)revents;
	snprintf(why, sizeof(why),
		 "lazy memory restore failed: %s (keep the snapshot's memory "
		 "files unchanged while a restore runs)",
		 m->lazy.error_msg[0] ? m->lazy.error_msg : "handler error");
	vm_request_stop(&m->vm, 1, why);
	vcpu_kick_all(m->vcpus, m->nr_vcpus);
}

/* Ctrl-A x (the console logged it): a clean stop. */
static void machine_on_quit(void *opaque)
{
	vm_request_stop(&((struct machine *)opaque)->vm, 0,
			"stopped from the console (Ctrl-A x)");
}

/* vCPU threads started (each loads its list, built in machine_open),
 * then the main thread's list: from here on it serves the guest.
 * Background prefault workers stay unfiltered: see vmm/seccomp.h. */
static int machine_threads(struct machine *m, char *err, size_t errlen)
{
	int ret = vcpu_start_all(m->vcpus, m->nr_vcpus, m->vcpu_filters, err,
				 errlen);

	return ret ? ret : seccomp_enter_vmm(&m->seccomp, err, errlen);
}

/* Start: the stop eventfd and the signals on the loop, the console, the
 * start report and stats sources, seccomp and the vCPU threads. */
static int machine_start(struct machine *m, char *err, size_t errlen)
{
	struct event_source stop = vm_stop_source(&m->vm);
	struct event_source sig = signals_source(&m->sig, &m->vm);
	int ret = loop_add(&m->loop, &stop);

	if (!ret)
		ret = loop_add(&m->loop, &sig);
	if (!ret && m->lazy.active && m->lazy.error_fd >= 0) {
		struct event_source lz = {.fd = m->lazy.error_fd,
					  .events = EPOLLIN,
					  .handle = machine_lazy_failed,
					  .opaque = m};

		ret = loop_add(&m->loop, &lz);
	}
	if (m->board.ctl)
		control_set_vm(m->board.ctl, &machine_control_ops, m);
	if (ret) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	/* The terminal as the guest's console (raw mode) when stdin is one
	 * and we are in the foreground; its input flow-controlled. */
	m->con_ready =
		console_start(&m->console, &m->con, STDIN_FILENO,
			      &m->board.serial, &m->loop, machine_on_quit, m);
	memory_report(&m->mem, "at start");
	if (m->o->stats_json || m->o->verbose) {
		int fds[VM_MAX_VCPUS];

		vcpu_fds(m->vcpus, m->nr_vcpus, fds);
		kvm_stats_src_open(&m->stats, m->vm.vm_fd, fds, m->nr_vcpus,
				   &m->mem.gm);
	}
	return machine_threads(m, err, errlen);
}

/* Serve the devices until something stops the VM. */
static int machine_loop(struct machine *m, char *err, size_t errlen)
{
	while (!vm_stopping(&m->vm)) {
		int ret = loop_once(&m->loop, -1);

		if (ret < 0) {
			snprintf(err, errlen, "epoll_wait: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* --stats-json / --verbose: per-boot figures, read after the vCPUs
 * stopped and before the VM is torn down. */
static int machine_stats(struct machine *m, char *err, size_t errlen)
{
	struct kvm_stats_run r = {.mem_bytes = m->o->mem_size,
				  .cpus = m->o->cpus,
				  .i8042_status_reads =
					  m->board.i8042.status_reads};

	r.boot_fired = !boot_timer_result(&m->board.timer, &r.boot_wall_ns,
					  &r.boot_cpu_ns);
	r.setup_known = m->first_run.wall_ns != 0;
	r.setup_wall_ns = m->first_run.wall_ns - m->t0.wall_ns;
	r.setup_cpu_ns = m->first_run.cpu_ns - m->t0.cpu_ns;
	return kvm_stats_report(&r, &m->stats, &m->mem.gm,
				m->o->verbose ? log_stream() : NULL,
				m->o->stats_json, err, errlen);
}

/* Stop and join every vCPU. After a lazy restore's handler failed, a vCPU
 * may wait for a page forever, where no kick reaches it (a fault taken in
 * user mode retries after the signal): the handler's userfaultfd goes
 * first, which releases it. The loop has ended, so no device works on
 * what the guest does after that. */
static void machine_vcpus_stop(struct machine *m)
{
	if (memsnap_lazy_failed(&m->lazy))
		memsnap_lazy_stop(&m->lazy);
	vcpu_stop_all(m->vcpus, m->nr_vcpus);
}

/* After the loop: stop every vCPU and a background prefault, flush what
 * the guest wrote (--mem-file), report; *status from why the VM stopped. */
static int machine_stop(struct machine *m, int *status, char *err,
			size_t errlen)
{
	int ret;

	memory_prefault_stop(&m->mem);
	machine_vcpus_stop(m);
	ret = memory_prefault_join(&m->mem, 1, err, errlen);
	if (!ret)
		ret = memory_sync(&m->mem, m->o->zones, err, errlen);
	if (ret)
		return ret;
	memory_report(&m->mem, "at exit");
	if (m->board.balloon && m->o->verbose)
		virtio_balloon_print(m->board.balloon, log_stream());
	if (m->board.vmem && m->o->verbose)
		virtio_mem_print(m->board.vmem, log_stream());
	if ((m->o->stats_json || m->o->verbose) &&
	    (ret = machine_stats(m, err, errlen)))
		return ret;
	*status = m->vm.exit_status;
	if (*status == 0)
		log_info("%s", m->vm.stop_reason);
	else if (m->sig.signo)
		log_warn("%s", m->vm.stop_reason);
	else {
		snprintf(err, errlen, "%s", m->vm.stop_reason);
		return -EIO;
	}
	return 0;
}

/* Teardown, safe after any step: threads first, then the devices (disks
 * flush), the VM, memory, and the terminal last. */
static void machine_free(struct machine *m)
{
	char err[256];

	memory_prefault_stop(&m->mem);
	if (m->vm_open)
		vm_request_stop(&m->vm, 1, "teardown");
	machine_vcpus_stop(m);
	memsnap_lazy_stop(&m->lazy); /* the guest is done with its pages */
	if (memory_prefault_join(&m->mem, 0, err, sizeof(err)))
		log_err("%s", err);
	if (m->con_ready)
		console_in_close(&m->con);
	board_free(&m->board);
	kvm_stats_src_close(&m->stats);
	if (m->vm_open)
		vm_destroy(&m->vm);
	memory_destroy(&m->mem);
	seccomp_free(&m->seccomp);
	loop_destroy(&m->loop);
	signals_close(&m->sig);
	console_close(&m->console);
	image_close(&m->kernel);
	image_close(&m->initrd);
	if (m->snap) {
		snapshot_state_free(m->snap);
		free(m->snap);
	}
}

/* Finish: on success stop, flush, report and give the exit status; after
 * a failure a --mem-file we created goes, and a stop signal during setup
 * is, like one while the guest runs, a warning and 128+N. Frees m. */
static int machine_finish(struct machine *m, int ret, char *err, size_t errlen)
{
	int status = 0;

	if (!ret)
		ret = machine_stop(m, &status, err, errlen);
	if (ret) {
		memory_abandon(&m->mem, m->o->zones, m->o->nr_zones);
		status = ret;
	}
	if (ret && m->setup_stopped) {
		log_warn("%s", err);
		memory_prefault_cancel(&m->mem);
		status = 128 + m->sig.signo;
	}
	machine_free(m);
	free(m);
	return status;
}

int machine_run(const struct cli_opts *o, const struct machine_timing *t0,
		char *err, size_t errlen)
{
	struct machine *m = calloc(1, sizeof(*m));
	int ret;

	if (!m) {
		snprintf(err, errlen,
			 "out of memory allocating the machine "
			 "state");
		return -ENOMEM;
	}
	m->o = o; /* checked by cli_parse: nothing below parses */
	m->t0 = *t0;
	signals_init(&m->sig);
	image_init(&m->kernel);
	image_init(&m->initrd);
	m->loop.epfd = -1;
	memory_init(&m->mem);
	board_init(&m->board);

	ret = machine_open(m, err, errlen);
	if (!ret)
		ret = machine_memory(m, err, errlen);
	if (!ret)
		ret = machine_vm(m, err, errlen);
	if (!ret)
		ret = machine_board(m, err, errlen);
	if (!ret)
		ret = machine_load(m, err, errlen);
	if (!ret)
		ret = machine_vcpus(m, err, errlen);
	if (!ret)
		ret = machine_start(m, err, errlen);
	if (!ret)
		ret = machine_loop(m, err, errlen);
	return machine_finish(m, ret, err, errlen);
}
