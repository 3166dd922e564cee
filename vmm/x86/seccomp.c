/* x86_64's additions to the seccomp lists of vmm/seccomp.c. */
#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <ucontext.h>

#include "vmm/seccomp_rules.h"

static const struct seccomp_rule seccomp_x86_vmm_rules[] = {
	/* log.c: is stderr writable now (never block on a full one)? */
	ALLOW(poll),
	/* loop_once: glibc's epoll_wait. */
	ALLOW(epoll_wait),
	/* Files (SECCOMP_VMM_FILES; see the shared list): the legacy names
	 * glibc may use for rename, unlink and mkdir. */
	ALLOW_FILES(rename),
	ALLOW_FILES(unlink),
	ALLOW_FILES(mkdir),
	/* vmm/control.c "snapshot DIR": the vCPUs' and the VM's state
	 * (vmm/snapshot.c), the MSR list and the XSAVE size from /dev/kvm. */
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_MP_STATE, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_REGS, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_SREGS, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_XSAVE, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_XSAVE2, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_XCRS, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_DEBUGREGS, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_LAPIC, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_MSRS, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_MSR_INDEX_LIST, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_CHECK_EXTENSION, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_VCPU_EVENTS, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_PIT2, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_IRQCHIP, 0),
	ALLOW_FILES_IF(ioctl, 1, SCMP_CMP_EQ, KVM_GET_CLOCK, 0),
	/* Without SECCOMP_VMM_FILES the legacy names fail like openat and
	 * unlinkat in the shared list. */
	REFUSE(open, EACCES),
	REFUSE(unlink, EACCES),
};

static const struct seccomp_rule seccomp_x86_vcpu_rules[] = {
	/* serial8250: wait until stdout takes a byte. */
	ALLOW(poll),
};

const struct seccomp_rules seccomp_arch_rules[SECCOMP_THREAD_KINDS] = {
	[SECCOMP_THREAD_VMM] = {seccomp_x86_vmm_rules,
				sizeof(seccomp_x86_vmm_rules) /
					sizeof(seccomp_x86_vmm_rules[0])},
	[SECCOMP_THREAD_VCPU] = {seccomp_x86_vcpu_rules,
				 sizeof(seccomp_x86_vcpu_rules) /
					 sizeof(seccomp_x86_vcpu_rules[0])},
};

void seccomp_arch_args(const void *ucontext, long args[6])
{
	const ucontext_t *uc = ucontext;

	args[0] = uc->uc_mcontext.gregs[REG_RDI];
	args[1] = uc->uc_mcontext.gregs[REG_RSI];
	args[2] = uc->uc_mcontext.gregs[REG_RDX];
	args[3] = uc->uc_mcontext.gregs[REG_R10];
	args[4] = uc->uc_mcontext.gregs[REG_R8];
	args[5] = uc->uc_mcontext.gregs[REG_R9];
}
