/* The control channel: request parsing and replies, the socket server
 * (several clients, partial lines, overlong lines) and the ctl client. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/harness/harness.h"
#include "tests/unit/vtest.h"
#include "vmm/control.h"

static struct virtio_balloon bl;
static struct guest_mem *gm;
static struct control ctl;
static char path[108];

static void setup(void)
{
	struct virtio_balloon_cfg cfg = {.reporting = 1};
	struct irq_line irq;

	gm = vtest_ram(); /* 1 MiB of guest RAM */
	ck_assert_int_eq(virtio_balloon_init(&bl, &cfg), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&bl.mmio, gm, 0xc0003000, &irq), 0);
	control_init(&ctl, gm, &bl);
	snprintf(path, sizeof(path), "/tmp/microvm-ctl-test.%d.sock",
		 (int)getpid());
	unlink(path);
}

static void teardown(void)
{
	control_close(&ctl);
	virtio_balloon_close(&bl);
	vtest_ram_free();
	unlink(path);
}

static int handle(const char *line, char *reply)
{
	int ok = control_handle(&ctl, line, reply, CONTROL_REPLY_MAX);

	/* Every reply is one line, a JSON object. */
	ck_assert_ptr_nonnull(strchr(reply, '\n'));
	ck_assert_ptr_eq(strchr(reply, '\n'), reply + strlen(reply) - 1);
	ck_assert_int_eq(reply[0], '{');
	return ok;
}

START_TEST(ctl_requests)
{
	char r[CONTROL_REPLY_MAX];

	ck_assert_int_eq(handle("ping", r), 1);
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	/* Words split on spaces and tabs; a CR before the newline is
	 * ignored. 1 MiB is all of the test's RAM: allowed. */
	ck_assert_int_eq(handle("  balloon\tset 1\r", r), 1);
	ck_assert_int_eq(handle("balloon set 0", r), 1);
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	ck_assert_int_eq(handle("balloon set 2", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "more than the guest's RAM (1 MiB)"));

	ck_assert_int_eq(handle("balloon stats", r), 1);
	ck_assert_ptr_nonnull(strstr(r, "\"target_mib\":0,"));
	ck_assert_ptr_nonnull(strstr(r, "\"returned_2m\":0,"));
	ck_assert_ptr_nonnull(strstr(r, "\"unfreed_reports\":0,"));
	ck_assert_ptr_nonnull(strstr(r, "\"guest\":{}}"));

	/* Malformed requests: error replies naming the fix. */
	ck_assert_int_eq(handle("", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "empty request"));
	ck_assert_int_eq(handle("balloon set", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "usage: balloon set <MiB>"));
	ck_assert_int_eq(handle("balloon set -5", r), 0);
	ck_assert_int_eq(handle("balloon set 12abc", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "'12abc' is not a whole number"));
	ck_assert_int_eq(handle("balloon set 99999999999999999999999", r), 0);
	ck_assert_int_eq(handle("balloon set 1 2", r), 0);
	ck_assert_int_eq(handle("balloon", r), 0);
	ck_assert_int_eq(handle("balloon inflate", r), 0);
	ck_assert_int_eq(handle("a b c d e f g h i j", r), 0);
	ck_assert_int_eq(handle("re\"bo\\ot now", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "unknown request 're\\\"bo\\\\ot'"));
	ck_assert_int_eq(handle("\x01\x7f", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "\\u0001\\u007f"));
}
END_TEST

START_TEST(ctl_target_reaches_device)
{
	struct control big;
	char r[CONTROL_REPLY_MAX];
	struct virtio_balloon_info in;

	/* 1 MiB of RAM: setting 1 MiB is the limit and reaches config. */
	ck_assert_int_eq(handle("balloon set 1", r), 1);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG), 256);
	virtio_balloon_get(&bl, &in);
	ck_assert_uint_eq(in.target_bytes, 1 << 20);
	ck_assert_int_eq(handle("balloon stats", r), 1);
	ck_assert_ptr_nonnull(strstr(r, "\"target_mib\":1,"));
	/* The backing per memory zone: the test RAM's one region, 1 MiB at
	 * 1 MiB (its zone has no id), not bound, nothing resident. */
	ck_assert_msg(strstr(r, "\"zones\":[{\"id\":\"\",\"ranges\":[{\"gpa\":"
				"1048576,\"size\":1048576}],\"bytes\":1048576,"
				"\"pages\":\"base\",\"host_node\":null,"
				"\"locked_bytes\":0,\"bytes_4k\":0,"),
		      "%s", r);
	/* Without a balloon: an error that says how to get one. */
	control_init(&big, gm, NULL);
	ck_assert_int_eq(control_handle(&big, "balloon stats", r, sizeof(r)),
			 0);
	ck_assert_ptr_nonnull(strstr(r, "start the VM with --balloon"));
}
END_TEST

/* mem set / mem stats reach the virtio-mem device; errors name the fix;
 * without --mem-hotplug they say how to get one. */
START_TEST(ctl_mem)
{
	struct virtio_mem vm;
	struct virtio_mem_cfg cfg;
	struct irq_line irq;
	char r[CONTROL_REPLY_MAX];
	uint32_t gen;

	ck_assert_int_eq(handle("mem stats", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "start the VM with --mem-hotplug"));
	ck_assert_int_eq(virtio_mem_layout(4ULL << 30, 1ULL << 30,
					   REGION_PAGES_HUGE, &cfg.lay),
			 0);
	cfg.requested = 128ULL << 20;
	cfg.node_id = 0;
	ck_assert_int_eq(virtio_mem_init(&vm, &cfg), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&vm.mmio, gm, 0xc0004000, &irq), 0);
	control_set_mem(&ctl, &vm);

	ck_assert_int_eq(handle("mem stats", r), 1);
	ck_assert_msg(strstr(r, "{\"ok\":true,\"requested_mib\":128,"
				"\"plugged_mib\":0,\"driver_ok\":false,"
				"\"region_addr\":4294967296,\"region_mib\":"
				"1024,\"usable_mib\":1024,\"block_bytes\":"
				"2097152,"),
		      "%s", r);
	ck_assert_ptr_nonnull(strstr(r, "\"busy\":0,\"busy_pool\":0,"));
	ck_assert_ptr_nonnull(strstr(r, "\"returned_2m\":0,"));
	gen = vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION);
	ck_assert_int_eq(handle("mem set 512", r), 1);
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	ck_assert_uint_ne(vtest_rd(&vm.mmio, VIRTIO_MMIO_REG_CONFIG_GENERATION),
			  gen);
	ck_assert_int_eq(handle("mem stats", r), 1);
	ck_assert_ptr_nonnull(strstr(r, "\"requested_mib\":512,"));
	ck_assert_int_eq(handle("mem set 0", r), 1);
	ck_assert_int_eq(handle("mem set 3", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "not a multiple of the 2 MiB block"));
	ck_assert_int_eq(handle("mem set 1026", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "more than the hotplug region (1024"));
	ck_assert_int_eq(handle("mem set", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "usage: mem set <MiB>"));
	ck_assert_int_eq(handle("mem set 12x", r), 0);
	ck_assert_int_eq(handle("mem set 99999999999999999999999", r), 0);
	ck_assert_int_eq(handle("mem plug", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "unknown mem request"));
	ck_assert_int_eq(handle("mem stats", r), 1);
	ck_assert_ptr_nonnull(strstr(r, "\"requested_mib\":0,"));
	control_set_mem(&ctl, NULL);
	virtio_mem_close(&vm);
}
END_TEST

static int connect_to(const char *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Serve until `want` bytes ending in '\n' are readable on fd. */
static void pump_read(int fd, char *buf, size_t size)
{
	size_t got = 0;

	for (int tries = 0; tries < 200; tries++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		control_process(&ctl);
		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recv(fd, buf + got, size - 1 - got, MSG_DONTWAIT);
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
		buf[got] = '\0';
		if (strchr(buf, '\n'))
			return;
	}
	buf[got] = '\0';
}

START_TEST(ctl_socket)
{
	char err[256], r[CONTROL_REPLY_MAX], big[600];
	struct control dup;
	int a, b;

	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	/* The path is taken now: a second VM gets a one-line error. */
	ck_assert_int_eq(control_open(&dup, path, gm, &bl, err, sizeof(err)),
			 -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "a VM is serving it: remove it"));

	a = connect_to(path);
	b = connect_to(path);
	/* A request split over two writes; two in one write. */
	ck_assert_int_eq(send(a, "pi", 2, 0), 2);
	control_process(&ctl);
	ck_assert_int_eq(send(b, "balloon set 1\nping\n", 19, 0), 19);
	ck_assert_int_eq(send(a, "ng\n", 3, 0), 3);
	pump_read(a, r, sizeof(r));
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	pump_read(b, r, sizeof(r));
	ck_assert_str_eq(r, "{\"ok\":true}\n{\"ok\":true}\n");
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG), 256);

	/* An overlong line: error reply, connection closed. */
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(send(a, big, sizeof(big), 0), (ssize_t)sizeof(big));
	pump_read(a, r, sizeof(r));
	ck_assert_ptr_nonnull(strstr(r, "request longer than 255 bytes"));
	pump_read(a, r, sizeof(r));
	ck_assert_str_eq(r, ""); /* EOF */
	close(a);
	/* The other connection is still served. */
	ck_assert_int_eq(send(b, "balloon stats\n", 14, 0), 14);
	pump_read(b, r, sizeof(r));
	ck_assert_ptr_nonnull(strstr(r, "\"target_mib\":1,"));
	close(b);
	control_close(&ctl);
	ck_assert_int_ne(access(path, F_OK), 0); /* socket file removed */

	/* A stale socket (its VMM died) is replaced; a plain file is not. */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
		close(s);
	}
	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	control_close(&ctl);
	ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
}
END_TEST

/* An exiting VM must not remove a newer VM's socket at the same path
 * (ours was removed, and the path reused). */
START_TEST(ctl_close_leaves_a_newer_socket)
{
	char err[256], r[CONTROL_REPLY_MAX];
	struct control newer;
	int fd;

	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(control_open(&newer, path, gm, &bl, err, sizeof(err)),
			 0);
	control_close(&ctl);
	ck_assert_int_eq(access(path, F_OK), 0);
	/* The newer VM still serves it. */
	fd = connect_to(path);
	ck_assert_int_eq(send(fd, "ping\n", 5, 0), 5);
	for (int i = 0; i < 200 && !strchr(r, '\n'); i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		r[0] = '\0';
		control_process(&newer);
		if (poll(&p, 1, 10) > 0 &&
		    (n = recv(fd, r, sizeof(r) - 1, MSG_DONTWAIT)) > 0)
			r[n] = '\0';
	}
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	close(fd);
	control_close(&newer);
	ck_assert_int_ne(access(path, F_OK), 0); /* its own: removed */
}
END_TEST

/* Eight clients that connect and never send must not lock a ninth out:
 * it gets its reply, and the one idle longest is told why it is closed. */
START_TEST(ctl_idle_clients_do_not_lock_out)
{
	char err[256], r[CONTROL_REPLY_MAX];
	int idle[CONTROL_MAX_CLIENTS + 2], fd;

	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS + 2; i++) {
		idle[i] = connect_to(path);
		control_process(&ctl);
	}
	fd = connect_to(path);
	ck_assert_int_eq(send(fd, "ping\n", 5, 0), 5);
	pump_read(fd, r, sizeof(r));
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	/* The first idle one lost its slot with an error line, then EOF. */
	pump_read(idle[0], r, sizeof(r));
	ck_assert_ptr_nonnull(strstr(r, "closing this idle connection"));
	pump_read(idle[0], r, sizeof(r));
	ck_assert_str_eq(r, "");
	/* A client that does talk keeps being served. */
	ck_assert_int_eq(send(fd, "ping\n", 5, 0), 5);
	pump_read(fd, r, sizeof(r));
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS + 2; i++)
		close(idle[i]);
	close(fd);
}
END_TEST

/* Out of file descriptors, a connection that cannot be accepted yet must
 * not make the socket's fd poll readable again and again (the event loop
 * would spin); once fds are back, it is served. */
START_TEST(ctl_accept_out_of_fds_does_not_spin)
{
	char err[256], r[CONTROL_REPLY_MAX];
	struct pollfd p = {.events = POLLIN};
	struct rlimit old, low;
	int a, b, spare;

	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	p.fd = control_fd(&ctl);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	a = connect_to(path);
	/* Every descriptor from the next one on is over the limit. */
	spare = dup(0);
	ck_assert_int_ge(spare, 0);
	close(spare);
	low = old;
	low.rlim_cur = (rlim_t)spare;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	control_process(&ctl); /* accept fails with EMFILE */
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	control_process(&ctl);
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* The next connection drains both. */
	b = connect_to(path);
	ck_assert_int_eq(send(a, "ping\n", 5, 0), 5);
	pump_read(a, r, sizeof(r));
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	ck_assert_int_eq(send(b, "ping\n", 5, 0), 5);
	pump_read(b, r, sizeof(r));
	ck_assert_str_eq(r, "{\"ok\":true}\n");
	close(a);
	close(b);
}
END_TEST

/* A connection that says nothing for idle_ms is closed with a reason. */
START_TEST(ctl_idle_timeout)
{
	char err[256], r[CONTROL_REPLY_MAX];
	int a, b;

	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(ctl.idle_ms, CONTROL_IDLE_MS);
	ctl.idle_ms = 200;
	a = connect_to(path);
	b = connect_to(path);
	control_process(&ctl);
	/* b keeps talking, a does not. */
	for (int i = 0; i < 4; i++) {
		usleep(100 * 1000);
		ck_assert_int_eq(send(b, "ping\n", 5, 0), 5);
		pump_read(b, r, sizeof(r));
		ck_assert_str_eq(r, "{\"ok\":true}\n");
	}
	/* The timer made the control fd readable: a was told, then closed. */
	pump_read(a, r, sizeof(r));
	ck_assert_ptr_nonnull(strstr(r, "idle for 200 ms: closing"));
	pump_read(a, r, sizeof(r));
	ck_assert_str_eq(r, "");
	close(a);
	close(b);
}
END_TEST

static volatile int serve_stop;

static void *serve(void *arg)
{
	(void)arg;
	while (!serve_stop) {
		struct pollfd p = {.fd = control_fd(&ctl), .events = POLLIN};

		if (poll(&p, 1, 10) > 0)
			control_process(&ctl);
	}
	return NULL;
}

START_TEST(ctl_client)
{
	char err[256];
	static char w0[] = "balloon", w1[] = "set", w2[] = "1", wx[] = "x";
	char *set[] = {w0, w1, w2};
	char *bad[] = {w0, w1, wx};
	pthread_t t;

	ck_assert_int_eq(control_open(&ctl, path, gm, &bl, err, sizeof(err)),
			 0);
	serve_stop = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, serve, NULL), 0);
	ck_assert_int_eq(control_client(path, 3, set), 0);
	/* Usage errors: 2, and nothing is sent (the target stays 1 MiB). */
	ck_assert_int_eq(control_client(path, 3, bad), 2);
	ck_assert_int_eq(control_client(path, 0, set), 2);
	ck_assert_int_eq(control_client(NULL, 3, set), 2);
	serve_stop = 1;
	pthread_join(t, NULL);
	ck_assert_uint_eq(vtest_rd(&bl.mmio, VIRTIO_MMIO_REG_CONFIG), 256);
	/* Nobody listening: a clear error, status 1. */
	control_close(&ctl);
	ck_assert_int_eq(control_client(path, 3, set), 1);
}
END_TEST

/* A fake VM for pause, resume and snapshot. */
static int fake_paused, fake_fail;
static char fake_dir[256];

static int fake_pause(void *opaque, char *err, size_t errlen)
{
	(void)opaque;
	if (fake_fail) {
		snprintf(err, errlen, "a vCPU did not stop");
		return -ETIMEDOUT;
	}
	fake_paused = 1;
	return 0;
}

static int fake_resume(void *opaque, char *err, size_t errlen)
{
	(void)opaque;
	(void)err;
	(void)errlen;
	fake_paused = 0;
	return 0;
}

static int fake_snapshot(void *opaque, const char *dir,
			 struct control_snapshot_result *r, char *err,
			 size_t errlen)
{
	(void)opaque;
	if (fake_fail) {
		snprintf(err, errlen,
			 "snapshot directory %s exists and is "
			 "not empty",
			 dir);
		return -EEXIST;
	}
	snprintf(fake_dir, sizeof(fake_dir), "%s", dir);
	r->state_bytes = 8728;
	r->memory_bytes = 1 << 20;
	r->paused_ns = 2500000;
	r->total_ns = 3000000;
	return 0;
}

static const struct control_vm_ops fake_ops = {
	.pause = fake_pause,
	.resume = fake_resume,
	.snapshot = fake_snapshot,
};

START_TEST(ctl_pause_resume_snapshot)
{
	char r[CONTROL_REPLY_MAX], err[256];
	static char w0[] = "snapshot", w1[] = "a/b", w2[] = "c";
	char *snap[] = {w0, w1, w2};

	/* Without a VM behind it: an error, not a crash. */
	ck_assert_int_eq(handle("pause", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "cannot be paused"));
	control_set_vm(&ctl, &fake_ops, NULL);
	fake_paused = fake_fail = 0;
	ck_assert_int_eq(handle("pause", r), 1);
	ck_assert_str_eq(r, "{\"ok\":true,\"paused\":true}\n");
	ck_assert_int_eq(fake_paused, 1);
	ck_assert_int_eq(handle("resume", r), 1);
	ck_assert_str_eq(r, "{\"ok\":true,\"paused\":false}\n");
	ck_assert_int_eq(fake_paused, 0);
	ck_assert_int_eq(handle("pause now", r), 0);
	ck_assert_int_eq(handle("snapshot", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "usage: snapshot <DIR>"));
	ck_assert_int_eq(handle("snapshot relative/dir", r), 0);
	ck_assert_int_eq(handle("snapshot /tmp/x\"y", r), 0);
	ck_assert_int_eq(handle("snapshot /tmp/snap", r), 1);
	ck_assert_str_eq(fake_dir, "/tmp/snap");
	ck_assert_str_eq(r, "{\"ok\":true,\"dir\":\"/tmp/snap\","
			    "\"state_bytes\":8728,\"memory_bytes\":1048576,"
			    "\"paused_ms\":2.500,\"total_ms\":3.000}\n");
	fake_fail = 1;
	ck_assert_int_eq(handle("snapshot /tmp/snap", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "snapshot: snapshot directory"));
	ck_assert_int_eq(handle("pause", r), 0);
	ck_assert_ptr_nonnull(strstr(r, "pause: a vCPU did not stop"));
	/* The client's grammar: snapshot takes exactly one DIR. */
	ck_assert_int_eq(control_request_check(2, snap, err, sizeof(err)), 0);
	ck_assert_int_ne(control_request_check(1, snap, err, sizeof(err)), 0);
	ck_assert_int_ne(control_request_check(3, snap, err, sizeof(err)), 0);
}
END_TEST

Suite *control_suite(void);
Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("protocol");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ctl_requests);
	tcase_add_test(tc, ctl_target_reaches_device);
	tcase_add_test(tc, ctl_mem);
	tcase_add_test(tc, ctl_socket);
	tcase_add_test(tc, ctl_client);
	tcase_add_test(tc, ctl_pause_resume_snapshot);
	tcase_add_test(tc, ctl_close_leaves_a_newer_socket);
	tcase_add_test(tc, ctl_idle_clients_do_not_lock_out);
	tcase_add_test(tc, ctl_accept_out_of_fds_does_not_spin);
	tcase_add_test(tc, ctl_idle_timeout);
	suite_add_tcase(s, tc);
	return s;
}
