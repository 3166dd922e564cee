#!/bin/sh
# The boot loop of scripts/bench-boot: POSIX sh, so it runs on the host
# (direct mode) and under busybox inside the nested L1 alike. Prints only
# BENCH-* lines on stdout; scripts/bench-boot.d/report.py reads them.
#
# Environment (all required unless marked):
#   MICROVM VMLINUX INITRD  paths
#   CMDLINE                 guest kernel command line
#   RUNS                    boots per configuration
#   PAGES MODES MEMS CPUS   space-separated lists (MODES: lazy prefault;
#                           MEMS in MiB)
#   COMPARE                 optional command template (see bench-boot --help)
#   BOOT_TIMEOUT            optional seconds per boot (default 300)
#   TMPDIR                  optional scratch directory
# Lines:
#   BENCH-ENV key=value ...
#   BENCH-RUN pages= mode= mem= cpus= run= rc=0 {json from --stats-json}
#   BENCH-FAIL pages= mode= mem= cpus= run= rc=N why
#   BENCH-SKIP pages= mode= mem= cpus= why
#   BENCH-CMP mem= cpus= run= rc=N line=<a boot-time line of its output>
#   BENCH-DONE
: "${MICROVM:?}" "${VMLINUX:?}" "${INITRD:?}" "${CMDLINE:?}" "${RUNS:?}"
: "${PAGES:?}" "${MODES:?}" "${MEMS:?}" "${CPUS:?}"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
T=${TMPDIR:-/tmp}/microvm-bench.$$
mkdir -p "$T" || exit 1
HP2=/sys/kernel/mm/hugepages/hugepages-2048kB
HP1=/sys/kernel/mm/hugepages/hugepages-1048576kB
hp2_orig=$(cat $HP2/nr_hugepages 2>/dev/null || echo -)
hp1_orig=$(cat $HP1/nr_hugepages 2>/dev/null || echo -)
is_root=0
[ "$(id -u)" = 0 ] && is_root=1
# THP "always" would put base on transparent hugepages too: for the run,
# switch it to madvise (thp asks with MADV_HUGEPAGE) when root; restored at
# exit. Otherwise base is labelled as THP-backed in BENCH-ENV.
THP=/sys/kernel/mm/transparent_hugepage/enabled
thp_orig=$(sed 's/.*\[\(.*\)\].*/\1/' $THP 2>/dev/null)
thp_set=0
if [ "$thp_orig" = always ] && [ $is_root = 1 ] && echo madvise >$THP 2>/dev/null; then
	thp_set=1
fi

trap 'hugepool_restore; [ $thp_set = 0 ] || echo "$thp_orig" >$THP; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

# Hugepage pools: scripts/hugepool.sh, the one mechanism of make run, the
# boot tests and this benchmark (reserves when root; restored after each
# hugetlb configuration, so the next one has the memory, and at exit).
# shellcheck source=scripts/hugepool.sh
. "${HUGEPOOL_LIB:?}"
pool_get() {
	hugepool_reserve "$1" "$2" >/dev/null && return 0
	why=$hugepool_why
	return 1
}

echo "BENCH-ENV kernel=$(uname -r) nproc=$(nproc 2>/dev/null || echo ?) memtotal_kib=$(awk '/^MemTotal/ {print $2}' /proc/meminfo) thp=$(sed 's/.*\[\(.*\)\].*/\1/' $THP 2>/dev/null) thp_was=$thp_orig root=$is_root hp2=$hp2_orig hp1=$hp1_orig"

# boot PAGES MODE MEM CPUS RUN: one boot, one BENCH-RUN or BENCH-FAIL line.
boot() {
	pf=
	[ "$2" = prefault ] && pf=--prefault
	rm -f "$T/s.json"
	# shellcheck disable=SC2086 # $pf is empty or one word
	timeout "$BOOT_TIMEOUT" "$MICROVM" --kernel "$VMLINUX" --initrd "$INITRD" \
		--cmdline "$CMDLINE" --mem "$3M" --cpus "$4" --pages "$1" $pf \
		--boot-timer --stats-json "$T/s.json" </dev/null >"$T/out.log" 2>&1
	rc=$?
	tag="pages=$1 mode=$2 mem=$3 cpus=$4 run=$5"
	if [ $rc -eq 0 ] && [ -s "$T/s.json" ] && grep -q '"boot_wall_us":[0-9]' "$T/s.json"; then
		echo "BENCH-RUN $tag rc=0 $(cat "$T/s.json")"
	else
		why=$(grep -a 'microvm: error' "$T/out.log" | tail -n 1)
		[ -n "$why" ] || why="exit $rc; no boot-timer figures; last line: $(tail -n 1 "$T/out.log")"
		echo "BENCH-FAIL $tag rc=$rc $why"
	fi
}

# compare MEM CPUS RUN: the other VMM's boot, its boot-time lines.
compare() {
	cfg="$T/compare-config.json"
	printf '{"boot-source": {"kernel_image_path": "%s", "initrd_path": "%s", "boot_args": "%s"}, "drives": [], "machine-config": {"vcpu_count": %s, "mem_size_mib": %s}}\n' \
		"$VMLINUX" "$INITRD" "$CMDLINE" "$2" "$1" >"$cfg"
	cmd=$(printf '%s\n' "$COMPARE" | sed -e "s|{kernel}|$VMLINUX|g" \
		-e "s|{initrd}|$INITRD|g" -e "s|{mem}|$1|g" -e "s|{cpus}|$2|g" \
		-e "s|{config}|$cfg|g" -e "s|{cmdline}|'$CMDLINE'|g")
	timeout "$BOOT_TIMEOUT" sh -c "$cmd" </dev/null >"$T/cmp.log" 2>&1
	rc=$?
	lines=$(grep -aiE 'boot[ _-]?time' "$T/cmp.log" | tr -d '\r')
	if [ -z "$lines" ]; then
		echo "BENCH-CMP mem=$1 cpus=$2 run=$3 rc=$rc line="
	else
		printf '%s\n' "$lines" | while IFS= read -r l; do
			echo "BENCH-CMP mem=$1 cpus=$2 run=$3 rc=$rc line=$l"
		done
	fi
}

# One warm-up boot (page cache, first-run effects), not reported.
boot base lazy "${MEMS%% *}" 1 0 | sed 's/^BENCH-[A-Z]*/BENCH-WARMUP/'

# Round-robin: run i of every configuration before run i+1 of any, so a
# slow phase of a shared machine hits every policy alike.
configs=
for mem in $MEMS; do
	for cpus in $CPUS; do
		for pages in $PAGES; do
			for mode in $MODES; do
				configs="$configs $pages:$mode:$mem:$cpus"
			done
		done
		[ -z "${COMPARE:-}" ] || configs="$configs compare:-:$mem:$cpus"
	done
done
skipped=" "
i=1
while [ $i -le "$RUNS" ]; do
	for c in $configs; do
		case $skipped in *" $c "*) continue ;; esac
		# shellcheck disable=SC2046 # split PAGES:MODE:MEM:CPUS
		set -- $(echo "$c" | tr : ' ')
		if [ "$1" = compare ]; then
			compare "$3" "$4" $i
			continue
		fi
		if ! pool_get "$1" "$3"; then
			echo "BENCH-SKIP pages=$1 mode=$2 mem=$3 cpus=$4 $why"
			# A pool that is short at the first run stays short.
			[ $i -gt 1 ] || skipped="$skipped$c "
			hugepool_restore
			continue
		fi
		boot "$1" "$2" "$3" "$4" $i
		hugepool_restore
	done
	i=$((i + 1))
done
echo BENCH-DONE
