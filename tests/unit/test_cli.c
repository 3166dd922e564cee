/*
 * cli_parse: every option's value is checked and typed before anything is
 * acquired (a bad one is -EINVAL with one line, which main turns into exit
 * 2), and the `microvm ctl` client's usage errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/harness.h"
#include "vmm/cli.h"
#include "vmm/control.h"

#define CLI_TEST_MAX_ARGS 32

static char *cli_argv[CLI_TEST_MAX_ARGS + 2];
static char cli_err[512];

/* cli_parse over "microvm" + the NULL-terminated arguments. */
static int cli_try(struct cli_opts *o, const char *first, ...)
{
	va_list ap;
	const char *a;
	int n = 0;

	cli_argv[n++] = (char *)(uintptr_t) "microvm";
	va_start(ap, first);
	for (a = first; a && n <= CLI_TEST_MAX_ARGS;
	     a = va_arg(ap, const char *))
		cli_argv[n++] = (char *)(uintptr_t)a;
	va_end(ap);
	cli_argv[n] = NULL;
	memset(cli_err, 0, sizeof(cli_err));
	return cli_parse(n, cli_argv, o, cli_err, sizeof(cli_err));
}

START_TEST(cli_defaults)
{
	struct cli_opts o;

	unsetenv("MICROVM_NO_IOEVENTFD");
	unsetenv("MICROVM_NO_IRQFD");
	ck_assert_int_eq(cli_try(&o, "--kernel", "vmlinux", NULL), 0);
	ck_assert_str_eq(o.kernel, "vmlinux");
	ck_assert_uint_eq(o.mem_size, CLI_DEFAULT_MEM);
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_int_eq(o.policy.pages, REGION_PAGES_BASE);
	ck_assert_int_eq(o.policy.backing, REGION_BACKING_ANON);
	ck_assert_int_eq(o.prefault, CLI_PREFAULT_NONE);
	ck_assert_str_eq(o.cmdline, CLI_DEFAULT_CMDLINE);
	ck_assert_uint_eq(o.nr_disks, 0);
	ck_assert_int_eq(o.has_net, 0);
	ck_assert_int_eq(o.has_balloon, 0);
	ck_assert_int_eq(o.rng, 0);
	ck_assert_int_eq(o.no_ioeventfd, 0);
	ck_assert_int_eq(o.no_irqfd, 0);
}
END_TEST

/* Every option with a value comes out typed: nothing is parsed later. */
START_TEST(cli_typed)
{
	struct cli_opts o;

	ck_assert_msg(cli_try(&o, "--kernel", "k", "--mem", "2G", "--pages",
			      "huge,fallback=thp", "--prefault=background",
			      "--prefault-threads", "4", "--cpus", "3",
			      "--disk", "root.img", "--disk",
			      "data,with,commas.img,ro", "--net",
			      "mac=52:54:00:ab:CD:ef,tap=tap7",
			      "--balloon=reporting,stats=2", "--rng",
			      "--control-socket", "/tmp/s.sock", "--shared-mem",
			      NULL) == 0,
		      "%s", cli_err);
	ck_assert_uint_eq(o.mem_size, 2ULL << 30);
	ck_assert_int_eq(o.policy.pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(o.policy.has_fallback, 1);
	ck_assert_int_eq(o.policy.fallback, REGION_PAGES_THP);
	ck_assert_int_eq(o.policy.backing, REGION_BACKING_SHARED);
	ck_assert_int_eq(o.prefault, CLI_PREFAULT_BACKGROUND);
	ck_assert_uint_eq(o.prefault_threads, 4);
	ck_assert_uint_eq(o.cpus, 3);
	ck_assert_uint_eq(o.nr_disks, 2);
	ck_assert_str_eq(o.disks[0].path, "root.img");
	ck_assert_int_eq(o.disks[0].ro, 0);
	ck_assert_str_eq(o.disks[1].path, "data,with,commas.img");
	ck_assert_int_eq(o.disks[1].ro, 1);
	ck_assert_int_eq(o.has_net, 1);
	ck_assert_str_eq(o.net.tap, "tap7");
	ck_assert_int_eq(o.net.has_mac, 1);
	ck_assert_int_eq(memcmp(o.net.mac, "\x52\x54\x00\xab\xcd\xef", 6), 0);
	ck_assert_int_eq(o.has_balloon, 1);
	ck_assert_int_eq(o.balloon.reporting, 1);
	ck_assert_int_eq(o.balloon.deflate_on_oom, 0);
	ck_assert_uint_eq(o.balloon.stats_interval, 2);
	ck_assert_int_eq(o.rng, 1);
	ck_assert_str_eq(o.control_socket, "/tmp/s.sock");

	/* A plain --balloon: inflate/deflate only. */
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--balloon", NULL), 0);
	ck_assert_int_eq(o.has_balloon, 1);
	ck_assert(!o.balloon.reporting && !o.balloon.deflate_on_oom &&
		  !o.balloon.stats_interval);
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem-file", "m.img",
				 "--mem", "1G", "--pages", "huge1g", NULL),
			 0);
	ck_assert_int_eq(o.policy.backing, REGION_BACKING_FILE);
	ck_assert_str_eq(o.policy.path, "m.img");
}
END_TEST

/* Each bad value: -EINVAL (exit 2) with one line naming the problem. */
START_TEST(cli_bad_values)
{
	static char long_path[PATH_MAX + 8], long_sock[120], long_cmd[4100];
	static const struct {
		const char *a, *b, *c, *d, *needle;
	} bad[] = {
		{"--net", "tap=bad/name", NULL, NULL, "not a valid interface"},
		{"--net", "tap=a b", NULL, NULL, "not a valid interface"},
		{"--net", "tap=..", NULL, NULL, "not a valid interface"},
		{"--net", "tap=abcdefghijklmnop", NULL, NULL, "too long"},
		{"--net", "", NULL, NULL, "--net needs tap=NAME"},
		{"--net", "mac=52:54:00:12:34:56", NULL, NULL, "tap=NAME"},
		{"--net", "tap=", NULL, NULL, "unknown option 'tap='"},
		{"--net", "tap=t0,mac=52:54:00:12:34", NULL, NULL, "bad MAC"},
		{"--net", "tap=t0,mac=52:54:00:12:34:56:78", NULL, NULL,
		 "bad MAC"},
		{"--net", "tap=t0,mac=52-54-00-12-34-56", NULL, NULL,
		 "bad MAC"},
		{"--net", "tap=t0,mac=zz:54:00:12:34:56", NULL, NULL,
		 "bad MAC"},
		{"--net", "tap=t0,mac=", NULL, NULL, "bad MAC"},
		{"--net", "tap=t0,mac=01:00:5e:00:00:01", NULL, NULL,
		 "multicast"},
		{"--net", "tap=t0,mac=00:00:00:00:00:00", NULL, NULL,
		 "not usable"},
		{"--net", "tap=t0,speed=10", NULL, NULL, "unknown option"},
		{"--net", "tap=t0", "--net", "tap=t1", "--net given twice"},
		{"--balloon=report", NULL, NULL, NULL,
		 "--balloon: unknown option 'report'"},
		{"--balloon=stats=", NULL, NULL, NULL, "stats=''"},
		{"--balloon=stats=-1", NULL, NULL, NULL, "stats='-1'"},
		{"--balloon=stats=1x", NULL, NULL, NULL, "stats='1x'"},
		{"--balloon=stats=3601", NULL, NULL, NULL, "stats='3601'"},
		{"--balloon=reporting,,bogus", NULL, NULL, NULL,
		 "unknown option 'bogus'"},
		{"--balloon", "--balloon=reporting", NULL, NULL,
		 "--balloon given twice"},
		{"--disk", "", NULL, NULL, "--disk needs a file name"},
		{"--disk", ",ro", NULL, NULL, "--disk needs a file name"},
		{"--disk", long_path, NULL, NULL, "--disk: path longer"},
		{"--mem", "12X", NULL, NULL, "--mem '12X' is not a size"},
		{"--mem", "0", NULL, NULL, "is not a size"},
		{"--mem", "513M", "--pages", "huge",
		 "--mem 513M is not a multiple of the 2M page size"},
		{"--mem", "1536M", "--pages", "huge1g",
		 "not a multiple of the 1G page size"},
		{"--pages", "giant", NULL, NULL, "unknown page policy 'giant'"},
		{"--pages", "huge,fallback=huge1g", NULL, NULL,
		 "not smaller than"},
		{"--pages", "huge,fallback=thp", "--mem-file", "m",
		 "fallback= cannot be combined with --mem-file"},
		{"--mem-file", "m", "--shared-mem", NULL, "give one"},
		{"--prefault=later", NULL, NULL, NULL, "--prefault=later"},
		{"--prefault-threads", "0", NULL, NULL, "use 1 to 16"},
		{"--prefault-threads", "17", NULL, NULL, "use 1 to 16"},
		{"--cpus", "0", NULL, NULL, "is not a vCPU count"},
		{"--cpus", "65", NULL, NULL, "too many vCPUs"},
		{"--cpus", "x", NULL, NULL, "is not a vCPU count"},
		{"--control-socket", "", NULL, NULL,
		 "--control-socket needs a file name"},
		{"--control-socket", long_sock, NULL, NULL,
		 "--control-socket path is longer than 107 bytes"},
		{"--stats-json", "", NULL, NULL, "--stats-json needs a file"},
		{"--initrd", "", NULL, NULL, "--initrd needs a file name"},
		{"--mem-file", "", NULL, NULL, "--mem-file needs a file name"},
		{"--cmdline", long_cmd, NULL, NULL,
		 "(--cmdline and --cmdline-append) is longer than 4095 bytes"},
		{"--cmdline", long_cmd + 100, "--cmdline-append",
		 long_cmd + 3900,
		 "(--cmdline and --cmdline-append) is longer than 4095 bytes"},
		{"--frobnicate", NULL, NULL, NULL,
		 "unknown option '--frobnicate'"},
		{"--mem", NULL, NULL, NULL, "--mem needs a value"},
		{"stray", NULL, NULL, NULL, "unexpected argument 'stray'"},
	};
	struct cli_opts o;

	memset(long_path, 'p', sizeof(long_path) - 1);
	memset(long_sock, 's', sizeof(long_sock) - 1);
	memset(long_cmd, 'c', sizeof(long_cmd) - 1);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = cli_try(&o, "--kernel", "vmlinux", bad[i].a, bad[i].b,
				  bad[i].c, bad[i].d, NULL);

		ck_assert_msg(ret == -EINVAL, "%s %s accepted (%d)", bad[i].a,
			      bad[i].b ? bad[i].b : "", ret);
		ck_assert_msg(strstr(cli_err, bad[i].needle), "%s: '%s'",
			      bad[i].a, cli_err);
		ck_assert_msg(!strchr(cli_err, '\n'), "%s: two lines",
			      bad[i].a);
	}
	ck_assert_int_eq(cli_try(&o, "--kernel", "", NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "--kernel needs a file name"));
	ck_assert_int_eq(cli_try(&o, "--mem", "1G", NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "no kernel given"));
}
END_TEST

START_TEST(cli_disks)
{
	struct cli_opts o;
	struct cli_disk d;
	char err[256];

	ck_assert_int_eq(cli_parse_disk("a.img", &d, err, sizeof(err)), 0);
	ck_assert_str_eq(d.path, "a.img");
	ck_assert_int_eq(d.ro, 0);
	ck_assert_int_eq(cli_parse_disk("/x/a.img,ro", &d, err, sizeof(err)),
			 0);
	ck_assert_str_eq(d.path, "/x/a.img");
	ck_assert_int_eq(d.ro, 1);
	/* Only a trailing ",ro" is the flag. */
	ck_assert_int_eq(cli_parse_disk("a,ro,b", &d, err, sizeof(err)), 0);
	ck_assert_str_eq(d.path, "a,ro,b");
	ck_assert_int_eq(d.ro, 0);
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--disk", "1", "--disk",
				 "2", "--disk", "3", "--disk", "4", "--disk",
				 "5", "--disk", "6", "--disk", "7", "--disk",
				 "8", NULL),
			 0);
	ck_assert_uint_eq(o.nr_disks, CLI_MAX_DISKS);
	ck_assert_str_eq(o.disks[7].path, "8");
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--disk", "1", "--disk",
				 "2", "--disk", "3", "--disk", "4", "--disk",
				 "5", "--disk", "6", "--disk", "7", "--disk",
				 "8", "--disk", "9", NULL),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "too many --disk options"));
}
END_TEST

/* The value parsers directly (moved here from the device tests). */
START_TEST(cli_net_values)
{
	struct virtio_net_cfg cfg;
	char err[256];

	ck_assert_int_eq(cli_parse_net("tap=tap0", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.tap, "tap0");
	ck_assert_int_eq(cfg.has_mac, 0);
	ck_assert_int_eq(cli_parse_net("tap=mvtest0,mac=52:54:00:AB:cd:0f",
				       &cfg, err, sizeof(err)),
			 0);
	ck_assert_str_eq(cfg.tap, "mvtest0");
	ck_assert_int_eq(cfg.has_mac, 1);
	ck_assert_int_eq(memcmp(cfg.mac, "\x52\x54\x00\xab\xcd\x0f", 6), 0);
	/* Order does not matter; 15 characters is the longest name; the
	 * kernel accepts '!' in a name. */
	ck_assert_int_eq(cli_parse_net("mac=02:00:00:00:00:01,tap="
				       "abcdefghijklmno",
				       &cfg, err, sizeof(err)),
			 0);
	ck_assert_str_eq(cfg.tap, "abcdefghijklmno");
	ck_assert_int_eq(cli_parse_net("tap=x!y", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cli_parse_net(NULL, &cfg, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(cli_balloon_values)
{
	struct virtio_balloon_cfg c;
	char err[256];

	ck_assert_int_eq(cli_parse_balloon("", &c, err, sizeof(err)), 0);
	ck_assert(!c.reporting && !c.deflate_on_oom && !c.stats_interval);
	ck_assert_int_eq(cli_parse_balloon(NULL, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(cli_parse_balloon("reporting,deflate-on-oom,stats=5",
					   &c, err, sizeof(err)),
			 0);
	ck_assert(c.reporting && c.deflate_on_oom);
	ck_assert_uint_eq(c.stats_interval, 5);
	ck_assert_int_eq(cli_parse_balloon("stats=0", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.stats_interval, 0);
	ck_assert_int_eq(cli_parse_balloon("stats=3600", &c, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.stats_interval, 3600);
}
END_TEST

/* The test knobs: the environment, read once by cli_parse, or the hidden
 * options. */
START_TEST(cli_knobs)
{
	struct cli_opts o;

	unsetenv("MICROVM_NO_IOEVENTFD");
	unsetenv("MICROVM_NO_IRQFD");
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--no-ioeventfd", NULL),
			 0);
	ck_assert_int_eq(o.no_ioeventfd, 1);
	ck_assert_int_eq(o.no_irqfd, 0);
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--no-irqfd", NULL), 0);
	ck_assert_int_eq(o.no_ioeventfd, 0);
	ck_assert_int_eq(o.no_irqfd, 1);
	setenv("MICROVM_NO_IOEVENTFD", "1", 1);
	setenv("MICROVM_NO_IRQFD", "1", 1);
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", NULL), 0);
	ck_assert_int_eq(o.no_ioeventfd, 1);
	ck_assert_int_eq(o.no_irqfd, 1);
	unsetenv("MICROVM_NO_IOEVENTFD");
	unsetenv("MICROVM_NO_IRQFD");
}
END_TEST

/* --restore DIR: no --kernel needed; --pages and the run options apply;
 * what the snapshot fixes is a usage error naming the option. */
START_TEST(cli_restore)
{
	struct cli_opts o;

	ck_assert_int_eq(cli_try(&o, "--restore", "/s", NULL), 0);
	ck_assert_str_eq(o.restore, "/s");
	ck_assert_int_eq(o.restore_copy, 0);
	ck_assert_ptr_null(o.kernel);
	ck_assert_int_eq(cli_try(&o, "--restore", "/s", "--restore-mode",
				 "copy", "--pages", "huge", "--control-socket",
				 "/tmp/x.sock", "--verbose", NULL),
			 0);
	ck_assert_int_eq(o.restore_copy, 1);
	ck_assert_int_eq(o.pages_set, 1);
	ck_assert_int_eq(o.policy.pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(cli_try(&o, "--restore", "/s", "--mem", "1G", NULL),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "--mem cannot be combined"));
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--restore", "/s", NULL),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "--kernel cannot be combined"));
	ck_assert_int_eq(cli_try(&o, "--restore", "/s", "--disk", "d", NULL),
			 -EINVAL);
	ck_assert_int_eq(
		cli_try(&o, "--restore", "/s", "--restore-mode", "fast", NULL),
		-EINVAL);
	ck_assert_int_eq(cli_try(&o, "--restore", "", NULL), -EINVAL);
	ck_assert_int_eq(
		cli_try(&o, "--kernel", "k", "--restore-mode", "lazy", NULL),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "needs --restore"));
}
END_TEST

/* `microvm ctl`: requests outside the grammar are usage errors (2), told
 * before any connection. */
START_TEST(cli_ctl_usage)
{
	static const char *const good[][3] = {
		{"ping", NULL, NULL},	  {"balloon", "stats", NULL},
		{"balloon", "set", "64"}, {"balloon", "set", "0"},
		{"mem", "stats", NULL},	  {"mem", "set", "512"},
	};
	static const struct {
		const char *w[4];
		const char *needle;
	} bad[] = {
		{{NULL}, "needs a request"},
		{{"pong"}, "unknown request 'pong'"},
		{{"ping", "x"}, "unknown request 'ping x'"},
		{{"balloon"}, "unknown request 'balloon'"},
		{{"balloon", "stat"}, "unknown request 'balloon stat'"},
		{{"balloon", "stats", "x"}, "unknown request"},
		{{"balloon", "set"}, "balloon set <MiB>"},
		{{"balloon", "set", "x"}, "balloon set <MiB>"},
		{{"balloon", "set", "-1"}, "balloon set <MiB>"},
		{{"balloon", "set", "1M"}, "balloon set <MiB>"},
		{{"balloon", "set", "99999999999999"}, "balloon set <MiB>"},
		{{"balloon", "set", "1", "2"}, "balloon set <MiB>"},
		{{"mem"}, "unknown request 'mem'"},
		{{"mem", "stat"}, "unknown request 'mem stat'"},
		{{"mem", "stats", "x"}, "unknown request"},
		{{"mem", "set"}, "mem set <MiB>"},
		{{"mem", "set", "1G"}, "mem set <MiB>"},
		{{"mem", "set", "-2"}, "mem set <MiB>"},
		{{"mem", "set", "1", "2"}, "mem set <MiB>"},
	};
	char err[256], *w[4];
	char *ping[] = {(char *)(uintptr_t) "ping"};

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int n = 0;

		while (n < 3 && good[i][n]) {
			w[n] = (char *)(uintptr_t)good[i][n];
			n++;
		}
		ck_assert_msg(control_request_check(n, w, err, sizeof(err)) ==
				      0,
			      "%s: %s", good[i][0], err);
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = 0;

		while (n < 4 && bad[i].w[n]) {
			w[n] = (char *)(uintptr_t)bad[i].w[n];
			n++;
		}
		err[0] = '\0';
		ck_assert_int_eq(control_request_check(n, w, err, sizeof(err)),
				 -EINVAL);
		ck_assert_msg(strstr(err, bad[i].needle), "%u: '%s'", i, err);
		ck_assert_ptr_null(strchr(err, '\n'));
	}
	/* The client: 2 for a missing or bad socket path and for a bad
	 * request, before connecting (nothing listens on this path, so a
	 * connection attempt would give 1). */
	ck_assert_int_eq(control_client(NULL, 1, ping), 2);
	ck_assert_int_eq(control_client("", 1, ping), 2);
	ck_assert_int_eq(control_client("/nonexistent/microvm.sock", 0, ping),
			 2);
	w[0] = (char *)(uintptr_t) "pong";
	ck_assert_int_eq(control_client("/nonexistent/microvm.sock", 1, w), 2);
	ck_assert_int_eq(control_client("/nonexistent/microvm.sock", 1, ping),
			 1);
}
END_TEST

/* --mem-hotplug: typed values, defaults, and every bad value. */
START_TEST(cli_hotplug_values)
{
	struct cli_opts o;
	static const struct {
		const char *v, *needle;
	} bad[] = {
		{"", "needs at least size=MAX"},
		{"pages=huge", "has no size"},
		{"size=", "size= needs a value"},
		{"size=0", "size='0' is not a size"},
		{"size=12X", "size='12X' is not a size"},
		{"size=1G,size=2G", "size= given twice"},
		{"size=1G,colour=red", "unknown option 'colour=red'"},
		{"size=1G,prefault=on", "unknown option 'prefault=on'"},
		{"size=1G,pages=giant", "pages=giant: use base, thp, huge or "
					"huge1g"},
		{"size=100M", "size=100M is not a multiple of 128M"},
		{"size=1536M,pages=huge1g", "not a multiple of 1G"},
		{"size=1G,plugged=3M", "plugged=3M must be a multiple of the "
				       "2M block"},
		{"size=2G,pages=huge1g,plugged=512M", "multiple of the 1G "
						      "block"},
		{"size=1G,plugged=2G", "at most size=1G"},
		{"size=1G,plugged=x", "plugged='x' is not a size"},
		{"size=1G,host-node=1024", "host-node=1024 is not a NUMA"},
		{"size=1G,host-node=-1", "host-node=-1 is not a NUMA"},
		{"size=1G,id=a/b", "id=a/b: use 1 to"},
		{"size=1G,id=", "id= needs a value"},
	};

	ck_assert_int_eq(
		cli_try(&o, "--kernel", "k", "--mem-hotplug", "size=4G", NULL),
		0);
	ck_assert_int_eq(o.has_hotplug, 1);
	ck_assert_uint_eq(o.hotplug.size, 4ULL << 30);
	ck_assert_int_eq(o.hotplug.pages, REGION_PAGES_BASE);
	ck_assert_uint_eq(o.hotplug.plugged, 0);
	ck_assert_int_eq(o.hotplug.host_node, -1);
	ck_assert_str_eq(o.hotplug.id, "hotplug");
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem-hotplug",
				 "id=hp-1,plugged=256M,host-node=3,pages=huge,"
				 "size=384M",
				 NULL),
			 0);
	ck_assert_uint_eq(o.hotplug.size, 384ULL << 20);
	ck_assert_int_eq(o.hotplug.pages, REGION_PAGES_HUGE);
	ck_assert_uint_eq(o.hotplug.plugged, 256ULL << 20);
	ck_assert_int_eq(o.hotplug.host_node, 3);
	ck_assert_str_eq(o.hotplug.id, "hp-1");
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem-hotplug",
				 "size=2G,pages=huge1g,plugged=1G", NULL),
			 0);
	ck_assert_uint_eq(o.hotplug.plugged, 1ULL << 30);
	ck_assert_uint_eq(cli_hotplug_align(REGION_PAGES_THP), 128ULL << 20);
	ck_assert_uint_eq(cli_hotplug_align(REGION_PAGES_HUGE1G), 1ULL << 30);
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", NULL), 0);
	ck_assert_int_eq(o.has_hotplug, 0);
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem-hotplug",
				 "size=1G", "--mem-hotplug", "size=1G", NULL),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(cli_err, "--mem-hotplug given twice"));
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem-hotplug",
					 bad[i].v, NULL),
				 -EINVAL);
		ck_assert_msg(strstr(cli_err, bad[i].needle), "%u '%s': '%s'",
			      i, bad[i].v, cli_err);
		ck_assert_ptr_null(strchr(cli_err, '\n'));
	}
}
END_TEST

/* --mem-zone: every key typed; defaults; the shorthand is one zone. */
START_TEST(cli_zones_typed)
{
	struct cli_opts o;
	const struct memmap_zone *z;

	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem", "1G", "--pages",
				 "huge,fallback=thp", "--prefault", NULL),
			 0);
	ck_assert_uint_eq(o.nr_zones, 1);
	ck_assert_uint_eq(o.zones[0].size, 1ULL << 30);
	ck_assert_int_eq(o.zones[0].policy.pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(o.zones[0].policy.has_fallback, 1);
	ck_assert_int_eq(o.zones[0].prefault, MEMMAP_PREFAULT_ON);
	ck_assert_ptr_null(o.zones[0].policy.origin);
	ck_assert_int_eq(o.zones[0].host_node, -1);

	ck_assert_int_eq(
		cli_try(&o, "--kernel", "k", "--mem-zone",
			"size=2G,pages=huge1g,prefault=on,id=fast,lock=on",
			"--mem-zone",
			"id=lazy,size=512M,shared=on,prefault=background,"
			"host-node=0,lock=onfault",
			"--mem-zone",
			"size=64M,file=/tmp/z.img,pages=base,id=f-1",
			"--mem-zone", "size=8M,pages=huge,fallback=base",
			"--prefault-threads", "2", NULL),
		0);
	ck_assert_uint_eq(o.nr_zones, 4);
	ck_assert_uint_eq(o.mem_size, (2ULL << 30) + (512ULL << 20) +
					      (64ULL << 20) + (8ULL << 20));
	ck_assert_uint_eq(o.prefault_threads, 2);
	z = &o.zones[0];
	ck_assert_str_eq(z->id, "fast");
	ck_assert_uint_eq(z->size, 2ULL << 30);
	ck_assert_int_eq(z->policy.pages, REGION_PAGES_HUGE1G);
	ck_assert_int_eq(z->policy.has_fallback, 0);
	ck_assert_int_eq(z->policy.backing, REGION_BACKING_ANON);
	ck_assert_int_eq(z->prefault, MEMMAP_PREFAULT_ON);
	ck_assert_int_eq(z->lock, MEMMAP_LOCK_ON);
	ck_assert_int_eq(z->host_node, -1);
	ck_assert_str_eq(z->policy.origin, "--mem-zone id=fast");
	z = &o.zones[1];
	ck_assert_str_eq(z->id, "lazy");
	ck_assert_int_eq(z->policy.pages, REGION_PAGES_BASE);
	ck_assert_int_eq(z->policy.backing, REGION_BACKING_SHARED);
	ck_assert_int_eq(z->prefault, MEMMAP_PREFAULT_BACKGROUND);
	ck_assert_int_eq(z->host_node, 0);
	ck_assert_int_eq(z->lock, MEMMAP_LOCK_ONFAULT);
	z = &o.zones[2];
	ck_assert_str_eq(z->id, "f-1");
	ck_assert_int_eq(z->policy.backing, REGION_BACKING_FILE);
	ck_assert_str_eq(z->policy.path, "/tmp/z.img");
	ck_assert_int_eq(z->prefault, MEMMAP_PREFAULT_NONE);
	ck_assert_int_eq(z->lock, MEMMAP_LOCK_NONE);
	z = &o.zones[3];
	ck_assert_str_eq(z->id, "zone3"); /* the default id: its index */
	ck_assert_int_eq(z->policy.pages, REGION_PAGES_HUGE);
	ck_assert_int_eq(z->policy.has_fallback, 1);
	ck_assert_int_eq(z->policy.fallback, REGION_PAGES_BASE);
	ck_assert_ptr_null(z->policy.path);

	/* A hugetlb zone may be locked under a balloon: nothing is locked. */
	ck_assert_int_eq(cli_try(&o, "--kernel", "k", "--mem-zone",
				 "size=64M,pages=huge,lock=on", "--balloon",
				 NULL),
			 0);
}
END_TEST

/* Every bad --mem-zone value and combination: -EINVAL, one clear line. */
START_TEST(cli_zones_bad)
{
	static char long_path[PATH_MAX + 16] = "size=4M,file=";
	static const struct {
		const char *a, *b, *c, *d, *needle;
	} bad[] = {
		{"--mem-zone", "", NULL, NULL, "needs at least size="},
		{"--mem-zone", "pages=huge", NULL, NULL, "has no size"},
		{"--mem-zone", "size=", NULL, NULL, "size= needs a value"},
		{"--mem-zone", "size=12X", NULL, NULL,
		 "size='12X' is not a size"},
		{"--mem-zone", "size=0", NULL, NULL, "is not a size"},
		{"--mem-zone", "size=1G,size=2G", NULL, NULL,
		 "size= given twice"},
		{"--mem-zone", "size=1G,colour=red", NULL, NULL,
		 "unknown option 'colour=red'"},
		{"--mem-zone", "size=1G,shared", NULL, NULL,
		 "unknown option 'shared'"},
		{"--mem-zone", "size=1G,pages=giant", NULL, NULL,
		 "pages=giant: use base, thp, huge or huge1g"},
		{"--mem-zone", "size=1G,pages=huge,pages=thp", NULL, NULL,
		 "pages= given twice"},
		{"--mem-zone", "size=513M,pages=huge", NULL, NULL,
		 "size=513M is not a multiple of the 2M page size of "
		 "pages=huge"},
		{"--mem-zone", "size=1536M,pages=huge1g", NULL, NULL,
		 "not a multiple of the 1G page size"},
		{"--mem-zone", "size=3M,pages=thp", NULL, NULL,
		 "not a multiple of the 2M page size of pages=thp"},
		{"--mem-zone", "size=1G,fallback=base", NULL, NULL,
		 "fallback= only applies to pages=huge or huge1g"},
		{"--mem-zone", "size=1G,pages=huge,fallback=huge", NULL, NULL,
		 "not smaller than pages=huge"},
		{"--mem-zone", "size=1G,pages=huge,fallback=huge1g", NULL, NULL,
		 "fallback=huge1g: use base, thp or huge"},
		{"--mem-zone", "size=1G,pages=huge,fallback=thp,file=/m", NULL,
		 NULL, "fallback= cannot be combined with file="},
		{"--mem-zone", "size=1G,prefault=off", NULL, NULL,
		 "prefault=off: use on or background"},
		{"--mem-zone", "size=1G,shared=off", NULL, NULL,
		 "the only value is shared=on"},
		{"--mem-zone", "size=1G,shared=on,file=/m", NULL, NULL,
		 "shared=on and file= both choose the backing"},
		{"--mem-zone", "size=1G,file=", NULL, NULL,
		 "file= needs a value"},
		{"--mem-zone", long_path, NULL, NULL, "file= path longer"},
		{"--mem-zone", "size=1G,host-node=x", NULL, NULL,
		 "host-node=x is not a NUMA node number"},
		{"--mem-zone", "size=1G,host-node=-1", NULL, NULL,
		 "host-node=-1 is not a NUMA node number"},
		{"--mem-zone", "size=1G,host-node=1024", NULL, NULL,
		 "host-node=1024 is not a NUMA node number"},
		{"--mem-zone", "size=1G,lock=yes", NULL, NULL,
		 "lock=yes: use on or onfault"},
		{"--mem-zone", "size=1G,id=a b", NULL, NULL,
		 "id=a b: use 1 to 31 letters"},
		{"--mem-zone", "size=1G,id=abcdefghijabcdefghijabcdefghijab",
		 NULL, NULL, "use 1 to 31 letters"},
		{"--mem-zone", "size=1G,id=a", "--mem-zone", "size=1G,id=a",
		 "--mem-zone id=a given twice"},
		{"--mem-zone", "size=1G,file=/m", "--mem-zone",
		 "size=1G,file=/m", "is already zone zone0's memory file"},
		{"--mem-zone", "size=1G", "--mem", "1G",
		 "--mem-zone describes all guest RAM: drop --mem"},
		{"--pages", "thp", "--mem-zone", "size=1G", "drop --pages"},
		{"--mem-zone", "size=1G", "--prefault", NULL,
		 "drop --prefault"},
		{"--mem-zone", "size=1G", "--mem-file", "m", "drop --mem-file"},
		{"--shared-mem", "--mem-zone", "size=1G", NULL,
		 "drop --shared-mem"},
		{"--mem-zone", "size=64M,lock=on", "--balloon", NULL,
		 "lock= and --balloon contradict"},
		{"--balloon=reporting", "--mem-zone", "size=64M,lock=onfault",
		 NULL, "lock= and --balloon contradict"},
		{"--balloon", "--mem-zone",
		 "size=64M,pages=huge,fallback=base,lock=on", NULL,
		 "lock= and --balloon contradict"},
	};
	struct cli_opts o;

	memset(long_path + strlen(long_path), 'p', PATH_MAX);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = cli_try(&o, "--kernel", "vmlinux", bad[i].a, bad[i].b,
				  bad[i].c, bad[i].d, NULL);

		ck_assert_msg(ret == -EINVAL, "%s %s accepted (%d)", bad[i].a,
			      bad[i].b ? bad[i].b : "", ret);
		ck_assert_msg(strstr(cli_err, bad[i].needle), "%s %s: '%s'",
			      bad[i].a, bad[i].b ? bad[i].b : "", cli_err);
		ck_assert_msg(!strchr(cli_err, '\n'), "two lines: %s", cli_err);
	}
	/* At most MEMMAP_MAX_ZONES zones. */
	{
		char *argv[2 + 2 * (MEMMAP_MAX_ZONES + 1) + 1];
		char ids[MEMMAP_MAX_ZONES + 1][32];
		int n = 0;

		argv[n++] = (char *)(uintptr_t) "microvm";
		argv[n++] = (char *)(uintptr_t) "--kernel=k";
		for (int i = 0; i <= MEMMAP_MAX_ZONES; i++) {
			snprintf(ids[i], sizeof(ids[i]), "size=2M,id=z%d", i);
			argv[n++] = (char *)(uintptr_t) "--mem-zone";
			argv[n++] = ids[i];
		}
		argv[n] = NULL;
		ck_assert_int_eq(
			cli_parse(n, argv, &o, cli_err, sizeof(cli_err)),
			-EINVAL);
		ck_assert_msg(strstr(cli_err, "too many --mem-zone options"),
			      "%s", cli_err);
		ck_assert_int_eq(
			cli_parse(n - 2, argv, &o, cli_err, sizeof(cli_err)),
			0);
		ck_assert_uint_eq(o.nr_zones, MEMMAP_MAX_ZONES);
	}
}
END_TEST

Suite *cli_suite(void);
Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, cli_defaults);
	tcase_add_test(tc, cli_typed);
	tcase_add_test(tc, cli_bad_values);
	tcase_add_test(tc, cli_disks);
	tcase_add_test(tc, cli_net_values);
	tcase_add_test(tc, cli_balloon_values);
	tcase_add_test(tc, cli_knobs);
	tcase_add_test(tc, cli_restore);
	tcase_add_test(tc, cli_ctl_usage);
	tcase_add_test(tc, cli_zones_typed);
	tcase_add_test(tc, cli_zones_bad);
	tcase_add_test(tc, cli_hotplug_values);
	suite_add_tcase(s, tc);
	return s;
}
