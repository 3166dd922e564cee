/*
 * arch/arm64/dtb.c: the arm64 guest's device tree. Each blob is read back
 * with libfdt node by node and decompiled with dtc, whose output must equal
 * the reviewed tree in tests/unit/data/ (both sides printed by the same
 * dtc, so its version's formatting cancels out) with no dtc warning.
 */
#include <errno.h>
#include <libfdt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arm64/dtb.h"
#include "tests/harness/harness.h"

/* 8-byte aligned, as dtb_build wants; one test per process. */
static uint64_t dtb_blob[DTB_MAX_SIZE / 8 + 1];

static void dtb_base(struct dtb_config *c)
{
	memset(c, 0, sizeof(*c));
	c->nr_cpus = 1;
	c->nr_mem = 1;
	c->mem[0] = (struct dtb_range){0x80000000, 256 << 20};
	c->gic = DTB_GIC_V3;
	c->gic_dist = (struct dtb_range){0x08000000, 0x10000};
	c->gic_cpu = (struct dtb_range){0x080a0000, 0x20000};
	c->uart = (struct dtb_range){0x09000000, 0x1000};
	c->uart_spi = 1;
	c->uart_clock_hz = 1843200;
}

/* (a) 1 CPU, one memory range, GICv3, the UART, no virtio, no initrd. */
static void dtb_config_a(struct dtb_config *c)
{
	dtb_base(c);
	c->bootargs = "console=ttyS0 panic=-1";
}

#define DTB_B_BOOTARGS \
	"console=ttyS0 root=/dev/vda rw init=\"/sbin/init\" msg=\"a b\\c\""

/* (b) 2 CPUs, three memory ranges (the last above 4 GiB), GICv2, four
 * virtio devices, an initrd above 4 GiB, bootargs with quotes. */
static void dtb_config_b(struct dtb_config *c)
{
	unsigned i;

	dtb_base(c);
	c->nr_cpus = 2;
	c->nr_mem = 3;
	c->mem[0] = (struct dtb_range){0x80000000, 128 << 20};
	c->mem[1] = (struct dtb_range){0x88000000, 64 << 20};
	c->mem[2] = (struct dtb_range){0x100000000, 1ULL << 30};
	c->gic = DTB_GIC_V2;
	c->gic_cpu = (struct dtb_range){0x08010000, 0x2000};
	c->nr_virtio = 4;
	for (i = 0; i < 4; i++)
		c->virtio[i] = (struct dtb_virtio){
			{0x0a001000 + i * 0x1000, 0x1000}, 16 + i};
	c->bootargs = DTB_B_BOOTARGS;
	c->initrd_start = 0x100200000;
	c->initrd_end = 0x100a12345;
}

/* Every limit at its maximum, with the longest unit addresses. */
static void dtb_config_max(struct dtb_config *c, char *bootargs)
{
	unsigned i;

	dtb_base(c);
	c->nr_cpus = DTB_MAX_CPUS;
	c->gic_cpu.size = DTB_MAX_CPUS * DTB_GICV3_REDIST_STRIDE;
	c->nr_mem = DTB_MAX_MEM;
	for (i = 0; i < DTB_MAX_MEM; i++)
		c->mem[i] = (struct dtb_range){(0x8ULL + i) << 60, 1ULL << 40};
	c->uart.base = 0x7ffffffffffff000;
	c->nr_virtio = DTB_MAX_VIRTIO;
	for (i = 0; i < DTB_MAX_VIRTIO; i++)
		c->virtio[i] = (struct dtb_virtio){
			{0x7000000000000000 + i * 0x1000, 0x1000}, 900 + i};
	memset(bootargs, 'x', DTB_MAX_BOOTARGS - 1);
	bootargs[DTB_MAX_BOOTARGS - 1] = '\0';
	c->bootargs = bootargs;
	c->initrd_start = c->mem[7].base;
	c->initrd_end = c->mem[7].base + c->mem[7].size;
}

/* Build c, check the header and the size; returns the size. */
static size_t dtb_build_ok(const struct dtb_config *c)
{
	char err[256] = "";
	size_t used = 0;
	int ret;

	ret = dtb_build(c, dtb_blob, DTB_MAX_SIZE, &used, err, sizeof(err));
	ck_assert_msg(ret == 0, "dtb_build: %d (%s)", ret, err);
	ck_assert_int_eq(fdt_check_header(dtb_blob), 0);
	ck_assert_uint_eq(used, fdt_totalsize(dtb_blob));
	ck_assert_uint_le(used, DTB_MAX_SIZE);
	ck_assert_uint_eq(fdt_last_comp_version(dtb_blob), 16);
	ck_assert_uint_eq(fdt_num_mem_rsv(dtb_blob), 0);
	return used;
}

static int dtb_node(const char *path)
{
	int off = fdt_path_offset(dtb_blob, path);

	ck_assert_msg(off >= 0, "no node %s: %s", path, fdt_strerror(off));
	return off;
}

static const uint8_t *dtb_prop(const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(dtb_blob, dtb_node(path), name, len);

	ck_assert_msg(p, "no %s in %s", name, path);
	return p;
}

/* The property is exactly these bytes (strings with their NULs). */
static void dtb_bytes(const char *path, const char *name, const void *val,
		      int len)
{
	int got;
	const uint8_t *p = dtb_prop(path, name, &got);

	ck_assert_msg(got == len, "%s %s: %d bytes, want %d", path, name, got,
		      len);
	ck_assert_msg(!memcmp(p, val, (size_t)len), "%s %s differs", path,
		      name);
}

#define dtb_str(path, name, lit) dtb_bytes(path, name, lit, sizeof(lit))

static void dtb_absent(const char *path, const char *name)
{
	int len;

	ck_assert_msg(!fdt_getprop(dtb_blob, dtb_node(path), name, &len),
		      "%s has %s", path, name);
}

/* The property is these n 32-bit cells. */
static void dtb_cells(const char *path, const char *name, unsigned n, ...)
{
	fdt32_t want[16];
	va_list ap;
	unsigned i;

	ck_assert_uint_le(n, 16);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		want[i] = cpu_to_fdt32(va_arg(ap, uint32_t));
	va_end(ap);
	dtb_bytes(path, name, want, (int)(n * 4));
}

/* reg with two address and two size cells: n (base, size) pairs. */
static void dtb_reg(const char *path, unsigned n, ...)
{
	fdt64_t want[4];
	va_list ap;
	unsigned i;

	ck_assert_uint_le(n, 2);
	va_start(ap, n);
	for (i = 0; i < 2 * n; i++)
		want[i] = cpu_to_fdt64(va_arg(ap, uint64_t));
	va_end(ap);
	dtb_bytes(path, "reg", want, (int)(n * 16));
}

static void dtb_u64(const char *path, const char *name, uint64_t v)
{
	fdt64_t want = cpu_to_fdt64(v);

	dtb_bytes(path, name, &want, 8);
}

/* The names of the children of path, space separated, in order. */
static void dtb_children(const char *path, const char *want)
{
	char got[4096] = "";
	size_t n = 0;
	int child;

	fdt_for_each_subnode(child, dtb_blob, dtb_node(path))
	{
		const char *name = fdt_get_name(dtb_blob, child, NULL);

		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
				      n ? " " : "", name);
		ck_assert_uint_lt(n, sizeof(got));
	}
	ck_assert_str_eq(got, want);
}

/* What every tree has, whatever the config. */
static void dtb_common(uint32_t gic_phandle_ref)
{
	dtb_cells("/", "#address-cells", 1, 2);
	dtb_cells("/", "#size-cells", 1, 2);
	dtb_str("/", "compatible", "linux,dummy-virt");
	dtb_cells("/", "interrupt-parent", 1, gic_phandle_ref);
	ck_assert_uint_eq(fdt_get_phandle(dtb_blob, dtb_node("/intc@8000000")),
			  gic_phandle_ref);
	dtb_cells("/cpus", "#address-cells", 1, 1);
	dtb_cells("/cpus", "#size-cells", 1, 0);
	dtb_str("/psci", "compatible", "arm,psci-0.2\0arm,psci");
	dtb_str("/psci", "method", "hvc");
	dtb_cells("/psci", "cpu_on", 1, 0xc4000003);
	dtb_cells("/psci", "cpu_off", 1, 0x84000002);
	dtb_bytes("/intc@8000000", "interrupt-controller", "", 0);
	dtb_cells("/intc@8000000", "#interrupt-cells", 1, 3);
	dtb_str("/timer", "compatible", "arm,armv8-timer");
	dtb_bytes("/timer", "always-on", "", 0);
	dtb_str("/uart@9000000", "compatible", "ns16550a");
	dtb_reg("/uart@9000000", 1, 0x09000000ULL, 0x1000ULL);
	dtb_cells("/uart@9000000", "clock-frequency", 1, 1843200);
	dtb_cells("/uart@9000000", "reg-shift", 1, 0);
	dtb_cells("/uart@9000000", "reg-io-width", 1, 1);
	/* SPI 1 (INTID 33), level high. */
	dtb_cells("/uart@9000000", "interrupts", 3, 0, 1, 4);
	dtb_str("/chosen", "stdout-path", "/uart@9000000");
}

static void dtb_cpu(const char *path, uint32_t reg)
{
	dtb_str(path, "device_type", "cpu");
	dtb_str(path, "compatible", "arm,arm-v8");
	dtb_str(path, "enable-method", "psci");
	dtb_cells(path, "reg", 1, reg);
}

START_TEST(dtb_a_nodes)
{
	struct dtb_config c;

	dtb_config_a(&c);
	dtb_build_ok(&c);
	dtb_common(1);
	dtb_children("/", "cpus psci memory@80000000 intc@8000000 timer "
			  "uart@9000000 chosen");
	dtb_children("/cpus", "cpu@0");
	dtb_cpu("/cpus/cpu@0", 0);
	dtb_str("/memory@80000000", "device_type", "memory");
	dtb_reg("/memory@80000000", 1, 0x80000000ULL, 256ULL << 20);
	dtb_str("/intc@8000000", "compatible", "arm,gic-v3");
	dtb_cells("/intc@8000000", "#redistributor-regions", 1, 1);
	/* Distributor, then the redistributors. */
	dtb_reg("/intc@8000000", 2, 0x08000000ULL, 0x10000ULL, 0x080a0000ULL,
		0x20000ULL);
	/* PPIs 13, 14, 11, 10 level low, no CPU mask on a GICv3. */
	dtb_cells("/timer", "interrupts", 12, 1, 13, 8, 1, 14, 8, 1, 11, 8, 1,
		  10, 8);
	dtb_str("/chosen", "bootargs", "console=ttyS0 panic=-1");
	dtb_absent("/chosen", "linux,initrd-start");
	dtb_absent("/chosen", "linux,initrd-end");
}
END_TEST

START_TEST(dtb_b_nodes)
{
	struct dtb_config c;
	char path[64];
	unsigned i;

	dtb_config_b(&c);
	dtb_build_ok(&c);
	dtb_common(1);
	dtb_children("/", "cpus psci memory@80000000 memory@88000000 "
			  "memory@100000000 intc@8000000 timer uart@9000000 "
			  "virtio_mmio@a001000 virtio_mmio@a002000 "
			  "virtio_mmio@a003000 virtio_mmio@a004000 chosen");
	dtb_children("/cpus", "cpu@0 cpu@1");
	dtb_cpu("/cpus/cpu@0", 0);
	dtb_cpu("/cpus/cpu@1", 1);
	dtb_reg("/memory@80000000", 1, 0x80000000ULL, 128ULL << 20);
	dtb_reg("/memory@88000000", 1, 0x88000000ULL, 64ULL << 20);
	dtb_reg("/memory@100000000", 1, 0x100000000ULL, 1ULL << 30);
	dtb_str("/memory@100000000", "device_type", "memory");
	dtb_str("/intc@8000000", "compatible", "arm,cortex-a15-gic");
	dtb_absent("/intc@8000000", "#redistributor-regions");
	/* Distributor, then the CPU interface. */
	dtb_reg("/intc@8000000", 2, 0x08000000ULL, 0x10000ULL, 0x08010000ULL,
		0x2000ULL);
	/* GICv2: CPUs 0 and 1 in the flags' CPU mask (bits 15:8). */
	dtb_cells("/timer", "interrupts", 12, 1, 13, 0x308, 1, 14, 0x308, 1, 11,
		  0x308, 1, 10, 0x308);
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/virtio_mmio@%x",
			 0xa001000 + i * 0x1000);
		dtb_str(path, "compatible", "virtio,mmio");
		dtb_reg(path, 1, 0x0a001000ULL + i * 0x1000, 0x1000ULL);
		/* SPI 16 + i (INTID 48 + i), edge rising. */
		dtb_cells(path, "interrupts", 3, 0, 16 + i, 1);
		dtb_bytes(path, "dma-coherent", "", 0);
	}
	dtb_str("/chosen", "bootargs", DTB_B_BOOTARGS);
	dtb_u64("/chosen", "linux,initrd-start", 0x100200000);
	dtb_u64("/chosen", "linux,initrd-end", 0x100a12345);
}
END_TEST

/* Past vCPU 15 KVM's MPIDR moves to Aff1; the caller may pass its own. */
START_TEST(dtb_cpu_reg_is_the_mpidr)
{
	uint64_t mpidr[3] = {0x0, 0x1, 0x10203};
	struct dtb_config c;

	ck_assert_uint_eq(dtb_cpu_mpidr(0), 0);
	ck_assert_uint_eq(dtb_cpu_mpidr(15), 0xf);
	ck_assert_uint_eq(dtb_cpu_mpidr(16), 0x100);
	ck_assert_uint_eq(dtb_cpu_mpidr(63), 0x30f);
	dtb_base(&c);
	c.nr_cpus = 17;
	c.gic_cpu.size = 17 * DTB_GICV3_REDIST_STRIDE;
	dtb_build_ok(&c);
	dtb_cpu("/cpus/cpu@f", 0xf);
	dtb_cpu("/cpus/cpu@100", 0x100);
	ck_assert_int_lt(fdt_path_offset(dtb_blob, "/cpus/cpu@10"), 0);

	c.nr_cpus = 3;
	c.cpu_mpidr = mpidr;
	dtb_build_ok(&c);
	dtb_children("/cpus", "cpu@0 cpu@1 cpu@10203");
	dtb_cpu("/cpus/cpu@10203", 0x10203);
}
END_TEST

/* The largest valid config fits DTB_MAX_SIZE; a buffer of exactly the
 * blob's size is enough and one byte less is -ENOSPC. */
START_TEST(dtb_largest_fits)
{
	static char bootargs[DTB_MAX_BOOTARGS];
	struct dtb_config c;
	char err[256] = "";
	size_t used, again = 0;
	int child, n = 0, len;

	dtb_config_max(&c, bootargs);
	used = dtb_build_ok(&c);
	fdt_for_each_subnode(child, dtb_blob, dtb_node("/cpus")) n++;
	ck_assert_int_eq(n, DTB_MAX_CPUS);
	n = 0;
	fdt_for_each_subnode(child, dtb_blob, 0) n++;
	/* cpus psci 8 memory intc timer uart 16 virtio_mmio chosen */
	ck_assert_int_eq(n, 2 + DTB_MAX_MEM + 3 + DTB_MAX_VIRTIO + 1);
	dtb_prop("/chosen", "bootargs", &len);
	ck_assert_int_eq(len, DTB_MAX_BOOTARGS);
	dtb_cpu("/cpus/cpu@30f", 0x30f);
	dtb_reg("/memory@f000000000000000", 1, 0xf000000000000000ULL,
		1ULL << 40);

	ck_assert_int_eq(
		dtb_build(&c, dtb_blob, used, &again, err, sizeof(err)), 0);
	ck_assert_uint_eq(again, used);
	ck_assert_int_eq(
		dtb_build(&c, dtb_blob, used - 1, &again, err, sizeof(err)),
		-ENOSPC);
}
END_TEST

/* Where tests/unit/data/NAME is: from the source root (how the runners
 * start), else beside build/ or build/asan/ from the executable. */
static void dtb_data_path(const char *name, char *out, size_t len)
{
	static const char *const up[] = {"", "/..", "/../.."};
	char exe[PATH_MAX];
	ssize_t n;
	unsigned i;

	snprintf(out, len, "tests/unit/data/%s", name);
	if (!access(out, R_OK))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_msg(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	for (i = 1; i < 3; i++) {
		if (snprintf(out, len, "%s%s/tests/unit/data/%s", exe, up[i],
			     name) < (int)len &&
		    !access(out, R_OK))
			return;
	}
	ck_abort_msg("tests/unit/data/%s not found: run the unit tests from "
		     "the source root",
		     name);
}

static int dtb_have_dtc(void)
{
	return system("command -v dtc >/dev/null 2>&1") == 0;
}

/* The whole file as a malloc'd string. */
static char *dtb_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void dtb_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dtb_run(const char *fmt, ...)
{
	char cmd[3 * PATH_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "`%s` failed (status %d)", cmd, rc);
}

/*
 * dtc -I dtb -O dts of the blob must equal the expected tree (printed by
 * the same dtc) and dtc must not warn. On a difference the diff goes to
 * stderr and the decompiled blob stays in the temporary directory.
 */
static void dtb_compare_dtc(size_t used, const char *expected)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], path[PATH_MAX + 16], want_path[PATH_MAX];
	char *got, *want, *warn;
	int warned, differs;
	FILE *f;

	dtb_data_path(expected, want_path, sizeof(want_path));
	snprintf(dir, sizeof(dir), "%s/microvm-dtb-XXXXXX",
		 tmp && *tmp && !strchr(tmp, '\'') ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/blob.dtb", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(dtb_blob, 1, used, f), used);
	ck_assert_int_eq(fclose(f), 0);

	dtb_run("dtc -I dtb -O dts -o '%s/got.dts' '%s/blob.dtb' "
		"2>'%s/got.err'",
		dir, dir, dir);
	dtb_run("dtc -I dts -O dts -o '%s/want.dts' '%s' 2>'%s/want.err'", dir,
		want_path, dir);
	snprintf(path, sizeof(path), "%s/got.err", dir);
	warn = dtb_slurp(path);
	snprintf(path, sizeof(path), "%s/got.dts", dir);
	got = dtb_slurp(path);
	snprintf(path, sizeof(path), "%s/want.dts", dir);
	want = dtb_slurp(path);
	warned = *warn != '\0';
	differs = strcmp(got, want) != 0;
	if (warned)
		fprintf(stderr, "dtc warns about the blob:\n%s", warn);
	free(warn);
	free(got);
	free(want);
	ck_assert_msg(!warned,
		      "dtc warns about the blob (on stderr); it is "
		      "in %s/blob.dtb",
		      dir);
	if (differs) {
		char cmd[2 * PATH_MAX + 64];
		int rc = 0;

		/* Only shows the difference: the abort below fails the test. */
		if (snprintf(cmd, sizeof(cmd),
			     "diff -u '%s/want.dts' '%s/got.dts' >&2", dir,
			     dir) < (int)sizeof(cmd))
			rc = system(cmd);
		(void)rc;
		ck_abort_msg("dtc output of the blob differs from %s (diff on "
			     "stderr); it is in %s/got.dts",
			     want_path, dir);
	}
	dtb_run("rm -f '%s'/blob.dtb '%s'/got.dts '%s'/got.err '%s'/want.dts "
		"'%s'/want.err && rmdir '%s'",
		dir, dir, dir, dir, dir, dir);
}

START_TEST(dtb_a_dtc)
{
	struct dtb_config c;
	size_t used;

	dtb_config_a(&c);
	used = dtb_build_ok(&c);
	if (!dtb_have_dtc())
		HARNESS_SKIP("dtc is not installed (Debian "
			     "device-tree-compiler, scripts/install-deps)");
	dtb_compare_dtc(used, "dtb-a.dts");
}
END_TEST

START_TEST(dtb_b_dtc)
{
	struct dtb_config c;
	size_t used;

	dtb_config_b(&c);
	used = dtb_build_ok(&c);
	if (!dtb_have_dtc())
		HARNESS_SKIP("dtc is not installed (Debian "
			     "device-tree-compiler, scripts/install-deps)");
	dtb_compare_dtc(used, "dtb-b.dts");
}
END_TEST

/* c fails with want, one line in err naming the problem; *used and the
 * buffer's first bytes are left alone. */
static void dtb_fails_len(const struct dtb_config *c, void *buf, size_t len,
			  int want, const char *needle)
{
	char err[256] = "";
	size_t used = 12345;
	int ret;

	ret = dtb_build(c, buf, len, &used, err, sizeof(err));
	ck_assert_msg(ret == want, "dtb_build: %d, want %d (%s)", ret, want,
		      err);
	ck_assert_msg(strstr(err, needle), "err \"%s\" lacks \"%s\"", err,
		      needle);
	ck_assert_msg(!strncmp(err, "device tree: ", 13), "err \"%s\"", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_uint_eq(used, 12345);
}

static void dtb_fails(const struct dtb_config *c, const char *needle)
{
	dtb_fails_len(c, dtb_blob, DTB_MAX_SIZE, -EINVAL, needle);
}

START_TEST(dtb_rejects_counts)
{
	struct dtb_config c;

	dtb_config_b(&c);
	dtb_build_ok(&c);
	c.nr_cpus = 0;
	dtb_fails(&c, "0 CPUs; give 1 to 64");
	dtb_config_a(&c);
	c.nr_cpus = 65;
	c.gic_cpu.size = 65 * DTB_GICV3_REDIST_STRIDE;
	dtb_fails(&c, "65 CPUs; give 1 to 64");
	dtb_config_b(&c);
	c.nr_cpus = 9;
	dtb_fails(&c, "which reaches at most 8: use --cpus 8 or fewer");
	dtb_config_a(&c);
	c.nr_mem = 0;
	dtb_fails(&c, "0 memory ranges; give 1 to 8");
	dtb_config_b(&c);
	c.nr_mem = DTB_MAX_MEM + 1;
	dtb_fails(&c, "9 memory ranges; give 1 to 8");
	dtb_config_b(&c);
	c.nr_virtio = DTB_MAX_VIRTIO + 1;
	dtb_fails(&c, "17 virtio devices; at most 16");
	dtb_config_a(&c);
	c.gic = 4;
	dtb_fails(&c, "GIC version 4; give 2 or 3");
	dtb_config_a(&c);
	c.nr_cpus = 2;
	dtb_fails(&c, "GICv3 redistributor region size 0x20000 is below "
		      "0x40000 for 2 CPUs");
}
END_TEST

START_TEST(dtb_rejects_windows)
{
	struct dtb_config c;

	dtb_config_b(&c);
	c.mem[1].size = 0;
	dtb_fails(&c, "memory range 1 at 0x88000000 size 0x0 is empty");
	dtb_config_b(&c);
	c.mem[2] = (struct dtb_range){0xfffffffffffff000, 0x2000};
	c.initrd_start = c.initrd_end = 0;
	dtb_fails(&c, "memory range 2 at 0xfffffffffffff000 size 0x2000 is "
		      "empty or wraps");
	dtb_config_b(&c);
	c.mem[1].base = 0x87fff000;
	dtb_fails(&c, "memory range 0 at 0x80000000 overlaps memory range 1 "
		      "at 0x87fff000");
	dtb_config_b(&c);
	c.virtio[3].reg.base = 0x09000000;
	dtb_fails(&c, "the UART at 0x9000000 overlaps virtio device 3");
	dtb_config_b(&c);
	c.virtio[2].reg.base = c.virtio[1].reg.base;
	dtb_fails(&c, "virtio device 1 at 0xa002000 overlaps virtio device 2");
	dtb_config_a(&c);
	c.gic_cpu.base = 0x08000000;
	dtb_fails(&c, "the GIC distributor at 0x8000000 overlaps the GIC "
		      "redistributor region");
}
END_TEST

START_TEST(dtb_rejects_irqs_and_chosen)
{
	static char bootargs[DTB_MAX_BOOTARGS + 1];
	uint64_t mpidr[2] = {1, 1};
	struct dtb_config c;

	dtb_config_a(&c);
	c.uart_spi = 988;
	dtb_fails(&c, "UART SPI 988 is past the last SPI 987");
	dtb_config_b(&c);
	c.virtio[1].spi = 16;
	dtb_fails(&c, "virtio devices 0 and 1 share SPI 16");
	dtb_config_b(&c);
	c.virtio[2].spi = 1;
	dtb_fails(&c, "virtio device 2 shares SPI 1 with the UART");
	dtb_config_b(&c);
	c.virtio[0].spi = 1000;
	dtb_fails(&c, "virtio device 0 SPI 1000 is past the last SPI 987");
	dtb_config_a(&c);
	c.uart_clock_hz = 0;
	dtb_fails(&c, "UART clock-frequency is 0");
	dtb_config_a(&c);
	memset(bootargs, 'y', DTB_MAX_BOOTARGS);
	c.bootargs = bootargs;
	dtb_fails(&c, "bootargs are 2048 bytes; the arm64 kernel takes at "
		      "most 2047");
	dtb_config_b(&c);
	c.initrd_end = c.initrd_start - 1;
	dtb_fails(&c, "initrd end 0x1001fffff is below its start");
	dtb_config_b(&c);
	/* Across the end of memory range 0 into range 1: not one range. */
	c.initrd_start = 0x87f00000;
	c.initrd_end = 0x88100000;
	dtb_fails(&c, "initrd 0x87f00000-0x88100000 is not inside one memory "
		      "range");
	dtb_config_b(&c);
	c.cpu_mpidr = mpidr;
	dtb_fails(&c, "cpus 0 and 1 share MPIDR 0x1");
	mpidr[0] = 0x100000000;
	dtb_fails(&c, "cpu 0 MPIDR 0x100000000 has bits past Aff2");
}
END_TEST

START_TEST(dtb_rejects_small_or_misaligned_buffer)
{
	struct dtb_config c;

	dtb_config_a(&c);
	dtb_fails_len(&c, dtb_blob, 0, -ENOSPC,
		      "does not fit in 0 bytes; give a buffer of DTB_MAX_SIZE");
	dtb_fails_len(&c, dtb_blob, 64, -ENOSPC, "does not fit in 64 bytes");
	dtb_fails_len(&c, dtb_blob, 512, -ENOSPC, "does not fit in 512 bytes");
	dtb_fails_len(&c, (char *)dtb_blob + 4, DTB_MAX_SIZE, -EINVAL,
		      "is not 8-byte aligned");
}
END_TEST

Suite *dtb_suite(void);
Suite *dtb_suite(void)
{
	Suite *s = suite_create("dtb");
	TCase *tc = tcase_create("tree");
	TCase *bad = tcase_create("errors");

	tcase_add_test(tc, dtb_a_nodes);
	tcase_add_test(tc, dtb_b_nodes);
	tcase_add_test(tc, dtb_cpu_reg_is_the_mpidr);
	tcase_add_test(tc, dtb_largest_fits);
	tcase_add_test(tc, dtb_a_dtc);
	tcase_add_test(tc, dtb_b_dtc);
	suite_add_tcase(s, tc);
	tcase_add_test(bad, dtb_rejects_counts);
	tcase_add_test(bad, dtb_rejects_windows);
	tcase_add_test(bad, dtb_rejects_irqs_and_chosen);
	tcase_add_test(bad, dtb_rejects_small_or_misaligned_buffer);
	suite_add_tcase(s, bad);
	return s;
}
