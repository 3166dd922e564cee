#!/bin/sh
# Linux boot cases (memory policies, loaders, SMP, cmdline). Runs where KVM can boot Linux: on the host when KVM is
# hardware-backed, or inside the nested L1 (busybox sh there, so POSIX sh
# only). Prints one line per case: BOOT-TEST <name> PASS|FAIL|SKIP [why].
# Needs: MICROVM VMLINUX BZIMAGE INITRD (paths) and a writable TMPDIR.
: "${MICROVM:?}" "${VMLINUX:?}" "${BZIMAGE:?}" "${INITRD:?}"
# Declare every case before any result: tests/boot/run fails each one that
# gets no result line (the file died half-way).
echo "BOOT-EXPECT vmlinux-base vmlinux-thp bzimage-base prefault-background smp2 cmdline-echo mem-512m mem-512m-seen huge huge-prefault huge-no-leak huge-fallback mem-file mem-file-written-back"
T=${TMPDIR:-/tmp}/microvm-boot.$$
mkdir -p "$T"
DEFAULT="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
HP=/proc/sys/vm/nr_hugepages
HPFREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages

result() {
	echo "BOOT-TEST $*"
}

# boot NAME [EXPECT...] -- MICROVM-ARGS...
# Passes when microvm exits 0 after the guest's init finished, the boot
# timer fired, and every EXPECT (a fixed string) is in the output.
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
	timeout 120 "$MICROVM" --boot-timer "$@" </dev/null >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		result "$name" FAIL "exit status $rc: $(grep 'microvm: error' "$log" | tail -n 1)"
		tail -n 15 "$log" | sed "s/^/  $name| /"
		return 1
	fi
	for want in "MICROVM-INIT done" "guest boot time:"; do
		if ! grep -qF "$want" "$log"; then
			result "$name" FAIL "no '$want' in the output"
			tail -n 15 "$log" | sed "s/^/  $name| /"
			return 1
		fi
	done
	i=1
	while [ $i -le $n ]; do
		eval "want=\$exp_$i"
		if ! grep -qF -- "$want" "$log"; then
			result "$name" FAIL "no '$want' in the output"
			tail -n 15 "$log" | sed "s/^/  $name| /"
			return 1
		fi
		i=$((i + 1))
	done
	result "$name" PASS "$(grep -o 'guest boot time: [0-9]* ms wall' "$log")"
}

# Hugepages for the huge cases: 256M guests need 128 pages.
# Hugepage pools through scripts/hugepool.sh (HUGEPOOL_LIB), as make run
# and the boot benchmark do; restored at the end.
# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"
have_huge=0
hugepool_reserve huge 256 && have_huge=1

boot vmlinux-base "MICROVM-INIT cpus=1" -- \
	--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --pages base
boot vmlinux-thp -- \
	--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --pages thp
boot bzimage-base "MICROVM-INIT cpus=1" -- \
	--kernel "$BZIMAGE" --initrd "$INITRD" --mem 256M
boot prefault-background -- \
	--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --pages thp --prefault=background
boot smp2 "MICROVM-INIT cpus=2" -- \
	--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --cpus 2
boot cmdline-echo "cmdline=$DEFAULT mvrun=hello mvtest.echo=token-4242" "MICROVM-HELLO" -- \
	--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M \
	--cmdline "$DEFAULT mvrun=hello mvtest.echo=token-4242"

# The guest sees the memory it was given (MemTotal is a bit less).
if boot mem-512m -- --kernel "$VMLINUX" --initrd "$INITRD" --mem 512M; then
	kb=$(sed -n 's/.*MICROVM-INIT mem_kb=\([0-9]*\).*/\1/p' "$T/mem-512m.log")
	if [ "${kb:-0}" -gt 480000 ] && [ "$kb" -le 524288 ]; then
		result mem-512m-seen PASS "MemTotal ${kb} kB"
	else
		result mem-512m-seen FAIL "MemTotal ${kb:-none} kB for --mem 512M"
	fi
fi

if [ $have_huge -eq 1 ]; then
	free0=$(cat $HPFREE)
	boot huge "MICROVM-INIT done" -- \
		--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --pages huge
	boot huge-prefault "hugetlb" -- \
		--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --pages huge --prefault --verbose
	# Every hugepage came back when the VMM exited.
	free1=$(cat $HPFREE)
	if [ "$free0" = "$free1" ]; then
		result huge-no-leak PASS "free 2M pages $free0 before and after"
	else
		result huge-no-leak FAIL "free 2M pages $free0 before, $free1 after"
	fi
	# A short pool with an explicit fallback boots and says so.
	echo $(($(cat $HP) - $(cat $HPFREE) + 64)) >$HP
	boot huge-fallback "hugepage pool short" -- \
		--kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --pages huge,fallback=thp
	hugepool_reserve huge 256 >/dev/null
else
	for c in huge huge-prefault huge-no-leak huge-fallback; do
		result $c SKIP "$hugepool_why"
	done
fi

# File-backed guest memory: the file holds guest RAM after the exit.
rm -f "$T/guest.mem"
if boot mem-file -- --kernel "$VMLINUX" --initrd "$INITRD" --mem 128M --mem-file "$T/guest.mem"; then
	size=$(wc -c <"$T/guest.mem")
	if [ "$size" -eq 134217728 ] && grep -qF "MICROVM-INIT" "$T/guest.mem"; then
		result mem-file-written-back PASS "guest RAM in the file, $size bytes"
	else
		result mem-file-written-back FAIL "file size $size or guest data missing"
	fi
fi

hugepool_restore
rm -rf "$T"
