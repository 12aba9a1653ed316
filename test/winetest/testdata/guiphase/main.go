//go:build windows

// guiphase delivers messages through the Windows backend, as the daemon's
// GUI phase does (verify_paste on: ctrl+a/ctrl+c looks), and prints each
// one's GUI time: guiphase N NAME:X:Y ... (round-robin over the windows).
// BenchmarkGUIPhaseWine runs it under Wine.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agentspool/agentspool/deliver"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: guiphase N NAME:X:Y ...")
		os.Exit(2)
	}
	desk, err := deliver.NewWindows()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer desk.Close()
	var ts []deliver.Target
	for _, a := range os.Args[2:] {
		f := strings.Split(a, ":")
		x, _ := strconv.Atoi(f[1])
		y, _ := strconv.Atoi(f[2])
		name := f[0]
		ts = append(ts, deliver.Target{Agent: name, X: x, Y: y, Window: strconv.Quote(name),
			Match:  func(title string) bool { return title == name },
			Submit: []string{"enter"}, Undo: []string{"ctrl", "z"},
			Read:   &deliver.DraftKeys{SelectAll: []string{"ctrl", "a"}, Copy: []string{"ctrl", "c"}, Caret: []string{"ctrl", "end"}},
			Verify: true})
	}
	dl := &deliver.Deliverer{Desktop: desk, Timings: deliver.NewTimings(5*time.Millisecond, 5*time.Second)}
	for i := 0; i < n; i++ {
		t := ts[i%len(ts)]
		text := fmt.Sprintf("[agentspool id=b%04d from=bench to=%s]\nmessage %d ünïcödé ✓\nline 3", i, t.Agent, i)
		rep, err := dl.Deliver(context.Background(), t, text)
		if err != nil {
			fmt.Printf("%d %s error %v\n", i, t.Agent, err)
			continue
		}
		fmt.Printf("%d %s gui_us %d\n", i, t.Agent, rep.GUI.Microseconds())
	}
}
