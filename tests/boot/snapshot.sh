#!/bin/bash
# Snapshot and restore on the host (a tiny PVH kernel, no Linux): the
# counting guest (tests/tiny/tiny.S mode 4: a counter in memory printed as
# "TICK xxxxxxxx", a memory pattern checked on every tick) is paused over
# its control socket, snapshotted, killed, and restored in a new process:
# its first tick must be the paused count plus one, with the pattern
# intact, for base and huge pages, lazy and copy. Also: a snapshot of a
# running VM leaves it running; damaged snapshots (truncated state, CRC,
# version) are exit 1 with one clear line; a non-empty DIR is refused; two
# restores of one snapshot run at once; options that contradict the
# snapshot are exit 2.
# Prints: BOOT-TEST <name> PASS|FAIL|SKIP [why]. Needs MICROVM.
set -u
: "${MICROVM:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-snapshot.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

result() {
	echo "BOOT-TEST $*"
}

names="snapshot-base-copy snapshot-base-lazy snapshot-huge-copy snapshot-huge-lazy snapshot-running-stays-running snapshot-pause-resume snapshot-dir-not-empty snapshot-damaged-truncated snapshot-damaged-crc snapshot-damaged-version snapshot-two-restores snapshot-restore-conflict snapshot-devices snapshot-of-restored-2cpus snapshot-restore-missing snapshot-restore-disk-gone snapshot-lazy-handler-seccomp snapshot-lazy-handler-fails snapshot-zones-lazy snapshot-zones-copy snapshot-mem-hotplug snapshot-clones-share"
# Declare every case before any result: tests/boot/run fails each one that
# gets no result line (the file died half-way).
echo "BOOT-EXPECT $names"
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	for c in $names; do result "$c" SKIP "/dev/kvm is not usable here"; done
	exit 0
fi
if ! why=$(sh "$(dirname "$0")/../tiny/build.sh" "$T" 2>&1); then
	for c in $names; do result "$c" SKIP "$why"; done
	exit 0
fi
K=$T/tiny4.elf
MEM=32M

fail() {
	result "$1" FAIL "$2"
	for f in "$T/$1".*log; do
		[ -f "$f" ] && sed "s#^#  $(basename "$f")| #" "$f" | tail -n 6
	done
}

# last_tick LOG: the last count printed whole (decimal), or -1. A pause
# may stop the guest half-way through a line: that line does not count.
last_tick() {
	local h
	h=$(grep -a '^TICK [0-9a-f]\{8\}$' "$1" 2>/dev/null | tail -n 1 | cut -d' ' -f2 | tr -d '\r')
	if [ -n "$h" ]; then echo $((16#$h)); else echo -1; fi
}

# first_tick LOG: the first count printed (decimal), or -1.
first_tick() {
	local h
	h=$(grep -a '^TICK [0-9a-f]\{8\}$' "$1" 2>/dev/null | head -n 1 | cut -d' ' -f2 | tr -d '\r')
	if [ -n "$h" ]; then echo $((16#$h)); else echo -1; fi
}

# wait_ticks LOG N: until LOG shows N ticks or more (up to 20 s).
wait_ticks() {
	local i=0
	while [ $i -lt 200 ] && [ "$(last_tick "$1")" -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(last_tick "$1")" -ge "$2" ]
}

# start NAME ARGS...: a counting VM with a control socket $T/NAME.sock,
# output in $T/NAME.log; its pid in vm_pid.
start() {
	local name=$1
	shift
	# shellcheck disable=SC2086 # MEM empty: the zones in ARGS
	"$MICROVM" --kernel "$K" ${MEM:+--mem $MEM} --control-socket "$T/$name.sock" "$@" \
		</dev/null >"$T/$name.log" 2>&1 &
	vm_pid=$!
	pids+=("$vm_pid")
}

# restore NAME TAG ARGS...: microvm --restore in the background, output in
# $T/NAME.TAG.log; its pid in r_pid.
restore() {
	local name=$1 tag=$2
	shift 2
	"$MICROVM" "$@" </dev/null >"$T/$name.$tag.log" 2>&1 &
	r_pid=$!
	pids+=("$r_pid")
}

ctl() {
	"$MICROVM" ctl "$@"
}

stop() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# snap_paused NAME PAGES [ARGS...]: start (with ARGS; PAGES - for none), count a little, pause, remember the count
# in paused_at, snapshot to $T/NAME.snap, kill. 0 on success.
snap_paused() {
	local name=$1 pages=$2
	shift 2
	if [ "$pages" = - ]; then
		start "$name" "$@" # the zones in ARGS
	else
		start "$name" --pages "$pages" "$@"
	fi
	if ! wait_ticks "$T/$name.log" 3; then
		why="the guest did not count"
		stop "$vm_pid"
		return 1
	fi
	if ! ctl "$T/$name.sock" pause >"$T/$name.ctl.log" 2>&1; then
		why="pause failed"
		stop "$vm_pid"
		return 1
	fi
	sleep 0.3
	paused_at=$(last_tick "$T/$name.log")
	if ! ctl "$T/$name.sock" snapshot "$T/$name.snap" >>"$T/$name.ctl.log" 2>&1; then
		why="snapshot failed: $(tail -n 1 "$T/$name.ctl.log")"
		stop "$vm_pid"
		return 1
	fi
	sleep 0.3
	if [ "$(last_tick "$T/$name.log")" -ne "$paused_at" ]; then
		why="the paused guest kept counting"
		stop "$vm_pid"
		return 1
	fi
	stop "$vm_pid"
	return 0
}

# --- restore goes on counting from the paused count, memory intact ---
hugefree=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
for pages in base huge; do
	for mode in copy lazy; do
		name=snapshot-$pages-$mode
		if [ "$pages" = huge ] && [ "$hugefree" -lt 16 ]; then
			result "$name" SKIP "needs 16 free 2 MiB hugepages ($hugefree free)"
			continue
		fi
		if ! snap_paused "$name" "$pages"; then
			fail "$name" "$why"
			continue
		fi
		restore "$name" r --restore "$T/$name.snap" --restore-mode "$mode"
		wait_ticks "$T/$name.r.log" $((paused_at + 2))
		first=$(first_tick "$T/$name.r.log")
		if [ "$first" -eq $((paused_at + 1)) ] &&
			! grep -q PATTERN-BAD "$T/$name.r.log" &&
			[ "$(last_tick "$T/$name.r.log")" -ge $((paused_at + 2)) ]; then
			result "$name" PASS "paused at $paused_at, the restored guest went on at $first"
		else
			fail "$name" "paused at $paused_at, restored guest's first tick $first"
		fi
		stop "$r_pid"
	done
done

# --- a snapshot of a running VM leaves it running ---
name=snapshot-running-stays-running
start $name
if wait_ticks "$T/$name.log" 2 &&
	ctl "$T/$name.sock" snapshot "$T/$name.snap" >"$T/$name.ctl.log" 2>&1; then
	after=$(last_tick "$T/$name.log")
	if wait_ticks "$T/$name.log" $((after + 2)) &&
		grep -q '"state_bytes":[1-9]' "$T/$name.ctl.log" &&
		grep -q '"total_ms":' "$T/$name.ctl.log"; then
		result $name PASS "the guest counted on after the snapshot; reply: $(cut -c1-120 "$T/$name.ctl.log")"
	else
		fail $name "the guest stopped counting after the snapshot (at $after), or the reply lacks sizes"
	fi
else
	fail $name "snapshot of the running VM failed"
fi
stop "$vm_pid"

# --- pause stops the count, resume goes on ---
name=snapshot-pause-resume
start $name
if wait_ticks "$T/$name.log" 2 && ctl "$T/$name.sock" pause >"$T/$name.ctl.log" 2>&1; then
	sleep 0.3
	a=$(last_tick "$T/$name.log")
	sleep 1
	b=$(last_tick "$T/$name.log")
	ctl "$T/$name.sock" resume >>"$T/$name.ctl.log" 2>&1
	if [ "$a" -eq "$b" ] && wait_ticks "$T/$name.log" $((b + 2)); then
		result $name PASS "no tick while paused ($a), counting again after resume"
	else
		fail $name "paused count went $a -> $b, or no tick after resume"
	fi
else
	fail $name "pause failed"
fi
stop "$vm_pid"

# --- an existing non-empty DIR is refused, the VM runs on ---
name=snapshot-dir-not-empty
start $name
mkdir -p "$T/$name.snap" && echo keep >"$T/$name.snap/other"
if wait_ticks "$T/$name.log" 1; then
	ctl "$T/$name.sock" snapshot "$T/$name.snap" >"$T/$name.ctl.log" 2>&1
	rc=$?
	n=$(last_tick "$T/$name.log")
	if [ $rc -eq 1 ] && grep -q 'not empty' "$T/$name.ctl.log" &&
		[ "$(cat "$T/$name.snap/other")" = keep ] &&
		[ "$(find "$T/$name.snap" -mindepth 1 | wc -l)" -eq 1 ] &&
		wait_ticks "$T/$name.log" $((n + 1)); then
		result $name PASS "refused: $(cut -c1-100 "$T/$name.ctl.log")"
	else
		fail $name "status $rc, or DIR changed, or the VM stopped"
	fi
else
	fail $name "the guest did not count"
fi
stop "$vm_pid"

# --- damaged snapshots: exit 1, one clear line ---
base=snapshot-damaged
if snap_paused $base base; then
	# damage NAME WHAT EXPECT CMD...: copy the snapshot, apply CMD in it,
	# restore: exit 1 with one error line matching EXPECT.
	damage() {
		local name=$1 expect=$2
		shift 2
		cp -r "$T/$base.snap" "$T/$name.snap"
		(cd "$T/$name.snap" && "$@")
		timeout 20 "$MICROVM" --restore "$T/$name.snap" --restore-mode copy \
			</dev/null >"$T/$name.r.log" 2>&1
		rc=$?
		if [ $rc -eq 1 ] && [ "$(grep -c 'microvm: error:' "$T/$name.r.log")" -eq 1 ] &&
			grep -q "$expect" "$T/$name.r.log" && ! grep -q '^TICK' "$T/$name.r.log"; then
			result "$name" PASS "$(grep 'microvm: error:' "$T/$name.r.log" | cut -c1-140)"
		else
			fail "$name" "status $rc (want 1 with one error line saying '$expect')"
		fi
	}
	# shellcheck disable=SC2016 # expands in the snapshot copy, by sh -c
	damage snapshot-damaged-truncated 'truncated' \
		sh -c 'head -c $(($(stat -c %s state) - 100)) state >s && mv s state'
	damage snapshot-damaged-crc 'CRC mismatch' \
		sh -c 'printf "\377" | dd of=state bs=1 seek=200 conv=notrunc 2>/dev/null'
	damage snapshot-damaged-version 'format version 99' \
		sh -c 'printf "\143" | dd of=state bs=1 seek=8 conv=notrunc 2>/dev/null'
else
	for c in truncated crc version; do fail snapshot-damaged-$c "$why"; done
fi

# --- two restores of one snapshot at once ---
name=snapshot-two-restores
if [ -d "$T/snapshot-base-lazy.snap" ]; then
	src=$T/snapshot-base-lazy.snap
	n0=$(first_tick "$T/snapshot-base-lazy.r.log")
	restore $name a --restore "$src"
	pa=$r_pid
	restore $name b --restore "$src"
	pb=$r_pid
	wait_ticks "$T/$name.a.log" $((n0 + 2))
	wait_ticks "$T/$name.b.log" $((n0 + 2))
	fa=$(first_tick "$T/$name.a.log")
	fb=$(first_tick "$T/$name.b.log")
	if [ "$fa" -eq "$n0" ] && [ "$fb" -eq "$n0" ] &&
		[ "$(last_tick "$T/$name.a.log")" -ge $((n0 + 2)) ] &&
		[ "$(last_tick "$T/$name.b.log")" -ge $((n0 + 2)) ]; then
		result $name PASS "both clones went on at $n0 and kept counting"
	else
		fail $name "first ticks $fa and $fb, want $n0 each"
	fi
	stop "$pa"
	stop "$pb"
else
	fail $name "no snapshot from snapshot-base-lazy to clone"
fi

# --- options that contradict the snapshot: exit 2 ---
name=snapshot-restore-conflict
ok=1
for args in "--mem 64M" "--cpus 2" "--kernel $K" "--disk /dev/null" "--restore-mode fast"; do
	# shellcheck disable=SC2086 # split the option and its value
	timeout 10 "$MICROVM" --restore "$T/nowhere" $args </dev/null >"$T/$name.log" 2>&1
	rc=$?
	if [ $rc -ne 2 ] || [ "$(grep -c 'microvm: error:' "$T/$name.log")" -ne 1 ]; then
		ok=0
		why="'$args': status $rc"
		break
	fi
done
if [ $ok -eq 1 ]; then
	result $name PASS "each is exit 2 with one line: $(cut -c1-100 "$T/$name.log")"
else
	fail $name "$why (want 2)"
fi

# --- virtio devices: the board is rebuilt from the snapshot (disk, rng,
# balloon), the balloon's target survives, the guest goes on ---
name=snapshot-devices
truncate -s 8M "$T/disk.img"
start $name --disk "$T/disk.img" --rng --balloon
if wait_ticks "$T/$name.log" 2 &&
	ctl "$T/$name.sock" balloon set 4 >"$T/$name.ctl.log" 2>&1 &&
	ctl "$T/$name.sock" pause >>"$T/$name.ctl.log" 2>&1 && sleep 0.3 &&
	ctl "$T/$name.sock" snapshot "$T/$name.snap" >>"$T/$name.ctl.log" 2>&1; then
	n=$(last_tick "$T/$name.log")
	stop "$vm_pid"
	restore $name r --restore "$T/$name.snap" --restore-mode copy \
		--control-socket "$T/$name.r.sock"
	wait_ticks "$T/$name.r.log" $((n + 2))
	ctl "$T/$name.r.sock" balloon stats >"$T/$name.stats.log" 2>&1
	if [ "$(first_tick "$T/$name.r.log")" -eq $((n + 1)) ] &&
		grep -q '"target_mib":4,' "$T/$name.stats.log"; then
		result $name PASS "disk, rng and balloon rebuilt; balloon target 4 MiB kept; counting on at $((n + 1))"
	else
		fail $name "first tick $(first_tick "$T/$name.r.log") (want $((n + 1))), stats: $(cut -c1-60 "$T/$name.stats.log")"
	fi
	stop "$r_pid"
else
	fail $name "balloon set, pause or snapshot failed"
	stop "$vm_pid"
fi

# --- 2 vCPUs; a snapshot of a lazily restored VM (pages it has not
# touched yet come from the first snapshot's files) restores too ---
name=snapshot-of-restored-2cpus
if snap_paused $name base --cpus 2; then
	restore $name r --restore "$T/$name.snap" --control-socket "$T/$name.r.sock"
	wait_ticks "$T/$name.r.log" $((paused_at + 1))
	if ctl "$T/$name.r.sock" pause >"$T/$name.ctl2.log" 2>&1 && sleep 0.3 &&
		n=$(last_tick "$T/$name.r.log") &&
		ctl "$T/$name.r.sock" snapshot "$T/$name.snap2" >>"$T/$name.ctl2.log" 2>&1; then
		stop "$r_pid"
		restore $name r2 --restore "$T/$name.snap2" --restore-mode copy
		wait_ticks "$T/$name.r2.log" $((n + 2))
		f=$(first_tick "$T/$name.r2.log")
		if [ "$f" -eq $((n + 1)) ] && ! grep -q PATTERN-BAD "$T/$name.r2.log"; then
			result $name PASS "2 vCPUs; restored at $((paused_at + 1)), snapshotted again at $n, restored again at $f"
		else
			fail $name "second restore's first tick $f, want $((n + 1))"
		fi
		stop "$r_pid"
	else
		fail $name "pause or snapshot of the restored VM failed"
		stop "$r_pid"
	fi
else
	fail $name "$why"
fi

# --- a directory that is no snapshot, and a disk that is gone: exit 1,
# one line naming what is missing ---
name=snapshot-restore-missing
mkdir -p "$T/$name.snap"
timeout 20 "$MICROVM" --restore "$T/$name.snap" </dev/null >"$T/$name.log" 2>&1
rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c 'microvm: error:' "$T/$name.log")" -eq 1 ] &&
	grep -q 'is .* a snapshot directory' "$T/$name.log"; then
	result $name PASS "$(cut -c1-140 "$T/$name.log")"
else
	fail $name "status $rc (want 1 with one line)"
fi
name=snapshot-restore-disk-gone
if [ -d "$T/snapshot-devices.snap" ]; then
	mv "$T/disk.img" "$T/disk.moved"
	timeout 20 "$MICROVM" --restore "$T/snapshot-devices.snap" </dev/null >"$T/$name.log" 2>&1
	rc=$?
	mv "$T/disk.moved" "$T/disk.img"
	if [ $rc -eq 1 ] && [ "$(grep -c 'microvm: error:' "$T/$name.log")" -eq 1 ] &&
		grep -q 'disk.img' "$T/$name.log" && ! grep -q '^TICK' "$T/$name.log"; then
		result $name PASS "$(cut -c1-140 "$T/$name.log")"
	else
		fail $name "status $rc (want 1 with one line naming the disk)"
	fi
else
	fail $name "no snapshot from snapshot-devices"
fi

# --- the lazy restore's userfaultfd handler thread runs under a seccomp
# list of its own: every thread of a restored VM (THP: the handler serves
# it) is filtered (Seccomp: 2), and the restore still counts on ---
name=snapshot-lazy-handler-seccomp
if snap_paused $name thp; then
	restore $name r --restore "$T/$name.snap"
	wait_ticks "$T/$name.r.log" $((paused_at + 2))
	nthreads=0
	unfiltered=""
	for st in /proc/"$r_pid"/task/*/status; do
		nthreads=$((nthreads + 1))
		mode=$(awk '/^Seccomp:/ {print $2}' "$st" 2>/dev/null)
		[ "$mode" = 2 ] || unfiltered="$unfiltered $(awk '/^Name:/ {print $2}' "$st")($mode)"
	done
	f=$(first_tick "$T/$name.r.log")
	# The main thread, the vCPU and the handler at least.
	if [ "$f" -eq $((paused_at + 1)) ] && ! grep -q PATTERN-BAD "$T/$name.r.log" &&
		[ "$(last_tick "$T/$name.r.log")" -ge $((paused_at + 2)) ] &&
		[ "$nthreads" -ge 3 ] && [ -z "$unfiltered" ]; then
		result $name PASS "$nthreads threads, all with Seccomp: 2; counting on at $f"
	else
		fail $name "first tick $f (want $((paused_at + 1))), $nthreads threads, unfiltered:${unfiltered:- none}"
	fi
	stop "$r_pid"
else
	fail $name "$why"
fi

# --- the lazy handler fails (the memory file cut short under a running
# clone): the VM stops with exit 1 and one error line, no hang. tiny5
# touches a page it never touched before when the balloon target is set,
# after the file was truncated: the handler cannot fill it ---
name=snapshot-lazy-handler-fails
if K=$T/tiny5.elf snap_paused $name thp --balloon; then
	restore $name r --restore "$T/$name.snap" --control-socket "$T/$name.r.sock"
	if wait_ticks "$T/$name.r.log" $((paused_at + 2)); then
		: >"$T/$name.snap/mem-0"
		ctl "$T/$name.r.sock" balloon set 1 >"$T/$name.ctl2.log" 2>&1
		i=0
		while [ $i -lt 100 ] && kill -0 "$r_pid" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$r_pid" 2>/dev/null; then
			fail $name "the VM still runs 10 s after its handler failed (hang)"
			stop "$r_pid"
		else
			wait "$r_pid"
			rc=$?
			if [ $rc -eq 1 ] && [ "$(grep -c 'microvm: error:' "$T/$name.r.log")" -eq 1 ] &&
				grep 'microvm: error:' "$T/$name.r.log" | grep -q 'lazy memory restore failed.*truncated'; then
				result $name PASS "$(grep 'microvm: error:' "$T/$name.r.log" | cut -c1-160)"
			else
				fail $name "status $rc (want 1 with one error line about the truncated memory file)"
			fi
		fi
	else
		fail $name "the restored guest did not count"
		stop "$r_pid"
	fi
else
	fail $name "$why"
fi

# --- two zones with different policies (shared memfd base pages, and
# hugetlb): the snapshot records them, the restore rebuilds the same zones
# and the guest counts on with its pattern intact, lazy and copy ---
for mode in lazy copy; do
	name=snapshot-zones-$mode
	hugefree=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
	if [ "$hugefree" -lt 12 ]; then
		result $name SKIP "needs 12 free 2 MiB hugepages ($hugefree free)"
		continue
	fi
	if MEM='' snap_paused $name - --mem-zone id=low,size=8M,shared=on \
		--mem-zone id=high,size=24M,pages=huge; then
		restore $name r --restore "$T/$name.snap" --restore-mode $mode --verbose
		wait_ticks "$T/$name.r.log" $((paused_at + 2))
		f=$(first_tick "$T/$name.r.log")
		if [ "$f" -eq $((paused_at + 1)) ] && ! grep -q PATTERN-BAD "$T/$name.r.log" &&
			[ "$(last_tick "$T/$name.r.log")" -ge $((paused_at + 2)) ] &&
			grep -q "^microvm:   low  *8M  *base" "$T/$name.r.log" && grep -q "^microvm:   high  *24M  *huge" "$T/$name.r.log"; then
			result $name PASS "zones low (shared base) and high (huge) rebuilt; counting on at $f"
		else
			fail $name "first tick $f (want $((paused_at + 1))), or the zones were not rebuilt"
		fi
		stop "$r_pid"
	else
		fail $name "$why"
	fi
done

# --- --mem-hotplug: the hotplug zone and the virtio-mem device's state
# (here the requested size the host set) come back with the restore; the
# tiny guest drives no virtio-mem, the nested cases do ---
name=snapshot-mem-hotplug
start $name --mem-hotplug size=128M
if wait_ticks "$T/$name.log" 2 &&
	ctl "$T/$name.sock" mem set 64 >"$T/$name.ctl.log" 2>&1 &&
	ctl "$T/$name.sock" pause >>"$T/$name.ctl.log" 2>&1 && sleep 0.3 &&
	ctl "$T/$name.sock" snapshot "$T/$name.snap" >>"$T/$name.ctl.log" 2>&1; then
	n=$(last_tick "$T/$name.log")
	stop "$vm_pid"
	restore $name r --restore "$T/$name.snap" --control-socket "$T/$name.r.sock"
	wait_ticks "$T/$name.r.log" $((n + 2))
	ctl "$T/$name.r.sock" mem stats >"$T/$name.stats.log" 2>&1
	if [ "$(first_tick "$T/$name.r.log")" -eq $((n + 1)) ] &&
		grep -q '"requested_mib":64,' "$T/$name.stats.log"; then
		result $name PASS "hotplug zone rebuilt, requested 64 MiB kept; counting on at $((n + 1))"
	else
		fail $name "first tick $(first_tick "$T/$name.r.log") (want $((n + 1))), stats: $(cut -c1-80 "$T/$name.stats.log")"
	fi
	stop "$r_pid"
else
	fail $name "mem set, pause or snapshot failed"
	stop "$vm_pid"
fi

# --- what bench-restore measures (scripts/bench-restore.d/mem.sh): two
# lazy clones of one base snapshot share the snapshot file's clean pages,
# so each one's Pss falls when the second runs; their RSS does not ---
name=snapshot-clones-share
# shellcheck source=scripts/bench-restore.d/mem.sh
. "$(dirname "$0")/../../scripts/bench-restore.d/mem.sh"
if [ -d "$T/snapshot-base-lazy.snap" ]; then
	src=$T/snapshot-base-lazy.snap
	n0=$(first_tick "$T/snapshot-base-lazy.r.log")
	restore $name a --restore "$src"
	pa=$r_pid
	wait_ticks "$T/$name.a.log" $((n0 + 1))
	read -r rss1 pss1 file1 _ faults1 <<<"$(proc_mem "$pa")"
	restore $name b --restore "$src"
	pb=$r_pid
	wait_ticks "$T/$name.b.log" $((n0 + 1))
	read -r rss2 pss2 file2 _ _ <<<"$(proc_mem "$pa")"
	# The pattern's 16 MiB are read through the file mapping: shared.
	if [ "$file1" -ge 8192 ] && [ "$faults1" -gt 0 ] &&
		[ "$pss2" -lt $((pss1 - 4096)) ] && [ "$rss2" -ge $((rss1 - 1024)) ]; then
		result $name PASS "one clone: RSS $rss1 kB, Pss $pss1 kB, file $file1 kB, $faults1 faults; with a second: RSS $rss2 kB, Pss $pss2 kB"
	else
		fail $name "one clone: RSS $rss1 Pss $pss1 file $file1 faults $faults1; two: RSS $rss2 Pss $pss2 file $file2 (want file pages shared: Pss down by 4 MiB or more)"
	fi
	stop "$pa"
	stop "$pb"
else
	fail $name "no snapshot from snapshot-base-lazy to clone"
fi
