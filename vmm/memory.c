#include "vmm/memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mem/report.h"
#include "lib/log.h"

void memory_init(struct memory *mem)
{
	memset(mem, 0, sizeof(*mem));
	guest_mem_init(&mem->gm);
}

int memory_prefault(struct memory *mem, enum cli_prefault mode,
		    unsigned threads, struct signals *sig, char *err,
		    size_t errlen)
{
	struct prefault *pf = &mem->pf;
	int ret;

	if (mode == CLI_PREFAULT_NONE)
		return 0;
	ret = prefault_start(pf, &mem->gm, threads);
	if (ret) {
		snprintf(err, errlen, "cannot start prefault threads: %s",
			 strerror(-ret));
		return ret;
	}
	mem->pf_running = 1;
	if (mode != CLI_PREFAULT_SYNC)
		return 0;
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
		 (unsigned long long)(guest_mem_size(&mem->gm) >> 20),
		 pf->nr_threads, (double)(pf->end_ns - pf->start_ns) / 1e6,
		 pf->used_touch ? " (page touching: no MADV_POPULATE_WRITE)"
				: "");
	return 0;
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

int memory_sync(struct memory *mem, const char *mem_file, char *err,
		size_t errlen)
{
	for (unsigned i = 0; i < mem->gm.nr; i++) {
		int ret = region_sync(&mem->gm.regions[i]);

		if (ret) {
			snprintf(err, errlen,
				 "writing guest memory back to %s: %s",
				 mem_file, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void memory_abandon(struct memory *mem, const char *mem_file)
{
	if (mem->info.file_created && mem_file)
		unlink(mem_file);
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
