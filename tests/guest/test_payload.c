/*
 * Tiny real-mode guests run on this machine's KVM (no Linux, no nesting):
 * they cover the vCPU loop, port and MMIO exits through the buses, guest
 * memory writes seen by the host, and the stop protocol.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tests/guest/testvm.h"
#include "tests/harness/harness.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PAYLOAD_GPA 0x1000
#define TEST_PORT   0x500 /* write: record; read: 0x5a */
#define STOP_PORT   0x501 /* write: stop the VM with status = value */
#define ECHO_PORT   0x502 /* write: record */
#define TEST_MMIO   0xd0000000ULL

struct probe {
	struct vm *vm;
	uint8_t port_log[16];
	unsigned port_n;
	uint8_t echo_log[16];
	unsigned echo_n;
	uint8_t mmio_written;
	unsigned mmio_writes;
};

static void probe_pio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	memset(data, off == 0 ? 0x5a : 0, len);
}

static void probe_pio_write(void *opaque, uint64_t off, const void *data,
			    uint32_t len)
{
	struct probe *p = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)len;
	if (off == 0 && p->port_n < sizeof(p->port_log))
		p->port_log[p->port_n++] = v;
	else if (off == 1)
		vm_request_stop(p->vm, v, "payload done");
	else if (off == 2 && p->echo_n < sizeof(p->echo_log))
		p->echo_log[p->echo_n++] = v;
}

static const struct bus_ops probe_pio_ops = {
	.read = probe_pio_read,
	.write = probe_pio_write,
};

static void probe_mmio_read(void *opaque, uint64_t off, void *data,
			    uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0x33, len);
}

static void probe_mmio_write(void *opaque, uint64_t off, const void *data,
			     uint32_t len)
{
	struct probe *p = opaque;

	(void)off;
	(void)len;
	p->mmio_written = *(const uint8_t *)data;
	p->mmio_writes++;
}

static const struct bus_ops probe_mmio_ops = {
	.read = probe_mmio_read,
	.write = probe_mmio_write,
};

/*
 * Flat 32-bit protected mode, paging off, entered at 0x1000. (Real mode with
 * 32-bit prefixes is not used: the paravirtual KVM some hosts have emulates
 * it wrongly, and Linux never runs there anyway.)
 */
static const uint8_t payload_io_mmio_mem[] = {
	0x66, 0xba, 0x00, 0x05,		    /* mov dx, 0x500 */
	0xb0, 0x41,			    /* mov al, 'A' */
	0xee,				    /* out dx, al */
	0xec,				    /* in al, dx (0x5a) */
	0x66, 0xba, 0x02, 0x05,		    /* mov dx, 0x502 */
	0xee,				    /* out dx, al */
	0xb8, 0x00, 0x00, 0x00, 0xd0,	    /* mov eax, 0xd0000000 */
	0xc6, 0x00, 0x77,		    /* mov byte [eax], 0x77 */
	0x8a, 0x00,			    /* mov al, [eax] (0x33) */
	0xee,				    /* out dx, al */
	0xbb, 0x00, 0x00, 0x10, 0x00,	    /* mov ebx, 0x100000 */
	0xb9, 0x00, 0x08, 0x00, 0x00,	    /* mov ecx, 2048 */
	0xc6, 0x03, 0xab,		    /* 1: mov byte [ebx], 0xab */
	0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, /* add ebx, 0x1000 */
	0xe2, 0xf5,			    /* loop 1b */
	0x66, 0xba, 0x01, 0x05,		    /* mov dx, 0x501 */
	0xb0, 0x00,			    /* mov al, 0 */
	0xee,				    /* out dx, al: stop */
	0xf4,				    /* hlt */
};

static const uint8_t payload_spin[] = {
	0xeb, 0xfe, /* jmp . */
};

struct payload_vm {
	struct testvm t; /* the VM, its memory and vCPU 0 */
	struct probe probe;
};

static int payload_setup(struct payload_vm *p, const uint8_t *code, size_t len)
{
	char err[512];

	memset(p, 0, sizeof(*p));
	ck_assert_msg(testvm_open(&p->t, PAYLOAD_GPA, code, len, err,
				  sizeof(err)) == 0,
		      "%s", err);
	p->probe.vm = &p->t.vm;
	ck_assert_int_eq(bus_add(&p->t.vm.pio, TEST_PORT, 3, &probe_pio_ops,
				 &p->probe, "probe"),
			 0);
	ck_assert_int_eq(bus_add(&p->t.vm.mmio, TEST_MMIO, 0x1000,
				 &probe_mmio_ops, &p->probe, "probe"),
			 0);
	ck_assert_msg(testvm_vcpu(&p->t, PAYLOAD_GPA, 0, err, sizeof(err)) == 0,
		      "%s", err);
	return 0;
}

static void payload_teardown(struct payload_vm *p)
{
	testvm_close(&p->t);
}

START_TEST(payload_exits_and_memory)
{
	static struct payload_vm p;

	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	payload_setup(&p, payload_io_mmio_mem, sizeof(payload_io_mmio_mem));
	vcpu_loop(&p.t.vcpu);
	ck_assert_msg(p.t.vm.exit_status == 0, "stopped: %s",
		      p.t.vm.stop_reason);
	ck_assert_str_eq(p.t.vm.stop_reason, "payload done");
	ck_assert_uint_eq(p.probe.port_n, 1);
	ck_assert_uint_eq(p.probe.port_log[0], 'A');
	ck_assert_uint_eq(p.probe.echo_n, 2);
	ck_assert_uint_eq(p.probe.echo_log[0], 0x5a); /* port read */
	ck_assert_uint_eq(p.probe.echo_log[1], 0x33); /* MMIO read */
	ck_assert_uint_eq(p.probe.mmio_writes, 1);
	ck_assert_uint_eq(p.probe.mmio_written, 0x77);
	for (uint64_t a = 0x100000; a < 0x100000 + 2048 * 4096ULL; a += 4096) {
		uint8_t *b = guest_mem_ptr(&p.t.gm, a, 1);

		ck_assert_msg(b && *b == 0xab, "guest write missing at %#llx",
			      (unsigned long long)a);
	}
	ck_assert_uint_eq(*(uint8_t *)guest_mem_ptr(
				  &p.t.gm, 0x100000 + 2048 * 4096ULL, 1),
			  0);
	ck_assert_uint_ge(p.t.vcpu.exits, 6);
	payload_teardown(&p);
}
END_TEST

static struct payload_vm spin_vm;

static void *payload_stopper(void *arg)
{
	struct payload_vm *p = arg;
	struct timespec ts = {0, 100 * 1000 * 1000};

	nanosleep(&ts, NULL);
	vm_request_stop(&p->t.vm, 7, "stopped from outside");
	vcpu_kick(&p->t.vcpu);
	return NULL;
}

/* A guest spinning forever leaves KVM_RUN when kicked. */
START_TEST(payload_kick_stops_spinning_guest)
{
	struct payload_vm *p = &spin_vm;
	pthread_t t;

	if (!harness_have_kvm())
		HARNESS_SKIP("/dev/kvm is not available");
	ck_assert_int_eq(vcpu_signals_init(), 0);
	payload_setup(p, payload_spin, sizeof(payload_spin));
	ck_assert_int_eq(vcpu_start(&p->t.vcpu), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, payload_stopper, p), 0);
	pthread_join(t, NULL);
	vcpu_destroy(&p->t.vcpu); /* joins: hangs here if the kick failed */
	ck_assert_int_eq(p->t.vm.exit_status, 7);
	ck_assert_str_eq(p->t.vm.stop_reason, "stopped from outside");
	testvm_close(&p->t);
}
END_TEST

Suite *payload_suite(void);
Suite *payload_suite(void)
{
	Suite *s = suite_create("payload");
	TCase *tc = tcase_create("realmode");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, payload_exits_and_memory);
	tcase_add_test(tc, payload_kick_stops_spinning_guest);
	suite_add_tcase(s, tc);
	return s;
}
