/*
 * Guest-driver emulation shared by the virtio device tests: a test RAM, a
 * driver that negotiates and sets up queues the way Linux's virtio-mmio
 * driver does, descriptor and ring helpers, and a recording irq line.
 * Defined in test_virtio_mmio.c.
 */
#ifndef TESTS_UNIT_VTEST_H
#define TESTS_UNIT_VTEST_H

#include <stdint.h>

#include "devices/irq.h"
#include "devices/virtio_mmio.h"
#include "mem/guest_mem.h"

#define VTEST_RAM_BASE 0x100000ULL
#define VTEST_RAM_SIZE 0x100000ULL
#define VTEST_QSZ      16
#define VTEST_DATA     (VTEST_RAM_BASE + 0x40000) /* free for buffers */

struct guest_mem *vtest_ram(void);
void vtest_ram_free(void);
void *vtest_gpa(uint64_t gpa);
uint32_t vtest_rd(struct virtio_mmio_dev *d, uint64_t off);
void vtest_wr(struct virtio_mmio_dev *d, uint64_t off, uint32_t v);
void vtest_irq(struct irq_line *l);
int vtest_irq_level(void);
unsigned vtest_irq_raised(void);
uint32_t vtest_driver_init(struct virtio_mmio_dev *d, uint64_t features,
			   unsigned nq);
void vtest_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len,
		uint16_t flags, uint16_t next);
void vtest_avail(unsigned q, uint16_t head);
uint16_t vtest_used_idx(unsigned q);
uint32_t vtest_used_len(unsigned q, uint16_t slot);
uint32_t vtest_used_id(unsigned q, uint16_t slot);

#endif
