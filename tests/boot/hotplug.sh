#!/bin/bash
# --mem-hotplug on the host (a tiny PVH kernel, no Linux, so no driver
# plugs anything): the VMM maps the hotplug region above RAM without
# reserving or populating it (hugetlb pool and RSS unchanged), serves
# `mem stats` and `mem set` on the control socket with the layout the
# guest sees, refuses bad values with one line, and prints the virtio-mem
# line in the --verbose exit report. Prints: BOOT-TEST <name> PASS|FAIL|SKIP
# [why]. Needs MICROVM.
set -u
: "${MICROVM:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-hotplug.XXXXXX")
# shellcheck source=scripts/hugepool.sh
. "$(dirname "$0")/../../scripts/hugepool.sh"
cleanup() {
	host_kill_all
	wait 2>/dev/null
	hugepool_restore
	rm -rf "$T"
}
trap cleanup EXIT

# shellcheck source=tests/boot/host.sh
. "$(dirname "$0")/host.sh"

names="hotplug-bad-options hotplug-ctl-usage hotplug-huge-noreserve hotplug-base-unpopulated"
echo "BOOT-EXPECT $names"

# --- bad values: exit 2, one line, before anything is acquired ---
name=hotplug-bad-options
bad=""
for spec in "size=100M" "size=1G,plugged=3M" "size=1536M,pages=huge1g" \
	"size=1G,pages=giant" "plugged=128M" "size=1G,plugged=2G"; do
	out=$(timeout 20 "$MICROVM" --kernel /nonexistent --mem-hotplug "$spec" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 2 ] || [ "$(printf '%s\n' "$out" | grep -c 'microvm: error: --mem-hotplug')" -ne 1 ]; then
		bad="$bad [$spec: status $rc: $out]"
	fi
done
out=$(timeout 20 "$MICROVM" --kernel /nonexistent --mem-hotplug size=1G --mem-hotplug size=1G </dev/null 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 2 ] || ! printf '%s' "$out" | grep -q "given twice"; then
	bad="$bad [twice: status $rc: $out]"
fi
if [ -z "$bad" ]; then
	result "$name" PASS "7 bad values, each exit 2 with one --mem-hotplug line"
else
	result "$name" FAIL "$bad"
fi

# --- ctl usage: 2 before connecting ---
name=hotplug-ctl-usage
bad=""
for req in "mem set lots" "mem set" "mem stat" "mem set 1 2"; do
	# shellcheck disable=SC2086 # the request is words
	timeout 20 "$MICROVM" ctl "$T/none.sock" $req >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || bad="$bad [$req: $rc]"
done
if [ -z "$bad" ]; then
	result "$name" PASS "4 malformed mem requests, exit 2"
else
	result "$name" FAIL "$bad"
fi

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	for c in hotplug-huge-noreserve hotplug-base-unpopulated; do
		result "$c" SKIP "/dev/kvm is not usable here"
	done
	exit 0
fi
if ! why=$(sh "$(dirname "$0")/../tiny/build.sh" "$T" 2>&1); then
	for c in hotplug-huge-noreserve hotplug-base-unpopulated; do
		result "$c" SKIP "$why"
	done
	exit 0
fi
KHANG=$T/tiny1.elf

# --- hugetlb hotplug zone of 1G with a pool of 8M: nothing reserved ---
name=hotplug-huge-noreserve
if ! hugepool_reserve huge 8 >/dev/null; then
	result "$name" SKIP "$hugepool_why"
else
	free0=$(sed -n 's/^HugePages_Free:[[:space:]]*//p' /proc/meminfo)
	rsvd0=$(sed -n 's/^HugePages_Rsvd:[[:space:]]*//p' /proc/meminfo)
	S=$T/$name.sock
	host_start $name --mem 256M --verbose --control-socket "$S" \
		--mem-hotplug size=1G,pages=huge,plugged=128M,id=hp
	rsvd1=$(sed -n 's/^HugePages_Rsvd:[[:space:]]*//p' /proc/meminfo)
	st1=$("$MICROVM" ctl "$S" mem stats 2>&1)
	"$MICROVM" ctl "$S" mem set 512 >/dev/null 2>&1
	set_rc=$?
	odd=$("$MICROVM" ctl "$S" mem set 3 2>&1)
	odd_rc=$?
	big=$("$MICROVM" ctl "$S" mem set 2048 2>&1)
	big_rc=$?
	st2=$("$MICROVM" ctl "$S" mem stats 2>&1)
	host_stop
	# RAM ends at 256M: the region starts there (128M aligned), 1G.
	if printf '%s' "$st1" | grep -q '"requested_mib":128,"plugged_mib":0,"driver_ok":false,"region_addr":268435456,"region_mib":1024,"usable_mib":1024,"block_bytes":2097152,"page_bytes":2097152,' &&
		[ "$set_rc" -eq 0 ] && printf '%s' "$st2" | grep -q '"requested_mib":512,' &&
		[ "$odd_rc" -eq 1 ] && printf '%s' "$odd" | grep -q "not a multiple of the 2 MiB block" &&
		[ "$big_rc" -eq 1 ] && printf '%s' "$big" | grep -q "more than the hotplug region (1024 MiB)" &&
		[ "$rsvd1" = "$rsvd0" ] &&
		grep -q "virtio_mmio.device=4K@0xc0001000:5" "$T/$name.log" &&
		grep -q "virtio-mem: requested 512 MiB, plugged 0 MiB of 1024 MiB in 2048 KiB blocks" "$T/$name.log"; then
		result "$name" PASS "1G huge zone at 256M with $free0 free 2M pages: none reserved (Rsvd $rsvd0 -> $rsvd1), mem stats/set, exit report"
	else
		result "$name" FAIL "stats1 '$st1' set=$set_rc odd=$odd_rc '$odd' big=$big_rc '$big' stats2 '$st2' rsvd $rsvd0 -> $rsvd1"
		sed "s/^/  $name| /" "$T/$name.log" | tail -n 8
	fi
fi

# --- base hotplug zone of 4G: mapped, not populated (RSS stays small) ---
name=hotplug-base-unpopulated
host_start $name --mem 128M --mem-hotplug size=4G
rss=$(host_kib VmRSS "/proc/$pid/status")
host_stop
if [ -n "${rss:-}" ] && [ "$rss" -lt 524288 ]; then
	result "$name" PASS "VmRSS $rss kB with a 4G hotplug zone"
else
	result "$name" FAIL "VmRSS '${rss:-}' kB (want < 512 MiB)"
	sed "s/^/  $name| /" "$T/$name.log" | tail -n 8
fi
