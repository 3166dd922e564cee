/* One-line error reasons for the boot loaders (err may be NULL). */
#ifndef BOOT_ERR_H
#define BOOT_ERR_H

#include <stddef.h>

/* printf into err[errlen] when err is non-NULL; returns `ret` so callers can
 * write `return boot_err(err, errlen, -EINVAL, "...")`. */
int boot_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
