/*
 * A kernel or initrd image named on the command line: opened (and checked)
 * before /dev/kvm, read by the loader straight into guest memory (pread,
 * so no copy of a 17 MB vmlinux sits on our heap), closed once loaded.
 */
#ifndef VMM_IMAGE_H
#define VMM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "mem/guest_mem.h"

struct image {
	int fd; /* -1: not open */
	uint64_t len;
};

/* Not open: image_close is then a no-op. */
void image_init(struct image *im);

/*
 * Open path for reading (`what`: "kernel" or "initrd", for the message). A
 * FIFO is refused before an open() that would wait forever for a writer.
 * 0, or a negative errno with a one-line reason naming the file in err:
 * -EINVAL for something that is not a regular file or is empty.
 */
int image_open(struct image *im, const char *what, const char *path, char *err,
	       size_t errlen) __attribute__((warn_unused_result));

/*
 * Load kernel, and initrd unless its fd is -1, into gm with cmdline and
 * the boot structures for cpus vCPUs and nr_virtio virtio slots
 * (arch_load with a's interrupt controller: *bi says where to enter), log
 * what was loaded, and close both: they are in guest memory now. 0, or a
 * negative errno with the reason in err.
 */
int image_load(struct image *kernel, struct image *initrd,
	       const struct arch_vm *a, const struct guest_mem *gm,
	       const char *cmdline, unsigned cpus, unsigned nr_virtio,
	       struct arch_boot *bi, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Close (idempotent). */
void image_close(struct image *im);

#endif
