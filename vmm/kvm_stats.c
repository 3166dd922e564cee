/*
 * The parser trusts nothing in the image: every offset and size is checked
 * against the buffer with overflow-checked arithmetic, so a kernel with a
 * different layout (or a truncated read) gives an error, not a wild read.
 */
#include "vmm/kvm_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/file.h"
#include "mem/report.h"

#define KVM_STATS_MAX_NAME_SIZE 1024
#define KVM_STATS_MAX_IMAGE	(16u << 20)

int kvm_stats_fd(int kvm_object_fd)
{
	int fd = ioctl(kvm_object_fd, KVM_GET_STATS_FD, 0);

	return fd < 0 ? -errno : fd;
}

/* [off, off + len) inside a buffer of size total? */
static int kvm_stats_in(uint64_t off, uint64_t len, uint64_t total)
{
	uint64_t end;

	return !__builtin_add_overflow(off, len, &end) && end <= total;
}

int kvm_stats_parse(const void *buf, size_t len, struct kvm_stats *out,
		    size_t *need)
{
	const unsigned char *p = buf;
	struct kvm_stats_header h;
	uint64_t desc_size, desc_end, data_end = 0;

	out->items = NULL;
	out->n = 0;
	if (len < sizeof(h)) {
		if (need)
			*need = sizeof(h);
		return -ENODATA;
	}
	memcpy(&h, p, sizeof(h));
	if (h.name_size == 0 || h.name_size > KVM_STATS_MAX_NAME_SIZE ||
	    h.num_desc > KVM_STATS_MAX_DESC || h.desc_offset < sizeof(h) ||
	    h.data_offset < sizeof(h))
		return -EINVAL;
	desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	desc_end = h.desc_offset + desc_size * h.num_desc; /* < 2^33 */
	if (desc_end > len) {
		if (need)
			*need = desc_end;
		return -ENODATA;
	}
	/* The descriptors say how long the data block is. */
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc d;
		uint64_t end;

		memcpy(&d, p + h.desc_offset + desc_size * i, sizeof(d));
		end = (uint64_t)h.data_offset + d.offset +
		      (uint64_t)d.size * sizeof(uint64_t);
		if (d.size == 0)
			return -EINVAL;
		if (end > data_end)
			data_end = end;
	}
	if (data_end > len) {
		if (need)
			*need = data_end;
		return -ENODATA;
	}
	if (h.num_desc == 0)
		return 0;
	out->items = calloc(h.num_desc, sizeof(*out->items));
	if (!out->items)
		return -ENOMEM;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const unsigned char *dp = p + h.desc_offset + desc_size * i;
		const char *name =
			(const char *)dp + sizeof(struct kvm_stats_desc);
		struct kvm_stat *s = &out->items[i];
		struct kvm_stats_desc d;
		size_t nlen = strnlen(name, h.name_size);

		memcpy(&d, dp, sizeof(d));
		if (nlen == 0 || nlen == h.name_size ||
		    nlen >= sizeof(s->name) ||
		    !kvm_stats_in((uint64_t)h.data_offset + d.offset,
				  (uint64_t)d.size * sizeof(uint64_t), len)) {
			kvm_stats_free(out);
			return -EINVAL;
		}
		memcpy(s->name, name, nlen);
		s->flags = d.flags;
		s->exponent = d.exponent;
		s->size = d.size;
		for (uint16_t k = 0; k < d.size; k++) {
			uint64_t v;

			memcpy(&v, p + h.data_offset + d.offset + k * sizeof(v),
			       sizeof(v));
			s->value += v;
		}
	}
	out->n = h.num_desc;
	return 0;
}

/* Read up to len bytes from offset 0; *got = what the file had. */
static int kvm_stats_pread(int fd, unsigned char *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(fd, buf + *got, len - *got, (off_t)*got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int kvm_stats_read(int stats_fd, struct kvm_stats *out)
{
	size_t len = 4096, got, need = 0;
	unsigned char *buf = NULL;
	int ret;

	out->items = NULL;
	out->n = 0;
	/* Grow until the image holds what it describes: header, then the
	 * descriptors, then the data (three rounds at most). */
	for (int round = 0; round < 4; round++) {
		unsigned char *nb = realloc(buf, len);

		if (!nb) {
			ret = -ENOMEM;
			break;
		}
		buf = nb;
		ret = kvm_stats_pread(stats_fd, buf, len, &got);
		if (ret)
			break;
		ret = kvm_stats_parse(buf, got, out, &need);
		if (ret != -ENODATA)
			break;
		if (got < len || need <= len || need > KVM_STATS_MAX_IMAGE) {
			/* The file ended before what it describes. */
			ret = -EINVAL;
			break;
		}
		len = need;
	}
	free(buf);
	return ret;
}

int kvm_stats_get(const struct kvm_stats *s, const char *name, uint64_t *v)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (!strcmp(s->items[i].name, name)) {
			*v = s->items[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

int kvm_stats_merge(struct kvm_stats *acc, const struct kvm_stats *add)
{
	for (unsigned i = 0; i < add->n; i++) {
		const struct kvm_stat *a = &add->items[i];
		struct kvm_stat *t = NULL, *grown;

		for (unsigned k = 0; k < acc->n && !t; k++)
			if (!strcmp(acc->items[k].name, a->name))
				t = &acc->items[k];
		if (!t) {
			grown = realloc(acc->items,
					(acc->n + 1) * sizeof(*acc->items));
			if (!grown)
				return -ENOMEM;
			acc->items = grown;
			acc->items[acc->n++] = *a;
			continue;
		}
		if ((a->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_PEAK) {
			if (a->value > t->value)
				t->value = a->value;
		} else {
			t->value += a->value;
		}
	}
	return 0;
}

void kvm_stats_free(struct kvm_stats *s)
{
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

/* Guest RAM counted in VmRSS (KiB): anonymous, THP and shared pages;
 * hugetlb pages are not in VmRSS. -1 if smaps cannot be read. */
static int kvm_stats_guest_rss(const struct guest_mem *gm, uint64_t *rss_kib,
			       uint64_t *hugetlb_kib, struct kvm_stats_run *r)
{
	struct report_region rep[GUEST_MEM_MAX_REGIONS];

	*rss_kib = *hugetlb_kib = 0;
	if (!gm || report_read(gm, rep))
		return -1;
	if (r)
		r->nr_zones =
			report_zones(gm, rep, r->zones, GUEST_MEM_MAX_REGIONS);
	for (unsigned i = 0; i < gm->nr; i++) {
		*rss_kib += (rep[i].bytes_4k + rep[i].bytes_thp) >> 10;
		*hugetlb_kib += rep[i].bytes_hugetlb >> 10;
	}
	return 0;
}

static void kvm_stats_status(struct kvm_stats_run *r);

void kvm_stats_src_open(struct kvm_stats_src *src, int vm_fd,
			const int *vcpu_fds, unsigned nr_vcpus,
			const struct guest_mem *gm)
{
	struct kvm_stats_run now = {0};
	uint64_t guest, hugetlb;

	/* The peak so far is the setup's (file buffers next to the guest
	 * copies); the guest's share only grows later, so measuring at exit
	 * alone would hide this peak. */
	kvm_stats_status(&now);
	if (now.vm_hwm_kib &&
	    !kvm_stats_guest_rss(gm, &guest, &hugetlb, NULL)) {
		src->setup_peak_known = 1;
		src->setup_peak_kib =
			now.vm_hwm_kib > guest ? now.vm_hwm_kib - guest : 0;
	}
	if (nr_vcpus > KVM_STATS_MAX_VCPUS)
		nr_vcpus = KVM_STATS_MAX_VCPUS;
	src->vm_fd = kvm_stats_fd(vm_fd);
	for (unsigned i = 0; i < nr_vcpus; i++)
		src->vcpu_fds[i] = kvm_stats_fd(vcpu_fds[i]);
	src->nr_vcpus = nr_vcpus;
	src->active = 1;
}

void kvm_stats_src_close(struct kvm_stats_src *src)
{
	if (!src->active)
		return;
	if (src->vm_fd >= 0)
		close(src->vm_fd);
	for (unsigned i = 0; i < src->nr_vcpus; i++)
		if (src->vcpu_fds[i] >= 0)
			close(src->vcpu_fds[i]);
	memset(src, 0, sizeof(*src));
}

/* "VmHWM:     1234 kB" lines of /proc/self/status. */
static void kvm_stats_status(struct kvm_stats_run *r)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "VmHWM: %llu kB", &v) == 1)
			r->vm_hwm_kib = v;
		else if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			r->vm_rss_kib = v;
	}
	fclose(f);
}

void kvm_stats_collect(struct kvm_stats_run *r, const struct kvm_stats_src *src,
		       const struct guest_mem *gm)
{
	struct rusage ru;

	if (!getrusage(RUSAGE_SELF, &ru)) {
		r->minflt = ru.ru_minflt;
		r->majflt = ru.ru_majflt;
	}
	kvm_stats_status(r);
	/* VmRSS counts anonymous, THP and shared/file pages, not hugetlb:
	 * keep hugetlb apart so the VMM's own share is VmRSS - guest_rss. */
	r->guest_known = !kvm_stats_guest_rss(gm, &r->guest_rss_kib,
					      &r->guest_hugetlb_kib, r);
	r->vm_err = r->vcpu_err = -ENOENT;
	if (!src || !src->active)
		return;
	r->setup_peak_known = src->setup_peak_known;
	r->setup_peak_kib = src->setup_peak_kib;
	r->vm_err = src->vm_fd < 0 ? src->vm_fd
				   : kvm_stats_read(src->vm_fd, &r->vm);
	r->vcpu_err = src->nr_vcpus ? 0 : -ENOENT;
	for (unsigned i = 0; i < src->nr_vcpus && !r->vcpu_err; i++) {
		struct kvm_stats one;

		r->vcpu_err = src->vcpu_fds[i] < 0
				      ? src->vcpu_fds[i]
				      : kvm_stats_read(src->vcpu_fds[i], &one);
		if (r->vcpu_err)
			break;
		r->vcpu_err = kvm_stats_merge(&r->vcpu, &one);
		kvm_stats_free(&one);
	}
	if (r->vcpu_err)
		kvm_stats_free(&r->vcpu);
}

static void kvm_stats_json_us(FILE *f, const char *key, int known, uint64_t ns)
{
	if (known)
		fprintf(f, "\"%s\":%llu.%03llu", key,
			(unsigned long long)(ns / 1000),
			(unsigned long long)(ns % 1000));
	else
		fprintf(f, "\"%s\":null", key);
}

/* Scalar stats only: histograms would dwarf the rest of the line. */
static void kvm_stats_json_obj(FILE *f, const char *key,
			       const struct kvm_stats *s, int err)
{
	int first = 1;

	if (err) {
		fprintf(f, "\"%s\":null,\"%s_error\":\"%s\"", key, key,
			strerror(-err));
		return;
	}
	fprintf(f, "\"%s\":{", key);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->items[i].size != 1)
			continue;
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", s->items[i].name,
			(unsigned long long)s->items[i].value);
		first = 0;
	}
	fputc('}', f);
}

void kvm_stats_json(FILE *f, const struct kvm_stats_run *r)
{
	fputc('{', f);
	kvm_stats_json_us(f, "boot_wall_us", r->boot_fired, r->boot_wall_ns);
	fputc(',', f);
	kvm_stats_json_us(f, "boot_cpu_us", r->boot_fired, r->boot_cpu_ns);
	fputc(',', f);
	kvm_stats_json_us(f, "setup_wall_us", r->setup_known, r->setup_wall_ns);
	fputc(',', f);
	kvm_stats_json_us(f, "setup_cpu_us", r->setup_known, r->setup_cpu_ns);
	fprintf(f,
		",\"mem_bytes\":%llu,\"cpus\":%u,\"i8042_status_reads\":%llu,"
		"\"minflt\":%ld,\"majflt\":%ld,\"vm_hwm_kib\":%llu,"
		"\"vm_rss_kib\":%llu",
		(unsigned long long)r->mem_bytes, r->cpus,
		(unsigned long long)r->i8042_status_reads, r->minflt, r->majflt,
		(unsigned long long)r->vm_hwm_kib,
		(unsigned long long)r->vm_rss_kib);
	if (r->guest_known) {
		/* RSS - guest is exact now. The guest's residency only grows,
		 * so HWM - guest now is a lower bound of the VMM's peak; the
		 * setup peak, taken before the guest grew, is a tighter one. */
		uint64_t g = r->guest_rss_kib;
		uint64_t peak = r->vm_hwm_kib > g ? r->vm_hwm_kib - g : 0;

		if (r->setup_peak_known && r->setup_peak_kib > peak)
			peak = r->setup_peak_kib;

		fprintf(f,
			",\"guest_rss_kib\":%llu,\"guest_hugetlb_kib\":%llu,"
			"\"vmm_rss_kib\":%llu,\"vmm_peak_kib\":%llu",
			(unsigned long long)g,
			(unsigned long long)r->guest_hugetlb_kib,
			(unsigned long long)(r->vm_rss_kib > g
						     ? r->vm_rss_kib - g
						     : 0),
			(unsigned long long)peak);
		char zones[REPORT_ZONES_JSON_MAX];

		report_zones_json(zones, sizeof(zones), r->zones, r->nr_zones);
		fprintf(f, ",\"zones\":%s", zones);
	} else {
		fprintf(f, ",\"guest_rss_kib\":null,\"guest_hugetlb_kib\":null,"
			   "\"vmm_rss_kib\":null,\"vmm_peak_kib\":null,"
			   "\"zones\":null");
	}
	fputc(',', f);
	kvm_stats_json_obj(f, "kvm_vm", &r->vm, r->vm_err);
	fputc(',', f);
	kvm_stats_json_obj(f, "kvm_vcpu", &r->vcpu, r->vcpu_err);
	fputc('}', f);
}

int kvm_stats_write(const char *path, const struct kvm_stats_run *r, char *err,
		    size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f) {
		snprintf(err, errlen, "--stats-json: out of memory");
		return -ENOMEM;
	}
	kvm_stats_json(f, r);
	fputc('\n', f);
	if (fclose(f)) {
		free(buf);
		snprintf(err, errlen, "--stats-json: out of memory");
		return -ENOMEM;
	}
	/* lib/file.c: never through a planted link, never over a device. */
	ret = file_write_replace("--stats-json", path, buf, len, err, errlen);
	free(buf);
	return ret;
}

void kvm_stats_run_free(struct kvm_stats_run *r)
{
	kvm_stats_free(&r->vm);
	kvm_stats_free(&r->vcpu);
}

int kvm_stats_report(struct kvm_stats_run *r, const struct kvm_stats_src *src,
		     const struct guest_mem *gm, FILE *f, const char *path,
		     char *err, size_t errlen)
{
	int ret = 0;

	kvm_stats_collect(r, src, gm);
	if (f) {
		fputs("microvm: stats ", f);
		kvm_stats_json(f, r);
		fputc('\n', f);
	}
	if (path)
		ret = kvm_stats_write(path, r, err, errlen);
	kvm_stats_run_free(r);
	return ret;
}
