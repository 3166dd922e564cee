#include "vmm/signals.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

void signals_init(struct signals *s)
{
	s->fd = -1;
	s->signo = 0;
	s->vm = NULL;
}

int signals_open(struct signals *s, char *err, size_t errlen)
{
	sigset_t mask;

	/* A disposition is process-wide, so this covers every thread. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	s->fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->fd < 0) {
		int ret = -errno;

		snprintf(err, errlen, "signalfd: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

int signals_read(struct signals *s)
{
	struct signalfd_siginfo si;

	if (s->fd < 0 || read(s->fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	s->signo = (int)si.ssi_signo;
	return s->signo;
}

int signals_poll(struct signals *s, int wait_ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};

	if (s->signo)
		return 1;
	if (poll(&p, 1, wait_ms) <= 0)
		return 0;
	return signals_read(s) != 0;
}

/* The handler's opaque is the signals; the VM rides in s->vm. */
static void signals_event(void *opaque, uint32_t revents)
{
	struct signals *s = opaque;
	int sig = signals_read(s);
	char why[64];

	(void)revents;
	if (!sig)
		return;
	snprintf(why, sizeof(why), "stopped by %s", strsignal(sig));
	vm_request_stop(s->vm, 128 + sig, why);
}

struct event_source signals_source(struct signals *s, struct vm *vm)
{
	s->vm = vm;
	return (struct event_source){.fd = s->fd,
				     .events = EPOLLIN,
				     .handle = signals_event,
				     .opaque = s};
}

void signals_close(struct signals *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
