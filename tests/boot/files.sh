#!/bin/bash
# The files microvm writes and opens, on the host (a tiny PVH kernel, no
# Linux): reports never replace a device node or follow a planted link,
# FIFOs never hang startup, memory files are locked, fully allocated and
# never left half-made, the control socket belongs to its own VM.
# Prints: BOOT-TEST <name> PASS|FAIL|SKIP [why]. Needs MICROVM.
set -u
: "${MICROVM:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-files.XXXXXX")
S=
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	mountpoint -q "$T/small" 2>/dev/null && umount "$T/small"
	rm -rf "$T" ${S:+"$S"}
}
trap cleanup EXIT

names="stats-json-char-device stats-json-fifo stats-json-stdout-link stats-json-planted-link stats-json-fifo-no-reader fifo-kernel fifo-initrd fifo-disk-ro fifo-disk-rw fifo-mem-file mem-file-locked mem-file-full-fs mem-file-full-fs-existing sigterm-during-setup control-socket-newer-vm control-idle-clients cmdline-too-long-virtio pool-short-mem-file-no-fallback"
# shellcheck source=tests/boot/host.sh
. "$(dirname "$0")/host.sh"
host_begin "$names"

fail() {
	result "$1" FAIL "$2"
	sed "s/^/  $1| /" "$T/$1.log" 2>/dev/null | tail -n 5
}

# --- --stats-json never replaces what is not a regular file of ours ---
name=stats-json-char-device
if [ "$(id -u)" -ne 0 ]; then
	result "$name" SKIP "needs root to make a character device node (mknod)"
else
	mknod "$T/null" c 1 3
	host_run $name --kernel "$K" --mem 64M --stats-json "$T/null"
	if [ $rc -eq 0 ] && [ -c "$T/null" ]; then
		result "$name" PASS "a /dev/null node is written to, still a character device"
	else
		fail "$name" "status $rc, $T/null is now: $(stat -c %F "$T/null" 2>&1)"
	fi
fi

name=stats-json-fifo
mkfifo "$T/fifo"
timeout 20 cat "$T/fifo" >"$T/fifo.out" &
reader=$!
host_run $name --kernel "$K" --mem 64M --stats-json "$T/fifo"
wait $reader
if [ $rc -eq 0 ] && [ -p "$T/fifo" ] && grep -q '"vmm_rss_kib"' "$T/fifo.out"; then
	result "$name" PASS "the reader got the JSON, the FIFO is still a FIFO"
else
	fail "$name" "status $rc, $T/fifo is $(stat -c %F "$T/fifo" 2>&1), reader got: $(head -c 80 "$T/fifo.out")"
fi

name=stats-json-fifo-no-reader
mkfifo "$T/fifo2"
host_run $name --kernel "$K" --mem 64M --stats-json "$T/fifo2"
if [ $rc -eq 1 ] && one_error "$name" && grep -q "FIFO nobody reads" "$T/$name.log" && [ -p "$T/fifo2" ]; then
	result "$name" PASS "$(grep 'microvm: error:' "$T/$name.log" | head -c 160)"
else
	fail "$name" "status $rc (want 1 and one error line), $T/fifo2 is $(stat -c %F "$T/fifo2" 2>&1)"
fi

# A link to our own stdout (what /dev/stdout is): the JSON comes out there,
# the link stays.
name=stats-json-stdout-link
ln -s /proc/self/fd/1 "$T/stdout"
out=$(timeout 20 "$MICROVM" --kernel "$K" --mem 64M --stats-json "$T/stdout" 2>"$T/$name.log" </dev/null)
rc=$?
if [ $rc -eq 0 ] && [ -L "$T/stdout" ] && printf '%s\n' "$out" | grep -q '"vmm_rss_kib"'; then
	result "$name" PASS "JSON on stdout, the link untouched"
else
	fail "$name" "status $rc, $T/stdout is $(stat -c %F "$T/stdout" 2>&1), stdout: $(printf '%s' "$out" | head -c 80)"
fi

# A link planted at the temporary name microvm used to write to
# (PATH.tmp.PID): the link's target must not change.
name=stats-json-planted-link
echo "precious" >"$T/victim"
"$MICROVM" --kernel "$KHANG" --mem 64M --stats-json "$T/s.json" </dev/null >"$T/$name.log" 2>&1 &
pid=$!
pids+=("$pid")
wait_hello "$T/$name.log"
ln -s "$T/victim" "$T/s.json.tmp.$pid"
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 143 ] && [ "$(cat "$T/victim")" = precious ] && grep -q '"vmm_rss_kib"' "$T/s.json" 2>/dev/null; then
	result "$name" PASS "the planted link's target kept its content, the report is in place"
else
	fail "$name" "status $rc (want 143), victim now: $(head -c 60 "$T/victim"), report: $(head -c 60 "$T/s.json" 2>&1)"
fi

# --- a FIFO where a file belongs: a clear error at once, never a hang ---
# (open() of a FIFO for reading waits for a writer that never comes.)
mkfifo "$T/pipe"
# fifo_refused NAME 'message part' MICROVM-ARGS...
fifo_refused() {
	local name=$1 msg=$2
	shift 2
	timeout 5 "$MICROVM" "$@" </dev/null >"$T/$name.log" 2>&1
	rc=$?
	if [ $rc -eq 124 ]; then
		fail "$name" "hung in open() (killed after 5 s)"
	elif [ $rc -eq 1 ] && one_error "$name" && grep -qF -- "$msg" "$T/$name.log"; then
		result "$name" PASS "$(grep 'microvm: error:' "$T/$name.log" | head -c 160)"
	else
		fail "$name" "status $rc (want 1, one error line with '$msg')"
	fi
}
fifo_refused fifo-kernel "kernel $T/pipe is not a regular file (it is a FIFO)" --kernel "$T/pipe" --mem 64M
fifo_refused fifo-initrd "initrd $T/pipe is not a regular file (it is a FIFO)" --kernel "$K" --mem 64M --initrd "$T/pipe"
fifo_refused fifo-disk-ro "disk image $T/pipe is not a regular file or block device (it is a FIFO)" --kernel "$K" --mem 64M --disk "$T/pipe,ro"
fifo_refused fifo-disk-rw "disk image $T/pipe is not a regular file or block device (it is a FIFO)" --kernel "$K" --mem 64M --disk "$T/pipe"
fifo_refused fifo-mem-file "memory file $T/pipe is not a regular file (it is a FIFO)" --kernel "$K" --mem 64M --mem-file "$T/pipe"

# --- two VMs on one --mem-file: the second is refused, like a disk ---
name=mem-file-locked
"$MICROVM" --kernel "$KHANG" --mem 64M --mem-file "$T/shared.mem" </dev/null >"$T/$name.first.log" 2>&1 &
first=$!
pids+=("$first")
wait_hello "$T/$name.first.log"
host_run $name --kernel "$K" --mem 64M --mem-file "$T/shared.mem"
kill -TERM $first
wait $first
frc=$?
if [ $rc -eq 1 ] && one_error "$name" && grep -q "memory file $T/shared.mem is in use by another process (locked)" "$T/$name.log" &&
	[ $frc -eq 143 ] && [ "$(stat -c %s "$T/shared.mem")" -eq $((64 << 20)) ]; then
	result "$name" PASS "$(grep 'microvm: error:' "$T/$name.log" | head -c 160)"
else
	fail "$name" "second VM: status $rc (want 1 and the lock error); first VM: $frc (want 143)"
fi

# --- a --mem-file on a file system too small for it: an error at setup,
# not a SIGBUS when the guest (or the kernel loader) first writes ---
if [ "$(id -u)" -ne 0 ]; then
	result mem-file-full-fs SKIP "needs root to mount a small tmpfs"
	result mem-file-full-fs-existing SKIP "needs root to mount a small tmpfs"
elif ! mkdir "$T/small" || ! mount -t tmpfs -o size=8k microvm-test "$T/small"; then
	result mem-file-full-fs SKIP "cannot mount a tmpfs here"
	result mem-file-full-fs-existing SKIP "cannot mount a tmpfs here"
else
	name=mem-file-full-fs
	host_run $name --kernel "$K" --mem 64M --mem-file "$T/small/vm.mem"
	if [ $rc -eq 1 ] && one_error "$name" &&
		grep -q "cannot allocate 64M for memory file $T/small/vm.mem on its tmpfs file system" "$T/$name.log" &&
		[ ! -e "$T/small/vm.mem" ]; then
		result "$name" PASS "$(grep 'microvm: error:' "$T/$name.log" | head -c 160)"
	else
		fail "$name" "status $rc (want 1 and the allocation error; 135 is SIGBUS), file left: $(ls "$T/small")"
	fi
	# Someone else's sparse file: the same error, and the file stays.
	name=mem-file-full-fs-existing
	truncate -s 64M "$T/small/theirs.mem"
	host_run $name --kernel "$K" --mem 64M --mem-file "$T/small/theirs.mem"
	if [ $rc -eq 1 ] && one_error "$name" && grep -q "cannot allocate 64M" "$T/$name.log" &&
		[ -e "$T/small/theirs.mem" ]; then
		result "$name" PASS "error at setup, the user's file kept"
	else
		fail "$name" "status $rc (want 1 and the allocation error; 135 is SIGBUS)"
	fi
	umount "$T/small"
fi

# --- SIGTERM during setup (a long --prefault of a created --mem-file):
# the normal cleanup runs, status 143, and the file microvm created is
# gone (the guest never ran, so nothing in it is worth keeping) ---
name=sigterm-during-setup
S=$(mktemp -d /dev/shm/microvm-files.XXXXXX)
"$MICROVM" --kernel "$KHANG" --mem 2G --prefault --prefault-threads 1 --mem-file "$S/vm.mem" </dev/null >"$T/$name.log" 2>&1 &
pid=$!
pids+=("$pid")
i=0
while [ $i -lt 500 ] && [ ! -e "$S/vm.mem" ]; do
	sleep 0.01
	i=$((i + 1))
done
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 143 ] && [ ! -e "$S/vm.mem" ] && grep -q "stopped by Terminated during setup" "$T/$name.log" &&
	! grep -q "PVH-TINY hello" "$T/$name.log"; then
	result "$name" PASS "status 143, the created memory file removed"
else
	fail "$name" "status $rc (want 143), memory file left: $(ls "$S")"
fi
rm -rf "$S"

# --- the control socket belongs to its own VM ---
# A's socket file is removed and B starts at the same path: A's exit must
# not remove B's socket.
name=control-socket-newer-vm
"$MICROVM" --kernel "$KHANG" --mem 64M --control-socket "$T/c.sock" </dev/null >"$T/$name.a.log" 2>&1 &
a=$!
pids+=("$a")
wait_hello "$T/$name.a.log"
rm -f "$T/c.sock"
"$MICROVM" --kernel "$KHANG" --mem 64M --control-socket "$T/c.sock" </dev/null >"$T/$name.log" 2>&1 &
b=$!
pids+=("$b")
wait_hello "$T/$name.log"
kill -TERM $a
wait $a
reply=$("$MICROVM" ctl "$T/c.sock" ping 2>&1)
kill -TERM $b
wait $b
if [ "$reply" = '{"ok":true}' ] && [ ! -e "$T/c.sock" ]; then
	result "$name" PASS "the newer VM's socket survived the older VM's exit"
else
	fail "$name" "ping of the newer VM after the older one exited: $reply"
fi

# Ten clients connect and never send: a new one still gets its reply
# (under the VMM's seccomp filter), and an idle one is closed after 5 s.
name=control-idle-clients
if ! command -v python3 >/dev/null; then
	result "$name" SKIP "needs python3 to hold idle connections"
else
	"$MICROVM" --kernel "$KHANG" --mem 64M --control-socket "$T/i.sock" </dev/null >"$T/$name.log" 2>&1 &
	vm=$!
	pids+=("$vm")
	wait_hello "$T/$name.log"
	out=$(timeout 30 python3 - "$T/i.sock" <<'PY' 2>&1
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(8)
    return s
idle = [conn() for _ in range(10)]
time.sleep(0.3)
new = conn()
new.sendall(b"ping\n")
print("new:", new.recv(200).decode().strip())
# The last idle one (never evicted) is closed by the idle timeout.
t0 = time.time()
got = b""
while True:
    d = idle[-1].recv(200)
    if not d:
        break
    got += d
print("idle:", got.decode().strip(), "after %.0f s" % (time.time() - t0))
PY
)
	kill -TERM $vm
	wait $vm
	vrc=$?
	if printf '%s\n' "$out" | grep -qx 'new: {"ok":true}' &&
		printf '%s\n' "$out" | grep -q 'idle: .*idle for 5000 ms: closing' && [ $vrc -eq 143 ]; then
		result "$name" PASS "a new client served past 10 idle ones; idle ones closed after 5 s"
	else
		echo "  $name| $out" | head -n 4
		fail "$name" "no reply for the new client, or the idle one not closed (VM status $vrc)"
	fi
fi

# --- messages that say what is wrong and suggest only what works ---
name=cmdline-too-long-virtio
host_run $name --kernel "$K" --mem 64M --rng --cmdline "$(printf '%4080s' x)"
if [ $rc -eq 1 ] && one_error "$name" && grep -q "kernel command line too long: --cmdline is 4080 bytes.*limit of 4095 bytes: shorten --cmdline" "$T/$name.log" &&
	! grep -q "No space left" "$T/$name.log"; then
	result "$name" PASS "$(grep 'microvm: error:' "$T/$name.log" | head -c 160)"
else
	fail "$name" "status $rc, want 1 and 'kernel command line too long' (not 'No space left on device')"
fi

# A short hugepage pool with --mem-file: fallback= is refused there, so
# it must not be suggested.
name=pool-short-mem-file-no-fallback
host_run $name --kernel "$K" --mem 64G --pages huge --mem-file "$T/huge.mem"
if [ $rc -eq 1 ] && one_error "$name" && grep -q "hugepage pool too small" "$T/$name.log" &&
	! grep -q "fallback=" "$T/$name.log" && grep -q -- "--mem-file takes no fallback" "$T/$name.log" &&
	[ ! -e "$T/huge.mem" ]; then
	result "$name" PASS "$(grep 'microvm: error:' "$T/$name.log" | cut -c 1-80)...no fallback= suggested"
else
	fail "$name" "status $rc, want 1 and the pool error without a fallback= suggestion"
fi
