/*
 * The VMM's event loop: an epoll set of registrations. Each owner (a
 * device, the console, the control socket, the signalfd, the VM's stop
 * eventfd) hands it a struct event_source {fd, events, handle, opaque};
 * the loop registers the fd with exactly those events and calls the
 * handler when it fires. It knows no device and has no central switch:
 * the poll contract (level or edge, see devices/event_source.h) travels
 * with the fd.
 *
 * One thread (the VMM's main thread) runs the loop and makes every call
 * below. A handler may add or remove registrations, its own included: an
 * event already fetched for a registration removed meanwhile is dropped,
 * never delivered to whatever reused the slot.
 */
#ifndef VMM_LOOP_H
#define VMM_LOOP_H

#include <stdint.h>

#include "devices/event_source.h"

#define LOOP_MAX_SOURCES 64 /* registrations at once */
#define LOOP_MAX_EVENTS	 32 /* events fetched per wait */

struct loop_slot {
	struct event_source src; /* src.fd -1: free */
	uint32_t gen;		 /* bumped on each add: stale events miss */
};

struct loop {
	int epfd;
	int stop; /* loop_stop() was called */
	uint32_t gen;
	struct loop_slot slots[LOOP_MAX_SOURCES];
};

/* Create the epoll set. 0 or a negative errno (nothing to destroy). */
int loop_init(struct loop *l) __attribute__((warn_unused_result));

/* Close the epoll set (the registered fds stay their owners'). Safe on a
 * zeroed loop whose epfd is -1, and twice. */
void loop_destroy(struct loop *l);

/*
 * Watch s->fd for s->events and call s->handle(s->opaque, revents) when
 * they fire. A source with fd -1 is accepted and ignored. 0, -EEXIST when
 * the fd is already registered, -ENOSPC when LOOP_MAX_SOURCES are, -EINVAL
 * without a handler, or epoll_ctl's negative errno.
 */
int loop_add(struct loop *l, const struct event_source *s)
	__attribute__((warn_unused_result));

/* Stop watching fd (from any handler, its own included). 0, or -ENOENT
 * when it is not registered. */
int loop_del(struct loop *l, int fd);

/* 1 when fd is registered. */
int loop_watching(const struct loop *l, int fd);

/*
 * Wait up to timeout_ms (-1: forever) and dispatch what fired. Returns the
 * number of handlers called (0 after a timeout or EINTR), or epoll_wait's
 * negative errno.
 */
int loop_once(struct loop *l, int timeout_ms)
	__attribute__((warn_unused_result));

/* loop_once() until a handler calls loop_stop(). 0, or the negative errno
 * of a failed wait. Clears the stop request when it returns. */
int loop_run(struct loop *l) __attribute__((warn_unused_result));

/* Make loop_run() return after the events of the current wait. */
void loop_stop(struct loop *l);

#endif
