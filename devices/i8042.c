/*
 * An i8042 keyboard controller without a keyboard. Every command completes
 * at once, so the input buffer is never full (status IBF stays 0) and a
 * reply is in the output buffer by the time the guest polls for it.
 */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#include "lib/log.h"

/* Status register (read at 0x64). */
#define I8042_STR_OBF	  0x01
#define I8042_STR_SYS	  0x04
#define I8042_STR_CMD	  0x08
#define I8042_STR_KEYLOCK 0x10 /* set: keyboard not locked */
#define I8042_STR_AUXDATA 0x20 /* the byte came from the AUX port */

/* Command byte. */
#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_SYS	 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE	 0x40

/* Controller commands (written at 0x64). */
#define I8042_CMD_READ_RAM	 0x20 /* 0x20-0x3f: RAM byte n & 0x1f */
#define I8042_CMD_WRITE_RAM	 0x60 /* 0x60-0x7f */
#define I8042_CMD_AUX_DISABLE	 0xa7
#define I8042_CMD_AUX_ENABLE	 0xa8
#define I8042_CMD_AUX_TEST	 0xa9
#define I8042_CMD_SELF_TEST	 0xaa
#define I8042_CMD_KBD_TEST	 0xab
#define I8042_CMD_KBD_DISABLE	 0xad
#define I8042_CMD_KBD_ENABLE	 0xae
#define I8042_CMD_READ_OUTPORT	 0xd0
#define I8042_CMD_WRITE_OUTPORT	 0xd1
#define I8042_CMD_WRITE_KBD_OBUF 0xd2
#define I8042_CMD_WRITE_AUX_OBUF 0xd3 /* Linux's AUX_LOOP */
#define I8042_CMD_WRITE_AUX	 0xd4
#define I8042_CMD_PULSE		 0xf0 /* 0xf0-0xff: pulse output bits 0-3 low */

/* Output port: bit 0 is the CPU reset line (active low), bit 1 the A20
 * gate. */
#define I8042_OUT_RESET 0x01
#define I8042_OUT_A20	0x02

/* AUX interface test result: 0x00 would be "no error"; 0x02 says the clock
 * line is stuck high, which is what an unconnected port reads as. */
#define I8042_AUX_TEST_NO_PORT 0x02

/* Translation on, keyboard interrupt on, POST passed: what a BIOS leaves. */
#define I8042_CTR_DEFAULT (I8042_CTR_XLATE | I8042_CTR_SYS | I8042_CTR_KBDINT)

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->obuf = v;
	k->obf = 1;
}

/* Returns 1 when the CPU reset line was pulsed. */
static int i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (cmd >= I8042_CMD_READ_RAM && cmd < I8042_CMD_READ_RAM + 0x20) {
		i8042_reply(k, k->ram[cmd & 0x1f]);
		return 0;
	}
	if (cmd >= I8042_CMD_WRITE_RAM && cmd < I8042_CMD_WRITE_RAM + 0x20) {
		k->pending = cmd;
		return 0;
	}
	if (cmd >= I8042_CMD_PULSE)
		/* Bits 0-3 clear are the lines pulsed; bit 0 is reset. */
		return !(cmd & I8042_OUT_RESET);

	switch (cmd) {
	case I8042_CMD_AUX_DISABLE: k->ram[0] |= I8042_CTR_AUXDIS; break;
	case I8042_CMD_AUX_ENABLE: k->ram[0] &= ~I8042_CTR_AUXDIS; break;
	case I8042_CMD_SELF_TEST:
		k->ram[0] |= I8042_CTR_SYS;
		i8042_reply(k, 0x55);
		break;
	case I8042_CMD_KBD_TEST:
		i8042_reply(k, 0x00); /* no clock or data line stuck */
		break;
	/*
	 * A controller without a mouse port, answering at once so that
	 * Linux decides in a few port accesses instead of polling the status
	 * port 10,000 times per command (i8042_check_aux): the AUX loopback
	 * byte comes back without the AUX-data status bit (Linux: "auxerr"),
	 * the AUX interface test reports a stuck clock line, and bytes for
	 * the AUX device are dropped.
	 */
	case I8042_CMD_AUX_TEST: i8042_reply(k, I8042_AUX_TEST_NO_PORT); break;
	case I8042_CMD_WRITE_AUX_OBUF:
	case I8042_CMD_WRITE_AUX: k->pending = cmd; break;
	case I8042_CMD_KBD_DISABLE: k->ram[0] |= I8042_CTR_KBDDIS; break;
	case I8042_CMD_KBD_ENABLE: k->ram[0] &= ~I8042_CTR_KBDDIS; break;
	case I8042_CMD_READ_OUTPORT: i8042_reply(k, k->outport); break;
	case I8042_CMD_WRITE_OUTPORT:
	case I8042_CMD_WRITE_KBD_OBUF: k->pending = cmd; break;
	default:
		log_once(&k->unknown_logged, LOG_INFO,
			 "i8042: unhandled command %#x ignored", cmd);
		break;
	}
	return 0;
}

/* A byte written at 0x60: the parameter of a pending command, or else a
 * byte for the keyboard, which is not there. Returns 1 on reset. */
static int i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd >= I8042_CMD_WRITE_RAM && cmd < I8042_CMD_WRITE_RAM + 0x20) {
		k->ram[cmd & 0x1f] = v;
		return 0;
	}
	switch (cmd) {
	case I8042_CMD_WRITE_OUTPORT:
		k->outport = v;
		return !(v & I8042_OUT_RESET);
	case I8042_CMD_WRITE_KBD_OBUF:
	case I8042_CMD_WRITE_AUX_OBUF: i8042_reply(k, v); return 0;
	case I8042_CMD_WRITE_AUX: return 0; /* no AUX device to take it */
	}
	return 0;
}

static uint8_t i8042_status(const struct i8042 *k)
{
	uint8_t st = I8042_STR_KEYLOCK;

	if (k->obf)
		st |= I8042_STR_OBF;
	if (k->ram[0] & I8042_CTR_SYS)
		st |= I8042_STR_SYS;
	if (k->last_was_cmd)
		st |= I8042_STR_CMD;
	return st;
}

/* Pulse the reset line: the callback runs once, outside the lock. */
static void i8042_fire_reset(struct i8042 *k)
{
	if (!__atomic_exchange_n(&k->reset_fired, 1, __ATOMIC_ACQ_REL))
		k->reset(k->reset_opaque);
}

static void i8042_data_read(void *opaque, uint64_t off, void *data,
			    uint32_t len)
{
	struct i8042 *k = opaque;

	(void)off;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	/* An empty buffer reads as its last byte, as on hardware. */
	*(uint8_t *)data = k->obuf;
	k->obf = 0;
	pthread_mutex_unlock(&k->lock);
}

/* A byte written to 0x60 (data) or 0x64 (command). The reset callback runs
 * after the lock is dropped: it may stop the VM. */
static void i8042_write_byte(struct i8042 *k, int is_cmd, uint8_t v)
{
	int reset;

	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = is_cmd;
	reset = is_cmd ? i8042_command(k, v) : i8042_data(k, v);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		i8042_fire_reset(k);
}

static void i8042_data_write(void *opaque, uint64_t off, const void *data,
			     uint32_t len)
{
	(void)off;
	(void)len;
	i8042_write_byte(opaque, 0, *(const uint8_t *)data);
}

static void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	(void)off;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	*(uint8_t *)data = i8042_status(k);
	k->status_reads++;
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_write(void *opaque, uint64_t off, const void *data,
			    uint32_t len)
{
	(void)off;
	(void)len;
	i8042_write_byte(opaque, 1, *(const uint8_t *)data);
}

static void i8042_power_on(struct i8042 *k)
{
	memset(k->ram, 0, sizeof(k->ram));
	k->ram[0] = I8042_CTR_DEFAULT;
	k->outport = I8042_OUT_RESET | I8042_OUT_A20;
	k->obuf = 0;
	k->obf = 0;
	k->pending = 0;
	k->last_was_cmd = 0;
}

static void i8042_reset(void *opaque)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	i8042_power_on(k);
	__atomic_store_n(&k->reset_fired, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&k->lock);
}

/* Both tables share the state and the reset; the bus calls reset once per
 * registered range, which is harmless. */
/* Snapshot layout: version, the controller RAM, output port, output
 * buffer and its flag, the pending command, the last-write bit. */
#define I8042_SNAP_VERSION 1
#define I8042_SNAP_LEN	   (6 + I8042_RAM_SIZE)

static ssize_t i8042_save(void *opaque, void *buf, size_t len)
{
	struct i8042 *k = opaque;
	uint8_t *p = buf;

	if (len < I8042_SNAP_LEN)
		return -ENOSPC;
	pthread_mutex_lock(&k->lock);
	p[0] = I8042_SNAP_VERSION;
	p[1] = k->outport;
	p[2] = k->obuf;
	p[3] = k->obf ? 1 : 0;
	p[4] = k->pending;
	p[5] = k->last_was_cmd ? 1 : 0;
	memcpy(p + 6, k->ram, I8042_RAM_SIZE);
	pthread_mutex_unlock(&k->lock);
	return I8042_SNAP_LEN;
}

static int i8042_load(void *opaque, const void *buf, size_t len)
{
	struct i8042 *k = opaque;
	const uint8_t *p = buf;

	if (len != I8042_SNAP_LEN || p[0] != I8042_SNAP_VERSION || p[3] > 1 ||
	    p[5] > 1)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	k->outport = p[1];
	k->obuf = p[2];
	k->obf = p[3];
	k->pending = p[4];
	k->last_was_cmd = p[5];
	memcpy(k->ram, p + 6, I8042_RAM_SIZE);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
	.reset = i8042_reset,
	.save = i8042_save,
	.load = i8042_load,
};

const struct bus_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
	.reset = i8042_reset,
	/* Snapshot: the state is one struct i8042, saved once through
	 * i8042_data_ops. */
	.save = NULL,
	.load = NULL,
};

int i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque)
{
	int err;

	if (!reset)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->reset = reset;
	k->reset_opaque = opaque;
	err = pthread_mutex_init(&k->lock, NULL);
	if (err)
		return -err;
	i8042_power_on(k);
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}
