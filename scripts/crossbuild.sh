#!/bin/sh
# crossbuild.sh: the platform checks CI runs besides the Linux tests.
#
#   - builds agentspool for windows/amd64 (pure Go; CGO_ENABLED=0, so no
#     mingw-w64 is needed), and vets it for windows, tests included
#     (except the Linux-only test/desktoptest);
#   - vets every package for darwin/amd64 and darwin/arm64 (go vet
#     type-checks the darwin files, tests included, without a macOS SDK;
#     linking a darwin binary is not attempted).
#
# Exits non-zero on the first failure. Needs only Go.
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "crossbuild: windows/amd64 build"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 "$GO" build -o "$out/agentspool.exe" ./cmd/agentspool
# test/desktoptest is the Linux virtual desktop (Xvfb), and
# test/proof the proof on it; their tests use Unix-only calls, and
# neither is part of the Windows binary.
echo "crossbuild: windows/amd64 vet"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 "$GO" vet $(CGO_ENABLED=0 GOOS=windows GOARCH=amd64 "$GO" list ./... | grep -v -e /test/desktoptest -e /test/proof)
for arch in amd64 arm64; do
	echo "crossbuild: darwin/$arch vet"
	CGO_ENABLED=0 GOOS=darwin GOARCH=$arch "$GO" vet ./...
done
echo "crossbuild: ok"
