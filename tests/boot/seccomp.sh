#!/bin/sh
# Seccomp cases that need no Linux guest: a tiny PVH kernel (flat 32-bit
# code: prints a line on the serial port, then resets through the i8042)
# runs the whole VM life cycle on any KVM, this paravirtual one included:
# vCPU threads under their filter do port exits, serial output, the i8042
# reset and the kick of every vCPU; the main thread under its filter stops
# the VM, tears it down and (with --verbose --stats-json) writes its reports.
# The self-test build (make seccomp-selftest) must die of SIGSYS with the
# one-line report at its first exit.
# Prints BOOT-TEST <name> PASS|FAIL|SKIP [why].
# Needs: MICROVM; optional MICROVM_SELFTEST (the self-test build); as, ld.
: "${MICROVM:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-seccomp.XXXXXX")
trap 'rm -rf "$T"' EXIT

names="seccomp-life-cycle seccomp-smp-reset seccomp-exit-reports seccomp-control-socket seccomp-control-sigterm seccomp-off-warns seccomp-selftest-sigsys"
# shellcheck source=tests/boot/host.sh
. "$(dirname "$0")/host.sh"
host_begin "$names"

# run NAME EXPECTED-STATUS MICROVM-ARGS...: log in $T/NAME.log, status in rc.
run() {
	name=$1 want=$2
	shift 2
	timeout 60 "$@" </dev/null >"$T/$name.log" 2>&1
	rc=$?
	[ "$rc" -eq "$want" ]
}

fail() {
	result "$1" FAIL "$2"
	sed "s/^/  $1| /" "$T/$1.log" | tail -n 10
}

if run seccomp-life-cycle 0 "$MICROVM" --kernel "$K" --mem 64M &&
	grep -q "PVH-TINY hello" "$T/seccomp-life-cycle.log" &&
	! grep -q "seccomp" "$T/seccomp-life-cycle.log"; then
	result seccomp-life-cycle PASS "guest ran and reset under both filters"
else
	fail seccomp-life-cycle "exit status $rc (want 0 and the guest's line)"
fi

# vCPU 0 resets; the kick of vCPU 1 and of itself (gettid) are in its list.
if run seccomp-smp-reset 0 "$MICROVM" --kernel "$K" --mem 64M --cpus 2 &&
	grep -q "PVH-TINY hello" "$T/seccomp-smp-reset.log"; then
	result seccomp-smp-reset PASS "2 vCPUs kicked and joined under the filters"
else
	fail seccomp-smp-reset "exit status $rc with --cpus 2"
fi

if run seccomp-exit-reports 0 "$MICROVM" --kernel "$K" --mem 64M --verbose \
	--stats-json "$T/stats.json" &&
	grep -q "memory report at exit" "$T/seccomp-exit-reports.log" &&
	! grep -q "cannot read" "$T/seccomp-exit-reports.log" &&
	grep -q '"vmm_rss_kib"' "$T/stats.json" 2>/dev/null; then
	result seccomp-exit-reports PASS "exit memory report and --stats-json file written"
else
	fail seccomp-exit-reports "exit status $rc, or no exit report / stats file"
fi

# --control-socket: the socket is served by the filtered loop and unlinked
# at exit (allowed with it).
if run seccomp-control-socket 0 "$MICROVM" --kernel "$K" --mem 64M \
	--control-socket "$T/ctl.sock" && [ ! -e "$T/ctl.sock" ]; then
	result seccomp-control-socket PASS "socket served and removed at exit"
else
	fail seccomp-control-socket "exit status $rc or $T/ctl.sock left behind"
fi

# A guest that stays up: a control request (balloon stats reads smaps on
# the filtered loop), then SIGTERM (signalfd, stop, teardown): status 143
# with the one-line stop message.
name=seccomp-control-sigterm
"$MICROVM" --kernel "$KHANG" --mem 64M --balloon --control-socket \
	"$T/ctl2.sock" </dev/null >"$T/$name.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 50 ] && ! grep -q "PVH-TINY hello" "$T/$name.log" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
reply=$("$MICROVM" ctl "$T/ctl2.sock" balloon stats 2>&1)
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 143 ] && echo "$reply" | grep -q '"ok":true.*"rss_bytes":[1-9]' &&
	grep -q "stopped by" "$T/$name.log" && [ ! -e "$T/ctl2.sock" ]; then
	result $name PASS "stats reply with rss, SIGTERM gave 143 and the stop message"
else
	echo "  $name| reply: $reply" | cut -c1-200
	fail $name "exit status $rc (want 143), or no stats reply / stop message"
fi

if run seccomp-off-warns 0 "$MICROVM" --kernel "$K" --mem 64M --no-seccomp &&
	[ "$(grep -c 'warning: --no-seccomp' "$T/seccomp-off-warns.log")" -eq 1 ]; then
	result seccomp-off-warns PASS "one-line warning, guest ran"
else
	fail seccomp-off-warns "exit status $rc or no one-line warning"
fi

if [ -z "${MICROVM_SELFTEST:-}" ] || [ ! -x "$MICROVM_SELFTEST" ]; then
	result seccomp-selftest-sigsys SKIP "no self-test build (make seccomp-selftest, then MICROVM_SELFTEST=build/seccomp-selftest/microvm)"
elif run seccomp-selftest-sigsys 159 "$MICROVM_SELFTEST" --kernel "$K" --mem 64M &&
	grep -q "microvm: seccomp: vCPU thread made forbidden syscall 257;" \
		"$T/seccomp-selftest-sigsys.log" &&
	! grep -q "PVH-TINY hello" "$T/seccomp-selftest-sigsys.log"; then
	result seccomp-selftest-sigsys PASS "killed by SIGSYS (status 159) at the first exit, report names openat (257)"
else
	fail seccomp-selftest-sigsys "exit status $rc (want 159 = 128+SIGSYS) or no report line"
fi
