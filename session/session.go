package session

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Session is one client's session: it is the herald.Conn the hub delivers
// to, and it hands what the client should get to its Transport.
type Session struct {
	e    *Engine
	t    Transport
	id   uint64 // in the engine, to lock sessions in one order
	user string

	storeMu    sync.Mutex                 // a leaf lock: guards the fields below only
	storeCalls map[int]context.CancelFunc // store calls in flight (storeCtx); nil when none
	storeNext  int
	// ctx ends when the session does (End) or the engine stops: replays
	// and the transport's own work made for the session end with it. It is
	// made on first use (Context), as most sessions never need it: an idle
	// connection does not carry one.
	ctx       context.Context
	cancel    context.CancelFunc
	cancelled bool // cancelWork has run

	// limit is the inbound budget of messages and control frames; used by
	// the transport's one reader at a time.
	limit  *limiter
	events *limiter // client events, when a sink is configured

	subMu  sync.Mutex          // guards claims, lapsed, subs; taken before mu and the hub's locks
	claims *herald.Claims      // the token's, replaced by an in-band refresh
	lapsed bool                // past exp: the token's channel grants no longer count
	subs   map[string]struct{} // channels joined, to re-check when the grants change

	mu        sync.Mutex
	replaying bool // live messages are held while missed ones are replayed
	held      []*herald.Message
	heldLast  int        // index+1 in held of the Latest message held, 0 if none
	seqs      seqTracker // notification seqs handed to the transport
	dedupe    bool       // drop live notifications already sent, once a replay has run
	version   int64      // greatest Message.Version handed on (or sent in "connected")
	expiry    *time.Timer

	closed     atomic.Bool // closing or ended: nothing more is handed on
	ended      atomic.Bool // End has run
	registered atomic.Bool // the hub holds it (Gate.Admit)
	admitted   atomic.Bool // the Admission hook gave it a place, not yet released
	replayMu   sync.Mutex  // one replay at a time
}

// New returns a session of claims' user speaking through t. It holds live
// messages until Start has greeted the client.
func (e *Engine) New(t Transport, claims *herald.Claims) *Session {
	s := &Session{
		e: e, t: t, id: e.lastID.Add(1), user: claims.UserID, claims: claims,
		replaying: true,
		limit:     newLimiter(e.cfg.RateLimit, e.cfg.RateBurst, e.cfg.Now),
	}
	if e.cfg.ClientEvents != nil {
		s.events = newLimiter(e.cfg.ClientEventRate, int(2*e.cfg.ClientEventRate), e.cfg.Now)
	}
	// Greeting first: a resync asked for before "connected" (and the initial
	// replay) went out waits until Start is done with them.
	s.replayMu.Lock()
	return s
}

// Transport returns the session's transport.
func (s *Session) Transport() Transport { return s.t }

// UserID implements herald.Conn.
func (s *Session) UserID() string { return s.user }

// Context ends when the session ends or the engine stops.
func (s *Session) Context() context.Context {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	switch {
	case s.ctx != nil:
	case s.cancelled:
		return cancelledCtx
	default:
		s.ctx, s.cancel = context.WithCancel(s.e.ctx)
	}
	return s.ctx
}

// cancelledCtx is the Context of a session asked for it only once ended.
var cancelledCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Send implements herald.Conn: it hands m to the transport without blocking,
// or holds it while a replay runs. A session whose transport is full is too
// slow to keep up; the transport closes it so that the client can reconnect
// and resume, and it never delays the sender or other recipients.
func (s *Session) Send(m *herald.Message) bool {
	if m.Close != 0 {
		s.Close(m.Close, string(m.Payload))
		return true
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return false
	}
	if s.replaying {
		// A Latest message (an unread count) replaces the one held before
		// it, as the transport's queue does: a burst of counts during a
		// slow replay must not fill the held messages and close the client.
		if i := s.heldLast; m.Latest && i > 0 {
			if m.Version >= s.held[i-1].Version {
				s.held[i-1] = m
			}
			s.mu.Unlock()
			return true
		}
		if len(s.held) >= s.e.cfg.QueueSize*4 {
			s.held, s.heldLast = nil, 0
			s.mu.Unlock()
			s.overflow()
			return false
		}
		s.held = append(s.held, m)
		if m.Latest {
			s.heldLast = len(s.held)
		}
		s.mu.Unlock()
		return true
	}
	ok := s.deliverLocked(m, false)
	s.mu.Unlock()
	return ok
}

// SendBatch hands ms on in order as Send does, and lets the transport
// write them together: each but the last message handed on goes with
// Outbound.More. While a replay holds live messages, or when one of ms is
// a close order, they go one by one through Send.
func (s *Session) SendBatch(ms []*herald.Message) bool {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return false
	}
	oneByOne := s.replaying
	for _, m := range ms {
		oneByOne = oneByOne || m.Close != 0
	}
	if oneByOne {
		s.mu.Unlock()
		for _, m := range ms {
			if !s.Send(m) {
				return false
			}
		}
		return true
	}
	defer s.mu.Unlock()
	var last *herald.Message // admitted, not yet handed on
	for _, m := range ms {
		if !s.admitLocked(m) {
			continue
		}
		if last != nil && !s.handLocked(last, false, true) {
			return false
		}
		last = m
	}
	return last == nil || s.handLocked(last, false, false)
}

// deliverLocked hands m on, unless admitLocked drops it.
func (s *Session) deliverLocked(m *herald.Message, force bool) bool {
	return !s.admitLocked(m) || s.handLocked(m, force, false)
}

// admitLocked records m's seq and version and reports whether m is to be
// handed on: not when it is a notification this session was already sent
// by a replay, a seq marker, or a versioned Latest message not newer than
// one handed on before (counts from several nodes may arrive out of order).
func (s *Session) admitLocked(m *herald.Message) bool {
	if m.Seq != 0 {
		if s.dedupe && s.seqs.has(m.Seq) {
			return false
		}
		s.seqs.mark(m.Seq)
		if len(m.Payload) == 0 {
			return false // a seq marker: the seq is used, nothing is sent
		}
	}
	if m.Latest && m.Version != 0 {
		if m.Version <= s.version {
			return false
		}
		s.version = m.Version
	}
	return true
}

// handLocked gives m to the transport; a refusal closes the session.
func (s *Session) handLocked(m *herald.Message, force, more bool) bool {
	if !s.t.Send(Outbound{Msg: m, Force: force, More: more}) {
		s.closed.Store(true)
		return false
	}
	return true
}

// reply sends v, a message only this client receives.
func (s *Session) reply(v any) bool { return s.sendData(encode(v), false) }

func (s *Session) sendData(b []byte, wait bool) bool {
	if s.closed.Load() {
		return false
	}
	if !s.t.Send(Outbound{Data: b, Wait: wait}) {
		s.closed.Store(true)
		return false
	}
	return true
}

// overflow closes a session that could not keep up.
func (s *Session) overflow() {
	s.e.metrics.QueueOverflows.Inc()
	s.Close(herald.CloseTryAgainLater, "Too slow to keep up; reconnect and resume")
}

// Close ends the session with code and reason through its transport, after
// what is queued; nothing more is handed on.
func (s *Session) Close(code int, reason string) {
	s.Closing()
	s.t.Close(code, reason)
}

// Closing tells the session that its transport is closing: live messages
// are no longer held or handed on, and the session's work in progress (a
// replay's store reads, a mark_read) is cancelled, since nothing more can
// reach the client. A transport calls it when it closes by itself, even
// from under its own lock: it never blocks.
func (s *Session) Closing() {
	s.closed.Store(true)
	s.cancelWork()
}

// cancelWork cancels the session's context and the store call in flight.
func (s *Session) cancelWork() {
	s.storeMu.Lock()
	s.cancelled = true
	if s.cancel != nil {
		s.cancel()
	}
	for _, cancel := range s.storeCalls {
		cancel()
	}
	s.storeMu.Unlock()
}

// Closed reports whether the session is closing or ended.
func (s *Session) Closed() bool { return s.closed.Load() }

// End runs once the transport is gone: the session leaves the hub, its
// timers stop and its work is cancelled. Calling it twice is harmless.
func (s *Session) End() {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	s.closed.Store(true)
	s.cancelWork()
	s.mu.Lock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.held, s.heldLast = nil, 0
	s.mu.Unlock()
	if s.registered.Load() {
		s.e.cfg.Hub.Unregister(s)
	}
	s.releaseAdmission()
}

// Admit takes one unit of the session's inbound budget for a message or a
// transport's control frame and reports whether to process it. Past the
// budget the first refusal answers rate_limited, and a client that keeps on
// for another second's worth is closed with 1008.
func (s *Session) Admit() bool {
	ok, persist := s.limit.allow()
	if ok {
		return true
	}
	s.e.metrics.MessagesIn.WithLabelValues("rate_limited").Inc()
	switch {
	case persist:
		s.Close(herald.ClosePolicy, "Rate limit exceeded")
	case s.limit.strikes == 1: // one error per burst, not one per frame
		s.reply(errorMsg{Type: herald.TypeError, Message: "Rate limit exceeded", Code: herald.ERATELIMIT})
	}
	return false
}

// storeCtx bounds one store call made for the session; it also ends with
// the session. It derives from the engine's context, not the session's, and
// the session cancels it by hand: a child of the session's context would give
// every session a map of children and a Done channel that outlive the call —
// 450 bytes of each idle connection, all for the one query made at connect.
// The calls in flight wait in a map that is dropped when the last one ends,
// so an idle session holds none.
func (s *Session) storeCtx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(s.e.ctx, s.e.cfg.StoreTimeout)
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	if s.cancelled {
		cancel() // already ended: cancelWork has run
		return ctx, cancel
	}
	id := s.storeNext
	s.storeNext++
	if s.storeCalls == nil {
		s.storeCalls = make(map[int]context.CancelFunc, 1)
	}
	s.storeCalls[id] = cancel
	return ctx, func() {
		s.storeMu.Lock()
		delete(s.storeCalls, id)
		if len(s.storeCalls) == 0 {
			s.storeCalls = nil
		}
		s.storeMu.Unlock()
		cancel()
	}
}

func (s *Session) now() string { return herald.FormatTime(s.e.cfg.Now()) }
