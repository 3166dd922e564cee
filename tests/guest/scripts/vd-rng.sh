#!/bin/sh
# virtio-rng test (tests/boot/cases-virtio.sh): which hwrng is current, and two
# reads of 64 bytes from /dev/hwrng as hex.
#   MICROVM-RNG current=<rng_current>
#   MICROVM-RNG a=<128 hex digits>
#   MICROVM-RNG b=<128 hex digits>
echo "MICROVM-RNG current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none)"
for r in a b; do
	echo "MICROVM-RNG $r=$(head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
done
