# shellcheck shell=sh
# What the host case scripts (errors aside) share; source it after setting
# T (a private temporary directory). POSIX sh.
#   result NAME PASS|FAIL|SKIP [WHY...]  one BOOT-TEST line
#   host_begin "NAME..."  declares the cases (BOOT-EXPECT: tests/boot/run
#       fails each one that gets no result line), then, when /dev/kvm is not
#       usable or the tiny PVH kernels cannot be built, reports every case
#       as SKIP with the reason and exits 0; otherwise builds them into $T
#       and sets K (prints a line, resets: exit 0), KHANG (prints a line,
#       halts until a signal), KECHO (echoes the serial input) and KCHATTY
#       (1000 lines, then resets); see tests/tiny/tiny.S.
#   wait_hello LOG  waits up to 10 s for the tiny kernel's line in LOG.
#   host_run NAME MICROVM-ARGS...  runs $MICROVM with stdin from /dev/null,
#       stdout and stderr in $T/NAME.log, killed after 20 s (124); the
#       exit status in rc.
#   one_error NAME  $T/NAME.log holds exactly one "microvm: error:" line.
#   host_start NAME MICROVM-ARGS...  the hanging tiny kernel ($KHANG) in the
#       background, output in $T/NAME.log; its pid in pid (and in
#       host_pids) once it printed its line.
#   host_stop  SIGTERM to $pid, and waits for it.
#   host_kill_all  SIGKILL to every host_start'ed process (for EXIT traps).
#   host_kib FIELD FILE  the kB value of "FIELD: N kB" in a /proc file.
host_dir=$(dirname "$0")

result() {
	echo "BOOT-TEST $*"
}

host_begin() {
	host_names=$1
	echo "BOOT-EXPECT $host_names"
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		host_skip_all "/dev/kvm is not usable here"
	fi
	host_why=$(sh "$host_dir/../tiny/build.sh" "$T" 2>&1) || host_skip_all "$host_why"
	K=$T/tiny0.elf
	KHANG=$T/tiny1.elf
	KECHO=$T/tiny2.elf
	KCHATTY=$T/tiny3.elf
	export K KHANG KECHO KCHATTY
}

# host_skip_all WHY: every declared case SKIPs with WHY; the script ends.
host_skip_all() {
	for c in $host_names; do
		result "$c" SKIP "$1"
	done
	exit 0
}

wait_hello() {
	host_i=0
	while [ $host_i -lt 100 ] && ! grep -q "PVH-TINY hello" "$1" 2>/dev/null; do
		sleep 0.1
		host_i=$((host_i + 1))
	done
}

host_run() {
	host_log=$T/$1.log
	shift
	timeout 20 "$MICROVM" "$@" </dev/null >"$host_log" 2>&1
	rc=$?
}

one_error() {
	[ "$(grep -c 'microvm: error:' "$T/$1.log")" -eq 1 ]
}

host_pids=
host_start() {
	host_log=$T/$1.log
	shift
	"$MICROVM" --kernel "$KHANG" "$@" </dev/null >"$host_log" 2>&1 &
	pid=$!
	host_pids="$host_pids $pid"
	wait_hello "$host_log"
}

host_stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

host_kill_all() {
	for host_p in $host_pids; do kill -KILL "$host_p" 2>/dev/null; done
	wait 2>/dev/null
}

host_kib() {
	sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "$2"
}
