#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "vmm/exit.h"
#include "vmm/seccomp.h"

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return -EINTR. */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL))
		return -errno;
	return 0;
}

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, char *err,
		size_t errlen)
{
	void *run;
	int ret;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", index,
			 strerror(-ret));
		return ret;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   v->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "mmap of kvm_run for vCPU %u: %s", index,
			 strerror(-ret));
		close(v->fd);
		v->fd = -1;
		return ret;
	}
	v->run = run;
	return 0;
}

/* Wait outside KVM_RUN until the pause ends or the VM stops. */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->pause_req && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

void vcpu_loop(struct vcpu *v)
{
	struct exit_ctx ctx = {
		.pio = &v->vm->pio,
		.mmio = &v->vm->mmio,
		.run_size = v->vm->run_size,
	};
	char why[256];
	int first = 1;

	if (v->seccomp) {
		int ret = seccomp_apply(v->seccomp, SECCOMP_THREAD_VCPU);

		if (ret) {
			log_err("vCPU %u: cannot load the seccomp filter: %s "
				"(run with --no-seccomp on kernels without "
				"seccomp)",
				v->index, strerror(-ret));
			vm_request_stop(v->vm, 1, "vCPU thread setup failed");
			return;
		}
	}
	if (v->on_start && v->on_start(v)) {
		vm_request_stop(v->vm, 1, "vCPU thread setup failed");
		return;
	}
	while (!vm_stopping(v->vm)) {
		enum exit_action act;

		if (first && v->index == 0 && v->on_first_run)
			v->on_first_run(v);
		first = 0;
		if (ioctl(v->fd, KVM_RUN, 0)) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick: clear it and look at the flags. KVM
				 * completed any pending port or MMIO read
				 * before returning, so the registers are
				 * whole here: the one place to park. */
				v->run->immediate_exit = 0;
				if (__atomic_load_n(&v->vm->pause_req,
						    __ATOMIC_ACQUIRE))
					vcpu_park(v);
				continue;
			}
			snprintf(why, sizeof(why), "vCPU %u: KVM_RUN: %s",
				 v->index, strerror(errno));
			vm_request_stop(v->vm, 1, why);
			break;
		}
		v->exits++;
		if (v->exits == 1)
			seccomp_selftest_forbidden(); /* test-only build */
		act = exit_dispatch(v->run, &ctx, why, sizeof(why));
		if (act == EXIT_GUEST_STOP) {
			vm_request_stop(v->vm, 0, why);
		} else if (act == EXIT_ERROR) {
			char msg[300];

			snprintf(msg, sizeof(msg), "vCPU %u: %s", v->index,
				 why);
			vm_request_stop(v->vm, 1, msg);
		}
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	vcpu_loop(v);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	/* Only the kick reaches a vCPU: SIGINT/SIGTERM/SIGHUP are the main
	 * thread's (its signalfd), whatever the creator's mask was. */
	int ret = thread_spawn(&v->thread, vcpu_thread, v, VCPU_KICK_SIGNAL);

	if (ret)
		return ret;
	v->thread_started = 1;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers the window between the flag check and
	 * KVM_RUN; the signal covers a vCPU already inside the guest. */
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = 0;
	}
	if (v->run) {
		munmap(v->run, v->vm->run_size);
		v->run = NULL;
	}
	if (v->fd >= 0 && v->vm)
		close(v->fd);
	v->fd = -1;
}

int vcpu_create_all(struct vcpu *v, unsigned n, unsigned *nr, struct vm *vm,
		    const struct arch_boot *bi,
		    void (*on_first_run)(struct vcpu *v), void *opaque,
		    char *err, size_t errlen)
{
	int ret = vcpu_signals_init();

	if (ret) {
		snprintf(err, errlen, "installing the vCPU kick signal: %s",
			 strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < n; i++) {
		ret = vcpu_create(&v[i], vm, i, err, errlen);
		if (ret)
			return ret;
		(*nr)++;
		v[i].on_first_run = on_first_run;
		v[i].opaque = opaque;
		ret = arch_vcpu_init(&vm->arch, v[i].fd, i, n, err, errlen);
		if (ret)
			return ret;
	}
	ret = arch_vm_ready(&vm->arch, n, err, errlen);
	if (ret || !bi)
		return ret; /* !bi: a restore sets the saved registers */
	ret = arch_vcpu_boot(v[0].fd, bi);
	if (ret)
		snprintf(err, errlen, "setting boot registers: %s",
			 strerror(-ret));
	return ret;
}

int vcpu_start_all(struct vcpu *v, unsigned n, const struct seccomp_filters *f,
		   char *err, size_t errlen)
{
	for (unsigned i = 0; i < n; i++) {
		int ret;

		v[i].seccomp = f;
		ret = vcpu_start(&v[i]);
		if (ret) {
			snprintf(err, errlen, "cannot start vCPU thread %u: %s",
				 i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void vcpu_fds(const struct vcpu *v, unsigned n, int *fds)
{
	for (unsigned i = 0; i < n; i++)
		fds[i] = v[i].fd;
}

void vcpu_kick_all(struct vcpu *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		vcpu_kick(&v[i]);
}

int vcpu_pause_all(struct vcpu *v, unsigned n)
{
	struct vm *vm = n ? v[0].vm : NULL;
	unsigned started = 0;
	struct timespec dl;
	uint64_t ns;
	int ret = 0;

	if (!vm)
		return 0;
	for (unsigned i = 0; i < n; i++)
		started += v[i].thread_started ? 1 : 0;
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = 1;
	pthread_mutex_unlock(&vm->pause_lock);
	vcpu_kick_all(v, n);
	/* The condition runs on CLOCK_MONOTONIC, lib/clock's wall clock. */
	ns = clock_wall_ns() + VCPU_PAUSE_WAIT_S * 1000000000ULL;
	dl.tv_sec = (time_t)(ns / 1000000000ULL);
	dl.tv_nsec = (long)(ns % 1000000000ULL);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < started && !ret) {
		if (vm_stopping(vm))
			ret = -ESHUTDOWN;
		else if (pthread_cond_timedwait(&vm->pause_cond,
						&vm->pause_lock,
						&dl) == ETIMEDOUT)
			ret = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&vm->pause_lock);
	if (ret)
		vcpu_resume_all(v, n);
	return ret;
}

void vcpu_resume_all(struct vcpu *v, unsigned n)
{
	struct vm *vm = n ? v[0].vm : NULL;

	if (!vm)
		return;
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = 0;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vcpu_paused(const struct vcpu *v, unsigned n)
{
	return n && __atomic_load_n(&v[0].vm->pause_req, __ATOMIC_ACQUIRE);
}

void vcpu_stop_all(struct vcpu *v, unsigned n)
{
	/* Parked vCPUs wait on a condition, not in KVM_RUN: wake them to
	 * see the stop. */
	vcpu_resume_all(v, n);
	vcpu_kick_all(v, n);
	for (unsigned i = 0; i < n; i++)
		vcpu_destroy(&v[i]);
}
