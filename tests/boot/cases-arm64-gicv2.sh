#!/bin/sh
# arm64: the GICv2 fallback. tests/boot/run runs this file in a second arm64
# L1 whose board has a GICv2 only (scripts/nested --gic 2), so KVM there
# cannot make a vGICv3: microvm must fall back to a vGICv2 and describe it
# in the device tree, and Linux must boot on it with 2 vCPUs. On an arm64
# host (direct) the host's GIC decides: SKIP unless it lacks a GICv3.
# Prints BOOT-TEST arm64-gicv2 PASS|FAIL|SKIP [why].
# Needs: MICROVM, KERNEL (the arm64 Image), INITRD, a writable TMPDIR.
KERNEL=${KERNEL:-${VMLINUX:-}}
: "${MICROVM:?}" "${KERNEL:?}" "${INITRD:?}"
echo "BOOT-EXPECT arm64-gicv2 arm64-gicv2-9cpus"
if [ "${ARCH:-arm64}" != arm64 ]; then
	echo "BOOT-TEST arm64-gicv2 SKIP an arm64 case, and ARCH is $ARCH"
	echo "BOOT-TEST arm64-gicv2-9cpus SKIP an arm64 case, and ARCH is $ARCH"
	exit 0
fi
log=${TMPDIR:-/tmp}/microvm-gicv2.$$.log
timeout 180 "$MICROVM" --boot-timer --verbose --kernel "$KERNEL" --initrd "$INITRD" \
	--mem 256M --cpus 2 --cmdline "console=ttyS0 panic=1" </dev/null >"$log" 2>&1
rc=$?
gic=$(grep -o 'GICv[23]' "$log" | head -n 1)
if [ "$gic" = GICv3 ] && [ "${BOOT_GIC:-}" != 2 ]; then
	echo "BOOT-TEST arm64-gicv2 SKIP this host's KVM offers a GICv3 (the fallback needs a host without one)"
elif [ $rc -ne 0 ]; then
	echo "BOOT-TEST arm64-gicv2 FAIL exit status $rc: $(grep 'microvm: error' "$log" | tail -n 1)"
	tail -n 20 "$log" | sed 's/^/  arm64-gicv2| /'
elif [ "$gic" != GICv2 ]; then
	echo "BOOT-TEST arm64-gicv2 FAIL microvm described '${gic:-no GIC}', not GICv2"
elif ! grep -q 'MICROVM-INIT cpus=2' "$log" || ! grep -q 'MICROVM-INIT done' "$log"; then
	echo "BOOT-TEST arm64-gicv2 FAIL the guest did not reach init with 2 CPUs"
	tail -n 20 "$log" | sed 's/^/  arm64-gicv2| /'
else
	echo "BOOT-TEST arm64-gicv2 PASS GICv2 in the device tree, 2 CPUs up, init done, $(grep -o 'guest boot time: [0-9]* ms wall' "$log")"
fi
# More vCPUs than a GICv2 serves: one clear line, exit 1, before any runs.
if [ "$gic" = GICv2 ]; then
	timeout 60 "$MICROVM" --kernel "$KERNEL" --initrd "$INITRD" --mem 256M --cpus 9 </dev/null >"$log" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && [ "$(grep -c 'microvm: error' "$log")" = 1 ] && grep -q 'at most 8: use --cpus 8 or fewer' "$log"; then
		echo "BOOT-TEST arm64-gicv2-9cpus PASS exit 1: $(grep 'microvm: error' "$log")"
	else
		echo "BOOT-TEST arm64-gicv2-9cpus FAIL exit $rc, want 1 and one line naming the 8-vCPU limit: $(tail -n 3 "$log" | tr '\n' ' ')"
	fi
else
	echo "BOOT-TEST arm64-gicv2-9cpus SKIP the host offers a GICv3 (${gic:-no GIC line})"
fi
rm -f "$log"
