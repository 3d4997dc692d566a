// Package fcmtest is Firebase Cloud Messaging for tests: one TLS server on a
// loopback port playing both Google's OAuth 2 token endpoint (the JWT bearer
// grant of a service account, RFC 7523) and FCM's HTTP v1 send endpoint. The
// token endpoint checks the assertion's RS256 signature against the service
// account's key, its iss, aud, scope and times, and issues access tokens
// that expire; the send endpoint checks the bearer token and the message's
// shape, and answers as FCM does, including UNREGISTERED, 429 and 5xx when
// a test asks for them.
//
// It is written from Google's documentation with the standard library only,
// so it checks the sender rather than sharing its code.
package fcmtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
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

// The project and service account a Server expects.
const (
	ProjectID   = "herald-test"
	ClientEmail = "herald@herald-test.iam.gserviceaccount.com"
	Scope       = "https://www.googleapis.com/auth/firebase.messaging"
)

// Message is one send request the server received.
type Message struct {
	Token        string
	Title, Body  string
	Data         map[string]string
	CollapseKey  string
	Priority     string
	TTL          string
	Badge        *int // android.notification.notification_count
	APNsHeaders  map[string]string
	Status       int
	ErrorCode    string
	notification bool
}

// Visible reports whether the message shows a notification (not data-only).
func (m Message) Visible() bool { return m.notification }

// Answer is a scripted answer to the next message to a token.
type Answer struct {
	Status     int
	Code       string // the FcmError errorCode, such as UNAVAILABLE
	RetryAfter string
}

// Server is a fake FCM and token endpoint.
type Server struct {
	Server *httptest.Server
	// TokenLife is how long issued access tokens live (default 1h).
	TokenLife time.Duration

	key   *rsa.PrivateKey
	keyID string

	mu        sync.Mutex
	issued    map[string]time.Time // access token -> expiry
	exchanges int
	messages  []Message
	answers   map[string][]Answer
	gone      map[string]bool
	hold      chan struct{}
	held      chan struct{}
	problems  []string
}

// New starts a server, closed when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	s := &Server{TokenLife: time.Hour, key: key, keyID: hex.EncodeToString(id),
		issued: map[string]time.Time{}, answers: map[string][]Answer{}, gone: map[string]bool{}, held: make(chan struct{}, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.send)
	s.Server = httptest.NewUnstartedServer(mux)
	s.Server.EnableHTTP2 = true
	s.Server.StartTLS()
	t.Cleanup(s.Server.Close)
	return s
}

// URL is the server's base URL, for fcm.Config.BaseURL.
func (s *Server) URL() string { return s.Server.URL }

// Client returns a client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.Server.Client() }

// Credentials returns a service-account key file whose token_uri is the
// server's token endpoint.
func (s *Server) Credentials() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(s.key)
	b, _ := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": ProjectID, "private_key_id": s.keyID,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": ClientEmail, "client_id": "1234567890", "token_uri": s.Server.URL + "/token",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth",
	}, "", "  ")
	return b
}

// CredentialsFile writes Credentials to dir and returns its path.
func (s *Server) CredentialsFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "fcm-service-account.json")
	if err := os.WriteFile(path, s.Credentials(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// CertFile writes the server's certificate to dir and returns its path,
// for a process started with SSL_CERT_FILE.
func (s *Server) CertFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "fcm-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Server.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Unregister makes token answer 404 UNREGISTERED from now on.
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	s.gone[token] = true
	s.mu.Unlock()
}

// Queue scripts the answers to the next messages to token, in order.
func (s *Server) Queue(token string, answers ...Answer) {
	s.mu.Lock()
	s.answers[token] = append(s.answers[token], answers...)
	s.mu.Unlock()
}

// Hold makes sends wait, unanswered, until Release or until the client goes
// away; Held receives once per message held.
func (s *Server) Hold() {
	s.mu.Lock()
	s.hold = make(chan struct{})
	s.mu.Unlock()
}

// Held receives when a message starts waiting.
func (s *Server) Held() <-chan struct{} { return s.held }

// Release answers the held messages and stops holding.
func (s *Server) Release() {
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
}

// Messages returns every send received, whatever the answer.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Delivered returns the messages accepted for token.
func (s *Server) Delivered(token string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.Token == token && m.Status == http.StatusOK {
			out = append(out, m)
		}
	}
	return out
}

// WaitDelivered waits until token has n accepted messages or ctx ends.
func (s *Server) WaitDelivered(ctx context.Context, token string, n int) ([]Message, error) {
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

// Exchanges returns how many access tokens were issued.
func (s *Server) Exchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges
}

// Problems returns what the server found wrong in requests.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

func (s *Server) problem(w http.ResponseWriter, status int, code, why string) {
	s.mu.Lock()
	s.problems = append(s.problems, why)
	s.mu.Unlock()
	writeError(w, status, code, "")
}

// writeError answers as Google APIs do: {"error":{code,message,status,details}}.
func writeError(w http.ResponseWriter, status int, code, fcmCode string) {
	e := map[string]any{"code": status, "message": "fake FCM: " + code, "status": code}
	if fcmCode != "" {
		e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcmCode}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// token is the OAuth 2 token endpoint: the JWT bearer grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		s.oauthError(w, "unsupported_grant_type")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		s.oauthError(w, "invalid_grant")
		return
	}
	var head struct{ Alg, Kid string }
	var claims struct {
		Iss, Scope, Aud string
		Exp, Iat        int64
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	c, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(h, &head) != nil || json.Unmarshal(c, &claims) != nil {
		s.oauthError(w, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	now := time.Now().Unix()
	switch {
	case head.Alg != "RS256" || rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil:
		s.oauthError(w, "invalid_grant: bad signature")
	case head.Kid != "" && head.Kid != s.keyID:
		s.oauthError(w, "invalid_grant: unknown key id")
	case claims.Iss != ClientEmail || claims.Aud != s.Server.URL+"/token":
		s.oauthError(w, "invalid_grant: iss or aud")
	case !strings.Contains(" "+claims.Scope+" ", " "+Scope+" "):
		s.oauthError(w, "invalid_scope")
	case claims.Exp <= now || claims.Iat > now+60 || claims.Exp-claims.Iat > 3600:
		s.oauthError(w, "invalid_grant: times")
	default:
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		tok := "ya29.fake-" + base64.RawURLEncoding.EncodeToString(b)
		s.mu.Lock()
		s.issued[tok] = time.Now().Add(s.TokenLife)
		s.exchanges++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": int(s.TokenLife / time.Second), "token_type": "Bearer"})
	}
}

func (s *Server) oauthError(w http.ResponseWriter, why string) {
	s.mu.Lock()
	s.problems = append(s.problems, "token: "+why)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	code, _, _ := strings.Cut(why, ":")
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

var ttlForm = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,9})?s$`)

// send is FCM's messages:send.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.issued[bearer]
	s.mu.Unlock()
	if !ok || !known || time.Now().After(exp) {
		s.problem(w, http.StatusUnauthorized, "UNAUTHENTICATED", "send without a live access token")
		return
	}
	if r.PathValue("project") != ProjectID {
		s.problem(w, http.StatusForbidden, "PERMISSION_DENIED", "wrong project")
		return
	}
	var req struct {
		Message struct {
			Token        string                        `json:"token"`
			Notification *struct{ Title, Body string } `json:"notification"`
			Data         map[string]string             `json:"data"`
			Android      *struct {
				CollapseKey  string `json:"collapse_key"`
				Priority     string `json:"priority"`
				TTL          string `json:"ttl"`
				Notification *struct {
					NotificationCount *int `json:"notification_count"`
				} `json:"notification"`
			} `json:"android"`
			APNs *struct {
				Headers map[string]string `json:"headers"`
			} `json:"apns"`
		} `json:"message"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil {
		s.problem(w, http.StatusBadRequest, "INVALID_ARGUMENT", "message is not FCM v1 JSON: "+err.Error())
		return
	}
	in := req.Message
	m := Message{Token: in.Token, Data: in.Data}
	if in.Notification != nil {
		m.Title, m.Body, m.notification = in.Notification.Title, in.Notification.Body, true
	}
	if a := in.Android; a != nil {
		m.CollapseKey, m.Priority, m.TTL = a.CollapseKey, a.Priority, a.TTL
		if a.Notification != nil {
			m.Badge = a.Notification.NotificationCount
		}
	}
	if in.APNs != nil {
		m.APNsHeaders = in.APNs.Headers
	}
	switch {
	case m.Token == "":
		s.problem(w, http.StatusBadRequest, "INVALID_ARGUMENT", "no token")
		return
	case in.Notification != nil && m.Title == "":
		s.problem(w, http.StatusBadRequest, "INVALID_ARGUMENT", "notification without a title")
		return
	case in.Android != nil && m.Priority != "HIGH" && m.Priority != "NORMAL":
		s.problem(w, http.StatusBadRequest, "INVALID_ARGUMENT", "android.priority "+m.Priority)
		return
	case in.Android != nil && !ttlForm.MatchString(m.TTL):
		s.problem(w, http.StatusBadRequest, "INVALID_ARGUMENT", "android.ttl "+m.TTL)
		return
	}
	for k := range m.Data {
		if k == "from" || k == "notification" || strings.HasPrefix(k, "google.") || strings.HasPrefix(k, "gcm.") {
			s.problem(w, http.StatusBadRequest, "INVALID_ARGUMENT", "reserved data key "+k)
			return
		}
	}

	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		s.held <- struct{}{}
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	gone := s.gone[m.Token]
	var next *Answer
	if q := s.answers[m.Token]; len(q) > 0 {
		next, s.answers[m.Token] = &q[0], q[1:]
	}
	s.mu.Unlock()
	switch {
	case gone:
		m.Status, m.ErrorCode = http.StatusNotFound, "UNREGISTERED"
		s.record(m)
		writeError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED")
	case next != nil && next.Status != http.StatusOK:
		m.Status, m.ErrorCode = next.Status, next.Code
		s.record(m)
		if next.RetryAfter != "" {
			w.Header().Set("Retry-After", next.RetryAfter)
		}
		writeError(w, next.Status, http.StatusText(next.Status), next.Code)
	default:
		m.Status = http.StatusOK
		s.record(m)
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": "projects/" + ProjectID + "/messages/" + hex.EncodeToString(b)})
	}
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
}
