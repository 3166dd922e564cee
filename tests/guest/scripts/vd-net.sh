#!/bin/sh
# virtio-net test (tests/boot/cases-virtio.sh): eth0 gets 10.0.2.2/24 and
# pings the host's TAP end 10.0.2.1 (retrying for ~40 s while the host side
# comes up), then waits up to 30 s for three echo requests from the host.
#   MICROVM-NET guest-to-host=ok|fail <detail>
#   MICROVM-NET host-to-guest echoes=<ICMP echo requests received>
ip link set eth0 up && ip addr add 10.0.2.2/24 dev eth0 ||
	echo "MICROVM-NET eth0 setup failed: $(ls /sys/class/net)"

# in_echos: ICMP echo requests this guest has received (/proc/net/snmp).
in_echos() {
	awk '$1 == "Icmp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i } else { print $c; exit } }' /proc/net/snmp
}

i=0
res=fail
while [ $i -lt 20 ]; do
	if out=$(ping -c 1 -W 1 10.0.2.1 2>&1); then
		res=ok
		break
	fi
	sleep 1
	i=$((i + 1))
done
echo "MICROVM-NET guest-to-host=$res $(echo "$out" | grep -m1 -E 'bytes from|packet loss')"

i=0
while [ $i -lt 60 ] && [ "$(in_echos)" -lt 3 ]; do
	sleep 0.5
	i=$((i + 1))
done
echo "MICROVM-NET host-to-guest echoes=$(in_echos)"
