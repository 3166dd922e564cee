/*
 * Shared helpers for the Check-based test runners (unit and guest).
 * A test file tests/X/test_foo.c defines `Suite *foo_suite(void)`; the
 * Makefile generates the list the runner walks.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <check.h>
#include <stdint.h>

/* Record that the current test is skipped, with a reason, and return from
 * it. Counted as skipped (not passed) in the runner's summary. */
#define HARNESS_SKIP(...)                            \
	do {                                         \
		harness_skip(__func__, __VA_ARGS__); \
		return;                              \
	} while (0)

void harness_skip(const char *test, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* 1 when running as root (so a test may reserve hugepages itself). */
int harness_is_root(void);

/*
 * Make sure at least `pages` free hugepages of `size_kb` (2048 or 1048576)
 * exist, reserving more when root. Returns 0, or -1 when they cannot be had
 * (the caller skips). Reservations are not undone: the pool is a machine
 * resource tests share, and leaving it raised is what a user would do.
 */
int harness_hugepages(unsigned long size_kb, unsigned long pages);

/* Free hugepages of a size right now (-1 if the size is not supported). */
long harness_hugepages_free(unsigned long size_kb);

/* 1 if /dev/kvm can be opened read-write. */
int harness_have_kvm(void);

struct guest_mem;

/* Anonymous zeroed memory for a test guest RAM (fails the test if mmap
 * fails). Left mapped: each test runs in its own process. */
uint8_t *harness_ram_map(uint64_t len);

/* A one-region guest memory map over buf at guest address 0, without the
 * allocator (for tests of code that only translates addresses). */
void harness_gm_one(struct guest_mem *gm, uint8_t *buf, uint64_t size);

#endif
