#!/bin/sh
# arm64 Linux boot cases: each page policy (base, THP, hugetlb 2M and 1G),
# the memory and vCPUs the device tree describes, and the exits through PSCI
# (SYSTEM_RESET and SYSTEM_OFF, both exit status 0). The virtio devices and
# the disk root are cases-virtio.sh's, balloon reporting cases-balloon.sh's:
# tests/boot/run runs those on arm64 too. Runs where KVM can boot an arm64
# Linux: on an arm64 host, or inside the nested arm64 L1 (busybox sh there,
# so POSIX sh only). Prints one line per case:
#   BOOT-TEST <name> PASS|FAIL|SKIP [why]
# Needs: MICROVM, KERNEL (the arm64 Image; VMLINUX is taken when KERNEL is
# unset), INITRD, HUGEPOOL_LIB (paths) and a writable TMPDIR.
KERNEL=${KERNEL:-${VMLINUX:-}}
: "${MICROVM:?}" "${KERNEL:?}" "${INITRD:?}"
# Declare every case before any result: tests/boot/run fails each one that
# gets no result line (the file died half-way).
ALL="arm64-base arm64-base-mem arm64-thp arm64-huge arm64-huge-no-leak arm64-huge1g arm64-smp2 arm64-reboot arm64-poweroff"
echo "BOOT-EXPECT $ALL"
if [ "${ARCH:-arm64}" != arm64 ]; then
	for c in $ALL; do
		echo "BOOT-TEST $c SKIP arm64 cases, and ARCH is $ARCH (ARCH=arm64 tests/boot/run runs them)"
	done
	exit 0
fi
T=${TMPDIR:-/tmp}/microvm-arm64.$$
mkdir -p "$T"
# ttyS0 is the 16550 the device tree names as stdout-path.
DEFAULT="console=ttyS0 panic=1"
HPFREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages

result() {
	echo "BOOT-TEST $*"
}

# fail NAME WHY: a FAIL line and the end of NAME's log.
fail() {
	result "$1" FAIL "$2"
	[ -f "$T/$1.log" ] && tail -n 20 "$T/$1.log" | sed "s/^/  $1| /"
	return 1
}

# boot NAME [EXPECT...] -- MICROVM-ARGS...
# Passes when microvm exits 0, the boot timer fired, and every EXPECT (a
# fixed string) is in the output. The caller adds "MICROVM-INIT done" to
# EXPECT when the guest's init must have finished.
boot() {
	name=$1
	shift
	n=0
	while [ "$1" != "--" ]; do
		n=$((n + 1))
		eval "exp_$n=\$1"
		shift
	done
	shift
	log="$T/$name.log"
	timeout 180 "$MICROVM" --boot-timer --kernel "$KERNEL" "$@" </dev/null >"$log" 2>&1
	rc=$?
	[ $rc -eq 0 ] ||
		fail "$name" "exit status $rc: $(grep 'microvm: error' "$log" | tail -n 1)" ||
		return 1
	grep -qF "guest boot time:" "$log" || fail "$name" "no 'guest boot time:' in the output" || return 1
	i=1
	want=
	while [ $i -le $n ]; do
		eval "want=\$exp_$i"
		grep -qF -- "$want" "$log" || fail "$name" "no '$want' in the output" || return 1
		i=$((i + 1))
	done
}

# pass NAME: the PASS line with the boot time microvm measured.
pass() {
	result "$1" PASS "$(grep -o 'guest boot time: [0-9]* ms wall' "$T/$1.log")${2:+; $2}"
}

# field NAME KEY: the value of the guest's last "MICROVM-INIT KEY=value".
field() {
	sed -n "s/^MICROVM-INIT $2=//p" "$T/$1.log" | tr -d '\r' | tail -n 1
}

# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"

# base: the device tree's memory node and one cpu node reach the guest.
if boot arm64-base "MICROVM-INIT done" "MICROVM-INIT cpus=1" -- \
	--initrd "$INITRD" --mem 256M --pages base; then
	pass arm64-base
	kb=$(field arm64-base mem_kb)
	if [ "${kb:-0}" -gt 200000 ] && [ "$kb" -le 262144 ]; then
		result arm64-base-mem PASS "MemTotal ${kb} kB for --mem 256M"
	else
		result arm64-base-mem FAIL "MemTotal ${kb:-none} kB for --mem 256M"
	fi
else
	result arm64-base-mem SKIP "arm64-base did not boot"
fi

boot arm64-thp "MICROVM-INIT done" -- --initrd "$INITRD" --mem 256M --pages thp &&
	pass arm64-thp

if hugepool_reserve huge 256; then
	free0=$(cat $HPFREE)
	boot arm64-huge "MICROVM-INIT done" -- --initrd "$INITRD" --mem 256M --pages huge &&
		pass arm64-huge
	free1=$(cat $HPFREE)
	if [ "$free0" = "$free1" ]; then
		result arm64-huge-no-leak PASS "free 2M pages $free0 before and after"
	else
		result arm64-huge-no-leak FAIL "free 2M pages $free0 before, $free1 after"
	fi
else
	result arm64-huge SKIP "$hugepool_why"
	result arm64-huge-no-leak SKIP "$hugepool_why"
fi

# 1 GiB pages: the L1 reserves one at boot (tests/boot/run passes
# hugepagesz=1G hugepages=1); a 1G guest uses it whole.
if hugepool_reserve huge1g 1024; then
	boot arm64-huge1g "MICROVM-INIT done" -- --initrd "$INITRD" --mem 1G --pages huge1g &&
		pass arm64-huge1g
else
	result arm64-huge1g SKIP "$hugepool_why"
fi

boot arm64-smp2 "MICROVM-INIT done" "MICROVM-INIT cpus=2" -- \
	--initrd "$INITRD" --mem 256M --cpus 2 &&
	pass arm64-smp2 "both cpu nodes online"

# The guest resets or powers off from a script, before init's own reboot:
# both end microvm with status 0, and nothing after the call runs.
for how in reboot poweroff; do
	name=arm64-$how
	script=pw-reboot
	[ $how = reboot ] || script=pw-off
	if boot "$name" "MICROVM-PWR $how" -- --initrd "$INITRD" --mem 256M \
		--cmdline "$DEFAULT mvrun=$script"; then
		if grep -qF "MICROVM-PWR $how returned" "$T/$name.log"; then
			fail "$name" "the guest's $how -f returned"
		elif grep -qF "MICROVM-INIT done" "$T/$name.log"; then
			fail "$name" "init finished: the VM did not end at the guest's $how -f"
		else
			pass "$name" "ended by the guest's $how -f (PSCI), exit 0"
		fi
	fi
done

hugepool_restore
rm -rf "$T"
