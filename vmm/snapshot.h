/*
 * Snapshot state: the file DIR/state that, with the guest memory files
 * (mem/snapshot.h), rebuilds a paused VM in a new process.
 *
 * File layout (all integers little-endian, x86_64 hosts only):
 *   header  8-byte magic "MVMSNAP\n", u32 format version, u32 CRC32 (IEEE)
 *           of the payload, u64 payload length
 *   payload a sequence of records, each u32 tag, u32 length, then length
 *           bytes, in this fixed order:
 *     CONFIG   memory size, page policy, vCPUs, boot timer, regions
 *              (gpa, size), disks (path, ro), net (TAP, MAC), rng,
 *              balloon options; the memory zones (id, size, gpa, page
 *              policy in use, backing, host node, --mem-file path) and
 *              the --mem-hotplug zone (size, pages, plugged at start,
 *              host node, id): enough to build the same board
 *     VM       KVM_GET_PIT2, KVM_GET_IRQCHIP (PIC master, slave, IOAPIC),
 *              KVM_GET_CLOCK
 *     VCPU     per vCPU, in index order: MP state, regs, sregs, XSAVE
 *              (length-prefixed), XCRs, debug registers, LAPIC, MSRs
 *              (count, then index/value pairs), vCPU events
 *     DEV      per device with a save hook: bus (0 pio, 1 mmio), base,
 *              name, and the device's blob (devices/bus.h)
 *     END      empty
 * The KVM structures are stored as the kernel's own layout with their
 * size; a size that differs is a format mismatch. Any damage (short file,
 * bad magic, version, CRC, a record out of order or of the wrong length)
 * is an error naming it, never a crash: fuzz/state_fuzz.c reads state
 * files with snapshot_state_decode.
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "mem/guest_mem.h"
#include "mem/memmap.h"
#include "vmm/cli.h"

#define SNAPSHOT_MAGIC	    "MVMSNAP\n"
#define SNAPSHOT_VERSION    2 /* 2: zones and the hotplug zone */
#define SNAPSHOT_STATE_FILE "state"
#define SNAPSHOT_MAX_VCPUS  64
#define SNAPSHOT_MAX_DEVS   (2 * BUS_MAX_DEVS)
#define SNAPSHOT_MAX_MSRS   1024
#define SNAPSHOT_XSAVE_MAX  (1u << 20)
#define SNAPSHOT_BLOB_MAX   65536
#define SNAPSHOT_NAME_MAX   24
#define SNAPSHOT_FILE_MAX   (64u << 20) /* a state file larger is damage */

/* One memory zone (--mem-zone, or the --mem shorthand "mem"). */
struct snapshot_zone {
	char id[MEMMAP_ZONE_ID_MAX];
	uint64_t size;
	uint64_t gpa;	     /* where its first region starts */
	uint32_t pages;	     /* enum region_pages in use */
	uint32_t backing;    /* enum region_backing */
	int32_t host_node;   /* -1: not bound */
	char path[PATH_MAX]; /* backing file: --mem-file as given, else "" */
};

/* The configuration the board and memory are rebuilt from. */
struct snapshot_config {
	uint64_t mem_size;
	uint32_t pages; /* enum region_pages */
	uint32_t cpus;
	uint32_t boot_timer;
	uint32_t nr_regions;
	uint64_t region_gpa[GUEST_MEM_MAX_REGIONS];
	uint64_t region_size[GUEST_MEM_MAX_REGIONS];
	uint32_t nr_disks;
	struct cli_disk disks[CLI_MAX_DISKS];
	uint32_t has_net;
	char tap[16];
	uint8_t mac[6];
	uint32_t has_mac;
	uint32_t rng;
	uint32_t has_balloon;
	uint32_t balloon_reporting, balloon_deflate_on_oom, balloon_stats;
	uint32_t nr_zones; /* 1..MEMMAP_MAX_ZONES; sizes add up to mem_size */
	struct snapshot_zone zones[MEMMAP_MAX_ZONES];
	uint32_t has_hotplug; /* --mem-hotplug */
	uint64_t hotplug_size, hotplug_plugged;
	uint32_t hotplug_pages;
	int32_t hotplug_node;
	char hotplug_id[MEMMAP_ZONE_ID_MAX];
};

/* The saved KVM state is x86_64's (vmm/snapshot.c is built for x86 only;
 * on arm64 vmm/arm64/snapshot.c refuses every snapshot and restore with
 * one error line): the one arch conditional of vmm/. */
#if defined(__x86_64__)
struct snapshot_vcpu {
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave_len;
	uint8_t *xsave; /* owned */
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	uint32_t nr_msrs;
	struct kvm_msr_entry *msrs; /* owned */
	struct kvm_vcpu_events events;
};
#else
struct snapshot_vcpu {
	struct kvm_mp_state mp;
};
#endif

struct snapshot_dev {
	uint32_t bus; /* 0 pio, 1 mmio */
	uint64_t base;
	char name[SNAPSHOT_NAME_MAX];
	uint32_t len;
	uint8_t *blob; /* owned */
};

struct snapshot_state {
	struct snapshot_config cfg;
#if defined(__x86_64__)
	struct kvm_pit_state2 pit;
	struct kvm_irqchip chips[3];
	struct kvm_clock_data clock;
#endif
	uint32_t nr_vcpus;
	struct snapshot_vcpu vcpus[SNAPSHOT_MAX_VCPUS];
	uint32_t nr_devs;
	struct snapshot_dev devs[SNAPSHOT_MAX_DEVS];
};

/* Free what a decode or a capture allocated; s is then empty. */
void snapshot_state_free(struct snapshot_state *s);

/*
 * Serialize s with the header and CRC into a malloc'd buffer (*buf, *len).
 * 0 or -ENOMEM.
 */
int snapshot_state_encode(const struct snapshot_state *s, uint8_t **buf,
			  size_t *len) __attribute__((warn_unused_result));

/*
 * Parse a state file's bytes into *s (zeroed first; free with
 * snapshot_state_free, also after a failure). 0, or -EINVAL with a
 * one-line reason in err saying what is damaged. Touches nothing else:
 * safe on any input.
 */
int snapshot_state_decode(const uint8_t *buf, size_t len,
			  struct snapshot_state *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* CRC32 (IEEE 802.3, as zlib) of len bytes. */
uint32_t snapshot_crc32(const void *buf, size_t len);

/*
 * KVM state, read and written with the ioctls in the order KVM needs:
 * save takes MP state first and the events last; restore sets sregs, then
 * the LAPIC, then the MSRs. kvm_fd is /dev/kvm (the MSR list).
 */
int snapshot_vcpu_save(int kvm_fd, int vcpu_fd, struct snapshot_vcpu *sv,
		       char *err, size_t errlen)
	__attribute__((warn_unused_result));
int snapshot_vcpu_restore(int vcpu_fd, const struct snapshot_vcpu *sv,
			  char *err, size_t errlen)
	__attribute__((warn_unused_result));
int snapshot_vm_save(int vm_fd, struct snapshot_state *s, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
int snapshot_vm_restore(int vm_fd, const struct snapshot_state *s, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/*
 * Devices: every device on the two buses with a save hook, in bus order.
 * A virtio device without hooks cannot be saved: -EOPNOTSUPP naming it.
 * Restore loads each saved blob into the device at the same bus address
 * and name (-EINVAL when the board does not match).
 */
int snapshot_devs_save(const struct bus *pio, const struct bus *mmio,
		       struct snapshot_state *s, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int snapshot_devs_restore(const struct bus *pio, const struct bus *mmio,
			  const struct snapshot_state *s, char *err,
			  size_t errlen) __attribute__((warn_unused_result));

/*
 * The snapshot directory: create DIR (mode 0700; an existing empty one is
 * taken, an existing non-empty one is -EEXIST) and open it. *dirfd for
 * the caller to close.
 */
int snapshot_dir_create(const char *dir, int *dirfd, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Write buf as DIR/state (new file, fsync'd). */
int snapshot_state_write(int dirfd, const uint8_t *buf, size_t len, char *err,
			 size_t errlen) __attribute__((warn_unused_result));

/* Read and decode DIR/state into *s. 0, or a negative errno with a
 * one-line reason naming the file. */
int snapshot_state_read(const char *dir, struct snapshot_state *s, char *err,
			size_t errlen) __attribute__((warn_unused_result));

#endif
