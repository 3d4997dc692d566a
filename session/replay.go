package session

import (
	"context"
	"errors"

	"github.com/heraldhq/herald"
)

// Start greets a registered session with "connected" (its unread count
// included) and, when the client asked with since >= 0, replays what it
// missed before anything live.
func (s *Session) Start(since int64) {
	defer s.replayMu.Unlock() // locked by New
	s.e.metrics.Connects.Inc()
	s.armExpiry(s.claims)
	msg := connectedMsg{Type: herald.TypeConnected, UserID: s.user, Timestamp: s.now()}
	if inbox := s.e.cfg.Inbox; inbox != nil {
		ctx, cancel := s.storeCtx()
		if u, err := inbox.UnreadCount(ctx, s.user); err == nil {
			msg.UnreadCount, msg.UnreadVersion = &u.Count, u.Version
			s.mu.Lock()
			s.version = max(s.version, u.Version) // older counts held meanwhile are dropped
			if since < 0 {
				// A live-only client still gets a resume point, so that the
				// server can resync it by itself after a broker outage
				// (Resync).
				s.seqs.reset(u.LastSeq)
			}
			s.mu.Unlock()
		} else if !errors.Is(ctx.Err(), context.Canceled) { // not ended meanwhile, nor the engine stopped
			s.e.log.Error("unread count for connected message", "user", s.user, "err", err)
		}
		cancel()
	}
	s.sendData(encode(msg), true)
	if since >= 0 {
		s.mu.Lock()
		s.seqs.reset(since)
		s.mu.Unlock()
		s.replay(since)
		return
	}
	s.release(nil)
}

// replay sends every notification with seq > since, in order, while live
// messages are held; then it releases the held ones, dropping notifications
// the replay already sent. Registering before reading the store is what makes
// the boundary gap-free: anything committed after the read is held live.
func (s *Session) replay(since int64) {
	s.e.replay(s.Context(), []*Session{s}, []int64{since})
}

// release sends first (when not nil) and then the live messages held so
// far, minus notifications the session was already sent, and stops holding.
// From the first replay on, live copies of replayed notifications that
// arrive later are dropped too.
func (s *Session) release(first []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	if first != nil {
		s.dedupe = true
		if !s.t.Send(Outbound{Data: first, Force: true}) {
			s.closed.Store(true)
			return
		}
	}
	for _, m := range s.held {
		if !s.deliverLocked(m, true) {
			break
		}
	}
	s.held, s.heldLast, s.replaying = nil, 0, false
}

// resume replays, on a session already live, what it misses: after since
// for a client's resume message (since >= 0), or, for a resync after a
// broker outage (since < 0), every notification it was not sent.
func (s *Session) resume(since int64) {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.replaying = true
	if since >= 0 {
		s.seqs.reset(since)
	}
	from := s.seqs.w
	s.mu.Unlock()
	s.replay(from)
}
