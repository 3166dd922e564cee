#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtq.h"
#include "tests/harness/harness.h"

/* A test guest: RAM_SIZE bytes of RAM at RAM_BASE, hand-built rings. */
#define RAM_BASE  0x100000ULL
#define RAM_SIZE  0x40000ULL
#define QSZ	  8
#define DESC_GPA  (RAM_BASE + 0x1000)
#define AVAIL_GPA (RAM_BASE + 0x2000)
#define USED_GPA  (RAM_BASE + 0x3000)
#define DATA_GPA  (RAM_BASE + 0x10000)

static struct guest_mem tgm;
static uint8_t *ram;
static struct virtq tq;
static struct virtq_chain tch;

static void *gpa(uint64_t a)
{
	return ram + (a - RAM_BASE);
}

static void vq_setup(void)
{
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ram, MAP_FAILED);
	memset(&tgm, 0, sizeof(tgm));
	tgm.nr = 1;
	tgm.regions[0] =
		(struct region){.gpa = RAM_BASE, .size = RAM_SIZE, .hva = ram};
	virtq_init(&tq, &tgm);
}

static void vq_teardown(void)
{
	munmap(ram, RAM_SIZE);
}

static void set_desc_at(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	uint8_t *d = gpa(table + 16ULL * i);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &f, 2);
	memcpy(d + 14, &n, 2);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	set_desc_at(DESC_GPA, i, addr, len, flags, next);
}

static void put16(uint64_t a, uint16_t v)
{
	v = htole16(v);
	memcpy(gpa(a), &v, 2);
}

static uint16_t get16(uint64_t a)
{
	uint16_t v;

	memcpy(&v, gpa(a), 2);
	return le16toh(v);
}

static uint32_t get32(uint64_t a)
{
	uint32_t v;

	memcpy(&v, gpa(a), 4);
	return le32toh(v);
}

/* Make `head` available as ring entry number `slot`, then bump idx. */
static void avail_add(uint16_t slot, uint16_t head)
{
	put16(AVAIL_GPA + 4 + 2 * (slot % QSZ), head);
	put16(AVAIL_GPA + 2, (uint16_t)(slot + 1));
}

static void setup_q(int event_idx, int indirect)
{
	ck_assert_int_eq(virtq_setup(&tq, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA,
				     event_idx, indirect),
			 0);
}

START_TEST(virtq_good_chain)
{
	setup_q(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 0); /* empty */
	set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 3);
	set_desc(3, DATA_GPA + 0x100, 100, VIRTQ_DESC_F_NEXT, 5);
	set_desc(5, DATA_GPA + 0x1000, 513, VIRTQ_DESC_F_WRITE, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.head, 0);
	ck_assert_uint_eq(tch.n_out, 2);
	ck_assert_uint_eq(tch.n_in, 1);
	ck_assert_uint_eq(tch.out_len, 116);
	ck_assert_uint_eq(tch.in_len, 513);
	ck_assert_ptr_eq(tch.iov[0].iov_base, gpa(DATA_GPA));
	ck_assert_ptr_eq(tch.iov[1].iov_base, gpa(DATA_GPA + 0x100));
	ck_assert_ptr_eq(tch.iov[2].iov_base, gpa(DATA_GPA + 0x1000));
	ck_assert_uint_eq(tch.iov[2].iov_len, 513);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 0);
	virtq_push(&tq, 0, 77);
	ck_assert_uint_eq(get16(USED_GPA + 2), 1);
	ck_assert_uint_eq(get32(USED_GPA + 4), 0);
	ck_assert_uint_eq(get32(USED_GPA + 8), 77);
	/* Zero-length descriptors contribute no iovec. */
	set_desc(1, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA, 8, 0, 0);
	avail_add(1, 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.n_out, 1);
	ck_assert_uint_eq(tch.out_len, 8);
}
END_TEST

START_TEST(virtq_full_length_chain)
{
	/* Exactly queue-size descriptors is legal. */
	setup_q(0, 0);
	for (unsigned i = 0; i < QSZ; i++)
		set_desc(i, DATA_GPA + 64 * i, 64,
			 i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.n_out, QSZ);
}
END_TEST

START_TEST(virtq_loop)
{
	setup_q(0, 0);
	set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	ck_assert_ptr_nonnull(tq.err);
	/* Broken stays broken: nothing more is read. */
	set_desc(1, DATA_GPA, 16, 0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* A self loop. */
	setup_q(0, 0);
	set_desc(2, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	avail_add(0, 2);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
}
END_TEST

START_TEST(virtq_bad_indices)
{
	setup_q(0, 0);
	avail_add(0, QSZ); /* head out of range */
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	setup_q(0, 0);
	set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, QSZ); /* next */
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
}
END_TEST

START_TEST(virtq_write_then_read)
{
	setup_q(0, 0);
	set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA + 16, 16, 0, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
}
END_TEST

START_TEST(virtq_bad_addresses)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{RAM_BASE + RAM_SIZE, 1},     /* just past RAM */
		{RAM_BASE + RAM_SIZE - 4, 5}, /* straddles the end */
		{RAM_BASE - 1, 2},	      /* straddles the start */
		{0, 16},		      /* below RAM */
		{UINT64_MAX - 10, 100},	      /* addr + len wraps */
		{UINT64_MAX, 1},	      /* last byte */
		{RAM_BASE + 16, UINT32_MAX},  /* huge length */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup_q(0, 0);
		set_desc(0, bad[i].addr, bad[i].len, 0, 0);
		avail_add(0, 0);
		ck_assert_msg(virtq_pop(&tq, &tch) == -EINVAL, "case %u", i);
	}
	/* The last byte of RAM is fine. */
	setup_q(0, 0);
	set_desc(0, RAM_BASE + RAM_SIZE - 1, 1, 0, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
}
END_TEST

START_TEST(virtq_indirect)
{
	const uint64_t table = DATA_GPA + 0x8000;

	setup_q(0, 1);
	set_desc_at(table, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc_at(table, 2, DATA_GPA + 0x100, 32, VIRTQ_DESC_F_NEXT, 1);
	set_desc_at(table, 1, DATA_GPA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	/* One direct descriptor, then the indirect one (legal). */
	set_desc(4, DATA_GPA + 0x300, 8, VIRTQ_DESC_F_NEXT, 6);
	set_desc(6, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 4);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.head, 4);
	ck_assert_uint_eq(tch.n_out, 3);
	ck_assert_uint_eq(tch.n_in, 1);
	ck_assert_ptr_eq(tch.iov[0].iov_base, gpa(DATA_GPA + 0x300));
	ck_assert_ptr_eq(tch.iov[1].iov_base, gpa(DATA_GPA));
	ck_assert_ptr_eq(tch.iov[2].iov_base, gpa(DATA_GPA + 0x100));
	ck_assert_ptr_eq(tch.iov[3].iov_base, gpa(DATA_GPA + 0x200));
	ck_assert_uint_eq(tch.in_len, 1);
}
END_TEST

START_TEST(virtq_indirect_bad)
{
	const uint64_t table = DATA_GPA + 0x8000;

	/* Not negotiated. */
	setup_q(0, 0);
	set_desc_at(table, 0, DATA_GPA, 16, 0, 0);
	set_desc(0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* INDIRECT together with NEXT. */
	setup_q(0, 1);
	set_desc(0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 16, 0, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* Length not a multiple of 16, and zero. */
	setup_q(0, 1);
	set_desc(0, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	setup_q(0, 1);
	set_desc(0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* Too long (more than 256 entries). */
	setup_q(0, 1);
	set_desc(0, table, 257 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* Table past the end of RAM. */
	setup_q(0, 1);
	set_desc(0, RAM_BASE + RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* Table address wraps. */
	setup_q(0, 1);
	set_desc(0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* Nested. */
	setup_q(0, 1);
	set_desc_at(table, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* Loop inside the table. */
	setup_q(0, 1);
	set_desc_at(table, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc_at(table, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	/* next beyond the table. */
	setup_q(0, 1);
	set_desc_at(table, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
}
END_TEST

START_TEST(virtq_ring_placement)
{
	const uint64_t end = RAM_BASE + RAM_SIZE;
	const uint64_t dlen = 16 * QSZ, alen = 4 + 2 * QSZ + 2;
	const uint64_t ulen = 4 + 8 * QSZ; /* no avail_event: 4-aligned */
	struct {
		uint64_t d, a, u;
		int event_idx;
	} at_end[] = {
		{end - dlen, AVAIL_GPA, USED_GPA, 1},
		{DESC_GPA, end - alen, USED_GPA, 1},
		{DESC_GPA, AVAIL_GPA, end - ulen, 0},
	};

	/* Each area ending exactly at the end of RAM fits; with RAM one
	 * byte shorter the same placement is rejected. */
	for (unsigned i = 0; i < 3; i++) {
		tgm.regions[0].size = RAM_SIZE;
		ck_assert_int_eq(virtq_setup(&tq, QSZ, at_end[i].d, at_end[i].a,
					     at_end[i].u, at_end[i].event_idx,
					     0),
				 0);
		ck_assert_int_eq(virtq_ready(&tq), 1);
		tgm.regions[0].size = RAM_SIZE - 1;
		ck_assert_int_eq(virtq_setup(&tq, QSZ, at_end[i].d, at_end[i].a,
					     at_end[i].u, at_end[i].event_idx,
					     0),
				 -EINVAL);
		ck_assert_int_eq(virtq_ready(&tq), 0);
	}
	tgm.regions[0].size = RAM_SIZE;
	/* The used ring's avail_event counts only with EVENT_IDX. */
	ck_assert_int_eq(
		virtq_setup(&tq, QSZ, DESC_GPA, AVAIL_GPA, end - ulen, 1, 0),
		-EINVAL);
	/* Misaligned areas, bad sizes, addresses that wrap. */
	ck_assert_int_eq(
		virtq_setup(&tq, QSZ, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&tq, QSZ, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&tq, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&tq, 6, DESC_GPA, AVAIL_GPA, USED_GPA, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&tq, 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0, 0),
		-EINVAL);
	ck_assert_int_eq(
		virtq_setup(&tq, 512, DESC_GPA, AVAIL_GPA, USED_GPA, 0, 0),
		-EINVAL);
	ck_assert_int_eq(virtq_setup(&tq, QSZ, UINT64_MAX - 15, AVAIL_GPA,
				     USED_GPA, 0, 0),
			 -EINVAL);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
}
END_TEST

START_TEST(virtq_avail_jump)
{
	setup_q(0, 0);
	set_desc(0, DATA_GPA, 16, 0, 0);
	put16(AVAIL_GPA + 2, QSZ); /* exactly a full ring: fine */
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	setup_q(0, 0);
	put16(AVAIL_GPA + 2, QSZ + 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), -EINVAL);
	ck_assert_ptr_nonnull(tq.err);
}
END_TEST

START_TEST(virtq_event_idx)
{
	const uint64_t used_event = AVAIL_GPA + 4 + 2 * QSZ;
	const uint64_t avail_event = USED_GPA + 4 + 8 * QSZ;

	ck_assert_int_eq(virtq_need_event(0, 1, 0), 1);
	ck_assert_int_eq(virtq_need_event(1, 1, 0), 0);
	ck_assert_int_eq(virtq_need_event(4, 6, 3), 1);
	ck_assert_int_eq(virtq_need_event(6, 6, 3), 0);
	ck_assert_int_eq(virtq_need_event(65535, 1, 65534), 1); /* wraps */

	setup_q(1, 0);
	for (unsigned i = 0; i < QSZ; i++)
		set_desc(i, DATA_GPA, 16, 0, 0);
	/* An empty pop asks for a notification at the current index. */
	put16(avail_event, 99);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 0);
	ck_assert_uint_eq(get16(avail_event), 0);
	avail_add(0, 0);
	avail_add(1, 1);
	avail_add(2, 2);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 0);
	ck_assert_uint_eq(get16(avail_event), 3);

	/* used_event 0: interrupt when the entry at index 0 is used. */
	put16(used_event, 0);
	virtq_push(&tq, 0, 0); /* idx 0 -> 1 */
	ck_assert_int_eq(virtq_should_notify(&tq), 1);
	ck_assert_int_eq(virtq_should_notify(&tq), 0); /* nothing new */
	/* used_event 2: not for entry 1, but for entry 2. */
	put16(used_event, 2);
	virtq_push(&tq, 1, 0); /* idx 1 -> 2 */
	ck_assert_int_eq(virtq_should_notify(&tq), 0);
	virtq_push(&tq, 2, 0); /* idx 2 -> 3 */
	ck_assert_int_eq(virtq_should_notify(&tq), 1);
	/* The NO_INTERRUPT flag is ignored with EVENT_IDX. */
	put16(used_event, 3);
	put16(AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	avail_add(3, 3);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	virtq_push(&tq, 3, 0);
	ck_assert_int_eq(virtq_should_notify(&tq), 1);
}
END_TEST

START_TEST(virtq_no_event_idx_flags)
{
	setup_q(0, 0);
	set_desc(0, DATA_GPA, 16, 0, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	virtq_push(&tq, 0, 0);
	put16(AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	ck_assert_int_eq(virtq_should_notify(&tq), 0);
	avail_add(1, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	virtq_push(&tq, 0, 0);
	put16(AVAIL_GPA, 0);
	ck_assert_int_eq(virtq_should_notify(&tq), 1);
}
END_TEST

START_TEST(virtq_unpop_push_many)
{
	struct virtq_used_elem e[2] = {{1, 10}, {2, 20}};

	setup_q(0, 0);
	set_desc(1, DATA_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	set_desc(2, DATA_GPA + 16, 16, VIRTQ_DESC_F_WRITE, 0);
	avail_add(0, 1);
	avail_add(1, 2);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	virtq_unpop(&tq, 2);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.head, 1);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.head, 2);
	virtq_push_many(&tq, e, 2);
	ck_assert_uint_eq(get16(USED_GPA + 2), 2);
	ck_assert_uint_eq(get32(USED_GPA + 4 + 8), 2);
	ck_assert_uint_eq(get32(USED_GPA + 4 + 12), 20);
}
END_TEST

START_TEST(virtq_adjacent_regions)
{
	/* Split the RAM into two adjacent regions: a buffer crossing the
	 * seam becomes two iovecs; the rings must not cross it. */
	const uint64_t seam = RAM_BASE + 0x20000;

	tgm.nr = 2;
	tgm.regions[0].size = 0x20000;
	tgm.regions[1] = (struct region){
		.gpa = seam, .size = RAM_SIZE - 0x20000, .hva = ram + 0x20000};
	setup_q(0, 0);
	set_desc(0, seam - 8, 24, VIRTQ_DESC_F_WRITE, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.n_in, 2);
	ck_assert_uint_eq(tch.iov[0].iov_len, 8);
	ck_assert_uint_eq(tch.iov[1].iov_len, 16);
	ck_assert_uint_eq(tch.in_len, 24);
	ck_assert_int_eq(
		virtq_setup(&tq, QSZ, seam - 64, AVAIL_GPA, USED_GPA, 0, 0),
		-EINVAL);
}
END_TEST

/* Each iovec carries its guest address beside it: direct descriptors,
 * an indirect table, and a buffer split at a region seam whose host
 * halves are not adjacent (the second region's host view comes first), so
 * no host pointer arithmetic could give the second half's address. */
START_TEST(virtq_chain_gpa)
{
	const uint64_t seam = RAM_BASE + 0x20000;
	const uint64_t table = DATA_GPA + 0x8000;

	tgm.nr = 2;
	tgm.regions[0].size = 0x20000;
	tgm.regions[1] = (struct region){
		.gpa = seam, .size = 0x10000, .hva = ram + 0x30000};
	setup_q(0, 1);
	set_desc(0, DATA_GPA + 0x40, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, seam - 8, 24, VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, table, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc_at(table, 0, DATA_GPA + 0x300, 5, VIRTQ_DESC_F_NEXT, 1);
	set_desc_at(table, 1, seam + 0x100, 7, VIRTQ_DESC_F_WRITE, 0);
	avail_add(0, 0);
	ck_assert_int_eq(virtq_pop(&tq, &tch), 1);
	ck_assert_uint_eq(tch.n_out, 4);
	ck_assert_uint_eq(tch.n_in, 1);
	ck_assert_uint_eq(tch.gpa[0], DATA_GPA + 0x40);
	ck_assert_uint_eq(tch.iov[0].iov_len, 16);
	ck_assert_uint_eq(tch.gpa[1], seam - 8);
	ck_assert_uint_eq(tch.iov[1].iov_len, 8);
	ck_assert_ptr_eq(tch.iov[1].iov_base, ram + 0x20000 - 8);
	ck_assert_uint_eq(tch.gpa[2], seam);
	ck_assert_uint_eq(tch.iov[2].iov_len, 16);
	ck_assert_ptr_eq(tch.iov[2].iov_base, ram + 0x30000);
	ck_assert_uint_eq(tch.gpa[3], DATA_GPA + 0x300);
	ck_assert_uint_eq(tch.iov[3].iov_len, 5);
	ck_assert_uint_eq(tch.gpa[4], seam + 0x100);
	ck_assert_uint_eq(tch.iov[4].iov_len, 7);
	ck_assert_ptr_eq(tch.iov[4].iov_base, ram + 0x30100);
}
END_TEST

START_TEST(virtq_iov_copy)
{
	uint8_t a[3], b[5], out[8];
	struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	const uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	ck_assert_uint_eq(virtq_iov_from_buf(iov, 2, 0, in, 8), 8);
	ck_assert_uint_eq(a[2], 3);
	ck_assert_uint_eq(b[0], 4);
	ck_assert_uint_eq(virtq_iov_to_buf(iov, 2, 2, out, 8), 6);
	ck_assert_uint_eq(out[0], 3);
	ck_assert_uint_eq(out[5], 8);
	ck_assert_uint_eq(virtq_iov_to_buf(iov, 2, 9, out, 8), 0);
}
END_TEST

Suite *virtq_suite(void);
Suite *virtq_suite(void)
{
	Suite *s = suite_create("virtq");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, vq_setup, vq_teardown);
	tcase_add_test(tc, virtq_good_chain);
	tcase_add_test(tc, virtq_full_length_chain);
	tcase_add_test(tc, virtq_loop);
	tcase_add_test(tc, virtq_bad_indices);
	tcase_add_test(tc, virtq_write_then_read);
	tcase_add_test(tc, virtq_bad_addresses);
	tcase_add_test(tc, virtq_indirect);
	tcase_add_test(tc, virtq_indirect_bad);
	tcase_add_test(tc, virtq_ring_placement);
	tcase_add_test(tc, virtq_avail_jump);
	tcase_add_test(tc, virtq_event_idx);
	tcase_add_test(tc, virtq_no_event_idx_flags);
	tcase_add_test(tc, virtq_unpop_push_many);
	tcase_add_test(tc, virtq_adjacent_regions);
	tcase_add_test(tc, virtq_chain_gpa);
	tcase_add_test(tc, virtq_iov_copy);
	suite_add_tcase(s, tc);
	return s;
}
