#!/bin/sh
# Prints the guest's view of memory for the page-size and balloon tests:
#   MICROVM-MEM <meminfo key>=<value in kB or pages>
#   MICROVM-MEM thp=<transparent_hugepage/enabled>
for k in MemTotal MemFree MemAvailable AnonHugePages HugePages_Total HugePages_Free Hugepagesize; do
	v=$(awk -v k="$k:" '$1 == k {print $2}' /proc/meminfo)
	echo "MICROVM-MEM $k=${v:-none}"
done
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ -r "$thp" ]; then
	echo "MICROVM-MEM thp=$(cat "$thp")"
else
	echo "MICROVM-MEM thp=none"
fi
