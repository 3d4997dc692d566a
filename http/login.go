package http

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// maxAuthBodyBytes bounds the bodies of the /auth routes: a username, a
// password of herald.MaxPasswordLen bytes, or a refresh token, with room for
// JSON escapes.
const maxAuthBodyBytes = 16 << 10

// loginRequest is the body of POST /auth/login.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// UserID, when set, asks for tokens of that user: a service account
	// logging in for the user of a browser session (Authenticator.LoginFor).
	UserID string `json:"userId,omitempty"`
}

// refreshRequest is the body of POST /auth/refresh and /auth/logout.
type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// parseLogin decodes and checks a login body. Only its shape is checked
// here; whether the credentials are right is the Authenticator's business,
// which answers every wrong pair alike.
func parseLogin(body []byte) (loginRequest, error) {
	var in loginRequest
	if err := decodeObject(body, &in, false); err != nil {
		return in, err
	}
	if in.Username == "" || in.Password == "" {
		return in, herald.Errorf(herald.EINVALID, "username and password are required")
	}
	if in.UserID != "" {
		if err := herald.CheckUserID("userId", in.UserID); err != nil {
			return in, err
		}
	}
	return in, nil
}

// handleLogin is POST /auth/login: credentials in, an access token and a
// refresh token out.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, maxAuthBodyBytes)
	if err != nil {
		return err
	}
	in, err := parseLogin(body)
	if err != nil {
		return err
	}
	var tokens *herald.Tokens
	if in.UserID != "" {
		tokens, err = s.cfg.Sessions.LoginFor(r.Context(), in.Username, in.Password, in.UserID, clientIP(r))
	} else {
		tokens, err = s.cfg.Sessions.Login(r.Context(), in.Username, in.Password, clientIP(r))
	}
	if err != nil {
		return withRetryAfter(w, err)
	}
	writeJSON(w, http.StatusOK, tokens)
	return nil
}

// handleRefresh is POST /auth/refresh: a refresh token in, a new pair out.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, maxAuthBodyBytes)
	if err != nil {
		return err
	}
	var in refreshRequest
	if err := decodeObject(body, &in, false); err != nil {
		return err
	}
	if in.RefreshToken == "" {
		return herald.Errorf(herald.ECREDENTIALS, "refreshToken is required")
	}
	tokens, err := s.cfg.Sessions.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		return withRetryAfter(w, err)
	}
	writeJSON(w, http.StatusOK, tokens)
	return nil
}

// handleLogout is POST /auth/logout: it ends the session of the refresh
// token in the body, or of the access token in the Authorization header.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	var in refreshRequest
	if r.ContentLength != 0 { // the body is optional: a bearer access token will do
		body, err := readBody(w, r, maxAuthBodyBytes)
		if err == nil {
			err = decodeObject(body, &in, false)
		}
		if err != nil && !emptyBody(err) {
			return err
		}
	}
	var access *herald.Claims
	if tok := bearer(r); tok != "" {
		if s.cfg.Verifier == nil {
			return herald.Errorf(herald.ETOKEN, "Invalid or expired token")
		}
		c, err := s.cfg.Verifier.Verify(r.Context(), tok)
		if err != nil {
			return err
		}
		if c == nil || c.Kind != herald.TokenAccess {
			return herald.Errorf(herald.ETOKEN, "Invalid or expired token")
		}
		access = c
	}
	if in.RefreshToken == "" && access == nil {
		return herald.Errorf(herald.ECREDENTIALS, "A refresh token or an access token is required")
	}
	if err := s.cfg.Sessions.Logout(r.Context(), in.RefreshToken, access); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// emptyBody reports whether err is readBody's refusal of an empty body.
func emptyBody(err error) bool {
	return herald.CodeOf(err) == herald.EINVALID && herald.ErrorMessage(err) == "Request body is required"
}

// withRetryAfter sets Retry-After, in whole seconds, when err says how long
// to wait (an error with a RetryAfter() time.Duration method), and returns err.
func withRetryAfter(w http.ResponseWriter, err error) error {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && herald.CodeOf(err) == herald.ERATELIMIT {
		secs := int(math.Ceil(ra.RetryAfter().Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	return err
}

// clientIP is the request's peer address, for the login limiter. Forwarding
// headers are not trusted: anyone can send them. Behind a proxy, the proxy
// is the peer, and it should limit logins itself.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
