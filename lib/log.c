#include "lib/log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"

/*
 * Process-wide on purpose: a process has one stderr, whatever the number of
 * VMs in it, so its sink, level, dropped-line count and stream are the
 * process's. Per-source state (rate limiters, log-once flags) lives in the
 * structure that logs (exit context, irq line, device, VM).
 */
static enum log_level log_level_cur = LOG_WARN;
/* Guards every struct log_ratelimit: short critical sections, and the
 * limiters stay plain zero-initialised fields in their owners. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serializes writes to stderr among our threads, and guards the count. */
static pthread_mutex_t log_write_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long log_lines_dropped;
static int log_fd = STDERR_FILENO;

void log_set_level(enum log_level level)
{
	log_level_cur = level;
}

enum log_level log_get_level(void)
{
	return log_level_cur;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

/*
 * Write len bytes to the log fd without ever blocking; 0 if all went out,
 * -1 if (part of) it was dropped. stderr is shared with whoever started
 * us, so its file status flags are left alone (O_NONBLOCK would change the
 * terminal or pipe for every process holding it): instead poll with a zero
 * timeout before each piece of at most PIPE_BUF bytes. On a pipe, POLLOUT
 * means a free buffer slot (a page), so a write of PIPE_BUF bytes or less
 * completes at once; a regular file always takes it; a terminal that
 * polls writable has output room. Only another process writing to the
 * same pipe between our poll and write could make us wait. Caller holds
 * log_write_lock.
 */
static int log_write_nonblocking(const char *buf, size_t len)
{
	while (len) {
		struct pollfd p = {.fd = log_fd, .events = POLLOUT};
		size_t n = len < PIPE_BUF ? len : PIPE_BUF;
		ssize_t w;

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT) ||
		    (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			return -1;
		w = write(log_fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1; /* EPIPE (reader gone), EAGAIN, ... */
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One whole line, or dropped and counted; the count goes out first once
 * stderr takes lines again. */
static void log_write_line(const char *line, size_t len)
{
	pthread_mutex_lock(&log_write_lock);
	if (log_lines_dropped) {
		char note[96];
		int n = snprintf(note, sizeof(note),
				 "microvm: warning: %lu log lines dropped: "
				 "stderr was not being read\n",
				 log_lines_dropped);

		if (n > 0 && !log_write_nonblocking(note, (size_t)n))
			log_lines_dropped = 0;
	}
	if (log_lines_dropped || log_write_nonblocking(line, len))
		log_lines_dropped++;
	pthread_mutex_unlock(&log_write_lock);
}

static void log_vline(const char *prefix, const char *fmt, va_list ap)
{
	char line[1280];
	size_t len;
	int n;

	n = snprintf(line, sizeof(line), "microvm: %s", prefix);
	if (n < 0)
		return;
	len = (size_t)n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	if (n < 0)
		return;
	len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n
						  : sizeof(line) - len - 2;
	line[len++] = '\n';
	log_write_line(line, len);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error: ", "warning: ", "", ""};
	va_list ap;

	if (level > log_level_cur)
		return;
	va_start(ap, fmt);
	log_vline(names[level], fmt, ap);
	va_end(ap);
}

void log_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("", fmt, ap);
	va_end(ap);
}

unsigned long log_dropped_lines(void)
{
	unsigned long n;

	pthread_mutex_lock(&log_write_lock);
	n = log_lines_dropped;
	pthread_mutex_unlock(&log_write_lock);
	return n;
}

/* log_stream(): stdio output goes through the same non-blocking path, a
 * line (or a PIPE_BUF piece of a longer one) at a time. */
static ssize_t log_stream_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	pthread_mutex_lock(&log_write_lock);
	if (log_write_nonblocking(buf, len))
		log_lines_dropped++;
	pthread_mutex_unlock(&log_write_lock);
	/* Dropped output counts as written: stdio must not retry it. */
	return (ssize_t)len;
}

/* The one stdio stream over the log fd (process-wide, as above). */
static FILE *log_stream_file;
static pthread_once_t log_stream_once = PTHREAD_ONCE_INIT;

static void log_stream_open(void)
{
	static const cookie_io_functions_t io = {.write = log_stream_write};

	log_stream_file = fopencookie(NULL, "w", io);
	if (log_stream_file)
		setvbuf(log_stream_file, NULL, _IOLBF, 0);
}

FILE *log_stream(void)
{
	pthread_once(&log_stream_once, log_stream_open);
	return log_stream_file ? log_stream_file : stderr;
}

int log_ratelimit_ok(struct log_ratelimit *rl)
{
	uint64_t now = clock_wall_ns();
	unsigned burst, interval_ms, dropped = 0;
	int ok;

	pthread_mutex_lock(&log_lock);
	burst = rl->burst ? rl->burst : 10;
	interval_ms = rl->interval_ms ? rl->interval_ms : 5000;
	if (now - rl->window_start_ns > (uint64_t)interval_ms * 1000000ULL) {
		rl->window_start_ns = now;
		rl->printed = 0;
		dropped = rl->suppressed;
		rl->suppressed = 0;
	}
	ok = rl->printed < burst;
	if (ok)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&log_lock);
	if (dropped)
		log_msg(LOG_WARN, "%u similar messages suppressed", dropped);
	return ok;
}
