/*
 * Seccomp allowlists: each case forks a child that loads one thread kind's
 * filter on itself and makes system calls; the parent checks the child
 * either finished (the calls of the list work) or died of SIGSYS with the
 * one-line report (calls outside the list kill the process).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/harness.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"

struct child {
	int status;
	char out[2048];
};

static volatile sig_atomic_t kicked;

static void kick_handler(int sig)
{
	(void)sig;
	kicked = 1;
}

/*
 * Run fn in a child whose stderr is a pipe, after loading the filter of
 * `kind`. fn returns an exit code; the child leaves with exit() the thread
 * kind has (a vCPU thread may only end itself, not the process).
 */
static void run_filtered(enum seccomp_thread kind, int (*fn)(void),
			 struct child *c)
{
	struct seccomp_filters f;
	char err[256];
	size_t got = 0;
	int p[2];
	pid_t pid;

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sigaction sa;
		int code;

		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = kick_handler;
		sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
		if (seccomp_build(&f, 0, err, sizeof(err))) {
			fprintf(stderr, "build: %s\n", err);
			_exit(90);
		}
		if (seccomp_apply(&f, kind))
			_exit(91);
		code = fn();
		if (kind != SECCOMP_THREAD_VMM)
			syscall(SYS_exit, code);
		/* Not _exit(): under ASan its interceptor makes syscalls
		 * (sigaltstack) the filter rightly kills. */
		syscall(SYS_exit_group, code);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], c->out + got, sizeof(c->out) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	c->out[got] = 0;
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &c->status, 0), pid);
}

static void expect_exit0(const struct child *c)
{
	ck_assert_msg(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
		      "child status %#x (exit %d, signal %d), stderr: %s",
		      c->status,
		      WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1,
		      WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0, c->out);
}

static void expect_sigsys(const struct child *c, const char *kind, long nr)
{
	char want[128];

	ck_assert_msg(WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGSYS,
		      "child status %#x, not killed by SIGSYS; stderr: %s",
		      c->status, c->out);
	snprintf(want, sizeof(want),
		 "microvm: seccomp: %s thread made forbidden syscall %ld;",
		 kind, nr);
	ck_assert_msg(strstr(c->out, want), "no '%s' in: %s", want, c->out);
	ck_assert_msg(strchr(c->out, '\n') == c->out + strlen(c->out) - 1,
		      "report is not one line: %s", c->out);
}

START_TEST(seccomp_builds_both_lists)
{
	struct seccomp_filters f;
	char err[256];

	ck_assert_msg(seccomp_build(&f, 0, err, sizeof(err)) == 0, "%s", err);
	for (int k = 0; k < SECCOMP_THREAD_KINDS; k++) {
		ck_assert_ptr_nonnull(f.prog[k].insns);
		ck_assert_uint_gt(f.prog[k].len, 10);
	}
	/* The vCPU list is the shorter one. */
	ck_assert_uint_lt(f.prog[SECCOMP_THREAD_VCPU].len,
			  f.prog[SECCOMP_THREAD_VMM].len);
	seccomp_free(&f);
	ck_assert_ptr_null(f.prog[0].insns);
}
END_TEST

/* What the exit path of a vCPU thread does: all of it must keep working. */
static int vcpu_allowed(void)
{
	struct timespec ts;
	struct kvm_run *run_none = NULL;
	int futex_word = 0;
	void *page;

	if (write(STDERR_FILENO, "vcpu-ok\n", 8) != 8)
		return 10;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return 11;
	/* KVM_RUN on a bad fd: the filter lets it through, the kernel says
	 * EBADF. */
	if (ioctl(-1, KVM_RUN, run_none) != -1 || errno != EBADF)
		return 12;
	if (ioctl(-1, KVM_IRQ_LINE, NULL) != -1 || errno != EBADF)
		return 13;
	if (syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
		    0) != 0)
		return 14;
	if (poll(NULL, 0, 0) != 0)
		return 15;
	/* vcpu_kick from an i8042 reset: pthread_kill with the kick signal,
	 * whose handler returns through rt_sigreturn. */
	if (pthread_kill(pthread_self(), VCPU_KICK_SIGNAL) || !kicked)
		return 16;
	/* glibc's thread exit gives back the stack. */
	page = &futex_word;
	if (madvise((void *)((uintptr_t)page & ~4095UL), 0, MADV_DONTNEED))
		return 17;
	return 0;
}

START_TEST(seccomp_vcpu_allows_its_calls)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VCPU, vcpu_allowed, &c);
	expect_exit0(&c);
	ck_assert_ptr_nonnull(strstr(c.out, "vcpu-ok"));
}
END_TEST

static int vcpu_socket(void)
{
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 20 : 21;
}

START_TEST(seccomp_vcpu_socket_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VCPU, vcpu_socket, &c);
	expect_sigsys(&c, "vCPU", SYS_socket);
}
END_TEST

static int vcpu_openat(void)
{
	return openat(AT_FDCWD, "/", O_RDONLY) >= 0 ? 20 : 21;
}

START_TEST(seccomp_vcpu_openat_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VCPU, vcpu_openat, &c);
	expect_sigsys(&c, "vCPU", SYS_openat);
}
END_TEST

/* ioctl is allowed for two requests only: a VM-setup ioctl kills. */
static int vcpu_setup_ioctl(void)
{
	return ioctl(-1, KVM_SET_USER_MEMORY_REGION, NULL) ? 21 : 20;
}

START_TEST(seccomp_vcpu_other_ioctl_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VCPU, vcpu_setup_ioctl, &c);
	expect_sigsys(&c, "vCPU", SYS_ioctl);
}
END_TEST

/* tgkill only with the kick signal. */
static int vcpu_tgkill_term(void)
{
	return (int)syscall(SYS_tgkill, getpid(), getpid(), SIGTERM) ? 21 : 20;
}

START_TEST(seccomp_vcpu_other_signal_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VCPU, vcpu_tgkill_term, &c);
	expect_sigsys(&c, "vCPU", SYS_tgkill);
}
END_TEST

/* What a lazy restore's userfaultfd handler does (mem/snapshot.c): every
 * call gets through the filter (bad descriptors: the kernel says EBADF). */
static int uffd_allowed(void)
{
	struct uffdio_copy cp = {0};
	struct uffdio_range w = {0};
	struct pollfd pf = {.fd = -1};
	struct stat sb;
	char b;
	int futex_word = 0;

	if (write(STDERR_FILENO, "uffd-ok\n", 8) != 8)
		return 10;
	if (poll(&pf, 1, 0) != 0)
		return 11;
	if (read(-1, &b, 1) != -1 || errno != EBADF)
		return 12;
	if (ioctl(-1, UFFDIO_COPY, &cp) != -1 || errno != EBADF)
		return 13;
	if (ioctl(-1, UFFDIO_WAKE, &w) != -1 || errno != EBADF)
		return 14;
	if (pread(-1, &b, 1, 0) != -1 || errno != EBADF)
		return 15;
	if (lseek(-1, 0, SEEK_DATA) != -1 || errno != EBADF)
		return 16;
	if (fstat(-1, &sb) != -1 || errno != EBADF)
		return 17;
	if (fallocate(-1, 0, 0, 4096) != -1 || errno != EBADF)
		return 18;
	if (syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
		    0) != 0)
		return 19;
	if (madvise((void *)((uintptr_t)&futex_word & ~4095UL), 0,
		    MADV_DONTNEED))
		return 20;
	return 0;
}

START_TEST(seccomp_uffd_allows_its_calls)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_UFFD, uffd_allowed, &c);
	expect_exit0(&c);
	ck_assert_ptr_nonnull(strstr(c.out, "uffd-ok"));
}
END_TEST

/* The handler runs no KVM ioctl and opens nothing. */
static int uffd_kvm_run(void)
{
	return ioctl(-1, KVM_RUN, NULL) ? 21 : 20;
}

START_TEST(seccomp_uffd_kvm_ioctl_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_UFFD, uffd_kvm_run, &c);
	expect_sigsys(&c, "lazy restore", SYS_ioctl);
}
END_TEST

START_TEST(seccomp_uffd_openat_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_UFFD, vcpu_openat, &c);
	expect_sigsys(&c, "lazy restore", SYS_openat);
}
END_TEST

/* Setup-only calls (here memfd_create) are not in the VMM list. */
static int vmm_memfd(void)
{
	return memfd_create("seccomp-test", MFD_CLOEXEC) >= 0 ? 20 : 21;
}

START_TEST(seccomp_vmm_setup_call_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VMM, vmm_memfd, &c);
	expect_sigsys(&c, "VMM", SYS_memfd_create);
}
END_TEST

/* The device work and teardown of the main thread. */
static int io_fd = -1;

static int vmm_allowed_io(void)
{
	static char data[4096];
	char back[16];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct iovec rio = {.iov_base = back, .iov_len = sizeof(back)};
	char buf[64];
	void *m;

	/* io_fd: a memfd the test opened before the filter. */
	memcpy(data, "disk-block", 10);
	if (pwritev(io_fd, &iov, 1, 0) != sizeof(data))
		return 10;
	if (preadv(io_fd, &rio, 1, 0) != sizeof(back) || memcmp(back, data, 10))
		return 11;
	if (fdatasync(io_fd) ||
	    fallocate(io_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      4096))
		return 12;
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		return 13;
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 14;
	memset(m, 1, 1 << 20);
	if (madvise(m, 1 << 20, MADV_DONTNEED) || msync(m, 4096, MS_SYNC) ||
	    munmap(m, 1 << 20))
		return 15;
	if (ioctl(-1, KVM_IRQ_LINE, NULL) != -1 || errno != EBADF)
		return 16;
	/* The --verbose exit report's fopen: refused, not killed. */
	if (openat(AT_FDCWD, "/proc/self/smaps", O_RDONLY) != -1 ||
	    errno != EACCES)
		return 17;
	if (fopen("/proc/self/smaps", "r") || errno != EACCES)
		return 18;
	/* vcpu_kick of another thread: tgkill with the kick signal (this
	 * single-threaded child's tid is its pid). */
	if (syscall(SYS_tgkill, getpid(), getpid(), VCPU_KICK_SIGNAL) ||
	    !kicked)
		return 19;
	if (close(io_fd))
		return 20;
	if (write(STDERR_FILENO, "vmm-ok\n", 7) != 7)
		return 21;
	return 0;
}

START_TEST(seccomp_vmm_allows_device_io)
{
	struct child c;

	io_fd = memfd_create("seccomp-test", MFD_CLOEXEC);
	ck_assert_int_ge(io_fd, 0);
	run_filtered(SECCOMP_THREAD_VMM, vmm_allowed_io, &c);
	close(io_fd);
	expect_exit0(&c);
	ck_assert_ptr_nonnull(strstr(c.out, "vmm-ok"));
}
END_TEST

static int vmm_exec_map(void)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? 21 : 20;
}

START_TEST(seccomp_vmm_exec_mapping_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VMM, vmm_exec_map, &c);
	expect_sigsys(&c, "VMM", SYS_mmap);
}
END_TEST

static int vmm_setup_ioctl(void)
{
	return ioctl(-1, KVM_CREATE_VCPU, 0) ? 21 : 20;
}

START_TEST(seccomp_vmm_setup_ioctl_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VMM, vmm_setup_ioctl, &c);
	expect_sigsys(&c, "VMM", SYS_ioctl);
}
END_TEST

static int vmm_exec(void)
{
	char *const argv[] = {(char *)(uintptr_t) "/bin/true", NULL};

	execve("/bin/true", argv, argv + 1);
	return 20;
}

START_TEST(seccomp_vmm_execve_kills)
{
	struct child c;

	run_filtered(SECCOMP_THREAD_VMM, vmm_exec, &c);
	expect_sigsys(&c, "VMM", SYS_execve);
}
END_TEST

Suite *seccomp_suite(void);
Suite *seccomp_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("lists");

	tcase_add_test(tc, seccomp_builds_both_lists);
	tcase_add_test(tc, seccomp_vcpu_allows_its_calls);
	tcase_add_test(tc, seccomp_vcpu_socket_kills);
	tcase_add_test(tc, seccomp_vcpu_openat_kills);
	tcase_add_test(tc, seccomp_vcpu_other_ioctl_kills);
	tcase_add_test(tc, seccomp_vcpu_other_signal_kills);
	tcase_add_test(tc, seccomp_uffd_allows_its_calls);
	tcase_add_test(tc, seccomp_uffd_kvm_ioctl_kills);
	tcase_add_test(tc, seccomp_uffd_openat_kills);
	tcase_add_test(tc, seccomp_vmm_setup_call_kills);
	tcase_add_test(tc, seccomp_vmm_allows_device_io);
	tcase_add_test(tc, seccomp_vmm_exec_mapping_kills);
	tcase_add_test(tc, seccomp_vmm_setup_ioctl_kills);
	tcase_add_test(tc, seccomp_vmm_execve_kills);
	suite_add_tcase(s, tc);
	return s;
}
