#include "vmm/memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_mem.h"
#include "mem/report.h"
#include "lib/log.h"

/* Each line of `lines` as one log message. */
static void memory_log_lines(enum log_level level, const char *lines)
{
	while (*lines) {
		const char *nl = strchr(lines, '\n');
		int len = nl ? (int)(nl - lines) : (int)strlen(lines);

		log_msg(level, "%.*s", len, lines);
		lines += len + (nl ? 1 : 0);
	}
}

void memory_log_build(const struct memory *mem)
{
	memory_log_lines(LOG_WARN, mem->info.warning);
	memory_log_lines(LOG_INFO, mem->info.note);
}

void memory_init(struct memory *mem)
{
	memset(mem, 0, sizeof(*mem));
	guest_mem_init(&mem->gm);
}

/* Start the workers over the zones in `mask` (bit i: zone i). */
static int memory_prefault_start(struct memory *mem, unsigned threads,
				 uint32_t mask, char *err, size_t errlen)
{
	int ret = prefault_start_zones(&mem->pf, &mem->gm, threads, mask);

	if (ret) {
		snprintf(err, errlen, "cannot start prefault threads: %s",
			 strerror(-ret));
		return ret;
	}
	mem->pf_running = 1;
	return 0;
}

int memory_prefault(struct memory *mem, const struct memmap_zone *zones,
		    unsigned nr_zones, unsigned threads, struct signals *sig,
		    char *err, size_t errlen)
{
	struct prefault *pf = &mem->pf;
	uint32_t sync = 0, bg = 0;
	int ret;

	for (unsigned i = 0; i < nr_zones; i++) {
		const struct memmap_zone *z = &zones[i];
		/* lock=on populates before the mlock; a hugetlb zone is not
		 * locked (memmap says so), so only its prefault= counts. */
		int locks = z->lock == MEMMAP_LOCK_ON &&
			    ((z->policy.pages != REGION_PAGES_HUGE &&
			      z->policy.pages != REGION_PAGES_HUGE1G) ||
			     z->policy.has_fallback);

		if (z->prefault == MEMMAP_PREFAULT_ON || locks)
			sync |= 1U << i;
		else if (z->prefault == MEMMAP_PREFAULT_BACKGROUND)
			bg |= 1U << i;
	}
	if (!sync)
		return bg ? memory_prefault_start(mem, threads, bg, err, errlen)
			  : 0;
	ret = memory_prefault_start(mem, threads, sync, err, errlen);
	if (ret)
		return ret;
	/* A long prefault stops for a stop signal: the workers end after
	 * the chunk they are on. */
	while (prefault_pending(pf))
		if (signals_poll(sig, 10)) {
			prefault_cancel(pf);
			break;
		}
	mem->pf_running = 0;
	ret = prefault_wait(pf, err, errlen);
	if (sig->signo)
		return 1;
	if (ret)
		return ret;
	log_info("prefaulted %llu MiB with %u threads in %.1f ms%s",
		 (unsigned long long)(pf->total_bytes >> 20), pf->nr_threads,
		 (double)(pf->end_ns - pf->start_ns) / 1e6,
		 pf->used_touch ? " (page touching: no MADV_POPULATE_WRITE)"
				: "");
	ret = memmap_lock(&mem->gm, zones, nr_zones, err, errlen);
	if (ret || !bg)
		return ret;
	return memory_prefault_start(mem, threads, bg, err, errlen);
}

int memory_hotplug(struct memory *mem, const struct cli_hotplug *h, char *err,
		   size_t errlen)
{
	struct virtio_mem_layout lay;
	uint64_t ram_end = 0;
	int ret;

	for (unsigned i = 0; i < mem->gm.nr; i++) {
		const struct region *r = &mem->gm.regions[i];

		if (r->gpa + r->size > ram_end)
			ram_end = r->gpa + r->size;
	}
	ret = virtio_mem_layout(ram_end, h->size, h->pages, &lay);
	if (ret) {
		snprintf(err, errlen,
			 "--mem-hotplug size=%llu MiB does not fit above guest "
			 "RAM: ask for less",
			 (unsigned long long)(h->size >> 20));
		return ret;
	}
	return memmap_add_hotplug(&mem->gm, lay.addr, lay.region_size, h->pages,
				  h->host_node, h->id, err, errlen);
}

void memory_prefault_stop(struct memory *mem)
{
	if (mem->pf_running)
		prefault_stop(&mem->pf);
}

int memory_prefault_join(struct memory *mem, int report, char *err,
			 size_t errlen)
{
	struct prefault *pf = &mem->pf;
	int ret;

	if (!mem->pf_running)
		return 0;
	mem->pf_running = 0;
	ret = prefault_wait(pf, err, errlen);
	if (ret || !report)
		return ret;
	if (prefault_stopped_early(pf))
		log_info("background prefault stopped at the VM stop after "
			 "%llu of %llu MiB",
			 (unsigned long long)(pf->done_bytes >> 20),
			 (unsigned long long)(pf->total_bytes >> 20));
	else
		log_info("background prefault had populated all %llu MiB",
			 (unsigned long long)(pf->total_bytes >> 20));
	return 0;
}

void memory_prefault_cancel(struct memory *mem)
{
	char err[256];

	if (!mem->pf_running)
		return;
	mem->pf_running = 0;
	prefault_cancel(&mem->pf);
	if (prefault_wait(&mem->pf, err, sizeof(err))) {
		/* -ECANCELED: what we asked for. */
	}
}

void memory_report(const struct memory *mem, const char *when)
{
	struct report_region rep[GUEST_MEM_MAX_REGIONS];

	if (log_get_level() < LOG_INFO)
		return;
	if (report_read(&mem->gm, rep)) {
		log_warn("cannot read /proc/self/smaps for the memory report");
		return;
	}
	log_info("memory report %s:", when);
	report_print(log_stream(), &mem->gm, rep);
}

int memory_sync(struct memory *mem, const struct memmap_zone *zones, char *err,
		size_t errlen)
{
	for (unsigned i = 0; i < mem->gm.nr; i++) {
		const struct region *r = &mem->gm.regions[i];
		int ret = region_sync(&mem->gm.regions[i]);

		if (ret) {
			snprintf(err, errlen,
				 "writing guest memory back to %s: %s",
				 zones[r->zone].policy.path
					 ? zones[r->zone].policy.path
					 : "its file",
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void memory_abandon(struct memory *mem, const struct memmap_zone *zones,
		    unsigned nr_zones)
{
	for (unsigned i = 0; i < nr_zones; i++)
		if (mem->info.zone_file_created[i] && zones[i].policy.path)
			unlink(zones[i].policy.path);
}

void memory_destroy(struct memory *mem)
{
	/* The normal exit synced and reported already; an error path did
	 * not, so a sync failure here is news (mem/ does not log). */
	int ret = guest_mem_destroy(&mem->gm);

	if (ret)
		log_err("msync of guest memory file failed: %s",
			strerror(-ret));
}
