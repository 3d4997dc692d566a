// Package apns sends Herald's push deliveries to iOS, iPadOS and macOS apps
// through the Apple Push Notification service: HTTP/2 requests with token
// authentication (an ES256 provider token signed with the team's .p8 key),
// written on net/http and github.com/golang-jwt/jwt.
//
// Each alert carries the delivery id as apns-id, the notification id as
// apns-collapse-id (a retried delivery replaces the copy the phone shows),
// the notification type as thread-id (the phone groups by type) and the
// user's exact unread count as the badge. Critical notifications go with
// apns-priority 10, others with 5. Badge updates after reads go as silent
// background pushes.
package apns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// The APNs hosts.
const (
	ProductionHost = "https://api.push.apple.com"
	SandboxHost    = "https://api.sandbox.push.apple.com"
)

// Defaults of Config.
const (
	DefaultTokenTTL = 40 * time.Minute
	DefaultTimeout  = 15 * time.Second
	DefaultTTL      = 24 * time.Hour
	// MaxPayload is APNs' limit on a notification's JSON payload.
	MaxPayload = 4096
)

// Config configures a Sender. Key, KeyID, TeamID and Topic are required.
type Config struct {
	// Key is the contents of the .p8 authentication key file.
	Key []byte
	// KeyID is the key's 10-character id; TeamID the developer team's.
	KeyID, TeamID string
	// Topic is the app's bundle id, for devices registered without an
	// app id.
	Topic string
	// Sandbox sends to the development environment (apps built for
	// debugging); Host, when set, overrides both hosts.
	Sandbox bool
	Host    string
	// TTL is how long APNs keeps a notification for an offline device
	// (default 24h).
	TTL time.Duration
	// TokenTTL is how long a provider token is used (default 40m; Apple
	// takes one for an hour and refuses renewals more often than every 20
	// minutes).
	TokenTTL time.Duration
	// Timeout bounds one request (default 15s).
	Timeout time.Duration
	// Client makes the requests (default: an HTTP/2 client with Timeout).
	Client *http.Client
	// Now is the clock of provider tokens and expirations (default
	// time.Now).
	Now func() time.Time
}

// Sender sends push deliveries and badge updates to APNs. It is safe for
// concurrent use; its requests share one HTTP/2 connection.
type Sender struct {
	cfg   Config
	host  string
	token *providerToken
}

var (
	_ herald.ChannelSender = (*Sender)(nil)
	_ herald.BadgeSender   = (*Sender)(nil)
)

// New returns a Sender for c, checking its key.
func New(c Config) (*Sender, error) {
	key, err := ParseKey(c.Key)
	if err != nil {
		return nil, err
	}
	if len(c.KeyID) == 0 || len(c.TeamID) == 0 || c.Topic == "" {
		return nil, herald.Errorf(herald.EINVALID, "apns: the key id, team id and topic (bundle id) are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout, Transport: &http.Transport{ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}}
	}
	host := c.Host
	switch {
	case host != "":
	case c.Sandbox:
		host = SandboxHost
	default:
		host = ProductionHost
	}
	return &Sender{cfg: c, host: host, token: &providerToken{key: key, keyID: c.KeyID, teamID: c.TeamID, ttl: c.TokenTTL, now: c.Now}}, nil
}

// request is one push: its headers and payload.
type request struct {
	device     *herald.Device
	id         string // apns-id, "" to let APNs choose
	collapseID string
	pushType   string // alert or background
	priority   int    // 10 or 5
	payload    []byte
}

// Send sends the notification of m to m.Device.
//
// 200 is sent. 410 Unregistered, and 400 BadDeviceToken, mean the token is
// gone: ENOTFOUND, and the caller removes the device. 429 and 5xx are
// retried, after their Retry-After when given, and so are 403s about the
// provider token (renewed first). Other refusals are for good
// (EUNPROCESSABLE).
func (s *Sender) Send(ctx context.Context, m *herald.Outbound) error {
	if m.Device == nil || m.Device.Platform != herald.PlatformAPNs || len(m.Notifications) == 0 || m.Delivery == nil {
		return herald.Errorf(herald.EINVALID, "an APNs push needs an apns device, a delivery and a notification")
	}
	body, err := alertPayload(m)
	if err != nil {
		return err
	}
	prio := 5
	if m.Delivery.Critical || m.Delivery.Kind == herald.DeliveryEscalation {
		prio = 10
	}
	return s.do(ctx, request{device: m.Device, id: m.Delivery.ID, collapseID: m.Notifications[0].ID, pushType: "alert", priority: prio, payload: body})
}

// SendBadge sets d's badge to unread with a silent background push.
func (s *Sender) SendBadge(ctx context.Context, d *herald.Device, unread int) error {
	body, _ := json.Marshal(map[string]any{"aps": map[string]any{"badge": unread, "content-available": 1}, "unread": unread})
	return s.do(ctx, request{device: d, collapseID: "herald-badge", pushType: "background", priority: 5, payload: body})
}

// do posts r and maps APNs' answer to an error.
func (s *Sender) do(ctx context.Context, r request) error {
	if err := r.device.Validate(); err != nil || r.device.Platform != herald.PlatformAPNs {
		return herald.Errorf(herald.EINVALID, "the device is not a valid APNs device")
	}
	bearer, err := s.token.get()
	if err != nil {
		return herald.Errorf(herald.EINTERNAL, "apns: cannot sign the provider token")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.host+"/3/device/"+r.device.Token, bytes.NewReader(r.payload))
	if err != nil {
		return herald.Errorf(herald.EINVALID, "apns: cannot build the request")
	}
	topic := s.cfg.Topic
	if r.device.AppID != "" {
		topic = r.device.AppID
	}
	h := req.Header
	h.Set("authorization", "bearer "+bearer)
	h.Set("apns-topic", topic)
	h.Set("apns-push-type", r.pushType)
	h.Set("apns-priority", strconv.Itoa(r.priority))
	h.Set("apns-expiration", strconv.FormatInt(s.cfg.Now().Add(s.cfg.TTL).Unix(), 10))
	h.Set("content-type", "application/json")
	if r.id != "" {
		h.Set("apns-id", r.id)
	}
	if r.collapseID != "" {
		h.Set("apns-collapse-id", r.collapseID)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return ctx.Err()
		}
		// The error quotes the URL, which holds the device token.
		return herald.Errorf(herald.EUNAVAILABLE, "APNs did not answer")
	}
	defer resp.Body.Close()
	var answer struct {
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer)
	return s.outcome(resp, answer.Reason, bearer)
}

// outcome maps an APNs answer (status and reason) to Send's error.
func (s *Sender) outcome(resp *http.Response, reason, bearer string) error {
	code := resp.StatusCode
	reason = safeReason(reason)
	after := herald.ParseRetryAfter(resp.Header.Get("Retry-After"), s.cfg.Now())
	switch {
	case code == http.StatusOK:
		return nil
	case code == http.StatusGone || reason == "BadDeviceToken" || reason == "Unregistered":
		return herald.Errorf(herald.ENOTFOUND, "APNs: the device token is no longer valid (%d %s)", code, reason)
	case code == http.StatusTooManyRequests:
		return &herald.RetryError{Err: herald.Errorf(herald.ERATELIMIT, "APNs is rate limiting (429 %s)", reason), After: after}
	case code >= 500:
		return &herald.RetryError{Err: herald.Errorf(herald.EUNAVAILABLE, "APNs answered %d %s", code, reason), After: after}
	case code == http.StatusForbidden && (reason == "ExpiredProviderToken" || reason == "InvalidProviderToken"):
		s.token.expire(bearer)
		return herald.Errorf(herald.EUNAVAILABLE, "APNs refused the provider token (%s)", reason)
	default:
		return herald.Errorf(herald.EUNPROCESSABLE, "APNs refused the push (%d %s)", code, reason)
	}
}

// safeReason keeps an APNs reason only when it is a short identifier, so a
// hostile answer cannot put anything else into the delivery's error.
func safeReason(r string) string {
	if len(r) > 40 {
		return "?"
	}
	for _, c := range r {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return "?"
		}
	}
	return r
}
