// Package fcm sends Herald's push deliveries to Android (and Firebase iOS)
// apps through Firebase Cloud Messaging's HTTP v1 API. It authenticates with
// a Google service account: golang.org/x/oauth2/jwt exchanges a signed JWT
// for an access token at the account's token URI and caches it until it
// expires.
//
// A message carries the notification's title and body, data with its id,
// seq, link, type and the delivery id, the notification id as the collapse
// key, priority HIGH for critical notifications (NORMAL otherwise), a TTL,
// and the user's exact unread count as the badge (notification_count on
// Android, aps.badge on iOS). Badge updates after reads go as data-only
// messages. FCM takes no idempotency key: a delivery retried after a crash
// mid-send may reach the phone twice, where the collapse key makes it
// replace the first.
package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/heraldhq/herald"
)

// Defaults of Config.
const (
	DefaultBaseURL = "https://fcm.googleapis.com"
	DefaultTimeout = 15 * time.Second
	DefaultTTL     = 24 * time.Hour
	// Scope is the OAuth scope of FCM's send API.
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
)

// Config configures a Sender. Credentials is required.
type Config struct {
	// Credentials is the contents of the service-account key file
	// (FCM_CREDENTIALS_FILE).
	Credentials []byte
	// BaseURL is FCM's API root (default DefaultBaseURL).
	BaseURL string
	// TTL is how long FCM keeps a message for an offline device (default
	// 24h).
	TTL time.Duration
	// Timeout bounds one request (default 15s).
	Timeout time.Duration
	// Client makes the requests, to FCM and to the token URI (default: one
	// with Timeout).
	Client *http.Client
	// Now is the clock of Retry-After dates (default time.Now).
	Now func() time.Time
}

// Sender sends push deliveries and badge updates to FCM. It is safe for
// concurrent use.
type Sender struct {
	cfg    Config
	send   string // the messages:send URL
	tokens oauth2.TokenSource
}

var (
	_ herald.ChannelSender = (*Sender)(nil)
	_ herald.BadgeSender   = (*Sender)(nil)
)

// New returns a Sender for c, checking its credentials.
func New(c Config) (*Sender, error) {
	cred, err := ParseCredentials(c.Credentials)
	if err != nil {
		return nil, err
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	jc := &jwt.Config{Email: cred.ClientEmail, PrivateKey: []byte(cred.PrivateKey), PrivateKeyID: cred.PrivateKeyID,
		Scopes: []string{Scope}, TokenURL: cred.TokenURI}
	// The token source outlives any one send: its context only carries
	// the HTTP client; the client's timeout bounds each exchange.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.Client)
	return &Sender{cfg: c, send: c.BaseURL + "/v1/projects/" + cred.ProjectID + "/messages:send", tokens: jc.TokenSource(ctx)}, nil
}

// Send sends the notification of m to m.Device.
//
// 200 is sent. UNREGISTERED (404) and SENDER_ID_MISMATCH mean the token will
// never work again: ENOTFOUND, and the caller removes the device. 429 and
// 5xx (and a failed token exchange) are retried, after their Retry-After when
// given. Other refusals are for good (EUNPROCESSABLE).
func (s *Sender) Send(ctx context.Context, m *herald.Outbound) error {
	if m.Device == nil || m.Device.Platform != herald.PlatformFCM || len(m.Notifications) == 0 || m.Delivery == nil {
		return herald.Errorf(herald.EINVALID, "an FCM push needs an fcm device, a delivery and a notification")
	}
	return s.post(ctx, alertMessage(m, s.cfg.TTL))
}

// SendBadge sets d's badge to unread with a data-only message.
func (s *Sender) SendBadge(ctx context.Context, d *herald.Device, unread int) error {
	if d.Platform != herald.PlatformFCM {
		return herald.Errorf(herald.EINVALID, "not an FCM device")
	}
	return s.post(ctx, badgeMessage(d, unread, s.cfg.TTL))
}

// post sends one message and maps FCM's answer to an error.
func (s *Sender) post(ctx context.Context, msg *Message) error {
	if err := (&herald.Device{UserID: "-", Platform: herald.PlatformFCM, Token: msg.Token}).Validate(); err != nil {
		return herald.Errorf(herald.EINVALID, "the device is not a valid FCM device")
	}
	tok, err := s.tokens.Token()
	if err != nil {
		// The error may quote the token endpoint's answer; keep it out.
		return herald.Errorf(herald.EUNAVAILABLE, "fcm: cannot get an access token from the service account's token URI")
	}
	body, err := json.Marshal(map[string]*Message{"message": msg})
	if err != nil {
		return herald.Errorf(herald.EINTERNAL, "fcm: cannot encode the message")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.send, bytes.NewReader(body))
	if err != nil {
		return herald.Errorf(herald.EINVALID, "fcm: cannot build the request")
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return ctx.Err()
		}
		return herald.Errorf(herald.EUNAVAILABLE, "FCM did not answer")
	}
	defer resp.Body.Close()
	var answer struct {
		Error struct {
			Status  string `json:"status"`
			Details []struct {
				Type      string `json:"@type"`
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer)
	code := answer.Error.Status
	for _, d := range answer.Error.Details {
		if d.ErrorCode != "" {
			code = d.ErrorCode
		}
	}
	return s.outcome(resp, safeCode(code))
}

// outcome maps an FCM answer (status and error code) to Send's error.
func (s *Sender) outcome(resp *http.Response, code string) error {
	status := resp.StatusCode
	after := herald.ParseRetryAfter(resp.Header.Get("Retry-After"), s.cfg.Now())
	switch {
	case status == http.StatusOK:
		return nil
	case code == "UNREGISTERED" || code == "SENDER_ID_MISMATCH" || status == http.StatusNotFound:
		return herald.Errorf(herald.ENOTFOUND, "FCM: the registration token is no longer valid (%d %s)", status, code)
	case status == http.StatusTooManyRequests || code == "QUOTA_EXCEEDED":
		return &herald.RetryError{Err: herald.Errorf(herald.ERATELIMIT, "FCM is rate limiting (%d %s)", status, code), After: after}
	case status >= 500:
		return &herald.RetryError{Err: herald.Errorf(herald.EUNAVAILABLE, "FCM answered %d %s", status, code), After: after}
	case status == http.StatusUnauthorized || code == "THIRD_PARTY_AUTH_ERROR":
		return herald.Errorf(herald.EUNAVAILABLE, "FCM refused the credentials (%d %s)", status, code)
	default:
		return herald.Errorf(herald.EUNPROCESSABLE, "FCM refused the message (%d %s)", status, code)
	}
}

// safeCode keeps an FCM error code only when it is a short identifier, so
// a hostile answer cannot put anything else into the delivery's error.
func safeCode(c string) string {
	if len(c) > 40 {
		return "?"
	}
	for _, r := range c {
		if !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return "?"
		}
	}
	return c
}

// ttl formats d as a protobuf Duration in seconds, as FCM takes it.
func ttl(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }
