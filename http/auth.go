package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
)

// handlerFunc is a route that returns its failure instead of answering it,
// so every error goes through writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// userHandlerFunc is a route for an authenticated user.
type userHandlerFunc func(w http.ResponseWriter, r *http.Request, c *herald.Claims) error

// bearer returns the token of an "Authorization: Bearer <token>" header, or
// "" when there is none. The scheme is case-insensitive (RFC 9110).
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// handle wraps a route that needs no credentials, or checks its own.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// backend wraps a server API route: the caller must present the API key, or
// an access token from a credential login, within its address's allowance
// of failed attempts (see guard).
func (s *Server) backend(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := s.guard(w, r, "server API authentication", func() error {
			err := s.checkAPIKey(r)
			if herald.CodeOf(err) == herald.ETOKEN {
				err = s.checkAccessToken(r, err)
			}
			return err
		})
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

// checkAPIKey compares the request's bearer key with the configured one in
// constant time. Both are hashed first, so neither the key's content nor its
// length shows in the timing. With no key configured every key is refused.
func (s *Server) checkAPIKey(r *http.Request) error {
	key := bearer(r)
	if key == "" {
		return herald.Errorf(herald.ECREDENTIALS, "Missing API key")
	}
	if !sameKey(key, s.apiKey) || s.cfg.APIKey == "" {
		return herald.Errorf(herald.ETOKEN, "Invalid API key")
	}
	return nil
}

// sameKey compares given with a key's digest in constant time. Hashing first
// hides the length of both from the timing, which a plain
// subtle.ConstantTimeCompare would not.
func sameKey(given string, want [sha256.Size]byte) bool {
	g := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

// checkAccessToken accepts the request's bearer token when it is an access
// token (herald.TokenAccess) the Verifier accepts; otherwise it returns
// refused. Connection tokens, refresh tokens and anything else do not call
// the server API.
func (s *Server) checkAccessToken(r *http.Request, refused error) error {
	tok := bearer(r)
	if s.cfg.Verifier == nil || strings.Count(tok, ".") != 2 {
		return refused
	}
	c, err := s.cfg.Verifier.Verify(r.Context(), tok)
	switch {
	case herald.CodeOf(err) == herald.EINTERNAL:
		return err
	case err != nil || c == nil || c.Kind != herald.TokenAccess:
		return herald.Errorf(herald.ETOKEN, "Invalid API key or access token")
	}
	return nil
}

// user wraps an inbox route: the caller must present a token the Verifier
// accepts, and acts as the token's user. The API key is not a user token.
func (s *Server) user(h userHandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" {
			s.writeError(w, r, herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials"))
			return
		}
		c, err := s.cfg.Verifier.Verify(r.Context(), token)
		if err == nil && (c == nil || c.UserID == "") {
			err = herald.Errorf(herald.ETOKEN, "Invalid or expired token")
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}
