#!/bin/bash
# Memory zones on the host (a tiny PVH kernel, no Linux): two zones side by
# side really get their backing, lock=on shows in VmLck, host-node=0 in
# numa_maps, and the clear errors: a missing node, a short pool in the
# second zone (nothing of the first stays reserved), RLIMIT_MEMLOCK too
# small. Prints: BOOT-TEST <name> PASS|FAIL|SKIP [why]. Needs MICROVM.
set -u
: "${MICROVM:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-zones.XXXXXX")
# shellcheck source=scripts/hugepool.sh
. "$(dirname "$0")/../../scripts/hugepool.sh"
cleanup() {
	host_kill_all
	wait 2>/dev/null
	hugepool_restore
	rm -rf "$T"
}
trap cleanup EXIT

names="zones-backing zones-lock-hugetlb zones-lock-vmlck zones-lock-onfault zones-host-node zones-missing-node zones-short-pool-second zones-memlock-limit zones-lock-balloon"
# shellcheck source=tests/boot/host.sh
. "$(dirname "$0")/host.sh"
host_begin "$names"

fail() {
	result "$1" FAIL "$2"
	sed "s/^/  $1| /" "$T/$1.log" 2>/dev/null | tail -n 8
}


# --- two zones side by side: hugetlb and base, each really backed so ---
name=zones-backing
if ! hugepool_reserve huge 16 >/dev/null; then
	result "$name" SKIP "$hugepool_why"
else
	host_run $name --kernel "$K" --verbose --stats-json "$T/$name.json" \
		--mem-zone size=16M,pages=huge,prefault=on,id=fast \
		--mem-zone size=64M,prefault=on,id=lazy
	# The start report: region 0 at 0 on 16M hugetlb, region 1 at 16M
	# with 64M on 4K pages; the zone table and --stats-json per zone.
	r0=$(grep -m1 '^microvm:   0 ' "$T/$name.log")
	r1=$(grep -m1 '^microvm:   0x1000000 ' "$T/$name.log")
	z0=$(grep -m1 '^microvm:   fast ' "$T/$name.log")
	z1=$(grep -m1 '^microvm:   lazy ' "$T/$name.log")
	if [ $rc -eq 0 ] && echo "$r0" | grep -q ' huge .* 0 .* 0 .* 16M$' &&
		echo "$r1" | grep -q ' base .* 64M .* 0 .* 0$' &&
		echo "$z0" | grep -Eq ' 16M +huge +- +0 +0 +0 +16M +0$' &&
		echo "$z1" | grep -Eq ' 64M +base +- +0 +64M +0 +0 +0$' &&
		grep -q '"zones":\[{"id":"fast","ranges":\[{"gpa":0,"size":16777216}\],"bytes":16777216,"pages":"huge","host_node":null,"locked_bytes":0,"bytes_4k":0,"bytes_thp":0,"bytes_2m":16777216,"bytes_1g":0},{"id":"lazy","ranges":\[{"gpa":16777216,"size":67108864}\],"bytes":67108864,"pages":"base","host_node":null,"locked_bytes":0,"bytes_4k":67108864,' "$T/$name.json"; then
		result "$name" PASS "huge zone 16M hugetlb at 0, base zone 64M of 4K pages at 16M (report, zone table, stats JSON)"
	else
		fail "$name" "status $rc; rows: '$r0' / '$r1' / '$z0' / '$z1'; $(grep -o '"zones".*' "$T/$name.json" 2>&1 | head -c 600)"
	fi
fi

# --- lock=on on hugetlb: never swapped anyway, nothing locked, said so ---
name=zones-lock-hugetlb
if ! hugepool_reserve huge 16 >/dev/null; then
	result "$name" SKIP "$hugepool_why"
else
	host_run $name --kernel "$K" --verbose --stats-json "$T/$name.json" \
		--mem-zone size=16M,pages=huge,lock=on,prefault=on,id=h
	if [ $rc -eq 0 ] &&
		grep -q "microvm: --mem-zone id=h: hugetlb pages are never swapped: lock=on locks nothing" "$T/$name.log" &&
		grep -q '"locked_bytes":0,"bytes_4k":0,"bytes_thp":0,"bytes_2m":16777216,' "$T/$name.json"; then
		result "$name" PASS "said so, 16M on 2M pages, 0 locked"
	else
		fail "$name" "status $rc; $(grep -o '"zones".*' "$T/$name.json" 2>&1 | head -c 400)"
	fi
fi

# --- lock=on: populated and locked at start, VmLck shows it ---
name=zones-lock-vmlck
host_start $name --mem-zone size=64M,lock=on --stats-json "$T/$name.json"
lck=$(host_kib VmLck "/proc/$pid/status")
rss=$(host_kib VmRSS "/proc/$pid/status")
host_stop
if [ "${lck:-0}" -ge 65536 ] && [ "${rss:-0}" -ge 65536 ] &&
	grep -q '"locked_bytes":67108864,"bytes_4k":67108864,' "$T/$name.json"; then
	result "$name" PASS "VmLck $lck kB, VmRSS $rss kB for a 64M locked zone"
else
	fail "$name" "VmLck '${lck:-}' kB, VmRSS '${rss:-}' kB (want both >= 65536)"
fi

# --- lock=onfault: locked, but only what is touched is resident ---
name=zones-lock-onfault
host_start $name --mem-zone size=64M,lock=onfault
lck=$(host_kib VmLck "/proc/$pid/status")
rss=$(host_kib VmRSS "/proc/$pid/status")
host_stop
if [ "${lck:-0}" -ge 65536 ] && [ "${rss:-65536}" -lt 32768 ]; then
	result "$name" PASS "VmLck $lck kB, VmRSS $rss kB: locked on fault, not populated"
else
	fail "$name" "VmLck '${lck:-}' kB, VmRSS '${rss:-}' kB (want >= 65536 and < 32768)"
fi

# --- host-node=0: the zone's mapping is bound to node 0 ---
name=zones-host-node
if ! grep -qw 0 /sys/devices/system/node/has_memory 2>/dev/null &&
	! grep -q '^0' /sys/devices/system/node/has_memory 2>/dev/null; then
	result "$name" SKIP "no NUMA node 0 with memory in sysfs"
else
	host_start $name --mem-zone size=32M,host-node=0,prefault=on,id=n0 \
		--stats-json "$T/$name.json"
	bound=$(grep -c 'bind:0 ' "/proc/$pid/numa_maps")
	n0=$(grep 'bind:0 ' "/proc/$pid/numa_maps" | grep -o 'N0=[0-9]*' | head -1)
	host_stop
	if [ "${bound:-0}" -ge 1 ] && [ "${n0#N0=}" -ge 8192 ] 2>/dev/null &&
		grep -q '{"id":"n0",[^}]*}\],"bytes":33554432,"pages":"base","host_node":0,' "$T/$name.json"; then
		result "$name" PASS "numa_maps: bind:0, $n0 pages on node 0; host_node 0 in the stats"
	else
		fail "$name" "numa_maps bind:0 lines '${bound:-}', '${n0:-}'"
	fi
fi

# --- a node that does not exist: a clear error naming those that do ---
name=zones-missing-node
host_run $name --kernel "$K" --mem-zone size=32M,host-node=63,id=far
have=$(cat /sys/devices/system/node/has_memory 2>/dev/null)
if [ $rc -eq 1 ] && one_error $name &&
	grep -q "error: --mem-zone id=far: host-node=63 does not exist or has no memory; nodes with memory: ${have:-none}" "$T/$name.log"; then
	result "$name" PASS "exit 1, names the nodes with memory (${have:-none})"
else
	fail "$name" "status $rc"
fi

# --- a short pool in the second zone: an error, nothing reserved ---
name=zones-short-pool-second
if ! hugepool_reserve huge 4 >/dev/null; then
	result "$name" SKIP "$hugepool_why"
else
	d=/sys/kernel/mm/hugepages/hugepages-2048kB
	free=$(cat $d/free_hugepages)
	resv=$(cat $d/resv_hugepages)
	host_run $name --kernel "$K" --mem-zone size=2M,pages=huge,id=first \
		--mem-zone "size=$((free * 2))M,pages=huge,id=second"
	if [ $rc -eq 1 ] && one_error $name &&
		grep -q "error: --mem-zone id=second: hugepage pool too small: need $((free + 1)) 2M pages, $((free - resv)) free" "$T/$name.log" &&
		[ "$(cat $d/free_hugepages)" = "$free" ] &&
		[ "$(cat $d/resv_hugepages)" = "$resv" ]; then
		result "$name" PASS "exit 1 naming the second zone; pool still $free free, $resv reserved"
	else
		fail "$name" "status $rc, pool now $(cat $d/free_hugepages) free $(cat $d/resv_hugepages) reserved (was $free/$resv)"
	fi
fi

# --- RLIMIT_MEMLOCK too small, without CAP_IPC_LOCK: the fix is named ---
name=zones-memlock-limit
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && command -v prlimit >/dev/null; then
	timeout 20 prlimit --memlock=1048576:1048576 setpriv \
		--inh-caps=-ipc_lock --bounding-set=-ipc_lock \
		"$MICROVM" --kernel "$K" --mem-zone size=64M,lock=on \
		</dev/null >"$T/$name.log" 2>&1
	rc=$?
elif [ "$(id -u)" -ne 0 ]; then
	timeout 20 prlimit --memlock=1048576:1048576 \
		"$MICROVM" --kernel "$K" --mem-zone size=64M,lock=on \
		</dev/null >"$T/$name.log" 2>&1
	rc=$?
else
	rc=skip
fi
if [ "$rc" = skip ]; then
	result "$name" SKIP "needs setpriv and prlimit to drop CAP_IPC_LOCK as root"
elif [ "$rc" -eq 1 ] && one_error $name &&
	grep -q "locking 64M of guest memory needs RLIMIT_MEMLOCK of at least that, but it is 1M: raise it (ulimit -l" "$T/$name.log" &&
	grep -q "CAP_IPC_LOCK" "$T/$name.log"; then
	result "$name" PASS "exit 1 with ulimit -l / CAP_IPC_LOCK in the message"
else
	fail "$name" "status $rc"
fi

# --- a locked zone under the balloon: refused on the command line ---
name=zones-lock-balloon
host_run $name --kernel "$K" --mem-zone size=64M,lock=on,id=pinned --balloon
if [ $rc -eq 2 ] && one_error $name &&
	grep -q "id=pinned: lock= and --balloon contradict each other" "$T/$name.log"; then
	result "$name" PASS "exit 2, one line"
else
	fail "$name" "status $rc"
fi
