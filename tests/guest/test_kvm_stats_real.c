/*
 * KVM_GET_STATS_FD on this machine's KVM: the VM and vCPU stats fds open,
 * parse, and name the stats the boot benchmark reports.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tests/harness/harness.h"
#include "vmm/kvm_stats.h"

/* The real ioctl, where /dev/kvm is usable: a fresh VM has a pages_4k stat
 * of 0 and a vCPU's pf_fixed starts at 0 (both exist on x86 since 5.14). */
START_TEST(kvm_stats_real_vm)
{
	struct kvm_stats_src src = {0};
	struct kvm_stats_run r = {0};
	int kvm, vm, vcpu;
	uint64_t v;

	if (!harness_have_kvm())
		HARNESS_SKIP("no usable /dev/kvm");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(kvm, 0);
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0) {
		close(kvm);
		HARNESS_SKIP("KVM has no KVM_CAP_BINARY_STATS_FD");
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ck_assert_int_ge(vm, 0);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	ck_assert_int_ge(vcpu, 0);
	kvm_stats_src_open(&src, vm, &vcpu, 1, NULL);
	/* The stats fds outlive the fds they came from. */
	close(vcpu);
	close(vm);
	kvm_stats_collect(&r, &src, NULL);
	ck_assert_int_eq(r.vm_err, 0);
	ck_assert_int_eq(r.vcpu_err, 0);
	ck_assert_int_eq(kvm_stats_get(&r.vm, "pages_4k", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(kvm_stats_get(&r.vcpu, "pf_fixed", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_gt(r.vm_rss_kib, 0);
	ck_assert_uint_ge(r.vm_hwm_kib, r.vm_rss_kib);
	ck_assert_int_gt(r.minflt, 0);
	/* No guest memory given: no setup peak, no guest residency. */
	ck_assert_int_eq(src.setup_peak_known, 0);
	ck_assert_int_eq(r.guest_known, 0);
	kvm_stats_run_free(&r);
	kvm_stats_src_close(&src);
	close(kvm);
}
END_TEST

Suite *kvm_stats_real_suite(void);
Suite *kvm_stats_real_suite(void)
{
	Suite *s = suite_create("kvm_stats_real");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, kvm_stats_real_vm);
	suite_add_tcase(s, tc);
	return s;
}
