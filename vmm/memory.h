/*
 * Guest memory over the VM's life, as the VMM runs it. vmm/machine.c builds
 * the map (memmap_build_zones into mem->gm and mem->info: its memory step);
 * this module does the rest: the prefault per zone (prefault=on and
 * lock=on wait, and a stop signal cancels them; prefault=background runs
 * beside the guest and stops at the VM stop), lock=on, the memory report
 * (--verbose), the write-back to the zones' files at exit, and the removal
 * of files we created when setup fails. Main thread only.
 */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stddef.h>

#include "mem/guest_mem.h"
#include "mem/memmap.h"
#include "mem/prefault.h"
#include "vmm/cli.h"
#include "vmm/signals.h"

struct memory {
	struct guest_mem gm;
	struct memmap_info info;
	struct prefault pf;
	int pf_running; /* workers to stop and join */
};

/* After the build: print what memmap said (mem/ does not log): its
 * warnings ("hugepage pool short: ...") and its notes for --verbose. */
void memory_log_build(const struct memory *mem);

/* Empty guest memory, no prefault: memory_destroy is then a no-op. */
void memory_init(struct memory *mem);

/*
 * Populate the zones that ask for it with `threads` workers (0: auto):
 * zones with prefault=on or lock=on first, waited for while polling sig
 * every 10 ms (a stop signal cancels it: the workers end after their chunk,
 * and the result is 1 with err untouched, for the caller to say why); then
 * lock=on applied (memmap_lock); then the prefault=background zones left
 * populating beside the guest. 0, or a negative errno with the reason in
 * err.
 */
int memory_prefault(struct memory *mem, const struct memmap_zone *zones,
		    unsigned nr_zones, unsigned threads, struct signals *sig,
		    char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * --mem-hotplug: map the hotplug region above the highest guest RAM
 * (virtio_mem_layout: aligned to 128 MiB and to the block), reserving and
 * populating nothing, and add it to mem->gm marked hotplug. Call after the
 * zones are built. 0 or a negative errno with err set.
 */
int memory_hotplug(struct memory *mem, const struct cli_hotplug *h, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* Ask a background prefault to stop (at the VM stop: the rest of guest
 * memory is not worth populating now). */
void memory_prefault_stop(struct memory *mem);

/* Wait for a background prefault's workers; with `report`, log how far it
 * got. 0, or a negative errno with the reason in err. */
int memory_prefault_join(struct memory *mem, int report, char *err,
			 size_t errlen) __attribute__((warn_unused_result));

/* Setup was stopped by a signal: cancel a running prefault and wait. */
void memory_prefault_cancel(struct memory *mem);

/* --verbose: the memory report (smaps by region) on the log, `when`
 * saying at which point ("at start", "at exit"). */
void memory_report(const struct memory *mem, const char *when);

/* Write guest memory back to its files (msync of each file-backed
 * region); the zone's file is named in the message. 0, or a negative
 * errno with the reason in err. */
int memory_sync(struct memory *mem, const struct memmap_zone *zones, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* Setup failed: remove every zone's file that the memory step created. */
void memory_abandon(struct memory *mem, const struct memmap_zone *zones,
		    unsigned nr_zones);

/* Unmap guest memory (after the VM is destroyed). */
void memory_destroy(struct memory *mem);

#endif
