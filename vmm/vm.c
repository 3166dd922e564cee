#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

struct vm_cap {
	int cap;
	const char *name;
	int required;
};

static const struct vm_cap vm_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", 1},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", 1},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", 0},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", 0},
};

int vm_open(struct vm *vm, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int ret, version;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->stop_fd = -1;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->pause_cond, &ca);
	pthread_condattr_destroy(&ca);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			snprintf(
				err, errlen,
				"/dev/kvm does not exist: enable "
				"virtualization "
				"in the firmware and load kvm_intel or kvm_amd "
				"(modprobe kvm_intel)");
		else if (ret == -EACCES || ret == -EPERM)
			snprintf(err, errlen,
				 "/dev/kvm is not writable by this user: add "
				 "yourself to the kvm group (sudo usermod -aG "
				 "kvm $USER) and log in again");
		else
			snprintf(err, errlen, "cannot open /dev/kvm: %s",
				 strerror(-ret));
		return ret;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen,
			 "KVM API version %d, microvm needs %d: update the "
			 "host kernel",
			 version, KVM_API_VERSION);
		goto fail_close;
	}
	for (unsigned i = 0; i < sizeof(vm_caps) / sizeof(vm_caps[0]); i++) {
		int have = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
				 vm_caps[i].cap) > 0;

		if (!have && vm_caps[i].required) {
			snprintf(err, errlen,
				 "KVM lacks %s, which microvm needs: use a "
				 "newer host kernel",
				 vm_caps[i].name);
			goto fail_close;
		}
		if (vm_caps[i].cap == KVM_CAP_IOEVENTFD)
			vm->has_ioeventfd = have;
		if (vm_caps[i].cap == KVM_CAP_IRQFD)
			vm->has_irqfd = have;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s",
			 strerror(errno));
		goto fail_close;
	}
	vm->run_size = (size_t)ret;
	ret = arch_vm_open(&vm->arch, vm->kvm_fd, err, errlen);
	if (ret)
		goto fail_close_ret;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail_free;
	}
	return 0;

fail_free:
	arch_vm_destroy(&vm->arch);
fail_close:
	ret = -ENOTSUP;
fail_close_ret:
	close(vm->kvm_fd);
	vm->kvm_fd = -1;
	return ret;
}

int vm_create(struct vm *vm, char *err, size_t errlen)
{
	int ret;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, arch_vm_type(&vm->arch));
	if (vm->vm_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM: %s%s", strerror(-ret),
			 ret == -ENOMEM ? " (host out of memory)" : "");
		return ret;
	}
	ret = arch_vm_create(&vm->arch, vm->vm_fd, err, errlen);
	if (!ret)
		return 0;
	close(vm->vm_fd);
	vm->vm_fd = -1;
	return ret;
}

int vm_set_memory(struct vm *vm, const struct guest_mem *gm, char *err,
		  size_t errlen)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot)) {
			int ret = -errno;

			snprintf(err, errlen,
				 "KVM_SET_USER_MEMORY_REGION slot %u at %#llx: "
				 "%s",
				 i, (unsigned long long)r->gpa, strerror(-ret));
			return ret;
		}
	}
	vm->gm = gm;
	vm->nr_slots = gm->nr;
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	arch_vm_destroy(&vm->arch);
	vm->vm_fd = vm->kvm_fd = vm->stop_fd = -1;
}

void vm_irq_line(void *opaque, unsigned gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = {.irq = arch_irq_line_number(gsi),
				    .level = level ? 1 : 0};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq))
		log_ratelimited(&vm->irq_line_rl, LOG_WARN,
				"KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

int vm_irqfd(struct vm *vm, unsigned gsi)
{
	struct kvm_irqfd req = {.gsi = gsi};
	int fd, ret;

	if (!vm->has_irqfd)
		return -ENOTSUP;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	req.fd = (uint32_t)fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &req)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int vm_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned len)
{
	struct kvm_ioeventfd req = {
		.addr = addr,
		.len = len,
		.fd = fd,
	};

	if (!vm->has_ioeventfd)
		return -ENOTSUP;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &req) ? -errno : 0;
}

void vm_request_stop(struct vm *vm, int status, const char *reason)
{
	uint64_t one = 1;

	if (__atomic_exchange_n(&vm->stopping, 1, __ATOMIC_ACQ_REL))
		return;
	vm->exit_status = status;
	snprintf(vm->stop_reason, sizeof(vm->stop_reason), "%s",
		 reason ? reason : "");
	if (vm->stop_fd >= 0 && write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the main loop: %s", strerror(errno));
}

int vm_stopping(const struct vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

static void vm_stop_event(void *opaque, uint32_t revents)
{
	(void)opaque;
	(void)revents;
}

struct event_source vm_stop_source(struct vm *vm)
{
	return (struct event_source){.fd = vm->stop_fd,
				     .events = EPOLLIN,
				     .handle = vm_stop_event,
				     .opaque = vm};
}

int vm_irqfd_hook(void *vm, unsigned gsi)
{
	return vm_irqfd(vm, gsi);
}

int vm_ioeventfd_hook(void *vm, int fd, uint64_t addr, unsigned len)
{
	return vm_ioeventfd(vm, fd, addr, len);
}
