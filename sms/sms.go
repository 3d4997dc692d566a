// Package sms sends Herald's SMS deliveries through an HTTP provider API in
// the style of Twilio's Messages resource: a form-encoded POST of To, From
// (or MessagingServiceSid) and Body to
//
//	{BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json
//
// with HTTP basic authentication. Providers that speak this API (Twilio and
// its lookalikes, or a gateway in front of another) need only a base URL and
// credentials. Each request carries the delivery id in an idempotency header,
// so a provider that honours it sends a retried delivery once.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Defaults of Config.
const (
	DefaultBaseURL           = "https://api.twilio.com"
	DefaultIdempotencyHeader = "Idempotency-Key"
	DefaultTimeout           = 15 * time.Second
	DefaultMaxChars          = 480 // three concatenated GSM segments
)

// Config configures a Sender. AccountSID, AuthToken and From (or
// MessagingServiceSID) are required.
type Config struct {
	// BaseURL is the provider's API root (default DefaultBaseURL).
	BaseURL string
	// AccountSID names the account in the URL; with AuthToken it is the
	// basic-auth pair unless Username is set.
	AccountSID, AuthToken string
	// Username, when set, replaces AccountSID as the basic-auth user (an
	// API key SID), with AuthToken as its secret.
	Username string
	// From is the sending number (E.164), or use MessagingServiceSID.
	From, MessagingServiceSID string
	// IdempotencyHeader names the header that carries the delivery id
	// (default DefaultIdempotencyHeader); "-" sends none.
	IdempotencyHeader string
	// MaxChars bounds the message text, in characters (default 480).
	MaxChars int
	// Client makes the requests (default: an http.Client with Timeout).
	Client *http.Client
	// Timeout bounds one request (default 15s).
	Timeout time.Duration
}

// Sender sends SMS deliveries. It is safe for concurrent use.
type Sender struct {
	cfg      Config
	endpoint string
}

var _ herald.ChannelSender = (*Sender)(nil)

// New returns a Sender for c.
func New(c Config) (*Sender, error) {
	if c.AccountSID == "" || c.AuthToken == "" {
		return nil, herald.Errorf(herald.EINVALID, "sms: an account SID and an auth token are required")
	}
	if c.From == "" && c.MessagingServiceSID == "" {
		return nil, herald.Errorf(herald.EINVALID, "sms: a From number or a messaging service SID is required")
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, herald.Errorf(herald.EINVALID, "sms: the base URL must be an http or https URL")
	}
	if c.IdempotencyHeader == "" {
		c.IdempotencyHeader = DefaultIdempotencyHeader
	}
	if c.MaxChars <= 0 {
		c.MaxChars = DefaultMaxChars
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout}
	}
	if c.Username == "" {
		c.Username = c.AccountSID
	}
	endpoint := strings.TrimRight(c.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(c.AccountSID) + "/Messages.json"
	return &Sender{cfg: c, endpoint: endpoint}, nil
}

// Text returns the SMS body of n: its title, message and link, cut to max
// characters.
func Text(n *herald.Notification, max int) string {
	parts := []string{strings.TrimSpace(n.Title)}
	if m := strings.TrimSpace(n.Message); m != "" {
		parts[0] += ":"
		parts = append(parts, m)
	}
	if n.Link != "" {
		parts = append(parts, n.Link)
	}
	s := strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// providerError is the provider's error body.
type providerError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Send posts the message for m to m.Phone.
//
// 2xx is sent. 429 is ERATELIMIT and 5xx, 401 and 403 (the account, not the
// message) are EUNAVAILABLE, to be retried; other 4xx (a number the provider
// refuses) are EUNPROCESSABLE, for good.
func (s *Sender) Send(ctx context.Context, m *herald.Outbound) error {
	if m.Phone == "" || len(m.Notifications) == 0 || m.Delivery == nil {
		return herald.Errorf(herald.EINVALID, "an SMS needs a phone number, a delivery and a notification")
	}
	form := url.Values{"To": {m.Phone}, "Body": {Text(m.Notifications[0], s.cfg.MaxChars)}}
	if s.cfg.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", s.cfg.MessagingServiceSID)
	} else {
		form.Set("From", s.cfg.From)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return herald.Errorf(herald.EUNAVAILABLE, "cannot build the SMS request")
	}
	req.SetBasicAuth(s.cfg.Username, s.cfg.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Herald")
	if s.cfg.IdempotencyHeader != "-" {
		req.Header.Set(s.cfg.IdempotencyHeader, m.Delivery.ID)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return ctx.Err()
		}
		return herald.Errorf(herald.EUNAVAILABLE, "the SMS provider did not answer")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var pe providerError
	_ = json.Unmarshal(body, &pe)
	detail := ""
	if pe.Code != 0 {
		detail = ", provider code " + strconv.Itoa(pe.Code)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return &herald.RetryError{Err: herald.Errorf(herald.ERATELIMIT, "the SMS provider is rate limiting (429)"), After: herald.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case code >= 500, code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusRequestTimeout:
		return herald.Errorf(herald.EUNAVAILABLE, "the SMS provider answered %d%s", code, detail)
	}
	return herald.Errorf(herald.EUNPROCESSABLE, "the SMS provider refused the message (%d%s)", resp.StatusCode, detail)
}
