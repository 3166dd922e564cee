#include "vmm/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lib/err.h"
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
	OPT_RESTORE,
	OPT_RESTORE_MODE,
	OPT_NO_IOEVENTFD,
	OPT_NO_IRQFD,
	OPT_HELP,
	OPT_VERSION,
	OPT_MEM_ZONE,
	OPT_MEM_HOTPLUG,
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
	{"mem-zone", required_argument, NULL, OPT_MEM_ZONE},
	{"mem-hotplug", required_argument, NULL, OPT_MEM_HOTPLUG},
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
	{"restore", required_argument, NULL, OPT_RESTORE},
	{"restore-mode", required_argument, NULL, OPT_RESTORE_MODE},
	/* Hidden test knobs: the paths taken when KVM lacks the
	 * capabilities. */
	{"no-ioeventfd", no_argument, NULL, OPT_NO_IOEVENTFD},
	{"no-irqfd", no_argument, NULL, OPT_NO_IRQFD},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: microvm --kernel FILE [options]\n"
		"       microvm --restore DIR [--restore-mode lazy|copy] "
		"[--pages P] [options]\n"
		"       microvm ctl SOCKET ping|pause|resume|snapshot DIR|"
		"balloon ...\n"
		"\n"
		"  --kernel FILE        " ARCH_KERNEL_HELP "\n"
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
		"  --mem-zone size=SIZE[,pages=base|thp|huge|huge1g]"
		"[,fallback=base|thp|huge]\n"
		"         [,prefault=on|background][,shared=on|file=PATH]"
		"[,host-node=N]\n"
		"         [,lock=on|onfault][,id=NAME]  one zone of guest RAM "
		"with its own policy\n"
		"                       (repeatable: zones fill RAM in order; "
		"replaces --mem, --pages,\n"
		"                       --prefault, --mem-file, --shared-mem)\n"
		"  --mem-hotplug size=MAX[,pages=base|thp|huge|huge1g]"
		"[,plugged=SIZE]\n"
		"         [,host-node=N][,id=NAME]  virtio-mem hotplug zone "
		"above RAM (mem set <MiB>)\n"
		"  --cpus N             vCPUs (default 1, at most %d)\n"
		"  --disk FILE[,ro]     virtio-blk disk (repeatable; the first "
		"is root=/dev/vda)\n"
		"  --net tap=NAME[,mac=MAC]  virtio-net over a TAP device\n"
		"  --rng                virtio-rng entropy device\n"
		"  --balloon[=OPTS]     virtio-balloon: reporting, "
		"deflate-on-oom, stats=SECONDS\n"
		"  --control-socket PATH  serve runtime requests on a Unix "
		"socket (balloon set <MiB>,\n"
		"                       balloon stats, mem set <MiB>, mem "
		"stats, pause, resume,\n"
		"                       snapshot DIR; client: microvm ctl "
		"PATH REQUEST...)\n"
		"  --restore DIR        start from a snapshot taken with "
		"microvm ctl PATH snapshot DIR\n"
		"                       (no --kernel; --pages may change the "
		"page policy)\n"
		"  --restore-mode MODE  lazy (pages load when the guest "
		"touches "
		"them, default)\n"
		"                       or copy (all memory read before the "
		"guest runs)\n"
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

static int cli_parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	/* Exactly XX:XX:XX:XX:XX:XX. */
	if (len != 17)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		unsigned v = 0;

		if (i < 5 && p[2] != ':')
			return -EINVAL;
		for (unsigned j = 0; j < 2; j++) {
			int c = tolower((unsigned char)p[j]);

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else
				return -EINVAL;
		}
		mac[i] = (uint8_t)v;
	}
	return 0;
}

/* What the kernel's dev_valid_name() accepts. */
static int cli_ifname_ok(const char *s, size_t len)
{
	if (!len || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

int cli_parse_net(const char *s, struct virtio_net_cfg *cfg, char *err,
		  size_t errlen)
{
	const char *p = s;

	memset(cfg, 0, sizeof(*cfg));
	if (!s || !*s) {
		snprintf(err, errlen,
			 "--net needs tap=NAME (e.g. --net tap=tap0)");
		return -EINVAL;
	}
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > 4 && !strncmp(p, "tap=", 4)) {
			const char *name = p + 4;
			size_t nlen = len - 4;

			if (nlen >= IFNAMSIZ) {
				snprintf(err, errlen,
					 "--net: TAP name '%.*s' is too long "
					 "(%zu characters, at most %d)",
					 (int)nlen, name, nlen, IFNAMSIZ - 1);
				return -EINVAL;
			}
			if (!cli_ifname_ok(name, nlen)) {
				snprintf(err, errlen,
					 "--net: '%.*s' is not a valid "
					 "interface name (no '/', ':' or "
					 "spaces)",
					 (int)nlen, name);
				return -EINVAL;
			}
			memcpy(cfg->tap, name, nlen);
			cfg->tap[nlen] = '\0';
		} else if (len >= 4 && !strncmp(p, "mac=", 4)) {
			const char *m = p + 4;
			size_t mlen = len - 4;

			if (cli_parse_mac(m, mlen, cfg->mac)) {
				snprintf(err, errlen,
					 "--net: bad MAC '%.*s' (expected six "
					 "hex bytes like 52:54:00:12:34:56)",
					 (int)mlen, m);
				return -EINVAL;
			}
			if (cfg->mac[0] & 1) {
				snprintf(err, errlen,
					 "--net: MAC %.*s is a multicast "
					 "address (the first byte must be "
					 "even, e.g. 52:54:00:12:34:56)",
					 (int)mlen, m);
				return -EINVAL;
			}
			if (!(cfg->mac[0] | cfg->mac[1] | cfg->mac[2] |
			      cfg->mac[3] | cfg->mac[4] | cfg->mac[5])) {
				snprintf(err, errlen,
					 "--net: MAC 00:00:00:00:00:00 is not "
					 "usable; pick a unicast address");
				return -EINVAL;
			}
			cfg->has_mac = 1;
		} else {
			snprintf(err, errlen,
				 "--net: unknown option '%.*s' (expected "
				 "tap=NAME[,mac=MAC])",
				 (int)len, p);
			return -EINVAL;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (!cfg->tap[0]) {
		snprintf(err, errlen,
			 "--net needs tap=NAME (e.g. --net tap=tap0)");
		return -EINVAL;
	}
	return 0;
}

int cli_parse_balloon(const char *s, struct virtio_balloon_cfg *cfg, char *err,
		      size_t errlen)
{
	char buf[256], *save = NULL, *tok;

	memset(cfg, 0, sizeof(*cfg));
	if (!s || !*s)
		return 0;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen,
			 "--balloon: option string too long: use "
			 "reporting,deflate-on-oom,stats=SECONDS");
		return -EINVAL;
	}
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "reporting")) {
			cfg->reporting = 1;
		} else if (!strcmp(tok, "deflate-on-oom")) {
			cfg->deflate_on_oom = 1;
		} else if (!strncmp(tok, "stats=", 6)) {
			const char *v = tok + 6;
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(v, &end, 10);
			if (!*v || *end || errno || *v == '-' ||
			    n > VIRTIO_BALLOON_STATS_MAX_S) {
				snprintf(err, errlen,
					 "--balloon: stats='%s' is not a "
					 "number of seconds from 0 to %d: "
					 "use e.g. stats=1",
					 v, VIRTIO_BALLOON_STATS_MAX_S);
				return -EINVAL;
			}
			cfg->stats_interval = (unsigned)n;
		} else {
			snprintf(err, errlen,
				 "--balloon: unknown option '%s': use "
				 "reporting, deflate-on-oom, stats=SECONDS "
				 "(comma-separated)",
				 tok);
			return -EINVAL;
		}
	}
	return 0;
}

int cli_parse_disk(const char *s, struct cli_disk *d, char *err, size_t errlen)
{
	size_t n = strlen(s);

	memset(d, 0, sizeof(*d));
	if (n >= 3 && !strcmp(s + n - 3, ",ro")) {
		d->ro = 1;
		n -= 3;
	}
	if (!n) {
		snprintf(err, errlen,
			 "--disk needs a file name: --disk FILE[,ro]");
		return -EINVAL;
	}
	if (n >= sizeof(d->path)) {
		snprintf(err, errlen,
			 "--disk: path longer than %zu bytes: use a shorter "
			 "path",
			 sizeof(d->path) - 1);
		return -EINVAL;
	}
	memcpy(d->path, s, n);
	d->path[n] = '\0';
	return 0;
}

/*
 * A comma list of key=value items (--mem-zone, --mem-hotplug): the
 * option's name, keys and usage for the messages, and the item at hand.
 */
#define CLI_KV_MAX_KEYS 16
struct cli_kv {
	const char *opt;	 /* "--mem-zone" */
	const char *s, *p;	 /* the whole value, the next item */
	const char *const *keys; /* in the order of the usage line */
	unsigned nkeys;
	const char *usage; /* "size=, pages=, ..." */
	int seen[CLI_KV_MAX_KEYS];
	unsigned k; /* the item at hand: keys[k]=v (vlen bytes) */
	const char *v;
	int vlen;
};

/* The next item: 1 with k, v and vlen set; 0 after the last; -EINVAL
 * with one line for an unknown key, a key given twice or no value. */
static int cli_kv_next(struct cli_kv *kv, char *err, size_t errlen)
{
	const char *p = kv->p, *end, *eq;
	size_t len, klen;

	if (!*p)
		return 0;
	end = strchr(p, ',');
	len = end ? (size_t)(end - p) : strlen(p);
	eq = memchr(p, '=', len);
	klen = eq ? (size_t)(eq - p) : len;
	for (kv->k = 0; kv->k < kv->nkeys; kv->k++)
		if (strlen(kv->keys[kv->k]) == klen &&
		    !strncmp(p, kv->keys[kv->k], klen))
			break;
	if (kv->k == kv->nkeys || !eq) {
		snprintf(err, errlen, "%s: unknown option '%.*s': use %s",
			 kv->opt, (int)len, p, kv->usage);
		return -EINVAL;
	}
	if (kv->seen[kv->k]++) {
		snprintf(err, errlen,
			 "%s: %s= given twice in '%s': give each option once",
			 kv->opt, kv->keys[kv->k], kv->s);
		return -EINVAL;
	}
	kv->v = eq + 1;
	kv->vlen = (int)(len - klen - 1);
	if (!kv->vlen) {
		snprintf(err, errlen, "%s: %s= needs a value", kv->opt,
			 kv->keys[kv->k]);
		return -EINVAL;
	}
	kv->p = end ? end + 1 : p + len;
	return 1;
}

static int cli_kv_is(const struct cli_kv *kv, const char *key)
{
	return !strcmp(kv->keys[kv->k], key);
}

static int cli_kv_eq(const struct cli_kv *kv, const char *word)
{
	return (size_t)kv->vlen == strlen(word) &&
	       !strncmp(kv->v, word, (size_t)kv->vlen);
}

/* A size value; zero only if allowed. */
static int cli_kv_size(const struct cli_kv *kv, int allow_zero, uint64_t *out,
		       char *err, size_t errlen)
{
	char buf[32];
	int bad = 1;

	if ((size_t)kv->vlen < sizeof(buf)) {
		memcpy(buf, kv->v, (size_t)kv->vlen);
		buf[kv->vlen] = '\0';
		bad = size_parse(buf, out) || (!allow_zero && !*out);
	}
	if (!bad)
		return 0;
	snprintf(err, errlen,
		 "%s: %s='%.*s' is not a size: use e.g. 512M or 2G", kv->opt,
		 kv->keys[kv->k], kv->vlen, kv->v);
	return -EINVAL;
}

/* A page policy name; huge1g only if allowed (a fallback cannot be). */
static int cli_kv_pages(const struct cli_kv *kv, int allow_1g,
			enum region_pages *out, char *err, size_t errlen)
{
	static const enum region_pages all[] = {
		REGION_PAGES_BASE, REGION_PAGES_THP, REGION_PAGES_HUGE,
		REGION_PAGES_HUGE1G};

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (cli_kv_eq(kv, region_pages_name(all[i])) &&
		    (allow_1g || all[i] != REGION_PAGES_HUGE1G)) {
			*out = all[i];
			return 0;
		}
	snprintf(err, errlen, "%s: %s=%.*s: use %s", kv->opt, kv->keys[kv->k],
		 kv->vlen, kv->v,
		 allow_1g ? "base, thp, huge or huge1g" : "base, thp or huge");
	return -EINVAL;
}

/* host-node=N: a NUMA node number. */
static int cli_kv_node(const struct cli_kv *kv, int *node, char *err,
		       size_t errlen)
{
	char buf[8];
	unsigned n;

	if ((size_t)kv->vlen >= sizeof(buf) ||
	    (memcpy(buf, kv->v, (size_t)kv->vlen), buf[kv->vlen] = '\0',
	     cli_uint(buf, 1023, &n))) {
		snprintf(err, errlen,
			 "%s: %s=%.*s is not a NUMA node number (0 to 1023)",
			 kv->opt, kv->keys[kv->k], kv->vlen, kv->v);
		return -EINVAL;
	}
	*node = (int)n;
	return 0;
}

/* id=NAME: letters, digits, '-' and '_' (it names a zone in messages,
 * stats and snapshots). */
static int cli_kv_id(const struct cli_kv *kv, char *id, char *err,
		     size_t errlen)
{
	int ok = kv->vlen < MEMMAP_ZONE_ID_MAX;

	for (int i = 0; ok && i < kv->vlen; i++)
		ok = isalnum((unsigned char)kv->v[i]) || kv->v[i] == '-' ||
		     kv->v[i] == '_';
	if (!ok) {
		snprintf(err, errlen,
			 "%s: id=%.*s: use 1 to %d letters, digits, '-' or "
			 "'_'",
			 kv->opt, kv->vlen, kv->v, MEMMAP_ZONE_ID_MAX - 1);
		return -EINVAL;
	}
	memcpy(id, kv->v, (size_t)kv->vlen);
	id[kv->vlen] = '\0';
	return 0;
}

/* The keys of --mem-hotplug, in the order of the usage line. */
static const char *const cli_hp_keys[] = {
	"size", "pages", "plugged", "host-node", "id",
};
#define CLI_HP_NKEYS (sizeof(cli_hp_keys) / sizeof(cli_hp_keys[0]))

uint64_t cli_hotplug_align(enum region_pages pages)
{
	uint64_t ps = region_page_size(pages);

	return ps > (128ULL << 20) ? ps : 128ULL << 20;
}

int cli_parse_hotplug(const char *s, struct cli_hotplug *h, char *err,
		      size_t errlen)
{
	struct cli_kv kv = {.opt = "--mem-hotplug",
			    .s = s,
			    .p = s,
			    .keys = cli_hp_keys,
			    .nkeys = CLI_HP_NKEYS,
			    .usage =
				    "size=, pages=, plugged=, host-node=, id="};
	uint64_t align, block;
	char a[32], b[32], c[32];
	int ret;

	memset(h, 0, sizeof(*h));
	h->pages = REGION_PAGES_BASE;
	h->host_node = -1;
	snprintf(h->id, sizeof(h->id), "hotplug");
	if (!s || !*s) {
		snprintf(err, errlen,
			 "--mem-hotplug needs at least size=MAX (e.g. "
			 "--mem-hotplug size=4G,pages=huge)");
		return -EINVAL;
	}
	while ((ret = cli_kv_next(&kv, err, errlen)) > 0) {
		if (cli_kv_is(&kv, "size"))
			ret = cli_kv_size(&kv, 0, &h->size, err, errlen);
		else if (cli_kv_is(&kv, "plugged"))
			ret = cli_kv_size(&kv, 1, &h->plugged, err, errlen);
		else if (cli_kv_is(&kv, "pages"))
			ret = cli_kv_pages(&kv, 1, &h->pages, err, errlen);
		else if (cli_kv_is(&kv, "host-node"))
			ret = cli_kv_node(&kv, &h->host_node, err, errlen);
		else
			ret = cli_kv_id(&kv, h->id, err, errlen);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	if (!kv.seen[0]) {
		snprintf(err, errlen,
			 "--mem-hotplug '%s' has no size: add size=MAX (e.g. "
			 "size=4G)",
			 s);
		return -EINVAL;
	}
	/* Linux adds hotplugged memory in whole 128 MiB blocks; the
	 * virtio-mem block is the page size (at least 2 MiB). */
	align = cli_hotplug_align(h->pages);
	block = region_page_size(h->pages);
	if (block < (2ULL << 20))
		block = 2ULL << 20;
	if (h->size % align) {
		snprintf(err, errlen,
			 "--mem-hotplug: size=%s is not a multiple of %s "
			 "(Linux adds memory in 128M blocks%s): use a "
			 "multiple of %s",
			 size_format(h->size, a, sizeof(a)),
			 size_format(align, b, sizeof(b)),
			 h->pages == REGION_PAGES_HUGE1G
				 ? ", and pages=huge1g in 1G blocks"
				 : "",
			 b);
		return -EINVAL;
	}
	if (h->plugged % block || h->plugged > h->size) {
		snprintf(err, errlen,
			 "--mem-hotplug: plugged=%s must be a multiple of the "
			 "%s block of pages=%s and at most size=%s",
			 size_format(h->plugged, a, sizeof(a)),
			 size_format(block, b, sizeof(b)),
			 region_pages_name(h->pages),
			 size_format(h->size, c, sizeof(c)));
		return -EINVAL;
	}
	return 0;
}

/* The keys of --mem-zone, in the order of the usage line. */
static const char *const cli_zone_keys[] = {
	"size", "pages",     "fallback", "prefault", "shared",
	"file", "host-node", "lock",	 "id",
};
#define CLI_ZONE_NKEYS (sizeof(cli_zone_keys) / sizeof(cli_zone_keys[0]))

/* The --mem-zone keys of their own: prefault=, shared=, file=, lock=. */
static int cli_zone_item(const struct cli_kv *kv, struct memmap_zone *z,
			 char *path, size_t pathlen, char *err, size_t errlen)
{
	if (cli_kv_is(kv, "prefault")) {
		if (cli_kv_eq(kv, "on"))
			z->prefault = MEMMAP_PREFAULT_ON;
		else if (cli_kv_eq(kv, "background"))
			z->prefault = MEMMAP_PREFAULT_BACKGROUND;
		else
			return err_set(err, errlen, -EINVAL,
				       "--mem-zone: prefault=%.*s: use on or "
				       "background (leave it out for lazy "
				       "memory)",
				       kv->vlen, kv->v);
	} else if (cli_kv_is(kv, "shared")) {
		if (!cli_kv_eq(kv, "on"))
			return err_set(err, errlen, -EINVAL,
				       "--mem-zone: shared=%.*s: the only "
				       "value is shared=on",
				       kv->vlen, kv->v);
		z->policy.backing = REGION_BACKING_SHARED;
	} else if (cli_kv_is(kv, "file")) {
		if ((size_t)kv->vlen >= pathlen)
			return err_set(err, errlen, -EINVAL,
				       "--mem-zone: file= path longer than "
				       "%zu bytes: use a shorter path",
				       pathlen ? pathlen - 1 : 0);
		memcpy(path, kv->v, (size_t)kv->vlen);
		path[kv->vlen] = '\0';
		z->policy.backing = REGION_BACKING_FILE;
	} else { /* lock */
		if (cli_kv_eq(kv, "on"))
			z->lock = MEMMAP_LOCK_ON;
		else if (cli_kv_eq(kv, "onfault"))
			z->lock = MEMMAP_LOCK_ONFAULT;
		else
			return err_set(err, errlen, -EINVAL,
				       "--mem-zone: lock=%.*s: use on or "
				       "onfault",
				       kv->vlen, kv->v);
	}
	return 0;
}

int cli_parse_zone(const char *s, unsigned index, struct memmap_zone *z,
		   char *path, size_t pathlen, char *err, size_t errlen)
{
	struct cli_kv kv = {.opt = "--mem-zone",
			    .s = s,
			    .p = s,
			    .keys = cli_zone_keys,
			    .nkeys = CLI_ZONE_NKEYS,
			    .usage =
				    "size=, pages=, fallback=, prefault=, "
				    "shared=on, file=, host-node=, lock=, id="};
	enum region_pages fb = REGION_PAGES_BASE;
	char a[32], b[32];
	size_t ps;
	int ret, has_fb;

	memset(z, 0, sizeof(*z));
	z->policy.pages = REGION_PAGES_BASE;
	z->policy.backing = REGION_BACKING_ANON;
	z->host_node = -1;
	snprintf(z->id, sizeof(z->id), "zone%u", index);
	if (pathlen)
		path[0] = '\0';
	if (!s || !*s) {
		snprintf(err, errlen,
			 "--mem-zone needs at least size=SIZE (e.g. "
			 "--mem-zone size=1G,pages=huge)");
		return -EINVAL;
	}
	while ((ret = cli_kv_next(&kv, err, errlen)) > 0) {
		if (cli_kv_is(&kv, "size"))
			ret = cli_kv_size(&kv, 0, &z->size, err, errlen);
		else if (cli_kv_is(&kv, "pages"))
			ret = cli_kv_pages(&kv, 1, &z->policy.pages, err,
					   errlen);
		else if (cli_kv_is(&kv, "fallback"))
			ret = cli_kv_pages(&kv, 0, &fb, err, errlen);
		else if (cli_kv_is(&kv, "host-node"))
			ret = cli_kv_node(&kv, &z->host_node, err, errlen);
		else if (cli_kv_is(&kv, "id"))
			ret = cli_kv_id(&kv, z->id, err, errlen);
		else
			ret = cli_zone_item(&kv, z, path, pathlen, err, errlen);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	has_fb = kv.seen[2];
	if (!kv.seen[0]) {
		snprintf(err, errlen,
			 "--mem-zone '%s' has no size: add size=SIZE (e.g. "
			 "size=1G)",
			 s);
		return -EINVAL;
	}
	if (kv.seen[4] && kv.seen[5]) {
		snprintf(err, errlen,
			 "--mem-zone id=%s: shared=on and file= both choose "
			 "the backing: give one",
			 z->id);
		return -EINVAL;
	}
	if (has_fb) {
		if (z->policy.pages != REGION_PAGES_HUGE &&
		    z->policy.pages != REGION_PAGES_HUGE1G) {
			snprintf(err, errlen,
				 "--mem-zone id=%s: fallback= only applies to "
				 "pages=huge or huge1g (a short hugepage "
				 "pool)",
				 z->id);
			return -EINVAL;
		}
		if (fb == z->policy.pages ||
		    region_page_size(fb) > region_page_size(z->policy.pages)) {
			snprintf(err, errlen,
				 "--mem-zone id=%s: fallback=%s is not "
				 "smaller than pages=%s: fall back to a "
				 "smaller page size",
				 z->id, region_pages_name(fb),
				 region_pages_name(z->policy.pages));
			return -EINVAL;
		}
		if (z->policy.backing == REGION_BACKING_FILE) {
			snprintf(err, errlen,
				 "--mem-zone id=%s: fallback= cannot be "
				 "combined with file=: one file has one page "
				 "size",
				 z->id);
			return -EINVAL;
		}
		z->policy.has_fallback = 1;
		z->policy.fallback = fb;
	}
	ps = region_page_size(z->policy.pages);
	if (z->size % ps) {
		snprintf(err, errlen,
			 "--mem-zone id=%s: size=%s is not a multiple of the "
			 "%s page size of pages=%s: use a multiple of %s",
			 z->id, size_format(z->size, a, sizeof(a)),
			 size_format(ps, b, sizeof(b)),
			 region_pages_name(z->policy.pages), b);
		return -EINVAL;
	}
	return 0;
}

/* The zones with the whole command line: ids unique, no mix with the
 * one-zone options, a locked zone not under a balloon; then the stable
 * pointers and the total. */
static int cli_check_zones(struct cli_opts *o, char *err, size_t errlen)
{
	char origin[sizeof(o->zone_origin[0])];
	uint64_t total = 0;

	if (o->mem_set || o->pages_set || o->prefault_set || o->mem_file ||
	    o->shared_mem) {
		snprintf(err, errlen,
			 "--mem-zone describes all guest RAM: drop %s (give "
			 "each zone its size=, pages=, prefault=, file= or "
			 "shared=on)",
			 o->mem_set	   ? "--mem"
			 : o->pages_set	   ? "--pages"
			 : o->prefault_set ? "--prefault"
			 : o->mem_file	   ? "--mem-file"
					   : "--shared-mem");
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->nr_zones; i++) {
		struct memmap_zone *z = &o->zones[i];

		for (unsigned j = 0; j < i; j++)
			if (!strcmp(o->zones[j].id, z->id)) {
				snprintf(err, errlen,
					 "--mem-zone id=%s given twice: give "
					 "each zone its own id",
					 z->id);
				return -EINVAL;
			}
		for (unsigned j = 0; j < i; j++)
			if (z->policy.backing == REGION_BACKING_FILE &&
			    o->zones[j].policy.backing == REGION_BACKING_FILE &&
			    !strcmp(o->zone_path[i], o->zone_path[j])) {
				snprintf(err, errlen,
					 "--mem-zone id=%s: file=%s is already "
					 "zone %s's memory file: give each "
					 "zone its own file",
					 z->id, o->zone_path[i],
					 o->zones[j].id);
				return -EINVAL;
			}
		/* The balloon gives memory back that a lock pins: both
		 * cannot hold. hugetlb zones are never swapped and return
		 * whole pages, so they are not locked at all. */
		if (o->has_balloon && z->lock != MEMMAP_LOCK_NONE &&
		    (z->policy.has_fallback ||
		     (z->policy.pages != REGION_PAGES_HUGE &&
		      z->policy.pages != REGION_PAGES_HUGE1G))) {
			snprintf(err, errlen,
				 "--mem-zone id=%s: lock= and --balloon "
				 "contradict each other (the balloon returns "
				 "memory the lock pins): drop one, or put the "
				 "zone on pages=huge",
				 z->id);
			return -EINVAL;
		}
		/* Through a local buffer: source and destination are both
		 * in *o (gcc -Wrestrict). */
		snprintf(origin, sizeof(origin), "--mem-zone id=%s", z->id);
		memcpy(o->zone_origin[i], origin, sizeof(origin));
		z->policy.origin = o->zone_origin[i];
		z->policy.path = z->policy.backing == REGION_BACKING_FILE
					 ? o->zone_path[i]
					 : NULL;
		if (__builtin_add_overflow(total, z->size, &total)) {
			snprintf(err, errlen,
				 "--mem-zone sizes add up to more than 16 EiB");
			return -EINVAL;
		}
	}
	o->mem_size = total;
	return 0;
}

/* Checks that need the whole command line: one place, after getopt.
 * conflict: the first option given that a snapshot fixes, or NULL. */
static int cli_check(struct cli_opts *o, const char *conflict, char *err,
		     size_t errlen)
{
	const struct {
		const char *opt, *val;
	} paths[] = {
		{"--kernel", o->kernel},
		{"--initrd", o->initrd},
		{"--mem-file", o->mem_file},
		{"--stats-json", o->stats_json},
		{"--control-socket", o->control_socket},
	};
	size_t ps = region_page_size(o->policy.pages);
	struct sockaddr_un sa;
	char a[32], b[32];

	if (o->restore) {
		if (!*o->restore) {
			snprintf(err, errlen,
				 "--restore needs a snapshot directory, not "
				 "''");
			return -EINVAL;
		}
		if (conflict) {
			snprintf(err, errlen,
				 "%s cannot be combined with --restore: the "
				 "snapshot fixes it (only --pages, "
				 "--restore-mode, --control-socket, "
				 "--verbose, --stats-json and --no-seccomp "
				 "apply)",
				 conflict);
			return -EINVAL;
		}
		o->kernel = NULL;
	} else if (conflict && !strcmp(conflict, "--restore-mode")) {
		snprintf(err, errlen, "--restore-mode needs --restore DIR");
		return -EINVAL;
	}
	if (!o->kernel && !o->restore) {
		snprintf(err, errlen,
			 "no kernel given: use --kernel " ARCH_KERNEL_FILES);
		return -EINVAL;
	}
	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (paths[i].val && !*paths[i].val) {
			snprintf(err, errlen, "%s needs a file name, not ''",
				 paths[i].opt);
			return -EINVAL;
		}
	}
	if (o->control_socket &&
	    strlen(o->control_socket) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen,
			 "--control-socket path is longer than %zu bytes (a "
			 "Unix socket's limit): use a shorter path",
			 sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	if (strlen(o->cmdline) +
		    (o->cmdline_append ? 1 + strlen(o->cmdline_append) : 0) >=
	    CLI_CMDLINE_MAX) {
		snprintf(
			err, errlen,
			"the kernel command line (--cmdline and "
			"--cmdline-append) is longer than %d bytes: shorten it",
			CLI_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	if (o->nr_zones)
		return cli_check_zones(o, err, errlen);
	if (o->mem_file && o->shared_mem) {
		snprintf(err, errlen,
			 "--mem-file and --shared-mem both choose the backing: "
			 "give one");
		return -EINVAL;
	}
	if (o->mem_file && o->policy.has_fallback) {
		snprintf(err, errlen,
			 "fallback= cannot be combined with --mem-file: one "
			 "file has one page size");
		return -EINVAL;
	}
	/* Guest RAM is made of whole pages of the policy (memmap_build
	 * checks again). */
	if (o->mem_size % ps && !o->restore) {
		snprintf(err, errlen,
			 "--mem %s is not a multiple of the %s page size of "
			 "--pages %s: use a multiple of %s",
			 size_format(o->mem_size, a, sizeof(a)),
			 size_format(ps, b, sizeof(b)),
			 region_pages_name(o->policy.pages), b);
		return -EINVAL;
	}
	if (o->mem_file) {
		o->policy.backing = REGION_BACKING_FILE;
		o->policy.path = o->mem_file;
	} else if (o->shared_mem) {
		o->policy.backing = REGION_BACKING_SHARED;
	}
	/* The shorthand is one zone (messages keep naming --mem/--pages). */
	o->nr_zones = 1;
	o->zones[0] = (struct memmap_zone){
		.id = "mem",
		.size = o->mem_size,
		.policy = o->policy,
		.prefault = o->prefault == CLI_PREFAULT_SYNC
				    ? MEMMAP_PREFAULT_ON
			    : o->prefault == CLI_PREFAULT_BACKGROUND
				    ? MEMMAP_PREFAULT_BACKGROUND
				    : MEMMAP_PREFAULT_NONE,
		.host_node = -1};
	return 0;
}

/* The options a snapshot fixes (contradicting it: exit 2 with
 * --restore). */
static const char *cli_restore_conflict(int c)
{
	static const struct {
		int opt;
		const char *name;
	} fixed[] = {
		{OPT_MEM, "--mem"},
		{OPT_MEM_ZONE, "--mem-zone"},
		{OPT_MEM_HOTPLUG, "--mem-hotplug"},
		{OPT_PREFAULT, "--prefault"},
		{OPT_PREFAULT_THREADS, "--prefault-threads"},
		{OPT_KERNEL, "--kernel"},
		{OPT_INITRD, "--initrd"},
		{OPT_CMDLINE, "--cmdline"},
		{OPT_CMDLINE_APPEND, "--cmdline-append"},
		{OPT_CPUS, "--cpus"},
		{OPT_MEM_FILE, "--mem-file"},
		{OPT_SHARED_MEM, "--shared-mem"},
		{OPT_BOOT_TIMER, "--boot-timer"},
		{OPT_DISK, "--disk"},
		{OPT_NET, "--net"},
		{OPT_RNG, "--rng"},
		{OPT_BALLOON, "--balloon"},
	};

	for (unsigned i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i].opt == c)
			return fixed[i].name;
	return NULL;
}

int cli_parse(int argc, char **argv, struct cli_opts *o, char *err,
	      size_t errlen)
{
	const char *conflict = NULL, *mode_given = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	o->mem_size = CLI_DEFAULT_MEM;
	o->policy.pages = REGION_PAGES_BASE;
	o->policy.backing = REGION_BACKING_ANON;
	o->cmdline = CLI_DEFAULT_CMDLINE;
	o->cpus = 1;
	/* The test knobs' environment variables, read in this one place. */
	o->no_ioeventfd = getenv("MICROVM_NO_IOEVENTFD") != NULL;
	o->no_irqfd = getenv("MICROVM_NO_IRQFD") != NULL;
	optind = 0;
	opterr = 0;
	/* The leading ':' makes a missing value ':' rather than '?'. */
	while ((c = getopt_long(argc, argv, ":", cli_long, NULL)) != -1) {
		const char *name = cli_restore_conflict(c);

		if (name && !conflict)
			conflict = name;
		switch (c) {
		case OPT_MEM:
			if (size_parse(optarg, &o->mem_size) || !o->mem_size) {
				snprintf(err, errlen,
					 "--mem '%s' is not a size: use e.g. "
					 "512M or 2G",
					 optarg);
				return -EINVAL;
			}
			o->mem_set = 1;
			break;
		case OPT_MEM_ZONE:
			if (o->nr_zones == MEMMAP_MAX_ZONES) {
				snprintf(err, errlen,
					 "too many --mem-zone options: at most "
					 "%d",
					 MEMMAP_MAX_ZONES);
				return -EINVAL;
			}
			if (cli_parse_zone(
				    optarg, o->nr_zones, &o->zones[o->nr_zones],
				    o->zone_path[o->nr_zones],
				    sizeof(o->zone_path[0]), err, errlen))
				return -EINVAL;
			o->nr_zones++;
			break;
		case OPT_PAGES:
			o->pages_set = 1;
			if (region_policy_parse(optarg, &o->policy, err,
						errlen))
				return -EINVAL;
			break;
		case OPT_PREFAULT:
			o->prefault_set = 1;
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
			if (cli_parse_disk(optarg, &o->disks[o->nr_disks], err,
					   errlen))
				return -EINVAL;
			o->nr_disks++;
			break;
		case OPT_NET:
			if (o->has_net) {
				snprintf(err, errlen,
					 "--net given twice: microvm has one "
					 "network device");
				return -EINVAL;
			}
			if (cli_parse_net(optarg, &o->net, err, errlen))
				return -EINVAL;
			o->has_net = 1;
			break;
		case OPT_RNG: o->rng = 1; break;
		case OPT_MEM_HOTPLUG:
			if (o->has_hotplug) {
				snprintf(err, errlen,
					 "--mem-hotplug given twice: microvm "
					 "has one hotplug zone");
				return -EINVAL;
			}
			if (cli_parse_hotplug(optarg, &o->hotplug, err, errlen))
				return -EINVAL;
			o->has_hotplug = 1;
			break;
		case OPT_BALLOON:
			if (o->has_balloon) {
				snprintf(err, errlen,
					 "--balloon given twice: give its "
					 "options once, comma-separated");
				return -EINVAL;
			}
			if (cli_parse_balloon(optarg, &o->balloon, err, errlen))
				return -EINVAL;
			o->has_balloon = 1;
			break;
		case OPT_CONTROL_SOCKET: o->control_socket = optarg; break;
		case OPT_RESTORE: o->restore = optarg; break;
		case OPT_RESTORE_MODE:
			if (!strcmp(optarg, "copy"))
				o->restore_copy = 1;
			else if (!strcmp(optarg, "lazy"))
				o->restore_copy = 0;
			else {
				snprintf(err, errlen,
					 "--restore-mode '%s': use lazy or "
					 "copy",
					 optarg);
				return -EINVAL;
			}
			mode_given = "--restore-mode";
			break;
		case OPT_NO_IOEVENTFD: o->no_ioeventfd = 1; break;
		case OPT_NO_IRQFD: o->no_irqfd = 1; break;
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
	if (mode_given && !o->restore)
		conflict = mode_given;
	return cli_check(o, conflict, err, errlen);
}
