/* Command-line options of the microvm command. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/arch.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_net.h"
#include "mem/memmap.h"
#include "mem/region.h"

#define CLI_MAX_DISKS	    8
#define CLI_DEFAULT_MEM	    (512ULL << 20)
#define CLI_MAX_CPUS	    64
#define CLI_CMDLINE_MAX	    4096		 /* --cmdline, with its NUL */
#define CLI_DEFAULT_CMDLINE ARCH_DEFAULT_CMDLINE /* the arch's console */

enum cli_prefault {
	CLI_PREFAULT_NONE,
	CLI_PREFAULT_SYNC,
	CLI_PREFAULT_BACKGROUND,
};

/* --mem-hotplug: a virtio-mem hotplug zone above guest RAM. */
struct cli_hotplug {
	uint64_t size;		 /* MAX: a multiple of cli_hotplug_align() */
	enum region_pages pages; /* block size = max(page size, 2 MiB) */
	uint64_t plugged; /* requested at boot: a multiple of the block */
	int host_node;	  /* -1: none */
	char id[MEMMAP_ZONE_ID_MAX];
};

/* One --disk FILE[,ro]. */
struct cli_disk {
	char path[PATH_MAX]; /* nonempty */
	int ro;
};

/*
 * Everything the command line asks for, fully checked: setup code takes
 * these values as they are and parses nothing. What needs the file system
 * or /dev/kvm (a file exists, a TAP opens) is checked at setup.
 */
struct cli_opts {
	uint64_t mem_size; /* all zones together */
	/* Guest RAM as zones, in guest-physical order: the --mem-zone
	 * options, or one zone made of --mem/--pages/--prefault/--mem-file/
	 * --shared-mem. Zone i's policy.path and policy.origin point into
	 * zone_path[i] and zone_origin[i] (origin NULL for the shorthand). */
	struct memmap_zone zones[MEMMAP_MAX_ZONES];
	unsigned nr_zones;
	char zone_path[MEMMAP_MAX_ZONES][PATH_MAX];
	char zone_origin[MEMMAP_MAX_ZONES][MEMMAP_ZONE_ID_MAX + 16];
	int mem_set, pages_set, prefault_set; /* given on the command line */
	struct region_policy policy; /* pages, fallback, backing, path */
	enum cli_prefault prefault;
	unsigned prefault_threads; /* 0: auto */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	const char *cmdline_append; /* --cmdline-append, or NULL */
	unsigned cpus;
	const char *mem_file;
	int shared_mem;
	int boot_timer;
	int verbose;
	const char *stats_json; /* per-boot figures, written at exit */
	int no_seccomp;
	struct cli_disk disks[CLI_MAX_DISKS];
	unsigned nr_disks;
	int has_net; /* --net given: net is valid */
	struct virtio_net_cfg net;
	int rng;
	int has_balloon; /* --balloon given: balloon is valid */
	struct virtio_balloon_cfg balloon;
	int has_hotplug; /* --mem-hotplug given: hotplug is valid */
	struct cli_hotplug hotplug;
	const char *control_socket; /* --control-socket PATH, or NULL */
	/* --restore DIR: start from a snapshot instead of a kernel; the
	 * memory, vCPUs and devices come from it (only --pages may change
	 * the page policy). restore_copy: --restore-mode copy (default
	 * lazy). pages_set above says whether --pages was given. */
	const char *restore;
	int restore_copy;
	/* Test knobs (hidden --no-ioeventfd/--no-irqfd, or the environment
	 * variables MICROVM_NO_IOEVENTFD/MICROVM_NO_IRQFD, read here once):
	 * MMIO exits for notifications, KVM_IRQ_LINE for interrupts. */
	int no_ioeventfd, no_irqfd;
	int help, version;
};

/*
 * Parse and check argv into *o (defaults first). Returns 0, or -EINVAL
 * with a one-line reason in err that names the option and the fix (the
 * caller exits 2). Acquires nothing and touches no file: existence checks
 * happen at setup.
 */
int cli_parse(int argc, char **argv, struct cli_opts *o, char *err,
	      size_t errlen) __attribute__((warn_unused_result));

/*
 * The option value parsers cli_parse uses, for tests. Each fills its
 * typed result, or returns -EINVAL with a one-line reason in err.
 */

/* "tap=NAME[,mac=XX:XX:XX:XX:XX:XX]", in any order. NAME: 1..15
 * characters, no '/', ':' or white space, not "." or "..". MAC: unicast,
 * not all zeros. */
int cli_parse_net(const char *s, struct virtio_net_cfg *cfg, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* Comma-separated "reporting", "deflate-on-oom", "stats=SECONDS" (0
 * disables, at most VIRTIO_BALLOON_STATS_MAX_S); NULL or "" gives the
 * defaults (inflate/deflate only). */
int cli_parse_balloon(const char *s, struct virtio_balloon_cfg *cfg, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/*
 * One --mem-zone value: "size=SIZE[,pages=base|thp|huge|huge1g]
 * [,fallback=base|thp|huge][,prefault=on|background][,shared=on|file=PATH]
 * [,host-node=N][,lock=on|onfault][,id=NAME]", keys in any order, each at
 * most once. size is required and a multiple of the page size; fallback
 * only with pages=huge|huge1g and smaller than them, never with file=;
 * NAME is 1..31 of [A-Za-z0-9_-] (default "zoneINDEX"); N is 0..1023.
 * The file path (no commas) is copied into path (pathlen bytes); z's
 * policy.path and policy.origin are left NULL for the caller to point at
 * stable storage.
 */
int cli_parse_zone(const char *s, unsigned index, struct memmap_zone *z,
		   char *path, size_t pathlen, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * One --mem-hotplug value: "size=MAX[,pages=base|thp|huge|huge1g]
 * [,plugged=SIZE][,host-node=N][,id=NAME]", keys in any order, each at
 * most once. MAX is a multiple of cli_hotplug_align(pages) (128 MiB, or
 * 1 GiB for huge1g: Linux adds memory in 128 MiB blocks); plugged is a
 * multiple of the block size (2 MiB, 1 GiB for huge1g) up to MAX; N is
 * 0..1023; NAME as for --mem-zone (default "hotplug").
 */
int cli_parse_hotplug(const char *s, struct cli_hotplug *h, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* The alignment of a hotplug zone's size for `pages`: the larger of
 * Linux's 128 MiB memory block and the block size. */
uint64_t cli_hotplug_align(enum region_pages pages);

/* "FILE[,ro]": a nonempty path shorter than PATH_MAX (a trailing ",ro" is
 * the flag, so a file name may hold other commas). */
int cli_parse_disk(const char *s, struct cli_disk *d, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The --help text. */
void cli_usage(FILE *f);

#endif
