#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/file.h"
#include "lib/log.h"
#include "mem/report.h"

#define CONTROL_MAX_WORDS      8
#define CONTROL_CLIENT_WAIT_MS 5000
/* A snapshot writes all guest memory: give it time. */
#define CONTROL_SNAPSHOT_WAIT_MS 300000
#define TAG_LISTEN		 UINT64_MAX
#define TAG_TIMER		 (UINT64_MAX - 1)

/* Append to reply; on overflow the reply stays truncated (callers size
 * the buffer for the longest reply). */
static void control_put(char *reply, size_t len, size_t *at, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));
static void control_put(char *reply, size_t len, size_t *at, const char *fmt,
			...)
{
	va_list ap;
	int n;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(reply + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t)n < len - *at ? (size_t)n : len - *at - 1;
}

/* {"ok":false,"error":"..."} with the message escaped for JSON. */
static int control_error(char *reply, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int control_error(char *reply, size_t len, const char *fmt, ...)
{
	char msg[512];
	size_t at = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_put(reply, len, &at, "{\"ok\":false,\"error\":\"");
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			control_put(reply, len, &at, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			control_put(reply, len, &at, "\\u%04x", *p);
		else
			control_put(reply, len, &at, "%c", *p);
	}
	control_put(reply, len, &at, "\"}\n");
	return 0;
}

static int control_ok(char *reply, size_t len)
{
	snprintf(reply, len, "{\"ok\":true}\n");
	return 1;
}

static int control_balloon_stats(struct control *c, char *reply, size_t len)
{
	struct report_region rep[GUEST_MEM_MAX_REGIONS];
	struct virtio_balloon_info in;
	uint64_t rss4k = 0, rssthp = 0, rsshuge = 0;
	size_t at = 0;
	int first = 1, have_rss = 0;

	virtio_balloon_get(c->balloon, &in);
	/* smaps may be out of reach (seccomp refuses opening files on the
	 * event loop): then the rss fields are null, never a made-up 0. */
	if (c->gm && !report_read(c->gm, rep)) {
		have_rss = 1;
		for (unsigned i = 0; i < c->gm->nr; i++) {
			rss4k += rep[i].bytes_4k;
			rssthp += rep[i].bytes_thp;
			rsshuge += rep[i].bytes_hugetlb;
		}
	}
	control_put(reply, len, &at,
		    "{\"ok\":true,\"target_mib\":%" PRIu64
		    ",\"actual_mib\":%" PRIu64 ",\"driver_ok\":%s",
		    in.target_bytes >> 20, in.actual_bytes >> 20,
		    in.driver_ok ? "true" : "false");
	control_put(
		reply, len, &at,
		",\"reported_bytes\":%" PRIu64 ",\"reports\":%" PRIu64
		",\"unfreed_reports\":%" PRIu64 ",\"unfreed_bytes\":%" PRIu64
		",\"inflated_bytes\":%" PRIu64 ",\"deflated_bytes\":%" PRIu64,
		in.c.reported_bytes, in.c.reports, in.c.unfreed_reports,
		in.c.unfreed_bytes, in.c.inflated_bytes, in.c.deflated_bytes);
	control_put(reply, len, &at,
		    ",\"returned_bytes\":%" PRIu64 ",\"returned_4k\":%" PRIu64
		    ",\"returned_2m\":%" PRIu64 ",\"returned_1g\":%" PRIu64,
		    in.c.returned_bytes, in.c.returned[VIRTIO_BALLOON_PS_4K],
		    in.c.returned[VIRTIO_BALLOON_PS_2M],
		    in.c.returned[VIRTIO_BALLOON_PS_1G]);
	if (have_rss) {
		struct report_zone z[GUEST_MEM_MAX_REGIONS];
		char zones[REPORT_ZONES_JSON_MAX];
		unsigned nz =
			report_zones(c->gm, rep, z, GUEST_MEM_MAX_REGIONS);

		report_zones_json(zones, sizeof(zones), z, nz);
		control_put(reply, len, &at,
			    ",\"rss_bytes\":%" PRIu64 ",\"rss_4k\":%" PRIu64
			    ",\"rss_thp\":%" PRIu64 ",\"rss_hugetlb\":%" PRIu64
			    ",\"zones\":%s",
			    rss4k + rssthp + rsshuge, rss4k, rssthp, rsshuge,
			    zones);
	} else {
		control_put(reply, len, &at,
			    ",\"rss_bytes\":null,\"rss_4k\":null,"
			    "\"rss_thp\":null,\"rss_hugetlb\":null,"
			    "\"zones\":null");
	}
	control_put(reply, len, &at,
		    ",\"stats_updates\":%" PRIu64 ",\"guest\":{",
		    in.stats_updates);
	for (unsigned t = 0; t < VIRTIO_BALLOON_MAX_STATS; t++) {
		const char *name = virtio_balloon_stat_name(t);

		if (!(in.stats_valid & (1U << t)))
			continue;
		if (name)
			control_put(reply, len, &at, "%s\"%s\":%" PRIu64,
				    first ? "" : ",", name, in.stats[t]);
		else
			control_put(reply, len, &at, "%s\"tag-%u\":%" PRIu64,
				    first ? "" : ",", t, in.stats[t]);
		first = 0;
	}
	control_put(reply, len, &at, "}}\n");
	return 1;
}

static int control_balloon(struct control *c, char **w, unsigned n, char *reply,
			   size_t len)
{
	if (!c->balloon)
		return control_error(reply, len,
				     "no balloon device: start the VM with "
				     "--balloon");
	if (n == 2 && !strcmp(w[1], "stats"))
		return control_balloon_stats(c, reply, len);
	if (n >= 2 && !strcmp(w[1], "set")) {
		unsigned long long mib;
		char *end;
		int ret;

		if (n != 3 || w[2][0] < '0' || w[2][0] > '9')
			return control_error(
				reply, len,
				"usage: balloon set <MiB> (a whole "
				"number, e.g. balloon set 64)");
		errno = 0;
		mib = strtoull(w[2], &end, 10);
		if (*end || errno || mib > (UINT64_MAX >> 20))
			return control_error(reply, len,
					     "balloon set: '%s' is not a whole "
					     "number of MiB (e.g. balloon set "
					     "64)",
					     w[2]);
		ret = virtio_balloon_set_target(c->balloon, mib << 20);
		if (ret == -ERANGE)
			return control_error(
				reply, len,
				"balloon set: %llu MiB is more than the "
				"guest's RAM (%llu MiB): ask for less",
				mib,
				(unsigned long long)(c->gm ? guest_mem_size(
								     c->gm) >>
								     20
							   : 0));
		if (ret)
			return control_error(reply, len, "balloon set: %s",
					     strerror(-ret));
		return control_ok(reply, len);
	}
	return control_error(reply, len,
			     "unknown balloon request: use 'balloon set "
			     "<MiB>' or 'balloon stats'");
}

static int control_vm(struct control *c, char **w, unsigned n, char *reply,
		      size_t len)
{
	char err[400];
	int ret;

	if (!c->vm_ops)
		return control_error(reply, len,
				     "this VM cannot be paused or "
				     "snapshotted");
	if (!strcmp(w[0], "pause") || !strcmp(w[0], "resume")) {
		int pause = !strcmp(w[0], "pause");

		if (n != 1)
			return control_error(reply, len,
					     "usage: %s (no arguments)", w[0]);
		ret = pause ? c->vm_ops->pause(c->vm_opaque, err, sizeof(err))
			    : c->vm_ops->resume(c->vm_opaque, err, sizeof(err));
		if (ret)
			return control_error(reply, len, "%s: %s", w[0], err);
		snprintf(reply, len, "{\"ok\":true,\"paused\":%s}\n",
			 pause ? "true" : "false");
		return 1;
	}
	{
		struct control_snapshot_result r = {0};
		size_t at = 0;

		if (n != 2 || w[1][0] != '/')
			return control_error(reply, len,
					     "usage: snapshot <DIR> (an "
					     "absolute path to a new or empty "
					     "directory)");
		for (const char *p = w[1]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\')
				return control_error(
					reply, len,
					"snapshot: the directory name has "
					"a control character, quote or "
					"backslash: choose a plain path");
		ret = c->vm_ops->snapshot(c->vm_opaque, w[1], &r, err,
					  sizeof(err));
		if (ret)
			return control_error(reply, len, "snapshot: %s", err);
		control_put(
			reply, len, &at,
			"{\"ok\":true,\"dir\":\"%s\",\"state_bytes\":%" PRIu64
			",\"memory_bytes\":%" PRIu64
			",\"paused_ms\":%.3f,\"total_ms\":%.3f}\n",
			w[1], r.state_bytes, r.memory_bytes,
			(double)r.paused_ns / 1e6, (double)r.total_ns / 1e6);
		return 1;
	}
}

static int control_mem_stats(struct control *c, char *reply, size_t len)
{
	struct virtio_mem_info in;
	const struct virtio_mem_counters *k = &in.c;
	size_t at = 0;

	virtio_mem_get(c->mem, &in);
	control_put(reply, len, &at,
		    "{\"ok\":true,\"requested_mib\":%" PRIu64
		    ",\"plugged_mib\":%" PRIu64 ",\"driver_ok\":%s"
		    ",\"region_addr\":%" PRIu64 ",\"region_mib\":%" PRIu64
		    ",\"usable_mib\":%" PRIu64 ",\"block_bytes\":%" PRIu64
		    ",\"page_bytes\":%zu",
		    in.requested_size >> 20, in.plugged_size >> 20,
		    in.driver_ok ? "true" : "false", in.lay.addr,
		    in.lay.region_size >> 20, in.lay.usable_size >> 20,
		    in.lay.block_size, in.page_size);
	control_put(reply, len, &at,
		    ",\"plugs\":%" PRIu64 ",\"unplugs\":%" PRIu64
		    ",\"unplug_alls\":%" PRIu64 ",\"plugged_bytes\":%" PRIu64
		    ",\"unplugged_bytes\":%" PRIu64 ",\"busy\":%" PRIu64
		    ",\"busy_pool\":%" PRIu64 ",\"busy_alloc\":%" PRIu64
		    ",\"busy_in_use\":%" PRIu64 ",\"nacks\":%" PRIu64
		    ",\"errors\":%" PRIu64,
		    k->plugs, k->unplugs, k->unplug_alls, k->plugged_bytes,
		    k->unplugged_bytes,
		    k->busy_pool + k->busy_alloc + k->busy_in_use, k->busy_pool,
		    k->busy_alloc, k->busy_in_use, k->nacks, k->errors);
	control_put(reply, len, &at,
		    ",\"returned_bytes\":%" PRIu64 ",\"returned_4k\":%" PRIu64
		    ",\"returned_2m\":%" PRIu64 ",\"returned_1g\":%" PRIu64
		    ",\"discard_errors\":%" PRIu64 "}\n",
		    k->returned_bytes, k->returned[VIRTIO_MEM_PS_4K],
		    k->returned[VIRTIO_MEM_PS_2M],
		    k->returned[VIRTIO_MEM_PS_1G], k->discard_errors);
	return 1;
}

static int control_mem(struct control *c, char **w, unsigned n, char *reply,
		       size_t len)
{
	if (!c->mem)
		return control_error(reply, len,
				     "no virtio-mem device: start the VM with "
				     "--mem-hotplug size=MAX");
	if (n == 2 && !strcmp(w[1], "stats"))
		return control_mem_stats(c, reply, len);
	if (n >= 2 && !strcmp(w[1], "set")) {
		struct virtio_mem_info in;
		unsigned long long mib;
		char *end;
		int ret;

		if (n != 3 || w[2][0] < '0' || w[2][0] > '9')
			return control_error(reply, len,
					     "usage: mem set <MiB> (a whole "
					     "number, e.g. mem set 512)");
		errno = 0;
		mib = strtoull(w[2], &end, 10);
		if (*end || errno || mib > (UINT64_MAX >> 20))
			return control_error(reply, len,
					     "mem set: '%s' is not a whole "
					     "number of MiB (e.g. mem set 512)",
					     w[2]);
		ret = virtio_mem_set_requested(c->mem, mib << 20);
		virtio_mem_get(c->mem, &in);
		if (ret == -EINVAL)
			return control_error(
				reply, len,
				"mem set: %llu MiB is not a multiple "
				"of the "
				"%llu MiB block: round it",
				mib,
				(unsigned long long)(in.lay.block_size >> 20));
		if (ret == -ERANGE)
			return control_error(
				reply, len,
				"mem set: %llu MiB is more than the "
				"hotplug "
				"region (%llu MiB): ask for less",
				mib,
				(unsigned long long)(in.lay.usable_size >> 20));
		if (ret)
			return control_error(reply, len, "mem set: %s",
					     strerror(-ret));
		return control_ok(reply, len);
	}
	return control_error(reply, len,
			     "unknown mem request: use 'mem set <MiB>' or "
			     "'mem stats'");
}

int control_handle(struct control *c, const char *line, char *reply, size_t len)
{
	char buf[CONTROL_LINE_MAX], *w[CONTROL_MAX_WORDS], *save = NULL, *t;
	unsigned n = 0;

	if (strlen(line) >= sizeof(buf))
		return control_error(reply, len, "request longer than %d bytes",
				     CONTROL_LINE_MAX - 1);
	strcpy(buf, line);
	for (t = strtok_r(buf, " \t\r", &save); t;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (n == CONTROL_MAX_WORDS)
			return control_error(reply, len,
					     "too many words in the request: "
					     "see 'balloon set <MiB>', "
					     "'balloon stats'");
		w[n++] = t;
	}
	if (!n)
		return control_error(reply, len,
				     "empty request: send 'balloon set <MiB>', "
				     "'balloon stats' or 'ping'");
	if (!strcmp(w[0], "ping") && n == 1)
		return control_ok(reply, len);
	if (!strcmp(w[0], "balloon"))
		return control_balloon(c, w, n, reply, len);
	if (!strcmp(w[0], "pause") || !strcmp(w[0], "resume") ||
	    !strcmp(w[0], "snapshot"))
		return control_vm(c, w, n, reply, len);
	if (!strcmp(w[0], "mem"))
		return control_mem(c, w, n, reply, len);
	return control_error(reply, len,
			     "unknown request '%.40s': send 'balloon set "
			     "<MiB>', 'balloon stats', 'mem set <MiB>', 'mem "
			     "stats', 'pause', 'resume', 'snapshot DIR' or "
			     "'ping'",
			     w[0]);
}

void control_init(struct control *c, const struct guest_mem *gm,
		  struct virtio_balloon *balloon)
{
	memset(c, 0, sizeof(*c));
	c->listen_fd = c->epfd = c->timer_fd = -1;
	c->idle_ms = CONTROL_IDLE_MS;
	c->gm = gm;
	c->balloon = balloon;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
}

void control_set_mem(struct control *c, struct virtio_mem *mem)
{
	c->mem = mem;
}

static int control_addr(const char *path, struct sockaddr_un *sa, char *err,
			size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(sa->sun_path)) {
		snprintf(err, errlen,
			 "control socket path '%s' is empty or longer "
			 "than "
			 "%zu bytes: use a shorter path",
			 path, sizeof(sa->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

int control_open(struct control *c, const char *path,
		 const struct guest_mem *gm, struct virtio_balloon *balloon,
		 char *err, size_t errlen)
{
	/* Edge-triggered: a connection accept4 cannot take now (out of
	 * fds) must not keep the socket ready, or the loop would spin; it
	 * is taken with the next one. control_accept drains every time. */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET,
				 .data.u64 = TAG_LISTEN};
	struct epoll_event tev = {.events = EPOLLIN, .data.u64 = TAG_TIMER};
	struct sockaddr_un sa;
	struct stat st;
	int ret;

	control_init(c, gm, balloon);
	ret = control_addr(path, &sa, err, errlen);
	if (ret)
		return ret;
	if (!lstat(path, &st)) {
		int probe = -1;

		/* A socket nobody listens on is left over from a VMM that
		 * died: replace it. Anything else is not ours to remove.
		 * Non-blocking: a live VM with a full backlog is EAGAIN, in
		 * use, not a wait. */
		if (S_ISSOCK(st.st_mode))
			probe = socket(
				AF_UNIX,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) &&
		    errno == ECONNREFUSED && !unlink(path)) {
			close(probe);
		} else {
			if (probe >= 0)
				close(probe);
			snprintf(err, errlen,
				 "control socket %s already exists%s: "
				 "remove "
				 "it or choose another path",
				 path,
				 S_ISSOCK(st.st_mode)
					 ? " and a VM is serving it"
					 : " and is not a socket");
			return -EEXIST;
		}
	}
	c->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket: socket(): %s",
			 strerror(-ret));
		return ret;
	}
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		snprintf(err, errlen,
			 "cannot create control socket %s: %s: check "
			 "the "
			 "directory exists and is writable",
			 path, strerror(-ret));
		goto fail;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	/* Which file is ours: at exit the path may name a newer VM's
	 * socket (ours was removed and the path reused), not to be touched. */
	if (lstat(path, &c->sock_st))
		memset(&c->sock_st, 0, sizeof(c->sock_st));
	if (listen(c->listen_fd, CONTROL_MAX_CLIENTS)) {
		ret = -errno;
		snprintf(err, errlen, "control socket %s: listen: %s", path,
			 strerror(-ret));
		goto fail;
	}
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->epfd < 0 || c->timer_fd < 0 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->listen_fd, &ev) ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->timer_fd, &tev)) {
		ret = -errno;
		snprintf(err, errlen, "control socket: epoll: %s",
			 strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	control_close(c);
	return ret;
}

void control_set_vm(struct control *c, const struct control_vm_ops *ops,
		    void *opaque)
{
	c->vm_ops = ops;
	c->vm_opaque = opaque;
}

int control_fd(const struct control *c)
{
	return c->epfd;
}

static void control_event(void *opaque, uint32_t revents)
{
	(void)revents;
	control_process(opaque);
}

struct event_source control_source(struct control *c)
{
	return (struct event_source){.fd = c->epfd,
				     .events = EPOLLIN,
				     .handle = control_event,
				     .opaque = c};
}

static void control_drop(struct control *c, struct control_client *cl)
{
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

/* Replies are small and the client reads them: one send. A client that
 * lets its receive buffer fill is dropped rather than waited for. */
static int control_send(struct control_client *cl, const char *reply)
{
	size_t n = strlen(reply);

	return send(cl->fd, reply, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n
		       ? 0
		       : -1;
}

static void control_read(struct control *c, struct control_client *cl);

/* Close a connection with an error line saying why. */
static void control_close_client(struct control *c, struct control_client *cl,
				 const char *why)
{
	char reply[CONTROL_REPLY_MAX];

	control_error(reply, sizeof(reply), "%s", why);
	(void)control_send(cl, reply);
	control_drop(c, cl);
}

/*
 * A slot for a new connection. All 8 taken: the connection idle longest
 * gives its slot up, after whatever complete requests it sent are
 * answered; so clients that connect and say nothing can never lock the
 * others out (the idle timeout alone would still make everyone wait).
 */
static unsigned control_slot(struct control *c)
{
	unsigned lru = 0;

	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (c->clients[i].fd < 0)
			return i;
		if (c->clients[i].active_ns < c->clients[lru].active_ns)
			lru = i;
	}
	control_read(c, &c->clients[lru]);
	if (c->clients[lru].fd >= 0)
		control_close_client(c, &c->clients[lru],
				     "closing this idle connection: a new one "
				     "needs its slot (at most 8 at once)");
	return lru;
}

static void control_accept(struct control *c)
{
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		struct control_client *cl;
		unsigned i;

		if (fd < 0) {
			/* A client that gave up before we took it: the next
			 * one may be waiting. Anything else (EAGAIN: all
			 * taken; EMFILE/ENFILE: out of fds) ends the drain. */
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			return;
		}
		i = control_slot(c);
		cl = &c->clients[i];
		ev.data.u64 = i;
		cl->fd = fd;
		cl->len = 0;
		cl->active_ns = clock_wall_ns();
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev))
			control_drop(c, cl);
	}
}

/* Close the connections idle for idle_ms or more. */
static void control_expire(struct control *c)
{
	uint64_t now = clock_wall_ns(), idle = c->idle_ms * 1000000ULL;
	char why[64];

	snprintf(why, sizeof(why), "idle for %u ms: closing", c->idle_ms);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 &&
		    now - c->clients[i].active_ns >= idle)
			control_close_client(c, &c->clients[i], why);
}

/* Arm the timer for the first idle deadline (disarm: no clients). */
static void control_arm(struct control *c)
{
	struct itimerspec its = {0};
	uint64_t first = UINT64_MAX;

	if (c->timer_fd < 0)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].active_ns < first)
			first = c->clients[i].active_ns;
	if (first != UINT64_MAX) {
		first += c->idle_ms * 1000000ULL;
		its.it_value.tv_sec = (time_t)(first / 1000000000ULL);
		its.it_value.tv_nsec = (long)(first % 1000000000ULL);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1; /* 0 would disarm */
	}
	timerfd_settime(c->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void control_read(struct control *c, struct control_client *cl)
{
	char reply[CONTROL_REPLY_MAX];

	for (;;) {
		ssize_t n = recv(cl->fd, cl->buf + cl->len,
				 sizeof(cl->buf) - cl->len, MSG_DONTWAIT);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			control_drop(c, cl);
			return;
		}
		cl->active_ns = clock_wall_ns();
		cl->len += (size_t)n;
		while ((nl = memchr(cl->buf, '\n', cl->len))) {
			size_t used = (size_t)(nl - cl->buf) + 1;

			*nl = '\0';
			if (memchr(cl->buf, '\0', used - 1)) {
				control_error(reply, sizeof(reply),
					      "request contains a NUL byte");
			} else {
				control_handle(c, cl->buf, reply,
					       sizeof(reply));
			}
			if (control_send(cl, reply)) {
				control_drop(c, cl);
				return;
			}
			memmove(cl->buf, cl->buf + used, cl->len - used);
			cl->len -= used;
		}
		if (cl->len == sizeof(cl->buf)) {
			control_error(reply, sizeof(reply),
				      "request longer than %d bytes: closing",
				      CONTROL_LINE_MAX - 1);
			control_send(cl, reply);
			control_drop(c, cl);
			return;
		}
	}
}

void control_process(struct control *c)
{
	struct epoll_event evs[CONTROL_MAX_CLIENTS + 2];
	int n = epoll_wait(c->epfd, evs, CONTROL_MAX_CLIENTS + 2, 0);
	uint64_t ticks;

	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == TAG_LISTEN) {
			control_accept(c);
		} else if (evs[i].data.u64 == TAG_TIMER) {
			if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0) {
				/* EAGAIN: re-armed since; expire looks anyway */
			}
			control_expire(c);
		} else if (evs[i].data.u64 < CONTROL_MAX_CLIENTS &&
			   c->clients[evs[i].data.u64].fd >= 0) {
			control_read(c, &c->clients[evs[i].data.u64]);
		}
	}
	control_arm(c);
}

void control_close(struct control *c)
{
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0) {
			close(c->clients[i].fd);
			c->clients[i].fd = -1;
		}
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->path[0])
		(void)file_unlink_same(c->path, &c->sock_st);
	c->epfd = c->listen_fd = c->timer_fd = -1;
	c->path[0] = '\0';
}

int control_request_check(int argc, char *const *argv, char *err, size_t errlen)
{
	const char *usage = "use 'ping', 'pause', 'resume', 'snapshot DIR', "
			    "'balloon stats', 'balloon set <MiB>', 'mem stats' "
			    "or 'mem set <MiB>'";

	if (argc < 1) {
		snprintf(err, errlen, "microvm ctl needs a request: %s", usage);
		return -EINVAL;
	}
	if ((!strcmp(argv[0], "ping") || !strcmp(argv[0], "pause") ||
	     !strcmp(argv[0], "resume")) &&
	    argc == 1)
		return 0;
	if (!strcmp(argv[0], "snapshot")) {
		if (argc != 2 || !argv[1][0]) {
			snprintf(err, errlen,
				 "usage: microvm ctl SOCKET snapshot "
				 "DIR (a new "
				 "or empty directory)");
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(argv[0], "balloon") && argc == 2 &&
	    !strcmp(argv[1], "stats"))
		return 0;
	if (!strcmp(argv[0], "mem") && argc == 2 && !strcmp(argv[1], "stats"))
		return 0;
	if ((!strcmp(argv[0], "balloon") || !strcmp(argv[0], "mem")) &&
	    argc >= 2 && !strcmp(argv[1], "set")) {
		size_t n = argc == 3 ? strlen(argv[2]) : 0;

		/* Digits only, and few enough that MiB << 20 fits 64 bits
		 * (the VM still checks the value against its RAM or
		 * hotplug region). */
		if (!n || n > 13 || strspn(argv[2], "0123456789") != n) {
			snprintf(err, errlen,
				 "usage: microvm ctl SOCKET %s set "
				 "<MiB> "
				 "(a whole number, e.g. %s set %s)",
				 argv[0], argv[0],
				 argv[0][0] == 'm' ? "512" : "64");
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown request '%.40s%s%.40s': %s", argv[0],
		 argc > 1 ? " " : "", argc > 1 ? argv[1] : "", usage);
	return -EINVAL;
}

int control_client(const char *path, int argc, char **argv)
{
	char req[CONTROL_LINE_MAX], reply[CONTROL_REPLY_MAX], err[256];
	struct sockaddr_un sa;
	size_t at = 0, got = 0;
	int fd, wait_ms;

	/* Usage errors: exit 2 before any connection, like the VM's own
	 * command line. */
	if (!path || !*path) {
		fprintf(stderr, "microvm: error: usage: microvm ctl SOCKET "
				"REQUEST... (e.g. microvm ctl /tmp/vm.sock "
				"balloon stats)\n");
		return 2;
	}
	if (control_request_check(argc, argv, err, sizeof(err))) {
		fprintf(stderr, "microvm: error: %s\n", err);
		return 2;
	}
	if (control_addr(path, &sa, err, sizeof(err))) {
		fprintf(stderr, "microvm: error: %s\n", err);
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		/* snapshot DIR: the VM resolves paths from its own working
		 * directory, so send an absolute one. */
		if (i == 1 && !strcmp(argv[0], "snapshot") &&
		    argv[1][0] != '/') {
			char cwd[PATH_MAX];

			if (!getcwd(cwd, sizeof(cwd))) {
				fprintf(stderr, "microvm: error: getcwd: %s\n",
					strerror(errno));
				return 1;
			}
			control_put(req, sizeof(req), &at, " %s/%s", cwd,
				    argv[1]);
			continue;
		}
		control_put(req, sizeof(req), &at, "%s%s", i ? " " : "",
			    argv[i]);
	}
	wait_ms = !strcmp(argv[0], "snapshot") ? CONTROL_SNAPSHOT_WAIT_MS
					       : CONTROL_CLIENT_WAIT_MS;
	control_put(req, sizeof(req), &at, "\n");
	if (at >= sizeof(req) - 1 && req[at - 1] != '\n') {
		fprintf(stderr,
			"microvm: error: request longer than %d "
			"bytes\n",
			CONTROL_LINE_MAX - 1);
		return 2;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr,
			"microvm: error: cannot connect to control "
			"socket "
			"%s: %s: is a VM running with --control-socket "
			"%s?\n",
			path, strerror(errno), path);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (send(fd, req, at, MSG_NOSIGNAL) != (ssize_t)at) {
		fprintf(stderr, "microvm: error: sending to %s: %s\n", path,
			strerror(errno));
		close(fd);
		return 1;
	}
	while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, wait_ms) <= 0) {
			fprintf(stderr,
				"microvm: error: no reply from %s "
				"within "
				"%d s: is the VM stuck?\n",
				path, wait_ms / 1000);
			close(fd);
			return 1;
		}
		n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	reply[got] = '\0';
	if (!got || !strchr(reply, '\n')) {
		fprintf(stderr,
			"microvm: error: %s closed the connection "
			"without a "
			"full reply\n",
			path);
		return 1;
	}
	fputs(reply, stdout);
	return strncmp(reply, "{\"ok\":true", 10) ? 1 : 0;
}
