package service

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentspool/agentspool/deliver/fakedesktop"
	"github.com/agentspool/agentspool/spool"
	"github.com/godbus/dbus/v5"
)

// The desktop notifications are tested on a session bus of their own
// (dbus-run-session, Debian package dbus; scripts/deps.sh installs it),
// with a notification listener in the test: it owns the name
// org.freedesktop.Notifications, as a desktop's notification daemon does,
// and records every Notify call.

// notifyCall is one Notify the listener received.
type notifyCall struct {
	App, Summary, Body string
	Replaces, ID       uint32
	Urgency            byte
}

// notifyListener is the test's notification daemon.
type notifyListener struct {
	calls chan notifyCall
	next  atomic.Uint32
}

// Notify has the signature of org.freedesktop.Notifications.Notify
// (susssasa{sv}i → u).
func (l *notifyListener) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	id := replaces
	if id == 0 {
		id = l.next.Add(1)
	}
	var urgency byte
	if v, ok := hints["urgency"]; ok {
		urgency, _ = v.Value().(byte)
	}
	l.calls <- notifyCall{App: app, Summary: summary, Body: body, Replaces: replaces, ID: id, Urgency: urgency}
	return id, nil
}

// listenNotifications claims the notification service's name on the
// session bus and records what it is sent.
func listenNotifications(t *testing.T) *notifyListener {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("session bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &notifyListener{calls: make(chan notifyCall, 100)}
	if err := conn.Export(l, notifyPath, notifyName); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(notifyName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("claim %s: reply %v, %v", notifyName, reply, err)
	}
	return l
}

// inSessionBus runs the calling test again inside dbus-run-session, unless
// it already is there; it reports whether the caller is the inner run.
func inSessionBus(t *testing.T) bool {
	t.Helper()
	if os.Getenv("AGENTSPOOL_TEST_SESSION_BUS") != "" {
		return true
	}
	bin, err := exec.LookPath("dbus-run-session")
	if err != nil {
		t.Fatalf("dbus-run-session not found (Debian package dbus; run scripts/deps.sh): %v", err)
	}
	cmd := exec.Command(bin, "--", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "AGENTSPOOL_TEST_SESSION_BUS=1")
	out, err := cmd.CombinedOutput()
	t.Logf("inside dbus-run-session:\n%s", out)
	if err != nil {
		t.Fatalf("dbus-run-session: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatal("the test did not run inside dbus-run-session")
	}
	return false
}

func (l *notifyListener) next1(t *testing.T, within time.Duration, logs fmt.Stringer) notifyCall {
	t.Helper()
	select {
	case c := <-l.calls:
		return c
	case <-time.After(within):
		t.Fatalf("no desktop notification within %v\nlogs:\n%s", within, logs)
		return notifyCall{}
	}
}

// TestHeldAgentNotifiesOnce: an agent parked by focus mismatches, with
// messages queued behind it before and after the hold, gives one
// notification when the hold starts, none while it lasts, and one that
// replaces it when the hold ends.
func TestHeldAgentNotifiesOnce(t *testing.T) {
	if !inSessionBus(t) {
		return
	}
	l := listenNotifications(t)
	r := newRig(t, "")
	r.notifier = DesktopNotifications(slog.New(slog.NewTextHandler(r.logs, nil)))
	if r.notifier == nil {
		t.Fatalf("no notifier on the session bus %s\n%s", os.Getenv("DBUS_SESSION_BUS_ADDRESS"), r.logs)
	}
	t.Cleanup(func() { r.notifier.Close() })
	var steal atomic.Bool
	steal.Store(true)
	r.desk.AfterClick = func(d *fakedesktop.Desk, x, y int) {
		if x < 100 && steal.Load() {
			d.Focus("Editor")
		}
	}
	for i := 0; i < 4; i++ {
		r.send("Agent-1", fmt.Sprintf("held %d", i))
	}
	r.start()
	r.waitState(spool.StateHold, "Agent-1", 1)
	c := l.next1(t, 10*time.Second, r.logs)
	if c.App != "agentspool" || !strings.Contains(c.Summary, "Agent-1") || !strings.Contains(c.Summary, AlertAgentHeld) ||
		!strings.Contains(c.Body, "agentspool release Agent-1") || c.Replaces != 0 || c.Urgency != 2 {
		t.Errorf("the hold's notification: %+v", c)
	}
	firing := c.ID
	// More messages park behind the hold; the alert is evaluated again
	// and again meanwhile.
	for i := 0; i < 3; i++ {
		r.send("Agent-1", fmt.Sprintf("behind the hold %d", i))
	}
	r.waitState(spool.StateNew, "Agent-1", 6)
	r.d.mu.Lock()
	from := r.d.alertsAt
	r.d.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r.d.mu.Lock()
		at := r.d.alertsAt
		r.d.mu.Unlock()
		if at.Sub(from) >= 2*alertEvalGap {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the alerts were not evaluated again")
		}
	}
	steal.Store(false)
	if err := r.sp.ReleaseAgent("Agent-1"); err != nil {
		t.Fatal(err)
	}
	// Notifications go out in order: a second one for the same hold would
	// come before the end's.
	c = l.next1(t, 10*time.Second, r.logs)
	if c.Replaces != firing || !strings.Contains(c.Summary, "resolved") || !strings.Contains(c.Body, AlertAgentHeld) {
		t.Errorf("after the release: %+v, want the end of the hold replacing notification %d", c, firing)
	}
	r.waitState(spool.StateDone, "Agent-1", 6)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-l.calls:
		t.Errorf("another notification: %+v", c)
	default:
	}
}

// Without a session bus the notifier is off, and says so in one line.
func TestNoSessionBusTurnsNotificationsOff(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/no-bus")
	logs := &syncBuffer{}
	if n := DesktopNotifications(slog.New(slog.NewTextHandler(logs, nil))); n != nil {
		n.Close()
		t.Fatal("a notifier without a session bus")
	}
	if got := strings.Count(logs.String(), "\n"); got != 1 || !strings.Contains(logs.String(), "desktop notifications off: no session bus") {
		t.Fatalf("log, want one line:\n%s", logs)
	}
}
