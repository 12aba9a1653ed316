package deliver

import (
	"errors"
	"fmt"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// serverClock reads the X server's clock: the SYNC extension's SERVERTIME
// system counter, the milliseconds the server stamps input events with and
// counts the idle time in, read fresh on every query. jezek/xgb has no SYNC
// package; the three requests used are encoded here.
type serverClock struct {
	c       *xgb.Conn
	opcode  byte
	counter uint32
}

// SYNC minor opcodes (sync.xml).
const (
	syncInitialize         = 0
	syncListSystemCounters = 1
	syncQueryCounter       = 5
)

// replyTimeout bounds a wait for a SYNC reply. xgb cannot decode a SYNC
// error and would leave the cookie waiting forever; with a valid system
// counter there is none, so this only guards against the impossible.
const replyTimeout = 2 * time.Second

func newServerClock(c *xgb.Conn) (*serverClock, error) {
	ext, err := xproto.QueryExtension(c, 4, "SYNC").Reply()
	if err != nil {
		return nil, err
	}
	if !ext.Present {
		return nil, errors.New("no SYNC extension")
	}
	s := &serverClock{c: c, opcode: ext.MajorOpcode}
	// Version 3.1 is what every server since X11R6 speaks.
	if _, err := s.reply(s.send(syncInitialize, []byte{3, 1, 0, 0})); err != nil {
		return nil, fmt.Errorf("SYNC initialize: %w", err)
	}
	r, err := s.reply(s.send(syncListSystemCounters, nil))
	if err != nil {
		return nil, fmt.Errorf("SYNC list counters: %w", err)
	}
	// Reply: 32-byte header (count at 8), then per counter: id (4),
	// resolution (8), name length (2), name, padded to 4 bytes.
	if len(r) < 32 {
		return nil, errors.New("SYNC list counters: short reply")
	}
	n, off := int(xgb.Get32(r[8:])), 32
	for i := 0; i < n && off+14 <= len(r); i++ {
		nl := int(xgb.Get16(r[off+12:]))
		if off+14+nl > len(r) {
			break
		}
		if string(r[off+14:off+14+nl]) == "SERVERTIME" {
			s.counter = xgb.Get32(r[off:])
			return s, nil
		}
		off += (14 + nl + 3) &^ 3
	}
	return nil, errors.New("SYNC has no SERVERTIME counter")
}

func (s *serverClock) send(minor byte, body []byte) *xgb.Cookie {
	buf := make([]byte, 4+len(body))
	buf[0], buf[1] = s.opcode, minor
	xgb.Put16(buf[2:], uint16(len(buf)/4))
	copy(buf[4:], body)
	ck := s.c.NewCookie(true, true)
	s.c.NewRequest(buf, ck)
	return ck
}

func (s *serverClock) reply(ck *xgb.Cookie) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := ck.Reply()
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-time.After(replyTimeout):
		return nil, errors.New("no reply from the X server")
	}
}

// ask sends a query of the clock; tick reads its answer. Split, so that a
// query can be sent inside a server grab and read after it.
func (s *serverClock) ask() *xgb.Cookie {
	var b [4]byte
	xgb.Put32(b[:], s.counter)
	return s.send(syncQueryCounter, b[:])
}

func (s *serverClock) tick(ck *xgb.Cookie) (Tick, error) {
	r, err := s.reply(ck)
	if err != nil {
		return 0, temporary("server clock", err)
	}
	if len(r) < 16 {
		return 0, temporary("server clock", errors.New("short reply"))
	}
	// The counter is 64 bits (months above): the low 32 are the tick.
	return Tick(xgb.Get32(r[12:])), nil
}

func (s *serverClock) now() (Tick, error) { return s.tick(s.ask()) }
