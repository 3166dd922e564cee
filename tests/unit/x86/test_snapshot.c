/*
 * vmm/snapshot.h: the state file round-trips, and every kind of damage
 * (short file, magic, version, CRC, a record cut or out of range) is
 * -EINVAL with a reason naming it, never a crash. Also the serial and
 * i8042 save/load hooks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/i8042.h"
#include "devices/serial8250.h"
#include "tests/harness/harness.h"
#include "vmm/snapshot.h"

static struct snapshot_state st_a, st_b;

/* A small state: 2 vCPUs with MSRs and XSAVE, two devices. */
static void snap_fill(struct snapshot_state *s)
{
	memset(s, 0, sizeof(*s));
	s->cfg.mem_size = 64ULL << 20;
	s->cfg.pages = REGION_PAGES_HUGE;
	s->cfg.cpus = 2;
	s->cfg.nr_regions = 1;
	s->cfg.region_size[0] = 64ULL << 20;
	s->cfg.nr_disks = 1;
	strcpy(s->cfg.disks[0].path, "/tmp/disk.img");
	s->cfg.disks[0].ro = 1;
	s->cfg.has_net = 1;
	strcpy(s->cfg.tap, "tap0");
	s->cfg.mac[0] = 0x52;
	s->cfg.has_balloon = 1;
	s->cfg.balloon_stats = 5;
	s->cfg.nr_zones = 2;
	strcpy(s->cfg.zones[0].id, "low");
	s->cfg.zones[0].size = 16ULL << 20;
	s->cfg.zones[0].pages = REGION_PAGES_BASE;
	s->cfg.zones[0].backing = REGION_BACKING_FILE;
	s->cfg.zones[0].host_node = -1;
	strcpy(s->cfg.zones[0].path, "/tmp/low.mem");
	strcpy(s->cfg.zones[1].id, "high");
	s->cfg.zones[1].size = 48ULL << 20;
	s->cfg.zones[1].gpa = 16ULL << 20;
	s->cfg.zones[1].pages = REGION_PAGES_HUGE;
	s->cfg.zones[1].backing = REGION_BACKING_SHARED;
	s->cfg.zones[1].host_node = 1;
	s->cfg.has_hotplug = 1;
	s->cfg.hotplug_size = 256ULL << 20;
	s->cfg.hotplug_plugged = 128ULL << 20;
	s->cfg.hotplug_pages = REGION_PAGES_THP;
	s->cfg.hotplug_node = -1;
	strcpy(s->cfg.hotplug_id, "hotplug");
	for (unsigned i = 0; i < 3; i++)
		s->chips[i].chip_id = i;
	s->clock.clock = 123456789;
	s->nr_vcpus = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct snapshot_vcpu *v = &s->vcpus[i];

		v->regs.rip = 0x100000 + i;
		v->xsave_len = sizeof(struct kvm_xsave);
		v->xsave = calloc(1, v->xsave_len);
		ck_assert_ptr_nonnull(v->xsave);
		v->xsave[7] = (uint8_t)(0x40 + i);
		v->nr_msrs = 3;
		v->msrs = calloc(3, sizeof(*v->msrs));
		ck_assert_ptr_nonnull(v->msrs);
		v->msrs[2].index = 0x10;
		v->msrs[2].data = 0xabcdef + i;
	}
	s->nr_devs = 2;
	for (unsigned i = 0; i < 2; i++) {
		s->devs[i].bus = i;
		s->devs[i].base = 0x3f8 + i;
		strcpy(s->devs[i].name, i ? "virtio-blk0" : "serial");
		s->devs[i].len = 5;
		s->devs[i].blob = calloc(1, 5);
		ck_assert_ptr_nonnull(s->devs[i].blob);
		s->devs[i].blob[4] = (uint8_t)i;
	}
}

START_TEST(state_round_trips)
{
	uint8_t *buf, *buf2;
	size_t len, len2;
	char err[256];

	/* The IEEE CRC32 check value. */
	ck_assert_uint_eq(snapshot_crc32("123456789", 9), 0xcbf43926u);
	snap_fill(&st_a);
	ck_assert_int_eq(snapshot_state_encode(&st_a, &buf, &len), 0);
	ck_assert_int_eq(
		snapshot_state_decode(buf, len, &st_b, err, sizeof(err)), 0);
	ck_assert_uint_eq(st_b.cfg.mem_size, 64ULL << 20);
	ck_assert_uint_eq(st_b.cfg.pages, REGION_PAGES_HUGE);
	ck_assert_str_eq(st_b.cfg.disks[0].path, "/tmp/disk.img");
	ck_assert_int_eq(st_b.cfg.disks[0].ro, 1);
	ck_assert_str_eq(st_b.cfg.tap, "tap0");
	ck_assert_uint_eq(st_b.cfg.nr_zones, 2);
	ck_assert_str_eq(st_b.cfg.zones[0].id, "low");
	ck_assert_uint_eq(st_b.cfg.zones[0].backing, REGION_BACKING_FILE);
	ck_assert_str_eq(st_b.cfg.zones[0].path, "/tmp/low.mem");
	ck_assert_int_eq(st_b.cfg.zones[0].host_node, -1);
	ck_assert_str_eq(st_b.cfg.zones[1].id, "high");
	ck_assert_uint_eq(st_b.cfg.zones[1].gpa, 16ULL << 20);
	ck_assert_uint_eq(st_b.cfg.zones[1].size, 48ULL << 20);
	ck_assert_uint_eq(st_b.cfg.zones[1].pages, REGION_PAGES_HUGE);
	ck_assert_uint_eq(st_b.cfg.zones[1].backing, REGION_BACKING_SHARED);
	ck_assert_int_eq(st_b.cfg.zones[1].host_node, 1);
	ck_assert_uint_eq(st_b.cfg.has_hotplug, 1);
	ck_assert_uint_eq(st_b.cfg.hotplug_size, 256ULL << 20);
	ck_assert_uint_eq(st_b.cfg.hotplug_plugged, 128ULL << 20);
	ck_assert_uint_eq(st_b.cfg.hotplug_pages, REGION_PAGES_THP);
	ck_assert_int_eq(st_b.cfg.hotplug_node, -1);
	ck_assert_str_eq(st_b.cfg.hotplug_id, "hotplug");
	ck_assert_uint_eq(st_b.nr_vcpus, 2);
	ck_assert_uint_eq(st_b.vcpus[1].regs.rip, 0x100001);
	ck_assert_uint_eq(st_b.vcpus[1].xsave[7], 0x41);
	ck_assert_uint_eq(st_b.vcpus[1].msrs[2].data, 0xabcdef + 1);
	ck_assert_uint_eq(st_b.nr_devs, 2);
	ck_assert_str_eq(st_b.devs[1].name, "virtio-blk0");
	ck_assert_uint_eq(st_b.devs[1].blob[4], 1);
	ck_assert_uint_eq(st_b.clock.clock, 123456789);
	/* Encoding what was decoded gives the same bytes. */
	ck_assert_int_eq(snapshot_state_encode(&st_b, &buf2, &len2), 0);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	free(buf);
	free(buf2);
	snapshot_state_free(&st_a);
	snapshot_state_free(&st_b);
}
END_TEST

/* Decode must fail with -EINVAL and a reason containing `want`. */
static void snap_expect(const uint8_t *buf, size_t len, const char *want)
{
	char err[256] = "";

	ck_assert_int_eq(
		snapshot_state_decode(buf, len, &st_b, err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, want), "'%s' does not say '%s'", err, want);
	snapshot_state_free(&st_b);
}

/* Re-seal a payload change with a valid CRC. */
static void snap_reseal(uint8_t *buf, size_t len)
{
	uint32_t crc = snapshot_crc32(buf + 24, len - 24);

	memcpy(buf + 12, &crc, 4);
}

START_TEST(state_damage_is_an_error)
{
	uint8_t *buf, *copy;
	size_t len;
	uint32_t v;

	snap_fill(&st_a);
	ck_assert_int_eq(snapshot_state_encode(&st_a, &buf, &len), 0);
	snapshot_state_free(&st_a);
	copy = malloc(len);
	ck_assert_ptr_nonnull(copy);

	snap_expect(buf, 10, "shorter than its header");
	memcpy(copy, buf, len);
	copy[0] = 'X';
	snap_expect(copy, len, "bad magic");
	memcpy(copy, buf, len);
	v = 99;
	memcpy(copy + 8, &v, 4);
	snap_expect(copy, len, "format version 99");
	snap_expect(buf, len - 1, "truncated");
	memcpy(copy, buf, len);
	copy[len / 2] ^= 0xff;
	snap_expect(copy, len, "CRC mismatch");
	/* Every truncation of the payload, re-sealed: a record is cut. */
	for (size_t cut = 24; cut < len; cut++) {
		uint64_t plen = cut - 24;

		memcpy(copy, buf, cut);
		memcpy(copy + 16, &plen, 8);
		snap_reseal(copy, cut);
		snap_expect(copy, cut, "damaged snapshot state");
	}
	/* A vCPU count out of range (the config's cpus field). */
	memcpy(copy, buf, len);
	v = 1000;
	memcpy(copy + 24 + 8 + 8 + 4, &v, 4);
	snap_reseal(copy, len);
	snap_expect(copy, len, "vCPU count out of range");
	/* A snapshot of format version 1 (no zones) is refused by name. */
	memcpy(copy, buf, len);
	v = 1;
	memcpy(copy + 8, &v, 4);
	snap_expect(copy, len,
		    "format version 1, this microvm reads version 2");
	free(copy);
	free(buf);
	/* Zones that do not add up to the memory size. */
	snap_fill(&st_a);
	st_a.cfg.zones[1].size = 32ULL << 20;
	ck_assert_int_eq(snapshot_state_encode(&st_a, &buf, &len), 0);
	snapshot_state_free(&st_a);
	snap_expect(buf, len, "do not add up");
	free(buf);
	/* A file-backed zone without its path. */
	snap_fill(&st_a);
	st_a.cfg.zones[0].path[0] = '\0';
	ck_assert_int_eq(snapshot_state_encode(&st_a, &buf, &len), 0);
	snapshot_state_free(&st_a);
	snap_expect(buf, len, "zone file path");
	free(buf);
}
END_TEST

static void no_reset(void *opaque)
{
	(void)opaque;
}

START_TEST(serial_and_i8042_save_load)
{
	struct serial8250 a, b;
	struct i8042 ka, kb;
	uint8_t blob[256], v;
	ssize_t n;

	ck_assert_int_eq(serial8250_init(&a, -1, NULL), 0);
	ck_assert_int_eq(serial8250_init(&b, -1, NULL), 0);
	v = 0x01;
	serial8250_ops.write(&a, 2, &v, 1); /* FCR: FIFOs on */
	v = 0x03;
	serial8250_ops.write(&a, 3, &v, 1); /* LCR */
	v = 0x5a;
	serial8250_ops.write(&a, 7, &v, 1); /* scratch */
	ck_assert_uint_eq(serial8250_input(&a, "hi", 2), 2);
	ck_assert_int_eq(serial8250_ops.save(&a, blob, 4), -ENOSPC);
	n = serial8250_ops.save(&a, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(serial8250_ops.load(&b, blob, (size_t)n - 1), -EINVAL);
	ck_assert_int_eq(serial8250_ops.load(&b, blob, (size_t)n), 0);
	serial8250_ops.read(&b, 7, &v, 1);
	ck_assert_uint_eq(v, 0x5a);
	serial8250_ops.read(&b, 0, &v, 1);
	ck_assert_uint_eq(v, 'h');
	serial8250_ops.read(&b, 0, &v, 1);
	ck_assert_uint_eq(v, 'i');
	serial8250_destroy(&a);
	serial8250_destroy(&b);

	ck_assert_int_eq(i8042_init(&ka, no_reset, NULL), 0);
	ck_assert_int_eq(i8042_init(&kb, no_reset, NULL), 0);
	v = 0x60; /* write the command byte */
	i8042_cmd_ops.write(&ka, 0, &v, 1);
	v = 0x45;
	i8042_data_ops.write(&ka, 0, &v, 1);
	n = i8042_data_ops.save(&ka, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
	blob[0] = 9;
	ck_assert_int_eq(i8042_data_ops.load(&kb, blob, (size_t)n), -EINVAL);
	blob[0] = 1;
	ck_assert_int_eq(i8042_data_ops.load(&kb, blob, (size_t)n), 0);
	v = 0x20; /* read the command byte */
	i8042_cmd_ops.write(&kb, 0, &v, 1);
	i8042_data_ops.read(&kb, 0, &v, 1);
	ck_assert_uint_eq(v, 0x45);
	i8042_destroy(&ka);
	i8042_destroy(&kb);
}
END_TEST

Suite *snapshot_suite(void);
Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("state");

	/* Every truncation of a state file is decoded: seconds on a loaded
	 * machine. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, state_round_trips);
	tcase_add_test(tc, state_damage_is_an_error);
	tcase_add_test(tc, serial_and_i8042_save_load);
	suite_add_tcase(s, tc);
	return s;
}
