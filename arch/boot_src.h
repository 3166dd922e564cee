/*
 * Where a kernel or initrd image is read from: a buffer in memory (tests,
 * fuzzers) or a file descriptor (the VMM), so the loaders can copy large
 * segments straight from the file into guest memory without a second copy
 * of the image on the VMM's heap.
 */
#ifndef ARCH_BOOT_SRC_H
#define ARCH_BOOT_SRC_H

#include <stddef.h>
#include <stdint.h>

struct boot_src {
	const uint8_t *buf; /* NULL: read from fd */
	int fd;
	uint64_t len;
};

/* A source over buf[0..len). */
struct boot_src boot_src_mem(const void *buf, size_t len);

/* A source over the first len bytes of an open file (not owned). */
struct boot_src boot_src_fd(int fd, uint64_t len);

/*
 * Copy [off, off+len) of the image into dst. Returns 0, -ENOEXEC if the
 * range is not inside the image (overflow-checked), or a negative errno
 * from reading the file (a short read is -EIO).
 */
int boot_src_read(const struct boot_src *s, uint64_t off, void *dst,
		  uint64_t len) __attribute__((warn_unused_result));

#endif
