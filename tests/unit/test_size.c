#include <errno.h>
#include <stdint.h>

#include "mem/size.h"
#include "tests/harness/harness.h"

START_TEST(size_good)
{
	uint64_t v;

	ck_assert_int_eq(size_parse("512M", &v), 0);
	ck_assert_uint_eq(v, 512ULL << 20);
	ck_assert_int_eq(size_parse("1G", &v), 0);
	ck_assert_uint_eq(v, 1ULL << 30);
	ck_assert_int_eq(size_parse("3584m", &v), 0);
	ck_assert_uint_eq(v, 3584ULL << 20);
	ck_assert_int_eq(size_parse("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(size_parse("2GiB", &v), 0);
	ck_assert_uint_eq(v, 2ULL << 30);
	ck_assert_int_eq(size_parse("64K", &v), 0);
	ck_assert_uint_eq(v, 64ULL << 10);
	ck_assert_int_eq(size_parse("1T", &v), 0);
	ck_assert_uint_eq(v, 1ULL << 40);
	ck_assert_int_eq(size_parse("0", &v), 0);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(size_bad)
{
	static const char *const bad[] = {
		"",	 "M",  "-1M", "+1M", " 1M",  "1M ", "1.5G",
		"0x100", "1X", "1MM", "1iB", "12 M", "1Gi", "1GiBB",
	};
	uint64_t v = 77;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(size_parse(bad[i], &v) == -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 77);
	}
	ck_assert_int_eq(size_parse(NULL, &v), -EINVAL);
}
END_TEST

START_TEST(size_overflow)
{
	uint64_t v;

	ck_assert_int_eq(size_parse("18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(size_parse("18446744073709551616", &v), -ERANGE);
	ck_assert_int_eq(size_parse("17179869184G", &v), -ERANGE);
	ck_assert_int_eq(size_parse("16777215T", &v), 0);
	ck_assert_int_eq(size_parse("16777216T", &v), -ERANGE);
}
END_TEST

START_TEST(size_fmt)
{
	char buf[32];

	ck_assert_str_eq(size_format(512ULL << 20, buf, sizeof(buf)), "512M");
	ck_assert_str_eq(size_format(3ULL << 30, buf, sizeof(buf)), "3G");
	ck_assert_str_eq(size_format(1536ULL << 20, buf, sizeof(buf)), "1536M");
	ck_assert_str_eq(size_format(100, buf, sizeof(buf)), "100");
	ck_assert_str_eq(size_format(0, buf, sizeof(buf)), "0");
}
END_TEST

Suite *size_suite(void);
Suite *size_suite(void)
{
	Suite *s = suite_create("size");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, size_good);
	tcase_add_test(tc, size_bad);
	tcase_add_test(tc, size_overflow);
	tcase_add_test(tc, size_fmt);
	suite_add_tcase(s, tc);
	return s;
}
