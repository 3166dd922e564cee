/*
 * libFuzzer target for a snapshot's memory layout (mem/snapshot.c): the
 * input is written as DIR/mem-layout beside a 2 MiB sparse mem-0, and
 * memsnap_restore() reads it into a one-region, 2 MiB guest (copy, or lazy
 * when the first byte's bit 1 is set). An odd first byte gets the correct
 * CRC line appended, so the fuzzer reaches the fields behind the CRC.
 *
 * Checked beyond "does not crash": the result is 0 or a negative errno; a
 * failure leaves a terminated, non-empty reason and no lazy state active.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem/guest_mem.h"
#include "mem/snapshot.h"

#define FUZZ_MEM (2UL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];
static char fuzz_layout[96];
static struct guest_mem fuzz_gm;

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "memsnap broke its contract: %s\n", what);
		abort();
	}
}

static uint32_t fuzz_crc32(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* The directory goes when the fuzzer exits. */
static void fuzz_cleanup(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/mem-0", fuzz_dir);
	unlink(path);
	unlink(fuzz_layout);
	rmdir(fuzz_dir);
}

static void fuzz_setup(void)
{
	char path[128];
	void *m;
	int fd;

	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/memsnap-fuzz-XXXXXX");
	fuzz_check(mkdtemp(fuzz_dir) != NULL, "mkdtemp");
	atexit(fuzz_cleanup);
	snprintf(fuzz_layout, sizeof(fuzz_layout), "%s/%s", fuzz_dir,
		 MEMSNAP_LAYOUT);
	snprintf(path, sizeof(path), "%s/mem-0", fuzz_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fuzz_check(fd >= 0 && !ftruncate(fd, FUZZ_MEM) &&
			   pwrite(fd, "data", 4, 4096) == 4,
		   "mem-0");
	close(fd);
	m = mmap(NULL, FUZZ_MEM, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	fuzz_check(m != MAP_FAILED, "mmap");
	guest_mem_init(&fuzz_gm);
	fuzz_gm.nr = 1;
	fuzz_gm.regions[0] = (struct region){
		.gpa = 0,
		.size = FUZZ_MEM,
		.hva = m,
		.map_base = m,
		.map_len = FUZZ_MEM,
		.page_size = 4096,
		.pages = REGION_PAGES_BASE,
		.requested = REGION_PAGES_BASE,
		.backing = REGION_BACKING_ANON,
		.fd = -1,
		.discard_granule = 4096,
	};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memsnap_lazy lazy;
	char err[512];
	enum memsnap_mode mode;
	int fd, ret;

	if (!fuzz_dir[0])
		fuzz_setup();
	if (!size)
		return 0;
	mode = data[0] & 2 ? MEMSNAP_LAZY : MEMSNAP_COPY;
	fd = open(fuzz_layout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fuzz_check(fd >= 0, "layout file");
	fuzz_check(write(fd, data + 1, size - 1) == (ssize_t)(size - 1),
		   "write");
	if (data[0] & 1) {
		char line[32];
		int n = snprintf(line, sizeof(line), "crc32=%08x\n",
				 fuzz_crc32(data + 1, size - 1));

		fuzz_check(write(fd, line, (size_t)n) == n, "write crc");
	}
	close(fd);
	memset(err, 0x5a, sizeof(err));
	ret = memsnap_restore(&fuzz_gm, fuzz_dir, mode, &lazy, NULL, NULL, err,
			      sizeof(err));
	fuzz_check(ret <= 0, "positive return");
	if (ret) {
		fuzz_check(memchr(err, 0, sizeof(err)) != NULL && err[0],
			   "no reason");
		fuzz_check(!lazy.active, "lazy state left active");
	}
	memsnap_lazy_stop(&lazy);
	return 0;
}
