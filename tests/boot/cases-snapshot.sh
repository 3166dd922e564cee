#!/bin/sh
# Snapshot boot cases: a Linux guest with 2 vCPUs and a raw disk runs
# tests/guest/scripts/counter.sh (a tick every 0.2 s, a 32 MiB memory
# pattern, a token written to the disk); the host pauses it, snapshots it
# over the control socket, kills it, and restores it in a new process,
# lazily and by copy, per page policy: the ticks go on from where they
# were (not from 1), the memory pattern is intact, the token is on the
# disk. Then, on base pages and lazily: with a TAP device, the host pings
# the guest before the snapshot and again after the restore (the TAP is
# made again by name); with the balloon, the restored guest's driver
# inflates it to 64 MiB and deflates it again on the host's request, and
# its memory pattern stays intact; with --mem-hotplug, memory the guest
# plugged before the snapshot is still plugged after the restore, and the
# guest's virtio-mem driver unplugs it on request. Runs where KVM can boot Linux: on the
# host, or inside the nested L1 (busybox sh there, so POSIX sh only). Prints one line per case:
#   BOOT-TEST <name> PASS|FAIL|SKIP [why]
# Needs: MICROVM VMLINUX INITRD (paths) and a writable TMPDIR. Optional:
# SNAPSHOT_POLICIES (default "base thp huge").
: "${MICROVM:?}" "${VMLINUX:?}" "${INITRD:?}"
T=${TMPDIR:-/tmp}/microvm-snapshot.$$
mkdir -p "$T"
DEFAULT="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
POLICIES=${SNAPSHOT_POLICIES:-base thp huge}

expect=
for p in $POLICIES; do
	expect="$expect snapshot-$p-lazy snapshot-$p-copy"
done
echo "BOOT-EXPECT$expect snapshot-net-tap snapshot-balloon snapshot-mem-hotplug"

result() {
	echo "BOOT-TEST $*"
}

# wait_for LOG PID STRING SECONDS: 0 once STRING is in LOG; 1 on timeout or
# when PID exited without printing it.
wait_for() {
	n=0
	while [ $n -lt $(($4 * 4)) ]; do
		grep -qF -- "$3" "$1" && return 0
		kill -0 "$2" 2>/dev/null || {
			grep -qF -- "$3" "$1"
			return $?
		}
		usleep 250000
		n=$((n + 1))
	done
	return 1
}

# ticks LOG: the last CTR-TICK count, or 0.
last_tick() {
	n=$(grep -a '^CTR-TICK ' "$1" | tail -n 1 | tr -cd '0-9 ' | awk '{print $1}')
	echo "${n:-0}"
}

first_tick() {
	n=$(grep -a '^CTR-TICK ' "$1" | head -n 1 | tr -cd '0-9 ' | awk '{print $1}')
	echo "${n:-0}"
}

kill_wait() {
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

fail() {
	fname=$1 flog=$2
	shift 2
	result "$fname" FAIL "$*"
	tail -n 12 "$flog" | sed "s/^/  $fname| /"
}

# One boot per policy: snapshot it paused, then restore it lazily and by
# copy, each in a new process after the original is gone.
case_policy() {
	pol=$1
	base=snapshot-$pol
	if [ "$pol" = huge ] && ! hugepool_reserve huge 1024; then
		result "$base-lazy" SKIP "$hugepool_why"
		result "$base-copy" SKIP "$hugepool_why"
		return
	fi
	log=$T/$pol.log
	sock=$T/$pol.sock
	disk=$T/$pol.disk
	dd if=/dev/zero of="$disk" bs=1M count=16 2>/dev/null
	: >"$log"
	"$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --cpus 2 \
		--pages "$pol" --disk "$disk" --control-socket "$sock" \
		--cmdline "$DEFAULT mvrun=counter mvtest.token=$pol$$" \
		</dev/null >"$log" 2>&1 &
	pid=$!
	if ! wait_for "$log" "$pid" "CTR-TICK 5" 300; then
		fail "$base-lazy" "$log" "the guest never counted to 5"
		result "$base-copy" SKIP "no snapshot (the guest did not count)"
		kill_wait "$pid"
		return
	fi
	"$MICROVM" ctl "$sock" pause >"$T/$pol.ctl" 2>&1
	sleep 1
	paused=$(last_tick "$log")
	"$MICROVM" ctl "$sock" snapshot "$T/$pol.snap" >>"$T/$pol.ctl" 2>&1
	src=$?
	kill_wait "$pid"
	if [ $src -ne 0 ]; then
		fail "$base-lazy" "$T/$pol.ctl" "snapshot failed"
		result "$base-copy" SKIP "no snapshot"
		return
	fi
	for mode in lazy copy; do
		name=$base-$mode
		rlog=$T/$pol.$mode.log
		: >"$rlog"
		"$MICROVM" --restore "$T/$pol.snap" --restore-mode "$mode" \
			</dev/null >"$rlog" 2>&1 &
		rpid=$!
		# Two checks after the restore: the pattern and the disk.
		want=$(((paused / 10 + 2) * 10))
		wait_for "$rlog" "$rpid" "CTR-CHECK $want " 300
		first=$(first_tick "$rlog")
		check=$(grep -a "^CTR-CHECK $want " "$rlog" | head -n 1 | tr -d '\r')
		kill_wait "$rpid"
		if [ "$first" -lt "$paused" ] || [ "$first" -gt $((paused + 2)) ]; then
			fail "$name" "$rlog" "paused at tick $paused, the restored guest's first tick is $first"
		elif ! grep -aq '^CTR-READY sum=[0-9a-f]' "$log"; then
			fail "$name" "$log" "the guest could not write its memory pattern"
		elif [ -z "$check" ]; then
			fail "$name" "$rlog" "no CTR-CHECK $want after the restore"
		else
			case "$check" in
			*" mem=ok disk=CTR-DISK-$pol$$")
				result "$name" PASS "paused at $paused, went on at $first; $check" ;;
			*) fail "$name" "$rlog" "after the restore: $check" ;;
			esac
		fi
	done
}

# snap_boot NAME ARGS...: boot the counting guest (base pages, 256M, a
# control socket $T/NAME.sock, log $T/NAME.log) with ARGS; pid in bpid.
snap_boot() {
	bname=$1
	shift
	: >"$T/$bname.log"
	"$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" --mem 256M \
		--control-socket "$T/$bname.sock" "$@" </dev/null >"$T/$bname.log" 2>&1 &
	bpid=$!
}

# snap_take NAME: pause, snapshot to $T/NAME.snap, kill; paused gets the
# last tick. 0 on success.
snap_take() {
	"$MICROVM" ctl "$T/$1.sock" pause >"$T/$1.ctl" 2>&1
	sleep 1
	paused=$(last_tick "$T/$1.log")
	"$MICROVM" ctl "$T/$1.sock" snapshot "$T/$1.snap" >>"$T/$1.ctl" 2>&1
	st=$?
	kill_wait "$bpid"
	return $st
}

# tap_up TAP: once microvm made TAP (up to 10 s), the host end 10.0.3.1/24.
tap_up() {
	n=0
	while [ $n -lt 100 ] && [ ! -e "/sys/class/net/$1" ]; do
		usleep 100000
		n=$((n + 1))
	done
	ip addr add 10.0.3.1/24 dev "$1" 2>/dev/null
	ip link set "$1" up 2>/dev/null
}

# A TAP device: the host pings the guest before the snapshot and after
# the restore, which opens the TAP again by name.
case_net() {
	name=snapshot-net-tap
	tap=mvtap1
	if ! grep -qw tun /proc/misc 2>/dev/null && [ -r "${TUN_KO:-}" ]; then
		insmod "$TUN_KO" || echo "cases-snapshot: insmod $TUN_KO failed" >&2
	fi
	if [ "$(id -u)" != 0 ]; then
		result $name SKIP "needs root to create and configure the TAP $tap"
		return
	elif ! grep -qw tun /proc/misc 2>/dev/null; then
		result $name SKIP "no TUN/TAP driver in this kernel (/proc/misc lists no tun)"
		return
	fi
	[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; }
	snap_boot net --net "tap=$tap,mac=52:54:00:12:34:57" \
		--cmdline "$DEFAULT mvrun=counter mvtest.pattern_mib=8 mvtest.ip=10.0.3.2"
	tap_up $tap
	if ! wait_for "$T/net.log" "$bpid" "CTR-TICK 5" 300; then
		fail $name "$T/net.log" "the guest never counted to 5"
		kill_wait "$bpid"
		return
	fi
	if ! before=$(ping -c 2 -W 3 10.0.3.2 2>&1); then
		fail $name "$T/net.log" "no ping before the snapshot: $(echo "$before" | tail -n 1)"
		kill_wait "$bpid"
		return
	fi
	if ! snap_take net; then
		fail $name "$T/net.ctl" "snapshot failed"
		return
	fi
	rlog=$T/net.r.log
	"$MICROVM" --restore "$T/net.snap" </dev/null >"$rlog" 2>&1 &
	rpid=$!
	tap_up $tap
	wait_for "$rlog" "$rpid" "CTR-TICK $((paused + 2))" 300
	after=$(ping -c 3 -W 3 10.0.3.2 2>&1)
	prc=$?
	first=$(first_tick "$rlog")
	kill_wait "$rpid"
	if [ "$first" -lt "$paused" ] || [ "$first" -gt $((paused + 2)) ]; then
		fail $name "$rlog" "paused at tick $paused, the restored guest's first tick is $first"
	elif [ $prc -ne 0 ]; then
		fail $name "$rlog" "no ping after the restore: $(echo "$after" | tail -n 2 | tr '\n' ' ')"
	else
		result $name PASS "ping before and after the restore (went on at $first): $(echo "$after" | grep 'packet loss')"
	fi
}

# actual MiB of the balloon, from its stats over SOCK.
balloon_actual() {
	"$MICROVM" ctl "$1" balloon stats 2>/dev/null |
		sed -n 's/.*"actual_mib":\([0-9]*\).*/\1/p'
}

# balloon_wait SOCK MIB SECONDS: 0 once actual is MIB.
balloon_wait() {
	n=0
	while [ $n -lt $(($3 * 2)) ]; do
		[ "$(balloon_actual "$1")" = "$2" ] && return 0
		usleep 500000
		n=$((n + 1))
	done
	return 1
}

# The balloon: after a lazy restore the guest's driver still inflates and
# deflates it, and what it gives back does not disturb its memory pattern.
case_balloon() {
	name=snapshot-balloon
	snap_boot bl --balloon --cmdline "$DEFAULT mvrun=counter"
	if ! wait_for "$T/bl.log" "$bpid" "CTR-TICK 5" 300; then
		fail $name "$T/bl.log" "the guest never counted to 5"
		kill_wait "$bpid"
		return
	fi
	if ! snap_take bl; then
		fail $name "$T/bl.ctl" "snapshot failed"
		return
	fi
	rlog=$T/bl.r.log rsock=$T/bl.r.sock
	"$MICROVM" --restore "$T/bl.snap" --control-socket "$rsock" \
		</dev/null >"$rlog" 2>&1 &
	rpid=$!
	wait_for "$rlog" "$rpid" "CTR-TICK $((paused + 1))" 300
	"$MICROVM" ctl "$rsock" balloon set 64 >/dev/null 2>&1
	inflated=no
	balloon_wait "$rsock" 64 120 && inflated=yes
	# A pattern check after the inflation.
	now=$(last_tick "$rlog")
	want=$(((now / 10 + 2) * 10))
	wait_for "$rlog" "$rpid" "CTR-CHECK $want " 120
	check=$(grep -a "^CTR-CHECK $want " "$rlog" | head -n 1 | tr -d '\r')
	"$MICROVM" ctl "$rsock" balloon set 0 >/dev/null 2>&1
	deflated=no
	balloon_wait "$rsock" 0 120 && deflated=yes
	kill_wait "$rpid"
	if [ $inflated != yes ]; then
		fail $name "$rlog" "the restored guest's balloon never reached 64 MiB (actual $(balloon_actual "$rsock"))"
	elif [ $deflated != yes ]; then
		fail $name "$rlog" "the balloon inflated to 64 MiB but never deflated to 0"
	else
		case "$check" in
		*" mem=ok "*) result $name PASS "restored at $paused: balloon 64 MiB then 0; $check" ;;
		*) fail $name "$rlog" "balloon worked, but after it: ${check:-no CTR-CHECK $want}" ;;
		esac
	fi
}

# mem_plugged SOCK: plugged MiB of the virtio-mem device.
mem_plugged() {
	"$MICROVM" ctl "$1" mem stats 2>/dev/null |
		sed -n 's/.*"plugged_mib":\([0-9]*\).*/\1/p'
}

# mem_wait SOCK MIB SECONDS: 0 once plugged is MIB.
mem_wait() {
	n=0
	while [ $n -lt $(($3 * 2)) ]; do
		[ "$(mem_plugged "$1")" = "$2" ] && return 0
		usleep 500000
		n=$((n + 1))
	done
	return 1
}

# --mem-hotplug: 128 MiB plugged by the guest before the snapshot are
# plugged after the restore (the device's state and the zone's memory
# came back), and the restored guest's driver unplugs them on request.
case_hotplug() {
	name=snapshot-mem-hotplug
	snap_boot hp --mem-hotplug size=256M \
		--cmdline "$DEFAULT memhp_default_state=online_movable mvrun=counter"
	if ! wait_for "$T/hp.log" "$bpid" "CTR-TICK 5" 300; then
		fail $name "$T/hp.log" "the guest never counted to 5"
		kill_wait "$bpid"
		return
	fi
	"$MICROVM" ctl "$T/hp.sock" mem set 128 >/dev/null 2>&1
	if ! mem_wait "$T/hp.sock" 128 120; then
		fail $name "$T/hp.log" "the guest never plugged 128 MiB (plugged $(mem_plugged "$T/hp.sock"))"
		kill_wait "$bpid"
		return
	fi
	if ! snap_take hp; then
		fail $name "$T/hp.ctl" "snapshot failed"
		return
	fi
	rlog=$T/hp.r.log rsock=$T/hp.r.sock
	"$MICROVM" --restore "$T/hp.snap" --control-socket "$rsock" \
		</dev/null >"$rlog" 2>&1 &
	rpid=$!
	wait_for "$rlog" "$rpid" "CTR-TICK $((paused + 1))" 300
	kept=$(mem_plugged "$rsock")
	"$MICROVM" ctl "$rsock" mem set 0 >/dev/null 2>&1
	unplugged=no
	mem_wait "$rsock" 0 120 && unplugged=yes
	left=$(mem_plugged "$rsock")
	now=$(last_tick "$rlog")
	want=$(((now / 10 + 1) * 10))
	wait_for "$rlog" "$rpid" "CTR-CHECK $want " 60
	check=$(grep -a "^CTR-CHECK $want " "$rlog" | head -n 1 | tr -d '\r')
	kill_wait "$rpid"
	if [ "$kept" != 128 ]; then
		fail $name "$rlog" "plugged ${kept:-?} MiB after the restore, want 128"
	elif [ $unplugged != yes ]; then
		fail $name "$rlog" "the restored guest never unplugged (plugged ${left:-?} MiB)"
	else
		case "$check" in
		*" mem=ok "*) result $name PASS "128 MiB plugged across the restore, unplugged after it; $check" ;;
		*) fail $name "$rlog" "unplugged, but after it: ${check:-no CTR-CHECK $want}" ;;
		esac
	fi
}

# Hugepage pools through scripts/hugepool.sh (HUGEPOOL_LIB), as make run
# and the other case files.
# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"
for p in $POLICIES; do
	case_policy "$p"
done
case_net
case_balloon
case_hotplug
hugepool_restore
rm -rf "$T"
