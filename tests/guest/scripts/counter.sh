#!/bin/sh
# Snapshot test guest (tests/boot/cases-snapshot.sh): fills a 32 MiB file in
# the initramfs (guest RAM) with random data and remembers its checksum, writes a token to the raw
# disk /dev/vda (if there is one, synced), then counts forever, a tick every
# 0.2 s. Every 10 ticks it checks the memory pattern and reads the token
# back from the disk with the page cache dropped (so from the host file):
#   CTR-READY sum=<md5> disk=<token>|none
#   CTR-TICK <n>
#   CTR-CHECK <n> mem=ok|bad disk=<what the disk holds>|none
# The host snapshots, kills and restores the VM: the ticks go on from <n>.
# mvtest.pattern_mib=N sets the pattern's size (0: none, sum=skip; the
# restore benchmark, scripts/bench-restore, times the first tick).
# mvtest.ip=ADDR gives eth0 ADDR/24 first (the snapshot's TAP case):
#   CTR-NET <addr>|fail
tok=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mvtest\.token=//p')
pmib=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mvtest\.pattern_mib=//p')
ip4=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mvtest\.ip=//p')
if [ -n "$ip4" ]; then
	if ip link set eth0 up && ip addr add "$ip4/24" dev eth0; then
		echo "CTR-NET $ip4"
	else
		echo "CTR-NET fail"
	fi
fi
pat=/ctr-pattern
sum=none
if [ "${pmib:-32}" = 0 ]; then
	sum=skip
elif dd if=/dev/urandom of=$pat bs=1M count="${pmib:-32}" 2>/dev/null; then
	sum=$(md5sum $pat | cut -d' ' -f1)
fi
disk=none
if [ -b /dev/vda ] && [ -n "$tok" ]; then
	printf 'CTR-DISK-%s\n' "$tok" | dd of=/dev/vda conv=fsync 2>/dev/null && sync
	disk=CTR-DISK-$tok
fi
echo "CTR-READY sum=$sum disk=$disk"
i=0
while :; do
	i=$((i + 1))
	echo "CTR-TICK $i"
	if [ $((i % 10)) -eq 0 ]; then
		m=bad
		if [ "$sum" = skip ]; then
			m=skip
		elif [ "$sum" != none ] && [ "$(md5sum $pat | cut -d' ' -f1)" = "$sum" ]; then
			m=ok
		fi
		d=none
		if [ "$disk" != none ]; then
			echo 3 >/proc/sys/vm/drop_caches
			d=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n 1 | tr -cd 'A-Za-z0-9-')
		fi
		echo "CTR-CHECK $i mem=$m disk=$d"
	fi
	usleep 200000
done
