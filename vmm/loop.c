#include "vmm/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

/*
 * epoll hands back data.u64 = slot index (low 32 bits) and the slot's
 * generation (high 32 bits). A handler that removes a registration, or
 * removes and re-adds one in the same slot, makes the events already
 * fetched for it stale: the generation no longer matches, and they are
 * dropped instead of reaching a handler that did not ask for them.
 */
static uint64_t loop_tag(const struct loop *l, unsigned i)
{
	return (uint64_t)l->slots[i].gen << 32 | i;
}

int loop_init(struct loop *l)
{
	l->stop = 0;
	l->gen = 0;
	for (unsigned i = 0; i < LOOP_MAX_SOURCES; i++) {
		l->slots[i].src.fd = -1;
		l->slots[i].gen = 0;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void loop_destroy(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static int loop_find(const struct loop *l, int fd)
{
	for (unsigned i = 0; i < LOOP_MAX_SOURCES; i++)
		if (l->slots[i].src.fd == fd)
			return (int)i;
	return -1;
}

int loop_add(struct loop *l, const struct event_source *s)
{
	struct epoll_event ev = {.events = s->events};
	int i;

	if (s->fd < 0)
		return 0;
	if (!s->handle)
		return -EINVAL;
	if (loop_find(l, s->fd) >= 0)
		return -EEXIST;
	i = loop_find(l, -1);
	if (i < 0)
		return -ENOSPC;
	l->slots[i].gen = ++l->gen;
	ev.data.u64 = loop_tag(l, (unsigned)i);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev))
		return -errno;
	l->slots[i].src = *s;
	return 0;
}

int loop_del(struct loop *l, int fd)
{
	int i = fd < 0 ? -1 : loop_find(l, fd);

	if (i < 0)
		return -ENOENT;
	/* The fd may already be closed by its owner (then epoll forgot it
	 * by itself): the slot is freed either way. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->slots[i].src.fd = -1;
	return 0;
}

int loop_watching(const struct loop *l, int fd)
{
	return fd >= 0 && loop_find(l, fd) >= 0;
}

int loop_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);
	int called = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int k = 0; k < n; k++) {
		uint32_t i = (uint32_t)evs[k].data.u64;
		uint32_t gen = (uint32_t)(evs[k].data.u64 >> 32);
		struct loop_slot *s;

		if (i >= LOOP_MAX_SOURCES)
			continue;
		s = &l->slots[i];
		if (s->src.fd < 0 || s->gen != gen)
			continue; /* removed by an earlier handler */
		s->src.handle(s->src.opaque, evs[k].events);
		called++;
	}
	return called;
}

int loop_run(struct loop *l)
{
	int ret = 0;

	while (!l->stop) {
		ret = loop_once(l, -1);
		if (ret < 0)
			break;
		ret = 0;
	}
	l->stop = 0;
	return ret;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}
