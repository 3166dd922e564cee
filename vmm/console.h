/*
 * Console input: stdin bytes into the 8250 with flow control. stdin is read
 * only while the UART takes what was read; bytes the receive FIFO refused
 * wait here, stdin is not polled meanwhile, and the UART's rx wakeup fd
 * (an eventfd it writes once the guest drains the FIFO) resumes the feed.
 * Nothing typed or pasted is dropped, however slowly the guest reads.
 *
 * Event loop wiring:
 *   console_in_init(&c, &uart, STDIN_FILENO);
 *   poll c.in_fd (EPOLLIN) -> console_in_read(&c)
 *   poll c.wake_fd (EPOLLIN) -> console_in_wake(&c)
 *   each returns what to do with c.in_fd: keep polling it, stop polling it
 *   until the wakeup (CONSOLE_IN_WAIT), or drop it (CONSOLE_IN_EOF).
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/serial8250.h"

enum console_in_state {
	CONSOLE_IN_READ, /* poll in_fd */
	CONSOLE_IN_WAIT, /* do not poll in_fd: bytes wait for FIFO room */
	CONSOLE_IN_EOF,	 /* in_fd ended or failed: stop polling it */
};

struct console_in {
	struct serial8250 *uart;
	int in_fd;   /* not owned */
	int wake_fd; /* owned: the UART's rx wakeup eventfd */
	uint8_t buf[64];
	size_t off, len; /* buf[off, len) waits for the UART */
};

/* Create the wakeup eventfd and hand it to the UART. 0 or -errno. */
int console_in_init(struct console_in *c, struct serial8250 *uart, int in_fd)
	__attribute__((warn_unused_result));

/* in_fd is readable: read (only when nothing waits) and feed the UART. */
enum console_in_state console_in_read(struct console_in *c);

/* wake_fd is readable: feed what waits. */
enum console_in_state console_in_wake(struct console_in *c);

/* Detach from the UART and close the eventfd. */
void console_in_close(struct console_in *c);

#endif
