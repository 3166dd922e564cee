/*
 * Seccomp: one allowlist per thread kind, installed by each thread on itself
 * just before it first serves the guest. The VMM (main, event loop) thread
 * gets its list right before the loop; each vCPU thread in its on_start
 * hook; a lazy restore's userfaultfd handler thread in its start hook
 * (mem/snapshot.h), before it serves a page. A syscall outside the list traps: a SIGSYS handler writes one line
 * naming the thread kind and the syscall number, then the process dies of
 * SIGSYS (exit status 159 in a shell).
 *
 * The BPF programs are built once, before any filter is active, with
 * libseccomp; installing one is then two syscalls and no allocation, so the
 * thread does nothing its own filter would refuse on the way in.
 *
 * virtio-mem's populate workers (virtio_mem_start_workers, made by the
 * board before any filter) get none either, for the same reasons: they
 * only fallocate/madvise ranges the device checked and write its eventfd.
 *
 * Background prefault workers (--prefault=background) get no filter: they
 * start before any thread serves the guest, run only madvise/page touches
 * over ranges fixed at setup, read nothing the guest writes, and are joined
 * at exit. A filter on them would need a start hook in mem/prefault (a
 * leaf); the residual risk is a vCPU thread already taken over by the guest
 * redirecting a worker that is still running, as with any thread sharing
 * the address space.
 */
#ifndef VMM_SECCOMP_H
#define VMM_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>

#include "vmm/cli.h"

enum seccomp_thread {
	SECCOMP_THREAD_VMM,  /* main thread: event loop, device work */
	SECCOMP_THREAD_VCPU, /* KVM_RUN and the exit path */
	SECCOMP_THREAD_UFFD, /* a lazy restore's userfaultfd handler */
	SECCOMP_THREAD_KINDS,
};

/* A compiled filter, ready to load. */
struct seccomp_prog {
	struct sock_filter *insns;
	unsigned short len;
};

struct seccomp_filters {
	struct seccomp_prog prog[SECCOMP_THREAD_KINDS];
};

/*
 * The VMM thread may open, write, rename and unlink files: for --verbose
 * (memory report at exit from /proc/self/smaps), --stats-json (the stats
 * file) and --control-socket (smaps for "balloon stats", the socket's
 * unlink at exit). Without it openat/unlink fail with EACCES.
 */
#define SECCOMP_VMM_FILES 1u

/*
 * Compile the allowlists of every thread kind (flags: SECCOMP_VMM_*) and
 * install the SIGSYS reporter. Call on the main thread before any thread
 * installs a filter. Returns 0, or a negative errno with a one-line reason
 * in err.
 */
int seccomp_build(struct seccomp_filters *f, unsigned flags, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/*
 * Load the filter of `kind` on the calling thread (with no_new_privs).
 * From here on the thread can only make the system calls of its list.
 * Returns 0 or a negative errno (the caller reports it).
 */
int seccomp_apply(const struct seccomp_filters *f, enum seccomp_thread kind)
	__attribute__((warn_unused_result));

/*
 * The filters the options ask for: with --no-seccomp nothing is built and
 * a warning says the threads run unfiltered; else seccomp_build(f), with
 * SECCOMP_VMM_FILES when --verbose, --stats-json or --control-socket need
 * files at exit. 0, or a negative errno with the reason in err. *vcpu
 * gets what to hand the vCPU threads (vmm/vcpu.h): f, or NULL.
 */
int seccomp_setup(struct seccomp_filters *f, const struct cli_opts *o,
		  const struct seccomp_filters **vcpu, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Load the VMM list on the calling (main) thread when seccomp_setup built
 * one (nothing to do after --no-seccomp). 0, or a negative errno with the
 * reason and the fix in err. */
int seccomp_enter_vmm(const struct seccomp_filters *f, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Free the compiled programs (filters already loaded stay loaded). */
void seccomp_free(struct seccomp_filters *f);

/*
 * A lazy restore handler's start hook (struct memsnap_hook's fn): load the
 * SECCOMP_THREAD_UFFD list of `f` (a struct seccomp_filters *) on the
 * calling thread. 0 or a negative errno.
 */
int seccomp_enter_uffd(void *f) __attribute__((warn_unused_result));

/* Human name of a thread kind ("VMM", "vCPU", "lazy restore"). */
const char *seccomp_thread_name(enum seccomp_thread kind);

#ifdef MICROVM_SECCOMP_SELFTEST
/* Test-only build: the calling vCPU thread makes a syscall outside its list
 * (openat), which must kill the process. Called at the first exit. */
void seccomp_selftest_forbidden(void);
#else
static inline void seccomp_selftest_forbidden(void)
{
}
#endif

#endif
