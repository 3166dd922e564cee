#!/usr/bin/env bash
# The README's benchmark commands, typed as the README gives them, in their
# shortest form (one run, small sizes): each must exit 0 and print its
# table. Figures are not judged here; the benchmarks are. Linux boots run
# DIRECT on hardware KVM, else NESTED (each command decides by itself).
# Prints USER-TEST <name> PASS|FAIL [why]. Run from the top of the tree.
set -u
cd "$(dirname "$0")/../.." || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/microvm-readme.XXXXXX")
trap 'rm -rf "$T"' EXIT
TIMEOUT=${RUN_TIMEOUT:-900}

# cmd NAME REGEX COMMAND...: run it, PASS when it exits 0 and its output has
# a line matching REGEX (extended).
cmd() {
	local name=$1 want=$2 rc
	shift 2
	timeout "$TIMEOUT" "$@" </dev/null >"$T/$name.log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "USER-TEST $name FAIL '$*' exited $rc"
	elif ! tr -d '\r' <"$T/$name.log" | grep -aqE -- "$want"; then
		echo "USER-TEST $name FAIL '$*' printed no line matching '$want'"
	else
		echo "USER-TEST $name PASS '$*' exited 0: $(tr -d '\r' <"$T/$name.log" | grep -aE -- "$want" | head -n 1 | tr -s ' ' | cut -c1-100)"
		return 0
	fi
	tr -d '\r' <"$T/$name.log" | grep -av '^$' | tail -n 8 | sed "s/^/  $name| /"
}

cmd readme-bench-mem '^64M +huge +[0-9]' make -s bench-mem BENCH_ARGS="--sizes 64M --runs 1"
cmd readme-bench '^512M +1cpu +lazy +huge +1/1' make -s bench BENCH_ARGS="--quick --runs 1 --pages base,huge --modes lazy"
cmd readme-bench-io '^write +[0-9]' make -s bench-io BENCH_ARGS="--runs 1 --mib 8"
cmd readme-bench-balloon '^huge +256 +[0-9]+ +[0-9]+%' make -s bench-balloon BENCH_ARGS="--runs 1 --policies huge"
cmd readme-bench-cmdline '^microvm-plain +[0-9]+ +[0-9]+' make -s bench-cmdline BENCH_ARGS="--runs 1"
cmd readme-bench-restore '^base +lazy +[0-9]+ +[0-9]+ +[0-9.]+' make -s bench-restore BENCH_ARGS="--runs 1 --policies base"
cmd readme-bench-hotplug '^base +virtio-mem +plug +[0-9]+ ' make -s bench-hotplug BENCH_ARGS="--quick"
# arm64: the boot benchmark of the arm64 build and guest (nested on x86).
if [ "$(scripts/kvm-mode --arch arm64 2>"$T/arm64.why")" = none ]; then
	echo "USER-TEST readme-bench-arm64 SKIP $(sed 's/^kvm-mode: none: //' "$T/arm64.why")"
else
	cmd readme-bench-arm64 '^512M +1cpu +lazy +huge +1/1' make -s bench ARCH=arm64 BENCH_ARGS="--quick --runs 1 --pages base,huge --modes lazy"
fi
exit 0
