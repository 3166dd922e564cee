/*
 * Regression tests for what the libFuzzer targets in fuzz/ found. Each
 * case names the target and what broke; the input is the fuzzer's
 * artifact (or its minimal form).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/bzimage.h"
#include "arch/layout.h"
#include "arch/x86/loader.h"
#include "mem/guest_mem.h"
#include "tests/harness/harness.h"
#include "vmm/cli.h"

#define MiB (1ULL << 20)

/* Run cli_parse on a NULL-terminated list (argv[0] added). */
static int regress_cli(const char *const *args, struct cli_opts *o, char *err,
		       size_t errlen)
{
	static char buf[16][64];
	char *argv[18];
	int n = 0;

	argv[n++] = strcpy(buf[0], "microvm");
	for (; args[n - 1]; n++) {
		ck_assert_int_lt(n, 16);
		ck_assert_uint_lt(strlen(args[n - 1]), sizeof(buf[0]));
		argv[n] = strcpy(buf[n], args[n - 1]);
	}
	argv[n] = NULL;
	err[0] = 0;
	return cli_parse(n, argv, o, err, errlen);
}

/*
 * cli fuzzer, crash-fbc85656: in a cluster of unknown short options
 * ("-\xadh") getopt has not advanced optind when it reports the first
 * letter, so the error named argv[0] ("unknown option 'microvm'").
 */
START_TEST(regress_cli_unknown_short_cluster)
{
	static const char *const fuzz_input[] = {"-\xadh", "--h\f", "",
						 "",	   "lp",    NULL};
	static const char *const cluster[] = {"--kernel", "k", "-xy", NULL};
	struct cli_opts o;
	char err[256];

	ck_assert_int_eq(regress_cli(fuzz_input, &o, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(!strncmp(err, "unknown option '-\xad'", 19), "%s", err);
	ck_assert_int_eq(regress_cli(cluster, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown option '-x' (see --help)");
}
END_TEST

/*
 * Found alongside: with an optstring not starting with ':' getopt reports
 * a missing value as '?', so "--mem" at the end read "unknown option
 * '--mem'" and the "needs a value" message was dead code.
 */
START_TEST(regress_cli_missing_value)
{
	static const char *const mem[] = {"--kernel", "k", "--mem", NULL};
	static const char *const kernel[] = {"--kernel", NULL};
	static const char *const unknown[] = {"--kernel", "k", "--frob", NULL};
	struct cli_opts o;
	char err[256];

	ck_assert_int_eq(regress_cli(mem, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--mem needs a value (see --help)");
	ck_assert_int_eq(regress_cli(kernel, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--kernel needs a value (see --help)");
	/* Unknown long options still name themselves. */
	ck_assert_int_eq(regress_cli(unknown, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown option '--frob' (see --help)");
}
END_TEST

/* The bzimage artifact's header: setup_sects 1, protocol 2.15, loaded
 * high, 64-bit entry, not relocatable, pref_address 0xff, init_size
 * 0x100; pm bytes of protected-mode kernel after the 1 KiB setup. */
static size_t regress_bz(uint8_t *img, size_t pm)
{
	struct setup_header h;

	memset(img, 0, 1024 + pm);
	memset(&h, 0, sizeof(h));
	h.setup_sects = 1;
	h.boot_flag = 0xaa55;
	h.jump = 0x6aeb;
	h.header = BZIMAGE_MAGIC;
	h.version = 0x020f;
	h.loadflags = LOADED_HIGH;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = 255;
	h.pref_address = 0xff;
	h.init_size = 0x100;
	memcpy(img + BZIMAGE_HDR_OFFSET, &h, sizeof(h));
	memset(img + 1024, 0xcc, pm);
	return 1024 + pm;
}

/*
 * bzimage fuzzer, crash-4ae8158c: an 89-byte protected-mode kernel (and a
 * tiny init_size) loaded fine, with the 64-bit entry at load + 0x200 past
 * everything loaded: the vCPU would have started in stale RAM.
 */
START_TEST(regress_bzimage_entry_past_kernel)
{
	static uint8_t img[1024 + 0x400];
	uint8_t *ram = harness_ram_map(8 * MiB);
	struct bzimage_info bi;
	struct boot_info boot;
	struct guest_mem gm;
	char err[256] = "";
	size_t len;

	harness_gm_one(&gm, ram, 8 * MiB);
	len = regress_bz(img, 89);
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, err, sizeof(err)),
			 -ENOEXEC);
	ck_assert_msg(strstr(err, "truncated bzImage") &&
			      strstr(err, "64-bit entry"),
		      "%s", err);
	ck_assert_uint_eq(ram[LAYOUT_HIMEM_START], 0); /* nothing written */
	ck_assert_int_eq(boot_load(&gm, img, len, NULL, 0, "quiet", 2, &boot,
				   err, sizeof(err)),
			 -ENOEXEC);
	len = regress_bz(img, 0x200);
	ck_assert_int_eq(bzimage_load(&gm, img, len, &bi, err, sizeof(err)),
			 -ENOEXEC);
	/* One byte at the entry is enough to be loaded. */
	len = regress_bz(img, 0x201);
	ck_assert_msg(bzimage_load(&gm, img, len, &bi, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(bi.entry64, LAYOUT_HIMEM_START + 0x200);
	ck_assert_uint_lt(bi.entry64, bi.load_addr + bi.load_size);
	ck_assert_uint_eq(ram[bi.entry64], 0xcc);
}
END_TEST

Suite *fuzz_regress_suite(void);
Suite *fuzz_regress_suite(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc = tcase_create("cli");

	tcase_add_test(tc, regress_cli_unknown_short_cluster);
	tcase_add_test(tc, regress_cli_missing_value);
	suite_add_tcase(s, tc);
	tc = tcase_create("bzimage");
	tcase_add_test(tc, regress_bzimage_entry_past_kernel);
	suite_add_tcase(s, tc);
	return s;
}
