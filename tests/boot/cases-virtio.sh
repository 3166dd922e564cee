#!/bin/sh
# Linux boot cases for the virtio-mmio devices: virtio-blk as the root disk
# (read-write, read-only, both notification/interrupt paths), virtio-rng and
# virtio-net over a TAP. Runs where KVM can boot Linux: on the host, or inside
# the nested L1 (busybox sh there, so POSIX sh only). Prints one line per
# case: BOOT-TEST <name> PASS|FAIL|SKIP [why].
# Needs: MICROVM VMLINUX INITRD ROOTFS (paths; ROOTFS from scripts/build-rootfs)
# and a writable TMPDIR. The net case needs root and /dev/net/tun; its
# addresses (10.0.2.0/24 on the TAP mvtap0) never leave the machine; set
# TUN_KO to a tun.ko to insmod when the kernel has no TUN driver loaded.
: "${MICROVM:?}" "${VMLINUX:?}" "${INITRD:?}"
# Declare every case before any result: tests/boot/run fails each one that
# gets no result line (the file died half-way).
echo "BOOT-EXPECT disk-root disk-root-fallback disk-ro disk-bad-size rng net-tap"
T=${TMPDIR:-/tmp}/microvm-virtio.$$
mkdir -p "$T"
DEFAULT="console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

result() {
	echo "BOOT-TEST $*"
}

# fail NAME WHY: a FAIL line and the end of NAME's log.
fail() {
	result "$1" FAIL "$2"
	[ -f "$T/$1.log" ] && tail -n 15 "$T/$1.log" | sed "s/^/  $1| /"
	return 1
}

# boot NAME -- MICROVM-ARGS...: boots and checks that microvm exited 0 after
# the guest's init finished and the boot timer fired. Prints nothing on
# success (the caller checks what the case is about); a FAIL line otherwise.
boot() {
	name=$1
	shift 2
	timeout 120 "$MICROVM" --boot-timer "$@" </dev/null >"$T/$name.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] ||
		fail "$name" "exit status $rc: $(grep 'microvm: error' "$T/$name.log" | tail -n 1)" ||
		return 1
	for want in "MICROVM-INIT done" "guest boot time:"; do
		grep -qF "$want" "$T/$name.log" || fail "$name" "no '$want' in the output" || return 1
	done
}

# field NAME KEY: the value of the guest's last "MICROVM-XX KEY=value" line.
field() {
	sed -n "s/^MICROVM-[A-Z]* $2=//p" "$T/$1.log" | tr -d '\r' | tail -n 1
}

if [ -z "${ROOTFS:-}" ] || [ ! -r "$ROOTFS" ]; then
	for c in disk-root disk-root-fallback disk-ro; do
		result $c SKIP "no root image (ROOTFS unset: scripts/build-rootfs makes one)"
	done
else
	# disk-root: the guest appends a token to a file on its ext4 root and
	# syncs; after the VM exits the token is in the image file itself.
	cp "$ROOTFS" "$T/root.img"
	tok1=w1-$$-$(date +%s)
	if boot disk-root -- --kernel "$VMLINUX" --disk "$T/root.img" --mem 256M \
		--cmdline "$DEFAULT mvrun=vd-rw mvtest.token=$tok1"; then
		root=$(field disk-root root)
		n=$(grep -c "MVDISK-$tok1" "$T/root.img")
		case "$root" in
		"/dev/root ext4 rw"* | "/dev/vda ext4 rw"*)
			if [ "$(field disk-root wrote)" != "MVDISK-$tok1" ]; then
				fail disk-root "the guest did not report its write"
			elif [ "$n" -lt 1 ]; then
				fail disk-root "MVDISK-$tok1 is not in the image after the VM exited"
			else
				result disk-root PASS "root '$root'; guest-written token found in the image file on the host"
			fi
			;;
		*) fail disk-root "root is '$root', not ext4 read-write from /dev/vda" ;;
		esac
	fi

	# disk-root-fallback: the same image again with queue notifications as
	# MMIO exits and interrupts through KVM_IRQ_LINE. The guest must see the
	# first boot's token through ext4 and add a second one.
	tok2=w2-$$-$(date +%s)
	export MICROVM_NO_IOEVENTFD=1 MICROVM_NO_IRQFD=1
	if boot disk-root-fallback -- --kernel "$VMLINUX" --disk "$T/root.img" \
		--mem 256M --verbose --cmdline "$DEFAULT mvrun=vd-rw mvtest.token=$tok2"; then
		log=$T/disk-root-fallback.log
		if ! grep -q 'virtio-blk0: no ioeventfd' "$log"; then
			fail disk-root-fallback "microvm did not report the MMIO-exit notification path"
		elif grep -q 'virtio-blk0 at .*(irqfd)' "$log"; then
			fail disk-root-fallback "virtio-blk0 still uses an irqfd with MICROVM_NO_IRQFD=1"
		elif [ "$(field disk-root-fallback previous)" != "MVDISK-$tok1" ]; then
			fail disk-root-fallback "guest read '$(field disk-root-fallback previous)' back, not MVDISK-$tok1"
		elif [ "$(grep -c "MVDISK-$tok2" "$T/root.img")" -lt 1 ]; then
			fail disk-root-fallback "MVDISK-$tok2 is not in the image after the VM exited"
		else
			result disk-root-fallback PASS "no ioeventfd/irqfd: first boot's data read back, new token in the image"
		fi
	fi
	unset MICROVM_NO_IOEVENTFD MICROVM_NO_IRQFD
	rm -f "$T/root.img"

	# disk-ro: a read-only root. Writes through the file system and to the
	# raw device fail, and the image is bit-for-bit unchanged.
	cp "$ROOTFS" "$T/ro.img"
	sum0=$(md5sum <"$T/ro.img")
	if boot disk-ro -- --kernel "$VMLINUX" --disk "$T/ro.img,ro" --mem 256M \
		--cmdline "$DEFAULT mvrun=vd-ro"; then
		sum1=$(md5sum <"$T/ro.img")
		fw=$(field disk-ro file-write)
		rw=$(field disk-ro raw-write)
		if [ "$(field disk-ro ro-flag)" != 1 ]; then
			fail disk-ro "guest's /sys/block/vda/ro is '$(field disk-ro ro-flag)', not 1"
		elif [ "${fw%% *}" != failed ] || [ "${rw%% *}" != failed ]; then
			fail disk-ro "a guest write succeeded (file: $fw; raw: $rw)"
		elif [ "$sum0" != "$sum1" ]; then
			fail disk-ro "the image changed (md5 ${sum0%% *} -> ${sum1%% *})"
		else
			result disk-ro PASS "file: ${fw#failed }; raw: ${rw#failed }; md5 unchanged"
		fi
	fi
	rm -f "$T/ro.img"
fi

# disk-bad-size: a 1000-byte image is refused before boot with one error line.
head -c 1000 /dev/zero >"$T/bad.img"
out=$(timeout 20 "$MICROVM" --kernel "$VMLINUX" --disk "$T/bad.img" </dev/null 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
	result disk-bad-size FAIL "exit status $rc for a 1000-byte disk image"
elif [ "$(printf '%s\n' "$out" | grep -c 'microvm: error:')" -ne 1 ]; then
	result disk-bad-size FAIL "not exactly one error line: $out"
elif ! printf '%s' "$out" | grep -q 'multiple of 512'; then
	result disk-bad-size FAIL "message does not name the 512-byte rule: $out"
else
	result disk-bad-size PASS "exit $rc: $out"
fi

# rng: the guest's hwrng is virtio_rng and two reads differ.
if boot rng -- --kernel "$VMLINUX" --initrd "$INITRD" --mem 256M --rng \
	--cmdline "$DEFAULT mvrun=vd-rng"; then
	cur=$(field rng current)
	a=$(field rng a)
	b=$(field rng b)
	case "$cur" in
	virtio_rng*)
		if [ ${#a} -ne 128 ] || [ ${#b} -ne 128 ]; then
			fail rng "short reads: ${#a} and ${#b} hex digits, wanted 128"
		elif [ "$a" = "$b" ]; then
			fail rng "two reads gave the same 64 bytes: $a"
		else
			result rng PASS "rng_current $cur; 64 bytes: $(echo "$a" | cut -c1-32)..."
		fi
		;;
	*) fail rng "rng_current is '$cur', not virtio_rng" ;;
	esac
fi

# net-tap: microvm creates the TAP mvtap0; the host end gets 10.0.2.1/24 once
# it exists. The guest (10.0.2.2) pings the host, then the host pings it.
tap=mvtap0
if ! grep -qw tun /proc/misc 2>/dev/null && [ -r "${TUN_KO:-}" ]; then
	insmod "$TUN_KO" || echo "cases-virtio: insmod $TUN_KO failed" >&2
fi
if [ "$(id -u)" != 0 ]; then
	result net-tap SKIP "needs root to create and configure the TAP $tap"
elif ! grep -qw tun /proc/misc 2>/dev/null; then
	result net-tap SKIP "no TUN/TAP driver in this kernel (/proc/misc lists no tun): load tun.ko (nested: L1 must insmod it, or set TUN_KO)"
else
	[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; }
	log=$T/net-tap.log
	timeout 120 "$MICROVM" --boot-timer --kernel "$VMLINUX" --initrd "$INITRD" \
		--mem 256M --net "tap=$tap,mac=52:54:00:12:34:56" \
		--cmdline "$DEFAULT mvrun=vd-net" </dev/null >"$log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 100 ] && [ ! -e /sys/class/net/$tap ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ip addr add 10.0.2.1/24 dev $tap 2>/dev/null
	ip link set $tap up 2>/dev/null
	# Wait for the guest's own ping to finish before pinging it.
	i=0
	while [ $i -lt 120 ] && kill -0 $pid 2>/dev/null &&
		! grep -q 'MICROVM-NET guest-to-host=' "$log"; do
		sleep 0.5
		i=$((i + 1))
	done
	hping=$(ping -c 3 -W 2 10.0.2.2 2>&1)
	hrc=$?
	wait $pid
	rc=$?
	g2h=$(field net-tap guest-to-host)
	echoes=$(field net-tap "host-to-guest echoes")
	if [ $rc -ne 0 ]; then
		fail net-tap "exit status $rc: $(grep 'microvm: error' "$log" | tail -n 1)"
	elif [ "${g2h%% *}" != ok ]; then
		fail net-tap "guest -> host ping failed: $g2h"
	elif [ $hrc -ne 0 ] || [ "${echoes:-0}" -lt 1 ]; then
		fail net-tap "host -> guest ping failed (guest saw ${echoes:-no} echo requests): $(echo "$hping" | tail -n 2 | tr '\n' ' ')"
	else
		result net-tap PASS "guest->host: ${g2h#ok }; host->guest: $(echo "$hping" | grep 'packet loss')"
	fi
fi

rm -rf "$T"
