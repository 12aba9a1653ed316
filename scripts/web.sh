#!/bin/sh
# web.sh: install the editors of desktoptest's Chromium agent windows.
#
# Fetches the exact npm packages of test/desktoptest/web/package-lock.json
# into web/node_modules (npm ci) and bundles Lexical into web/build/lexical.js
# (esbuild). Neither is committed. deps.sh desktop|all runs this.
#
# Quiet and quick when done already: a stamp records the hashes of the lock
# file and the bundle's entry, and a matching stamp skips everything.
set -eu

web=$(cd "$(dirname "$0")/../test/desktoptest/web" && pwd)
cd "$web"

for cmd in node npm; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		echo "web.sh: $cmd not found: run scripts/deps.sh desktop (Debian packages nodejs npm)" >&2
		exit 1
	fi
done

want=$(cat package-lock.json lexical-entry.js | sha256sum | cut -d' ' -f1)
stamp=node_modules/.web-sh-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f build/lexical.js ]; then
	exit 0
fi

# npm ci removes node_modules first, so a half-done earlier run cannot
# linger; --ignore-scripts: the one package with an install script
# (esbuild) only checks its binary there, and the binary comes in its own
# platform package.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2

# Lexical is ES modules only; one IIFE with a global keeps the page a plain
# <script>. The production define drops Lexical's dev-mode checks.
mkdir -p build
node_modules/.bin/esbuild lexical-entry.js --bundle --format=iife \
	--global-name=LexicalKit --define:process.env.NODE_ENV='"production"' \
	--log-level=warning --outfile=build/.lexical.js.tmp
mv build/.lexical.js.tmp build/lexical.js

echo "$want" >"$stamp"
