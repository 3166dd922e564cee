/*
 * The VM: the /dev/kvm and VM file descriptors, the in-kernel interrupt
 * controller (arch/arch.h: the arch's half of the VM), memory slots registered from the guest memory map, the two buses, and
 * the stop protocol shared by the vCPU threads and the main loop.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "arch/arch.h"
#include "devices/bus.h"
#include "devices/event_source.h"
#include "lib/log.h"
#include "mem/guest_mem.h"

#define VM_MAX_VCPUS 64

struct vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct arch_vm arch; /* the interrupt controller, CPU features */
	const struct guest_mem *gm;
	unsigned nr_slots;
	struct bus pio;
	struct bus mmio;
	int has_ioeventfd, has_irqfd;
	struct log_ratelimit irq_line_rl; /* KVM_IRQ_LINE failures */

	/* Stop protocol: the first vm_request_stop() wins; stop_fd (an
	 * eventfd) becomes readable so the main loop wakes up. */
	int stop_fd;
	int stopping;	 /* atomic */
	int exit_status; /* 0 guest reset/poweroff, else failure */
	char stop_reason[256];

	/* Pause protocol (vmm/vcpu.h: vcpu_pause_all): while pause_req is
	 * set, each vCPU parks outside KVM_RUN after its pending I/O has
	 * completed, counted in `parked`. Under pause_lock. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond; /* CLOCK_MONOTONIC */
	int pause_req;
	unsigned parked;
};

/*
 * Open /dev/kvm and check the API version and every capability microvm
 * uses. On failure err names what is missing and what to do.
 */
int vm_open(struct vm *vm, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Create the VM and its interrupt controller (arch_vm_create). After
 * vm_open(). */
int vm_create(struct vm *vm, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Register every region of gm as a memory slot. gm must outlive vm. */
int vm_set_memory(struct vm *vm, const struct guest_mem *gm, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* Close everything (safe after a partial setup). */
void vm_destroy(struct vm *vm);

/* Assert or deassert an interrupt line (an irq_line.set callback). */
void vm_irq_line(void *opaque, unsigned gsi, int level);

/*
 * An irqfd for gsi (eventfd that injects an edge), or a negative errno.
 * The caller owns the fd.
 */
int vm_irqfd(struct vm *vm, unsigned gsi) __attribute__((warn_unused_result));

/* vm_irqfd and vm_ioeventfd with the VM as an opaque pointer, like
 * vm_irq_line: for code that must not know KVM (vmm/board.h's hooks). */
int vm_irqfd_hook(void *vm, unsigned gsi);
int vm_ioeventfd_hook(void *vm, int fd, uint64_t addr, unsigned len);

/*
 * Make guest writes of `len` bytes at MMIO `addr` signal eventfd `fd`
 * instead of exiting to userspace (any value; the fd stays the caller's).
 */
int vm_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len)
	__attribute__((warn_unused_result));

/*
 * Ask the VM to stop with `status` (0: clean guest exit). The first call
 * wins; later ones are ignored. Thread-safe, async-signal-unsafe.
 */
void vm_request_stop(struct vm *vm, int status, const char *reason);

/* 1 once a stop was requested. */
int vm_stopping(const struct vm *vm);

/* stop_fd for the event loop (EPOLLIN): it wakes the loop when a stop is
 * requested and stays readable; the handler does nothing, the loop's
 * owner checks vm_stopping() after each round. */
struct event_source vm_stop_source(struct vm *vm);

#endif
