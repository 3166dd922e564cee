/* lib/err.h: one statement sets the message and returns the error. */
#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "tests/harness/harness.h"

START_TEST(err_set_formats_and_returns)
{
	char err[16];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(
		err_set(err, sizeof(err), -EINVAL, "bad %s %d", "mem", 7),
		-EINVAL);
	ck_assert_str_eq(err, "bad mem 7");
	/* Cut to fit, always terminated. */
	ck_assert_int_eq(err_set(err, sizeof(err), -ENOENT, "%s",
				 "a much longer reason than fits"),
			 -ENOENT);
	ck_assert_str_eq(err, "a much longer r");
	/* No buffer: only the return value. */
	ck_assert_int_eq(err_set(NULL, 0, -EIO, "ignored"), -EIO);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(err_set(err, 0, -EIO, "ignored"), -EIO);
	ck_assert_int_eq(err[0], 'x');
}
END_TEST

Suite *err_suite(void);
Suite *err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("set");

	tcase_add_test(tc, err_set_formats_and_returns);
	suite_add_tcase(s, tc);
	return s;
}
