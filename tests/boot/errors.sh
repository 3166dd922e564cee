#!/bin/bash
# Every bad input gets a one-line error naming the problem, a non-zero exit
# and no hang. These need no Linux boot, so they run on any host with
# microvm built (some need /dev/kvm, some root; those SKIP without).
# Prints: BOOT-TEST <name> PASS|FAIL|SKIP [why]. Needs MICROVM, VMLINUX.
set -u
: "${MICROVM:?}" "${VMLINUX:?}"
# Declare every case before any result: tests/boot/run fails each one that
# gets no result line (the file died half-way).
echo "BOOT-EXPECT no-kernel missing-kernel kernel-is-dir not-a-kernel empty-kernel unreadable-initrd bad-size zero-size bad-policy bad-fallback too-many-cpus zero-cpus unknown-option stray-argument mem-not-page-multiple pool-short huge1g-not-multiple fallback-with-mem-file bad-net-name bad-net-mac multicast-mac net-twice bad-balloon bad-balloon-stats disk-no-name empty-stats-json long-control-socket missing-disk ctl-no-socket ctl-no-request ctl-unknown-request ctl-bad-target ctl-no-vm early-bad-net early-bad-mac early-bad-balloon early-bad-disk early-mem-multiple kernel-too-big initrd-too-big mem-file-too-small mem-file-cleanup mem-file-removed no-dev-kvm kvm-not-writable"
T=$(mktemp -d /tmp/microvm-errors.XXXXXX)
trap 'rm -rf "$T"' EXIT

result() {
	echo "BOOT-TEST $*"
}

# expect NAME STATUS 'message part' -- ARGS...  (STATUS: exact exit code)
expect() {
	local name=$1 want_rc=$2 want_msg=$3 rc out
	shift 4
	out=$(timeout 20 "$MICROVM" "$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 124 ]; then
		result "$name" FAIL "hung (killed after 20 s)"
	elif [ $rc -ne "$want_rc" ]; then
		result "$name" FAIL "exit status $rc, wanted $want_rc: $out"
	elif [ "$(printf '%s\n' "$out" | grep -c 'microvm: error:')" -ne 1 ]; then
		result "$name" FAIL "not exactly one error line: $out"
	elif ! printf '%s' "$out" | grep -qF -- "$want_msg"; then
		result "$name" FAIL "message lacks '$want_msg': $out"
	else
		result "$name" PASS "$(printf '%s' "$out" | head -c 160)"
	fi
}

K=(--kernel "$VMLINUX")
expect no-kernel 2 "no kernel given: use --kernel" --
expect missing-kernel 1 "cannot read kernel /nonexistent/vmlinux: No such file" -- --kernel /nonexistent/vmlinux
expect kernel-is-dir 1 "is not a regular file" -- --kernel /
printf 'just text\n' >"$T/notakernel"
expect not-a-kernel 1 "not a kernel" -- --kernel "$T/notakernel"
: >"$T/empty"
expect empty-kernel 1 "is empty" -- --kernel "$T/empty"
expect unreadable-initrd 1 "cannot read initrd" -- "${K[@]}" --initrd /nonexistent/initrd
expect bad-size 2 "--mem '12X' is not a size" -- "${K[@]}" --mem 12X
expect zero-size 2 "is not a size" -- "${K[@]}" --mem 0
expect bad-policy 2 "unknown page policy 'giant'" -- "${K[@]}" --pages giant
expect bad-fallback 2 "not smaller than" -- "${K[@]}" --pages huge,fallback=huge1g
expect too-many-cpus 2 "too many vCPUs" -- "${K[@]}" --cpus 65
expect zero-cpus 2 "is not a vCPU count" -- "${K[@]}" --cpus 0
expect unknown-option 2 "unknown option '--frobnicate'" -- "${K[@]}" --frobnicate
expect stray-argument 2 "unexpected argument 'vmlinux'" -- "${K[@]}" vmlinux
expect mem-not-page-multiple 2 "not a multiple of the 2M page size" -- "${K[@]}" --mem 513M --pages huge
expect pool-short 1 "hugepage pool too small: need 32768 2M pages" -- "${K[@]}" --mem 64G --pages huge
expect huge1g-not-multiple 2 "not a multiple of the 1G page size" -- "${K[@]}" --mem 1536M --pages huge1g
expect fallback-with-mem-file 2 "fallback= cannot be combined with --mem-file" -- "${K[@]}" --pages huge,fallback=thp --mem-file "$T/fb.mem"
# Device options: checked with the rest of the command line (exit 2), not
# when the device is set up.
expect bad-net-name 2 "--net: 'bad/name' is not a valid interface name" -- "${K[@]}" --net tap=bad/name
expect bad-net-mac 2 "--net: bad MAC 'zz'" -- "${K[@]}" --net tap=t0,mac=zz
expect multicast-mac 2 "is a multicast address" -- "${K[@]}" --net tap=t0,mac=01:00:5e:00:00:01
expect net-twice 2 "--net given twice" -- "${K[@]}" --net tap=t0 --net tap=t1
expect bad-balloon 2 "--balloon: unknown option 'report'" -- "${K[@]}" --balloon=report
expect bad-balloon-stats 2 "--balloon: stats='9999'" -- "${K[@]}" --balloon=stats=9999
expect disk-no-name 2 "--disk needs a file name" -- "${K[@]}" --disk ,ro
expect empty-stats-json 2 "--stats-json needs a file name" -- "${K[@]}" --stats-json ''
expect long-control-socket 2 "--control-socket path is longer than 107 bytes" -- "${K[@]}" --control-socket "/tmp/$(printf '%0120d' 0)"
expect missing-disk 1 "disk image /nonexistent/disk.img: no such file" -- "${K[@]}" --disk /nonexistent/disk.img
# `microvm ctl` usage errors: 2, before any connection.
expect ctl-no-socket 2 "usage: microvm ctl SOCKET REQUEST" -- ctl
expect ctl-no-request 2 "microvm ctl needs a request" -- ctl "$T/none.sock"
expect ctl-unknown-request 2 "unknown request 'pong'" -- ctl "$T/none.sock" pong
expect ctl-bad-target 2 "balloon set <MiB>" -- ctl "$T/none.sock" balloon set lots
expect ctl-no-vm 1 "cannot connect to control socket" -- ctl "$T/none.sock" ping

# A bad value is reported before anything is acquired: no /dev/kvm, no
# kernel file, no guest memory (16G prefaulted would take a while), fast.
# expect_nothing_acquired NAME 'message part' -- ARGS...
expect_nothing_acquired() {
	local name=$1 want_msg=$2 rc out start end
	shift 3
	start=$(date +%s%N)
	out=$(timeout 20 strace -f -qq -e trace=open,openat,mmap -o "$T/trace" \
		"$MICROVM" "$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	end=$(date +%s%N)
	if [ $rc -ne 2 ]; then
		result "$name" FAIL "exit status $rc, wanted 2: $out"
	elif ! printf '%s' "$out" | grep -qF -- "$want_msg"; then
		result "$name" FAIL "message lacks '$want_msg': $out"
	elif grep -qE '/dev/kvm|'"$VMLINUX" "$T/trace"; then
		result "$name" FAIL "opened before the error: $(grep -E '/dev/kvm|'"$VMLINUX" "$T/trace" | head -n 2)"
	elif grep -E 'mmap\(NULL, [0-9]{9,}' "$T/trace" | grep -q .; then
		result "$name" FAIL "mapped guest memory before the error: $(grep -E 'mmap\(NULL, [0-9]{9,}' "$T/trace" | head -n 1)"
	elif [ $(((end - start) / 1000000)) -gt 5000 ]; then
		result "$name" FAIL "took $(((end - start) / 1000000)) ms"
	else
		result "$name" PASS "exit 2 in $(((end - start) / 1000000)) ms, no /dev/kvm, kernel or guest memory: $out"
	fi
}
if command -v strace >/dev/null && strace -f -qq -o /dev/null true 2>/dev/null; then
	expect_nothing_acquired early-bad-net "not a valid interface name" -- "${K[@]}" --mem 16G --prefault --net tap=bad/name
	expect_nothing_acquired early-bad-mac "bad MAC" -- "${K[@]}" --mem 16G --prefault --net tap=t0,mac=52:54
	expect_nothing_acquired early-bad-balloon "--balloon: unknown option" -- "${K[@]}" --mem 16G --prefault --balloon=inflate
	expect_nothing_acquired early-bad-disk "--disk needs a file name" -- "${K[@]}" --mem 16G --prefault --disk ''
	expect_nothing_acquired early-mem-multiple "not a multiple of the 2M page size" -- "${K[@]}" --mem 16385M --pages huge --prefault
else
	for c in early-bad-net early-bad-mac early-bad-balloon early-bad-disk early-mem-multiple; do
		result $c SKIP "strace cannot trace here (needed to see what was opened)"
	done
fi

if [ -w /dev/kvm ]; then
	expect kernel-too-big 1 "does not fit" -- "${K[@]}" --mem 8M
	truncate -s 300M "$T/big-initrd"
	expect initrd-too-big 1 "initrd" -- "${K[@]}" --mem 256M --initrd "$T/big-initrd"
	printf 'x' >"$T/small.mem"
	expect mem-file-too-small 1 "holds 1 but the guest needs 256M" -- "${K[@]}" --mem 256M --mem-file "$T/small.mem"
	# A memory file microvm created for a VM that then failed is removed.
	expect mem-file-cleanup 1 "not a kernel" -- --kernel "$T/notakernel" --mem-file "$T/new.mem"
	if [ -e "$T/new.mem" ]; then
		result mem-file-removed FAIL "$T/new.mem left behind"
	else
		result mem-file-removed PASS "no half-written memory file"
	fi
else
	for c in kernel-too-big initrd-too-big mem-file-too-small mem-file-cleanup mem-file-removed; do
		result $c SKIP "/dev/kvm not writable here"
	done
fi

# /dev/kvm missing or not writable: a private mount namespace (root only).
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	cp "$VMLINUX" "$T/vmlinux" && chmod 755 "$T" && chmod 644 "$T/vmlinux"
	cp "$MICROVM" "$T/microvm" && chmod 755 "$T/microvm"
	out=$(timeout 20 unshare -m sh -c "mount -t tmpfs none /dev && exec '$T/microvm' --kernel '$T/vmlinux'" 2>&1 </dev/null)
	rc=$?
	if [ $rc -eq 1 ] && printf '%s' "$out" | grep -qF "/dev/kvm does not exist"; then
		result no-dev-kvm PASS "$out"
	else
		result no-dev-kvm FAIL "status $rc: $out"
	fi
	if command -v setpriv >/dev/null && [ -e /dev/kvm ] && [ "$(stat -c %a /dev/kvm)" = 600 ]; then
		out=$(timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$T/microvm" --kernel "$T/vmlinux" 2>&1 </dev/null)
		rc=$?
		if [ $rc -eq 1 ] && printf '%s' "$out" | grep -qF "/dev/kvm is not writable"; then
			result kvm-not-writable PASS "$out"
		else
			result kvm-not-writable FAIL "status $rc: $out"
		fi
	else
		result kvm-not-writable SKIP "needs setpriv and a /dev/kvm with mode 600"
	fi
else
	result no-dev-kvm SKIP "needs root and unshare"
	result kvm-not-writable SKIP "needs root"
fi
