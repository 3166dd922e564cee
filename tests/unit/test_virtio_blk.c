#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "tests/harness/harness.h"
#include "tests/unit/vtest.h"

uint32_t vtest_rd(struct virtio_mmio_dev *d, uint64_t off);
uint32_t vtest_driver_init(struct virtio_mmio_dev *d, uint64_t features,
			   unsigned nq);
uint16_t vtest_used_idx(unsigned q);
uint32_t vtest_used_len(unsigned q, uint16_t slot);

#define SECTORS	   8
#define HDR_GPA	   VTEST_DATA
#define BUF_GPA	   (VTEST_DATA + 0x1000)
#define STATUS_GPA (VTEST_DATA + 0x100)
#define FEATURES                                                       \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BLK_F_FLUSH) | \
	 (1ULL << VIRTIO_F_RING_EVENT_IDX))

static char path[64];
static struct virtio_blk blk;
static struct guest_mem *bgm;
static uint16_t reqs;

/* A file of SECTORS sectors, sector i filled with the byte 'a' + i. */
static void make_image(size_t size)
{
	uint8_t sec[512];
	int fd;

	strcpy(path, "/tmp/microvm-blk-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	for (size_t off = 0; off < size; off += sizeof(sec)) {
		size_t n = size - off < sizeof(sec) ? size - off : sizeof(sec);

		memset(sec, 'a' + (int)(off / 512), sizeof(sec));
		ck_assert_int_eq(pwrite(fd, sec, n, (off_t)off), (ssize_t)n);
	}
	close(fd);
}

static void blk_attach(const char *spec, int ro)
{
	char err[256] = "";
	struct irq_line irq;

	ck_assert_msg(virtio_blk_open(&blk, spec, ro, err, sizeof(err)) == 0,
		      "%s", err);
	vtest_irq(&irq);
	ck_assert_int_eq(virtio_mmio_attach(&blk.mmio, bgm, 0xc0001000, &irq),
			 0);
	ck_assert_uint_eq(vtest_driver_init(&blk.mmio, FEATURES, 1) &
				  VIRTIO_STATUS_DRIVER_OK,
			  VIRTIO_STATUS_DRIVER_OK);
	virtio_mmio_process(&blk.mmio);
	reqs = 0;
}

static void blk_setup(void)
{
	bgm = vtest_ram();
	make_image(SECTORS * 512);
	memset(&blk, 0, sizeof(blk));
	blk.fd = -1;
}

static void blk_teardown(void)
{
	virtio_blk_close(&blk);
	unlink(path);
	vtest_ram_free();
}

/* Issue one request: header, `len` bytes of data at BUF_GPA (device
 * writable for IN/GET_ID), status byte. Returns the status; *used gets
 * the used length. */
static int blk_req(uint32_t type, uint64_t sector, uint32_t len, int dev_write,
		   uint32_t *used)
{
	uint8_t *hdr = vtest_gpa(HDR_GPA);
	uint8_t *status = vtest_gpa(STATUS_GPA);
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);
	unsigned d = 0;

	memset(hdr, 0, 16);
	memcpy(hdr, &t, 4);
	memcpy(hdr + 8, &s, 8);
	*status = 0xee;
	vtest_desc(0, d, HDR_GPA, 16, VIRTQ_DESC_F_NEXT, d + 1);
	d++;
	if (len) {
		vtest_desc(0, d, BUF_GPA, len,
			   VIRTQ_DESC_F_NEXT |
				   (dev_write ? VIRTQ_DESC_F_WRITE : 0),
			   d + 1);
		d++;
	}
	vtest_desc(0, d, STATUS_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	vtest_avail(0, 0);
	vtest_wr(&blk.mmio, VIRTIO_MMIO_REG_QUEUE_NOTIFY, 0);
	virtio_mmio_process(&blk.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), (uint16_t)(reqs + 1));
	*used = vtest_used_len(0, reqs);
	reqs++;
	return *status;
}

static void file_sector(unsigned s, uint8_t *buf)
{
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 512, (off_t)s * 512), 512);
	close(fd);
}

START_TEST(blk_config)
{
	uint32_t lo, hi;

	blk_attach(path, 0);
	ck_assert_uint_eq(vtest_rd(&blk.mmio, VIRTIO_MMIO_REG_DEVICE_ID), 2);
	lo = vtest_rd(&blk.mmio, 0x100);
	hi = vtest_rd(&blk.mmio, 0x104);
	ck_assert_uint_eq(((uint64_t)hi << 32) | lo, SECTORS);
	ck_assert_uint_eq(vtest_rd(&blk.mmio, 0x100 + 12), VIRTIO_BLK_SEG_MAX);
	ck_assert_uint_eq(vtest_rd(&blk.mmio, 0x100 + 20), 512);
	vtest_wr(&blk.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	lo = vtest_rd(&blk.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES);
	ck_assert_uint_ne(lo & (1U << VIRTIO_BLK_F_FLUSH), 0);
	ck_assert_uint_eq(lo & (1U << VIRTIO_BLK_F_RO), 0);
}
END_TEST

START_TEST(blk_read_write_flush)
{
	uint8_t *buf = vtest_gpa(BUF_GPA), sec[512];
	uint32_t used;

	blk_attach(path, 0);
	/* Read sectors 1 and 2. */
	memset(buf, 0, 1024);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, 1, 1024, 1, &used),
			 VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1025);
	ck_assert_uint_eq(buf[0], 'b');
	ck_assert_uint_eq(buf[511], 'b');
	ck_assert_uint_eq(buf[512], 'c');
	ck_assert_uint_eq(buf[1023], 'c');
	/* Write sector 5; the file changes, its neighbours do not. */
	memset(buf, 'Z', 512);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_OUT, 5, 512, 0, &used),
			 VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1);
	file_sector(5, sec);
	ck_assert_uint_eq(sec[0], 'Z');
	ck_assert_uint_eq(sec[511], 'Z');
	file_sector(4, sec);
	ck_assert_uint_eq(sec[511], 'e');
	file_sector(6, sec);
	ck_assert_uint_eq(sec[0], 'g');
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used),
			 VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 1);
	/* The last sector is in range. */
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, SECTORS - 1, 512, 1, &used),
			 VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(buf[0], 'a' + SECTORS - 1);
}
END_TEST

START_TEST(blk_any_layout)
{
	/* Header split over two descriptors, data over two, status alone. */
	uint8_t *hdr = vtest_gpa(HDR_GPA), *buf = vtest_gpa(BUF_GPA);
	uint32_t t = htole32(VIRTIO_BLK_T_IN);
	uint64_t s = htole64(3);

	blk_attach(path, 0);
	memset(hdr, 0, 16);
	memcpy(hdr, &t, 4);
	memcpy(hdr + 8, &s, 8);
	vtest_desc(0, 0, HDR_GPA, 5, VIRTQ_DESC_F_NEXT, 1);
	vtest_desc(0, 1, HDR_GPA + 5, 11, VIRTQ_DESC_F_NEXT, 2);
	vtest_desc(0, 2, BUF_GPA, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
		   3);
	/* 512 bytes of data, then the status byte in the same buffer. */
	vtest_desc(0, 3, BUF_GPA + 100, 413, VIRTQ_DESC_F_WRITE, 0);
	buf[512] = 0xee;
	vtest_avail(0, 0);
	virtio_mmio_process(&blk.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 1);
	ck_assert_uint_eq(vtest_used_len(0, 0), 513);
	ck_assert_uint_eq(buf[0], 'd');
	ck_assert_uint_eq(buf[511], 'd');
	ck_assert_uint_eq(buf[512], VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(blk_read_only)
{
	uint8_t *buf = vtest_gpa(BUF_GPA), sec[512];
	uint32_t used, feat;

	blk_attach(path, 1);
	ck_assert_int_eq(blk.ro, 1);
	vtest_wr(&blk.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES_SEL, 0);
	feat = vtest_rd(&blk.mmio, VIRTIO_MMIO_REG_DEVICE_FEATURES);
	ck_assert_uint_ne(feat & (1U << VIRTIO_BLK_F_RO), 0);
	memset(buf, 'Z', 512);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_OUT, 2, 512, 0, &used),
			 VIRTIO_BLK_S_IOERR);
	file_sector(2, sec);
	for (unsigned i = 0; i < 512; i++)
		ck_assert_uint_eq(sec[i], 'c');
	/* Reads still work. */
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, 2, 512, 1, &used),
			 VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(buf[0], 'c');
}
END_TEST

START_TEST(blk_out_of_range)
{
	uint8_t *buf = vtest_gpa(BUF_GPA), sec[512];
	uint32_t used;

	blk_attach(path, 0);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, SECTORS, 512, 1, &used),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, SECTORS - 1, 1024, 1, &used),
			 VIRTIO_BLK_S_IOERR);
	/* sector + count wraps around 2^64. */
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, UINT64_MAX, 512, 1, &used),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(
		blk_req(VIRTIO_BLK_T_IN, UINT64_MAX / 512, 512, 1, &used),
		VIRTIO_BLK_S_IOERR);
	memset(buf, 'Z', 1024);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_OUT, SECTORS - 1, 1024, 0, &used),
			 VIRTIO_BLK_S_IOERR);
	file_sector(SECTORS - 1, sec);
	ck_assert_uint_eq(sec[0], 'a' + SECTORS - 1);
	/* Data not a multiple of 512. */
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_IN, 0, 100, 1, &used),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_OUT, 0, 513, 0, &used),
			 VIRTIO_BLK_S_IOERR);
	file_sector(0, sec);
	ck_assert_uint_eq(sec[0], 'a');
}
END_TEST

START_TEST(blk_get_id_unsupp)
{
	uint8_t *buf = vtest_gpa(BUF_GPA);
	uint32_t used;

	blk_attach(path, 0);
	memset(buf, 0xff, 64);
	ck_assert_int_eq(blk_req(VIRTIO_BLK_T_GET_ID, 0, 20, 1, &used),
			 VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used, 21);
	ck_assert_int_eq(memcmp(buf, "mvm", 3), 0);
	ck_assert_int_eq(memcmp(buf, blk.id, strlen(blk.id)), 0);
	ck_assert_uint_eq(buf[20], 0xff); /* nothing past the 20 bytes */
	/* Discard (11) and write zeroes (13) are not offered. */
	ck_assert_int_eq(blk_req(11, 0, 0, 0, &used), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(blk_req(13, 0, 0, 0, &used), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(virtio_mmio_live(&blk.mmio), 1);
}
END_TEST

START_TEST(blk_malformed)
{
	blk_attach(path, 0);
	/* A header but no writable status byte. */
	vtest_desc(0, 0, HDR_GPA, 16, 0, 0);
	vtest_avail(0, 0);
	virtio_mmio_process(&blk.mmio);
	ck_assert_uint_eq(vtest_used_idx(0), 0);
	ck_assert_uint_ne(vtest_rd(&blk.mmio, VIRTIO_MMIO_REG_STATUS) &
				  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  0);
}
END_TEST

START_TEST(blk_open_errors)
{
	char err[256], name[300];
	struct virtio_blk b2;
	int fd;

	/* Size not a multiple of 512: the error names file and size. */
	ck_assert_int_eq(truncate(path, 1000), 0);
	ck_assert_int_eq(virtio_blk_open(&b2, path, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "1000"));
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(virtio_blk_open(&b2, path, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(truncate(path, 4096), 0);
	/* Missing file, empty name (the command line never passes one), a
	 * directory. A ",ro" suffix is the command line's business: here it
	 * is part of the name. */
	ck_assert_int_eq(virtio_blk_open(&b2, "/nonexistent/disk.img", 0, err,
					 sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/disk.img"));
	ck_assert_int_eq(virtio_blk_open(&b2, "", 0, err, sizeof(err)),
			 -ENAMETOOLONG);
	snprintf(name, sizeof(name), "%s,ro", path);
	ck_assert_int_eq(virtio_blk_open(&b2, name, 0, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_ne(virtio_blk_open(&b2, "/tmp", 1, err, sizeof(err)), 0);
	/* Locked by someone else. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_int_eq(virtio_blk_open(&b2, path, 0, err, sizeof(err)),
			 -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	close(fd);
	ck_assert_int_eq(virtio_blk_open(&b2, path, 0, err, sizeof(err)), 0);
	ck_assert_uint_eq(b2.capacity, 8);
	virtio_blk_close(&b2);
}
END_TEST

Suite *virtio_blk_suite(void);
Suite *virtio_blk_suite(void)
{
	Suite *s = suite_create("virtio_blk");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, blk_setup, blk_teardown);
	tcase_add_test(tc, blk_config);
	tcase_add_test(tc, blk_read_write_flush);
	tcase_add_test(tc, blk_any_layout);
	tcase_add_test(tc, blk_read_only);
	tcase_add_test(tc, blk_out_of_range);
	tcase_add_test(tc, blk_get_id_unsupp);
	tcase_add_test(tc, blk_malformed);
	tcase_add_test(tc, blk_open_errors);
	suite_add_tcase(s, tc);
	return s;
}
