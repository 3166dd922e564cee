#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_tun.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* Chains or frames handled per call before yielding the event loop (the
 * rest is picked up after a self-kick). */
#define VIRTIO_NET_BUDGET 256

/* ---- transmit ---- */

static void virtio_net_tx_one(struct virtio_net *n, const struct virtq_chain *c)
{
	static const uint8_t zero_hdr[VIRTIO_NET_HDR_SIZE];
	struct iovec iov[VIRTQ_MAX_SIZE + 1];
	size_t skip = VIRTIO_NET_HDR_SIZE;
	unsigned cnt = 1;
	ssize_t r;

	if (c->out_len < VIRTIO_NET_HDR_SIZE ||
	    c->out_len - VIRTIO_NET_HDR_SIZE > VIRTIO_NET_MAX_FRAME) {
		n->tx_dropped++;
		log_ratelimited(&n->rl, LOG_WARN,
				"virtio-net %s: dropped a %" PRIu64
				"-byte transmit buffer (bad length)",
				n->ifname, c->out_len);
		return;
	}
	/* No offloads were negotiated: whatever the guest put in its
	 * header, the host gets a plain one. */
	iov[0].iov_base = (void *)(uintptr_t)zero_hdr;
	iov[0].iov_len = sizeof(zero_hdr);
	for (unsigned i = 0; i < c->n_out; i++) {
		size_t l = c->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		iov[cnt].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
		iov[cnt].iov_len = l - skip;
		skip = 0;
		cnt++;
	}
	do
		r = writev(n->tap_fd, iov, (int)cnt);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		/* EAGAIN: the TAP queue is full; drop like a NIC would. */
		n->tx_dropped++;
		if (errno != EAGAIN)
			log_ratelimited(&n->rl, LOG_WARN,
					"virtio-net %s: TAP write: %s",
					n->ifname, strerror(errno));
	}
}

static void virtio_net_tx(struct virtio_net *n)
{
	struct virtq *q = virtio_mmio_queue(&n->mmio, VIRTIO_NET_TXQ);
	unsigned budget = VIRTIO_NET_BUDGET;
	int r = 0;

	while (budget && (r = virtq_pop(q, &n->chain)) > 0) {
		virtio_net_tx_one(n, &n->chain);
		virtq_push(q, n->chain.head, 0);
		budget--;
	}
	if (!budget)
		virtio_mmio_kick(&n->mmio);
	else if (r < 0) {
		virtio_mmio_fail(&n->mmio, q->err);
		return;
	}
	virtio_mmio_used(&n->mmio, VIRTIO_NET_TXQ);
}

/* ---- receive ---- */

/*
 * Hand the pending frame to the guest. 1: delivered or dropped (go on),
 * 0: not enough buffers (the frame waits), -1: the device failed.
 */
static int virtio_net_deliver(struct virtio_net *n)
{
	struct virtq *q = virtio_mmio_queue(&n->mmio, VIRTIO_NET_RXQ);
	int mrg = virtio_mmio_negotiated(&n->mmio, VIRTIO_NET_F_MRG_RXBUF);
	unsigned nbufs = 0;
	size_t off = 0;
	uint16_t num;

	while (off < n->frame_len) {
		struct virtq_chain *c = nbufs ? &n->chain : &n->rx_first;
		int r = virtq_pop(q, c);
		size_t take;

		if (r < 0) {
			virtio_mmio_fail(&n->mmio, q->err);
			return -1;
		}
		if (!r) {
			virtq_unpop(q, (uint16_t)nbufs);
			return 0;
		}
		if (c->in_len < (nbufs ? 1 : VIRTIO_NET_HDR_SIZE)) {
			virtio_mmio_fail(&n->mmio, "receive buffer smaller "
						   "than the header");
			return -1;
		}
		take = n->frame_len - off;
		if (take > c->in_len)
			take = c->in_len;
		virtq_iov_from_buf(c->iov + c->n_out, c->n_in, 0,
				   n->frame + off, take);
		n->used[nbufs].id = c->head;
		n->used[nbufs].len = (uint32_t)take;
		nbufs++;
		off += take;
		if (off < n->frame_len && (!mrg || nbufs == VIRTQ_MAX_SIZE)) {
			/* Does not fit what the guest offers: drop it, keep
			 * the buffers for the next frame. */
			virtq_unpop(q, (uint16_t)nbufs);
			n->rx_dropped++;
			log_ratelimited(&n->rl, LOG_WARN,
					"virtio-net %s: dropped a %zu-byte "
					"frame: receive buffers too small",
					n->ifname, n->frame_len);
			n->frame_len = 0;
			return 1;
		}
	}
	num = htole16((uint16_t)nbufs);
	virtq_iov_from_buf(n->rx_first.iov + n->rx_first.n_out,
			   n->rx_first.n_in, VIRTIO_NET_HDR_NUM_BUFFERS, &num,
			   sizeof(num));
	/* All buffers of the frame become visible at once. */
	virtq_push_many(q, n->used, nbufs);
	n->frame_len = 0;
	return 1;
}

/* Lock held. */
static void virtio_net_do_rx(struct virtio_net *n)
{
	struct virtq *q = virtio_mmio_queue(&n->mmio, VIRTIO_NET_RXQ);
	unsigned budget = VIRTIO_NET_BUDGET;
	int delivered = 0;

	if (!virtio_mmio_live(&n->mmio) || !virtq_ready(q))
		return;
	for (; budget; budget--) {
		int r;

		if (!n->frame_len) {
			ssize_t len =
				read(n->tap_fd, n->frame, sizeof(n->frame));

			if (len < 0 && errno == EINTR)
				continue;
			if (len < 0) {
				if (errno != EAGAIN)
					log_ratelimited(&n->rl, LOG_WARN,
							"virtio-net %s: TAP "
							"read: %s",
							n->ifname,
							strerror(errno));
				break;
			}
			if (len <= VIRTIO_NET_HDR_SIZE) {
				n->rx_dropped++;
				continue;
			}
			/* Offloads are off and none were negotiated: the
			 * guest gets flags 0, GSO_NONE (spec 5.1.6.4). */
			memset(n->frame, 0, VIRTIO_NET_HDR_SIZE);
			n->frame_len = (size_t)len;
		}
		r = virtio_net_deliver(n);
		if (r < 0)
			return;
		if (!r)
			break; /* resumed when the guest adds buffers */
		delivered = 1;
	}
	if (!budget)
		virtio_mmio_kick(&n->mmio);
	if (delivered)
		virtio_mmio_used(&n->mmio, VIRTIO_NET_RXQ);
}

void virtio_net_rx(struct virtio_net *n)
{
	virtio_mmio_lock(&n->mmio);
	virtio_net_do_rx(n);
	virtio_mmio_unlock(&n->mmio);
}

/* ---- transport glue ---- */

static void virtio_net_notify(void *opaque, unsigned q)
{
	struct virtio_net *n = opaque;

	if (q == VIRTIO_NET_TXQ)
		virtio_net_tx(n);
	else
		virtio_net_do_rx(n);
}

static void virtio_net_config_read(void *opaque, uint64_t off, void *data,
				   uint32_t len)
{
	struct virtio_net *n = opaque;

	/* struct virtio_net_config: mac[6] first; status, queue pairs and
	 * mtu exist only with features we do not offer. */
	virtio_mmio_config_copy(n->mac, sizeof(n->mac), off, data, len);
}

static void virtio_net_reset(void *opaque)
{
	struct virtio_net *n = opaque;

	n->frame_len = 0;
}

static const struct virtio_mmio_ops virtio_net_ops = {
	.device_id = VIRTIO_NET_DEVICE_ID,
	.num_queues = 2,
	.queue_max = VIRTIO_NET_QUEUE_SIZE,
	.config_read = virtio_net_config_read,
	.notify = virtio_net_notify,
	.reset = virtio_net_reset,
	/* Snapshot: nothing beyond the transport's state (the MAC and TAP
	 * configuration comes from the command line the snapshot records). */
	.save = NULL,
	.load = NULL,
};

static void virtio_net_setup(struct virtio_net *n, int fd, const uint8_t *mac,
			     const char *name)
{
	memset(n, 0, offsetof(struct virtio_net, frame));
	n->frame_len = 0;
	n->tx_dropped = n->rx_dropped = 0;
	memset(&n->rl, 0, sizeof(n->rl));
	n->tap_fd = fd;
	snprintf(n->ifname, sizeof(n->ifname), "%s", name);
	memcpy(n->mac, mac, 6);
	virtio_mmio_init(&n->mmio, &virtio_net_ops, n, "virtio-net",
			 (1ULL << VIRTIO_NET_F_MAC) |
				 (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
				 (1ULL << VIRTIO_F_RING_EVENT_IDX) |
				 (1ULL << VIRTIO_F_INDIRECT_DESC));
}

/* Locally administered unicast address from the name (FNV-1a): the same
 * TAP gets the same MAC on every run. */
static void virtio_net_derive_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x4d; /* 'M' */
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

int virtio_net_open_fd(struct virtio_net *n, int fd, const uint8_t mac[6],
		       const char *name)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	virtio_net_setup(n, fd, mac, name);
	return 0;
}

int virtio_net_open(struct virtio_net *n, const struct virtio_net_cfg *cfg,
		    char *err, size_t errlen)
{
	struct ifreq ifr;
	uint8_t mac[6];
	int fd, hdr = VIRTIO_NET_HDR_SIZE, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV)
			snprintf(err, errlen,
				 "/dev/net/tun is missing: load the tun "
				 "module (modprobe tun)");
		else if (ret == -EACCES || ret == -EPERM)
			snprintf(err, errlen,
				 "permission denied opening /dev/net/tun: run "
				 "as root or give your user access to it");
		else
			snprintf(err, errlen, "/dev/net/tun: %s",
				 strerror(-ret));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		if (ret == -EPERM || ret == -EACCES)
			snprintf(err, errlen,
				 "permission denied creating TAP %s: run with "
				 "CAP_NET_ADMIN, or create it for your user "
				 "first (ip tuntap add %s mode tap user $USER)",
				 cfg->tap, cfg->tap);
		else if (ret == -EBUSY)
			snprintf(err, errlen,
				 "TAP %s is busy: another process has it open "
				 "(or it was created with other flags; "
				 "recreate it: ip link del %s)",
				 cfg->tap, cfg->tap);
		else if (ret == -EINVAL)
			snprintf(err, errlen,
				 "%s exists and is not a TAP device: pick "
				 "another name or remove it (ip link del %s)",
				 cfg->tap, cfg->tap);
		else
			snprintf(err, errlen, "TAP %s: TUNSETIFF: %s", cfg->tap,
				 strerror(-ret));
		goto err_close;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		snprintf(err, errlen,
			 "TAP %s: the kernel refused a 12-byte virtio-net "
			 "header (TUNSETVNETHDRSZ): %s",
			 ifr.ifr_name, strerror(-ret));
		goto err_close;
	}
	/* No offloads: the kernel hands us complete, checksummed frames,
	 * which is all a driver without GUEST_CSUM/GSO may receive. */
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		ret = -errno;
		snprintf(err, errlen, "TAP %s: TUNSETOFFLOAD: %s", ifr.ifr_name,
			 strerror(-ret));
		goto err_close;
	}
	if (cfg->has_mac)
		memcpy(mac, cfg->mac, 6);
	else
		virtio_net_derive_mac(ifr.ifr_name, mac);
	virtio_net_setup(n, fd, mac, ifr.ifr_name);
	return 0;

err_close:
	close(fd);
	return ret;
}

int virtio_net_tap_fd(const struct virtio_net *n)
{
	return n->tap_fd;
}

uint32_t virtio_net_poll_events(const struct virtio_net *n)
{
	(void)n;
	return EPOLLIN | EPOLLET;
}

static void virtio_net_tap_event(void *opaque, uint32_t revents)
{
	(void)revents;
	virtio_net_rx(opaque);
}

struct event_source virtio_net_tap_source(struct virtio_net *n)
{
	return (struct event_source){.fd = n->tap_fd,
				     .events = virtio_net_poll_events(n),
				     .handle = virtio_net_tap_event,
				     .opaque = n};
}

void virtio_net_close(struct virtio_net *n)
{
	if (n->tap_fd < 0)
		return;
	if (n->tx_dropped || n->rx_dropped)
		log_info("virtio-net %s: dropped %" PRIu64
			 " transmit and %" PRIu64 " receive frames",
			 n->ifname, n->tx_dropped, n->rx_dropped);
	close(n->tap_fd);
	n->tap_fd = -1;
	virtio_mmio_destroy(&n->mmio);
}
