package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Notifier shows the daemon's alerts to the person at the desk. The one
// real implementation is the freedesktop notification service over D-Bus
// (DesktopNotifications); tests script their own.
type Notifier interface {
	// Notify is called once when an alert starts (firing) and once when
	// it ends. It runs off the delivery path and may block up to its own
	// timeout.
	Notify(a AlertStatus, firing bool)
	Close() error
}

// The freedesktop notification service
// (https://specifications.freedesktop.org/notification-spec/).
const (
	notifyName      = "org.freedesktop.Notifications"
	notifyPath      = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyMethod    = notifyName + ".Notify"
	notifyTimeout   = 5 * time.Second // a notification daemon that does not answer is given up on
	notifyAppName   = "agentspool"
	notifyExpireFor = -1 // the server's default for a firing alert
)

// dbusNotifier sends Notify calls on a private session-bus connection.
type dbusNotifier struct {
	conn *dbus.Conn
	log  *slog.Logger

	mu sync.Mutex
	// ids are the notifications shown for the alerts in force, by alert
	// and agent: the end of an alert replaces its notification rather
	// than adding one.
	ids map[string]uint32
	// failing: the last Notify failed (logged once until one works).
	failing bool
}

// DesktopNotifications connects to the session bus for desktop
// notifications. Where there is none (a headless service, no
// DBUS_SESSION_BUS_ADDRESS and no /run/user/UID/bus) it logs one line
// saying so and returns nil: notifications are off, nothing else changes.
// It never starts a bus (no dbus-launch autolaunch): a daemon must not
// leave a dbus-daemon of its own behind.
func DesktopNotifications(log *slog.Logger) Notifier {
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err == nil {
		if err = conn.Auth(nil); err == nil {
			err = conn.Hello()
		}
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		log.Info("desktop notifications off: no session bus", "err", err)
		return nil
	}
	return &dbusNotifier{conn: conn, log: log, ids: map[string]uint32{}}
}

func (n *dbusNotifier) Notify(a AlertStatus, firing bool) {
	key := a.Name + "/" + a.Agent
	summary, body := notificationText(a, firing)
	n.mu.Lock()
	replaces := n.ids[key]
	n.mu.Unlock()
	urgency := byte(1) // normal
	expire := int32(notifyExpireFor)
	if firing {
		urgency = 2 // critical: stays until the person dismisses it
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(urgency), "category": dbus.MakeVariant("transfer.error")}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	var id uint32
	err := n.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyMethod, 0,
		notifyAppName, replaces, "dialog-warning", summary, body, []string{}, hints, expire).Store(&id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		if !n.failing {
			n.log.Warn("desktop notification failed", "alert", a.Name, "agent", a.Agent, "err", err)
		}
		n.failing = true
		return
	}
	n.failing = false
	if firing {
		n.ids[key] = id
	} else {
		delete(n.ids, key)
	}
}

func (n *dbusNotifier) Close() error { return n.conn.Close() }

// notificationText is the summary and body of an alert's notification.
func notificationText(a AlertStatus, firing bool) (summary, body string) {
	what := map[string]string{
		AlertFailureRate:    fmt.Sprintf("%.1f%% of the messages failed in the last %v (limit %.0f%%)", a.Value*100, alertWindow, a.Threshold*100),
		AlertRetryRate:      fmt.Sprintf("%.1f%% of the submits needed a retry in the last %v (limit %.0f%%)", a.Value*100, alertWindow, a.Threshold*100),
		AlertFailedMessages: fmt.Sprintf("%g messages in failed/ for %v: agentspool list --state failed", a.Value, failedFor),
		AlertAgentHeld:      "the queue is parked in hold/: agentspool status tells why; then agentspool release " + a.Agent,
		AlertQueueStuck:     fmt.Sprintf("the oldest message has waited %v and nothing was tried", time.Duration(a.Value*float64(time.Second)).Round(time.Second)),
	}[a.Name]
	if what == "" {
		what = fmt.Sprintf("%s: %g (threshold %g)", a.Name, a.Value, a.Threshold)
	}
	if !firing {
		return "agentspool: " + a.Agent + ": resolved", a.Name + " ended"
	}
	return "agentspool: " + a.Agent + ": " + a.Name, what
}
