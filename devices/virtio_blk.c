#include "devices/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/file.h"

#define VIRTIO_BLK_HDR_SIZE 16
/* Requests served per virtio_mmio_process() before yielding the event
 * loop to other devices (the rest is picked up on a self-kick). */
#define VIRTIO_BLK_BUDGET 256

/* Layout of struct virtio_blk_config up to blk_size. */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SEG_MAX	12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_SIZE	24

static void virtio_blk_config_read(void *opaque, uint64_t off, void *data,
				   uint32_t len)
{
	struct virtio_blk *b = opaque;
	uint8_t cfg[VIRTIO_BLK_CFG_SIZE] = {0};
	uint64_t cap = htole64(b->capacity);
	uint32_t seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	uint32_t blk_size = htole32(VIRTIO_BLK_SECTOR);

	memcpy(cfg + VIRTIO_BLK_CFG_CAPACITY, &cap, 8);
	memcpy(cfg + VIRTIO_BLK_CFG_SEG_MAX, &seg_max, 4);
	memcpy(cfg + VIRTIO_BLK_CFG_BLK_SIZE, &blk_size, 4);
	virtio_mmio_config_copy(cfg, sizeof(cfg), off, data, len);
}

/*
 * Move `len` bytes between the file at `pos` and the iovecs, starting
 * `skip` bytes into them. Loops over short transfers; a read that hits
 * end of file (the image shrank under us) is an error.
 */
static int virtio_blk_rw(struct virtio_blk *b, int write,
			 const struct iovec *src, unsigned n, size_t skip,
			 size_t len, uint64_t pos)
{
	struct iovec iov[VIRTQ_MAX_SIZE];
	unsigned cnt = 0, first = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		iov[cnt].iov_base = (uint8_t *)src[i].iov_base + skip;
		iov[cnt].iov_len = l;
		cnt++;
		len -= l;
		skip = 0;
	}
	if (len)
		return -EINVAL; /* callers size len from the chain */
	while (first < cnt) {
		ssize_t r;

		if (write)
			r = pwritev(b->fd, iov + first, (int)(cnt - first),
				    (off_t)pos);
		else
			r = preadv(b->fd, iov + first, (int)(cnt - first),
				   (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		pos += (uint64_t)r;
		while (first < cnt && (size_t)r >= iov[first].iov_len) {
			r -= (ssize_t)iov[first].iov_len;
			first++;
		}
		if (first < cnt) {
			iov[first].iov_base =
				(uint8_t *)iov[first].iov_base + r;
			iov[first].iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* [sector, sector + len/512) inside the disk; len a multiple of 512. */
static int virtio_blk_range_ok(const struct virtio_blk *b, uint64_t sector,
			       uint64_t len)
{
	uint64_t end;

	if (len % VIRTIO_BLK_SECTOR)
		return 0;
	if (__builtin_add_overflow(sector, len / VIRTIO_BLK_SECTOR, &end))
		return 0;
	return end <= b->capacity;
}

static void virtio_blk_io_error(struct virtio_blk *b, const char *what,
				uint64_t sector, int err)
{
	log_ratelimited(&b->io_rl, LOG_WARN,
			"virtio-blk %s: %s at sector %" PRIu64 ": %s", b->path,
			what, sector, strerror(-err));
}

/*
 * Serve one request; returns the bytes written into the writable part
 * (status byte included), or -EINVAL for a chain that is not a request.
 */
static int64_t virtio_blk_request(struct virtio_blk *b,
				  const struct virtq_chain *c)
{
	const struct iovec *in = c->iov + c->n_out;
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE], status = VIRTIO_BLK_S_OK;
	uint64_t sector, data_in, data_out, written = 0;
	uint32_t type;
	int err;

	if (c->out_len < VIRTIO_BLK_HDR_SIZE || c->in_len < 1)
		return -EINVAL;
	virtq_iov_to_buf(c->iov, c->n_out, 0, hdr, sizeof(hdr));
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);
	data_in = c->in_len - 1;
	data_out = c->out_len - VIRTIO_BLK_HDR_SIZE;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (!virtio_blk_range_ok(b, sector, data_in)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		err = virtio_blk_rw(b, 0, in, c->n_in, 0, data_in,
				    sector * VIRTIO_BLK_SECTOR);
		if (err) {
			virtio_blk_io_error(b, "read", sector, err);
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		written = data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		if (b->ro || !virtio_blk_range_ok(b, sector, data_out)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		err = virtio_blk_rw(b, 1, c->iov, c->n_out, VIRTIO_BLK_HDR_SIZE,
				    data_out, sector * VIRTIO_BLK_SECTOR);
		/* Without FLUSH negotiated the driver expects each write
		 * to be stable when it completes (write-through). */
		if (!err &&
		    !virtio_mmio_negotiated(&b->mmio, VIRTIO_BLK_F_FLUSH) &&
		    fdatasync(b->fd))
			err = -errno;
		if (err) {
			virtio_blk_io_error(b, "write", sector, err);
			status = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->ro && fdatasync(b->fd)) {
			virtio_blk_io_error(b, "flush", 0, -errno);
			status = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = data_in < VIRTIO_BLK_ID_BYTES ? data_in
							: VIRTIO_BLK_ID_BYTES;
		virtq_iov_from_buf(in, c->n_in, 0, b->id, written);
		break;
	default: status = VIRTIO_BLK_S_UNSUPP; break;
	}
	virtq_iov_from_buf(in, c->n_in, c->in_len - 1, &status, 1);
	return (int64_t)written + 1;
}

static void virtio_blk_notify(void *opaque, unsigned qi)
{
	struct virtio_blk *b = opaque;
	struct virtq *q = virtio_mmio_queue(&b->mmio, qi);
	unsigned budget = VIRTIO_BLK_BUDGET;
	int r = 0;

	while (budget && (r = virtq_pop(q, &b->chain)) > 0) {
		int64_t written = virtio_blk_request(b, &b->chain);

		if (written < 0) {
			virtio_mmio_fail(&b->mmio, "block request without a "
						   "header or status byte");
			return;
		}
		virtq_push(q, b->chain.head, (uint32_t)written);
		budget--;
	}
	if (!budget)
		virtio_mmio_kick(&b->mmio);
	else if (r < 0) {
		virtio_mmio_fail(&b->mmio, q->err);
		return;
	}
	virtio_mmio_used(&b->mmio, qi);
}

/* Snapshot: no state beyond the transport's (the capacity comes from the
 * file); what the guest wrote goes to the disk before the snapshot is
 * taken, so a restore (or a copy of the file) sees it. */
static ssize_t virtio_blk_save(void *opaque, void *buf, size_t len)
{
	struct virtio_blk *b = opaque;

	(void)buf;
	(void)len;
	if (!b->ro && b->fd >= 0 && fdatasync(b->fd))
		return -errno;
	return 0;
}

static const struct virtio_mmio_ops virtio_blk_ops = {
	.device_id = VIRTIO_BLK_DEVICE_ID,
	.num_queues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_SIZE,
	.config_read = virtio_blk_config_read,
	.notify = virtio_blk_notify,
	.save = virtio_blk_save,
	.load = NULL, /* nothing to load: save writes no bytes */
};

static int virtio_blk_open_error(int err, const char *path, char *msg,
				 size_t len)
{
	switch (err) {
	case -ENOENT:
		snprintf(msg, len, "disk image %s: no such file", path);
		break;
	case -EACCES:
	case -EPERM:
		snprintf(msg, len,
			 "disk image %s: permission denied (add ,ro to "
			 "attach it read-only)",
			 path);
		break;
	case -EROFS:
		snprintf(msg, len,
			 "disk image %s is on a read-only file system: add ,ro",
			 path);
		break;
	case -EISDIR:
		snprintf(msg, len, "disk image %s is a directory", path);
		break;
	default: snprintf(msg, len, "disk image %s: %s", path, strerror(-err));
	}
	return err;
}

int virtio_blk_open(struct virtio_blk *b, const char *path, int ro, char *err,
		    size_t errlen)
{
	size_t n = strlen(path);
	uint64_t size, features;
	struct stat st;
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	/* The command line checked both already (cli_parse_disk). */
	if (!n || n >= sizeof(b->path)) {
		snprintf(err, errlen,
			 "disk image path is empty or longer than %zu bytes",
			 sizeof(b->path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(b->path, path, n + 1);
	b->ro = !!ro;

	/* Type checked before the open: a FIFO opened read-only would wait
	 * for a writer forever. */
	ret = file_open_input(b->path, b->ro ? O_RDONLY : O_RDWR,
			      FILE_ALLOW_BLOCK, &st);
	if (ret == -EINVAL) {
		snprintf(err, errlen,
			 "disk image %s is not a regular file or block device "
			 "(it is %s)",
			 b->path, file_type_name(st.st_mode));
		return ret;
	}
	if (ret < 0)
		return virtio_blk_open_error(ret, b->path, err, errlen);
	b->fd = ret;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else { /* a block device: file_open_input allows nothing else */
		if (ioctl(b->fd, BLKGETSIZE64, &size)) {
			ret = virtio_blk_open_error(-errno, b->path, err,
						    errlen);
			goto err_close;
		}
	}
	if (!size || size % VIRTIO_BLK_SECTOR) {
		snprintf(err, errlen,
			 "disk image %s: size %" PRIu64
			 " bytes is not a nonzero multiple of 512 (resize it, "
			 "e.g. truncate -s %" PRIu64 " %s)",
			 b->path, size,
			 (size / VIRTIO_BLK_SECTOR + 1) * VIRTIO_BLK_SECTOR,
			 b->path);
		ret = -EINVAL;
		goto err_close;
	}
	if (flock(b->fd, (b->ro ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen,
				 "disk image %s is in use by another process "
				 "(locked)",
				 b->path);
		else
			snprintf(err, errlen, "disk image %s: lock: %s",
				 b->path, strerror(errno));
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto err_close;
	}
	b->capacity = size / VIRTIO_BLK_SECTOR;
	/* A stable serial per image: its device and inode numbers. */
	snprintf(b->id, sizeof(b->id), "mvm%" PRIx64 "-%" PRIx64,
		 (uint64_t)st.st_dev, (uint64_t)st.st_ino);

	features = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		   (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		   (1ULL << VIRTIO_BLK_F_FLUSH) |
		   (1ULL << VIRTIO_F_RING_EVENT_IDX) |
		   (1ULL << VIRTIO_F_INDIRECT_DESC);
	if (b->ro)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	virtio_mmio_init(&b->mmio, &virtio_blk_ops, b, "virtio-blk", features);
	return 0;

err_close:
	close(b->fd);
	b->fd = -1;
	return ret;
}

void virtio_blk_close(struct virtio_blk *b)
{
	if (b->fd < 0)
		return;
	if (!b->ro && fdatasync(b->fd))
		log_warn("virtio-blk %s: fdatasync at exit: %s", b->path,
			 strerror(errno));
	close(b->fd);
	b->fd = -1;
	virtio_mmio_destroy(&b->mmio);
}
