/*
 * Logging to stderr, prefixed "microvm: ". A leaf: any module may use it.
 * Guest-triggerable messages must go through a rate limiter or log_once.
 */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stdint.h>
#include <stdio.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped (default LOG_WARN; --verbose
 * raises it to LOG_INFO). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/*
 * Logging never blocks the VMM: a line that stderr cannot take at once (a
 * full pipe or a stopped terminal nobody reads) is dropped and counted,
 * and the count is reported by the first line that gets through. stderr's
 * shared file status flags are not changed. Each line is written whole
 * (one write for lines up to PIPE_BUF), so threads never interleave.
 */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A "microvm: "-prefixed line whatever the level (a measurement such as
 * the boot time, a report). */
void log_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A line-buffered stdio stream with the same non-blocking drop policy, for
 * multi-line reports (fprintf-style printers); stderr if it cannot be
 * made. */
FILE *log_stream(void);

/* Lines (or stream pieces) dropped and not yet reported. */
unsigned long log_dropped_lines(void);

/* Where logs go (default STDERR_FILENO); for tests. */
void log_set_fd(int fd);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A token bucket: at most `burst` messages per `interval_ms`; the count of
 * dropped ones is reported with the next message let through. Zero-init
 * gives 10 per 5 s. Thread-safe. */
struct log_ratelimit {
	uint64_t window_start_ns;
	unsigned printed;
	unsigned suppressed;
	unsigned burst;
	unsigned interval_ms;
};

/* 1 if a message may be printed now; if some were suppressed before, it
 * logs how many first. */
int log_ratelimit_ok(struct log_ratelimit *rl);

#define log_ratelimited(rl, level, ...)              \
	do {                                         \
		if (log_ratelimit_ok(rl))            \
			log_msg(level, __VA_ARGS__); \
	} while (0)

/* Log the first time only; *flag starts 0. Thread-safe. */
#define log_once(flag, level, ...)                                     \
	do {                                                           \
		if (!__atomic_exchange_n((flag), 1, __ATOMIC_RELAXED)) \
			log_msg(level, __VA_ARGS__);                   \
	} while (0)

#endif
