#!/bin/sh
# winetest.sh [GO TEST FLAGS] [PACKAGE...]: the unit tests of the packages
# that make sense on Windows, built for windows/amd64 and run under Wine
# (`make wine-unit`); e.g. scripts/winetest.sh -run Multi -v ./spool.
#
# The packages are the platform-neutral core (default below); the desktop
# backends, the daemon's service glue and the Linux test harnesses are not
# among them. Each test binary runs as `wine pkg.test.exe` (go test -exec)
# in a fresh WINEPREFIX under a temp dir, headless (no DISPLAY: the tests
# open no window), with:
#
#   - a stand-in bcryptprimitives.dll (test/winetest/standin, built with
#     mingw-w64): Wine 8 lacks it, and every Go >= 1.22 program dies at
#     start-up without its ProcessPrng;
#   - a build overlay (go build -overlay) that patches one line of Go's
#     internal/syscall/windows for the test build only: Wine 8 answers
#     FileDispositionInformationEx with STATUS_NOT_IMPLEMENTED, which Go
#     1.26's os.RemoveAll does not take as "fall back to the old delete"
#     (it does for the statuses real Windows and FAT give), so every
#     t.TempDir() clean-up would fail with "Invalid function". Real Windows
#     implements the call; the binaries agentspool ships are never built
#     with the overlay.
#
# Without Wine (scripts/deps.sh desktop installs it) it says so and exits 0,
# except on CI (CI=true), where it fails. Needs Go, wine, wine64 and
# x86_64-w64-mingw32-gcc.
set -eu

cd "$(dirname "$0")/.."
. scripts/wineboot.sh
GO=${GO:-go}
# service is left out: its tests run Unix shell alert commands and
# promtool, and take most of a minute under Wine; cmd/agentspool's tests build
# the binary with go, which is not in the prefix.
pkgs="./spool ./config ./confirm ./internal/safeio"
for a in "$@"; do
	case $a in
	./*) pkgs="" ;;
	esac
done

missing=""
for c in wine wineboot wineserver x86_64-w64-mingw32-gcc; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -x /usr/lib/wine/wine64 ] || missing="$missing /usr/lib/wine/wine64"
if [ -n "$missing" ]; then
	echo "winetest: missing$missing: run scripts/deps.sh desktop" >&2
	if [ "${CI:-}" = true ]; then
		exit 1
	fi
	echo "winetest: skipped (not CI)" >&2
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/agentspool-wine.XXXXXX")
server=""
cleanup() {
	# Only this prefix's processes: wineserver -k knows no other.
	wineserver -k >/dev/null 2>&1 || true
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export WINEPREFIX="$tmp/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" LC_ALL=C.UTF-8
unset DISPLAY WAYLAND_DISPLAY
mkdir -p "$WINEPREFIX"

# secs FROM TO: the seconds between two `date +%s.%N` readings.
secs() { awk "BEGIN { printf \"%.1f\", $2 - $1 }"; }

t0=$(date +%s.%N)
# A persistent wineserver (scripts/wineboot.sh): without it the prefix shuts
# down 3 s after each test binary and the next one boots it again.
wine_boot "$tmp" || exit 1
t1=$(date +%s.%N)
x86_64-w64-mingw32-gcc -shared -O2 -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	test/winetest/standin/bcryptprimitives.c test/winetest/standin/bcryptprimitives.def -ladvapi32
t2=$(date +%s.%N)

goroot=$("$GO" env GOROOT)
at="$goroot/src/internal/syscall/windows/at_windows.go"
mkdir -p "$tmp/overlay"
# The fallback case of Deleteat gains STATUS_NOT_IMPLEMENTED (0xC0000002).
sed 's|^\([[:space:]]*\)STATUS_NOT_SUPPORTED: *// the file system|\1NTStatus(0xC0000002), // STATUS_NOT_IMPLEMENTED: Wine 8 (scripts/winetest.sh)\n&|' \
	"$at" >"$tmp/overlay/at_windows.go"
if cmp -s "$at" "$tmp/overlay/at_windows.go"; then
	echo "winetest: $at has changed: the overlay no longer applies; see scripts/winetest.sh" >&2
	exit 1
fi
printf '{"Replace":{"%s":"%s"}}\n' "$at" "$tmp/overlay/at_windows.go" >"$tmp/overlay/overlay.json"

echo "winetest: prefix booted in $(secs "$t0" "$t1")s, stand-in DLL built in $(secs "$t1" "$t2")s"
# shellcheck disable=SC2086 # one word per package, on purpose
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 "$GO" test -overlay "$tmp/overlay/overlay.json" \
	-count=1 -timeout 10m -exec wine "$@" $pkgs
t3=$(date +%s.%N)
echo "winetest: unit tests under Wine took $(secs "$t2" "$t3")s"
