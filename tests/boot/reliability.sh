#!/bin/sh
# How the VMM ends when its surroundings go away, with no Linux guest: a
# tiny PVH kernel (flat 32-bit code on the serial port, as in seccomp.sh)
# on this machine's KVM.
#   console-pipe-closed       stdout is a pipe whose reader exits (| head -c 1):
#                             the VM runs to its end, exit 0, no SIGPIPE death
#   sigterm-during-prefault   SIGTERM while --prefault=background workers run:
#                             exit 143 with the stop line (the main thread's
#                             signalfd gets it, not a worker)
#   stderr-pipe-full          stderr is a full pipe nobody reads: SIGTERM still
#                             ends the VMM at once (logging never blocks)
#   prefault-stops-at-exit    a guest that resets at once with a 4G background
#                             prefault: the workers stop, the exit does not wait
#                             for the whole prefault
#   oom-<device>              a device's allocation fails (an LD_PRELOAD calloc
#                             that fails one size): exit 1 with one error line
#                             that says what ran out, not an uninitialised one
# Prints BOOT-TEST <name> PASS|FAIL|SKIP [why].
# Needs: MICROVM; as, ld; /dev/kvm; cc for the oom cases (run from the
# source tree: they read the device struct sizes from its headers).
: "${MICROVM:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-reliability.XXXXXX")
trap 'rm -rf "$T"' EXIT

names="fatal-signal-reported console-pipe-closed sigterm-during-prefault stderr-pipe-full prefault-stops-at-exit oom-virtio-net oom-virtio-rng oom-virtio-balloon oom-control-socket"
# shellcheck source=tests/boot/host.sh
. "$(dirname "$0")/host.sh"
host_begin "$names"
KRESET=$K

# wait_for FILE TEXT [TENTHS]: until FILE holds TEXT (default 10 s).
wait_for() {
	i=0
	while [ "$i" -lt "${3:-100}" ] && ! grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "$2" "$1" 2>/dev/null
}

# gone_within PID TENTHS: 0 once PID has exited (within TENTHS/10 s).
gone_within() {
	i=0
	while [ "$i" -lt "$2" ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

show() {
	sed "s/^/  $1| /" "$2" | tail -n 8
}

# A fatal signal (here SIGSEGV sent with kill) without a terminal: one
# "microvm: fatal:" line on stderr naming it, then death by that signal
# (139), so a crash in a CI log says what happened.
name=fatal-signal-reported
"$MICROVM" --kernel "$KHANG" --mem 64M </dev/null >"$T/$name.log" 2>&1 &
pid=$!
wait_for "$T/$name.log" "PVH-TINY hello"
kill -SEGV "$pid"
wait "$pid"
rc=$?
if [ "$rc" = 139 ] && grep -q "^microvm: fatal: SIGSEGV sent by another process$" "$T/$name.log"; then
	result $name PASS "exit 139, $(grep 'microvm: fatal:' "$T/$name.log")"
else
	show $name "$T/$name.log"
	result $name FAIL "exit status $rc (want 139) or no 'microvm: fatal: SIGSEGV' line"
fi

# The console's reader goes away after one byte: the guest keeps printing
# 64 KB and resets; microvm must not die of SIGPIPE (141) but end as the
# guest asks (0), saying once that the console is gone.
name=console-pipe-closed
rc=$( (
	timeout 120 "$MICROVM" --kernel "$KCHATTY" --mem 64M </dev/null 2>"$T/$name.log"
	echo $? >"$T/$name.rc"
) | head -c 1 >/dev/null
	cat "$T/$name.rc")
if [ "$rc" = 0 ] && grep -q "console output closed" "$T/$name.log"; then
	result $name PASS "exit 0 after the reader left, console-closed notice"
else
	show $name "$T/$name.log"
	result $name FAIL "exit status $rc (want 0; 141 is death by SIGPIPE) or no console-closed notice"
fi

# SIGTERM while background prefault workers run (4G take seconds): the
# signal must reach the main thread's signalfd, not kill the process in a
# worker by its default action.
name=sigterm-during-prefault
avail_kb=$(awk '$1 == "MemAvailable:" {print $2}' /proc/meminfo)
if [ "${avail_kb:-0}" -lt $((6 * 1024 * 1024)) ]; then
	result $name SKIP "needs 6 GiB of available host memory for a 4G guest"
	result prefault-stops-at-exit SKIP "needs 6 GiB of available host memory for a 4G guest"
else
	"$MICROVM" --kernel "$KHANG" --mem 4G --prefault=background --verbose \
		</dev/null >"$T/$name.out" 2>"$T/$name.log" &
	pid=$!
	wait_for "$T/$name.out" "PVH-TINY hello"
	kill -TERM $pid
	wait $pid
	rc=$?
	if [ $rc -eq 143 ] && grep -q "stopped by" "$T/$name.log"; then
		result $name PASS "exit 143 with the stop line"
	else
		show $name "$T/$name.log"
		result $name FAIL "exit status $rc (want 143 and 'stopped by')"
	fi

	# The guest resets at once; a 4G prefault takes seconds. The workers
	# stop at the next chunk and say how far they got.
	name=prefault-stops-at-exit
	start=$(date +%s%N)
	timeout 60 "$MICROVM" --kernel "$KRESET" --mem 4G --prefault=background \
		--verbose </dev/null >"$T/$name.out" 2>"$T/$name.log"
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	done_mib=$(sed -n 's/.*background prefault stopped at the VM stop after \([0-9]*\) of 4096 MiB.*/\1/p' "$T/$name.log")
	if [ $rc -eq 0 ] && [ -n "$done_mib" ] && [ "$done_mib" -lt 4096 ] &&
		[ $ms -lt 4000 ]; then
		result $name PASS "stopped after $done_mib of 4096 MiB, exit in $ms ms"
	else
		show $name "$T/$name.log"
		result $name FAIL "exit status $rc in $ms ms; want 0, a stop line with less than 4096 MiB populated and an exit within 4 s"
	fi
fi

# stderr is a pipe nobody reads, full before microvm starts: neither the
# --verbose setup lines, nor the stop line and exit reports on SIGTERM may
# block the exit.
name=stderr-pipe-full
mkfifo "$T/err.fifo"
exec 3<>"$T/err.fifo"
dd if=/dev/zero of="$T/err.fifo" bs=4096 count=1024 oflag=nonblock 2>/dev/null
"$MICROVM" --kernel "$KHANG" --mem 64M --verbose --stats-json "$T/$name.json" \
	</dev/null >"$T/$name.out" 2>"$T/err.fifo" 3>&- &
pid=$!
if ! wait_for "$T/$name.out" "PVH-TINY hello"; then
	kill -KILL $pid
	wait $pid
	result $name FAIL "the guest never ran: setup blocked on stderr"
else
	kill -TERM $pid
	if gone_within $pid 30; then
		wait $pid
		rc=$?
		# The stats file is written on a clean stop only.
		if [ $rc -eq 143 ] && [ -s "$T/$name.json" ]; then
			result $name PASS "exit 143 within 3 s with stderr blocked, exit reports done"
		else
			result $name FAIL "exit status $rc (want 143) or no --stats-json file (not a clean stop)"
		fi
	else
		kill -KILL $pid
		wait $pid
		result $name FAIL "still running 3 s after SIGTERM with stderr blocked"
	fi
fi
exec 3>&-

# Out of memory while building the machine: a calloc of exactly one device's
# size fails (glibc's __libc_calloc does the rest).
oom_names="oom-virtio-net oom-virtio-rng oom-virtio-balloon oom-control-socket"
if ! command -v cc >/dev/null || [ ! -r vmm/machine.c ]; then
	for c in $oom_names; do
		result "$c" SKIP "needs cc and the source tree (run from the top directory)"
	done
	exit 0
fi
cat >"$T/failcalloc.c" <<'EOF'
#include <stdlib.h>
void *__libc_calloc(size_t n, size_t size);
void *calloc(size_t n, size_t size)
{
	const char *s = getenv("MICROVM_TEST_FAIL_CALLOC");

	if (s && n * size == strtoul(s, NULL, 10))
		return NULL;
	return __libc_calloc(n, size);
}
EOF
cat >"$T/sizes.c" <<'EOF'
#include <stdio.h>
#include "devices/virtio_balloon.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "vmm/control.h"
int main(void)
{
	printf("%zu %zu %zu %zu\n", sizeof(struct virtio_net),
	       sizeof(struct virtio_rng), sizeof(struct virtio_balloon),
	       sizeof(struct control));
	return 0;
}
EOF
if ! cc -shared -fPIC -o "$T/failcalloc.so" "$T/failcalloc.c" ||
	! cc -D_GNU_SOURCE -I. -o "$T/sizes" "$T/sizes.c"; then
	for c in $oom_names; do
		result "$c" SKIP "cannot build the calloc shim or read the struct sizes"
	done
	exit 0
fi
# shellcheck disable=SC2046 # four numbers
set -- $("$T/sizes")
oom_case() {
	name=$1 size=$2 what=$3
	shift 3
	MICROVM_TEST_FAIL_CALLOC=$size LD_PRELOAD=$T/failcalloc.so timeout 20 \
		"$MICROVM" --kernel "$KRESET" --mem 64M "$@" </dev/null \
		>/dev/null 2>"$T/$name.log"
	rc=$?
	if [ $rc -eq 1 ] && [ "$(grep -c 'microvm: error:' "$T/$name.log")" -eq 1 ] &&
		grep -q "microvm: error: out of memory allocating $what\$" "$T/$name.log"; then
		result "$name" PASS "$(head -c 120 "$T/$name.log")"
	else
		show "$name" "$T/$name.log"
		result "$name" FAIL "exit status $rc (want 1) or not one 'out of memory allocating $what' line"
	fi
}
oom_case oom-virtio-net "$1" "the virtio-net device" --net tap=mvmoom0
oom_case oom-virtio-rng "$2" "the virtio-rng device" --rng
oom_case oom-virtio-balloon "$3" "the virtio-balloon device" --balloon
oom_case oom-control-socket "$4" "the control socket" --control-socket "$T/oom.sock"
