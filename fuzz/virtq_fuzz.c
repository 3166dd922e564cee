/*
 * libFuzzer target for devices/virtq: the input is a guest. Its first
 * bytes place the rings and pick the queue size and features; the rest is
 * guest RAM (descriptor table, rings, indirect tables, buffers, all
 * overlapping as the fuzzer likes). The device side then pops, touches
 * every translated byte (ASan catches a translation past RAM), and pushes,
 * a bounded number of times.
 *
 * Input layout (little endian):
 *   0     queue size: 1 << (byte % 9)
 *   1     flags: 1 EVENT_IDX, 2 INDIRECT_DESC, 4 RAM in two adjacent
 *         regions with separate host buffers, 8 unpop and re-pop
 *   2..3  descriptor table offset in RAM (rounded down to 16)
 *   4..5  available ring offset (rounded down to 2)
 *   6..7  used ring offset (rounded down to 4)
 *   8..   RAM contents (the rest zero)
 *
 * Every chain's guest addresses must translate to its host iovecs (abort
 * otherwise).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtq.h"
#include "mem/guest_mem.h"

#define FUZZ_RAM_BASE 0x10000ULL
#define FUZZ_RAM_SIZE 0x10000ULL /* offsets are 16 bits: all of RAM */
#define FUZZ_HALF     (FUZZ_RAM_SIZE / 2)
#define FUZZ_MAX_POPS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t fuzz_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* gpa[i] names the same bytes as iov[i]. */
static void fuzz_check_gpa(const struct guest_mem *gm,
			   const struct virtq_chain *c)
{
	for (unsigned i = 0; i < c->n_out + c->n_in; i++)
		if (guest_mem_ptr(gm, c->gpa[i], c->iov[i].iov_len) !=
		    c->iov[i].iov_base)
			abort();
}

/* Read every readable byte and write every writable one. */
static uint32_t fuzz_touch(const struct virtq_chain *c)
{
	volatile uint8_t sink = 0;
	uint8_t tmp[64];

	for (unsigned i = 0; i < c->n_out; i++) {
		const uint8_t *p = c->iov[i].iov_base;

		for (size_t j = 0; j < c->iov[i].iov_len; j++)
			sink ^= p[j];
	}
	for (unsigned i = c->n_out; i < c->n_out + c->n_in; i++)
		memset(c->iov[i].iov_base, 0xa5, c->iov[i].iov_len);
	/* The copy helpers at odd offsets. */
	virtq_iov_to_buf(c->iov, c->n_out, 3, tmp, sizeof(tmp));
	virtq_iov_from_buf(c->iov + c->n_out, c->n_in, 5, tmp, sizeof(tmp));
	(void)sink;
	return (uint32_t)c->in_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain chain;
	struct virtq_used_elem used[2];
	struct guest_mem gm;
	struct virtq q;
	uint8_t *lo, *hi;
	uint16_t qsize;
	uint8_t flags;
	size_t img;

	if (size < 8)
		return 0;
	qsize = (uint16_t)(1u << (data[0] % 9));
	flags = data[1];
	/* Two exact-size heap buffers, so ASan flags any byte outside. */
	lo = calloc(1, FUZZ_HALF);
	hi = calloc(1, FUZZ_HALF);
	if (!lo || !hi)
		abort();
	img = size - 8 < FUZZ_RAM_SIZE ? size - 8 : FUZZ_RAM_SIZE;
	memcpy(lo, data + 8, img < FUZZ_HALF ? img : FUZZ_HALF);
	if (img > FUZZ_HALF)
		memcpy(hi, data + 8 + FUZZ_HALF, img - FUZZ_HALF);

	memset(&gm, 0, sizeof(gm));
	gm.nr = 2;
	gm.regions[0] = (struct region){
		.gpa = FUZZ_RAM_BASE, .size = FUZZ_HALF, .hva = lo};
	gm.regions[1] = (struct region){
		.gpa = FUZZ_RAM_BASE + FUZZ_HALF, .size = FUZZ_HALF, .hva = hi};
	if (!(flags & 4))
		gm.nr = 1; /* only the low half is RAM */

	virtq_init(&q, &gm);
	if (!virtq_setup(&q, qsize,
			 FUZZ_RAM_BASE + (fuzz_le16(data + 2) & ~15u),
			 FUZZ_RAM_BASE + (fuzz_le16(data + 4) & ~1u),
			 FUZZ_RAM_BASE + (fuzz_le16(data + 6) & ~3u), flags & 1,
			 !!(flags & 2))) {
		for (unsigned i = 0; i < FUZZ_MAX_POPS; i++) {
			int r = virtq_pop(&q, &chain);

			if (r <= 0)
				break;
			if ((flags & 8) && i == 0) {
				virtq_unpop(&q, 1);
				r = virtq_pop(&q, &chain);
				if (r <= 0)
					break;
			}
			fuzz_check_gpa(&gm, &chain);
			used[0].id = chain.head;
			used[0].len = fuzz_touch(&chain);
			if (i & 1) {
				used[1] = used[0];
				virtq_push_many(&q, used, 1);
			} else {
				virtq_push(&q, chain.head, used[0].len);
			}
			(void)virtq_should_notify(&q);
		}
	}
	free(lo);
	free(hi);
	return 0;
}
