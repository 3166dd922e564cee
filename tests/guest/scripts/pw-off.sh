#!/bin/sh
# Power-off test (tests/boot/cases-arm64.sh): the guest powers the machine off
# itself, before init's own reboot. busybox poweroff -f calls reboot(2) with
# RB_POWER_OFF at once (no signal to PID 1); on arm64 that is PSCI
# SYSTEM_OFF, which microvm turns into exit status 0.
#   MICROVM-PWR poweroff
echo "MICROVM-PWR poweroff"
sync
poweroff -f
echo "MICROVM-PWR poweroff returned"
