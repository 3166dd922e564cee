#!/bin/sh
# Build the tiny PVH kernels of tests/tiny/tiny.S into DIR as tiny0.elf,
# tiny1.elf, tiny2.elf, tiny3.elf, tiny4.elf and tiny5.elf (one per MODE, see tiny.S).
# Usage: tests/tiny/build.sh DIR   (needs as and ld from binutils)
# Exit status 0, or 1 with one line on stderr saying what is missing.
set -u
dir=${1:?usage: tests/tiny/build.sh DIR}
src=$(dirname "$0")
if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
	echo "no binutils (as, ld) to build the tiny PVH kernel" >&2
	exit 1
fi
for m in 0 1 2 3 4 5; do
	if ! as --64 --defsym MODE=$m -o "$dir/tiny$m.o" "$src/tiny.S" ||
		! ld -m elf_x86_64 -T "$src/tiny.ld" -o "$dir/tiny$m.elf" "$dir/tiny$m.o"; then
		echo "cannot build the tiny PVH kernel (mode $m)" >&2
		exit 1
	fi
done
