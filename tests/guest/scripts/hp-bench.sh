#!/bin/sh
# make bench-hotplug (scripts/bench-hotplug): touch mvtest.touch_mib MiB
# first (memory the guest then frees, so the balloon has backed memory to
# give back), then idle while the host plugs and unplugs virtio-mem memory
# and inflates and deflates the balloon.
#   HPB-READY total_kb=N
#   HPB-END                     after mvtest.idle_s seconds (default 600)
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^mvtest\.$1=//p"; }
touch=$(arg touch_mib)
idle=$(arg idle_s)
[ -z "$touch" ] || memhog "$touch" >/dev/null
echo "HPB-READY total_kb=$(kb MemTotal)"
sleep "${idle:-600}"
echo "HPB-END"
