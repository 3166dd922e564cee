#include <errno.h>
#include <stdint.h>

#include "devices/i8042.h"
#include "tests/harness/harness.h"

static void count_reset(void *opaque)
{
	(*(int *)opaque)++;
}

static uint8_t status(struct i8042 *k)
{
	uint8_t v = 0xee;

	i8042_cmd_ops.read(k, 0, &v, 1);
	return v;
}

static uint8_t data(struct i8042 *k)
{
	uint8_t v = 0xee;

	i8042_data_ops.read(k, 0, &v, 1);
	return v;
}

static void cmd(struct i8042 *k, uint8_t v)
{
	i8042_cmd_ops.write(k, 0, &v, 1);
}

static void put(struct i8042 *k, uint8_t v)
{
	i8042_data_ops.write(k, 0, &v, 1);
}

/* What Linux's i8042_command does: the reply must be ready at once. */
static uint8_t command_reply(struct i8042 *k, uint8_t c)
{
	cmd(k, c);
	ck_assert_uint_eq(status(k) & 0x03, 0x01); /* OBF, not IBF */
	return data(k);
}

START_TEST(i8042_self_tests)
{
	struct i8042 k;
	int resets = 0;

	ck_assert_int_eq(i8042_init(&k, count_reset, &resets), 0);
	/* Idle: nothing to read, keyboard not locked. */
	ck_assert_uint_eq(status(&k) & 0x13, 0x10);
	ck_assert_uint_eq(command_reply(&k, 0xaa), 0x55);
	ck_assert_uint_eq(status(&k) & 0x01, 0);
	ck_assert_uint_eq(status(&k) & 0x04, 0x04); /* system flag */
	ck_assert_uint_eq(command_reply(&k, 0xab), 0x00);
	ck_assert_uint_eq(command_reply(&k, 0xd0), 0x03);
	ck_assert_int_eq(resets, 0);
	i8042_destroy(&k);
}
END_TEST

START_TEST(i8042_command_byte)
{
	struct i8042 k;
	int resets = 0;

	ck_assert_int_eq(i8042_init(&k, count_reset, &resets), 0);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x45);
	/* Two reads agree (Linux insists on a stable CTR). */
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x45);
	cmd(&k, 0x60);
	ck_assert_uint_eq(status(&k) & 0x08, 0x08); /* last write: command */
	put(&k, 0x74);
	ck_assert_uint_eq(status(&k) & 0x08, 0x00);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x74);
	/* Disable/enable keyboard and aux flip their command byte bits. */
	cmd(&k, 0xae);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x64);
	cmd(&k, 0xad);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x74);
	cmd(&k, 0xa8);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x54);
	cmd(&k, 0xa7);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x74);
	/* The other RAM bytes are storage too. */
	cmd(&k, 0x65);
	put(&k, 0x9c);
	ck_assert_uint_eq(command_reply(&k, 0x25), 0x9c);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x74);
	/* A data byte with no command pending goes to the (absent)
	 * keyboard: no effect, no reply. */
	put(&k, 0xff);
	ck_assert_uint_eq(status(&k) & 0x01, 0);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x74);
	/* 0xd2 echoes a byte as if from the keyboard. */
	cmd(&k, 0xd2);
	put(&k, 0x1c);
	ck_assert_uint_eq(status(&k) & 0x01, 0x01);
	ck_assert_uint_eq(data(&k), 0x1c);
	/* Reset through the bus restores the defaults. */
	i8042_cmd_ops.reset(&k);
	ck_assert_uint_eq(command_reply(&k, 0x20), 0x45);
	ck_assert_int_eq(resets, 0);
	i8042_destroy(&k);
}
END_TEST

START_TEST(i8042_reset_pulse)
{
	struct i8042 k;
	int resets = 0;

	ck_assert_int_eq(i8042_init(&k, count_reset, &resets), 0);
	/* Pulses that leave bit 0 alone are not a reset. */
	cmd(&k, 0xff);
	cmd(&k, 0xfd);
	ck_assert_int_eq(resets, 0);
	cmd(&k, 0xfe);
	ck_assert_int_eq(resets, 1);
	/* Linux's reboot=k loop writes it again: still one reset. */
	for (int i = 0; i < 10; i++)
		cmd(&k, 0xfe);
	ck_assert_int_eq(resets, 1);
	/* A device reset re-arms it. */
	i8042_data_ops.reset(&k);
	cmd(&k, 0xfe);
	ck_assert_int_eq(resets, 2);
	i8042_destroy(&k);
}
END_TEST

START_TEST(i8042_outport_reset)
{
	struct i8042 k;
	int resets = 0;

	ck_assert_int_eq(i8042_init(&k, count_reset, &resets), 0);
	cmd(&k, 0xd1);
	put(&k, 0x03);
	ck_assert_int_eq(resets, 0);
	ck_assert_uint_eq(command_reply(&k, 0xd0), 0x03);
	cmd(&k, 0xd1);
	put(&k, 0x02); /* reset line low */
	ck_assert_int_eq(resets, 1);
	i8042_destroy(&k);
}
END_TEST

/*
 * Linux's i8042_check_aux without i8042.noaux: AUX_LOOP (0xd3, parameter
 * 0x5a, one reply that must carry the AUX-data status bit), then AUX_TEST
 * (0xa9, one reply: 0x00/0xfa/0xff mean a port is there). Each wait for a
 * reply polls the status port up to 10,000 times; a controller without a
 * mouse must answer both at once and say "no AUX port".
 */
static int linux_wait_read(struct i8042 *k, int *reads)
{
	for (int i = 0; i < 10000; i++) {
		++*reads;
		if (status(k) & 0x01)
			return 0;
	}
	return -1;
}

START_TEST(i8042_no_aux_port_answers_at_once)
{
	struct i8042 k;
	int resets = 0, reads = 0;
	uint8_t st, param;

	ck_assert_int_eq(i8042_init(&k, count_reset, &resets), 0);
	cmd(&k, 0xd3);
	put(&k, 0x5a);
	ck_assert_int_eq(linux_wait_read(&k, &reads), 0);
	st = status(&k);
	ck_assert_uint_eq(st & 0x20, 0); /* not AUX data: "auxerr" */
	cmd(&k, 0xa9);
	ck_assert_int_eq(linux_wait_read(&k, &reads), 0);
	param = data(&k);
	ck_assert(param != 0x00 && param != 0xfa && param != 0xff);
	ck_assert_int_le(reads, 4);
	/* --stats-json reports the status reads. */
	ck_assert_uint_ge(k.status_reads, (unsigned)reads);
	/* A byte for the (absent) AUX device is dropped, not sent to the
	 * keyboard side or echoed. */
	cmd(&k, 0xd4);
	put(&k, 0xf4);
	ck_assert_uint_eq(status(&k) & 0x01, 0);
	/* The controller still works. */
	ck_assert_uint_eq(command_reply(&k, 0xaa), 0x55);
	ck_assert_int_eq(resets, 0);
	i8042_destroy(&k);
}
END_TEST

START_TEST(i8042_init_needs_callback)
{
	struct i8042 k;

	ck_assert_int_eq(i8042_init(&k, NULL, NULL), -EINVAL);
}
END_TEST

Suite *i8042_suite(void);
Suite *i8042_suite(void)
{
	Suite *s = suite_create("i8042");
	TCase *tc = tcase_create("i8042");

	tcase_add_test(tc, i8042_self_tests);
	tcase_add_test(tc, i8042_command_byte);
	tcase_add_test(tc, i8042_reset_pulse);
	tcase_add_test(tc, i8042_outport_reset);
	tcase_add_test(tc, i8042_no_aux_port_answers_at_once);
	tcase_add_test(tc, i8042_init_needs_callback);
	suite_add_tcase(s, tc);
	return s;
}
