// Package winetest runs Windows programs under Wine on a throwaway X11 desktop, for the tests that prove the Windows build on Linux.
//
// A Prefix is a fresh WINEPREFIX in a test's own directory, booted with
// `wineboot -i` on a desktoptest display (Xvfb + openbox; no window of
// Wine's ever reaches a developer's session) with WINEDEBUG=-all and Wine's
// Mono and Gecko installers turned off. Wine 8 has no bcryptprimitives.dll,
// from which every Go >= 1.22 program takes ProcessPrng at start-up and
// without which it dies at once; New builds a stand-in with mingw-w64
// (standin/bcryptprimitives.c: real randomness, from RtlGenRandom) into the
// prefix's system32.
//
// Windows .exe files (Go ones built with GOOS=windows GOARCH=amd64, or C
// ones built with x86_64-w64-mingw32-gcc) run under `wine` with the
// prefix's environment. Each is tracked by its Unix pid and stopped by it
// (SIGTERM, then SIGKILL), as test/desktoptest does; Wine starts the
// processes a program creates in sessions of their own, out of reach of a
// process group, so Stop also ends the prefix's wineserver with
// `wineserver -k` (which knows only this prefix's processes) and then kills
// by pid any process still carrying this prefix's WINEPREFIX. Nothing is
// ever killed by name.
//
// The agent windows are a Win32 program (fixture/agentwin.c), built at
// test time: one top-level window titled Agent-N per process, a multi-line
// EDIT control as its input, Enter submits to a record file, envelopes are
// acked by a command (agentspool.exe ack) or by a file.
//
// Pitfalls of Wine 8 that Windows-side code run here must know: Go 1.26's
// os.RemoveAll fails there ("Invalid function": Wine answers
// FileDispositionInformationEx with STATUS_NOT_IMPLEMENTED, on which Go
// does not fall back), so a program that removes a tree, and any test's
// t.TempDir() clean-up, fails; scripts/winetest.sh builds the unit tests
// with an overlay that makes Go fall back, GoBuild does not (agentspool
// removes no trees). BlockInput is not implemented; SetForegroundWindow
// always succeeds; xdotool can type only ASCII into Wine windows reliably
// (it remaps a spare keycode for other characters, and Wine may not see the
// new mapping in time), so the tests paste the rest. The harness itself is
// Linux-only.
package winetest
