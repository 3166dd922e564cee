#!/bin/sh
# Disk root read-write test (tests/boot/cases-virtio.sh): reports how / is
# mounted and what an earlier boot left in /vd-data.txt, then appends the line
# MVDISK-<token> (token from mvtest.token= on the command line) and syncs.
#   MICROVM-VD root=<device> <fstype> <options>
#   MICROVM-VD previous=<last line of /vd-data.txt, or none>
#   MICROVM-VD wrote=MVDISK-<token> | MICROVM-VD write-failed=<error>
tok=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mvtest\.token=//p')
echo "MICROVM-VD root=$(awk '$2 == "/" && $1 != "rootfs" {print $1, $3, $4}' /proc/mounts)"
if [ -f /vd-data.txt ]; then
	echo "MICROVM-VD previous=$(tail -n 1 /vd-data.txt)"
else
	echo "MICROVM-VD previous=none"
fi
[ -n "$tok" ] || { echo "MICROVM-VD write-failed=no mvtest.token= on the command line"; exit 1; }
if err=$(printf 'MVDISK-%s\n' "$tok" 2>&1 >>/vd-data.txt) && sync; then
	echo "MICROVM-VD wrote=MVDISK-$tok"
else
	echo "MICROVM-VD write-failed=$err"
	exit 1
fi
