#!/bin/sh
# Inflate then deflate driven by the host (tests/boot/cases-balloon.sh): the
# host sets a 128 MiB target through the control socket after BL-READY, then
# 0 after BL-INFLATED. The guest watches its own MemAvailable:
#   BL-MEM start avail_kb=N total_kb=N
#   BL-READY
#   BL-INFLATED avail_kb=N total_kb=N   MemAvailable down by >= 100 MiB
#   BL-DEFLATED avail_kb=N total_kb=N   back within 16 MiB of the start
#   BL-END state=done|wait-inflate|wait-deflate
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
a0=$(kb MemAvailable)
echo "BL-MEM start avail_kb=$a0 total_kb=$(kb MemTotal)"
echo "BL-READY"
state=wait-inflate
i=0
while [ $i -lt 90 ] && [ "$state" != "done" ]; do
	a=$(kb MemAvailable)
	if [ "$state" = wait-inflate ] && [ $((a0 - a)) -ge 102400 ]; then
		echo "BL-INFLATED avail_kb=$a total_kb=$(kb MemTotal)"
		state=wait-deflate
	elif [ "$state" = wait-deflate ] && [ $((a0 - a)) -le 16384 ]; then
		echo "BL-DEFLATED avail_kb=$a total_kb=$(kb MemTotal)"
		state="done"
	fi
	sleep 1
	i=$((i + 1))
done
echo "BL-END state=$state"
