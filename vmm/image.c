#include "vmm/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/log.h"

void image_init(struct image *im)
{
	im->fd = -1;
	im->len = 0;
}

int image_open(struct image *im, const char *what, const char *path, char *err,
	       size_t errlen)
{
	struct stat st;
	int ret;

	ret = file_open_input(path, O_RDONLY, 0, &st);
	im->fd = ret >= 0 ? ret : -1;
	if (ret == -EINVAL) {
		snprintf(err, errlen,
			 "%s %s is not a regular file (it is %s): give the "
			 "image file",
			 what, path, file_type_name(st.st_mode));
		return ret;
	}
	if (ret < 0) {
		snprintf(err, errlen, "cannot read %s %s: %s", what, path,
			 strerror(-ret));
		return ret;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s %s is empty", what, path);
		image_close(im);
		return -EINVAL;
	}
	im->len = (uint64_t)st.st_size;
	return 0;
}

int image_load(struct image *kernel, struct image *initrd,
	       const struct arch_vm *a, const struct guest_mem *gm,
	       const char *cmdline, unsigned cpus, unsigned nr_virtio,
	       struct arch_boot *bi, char *err, size_t errlen)
{
	struct boot_src k = boot_src_fd(kernel->fd, kernel->len);
	struct boot_src i = boot_src_fd(initrd->fd, initrd->len);
	char what[128];
	int ret;

	ret = arch_load(a, gm, &k, initrd->fd >= 0 ? &i : NULL, cmdline, cpus,
			nr_virtio, bi, err, errlen);
	if (ret)
		return ret;
	arch_boot_describe(bi, what, sizeof(what));
	log_info("kernel: %s, cmdline \"%s\"", what, cmdline);
	image_close(kernel);
	image_close(initrd);
	return 0;
}

void image_close(struct image *im)
{
	if (im->fd >= 0)
		close(im->fd);
	im->fd = -1;
}
