#include "mem/report.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "mem/size.h"

struct report_vma {
	uint64_t start, end;
	uint64_t rss, anon_huge, shmem_pmd, file_pmd, hugetlb;
};

static void report_account(const struct guest_mem *gm,
			   const struct report_vma *v,
			   struct report_region *out)
{
	uint64_t thp = v->anon_huge + v->shmem_pmd + v->file_pmd;

	for (unsigned i = 0; i < gm->nr; i++) {
		uintptr_t s = (uintptr_t)gm->regions[i].hva;
		uintptr_t e = s + gm->regions[i].size;

		/* Regions are whole VMAs or parts of one; a VMA belongs to
		 * the region that holds its start. */
		if (v->start < s || v->start >= e)
			continue;
		out[i].bytes_hugetlb += v->hugetlb;
		out[i].bytes_thp += thp;
		out[i].bytes_4k += v->rss > thp ? v->rss - thp : 0;
		return;
	}
}

static int report_field(const char *line, const char *name, uint64_t *val)
{
	size_t n = strlen(name);
	unsigned long long kb;

	if (strncmp(line, name, n) || line[n] != ':')
		return 0;
	if (sscanf(line + n + 1, " %llu kB", &kb) == 1)
		*val += kb * 1024;
	return 1;
}

int report_read(const struct guest_mem *gm, struct report_region *out)
{
	struct report_vma v = {0};
	char line[512];
	int have = 0;
	FILE *f;

	for (unsigned i = 0; i < gm->nr; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].gpa = gm->regions[i].gpa;
		out[i].size = gm->regions[i].size;
	}
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (have)
				report_account(gm, &v, out);
			memset(&v, 0, sizeof(v));
			v.start = s;
			v.end = e;
			have = 1;
			continue;
		}
		(void)(report_field(line, "Rss", &v.rss) ||
		       report_field(line, "AnonHugePages", &v.anon_huge) ||
		       report_field(line, "ShmemPmdMapped", &v.shmem_pmd) ||
		       report_field(line, "FilePmdMapped", &v.file_pmd) ||
		       report_field(line, "Private_Hugetlb", &v.hugetlb) ||
		       report_field(line, "Shared_Hugetlb", &v.hugetlb));
	}
	if (have)
		report_account(gm, &v, out);
	fclose(f);
	return 0;
}

void report_print(FILE *f, const struct guest_mem *gm,
		  const struct report_region *rep)
{
	uint64_t t4 = 0, tt = 0, th = 0, size = 0;
	char a[32], b[32], c[32], d[32], e[32];

	fprintf(f, "microvm: guest memory backing (resident now):\n");
	fprintf(f, "microvm:   %-18s %-8s %-7s %10s %10s %10s\n", "gpa", "size",
		"pages", "4K", "THP", "hugetlb");
	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];

		fprintf(f, "microvm:   %#-18llx %-8s %-7s %10s %10s %10s%s\n",
			(unsigned long long)r->gpa,
			size_format(r->size, a, sizeof(a)),
			region_pages_name(r->pages),
			size_format(rep[i].bytes_4k, b, sizeof(b)),
			size_format(rep[i].bytes_thp, c, sizeof(c)),
			size_format(rep[i].bytes_hugetlb, d, sizeof(d)),
			r->downgraded ? "  (fallback)" : "");
		t4 += rep[i].bytes_4k;
		tt += rep[i].bytes_thp;
		th += rep[i].bytes_hugetlb;
		size += r->size;
	}
	fprintf(f, "microvm:   %-18s %-8s %-7s %10s %10s %10s\n", "total",
		size_format(size, e, sizeof(e)), "",
		size_format(t4, a, sizeof(a)), size_format(tt, b, sizeof(b)),
		size_format(th, c, sizeof(c)));
}
