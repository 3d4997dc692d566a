package session

import (
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// armExpiry schedules the ends of a token's rights with one timer: at exp its
// channel grants lapse (see expired); ExpiryGrace later, unless an auth
// message brings a newer token first, the session closes with 4002. A
// negative ExpiryGrace keeps the session open, but the grants still lapse.
// Callers hold subMu, or own the session alone.
func (s *Session) armExpiry(claims *herald.Claims) {
	s.setExpiry(claims.ExpiresAt, func() { s.expired(claims) })
}

// setExpiry replaces the session's expiry timer with one running f at t.
func (s *Session) setExpiry(t time.Time, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.ended.Load() {
		return
	}
	s.expiry = time.AfterFunc(max(t.Sub(s.e.cfg.Now()), 0), f)
}

// Reasons the server gives when it ends a subscription by itself, in an
// {"type":"unsubscribed","reason":…} message.
const (
	// ReasonGrantRevoked: an in-band refresh brought a token that does not
	// allow the channel.
	ReasonGrantRevoked = "grant_revoked"
	// ReasonTokenExpired: the token whose channels claim allowed the
	// channel reached its exp.
	ReasonTokenExpired = "token_expired"
)

// grantsLocked is what the channel policy checks a subscription against:
// the token's claims, or, once the token is past its exp, only the user —
// what a token with no channels claim would allow.
func (s *Session) grantsLocked() *herald.Claims {
	if s.lapsed || !s.e.cfg.Now().Before(s.claims.ExpiresAt) {
		return &herald.Claims{UserID: s.user, ExpiresAt: s.claims.ExpiresAt}
	}
	return s.claims
}

// expired runs at a token's exp: unless a refresh has replaced the token, the
// subscriptions only its channels claim allowed end, and the session lives
// out its grace with what any token of the user allows, then closes.
func (s *Session) expired(claims *herald.Claims) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.claims != claims || s.ended.Load() {
		return // refreshed meanwhile, or gone
	}
	s.lapsed = true
	s.recheckLocked(ReasonTokenExpired)
	if s.e.cfg.ExpiryGrace < 0 {
		return
	}
	s.setExpiry(claims.ExpiresAt.Add(s.e.cfg.ExpiryGrace), func() {
		s.e.metrics.TokenExpiries.Inc()
		s.Close(herald.CloseInvalidToken, "Invalid or expired token")
	})
}

// recheckLocked applies the channel policy to every subscription again and
// ends, with an unsubscribed message giving reason, those it now refuses.
func (s *Session) recheckLocked(reason string) {
	grants := s.grantsLocked()
	for ch := range s.subs {
		if s.e.cfg.Channels.allow(grants, ch) == nil {
			continue
		}
		s.e.cfg.Hub.Unsubscribe(s, ch)
		delete(s.subs, ch)
		s.reply(channelMsg{Type: herald.TypeUnsubscribed, Channel: ch, Reason: reason, Timestamp: s.now()})
	}
}

// refresh handles an auth message on an open session: a valid token for
// the same user replaces the old one, moves the expiry, and re-checks every
// subscription against the new token's grants.
func (s *Session) refresh(in *inbound) {
	token, ok := stringField(in.Token)
	if !ok || strings.TrimSpace(token) == "" {
		s.fail(herald.Errorf(herald.EINVALID, "auth needs a token"), "")
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	claims, err := s.e.cfg.Verifier.Verify(ctx, token)
	switch {
	case err != nil:
		s.e.metrics.AuthFailures.WithLabelValues("refresh").Inc()
		s.fail(herald.Errorf(herald.ETOKEN, "Invalid or expired token"), "")
		return
	case claims.UserID != s.user:
		s.e.metrics.AuthFailures.WithLabelValues("mismatch").Inc()
		s.fail(herald.Errorf(herald.EMISMATCH, "User ID mismatch"), "")
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.claims, s.lapsed = claims, false
	s.armExpiry(claims)
	s.reply(authenticatedMsg{Type: herald.TypeAuthenticated, UserID: claims.UserID,
		ExpiresAt: herald.FormatTime(claims.ExpiresAt), Timestamp: s.now()})
	s.recheckLocked(ReasonGrantRevoked)
}

type authenticatedMsg struct {
	Type      string `json:"type"`
	UserID    string `json:"userId"`
	ExpiresAt string `json:"expiresAt"`
	Timestamp string `json:"timestamp"`
}
