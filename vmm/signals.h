/*
 * The stop signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT end the VM through
 * the normal cleanup, whenever they come. They are blocked on the main
 * thread before anything is acquired and read from a signalfd: during
 * setup by polling it between steps (a stop then unwinds what was built,
 * and a --mem-file we created is removed, instead of killing us half-way),
 * and once the guest runs from the event loop. Every other thread is
 * created with them blocked (vmm/thread.h), so only the main thread takes
 * them. SIGPIPE is ignored process-wide: a console or log reader that goes
 * away (`microvm | head`) makes writes fail with EPIPE where they happen.
 */
#ifndef VMM_SIGNALS_H
#define VMM_SIGNALS_H

#include <stddef.h>

#include "devices/event_source.h"
#include "vmm/vm.h"

struct signals {
	int fd;	       /* the signalfd, -1 when not open */
	int signo;     /* the last stop signal read, 0 before any */
	struct vm *vm; /* signals_source: the VM a signal stops */
};

/* Not open: signals_close is then a no-op. */
void signals_init(struct signals *s);

/* Ignore SIGPIPE, block the stop signals on the calling (main) thread and
 * open the signalfd (non-blocking). 0, or a negative errno with the reason
 * in err. */
int signals_open(struct signals *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Read one pending stop signal: its number (also in s->signo), or 0 when
 * none is pending. Never blocks. */
int signals_read(struct signals *s);

/* 1 when a stop signal came (already, or within wait_ms: 0 does not
 * wait), else 0. */
int signals_poll(struct signals *s, int wait_ms);

/* The signalfd for the event loop (level-triggered EPOLLIN, drained):
 * each stop signal read asks vm to stop with status 128+N, "stopped by
 * <signal>". Once the guest runs. */
struct event_source signals_source(struct signals *s, struct vm *vm);

/* Close the signalfd (the signals stay blocked: the process is ending). */
void signals_close(struct signals *s);

#endif
