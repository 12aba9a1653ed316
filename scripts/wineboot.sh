# wineboot.sh: sourced by scripts/winetest.sh and scripts/distcheck.sh.
# wine_boot DIR: boots the fresh Wine prefix $WINEPREFIX under a persistent
# wineserver (its PID in $server, its log and wineboot's in DIR) and fails
# with wineboot's log if the boot fails.
#
# The server must listen before the first client starts: its socket is in
# its working directory, the server directory it made. A client started
# before that makes a server directory of its own (/tmp/wine-XXXXXX, at
# random), starts a second wineserver, which finds the prefix locked by the
# first and exits, and the client dies ("chdir to /tmp/wine-XXXXXX/server-…:
# No such file or directory", or later "could not load kernel32.dll, status
# c0000135"). Measured: 1 boot in 24 failed so with two boots at once, 0 in
# 40 with the wait. test/winetest's Prefix waits the same way.
wine_boot() {
	wineserver --foreground --persistent >"$1/wineserver.log" 2>&1 &
	server=$!
	_i=0
	until [ -e "/proc/$server/cwd/socket" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$server" 2>/dev/null; then
			echo "wineserver did not listen in 10 s: $(cat "$1/wineserver.log")" >&2
			return 1
		fi
		sleep 0.05
	done
	if ! wine wineboot -i >"$1/wineboot.log" 2>&1; then
		cat "$1/wineboot.log" >&2
		return 1
	fi
}
