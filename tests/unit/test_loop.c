/*
 * The event loop (vmm/loop.h) with eventfds: registrations call their
 * handlers with the events that fired, removal stops them, the poll
 * contract (level or edge) is the one the source declared, a handler may
 * remove its own or another registration (a stale event is dropped, never
 * delivered to a registration that reused the slot), and loop_run stops.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/harness/harness.h"
#include "vmm/loop.h"

/* One registration's view: its fd, how often its handler ran, and what
 * it does when it runs. */
struct lt_src {
	struct loop *l;
	int fd;
	unsigned calls;
	uint32_t revents;
	int drain;	       /* read the eventfd (else leave it readable) */
	int del_self;	       /* loop_del its own fd */
	struct lt_src *victim; /* loop_del this one's fd */
	struct lt_src *add;    /* then loop_add this one */
	unsigned stop_after;   /* loop_stop on this call (0: never) */
};

static void lt_handle(void *opaque, uint32_t revents)
{
	struct lt_src *s = opaque;
	uint64_t v;

	s->calls++;
	s->revents = revents;
	if (s->drain)
		ck_assert_int_eq(read(s->fd, &v, sizeof(v)),
				 (ssize_t)sizeof(v));
	if (s->del_self)
		ck_assert_int_eq(loop_del(s->l, s->fd), 0);
	if (s->victim)
		ck_assert_int_eq(loop_del(s->l, s->victim->fd), 0);
	if (s->add) {
		struct event_source e = {s->add->fd, EPOLLIN, lt_handle,
					 s->add};

		ck_assert_int_eq(loop_add(s->l, &e), 0);
	}
	if (s->stop_after && s->calls == s->stop_after)
		loop_stop(s->l);
}

static void lt_new(struct lt_src *s, struct loop *l)
{
	*s = (struct lt_src){.l = l};
	s->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ck_assert_int_ge(s->fd, 0);
}

static void lt_add(struct lt_src *s, uint32_t events)
{
	struct event_source e = {s->fd, events, lt_handle, s};

	ck_assert_int_eq(loop_add(s->l, &e), 0);
}

static void lt_signal(const struct lt_src *s)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(s->fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* Only the fd that fired runs its handler, with EPOLLIN; a timeout runs
 * nothing. */
START_TEST(loop_dispatch)
{
	struct loop l;
	struct lt_src a, b;

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&a, &l);
	lt_new(&b, &l);
	a.drain = b.drain = 1;
	lt_add(&a, EPOLLIN);
	lt_add(&b, EPOLLIN);
	ck_assert(loop_watching(&l, a.fd));
	ck_assert_int_eq(loop_once(&l, 0), 0);
	lt_signal(&b);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert_uint_eq(a.calls, 0);
	ck_assert_uint_eq(b.calls, 1);
	ck_assert_uint_eq(b.revents & EPOLLIN, EPOLLIN);
	lt_signal(&a);
	lt_signal(&b);
	ck_assert_int_eq(loop_once(&l, 1000), 2);
	ck_assert_uint_eq(a.calls, 1);
	ck_assert_uint_eq(b.calls, 2);
	/* Drained: nothing more. */
	ck_assert_int_eq(loop_once(&l, 0), 0);
	loop_destroy(&l);
	loop_destroy(&l); /* twice is fine */
	close(a.fd);
	close(b.fd);
}
END_TEST

/* Removed: its handler no longer runs; the registration errors. */
START_TEST(loop_registration_rules)
{
	struct loop l;
	struct lt_src a;
	struct event_source none = {-1, EPOLLIN, lt_handle, NULL};
	struct event_source nohandler;
	int fds[LOOP_MAX_SOURCES];

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&a, &l);
	a.drain = 1;
	lt_add(&a, EPOLLIN);
	/* The same fd twice: the contract is one registration per fd. */
	{
		struct event_source dup = {a.fd, EPOLLIN | EPOLLET, lt_handle,
					   &a};

		ck_assert_int_eq(loop_add(&l, &dup), -EEXIST);
	}
	ck_assert_int_eq(loop_del(&l, a.fd), 0);
	ck_assert(!loop_watching(&l, a.fd));
	ck_assert_int_eq(loop_del(&l, a.fd), -ENOENT);
	ck_assert_int_eq(loop_del(&l, -1), -ENOENT);
	lt_signal(&a);
	ck_assert_int_eq(loop_once(&l, 0), 0);
	ck_assert_uint_eq(a.calls, 0);
	/* A source with nothing to watch is accepted and ignored. */
	ck_assert_int_eq(loop_add(&l, &none), 0);
	ck_assert(!loop_watching(&l, -1));
	nohandler = (struct event_source){a.fd, EPOLLIN, NULL, NULL};
	ck_assert_int_eq(loop_add(&l, &nohandler), -EINVAL);
	/* A closed fd: epoll's error comes back. */
	{
		int fd = eventfd(0, 0);
		struct event_source bad = {fd, EPOLLIN, lt_handle, &a};

		close(fd);
		ck_assert_int_eq(loop_add(&l, &bad), -EBADF);
		ck_assert(!loop_watching(&l, fd));
	}
	/* Full. */
	for (unsigned i = 0; i < LOOP_MAX_SOURCES; i++) {
		struct event_source e;

		fds[i] = eventfd(0, EFD_CLOEXEC);
		ck_assert_int_ge(fds[i], 0);
		e = (struct event_source){fds[i], EPOLLIN, lt_handle, &a};
		ck_assert_int_eq(loop_add(&l, &e), 0);
	}
	{
		struct event_source more = {a.fd, EPOLLIN, lt_handle, &a};

		ck_assert_int_eq(loop_add(&l, &more), -ENOSPC);
	}
	for (unsigned i = 0; i < LOOP_MAX_SOURCES; i++)
		close(fds[i]);
	loop_destroy(&l);
	close(a.fd);
}
END_TEST

/* The contract travels with the fd: a level-triggered source whose
 * handler leaves it readable fires on every wait (the 100% CPU spin the
 * contract exists to avoid); an edge-triggered one fires once per new
 * event. */
START_TEST(loop_edge_triggered)
{
	struct loop l;
	struct lt_src lvl, edge;

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&lvl, &l);
	lt_new(&edge, &l);
	lt_add(&lvl, EPOLLIN);
	lt_add(&edge, EPOLLIN | EPOLLET);
	lt_signal(&lvl);
	lt_signal(&edge);
	ck_assert_int_eq(loop_once(&l, 1000), 2);
	ck_assert_int_eq(loop_once(&l, 0), 1);
	ck_assert_int_eq(loop_once(&l, 0), 1);
	ck_assert_uint_eq(lvl.calls, 3);
	ck_assert_uint_eq(edge.calls, 1);
	/* A new event on the edge-triggered fd: one more call. */
	lt_signal(&edge);
	ck_assert_int_eq(loop_del(&l, lvl.fd), 0);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert_uint_eq(edge.calls, 2);
	ck_assert_int_eq(loop_once(&l, 0), 0);
	loop_destroy(&l);
	close(lvl.fd);
	close(edge.fd);
}
END_TEST

/* A handler removes itself: a level-triggered fd it leaves readable does
 * not come back. */
START_TEST(loop_handler_removes_itself)
{
	struct loop l;
	struct lt_src a;

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&a, &l);
	a.del_self = 1;
	lt_add(&a, EPOLLIN);
	lt_signal(&a);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert(!loop_watching(&l, a.fd));
	ck_assert_int_eq(loop_once(&l, 0), 0);
	ck_assert_uint_eq(a.calls, 1);
	loop_destroy(&l);
	close(a.fd);
}
END_TEST

/* Two fds ready in the same wait, each handler removing the other: only
 * the first runs; the second's event, already fetched, is dropped. */
START_TEST(loop_handler_removes_another)
{
	struct loop l;
	struct lt_src a, b;

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&a, &l);
	lt_new(&b, &l);
	a.victim = &b;
	b.victim = &a;
	lt_add(&a, EPOLLIN);
	lt_add(&b, EPOLLIN);
	lt_signal(&a);
	lt_signal(&b);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert_uint_eq(a.calls + b.calls, 1);
	ck_assert(loop_watching(&l, a.fd) != loop_watching(&l, b.fd));
	loop_destroy(&l);
	close(a.fd);
	close(b.fd);
}
END_TEST

/* A handler removes another registration and adds a new fd, which takes
 * the freed slot: the removed one's stale event must not reach the new
 * registration's handler in the same round; the new fd's own event comes
 * in the next wait. */
START_TEST(loop_stale_event_not_redelivered)
{
	struct loop l;
	struct lt_src a, b, c;

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&a, &l);
	lt_new(&b, &l);
	lt_new(&c, &l);
	a.drain = b.drain = c.drain = 1;
	a.victim = &b;
	b.victim = &a;
	a.add = b.add = &c;
	lt_add(&a, EPOLLIN);
	lt_add(&b, EPOLLIN);
	lt_signal(&a);
	lt_signal(&b);
	lt_signal(&c);
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert_uint_eq(a.calls + b.calls, 1);
	ck_assert_uint_eq(c.calls, 0);
	ck_assert(loop_watching(&l, c.fd));
	ck_assert_int_eq(loop_once(&l, 1000), 1);
	ck_assert_uint_eq(c.calls, 1);
	loop_destroy(&l);
	close(a.fd);
	close(b.fd);
	close(c.fd);
}
END_TEST

/* loop_run until a handler calls loop_stop; again after that (the stop
 * request is used up); a failed wait ends it with the error. */
START_TEST(loop_run_stop)
{
	struct loop l;
	struct lt_src a;

	ck_assert_int_eq(loop_init(&l), 0);
	lt_new(&a, &l);
	a.stop_after = 3; /* level-triggered, never drained */
	lt_add(&a, EPOLLIN);
	lt_signal(&a);
	ck_assert_int_eq(loop_run(&l), 0);
	ck_assert_uint_eq(a.calls, 3);
	a.stop_after = 5;
	ck_assert_int_eq(loop_run(&l), 0);
	ck_assert_uint_eq(a.calls, 5);
	/* The epoll fd gone: the wait fails and loop_run says why. */
	close(l.epfd);
	ck_assert_int_eq(loop_run(&l), -EBADF);
	l.epfd = -1;
	loop_destroy(&l);
	close(a.fd);
}
END_TEST

Suite *loop_suite(void);
Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_add_test(tc, loop_dispatch);
	tcase_add_test(tc, loop_registration_rules);
	tcase_add_test(tc, loop_edge_triggered);
	tcase_add_test(tc, loop_handler_removes_itself);
	tcase_add_test(tc, loop_handler_removes_another);
	tcase_add_test(tc, loop_stale_event_not_redelivered);
	tcase_add_test(tc, loop_run_stop);
	suite_add_tcase(s, tc);
	return s;
}
