/* lib/file.c: reports written without replacing device nodes or following
 * planted links; inputs refused before an open() that would block. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/file.h"
#include "tests/harness/harness.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/microvm-file-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static unsigned dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void read_all(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

START_TEST(file_write_new_and_replace)
{
	char p[128], buf[64], err[256];
	struct stat st;

	in_dir(p, sizeof(p), "out.json");
	ck_assert_int_eq(
		file_write_replace("--x", p, "one\n", 4, err, sizeof(err)), 0);
	read_all(p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "one\n");
	ck_assert_int_eq(
		file_write_replace("--x", p, "two\n", 4, err, sizeof(err)), 0);
	read_all(p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "two\n");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	/* No temporary left beside it. */
	ck_assert_uint_eq(dir_entries(), 1);
	/* A missing directory: an error naming the option and the path. */
	in_dir(p, sizeof(p), "nodir/out.json");
	ck_assert_int_eq(file_write_replace("--x", p, "x", 1, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "cannot write --x "));
	ck_assert_ptr_nonnull(strstr(err, p));
}
END_TEST

/* Links planted at every name microvm used to use (PATH.tmp.PID) and at a
 * guessable mkstemp-like name must not redirect the write. */
START_TEST(file_write_ignores_planted_links)
{
	char p[128], link[160], victim[128], buf[64], err[256];

	in_dir(p, sizeof(p), "out.json");
	in_dir(victim, sizeof(victim), "victim");
	ck_assert_int_eq(file_write_replace("--x", victim, "precious", 8, err,
					    sizeof(err)),
			 0);
	snprintf(link, sizeof(link), "%s.tmp.%d", p, (int)getpid());
	ck_assert_int_eq(symlink(victim, link), 0);
	ck_assert_int_eq(
		file_write_replace("--x", p, "json\n", 5, err, sizeof(err)), 0);
	read_all(victim, buf, sizeof(buf));
	ck_assert_str_eq(buf, "precious");
	read_all(p, buf, sizeof(buf));
	ck_assert_str_eq(buf, "json\n");
}
END_TEST

static void *drain(void *arg)
{
	char *buf = arg;
	int fd = open(buf, O_RDONLY);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return NULL;
	n = read(fd, buf, 127);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return NULL;
}

START_TEST(file_write_fifo_written_not_replaced)
{
	char p[128], got[128], err[256];
	pthread_t t;
	struct stat st;

	in_dir(p, sizeof(p), "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	/* Nobody reads: an error at once, the FIFO stays. */
	ck_assert_int_eq(file_write_replace("--x", p, "x", 1, err, sizeof(err)),
			 -ENXIO);
	ck_assert_ptr_nonnull(strstr(err, "FIFO nobody reads"));
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	/* A reader: it gets the bytes. */
	snprintf(got, sizeof(got), "%s", p);
	ck_assert_int_eq(pthread_create(&t, NULL, drain, got), 0);
	for (int i = 0; i < 500; i++) {
		int r = file_write_replace("--x", p, "data\n", 5, err,
					   sizeof(err));

		if (r != -ENXIO) { /* the reader has opened its end */
			ck_assert_int_eq(r, 0);
			break;
		}
		usleep(2000);
	}
	pthread_join(t, NULL);
	ck_assert_str_eq(got, "data\n");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
}
END_TEST

START_TEST(file_write_char_device_not_replaced)
{
	char p[128], err[256];
	struct stat st;

	if (!harness_is_root())
		HARNESS_SKIP("needs root to make a character device (mknod)");
	in_dir(p, sizeof(p), "null");
	ck_assert_int_eq(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
	ck_assert_int_eq(
		file_write_replace("--x", p, "json\n", 5, err, sizeof(err)), 0);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(dir_entries(), 1);
}
END_TEST

START_TEST(file_write_refuses_what_it_cannot_write)
{
	char p[128], target[128], buf[64], err[256];
	struct stat st;

	/* A directory. */
	ck_assert_int_eq(
		file_write_replace("--x", dir, "x", 1, err, sizeof(err)),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "it is a directory"));
	/* A link to a regular file that is not our stdout: neither
	 * followed nor replaced. */
	in_dir(target, sizeof(target), "target");
	in_dir(p, sizeof(p), "link");
	ck_assert_int_eq(
		file_write_replace("--x", target, "keep", 4, err, sizeof(err)),
		0);
	ck_assert_int_eq(symlink(target, p), 0);
	ck_assert_int_eq(file_write_replace("--x", p, "x", 1, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "a symbolic link to a regular file"));
	read_all(target, buf, sizeof(buf));
	ck_assert_str_eq(buf, "keep");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	/* A dangling link: nothing is created where it points. */
	in_dir(p, sizeof(p), "dangling");
	in_dir(target, sizeof(target), "nowhere");
	ck_assert_int_eq(symlink(target, p), 0);
	ck_assert_int_eq(file_write_replace("--x", p, "x", 1, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_ne(access(target, F_OK), 0);
}
END_TEST

START_TEST(file_open_input_refuses_fifo_without_blocking)
{
	char p[128], err[256];
	struct stat st;
	int fd;

	in_dir(p, sizeof(p), "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	/* Before the fix an O_RDONLY open of it waited for a writer. */
	ck_assert_int_eq(file_open_input(p, O_RDONLY, 0, &st), -EINVAL);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_str_eq(file_type_name(st.st_mode), "a FIFO");
	ck_assert_int_eq(file_open_input(p, O_RDWR, FILE_ALLOW_BLOCK, &st),
			 -EINVAL);
	ck_assert_int_eq(file_open_input(dir, O_RDONLY, 0, &st), -EINVAL);
	ck_assert_str_eq(file_type_name(st.st_mode), "a directory");
	in_dir(p, sizeof(p), "missing");
	ck_assert_int_eq(file_open_input(p, O_RDONLY, 0, &st), -ENOENT);
	/* A regular file: an fd in blocking mode. */
	in_dir(p, sizeof(p), "plain");
	ck_assert_int_eq(file_write_replace("--x", p, "x", 1, err, sizeof(err)),
			 0);
	fd = file_open_input(p, O_RDONLY, 0, &st);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
}
END_TEST

START_TEST(file_unlink_same_leaves_a_newer_file)
{
	char p[128], err[256];
	struct stat old;

	in_dir(p, sizeof(p), "sock");
	ck_assert_int_eq(file_write_replace("--x", p, "a", 1, err, sizeof(err)),
			 0);
	ck_assert_int_eq(lstat(p, &old), 0);
	/* Another process replaces it (a new inode at the same path). */
	ck_assert_int_eq(file_write_replace("--x", p, "b", 1, err, sizeof(err)),
			 0);
	ck_assert_int_eq(file_unlink_same(p, &old), -ESTALE);
	ck_assert_int_eq(access(p, F_OK), 0);
	ck_assert_int_eq(lstat(p, &old), 0);
	ck_assert_int_eq(file_unlink_same(p, &old), 0);
	ck_assert_int_ne(access(p, F_OK), 0);
}
END_TEST

Suite *file_suite(void);
Suite *file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_write_new_and_replace);
	tcase_add_test(tc, file_write_ignores_planted_links);
	tcase_add_test(tc, file_write_fifo_written_not_replaced);
	tcase_add_test(tc, file_write_char_device_not_replaced);
	tcase_add_test(tc, file_write_refuses_what_it_cannot_write);
	tcase_add_test(tc, file_open_input_refuses_fifo_without_blocking);
	tcase_add_test(tc, file_unlink_same_leaves_a_newer_file);
	suite_add_tcase(s, tc);
	return s;
}
