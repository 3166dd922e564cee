#!/bin/sh
# Lists the virtio devices the kernel found (from virtio_mmio.device= on the
# command line), one line each, for host-side tests to grep:
#   MICROVM-VIRTIO <name> device=<virtio id> driver=<bound driver or none>
# Virtio ids: 1 net, 2 block, 3 console, 4 rng, 5 balloon.
n=0
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d/device" ] || continue
	id=$(cat "$d/device")
	drv=none
	[ -L "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	echo "MICROVM-VIRTIO $(basename "$d") device=$((id)) driver=$drv"
	n=$((n + 1))
done
echo "MICROVM-VIRTIO count=$n"
