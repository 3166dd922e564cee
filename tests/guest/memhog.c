/*
 * memhog: a guest program for the balloon tests (static, /bin/memhog).
 *
 *   memhog MIB [HOLD_SECONDS]
 *
 * Maps MIB MiB of anonymous memory, touches every 4 KiB page (checking it
 * arrives zero-filled, then writing a per-page pattern), checks the whole
 * pattern again, holds it HOLD_SECONDS (default 0), checks once more and
 * frees it. Lines for host-side tests to grep:
 *   MEMHOG progress mib=N             every 32 MiB touched
 *   MEMHOG touched mib=N ms=T         all pages touched and checked
 *   MEMHOG freed mib=N                after munmap
 *   MEMHOG FAIL <why>                 and exit status 1
 * A page that is not zero on first touch, or loses its pattern, means the
 * host gave back memory the guest was using (or handed stale data): that
 * is the failure this program exists to catch.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE  4096UL
#define MAGIC 0x6d656d686f67ULL /* "memhog" */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Print a whole line with one write so it does not interleave with kernel
 * messages on the console. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0) {
		/* Nowhere to report it. */
	}
}

/* Words at the start, middle and end of each page carry its index. */
static int check(const uint8_t *p, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i++) {
		const uint64_t *w = (const uint64_t *)(p + i * PAGE);
		uint64_t want = MAGIC ^ i;

		if (w[0] != want || w[256] != want || w[511] != ~want) {
			say("MEMHOG FAIL page %lu lost its contents (%#llx)", i,
			    (unsigned long long)w[0]);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib, hold = 0, pages;
	uint64_t t0;
	uint8_t *p;
	char *end;

	if (argc < 2 || argc > 3) {
		say("usage: memhog MIB [HOLD_SECONDS]");
		return 2;
	}
	mib = strtoul(argv[1], &end, 10);
	if (*end || !mib || mib > (1UL << 20)) {
		say("MEMHOG FAIL '%s' is not a size in MiB", argv[1]);
		return 2;
	}
	if (argc == 3)
		hold = strtoul(argv[2], NULL, 10);
	pages = mib << 20 >> 12;
	t0 = now_ms();
	p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		say("MEMHOG FAIL mmap of %lu MiB: %s", mib, strerror(errno));
		return 1;
	}
	for (unsigned long i = 0; i < pages; i++) {
		uint64_t *w = (uint64_t *)(p + i * PAGE);

		for (unsigned j = 0; j < PAGE / 8; j += 64)
			if (w[j]) {
				say("MEMHOG FAIL page %lu not zero-filled at "
				    "first touch",
				    i);
				return 1;
			}
		w[0] = w[256] = MAGIC ^ i;
		w[511] = ~(MAGIC ^ i);
		if ((i + 1) % (32UL << 8) == 0)
			say("MEMHOG progress mib=%lu", (i + 1) >> 8);
	}
	if (check(p, pages))
		return 1;
	say("MEMHOG touched mib=%lu ms=%llu", mib,
	    (unsigned long long)(now_ms() - t0));
	if (hold) {
		sleep((unsigned)hold);
		if (check(p, pages))
			return 1;
	}
	munmap(p, mib << 20);
	say("MEMHOG freed mib=%lu", mib);
	return 0;
}
