#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "boot/layout.h"
#include "boot/loader.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/serial8250.h"
#include "mem/memmap.h"
#include "mem/prefault.h"
#include "mem/report.h"
#include "mem/size.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MACHINE_CMDLINE_MAX 4096
#define MACHINE_MAX_EPOLL   32

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
	struct i8042 i8042;
	int i8042_ready;
	struct boot_timer timer;
	void *kernel, *initrd;
	size_t kernel_len, initrd_len;
	char cmdline[MACHINE_CMDLINE_MAX];
	int epfd, sigfd;
	struct termios saved_tty;
	int tty_raw;
	int stop_signal;
};

void machine_timing_now(struct machine_timing *t)
{
	boot_timer_now(&t->wall_ns, &t->cpu_ns);
}

/* Read a whole file; a clear error names the file and the problem. */
static int machine_read_file(const char *what, const char *path, void **buf,
			     size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read %s %s: %s", what, path,
			 strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a regular file", what,
			 path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s %s is empty", what, path);
		close(fd);
		return -EINVAL;
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n =
			read(fd, (char *)*buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "reading %s %s: %s", what, path,
				 strerror(-ret));
			free(*buf);
			*buf = NULL;
			close(fd);
			return ret;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
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
	log_info("VMM setup took %.1f ms wall, %.1f ms CPU",
		 (double)(now.wall_ns - m->t0.wall_ns) / 1e6,
		 (double)(now.cpu_ns - m->t0.cpu_ns) / 1e6);
}

static int machine_memory(struct machine *m, char *err, size_t errlen)
{
	const struct cli_opts *o = m->o;
	int ret;

	ret = memmap_build(&m->gm, o->mem_size, LAYOUT_MMIO_GAP_START,
			   LAYOUT_MMIO_GAP_END, &o->policy, &m->mem_info, err,
			   errlen);
	if (ret)
		return ret;
	if (o->prefault == CLI_PREFAULT_NONE)
		return 0;
	ret = prefault_start(&m->pf, &m->gm, o->prefault_threads);
	if (ret) {
		snprintf(err, errlen, "cannot start prefault threads: %s",
			 strerror(-ret));
		return ret;
	}
	m->pf_running = 1;
	if (o->prefault == CLI_PREFAULT_SYNC) {
		m->pf_running = 0;
		ret = prefault_wait(&m->pf, err, errlen);
		if (ret)
			return ret;
		log_info("prefaulted %llu MiB with %u threads in %.1f ms%s",
			 (unsigned long long)(guest_mem_size(&m->gm) >> 20),
			 m->pf.nr_threads,
			 (double)(m->pf.end_ns - m->pf.start_ns) / 1e6,
			 m->pf.used_touch ? " (page touching: no "
					    "MADV_POPULATE_WRITE)"
					  : "");
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
	report_print(stderr, &m->gm, rep);
}

static int machine_cmdline(struct machine *m, char *err, size_t errlen)
{
	int n = snprintf(m->cmdline, sizeof(m->cmdline), "%s", m->o->cmdline);

	if (n < 0 || (size_t)n >= sizeof(m->cmdline)) {
		snprintf(err, errlen, "--cmdline is longer than %d bytes",
			 MACHINE_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	return 0;
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

static void machine_tty_restore(struct machine *m)
{
	if (m->tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &m->saved_tty);
		m->tty_raw = 0;
	}
}

/* The guest's console gets keystrokes as they are typed: raw mode, restored
 * on every exit path. Only when stdin is a terminal. */
static void machine_tty_raw(struct machine *m)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &m->saved_tty))
		return;
	t = m->saved_tty;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t))
		m->tty_raw = 1;
}

static int machine_epoll_add(struct machine *m, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

enum { TAG_STOP = 1, TAG_SIGNAL, TAG_STDIN };

static void machine_stdin(struct machine *m)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n <= 0) {
		/* EOF or error: stop watching, the guest just gets no input. */
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
		return;
	}
	serial8250_input(&m->serial, buf, (size_t)n);
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
			case TAG_STDIN: machine_stdin(m); break;
			}
		}
	}
	return 0;
}

static void machine_free(struct machine *m)
{
	char err[256];

	if (m->vm_open) {
		vm_request_stop(&m->vm, 1, "teardown");
		for (unsigned i = 0; i < m->nr_vcpus; i++)
			vcpu_kick(&m->vcpus[i]);
	}
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	if (m->pf_running && prefault_wait(&m->pf, err, sizeof(err)))
		log_err("%s", err);
	if (m->i8042_ready)
		i8042_destroy(&m->i8042);
	if (m->serial_ready)
		serial8250_destroy(&m->serial);
	if (m->vm_open)
		vm_destroy(&m->vm);
	guest_mem_destroy(&m->gm);
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->sigfd >= 0)
		close(m->sigfd);
	machine_tty_restore(m);
	free(m->kernel);
	free(m->initrd);
}

int machine_run(const struct cli_opts *o, const struct machine_timing *t0,
		char *err, size_t errlen)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct boot_info bi;
	sigset_t mask;
	int ret, status;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->o = o;
	m->t0 = *t0;
	m->epfd = m->sigfd = -1;
	guest_mem_init(&m->gm);

	ret = machine_read_file("kernel", o->kernel, &m->kernel, &m->kernel_len,
				err, errlen);
	if (!ret && o->initrd)
		ret = machine_read_file("initrd", o->initrd, &m->initrd,
					&m->initrd_len, err, errlen);
	if (ret)
		goto out;
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
	if (ret)
		goto out;
	ret = boot_load(&m->gm, m->kernel, m->kernel_len, m->initrd,
			m->initrd_len, m->cmdline, o->cpus, &bi, err, errlen);
	if (ret)
		goto out;
	log_info("kernel: %s, %s entry at %#llx, cmdline \"%s\"",
		 boot_format_name(bi.format), boot_entry_name(bi.mode),
		 (unsigned long long)bi.entry, m->cmdline);
	/* The files are in guest memory now. */
	free(m->kernel);
	free(m->initrd);
	m->kernel = m->initrd = NULL;

	ret = machine_devices(m, err, errlen);
	if (ret)
		goto out;
	ret = vcpu_signals_init();
	if (!ret)
		ret = machine_vcpus(m, &bi, err, errlen);
	if (ret)
		goto out;

	/* SIGINT/SIGTERM arrive through a signalfd in the main loop; block
	 * them before the vCPU threads exist so they inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	m->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->sigfd < 0 || m->epfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "signalfd/epoll: %s", strerror(-ret));
		goto out;
	}
	ret = machine_epoll_add(m, m->vm.stop_fd, TAG_STOP);
	if (!ret)
		ret = machine_epoll_add(m, m->sigfd, TAG_SIGNAL);
	if (ret) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
		goto out;
	}
	if (isatty(STDIN_FILENO) &&
	    !machine_epoll_add(m, STDIN_FILENO, TAG_STDIN))
		machine_tty_raw(m);
	machine_report(m, "at start");

	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		ret = vcpu_start(&m->vcpus[i]);
		if (ret) {
			snprintf(err, errlen, "cannot start vCPU thread %u: %s",
				 i, strerror(-ret));
			goto out;
		}
	}
	ret = machine_loop(m, err, errlen);
	if (ret)
		goto out;

	/* Stop every vCPU, then flush what the guest wrote. */
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	if (m->pf_running) {
		m->pf_running = 0;
		ret = prefault_wait(&m->pf, err, errlen);
		if (ret)
			goto out;
	}
	for (unsigned i = 0; i < m->gm.nr; i++) {
		ret = region_sync(&m->gm.regions[i]);
		if (ret) {
			snprintf(err, errlen,
				 "writing guest memory back to %s: %s",
				 o->mem_file, strerror(-ret));
			goto out;
		}
	}
	machine_report(m, "at exit");
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
	if (ret && m->mem_info.file_created && o->mem_file)
		unlink(o->mem_file);
	machine_free(m);
	free(m);
	return ret ? ret : -EIO;
}
