#!/bin/sh
# Memory zone boot cases: Linux on three zones of different policies sees
# the sum of their sizes; free page reporting returns memory in each zone
# the way its policy allows (whole 2M pages from a hugetlb zone, 4K pages
# from a base zone), read per zone from the control socket's balloon stats.
# Runs where KVM can boot Linux: on the host, or inside the nested L1
# (busybox sh there, so POSIX sh only). Prints one line per case:
#   BOOT-TEST <name> PASS|FAIL|SKIP [why]
# Needs: MICROVM VMLINUX INITRD (paths) and a writable TMPDIR.
: "${MICROVM:?}" "${VMLINUX:?}" "${INITRD:?}"
# Declare every case before any result (tests/boot/run checks them).
echo "BOOT-EXPECT zones-three-policies zones-reporting"
T=${TMPDIR:-/tmp}/microvm-zones.$$
mkdir -p "$T"
DEFAULT="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

result() {
	echo "BOOT-TEST $*"
}

fail() {
	fname=$1
	shift
	result "$fname" FAIL "$*"
	tail -n 20 "$T/$fname.log" | sed "s/^/  $fname| /"
}

# field NAME: the number called NAME in the JSON on stdin (the last one
# if there are several).
field() {
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1
}

# zone_field ID NAME: NAME of zone ID in a balloon stats reply on stdin:
# the text from that zone's id to its last key, bytes_1g.
zone_field() {
	sed -n "s/.*{\"id\":\"$1\",//p" | sed 's/,"bytes_1g".*//' | field "$2"
}

# Hugepage pools through scripts/hugepool.sh (HUGEPOOL_LIB), as the other
# case files do; restored at the end.
# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"

# --- three zones, three policies: the guest sees their sum ---
name=zones-three-policies
if ! hugepool_reserve huge 64; then
	result "$name" SKIP "$hugepool_why"
else
	timeout 180 "$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" \
		--boot-timer --verbose \
		--mem-zone size=64M,pages=huge,prefault=on,id=fast \
		--mem-zone size=64M,pages=thp,id=mid \
		--mem-zone size=128M,id=lazy \
		</dev/null >"$T/$name.log" 2>&1
	rc=$?
	kb=$(sed -n 's/.*MICROVM-INIT mem_kb=\([0-9]*\).*/\1/p' "$T/$name.log")
	fast=$(grep -m1 '^microvm:   fast ' "$T/$name.log")
	if [ $rc -ne 0 ] || ! grep -qF "MICROVM-INIT done" "$T/$name.log"; then
		fail "$name" "exit status $rc: $(grep 'microvm: error' "$T/$name.log" | tail -n 1)"
	elif [ "${kb:-0}" -le $((256 * 1024 - 40 * 1024)) ] || [ "$kb" -gt $((256 * 1024)) ]; then
		fail "$name" "MemTotal ${kb:-none} kB for zones of 64M + 64M + 128M"
	elif ! echo "$fast" | grep -q ' 64M  *huge '; then
		fail "$name" "no zone table row for the hugetlb zone: '$fast'"
	else
		result "$name" PASS "MemTotal $kb kB of 256M in three zones (huge, thp, base); $(echo "$fast" | sed 's/^microvm: *//')"
	fi
fi

# --- free page reporting per zone: a base zone and a hugetlb zone ---
name=zones-reporting
if ! hugepool_reserve huge 384; then
	result "$name" SKIP "$hugepool_why"
else
	sock=$T/$name.sock
	log=$T/$name.log
	: >"$log"
	"$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" \
		--control-socket "$sock" --balloon=reporting \
		--cmdline "$DEFAULT mvrun=bl-report" \
		--mem-zone size=128M,id=lo \
		--mem-zone size=384M,pages=huge,id=hi \
		</dev/null >"$log" 2>&1 &
	pid=$!
	n=0
	while [ $n -lt 720 ] && ! grep -qF "MEMHOG touched" "$log" &&
		kill -0 $pid 2>/dev/null; do
		usleep 250000
		n=$((n + 1))
	done
	peak=$("$MICROVM" ctl "$sock" balloon stats 2>&1)
	n=0
	while [ $n -lt 240 ] && ! grep -qF "BL-STAGE freed" "$log" &&
		kill -0 $pid 2>/dev/null; do
		usleep 250000
		n=$((n + 1))
	done
	# The guest holds its memory freed for 20 s: watch it come back.
	n=0
	while [ $n -lt 18 ] && kill -0 $pid 2>/dev/null; do
		sleep 1
		n=$((n + 1))
	done
	after=$("$MICROVM" ctl "$sock" balloon stats 2>&1)
	n=0
	while [ $n -lt 240 ] && kill -0 $pid 2>/dev/null; do
		usleep 250000
		n=$((n + 1))
	done
	kill -9 $pid 2>/dev/null
	wait $pid
	rc=$?
	lo_peak=$(echo "$peak" | zone_field lo bytes_4k)
	lo_after=$(echo "$after" | zone_field lo bytes_4k)
	hi_peak=$(echo "$peak" | zone_field hi bytes_2m)
	hi_after=$(echo "$after" | zone_field hi bytes_2m)
	r4=$(echo "$after" | field returned_4k)
	r2=$(echo "$after" | field returned_2m)
	lo_got=$(( ${lo_peak:-0} - ${lo_after:-0} ))
	hi_got=$(( ${hi_peak:-0} - ${hi_after:-0} ))
	mib=$(( (lo_got + hi_got) >> 20 ))
	if [ $rc -ne 0 ] || ! grep -qF "BL-REALLOC ok" "$log"; then
		fail "$name" "exit status $rc or no BL-REALLOC ok; stats: $(echo "$after" | head -c 300)"
	elif [ -z "$lo_peak" ] || [ -z "$hi_peak" ]; then
		fail "$name" "no per-zone figures in balloon stats: $(echo "$peak" | head -c 300)"
	elif [ "${r2:-0}" -eq 0 ] || [ "$hi_got" -lt $((2 << 20)) ]; then
		fail "$name" "the hugetlb zone returned nothing (2M on it: $hi_peak -> $hi_after, returned_2m ${r2:-none})"
	elif [ $mib -lt 128 ]; then
		fail "$name" "only $mib MiB of the 256 MiB freed came back (lo 4K $lo_peak -> $lo_after, hi 2M $hi_peak -> $hi_after)"
	else
		result "$name" PASS "$mib MiB back: hugetlb zone $((hi_got >> 20)) MiB in 2M pages (returned_2m $((r2 >> 20)) MiB), base zone $((lo_got >> 20)) MiB in 4K pages (returned_4k $((${r4:-0} >> 20)) MiB)"
	fi
fi
hugepool_restore
rm -rf "$T"
