/*
 * Logging never blocks: with stderr a full pipe nobody reads, a line is
 * dropped and counted at once, and the count comes out with the first line
 * that fits again. The pipe stays in blocking mode (its flags are shared
 * with other processes and are not ours to change).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "tests/harness/harness.h"

static uint64_t log_test_ms(void)
{
	return clock_wall_ns() / 1000000;
}

/* A blocking pipe, full; returns the write end in p[1]. */
static void log_full_pipe(int p[2])
{
	char junk[4096];

	memset(junk, 'j', sizeof(junk));
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	ck_assert_int_eq(fcntl(p[1], F_SETFL, 0), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, 0), 0);
}

static void log_drain(int fd)
{
	char junk[4096];
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, junk, sizeof(junk)) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

START_TEST(log_full_stderr_drops_and_counts)
{
	char buf[512];
	uint64_t t0;
	ssize_t n;
	int p[2];

	log_full_pipe(p);
	log_set_fd(p[1]);
	alarm(10); /* a blocked write would hang the test: fail it instead */
	t0 = log_test_ms();
	log_warn("first %d", 1);
	log_err("second");
	fputs("microvm: report line\n", log_stream());
	ck_assert_uint_lt(log_test_ms() - t0, 1000);
	ck_assert_uint_eq(log_dropped_lines(), 3);
	ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);

	log_drain(p[0]);
	log_warn("third");
	ck_assert_uint_eq(log_dropped_lines(), 0);
	n = read(p[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "microvm: warning: 3 log lines dropped: stderr "
			      "was not being read\n"
			      "microvm: warning: third\n");
	log_set_fd(STDERR_FILENO);
}
END_TEST

/* A reader that went away (EPIPE, SIGPIPE ignored) costs a count, nothing
 * else; long lines are cut, never split into two log lines. */
START_TEST(log_closed_and_long_lines)
{
	char big[4000], buf[2048];
	ssize_t n;
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(p), 0);
	log_set_fd(p[1]);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_err("%s", big);
	n = read(p[0], buf, sizeof(buf));
	ck_assert_int_gt(n, 100);
	ck_assert_int_eq(buf[n - 1], '\n');
	ck_assert_ptr_eq(memchr(buf, '\n', (size_t)n - 1), NULL);
	close(p[0]);
	log_err("nobody reads this");
	ck_assert_uint_eq(log_dropped_lines(), 1);
	log_set_fd(STDERR_FILENO);
	close(p[1]);
}
END_TEST

Suite *log_suite(void);
Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("nonblocking");

	tcase_add_test(tc, log_full_stderr_drops_and_counts);
	tcase_add_test(tc, log_closed_and_long_lines);
	suite_add_tcase(s, tc);
	return s;
}
