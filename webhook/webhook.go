// Package webhook sends JSON to HTTP endpoints with an HMAC-SHA256 signature
// over a timestamp and the body, and verifies such signatures on the receiving
// side. Herald uses it to hand client events to a backend, and receivers use
// Verify to know a request came from Herald and is fresh.
//
// The signature header reads
//
//	Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// so a receiver recomputes the MAC over the exact bytes it got and refuses a
// timestamp outside its tolerance, which stops replays of captured requests.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// SignatureHeader is the request header that carries the signature.
const SignatureHeader = "Herald-Signature"

// Sign returns the signature header value for body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrSignature is returned by Verify for a missing, malformed, wrong or stale
// signature.
var ErrSignature = errors.New("webhook: invalid signature")

// Verify checks header against body: the MAC must match (compared in constant
// time) and the timestamp must be within tolerance of now.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignature
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrSignature
	}
	return nil
}

// Config configures a Sender. URL and Secret are required.
type Config struct {
	URL    string
	Secret []byte
	// Client makes the requests (default: an http.Client with Timeout).
	Client *http.Client
	// Timeout bounds one request (default 5s).
	Timeout time.Duration
	// Now is the clock used for signatures (default time.Now).
	Now func() time.Time
}

// Sender posts signed JSON to one URL.
type Sender struct {
	cfg Config
}

// New returns a Sender for cfg.
func New(cfg Config) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg}
}

// Post sends v as JSON with the signature and extra headers, and succeeds on
// a 2xx answer. Other answers and transport failures are EUNAVAILABLE errors
// whose message does not leak the endpoint's reply.
func (s *Sender) Post(ctx context.Context, v any, header http.Header) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald")
	req.Header.Set(SignatureHeader, Sign(s.cfg.Secret, s.cfg.Now(), body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return herald.Errorf(herald.EUNAVAILABLE, "The application did not answer; retry later")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// StatusError is a non-2xx answer from the endpoint.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("webhook: endpoint answered %d", e.Code) }

// Accept implements herald.ClientEventSink: it posts the event with its id
// and sender in headers too, so receivers can deduplicate and route without
// parsing the body first.
func (s *Sender) Accept(ctx context.Context, e *herald.ClientEvent) error {
	h := http.Header{}
	h.Set("Herald-Event-Id", e.ID)
	h.Set("Herald-User-Id", e.UserID)
	err := s.Post(ctx, e, h)
	var se *StatusError
	if errors.As(err, &se) {
		if se.Code >= 400 && se.Code < 500 && se.Code != 408 && se.Code != 429 {
			return herald.Errorf(herald.EUNPROCESSABLE, "The application refused the event")
		}
		return herald.Errorf(herald.EUNAVAILABLE, "The application is unavailable; retry later")
	}
	return err
}
