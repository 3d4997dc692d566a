// Package webpush sends Herald's push deliveries to browsers through their
// push services: the Web Push protocol (RFC 8030), with the payload encrypted
// for the subscription's keys (RFC 8291, aes128gcm) and the application
// server identified by VAPID (RFC 8292). It uses
// github.com/SherClockHolmes/webpush-go.
//
// The payload a service worker receives is JSON:
//
//	{"type":"notification","deliveryId":"…","notification":{"id":…,"title":…,"message":…,"link":…}}
//
// Each request sets the Topic header from the delivery id, so a retried
// delivery replaces a copy the push service still holds instead of reaching
// the browser twice.
package webpush

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	wp "github.com/SherClockHolmes/webpush-go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/safedial"
)

// Defaults of Config.
const (
	DefaultTTL     = 24 * time.Hour
	DefaultTimeout = 15 * time.Second
	// MaxPayload bounds the JSON payload, under the 4096-byte record that
	// push services accept once encrypted.
	MaxPayload = 3000
)

// Config configures a Sender. The VAPID keys and Subscriber are required.
type Config struct {
	// VAPIDPublicKey and VAPIDPrivateKey are the application server's
	// P-256 key pair, base64url, as `herald vapid` prints them. Browsers
	// subscribe with the public key.
	VAPIDPublicKey, VAPIDPrivateKey string
	// Subscriber is the contact the push services may use: a mailto: or
	// https: URL (a bare address becomes mailto:).
	Subscriber string
	// TTL is how long a push service keeps a message for a browser that is
	// offline (default 24h).
	TTL time.Duration
	// Client makes the requests (default: one that refuses internal
	// addresses, since endpoints come from browsers, with Timeout).
	Client *http.Client
	// AllowPrivate lets the default client reach loopback and private
	// addresses, for a push service on the local network or in tests.
	AllowPrivate bool
	// Timeout bounds one request (default 15s).
	Timeout time.Duration
}

// Sender sends push deliveries. It is safe for concurrent use.
type Sender struct {
	cfg Config
}

var _ herald.ChannelSender = (*Sender)(nil)

// GenerateVAPIDKeys returns a new VAPID key pair, base64url.
func GenerateVAPIDKeys() (privateKey, publicKey string, err error) {
	return wp.GenerateVAPIDKeys()
}

// New returns a Sender for c, checking its keys.
func New(c Config) (*Sender, error) {
	pub, err1 := decodeKey(c.VAPIDPublicKey)
	priv, err2 := decodeKey(c.VAPIDPrivateKey)
	if err1 != nil || err2 != nil || len(pub) != 65 || pub[0] != 4 || len(priv) != 32 {
		return nil, herald.Errorf(herald.EINVALID, "webpush: the VAPID keys must be a P-256 key pair in base64url (herald vapid makes one)")
	}
	if c.Subscriber == "" {
		return nil, herald.Errorf(herald.EINVALID, "webpush: a subscriber contact (mailto: or https:) is required")
	}
	c.Subscriber = strings.TrimPrefix(c.Subscriber, "mailto:") // the library adds it back to non-https contacts
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Client == nil {
		c.Client = safedial.Client(c.Timeout, c.AllowPrivate)
	}
	return &Sender{cfg: c}, nil
}

func decodeKey(k string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
}

// Payload is what the service worker receives.
type Payload struct {
	Type         string      `json:"type"` // "notification"
	DeliveryID   string      `json:"deliveryId"`
	Notification PayloadNote `json:"notification"`
}

// PayloadNote is the notification in a Payload.
type PayloadNote struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Title     string          `json:"title"`
	Message   string          `json:"message,omitempty"`
	Link      string          `json:"link,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt string          `json:"createdAt"`
}

// payload encodes the payload of m, dropping data and shortening the
// message when it would not fit a push record.
func payload(m *herald.Outbound) ([]byte, error) {
	n := m.Notifications[0]
	p := Payload{Type: "notification", DeliveryID: m.Delivery.ID, Notification: PayloadNote{
		ID: n.ID, Type: n.Type, Title: n.Title, Message: n.Message, Link: n.Link, Data: n.Data,
		CreatedAt: herald.FormatTime(n.CreatedAt),
	}}
	b, err := json.Marshal(p)
	if err != nil || len(b) <= MaxPayload {
		return b, err
	}
	p.Notification.Data = nil
	if b, err = json.Marshal(p); err != nil || len(b) <= MaxPayload {
		return b, err
	}
	msg := p.Notification.Message
	over := len(b) - MaxPayload + 8
	cut := max(len(msg)-over*2, 0) // escaping may double a byte; halve generously
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	p.Notification.Message = msg[:cut] + "…"
	if b, err = json.Marshal(p); err != nil || len(b) <= MaxPayload {
		return b, err
	}
	return nil, herald.Errorf(herald.EUNPROCESSABLE, "the notification is too large for a push message")
}

// Topic returns the RFC 8030 Topic for a delivery id: 32 base64url
// characters of its SHA-256.
func Topic(deliveryID string) string {
	sum := sha256.Sum256([]byte(deliveryID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:32]
}

// Send encrypts and posts the notification of m to m.Push's endpoint.
//
// 201 or any 2xx is sent. 404 and 410 mean the subscription expired:
// ENOTFOUND, and the caller removes it. 413 and other 4xx are refused for
// good (EUNPROCESSABLE), except 401 and 403 (the VAPID keys) and 429, which
// are retried with 5xx.
func (s *Sender) Send(ctx context.Context, m *herald.Outbound) error {
	if m.Push == nil || len(m.Notifications) == 0 || m.Delivery == nil {
		return herald.Errorf(herald.EINVALID, "a push needs a subscription, a delivery and a notification")
	}
	if err := m.Push.Validate(); err != nil {
		return herald.Errorf(herald.EINVALID, "the push subscription is malformed")
	}
	body, err := payload(m)
	if err != nil {
		return err
	}
	urgency := wp.UrgencyNormal
	if m.Delivery.Kind == herald.DeliveryEscalation {
		urgency = wp.UrgencyHigh
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp, err := wp.SendNotificationWithContext(ctx, body,
		&wp.Subscription{Endpoint: m.Push.Endpoint, Keys: wp.Keys{P256dh: m.Push.P256dh, Auth: m.Push.Auth}},
		&wp.Options{
			HTTPClient:      s.cfg.Client,
			Subscriber:      s.cfg.Subscriber,
			Topic:           Topic(m.Delivery.ID),
			TTL:             int(s.cfg.TTL / time.Second),
			Urgency:         urgency,
			VAPIDPublicKey:  s.cfg.VAPIDPublicKey,
			VAPIDPrivateKey: s.cfg.VAPIDPrivateKey,
		})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return ctx.Err()
		}
		if errors.Is(err, safedial.ErrForbidden) {
			return herald.Errorf(herald.EFORBIDDEN, "the push endpoint is on a network Herald does not send to")
		}
		// The error may quote the endpoint, which is a capability URL.
		return herald.Errorf(herald.EUNAVAILABLE, "the push service did not answer")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code/100 == 2:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return herald.Errorf(herald.ENOTFOUND, "the push subscription has expired (%d)", code)
	case code == http.StatusTooManyRequests:
		return &herald.RetryError{Err: herald.Errorf(herald.ERATELIMIT, "the push service is rate limiting (429)"), After: herald.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case code >= 500 || code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusRequestTimeout:
		return herald.Errorf(herald.EUNAVAILABLE, "the push service answered %d", code)
	default:
		return herald.Errorf(herald.EUNPROCESSABLE, "the push service refused the message (%d)", code)
	}
}
