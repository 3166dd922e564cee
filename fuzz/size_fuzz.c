/*
 * libFuzzer target for the user-given memory options: size_parse()
 * (--mem) and region_policy_parse() (--pages). The first byte picks the
 * parser (even: size, odd: page policy), the rest is the string (up to the
 * first NUL), copied into an exact-size buffer so ASan sees any read past
 * its terminator.
 *
 * Checked beyond "does not crash": a parsed size formats back with
 * size_format() (also into tiny buffers) to a string that parses to the
 * same value; a parsed policy has valid page kinds, a fallback strictly
 * smaller than the policy, and leaves the backing alone; an error leaves
 * the output alone and gives a one-line, terminated reason.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/region.h"
#include "mem/size.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "parser broke its contract: %s\n", what);
		abort();
	}
}

static void fuzz_size(const char *s)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL, back = 0;
	char buf[32];
	int ret = size_parse(s, &v);

	fuzz_check(ret == 0 || ret == -EINVAL || ret == -ERANGE, "errno");
	if (ret) {
		fuzz_check(v == 0x5a5a5a5a5a5a5a5aULL, "output set on error");
		return;
	}
	fuzz_check(s[0] >= '0' && s[0] <= '9', "accepted a non-digit start");
	size_format(v, buf, sizeof(buf));
	fuzz_check(size_parse(buf, &back) == 0 && back == v,
		   "size_format does not round-trip");
	/* Short buffers truncate, never overflow. */
	for (unsigned len = 1; len <= 4; len++) {
		char *tiny = malloc(len);

		if (!tiny)
			abort();
		size_format(v, tiny, len);
		fuzz_check(memchr(tiny, 0, len) != NULL, "unterminated");
		free(tiny);
	}
}

static int fuzz_pages_ok(enum region_pages p)
{
	return p == REGION_PAGES_BASE || p == REGION_PAGES_THP ||
	       p == REGION_PAGES_HUGE || p == REGION_PAGES_HUGE1G;
}

static void fuzz_policy(const char *s)
{
	struct region_policy pol =
				     {
					     .pages = REGION_PAGES_HUGE1G,
					     .backing = REGION_BACKING_FILE,
					     .path = "/sentinel",
				     },
			     before = pol;
	char err[200];
	int ret;

	memset(err, 0x7f, sizeof(err));
	ret = region_policy_parse(s, &pol, err, sizeof(err));
	fuzz_check(ret == 0 || ret == -EINVAL, "errno");
	fuzz_check(pol.backing == before.backing && pol.path == before.path,
		   "backing changed");
	if (ret) {
		fuzz_check(!memcmp(&pol, &before, sizeof(pol)),
			   "policy changed on error");
		fuzz_check(memchr(err, 0, sizeof(err)) != NULL,
			   "unterminated err");
		fuzz_check(err[0] != 0, "error without a reason");
		if (!strchr(s, '\n'))
			fuzz_check(!strchr(err, '\n'), "multi-line error");
		return;
	}
	fuzz_check(fuzz_pages_ok(pol.pages), "pages");
	if (pol.has_fallback) {
		fuzz_check(fuzz_pages_ok(pol.fallback), "fallback");
		fuzz_check(pol.fallback != pol.pages &&
				   region_page_size(pol.fallback) <=
					   region_page_size(pol.pages),
			   "fallback not smaller");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end;
	size_t n;
	char *s;

	if (size < 1)
		return 0;
	end = memchr(data + 1, 0, size - 1);
	n = end ? (size_t)(end - (data + 1)) : size - 1;
	s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, data + 1, n);
	s[n] = 0;
	if (data[0] & 1)
		fuzz_policy(s);
	else
		fuzz_size(s);
	free(s);
	return 0;
}
