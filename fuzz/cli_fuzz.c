/*
 * libFuzzer target for cli_parse(): the input split at NUL bytes is argv
 * (after argv[0] = "microvm"), each argument in its own exact-size heap
 * buffer so ASan sees a read past any terminator. Up to FUZZ_MAX_ARGS
 * arguments.
 *
 * Checked beyond "does not crash": the result is 0 or -EINVAL; an error has
 * a terminated one-line reason, and "unknown option 'X'" names an argument
 * that starts with '-'; a success has a kernel (unless --help/--version),
 * 1..CLI_MAX_CPUS vCPUs, a nonzero size, at most CLI_MAX_DISKS disks with
 * nonempty paths, a valid TAP name and unicast MAC, 1..MEMMAP_MAX_ZONES
 * memory zones of whole pages adding up to the memory size, and every
 * string it keeps points into argv.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "cli_parse broke its contract: %s\n", what);
		abort();
	}
}

/* NULL, a default, or one of the argument strings (or inside one: an
 * "--opt=value" argument). */
static int fuzz_from_argv(const char *p, char **args, int n, const char *dflt)
{
	if (!p || (dflt && !strcmp(p, dflt)))
		return 1;
	for (int i = 0; i < n; i++)
		if (p >= args[i] && p <= args[i] + strlen(args[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args[FUZZ_MAX_ARGS + 1], *argv[FUZZ_MAX_ARGS + 2];
	struct cli_opts o;
	char err[256];
	size_t pos = 0;
	int n = 0, ret, newline = 0;

	/* Every piece between NULs is one argument, empty ones included. */
	args[n] = strdup("microvm");
	if (!args[n++])
		abort();
	while (pos <= size && n < FUZZ_MAX_ARGS + 1) {
		const uint8_t *end =
			size > pos ? memchr(data + pos, 0, size - pos) : NULL;
		size_t len = end ? (size_t)(end - (data + pos)) : size - pos;

		args[n] = malloc(len + 1);
		if (!args[n])
			abort();
		memcpy(args[n], data + pos, len);
		args[n][len] = 0;
		newline |= memchr(args[n], '\n', len) != NULL;
		n++;
		pos += len + 1;
	}
	/* getopt_long permutes argv: keep our own list to free. */
	memcpy(argv, args, (size_t)n * sizeof(argv[0]));
	argv[n] = NULL;

	memset(err, 0x7f, sizeof(err));
	ret = cli_parse(n, argv, &o, err, sizeof(err));
	fuzz_check(ret == 0 || ret == -EINVAL, "errno");
	if (ret) {
		char *q;

		fuzz_check(memchr(err, 0, sizeof(err)) != NULL,
			   "unterminated err");
		fuzz_check(err[0] != 0, "error without a reason");
		if (!newline)
			fuzz_check(!strchr(err, '\n'), "multi-line error");
		if (!strncmp(err, "unknown option '", 16)) {
			q = err + 16;
			fuzz_check(q[0] == '-', "unknown option names a "
						"non-option");
		}
	} else if (!o.help && !o.version) {
		fuzz_check(o.kernel != NULL, "no kernel");
		fuzz_check(o.cpus >= 1 && o.cpus <= CLI_MAX_CPUS, "cpus");
		fuzz_check(o.mem_size > 0, "mem size");
		fuzz_check(o.nr_disks <= CLI_MAX_DISKS, "disks");
		fuzz_check(o.prefault_threads <= 16, "prefault threads");
		fuzz_check(!(o.mem_file && o.shared_mem), "two backings");
		fuzz_check(
			fuzz_from_argv(o.kernel, args, n, NULL) &&
				fuzz_from_argv(o.initrd, args, n, NULL) &&
				fuzz_from_argv(o.cmdline, args, n,
					       CLI_DEFAULT_CMDLINE) &&
				fuzz_from_argv(o.mem_file, args, n, NULL) &&
				fuzz_from_argv(o.control_socket, args, n, NULL),
			"string outside argv");
		for (unsigned i = 0; i < o.nr_disks; i++)
			fuzz_check(o.disks[i].path[0] &&
					   memchr(o.disks[i].path, 0,
						  sizeof(o.disks[i].path)),
				   "disk path empty or unterminated");
		if (o.has_net) {
			fuzz_check(o.net.tap[0] && memchr(o.net.tap, 0,
							  sizeof(o.net.tap)),
				   "TAP name empty or unterminated");
			fuzz_check(!o.net.has_mac || !(o.net.mac[0] & 1),
				   "multicast MAC");
		}
		{
			uint64_t total = 0;

			fuzz_check(o.nr_zones >= 1 &&
					   o.nr_zones <= MEMMAP_MAX_ZONES,
				   "zone count");
			for (unsigned i = 0; i < o.nr_zones; i++) {
				const struct memmap_zone *z = &o.zones[i];
				size_t ps = region_page_size(z->policy.pages);

				fuzz_check(z->size && z->size % ps == 0,
					   "zone size not whole pages");
				fuzz_check(z->id[0] && memchr(z->id, 0,
							      sizeof(z->id)),
					   "zone id empty or unterminated");
				fuzz_check((z->policy.backing ==
					    REGION_BACKING_FILE) ==
						   (z->policy.path != NULL),
					   "zone file path");
				fuzz_check(!z->policy.has_fallback ||
						   z->policy.backing !=
							   REGION_BACKING_FILE,
					   "zone fallback with a file");
				total += z->size;
			}
			fuzz_check(total == o.mem_size, "zones' total");
		}
		if (o.has_balloon)
			fuzz_check(o.balloon.stats_interval <=
					   VIRTIO_BALLOON_STATS_MAX_S,
				   "balloon stats interval");
	}
	for (int i = 0; i < n; i++)
		free(args[i]);
	return 0;
}
