// Package apnstest is an Apple Push Notification service for tests: an
// HTTP/2 TLS server on a loopback port that speaks APNs' provider API. It
// checks each request as APNs does — the ES256 provider token (signature
// with the team's key, kid, iss, and an iat under an hour old), the
// apns-topic, apns-push-type, apns-priority, apns-id and apns-collapse-id
// headers, and the JSON payload — and answers as APNs does, including 410
// Unregistered, 400 BadDeviceToken, 429 and 5xx when a test asks for them.
//
// It is written from Apple's documentation with the standard library only,
// so it checks the sender rather than sharing its code.
package apnstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The team, key and app a Server expects.
const (
	TeamID = "HERALDTEAM"
	KeyID  = "KEY1234567"
	Topic  = "com.example.herald"
)

// Push is one request the server received.
type Push struct {
	Token      string
	ID         string // apns-id
	CollapseID string
	PushType   string
	Priority   string
	Topic      string
	Expiration string
	Payload    map[string]any
	Status     int    // what the server answered
	Reason     string // and why, for refusals
	Issued     int64  // the provider token's iat
}

// Title returns the alert's title ("" for a background push).
func (p Push) Title() string { return p.alert("title") }

// Body returns the alert's body.
func (p Push) Body() string { return p.alert("body") }

// Badge returns the badge and whether there was one.
func (p Push) Badge() (int, bool) {
	aps, _ := p.Payload["aps"].(map[string]any)
	b, ok := aps["badge"].(float64)
	return int(b), ok
}

// ThreadID returns aps.thread-id.
func (p Push) ThreadID() string {
	aps, _ := p.Payload["aps"].(map[string]any)
	s, _ := aps["thread-id"].(string)
	return s
}

func (p Push) alert(k string) string {
	aps, _ := p.Payload["aps"].(map[string]any)
	a, _ := aps["alert"].(map[string]any)
	s, _ := a[k].(string)
	return s
}

// Answer is a scripted answer to the next push to a token.
type Answer struct {
	Status     int
	Reason     string
	RetryAfter string
}

// Server is a fake APNs.
type Server struct {
	Server *httptest.Server
	// Key is the team's .p8 authentication key (PEM PKCS #8).
	Key []byte
	// Now is the server's clock, for the provider token's age.
	Now func() time.Time

	pub *ecdsa.PublicKey

	mu       sync.Mutex
	pushes   []Push
	answers  map[string][]Answer
	gone     map[string]bool
	seenIDs  map[string]bool
	hold     chan struct{} // closed to release held pushes; nil when not holding
	held     chan struct{} // receives when a push is held
	tokens   map[string]bool
	problems []string
}

// New starts a server, closed when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		Now: time.Now, pub: &key.PublicKey,
		answers: map[string][]Answer{}, gone: map[string]bool{}, seenIDs: map[string]bool{}, tokens: map[string]bool{},
		held: make(chan struct{}, 16),
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.EnableHTTP2 = true
	s.Server.StartTLS()
	t.Cleanup(s.Server.Close)
	return s
}

// URL is the server's base URL, for apns.Config.Host.
func (s *Server) URL() string { return s.Server.URL }

// Client returns an HTTP/2 client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.Server.Client() }

// CertFile writes the server's certificate to a PEM file in dir and returns
// its path, for a process started with SSL_CERT_FILE.
func (s *Server) CertFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "apns-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Server.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// KeyFile writes the .p8 key to dir and returns its path.
func (s *Server) KeyFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "AuthKey_"+KeyID+".p8")
	if err := os.WriteFile(path, s.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Unregister makes token answer 410 Unregistered from now on.
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	s.gone[token] = true
	s.mu.Unlock()
}

// Queue scripts the answers to the next pushes to token, in order.
func (s *Server) Queue(token string, answers ...Answer) {
	s.mu.Lock()
	s.answers[token] = append(s.answers[token], answers...)
	s.mu.Unlock()
}

// Hold makes pushes wait, unanswered, until Release or until the client
// goes away; Held receives once per push held.
func (s *Server) Hold() {
	s.mu.Lock()
	s.hold = make(chan struct{})
	s.mu.Unlock()
}

// Held receives when a push starts waiting.
func (s *Server) Held() <-chan struct{} { return s.held }

// Release answers the held pushes and stops holding.
func (s *Server) Release() {
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
}

// Pushes returns every push received, in order, whatever the answer.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

// Delivered returns the pushes the server accepted (200) to token, one per
// apns-id: a device shows a repeated apns-id once.
func (s *Server) Delivered(token string) []Push {
	var out []Push
	seen := map[string]bool{}
	for _, p := range s.Pushes() {
		if p.Token != token || p.Status != http.StatusOK || p.ID != "" && seen[p.ID] {
			continue
		}
		seen[p.ID] = true
		out = append(out, p)
	}
	return out
}

// ProviderTokens returns how many distinct provider tokens were used.
func (s *Server) ProviderTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// Problems returns what the server found wrong in requests (each answered
// with APNs' 400 or 403), for the test to fail on.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

var (
	tokenPath = regexp.MustCompile(`^/3/device/([0-9a-fA-F]{1,200})$`)
	uuidForm  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := Push{
		ID: r.Header.Get("apns-id"), CollapseID: r.Header.Get("apns-collapse-id"), PushType: r.Header.Get("apns-push-type"),
		Priority: r.Header.Get("apns-priority"), Topic: r.Header.Get("apns-topic"), Expiration: r.Header.Get("apns-expiration"),
	}
	refuse := func(status int, reason string) {
		p.Status, p.Reason = status, reason
		s.mu.Lock()
		s.pushes = append(s.pushes, p)
		if status == http.StatusBadRequest || status == http.StatusForbidden || status == http.StatusMethodNotAllowed || status == http.StatusRequestEntityTooLarge {
			s.problems = append(s.problems, reason)
		}
		s.mu.Unlock()
		w.Header().Set("apns-id", p.ID)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"reason": reason})
	}
	m := tokenPath.FindStringSubmatch(r.URL.Path)
	switch {
	case r.ProtoMajor != 2:
		refuse(http.StatusBadRequest, "HTTP2Required") // APNs speaks HTTP/2 only
		return
	case r.Method != http.MethodPost:
		refuse(http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	case m == nil:
		refuse(http.StatusBadRequest, "BadPath")
		return
	}
	p.Token = m[1]
	iat, reason := s.checkToken(strings.TrimPrefix(r.Header.Get("authorization"), "bearer "))
	p.Issued = iat
	if reason != "" {
		refuse(http.StatusForbidden, reason)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
	switch {
	case err != nil:
		refuse(http.StatusBadRequest, "BadPayload")
		return
	case len(body) > 4096:
		refuse(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	case json.Unmarshal(body, &p.Payload) != nil || p.Payload["aps"] == nil:
		refuse(http.StatusBadRequest, "PayloadEmpty")
		return
	case p.Topic != Topic && !strings.HasPrefix(p.Topic, Topic+"."):
		refuse(http.StatusBadRequest, "DeviceTokenNotForTopic")
		return
	case p.PushType != "alert" && p.PushType != "background":
		refuse(http.StatusBadRequest, "InvalidPushType")
		return
	case p.PushType == "background" && p.Priority != "5":
		refuse(http.StatusBadRequest, "BadPriority") // background pushes must be priority 5
		return
	case p.Priority != "5" && p.Priority != "10" && p.Priority != "1":
		refuse(http.StatusBadRequest, "BadPriority")
		return
	case p.ID != "" && !uuidForm.MatchString(p.ID):
		refuse(http.StatusBadRequest, "BadMessageId")
		return
	case len(p.CollapseID) > 64:
		refuse(http.StatusBadRequest, "BadCollapseId")
		return
	case p.PushType == "alert" && p.Title() == "":
		refuse(http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if bad := badExpiration(p.Expiration); bad {
		refuse(http.StatusBadRequest, "BadExpirationDate")
		return
	}

	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		s.held <- struct{}{}
		select {
		case <-hold:
		case <-r.Context().Done(): // the sender went away: nothing reaches the phone
			return
		}
	}
	s.mu.Lock()
	gone := s.gone[p.Token]
	var next *Answer
	if q := s.answers[p.Token]; len(q) > 0 {
		next, s.answers[p.Token] = &q[0], q[1:]
	}
	s.mu.Unlock()
	switch {
	case gone:
		w.Header().Set("apns-id", p.ID)
		p.Status, p.Reason = http.StatusGone, "Unregistered"
		s.record(p)
		w.WriteHeader(http.StatusGone)
		_ = json.NewEncoder(w).Encode(map[string]any{"reason": "Unregistered", "timestamp": s.Now().UnixMilli()})
	case next != nil:
		if next.RetryAfter != "" {
			w.Header().Set("Retry-After", next.RetryAfter)
		}
		p.Status, p.Reason = next.Status, next.Reason
		s.record(p)
		w.WriteHeader(next.Status)
		if next.Status != http.StatusOK {
			_ = json.NewEncoder(w).Encode(map[string]any{"reason": next.Reason})
		}
	default:
		p.Status = http.StatusOK
		s.record(p)
		w.Header().Set("apns-id", p.ID)
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) record(p Push) {
	s.mu.Lock()
	s.pushes = append(s.pushes, p)
	s.mu.Unlock()
}

func badExpiration(v string) bool {
	if v == "" {
		return false
	}
	var n int64
	_, err := fmt.Sscan(v, &n)
	return err != nil || n < 0
}

// checkToken verifies a provider token as APNs does and returns its iat,
// or the reason APNs would give for refusing it.
func (s *Server) checkToken(tok string) (int64, string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return 0, "MissingProviderToken"
	}
	var head struct{ Alg, Kid string }
	var claims struct {
		Iss string
		Iat int64
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	c, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(h, &head) != nil || json.Unmarshal(c, &claims) != nil || len(sig) != 64 {
		return 0, "InvalidProviderToken"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	switch {
	case head.Alg != "ES256" || head.Kid != KeyID || claims.Iss != TeamID || !ecdsa.Verify(s.pub, sum[:], r, ss):
		return claims.Iat, "InvalidProviderToken"
	case s.Now().Sub(time.Unix(claims.Iat, 0)) > time.Hour:
		return claims.Iat, "ExpiredProviderToken"
	case time.Unix(claims.Iat, 0).Sub(s.Now()) > time.Minute:
		return claims.Iat, "InvalidProviderToken"
	}
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	return claims.Iat, ""
}

// WaitDelivered waits until token has n accepted pushes or ctx ends.
func (s *Server) WaitDelivered(ctx context.Context, token string, n int) ([]Push, error) {
	for {
		if got := s.Delivered(token); len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return s.Delivered(token), ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
