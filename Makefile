# agentspool: make build | test | demo | bench | lint | dist | dist-check
#
# Run as root on Debian/Ubuntu, `make test` and `make demo` install the
# desktop tools they need (scripts/deps.sh); elsewhere they say what to
# install.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/agentspool
# Fuzz budgets are execution counts, about 5 s each here, not durations: Go
# 1.26's fuzz coordinator can fail a duration-bounded run with a bare
# "context deadline exceeded" and no crasher (golang/go#75804, fixed in 1.27).
FUZZ_SPOOL  ?= 200000x
FUZZ_CONFIG ?= 40000x

.PHONY: build test unit wine-unit rules fuzz crossbuild build-windows demo bench lint deps deps-build dist dist-test dist-check clean

build: deps-build
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/agentspool

# bin/agentspool.exe for windows/amd64, from this Linux machine. Pure Go
# (CGO_ENABLED=0): robotgo is used only by the X11 backend (deliver/*_linux.go);
# a Windows backend that needed cgo would build with
# CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc (scripts/deps.sh installs mingw-w64).
build-windows:
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN).exe ./cmd/agentspool

deps-build:
	@sh scripts/deps.sh build

deps:
	@sh scripts/deps.sh all

# All tests with the race detector (the desktop tests start their own Xvfb),
# then a few seconds of each fuzzer, then `make demo` itself (it once
# failed for a day without a test noticing: Tk copied an emoji back as
# CESU-8, and the verifying look took it for a paste that did not land).
test: deps lint crossbuild rules dist-test unit wine-unit fuzz demo

# The Prometheus rules: syntax, then their unit tests (also run by
# service/rules_test.go within unit).
rules:
	cd contrib/prometheus && promtool check rules agentspool-rules.yml && promtool test rules agentspool-rules.test.yml

# The real agent CLIs (test/agentcli, test/terminal: four node TUIs and
# their terminals) run on their own, after the rest, as do the Wine tests:
# beside the X11 proof's CPU burners they would measure the burners.
# The Wine tests run on their own, after the rest: under Wine, an X-side
# focus change (or a click's) reaches Wine's foreground later the more
# loaded the machine is, and beside the X11 proof's CPU burners that lag,
# not our code, is what they would measure (CI once saw `coords check
# --click` wait 5 s in vain for a Wine window's focus, with its prefix
# booting in 13.6 s instead of 3). The Windows proof runs alone last.
unit:
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v -e '/test/winetest$$' -e '/test/agentcli$$' -e '/test/terminal$$')
	$(GO) test -race -count=1 -p 1 -timeout 40m ./test/agentcli/ ./test/terminal/
	$(GO) test -race -count=1 -timeout 20m -skip '^TestWindowsProof$$' ./test/winetest/
	$(GO) test -race -count=1 -timeout 20m -run '^TestWindowsProof$$' ./test/winetest/

# The unit tests of the platform-neutral packages, built for windows/amd64
# and run under Wine (scripts/winetest.sh says which, and why the overlay).
wine-unit:
	sh scripts/winetest.sh

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseMessage$$' -fuzztime $(FUZZ_SPOOL) ./spool/
	$(GO) test -run '^$$' -fuzz '^FuzzParseName$$' -fuzztime $(FUZZ_SPOOL) ./spool/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZ_CONFIG) ./config/

# windows/amd64 build and vet, darwin vet: the platform files compile.
crossbuild:
	sh scripts/crossbuild.sh

lint:
	$(GO) vet ./...
	@out=$$(gofmt -s -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt -s would change:"; echo "$$out"; exit 1; fi

# The daemon delivering to 8 agent windows on a virtual desktop.
demo: deps build
	$(GO) run ./test/demo -bin $(BIN) -out demo-out

# Benchmarks: spool (enqueue, claim, scan of 100k), the GUI phase (Tk; the
# Windows backend under Wine right after it; Chromium windows of every kind
# beside Tk) against the old fixed sleeps,
# drop→submit through the daemon, and one `agentspool send` process.
bench: deps
	$(GO) test -run '^$$' -bench Scan100k -benchtime 3x ./spool/
	$(GO) test -run '^$$' -bench 'Enqueue|Bare|Claim' ./spool/
	$(GO) test -run '^$$' -bench 'GUIPhase$$' -benchtime 200x ./deliver/
	$(GO) test -run '^$$' -bench GUIPhaseWine -benchtime 200x ./test/winetest/
	$(GO) test -run '^$$' -bench GUIPhaseChromium -benchtime 400x ./deliver/
	$(GO) test -run '^$$' -bench DropToSubmit -benchtime 100x ./test/proof/
	$(GO) test -run '^$$' -bench OldFixedSleeps -benchtime 10x ./deliver/
	$(GO) test -run '^$$' -bench SendProcess ./cmd/agentspool/

# The release artefacts in dist/: for linux/amd64, linux/arm64 and
# windows/amd64 an archive (binary, README, example coords.yaml, Prometheus
# rules; tar.gz, zip for Windows), a .deb per Linux architecture, and
# SHA256SUMS. scripts/dist is a module of its own, which pins nfpm (the
# .deb's packager) without putting it in the daemon's module graph. The
# same commit gives the same bytes (the commit's time, -trimpath).
DEB_MAINTAINER ?= agentspool maintainers <maintainers@agentspool.invalid>
dist: deps-build
	rm -rf dist
	$(GO) -C scripts/dist run . -root "$(CURDIR)" -version "$(VERSION)" -maintainer "$(DEB_MAINTAINER)"

# What make dist runs, vetted, and its tests: the archives' and the .deb's
# contents from a stand-in binary (no cross builds), and the Debian version
# order checked with dpkg. Compiling nfpm takes about a minute the first
# time, seconds after.
dist-test:
	$(GO) -C scripts/dist vet .
	$(GO) -C scripts/dist test -count=1 .

# What make dist made, used as a person would: SHA256SUMS, the archives'
# contents, dpkg -i of the amd64 .deb and `agentspool version` (as root;
# dpkg -r after), the Windows zip's agentspool.exe running `version` and
# `doctor` under Wine. Not part of make test: it installs a package.
dist-check:
	sh scripts/distcheck.sh dist

clean:
	rm -rf bin demo-out dist
