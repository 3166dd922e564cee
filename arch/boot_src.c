#include "arch/boot_src.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct boot_src boot_src_mem(const void *buf, size_t len)
{
	return (struct boot_src){.buf = buf, .fd = -1, .len = len};
}

struct boot_src boot_src_fd(int fd, uint64_t len)
{
	return (struct boot_src){.buf = NULL, .fd = fd, .len = len};
}

int boot_src_read(const struct boot_src *s, uint64_t off, void *dst,
		  uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(off, len, &end) || end > s->len)
		return -ENOEXEC;
	if (s->buf) {
		memcpy(dst, s->buf + off, len);
		return 0;
	}
	while (len) {
		ssize_t n = pread(s->fd, dst, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		dst = (uint8_t *)dst + n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}
