# shellcheck shell=sh
# Memory and page faults of a running VMM process, for scripts/bench-restore
# (POSIX sh: busybox in the nested L1) and tests/boot/snapshot.sh.
#
# proc_mem PID: prints "rss_kb pss_kb file_kb anon_kb faults" of PID:
#   rss_kb   VmRSS: every page mapped, shared or not
#   pss_kb   Pss (smaps_rollup): each page divided by the processes mapping
#            it; two clones whose Pss is below one clone's share pages
#   file_kb  RssFile: file pages (a base lazy restore maps its snapshot
#            file privately: its clean pages are the page cache's)
#   anon_kb  RssAnon: private anonymous pages (written, or copied in)
#   faults   host page faults of the process so far (minflt + majflt of
#            /proc/PID/stat, the guest's included: KVM faults guest memory
#            in on the vCPU threads)
# Fields it cannot read are 0.
proc_mem() {
	awk -v pid="$1" '
		FILENAME ~ /status$/ && /^VmRSS:/ { rss = $2 }
		FILENAME ~ /status$/ && /^RssFile:/ { file = $2 }
		FILENAME ~ /status$/ && /^RssAnon:/ { anon = $2 }
		FILENAME ~ /smaps_rollup$/ && /^Pss:/ { pss = $2 }
		FILENAME ~ /stat$/ {
			# after the ")" that ends the command name: state is
			# field 3 of the rest, minflt 10, majflt 12
			sub(/.*\) /, "")
			n = split($0, f, " ")
			if (n >= 10) faults = f[8] + f[10]
		}
		END { printf "%d %d %d %d %d\n", rss, pss, file, anon, faults }
	' "/proc/$1/status" "/proc/$1/smaps_rollup" "/proc/$1/stat" 2>/dev/null ||
		echo "0 0 0 0 0"
}
