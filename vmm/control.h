/*
 * The runtime control channel: a Unix stream socket (--control-socket PATH)
 * served by the VMM's event loop, for changing the balloon target and
 * reading its counters while the VM runs (what Firecracker does with
 * PATCH /balloon and GET /balloon/statistics on its API socket).
 *
 * Protocol: one request per line (at most 255 bytes, ending in '\n'; a
 * '\r' before it is ignored), words separated by spaces or tabs. Each
 * request gets exactly one reply line, a JSON object ending in '\n'. A
 * connection may send any number of requests; up to 8 connections at
 * once. A malformed request gets an error reply, never a crash; a line
 * longer than 255 bytes gets an error reply and the connection is closed.
 * A connection that sends nothing for 5 s is closed (after an error line
 * saying so); when all 8 are taken, a new connection is served anyway and
 * the one idle longest is closed the same way, so idle clients can never
 * lock others out.
 *
 *   ping
 *     {"ok":true}
 *   balloon set <MiB>
 *     Set the balloon target: the guest gives up that much memory (whole
 *     MiB, 0 deflates it completely; at most the guest's RAM).
 *     {"ok":true}
 *   balloon stats
 *     {"ok":true,"target_mib":N,"actual_mib":N,"driver_ok":B,
 *      "reported_bytes":N,"reports":N,"unfreed_reports":N,
 *      "unfreed_bytes":N,"inflated_bytes":N,"deflated_bytes":N,
 *      "returned_bytes":N,"returned_4k":N,"returned_2m":N,"returned_1g":N,
 *      "rss_bytes":N,"rss_4k":N,"rss_thp":N,"rss_hugetlb":N,
 *      "stats_updates":N,"guest":{"free-memory":N,...}}
 *     actual_mib is what the driver last wrote back; returned_* are bytes
 *     discarded (given back to the host) by backing page size; rss_* are
 *     guest memory bytes resident now, from /proc/self/smaps (null when
 *     the VMM cannot read it, e.g. under seccomp); "guest" holds
 *     the driver's last statistics (only with --balloon=stats=N), in bytes
 *     for memory sizes and counts for the rest, keyed by the virtio names
 *     (swap-in, swap-out, major-faults, minor-faults, free-memory,
 *     total-memory, available-memory, disk-caches, hugetlb-allocations,
 *     hugetlb-failures).
 *   pause
 *     Stop every vCPU outside the guest and keep it there (already
 *     paused: nothing changes). {"ok":true,"paused":true}
 *   resume
 *     Let paused vCPUs run again. {"ok":true,"paused":false}
 *   snapshot <DIR>
 *     Pause if running, write the snapshot to DIR (an absolute path;
 *     created, an existing non-empty DIR is an error), and leave the VM
 *     running or paused as it was. Restore it with microvm --restore DIR.
 *     {"ok":true,"dir":"...","state_bytes":N,"memory_bytes":N,
 *      "paused_ms":F,"total_ms":F}
 *   mem set <MiB>
 *     Set the virtio-mem requested size: the guest plugs or unplugs
 *     blocks to reach it (whole MiB, a multiple of the block size, at
 *     most the usable region).
 *     {"ok":true}
 *   mem stats
 *     {"ok":true,"requested_mib":N,"plugged_mib":N,"driver_ok":B,
 *      "region_addr":N,"region_mib":N,"usable_mib":N,"block_bytes":N,
 *      "page_bytes":N,"plugs":N,"unplugs":N,"unplug_alls":N,
 *      "plugged_bytes":N,"unplugged_bytes":N,"busy":N,"busy_pool":N,
 *      "busy_alloc":N,"busy_in_use":N,"nacks":N,"errors":N,
 *      "returned_bytes":N,"returned_4k":N,"returned_2m":N,
 *      "returned_1g":N,"discard_errors":N}
 *     busy_pool: PLUG answered BUSY because the hugetlb pool was short;
 *     busy_alloc: because the host could not allocate otherwise;
 *     busy_in_use: UNPLUG (or UNPLUG_ALL) answered BUSY because the VMM
 *     holds a pointer into the memory (a virtqueue ring, the request).
 *   anything else
 *     {"ok":false,"error":"<one line saying what was wrong and what to send>"}
 *
 * Clients: `microvm ctl PATH balloon set 64` sends one request and prints
 * the reply (exit status 0 when "ok" is true); socat works too:
 *   echo 'balloon stats' | socat - UNIX-CONNECT:PATH
 */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "devices/event_source.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_mem.h"
#include "mem/guest_mem.h"

#include <sys/stat.h>

#define CONTROL_MAX_CLIENTS 8
#define CONTROL_IDLE_MS	    5000
#define CONTROL_LINE_MAX    256
#define CONTROL_REPLY_MAX   12288 /* balloon stats with 8 zones */

struct control_client {
	int fd; /* -1: free slot */
	size_t len;
	uint64_t active_ns; /* accepted or last received (CLOCK_MONOTONIC) */
	char buf[CONTROL_LINE_MAX];
};

/* What a snapshot wrote and how long it took. */
struct control_snapshot_result {
	uint64_t state_bytes, memory_bytes;
	uint64_t paused_ns; /* the vCPUs were held (0 if already paused) */
	uint64_t total_ns;
};

/* The VM's side of pause, resume and snapshot (vmm/machine.c); each
 * returns 0 or a negative errno with a one-line reason in err. */
struct control_vm_ops {
	int (*pause)(void *opaque, char *err, size_t errlen);
	int (*resume)(void *opaque, char *err, size_t errlen);
	int (*snapshot)(void *opaque, const char *dir,
			struct control_snapshot_result *r, char *err,
			size_t errlen);
};

struct control {
	int listen_fd;
	int epfd; /* listen_fd, timer_fd and the clients; the VMM polls it */
	int timer_fd;	  /* fires at the first client's idle deadline */
	unsigned idle_ms; /* CONTROL_IDLE_MS (tests shorten it) */
	char path[108];
	struct stat sock_st; /* the socket file we bound: removed only if the
			      * path still names it */
	const struct guest_mem *gm;	     /* for rss_*; may be NULL */
	struct virtio_balloon *balloon;	     /* NULL: no --balloon */
	struct virtio_mem *mem;		     /* NULL: no --mem-hotplug */
	const struct control_vm_ops *vm_ops; /* NULL: no pause/snapshot */
	void *vm_opaque;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/*
 * Listen on `path`, which must not exist, or be a stale socket nobody
 * serves (replaced). gm and balloon may be NULL.
 * 0, or a negative errno with a one-line reason in err.
 */
int control_open(struct control *c, const char *path,
		 const struct guest_mem *gm, struct virtio_balloon *balloon,
		 char *err, size_t errlen) __attribute__((warn_unused_result));

/* Set up a channel with no socket (for control_handle alone). */
void control_init(struct control *c, const struct guest_mem *gm,
		  struct virtio_balloon *balloon);

/* Serve pause, resume and snapshot through ops (called on the loop's
 * thread with opaque). */
void control_set_vm(struct control *c, const struct control_vm_ops *ops,
		    void *opaque);
/* Serve `mem set` and `mem stats` for this virtio-mem device (NULL:
 * none, the default). */
void control_set_mem(struct control *c, struct virtio_mem *mem);

/* The fd the event loop polls for EPOLLIN. */
int control_fd(const struct control *c);

/* Event loop: accept connections, read requests, reply. Never blocks. */
void control_process(struct control *c);

/* control_fd as an event source: level-triggered EPOLLIN (control_process
 * serves everything ready). */
struct event_source control_source(struct control *c);

/* Close every connection and the socket; remove the socket file if the
 * path still names our socket (not one a newer VM made there since). */
void control_close(struct control *c);

/*
 * Handle one request line (without its '\n'): write the reply (with its
 * '\n', NUL-terminated) into reply. Returns 1 if it was ok, 0 if it was an
 * error reply.
 */
int control_handle(struct control *c, const char *line, char *reply,
		   size_t len);

/*
 * Check the words of a `microvm ctl` request against the protocol's
 * grammar ("ping", "pause", "resume", "snapshot DIR", "balloon stats",
 * "balloon set <MiB>"): 0, or -EINVAL
 * with a one-line usage error in err.
 */
int control_request_check(int argc, char *const *argv, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * The `microvm ctl PATH WORD...` client: send the words as one request,
 * print the reply on stdout. Returns the exit status: 0 for an ok reply,
 * 2 for a usage error (no or a bad socket path, a request that is not in
 * the grammar; nothing is sent), 1 for an error reply or a failure
 * (reason on stderr). path may be NULL (missing).
 */
int control_client(const char *path, int argc, char **argv);

#endif
