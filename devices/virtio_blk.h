/*
 * virtio-blk (virtio 1.2 section 5.2) over a raw image file or block device.
 *
 * One request queue. Requests run on the event loop thread (see
 * devices/virtio_mmio.h): IN with preadv, OUT with pwritev, FLUSH with
 * fdatasync, GET_ID. A read-only disk answers OUT with IOERR and never
 * touches the file. Sector ranges are checked against the capacity with
 * overflow checks (IOERR); a request without a header or a status byte is
 * a guest error (DEVICE_NEEDS_RESET).
 *
 * VMM wiring:
 *   virtio_blk_open(&blk, "disk.img", ro, err, sizeof(err));
 *   virtio_mmio_attach(&blk.mmio, gm, base, &irq);
 *   bus_add(mmio_bus, base, VIRTIO_MMIO_SLOT_SIZE, &virtio_mmio_bus_ops,
 *           &blk.mmio, "virtio-blk");
 *   poll virtio_mmio_event_fd(&blk.mmio) -> virtio_mmio_process(&blk.mmio)
 *   at exit: virtio_blk_close(&blk) (fdatasync unless read-only)
 */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "lib/log.h"

#define VIRTIO_BLK_DEVICE_ID 2

#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO	      5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR     512
#define VIRTIO_BLK_ID_BYTES   20
#define VIRTIO_BLK_QUEUE_SIZE 256
/* Data segments per request: the queue size less header and status. */
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)

struct virtio_blk {
	struct virtio_mmio_dev mmio; /* register this with the bus */
	int fd;
	int ro;
	uint64_t capacity; /* in 512-byte sectors */
	char path[PATH_MAX];
	char id[VIRTIO_BLK_ID_BYTES + 1];
	struct virtq_chain chain;
	struct log_ratelimit io_rl;
};

/*
 * Open the backing for `--disk FILE[,ro]` (split by the command line
 * parser): `path` as it is, read-only when `ro` is nonzero. Opens O_RDWR (or
 * O_RDONLY), takes an advisory lock (shared when read-only, exclusive
 * otherwise) so two VMs cannot write one image, and checks the size is a
 * nonzero multiple of 512. Initializes b->mmio (not yet attached). On
 * failure returns a negative errno and writes a one-line reason naming the
 * file into err.
 */
int virtio_blk_open(struct virtio_blk *b, const char *path, int ro, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* fdatasync (unless read-only), close, destroy the transport. */
void virtio_blk_close(struct virtio_blk *b);

#endif
