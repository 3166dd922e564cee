/* Strict parsing of user-given sizes ("512M", "1G", "3584M", "4096"). */
#ifndef MEM_SIZE_H
#define MEM_SIZE_H

#include <stdint.h>

/*
 * Parse a size: decimal digits followed by an optional suffix K, M, G or T
 * (binary multiples, case-insensitive, an optional trailing "iB" or "B" is
 * accepted). No sign, no spaces, no fractions, no hex, no overflow.
 * Returns 0 and stores the byte count in *out, or -EINVAL / -ERANGE.
 */
int size_parse(const char *s, uint64_t *out)
	__attribute__((warn_unused_result));

/* Format bytes as a short human string ("512M", "1G", "4096") into buf. */
const char *size_format(uint64_t bytes, char *buf, unsigned len);

#endif
