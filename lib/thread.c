#include "lib/thread.h"

#include <signal.h>

int thread_spawn(pthread_t *t, void *(*fn)(void *), void *arg, int allow)
{
	static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE,
					   SIGTRAP, SIGSYS, SIGABRT};
	sigset_t block, old;
	int ret;

	/* A new thread inherits its creator's mask: block around the create
	 * and restore ours. Blocking a synchronous fault would not stop it
	 * anyway (the kernel forces it and resets the handler), so those
	 * stay open: seccomp's SIGSYS report and crash dumps keep working. */
	sigfillset(&block);
	for (unsigned i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]);
	     i++)
		sigdelset(&block, sync_signals[i]);
	if (allow)
		sigdelset(&block, allow);
	ret = pthread_sigmask(SIG_SETMASK, &block, &old);
	if (ret)
		return -ret;
	ret = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}
