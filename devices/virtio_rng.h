/*
 * virtio-rng (virtio 1.2 section 5.4): the guest's writable buffers are
 * filled from the host's getrandom(). One request queue, no config space,
 * no device features. At most VIRTIO_RNG_MAX_REQUEST bytes per request (the
 * used length says how many); requests run on the event loop thread.
 *
 * VMM wiring:
 *   virtio_rng_init(&rng);
 *   virtio_mmio_attach(&rng.mmio, gm, base, &irq);
 *   bus_add(mmio_bus, base, VIRTIO_MMIO_SLOT_SIZE, &virtio_mmio_bus_ops,
 *           &rng.mmio, "virtio-rng");
 *   poll virtio_mmio_event_fd(&rng.mmio) -> virtio_mmio_process(&rng.mmio)
 *   at exit: virtio_rng_close(&rng)
 */
#ifndef DEVICES_VIRTIO_RNG_H
#define DEVICES_VIRTIO_RNG_H

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"

#define VIRTIO_RNG_DEVICE_ID   4
#define VIRTIO_RNG_QUEUE_SIZE  64
#define VIRTIO_RNG_MAX_REQUEST 65536

struct virtio_rng {
	struct virtio_mmio_dev mmio; /* register this with the bus */
	struct virtq_chain chain;
	int logged_getrandom;
};

/* Initialize (r->mmio not yet attached). */
void virtio_rng_init(struct virtio_rng *r);

/* Destroy the transport. */
void virtio_rng_close(struct virtio_rng *r);

#endif
