#include "vmm/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	SNAP_TAG_CONFIG = 0x47464e43, /* "CNFG" */
	SNAP_TAG_VM = 0x204d5620,     /* " VM " */
	SNAP_TAG_VCPU = 0x55504356,   /* "VCPU" */
	SNAP_TAG_DEV = 0x20564544,    /* "DEV " */
	SNAP_TAG_END = 0x20444e45,    /* "END " */
};

#define SNAP_HDR_LEN 24

uint32_t snapshot_crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffffu, table[256];

	/* The byte table, built per call (2 K steps): no process state. */
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int b = 0; b < 8; b++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
		table[i] = c;
	}
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void snapshot_state_free(struct snapshot_state *s)
{
	for (unsigned i = 0; i < SNAPSHOT_MAX_VCPUS; i++) {
		free(s->vcpus[i].xsave);
		free(s->vcpus[i].msrs);
		s->vcpus[i].xsave = NULL;
		s->vcpus[i].msrs = NULL;
	}
	for (unsigned i = 0; i < SNAPSHOT_MAX_DEVS; i++) {
		free(s->devs[i].blob);
		s->devs[i].blob = NULL;
	}
	s->nr_vcpus = s->nr_devs = 0;
}

/* --- encoding --- */

struct snap_buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void sb_put(struct snap_buf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void sb_u32(struct snap_buf *b, uint32_t v)
{
	sb_put(b, &v, 4);
}

static void sb_u64(struct snap_buf *b, uint64_t v)
{
	sb_put(b, &v, 8);
}

/* A record: tag, then its length patched in at sb_end. */
static size_t sb_begin(struct snap_buf *b, uint32_t tag)
{
	sb_u32(b, tag);
	sb_u32(b, 0);
	return b->len;
}

static void sb_end(struct snap_buf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start);

	if (!b->oom)
		memcpy(b->p + start - 4, &n, 4);
}

/* A KVM structure: its size, then its bytes. */
static void sb_blob(struct snap_buf *b, const void *d, uint32_t n)
{
	sb_u32(b, n);
	sb_put(b, d, n);
}

static void snap_encode_config(struct snap_buf *b,
			       const struct snapshot_config *c)
{
	size_t r = sb_begin(b, SNAP_TAG_CONFIG);

	sb_u64(b, c->mem_size);
	sb_u32(b, c->pages);
	sb_u32(b, c->cpus);
	sb_u32(b, c->boot_timer);
	sb_u32(b, c->nr_regions);
	for (unsigned i = 0; i < c->nr_regions; i++) {
		sb_u64(b, c->region_gpa[i]);
		sb_u64(b, c->region_size[i]);
	}
	sb_u32(b, c->nr_disks);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		uint32_t n = (uint32_t)strlen(c->disks[i].path);

		sb_u32(b, n);
		sb_put(b, c->disks[i].path, n);
		sb_u32(b, (uint32_t)c->disks[i].ro);
	}
	sb_u32(b, c->has_net);
	sb_put(b, c->tap, sizeof(c->tap));
	sb_put(b, c->mac, sizeof(c->mac));
	sb_u32(b, c->has_mac);
	sb_u32(b, c->rng);
	sb_u32(b, c->has_balloon);
	sb_u32(b, c->balloon_reporting);
	sb_u32(b, c->balloon_deflate_on_oom);
	sb_u32(b, c->balloon_stats);
	sb_u32(b, c->nr_zones);
	for (unsigned i = 0; i < c->nr_zones; i++) {
		const struct snapshot_zone *z = &c->zones[i];
		uint32_t n = (uint32_t)strlen(z->path);

		sb_put(b, z->id, sizeof(z->id));
		sb_u64(b, z->size);
		sb_u64(b, z->gpa);
		sb_u32(b, z->pages);
		sb_u32(b, z->backing);
		sb_u32(b, (uint32_t)z->host_node);
		sb_u32(b, n);
		sb_put(b, z->path, n);
	}
	sb_u32(b, c->has_hotplug);
	sb_u64(b, c->hotplug_size);
	sb_u64(b, c->hotplug_plugged);
	sb_u32(b, c->hotplug_pages);
	sb_u32(b, (uint32_t)c->hotplug_node);
	sb_put(b, c->hotplug_id, sizeof(c->hotplug_id));
	sb_end(b, r);
}

int snapshot_state_encode(const struct snapshot_state *s, uint8_t **buf,
			  size_t *len)
{
	struct snap_buf b = {0};
	uint8_t hdr[SNAP_HDR_LEN] = {0};
	uint64_t plen;
	uint32_t crc;
	size_t r;

	sb_put(&b, hdr, sizeof(hdr)); /* filled in at the end */
	snap_encode_config(&b, &s->cfg);
	r = sb_begin(&b, SNAP_TAG_VM);
	sb_blob(&b, &s->pit, sizeof(s->pit));
	for (unsigned i = 0; i < 3; i++)
		sb_blob(&b, &s->chips[i], sizeof(s->chips[i]));
	sb_blob(&b, &s->clock, sizeof(s->clock));
	sb_end(&b, r);
	for (unsigned i = 0; i < s->nr_vcpus; i++) {
		const struct snapshot_vcpu *v = &s->vcpus[i];

		r = sb_begin(&b, SNAP_TAG_VCPU);
		sb_blob(&b, &v->mp, sizeof(v->mp));
		sb_blob(&b, &v->regs, sizeof(v->regs));
		sb_blob(&b, &v->sregs, sizeof(v->sregs));
		sb_blob(&b, v->xsave, v->xsave_len);
		sb_blob(&b, &v->xcrs, sizeof(v->xcrs));
		sb_blob(&b, &v->dregs, sizeof(v->dregs));
		sb_blob(&b, &v->lapic, sizeof(v->lapic));
		sb_u32(&b, v->nr_msrs);
		for (unsigned m = 0; m < v->nr_msrs; m++) {
			sb_u32(&b, v->msrs[m].index);
			sb_u64(&b, v->msrs[m].data);
		}
		sb_blob(&b, &v->events, sizeof(v->events));
		sb_end(&b, r);
	}
	for (unsigned i = 0; i < s->nr_devs; i++) {
		const struct snapshot_dev *d = &s->devs[i];

		r = sb_begin(&b, SNAP_TAG_DEV);
		sb_u32(&b, d->bus);
		sb_u64(&b, d->base);
		sb_put(&b, d->name, sizeof(d->name));
		sb_blob(&b, d->blob, d->len);
		sb_end(&b, r);
	}
	r = sb_begin(&b, SNAP_TAG_END);
	sb_end(&b, r);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	plen = b.len - SNAP_HDR_LEN;
	crc = snapshot_crc32(b.p + SNAP_HDR_LEN, plen);
	memcpy(b.p, SNAPSHOT_MAGIC, 8);
	{
		uint32_t v = SNAPSHOT_VERSION;

		memcpy(b.p + 8, &v, 4);
	}
	memcpy(b.p + 12, &crc, 4);
	memcpy(b.p + 16, &plen, 8);
	*buf = b.p;
	*len = b.len;
	return 0;
}

/* --- decoding: every read is bounds-checked --- */

struct snap_rd {
	const uint8_t *p;
	size_t len, at;
	char *err;
	size_t errlen;
	const char *what; /* the record being read, for messages */
};

static int rd_fail(struct snap_rd *r, const char *why)
{
	snprintf(r->err, r->errlen,
		 "damaged snapshot state: %s in the %s record at byte %zu "
		 "(take the snapshot again)",
		 why, r->what, r->at + SNAP_HDR_LEN);
	return -EINVAL;
}

static int rd_get(struct snap_rd *r, void *d, size_t n)
{
	if (n > r->len - r->at)
		return rd_fail(r, "truncated data");
	memcpy(d, r->p + r->at, n);
	r->at += n;
	return 0;
}

static int rd_u32(struct snap_rd *r, uint32_t *v)
{
	return rd_get(r, v, 4);
}

static int rd_u64(struct snap_rd *r, uint64_t *v)
{
	return rd_get(r, v, 8);
}

/* A KVM structure of exactly n bytes. */
static int rd_fixed(struct snap_rd *r, void *d, uint32_t n)
{
	uint32_t got;
	int ret = rd_u32(r, &got);

	if (ret)
		return ret;
	if (got != n)
		return rd_fail(r, "a KVM structure of the wrong size "
				  "(another kernel's layout?)");
	return rd_get(r, d, n);
}

/* A record header: the tag must be `tag`; *end is where it stops. */
static int rd_record(struct snap_rd *r, uint32_t tag, const char *what,
		     size_t *end)
{
	uint32_t t, n;
	int ret;

	r->what = what;
	if ((ret = rd_u32(r, &t)) || (ret = rd_u32(r, &n)))
		return ret;
	if (t != tag)
		return rd_fail(r, "an unexpected record tag");
	if (n > r->len - r->at)
		return rd_fail(r, "a record longer than the file");
	*end = r->at + n;
	return 0;
}

static int rd_record_end(struct snap_rd *r, size_t end)
{
	return r->at == end ? 0 : rd_fail(r, "a record of the wrong length");
}

static int rd_bool(struct snap_rd *r, uint32_t *v)
{
	int ret = rd_u32(r, v);

	return ret ? ret : *v > 1 ? rd_fail(r, "a flag that is not 0 or 1") : 0;
}

/* A host NUMA node as recorded: -1 (none) or 0..1023, as the CLI. */
static int snap_node_ok(uint32_t v)
{
	return (int32_t)v >= -1 && (int32_t)v < 1024;
}

static int snap_decode_zones(struct snap_rd *r, struct snapshot_config *c)
{
	uint64_t total = 0;
	uint32_t node;
	int ret;

	if ((ret = rd_u32(r, &c->nr_zones)))
		return ret;
	if (!c->nr_zones || c->nr_zones > MEMMAP_MAX_ZONES)
		return rd_fail(r, "a zone count out of range");
	for (unsigned i = 0; i < c->nr_zones; i++) {
		struct snapshot_zone *z = &c->zones[i];
		uint32_t n;

		if ((ret = rd_get(r, z->id, sizeof(z->id))) ||
		    (ret = rd_u64(r, &z->size)) || (ret = rd_u64(r, &z->gpa)) ||
		    (ret = rd_u32(r, &z->pages)) ||
		    (ret = rd_u32(r, &z->backing)) ||
		    (ret = rd_u32(r, &node)) || (ret = rd_u32(r, &n)))
			return ret;
		if (!memchr(z->id, '\0', sizeof(z->id)) || !z->id[0])
			return rd_fail(r, "a zone without an id");
		if (!z->size || z->pages > REGION_PAGES_HUGE1G ||
		    z->backing > REGION_BACKING_FILE || !snap_node_ok(node) ||
		    __builtin_add_overflow(total, z->size, &total))
			return rd_fail(r, "a zone field out of range");
		z->host_node = (int32_t)node;
		if (n >= sizeof(z->path) ||
		    (z->backing == REGION_BACKING_FILE) != (n != 0))
			return rd_fail(r, "a zone file path of a bad length");
		if ((ret = rd_get(r, z->path, n)))
			return ret;
		z->path[n] = '\0';
		if (strlen(z->path) != n)
			return rd_fail(r, "a zone file path with a NUL byte");
	}
	if (total != c->mem_size)
		return rd_fail(r, "zones that do not add up to the memory "
				  "size");
	if ((ret = rd_bool(r, &c->has_hotplug)) ||
	    (ret = rd_u64(r, &c->hotplug_size)) ||
	    (ret = rd_u64(r, &c->hotplug_plugged)) ||
	    (ret = rd_u32(r, &c->hotplug_pages)) || (ret = rd_u32(r, &node)) ||
	    (ret = rd_get(r, c->hotplug_id, sizeof(c->hotplug_id))))
		return ret;
	c->hotplug_node = (int32_t)node;
	if (!memchr(c->hotplug_id, '\0', sizeof(c->hotplug_id)))
		return rd_fail(r, "a hotplug zone id without its end");
	if (c->has_hotplug &&
	    (!c->hotplug_size || c->hotplug_plugged > c->hotplug_size ||
	     c->hotplug_pages > REGION_PAGES_HUGE1G || !snap_node_ok(node) ||
	     !c->hotplug_id[0]))
		return rd_fail(r, "a hotplug zone field out of range");
	return 0;
}

static int snap_decode_config(struct snap_rd *r, struct snapshot_config *c)
{
	size_t end;
	int ret = rd_record(r, SNAP_TAG_CONFIG, "configuration", &end);

	if (ret || (ret = rd_u64(r, &c->mem_size)) ||
	    (ret = rd_u32(r, &c->pages)) || (ret = rd_u32(r, &c->cpus)) ||
	    (ret = rd_bool(r, &c->boot_timer)) ||
	    (ret = rd_u32(r, &c->nr_regions)))
		return ret;
	if (c->pages > REGION_PAGES_HUGE1G)
		return rd_fail(r, "an unknown page policy");
	if (!c->cpus || c->cpus > SNAPSHOT_MAX_VCPUS || c->cpus > CLI_MAX_CPUS)
		return rd_fail(r, "a vCPU count out of range");
	if (!c->mem_size)
		return rd_fail(r, "no guest memory");
	if (!c->nr_regions || c->nr_regions > GUEST_MEM_MAX_REGIONS)
		return rd_fail(r, "a region count out of range");
	for (unsigned i = 0; i < c->nr_regions; i++)
		if ((ret = rd_u64(r, &c->region_gpa[i])) ||
		    (ret = rd_u64(r, &c->region_size[i])))
			return ret;
	if ((ret = rd_u32(r, &c->nr_disks)))
		return ret;
	if (c->nr_disks > CLI_MAX_DISKS)
		return rd_fail(r, "too many disks");
	for (unsigned i = 0; i < c->nr_disks; i++) {
		uint32_t n, ro;

		if ((ret = rd_u32(r, &n)))
			return ret;
		if (!n || n >= sizeof(c->disks[i].path))
			return rd_fail(r, "a disk path of a bad length");
		if ((ret = rd_get(r, c->disks[i].path, n)))
			return ret;
		c->disks[i].path[n] = '\0';
		if (strlen(c->disks[i].path) != n)
			return rd_fail(r, "a disk path with a NUL byte");
		if ((ret = rd_bool(r, &ro)))
			return ret;
		c->disks[i].ro = (int)ro;
	}
	if ((ret = rd_bool(r, &c->has_net)) ||
	    (ret = rd_get(r, c->tap, sizeof(c->tap))) ||
	    (ret = rd_get(r, c->mac, sizeof(c->mac))) ||
	    (ret = rd_bool(r, &c->has_mac)) || (ret = rd_bool(r, &c->rng)) ||
	    (ret = rd_bool(r, &c->has_balloon)) ||
	    (ret = rd_bool(r, &c->balloon_reporting)) ||
	    (ret = rd_bool(r, &c->balloon_deflate_on_oom)) ||
	    (ret = rd_u32(r, &c->balloon_stats)))
		return ret;
	if (!memchr(c->tap, '\0', sizeof(c->tap)))
		return rd_fail(r, "a TAP name without its end");
	if (c->has_net && !c->tap[0])
		return rd_fail(r, "a network device without a TAP name");
	if ((ret = snap_decode_zones(r, c)))
		return ret;
	return rd_record_end(r, end);
}

static int snap_decode_vcpu(struct snap_rd *r, struct snapshot_vcpu *v)
{
	size_t end;
	int ret = rd_record(r, SNAP_TAG_VCPU, "vCPU", &end);

	if (ret || (ret = rd_fixed(r, &v->mp, sizeof(v->mp))) ||
	    (ret = rd_fixed(r, &v->regs, sizeof(v->regs))) ||
	    (ret = rd_fixed(r, &v->sregs, sizeof(v->sregs))) ||
	    (ret = rd_u32(r, &v->xsave_len)))
		return ret;
	if (v->xsave_len < sizeof(struct kvm_xsave) ||
	    v->xsave_len > SNAPSHOT_XSAVE_MAX)
		return rd_fail(r, "an XSAVE area of a bad size");
	v->xsave = malloc(v->xsave_len);
	if (!v->xsave)
		return rd_fail(r, "no memory for the XSAVE area");
	if ((ret = rd_get(r, v->xsave, v->xsave_len)) ||
	    (ret = rd_fixed(r, &v->xcrs, sizeof(v->xcrs))) ||
	    (ret = rd_fixed(r, &v->dregs, sizeof(v->dregs))) ||
	    (ret = rd_fixed(r, &v->lapic, sizeof(v->lapic))) ||
	    (ret = rd_u32(r, &v->nr_msrs)))
		return ret;
	if (v->xcrs.nr_xcrs > KVM_MAX_XCRS)
		return rd_fail(r, "too many XCRs");
	if (v->nr_msrs > SNAPSHOT_MAX_MSRS)
		return rd_fail(r, "too many MSRs");
	v->msrs = calloc(v->nr_msrs ? v->nr_msrs : 1, sizeof(*v->msrs));
	if (!v->msrs)
		return rd_fail(r, "no memory for the MSRs");
	for (unsigned i = 0; i < v->nr_msrs; i++) {
		uint64_t data;

		if ((ret = rd_u32(r, &v->msrs[i].index)) ||
		    (ret = rd_u64(r, &data)))
			return ret;
		v->msrs[i].data = data;
	}
	if ((ret = rd_fixed(r, &v->events, sizeof(v->events))))
		return ret;
	return rd_record_end(r, end);
}

static int snap_decode_dev(struct snap_rd *r, struct snapshot_dev *d)
{
	size_t end;
	int ret = rd_record(r, SNAP_TAG_DEV, "device", &end);

	if (ret || (ret = rd_u32(r, &d->bus)) || (ret = rd_u64(r, &d->base)) ||
	    (ret = rd_get(r, d->name, sizeof(d->name))) ||
	    (ret = rd_u32(r, &d->len)))
		return ret;
	if (d->bus > 1)
		return rd_fail(r, "an unknown bus");
	if (!memchr(d->name, '\0', sizeof(d->name)))
		return rd_fail(r, "a device name without its end");
	if (!d->len || d->len > SNAPSHOT_BLOB_MAX)
		return rd_fail(r, "a device state of a bad size");
	d->blob = malloc(d->len);
	if (!d->blob)
		return rd_fail(r, "no memory for a device state");
	if ((ret = rd_get(r, d->blob, d->len)))
		return ret;
	return rd_record_end(r, end);
}

int snapshot_state_decode(const uint8_t *buf, size_t len,
			  struct snapshot_state *s, char *err, size_t errlen)
{
	struct snap_rd r = {.err = err, .errlen = errlen, .what = "header"};
	uint32_t version, crc, tag;
	uint64_t plen;
	size_t end;
	int ret;

	memset(s, 0, sizeof(*s));
	if (len < SNAP_HDR_LEN || memcmp(buf, SNAPSHOT_MAGIC, 8)) {
		snprintf(err, errlen, "not a microvm snapshot state file (%s)",
			 len < SNAP_HDR_LEN ? "shorter than its header"
					    : "bad magic");
		return -EINVAL;
	}
	memcpy(&version, buf + 8, 4);
	memcpy(&crc, buf + 12, 4);
	memcpy(&plen, buf + 16, 8);
	if (version != SNAPSHOT_VERSION) {
		snprintf(err, errlen,
			 "snapshot state format version %u, this microvm "
			 "reads version %u: restore it with the microvm that "
			 "took it",
			 version, SNAPSHOT_VERSION);
		return -EINVAL;
	}
	if (plen != len - SNAP_HDR_LEN) {
		snprintf(err, errlen,
			 "damaged snapshot state: %llu bytes of payload, the "
			 "header says %llu (truncated or extended file)",
			 (unsigned long long)(len - SNAP_HDR_LEN),
			 (unsigned long long)plen);
		return -EINVAL;
	}
	if (snapshot_crc32(buf + SNAP_HDR_LEN, plen) != crc) {
		snprintf(err, errlen,
			 "damaged snapshot state: CRC mismatch (the file was "
			 "modified or corrupted)");
		return -EINVAL;
	}
	r.p = buf + SNAP_HDR_LEN;
	r.len = plen;
	if ((ret = snap_decode_config(&r, &s->cfg)))
		return ret;
	if ((ret = rd_record(&r, SNAP_TAG_VM, "VM", &end)) ||
	    (ret = rd_fixed(&r, &s->pit, sizeof(s->pit))))
		return ret;
	for (unsigned i = 0; i < 3; i++)
		if ((ret = rd_fixed(&r, &s->chips[i], sizeof(s->chips[i]))))
			return ret;
	if ((ret = rd_fixed(&r, &s->clock, sizeof(s->clock))) ||
	    (ret = rd_record_end(&r, end)))
		return ret;
	for (unsigned i = 0; i < 3; i++)
		if (s->chips[i].chip_id != i)
			return rd_fail(&r, "an irqchip out of order");
	for (unsigned i = 0; i < s->cfg.cpus; i++) {
		s->nr_vcpus = i + 1;
		if ((ret = snap_decode_vcpu(&r, &s->vcpus[i])))
			return ret;
	}
	for (;;) {
		r.what = "device";
		if (r.len - r.at < 4)
			return rd_fail(&r, "no end record");
		memcpy(&tag, r.p + r.at, 4);
		if (tag != SNAP_TAG_DEV)
			break;
		if (s->nr_devs == SNAPSHOT_MAX_DEVS)
			return rd_fail(&r, "too many devices");
		s->nr_devs++;
		if ((ret = snap_decode_dev(&r, &s->devs[s->nr_devs - 1])))
			return ret;
	}
	if ((ret = rd_record(&r, SNAP_TAG_END, "end", &end)) ||
	    (ret = rd_record_end(&r, end)))
		return ret;
	if (r.at != r.len)
		return rd_fail(&r, "bytes after the end record");
	return 0;
}

/* --- KVM state --- */

/* arg is const for the SET ioctls, written for the GET ones. */
static int snap_ioctl(int fd, unsigned long req, const void *arg,
		      const char *what, char *err, size_t errlen)
{
	if (ioctl(fd, req, (uintptr_t)arg) < 0) {
		int ret = -errno;

		snprintf(err, errlen, "%s: %s", what, strerror(-ret));
		return ret;
	}
	return 0;
}

/* The MSRs to save: KVM's list, minus those this vCPU cannot read back
 * (a restore could not set them either). */
static int snap_msr_list(int kvm_fd, int vcpu_fd, struct snapshot_vcpu *sv,
			 char *err, size_t errlen)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *list;
	union {
		struct kvm_msrs hdr;
		uint8_t buf[sizeof(struct kvm_msrs) +
			    sizeof(struct kvm_msr_entry)];
	} one;
	unsigned n;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return snap_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe,
				  "KVM_GET_MSR_INDEX_LIST", err, errlen);
	n = probe.nmsrs > SNAPSHOT_MAX_MSRS ? SNAPSHOT_MAX_MSRS : probe.nmsrs;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	sv->msrs = calloc(n ? n : 1, sizeof(*sv->msrs));
	if (!list || !sv->msrs) {
		free(list);
		snprintf(err, errlen, "out of memory for the MSR list");
		return -ENOMEM;
	}
	list->nmsrs = probe.nmsrs;
	if (snap_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list,
		       "KVM_GET_MSR_INDEX_LIST", err, errlen)) {
		free(list);
		return -EIO;
	}
	for (unsigned i = 0; i < list->nmsrs && sv->nr_msrs < n; i++) {
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.hdr.entries[0].index = list->indices[i];
		if (ioctl(vcpu_fd, KVM_GET_MSRS, &one) == 1)
			sv->msrs[sv->nr_msrs++] = one.hdr.entries[0];
	}
	free(list);
	return 0;
}

static int snap_xsave_size(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave)
		       ? n
		       : (int)sizeof(struct kvm_xsave);
}

int snapshot_vcpu_save(int kvm_fd, int vcpu_fd, struct snapshot_vcpu *sv,
		       char *err, size_t errlen)
{
	int ret, xs = snap_xsave_size(kvm_fd);

	/* MP state first: reading it makes KVM settle pending APIC events
	 * (INIT/SIPI) that the other registers then reflect. */
	if ((ret = snap_ioctl(vcpu_fd, KVM_GET_MP_STATE, &sv->mp,
			      "KVM_GET_MP_STATE", err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_GET_REGS, &sv->regs, "KVM_GET_REGS",
			      err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_GET_SREGS, &sv->sregs,
			      "KVM_GET_SREGS", err, errlen)))
		return ret;
	sv->xsave = calloc(1, (size_t)xs);
	if (!sv->xsave) {
		snprintf(err, errlen, "out of memory for the XSAVE area");
		return -ENOMEM;
	}
	sv->xsave_len = (uint32_t)xs;
	if ((ret = snap_ioctl(vcpu_fd,
			      xs > (int)sizeof(struct kvm_xsave)
				      ? KVM_GET_XSAVE2
				      : KVM_GET_XSAVE,
			      sv->xsave, "KVM_GET_XSAVE", err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_GET_XCRS, &sv->xcrs, "KVM_GET_XCRS",
			      err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &sv->dregs,
			      "KVM_GET_DEBUGREGS", err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_GET_LAPIC, &sv->lapic,
			      "KVM_GET_LAPIC", err, errlen)) ||
	    (ret = snap_msr_list(kvm_fd, vcpu_fd, sv, err, errlen)))
		return ret;
	/* Events last: the reads above may have queued one. */
	return snap_ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &sv->events,
			  "KVM_GET_VCPU_EVENTS", err, errlen);
}

int snapshot_vcpu_restore(int vcpu_fd, const struct snapshot_vcpu *sv,
			  char *err, size_t errlen)
{
	struct kvm_vcpu_events ev = sv->events;
	struct kvm_msrs *m;
	size_t msz = sizeof(*m) + sv->nr_msrs * sizeof(m->entries[0]);
	int ret, n;

	/* Special registers (CPU mode, CR4.OSXSAVE) before XSAVE and XCRs,
	 * the LAPIC after the sregs (its base MSR) and before the MSRs
	 * (TSC deadline needs the LAPIC in the right mode). */
	if ((ret = snap_ioctl(vcpu_fd, KVM_SET_SREGS, &sv->sregs,
			      "KVM_SET_SREGS", err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_SET_REGS, &sv->regs, "KVM_SET_REGS",
			      err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_SET_XSAVE, sv->xsave,
			      "KVM_SET_XSAVE", err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_SET_XCRS, &sv->xcrs, "KVM_SET_XCRS",
			      err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_SET_DEBUGREGS, &sv->dregs,
			      "KVM_SET_DEBUGREGS", err, errlen)) ||
	    (ret = snap_ioctl(vcpu_fd, KVM_SET_LAPIC, &sv->lapic,
			      "KVM_SET_LAPIC", err, errlen)))
		return ret;
	m = calloc(1, msz);
	if (!m) {
		snprintf(err, errlen, "out of memory for the MSRs");
		return -ENOMEM;
	}
	m->nmsrs = sv->nr_msrs;
	memcpy(m->entries, sv->msrs, sv->nr_msrs * sizeof(m->entries[0]));
	n = ioctl(vcpu_fd, KVM_SET_MSRS, m);
	free(m);
	if (n != (int)sv->nr_msrs) {
		snprintf(err, errlen,
			 "KVM_SET_MSRS: MSR 0x%x (entry %d of %u) was refused: "
			 "the snapshot comes from another host or kernel",
			 n >= 0 && (unsigned)n < sv->nr_msrs ? sv->msrs[n].index
							     : 0,
			 n, sv->nr_msrs);
		return -EINVAL;
	}
	if ((ret = snap_ioctl(vcpu_fd, KVM_SET_MP_STATE, &sv->mp,
			      "KVM_SET_MP_STATE", err, errlen)))
		return ret;
	/* The pending NMI and the SIPI vector too, not only what GET marks
	 * valid. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
		    KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	return snap_ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev,
			  "KVM_SET_VCPU_EVENTS", err, errlen);
}

int snapshot_vm_save(int vm_fd, struct snapshot_state *s, char *err,
		     size_t errlen)
{
	int ret = snap_ioctl(vm_fd, KVM_GET_PIT2, &s->pit, "KVM_GET_PIT2", err,
			     errlen);

	for (unsigned i = 0; !ret && i < 3; i++) {
		s->chips[i].chip_id = i;
		ret = snap_ioctl(vm_fd, KVM_GET_IRQCHIP, &s->chips[i],
				 "KVM_GET_IRQCHIP", err, errlen);
	}
	return ret ? ret
		   : snap_ioctl(vm_fd, KVM_GET_CLOCK, &s->clock,
				"KVM_GET_CLOCK", err, errlen);
}

int snapshot_vm_restore(int vm_fd, const struct snapshot_state *s, char *err,
			size_t errlen)
{
	struct kvm_clock_data clock = {.clock = s->clock.clock};
	int ret = snap_ioctl(vm_fd, KVM_SET_PIT2, &s->pit, "KVM_SET_PIT2", err,
			     errlen);

	for (unsigned i = 0; !ret && i < 3; i++)
		ret = snap_ioctl(vm_fd, KVM_SET_IRQCHIP, &s->chips[i],
				 "KVM_SET_IRQCHIP", err, errlen);
	/* The guest's clock goes on from the saved value; SET_CLOCK takes
	 * no flags from GET (the TSC-stable bit is a report). */
	return ret ? ret
		   : snap_ioctl(vm_fd, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK",
				err, errlen);
}

/* --- devices --- */

int snapshot_devs_save(const struct bus *pio, const struct bus *mmio,
		       struct snapshot_state *s, char *err, size_t errlen)
{
	const struct bus *buses[2] = {pio, mmio};
	uint8_t *tmp = malloc(SNAPSHOT_BLOB_MAX);

	if (!tmp) {
		snprintf(err, errlen, "out of memory for device state");
		return -ENOMEM;
	}
	for (unsigned b = 0; b < 2; b++)
		for (unsigned i = 0; i < buses[b]->nr; i++) {
			const struct bus_dev *d = &buses[b]->devs[i];
			struct snapshot_dev *sd;
			ssize_t n;

			if (!d->ops->save) {
				if (d->name && !strncmp(d->name, "virtio", 6)) {
					snprintf(err, errlen,
						 "device %s cannot be saved "
						 "yet: snapshot a VM without "
						 "it",
						 d->name);
					free(tmp);
					return -EOPNOTSUPP;
				}
				continue; /* stateless, or saved via a twin */
			}
			n = d->ops->save(d->opaque, tmp, SNAPSHOT_BLOB_MAX);
			if (n <= 0 || s->nr_devs == SNAPSHOT_MAX_DEVS) {
				snprintf(err, errlen, "saving device %s: %s",
					 d->name ? d->name : "?",
					 n < 0 ? strerror((int)-n) : "no room");
				free(tmp);
				return n < 0 ? (int)n : -ENOSPC;
			}
			sd = &s->devs[s->nr_devs];
			sd->blob = malloc((size_t)n);
			if (!sd->blob) {
				free(tmp);
				snprintf(err, errlen,
					 "out of memory for device state");
				return -ENOMEM;
			}
			memcpy(sd->blob, tmp, (size_t)n);
			sd->len = (uint32_t)n;
			sd->bus = b;
			sd->base = d->base;
			snprintf(sd->name, sizeof(sd->name), "%s",
				 d->name ? d->name : "");
			s->nr_devs++;
		}
	free(tmp);
	return 0;
}

int snapshot_devs_restore(const struct bus *pio, const struct bus *mmio,
			  const struct snapshot_state *s, char *err,
			  size_t errlen)
{
	const struct bus *buses[2] = {pio, mmio};

	for (unsigned i = 0; i < s->nr_devs; i++) {
		const struct snapshot_dev *sd = &s->devs[i];
		const struct bus_dev *d = bus_find(buses[sd->bus], sd->base, 1);
		int ret;

		if (!d || d->base != sd->base || !d->ops->load ||
		    strcmp(d->name ? d->name : "", sd->name)) {
			snprintf(err, errlen,
				 "snapshot device %s at 0x%llx does not match "
				 "the rebuilt board (%s there)",
				 sd->name, (unsigned long long)sd->base,
				 d && d->name ? d->name : "nothing");
			return -EINVAL;
		}
		ret = d->ops->load(d->opaque, sd->blob, sd->len);
		if (ret) {
			snprintf(err, errlen,
				 "snapshot state of device %s was refused: %s",
				 sd->name, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* --- files --- */

int snapshot_dir_create(const char *dir, int *dirfd, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *e;
	int fd, ret;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create snapshot directory %s: %s",
			 dir, strerror(-ret));
		return ret;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open snapshot directory %s: %s",
			 dir, strerror(-ret));
		return ret;
	}
	d = fdopendir(dup(fd));
	if (!d) {
		ret = -errno;
		close(fd);
		snprintf(err, errlen, "cannot read snapshot directory %s: %s",
			 dir, strerror(-ret));
		return ret;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			close(fd);
			snprintf(err, errlen,
				 "snapshot directory %s exists and is not "
				 "empty: choose a new directory",
				 dir);
			return -EEXIST;
		}
	closedir(d);
	*dirfd = fd;
	return 0;
}

int snapshot_state_write(int dirfd, const uint8_t *buf, size_t len, char *err,
			 size_t errlen)
{
	int fd = openat(dirfd, SNAPSHOT_STATE_FILE,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0600);
	size_t at = 0;
	int ret = 0;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create snapshot state file: %s",
			 strerror(-ret));
		return ret;
	}
	while (at < len) {
		ssize_t n = write(fd, buf + at, len - at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		at += (size_t)n;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (ret)
		snprintf(err, errlen, "writing snapshot state file: %s",
			 strerror(-ret));
	return ret;
}

int snapshot_state_read(const char *dir, struct snapshot_state *s, char *err,
			size_t errlen)
{
	char path[PATH_MAX], why[256];
	struct stat st;
	uint8_t *buf;
	size_t at = 0;
	int fd, ret = 0;

	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			     SNAPSHOT_STATE_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "snapshot directory path is too long");
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen,
			 "cannot open snapshot state %s: %s: is %s a "
			 "snapshot directory?",
			 path, strerror(-ret), dir);
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > SNAPSHOT_FILE_MAX) {
		close(fd);
		snprintf(err, errlen,
			 "snapshot state %s is not a regular file of at most "
			 "%u MiB",
			 path, SNAPSHOT_FILE_MAX >> 20);
		return -EINVAL;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory reading %s", path);
		return -ENOMEM;
	}
	while (at < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + at, (size_t)st.st_size - at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		at += (size_t)n;
	}
	close(fd);
	if (ret) {
		free(buf);
		snprintf(err, errlen, "reading %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = snapshot_state_decode(buf, at, s, why, sizeof(why));
	free(buf);
	if (ret)
		snprintf(err, errlen, "%s: %s", path, why);
	return ret;
}
