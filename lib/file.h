/*
 * Opening and writing the files microvm is given on its command line,
 * without the classic mistakes: no open() that blocks forever on a FIFO,
 * no temporary file at a predictable name another user can plant a link
 * at, no device node or link replaced by a regular file. A leaf like
 * lib/log.h: any module may use it.
 */
#ifndef LIB_FILE_H
#define LIB_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* What file_open_input accepts besides regular files. */
#define FILE_ALLOW_BLOCK 1u /* block devices (disk images) */

/*
 * "a directory", "a FIFO", "a character device", "a socket",
 * "a block device", "a symbolic link", "a regular file".
 */
const char *file_type_name(mode_t mode);

/*
 * Open an existing file with `flags` (O_RDONLY or O_RDWR, O_CLOEXEC is
 * added). The path must name a regular file (or, with FILE_ALLOW_BLOCK, a
 * block device): anything else is -EINVAL before any open() that could
 * block (a FIFO as --kernel would otherwise wait forever for a writer).
 * *st gets the file's status in both cases (for the message). Returns the
 * fd (blocking mode) or a negative errno.
 */
int file_open_input(const char *path, int flags, unsigned allow,
		    struct stat *st) __attribute__((warn_unused_result));

/*
 * Write buf to path the way a user expects from `> path`, but safely:
 * - no file at path, or a regular file: written to an unpredictably named
 *   temporary in the same directory (created O_EXCL), synced, renamed
 *   over path: never half-written, and a link planted at a temporary name
 *   cannot redirect the write;
 * - a FIFO or character device (/dev/null, a terminal, a pipe through
 *   /dev/stdout): written to directly, never replaced; a FIFO nobody
 *   reads is an error, not a hang;
 * - a symbolic link: followed, never replaced; a regular file it points
 *   to is rewritten in place, unless it is our own stdout or stderr
 *   (/dev/stdout redirected to a file), which is appended to;
 * - anything else (directory, block device, socket, dangling link): an
 *   error, nothing written.
 * `what` names the option for the message ("--stats-json"). Returns 0 or
 * a negative errno with one line in err.
 */
int file_write_replace(const char *what, const char *path, const void *buf,
		       size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Remove path only if it still names the file `st` describes (same device
 * and inode; lstat, so a link is never followed): a file another process
 * put at the same path since is left alone. 0, -ESTALE if it is another
 * file, or a negative errno.
 */
int file_unlink_same(const char *path, const struct stat *st);

#endif
