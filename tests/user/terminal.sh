#!/usr/bin/env bash
# microvm in a real terminal, as a user runs it: each case runs build/microvm
# in a tmux pane (a pseudo-terminal, stdin a tty in the foreground process
# group) with a tiny PVH kernel on this machine's KVM, types keys with
# send-keys, sends signals, and checks the exit status, what the pane shows
# and that the terminal's settings (stty -g) are the same before and after.
# Prints USER-TEST <name> PASS|FAIL|SKIP [why].
# Needs: MICROVM (the binary); optional MICROVM_SELFTEST (make
# seccomp-selftest's build, for the SIGSYS case); tmux, as, ld.
set -u
: "${MICROVM:?}"
MICROVM=$(cd "$(dirname "$MICROVM")" && pwd)/$(basename "$MICROVM")
[ -z "${MICROVM_SELFTEST:-}" ] ||
	MICROVM_SELFTEST=$(cd "$(dirname "$MICROVM_SELFTEST")" && pwd)/$(basename "$MICROVM_SELFTEST")
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-term.XXXXXX")
sock=microvm-term-$$
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT

names="term-reset term-keys-to-guest term-ctrl-a-x term-sigint term-sigterm term-sighup term-sigquit term-fatal-error term-seccomp-kill term-background"
result() { echo "USER-TEST $*"; }
skip_all() {
	for c in $names; do result "$c" SKIP "$1"; done
	exit 0
}
command -v tmux >/dev/null || skip_all "tmux is not installed (scripts/install-deps installs it)"
{ [ -r /dev/kvm ] && [ -w /dev/kvm ]; } || skip_all "/dev/kvm is not usable here"
why=$(sh "$here/../tiny/build.sh" "$T" 2>&1) || skip_all "$why"

# start NAME KERNEL [MICROVM-ARGS...]: a new tmux session NAME whose pane
# saves stty -g, runs microvm (stderr to $T/NAME.err), saves its exit
# status and stty -g again. A unique word on the kernel command line lets
# pgrep find this microvm.
start() {
	local name=$1 kernel=$2 bin=${BIN:-$MICROVM}
	shift 2
	cat >"$T/$name.sh" <<EOF
stty -g >"$T/$name.before"
"$bin" --kernel "$kernel" --mem 64M --cmdline-append tag-$name-$$ $* 2>"$T/$name.err"
echo \$? >"$T/$name.rc"
stty -g >"$T/$name.after"
sleep 30
EOF
	tm new-session -d -s "$name" -x 120 -y 30 "sh $T/$name.sh"
	wait_for "$T/$name.before" 50
}

# wait_for FILE TENTHS: until FILE exists, at most TENTHS/10 s.
wait_for() {
	local i=0
	while [ ! -s "$1" ] && [ "$i" -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$1" ]
}

# pane_has NAME TEXT: the pane shows TEXT within 5 s.
pane_has() {
	local i=0
	while [ "$i" -lt 50 ]; do
		tm capture-pane -p -t "$1" 2>/dev/null | grep -qF -- "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

pid_of() { pgrep -f "tag-$1-$$" | head -n 1; }

# finish NAME WANT-RC WHAT: the verdict: exit status, terminal restored.
finish() {
	local name=$1 want=$2 what=$3 rc
	if ! wait_for "$T/$name.after" 150; then
		result "$name" FAIL "microvm did not exit within 15 s"
		tm kill-session -t "$name" 2>/dev/null
		pkill -KILL -f "tag-$name-$$" 2>/dev/null
		return
	fi
	rc=$(cat "$T/$name.rc")
	tm kill-session -t "$name" 2>/dev/null
	if [ "$rc" != "$want" ]; then
		result "$name" FAIL "exit status $rc, expected $want: $(tail -n 2 "$T/$name.err" | tr '\n' ' ')"
	elif ! cmp -s "$T/$name.before" "$T/$name.after"; then
		result "$name" FAIL "terminal settings changed: before $(cat "$T/$name.before"), after $(cat "$T/$name.after")"
	elif [ -n "${4:-}" ] && ! grep -qF -- "$4" "$T/$name.err"; then
		result "$name" FAIL "stderr lacks '$4': $(tail -n 2 "$T/$name.err" | tr '\n' ' ')"
	else
		result "$name" PASS "$what; exit $rc, terminal restored"
	fi
}

# The guest resets by itself.
start term-reset "$T/tiny0.elf"
finish term-reset 0 "guest reset"

# Keys reach the guest one by one, Ctrl-C included (raw mode: a byte for
# the guest, not SIGINT for the VMM); 'q' makes the echo guest reset.
start term-keys-to-guest "$T/tiny2.elf"
if pane_has term-keys-to-guest "PVH-TINY hello"; then
	for k in h i C-c; do
		tm send-keys -t term-keys-to-guest "$k"
		sleep 0.2
	done
	# A paste longer than the UART's FIFO arrives whole.
	# (no q: q makes the echo guest reset)
	paste=abcdefghijklmnoprstuvwxyz0123456789ABCDEFGHIJKLMNOPRSTUVWXYZ
	tm send-keys -t term-keys-to-guest -l "$paste"
	if pane_has term-keys-to-guest "hi^C$paste" && [ -n "$(pid_of term-keys-to-guest)" ]; then
		tm send-keys -t term-keys-to-guest q
		finish term-keys-to-guest 0 "typed 'hi', Ctrl-C and a ${#paste}-byte paste, all echoed by the guest; VMM still running after Ctrl-C"
	else
		result term-keys-to-guest FAIL "the guest did not echo 'hi^C' and the paste (pane: $(tm capture-pane -p -t term-keys-to-guest | tr -s '\n' ' '))"
		tm kill-session -t term-keys-to-guest
	fi
else
	result term-keys-to-guest FAIL "no guest output in the pane"
fi

# Ctrl-A x stops the VM from the terminal.
start term-ctrl-a-x "$T/tiny1.elf"
pane_has term-ctrl-a-x "PVH-TINY hello"
tm send-keys -t term-ctrl-a-x C-a
tm send-keys -t term-ctrl-a-x x
finish term-ctrl-a-x 0 "Ctrl-A x stopped the VM" "stopped from the console (Ctrl-A x)"

# Signals from outside: the documented 128+N, the stop line, terminal back.
for s in INT:130 TERM:143 HUP:129 QUIT:131; do
	sig=${s%:*} want=${s#*:}
	name=term-sig$(echo "$sig" | tr '[:upper:]' '[:lower:]')
	start "$name" "$T/tiny1.elf"
	pane_has "$name" "PVH-TINY hello"
	pid=$(pid_of "$name")
	[ -z "$pid" ] || kill -"$sig" "$pid"
	finish "$name" "$want" "SIG$sig" "stopped by"
done

# A fatal error after the terminal went raw: the stats file cannot be
# written at exit.
start term-fatal-error "$T/tiny0.elf" --stats-json "$T/no-such-dir/stats.json"
finish term-fatal-error 1 "error at exit" "microvm: error:"

# A seccomp kill (the self-test build makes a forbidden call at the first
# exit): the process dies of SIGSYS, and the terminal is still restored.
if [ -n "${MICROVM_SELFTEST:-}" ] && [ -x "$MICROVM_SELFTEST" ]; then
	BIN=$MICROVM_SELFTEST start term-seccomp-kill "$T/tiny0.elf"
	finish term-seccomp-kill 159 "killed by SIGSYS" "forbidden syscall"
else
	result term-seccomp-kill SKIP "no self-test build (make seccomp-selftest)"
fi

# In the background of an interactive shell (`microvm ... &`) microvm must
# not touch or read the terminal: no SIGTTOU/SIGTTIN stop.
name=term-background
cat >"$T/$name.sh" <<EOF
stty -g >"$T/$name.before"
"$MICROVM" --kernel "$T/tiny1.elf" --mem 64M --cmdline-append tag-$name-$$ 2>"$T/$name.err" &
pid=\$!
sleep 1
ps -o stat= -p \$pid >"$T/$name.stat"
kill -TERM \$pid
wait \$pid
echo \$? >"$T/$name.rc"
stty -g >"$T/$name.after"
sleep 30
EOF
tm new-session -d -s "$name" -x 120 -y 30 "bash --norc --noprofile -i $T/$name.sh"
if wait_for "$T/$name.after" 150 && ! grep -q T "$T/$name.stat"; then
	finish "$name" 143 "ran in the background (state $(tr -d ' \n' <"$T/$name.stat")), SIGTERM" "stopped by"
else
	result "$name" FAIL "state $(cat "$T/$name.stat" 2>/dev/null) (T = stopped by the terminal), status $(cat "$T/$name.rc" 2>/dev/null)"
	pkill -KILL -f "tag-$name-$$" 2>/dev/null
fi
exit 0
