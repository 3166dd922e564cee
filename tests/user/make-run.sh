#!/usr/bin/env bash
# The README's `make run` commands, typed literally, as a user runs them:
# without a terminal (CI, pipes) and in a real one (tmux), bare and with the
# mission's options; plus a boot with a user's own plain command line (no
# i8042 flags) whose KVM io_exits and i8042 status reads are held to a
# budget. Directly on hardware KVM, nested otherwise (make run decides).
# Prints USER-TEST <name> PASS|FAIL|SKIP [why] and, for the plain-cmdline
# boot, one USER-FIGURES line.
# Run from the top of the tree; needs make, tmux.
set -u
cd "$(dirname "$0")/../.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-make-run.XXXXXX")
sock=microvm-make-run-$$
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$T"' EXIT
# Budgets for a plain-cmdline boot to init and back (issue: AUX probing
# used to cost 20,037 reads of port 0x64 and 20,454 io exits).
IO_EXITS_MAX=1500
STATUS_READS_MAX=100
RUN_TIMEOUT=${RUN_TIMEOUT:-900}

result() { echo "USER-TEST $*"; }

# run_make NAME [RUN_ARGS]: `make run` (with RUN_ARGS="..." when given)
# with stdin not a terminal; output in $T/NAME.log, status in rc.
run_make() {
	local name=$1
	if [ $# -ge 2 ]; then
		timeout "$RUN_TIMEOUT" make -s run RUN_ARGS="$2" </dev/null >"$T/$name.log" 2>&1
	else
		timeout "$RUN_TIMEOUT" make -s run </dev/null >"$T/$name.log" 2>&1
	fi
	rc=$?
}

fail() {
	result "$1" FAIL "$2"
	tr -d '\r' <"$T/$1.log" | grep -av '^$' | tail -n 12 | sed "s/^/  $1| /"
}

# check NAME WHAT WANT...: exit 0, the mode line, init reached, each WANT
# (a fixed string) in the output.
check() {
	local name=$1 what=$2 w mode
	shift 2
	if [ "$rc" -ne 0 ]; then
		fail "$name" "make run exited $rc"
		return 1
	fi
	mode=$(grep -aoE 'run-vm: (DIRECT|NESTED)' "$T/$name.log" | head -n 1)
	for w in "run-vm: " "MICROVM-INIT done" "guest boot time:" "$@"; do
		if ! grep -aqF -- "$w" "$T/$name.log"; then
			fail "$name" "no '$w' in the output"
			return 1
		fi
	done
	result "$name" PASS "$what (${mode#run-vm: })"
}

# 1. Bare, exactly as the README says.
run_make make-run-bare
check make-run-bare "bare make run booted to init and exited 0"

# 2. With the mission's hugepages: the pool is reserved and said so.
run_make make-run-huge "--pages huge"
check make-run-huge "--pages huge: pool reserved, booted" "hugepool: 256 free 2M pages"

# 3. THP with two vCPUs.
run_make make-run-thp-2cpus "--pages thp --cpus 2"
check make-run-thp-2cpus "--pages thp --cpus 2" "MICROVM-INIT cpus=2"

# 4. A user's own plain command line, without microvm's i8042 flags: the
# controller must answer Linux's probe at once.
run_make make-run-plain-cmdline "--cmdline 'console=ttyS0 reboot=k panic=-1 quiet' --verbose"
if check make-run-plain-cmdline "plain user cmdline booted" "cmdline=console=ttyS0 reboot=k panic=-1 quiet" >"$T/plain.res"; then
	stats=$(tr -d '\r' <"$T/make-run-plain-cmdline.log" | grep -a '^microvm: stats {' | tail -n 1)
	io=$(printf '%s' "$stats" | grep -oE '"io_exits":[0-9]+' | cut -d: -f2)
	exits=$(printf '%s' "$stats" | grep -oE '"exits":[0-9]+' | head -n 1 | cut -d: -f2)
	reads=$(printf '%s' "$stats" | grep -oE '"i8042_status_reads":[0-9]+' | cut -d: -f2)
	echo "USER-FIGURES plain-cmdline io_exits=${io:-?} exits=${exits:-?} i8042_status_reads=${reads:-?} (budget io_exits<=$IO_EXITS_MAX, status reads<=$STATUS_READS_MAX)"
	if [ -z "$io" ] || [ -z "$reads" ]; then
		fail make-run-plain-cmdline "no io_exits or i8042_status_reads in the --verbose stats line"
	elif [ "$io" -gt "$IO_EXITS_MAX" ] || [ "$reads" -gt "$STATUS_READS_MAX" ]; then
		fail make-run-plain-cmdline "over budget: io_exits $io (max $IO_EXITS_MAX), port 0x64 reads $reads (max $STATUS_READS_MAX)"
	else
		result make-run-plain-cmdline PASS "io_exits $io <= $IO_EXITS_MAX, port 0x64 reads $reads <= $STATUS_READS_MAX $(grep -oE '\((DIRECT|NESTED)\)' "$T/plain.res")"
	fi
else
	cat "$T/plain.res"
fi

# 5. The mission's command line from the top of the README, typed as is in
# a directory holding vmlinux and initramfs.cpio.gz, with microvm on PATH
# and the 2M pool reserved first (scripts/hugepool.sh).
name=mission-command
cmd='microvm --mem 512M --pages huge --kernel vmlinux --initrd initramfs.cpio.gz'
kdir=$(scripts/build-guest-kernel 2>/dev/null) && initrd=$(scripts/build-initramfs 2>/dev/null)
mode=$(scripts/kvm-mode 2>/dev/null)
# shellcheck disable=SC2016 # expanded where the job runs
{
	echo '. ./hugepool.sh'
	echo 'hugepool_reserve huge 512 || echo "hugepool: $hugepool_why"'
	echo "PATH=\$PWD/bin:\$PATH $cmd </dev/null"
	echo 'echo "mission-command rc=$?"'
} >"$T/mission.sh"
case "$mode" in
direct)
	mkdir -p "$T/m/bin"
	cp scripts/hugepool.sh "$T/m/"
	ln -s "$PWD/build/microvm" "$T/m/bin/microvm"
	ln -s "$kdir/vmlinux" "$T/m/vmlinux"
	ln -s "$initrd" "$T/m/initramfs.cpio.gz"
	(cd "$T/m" && timeout "$RUN_TIMEOUT" sh "$T/mission.sh") >"$T/$name.log" 2>&1
	;;
*)
	make -s static
	sed -i 's|^\. \./hugepool.sh|cd /m \&\& . ./hugepool.sh|' "$T/mission.sh"
	timeout "$RUN_TIMEOUT" scripts/nested --file build/microvm-static:/m/bin/microvm \
		--file scripts/hugepool.sh:/m/hugepool.sh --file "$kdir/vmlinux:/m/vmlinux" \
		--file "$initrd:/m/initramfs.cpio.gz" "$T/mission.sh" >"$T/$name.log" 2>&1
	;;
esac
if ! grep -aq 'mission-command rc=0' "$T/$name.log"; then
	fail "$name" "'$cmd' did not exit 0"
elif ! grep -aqF 'MICROVM-INIT done' "$T/$name.log"; then
	fail "$name" "'$cmd' did not reach the guest's init"
else
	result "$name" PASS "'$cmd' booted to init on 2M hugepages and exited 0 ($(echo "$mode" | tr '[:lower:]' '[:upper:]'))"
fi

# wait_out REGEX SECONDS: the output of case $name shows a line matching
# REGEX.
wait_out() {
	local i=0
	while [ "$i" -lt "$2" ]; do
		tr -d '\r' 2>/dev/null <"$T/$name.log" | grep -aqE -- "$1" && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# terminal_case NAME MAKE-COMMAND: in a terminal (tmux), a shell prompt in
# the guest, a typed command's output comes back, `reboot` ends it with
# status 0 and the terminal as it was.
terminal_case() {
	name=$1
	cat >"$T/$name.sh" <<EOF
cd "$PWD"
stty -g >"$T/$name.before"
$2
echo \$? >"$T/$name.rc"
stty -g >"$T/$name.after"
sleep 60
EOF
	# The pane's output goes to the log as the user sees it; make run's
	# stdin and stdout stay the terminal.
	tm new-session -d -s "$name" -x 160 -y 50 "sleep 1; bash $T/$name.sh"
	tm pipe-pane -t "$name" -o "cat >>$T/$name.log"
	# shellcheck disable=SC2016 # the $((...)) is typed into the guest's shell
	if ! wait_out 'MICROVM-INIT shell$' "$RUN_TIMEOUT"; then
		fail "$name" "no guest shell started"
	elif ! { sleep 2; tm send-keys -t "$name" 'echo answer-$((6*7))' Enter; wait_out '^answer-42' 120; }; then
		fail "$name" "typed 'echo answer-\$((6*7))', no 'answer-42' came back"
	else
		tm send-keys -t "$name" 'reboot' Enter
		i=0
		while [ ! -s "$T/$name.after" ] && [ "$i" -lt 300 ]; do
			sleep 1
			i=$((i + 1))
		done
		rc=$(cat "$T/$name.rc" 2>/dev/null)
		if [ "$rc" != 0 ]; then
			fail "$name" "after reboot make run exited '${rc:-still running}'"
		elif ! cmp -s "$T/$name.before" "$T/$name.after"; then
			fail "$name" "terminal settings changed: $(cat "$T/$name.before") -> $(cat "$T/$name.after")"
		else
			result "$name" PASS "'$2': prompt, typed command answered, reboot exited 0, terminal restored ($(grep -aoE 'run-vm: (DIRECT|NESTED)' "$T/$name.log" | head -n 1 | cut -d' ' -f2))"
		fi
	fi
	tm kill-session -t "$name" 2>/dev/null
}

# A tired user's ARCH (32-bit arm): one line naming the choices, non-zero,
# before anything is built.
name=make-run-bad-arch
timeout 60 make -s run ARCH=arm </dev/null >"$T/$name.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q 'ARCH=arm: microvm builds for ARCH=x86 or ARCH=arm64' "$T/$name.log" &&
	[ "$(grep -cv '^$' "$T/$name.log")" -eq 1 ]; then
	result "$name" PASS "make run ARCH=arm: exit $rc, $(cat "$T/$name.log")"
else
	fail "$name" "make run ARCH=arm exited $rc, want non-zero and the one ARCH line"
fi

# 6. The arm64 VMM and guest, as the README's arm64 section says: without a
# terminal, bare and with the mission's hugepages.
arm64_mode=$(scripts/kvm-mode --arch arm64 2>"$T/arm64.why")
arm64_why=$(sed 's/^kvm-mode: none: //' "$T/arm64.why")
if [ "$arm64_mode" = none ]; then
	result make-run-arm64 SKIP "$arm64_why"
	result make-run-arm64-huge SKIP "$arm64_why"
else
	timeout "$RUN_TIMEOUT" make -s run ARCH=arm64 </dev/null >"$T/make-run-arm64.log" 2>&1
	rc=$?
	check make-run-arm64 "make run ARCH=arm64 booted the arm64 guest to init and exited 0" "kernel-arm64-"
	timeout "$RUN_TIMEOUT" make -s run ARCH=arm64 RUN_ARGS="--pages huge" </dev/null >"$T/make-run-arm64-huge.log" 2>&1
	rc=$?
	check make-run-arm64-huge "make run ARCH=arm64 RUN_ARGS=\"--pages huge\"" "kernel-arm64-" "hugepool: 256 free 2M pages"
fi

# 7. In a terminal, x86 and arm64.
if ! command -v tmux >/dev/null; then
	result make-run-terminal SKIP "tmux is not installed (scripts/install-deps installs it)"
	result make-run-arm64-terminal SKIP "tmux is not installed (scripts/install-deps installs it)"
	exit 0
fi
terminal_case make-run-terminal "make -s run"
if [ "$arm64_mode" = none ]; then
	result make-run-arm64-terminal SKIP "$arm64_why"
else
	terminal_case make-run-arm64-terminal "make -s run ARCH=arm64"
fi
exit 0
