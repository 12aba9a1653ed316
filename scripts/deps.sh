#!/bin/sh
# deps.sh [build|desktop|all]: make sure the tools agentspool needs are here.
#
#   build    what `go build` needs: Go only (the robotgo backend we use is pure Go).
#   desktop  what the virtual-desktop tests, the demo and the benchmarks need
#            (test/desktoptest): Xvfb, openbox, wish, x11-utils, xdotool,
#            xclip, imagemagick, chromium; xterm and lxterminal, the two
#            terminal emulators test/agentcli runs the agent CLIs in; and
#            node and npm, with which scripts/web.sh then fetches the
#            Chromium windows' editors and scripts/agents.sh the agent CLIs;
#            and for the Windows tests under Wine (test/winetest,
#            scripts/winetest.sh): wine, wine64 and the mingw-w64 C
#            compiler that builds the Win32 fixture and the stand-in
#            bcryptprimitives.dll.
#   all      both, and what the tests need beside them: promtool and
#            prometheus (Debian package prometheus) for the rules in
#            contrib/prometheus and the scrape test, and dbus-run-session
#            (package dbus) for the desktop-notification test (the
#            default).
#
# Quiet and exit 0 when everything is present. Otherwise, as root on
# Debian/Ubuntu, installs what is missing with apt-get (one `apt-get update`
# first); anywhere else prints what to install and exits 1.
set -eu

mode=${1:-all}
case $mode in
build | desktop | all) ;;
*)
	echo "usage: $0 [build|desktop|all]" >&2
	exit 2
	;;
esac

missing_pkgs=""
missing_cmds=""

# need COMMAND PACKAGE: note PACKAGE when COMMAND is not in PATH.
need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		missing_cmds="$missing_cmds $1"
		case " $missing_pkgs " in
		*" $2 "*) ;;
		*) missing_pkgs="$missing_pkgs $2" ;;
		esac
	fi
}

# need_file PATH PACKAGE: note PACKAGE when PATH (a program outside PATH)
# is not there.
need_file() {
	if [ ! -x "$1" ]; then
		missing_cmds="$missing_cmds $1"
		case " $missing_pkgs " in
		*" $2 "*) ;;
		*) missing_pkgs="$missing_pkgs $2" ;;
		esac
	fi
}

if [ "$mode" = build ] || [ "$mode" = all ]; then
	# Go is not installed from apt: Debian's is older than go.mod asks.
	if ! command -v go >/dev/null 2>&1; then
		echo "deps.sh: go not found: install Go (see go.mod for the version) from https://go.dev/dl/" >&2
		exit 1
	fi
fi

if [ "$mode" = desktop ] || [ "$mode" = all ]; then
	# Keep in step with DesktopTools in test/desktoptest/desktoptest.go.
	need Xvfb xvfb
	need openbox openbox
	need wish tk
	need xprop x11-utils
	need xwininfo x11-utils
	need xdotool xdotool
	need xclip xclip
	need import imagemagick
	need convert imagemagick
	need chromium chromium
	# Keep in step with Terminals in test/agentcli/agentcli.go. lxterminal
	# is the VTE one: LXDE's and Raspberry Pi OS's terminal, it needs no
	# session bus (its single-instance socket is its own, and --no-remote
	# turns it off), where gnome-terminal needs a D-Bus server and
	# xfce4-terminal its xfconf daemon on the bus.
	need xterm xterm
	need lxterminal lxterminal
	# Only for scripts/web.sh and scripts/agents.sh, at set-up time; the tests need neither.
	need node nodejs
	need npm npm
	# Keep in step with Tools in test/winetest/winetest.go. Debian's
	# wine package has the wine and wineboot commands; wine64 has the 64-bit
	# loader they run, outside PATH (no i386 multiarch needed: everything
	# here is amd64).
	need wine wine
	need wineboot wine
	need_file /usr/lib/wine/wine64 wine64
	need x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
fi

if [ "$mode" = all ]; then
	# service/rules_test.go and `make rules`: promtool check/test rules.
	need promtool prometheus
	# cmd/agentspool/prometheus_desktop_test.go: a real Prometheus server
	# scrapes the daemon.
	need prometheus prometheus
	# service/notify_test.go: a session bus of the test's own.
	need dbus-run-session dbus
fi

# web_sh: once the tools are here, fetch and build the Chromium windows'
# editors, then fetch the agent CLIs (each quiet and quick when done
# already).
web_sh() {
	if [ "$mode" = desktop ] || [ "$mode" = all ]; then
		sh "$(dirname "$0")/web.sh"
		sh "$(dirname "$0")/agents.sh"
	fi
}

if [ -z "$missing_pkgs" ]; then
	web_sh
	exit 0
fi

if [ -z "${DEPS_SH_INSTALLED:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing$missing_cmds; installing$missing_pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	t0=$(date +%s)
	apt-get update -qq
	# shellcheck disable=SC2086 # one word per package, on purpose
	apt-get install -y -qq --no-install-recommends $missing_pkgs
	# What the set-up costs CI (chromium, wine, prometheus...): say it.
	echo "deps.sh: apt-get update and install took $(($(date +%s) - t0)) s" >&2
	# Check again: a package that installed but did not bring the command
	# must not pass silently.
	DEPS_SH_INSTALLED=1 exec /bin/sh "$0" "$mode"
fi

if [ -n "${DEPS_SH_INSTALLED:-}" ]; then
	echo "deps.sh: still missing after apt-get install:$missing_cmds" >&2
	exit 1
fi
echo "deps.sh: missing$missing_cmds" >&2
if command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: install them with: sudo apt-get install --no-install-recommends$missing_pkgs" >&2
else
	echo "deps.sh: install the packages that provide them (Debian names:$missing_pkgs)" >&2
fi
exit 1
