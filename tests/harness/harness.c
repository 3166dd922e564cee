#include "tests/harness/harness.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem/guest_mem.h"

void harness_skip(const char *test, const char *fmt, ...)
{
	const char *path = getenv("HARNESS_SKIP_FILE");
	char reason[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	printf("SKIP %s: %s\n", test, reason);
	fflush(stdout);
	/* Tests run in forked children: the runner learns of skips through a
	 * file, one line each. */
	if (path && (f = fopen(path, "a"))) {
		fprintf(f, "%s: %s\n", test, reason);
		fclose(f);
	}
}

int harness_is_root(void)
{
	return geteuid() == 0;
}

static int hp_path(char *buf, size_t len, unsigned long size_kb,
		   const char *file)
{
	return snprintf(buf, len, "/sys/kernel/mm/hugepages/hugepages-%lukB/%s",
			size_kb, file) < (int)len
		       ? 0
		       : -1;
}

static long hp_read(unsigned long size_kb, const char *file)
{
	char path[128];
	long v = -1;
	FILE *f;

	if (hp_path(path, sizeof(path), size_kb, file))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

long harness_hugepages_free(unsigned long size_kb)
{
	return hp_read(size_kb, "free_hugepages");
}

int harness_hugepages(unsigned long size_kb, unsigned long pages)
{
	long free_now = hp_read(size_kb, "free_hugepages");
	long total = hp_read(size_kb, "nr_hugepages");
	char path[128];
	FILE *f;

	if (free_now < 0 || total < 0)
		return -1;
	if ((unsigned long)free_now >= pages)
		return 0;
	if (!harness_is_root() ||
	    hp_path(path, sizeof(path), size_kb, "nr_hugepages"))
		return -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%lu\n",
		(unsigned long)total + pages - (unsigned long)free_now);
	fclose(f);
	return (unsigned long)hp_read(size_kb, "free_hugepages") >= pages ? 0
									  : -1;
}

int harness_have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

uint8_t *harness_ram_map(uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

void harness_gm_one(struct guest_mem *gm, uint8_t *buf, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->nr = 1;
	gm->regions[0] = (struct region){.gpa = 0, .size = size, .hva = buf};
}
