/*
 * vCPUs: one thread each running KVM_RUN and the exit dispatcher. A stop is
 * a flag plus a signal (SIGUSR1) with immediate_exit, so a vCPU blocked in
 * the guest comes back out at once.
 */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>

#include "arch/arch.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int thread_started;
	uint64_t exits; /* counted by the loop, read after join */
	void *opaque;	/* the owner's, for the hooks below */
	/* Loaded (SECCOMP_THREAD_VCPU) on the vCPU thread before on_start
	 * and the first KVM_RUN; NULL: no filter. A failure stops the VM. */
	const struct seccomp_filters *seccomp;
	/* Called once on the vCPU thread before the first KVM_RUN (seccomp
	 * goes here). A non-zero return stops the VM. */
	int (*on_start)(struct vcpu *v);
	/* Called right before the first KVM_RUN of vCPU 0 (boot timing). */
	void (*on_first_run)(struct vcpu *v);
};

/* Install the (empty) kick signal handler. Once per process, before any
 * vCPU thread starts. */
int vcpu_signals_init(void) __attribute__((warn_unused_result));

/* Create vCPU `index` and map its kvm_run. */
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/*
 * Run until the VM stops: KVM_RUN, dispatch, repeat. Requests the VM stop
 * itself on a guest reset/poweroff (status 0) or an error (status 1).
 * Runs on the calling thread.
 */
void vcpu_loop(struct vcpu *v);

/* Start vcpu_loop() on a new thread that takes no signal but the kick
 * (and synchronous faults): see lib/thread.h. */
int vcpu_start(struct vcpu *v) __attribute__((warn_unused_result));

/* Make the vCPU leave KVM_RUN now (after vm_request_stop). */
void vcpu_kick(struct vcpu *v);

/* Join the thread (if started), unmap and close. */
void vcpu_destroy(struct vcpu *v);

/*
 * The VM's vCPUs: install the kick signal, create vCPUs 0..n-1 of vm in
 * v[0..n) with their arch state for n vCPUs (arch_vcpu_init), each with
 * `opaque` and the on_first_run hook; finish the interrupt controller
 * (arch_vm_ready); then the entry registers for bi on v[0], the boot vCPU
 * (the others wait for the guest to start them: INIT/SIPI, PSCI CPU_ON);
 * bi NULL: no entry registers (a snapshot restore sets them).
 * *nr counts the vCPUs created (to destroy, also after a failure). 0, or
 * a negative errno with the reason in err.
 */
int vcpu_create_all(struct vcpu *v, unsigned n, unsigned *nr, struct vm *vm,
		    const struct arch_boot *bi,
		    void (*on_first_run)(struct vcpu *v), void *opaque,
		    char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Start v[0..n) on their threads, each loading f's vCPU list first (f
 * NULL: no filter). 0, or a negative errno with the reason in err (the
 * threads already started run until vcpu_stop_all). */
int vcpu_start_all(struct vcpu *v, unsigned n, const struct seccomp_filters *f,
		   char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The vCPU fds of v[0..n) into fds (for kvm_stats_src_open). */
void vcpu_fds(const struct vcpu *v, unsigned n, int *fds);

/* vcpu_kick each of v[0..n). */
void vcpu_kick_all(struct vcpu *v, unsigned n);

/*
 * Pause: every started vCPU of v[0..n) leaves KVM_RUN (after completing a
 * pending I/O exit) and parks until vcpu_resume_all. Waits up to
 * VCPU_PAUSE_WAIT_S for all to park. 0 (also when already paused), or
 * -ESHUTDOWN (the VM is stopping) / -ETIMEDOUT, the vCPUs then resumed.
 * Main thread only.
 */
#define VCPU_PAUSE_WAIT_S 5
int vcpu_pause_all(struct vcpu *v, unsigned n)
	__attribute__((warn_unused_result));

/* End a pause: the parked vCPUs go back into the guest. */
void vcpu_resume_all(struct vcpu *v, unsigned n);

/* 1 while a pause is in force. */
int vcpu_paused(const struct vcpu *v, unsigned n);

/* Kick every vCPU out of the guest, then join and destroy each. Call after
 * vm_request_stop. */
void vcpu_stop_all(struct vcpu *v, unsigned n);

#endif
