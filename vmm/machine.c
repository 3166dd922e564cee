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
#include <unistd.h>

#include "boot/layout.h"
#include "boot/loader.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "mem/memmap.h"
#include "vmm/board.h"
#include "vmm/console.h"
#include "vmm/image.h"
#include "vmm/kvm_stats.h"
#include "vmm/loop.h"
#include "vmm/memory.h"
#include "vmm/seccomp.h"
#include "vmm/signals.h"
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
	struct boot_info bi;
	struct vcpu vcpus[VM_MAX_VCPUS];
	unsigned nr_vcpus;
	struct console console;
	struct console_in con; /* terminal -> serial, when it is ours */
	int con_ready;
	struct seccomp_filters seccomp; /* built unless --no-seccomp */
	struct kvm_stats_src stats;
	int setup_stopped; /* a stop signal came before the guest ran */
	struct machine_timing first_run; /* vCPU 0 entered the guest */
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
static int machine_open(struct machine *m, char *err, size_t errlen)
{
	int ret = signals_open(&m->sig, err, errlen);

	if (!ret)
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
	return ret;
}

/* mem/ does not log: print its lines (warnings, notes) for it. */
static void machine_log_lines(enum log_level level, const char *lines)
{
	while (*lines) {
		const char *nl = strchr(lines, '\n');
		int len = nl ? (int)(nl - lines) : (int)strlen(lines);

		log_msg(level, "%.*s", len, lines);
		lines += len + (nl ? 1 : 0);
	}
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
		machine_log_lines(LOG_WARN, m->mem.info.warning);
	if (!ret)
		machine_log_lines(LOG_INFO, m->mem.info.note);
	if (!ret)
		ret = machine_setup_check(m, err, errlen);
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
	return image_load(&m->kernel, &m->initrd, &m->mem.gm, m->board.cmdline,
			  m->o->cpus, &m->bi, err, errlen);
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

/* The vCPUs (not running yet): CPUID, MSRs, LAPIC; entry registers on the
 * boot vCPU only, the others wait for the guest's INIT/SIPI. */
static int machine_vcpus(struct machine *m, char *err, size_t errlen)
{
	int ret = vcpu_create_all(m->vcpus, m->o->cpus, &m->nr_vcpus, &m->vm,
				  &m->bi, machine_first_run, m, err, errlen);

	return ret ? ret : machine_setup_check(m, err, errlen);
}

/* Ctrl-A x (the console logged it): a clean stop. */
static void machine_on_quit(void *opaque)
{
	vm_request_stop(&((struct machine *)opaque)->vm, 0,
			"stopped from the console (Ctrl-A x)");
}

/* Seccomp lists built, vCPU threads started (each loads its list), then
 * the main thread's list: from here on it serves the guest. Background
 * prefault workers stay unfiltered: see vmm/seccomp.h. */
static int machine_threads(struct machine *m, char *err, size_t errlen)
{
	const struct seccomp_filters *vcpu;
	int ret = seccomp_setup(&m->seccomp, m->o, &vcpu, err, errlen);

	if (!ret)
		ret = vcpu_start_all(m->vcpus, m->nr_vcpus, vcpu, err, errlen);
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

/* After the loop: stop every vCPU and a background prefault, flush what
 * the guest wrote (--mem-file), report; *status from why the VM stopped. */
static int machine_stop(struct machine *m, int *status, char *err,
			size_t errlen)
{
	int ret;

	memory_prefault_stop(&m->mem);
	vcpu_stop_all(m->vcpus, m->nr_vcpus);
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
	vcpu_stop_all(m->vcpus, m->nr_vcpus);
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
