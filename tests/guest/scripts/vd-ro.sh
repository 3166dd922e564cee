#!/bin/sh
# Read-only disk test (tests/boot/cases-virtio.sh): with `--disk IMG,ro` as
# the root, both a file write and a raw write to /dev/vda must fail.
#   MICROVM-VD ro-flag=<0|1 from /sys/block/vda/ro>
#   MICROVM-VD file-write=ok | MICROVM-VD file-write=failed <error>
#   MICROVM-VD raw-write=ok | MICROVM-VD raw-write=failed <error>
echo "MICROVM-VD ro-flag=$(cat /sys/block/vda/ro 2>/dev/null || echo none)"
if err=$( (echo MVDISK-RO-FILE >/vd-ro.txt && sync) 2>&1); then
	echo "MICROVM-VD file-write=ok"
else
	echo "MICROVM-VD file-write=failed $err" | head -n 1
fi
# Random bytes over sector 0, flushed with fsync: if the device let them
# through, the image's checksum on the host changes.
head -c 512 /dev/urandom >/tmp/sector
if err=$(dd if=/tmp/sector of=/dev/vda bs=512 count=1 conv=notrunc,fsync 2>&1); then
	echo "MICROVM-VD raw-write=ok"
else
	echo "MICROVM-VD raw-write=failed $(echo "$err" | head -n 1)"
fi
