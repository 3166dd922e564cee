#include "mem/prefault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/thread.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Chunks never straddle regions: chunk k of the map is found by walking the
 * regions, each split into PREFAULT_CHUNK pieces. */
static uint64_t prefault_region_chunks(const struct region *r)
{
	return (r->size + PREFAULT_CHUNK - 1) / PREFAULT_CHUNK;
}

static int prefault_chunk(const struct guest_mem *gm, uint64_t k,
			  const struct region **out, uint64_t *off,
			  uint64_t *len)
{
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		uint64_t n = prefault_region_chunks(r);

		if (k < n) {
			*out = r;
			*off = k * PREFAULT_CHUNK;
			*len = r->size - *off < PREFAULT_CHUNK ? r->size - *off
							       : PREFAULT_CHUNK;
			return 0;
		}
		k -= n;
	}
	return -1;
}

/*
 * Without MADV_POPULATE_WRITE: write-fault each page. An atomic add of zero
 * faults the page in writable without changing it, so it is safe while the
 * guest already runs (background mode) and on file-backed memory.
 */
static void prefault_touch(uint8_t *p, uint64_t len, size_t step)
{
	for (uint64_t o = 0; o < len; o += step)
		__atomic_fetch_add(p + o, 0, __ATOMIC_RELAXED);
}

/* Workers block every asynchronous signal: SIGTERM during a background
 * prefault must reach the main thread's signalfd, not kill the process by
 * default action in a worker. */
static int prefault_spawn_default(pthread_t *t, void *(*fn)(void *), void *arg)
{
	return thread_spawn(t, fn, arg, 0);
}

int (*prefault_spawn)(pthread_t *t, void *(*fn)(void *),
		      void *arg) = prefault_spawn_default;

/* 1 when the gate opens, 0 when the start was abandoned. */
static int prefault_gate_wait(struct prefault *pf)
{
	int gate;

	pthread_mutex_lock(&pf->lock);
	while (!pf->gate)
		pthread_cond_wait(&pf->cond, &pf->lock);
	gate = pf->gate;
	pthread_mutex_unlock(&pf->lock);
	return gate > 0;
}

static void prefault_gate_open(struct prefault *pf, int gate)
{
	pthread_mutex_lock(&pf->lock);
	pf->gate = gate;
	pthread_cond_broadcast(&pf->cond);
	pthread_mutex_unlock(&pf->lock);
}

static void *prefault_worker(void *arg)
{
	struct prefault *pf = arg;
	const struct region *r;
	uint64_t k, off, len;

	if (!prefault_gate_wait(pf))
		return NULL;
	for (;;) {
		/* The stop flag is read per chunk: a stopped VM waits for
		 * at most one chunk per worker. */
		if (__atomic_load_n(&pf->stop, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&pf->error, __ATOMIC_RELAXED))
			break;
		k = __atomic_fetch_add(&pf->next_chunk, 1, __ATOMIC_RELAXED);
		if (k >= pf->nr_chunks)
			break;
		if (prefault_chunk(pf->gm, k, &r, &off, &len))
			break;
		if (!__atomic_load_n(&pf->used_touch, __ATOMIC_RELAXED) &&
		    !madvise(r->hva + off, len, MADV_POPULATE_WRITE)) {
			__atomic_fetch_add(&pf->done_bytes, len,
					   __ATOMIC_RELAXED);
			continue;
		}
		if (__atomic_load_n(&pf->used_touch, __ATOMIC_RELAXED) ||
		    errno == EINVAL) {
			/* Kernels before 5.14 do not know the advice. */
			__atomic_store_n(&pf->used_touch, 1, __ATOMIC_RELAXED);
			prefault_touch(r->hva + off, len,
				       r->page_size < 4096 ? 4096
							   : r->page_size);
			__atomic_fetch_add(&pf->done_bytes, len,
					   __ATOMIC_RELAXED);
			continue;
		}
		int e = -errno, zero = 0;

		if (__atomic_compare_exchange_n(&pf->error, &zero, e, 0,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			pf->error_gpa = r->gpa + off;
	}
	return NULL;
}

unsigned prefault_auto_threads(const struct guest_mem *gm)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t t = guest_mem_size(gm) / PREFAULT_CHUNK;

	if (cpus < 1)
		cpus = 1;
	if (t > (uint64_t)cpus)
		t = (uint64_t)cpus;
	if (t > PREFAULT_MAX_THREADS)
		t = PREFAULT_MAX_THREADS;
	return t ? (unsigned)t : 1;
}

int prefault_start(struct prefault *pf, const struct guest_mem *gm,
		   unsigned threads)
{
	int ret;

	memset(pf, 0, sizeof(*pf));
	pf->gm = gm;
	for (unsigned i = 0; i < gm->nr; i++) {
		pf->nr_chunks += prefault_region_chunks(&gm->regions[i]);
		pf->total_bytes += gm->regions[i].size;
	}
	if (!threads)
		threads = prefault_auto_threads(gm);
	if (threads > PREFAULT_MAX_THREADS)
		threads = PREFAULT_MAX_THREADS;
	if (pf->nr_chunks && threads > pf->nr_chunks)
		threads = (unsigned)pf->nr_chunks;
	ret = -pthread_mutex_init(&pf->lock, NULL);
	if (ret)
		return ret;
	ret = -pthread_cond_init(&pf->cond, NULL);
	if (ret)
		goto err_mutex;
	pf->start_ns = clock_wall_ns();
	for (unsigned i = 0; i < threads; i++) {
		ret = prefault_spawn(&pf->threads[i], prefault_worker, pf);
		if (ret) {
			/* The started ones are still at the gate: tell them
			 * to leave, and join them. (A barrier sized for all
			 * workers would wait forever for the missing one.) */
			prefault_gate_open(pf, -1);
			for (unsigned j = 0; j < i; j++)
				pthread_join(pf->threads[j], NULL);
			goto err_cond;
		}
	}
	pf->nr_threads = threads;
	pf->running = 1;
	prefault_gate_open(pf, 1);
	return 0;

err_cond:
	pthread_cond_destroy(&pf->cond);
err_mutex:
	pthread_mutex_destroy(&pf->lock);
	return ret;
}

void prefault_stop(struct prefault *pf)
{
	__atomic_store_n(&pf->stop, 1, __ATOMIC_RELAXED);
}

int prefault_stopped_early(const struct prefault *pf)
{
	return __atomic_load_n(&pf->stop, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&pf->done_bytes, __ATOMIC_RELAXED) <
		       pf->total_bytes;
}

int prefault_pending(const struct prefault *pf)
{
	return pf->running &&
	       __atomic_load_n(&pf->next_chunk, __ATOMIC_RELAXED) <
		       pf->nr_chunks &&
	       !__atomic_load_n(&pf->error, __ATOMIC_RELAXED);
}

void prefault_cancel(struct prefault *pf)
{
	int zero = 0;

	/* The workers check error before each chunk. */
	__atomic_compare_exchange_n(&pf->error, &zero, -ECANCELED, 0,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

int prefault_wait(struct prefault *pf, char *err, size_t errlen)
{
	if (!pf->running)
		return 0;
	for (unsigned i = 0; i < pf->nr_threads; i++)
		pthread_join(pf->threads[i], NULL);
	pthread_cond_destroy(&pf->cond);
	pthread_mutex_destroy(&pf->lock);
	pf->running = 0;
	pf->end_ns = clock_wall_ns();
	if (pf->error) {
		snprintf(err, errlen,
			 "prefaulting guest memory failed at %#llx: %s%s",
			 (unsigned long long)pf->error_gpa,
			 strerror(-pf->error),
			 pf->error == -EFAULT || pf->error == -ENOMEM
				 ? " (host memory or hugepage pool exhausted)"
				 : "");
		return pf->error;
	}
	return 0;
}

int prefault_run(const struct guest_mem *gm, unsigned threads, char *err,
		 size_t errlen)
{
	struct prefault pf;
	int ret = prefault_start(&pf, gm, threads);

	if (ret) {
		snprintf(err, errlen, "cannot start prefault threads: %s",
			 strerror(-ret));
		return ret;
	}
	return prefault_wait(&pf, err, errlen);
}
