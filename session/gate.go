package session

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
)

// Gate is the handshake's checks, the same for every transport: where the
// token is, whether it verifies for the user asked for, and whether the node
// admits one more session of that user.
type Gate struct{ e *Engine }

// Gate returns the engine's handshake checks.
func (e *Engine) Gate() Gate { return Gate{e} }

// Credentials finds the token: the Authorization header first, then the
// design document's query string. src names where it came from ("header" or
// "query"), for the userId rule of Authenticate.
func (g Gate) Credentials(r *http.Request) (token, userID, src string) {
	userID, _ = QueryValue(r, "userId")
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), userID, "header"
	}
	if !g.e.cfg.DisableQueryToken {
		token, _ = QueryValue(r, "token")
		return token, userID, "query"
	}
	return "", userID, "query"
}

// Authenticate applies the document's handshake rules: a query token needs a
// userId beside it, the token must verify, and its user must be that userId.
func (g Gate) Authenticate(ctx context.Context, token, userID, src string) (*herald.Claims, error) {
	m := g.e.metrics
	if token == "" || (src == "query" && userID == "") {
		m.AuthFailures.WithLabelValues("missing").Inc()
		return nil, herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials")
	}
	claims, err := g.e.cfg.Verifier.Verify(ctx, token)
	if err != nil {
		if herald.CodeOf(err) == herald.EINTERNAL {
			g.e.log.Error("token verification failed", "err", err)
			m.AuthFailures.WithLabelValues("internal").Inc()
			return nil, err
		}
		m.AuthFailures.WithLabelValues("invalid").Inc()
		return nil, herald.Errorf(herald.ETOKEN, "Invalid or expired token")
	}
	if userID != "" && claims.UserID != userID {
		m.AuthFailures.WithLabelValues("mismatch").Inc()
		return nil, herald.Errorf(herald.EMISMATCH, "User ID mismatch")
	}
	return claims, nil
}

// Admit asks the Admission hook, then the hub, to take s. It runs before
// any lock of the transport or the hub is held, so that a slow hook (a
// Redis round trip) delays only its own connect. A refusal is counted and
// returned as the error to close with; a place the hook gave to a session
// the hub then refused is given back in the background.
func (g Gate) Admit(ctx context.Context, s *Session) error {
	cfg := &g.e.cfg
	if cfg.Admission != nil {
		actx, cancel := context.WithTimeout(ctx, cfg.AdmitTimeout)
		err := cfg.Admission.Admit(actx, s.user)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The hook was slow, not wrong: the client may try again.
			err = herald.Errorf(herald.EUNAVAILABLE, "Connection admission timed out")
		}
		if err != nil {
			return g.refused(err)
		}
		s.admitted.Store(true)
	}
	if err := cfg.Hub.Register(s); err != nil {
		s.releaseAdmission()
		return g.refused(err)
	}
	s.registered.Store(true)
	return nil
}

func (g Gate) refused(err error) error {
	_, reason := herald.CodeOf(err).CloseCode()
	g.e.metrics.Refused.WithLabelValues(reason).Inc()
	return err
}

// releaseAdmission gives back the session's admission, once, in the background.
func (s *Session) releaseAdmission() {
	if a := s.e.cfg.Admission; a != nil && s.admitted.CompareAndSwap(true, false) {
		go a.Release(s.user)
	}
}
