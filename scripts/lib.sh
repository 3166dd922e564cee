# Shared helpers for microvm's shell scripts. Source it; do not run it.
# shellcheck shell=bash

# The script's own name, for messages.
# shellcheck disable=SC2034 # used by the sourcing scripts
mv_prog=${0##*/}

# The repository root (this file lives in scripts/).
# shellcheck disable=SC2034 # used by the sourcing scripts
mv_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# die MESSAGE...: one line on stderr naming the problem and the fix, exit 1.
die() {
	printf '%s: error: %s\n' "$mv_prog" "$*" >&2
	exit 1
}

# note MESSAGE...: progress on stderr (stdout carries the scripts' results).
note() {
	printf '%s: %s\n' "$mv_prog" "$*" >&2
}

# mv_cache_dir: prints the cache root, creating it.
mv_cache_dir() {
	local d
	if [ -n "${MICROVM_CACHE:-}" ]; then
		d=$MICROVM_CACHE
	elif [ -n "${HOME:-}" ]; then
		d=$HOME/.cache/microvm
	else
		die "neither MICROVM_CACHE nor HOME is set: set MICROVM_CACHE to a writable directory"
	fi
	mkdir -p "$d" || die "cannot create cache directory $d: set MICROVM_CACHE to a writable directory"
	printf '%s\n' "$d"
}

# mv_hash FILE... [-- STRING...]: prints a 16-hex-digit digest of the files'
# names and contents and of the strings.
mv_hash() {
	local f
	{
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			[ -r "$1" ] || die "cannot read $1 to hash it: check that the file exists"
			printf 'file %s\n' "${1##*/}"
			sha256sum <"$1"
			shift
		done
		[ $# -gt 0 ] && shift
		for f in "$@"; do
			printf 'str %s\n' "$f"
		done
	} | sha256sum | cut -c1-16
}

# mv_arch [NAME]: prints the canonical guest architecture, x86 or arm64, for
# NAME (x86, x86_64, amd64, arm64, aarch64); empty NAME means the host's.
mv_arch() {
	local a=${1:-}
	[ -n "$a" ] || a=$(uname -m)
	case "$a" in
	x86 | x86_64 | amd64) printf 'x86\n' ;;
	arm64 | aarch64) printf 'arm64\n' ;;
	*) die "unknown architecture '$a': use x86 or arm64" ;;
	esac
}

# need_cmd CMD PACKAGE: dies unless CMD is on PATH.
need_cmd() {
	command -v "$1" >/dev/null 2>&1 ||
		die "$1 not found: install package $2 (scripts/install-deps)"
}

# pkg_version PACKAGE: prints the installed Debian package version or dies.
pkg_version() {
	local v
	v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || v=
	[ -n "$v" ] || die "package $1 is not installed: run scripts/install-deps"
	printf '%s\n' "$v"
}

# publish_dir TMPDIR FINAL: renames a finished directory into place. Another
# process may have published the same entry first; that counts as success.
publish_dir() {
	if ! mv -T "$1" "$2" 2>/dev/null; then
		[ -d "$2" ] || die "cannot move $1 to $2: check permissions on the cache directory"
		rm -rf "$1"
	fi
}

# newc_node NAME MODE_OCTAL MAJOR MINOR INO: writes one empty newc cpio entry
# (a device node or the TRAILER!!!) to stdout: a header of 8-hex-digit fields,
# then the NUL-terminated name padded so header + name end on a 4-byte
# boundary. Lets a non-root user put device nodes into an initramfs: the
# kernel unpacks concatenated newc archives in order.
newc_node() {
	local name=$1 mode=$2 major=$3 minor=$4 ino=$5 namesize pad
	namesize=$((${#name} + 1))
	printf '070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x' \
		"$ino" "$((8#$mode))" 0 0 1 0 0 0 0 "$major" "$minor" "$namesize" 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	head -c "$pad" /dev/zero
}

# busybox_for ARCH: prints the path of Debian's static busybox for ARCH (x86
# or arm64) or dies: the host's own (busybox_path) or busybox_foreign's.
busybox_for() {
	if [ "$(mv_arch "$1")" != "$(mv_arch)" ]; then
		busybox_foreign "$(mv_arch "$1")"
	else
		busybox_path
	fi
}

# busybox_path: prints the path of the host's Debian static busybox or dies.
busybox_path() {
	local bb
	bb=$(dpkg-query -L busybox-static 2>/dev/null | grep -m1 '/bin/busybox$') ||
		die "busybox-static is not installed: run scripts/install-deps"
	[ -x "$bb" ] || die "$bb is not executable: apt-get install --reinstall busybox-static"
	printf '%s\n' "$bb"
}

# busybox_foreign ARCH: prints the path of Debian's busybox-static for a
# foreign ARCH (arm64 on an x86 host), fetched with apt-get download and
# cached as busybox-<arch>-<version>/busybox. Not installed with apt:
# busybox-static:arm64 conflicts with the amd64 package the x86 tests need.
# Offline, the newest cached one serves.
busybox_foreign() {
	local arch=$1 debarch cache ver dir tmp
	case "$arch" in
	arm64) debarch=arm64 ;;
	x86) debarch=amd64 ;;
	esac
	cache=$(mv_cache_dir)
	ver=$(apt-cache policy "busybox-static:$debarch" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
	[ "$ver" != "(none)" ] || ver=
	if [ -z "$ver" ]; then
		dir=$(find "$cache" -maxdepth 1 -name "busybox-$arch-*" -type d ! -name '*.tmp.*' 2>/dev/null |
			sort -V | tail -n1)
		if [ -z "$dir" ] || [ ! -f "$dir/busybox" ]; then
			die "apt-cache offers no busybox-static:$debarch and none is cached: run scripts/install-deps (it adds the $debarch architecture) or apt-get update"
		fi
		printf '%s\n' "$dir/busybox"
		return
	fi
	dir=$cache/busybox-$arch-${ver//[:\/]/_}
	if [ ! -f "$dir/busybox" ]; then
		tmp=$(mktemp -d "$dir.tmp.XXXXXX")
		note "fetching busybox-static:$debarch $ver"
		(cd "$tmp" && apt-get download -q "busybox-static:$debarch=$ver" >/dev/null 2>"$tmp/apt.err") || {
			cat "$tmp/apt.err" >&2
			rm -rf "$tmp"
			die "apt-get download busybox-static:$debarch=$ver failed: check network access and run apt-get update"
		}
		dpkg-deb -x "$tmp"/*.deb "$tmp/x" || {
			rm -rf "$tmp"
			die "dpkg-deb could not unpack busybox-static:$debarch: delete $tmp and retry"
		}
		mkdir "$tmp/out"
		[ -f "$tmp/x/bin/busybox" ] || {
			rm -rf "$tmp"
			die "busybox-static:$debarch has no /bin/busybox: check the package"
		}
		cp "$tmp/x/bin/busybox" "$tmp/out/busybox"
		chmod 755 "$tmp/out/busybox"
		printf 'busybox-static:%s %s\n' "$debarch" "$ver" >"$tmp/out/package"
		publish_dir "$tmp/out" "$dir"
		rm -rf "$tmp"
	fi
	printf '%s\n' "$dir/busybox"
}

# busybox_version BUSYBOX: prints the package version of a busybox_path
# result (for cache hashes).
busybox_version() {
	local d
	d=$(dirname "$1")
	if [ -f "$d/package" ]; then
		cut -d' ' -f2 "$d/package"
	else
		pkg_version busybox-static
	fi
}

# stage_busybox BUSYBOX DIR [LISTER]: copies busybox to DIR/bin/busybox with
# one relative symlink per applet (busybox --install -s would point them at
# the host's path). LISTER is a busybox this host can run that lists the
# applets (the host's own, when BUSYBOX is for another architecture: Debian
# builds busybox-static with one configuration for all of them).
stage_busybox() {
	local applet lister=${3:-$1}
	mkdir -p "$2/bin"
	cp "$1" "$2/bin/busybox"
	chmod 755 "$2/bin/busybox"
	while IFS= read -r applet; do
		case "$applet" in
		busybox | */*) continue ;;
		esac
		ln -s busybox "$2/bin/$applet"
	done < <("$lister" --list)
	[ -L "$2/bin/sh" ] || die "busybox at $lister has no sh applet: install Debian's busybox-static"
}
