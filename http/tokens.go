package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults of the connection tokens POST /api/tokens issues.
const (
	DefaultTokenTTL    = 15 * time.Minute
	DefaultMaxTokenTTL = 24 * time.Hour
	// MaxTokenChannels bounds the channels one token may grant.
	MaxTokenChannels = 64
)

// tokenRequest is the body of POST /api/tokens.
type tokenRequest struct {
	UserID   string          `json:"userId"`
	TTL      json.RawMessage `json:"ttl"`
	Channels []string        `json:"channels"`
}

type tokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	ExpiresIn int64  `json:"expiresIn"`
	UserID    string `json:"userId"`
}

// handleIssueToken is POST /api/tokens: a backend (API key or access token)
// asks for a short-lived connection token for one of its users, to hand to
// that user's browser, as the design document's server actions do.
func (s *Server) handleIssueToken(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in tokenRequest
	if err := decodeObject(body, &in, false); err != nil {
		return err
	}
	if err := herald.CheckUserID("userId", in.UserID); err != nil {
		return err
	}
	ttl, err := s.parseTTL(in.TTL)
	if err != nil {
		return err
	}
	channels, err := checkGrants(in.Channels)
	if err != nil {
		return err
	}
	// JWT times are whole seconds: so are the token's times and lifetime.
	now := s.cfg.Now().Truncate(time.Second)
	ttl = ttl.Truncate(time.Second)
	exp := now.Add(ttl)
	tok, err := s.cfg.Tokens.IssueToken(&herald.Claims{Kind: herald.TokenConnection, UserID: in.UserID,
		Channels: channels, IssuedAt: now, ExpiresAt: exp})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenResponse{Token: tok, ExpiresAt: herald.FormatTime(exp),
		ExpiresIn: int64(ttl / time.Second), UserID: in.UserID})
	return nil
}

// parseTTL reads the ttl field: absent or null for the default, a duration
// string ("15m"), or a number of seconds.
func (s *Server) parseTTL(raw json.RawMessage) (time.Duration, error) {
	maxTTL := s.cfg.MaxTokenTTL
	bad := herald.Errorf(herald.EINVALID, "ttl must be a duration such as \"15m\" or a number of seconds, from 1s to %s", maxTTL)
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return min(s.cfg.TokenTTL, maxTTL), nil
	}
	var d time.Duration
	var str string
	var secs float64
	switch {
	case json.Unmarshal(raw, &str) == nil:
		var err error
		if d, err = time.ParseDuration(str); err != nil {
			return 0, bad
		}
	case json.Unmarshal(raw, &secs) == nil:
		if secs > maxTTL.Seconds() || secs < 1 {
			return 0, bad
		}
		d = time.Duration(secs * float64(time.Second))
	default:
		return 0, bad
	}
	if d < time.Second || d > maxTTL {
		return 0, bad
	}
	return d, nil
}

// checkGrants validates the channels a token is to grant and returns them
// canonical. A trailing "*" grants every channel with that prefix, as the
// channel policy reads it.
func checkGrants(channels []string) ([]string, error) {
	if len(channels) > MaxTokenChannels {
		return nil, herald.Errorf(herald.EINVALID, "channels may name at most %d channels", MaxTokenChannels)
	}
	out := make([]string, 0, len(channels))
	for _, c := range channels {
		name, wild := strings.CutSuffix(c, "*")
		canon, err := herald.ParseChannel(name)
		if err != nil {
			return nil, herald.Errorf(herald.EINVALID, "channels must be channel names, optionally ending in *")
		}
		if wild {
			canon += "*"
		}
		out = append(out, canon)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
