#!/bin/sh
# Flushed writes for the SIGKILL case of tests/boot/cases-load.sh: writes
# record i ("MVLOAD-<8 digits>", one 512-byte sector) to sector i of the raw
# disk /dev/vda, fsyncs the device (a virtio-blk FLUSH: fdatasync on the
# host) and only then prints
#   MICROVM-LD flushed=<i>
# for i = 1, 2, ... until the disk is full or the VMM is killed.
[ -b /dev/vda ] || { echo "MICROVM-LD error=no /dev/vda"; exit 1; }
n=$(($(cat /sys/block/vda/size) - 1))
i=1
while [ $i -le $n ]; do
	printf 'MVLOAD-%08d\n' $i |
		dd of=/dev/vda bs=512 seek=$i conv=sync,notrunc,fsync 2>/dev/null ||
		{ echo "MICROVM-LD error=write $i failed"; exit 1; }
	echo "MICROVM-LD flushed=$i"
	i=$((i + 1))
done
