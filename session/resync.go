package session

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/heraldhq/herald"
)

// Resync replays to each of ss, in the background, every notification
// committed after the last one it was sent, then resumes live delivery;
// live messages are held at once, so that none can overtake the replay. A
// cluster broker asks for it after an outage during which live messages may
// have been lost, and for one user once its subscription is confirmed.
//
// It is a mass operation made cheap: the sessions of one user (tabs,
// devices) share one replay, each user's starts after a random delay of up
// to ResyncJitter when jitter is set, and the engine's replays hold at most
// MaxReplays store reads at once. A failed read is retried.
func (e *Engine) Resync(ss []*Session, jitter bool) {
	byUser := make(map[string][]*Session)
	for _, s := range ss {
		s.mu.Lock()
		if !s.closed.Load() {
			s.replaying = true
			byUser[s.user] = append(byUser[s.user], s)
		}
		s.mu.Unlock()
	}
	for _, group := range byUser {
		var wait time.Duration
		if jitter && e.cfg.ResyncJitter > 0 {
			wait = rand.N(e.cfg.ResyncJitter)
		}
		go e.resyncUser(group, wait)
	}
}

// resyncUser runs one user's shared replay after wait.
func (e *Engine) resyncUser(group []*Session, wait time.Duration) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			return
		}
	}
	// One replay at a time per session; locked in one order everywhere, so
	// that two resyncs of a user cannot deadlock.
	slices.SortFunc(group, func(a, b *Session) int { return cmp.Compare(a.id, b.id) })
	for _, s := range group {
		s.replayMu.Lock()
		defer s.replayMu.Unlock()
	}
	live := group[:0]
	var froms []int64
	for _, s := range group {
		s.mu.Lock()
		if !s.closed.Load() {
			s.replaying = true // a resume that ran meanwhile released it
			live = append(live, s)
			froms = append(froms, s.seqs.w)
		}
		s.mu.Unlock()
	}
	if len(live) > 0 {
		e.replay(e.ctx, live, froms)
	}
}

// replay sends to each of ss every notification of their user with seq above
// its froms entry, in order, reading the store once for all of them; then it
// releases each one's held live messages after a "resumed" message. ctx ends
// the replay.
func (e *Engine) replay(ctx context.Context, ss []*Session, froms []int64) {
	user := ss[0].user
	last := slices.Min(froms)
	counts := make([]int, len(ss))
	for e.cfg.Inbox != nil && slices.ContainsFunc(ss, func(s *Session) bool { return !s.closed.Load() }) {
		ns, err := e.list(ctx, user, last)
		if err != nil {
			if ctx.Err() != nil {
				return // the session or the engine ended
			}
			e.log.Error("resume", "user", user, "err", err)
			for _, s := range ss {
				s.fail(herald.Errorf(herald.EINTERNAL, "Resume failed; reconnect to retry"), "")
				s.Close(herald.CloseServerError, "Internal server error")
			}
			return
		}
		for _, n := range ns {
			last = n.Seq
			var msg []byte   // made for the first session to send it, shared by the others
			skip := n.Silent // a silent one is read for its seq, never sent
			for i, s := range ss {
				if s.closed.Load() {
					continue
				}
				s.mu.Lock()
				sent := s.seqs.has(n.Seq)
				s.seqs.mark(n.Seq)
				s.mu.Unlock()
				if sent || skip {
					continue
				}
				if msg == nil {
					encoded, err := n.MarshalJSON()
					if err != nil { // only a Data the store returned corrupt
						// Left out for every session, each still marking
						// its seq, so that none replays it again.
						e.log.Error("resume: cannot encode notification", "user", user, "id", n.ID, "err", err)
						skip = true
						continue
					}
					msg = herald.NotificationMessage(encoded, s.now(), true)
				}
				if s.sendData(msg, true) {
					counts[i]++
				}
			}
		}
		if len(ns) < e.cfg.ReplayPageSize {
			break
		}
	}
	for i, s := range ss {
		s.release(encode(resumedMsg{Type: TypeResumed, Since: froms[i], LastSeq: max(last, froms[i]), Replayed: counts[i], Timestamp: s.now()}))
	}
}

// list reads one page of a replay: at most MaxReplays such reads run at
// once in the engine, and a failed one is retried up to ReplayRetries times
// after a growing, jittered pause.
func (e *Engine) list(ctx context.Context, user string, since int64) ([]*herald.Notification, error) {
	f := herald.NotificationFilter{UserID: user, Since: since, Ascending: true, WithSilent: true, Limit: e.cfg.ReplayPageSize}
	for attempt := 0; ; attempt++ {
		select {
		case e.replays <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		rctx, cancel := context.WithTimeout(ctx, e.cfg.StoreTimeout)
		ns, err := e.cfg.Inbox.List(rctx, f)
		cancel()
		<-e.replays
		if err == nil || ctx.Err() != nil || attempt >= e.cfg.ReplayRetries {
			return ns, err
		}
		e.metrics.ReplayRetries.Inc()
		pause := min(100*time.Millisecond<<attempt, 2*time.Second)
		t := time.NewTimer(pause/2 + rand.N(pause/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}
