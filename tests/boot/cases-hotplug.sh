#!/bin/sh
# Memory hotplug boot cases (--mem-hotplug, virtio-mem): `mem set` grows the
# guest's MemTotal and a process can use the memory; shrinking gives it back
# to the host (RSS drops); with a hugetlb pool smaller than the request the
# guest stays healthy, `mem stats` shows the BUSY answers, and the pool gets
# its pages back when the guest unplugs; with a pool big enough, plugging
# 128 MiB of 2M pages and unplugging it puts every page back in the pool
# (free_hugepages as before the plug). Runs where KVM can boot Linux: on
# the host, or inside the nested L1 (busybox sh there, so POSIX sh only).
# Prints one line per case:
#   BOOT-TEST <name> PASS|FAIL|SKIP [why]
# Needs: MICROVM VMLINUX INITRD (paths), HUGEPOOL_LIB, a writable TMPDIR.
: "${MICROVM:?}" "${VMLINUX:?}" "${INITRD:?}"
# Declare every case before any result (tests/boot/run checks them).
echo "BOOT-EXPECT hotplug-grow-use-shrink hotplug-short-pool hotplug-huge-returned"
T=${TMPDIR:-/tmp}/microvm-hotplug.$$
mkdir -p "$T"
DEFAULT="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd memhp_default_state=online_movable"
HPFREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages

# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"

result() {
	echo "BOOT-TEST $*"
}

fail() {
	fname=$1
	shift
	result "$fname" FAIL "$*"
	tail -n 20 "$VM_LOG" | sed "s/^/  $fname| /"
}

# vm_start NAME GUEST-SCRIPT MICROVM-ARGS...: boot in the background with a
# control socket; sets VM_PID, VM_LOG, VM_SOCK.
vm_start() {
	name=$1
	script=$2
	shift 2
	VM_LOG=$T/$name.log
	VM_SOCK=$T/$name.sock
	rm -f "$VM_SOCK"
	: >"$VM_LOG"
	"$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" \
		--control-socket "$VM_SOCK" --verbose \
		--cmdline "$DEFAULT mvrun=$script" "$@" </dev/null >"$VM_LOG" 2>&1 &
	VM_PID=$!
}

# wait_for STRING SECONDS: 0 once STRING is in the log; 1 on timeout or
# when the VM exited without printing it.
wait_for() {
	n=0
	while [ $n -lt $(($2 * 4)) ]; do
		grep -qF -- "$1" "$VM_LOG" && return 0
		if ! kill -0 "$VM_PID" 2>/dev/null; then
			grep -qF -- "$1" "$VM_LOG"
			return $?
		fi
		usleep 250000
		n=$((n + 1))
	done
	return 1
}

# vm_finish SECONDS: wait for the VM to exit, kill it after SECONDS; sets
# VM_RC.
vm_finish() {
	n=0
	while kill -0 "$VM_PID" 2>/dev/null && [ $n -lt $(($1 * 4)) ]; do
		usleep 250000
		n=$((n + 1))
	done
	if kill -0 "$VM_PID" 2>/dev/null; then
		kill "$VM_PID" 2>/dev/null
		sleep 1
		kill -9 "$VM_PID" 2>/dev/null
	fi
	wait "$VM_PID"
	VM_RC=$?
}

ctl() {
	"$MICROVM" ctl "$VM_SOCK" "$@" 2>&1
}

# field NAME: a number from the JSON reply on stdin.
field() {
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1
}

rss_kb() {
	awk '$1 == "Rss:" {print $2}' "/proc/$VM_PID/smaps_rollup" 2>/dev/null
}

# --- grow by 512 MiB, use it, shrink back: base pages ---
name=hotplug-grow-use-shrink
vm_start "$name" hp-grow --mem 256M --mem-hotplug size=1G
if ! wait_for "HP-READY" 240; then
	fail "$name" "the guest never got ready"
	vm_finish 5
else
	r1=$(ctl mem set 512)
	wait_for "HP-GREW" 240
	wait_for "HP-USED" 240
	s1=$(ctl mem stats)
	rss1=$(rss_kb)
	r2=$(ctl mem set 0)
	wait_for "HP-SHRUNK" 240
	s2=$(ctl mem stats)
	rss2=$(rss_kb)
	vm_finish 60
	t0=$(sed -n 's/.*HP-MEM start total_kb=\([0-9]*\).*/\1/p' "$VM_LOG")
	t1=$(sed -n 's/.*HP-GREW total_kb=\([0-9]*\).*/\1/p' "$VM_LOG")
	t2=$(sed -n 's/.*HP-SHRUNK total_kb=\([0-9]*\).*/\1/p' "$VM_LOG")
	p1=$(echo "$s1" | field plugged_mib)
	p2=$(echo "$s2" | field plugged_mib)
	ret=$(echo "$s2" | field returned_bytes)
	if [ "$VM_RC" -ne 0 ] || [ "$r1" != '{"ok":true}' ] || [ "$r2" != '{"ok":true}' ]; then
		fail "$name" "exit status $VM_RC; mem set answered '$r1' / '$r2'"
	elif [ -z "$t0" ] || [ -z "$t1" ] || [ $((t1 - t0)) -lt 512000 ]; then
		fail "$name" "MemTotal did not grow by 500 MiB: ${t0:-?} -> ${t1:-?} kB; stats $s1"
	elif ! grep -qF "HP-USED ok" "$VM_LOG" || grep -qF "MEMHOG FAIL" "$VM_LOG"; then
		fail "$name" "a 400 MiB process on a 256 MiB guest with 512 MiB plugged failed"
	elif [ "${p1:-0}" -ne 512 ] || [ "${p2:-1}" -ne 0 ]; then
		fail "$name" "plugged ${p1:-?} MiB then ${p2:-?} MiB (want 512, 0)"
	elif [ -z "$t2" ] || [ $((t2 - t0)) -gt 16384 ]; then
		fail "$name" "MemTotal did not shrink back: ${t0} -> ${t1} -> ${t2:-?} kB"
	elif [ -z "$rss1" ] || [ -z "$rss2" ] || [ $((rss1 - rss2)) -lt 307200 ]; then
		fail "$name" "host RSS did not drop by 300 MiB after unplugging: ${rss1:-?} -> ${rss2:-?} kB (returned ${ret:-?} bytes)"
	else
		result "$name" PASS "MemTotal $t0 -> $t1 -> $t2 kB; 400 MiB process ran; host RSS $rss1 -> $rss2 kB after mem set 0 (returned $((${ret:-0} >> 20)) MiB)"
	fi
fi

# --- a hugetlb pool smaller than the request: BUSY, guest healthy ---
name=hotplug-short-pool
if ! hugepool_reserve huge 64; then
	result "$name" SKIP "$hugepool_why"
else
	free0=$(cat $HPFREE)
	want=$(((free0 * 2 + 256) / 2 * 2))
	if [ "$want" -gt 1024 ]; then
		result "$name" SKIP "the hugetlb pool has $free0 free 2M pages: too many to run short in a 1G zone"
	else
		vm_start "$name" hp-idle --mem 256M --mem-hotplug size=1G,pages=huge
		if ! wait_for "HP-READY" 240; then
			fail "$name" "the guest never got ready"
			vm_finish 5
		else
			r1=$(ctl mem set "$want")
			n=0
			busy=0
			while [ $n -lt 120 ] && [ "${busy:-0}" -eq 0 ]; do
				busy=$(ctl mem stats | field busy_pool)
				sleep 1
				n=$((n + 1))
			done
			s1=$(ctl mem stats)
			# While the guest still runs (it sleeps 40 s): back to 0,
			# and the pool gets back whatever was plugged.
			ctl mem set 0 >/dev/null
			n=0
			p2=1
			while [ $n -lt 30 ] && [ "${p2:-1}" -ne 0 ]; do
				p2=$(ctl mem stats | field plugged_mib)
				sleep 1
				n=$((n + 1))
			done
			free2=$(cat $HPFREE)
			wait_for "HP-END" 240
			vm_finish 60
			p1=$(echo "$s1" | field plugged_mib)
			if [ "$VM_RC" -ne 0 ] || [ "$r1" != '{"ok":true}' ]; then
				fail "$name" "exit status $VM_RC; mem set $want answered '$r1'"
			elif ! grep -qF "HP-ALIVE" "$VM_LOG"; then
				fail "$name" "the guest was not healthy while the host answered BUSY"
			elif [ "${busy:-0}" -lt 1 ]; then
				fail "$name" "no BUSY answer counted for $want MiB with $free0 free 2M pages: $s1"
			elif [ "${p1:-0}" -gt $((free0 * 2)) ]; then
				fail "$name" "plugged ${p1} MiB, more than the pool's $((free0 * 2)) MiB"
			elif [ "${p2:-1}" -ne 0 ] || [ "$free2" -ne "$free0" ]; then
				fail "$name" "after mem set 0: plugged ${p2:-?} MiB, pool free $free0 -> $free2 pages"
			else
				result "$name" PASS "asked $want MiB with $free0 free 2M pages: plugged $p1 MiB, busy_pool $busy, guest healthy; after mem set 0 the pool is back to $free2 free"
			fi
		fi
	fi
fi
# --- a hugetlb pool big enough: plug 128 MiB (the guest's memory block),
# unplug it, and the pool has every page back ---
name=hotplug-huge-returned
if ! hugepool_reserve huge 256; then
	result "$name" SKIP "$hugepool_why"
else
	vm_start "$name" hp-idle --mem 256M --mem-hotplug size=512M,pages=huge \
		--cmdline-append mvtest.idle_s=90
	if ! wait_for "HP-READY" 240; then
		fail "$name" "the guest never got ready"
		vm_finish 5
	else
		free0=$(cat $HPFREE)
		r1=$(ctl mem set 128)
		n=0
		p1=0
		while [ $n -lt 60 ] && [ "${p1:-0}" -ne 128 ]; do
			sleep 1
			p1=$(ctl mem stats | field plugged_mib)
			n=$((n + 1))
		done
		free1=$(cat $HPFREE)
		r2=$(ctl mem set 0)
		n=0
		p2=1
		while [ $n -lt 60 ] && [ "${p2:-1}" -ne 0 ]; do
			sleep 1
			p2=$(ctl mem stats | field plugged_mib)
			n=$((n + 1))
		done
		free2=$(cat $HPFREE)
		s2=$(ctl mem stats)
		ret2m=$(echo "$s2" | field returned_2m)
		wait_for "HP-END" 240
		vm_finish 60
		if [ "$VM_RC" -ne 0 ] || [ "$r1" != '{"ok":true}' ] || [ "$r2" != '{"ok":true}' ]; then
			fail "$name" "exit status $VM_RC; mem set answered '$r1' / '$r2'"
		elif [ "${p1:-0}" -ne 128 ] || [ $((free0 - free1)) -ne 64 ]; then
			fail "$name" "after mem set 128: plugged ${p1:-?} MiB, free 2M pages $free0 -> $free1 (want 128 MiB, 64 pages taken)"
		elif [ "${p2:-1}" -ne 0 ] || [ "$free2" -ne "$free0" ]; then
			fail "$name" "after mem set 0: plugged ${p2:-?} MiB, free 2M pages $free0 -> $free1 -> $free2 (want all back): $s2"
		elif [ "${ret2m:-0}" -ne 134217728 ]; then
			fail "$name" "returned_2m ${ret2m:-?} bytes, want 128 MiB: $s2"
		elif ! grep -qF "HP-ALIVE" "$VM_LOG"; then
			fail "$name" "the guest was not healthy after the unplug"
		else
			result "$name" PASS "free 2M pages $free0 -> $free1 with 128 MiB plugged -> $free2 after mem set 0 (returned_2m 128 MiB), guest healthy"
		fi
	fi
fi
hugepool_restore
rm -rf "$T"
