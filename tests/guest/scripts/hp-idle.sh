#!/bin/sh
# Memory hotplug with a short hugetlb pool (tests/boot/cases-hotplug.sh):
# the guest only reports, while the host asks for more than the pool holds;
# the guest must stay healthy (it keeps running this script and allocating).
#   HP-MEM start total_kb=N
#   HP-READY
#   HP-ALIVE total_kb=N         after 40 s (mvtest.idle_s=N: N s), and a
#                               64 MiB allocation
#   HP-END
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
idle=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mvtest\.idle_s=//p')
echo "HP-MEM start total_kb=$(kb MemTotal)"
echo "HP-READY"
sleep "${idle:-40}"
if memhog 64 >/dev/null; then
	echo "HP-ALIVE total_kb=$(kb MemTotal)"
fi
echo "HP-END"
