/*
 * An event source: one file descriptor a device (or any other part of the
 * VMM) needs watched, with the poll contract that belongs to it and the
 * handler to call. The owner fills it in, because only the owner knows
 * whether its handler always consumes what made the fd ready:
 *
 *   - EPOLLIN (level-triggered) for an fd the handler always drains
 *     (eventfds, timerfds, a signalfd, a listening socket's epoll fd);
 *   - EPOLLIN | EPOLLET for an fd the handler may deliberately leave
 *     readable (virtio-net's TAP while the guest has no receive buffers):
 *     level-triggered, the loop would spin at 100% CPU.
 *
 * vmm/loop.h takes these as they are; it knows no device.
 */
#ifndef DEVICES_EVENT_SOURCE_H
#define DEVICES_EVENT_SOURCE_H

#include <stdint.h>

struct event_source {
	int fd;		 /* -1: nothing to watch (e.g. a disabled timer) */
	uint32_t events; /* epoll events: EPOLLIN, EPOLLIN | EPOLLET, ... */
	/* Called on the event loop thread with the events that fired. */
	void (*handle)(void *opaque, uint32_t revents);
	void *opaque;
};

#endif
