#!/bin/sh
# Memory hotplug (tests/boot/cases-hotplug.sh): the host asks for 512 MiB
# more through `mem set`; the guest sees MemTotal grow, a process uses more
# memory than the guest booted with (so it lands on plugged memory, there
# is no swap), then the host asks for 0 and MemTotal shrinks back.
#   HP-MEM start total_kb=N
#   HP-READY
#   HP-GREW total_kb=N          MemTotal up by >= 500 MiB (or timeout)
#   MEMHOG ...                  (from /bin/memhog)
#   HP-USED ok|fail
#   HP-SHRUNK total_kb=N        back within 16 MiB of the start (or timeout)
#   HP-END                      10 s later
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
t0=$(kb MemTotal)
echo "HP-MEM start total_kb=$t0"
echo "HP-READY"
i=0
while [ $i -lt 180 ] && [ $(($(kb MemTotal) - t0)) -lt 512000 ]; do
	sleep 1
	i=$((i + 1))
done
echo "HP-GREW total_kb=$(kb MemTotal)"
if memhog 400 3; then
	echo "HP-USED ok"
else
	echo "HP-USED fail"
fi
i=0
while [ $i -lt 180 ] && [ $(($(kb MemTotal) - t0)) -gt 16384 ]; do
	sleep 1
	i=$((i + 1))
done
echo "HP-SHRUNK total_kb=$(kb MemTotal)"
# The host reads mem stats and its RSS now: stay up a moment.
sleep 10
echo "HP-END"
