//go:build linux || darwin

package service

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	kservice "github.com/kardianos/service"
)

// program adapts the daemon to kardianos' Interface: Start runs it with a
// context, Stop cancels that context and waits, so the service manager's
// stop (SIGTERM from systemd or launchd) finishes the GUI step in progress,
// releases the locks and leaves nothing half-done in cur/.
type program struct {
	run    RunFunc
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error
}

func (p *program) Start(kservice.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		defer close(p.done)
		p.err = p.run(ctx)
	}()
	return nil
}

func (p *program) Stop(kservice.Service) error {
	p.once.Do(p.cancel)
	<-p.done
	return nil
}

// wait is kardianos' RunWait: the stop signal, or the daemon ending on its
// own (an unreachable display, say). kardianos' own wait is only the
// signal, which would leave a service whose daemon failed "running" and
// idle instead of failing and being restarted.
func (p *program) wait() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-p.done:
	}
}

// RunManaged runs the daemon under the service manager through kardianos'
// Run: the manager's stop becomes the cancel of run's context. It returns
// run's error (nil after a stop), so a daemon that fails exits non-zero and
// the manager restarts it.
func RunManaged(name string, run RunFunc) error {
	p := &program{run: run, done: make(chan struct{})}
	s, err := kservice.New(p, &kservice.Config{
		Name:   name,
		Option: kservice.KeyValue{"RunWait": p.wait},
	})
	if err != nil {
		return err
	}
	if err := s.Run(); err != nil {
		return err
	}
	if errors.Is(p.err, context.Canceled) {
		return nil
	}
	return p.err
}
