#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	}
	return "not a regular file";
}

static int file_type_ok(mode_t mode, unsigned allow)
{
	return S_ISREG(mode) || ((allow & FILE_ALLOW_BLOCK) && S_ISBLK(mode));
}

int file_open_input(const char *path, int flags, unsigned allow,
		    struct stat *st)
{
	int fd, fl;

	/* stat first: open() of a FIFO for reading waits for a writer, and
	 * opening some character devices has side effects. */
	if (stat(path, st))
		return -errno;
	if (!file_type_ok(st->st_mode, allow))
		return -EINVAL;
	/* O_NONBLOCK: the path may have been swapped for a FIFO since. */
	fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (!file_type_ok(st->st_mode, allow)) {
		close(fd);
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A new file at path: written to ".NAME.XXXXXX" beside it (mkostemp: O_EXCL
 * and an unpredictable name, so nobody can have a link waiting there),
 * synced, then renamed over path. fresh: path did not exist, so the rename
 * must not replace whatever appeared there since (-EEXIST: look again).
 */
static int file_replace_regular(const char *path, int fresh, const void *buf,
				size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	char tmp[PATH_MAX];
	int fd, n, ret;

	n = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", dirlen, path, base);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* mkostemp makes 0600; a report is for everyone who may read the
	 * directory, like a file the shell would create. */
	ret = fchmod(fd, 0644) ? -errno : 0;
	if (!ret)
		ret = file_write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && fresh &&
	    renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE)) {
		ret = -errno;
		/* File systems without RENAME_NOREPLACE: a plain rename, the
		 * window is the one we had before. */
		if (ret == -EINVAL)
			ret = rename(tmp, path) ? -errno : 0;
	} else if (!ret && !fresh && rename(tmp, path)) {
		ret = -errno;
	}
	if (ret)
		unlink(tmp);
	return ret;
}

/* Is fd the same open file as our stdout or stderr? */
static int file_is_our_stream(const struct stat *st)
{
	for (int s = STDOUT_FILENO; s <= STDERR_FILENO; s++) {
		struct stat o;

		if (!fstat(s, &o) && o.st_dev == st->st_dev &&
		    o.st_ino == st->st_ino)
			return 1;
	}
	return 0;
}

/* path is a link, FIFO or character device: write without replacing. */
static int file_write_through(const char *what, const char *path,
			      const struct stat *lst, const void *buf,
			      size_t len, char *err, size_t errlen)
{
	struct stat st;
	int fd, fl, ret;

	/* O_NONBLOCK: a FIFO nobody reads is ENXIO, not a hang. No O_CREAT,
	 * no O_TRUNC: a dangling link creates nothing, and the type is
	 * checked before anything is changed. */
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENXIO)
			return err_set(
				err, errlen, ret,
				"cannot write %s %s: it is a FIFO nobody "
				"reads: start the reader first, or name "
				"a file",
				what, path);
		if (ret == -ENOENT)
			return err_set(err, errlen, ret,
				       "cannot write %s %s: it is a symbolic "
				       "link to a file that does not exist: "
				       "name the file itself",
				       what, path);
		return err_set(err, errlen, ret, "cannot write %s %s: %s", what,
			       path, strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && file_is_our_stream(&st)) {
		/* /dev/stdout redirected to a file: after the console output
		 * already there, not over it. */
		fl = fcntl(fd, F_GETFL);
		ret = fl < 0 || fcntl(fd, F_SETFL,
				      (fl & ~O_NONBLOCK) | O_APPEND)
			      ? -errno
			      : 0;
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		fl = fcntl(fd, F_GETFL);
		ret = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) ? -errno
								     : 0;
	} else {
		close(fd);
		return err_set(err, errlen, -EINVAL,
			       "cannot write %s %s: it is %s to %s, which "
			       "microvm will not replace or follow: name the "
			       "file itself",
			       what, path, file_type_name(lst->st_mode),
			       file_type_name(st.st_mode));
	}
	if (!ret)
		ret = file_write_all(fd, buf, len);
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret)
		return 0;
	fd = -1;
fail:
	if (fd >= 0)
		close(fd);
	return err_set(err, errlen, ret, "cannot write %s %s: %s", what, path,
		       strerror(-ret));
}

int file_write_replace(const char *what, const char *path, const void *buf,
		       size_t len, char *err, size_t errlen)
{
	struct stat lst;
	int ret = -EEXIST;

	/* Twice at most: a file that appears between the lstat and the
	 * rename of a fresh file is looked at again, never replaced. */
	for (int round = 0; round < 2 && ret == -EEXIST; round++) {
		if (lstat(path, &lst)) {
			ret = -errno;
			if (ret == -ENOENT)
				ret = file_replace_regular(path, 1, buf, len);
		} else if (S_ISREG(lst.st_mode)) {
			ret = file_replace_regular(path, 0, buf, len);
		} else if (S_ISLNK(lst.st_mode) || S_ISFIFO(lst.st_mode) ||
			   S_ISCHR(lst.st_mode)) {
			return file_write_through(what, path, &lst, buf, len,
						  err, errlen);
		} else {
			return err_set(err, errlen, -EINVAL,
				       "cannot write %s %s: it is %s, which "
				       "microvm will not replace: name a file",
				       what, path, file_type_name(lst.st_mode));
		}
	}
	if (ret)
		return err_set(err, errlen, ret,
			       "cannot write %s %s: %s: choose a path in a "
			       "writable directory with free space",
			       what, path, strerror(-ret));
	return 0;
}

int file_unlink_same(const char *path, const struct stat *st)
{
	struct stat now;

	if (lstat(path, &now))
		return -errno;
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return -ESTALE;
	return unlink(path) ? -errno : 0;
}
