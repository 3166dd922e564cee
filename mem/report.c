#include "mem/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "mem/size.h"

struct report_vma {
	uint64_t start, end;
	uint64_t rss, anon_huge, shmem_pmd, file_pmd, hugetlb, locked;
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
		/* Locked counts hugetlb pages too where they are mlock'd;
		 * never more than what is resident. */
		out[i].bytes_locked += v->locked;
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
		       report_field(line, "Locked", &v.locked) ||
		       report_field(line, "Private_Hugetlb", &v.hugetlb) ||
		       report_field(line, "Shared_Hugetlb", &v.hugetlb));
	}
	if (have)
		report_account(gm, &v, out);
	fclose(f);
	return 0;
}

/* Per zone: the policy it has, where, node, locked, and on what pages. */
static void report_print_zones(FILE *f, const struct guest_mem *gm,
			       const struct report_region *rep)
{
	struct report_zone z[GUEST_MEM_MAX_REGIONS];
	unsigned n = report_zones(gm, rep, z, GUEST_MEM_MAX_REGIONS);
	char a[32], b[32], c[32], d[32], e[32], g[32], node[16], pol[32];

	fprintf(f, "microvm: guest memory zones (resident now):\n");
	fprintf(f, "microvm:   %-12s %-8s %-18s %-5s %8s %8s %8s %8s %8s\n",
		"zone", "size", "pages", "node", "locked", "4K", "THP", "2M",
		"1G");
	for (unsigned i = 0; i < n; i++) {
		if (z[i].host_node >= 0)
			snprintf(node, sizeof(node), "%d", z[i].host_node);
		else
			snprintf(node, sizeof(node), "-");
		if (z[i].fallback_bytes)
			snprintf(pol, sizeof(pol), "%s (%.0f%% %s)",
				 region_pages_name(z[i].pages),
				 100.0 * (double)z[i].fallback_bytes /
					 (double)z[i].bytes,
				 region_pages_name(z[i].fallback));
		else
			snprintf(pol, sizeof(pol), "%s",
				 region_pages_name(z[i].pages));
		fprintf(f,
			"microvm:   %-12s %-8s %-18s %-5s %8s %8s %8s %8s "
			"%8s\n",
			z[i].id ? z[i].id : "?",
			size_format(z[i].bytes, a, sizeof(a)), pol, node,
			size_format(z[i].bytes_locked, b, sizeof(b)),
			size_format(z[i].bytes_4k, c, sizeof(c)),
			size_format(z[i].bytes_thp, d, sizeof(d)),
			size_format(z[i].bytes_2m, e, sizeof(e)),
			size_format(z[i].bytes_1g, g, sizeof(g)));
	}
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
	report_print_zones(f, gm, rep);
}

unsigned report_zones(const struct guest_mem *gm,
		      const struct report_region *rep, struct report_zone *out,
		      unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < gm->nr; i++) {
		const struct region *r = &gm->regions[i];
		struct report_zone *z = NULL;
		unsigned j;

		for (j = 0; j < n; j++)
			if (out[j].id == r->zone_id ||
			    (out[j].id && r->zone_id &&
			     !strcmp(out[j].id, r->zone_id)))
				z = &out[j];
		if (!z) {
			if (n == max)
				continue;
			z = &out[n++];
			memset(z, 0, sizeof(*z));
			z->id = r->zone_id;
			z->pages = r->pages;
			z->fallback = r->pages;
			z->host_node = r->bound ? r->host_node : -1;
		}
		if (z->nr_ranges &&
		    z->gpa[z->nr_ranges - 1] + z->size[z->nr_ranges - 1] ==
			    r->gpa) {
			z->size[z->nr_ranges - 1] += r->size;
		} else if (z->nr_ranges < REPORT_ZONE_RANGES) {
			z->gpa[z->nr_ranges] = r->gpa;
			z->size[z->nr_ranges++] = r->size;
		}
		z->bytes += r->size;
		if (r->downgraded) {
			z->fallback_bytes += r->size;
			z->fallback = r->pages;
		} else {
			z->pages = r->pages;
		}
		z->bytes_locked += rep[i].bytes_locked;
		z->bytes_4k += rep[i].bytes_4k;
		z->bytes_thp += rep[i].bytes_thp;
		if (r->page_size == 1UL << 30)
			z->bytes_1g += rep[i].bytes_hugetlb;
		else
			z->bytes_2m += rep[i].bytes_hugetlb;
	}
	return n;
}

/* Append to buf like snprintf, keeping the count of what was wanted. */
static void report_put(char *buf, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report_put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*at < len ? buf + *at : NULL, *at < len ? len - *at : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t)n;
}

size_t report_zones_json(char *buf, size_t len, const struct report_zone *z,
			 unsigned n)
{
	size_t at = 0;

	if (len)
		buf[0] = '\0';
	report_put(buf, len, &at, "[");
	for (unsigned i = 0; i < n; i++) {
		report_put(buf, len, &at, "%s{\"id\":\"%s\",\"ranges\":[",
			   i ? "," : "", z[i].id ? z[i].id : "");
		for (unsigned j = 0; j < z[i].nr_ranges; j++)
			report_put(buf, len, &at,
				   "%s{\"gpa\":%" PRIu64 ",\"size\":%" PRIu64
				   "}",
				   j ? "," : "", z[i].gpa[j], z[i].size[j]);
		report_put(buf, len, &at,
			   "],\"bytes\":%" PRIu64 ",\"pages\":\"%s\"",
			   z[i].bytes, region_pages_name(z[i].pages));
		if (z[i].fallback_bytes)
			report_put(buf, len, &at,
				   ",\"fallback\":\"%s\",\"fallback_bytes\":"
				   "%" PRIu64,
				   region_pages_name(z[i].fallback),
				   z[i].fallback_bytes);
		if (z[i].host_node >= 0)
			report_put(buf, len, &at, ",\"host_node\":%d",
				   z[i].host_node);
		else
			report_put(buf, len, &at, ",\"host_node\":null");
		report_put(buf, len, &at,
			   ",\"locked_bytes\":%" PRIu64 ",\"bytes_4k\":%" PRIu64
			   ",\"bytes_thp\":%" PRIu64 ",\"bytes_2m\":%" PRIu64
			   ",\"bytes_1g\":%" PRIu64 "}",
			   z[i].bytes_locked, z[i].bytes_4k, z[i].bytes_thp,
			   z[i].bytes_2m, z[i].bytes_1g);
	}
	report_put(buf, len, &at, "]");
	return at;
}
