#!/bin/sh
# Deflate on OOM (tests/boot/cases-balloon.sh): the host sets a 400 MiB
# target after BL-READY; once the balloon holds most of it, memhog asks for
# more than is left. With deflate-on-oom the guest takes pages back from the
# balloon instead of killing memhog.
#   BL-READY
#   BL-INFLATED avail_kb=N            MemAvailable down by >= 300 MiB
#   MEMHOG ... (from /bin/memhog)
#   BL-OOM-HOG ok|fail
#   BL-END avail_kb=N
kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
a0=$(kb MemAvailable)
echo "BL-READY"
i=0
while [ $i -lt 90 ] && [ $((a0 - $(kb MemAvailable))) -lt 307200 ]; do
	sleep 1
	i=$((i + 1))
done
echo "BL-INFLATED avail_kb=$(kb MemAvailable)"
if memhog 160; then
	echo "BL-OOM-HOG ok"
else
	echo "BL-OOM-HOG fail"
fi
echo "BL-END avail_kb=$(kb MemAvailable)"
