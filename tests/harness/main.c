/*
 * The Check runner shared by tests/unit and tests/guest. Prints Check's
 * report, then one summary line "RUNNER: N passed, N failed, N skipped".
 * Usage: runner [SUITE...] to run only the named suites.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

struct runner_suite {
	const char *name;
	Suite *(*make)(void);
};

static const struct runner_suite runner_suites[] = {
#define SUITE(name) {#name, name##_suite},
#include "suites.h"
#undef SUITE
	{NULL, NULL}};

static int runner_wanted(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static int runner_count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	char skip_path[] = "/tmp/microvm-skips-XXXXXX";
	SRunner *sr = NULL;
	int fd, run, failed, skipped;

	fd = mkstemp(skip_path);
	if (fd < 0) {
		perror("mkstemp");
		return 2;
	}
	close(fd);
	setenv("HARNESS_SKIP_FILE", skip_path, 1);

	for (const struct runner_suite *s = runner_suites; s->name; s++) {
		if (!runner_wanted(s->name, argc, argv))
			continue;
		if (!sr)
			sr = srunner_create(s->make());
		else
			srunner_add_suite(sr, s->make());
	}
	if (!sr) {
		fprintf(stderr, "%s: no suite matched\n", RUNNER_NAME);
		unlink(skip_path);
		return 2;
	}
	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	skipped = runner_count_lines(skip_path);
	unlink(skip_path);
	printf("%s: %d passed, %d failed, %d skipped\n", RUNNER_NAME,
	       run - failed - skipped, failed, skipped);
	return failed ? 1 : 0;
}
