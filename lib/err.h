/*
 * The one-line error reason every setup function hands back beside its
 * negative errno (`char *err, size_t errlen`). A leaf: any module may use it.
 */
#ifndef LIB_ERR_H
#define LIB_ERR_H

#include <stddef.h>

/* printf into err[errlen] when err is non-NULL and errlen non-zero; returns
 * `ret` (a negative errno), so a failure path is one statement:
 * `return err_set(err, errlen, -EINVAL, "bad --mem %s", s);`. */
int err_set(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
