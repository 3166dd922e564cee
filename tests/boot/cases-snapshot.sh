#!/bin/sh
# Snapshot boot cases: a Linux guest with 2 vCPUs and a raw disk runs
# tests/guest/scripts/counter.sh (a tick every 0.2 s, a 32 MiB memory
# pattern, a token written to the disk); the host pauses it, snapshots it
# over the control socket, kills it, and restores it in a new process,
# lazily and by copy, per page policy: the ticks go on from where they
# were (not from 1), the memory pattern is intact, the token is on the
# disk. Runs where KVM can boot Linux: on the host, or inside the nested
# L1 (busybox sh there, so POSIX sh only). Prints one line per case:
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
echo "BOOT-EXPECT$expect"

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

# Hugepage pools through scripts/hugepool.sh (HUGEPOOL_LIB), as make run
# and the other case files.
# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"
for p in $POLICIES; do
	case_policy "$p"
done
hugepool_restore
rm -rf "$T"
