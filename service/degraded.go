package service

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// The degraded state: which parts of the daemon keep failing (the journal,
// the status file, a move in the spool, a directory fsync), until they work.

const degradedLogGap = 30 * time.Second // one log line per source per gap

// degrade records that source (the journal, the status file, a transition)
// is failing: logged at most once per degradedLogGap per source, and shown
// in `agentspool status` until it works again (issue 11 item 11).
func (d *Daemon) degrade(source string, err error) { d.degradeAt(slog.LevelError, source, err) }

func (d *Daemon) degradeAt(level slog.Level, source string, err error) {
	d.mu.Lock()
	if d.degraded == nil {
		d.degraded, d.degradedLog = map[string]string{}, map[string]time.Time{}
	}
	d.degraded[source] = err.Error()
	now := time.Now()
	logIt := now.Sub(d.degradedLog[source]) >= degradedLogGap
	if logIt {
		d.degradedLog[source] = now
	}
	d.dirty = true
	d.mu.Unlock()
	if logIt {
		d.log.Log(context.Background(), level, "degraded: "+source+" is failing", "err", err)
	}
}

// syncedDir hears of a directory fsync after a completed rename (the
// spool's OnSyncDir, the status file, a pointer copy). A failure is a
// warning, never the operation's failure: the daemon is degraded while
// they fail, since a crash could undo the renames (issue 11 items 11, 12).
func (d *Daemon) syncedDir(dir string, err error) {
	if err == nil {
		d.clearDegraded(degradedSync)
		return
	}
	d.degradeAt(slog.LevelWarn, degradedSync, fmt.Errorf("%s: %w (the change is made, but a crash may undo it)", dir, err))
}

// degradedSync is the degraded source of failing directory fsyncs.
const degradedSync = "directory fsync"

func (d *Daemon) clearDegraded(source string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.degraded[source]; ok {
		delete(d.degraded, source)
		d.dirty = true
		d.log.Info("recovered: " + source + " works again")
	}
}
