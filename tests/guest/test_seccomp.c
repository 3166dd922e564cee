/*
 * Seccomp on real vCPU threads of this machine's KVM: a forked child builds
 * a payload VM (flat 32-bit protected mode), starts its vCPU with the
 * vCPU allowlist in on_start (as vmm/machine.c does) and loads the VMM
 * allowlist on its own main thread. Port handlers run on the vCPU thread,
 * so a handler making a syscall outside the list is the VMM's exit path
 * doing it: the child must die of SIGSYS with the one-line report. The same
 * VM without the forbidden call must run, stop and tear down under both
 * filters, and a spinning guest must still be kicked out of KVM_RUN.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/testvm.h"
#include "tests/harness/harness.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define SC_CODE_GPA 0x1000
#define SC_PORT	    0x510 /* 'A': note it; 'S': make a forbidden syscall */
#define SC_STOP	    0x511 /* stop the VM with status = value */

struct sc_vm {
	struct testvm t; /* the VM, its memory and vCPU 0 */
	struct seccomp_filters filters;
};

static struct sc_vm scvm;

static void sc_port_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

/* Runs on the vCPU thread, under the vCPU filter. */
static void sc_port_write(void *opaque, uint64_t off, const void *data,
			  uint32_t len)
{
	struct sc_vm *p = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	if (off == 1) {
		vm_request_stop(&p->t.vm, v, "payload done");
	} else if (v == 'A') {
		if (write(STDERR_FILENO, "exit-A handled\n", 15) != 15)
			vm_request_stop(&p->t.vm, 40, "write refused");
	} else if (v == 'S') {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		/* Only reached when the filter did not bite. */
		vm_request_stop(&p->t.vm, fd >= 0 ? 41 : 42, "socket returned");
	}
}

static const struct bus_ops sc_port_ops = {
	.read = sc_port_read,
	.write = sc_port_write,
};

/* out 'A'; out 'S'; out 0 to the stop port; hlt. */
static const uint8_t sc_payload_forbidden[] = {
	0x66, 0xba, 0x10, 0x05, /* mov dx, 0x510 */
	0xb0, 0x41,		/* mov al, 'A' */
	0xee,			/* out dx, al */
	0xb0, 0x53,		/* mov al, 'S' */
	0xee,			/* out dx, al */
	0x66, 0xba, 0x11, 0x05, /* mov dx, 0x511 */
	0xb0, 0x00,		/* mov al, 0 */
	0xee,			/* out dx, al */
	0xf4,			/* hlt */
};

/* out 'A'; out 0 to the stop port; hlt. */
static const uint8_t sc_payload_clean[] = {
	0x66, 0xba, 0x10, 0x05, /* mov dx, 0x510 */
	0xb0, 0x41,		/* mov al, 'A' */
	0xee,			/* out dx, al */
	0x66, 0xba, 0x11, 0x05, /* mov dx, 0x511 */
	0xb0, 0x00,		/* mov al, 0 */
	0xee,			/* out dx, al */
	0xf4,			/* hlt */
};

static const uint8_t sc_payload_spin[] = {
	0xeb, 0xfe, /* jmp . */
};

static int sc_vcpu_on_start(struct vcpu *v)
{
	struct sc_vm *p = v->opaque;

	return seccomp_apply(&p->filters, SECCOMP_THREAD_VCPU);
}

/* In the child: a VM running `code`, filters built. Exit codes 60+ mark
 * setup failures (reported by the parent). */
static void sc_setup(struct sc_vm *p, const uint8_t *code, size_t len)
{
	char err[512];

	memset(p, 0, sizeof(*p));
	/* 60: the VM or its memory; stderr says which step. */
	if (testvm_open(&p->t, SC_CODE_GPA, code, len, err, sizeof(err))) {
		fprintf(stderr, "sc_setup: %s\n", err);
		_exit(60);
	}
	if (bus_add(&p->t.vm.pio, SC_PORT, 2, &sc_port_ops, p, "probe"))
		_exit(62);
	if (testvm_vcpu(&p->t, SC_CODE_GPA, 0, err, sizeof(err))) {
		fprintf(stderr, "sc_setup: %s\n", err);
		_exit(63);
	}
	if (vcpu_signals_init() ||
	    seccomp_build(&p->filters, 0, err, sizeof(err)))
		_exit(65);
	p->t.vcpu.opaque = p;
	p->t.vcpu.on_start = sc_vcpu_on_start;
}

/*
 * Fork; the child runs `code` on a filtered vCPU thread with its main
 * thread filtered too. With spin_ms, the main thread waits that long (an
 * epoll_wait timeout: the event loop's call) and then stops and kicks the
 * vCPU. The child exits with the VM's status. Output: stderr of the child.
 */
static int sc_run(const uint8_t *code, size_t len, int spin_ms, char *out,
		  size_t outlen)
{
	size_t got = 0;
	int p[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sc_vm *v = &scvm;
		struct epoll_event ev;
		int epfd;

		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		sc_setup(v, code, len);
		epfd = epoll_create1(0);
		if (epfd < 0 || vcpu_start(&v->t.vcpu))
			_exit(66);
		if (seccomp_apply(&v->filters, SECCOMP_THREAD_VMM))
			_exit(67);
		if (spin_ms) {
			epoll_wait(epfd, &ev, 1, spin_ms);
			vm_request_stop(&v->t.vm, 7, "stopped from outside");
			vcpu_kick(&v->t.vcpu);
		}
		vcpu_destroy(&v->t.vcpu); /* joins */
		_exit(v->t.vm.exit_status);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], out + got, outlen - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = 0;
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

START_TEST(seccomp_vcpu_forbidden_syscall_kills_vmm)
{
	char out[2048], want[96];
	int st;

	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	st = sc_run(sc_payload_forbidden, sizeof(sc_payload_forbidden), 0, out,
		    sizeof(out));
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
		      "child status %#x (exit %d), not SIGSYS; stderr: %s", st,
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
	/* The first exit was served under the filter before the bad one. */
	ck_assert_msg(strstr(out, "exit-A handled"), "stderr: %s", out);
	snprintf(want, sizeof(want),
		 "microvm: seccomp: vCPU thread made forbidden syscall %d;",
		 (int)SYS_socket);
	ck_assert_msg(strstr(out, want), "no '%s' in: %s", want, out);
}
END_TEST

START_TEST(seccomp_filtered_vm_runs_and_stops)
{
	char out[2048];
	int st;

	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	st = sc_run(sc_payload_clean, sizeof(sc_payload_clean), 0, out,
		    sizeof(out));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child status %#x (exit %d, signal %d); stderr: %s", st,
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		      WIFSIGNALED(st) ? WTERMSIG(st) : 0, out);
	ck_assert_msg(strstr(out, "exit-A handled"), "stderr: %s", out);
}
END_TEST

START_TEST(seccomp_filtered_kick_stops_spinning_guest)
{
	char out[2048];
	int st;

	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	st = sc_run(sc_payload_spin, sizeof(sc_payload_spin), 100, out,
		    sizeof(out));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 7,
		      "child status %#x (exit %d, signal %d); stderr: %s", st,
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		      WIFSIGNALED(st) ? WTERMSIG(st) : 0, out);
}
END_TEST

Suite *seccomp_suite(void);
Suite *seccomp_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("vcpu");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, seccomp_vcpu_forbidden_syscall_kills_vmm);
	tcase_add_test(tc, seccomp_filtered_vm_runs_and_stops);
	tcase_add_test(tc, seccomp_filtered_kick_stops_spinning_guest);
	suite_add_tcase(s, tc);
	return s;
}
