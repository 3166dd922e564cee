/*
 * arm64's additions to the seccomp lists of vmm/seccomp.c. arm64 has only
 * the generic syscall table: no poll, epoll_wait, open, rename, unlink or
 * mkdir (glibc calls ppoll, epoll_pwait and the *at forms, which the
 * shared lists name), and no snapshot ioctls (snapshots are x86-only).
 */
#include <ucontext.h>

#include "vmm/seccomp_rules.h"

static const struct seccomp_rule seccomp_arm64_vmm_rules[] = {
	/* log.c: is stderr writable now (glibc's poll is ppoll here)? */
	ALLOW(ppoll),
};

static const struct seccomp_rule seccomp_arm64_vcpu_rules[] = {
	/* serial8250: wait until stdout takes a byte (ppoll). */
	ALLOW(ppoll),
};

const struct seccomp_rules seccomp_arch_rules[SECCOMP_THREAD_KINDS] = {
	[SECCOMP_THREAD_VMM] = {seccomp_arm64_vmm_rules,
				sizeof(seccomp_arm64_vmm_rules) /
					sizeof(seccomp_arm64_vmm_rules[0])},
	[SECCOMP_THREAD_VCPU] = {seccomp_arm64_vcpu_rules,
				 sizeof(seccomp_arm64_vcpu_rules) /
					 sizeof(seccomp_arm64_vcpu_rules[0])},
};

void seccomp_arch_args(const void *ucontext, long args[6])
{
	const ucontext_t *uc = ucontext;

	for (int i = 0; i < 6; i++)
		args[i] = (long)uc->uc_mcontext.regs[i];
}
