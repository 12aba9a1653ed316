#!/bin/sh
# distcheck.sh [DIR]: checks what `make dist` wrote into DIR (default dist),
# as a person would use it (`make dist-check`):
#
#   - SHA256SUMS matches every artefact;
#   - each archive holds, in its folder, the binary, README.md,
#     coords.example.yaml and agentspool-rules.yml;
#   - as root, the amd64 .deb installs with dpkg -i, /usr/bin/agentspool
#     version prints the version in the archives' names, and dpkg -r takes
#     it away again; skipped when agentspool is installed already (this
#     script removes only what it installed) or when not root;
#   - agentspool.exe from the Windows zip runs `version` and `doctor` under
#     Wine, in a fresh prefix with its own Xvfb display. Doctor's agent lines
#     FAIL there (the example coords.yaml names windows that do not exist) and
#     it exits 1; what is checked is that it runs and prints its checklist.
#     Wine 8 lacks bcryptprimitives.dll, without which no Go program starts,
#     so the prefix gets the stand-in the Wine tests use
#     (test/winetest/standin, built with mingw-w64); real Windows has it.
#
# Every process it starts is stopped by its pid (and the prefix's
# wineserver with wineserver -k). Needs sha256sum, tar, unzip, dpkg, and for
# the Wine part wine, wine64, Xvfb and x86_64-w64-mingw32-gcc
# (scripts/deps.sh desktop).
set -eu

cd "$(dirname "$0")/.."
. scripts/wineboot.sh
dist=$(cd "${1:-dist}" && pwd)

fail() {
	echo "distcheck: FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/agentspool-distcheck.XXXXXX")
xvfb=""
server=""
installed=""
cleanup() {
	if [ -n "$installed" ]; then
		dpkg -r agentspool >/dev/null 2>&1 || echo "distcheck: dpkg -r agentspool failed" >&2
	fi
	if [ -n "$server" ]; then
		WINEPREFIX="$tmp/prefix" wineserver -k >/dev/null 2>&1 || true
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	if [ -n "$xvfb" ]; then
		kill "$xvfb" 2>/dev/null || true
		wait "$xvfb" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"
echo "distcheck: SHA256SUMS ok"

zip=$(ls "$dist"/agentspool_*_windows_amd64.zip)
version=${zip##*/agentspool_}
version=${version%_windows_amd64.zip}
echo "distcheck: version $version"

for a in linux_amd64 linux_arm64 windows_amd64; do
	base="agentspool_${version}_$a"
	exe=agentspool
	if [ "$a" = windows_amd64 ]; then
		exe=agentspool.exe
		list=$(unzip -Z1 "$dist/$base.zip")
	else
		list=$(tar -tzf "$dist/$base.tar.gz")
	fi
	for f in "$exe" README.md coords.example.yaml agentspool-rules.yml; do
		echo "$list" | grep -qx "$base/$f" || fail "$base: no $base/$f"
	done
done
echo "distcheck: archives ok"

deb=$(ls "$dist"/agentspool_*_amd64.deb)
if [ "$(id -u)" != 0 ]; then
	echo "distcheck: dpkg -i skipped (not root)"
elif dpkg -s agentspool >/dev/null 2>&1; then
	echo "distcheck: dpkg -i skipped (agentspool is installed already)"
else
	dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || {
		cat "$tmp/dpkg.log" >&2
		fail "dpkg -i ${deb##*/}"
	}
	installed=1
	got=$(/usr/bin/agentspool version)
	[ "$got" = "agentspool $version" ] || fail "/usr/bin/agentspool version: $got, want agentspool $version"
	for f in README.md examples/coords.yaml examples/agentspool-rules.yml; do
		[ -f "/usr/share/doc/agentspool/$f" ] || fail "no /usr/share/doc/agentspool/$f"
	done
	dpkg -r agentspool >/dev/null 2>&1 || fail "dpkg -r agentspool"
	installed=""
	[ ! -e /usr/bin/agentspool ] || fail "/usr/bin/agentspool left after dpkg -r"
	echo "distcheck: ${deb##*/}: dpkg -i, $got, dpkg -r ok"
fi

missing=""
for c in wine wineboot wineserver Xvfb x86_64-w64-mingw32-gcc; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
if [ -n "$missing" ]; then
	fail "missing$missing for the Wine check: run scripts/deps.sh desktop"
fi

Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
xvfb=$!
i=0
until [ -s "$tmp/display" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "Xvfb gave no display in 10 s: $(cat "$tmp/xvfb.log")"
	sleep 0.1
done
export DISPLAY=":$(cat "$tmp/display")" WINEPREFIX="$tmp/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" LC_ALL=C.UTF-8
mkdir -p "$WINEPREFIX"
wine_boot "$tmp" || fail "wineboot"
x86_64-w64-mingw32-gcc -shared -O2 -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	test/winetest/standin/bcryptprimitives.c test/winetest/standin/bcryptprimitives.def -ladvapi32

unzip -q "$zip" -d "$tmp/unzipped"
dir="$tmp/unzipped/agentspool_${version}_windows_amd64"
got=$(cd "$dir" && wine agentspool.exe version | tr -d '\r')
[ "$got" = "agentspool $version" ] || fail "agentspool.exe version under Wine: $got, want agentspool $version"
echo "distcheck: agentspool.exe version under Wine: $got"
rc=0
(cd "$dir" && wine agentspool.exe --config coords.example.yaml doctor) >"$tmp/doctor.out" 2>&1 || rc=$?
tr -d '\r' <"$tmp/doctor.out"
echo "distcheck: agentspool.exe doctor under Wine exited $rc"
tr -d '\r' <"$tmp/doctor.out" | grep -q '^ok  *config ' || fail "doctor under Wine printed no config line"
tr -d '\r' <"$tmp/doctor.out" | grep -q '^ok  *session ' || fail "doctor under Wine printed no session line"
echo "distcheck: ok"
