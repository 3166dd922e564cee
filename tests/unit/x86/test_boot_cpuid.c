#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/cpuid.h"
#include "tests/harness/harness.h"

#define IDX KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Roughly what KVM_GET_SUPPORTED_CPUID gives on an Intel host. */
static unsigned fake_table(struct kvm_cpuid_entry2 *t)
{
	const struct kvm_cpuid_entry2 e[] = {
		{.function = 0, .eax = 0x1f},
		{.function = 1,
		 .eax = 0x806f8,
		 .ebx = 0x00000800, /* CLFLUSH size 8 in bits 15:8 */
		 .ecx = 0x7ffafbff,
		 .edx = 0x0f8bfbff},
		{.function = 4, .index = 0, .flags = IDX, .eax = 0x121},
		{.function = 4, .index = 1, .flags = IDX, .eax = 0x122},
		{.function = 4, .index = 2, .flags = IDX, .eax = 0x143},
		{.function = 4, .index = 3, .flags = IDX, .eax = 0x163},
		{.function = 4, .index = 4, .flags = IDX, .eax = 0},
		{.function = 6, .eax = 4, .ecx = 0x9},
		{.function = 0xb, .index = 0, .flags = IDX, .eax = 1},
		{.function = 0xb, .index = 1, .flags = IDX, .eax = 7},
		{.function = 0x1f, .index = 0, .flags = IDX},
		{.function = 0x1f, .index = 1, .flags = IDX},
		{.function = 0x1f, .index = 2, .flags = IDX, .eax = 9},
		{.function = 0x40000000, .eax = 0x40000001},
		{.function = 0x40000001, .eax = 0x01007afb},
		{.function = 0x80000008, .eax = 0x3027, .ecx = 0},
	};

	memcpy(t, e, sizeof(e));
	return sizeof(e) / sizeof(e[0]);
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *t, unsigned n,
				     uint32_t fn, uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (t[i].function == fn && t[i].index == index)
			return &t[i];
	ck_abort_msg("leaf 0x%x.%u missing", fn, index);
	return NULL;
}

START_TEST(cpuid_apic_ids)
{
	struct kvm_cpuid_entry2 t[32];

	for (unsigned cpu = 0; cpu < 4; cpu++) {
		unsigned n = fake_table(t);
		struct kvm_cpuid_entry2 *e;

		ck_assert_int_eq(cpuid_patch(t, n, cpu, 4), 0);
		e = find(t, n, 1, 0);
		ck_assert_uint_eq(e->ebx >> 24, cpu);
		ck_assert_uint_eq((e->ebx >> 16) & 0xff, 4);
		ck_assert_uint_eq(e->ebx & 0xffff, 0x0800); /* kept */
		ck_assert_uint_eq(e->ecx >> 31, 1);	    /* hypervisor */
		ck_assert_uint_eq((e->edx >> 28) & 1, 1);   /* HTT */
		ck_assert_uint_eq(e->eax, 0x806f8);

		e = find(t, n, 0xb, 0);
		ck_assert_uint_eq(e->edx, cpu);
		ck_assert_uint_eq(e->eax, 0);
		ck_assert_uint_eq(e->ebx, 1);
		ck_assert_uint_eq(e->ecx, 1 << 8 | 0);
		e = find(t, n, 0xb, 1);
		ck_assert_uint_eq(e->edx, cpu);
		ck_assert_uint_eq(e->eax, 2); /* 4 CPUs: 2 id bits */
		ck_assert_uint_eq(e->ebx, 4);
		ck_assert_uint_eq(e->ecx, 2 << 8 | 1);
		e = find(t, n, 0x1f, 2);
		ck_assert_uint_eq(e->edx, cpu);
		ck_assert_uint_eq(e->ebx, 0);
		ck_assert_uint_eq((e->ecx >> 8) & 0xff, 0); /* invalid: end */
	}
}
END_TEST

START_TEST(cpuid_single_cpu)
{
	struct kvm_cpuid_entry2 t[32];
	unsigned n = fake_table(t);

	ck_assert_int_eq(cpuid_patch(t, n, 0, 1), 0);
	ck_assert_uint_eq((find(t, n, 1, 0)->edx >> 28) & 1, 0);
	ck_assert_uint_eq((find(t, n, 1, 0)->ebx >> 16) & 0xff, 1);
	ck_assert_uint_eq(find(t, n, 0xb, 1)->eax, 0);
	ck_assert_uint_eq(find(t, n, 4, 0)->eax >> 26, 0);
}
END_TEST

START_TEST(cpuid_cache_and_misc)
{
	struct kvm_cpuid_entry2 t[32];
	unsigned n = fake_table(t);
	char sig[13] = {0};
	struct kvm_cpuid_entry2 *e;

	ck_assert_int_eq(cpuid_patch(t, n, 5, 6), 0);
	/* Leaf 4: cores per package - 1 in 31:26; L1/L2 private, L3 shared. */
	ck_assert_uint_eq(find(t, n, 4, 0)->eax >> 26, 5);
	ck_assert_uint_eq((find(t, n, 4, 0)->eax >> 14) & 0xfff, 0);
	ck_assert_uint_eq((find(t, n, 4, 3)->eax >> 14) & 0xfff, 5);
	ck_assert_uint_eq(find(t, n, 4, 3)->eax & 0x3fff, 0x163);
	ck_assert_uint_eq(find(t, n, 4, 4)->eax, 0); /* terminator kept */

	ck_assert_uint_eq(find(t, n, 6, 0)->ecx, 0);
	ck_assert_uint_eq(find(t, n, 6, 0)->eax, 4); /* ARAT kept */

	e = find(t, n, 0x40000000, 0);
	memcpy(sig, &e->ebx, 4);
	memcpy(sig + 4, &e->ecx, 4);
	memcpy(sig + 8, &e->edx, 4);
	ck_assert_mem_eq(sig, "KVMKVMKVM\0\0\0", 12);
	ck_assert_uint_eq(e->eax, 0x40000001);
	ck_assert_uint_eq(find(t, n, 0x40000001, 0)->eax, 0x01007afb);

	e = find(t, n, 0x80000008, 0);
	ck_assert_uint_eq(e->ecx & 0xff, 5);
	ck_assert_uint_eq((e->ecx >> 12) & 0xf, 3);
	ck_assert_uint_eq(e->eax, 0x3027);
}
END_TEST

START_TEST(cpuid_bad_args)
{
	struct kvm_cpuid_entry2 t[32], orig[32];
	unsigned n = fake_table(t);

	memcpy(orig, t, sizeof(t));
	ck_assert_int_eq(cpuid_patch(t, n, 4, 4), -EINVAL);
	ck_assert_int_eq(cpuid_patch(t, n, 0, 0), -EINVAL);
	ck_assert_int_eq(cpuid_patch(t, n, 0, 256), -EINVAL);
	ck_assert_mem_eq(t, orig, sizeof(t));
	ck_assert_int_eq(cpuid_patch(t, 0, 0, 1), 0); /* empty table */
}
END_TEST

Suite *boot_cpuid_suite(void);
Suite *boot_cpuid_suite(void)
{
	Suite *s = suite_create("boot_cpuid");
	TCase *tc = tcase_create("cpuid");

	tcase_add_test(tc, cpuid_apic_ids);
	tcase_add_test(tc, cpuid_single_cpu);
	tcase_add_test(tc, cpuid_cache_and_misc);
	tcase_add_test(tc, cpuid_bad_args);
	suite_add_tcase(s, tc);
	return s;
}
