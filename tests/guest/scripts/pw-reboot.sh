#!/bin/sh
# Reset test (tests/boot/cases-arm64.sh): the guest resets the machine itself,
# before init's own reboot. busybox reboot -f calls reboot(2) with
# RB_AUTOBOOT at once; on arm64 that is PSCI SYSTEM_RESET, which microvm
# turns into exit status 0 (a microVM does not restart).
#   MICROVM-PWR reboot
echo "MICROVM-PWR reboot"
sync
reboot -f
echo "MICROVM-PWR reboot returned"
