/*
 * The first write of the magic byte wins: a guest may write it again (a
 * second init, a hostile loop) without moving the result or printing more.
 * The fields are published with a release store of `fired`, so readers on
 * other threads need no lock.
 */
#include "devices/boot_timer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/layout.h"
#include "lib/clock.h"
#include "lib/log.h"

void boot_timer_init(struct boot_timer *t, uint64_t start_wall_ns,
		     uint64_t start_cpu_ns)
{
	memset(t, 0, sizeof(*t));
	t->start_wall_ns = start_wall_ns;
	t->start_cpu_ns = start_cpu_ns;
}

void boot_timer_set_setup_ns(struct boot_timer *t, uint64_t ns)
{
	__atomic_store_n(&t->setup_ns, ns, __ATOMIC_RELAXED);
}

int boot_timer_result(const struct boot_timer *t, uint64_t *wall_ns,
		      uint64_t *cpu_ns)
{
	if (__atomic_load_n(&t->fired, __ATOMIC_ACQUIRE) != 2)
		return -EAGAIN;
	if (wall_ns)
		*wall_ns = t->wall_ns;
	if (cpu_ns)
		*cpu_ns = t->cpu_ns;
	return 0;
}

static uint64_t boot_timer_since(uint64_t now, uint64_t start)
{
	return now > start ? now - start : 0;
}

static void boot_timer_read(void *opaque, uint64_t off, void *data,
			    uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void boot_timer_write(void *opaque, uint64_t off, const void *data,
			     uint32_t len)
{
	struct boot_timer *t = opaque;
	uint64_t wall, cpu;
	int expected = 0;

	(void)len;
	/* A wider write of 123 puts the byte 123 at offset 0 too. */
	if (off != 0 || *(const uint8_t *)data != LAYOUT_BOOT_TIMER_MAGIC)
		return;
	wall = clock_wall_ns();
	cpu = clock_cpu_ns();
	/* 0 -> 1 claims the write; 2 publishes the results. */
	if (!__atomic_compare_exchange_n(&t->fired, &expected, 1, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	t->wall_ns = boot_timer_since(wall, t->start_wall_ns);
	t->cpu_ns = boot_timer_since(cpu, t->start_cpu_ns);
	__atomic_store_n(&t->fired, 2, __ATOMIC_RELEASE);
	/* Shown at every log level: this line is the measurement. */
	log_print("guest boot time: %llu ms wall, %llu ms CPU "
		  "(VMM setup %llu ms)",
		  (unsigned long long)(t->wall_ns / 1000000),
		  (unsigned long long)(t->cpu_ns / 1000000),
		  (unsigned long long)(__atomic_load_n(&t->setup_ns,
						       __ATOMIC_RELAXED) /
				       1000000));
}

const struct bus_ops boot_timer_ops = {
	.read = boot_timer_read,
	.write = boot_timer_write,
	/* Snapshot (devices/bus.h): not written yet. */
	.save = NULL,
	.load = NULL,
};
