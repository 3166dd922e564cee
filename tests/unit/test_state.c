/*
 * No hidden per-process state: two VMs in one process (two exit contexts,
 * two irq lines, two virtio devices) each have their own rate limiters. A
 * guest flooding one with bad accesses must not silence the other's
 * messages. Each test spends one object's burst (10 messages), then checks
 * that the second object's first message still gets out.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/virtio_mmio.h"
#include "lib/log.h"
#include "tests/harness/harness.h"
#include "vmm/exit.h"

#define STATE_BURST 10 /* a zeroed struct log_ratelimit's burst */

static int state_pipe[2] = {-1, -1};
static char state_buf[65536];

/* Send the log (at --verbose level) into a pipe the test reads. */
static void state_capture(void)
{
	ck_assert_int_eq(pipe2(state_pipe, O_NONBLOCK), 0);
	/* Room for every line of the test: nothing dropped. */
	fcntl(state_pipe[1], F_SETPIPE_SZ, 1 << 20);
	log_set_fd(state_pipe[1]);
	log_set_level(LOG_INFO);
}

/* What was logged since state_capture() or the last call. */
static const char *state_logged(void)
{
	ssize_t n = read(state_pipe[0], state_buf, sizeof(state_buf) - 1);

	state_buf[n > 0 ? n : 0] = '\0';
	return state_buf;
}

static unsigned state_count(const char *s, const char *what)
{
	unsigned n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

static void state_release(void)
{
	log_set_fd(STDERR_FILENO);
	log_set_level(LOG_WARN);
	close(state_pipe[0]);
	close(state_pipe[1]);
}

/* Unclaimed port reads on an empty bus: one LOG_INFO line each, limited. */
START_TEST(state_exit_contexts_independent)
{
	struct bus pio, mmio;
	struct kvm_run *run = calloc(1, 2 * 4096);
	struct exit_ctx a, b;
	char why[128];

	ck_assert_ptr_nonnull(run);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	a = (struct exit_ctx){.pio = &pio, .mmio = &mmio, .run_size = 8192};
	b = a;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.size = 1;
	run->io.count = 1;
	run->io.data_offset = 4096;
	state_capture();

	run->io.port = 0x80;
	for (unsigned i = 0; i < STATE_BURST + 5; i++)
		ck_assert_int_eq(exit_dispatch(run, &a, why, sizeof(why)),
				 EXIT_CONTINUE);
	ck_assert_uint_eq(state_count(state_logged(),
				      "unclaimed port read at 0x80 size 1"),
			  STATE_BURST);
	/* The other VM's vCPU: its first unclaimed read is reported. */
	run->io.port = 0x81;
	ck_assert_int_eq(exit_dispatch(run, &b, why, sizeof(why)),
			 EXIT_CONTINUE);
	ck_assert_uint_eq(state_count(state_logged(),
				      "unclaimed port read at 0x81 size 1"),
			  1);
	state_release();
	free(run);
}
END_TEST

static void state_irq_set(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

/* An irqfd that cannot be written (a read-only fd): each pulse falls back
 * to set() and logs a warning, limited. */
START_TEST(state_irq_lines_independent)
{
	int bad = open("/dev/null", O_RDONLY);
	struct irq_line a = {.set = state_irq_set, .gsi = 5, .irqfd = bad};
	struct irq_line b = {.set = state_irq_set, .gsi = 6, .irqfd = bad};

	ck_assert_int_ge(bad, 0);
	state_capture();
	for (unsigned i = 0; i < STATE_BURST + 5; i++)
		irq_pulse(&a);
	ck_assert_uint_eq(
		state_count(state_logged(), "irqfd write for gsi 5: failed"),
		STATE_BURST);
	irq_pulse(&b);
	ck_assert_uint_eq(
		state_count(state_logged(), "irqfd write for gsi 6: failed"),
		1);
	state_release();
	close(bad);
}
END_TEST

static const struct virtio_mmio_ops state_dev_ops = {
	.device_id = 4,
	.num_queues = 1,
	.queue_max = 16,
};

/* FAILED written after each reset: "the driver gave up", limited. */
START_TEST(state_virtio_devices_independent)
{
	struct virtio_mmio_dev *a = calloc(1, sizeof(*a));
	struct virtio_mmio_dev *b = calloc(1, sizeof(*b));
	struct irq_line irq = {.set = state_irq_set, .gsi = 7, .irqfd = -1};
	uint32_t zero = 0, failed = VIRTIO_STATUS_FAILED;

	ck_assert(a && b);
	virtio_mmio_init(a, &state_dev_ops, NULL, "dev-a", 0);
	virtio_mmio_init(b, &state_dev_ops, NULL, "dev-b", 0);
	ck_assert_int_eq(virtio_mmio_attach(a, NULL, 0xd0000000, &irq), 0);
	ck_assert_int_eq(virtio_mmio_attach(b, NULL, 0xd0001000, &irq), 0);
	state_capture();
	for (unsigned i = 0; i < STATE_BURST + 5; i++) {
		virtio_mmio_bus_ops.write(a, VIRTIO_MMIO_REG_STATUS, &zero, 4);
		virtio_mmio_bus_ops.write(a, VIRTIO_MMIO_REG_STATUS, &failed,
					  4);
	}
	ck_assert_uint_eq(
		state_count(state_logged(),
			    "dev-a: the driver gave up on the device"),
		STATE_BURST);
	virtio_mmio_bus_ops.write(b, VIRTIO_MMIO_REG_STATUS, &failed, 4);
	ck_assert_uint_eq(
		state_count(state_logged(),
			    "dev-b: the driver gave up on the device"),
		1);
	state_release();
	virtio_mmio_destroy(a);
	virtio_mmio_destroy(b);
	free(a);
	free(b);
}
END_TEST

Suite *state_suite(void);
Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("independent");

	tcase_add_test(tc, state_exit_contexts_independent);
	tcase_add_test(tc, state_irq_lines_independent);
	tcase_add_test(tc, state_virtio_devices_independent);
	suite_add_tcase(s, tc);
	return s;
}
