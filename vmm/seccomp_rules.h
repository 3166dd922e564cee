/*
 * The seccomp rule tables (private to vmm/seccomp.c and the arch lists in
 * vmm/ARCH/seccomp.c): rules name syscalls by name, so each list compiles
 * only on an arch that has every syscall it names.
 */
#ifndef VMM_SECCOMP_RULES_H
#define VMM_SECCOMP_RULES_H

#include <seccomp.h>
#include <stddef.h>

#include "vmm/seccomp.h"

/*
 * One rule: a syscall, optionally with one argument comparison, and what
 * happens (0: allow; else the errno it fails with, for calls that are
 * refused without killing), in builds with or without SECCOMP_VMM_FILES.
 * Every rule names its caller.
 */
enum seccomp_when { SC_ALWAYS, SC_FILES, SC_NO_FILES };

struct seccomp_rule {
	int nr;
	int fail_errno;
	enum seccomp_when when;
	unsigned nargs;
	struct scmp_arg_cmp arg;
};

#define ALLOW(name)                              \
	{                                        \
		SCMP_SYS(name), 0, SC_ALWAYS, 0, \
		{                                \
			0, 0, 0, 0               \
		}                                \
	}
#define ALLOW_IF(name, a, cmp, val, mask)         \
	{                                         \
		SCMP_SYS(name), 0, SC_ALWAYS, 1,  \
		{                                 \
			(a), (cmp), (val), (mask) \
		}                                 \
	}
#define ALLOW_FILES(name)                       \
	{                                       \
		SCMP_SYS(name), 0, SC_FILES, 0, \
		{                               \
			0, 0, 0, 0              \
		}                               \
	}
#define ALLOW_FILES_IF(name, a, cmp, val, mask)   \
	{                                         \
		SCMP_SYS(name), 0, SC_FILES, 1,   \
		{                                 \
			(a), (cmp), (val), (mask) \
		}                                 \
	}
#define REFUSE(name, e)                              \
	{                                            \
		SCMP_SYS(name), (e), SC_NO_FILES, 0, \
		{                                    \
			0, 0, 0, 0                   \
		}                                    \
	}

/* console.c's fatal-signal handler: after restoring the terminal, a fatal
 * signal sent by kill() is raised again (pthread_kill of the thread
 * itself) so the process dies of it, not of this list. */
#define ALLOW_FATAL_RERAISE                                          \
	ALLOW(gettid), ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, SIGSEGV, 0), \
		ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, SIGBUS, 0),         \
		ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, SIGABRT, 0),        \
		ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, SIGFPE, 0),         \
		ALLOW_IF(tgkill, 2, SCMP_CMP_EQ, SIGILL, 0)

struct seccomp_rules {
	const struct seccomp_rule *rules;
	size_t n;
};

/* The arch's additions to each thread kind's list (vmm/ARCH/seccomp.c). */
extern const struct seccomp_rules seccomp_arch_rules[SECCOMP_THREAD_KINDS];

/* The six syscall arguments of a trapped call from the SIGSYS handler's
 * ucontext (async-signal-safe). */
void seccomp_arch_args(const void *ucontext, long args[6]);

#endif
