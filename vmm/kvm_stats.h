/*
 * Per-boot figures: KVM's binary statistics (KVM_GET_STATS_FD, for the VM and
 * each vCPU), host page faults and RSS of the VMM process, boot and setup
 * times. Written as one JSON object (--stats-json FILE, or a
 * "microvm: stats {...}" line with --verbose).
 *
 * The stats file format (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD):
 * a struct kvm_stats_header at offset 0; num_desc descriptors at desc_offset,
 * each a struct kvm_stats_desc followed by name_size bytes of NUL-terminated
 * name; descriptor i's `size` u64 values at data_offset + desc.offset.
 */
#ifndef VMM_KVM_STATS_H
#define VMM_KVM_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mem/guest_mem.h"
#include "mem/report.h"

#define KVM_STATS_NAME_MAX  64
#define KVM_STATS_MAX_DESC  4096
#define KVM_STATS_MAX_VCPUS 64

struct kvm_stat {
	char name[KVM_STATS_NAME_MAX];
	uint32_t flags;	  /* KVM_STATS_TYPE_* | _UNIT_* | _BASE_* */
	int16_t exponent; /* value * base^exponent is in the unit */
	uint16_t size;	  /* 1, or the bucket count of a histogram */
	uint64_t value;	  /* size 1: the value; histograms: bucket sum */
};

struct kvm_stats {
	struct kvm_stat *items; /* owned */
	unsigned n;
};

/* Where the stats come from: stats fds opened while the VM and vCPU fds
 * were open. A stats fd keeps its VM (and vCPU) alive for reading, so it
 * can be read after the vCPU fds are closed. Zero-init is "nothing open". */
struct kvm_stats_src {
	int active;
	int vm_fd;
	int vcpu_fds[KVM_STATS_MAX_VCPUS];
	unsigned nr_vcpus;
	/* VmHWM minus the guest RAM in VmRSS when the stats were opened: the
	 * setup peak (kernel and initrd buffers) outside guest memory. */
	int setup_peak_known;
	uint64_t setup_peak_kib;
};

/* Everything one boot reports. Times in ns; sizes in KiB. */
struct kvm_stats_run {
	int boot_fired; /* the guest wrote the boot-timer byte */
	uint64_t boot_wall_ns, boot_cpu_ns;
	int setup_known; /* vCPU 0 reached its first KVM_RUN */
	uint64_t setup_wall_ns, setup_cpu_ns;
	uint64_t mem_bytes;
	unsigned cpus;
	long minflt, majflt; /* getrusage(RUSAGE_SELF): all threads */
	uint64_t vm_hwm_kib, vm_rss_kib; /* /proc/self/status */
	int guest_known;		 /* smaps report read */
	uint64_t guest_rss_kib;		 /* guest RAM counted in VmRSS */
	uint64_t guest_hugetlb_kib; /* guest RAM on hugetlb (not in VmRSS) */
	/* Per memory zone, from the same smaps read (when guest_known). */
	unsigned nr_zones;
	struct report_zone zones[GUEST_MEM_MAX_REGIONS];
	int setup_peak_known; /* from kvm_stats_src */
	uint64_t setup_peak_kib;
	struct kvm_stats vm, vcpu; /* vcpu: summed over vCPUs */
	int vm_err, vcpu_err;	   /* 0 or the negative errno */
	/* Guest reads of the i8042 status port (0x64): Linux polls it while
	 * it waits for the controller, so a high count is boot time lost. */
	uint64_t i8042_status_reads;
};

/* A stats fd for a VM or vCPU fd (KVM_GET_STATS_FD), or a negative errno. */
int kvm_stats_fd(int kvm_object_fd);

/*
 * Parse a whole stats file image (header, descriptors, data) into *out.
 * Returns 0, -EINVAL for a malformed image (an offset or size outside buf,
 * a name without its NUL), -ENODATA with *need set when buf is too short to
 * hold what the header and descriptors describe (need may be NULL), or
 * -ENOMEM. On error *out is empty.
 */
int kvm_stats_parse(const void *buf, size_t len, struct kvm_stats *out,
		    size_t *need) __attribute__((warn_unused_result));

/* Read and parse the stats behind stats_fd (from offset 0, every call). */
int kvm_stats_read(int stats_fd, struct kvm_stats *out)
	__attribute__((warn_unused_result));

/* *v = the named stat; -ENOENT when the kernel has no such stat. */
int kvm_stats_get(const struct kvm_stats *s, const char *name, uint64_t *v);

/*
 * Add `add` into `acc` by name (for totals over vCPUs): cumulative and
 * instant values and histogram sums add up, peaks take the maximum; names
 * not in acc are appended. 0 or -ENOMEM.
 */
int kvm_stats_merge(struct kvm_stats *acc, const struct kvm_stats *add)
	__attribute__((warn_unused_result));

void kvm_stats_free(struct kvm_stats *s);

/* Open the VM's and each vCPU's stats fd into src (fds that fail are left
 * out; read reports the error), and note the VMM's setup peak outside gm
 * (gm may be NULL). Call while those fds are open, after the kernel and
 * initrd are loaded and before the vCPUs start. */
void kvm_stats_src_open(struct kvm_stats_src *src, int vm_fd,
			const int *vcpu_fds, unsigned nr_vcpus,
			const struct guest_mem *gm);

/* Close what kvm_stats_src_open opened (no-op on a zeroed src). */
void kvm_stats_src_close(struct kvm_stats_src *src);

/*
 * Fill the process and KVM parts of r at this moment: getrusage faults,
 * VmHWM/VmRSS, guest memory residency from smaps (gm), and the VM and
 * summed vCPU stats from src. The timing fields are the caller's. Missing
 * pieces are marked (guest_known, vm_err, vcpu_err), never fatal.
 */
void kvm_stats_collect(struct kvm_stats_run *r, const struct kvm_stats_src *src,
		       const struct guest_mem *gm);

/* r as one line of JSON (no newline). Unknown values are null. */
void kvm_stats_json(FILE *f, const struct kvm_stats_run *r);

/*
 * Write r as JSON plus a newline to path with file_write_replace
 * (lib/file.h): a regular file atomically (an unpredictable temporary in
 * the same directory, then rename), a FIFO or character device such as
 * /dev/null or /dev/stdout directly, never replaced. 0, or a negative
 * errno with a one-line reason in err.
 */
int kvm_stats_write(const char *path, const struct kvm_stats_run *r, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

/* Free what kvm_stats_collect allocated. */
void kvm_stats_run_free(struct kvm_stats_run *r);

/*
 * The exit report: complete r (the caller filled the figures it owns:
 * sizes, timing, i8042 reads) with kvm_stats_collect, print it as one
 * "microvm: stats {...}" line on f (NULL: not printed), write it to path
 * (NULL: not written), and free what collect allocated. 0, or
 * kvm_stats_write's negative errno with the reason in err.
 */
int kvm_stats_report(struct kvm_stats_run *r, const struct kvm_stats_src *src,
		     const struct guest_mem *gm, FILE *f, const char *path,
		     char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
