/*
 * virtio-net (virtio 1.2 section 5.1) over a TAP device.
 *
 * Queues: 0 receive, 1 transmit. Features: VIRTIO_NET_F_MAC,
 * VIRTIO_NET_F_MRG_RXBUF, VERSION_1, RING_EVENT_IDX, INDIRECT_DESC; no
 * checksum or segmentation offloads, so the TAP is opened with a 12-byte
 * virtio_net_hdr_v1 and offloads off, and every frame is complete.
 *
 * Transmit: each chain (header + frame) is written to the TAP with one
 * writev, the guest's header replaced by a zero one (no offloads were
 * negotiated). Receive: a frame read from the TAP is spread over as many
 * receive buffers as it needs (num_buffers) with MRG_RXBUF, or must fit one
 * buffer without it (else it is dropped). When the guest has no buffers
 * the frame waits and the TAP is not read until the guest adds some.
 *
 * VMM wiring:
 *   cfg from the command line (cli_parse_net: "tap=NAME[,mac=MAC]")
 *   virtio_net_open(&net, &cfg, err, sizeof(err));
 *   virtio_mmio_attach(&net.mmio, gm, base, &irq);
 *   bus_add(mmio_bus, base, VIRTIO_MMIO_SLOT_SIZE, &virtio_mmio_bus_ops,
 *           &net.mmio, "virtio-net");
 *   poll virtio_mmio_event_fd(&net.mmio) (EPOLLIN)
 *        -> virtio_mmio_process(&net.mmio)
 *   poll virtio_net_tap_fd(&net) for virtio_net_poll_events(&net)
 *        (EPOLLIN | EPOLLET, edge-triggered: while the guest has no
 *        receive buffers, or no driver, the TAP stays readable and is
 *        deliberately not drained; level-triggered, the loop would spin)
 *        -> virtio_net_rx(&net)
 *   at exit: virtio_net_close(&net)
 */
#ifndef DEVICES_VIRTIO_NET_H
#define DEVICES_VIRTIO_NET_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "lib/log.h"

#define VIRTIO_NET_DEVICE_ID 1

#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15

#define VIRTIO_NET_RXQ	      0
#define VIRTIO_NET_TXQ	      1
#define VIRTIO_NET_QUEUE_SIZE 256

/* struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers (at offset 10). */
#define VIRTIO_NET_HDR_SIZE	   12
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
/* Largest Ethernet frame handled (TAP MTU up to 64 KiB), header excluded. */
#define VIRTIO_NET_MAX_FRAME 65550

/* What `--net tap=NAME[,mac=MAC]` asks for (checked by the command line
 * parser: a valid interface name, a unicast MAC). */
struct virtio_net_cfg {
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	int has_mac; /* 0: a MAC is derived from the TAP name */
};

struct virtio_net {
	struct virtio_mmio_dev mmio; /* register this with the bus */
	int tap_fd;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	/* A frame read from the TAP that waits for receive buffers. */
	uint8_t frame[VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME];
	size_t frame_len;
	struct virtq_chain rx_first; /* first buffer of the frame: header */
	struct virtq_chain chain;
	struct virtq_used_elem used[VIRTQ_MAX_SIZE];
	uint64_t tx_dropped, rx_dropped;
	struct log_ratelimit rl;
};

/*
 * Open (or create) the TAP: /dev/net/tun, TUNSETIFF IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, TUNSETVNETHDRSZ 12, offloads off, nonblocking. Without a
 * MAC in cfg one is derived from the TAP name (locally administered, so
 * stable across runs). Initializes n->mmio (not yet attached). On failure
 * returns a negative errno with a one-line reason and its fix in err
 * (missing /dev/net/tun, permission denied, TAP busy, not a TAP).
 */
int virtio_net_open(struct virtio_net *n, const struct virtio_net_cfg *cfg,
		    char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Use an already-open fd instead of creating a TAP (e.g. one handed over
 * by a privileged launcher): it must carry one frame per read/write, each
 * preceded by a 12-byte virtio_net_hdr_v1. Takes ownership of fd and makes
 * it nonblocking. Initializes n->mmio.
 */
int virtio_net_open_fd(struct virtio_net *n, int fd, const uint8_t mac[6],
		       const char *name) __attribute__((warn_unused_result));

/* The fd to poll, with virtio_net_poll_events(). */
int virtio_net_tap_fd(const struct virtio_net *n);

/*
 * The epoll events to register the TAP fd with: EPOLLIN | EPOLLET. The
 * device reads the TAP only while the guest has receive buffers; frames
 * that arrive when it has none wait in the TAP, and reading resumes when
 * the guest adds buffers (its queue notify) or after a self-kick, never
 * because the fd is still readable.
 */
uint32_t virtio_net_poll_events(const struct virtio_net *n);

/* Event loop: the TAP became readable; move frames to the guest. */
void virtio_net_rx(struct virtio_net *n);

/* The TAP as an event source: virtio_net_poll_events() (edge-triggered)
 * -> virtio_net_rx. */
struct event_source virtio_net_tap_source(struct virtio_net *n);

/* Close the TAP (a non-persistent TAP disappears), destroy the transport. */
void virtio_net_close(struct virtio_net *n);

#endif
