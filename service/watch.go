package service

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/agentspool/agentspool/spool"
	"github.com/fsnotify/fsnotify"
)

// watcher turns changes under new/ into pokes. Events are only hints: the
// scan that follows a poke (and the periodic one) is the truth, so a missed
// or overflowed event costs at most one scan interval.
type watcher struct {
	fw   *fsnotify.Watcher
	root string
	log  *slog.Logger
	poke func()
	done chan struct{}
}

func newWatcher(sp *spool.Spool, log *slog.Logger, poke func()) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("service: watch: %w", err)
	}
	w := &watcher{fw: fw, root: filepath.Join(sp.Root, string(spool.StateNew)), log: log, poke: poke, done: make(chan struct{})}
	if err := fw.Add(w.root); err != nil {
		fw.Close()
		return nil, fmt.Errorf("service: watch %s: %w", w.root, err)
	}
	w.addAgentDirs()
	go w.loop()
	return w, nil
}

// addAgentDirs watches every new/<agent>/, including ones made after start.
func (w *watcher) addAgentDirs() {
	ents, err := os.ReadDir(w.root)
	if err != nil {
		w.log.Warn("watch: read new/", "err", err)
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := w.fw.Add(filepath.Join(w.root, e.Name())); err != nil {
				w.log.Warn("watch", "dir", e.Name(), "err", err)
			}
		}
	}
}

func (w *watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if filepath.Dir(ev.Name) == w.root && ev.Has(fsnotify.Create) {
				w.addAgentDirs()
			}
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Write) {
				w.poke()
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("watch: event queue overflowed; rescanning")
			} else {
				w.log.Warn("watch", "err", err)
			}
			w.addAgentDirs()
			w.poke()
		}
	}
}

func (w *watcher) Close() error {
	err := w.fw.Close()
	<-w.done
	return err
}
