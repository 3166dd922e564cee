#include "vmm/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level log_level_cur = LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
	log_level_cur = level;
}

enum log_level log_get_level(void)
{
	return log_level_cur;
}

uint64_t log_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error: ", "warning: ", "", ""};
	char line[1024];
	va_list ap;

	if (level > log_level_cur)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so that threads do not interleave mid-line. */
	fprintf(stderr, "microvm: %s%s\n", names[level], line);
}

int log_ratelimit_ok(struct log_ratelimit *rl)
{
	uint64_t now = log_now_ns();
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
