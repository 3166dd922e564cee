#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio_net.h"
#include "lib/clock.h"
#include "tests/harness/harness.h"
#include "tests/unit/vtest.h"

uint32_t vtest_rd(struct virtio_mmio_dev *d, uint64_t off);
uint32_t vtest_driver_init(struct virtio_mmio_dev *d, uint64_t features,
			   unsigned nq);
uint16_t vtest_used_idx(unsigned q);
uint32_t vtest_used_len(unsigned q, uint16_t slot);
uint32_t vtest_used_id(unsigned q, uint16_t slot);

#define RXQ	       VIRTIO_NET_RXQ
#define TXQ	       VIRTIO_NET_TXQ
#define RX_BUF(i)      (VTEST_DATA + 0x1000 * (uint64_t)(i))
#define TX_BUF	       (VTEST_DATA + 0x20000)
#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental */
#define FEATURES                                                     \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC) | \
	 (1ULL << VIRTIO_F_RING_EVENT_IDX))
#define MRG (1ULL << VIRTIO_NET_F_MRG_RXBUF)

/* ---- the device over a socketpair standing in for the TAP ---- */

static struct virtio_net net;
static int peer = -1;

static void net_up(uint64_t features)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	struct guest_mem *gm = vtest_ram();
	struct irq_line irq;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	peer = sv[1];
	ck_assert_int_eq(virtio_net_open_fd(&net, sv[0], mac, "pair"), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&net.mmio, gm, 0xc0004000, &irq),
			 0);
	ck_assert_uint_eq(vtest_driver_init(&net.mmio, features, 2) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	virtio_mmio_process(&net.mmio);
}

static void net_setup(void)
{
	memset(&net, 0, offsetof(struct virtio_net, frame));
	net.tap_fd = -1;
}

static void net_teardown(void)
{
	if (net.tap_fd >= 0) {
		virtio_net_close(&net);
		vtest_ram_free();
	}
	if (peer >= 0)
		close(peer);
	peer = -1;
}

/* Send a frame from the "host side": a 12-byte header with junk flags,
 * then len bytes of pattern starting at `seed`. */
static void host_send(size_t len, uint8_t seed)
{
	uint8_t buf[VIRTIO_NET_HDR_SIZE + 4096];

	memset(buf, 0xff, VIRTIO_NET_HDR_SIZE);
	for (size_t i = 0; i < len; i++)
		buf[VIRTIO_NET_HDR_SIZE + i] = (uint8_t)(seed + i);
	ck_assert_int_eq(write(peer, buf, VIRTIO_NET_HDR_SIZE + len),
			 (ssize_t)(VIRTIO_NET_HDR_SIZE + len));
}

static void post_rx(unsigned i, uint32_t len)
{
	memset(vtest_gpa(RX_BUF(i)), 0xee, len);
	vtest_desc(RXQ, i, RX_BUF(i), len, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(RXQ, (uint16_t)i);
}

START_TEST(net_config_mac)
{
	uint8_t mac[6];

	net_up(FEATURES | MRG);
	ck_assert_uint_eq(vtest_rd(&net.mmio, VIRTIO_MMIO_REG_DEVICE_ID), 1);
	for (unsigned i = 0; i < 6; i++)
		virtio_mmio_bus_ops.read(&net.mmio, 0x100 + i, &mac[i], 1);
	ck_assert_int_eq(memcmp(mac, "\x52\x54\x00\x12\x34\x56", 6), 0);
}
END_TEST

START_TEST(net_rx_merge)
{
	uint8_t *b0, *b1;
	uint16_t num;

	net_up(FEATURES | MRG);
	b0 = vtest_gpa(RX_BUF(0));
	b1 = vtest_gpa(RX_BUF(1));
	post_rx(0, 64);
	post_rx(1, 64);
	post_rx(2, 64);
	host_send(100, 7); /* 112 bytes with the header: two buffers */
	virtio_net_rx(&net);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 2);
	ck_assert_uint_eq(vtest_used_id(RXQ, 0), 0);
	ck_assert_uint_eq(vtest_used_len(RXQ, 0), 64);
	ck_assert_uint_eq(vtest_used_id(RXQ, 1), 1);
	ck_assert_uint_eq(vtest_used_len(RXQ, 1), 48);
	memcpy(&num, b0 + VIRTIO_NET_HDR_NUM_BUFFERS, 2);
	ck_assert_uint_eq(le16toh(num), 2);
	for (unsigned i = 0; i < VIRTIO_NET_HDR_NUM_BUFFERS; i++)
		ck_assert_uint_eq(b0[i], 0); /* host flags not passed on */
	ck_assert_uint_eq(b0[12], 7);
	ck_assert_uint_eq(b0[63], (uint8_t)(7 + 51));
	ck_assert_uint_eq(b1[0], (uint8_t)(7 + 52));
	ck_assert_uint_eq(b1[47], (uint8_t)(7 + 99));
	ck_assert_uint_eq(b1[48], 0xee);
	ck_assert_int_eq(vtest_irq_level(), 1);
	/* A small one fits the third buffer alone. */
	host_send(20, 1);
	virtio_net_rx(&net);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 3);
	ck_assert_uint_eq(vtest_used_len(RXQ, 2), 32);
	memcpy(&num,
	       (uint8_t *)vtest_gpa(RX_BUF(2)) + VIRTIO_NET_HDR_NUM_BUFFERS, 2);
	ck_assert_uint_eq(le16toh(num), 1);
}
END_TEST

START_TEST(net_rx_waits_for_buffers)
{
	net_up(FEATURES | MRG);
	host_send(100, 0);
	virtio_net_rx(&net);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 0);
	/* Not enough: one buffer for a two-buffer frame. */
	post_rx(0, 64);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, RXQ);
	virtio_mmio_process(&net.mmio);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 0);
	/* The second buffer completes it; the guest's notify resumes. */
	post_rx(1, 64);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, RXQ);
	virtio_mmio_process(&net.mmio);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 2);
	ck_assert_uint_eq(vtest_used_id(RXQ, 0), 0);
	ck_assert_uint_eq(vtest_used_id(RXQ, 1), 1);
	ck_assert_uint_eq(net.rx_dropped, 0);
}
END_TEST

/* Wakeups of an epoll loop over the TAP, registered the way the device
 * asks (as vmm/board.c does), in `ms` milliseconds, calling
 * virtio_net_rx on each like the VMM. */
static unsigned net_loop_wakeups(int epfd, unsigned ms)
{
	uint64_t end = clock_wall_ns() + (uint64_t)ms * 1000000;
	unsigned wakeups = 0;
	struct epoll_event ev;

	for (;;) {
		uint64_t now = clock_wall_ns();

		if (now >= end || wakeups > 1000)
			return wakeups;
		if (epoll_wait(epfd, &ev, 1,
			       (int)((end - now) / 1000000) + 1) == 1) {
			wakeups++;
			virtio_net_rx(&net);
		}
	}
}

/* Host traffic while the guest cannot take it (no driver yet, then a
 * driver without receive buffers) must not wake the loop again and again
 * (it spun at 100% CPU with a level-triggered TAP); the frames wait and
 * reach the guest once it posts buffers. */
START_TEST(net_rx_pending_does_not_spin)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	struct epoll_event ev = {.data.u64 = 1};
	struct irq_line irq;
	int sv[2], epfd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	peer = sv[1];
	ck_assert_int_eq(virtio_net_open_fd(&net, sv[0], mac, "pair"), 0);
	vtest_irq(&irq);
	ck_assert_int_eq(
		virtio_mmio_attach(&net.mmio, vtest_ram(), 0xc0004000, &irq),
		0);
	epfd = epoll_create1(0);
	ck_assert_int_ge(epfd, 0);
	ev.events = virtio_net_poll_events(&net);
	ck_assert_int_eq(epoll_ctl(epfd, EPOLL_CTL_ADD, net.tap_fd, &ev), 0);

	/* No driver: frames arrive, one wakeup finds nothing to do. */
	host_send(40, 1);
	host_send(40, 2);
	ck_assert_uint_le(net_loop_wakeups(epfd, 200), 2);

	/* A driver, no receive buffers; more traffic. */
	ck_assert_uint_eq(vtest_driver_init(&net.mmio, FEATURES | MRG, 2) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	virtio_mmio_process(&net.mmio);
	host_send(40, 3);
	ck_assert_uint_le(net_loop_wakeups(epfd, 200), 2);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 0);

	/* Buffers and the guest's notify: everything pending arrives. */
	for (unsigned i = 0; i < 3; i++)
		post_rx(i, 64);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, RXQ);
	virtio_mmio_process(&net.mmio);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 3);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_uint_eq(((uint8_t *)vtest_gpa(RX_BUF(i)))[12], i + 1);
	ck_assert_uint_eq(net.rx_dropped, 0);
	/* Later traffic still wakes the loop and is delivered. */
	post_rx(3, 64);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, RXQ);
	virtio_mmio_process(&net.mmio);
	host_send(40, 9);
	ck_assert_uint_ge(net_loop_wakeups(epfd, 100), 1);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 4);
	close(epfd);
}
END_TEST

START_TEST(net_rx_no_mrg)
{
	uint16_t num;

	net_up(FEATURES);
	post_rx(0, 64);
	host_send(100, 0); /* does not fit one buffer: dropped */
	host_send(40, 3);
	virtio_net_rx(&net);
	ck_assert_uint_eq(net.rx_dropped, 1);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 1);
	ck_assert_uint_eq(vtest_used_len(RXQ, 0), 52);
	ck_assert_uint_eq(((uint8_t *)vtest_gpa(RX_BUF(0)))[12], 3);
	memcpy(&num,
	       (uint8_t *)vtest_gpa(RX_BUF(0)) + VIRTIO_NET_HDR_NUM_BUFFERS, 2);
	ck_assert_uint_eq(le16toh(num), 1);
}
END_TEST

START_TEST(net_rx_tiny_buffer_fails)
{
	net_up(FEATURES | MRG);
	post_rx(0, 8); /* smaller than the header */
	host_send(40, 0);
	virtio_net_rx(&net);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 0);
	ck_assert_uint_ne(vtest_rd(&net.mmio, VIRTIO_MMIO_REG_STATUS) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  0);
}
END_TEST

START_TEST(net_tx)
{
	uint8_t *hdr, *data, got[256];

	net_up(FEATURES | MRG);
	hdr = vtest_gpa(TX_BUF);
	data = vtest_gpa(TX_BUF + 0x100);
	memset(hdr, 0xff, VIRTIO_NET_HDR_SIZE); /* junk offload request */
	for (unsigned i = 0; i < 60; i++)
		data[i] = (uint8_t)i;
	/* Header, then the frame in two pieces. */
	vtest_desc(TXQ, 0, TX_BUF, VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(TXQ, 1, TX_BUF + 0x100, 20, VIRTQ_DESC_F_NEXT, 2);
	vtest_desc(TXQ, 2, TX_BUF + 0x100 + 20, 40, 0, 0);
	vtest_avail(TXQ, 0);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, TXQ);
	virtio_mmio_process(&net.mmio);
	ck_assert_uint_eq(vtest_used_idx(TXQ), 1);
	ck_assert_uint_eq(vtest_used_len(TXQ, 0), 0);
	ck_assert_int_eq(read(peer, got, sizeof(got)),
			 VIRTIO_NET_HDR_SIZE + 60);
	for (unsigned i = 0; i < VIRTIO_NET_HDR_SIZE; i++)
		ck_assert_uint_eq(got[i], 0);
	ck_assert_int_eq(memcmp(got + VIRTIO_NET_HDR_SIZE, data, 60), 0);
	/* Too short for a header: dropped, the buffer still comes back. */
	vtest_desc(TXQ, 3, TX_BUF, 5, 0, 0);
	vtest_avail(TXQ, 3);
	virtio_mmio_process(&net.mmio);
	ck_assert_uint_eq(vtest_used_idx(TXQ), 2);
	ck_assert_uint_eq(net.tx_dropped, 1);
	ck_assert_int_eq(virtio_mmio_live(&net.mmio), 1);
}
END_TEST

/* ---- a real TAP (root and /dev/net/tun) ---- */

#define TAP_NAME  "mvtest0"
#define TAP_NAME2 "mvtest1"

static int link_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return ret;
}

static void quiet_ipv6(const char *name)
{
	char path[128];
	int fd;

	/* Fewer stray router solicitations on the test link; best effort. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 name);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			(void)0;
		close(fd);
	}
}

static void test_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		       const char *payload)
{
	memset(f, 0, 60);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	memcpy(f + 14, payload, strlen(payload));
}

START_TEST(net_real_tap)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct virtio_net_cfg cfg;
	struct sockaddr_ll sll;
	struct irq_line irq;
	struct guest_mem *gm;
	uint8_t frame[60], got[2048];
	char err[256];
	int ps, ifindex, found = 0;

	if (!harness_is_root())
		HARNESS_SKIP("creating a TAP needs root (CAP_NET_ADMIN)");
	if (access("/dev/net/tun", R_OK | W_OK))
		HARNESS_SKIP("/dev/net/tun not available: %s", strerror(errno));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.tap, sizeof(cfg.tap), "%s", TAP_NAME);
	if (virtio_net_open(&net, &cfg, err, sizeof(err)))
		HARNESS_SKIP("cannot create TAP %s: %s", TAP_NAME, err);
	ck_assert_int_eq(net.mac[0] & 3, 2); /* derived: local, unicast */
	gm = vtest_ram();
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&net.mmio, gm, 0xc0004000, &irq),
			 0);
	ck_assert_uint_eq(vtest_driver_init(&net.mmio, FEATURES | MRG, 2) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	virtio_mmio_process(&net.mmio);
	quiet_ipv6(TAP_NAME);
	ck_assert_int_eq(link_up(TAP_NAME), 0);
	ifindex = (int)if_nametoindex(TAP_NAME);
	ck_assert_int_gt(ifindex, 0);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(ps, 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	ck_assert_int_eq(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);

	/* Guest -> TAP: the host sees the frame arrive on mvtest0. */
	test_frame(frame, bcast, net.mac, "microvm-tx");
	memset(vtest_gpa(TX_BUF), 0, VIRTIO_NET_HDR_SIZE);
	memcpy(vtest_gpa(TX_BUF + VIRTIO_NET_HDR_SIZE), frame, sizeof(frame));
	vtest_desc(TXQ, 0, TX_BUF, VIRTIO_NET_HDR_SIZE + sizeof(frame), 0, 0);
	vtest_avail(TXQ, 0);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, TXQ);
	virtio_mmio_process(&net.mmio);
	ck_assert_uint_eq(vtest_used_idx(TXQ), 1);
	for (int tries = 0; tries < 50 && !found; tries++) {
		struct pollfd p = {.fd = ps, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = recv(ps, got, sizeof(got), 0);
		found = n >= (ssize_t)sizeof(frame) &&
			!memcmp(got, frame, sizeof(frame));
	}
	ck_assert_msg(found, "transmitted frame not seen on " TAP_NAME);

	/* Host -> TAP -> guest. Other traffic may come first: keep
	 * offering buffers until our frame shows up. */
	test_frame(frame, bcast, (const uint8_t *)"\x02\x00\x00\x00\x00\x01",
		   "microvm-rx");
	ck_assert_int_eq(sendto(ps, frame, sizeof(frame), 0,
				(struct sockaddr *)&sll, sizeof(sll)),
			 (ssize_t)sizeof(frame));
	found = 0;
	for (unsigned i = 0; i < 12 && !found; i++) { /* < VTEST_QSZ */
		struct pollfd p = {.fd = virtio_net_tap_fd(&net),
				   .events = POLLIN};
		uint16_t before = vtest_used_idx(RXQ);

		post_rx(i, 2048);
		if (poll(&p, 1, 500) != 1)
			continue;
		virtio_net_rx(&net);
		if (vtest_used_idx(RXQ) == before)
			continue;
		found = !memcmp((uint8_t *)vtest_gpa(RX_BUF(i)) +
					VIRTIO_NET_HDR_SIZE,
				frame, sizeof(frame));
	}
	close(ps);
	ck_assert_msg(found, "frame sent on " TAP_NAME " not received");
}
END_TEST

/* The same contract on a real TAP: host frames sent while the guest has no
 * receive buffers wake the loop a bounded number of times (once per
 * arrival), not continuously; the frames reach the guest later. */
START_TEST(net_real_tap_pending_does_not_spin)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct epoll_event ev = {.data.u64 = 1};
	struct virtio_net_cfg cfg;
	struct sockaddr_ll sll;
	struct irq_line irq;
	uint8_t frame[60];
	char err[256];
	int ps, epfd, found = 0;

	if (!harness_is_root())
		HARNESS_SKIP("creating a TAP needs root (CAP_NET_ADMIN)");
	if (access("/dev/net/tun", R_OK | W_OK))
		HARNESS_SKIP("/dev/net/tun not available: %s", strerror(errno));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.tap, sizeof(cfg.tap), "%s", TAP_NAME2);
	if (virtio_net_open(&net, &cfg, err, sizeof(err)))
		HARNESS_SKIP("cannot create TAP %s: %s", TAP_NAME2, err);
	vtest_irq(&irq);
	ck_assert_int_eq(
		virtio_mmio_attach(&net.mmio, vtest_ram(), 0xc0004000, &irq),
		0);
	ck_assert_uint_eq(vtest_driver_init(&net.mmio, FEATURES | MRG, 2) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	virtio_mmio_process(&net.mmio);
	quiet_ipv6(TAP_NAME2);
	ck_assert_int_eq(link_up(TAP_NAME2), 0);
	epfd = epoll_create1(0);
	ck_assert_int_ge(epfd, 0);
	ev.events = virtio_net_poll_events(&net);
	ck_assert_int_eq(epoll_ctl(epfd, EPOLL_CTL_ADD, net.tap_fd, &ev), 0);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(ps, 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(TAP_NAME2);
	ck_assert_int_gt(sll.sll_ifindex, 0);
	ck_assert_int_eq(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);

	test_frame(frame, bcast, (const uint8_t *)"\x02\x00\x00\x00\x00\x02",
		   "microvm-pending");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sendto(ps, frame, sizeof(frame), 0,
					(struct sockaddr *)&sll, sizeof(sll)),
				 (ssize_t)sizeof(frame));
	/* Level-triggered, this is one wakeup per loop turn: thousands. */
	ck_assert_uint_le(net_loop_wakeups(epfd, 200), 10);
	ck_assert_uint_eq(vtest_used_idx(RXQ), 0);

	for (unsigned i = 0; i < 12; i++)
		post_rx(i, 2048);
	vtest_wr(&net.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, RXQ);
	virtio_mmio_process(&net.mmio);
	for (uint16_t u = 0; u < vtest_used_idx(RXQ); u++) {
		uint32_t id = vtest_used_id(RXQ, u);

		found += id < 12 && !memcmp((uint8_t *)vtest_gpa(RX_BUF(id)) +
						    VIRTIO_NET_HDR_SIZE,
					    frame, sizeof(frame));
	}
	ck_assert_int_eq(found, 3);
	close(ps);
	close(epfd);
}
END_TEST

Suite *virtio_net_suite(void);
Suite *virtio_net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tc = tcase_create("queues");
	TCase *tt = tcase_create("tap");

	tcase_add_checked_fixture(tc, net_setup, net_teardown);
	tcase_add_test(tc, net_config_mac);
	tcase_add_test(tc, net_rx_merge);
	tcase_add_test(tc, net_rx_waits_for_buffers);
	tcase_add_test(tc, net_rx_pending_does_not_spin);
	tcase_add_test(tc, net_rx_no_mrg);
	tcase_add_test(tc, net_rx_tiny_buffer_fails);
	tcase_add_test(tc, net_tx);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tt, net_setup, net_teardown);
	tcase_add_test(tt, net_real_tap);
	tcase_add_test(tt, net_real_tap_pending_does_not_spin);
	suite_add_tcase(s, tt);
	return s;
}
