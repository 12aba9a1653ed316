#!/bin/sh
# agents.sh: install the real agent CLIs that test/agentcli runs.
#
# Fetches Claude Code, Codex, Gemini CLI and Qwen Code at the exact versions
# below from the npm registry into test/agentcli/npm (node_modules/.bin has
# claude, codex, gemini and qwen). Nothing of it is committed. deps.sh
# desktop|all runs this after web.sh.
#
# Quiet and quick when done already: a stamp records the package list, and a
# matching stamp skips everything. A version is changed here and only here;
# test/agentcli reads the stamp to say which versions it ran.
set -eu

# Keep in step with the Versions map in test/agentcli/agentcli.go.
pkgs="@anthropic-ai/claude-code@2.1.332 @openai/codex@0.171.0 @google/gemini-cli@0.61.0 @qwen-code/qwen-code@0.24.4"

dir=$(cd "$(dirname "$0")/../test/agentcli" && pwd)/npm

for cmd in node npm; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		echo "agents.sh: $cmd not found: run scripts/deps.sh desktop (Debian packages nodejs npm)" >&2
		exit 1
	fi
done

stamp=$dir/node_modules/.agents-sh-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ]; then
	exit 0
fi

# A fresh folder each time, so a half-done earlier run or an older version
# cannot linger. The install scripts stay on: Claude Code's and Codex's
# postinstall only pick their platform binary, which comes in an optional
# dependency from the registry itself.
rm -rf "$dir"
mkdir -p "$dir"
printf '{"name":"agentspool-agentcli","private":true}\n' >"$dir/package.json"
t0=$(date +%s)
# shellcheck disable=SC2086 # one word per package, on purpose
npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error $pkgs >&2
echo "agents.sh: npm install of the agent CLIs took $(($(date +%s) - t0)) s, $(du -sh "$dir" | cut -f1)" >&2
echo "$pkgs" >"$stamp"
