#!/bin/sh
# Balloon boot cases: free page reporting per page policy (memory the guest
# frees goes back to the host), inflate/deflate through the control socket,
# deflate on OOM. Runs where KVM can boot Linux: on the host, or inside the
# nested L1 (busybox sh there, so POSIX sh only). Prints one line per case:
#   BOOT-TEST <name> PASS|FAIL|SKIP [why]
# and for each reporting case one line for scripts/bench-balloon:
#   BALLOON-BENCH policy=P freed_mib=N returned_mib=N pct=N secs=S ...
# Host memory held by the guest is measured from outside the VMM: its Rss in
# /proc/PID/smaps_rollup for base and thp, the 2M hugepages in use
# (nr_hugepages - free_hugepages) for huge.
# Needs: MICROVM VMLINUX INITRD (paths) and a writable TMPDIR. Optional:
# BALLOON_CASES (default "report inflate oom"), BALLOON_POLICIES (default
# "base thp huge").
: "${MICROVM:?}" "${VMLINUX:?}" "${INITRD:?}"
T=${TMPDIR:-/tmp}/microvm-balloon.$$
mkdir -p "$T"
DEFAULT="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
HP=/proc/sys/vm/nr_hugepages
HPFREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
CASES=${BALLOON_CASES:-report inflate oom}
POLICIES=${BALLOON_POLICIES:-base thp huge}
HOG_MIB=256 # what bl-report.sh allocates and frees

# Declare every case before any result: tests/boot/run fails each one that
# gets no result line (the file died half-way).
expect=
for c in $CASES; do
	case $c in
	report) for p in $POLICIES; do expect="$expect balloon-report-$p"; done ;;
	inflate) expect="$expect balloon-inflate-deflate" ;;
	oom) expect="$expect balloon-deflate-on-oom" ;;
	*) expect="$expect balloon-$c" ;;
	esac
done
echo "BOOT-EXPECT$expect"

result() {
	echo "BOOT-TEST $*"
}

now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
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
	: >"$VM_LOG" # exists before the background job opens it
	"$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" \
		--control-socket "$VM_SOCK" \
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

fail() {
	fname=$1
	shift
	result "$fname" FAIL "$*"
	tail -n 15 "$VM_LOG" | sed "s/^/  $fname| /"
}

ctl() {
	"$MICROVM" ctl "$VM_SOCK" "$@" 2>&1
}

# field NAME: a number from the JSON reply on stdin.
field() {
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# mib NAME: a byte count from the JSON reply on stdin, in MiB (0 if absent).
mib() {
	v=$(field "$1")
	echo $((${v:-0} >> 20))
}

# held_kb POLICY: host memory the guest holds now, in kB.
held_kb() {
	if [ "$1" = huge ]; then
		echo $((($(cat $HP) - $(cat $HPFREE)) * 2048))
	else
		awk '$1 == "Rss:" {print $2}' "/proc/$VM_PID/smaps_rollup" 2>/dev/null
	fi
}

# The guest allocates, touches and frees 256 MiB; the host watches what it
# holds drop, then the guest allocates it all again.
case_report() {
	pol=$1
	name=balloon-report-$pol
	if [ "$pol" = huge ]; then
		if ! hugepool_reserve huge 512; then
			result "$name" SKIP "$hugepool_why"
			return
		fi
	fi
	vm_start "$name" bl-report --mem 512M --pages "$pol" --balloon=reporting
	if ! wait_for "MEMHOG touched" 180; then
		fail "$name" "the guest never finished touching $HOG_MIB MiB"
		vm_finish 5
		return
	fi
	peak=$(held_kb "$pol")
	peak=${peak:-0}
	if ! wait_for "MEMHOG freed" 60; then
		fail "$name" "the guest never freed its $HOG_MIB MiB"
		vm_finish 5
		return
	fi
	t0=$(now_cs)
	best=0
	tbest=0
	want=$((HOG_MIB * 1024 * 95 / 100))
	# Poll for up to 20 s (the guest waits 20 s before reallocating);
	# the time is when the last step of 2 MiB or more arrived.
	while [ $(($(now_cs) - t0)) -lt 2000 ]; do
		h=$(held_kb "$pol")
		[ -n "$h" ] || break # the VMM is gone
		got=$((peak - h))
		if [ $got -ge $((best + 2048)) ]; then
			best=$got
			tbest=$(($(now_cs) - t0))
		fi
		[ $best -ge $want ] && break
		usleep 200000
	done
	stats=$(ctl balloon stats)
	wait_for "BL-REALLOC" 120
	vm_finish 60
	secs=$((tbest / 100)).$((tbest % 100 / 10))
	pct=$((best * 100 / (HOG_MIB * 1024)))
	echo "BALLOON-BENCH policy=$pol freed_mib=$HOG_MIB returned_mib=$((best / 1024)) pct=$pct secs=$secs peak_mib=$((peak / 1024)) reported_mib=$(echo "$stats" | mib reported_bytes) returned_4k_mib=$(echo "$stats" | mib returned_4k) returned_2m_mib=$(echo "$stats" | mib returned_2m) unfreed_reports=$(echo "$stats" | field unfreed_reports)"
	if [ "$VM_RC" -ne 0 ] || ! grep -qF "MICROVM-INIT done" "$VM_LOG"; then
		fail "$name" "exit status $VM_RC: $(grep 'microvm: error' "$VM_LOG" | tail -n 1)"
	elif grep -qF "MEMHOG FAIL" "$VM_LOG"; then
		fail "$name" "guest memory corrupted: $(grep -F 'MEMHOG FAIL' "$VM_LOG" | head -n 1)"
	elif ! grep -qF "BL-REALLOC ok" "$VM_LOG"; then
		fail "$name" "the guest could not allocate $HOG_MIB MiB again"
	elif [ $pct -lt 75 ]; then
		fail "$name" "only $((best / 1024)) of $HOG_MIB MiB freed in the guest came back to the host within 20 s (held $((peak / 1024)) MiB at the peak)"
	else
		result "$name" PASS "$((best / 1024)) of $HOG_MIB MiB freed in the guest returned to the host ($pct%) in ${secs} s; reallocated after"
	fi
}

# The host sets a 128 MiB target, then 0, through the control socket; the
# guest sees MemAvailable drop and come back.
case_inflate() {
	name=balloon-inflate-deflate
	vm_start "$name" bl-inflate --mem 512M --balloon=stats=1 --verbose
	if ! wait_for "BL-READY" 120; then
		fail "$name" "the guest never got ready"
		vm_finish 5
		return
	fi
	r=$(ctl balloon set 128)
	case "$r" in
	'{"ok":true}'*) ;;
	*)
		fail "$name" "balloon set 128 answered: $r"
		vm_finish 5
		return
		;;
	esac
	n=0
	act=
	while [ $n -lt 120 ]; do
		act=$(ctl balloon stats | field actual_mib)
		[ "$act" = 128 ] && break
		usleep 500000
		n=$((n + 1))
	done
	wait_for "BL-INFLATED" 30
	s1=$(ctl balloon stats)
	ctl balloon set 0 >/dev/null
	n=0
	act0=
	while [ $n -lt 120 ]; do
		act0=$(ctl balloon stats | field actual_mib)
		[ "$act0" = 0 ] && break
		usleep 500000
		n=$((n + 1))
	done
	wait_for "BL-DEFLATED" 30
	vm_finish 60
	infl=$(echo "$s1" | mib inflated_bytes)
	upd=$(echo "$s1" | field stats_updates)
	a=$(sed -n 's/.*BL-MEM start avail_kb=\([0-9]*\).*/\1/p' "$VM_LOG")
	b=$(sed -n 's/.*BL-INFLATED avail_kb=\([0-9]*\).*/\1/p' "$VM_LOG")
	c=$(sed -n 's/.*BL-DEFLATED avail_kb=\([0-9]*\).*/\1/p' "$VM_LOG")
	if [ "$VM_RC" -ne 0 ]; then
		fail "$name" "exit status $VM_RC"
	elif [ "$act" != 128 ] || [ "$act0" != 0 ]; then
		fail "$name" "actual never reached 128 then 0 MiB (saw ${act:-none}, then ${act0:-none})"
	elif [ -z "$b" ] || [ -z "$c" ]; then
		fail "$name" "guest MemAvailable did not drop by 100 MiB and recover ($(grep -F 'BL-END' "$VM_LOG"))"
	elif [ "${upd:-0}" -lt 1 ] || ! echo "$s1" | grep -qF '"free-memory":'; then
		fail "$name" "no guest statistics with stats=1: $s1"
	elif ! grep -qE "virtio-balloon: target 0 MiB.*inflated ${infl} MiB" "$VM_LOG"; then
		fail "$name" "no balloon counters in the --verbose exit report"
	else
		result "$name" PASS "actual 128 then 0 MiB; guest MemAvailable ${a} -> ${b} -> ${c} kB; inflated ${infl} MiB; guest stats received ${upd}x"
	fi
}

# A 400 MiB balloon, then memhog wants more than is left: with
# deflate-on-oom the guest takes pages back from the balloon.
case_oom() {
	name=balloon-deflate-on-oom
	vm_start "$name" bl-oom --mem 512M --balloon=deflate-on-oom
	if ! wait_for "BL-READY" 120; then
		fail "$name" "the guest never got ready"
		vm_finish 5
		return
	fi
	ctl balloon set 400 >/dev/null
	max=0
	min=
	defl=0
	seen_hog=0
	n=0
	# Watch actual and the deflate counter until the guest is done.
	while [ $n -lt 300 ] && kill -0 "$VM_PID" 2>/dev/null; do
		s=$(ctl balloon stats)
		act=$(echo "$s" | field actual_mib)
		d=$(echo "$s" | field deflated_bytes)
		if [ -n "$act" ]; then
			[ "$act" -gt "$max" ] && max=$act
			if [ $seen_hog -eq 1 ] && { [ -z "$min" ] || [ "$act" -lt "$min" ]; }; then
				min=$act
			fi
		fi
		[ -n "$d" ] && defl=$d
		grep -qF "BL-INFLATED" "$VM_LOG" && seen_hog=1
		grep -qF "BL-END" "$VM_LOG" && break
		usleep 500000
		n=$((n + 1))
	done
	vm_finish 60
	hog=$(grep -o 'BL-OOM-HOG [a-z]*' "$VM_LOG")
	if [ "$VM_RC" -ne 0 ] || ! grep -qF "MICROVM-INIT done" "$VM_LOG"; then
		fail "$name" "the guest did not survive: exit status $VM_RC"
	elif [ "$max" -lt 300 ]; then
		fail "$name" "the balloon never held 300 MiB (max actual $max MiB)"
	elif [ "$defl" -eq 0 ] && [ "${min:-$max}" -ge "$max" ]; then
		fail "$name" "the balloon never deflated under memory pressure (max actual $max MiB; $hog)"
	elif [ "$hog" != "BL-OOM-HOG ok" ]; then
		fail "$name" "memhog did not get its memory: $hog (balloon deflated $((defl >> 20)) MiB)"
	else
		result "$name" PASS "balloon ${max} MiB, deflated $((defl >> 20)) MiB under OOM (actual down to ${min:-?} MiB); memhog got 160 MiB; guest alive"
	fi
}

# Hugepage pools through scripts/hugepool.sh (HUGEPOOL_LIB), as make run
# and the boot benchmark do; restored at the end.
# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"
for c in $CASES; do
	case $c in
	report)
		for p in $POLICIES; do
			case_report "$p"
		done
		;;
	inflate) case_inflate ;;
	oom) case_oom ;;
	*) result "balloon-$c" FAIL "unknown case '$c' in BALLOON_CASES: use report, inflate, oom" ;;
	esac
done
hugepool_restore
rm -rf "$T"
