#include "vmm/console.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

int console_in_init(struct console_in *c, struct serial8250 *uart, int in_fd)
{
	c->uart = uart;
	c->in_fd = in_fd;
	c->off = c->len = 0;
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0)
		return -errno;
	serial8250_set_rx_wakeup_fd(uart, c->wake_fd);
	return 0;
}

/* Hand what waits to the UART; READ when all of it went in. */
static enum console_in_state console_in_feed(struct console_in *c)
{
	c->off += serial8250_input(c->uart, c->buf + c->off, c->len - c->off);
	if (c->off < c->len)
		return CONSOLE_IN_WAIT; /* the UART wakes us when it drains */
	c->off = c->len = 0;
	return CONSOLE_IN_READ;
}

enum console_in_state console_in_read(struct console_in *c)
{
	ssize_t n;

	if (c->off < c->len)
		return console_in_feed(c);
	n = read(c->in_fd, c->buf, sizeof(c->buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return CONSOLE_IN_READ;
	if (n <= 0)
		return CONSOLE_IN_EOF; /* the guest just gets no more input */
	c->off = 0;
	c->len = (size_t)n;
	return console_in_feed(c);
}

enum console_in_state console_in_wake(struct console_in *c)
{
	uint64_t v;

	if (read(c->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a wakeup already consumed; feeding is harmless. */
	}
	if (c->off < c->len)
		return console_in_feed(c);
	return CONSOLE_IN_READ;
}

void console_in_close(struct console_in *c)
{
	if (c->wake_fd < 0)
		return;
	serial8250_set_rx_wakeup_fd(c->uart, -1);
	close(c->wake_fd);
	c->wake_fd = -1;
}
