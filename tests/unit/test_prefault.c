/*
 * Prefault workers: a worker that cannot be created must not leave the
 * others (or the caller) waiting for it; a stop ends a background prefault
 * at the next chunk; workers take no asynchronous signal (lib/thread.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/thread.h"
#include "mem/guest_mem.h"
#include "mem/prefault.h"
#include "tests/harness/harness.h"

#define MiB (1ULL << 20)

static char err[512];

/* Creates the first prefault_ok_spawns workers for real, then fails. */
static unsigned prefault_ok_spawns, prefault_spawns;
static int (*prefault_real_spawn)(pthread_t *, void *(*)(void *), void *);

static int prefault_failing_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (prefault_spawns++ >= prefault_ok_spawns)
		return -EAGAIN;
	return prefault_real_spawn(t, fn, arg);
}

/* guest memory that is never touched unless prefault populates it */
static void prefault_gm(struct guest_mem *g, uint64_t size)
{
	harness_gm_one(g, harness_ram_map(size), size);
	g->regions[0].page_size = 4096;
}

static long prefault_threads_now(void)
{
	long n = -1;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

START_TEST(prefault_spawn_failure_returns)
{
	struct prefault pf;
	struct guest_mem g;
	long before;

	prefault_gm(&g, 256 * MiB);
	before = prefault_threads_now();
	prefault_real_spawn = prefault_spawn;
	prefault_spawn = prefault_failing_spawn;
	prefault_ok_spawns = 2;
	/* Four workers wanted, the third cannot be created: an error, not a
	 * wait for a thread that never started (the test times out then). */
	ck_assert_int_eq(prefault_start(&pf, &g, 4), -EAGAIN);
	ck_assert_uint_eq(prefault_spawns, 3);
	/* The two that started were let go and joined, untouched memory. */
	ck_assert_int_eq(prefault_threads_now(), before);
	ck_assert_uint_eq(__atomic_load_n(&pf.done_bytes, __ATOMIC_RELAXED), 0);
	ck_assert_int_eq(prefault_run(&g, 4, err, sizeof(err)), -EAGAIN);
	ck_assert_ptr_nonnull(strstr(err, "cannot start prefault threads"));
}
END_TEST

START_TEST(prefault_first_spawn_failure)
{
	struct prefault pf;
	struct guest_mem g;

	prefault_gm(&g, 128 * MiB);
	prefault_real_spawn = prefault_spawn;
	prefault_spawn = prefault_failing_spawn;
	prefault_ok_spawns = 0;
	ck_assert_int_eq(prefault_start(&pf, &g, 2), -EAGAIN);
	prefault_ok_spawns = 100;
	ck_assert_int_eq(prefault_start(&pf, &g, 2), 0);
	ck_assert_int_eq(prefault_wait(&pf, err, sizeof(err)), 0);
	ck_assert_uint_eq(pf.done_bytes, 128 * MiB);
	ck_assert_int_eq(prefault_stopped_early(&pf), 0);
}
END_TEST

START_TEST(prefault_stop_ends_at_next_chunk)
{
	struct prefault pf;
	struct guest_mem g;

	prefault_gm(&g, 512 * MiB);
	ck_assert_int_eq(prefault_start(&pf, &g, 1), 0);
	prefault_stop(&pf);
	ck_assert_int_eq(prefault_wait(&pf, err, sizeof(err)), 0);
	/* The one worker may have taken a chunk before the stop, no more. */
	ck_assert_uint_le(pf.done_bytes, PREFAULT_CHUNK);
	ck_assert_int_eq(prefault_stopped_early(&pf), 1);
}
END_TEST

static void *prefault_mask_probe(void *arg)
{
	sigset_t *out = arg;

	pthread_sigmask(SIG_BLOCK, NULL, out);
	return NULL;
}

/* thread_spawn: the main thread's signals blocked, faults and the allowed
 * one open, whatever the creator's mask; the creator's mask unchanged. */
START_TEST(thread_spawn_blocks_async_signals)
{
	sigset_t mine, after, got;
	pthread_t t;

	sigemptyset(&mine);
	pthread_sigmask(SIG_SETMASK, &mine, NULL);
	ck_assert_int_eq(thread_spawn(&t, prefault_mask_probe, &got, SIGUSR1),
			 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(sigismember(&got, SIGTERM), 1);
	ck_assert_int_eq(sigismember(&got, SIGINT), 1);
	ck_assert_int_eq(sigismember(&got, SIGHUP), 1);
	ck_assert_int_eq(sigismember(&got, SIGPIPE), 1);
	ck_assert_int_eq(sigismember(&got, SIGUSR1), 0);
	ck_assert_int_eq(sigismember(&got, SIGSEGV), 0);
	ck_assert_int_eq(sigismember(&got, SIGSYS), 0);
	ck_assert_int_eq(sigismember(&got, SIGBUS), 0);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	ck_assert_int_eq(sigismember(&after, SIGTERM), 0);
	ck_assert_int_eq(thread_spawn(&t, prefault_mask_probe, &got, 0), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(sigismember(&got, SIGUSR1), 1);
}
END_TEST

/* Workers created the default way hold each worker at its start until the
 * test has sent it SIGTERM: a worker that does not block it would die of it
 * (default action: the whole test process). */
struct prefault_held {
	void *(*fn)(void *);
	void *arg;
};
static struct prefault_held prefault_held[PREFAULT_MAX_THREADS];
static unsigned prefault_nheld;
static int prefault_release;

static void *prefault_held_worker(void *p)
{
	struct prefault_held *h = p;

	while (!__atomic_load_n(&prefault_release, __ATOMIC_ACQUIRE))
		usleep(1000);
	return h->fn(h->arg);
}

static int prefault_holding_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct prefault_held *h = &prefault_held[prefault_nheld++];

	h->fn = fn;
	h->arg = arg;
	return prefault_real_spawn(t, prefault_held_worker, h);
}

START_TEST(prefault_workers_block_sigterm)
{
	struct prefault pf;
	struct guest_mem g;

	prefault_gm(&g, 256 * MiB);
	prefault_real_spawn = prefault_spawn;
	prefault_spawn = prefault_holding_spawn;
	ck_assert_int_eq(prefault_start(&pf, &g, 2), 0);
	for (unsigned i = 0; i < pf.nr_threads; i++)
		ck_assert_int_eq(pthread_kill(pf.threads[i], SIGTERM), 0);
	usleep(50000); /* time to die, were it not blocked */
	__atomic_store_n(&prefault_release, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(prefault_wait(&pf, err, sizeof(err)), 0);
	ck_assert_uint_eq(pf.done_bytes, 256 * MiB);
}
END_TEST

Suite *prefault_suite(void);
Suite *prefault_suite(void)
{
	Suite *s = suite_create("prefault");
	TCase *tc = tcase_create("workers");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, prefault_spawn_failure_returns);
	tcase_add_test(tc, prefault_first_spawn_failure);
	tcase_add_test(tc, prefault_stop_ends_at_next_chunk);
	tcase_add_test(tc, thread_spawn_blocks_async_signals);
	tcase_add_test(tc, prefault_workers_block_sigterm);
	suite_add_tcase(s, tc);
	return s;
}
