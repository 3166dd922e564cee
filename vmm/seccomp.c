#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/console.h"
#include "vmm/seccomp_rules.h"
#include "vmm/vcpu.h"

/* UFFDIO_MOVE (Linux 6.8), for headers that predate it; the handler uses
 * it when the kernel has it (mem/snapshot.c). */
#ifdef UFFDIO_MOVE
#define SECCOMP_UFFDIO_MOVE UFFDIO_MOVE
#else
#define SECCOMP_UFFDIO_MOVE            \
	_IOWR(                         \
		UFFDIO, 0x05, struct { \
			__u64 a[4];    \
			__s64 m;       \
		})
#endif

/* si_code of a SIGSYS sent by SECCOMP_RET_TRAP (not in every libc). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

/* The shared lists below name the syscalls every arch has; each arch adds
 * its own (vmm/ARCH/seccomp.c: poll or ppoll, the legacy file calls, the
 * snapshot ioctls). */

/* The main thread from the loop step on (vmm/machine.c): the event loop
 * (vmm/loop.c), the device work it runs (virtio-blk/net/rng, balloon
 * discard), and the teardown. */
static const struct seccomp_rule seccomp_vmm_rules[] = {
	/* The loop's handlers: signalfd, stdin; virtio_mmio_process: queue
	 * eventfds; virtio_net_rx: tap frames. */
	ALLOW(read),
	/* log.c (stderr), irq.c (irqfd), vm_request_stop (stop eventfd). */
	ALLOW(write),
	/* virtio_net tx: frames to the tap. */
	ALLOW(writev),
	/* virtio_blk: reads and writes of the disk image. */
	ALLOW(preadv),
	ALLOW(pwritev),
	/* virtio_blk flush and close; region_sync (--mem-file) at exit. */
	ALLOW(fdatasync),
	/* region_sync: msync of file-backed guest memory at exit. */
	ALLOW(msync),
	/* region_discard: PUNCH_HOLE of memfd/hugetlb guest memory
	 * (balloon, free page reporting). */
	ALLOW(fallocate),
	/* region_discard (MADV_DONTNEED/REMOVE); glibc free() trims. */
	ALLOW(madvise),
	/* vcpu_destroy (kvm_run), region_unmap, glibc free() of big blocks. */
	ALLOW(munmap),
	/* glibc malloc: heap growth, and big blocks as anonymous maps, never
	 * executable; region_discard over a lazily restored base region
	 * (anonymous memory mapped over the snapshot file). */
	ALLOW(brk),
	ALLOW_IF(mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
	/* Teardown: device, vCPU, VM, epoll and signalfd descriptors. */
	ALLOW(close),
	/* loop_once (glibc's epoll_wait on arches without that syscall, and
	 * possibly on others). */
	ALLOW(epoll_pwait),
	/* Console flow control: stdin leaves the loop (EPOLL_CTL_DEL) while
	 * bytes wait and rejoins it (EPOLL_CTL_ADD); loop_del at teardown. */
	ALLOW(epoll_ctl),
	/* virtio_rng: entropy for the guest. */
	ALLOW(getrandom),
	/* Device and log mutexes; pthread_join of vCPU and prefault
	 * threads at exit. */
	ALLOW(futex),
	/* lib/clock.h: log rate limits, the boot timer, control idle
	 * timeouts (when the vDSO does not answer). */
	ALLOW(clock_gettime),
	/* vm_irq_line: interrupts without irqfd (serial input, virtio
	 * devices when KVM has no irqfd). */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, KVM_IRQ_LINE, 0),
	/* console_close at exit, console_restore_signal_safe in the fatal
	 * signal and SIGSYS handlers: one TCSETS. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, TCSETS, 0),
	/* vcpu_kick at stop: pthread_kill = getpid + tgkill, with signals
	 * blocked around it; only the kick signal may be sent. */
	ALLOW(getpid),
	ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, VCPU_KICK_SIGNAL, 0),
	ALLOW(rt_sigprocmask),
	ALLOW_FATAL_RERAISE,
	/* Return from any signal handler. */
	ALLOW(rt_sigreturn),
	/* main() returns. */
	ALLOW(exit_group),
	/* kvm_stats_collect (--verbose, --stats-json): host page faults of
	 * the run, and the KVM binary stats fds opened at setup. */
	ALLOW(getrusage),
	ALLOW(pread64),
	/* vmm/control.c (--control-socket): clients connect, send requests
	 * and get replies on the event loop. */
	ALLOW(accept4),
	ALLOW(recvfrom),
	ALLOW(sendto),
	/* control_arm: the idle timeout of control connections. */
	ALLOW(timerfd_settime),
	/*
	 * Files, only with SECCOMP_VMM_FILES (--verbose, --stats-json,
	 * --control-socket): report_read (exit report, control.c's "balloon
	 * stats") and kvm_stats_collect fopen /proc/self/smaps and
	 * /proc/self/status (openat, fstat, lseek at fclose); kvm_stats_write
	 * (file_write_replace) looks at the path (newfstatat), writes a
	 * mkostemp temporary (openat, getrandom, fchmod, fsync) and renames
	 * it (renameat2, unlink on failure), or writes to a FIFO or device
	 * (openat, fcntl); control_close unlinks its socket;
	 * machine_run unlinks a --mem-file it created when teardown fails.
	 */
	ALLOW_FILES(openat),
	ALLOW_FILES(newfstatat),
	ALLOW_FILES(fstat),
	ALLOW_FILES(lseek),
	ALLOW_FILES(fcntl),
	ALLOW_FILES(fchmod),
	ALLOW_FILES(fsync),
	ALLOW_FILES(renameat),
	ALLOW_FILES(renameat2),
	ALLOW_FILES(unlinkat),
	/*
	 * vmm/control.c "snapshot DIR" (--control-socket): the directory is
	 * made and listed (mkdir, openat, getdents64), the state file and
	 * the memory files written (openat, write, pwrite64, ftruncate,
	 * fsync) from guest memory and /proc/self/pagemap (pread64); the
	 * vCPUs' and the VM's state read with the arch's ioctls (its list).
	 */
	ALLOW_FILES(mkdirat),
	ALLOW_FILES(getdents64),
	ALLOW_FILES(pwrite64),
	ALLOW_FILES(ftruncate),
	ALLOW_FILES(dup),
	/* Without it the same calls fail with EACCES instead of killing:
	 * the exit report says it cannot read smaps, a created --mem-file
	 * stays after a failed teardown. Nothing is opened either way. */
	REFUSE(openat, EACCES),
	REFUSE(unlinkat, EACCES),
};

/* A vCPU thread from its on_start hook on: KVM_RUN and the exit path
 * (port/MMIO device handlers run here), and the thread's own exit. */
static const struct seccomp_rule seccomp_vcpu_rules[] = {
	/* vcpu_loop: run the guest. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, KVM_RUN, 0),
	/* vm_irq_line: serial8250 and virtio interrupts without irqfd. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, KVM_IRQ_LINE, 0),
	/* console_restore_signal_safe in the fatal-signal and SIGSYS
	 * handlers: the terminal back to cooked mode before dying. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, TCSETS, 0),
	/* serial8250 tx (stdout) and rx wakeup (eventfd), vm_request_stop
	 * (stop eventfd), irq.c (irqfd), virtio_mmio notify without
	 * ioeventfd (queue eventfd), log.c (stderr). */
	ALLOW(write),
	/* Device, bus and log mutexes; glibc's thread exit. */
	ALLOW(futex),
	/* boot timer and machine_first_run (CLOCK_PROCESS_CPUTIME_ID is a
	 * real syscall), log rate limits. */
	ALLOW(clock_gettime),
	/* i8042 reset: vcpu_kick of every vCPU = pthread_kill (getpid +
	 * tgkill with signals blocked); only the kick signal. glibc also
	 * blocks signals while a thread exits. glibc's pthread_kill of the
	 * calling thread itself (the resetting vCPU) asks gettid. */
	ALLOW(getpid),
	ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, VCPU_KICK_SIGNAL, 0),
	ALLOW(rt_sigprocmask),
	ALLOW_FATAL_RERAISE,
	/* The kick handler returns (KVM_RUN then fails with EINTR). */
	ALLOW(rt_sigreturn),
	/* glibc's thread exit: MADV_DONTNEED of the stack, then exit. */
	ALLOW(madvise),
	ALLOW(exit),
};

/*
 * The lazy restore's userfaultfd handler thread (mem/snapshot.c), from its
 * start hook on: it waits on the userfaultfd and its stop eventfd, reads
 * fault messages, reads the snapshot's memory files and places pages with
 * the userfaultfd ioctls; docs/snapshot-memory.md lists the calls.
 */
static const struct seccomp_rule seccomp_uffd_rules[] = {
	/* memsnap_handler: wait for faults or the stop (glibc may use
	 * either), and read the fault messages. */
	ALLOW(poll),
	ALLOW(ppoll),
	ALLOW(read),
	/* memsnap_serve*: place pages, wake the faulting threads. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, UFFDIO_COPY, 0),
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, UFFDIO_ZEROPAGE, 0),
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, UFFDIO_WAKE, 0),
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, UFFDIO_CONTINUE, 0),
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, SECCOMP_UFFDIO_MOVE, 0),
	/* memsnap_unit_has_data: SEEK_DATA and the file's size; the data
	 * itself (pread64). */
	ALLOW(lseek),
	ALLOW(fstat),
	ALLOW(newfstatat),
	ALLOW(pread64),
	/* hugetlb holes: the unit allocated zeroed in the memfd. */
	ALLOW(fallocate),
	/* THP: MADV_COLLAPSE, the stage page emptied (MADV_DONTNEED); and
	 * glibc's thread exit (the stack). */
	ALLOW(madvise),
	/* memsnap_lazy_fail: the error eventfd. */
	ALLOW(write),
	/* lib/clock.h: the first fault's time (vDSO, else the syscall). */
	ALLOW(clock_gettime),
	/* glibc's thread exit and pthread_join's wakeup. */
	ALLOW(futex),
	ALLOW(rt_sigprocmask),
	ALLOW(exit),
	/* The SIGSYS and fatal-signal handlers: the terminal back, and a
	 * fatal signal raised again. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, TCSETS, 0),
	ALLOW_FATAL_RERAISE,
	ALLOW(rt_sigreturn),
};

/*
 * AddressSanitizer builds (make check-asan) only: its runtime sets and
 * clears each thread's alternate signal stack and maps and unmaps its
 * per-thread data as the thread exits. Added to both lists.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECCOMP_ASAN 1
#endif
#endif
#ifdef SECCOMP_ASAN
static const struct seccomp_rule seccomp_asan_rules[] = {
	ALLOW(sigaltstack),
	ALLOW(munmap),
	ALLOW_IF(mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
};
#endif

static const char *const seccomp_names[SECCOMP_THREAD_KINDS] = {
	[SECCOMP_THREAD_VMM] = "VMM",
	[SECCOMP_THREAD_VCPU] = "vCPU",
	[SECCOMP_THREAD_UFFD] = "lazy restore",
};

/* Read by the SIGSYS handler: which list the trapping thread had. Per
 * thread (a thread has one filter), so nothing is shared between VMs. */
static __thread const char *seccomp_tls_kind = "unfiltered";

const char *seccomp_thread_name(enum seccomp_thread kind)
{
	return kind < SECCOMP_THREAD_KINDS ? seccomp_names[kind] : "?";
}

static size_t seccomp_cat(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap)
		buf[n++] = *s++;
	return n;
}

static size_t seccomp_cat_num(char *buf, size_t n, size_t cap, long v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	*--p = 0;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10));
	if (v < 0)
		*--p = '-';
	return seccomp_cat(buf, n, cap, p);
}

/*
 * SIGSYS from a filter (SECCOMP_RET_TRAP): say which thread kind made which
 * syscall, with write() only (async-signal-safe, allowed in every list),
 * then die of SIGSYS. The handler was installed with SA_RESETHAND, so the
 * disposition is back to the default: the same syscall made again traps
 * again, the kernel forces the (blocked) SIGSYS with its default action and
 * the process is killed. Nothing here can be talked into returning to the
 * code that made the call.
 */
static void seccomp_sigsys(int sig, siginfo_t *si, void *ucv)
{
	char msg[256];
	size_t n = 0, cap = sizeof(msg) - 1;
	long args[6] = {0};

	(void)sig;
	/* The process dies next: give the user their terminal back. */
	console_restore_signal_safe();
	if (si->si_code == SYS_SECCOMP) {
		n = seccomp_cat(msg, n, cap, "microvm: seccomp: ");
		n = seccomp_cat(msg, n, cap, seccomp_tls_kind);
		n = seccomp_cat(msg, n, cap, " thread made forbidden syscall ");
		n = seccomp_cat_num(msg, n, cap, si->si_syscall);
		n = seccomp_cat(msg, n, cap,
				"; the VMM is killed. If the guest did not "
				"cause it, it is a microvm bug: report it "
				"(--no-seccomp runs without filters)");
	} else {
		n = seccomp_cat(msg, n, cap, "microvm: killed by SIGSYS");
	}
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* Nothing left to tell anyone. */
	}
	if (si->si_code == SYS_SECCOMP && ucv)
		seccomp_arch_args(ucv, args);
	if (si->si_code == SYS_SECCOMP)
		syscall(si->si_syscall, args[0], args[1], args[2], args[3],
			args[4], args[5]);
	/* Not a trap, or (impossibly) it returned: tgkill(SIGABRT) is in no
	 * list, so this dies of SIGSYS too; unfiltered, of SIGABRT. */
	abort();
}

/* A signal disposition is the process's: the SIGSYS handler is installed
 * once per process, whatever the number of VMs, and its result kept for
 * every later caller. */
static int seccomp_handler_ret;
static pthread_once_t seccomp_handler_once = PTHREAD_ONCE_INIT;

static void seccomp_install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = seccomp_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	seccomp_handler_ret = sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

/* libseccomp 2.5 exports BPF only to a file descriptor: a memfd. */
static int seccomp_export(scmp_filter_ctx ctx, struct seccomp_prog *p)
{
	struct stat st;
	size_t len;
	int fd, ret;

	fd = memfd_create("microvm-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fd);
	if (ret)
		goto out;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	len = (size_t)st.st_size;
	if (!len || len % sizeof(struct sock_filter) ||
	    len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		ret = -E2BIG;
		goto out;
	}
	p->insns = malloc(len);
	if (!p->insns) {
		ret = -ENOMEM;
		goto out;
	}
	if (pread(fd, p->insns, len, 0) != (ssize_t)len) {
		ret = -EIO;
		free(p->insns);
		p->insns = NULL;
		goto out;
	}
	p->len = (unsigned short)(len / sizeof(struct sock_filter));
out:
	close(fd);
	return ret;
}

static int seccomp_add_rules(scmp_filter_ctx ctx,
			     const struct seccomp_rule *rules, size_t n,
			     unsigned flags)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n; i++) {
		uint32_t act = rules[i].fail_errno
				       ? SCMP_ACT_ERRNO(rules[i].fail_errno)
				       : SCMP_ACT_ALLOW;

		if (rules[i].nr < 0)
			continue; /* not a syscall on this architecture */
		if ((rules[i].when == SC_FILES &&
		     !(flags & SECCOMP_VMM_FILES)) ||
		    (rules[i].when == SC_NO_FILES &&
		     (flags & SECCOMP_VMM_FILES)))
			continue;
		if (rules[i].nargs)
			ret = seccomp_rule_add_array(ctx, act, rules[i].nr, 1,
						     &rules[i].arg);
		else
			ret = seccomp_rule_add(ctx, act, rules[i].nr, 0);
	}
	return ret;
}

#ifdef SECCOMP_ASAN
static int seccomp_rule_same(const struct seccomp_rule *a,
			     const struct seccomp_rule *b)
{
	return a->nr == b->nr && a->fail_errno == b->fail_errno &&
	       a->when == b->when && a->nargs == b->nargs &&
	       (!a->nargs ||
		(a->arg.arg == b->arg.arg && a->arg.op == b->arg.op &&
		 a->arg.datum_a == b->arg.datum_a &&
		 a->arg.datum_b == b->arg.datum_b));
}
#endif

/* The shared list of a thread kind, then the arch's. */
static int seccomp_compile(const struct seccomp_rule *rules, size_t n,
			   const struct seccomp_rules *arch, unsigned flags,
			   struct seccomp_prog *p)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int ret;

	if (!ctx)
		return -ENOMEM;
	/* A syscall of another ABI (int 0x80, x32) is never legitimate. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			       SCMP_ACT_KILL_PROCESS);
	if (ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				       SCMP_ACT_KILL);
	if (!ret)
		ret = seccomp_add_rules(ctx, rules, n, flags);
	if (!ret)
		ret = seccomp_add_rules(ctx, arch->rules, arch->n, flags);
#ifdef SECCOMP_ASAN
	for (size_t i = 0;
	     !ret &&
	     i < sizeof(seccomp_asan_rules) / sizeof(seccomp_asan_rules[0]);
	     i++) {
		size_t j = 0, k = 0;

		while (j < n &&
		       !seccomp_rule_same(&rules[j], &seccomp_asan_rules[i]))
			j++;
		while (k < arch->n &&
		       !seccomp_rule_same(&arch->rules[k],
					  &seccomp_asan_rules[i]))
			k++;
		if (j == n && k == arch->n) /* not in the lists yet */
			ret = seccomp_add_rules(ctx, &seccomp_asan_rules[i], 1,
						flags);
	}
#endif
	if (!ret)
		ret = seccomp_export(ctx, p);
	seccomp_release(ctx);
	return ret;
}

int seccomp_build(struct seccomp_filters *f, unsigned flags, char *err,
		  size_t errlen)
{
	static const struct {
		const struct seccomp_rule *rules;
		size_t n;
	} lists[SECCOMP_THREAD_KINDS] = {
		[SECCOMP_THREAD_VMM] = {seccomp_vmm_rules,
					sizeof(seccomp_vmm_rules) /
						sizeof(seccomp_vmm_rules[0])},
		[SECCOMP_THREAD_VCPU] = {seccomp_vcpu_rules,
					 sizeof(seccomp_vcpu_rules) /
						 sizeof(seccomp_vcpu_rules[0])},
		[SECCOMP_THREAD_UFFD] = {seccomp_uffd_rules,
					 sizeof(seccomp_uffd_rules) /
						 sizeof(seccomp_uffd_rules[0])},
	};
	int ret;

	memset(f, 0, sizeof(*f));
	pthread_once(&seccomp_handler_once, seccomp_install_handler);
	if (seccomp_handler_ret) {
		snprintf(err, errlen,
			 "seccomp: cannot install the SIGSYS "
			 "handler: %s",
			 strerror(-seccomp_handler_ret));
		return seccomp_handler_ret;
	}
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		ret = seccomp_compile(lists[k].rules, lists[k].n,
				      &seccomp_arch_rules[k], flags,
				      &f->prog[k]);
		if (ret) {
			snprintf(err, errlen,
				 "seccomp: cannot build the %s thread filter: "
				 "%s (run with --no-seccomp to go without)",
				 seccomp_names[k], strerror(-ret));
			seccomp_free(f);
			return ret;
		}
	}
	return 0;
}

int seccomp_apply(const struct seccomp_filters *f, enum seccomp_thread kind)
{
	const struct seccomp_prog *p;
	struct sock_fprog fp;

	if (kind >= SECCOMP_THREAD_KINDS || !f->prog[kind].insns)
		return -EINVAL;
	p = &f->prog[kind];
	fp.len = p->len;
	fp.filter = p->insns;
	seccomp_tls_kind = seccomp_names[kind];
	/* Required to load a filter without CAP_SYS_ADMIN; also keeps
	 * execve from gaining privileges (execve is in no list anyway). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp))
		return -errno;
	return 0;
}

int seccomp_setup(struct seccomp_filters *f, const struct cli_opts *o,
		  const struct seccomp_filters **vcpu, char *err, size_t errlen)
{
	unsigned files = o->verbose || o->stats_json || o->control_socket
				 ? SECCOMP_VMM_FILES
				 : 0;

	*vcpu = NULL;
	if (o->no_seccomp) {
		log_warn("--no-seccomp: VMM and vCPU threads run without "
			 "syscall filters");
		return 0;
	}
	*vcpu = f;
	return seccomp_build(f, files, err, errlen);
}

int seccomp_enter_vmm(const struct seccomp_filters *f, char *err, size_t errlen)
{
	int ret;

	if (!f->prog[SECCOMP_THREAD_VMM].insns)
		return 0;
	ret = seccomp_apply(f, SECCOMP_THREAD_VMM);
	if (ret)
		snprintf(err, errlen,
			 "cannot load the seccomp filter: %s (run with "
			 "--no-seccomp on kernels without seccomp)",
			 strerror(-ret));
	return ret;
}

int seccomp_enter_uffd(void *f)
{
	return seccomp_apply(f, SECCOMP_THREAD_UFFD);
}

void seccomp_free(struct seccomp_filters *f)
{
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		free(f->prog[k].insns);
		f->prog[k].insns = NULL;
		f->prog[k].len = 0;
	}
}

#ifdef MICROVM_SECCOMP_SELFTEST
void seccomp_selftest_forbidden(void)
{
	/* Test-only build: the first vCPU exit in the process trips it,
	 * and the process dies of SIGSYS, so one flag per process is the
	 * contract (tests/boot/seccomp.sh). */
	static int done;
	int fd;

	if (__atomic_exchange_n(&done, 1, __ATOMIC_RELAXED))
		return;
	log_warn("seccomp self-test build: a vCPU thread calls openat at its "
		 "first exit");
	fd = openat(AT_FDCWD, "/", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		log_err("seccomp self-test: openat was allowed (filters off?)");
		close(fd);
	}
}
#endif
