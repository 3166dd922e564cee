#include "vmm/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mem/size.h"

enum {
	OPT_MEM = 256,
	OPT_PAGES,
	OPT_PREFAULT,
	OPT_PREFAULT_THREADS,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CMDLINE_APPEND,
	OPT_CPUS,
	OPT_MEM_FILE,
	OPT_SHARED_MEM,
	OPT_BOOT_TIMER,
	OPT_VERBOSE,
	OPT_STATS_JSON,
	OPT_NO_SECCOMP,
	OPT_DISK,
	OPT_NET,
	OPT_RNG,
	OPT_BALLOON,
	OPT_CONTROL_SOCKET,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option cli_long[] = {
	{"mem", required_argument, NULL, OPT_MEM},
	{"pages", required_argument, NULL, OPT_PAGES},
	{"prefault", optional_argument, NULL, OPT_PREFAULT},
	{"prefault-threads", required_argument, NULL, OPT_PREFAULT_THREADS},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cmdline-append", required_argument, NULL, OPT_CMDLINE_APPEND},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem-file", required_argument, NULL, OPT_MEM_FILE},
	{"shared-mem", no_argument, NULL, OPT_SHARED_MEM},
	{"boot-timer", no_argument, NULL, OPT_BOOT_TIMER},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"stats-json", required_argument, NULL, OPT_STATS_JSON},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"rng", no_argument, NULL, OPT_RNG},
	{"balloon", optional_argument, NULL, OPT_BALLOON},
	{"control-socket", required_argument, NULL, OPT_CONTROL_SOCKET},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: microvm --kernel FILE [options]\n"
		"\n"
		"  --kernel FILE        vmlinux (ELF, PVH or 64-bit entry) or "
		"bzImage\n"
		"  --initrd FILE        initial ramdisk (cpio, optionally "
		"compressed)\n"
		"  --cmdline STR        kernel command line (replaces the "
		"default:\n"
		"                       \"%s\")\n"
		"  --cmdline-append STR add STR to the end of the kernel "
		"command line\n"
		"  --mem SIZE           guest RAM, e.g. 512M, 2G (default "
		"512M)\n"
		"  --pages POLICY       base | thp | huge | huge1g, optionally "
		",fallback=thp|base|huge\n"
		"                       (default base; huge/huge1g reserve "
		"the hugetlb pool at start)\n"
		"  --prefault[=background]  populate guest RAM before boot "
		"(or while it boots)\n"
		"  --prefault-threads N populate with N threads (default: one "
		"per 64 MiB, up to the CPUs)\n"
		"  --mem-file FILE      back guest RAM with FILE (MAP_SHARED; "
		"written back on exit)\n"
		"  --shared-mem         back guest RAM with a memfd "
		"(MAP_SHARED)\n"
		"  --cpus N             vCPUs (default 1, at most %d)\n"
		"  --disk FILE[,ro]     virtio-blk disk (repeatable; the first "
		"is root=/dev/vda)\n"
		"  --net tap=NAME[,mac=MAC]  virtio-net over a TAP device\n"
		"  --rng                virtio-rng entropy device\n"
		"  --balloon[=OPTS]     virtio-balloon: reporting, "
		"deflate-on-oom, stats=SECONDS\n"
		"  --control-socket PATH  serve runtime requests on a Unix "
		"socket (balloon set <MiB>,\n"
		"                       balloon stats; client: microvm ctl "
		"PATH REQUEST...)\n"
		"  --boot-timer         log guest boot time (guest writes 123 "
		"at 0xc0000000)\n"
		"  --verbose            log setup details and the memory "
		"backing report\n"
		"  --stats-json FILE    write boot/setup times, host faults, "
		"RSS and KVM stats\n"
		"                       as JSON to FILE at exit (--verbose "
		"logs the same line)\n"
		"  --no-seccomp         do not install seccomp filters "
		"(debugging only)\n"
		"  --help, --version\n"
		"\n"
		"In a terminal, keys go to the guest (Ctrl-C too); Ctrl-A x "
		"stops the VM.\n"
		"Exit status: 0 when the guest reboots or powers off (or "
		"Ctrl-A x), 1 on an\n"
		"error, 2 for a bad command line, 128+N when stopped by "
		"signal N.\n",
		CLI_DEFAULT_CMDLINE, CLI_MAX_CPUS);
}

static int cli_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *o, char *err,
	      size_t errlen)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->mem_size = CLI_DEFAULT_MEM;
	o->policy.pages = REGION_PAGES_BASE;
	o->policy.backing = REGION_BACKING_ANON;
	o->cmdline = CLI_DEFAULT_CMDLINE;
	o->cpus = 1;
	optind = 0;
	opterr = 0;
	/* The leading ':' makes a missing value ':' rather than '?'. */
	while ((c = getopt_long(argc, argv, ":", cli_long, NULL)) != -1) {
		switch (c) {
		case OPT_MEM:
			if (size_parse(optarg, &o->mem_size) || !o->mem_size) {
				snprintf(err, errlen,
					 "--mem '%s' is not a size: use e.g. "
					 "512M or 2G",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_PAGES:
			if (region_policy_parse(optarg, &o->policy, err,
						errlen))
				return -EINVAL;
			break;
		case OPT_PREFAULT:
			if (!optarg)
				o->prefault = CLI_PREFAULT_SYNC;
			else if (!strcmp(optarg, "background"))
				o->prefault = CLI_PREFAULT_BACKGROUND;
			else {
				snprintf(err, errlen,
					 "--prefault=%s: the only mode is "
					 "--prefault=background",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_PREFAULT_THREADS:
			if (cli_uint(optarg, 16, &o->prefault_threads) ||
			    !o->prefault_threads) {
				snprintf(err, errlen,
					 "--prefault-threads '%s': use 1 to 16",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_KERNEL: o->kernel = optarg; break;
		case OPT_INITRD: o->initrd = optarg; break;
		case OPT_CMDLINE: o->cmdline = optarg; break;
		case OPT_CMDLINE_APPEND: o->cmdline_append = optarg; break;
		case OPT_CPUS:
			if (cli_uint(optarg, 1000000, &o->cpus) || !o->cpus) {
				snprintf(err, errlen,
					 "--cpus '%s' is not a vCPU count: use "
					 "1 to %d",
					 optarg, CLI_MAX_CPUS);
				return -EINVAL;
			}
			if (o->cpus > CLI_MAX_CPUS) {
				snprintf(err, errlen,
					 "--cpus %u is too many vCPUs: microvm "
					 "supports at most %d",
					 o->cpus, CLI_MAX_CPUS);
				return -EINVAL;
			}
			break;
		case OPT_MEM_FILE: o->mem_file = optarg; break;
		case OPT_SHARED_MEM: o->shared_mem = 1; break;
		case OPT_BOOT_TIMER: o->boot_timer = 1; break;
		case OPT_VERBOSE: o->verbose = 1; break;
		case OPT_STATS_JSON: o->stats_json = optarg; break;
		case OPT_NO_SECCOMP: o->no_seccomp = 1; break;
		case OPT_DISK:
			if (o->nr_disks == CLI_MAX_DISKS) {
				snprintf(err, errlen,
					 "too many --disk options: at most %d",
					 CLI_MAX_DISKS);
				return -EINVAL;
			}
			o->disks[o->nr_disks++] = optarg;
			break;
		case OPT_NET: o->net = optarg; break;
		case OPT_RNG: o->rng = 1; break;
		case OPT_BALLOON: o->balloon = optarg ? optarg : ""; break;
		case OPT_CONTROL_SOCKET: o->control_socket = optarg; break;
		case OPT_HELP: o->help = 1; return 0;
		case OPT_VERSION: o->version = 1; return 0;
		case ':':
			snprintf(err, errlen, "%s needs a value (see --help)",
				 argv[optind - 1]);
			return -EINVAL;
		default:
			/* In a cluster like "-xy" optind has not moved yet:
			 * name the letter getopt stopped at. */
			if (optopt && optopt < 256)
				snprintf(err, errlen,
					 "unknown option '-%c' (see --help)",
					 (unsigned char)optopt);
			else
				snprintf(err, errlen,
					 "unknown option '%s' (see --help)",
					 argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen,
			 "unexpected argument '%s': options take the form "
			 "--name value (see --help)",
			 argv[optind]);
		return -EINVAL;
	}
	if (!o->kernel) {
		snprintf(err, errlen,
			 "no kernel given: use --kernel vmlinux (or bzImage)");
		return -EINVAL;
	}
	if (o->mem_file && o->shared_mem) {
		snprintf(err, errlen,
			 "--mem-file and --shared-mem both choose the backing: "
			 "give one");
		return -EINVAL;
	}
	if (o->mem_file) {
		o->policy.backing = REGION_BACKING_FILE;
		o->policy.path = o->mem_file;
	} else if (o->shared_mem) {
		o->policy.backing = REGION_BACKING_SHARED;
	}
	return 0;
}
