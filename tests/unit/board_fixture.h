/*
 * The board test fixture shared by tests/unit/x86/test_board.c and
 * tests/unit/arm64/test_board_arm64.c: the board (vmm/board.h) built from
 * a parsed command line without KVM, with fake hooks that record the
 * interrupt routing, ioeventfd/irqfd requests and the event sources handed
 * to the loop. Test code only; the state is global, one test at a time.
 */
#ifndef TESTS_UNIT_BOARD_FIXTURE_H
#define TESTS_UNIT_BOARD_FIXTURE_H

#include <stdint.h>

#include "devices/bus.h"
#include "mem/guest_mem.h"
#include "vmm/board.h"
#include "vmm/cli.h"

#define BT_MAX 64

/* What the fake VM and loop saw. */
struct bt_fake {
	int irqfd_ok;	/* irqfd hands out eventfds (else -ENOSYS) */
	int ioevent_ok; /* ioeventfd accepts (else -ENOSYS) */
	int watch_fail; /* fail the watch call with this number (1-based) */
	unsigned irq_sets, last_gsi;
	int last_level;
	void *irq_opaque;
	unsigned nr_irqfd;
	unsigned irqfd_gsi[BT_MAX];
	int irqfd_fd[BT_MAX];
	unsigned nr_ioevent;
	int ioevent_fd[BT_MAX];
	uint64_t ioevent_addr[BT_MAX];
	unsigned ioevent_len[BT_MAX];
	unsigned nr_watch;
	struct event_source watched[BT_MAX];
	unsigned resets;
};

extern struct bt_fake bt_seen;	   /* what the fake hooks saw */
extern struct bt_fake bt_vm_token; /* what the board must pass as `vm` */
extern const struct board_hooks bt_hooks;
extern struct guest_mem bt_gm;
extern struct bus bt_pio, bt_mmio;
extern struct board bt_board;
extern char bt_err[512];
extern char bt_disk[2][64]; /* two disk images made by bt_disks */

/* Two small disk images in bt_disk (removed by bt_disks_rm). */
void bt_disks(void);
void bt_disks_rm(void);
/* cli_parse of the NULL-terminated arguments into o; must succeed. */
void bt_parse(struct cli_opts *o, const char *first, ...);
/* A fresh board, buses and fakes; returns board_build's result. */
int bt_build(const struct cli_opts *o);
/* Same, with the fakes already set up by the caller. */
int bt_build_keep(const struct cli_opts *o);

#endif
