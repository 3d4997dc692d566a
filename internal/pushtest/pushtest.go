// Package pushtest plays both ends of Web Push that a test needs: a browser
// (a P-256 key pair and an authentication secret, as PushManager.subscribe
// makes) and a push service (an HTTPS server on a loopback port) that checks
// each request's VAPID token (RFC 8292) and decrypts its aes128gcm payload
// (RFC 8291, RFC 8188) with the browser's keys, as the browser would.
//
// It is written from the RFCs with the standard library only, so it checks
// the sender rather than sharing its code.
package pushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

var b64 = base64.RawURLEncoding

// Browser is one subscribed browser: the user agent's keys.
type Browser struct {
	key  *ecdh.PrivateKey
	auth []byte
	// Subscription is what the browser hands the application server.
	Subscription *herald.PushSubscription
}

// Message is one push the service accepted, decrypted.
type Message struct {
	Endpoint  string
	Plaintext []byte
	TTL       string
	Topic     string
	Urgency   string
}

// Service is a push service on a loopback HTTPS port.
type Service struct {
	t        testing.TB
	Server   *httptest.Server
	vapidKey *ecdsa.PublicKey

	mu       sync.Mutex
	browsers map[string]*Browser // by endpoint path
	messages []*Message
	requests int
	answer   int // status to answer instead of accepting, when set
}

// Start starts a push service that accepts pushes signed with the VAPID key
// pair whose public half is vapidPublic (base64url).
func Start(t testing.TB, vapidPublic string) *Service {
	t.Helper()
	raw, err := b64.DecodeString(strings.TrimRight(vapidPublic, "="))
	if err != nil {
		t.Fatal(err)
	}
	x, y := elliptic.Unmarshal(elliptic.P256(), raw) //nolint:staticcheck // the JWT check needs an ecdsa key
	if x == nil {
		t.Fatal("pushtest: the VAPID public key is not a P-256 point")
	}
	s := &Service{t: t, vapidKey: &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, browsers: map[string]*Browser{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Server.Close)
	return s
}

// Client returns an HTTP client that trusts the service's certificate.
func (s *Service) Client() *http.Client { return s.Server.Client() }

// Subscribe makes a browser subscribed to this service for user.
func (s *Service) Subscribe(user string) *Browser {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	path := "/push/" + b64.EncodeToString(auth[:6])
	b := &Browser{key: key, auth: auth, Subscription: &herald.PushSubscription{
		UserID: user, Endpoint: s.Server.URL + path,
		P256dh: b64.EncodeToString(key.PublicKey().Bytes()), Auth: b64.EncodeToString(auth),
	}}
	s.mu.Lock()
	s.browsers[path] = b
	s.mu.Unlock()
	return b
}

// Unsubscribe makes the service answer 410 Gone for b's endpoint.
func (s *Service) Unsubscribe(b *Browser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, x := range s.browsers {
		if x == b {
			delete(s.browsers, p)
		}
	}
}

// Answer makes the service answer every push with status (0: accept).
func (s *Service) Answer(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = status
}

// Messages returns the pushes accepted so far.
func (s *Service) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.messages...)
}

// Requests returns how many pushes were posted.
func (s *Service) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	b, answer := s.browsers[r.URL.Path], s.answer
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if b == nil {
		w.WriteHeader(http.StatusGone)
		return
	}
	if err := s.checkVAPID(r); err != nil {
		s.t.Errorf("pushtest: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if answer != 0 {
		w.WriteHeader(answer)
		return
	}
	if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		s.t.Errorf("pushtest: Content-Encoding %q, TTL %q", r.Header.Get("Content-Encoding"), r.Header.Get("TTL"))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8192))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	plain, err := b.Decrypt(body)
	if err != nil {
		s.t.Errorf("pushtest: cannot decrypt the payload: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, &Message{Endpoint: s.Server.URL + r.URL.Path, Plaintext: plain,
		TTL: r.Header.Get("TTL"), Topic: r.Header.Get("Topic"), Urgency: r.Header.Get("Urgency")})
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// checkVAPID verifies the Authorization header: "vapid t=<JWT>, k=<key>",
// the key being the application server's, the JWT signed with it (ES256),
// for this origin, not expired, with a contact.
func (s *Service) checkVAPID(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "vapid ") {
		return fmt.Errorf("authorization %q is not vapid", h)
	}
	var tok, key string
	for _, part := range strings.Split(h[len("vapid "):], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			tok = v
		case "k":
			key = v
		}
	}
	raw, err := b64.DecodeString(key)
	want := elliptic.Marshal(elliptic.P256(), s.vapidKey.X, s.vapidKey.Y) //nolint:staticcheck
	if err != nil || !bytes.Equal(raw, want) {
		return errors.New("vapid k is not the application server's key")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("vapid t is not a JWT")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return errors.New("vapid JWT signature malformed")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(s.vapidKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("vapid JWT signature does not verify")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Aud string `json:"aud"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return err
	}
	if claims.Aud != s.Server.URL {
		return fmt.Errorf("vapid aud %q, want %q", claims.Aud, s.Server.URL)
	}
	exp := time.Unix(claims.Exp, 0)
	if exp.Before(time.Now()) || exp.After(time.Now().Add(24*time.Hour)) {
		return fmt.Errorf("vapid exp %v outside the next 24 hours", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		return fmt.Errorf("vapid sub %q is not a contact", claims.Sub)
	}
	return nil
}

// Decrypt opens an aes128gcm body (RFC 8188) encrypted for b (RFC 8291).
func (b *Browser) Decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than its header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("key id of %d bytes, want the 65-byte sender key", idlen)
	}
	asPublic, ciphertext := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ciphertext)) > rs {
		return nil, errors.New("more than one record")
	}
	peer, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, err
	}
	secret, err := b.key.ECDH(peer)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), b.key.PublicKey().Bytes()...), asPublic...)
	ikm, err := hkdf.Key(sha256.New, secret, b.auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, err
	}
	// The last record ends with a 0x02 delimiter and zero padding.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:end], nil
}
