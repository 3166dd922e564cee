#include "mem/prefault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

static int prefault_wants(uint32_t mask, const struct region *r)
{
	return !r->hotplug && r->zone < 32 && (mask >> r->zone) & 1;
}

static int prefault_chunk(const struct prefault *pf, uint64_t k,
			  const struct region **out, uint64_t *off,
			  uint64_t *len)
{
	const struct guest_mem *gm = pf->gm;

	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		uint64_t n = prefault_region_chunks(r);

		if (!prefault_wants(pf->zone_mask, r))
			continue;
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

/* The CPUs a worker populating memory of `node` runs on. */
static const cpu_set_t *prefault_node_cpus(const struct prefault *pf, int node)
{
	for (unsigned i = 0; i < pf->nr_nodes; i++)
		if (pf->node[i] == node)
			return &pf->node_cpus[i];
	return &pf->start_cpus;
}

/* Read nodeN/cpulist ("0-3,8") into set; 0 when it lists no CPU. */
static int prefault_read_cpulist(int node, cpu_set_t *set)
{
	char path[96], buf[1024], *p = buf;
	FILE *f;
	int any = 0;

	CPU_ZERO(set);
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	while (*p >= '0' && *p <= '9') {
		long lo = strtol(p, &p, 10), hi = lo;

		if (*p == '-')
			hi = strtol(p + 1, &p, 10);
		for (long c = lo; c <= hi && c < CPU_SETSIZE; c++) {
			CPU_SET((int)c, set);
			any = 1;
		}
		if (*p == ',')
			p++;
	}
	return any;
}

/* The node CPU sets the regions to populate need (a node without CPUs
 * keeps the starting set). */
static void prefault_nodes(struct prefault *pf)
{
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t),
				   &pf->start_cpus))
		CPU_ZERO(&pf->start_cpus);
	for (unsigned i = 0; i < pf->gm->nr; i++) {
		const struct region *r = &pf->gm->regions[i];
		unsigned j;

		if (!r->bound || !prefault_wants(pf->zone_mask, r))
			continue;
		for (j = 0; j < pf->nr_nodes && pf->node[j] != r->host_node;
		     j++)
			;
		if (j < pf->nr_nodes || j == PREFAULT_MAX_NODES)
			continue;
		if (!prefault_read_cpulist(r->host_node, &pf->node_cpus[j]))
			pf->node_cpus[j] = pf->start_cpus;
		pf->node[j] = r->host_node;
		pf->nr_nodes++;
	}
}

static void *prefault_worker(void *arg)
{
	struct prefault *pf = arg;
	const struct region *r;
	uint64_t k, off, len;
	int node = -1;

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
		if (prefault_chunk(pf, k, &r, &off, &len))
			break;
		if ((r->bound ? r->host_node : -1) != node) {
			/* First touch allocates on the toucher's node under
			 * some policies, and memory bandwidth is the
			 * node's: populate from its CPUs. */
			node = r->bound ? r->host_node : -1;
			(void)pthread_setaffinity_np(
				pthread_self(), sizeof(cpu_set_t),
				prefault_node_cpus(pf, node));
		}
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

static unsigned prefault_threads_for(uint64_t bytes)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t t = bytes / PREFAULT_CHUNK;

	if (cpus < 1)
		cpus = 1;
	if (t > (uint64_t)cpus)
		t = (uint64_t)cpus;
	if (t > PREFAULT_MAX_THREADS)
		t = PREFAULT_MAX_THREADS;
	return t ? (unsigned)t : 1;
}

unsigned prefault_auto_threads(const struct guest_mem *gm)
{
	return prefault_threads_for(guest_mem_size(gm));
}

int prefault_start(struct prefault *pf, const struct guest_mem *gm,
		   unsigned threads)
{
	return prefault_start_zones(pf, gm, threads, UINT32_MAX);
}

int prefault_start_zones(struct prefault *pf, const struct guest_mem *gm,
			 unsigned threads, uint32_t zone_mask)
{
	int ret;

	memset(pf, 0, sizeof(*pf));
	pf->gm = gm;
	pf->zone_mask = zone_mask;
	for (unsigned i = 0; i < gm->nr; i++) {
		if (!prefault_wants(zone_mask, &gm->regions[i]))
			continue;
		pf->nr_chunks += prefault_region_chunks(&gm->regions[i]);
		pf->total_bytes += gm->regions[i].size;
	}
	prefault_nodes(pf);
	if (!threads)
		threads = prefault_threads_for(pf->total_bytes);
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
