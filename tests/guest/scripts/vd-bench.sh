#!/bin/sh
# Sequential throughput of /dev/vda for scripts/bench-io: mvtest.runs=N runs
# of a write (dd from /dev/zero, bs=1M, conv=fsync) and a read (dd to
# /dev/null, bs=1M, after dropping the guest's page cache) of mvtest.mib=M MiB.
#   MICROVM-BENCH <write|read> run=<i> bytes=<n> us=<elapsed microseconds>
#   MICROVM-BENCH error <what failed>

# arg NAME: the value of mvtest.NAME= on the kernel command line.
arg() {
	tr ' ' '\n' </proc/cmdline | sed -n "s/^mvtest\.$1=//p"
}

# now_us: wall-clock microseconds (busybox date has no sub-second format).
now_us() {
	adjtimex | awk '/tv_sec/ {s = $2} /tv_usec/ {u = $2} END {if (u >= 1000000) u = int(u / 1000); printf "%d%06d\n", s, u}'
}

runs=$(arg runs)
mib=$(arg mib)
if [ -z "$runs" ] || [ -z "$mib" ]; then
	echo "MICROVM-BENCH error no mvtest.runs= or mvtest.mib="
	exit 1
fi
[ -b /dev/vda ] || { echo "MICROVM-BENCH error no /dev/vda"; exit 1; }
bytes=$((mib * 1048576))
i=1
while [ "$i" -le "$runs" ]; do
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now_us)
	dd if=/dev/zero of=/dev/vda bs=1M count="$mib" conv=fsync 2>/dev/null ||
		echo "MICROVM-BENCH error write run $i"
	t1=$(now_us)
	echo "MICROVM-BENCH write run=$i bytes=$bytes us=$((t1 - t0))"
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now_us)
	dd if=/dev/vda of=/dev/null bs=1M count="$mib" 2>/dev/null ||
		echo "MICROVM-BENCH error read run $i"
	t1=$(now_us)
	echo "MICROVM-BENCH read run=$i bytes=$bytes us=$((t1 - t0))"
	i=$((i + 1))
done
