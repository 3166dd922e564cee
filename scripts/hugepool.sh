# shellcheck shell=sh
# Hugepage pools for microvm's hugetlb page policies: one mechanism for
# `make run`, the boot tests and the boot benchmark, on the host or inside
# the nested L1. POSIX sh (busybox sh in L1); source it, then call:
#
#   hugepool_reserve POLICY MEM_MIB
#       POLICY huge (2 MiB pages) or huge1g (1 GiB pages); anything else
#       needs no pool and returns 0. Makes sure MEM_MIB of free pages are
#       in the pool, reserving more when root (after dropping caches and
#       compacting memory if the first try falls short). Prints one line
#       saying what it reserved ("hugepool: ..."). Returns 0, or 1 with
#       $hugepool_why set to a one-line reason.
#   hugepool_restore
#       Puts every pool hugepool_reserve grew back to its first size.
#
# The first size of each pool is remembered in hugepool_orig_2m and
# hugepool_orig_1g (empty: not touched yet).

HUGEPOOL_2M=/sys/kernel/mm/hugepages/hugepages-2048kB
HUGEPOOL_1G=/sys/kernel/mm/hugepages/hugepages-1048576kB
hugepool_orig_2m=
hugepool_orig_1g=
hugepool_why=

# hugepool_grow DIR NEED: reserve until DIR has NEED free pages; prints the
# free count afterwards.
hugepool_grow() {
	hg_free=$(cat "$1/free_hugepages")
	if [ "$hg_free" -lt "$2" ]; then
		hg_total=$(cat "$1/nr_hugepages")
		echo $((hg_total + $2 - hg_free)) >"$1/nr_hugepages" 2>/dev/null
		hg_free=$(cat "$1/free_hugepages")
	fi
	echo "$hg_free"
}

hugepool_reserve() {
	case $1 in
	huge | huge,*) hp_dir=$HUGEPOOL_2M hp_mib=2 hp_name=2M ;;
	huge1g | huge1g,*) hp_dir=$HUGEPOOL_1G hp_mib=1024 hp_name=1G ;;
	*) return 0 ;;
	esac
	if [ ! -d "$hp_dir" ]; then
		hugepool_why="this kernel has no $hp_name hugepages ($hp_dir is missing)"
		return 1
	fi
	if [ $(($2 % hp_mib)) -ne 0 ]; then
		hugepool_why="$2 MiB is not a multiple of the $hp_name page"
		return 1
	fi
	hp_need=$(($2 / hp_mib))
	hp_before=$(cat "$hp_dir/nr_hugepages")
	if [ "$hp_name" = 2M ]; then
		[ -n "$hugepool_orig_2m" ] || hugepool_orig_2m=$hp_before
	else
		[ -n "$hugepool_orig_1g" ] || hugepool_orig_1g=$hp_before
	fi
	hp_free=$(cat "$hp_dir/free_hugepages")
	if [ "$hp_free" -lt "$hp_need" ] && [ "$(id -u)" = 0 ]; then
		hp_free=$(hugepool_grow "$hp_dir" "$hp_need")
		if [ "$hp_free" -lt "$hp_need" ]; then
			# Huge pages need contiguous memory: free the page
			# cache and compact, then try again.
			sync
			echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
			echo 1 >/proc/sys/vm/compact_memory 2>/dev/null
			hp_free=$(hugepool_grow "$hp_dir" "$hp_need")
		fi
	fi
	if [ "$hp_free" -lt "$hp_need" ]; then
		hugepool_why="the $hp_name hugepage pool has $hp_free free pages, $hp_need needed"
		[ "$(id -u)" = 0 ] || hugepool_why="$hugepool_why (as root: echo $((hp_before + hp_need - hp_free)) > $hp_dir/nr_hugepages)"
		return 1
	fi
	echo "hugepool: $hp_need free $hp_name pages for $2 MiB of guest memory (pool $hp_before -> $(cat "$hp_dir/nr_hugepages") pages)"
	return 0
}

hugepool_restore() {
	if [ -n "$hugepool_orig_2m" ]; then
		echo "$hugepool_orig_2m" >"$HUGEPOOL_2M/nr_hugepages" 2>/dev/null
	fi
	if [ -n "$hugepool_orig_1g" ]; then
		echo "$hugepool_orig_1g" >"$HUGEPOOL_1G/nr_hugepages" 2>/dev/null
	fi
	return 0
}
