/* Command-line options of the microvm command. */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "mem/region.h"

#define CLI_MAX_DISKS	8
#define CLI_DEFAULT_MEM (512ULL << 20)
#define CLI_MAX_CPUS	64
#define CLI_DEFAULT_CMDLINE                                                \
	"console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux " \
	"i8042.nopnp i8042.dumbkbd swiotlb=noforce cryptomgr.notests"

enum cli_prefault {
	CLI_PREFAULT_NONE,
	CLI_PREFAULT_SYNC,
	CLI_PREFAULT_BACKGROUND,
};

struct cli_opts {
	uint64_t mem_size;
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
	const char *disks[CLI_MAX_DISKS];
	unsigned nr_disks;
	const char *net;
	int rng;
	const char *balloon;	    /* NULL: none; "" plain; else options */
	const char *control_socket; /* --control-socket PATH, or NULL */
	int help, version;
};

/*
 * Parse argv into *o (defaults first). Returns 0, or -EINVAL with a
 * one-line reason in err that names the option and the fix. Does not touch
 * files: existence checks happen at setup.
 */
int cli_parse(int argc, char **argv, struct cli_opts *o, char *err,
	      size_t errlen) __attribute__((warn_unused_result));

/* The --help text. */
void cli_usage(FILE *f);

#endif
