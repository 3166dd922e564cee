/*
 * Threads the VMM creates (vCPUs, prefault workers), with one signal
 * policy: only the main thread takes the process's asynchronous signals
 * (SIGINT, SIGTERM, SIGHUP through its signalfd; SIGPIPE is ignored), so a
 * helper thread never dies of one by default action. A leaf utility, like
 * lib/log.h: any module may use it.
 */
#ifndef LIB_THREAD_H
#define LIB_THREAD_H

#include <pthread.h>

/*
 * Start fn(arg) on a new thread whose signal mask blocks every signal
 * except the synchronous faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP,
 * SIGSYS, SIGABRT, which must reach their thread) and `allow` (0 for none,
 * e.g. the vCPU kick signal). The mask is set before the thread exists, so
 * no signal can slip in before it runs. Returns 0 or a negative errno.
 */
int thread_spawn(pthread_t *t, void *(*fn)(void *), void *arg, int allow)
	__attribute__((warn_unused_result));

#endif
