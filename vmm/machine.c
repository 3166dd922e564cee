#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/layout.h"
#include "boot/loader.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial8250.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "mem/memmap.h"
#include "mem/prefault.h"
#include "mem/report.h"
#include "mem/size.h"
#include "vmm/kvm_stats.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/file.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MACHINE_CMDLINE_MAX CLI_CMDLINE_MAX
#define MACHINE_MAX_EPOLL   32
#define MACHINE_MAX_VIRTIO \
	(LAYOUT_VIRTIO_LAST_IRQ - LAYOUT_VIRTIO_FIRST_IRQ + 1)

/* Everything one VM owns; torn down in reverse order by machine_free. */
struct machine {
	const struct cli_opts *o;
	struct machine_timing t0;
	struct vm vm;
	int vm_open;
	struct guest_mem gm;
	struct memmap_info mem_info;
	struct prefault pf;
	int pf_running;
	struct vcpu vcpus[VM_MAX_VCPUS];
	unsigned nr_vcpus;
	struct serial8250 serial;
	int serial_ready;
	struct console_in con; /* terminal -> serial, when it is ours */
	int con_ready;
	enum console_in_state con_state;
	struct i8042 i8042;
	int i8042_ready;
	struct boot_timer timer;
	/* virtio devices, in slot order; the structs are large: heap. */
	struct virtio_blk *disks[CLI_MAX_DISKS];
	unsigned nr_disks;
	struct virtio_net *net;
	struct virtio_rng *rng;
	struct virtio_balloon *balloon;
	struct control *ctl; /* --control-socket */
	struct virtio_mmio_dev *vdevs[MACHINE_MAX_VIRTIO];
	int irqfds[MACHINE_MAX_VIRTIO];
	unsigned nr_vdevs;
	int kernel_fd, initrd_fd; /* open until the images are loaded */
	uint64_t kernel_len, initrd_len;
	char cmdline[MACHINE_CMDLINE_MAX];
	int epfd, sigfd;
	struct seccomp_filters seccomp; /* built unless --no-seccomp */
	struct console console;
	int stop_signal;
	int setup_stopped; /* a stop signal came before the guest ran */
	struct machine_timing first_run; /* vCPU 0 entered the guest */
	struct kvm_stats_src stats;
};

void machine_timing_now(struct machine_timing *t)
{
	boot_timer_now(&t->wall_ns, &t->cpu_ns);
}

/*
 * Open an image the loader will read from (pread, straight into guest
 * memory, so no copy of a 17 MB vmlinux sits on our heap); a clear error
 * names the file and the problem. file_open_input refuses a FIFO before
 * an open() that would wait forever for a writer.
 */
static int machine_open_image(const char *what, const char *path, int *fd,
			      uint64_t *len, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	ret = file_open_input(path, O_RDONLY, 0, &st);
	*fd = ret >= 0 ? ret : -1;
	if (ret == -EINVAL) {
		snprintf(err, errlen,
			 "%s %s is not a regular file (it is %s): give the "
			 "image file",
			 what, path, file_type_name(st.st_mode));
		return ret;
	}
	if (ret < 0) {
		snprintf(err, errlen, "cannot read %s %s: %s", what, path,
			 strerror(-ret));
		return ret;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s %s is empty", what, path);
		close(*fd);
		*fd = -1;
		return -EINVAL;
	}
	*len = (uint64_t)st.st_size;
	return 0;
}

/* Every failure path fills err: main prints it as the one error line. */
static int machine_oom(const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory allocating %s", what);
	return -ENOMEM;
}

static void machine_i8042_reset(void *opaque)
{
	struct machine *m = opaque;

	vm_request_stop(&m->vm, 0, "guest reset (i8042)");
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
}

static void machine_first_run(struct vcpu *v)
{
	struct machine *m = v->opaque;
	struct machine_timing now;

	if (v->index != 0)
		return;
	machine_timing_now(&now);
	boot_timer_set_setup_ns(&m->timer, now.wall_ns - m->t0.wall_ns);
	m->first_run = now;
	log_info("VMM setup took %.1f ms wall, %.1f ms CPU",
		 (double)(now.wall_ns - m->t0.wall_ns) / 1e6,
		 (double)(now.cpu_ns - m->t0.cpu_ns) / 1e6);
}

/*
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT are blocked from the start and read from the
 * signalfd, so one that comes during setup ends it through the normal
 * cleanup (a --mem-file we created is removed) instead of killing us
 * half-way. 1 if one came (within wait_ms).
 */
static int machine_setup_signal(struct machine *m, int wait_ms)
{
	struct pollfd p = {.fd = m->sigfd, .events = POLLIN};
	struct signalfd_siginfo si;

	if (m->stop_signal)
		return 1;
	if (poll(&p, 1, wait_ms) <= 0 ||
	    read(m->sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	m->stop_signal = (int)si.ssi_signo;
	return 1;
}

/* Between setup steps: -EINTR if a stop signal came. */
static int machine_setup_check(struct machine *m, char *err, size_t errlen)
{
	if (!machine_setup_signal(m, 0))
		return 0;
	m->setup_stopped = 1;
	snprintf(err, errlen, "stopped by %s during setup",
		 strsignal(m->stop_signal));
	return -EINTR;
}

/* The memory step: every zone mapped (pools reserved, nodes bound), the
 * zones with prefault=on or lock=on populated before boot, lock=on
 * applied, then the prefault=background zones left populating. */
static int machine_memory(struct machine *m, char *err, size_t errlen)
{
	const struct cli_opts *o = m->o;
	uint32_t sync = 0, bg = 0;
	int ret;

	for (unsigned i = 0; i < o->nr_zones; i++) {
		const struct memmap_zone *z = &o->zones[i];
		/* lock=on populates before the mlock; a hugetlb zone is not
		 * locked (memmap says so), so only its prefault= counts. */
		int locks = z->lock == MEMMAP_LOCK_ON &&
			    ((z->policy.pages != REGION_PAGES_HUGE &&
			      z->policy.pages != REGION_PAGES_HUGE1G) ||
			     z->policy.has_fallback);

		if (z->prefault == MEMMAP_PREFAULT_ON || locks)
			sync |= 1U << i;
		else if (z->prefault == MEMMAP_PREFAULT_BACKGROUND)
			bg |= 1U << i;
	}
	ret = memmap_zones_check(o->zones, o->nr_zones, err, errlen);
	if (!ret)
		ret = memmap_build_zones(
			&m->gm, o->zones, o->nr_zones, LAYOUT_MMIO_GAP_START,
			LAYOUT_MMIO_GAP_END, &m->mem_info, err, errlen);
	if (!ret)
		ret = machine_setup_check(m, err, errlen);
	if (ret || !(sync | bg)) /* lock=on is in sync */
		return ret;
	ret = prefault_start_zones(&m->pf, &m->gm, o->prefault_threads,
				   sync ? sync : bg);
	if (ret) {
		snprintf(err, errlen, "cannot start prefault threads: %s",
			 strerror(-ret));
		return ret;
	}
	m->pf_running = 1;
	if (sync) {
		/* A long prefault stops for a stop signal: the workers end
		 * after the chunk they are on. */
		while (prefault_pending(&m->pf))
			if (machine_setup_signal(m, 10)) {
				prefault_cancel(&m->pf);
				break;
			}
		m->pf_running = 0;
		ret = prefault_wait(&m->pf, err, errlen);
		if (m->stop_signal)
			return machine_setup_check(m, err, errlen);
		if (ret)
			return ret;
		log_info("prefaulted %llu MiB with %u threads in %.1f ms%s",
			 (unsigned long long)(m->pf.total_bytes >> 20),
			 m->pf.nr_threads,
			 (double)(m->pf.end_ns - m->pf.start_ns) / 1e6,
			 m->pf.used_touch ? " (page touching: no "
					    "MADV_POPULATE_WRITE)"
					  : "");
		ret = memmap_lock(&m->gm, o->zones, o->nr_zones, err, errlen);
		if (ret || !bg)
			return ret;
		ret = prefault_start_zones(&m->pf, &m->gm, o->prefault_threads,
					   bg);
		if (ret) {
			snprintf(err, errlen,
				 "cannot start prefault threads: %s",
				 strerror(-ret));
			return ret;
		}
		m->pf_running = 1;
	}
	return 0;
}

static void machine_report(struct machine *m, const char *when)
{
	struct report_region rep[GUEST_MEM_MAX_REGIONS];

	if (log_get_level() < LOG_INFO)
		return;
	if (report_read(&m->gm, rep)) {
		log_warn("cannot read /proc/self/smaps for the memory report");
		return;
	}
	log_info("memory report %s:", when);
	report_print(log_stream(), &m->gm, rep);
}

/* --stats-json / --verbose: per-boot figures, read after the vCPUs
 * stopped and before the VM is torn down. */
static int machine_stats(struct machine *m, char *err, size_t errlen)
{
	struct kvm_stats_run r = {.mem_bytes = m->o->mem_size,
				  .cpus = m->o->cpus,
				  .i8042_status_reads = m->i8042.status_reads};
	int ret = 0;

	r.boot_fired =
		!boot_timer_result(&m->timer, &r.boot_wall_ns, &r.boot_cpu_ns);
	r.setup_known = m->first_run.wall_ns != 0;
	r.setup_wall_ns = m->first_run.wall_ns - m->t0.wall_ns;
	r.setup_cpu_ns = m->first_run.cpu_ns - m->t0.cpu_ns;
	kvm_stats_collect(&r, &m->stats, &m->gm);
	if (m->o->verbose) {
		FILE *f = log_stream();

		fputs("microvm: stats ", f);
		kvm_stats_json(f, &r);
		fputc('\n', f);
	}
	if (m->o->stats_json)
		ret = kvm_stats_write(m->o->stats_json, &r, err, errlen);
	kvm_stats_run_free(&r);
	return ret;
}

static int machine_cmdline(struct machine *m, char *err, size_t errlen)
{
	const char *append = m->o->cmdline_append;
	int n = snprintf(m->cmdline, sizeof(m->cmdline), "%s%s%s",
			 m->o->cmdline, append ? " " : "",
			 append ? append : "");

	if (n < 0 || (size_t)n >= sizeof(m->cmdline)) {
		snprintf(
			err, errlen,
			"the kernel command line (--cmdline and "
			"--cmdline-append) is longer than %d bytes: shorten it",
			MACHINE_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	return 0;
}

/* What microvm appends to --cmdline did not fit: say so, with the limit
 * and the fix (not the ENOSPC of the snprintf that found out). */
static int machine_cmdline_full(struct machine *m, const char *adding,
				char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "kernel command line too long: --cmdline is %zu bytes and "
		 "microvm must append %s to it, over the limit of %d bytes: "
		 "shorten --cmdline",
		 strlen(m->o->cmdline), adding, MACHINE_CMDLINE_MAX - 1);
	return -E2BIG;
}

static int machine_devices(struct machine *m, char *err, size_t errlen)
{
	struct irq_line com1 = {
		.set = vm_irq_line,
		.opaque = &m->vm,
		.gsi = LAYOUT_COM1_IRQ,
		.irqfd = -1,
	};
	int ret;

	ret = serial8250_init(&m->serial, STDOUT_FILENO, &com1);
	if (ret)
		goto fail;
	m->serial_ready = 1;
	ret = bus_add(&m->vm.pio, LAYOUT_COM1_PORT, SERIAL8250_LEN,
		      &serial8250_ops, &m->serial, "serial8250");
	if (ret)
		goto fail;
	ret = i8042_init(&m->i8042, machine_i8042_reset, m);
	if (ret)
		goto fail;
	m->i8042_ready = 1;
	ret = bus_add(&m->vm.pio, LAYOUT_I8042_DATA_PORT, 1, &i8042_data_ops,
		      &m->i8042, "i8042-data");
	if (!ret)
		ret = bus_add(&m->vm.pio, LAYOUT_I8042_CMD_PORT, 1,
			      &i8042_cmd_ops, &m->i8042, "i8042-cmd");
	if (ret)
		goto fail;
	boot_timer_init(&m->timer, m->t0.wall_ns, m->t0.cpu_ns);
	if (m->o->boot_timer) {
		ret = bus_add(&m->vm.mmio, LAYOUT_BOOT_TIMER_ADDR,
			      LAYOUT_MMIO_SLOT_SIZE, &boot_timer_ops, &m->timer,
			      "boot-timer");
		if (ret)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "setting up devices: %s", strerror(-ret));
	return ret;
}

/*
 * Every fd of the loop with the events its owner's contract asks for.
 * Level-triggered EPOLLIN is right only for an fd whose handler always
 * consumes what made it ready (eventfds, signalfd, timerfd): anything a
 * handler may leave unread on purpose must be edge-triggered or disarmed,
 * or the loop spins at 100% CPU.
 */
static int machine_epoll_add_events(struct machine *m, int fd, uint32_t events,
				    uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Level-triggered EPOLLIN, for fds whose handler drains them. */
static int machine_epoll_add(struct machine *m, int fd, uint64_t tag)
{
	return machine_epoll_add_events(m, fd, EPOLLIN, tag);
}

enum {
	TAG_STOP = 1,
	TAG_SIGNAL,
	TAG_STDIN,
	TAG_CONSOLE_WAKE,
	TAG_NET,
	TAG_BALLOON,
	TAG_CONTROL,
	TAG_VDEV = 0x100
};

/* Slot i of the MMIO gap, IRQ 5 + i: attach, register, announce on the
 * kernel command line, and route notifications and interrupts through
 * ioeventfd/irqfd where KVM has them (MMIO exits and KVM_IRQ_LINE else). */
static int machine_add_virtio(struct machine *m, struct virtio_mmio_dev *d,
			      const char *name, char *err, size_t errlen)
{
	unsigned i = m->nr_vdevs;
	uint64_t base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_MMIO_SLOT_SIZE;
	struct irq_line irq = {
		.set = vm_irq_line,
		.opaque = &m->vm,
		.gsi = LAYOUT_VIRTIO_FIRST_IRQ + i,
		.irqfd = -1,
	};
	size_t len = strlen(m->cmdline);
	int ret;

	if (i >= MACHINE_MAX_VIRTIO) {
		snprintf(err, errlen,
			 "too many virtio devices: at most %d (IRQs %d-%d)",
			 MACHINE_MAX_VIRTIO, LAYOUT_VIRTIO_FIRST_IRQ,
			 LAYOUT_VIRTIO_LAST_IRQ);
		return -ENOSPC;
	}
	ret = m->o->no_irqfd ? -1 : vm_irqfd(&m->vm, irq.gsi);
	irq.irqfd = ret >= 0 ? ret : -1;
	m->irqfds[i] = irq.irqfd;
	ret = virtio_mmio_attach(d, &m->gm, base, &irq);
	if (ret)
		goto fail;
	m->vdevs[i] = d;
	m->nr_vdevs++;
	ret = bus_add(&m->vm.mmio, base, VIRTIO_MMIO_SLOT_SIZE,
		      &virtio_mmio_bus_ops, d, name);
	if (ret)
		goto fail;
	if (m->o->no_ioeventfd ||
	    vm_ioeventfd(&m->vm, virtio_mmio_event_fd(d),
			 base + VIRTIO_MMIO_REG_QUEUE_NOTIFY, 4))
		log_info("%s: no ioeventfd, queue notifications exit to the "
			 "VMM",
			 name);
	ret = machine_epoll_add(m, virtio_mmio_event_fd(d), TAG_VDEV + i);
	if (ret)
		goto fail;
	if (len + 1 >= sizeof(m->cmdline) ||
	    virtio_mmio_cmdline(d, m->cmdline + len + 1,
				sizeof(m->cmdline) - len - 1) < 0) {
		m->cmdline[len] = '\0';
		return machine_cmdline_full(
			m, "a virtio_mmio.device= parameter per virtio device",
			err, errlen);
	}
	m->cmdline[len] = ' ';
	log_info("%s at %#llx IRQ %u%s", name, (unsigned long long)base,
		 irq.gsi, irq.irqfd >= 0 ? " (irqfd)" : "");
	return 0;
fail:
	snprintf(err, errlen, "setting up %s: %s", name, strerror(-ret));
	return ret;
}

/* --balloon (its stats timer on the event loop) and --control-socket. */
static int machine_balloon_control(struct machine *m, char *err, size_t errlen)
{
	const struct cli_opts *o = m->o;
	int ret, tfd;

	if (o->has_balloon) {
		m->balloon = calloc(1, sizeof(*m->balloon));
		if (!m->balloon)
			return machine_oom("the virtio-balloon device", err,
					   errlen);
		ret = virtio_balloon_init(m->balloon, &o->balloon);
		if (ret) {
			free(m->balloon);
			m->balloon = NULL;
			snprintf(err, errlen, "virtio-balloon stats timer: %s",
				 strerror(-ret));
			return ret;
		}
		ret = machine_add_virtio(m, &m->balloon->mmio, "virtio-balloon",
					 err, errlen);
		if (ret)
			return ret;
		tfd = virtio_balloon_timer_fd(m->balloon);
		if (tfd >= 0 &&
		    (ret = machine_epoll_add(m, tfd, TAG_BALLOON))) {
			snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
			return ret;
		}
	}
	if (!o->control_socket)
		return 0;
	m->ctl = calloc(1, sizeof(*m->ctl));
	if (!m->ctl)
		return machine_oom("the control socket", err, errlen);
	ret = control_open(m->ctl, o->control_socket, &m->gm, m->balloon, err,
			   errlen);
	if (ret) {
		free(m->ctl);
		m->ctl = NULL;
		return ret;
	}
	ret = machine_epoll_add(m, control_fd(m->ctl), TAG_CONTROL);
	if (ret)
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
	return ret;
}

static int machine_virtio(struct machine *m, char *err, size_t errlen)
{
	const struct cli_opts *o = m->o;
	char name[32];
	int ret;

	for (unsigned i = 0; i < o->nr_disks; i++) {
		struct virtio_blk *b = calloc(1, sizeof(*b));

		if (!b)
			return machine_oom("a virtio-blk device", err, errlen);
		ret = virtio_blk_open(b, o->disks[i].path, o->disks[i].ro, err,
				      errlen);
		if (ret) {
			free(b);
			return ret;
		}
		m->disks[m->nr_disks++] = b;
		snprintf(name, sizeof(name), "virtio-blk%u", i);
		ret = machine_add_virtio(m, &b->mmio, name, err, errlen);
		if (ret)
			return ret;
	}
	if (o->has_net) {
		m->net = calloc(1, sizeof(*m->net));
		if (!m->net)
			return machine_oom("the virtio-net device", err,
					   errlen);
		ret = virtio_net_open(m->net, &o->net, err, errlen);
		if (ret) {
			free(m->net);
			m->net = NULL;
			return ret;
		}
		ret = machine_add_virtio(m, &m->net->mmio, "virtio-net", err,
					 errlen);
		if (ret)
			return ret;
		/* The device says how (edge-triggered): frames it leaves in
		 * the TAP while the guest has no buffers must not wake us. */
		ret = machine_epoll_add_events(m, virtio_net_tap_fd(m->net),
					       virtio_net_poll_events(m->net),
					       TAG_NET);
		if (ret) {
			snprintf(err, errlen, "epoll_ctl (virtio-net TAP): %s",
				 strerror(-ret));
			return ret;
		}
	}
	if (o->rng) {
		m->rng = calloc(1, sizeof(*m->rng));
		if (!m->rng)
			return machine_oom("the virtio-rng device", err,
					   errlen);
		virtio_rng_init(m->rng);
		ret = machine_add_virtio(m, &m->rng->mmio, "virtio-rng", err,
					 errlen);
		if (ret)
			return ret;
	}
	ret = machine_balloon_control(m, err, errlen);
	if (ret)
		return ret;
	/* Without an initrd the first disk is the root file system. */
	if (o->nr_disks && !o->initrd) {
		size_t len = strlen(m->cmdline);
		int n = snprintf(m->cmdline + len, sizeof(m->cmdline) - len,
				 " root=/dev/vda %s",
				 m->disks[0]->ro ? "ro" : "rw");

		if (n < 0 || (size_t)n >= sizeof(m->cmdline) - len) {
			m->cmdline[len] = '\0';
			return machine_cmdline_full(
				m, "root=/dev/vda for the root --disk", err,
				errlen);
		}
	}
	return 0;
}

static int machine_vcpus(struct machine *m, const struct boot_info *bi,
			 char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	for (unsigned i = 0; i < m->o->cpus; i++) {
		struct vcpu *v = &m->vcpus[i];

		ret = vcpu_create(v, &m->vm, i, err, errlen);
		if (ret)
			return ret;
		m->nr_vcpus++;
		v->on_first_run = machine_first_run;
		v->opaque = m;
		ret = vcpu_init_x86(v, m->o->cpus, err, errlen);
		if (ret)
			return ret;
	}
	/* Only the boot vCPU gets entry registers: the others wait for the
	 * guest's INIT/SIPI in the in-kernel LAPIC. */
	ret = vcpu_get_sregs(&m->vcpus[0], &sregs);
	if (!ret) {
		boot_setup_regs(bi, &sregs, &regs);
		ret = vcpu_set_regs(&m->vcpus[0], &sregs, &regs);
	}
	if (ret)
		snprintf(err, errlen, "setting boot registers: %s",
			 strerror(-ret));
	return ret;
}

/* Console input flow control: the terminal is polled only while the UART
 * takes what is read (vmm/console.h). Level-triggered stdin that is not
 * read would spin the loop, so it leaves the epoll set while bytes wait.
 * Ctrl-A x stops the VM. */
static void machine_console(struct machine *m, enum console_in_state st)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_STDIN};

	if (st == CONSOLE_IN_QUIT) {
		/* At the default level: the user sees why the VM ended, as
		 * with a signal. */
		log_warn("stopped from the console (Ctrl-A x)");
		vm_request_stop(&m->vm, 0,
				"stopped from the console (Ctrl-A x)");
		st = CONSOLE_IN_EOF;
	}
	if (st == m->con_state || m->con_state == CONSOLE_IN_EOF)
		return;
	if (st == CONSOLE_IN_READ)
		epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->console.fd, &ev);
	else if (m->con_state == CONSOLE_IN_READ)
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->console.fd, NULL);
	m->con_state = st;
}

/* vCPU on_start: the vCPU allowlist, before the thread's first KVM_RUN. */
static int machine_vcpu_seccomp(struct vcpu *v)
{
	struct machine *m = v->opaque;
	int ret = seccomp_apply(&m->seccomp, SECCOMP_THREAD_VCPU);

	if (ret)
		log_err("vCPU %u: cannot load the seccomp filter: %s (run with "
			"--no-seccomp on kernels without seccomp)",
			v->index, strerror(-ret));
	return ret;
}

static int machine_loop(struct machine *m, char *err, size_t errlen)
{
	struct epoll_event evs[MACHINE_MAX_EPOLL];

	while (!vm_stopping(&m->vm)) {
		int n = epoll_wait(m->epfd, evs, MACHINE_MAX_EPOLL, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "epoll_wait: %s",
				 strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u64) {
			case TAG_STOP: break;
			case TAG_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(m->sigfd, &si, sizeof(si)) ==
				    sizeof(si)) {
					char why[64];

					m->stop_signal = (int)si.ssi_signo;
					snprintf(why, sizeof(why),
						 "stopped by %s",
						 strsignal((int)si.ssi_signo));
					vm_request_stop(&m->vm,
							128 + m->stop_signal,
							why);
				}
				break;
			}
			case TAG_STDIN:
				machine_console(m, console_in_read(&m->con));
				break;
			case TAG_CONSOLE_WAKE:
				machine_console(m, console_in_wake(&m->con));
				break;
			case TAG_NET: virtio_net_rx(m->net); break;
			case TAG_BALLOON:
				virtio_balloon_timer(m->balloon);
				break;
			case TAG_CONTROL: control_process(m->ctl); break;
			default:
				if (evs[i].data.u64 - TAG_VDEV < m->nr_vdevs)
					virtio_mmio_process(
						m->vdevs[evs[i].data.u64 -
							 TAG_VDEV]);
				break;
			}
		}
	}
	return 0;
}

static void machine_free(struct machine *m)
{
	char err[256];

	if (m->pf_running)
		prefault_stop(&m->pf);
	if (m->vm_open) {
		vm_request_stop(&m->vm, 1, "teardown");
		for (unsigned i = 0; i < m->nr_vcpus; i++)
			vcpu_kick(&m->vcpus[i]);
	}
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	if (m->pf_running && prefault_wait(&m->pf, err, sizeof(err)))
		log_err("%s", err);
	/* Disks flush (fdatasync) as they close: after the vCPUs stopped. */
	for (unsigned i = 0; i < m->nr_disks; i++) {
		virtio_blk_close(m->disks[i]);
		free(m->disks[i]);
	}
	if (m->net) {
		virtio_net_close(m->net);
		free(m->net);
	}
	if (m->rng) {
		virtio_rng_close(m->rng);
		free(m->rng);
	}
	if (m->ctl) {
		control_close(m->ctl);
		free(m->ctl);
	}
	if (m->balloon) {
		virtio_balloon_close(m->balloon);
		free(m->balloon);
	}
	for (unsigned i = 0; i < m->nr_vdevs; i++)
		if (m->irqfds[i] >= 0)
			close(m->irqfds[i]);
	if (m->i8042_ready)
		i8042_destroy(&m->i8042);
	if (m->con_ready)
		console_in_close(&m->con);
	if (m->serial_ready)
		serial8250_destroy(&m->serial);
	kvm_stats_src_close(&m->stats);
	if (m->vm_open)
		vm_destroy(&m->vm);
	guest_mem_destroy(&m->gm);
	seccomp_free(&m->seccomp);
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->sigfd >= 0)
		close(m->sigfd);
	console_close(&m->console);
	if (m->kernel_fd >= 0)
		close(m->kernel_fd);
	if (m->initrd_fd >= 0)
		close(m->initrd_fd);
}

int machine_run(const struct cli_opts *o, const struct machine_timing *t0,
		char *err, size_t errlen)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct boot_info bi;
	sigset_t mask;
	int ret, status;

	if (!m)
		return machine_oom("the machine state", err, errlen);
	/* A console or log reader that goes away (`microvm | head`) is the
	 * user's choice, not a crash: writes fail with EPIPE, handled where
	 * they happen, instead of SIGPIPE killing the VMM. A disposition is
	 * process-wide, so this covers every thread. */
	signal(SIGPIPE, SIG_IGN);
	m->o = o;
	m->t0 = *t0;
	m->epfd = m->sigfd = m->kernel_fd = m->initrd_fd = -1;
	for (unsigned i = 0; i < MACHINE_MAX_VIRTIO; i++)
		m->irqfds[i] = -1;
	guest_mem_init(&m->gm);

	/* SIGINT/SIGTERM/SIGHUP/SIGQUIT arrive through a signalfd: blocked
	 * before anything is created (a stop during setup must reach the
	 * cleanup below, not kill us with a half-made --mem-file). Every
	 * other thread (vCPUs, prefault workers) is created with them blocked
	 * by thread_spawn, so only this thread can take them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	m->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sigfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(-ret));
		goto out;
	}

	ret = machine_open_image("kernel", o->kernel, &m->kernel_fd,
				 &m->kernel_len, err, errlen);
	if (!ret && o->initrd)
		ret = machine_open_image("initrd", o->initrd, &m->initrd_fd,
					 &m->initrd_len, err, errlen);
	if (ret)
		goto out;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "epoll_create1: %s", strerror(-ret));
		goto out;
	}
	ret = vm_open(&m->vm, err, errlen);
	if (ret)
		goto out;
	m->vm_open = 1;
	ret = machine_memory(m, err, errlen);
	if (ret)
		goto out;
	ret = vm_create(&m->vm, err, errlen);
	if (!ret)
		ret = vm_set_memory(&m->vm, &m->gm, err, errlen);
	if (!ret)
		ret = machine_cmdline(m, err, errlen);
	if (!ret)
		ret = machine_virtio(m, err, errlen);
	if (!ret)
		ret = machine_setup_check(m, err, errlen);
	if (ret)
		goto out;
	{
		struct boot_src k = boot_src_fd(m->kernel_fd, m->kernel_len);
		struct boot_src i = boot_src_fd(m->initrd_fd, m->initrd_len);

		ret = boot_load_src(&m->gm, &k, o->initrd ? &i : NULL,
				    m->cmdline, o->cpus, &bi, err, errlen);
	}
	if (ret)
		goto out;
	log_info("kernel: %s, %s entry at %#llx, cmdline \"%s\"",
		 boot_format_name(bi.format), boot_entry_name(bi.mode),
		 (unsigned long long)bi.entry, m->cmdline);
	/* The images are in guest memory now. */
	close(m->kernel_fd);
	if (m->initrd_fd >= 0)
		close(m->initrd_fd);
	m->kernel_fd = m->initrd_fd = -1;

	ret = machine_devices(m, err, errlen);
	if (ret)
		goto out;
	ret = vcpu_signals_init();
	if (ret) {
		snprintf(err, errlen, "installing the vCPU kick signal: %s",
			 strerror(-ret));
		goto out;
	}
	ret = machine_vcpus(m, &bi, err, errlen);
	if (ret)
		goto out;

	ret = machine_setup_check(m, err, errlen);
	if (ret)
		goto out;
	ret = machine_epoll_add(m, m->vm.stop_fd, TAG_STOP);
	if (!ret)
		ret = machine_epoll_add(m, m->sigfd, TAG_SIGNAL);
	if (ret) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
		goto out;
	}
	/* The terminal as the guest's console (raw mode) when stdin is one
	 * and we are in the foreground; its input flow-controlled. */
	console_open(&m->console, STDIN_FILENO);
	if (m->console.fd >= 0 &&
	    !console_in_init(&m->con, &m->serial, &m->console)) {
		m->con_ready = 1;
		m->con_state = CONSOLE_IN_READ;
	}
	/* A terminal we cannot read from is not left in raw mode. */
	if (m->console.fd >= 0 &&
	    (!m->con_ready ||
	     machine_epoll_add(m, m->con.wake_fd, TAG_CONSOLE_WAKE) ||
	     machine_epoll_add(m, m->console.fd, TAG_STDIN)))
		console_close(&m->console);
	machine_report(m, "at start");
	if (o->stats_json || o->verbose) {
		int fds[VM_MAX_VCPUS];

		for (unsigned i = 0; i < m->nr_vcpus; i++)
			fds[i] = m->vcpus[i].fd;
		kvm_stats_src_open(&m->stats, m->vm.vm_fd, fds, m->nr_vcpus,
				   &m->gm);
	}

	if (o->no_seccomp)
		log_warn("--no-seccomp: VMM and vCPU threads run without "
			 "syscall filters");
	else if ((ret = seccomp_build(&m->seccomp,
				      o->verbose || o->stats_json ||
						      o->control_socket
					      ? SECCOMP_VMM_FILES
					      : 0,
				      err, errlen)))
		goto out;
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		if (!o->no_seccomp)
			m->vcpus[i].on_start = machine_vcpu_seccomp;
		ret = vcpu_start(&m->vcpus[i]);
		if (ret) {
			snprintf(err, errlen, "cannot start vCPU thread %u: %s",
				 i, strerror(-ret));
			goto out;
		}
	}
	/* The main thread's allowlist: from here on it serves the guest.
	 * (Background prefault workers stay unfiltered: see seccomp.h.) */
	if (!o->no_seccomp &&
	    (ret = seccomp_apply(&m->seccomp, SECCOMP_THREAD_VMM))) {
		snprintf(err, errlen,
			 "cannot load the seccomp filter: %s (run with "
			 "--no-seccomp on kernels without seccomp)",
			 strerror(-ret));
		goto out;
	}
	ret = machine_loop(m, err, errlen);
	if (ret)
		goto out;

	/* Stop every vCPU and a background prefault (the rest of guest
	 * memory is not worth populating now), then flush what the guest
	 * wrote. */
	if (m->pf_running)
		prefault_stop(&m->pf);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	if (m->pf_running) {
		m->pf_running = 0;
		ret = prefault_wait(&m->pf, err, errlen);
		if (ret)
			goto out;
		if (prefault_stopped_early(&m->pf))
			log_info("background prefault stopped at the VM stop "
				 "after %llu of %llu MiB",
				 (unsigned long long)(m->pf.done_bytes >> 20),
				 (unsigned long long)(m->pf.total_bytes >> 20));
		else
			log_info("background prefault had populated all %llu "
				 "MiB",
				 (unsigned long long)(m->pf.total_bytes >> 20));
	}
	for (unsigned i = 0; i < m->gm.nr; i++) {
		ret = region_sync(&m->gm.regions[i]);
		if (ret) {
			snprintf(err, errlen,
				 "writing guest memory back to %s: %s",
				 o->zones[m->gm.regions[i].zone].policy.path,
				 strerror(-ret));
			goto out;
		}
	}
	machine_report(m, "at exit");
	if (m->balloon && o->verbose)
		virtio_balloon_print(m->balloon, log_stream());
	if (o->stats_json || o->verbose) {
		ret = machine_stats(m, err, errlen);
		if (ret)
			goto out;
	}
	status = m->vm.exit_status;
	if (status == 0) {
		log_info("%s", m->vm.stop_reason);
	} else if (m->stop_signal) {
		log_warn("%s", m->vm.stop_reason);
	} else {
		snprintf(err, errlen, "%s", m->vm.stop_reason);
		ret = -EIO;
		goto out;
	}
	machine_free(m);
	free(m);
	return status;

out:
	if (ret)
		for (unsigned i = 0; i < o->nr_zones; i++)
			if (m->mem_info.zone_file_created[i] &&
			    o->zones[i].policy.path)
				unlink(o->zones[i].policy.path);
	if (m->setup_stopped) {
		/* Like a stop while the guest runs: a warning and 128+N. */
		log_warn("%s", err);
		if (m->pf_running) {
			prefault_cancel(&m->pf);
			m->pf_running = 0;
			if (prefault_wait(&m->pf, err, errlen)) {
				/* -ECANCELED: what we asked for. */
			}
		}
		status = 128 + m->stop_signal;
		machine_free(m);
		free(m);
		return status;
	}
	machine_free(m);
	free(m);
	return ret ? ret : -EIO;
}
