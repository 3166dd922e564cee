/*
 * The PC keyboard controller, only as far as Linux needs it with
 * "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd" (or without them) and
 * for "reboot=k":
 * controller commands, the command byte, self tests, and the reset pulse.
 * No keyboard behind it, no AUX port, no interrupt (replies are polled).
 * Without those flags Linux probes the AUX port: the controller answers at
 * once that there is none (see i8042_command).
 *
 * Port I/O, two 1-byte devices sharing one struct i8042:
 *   i8042_data_ops at LAYOUT_I8042_DATA_PORT (0x60), length 1;
 *   i8042_cmd_ops  at LAYOUT_I8042_CMD_PORT  (0x64), length 1.
 * Port 0x61 (system control port B, PIT channel 2 gate and speaker) is not
 * the i8042's: KVM's in-kernel PIT serves it when created with
 * KVM_PIT_SPEAKER_DUMMY.
 */
#ifndef DEVICES_I8042_H
#define DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "devices/bus.h"

#define I8042_RAM_SIZE 32

struct i8042 {
	pthread_mutex_t lock;
	void (*reset)(void *opaque);
	void *reset_opaque;
	int reset_fired;

	uint8_t ram[I8042_RAM_SIZE]; /* ram[0] is the command byte */
	uint8_t outport;
	uint8_t obuf;	       /* output buffer (read at 0x60) */
	int obf;	       /* output buffer full */
	uint8_t pending;       /* command waiting for its data byte, or 0 */
	int last_was_cmd;      /* status bit 3: last write went to 0x64 */
	int unknown_logged;    /* log_once flag */
	uint64_t status_reads; /* guest reads of 0x64, for --stats-json */
};

/* Set up k, powered on. reset (required) is called when the guest pulses
 * the CPU reset line (0xFE at 0x64, or an output port write clearing bit
 * 0): once, until the device is reset through its bus ops. It runs on the
 * vCPU thread, without the device lock held; it should ask the VMM to stop
 * (e.g. write an eventfd) rather than tear the VM down in place. Returns 0
 * or a negative errno. */
int i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque)
	__attribute__((warn_unused_result));

/* Release what init took. */
void i8042_destroy(struct i8042 *k);

extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;

#endif
