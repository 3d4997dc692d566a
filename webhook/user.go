package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/safedial"
)

// UserConfig configures a UserSender. The zero value works.
type UserConfig struct {
	// Client makes the requests (default: one that refuses internal
	// addresses, follows no redirects and times out after Timeout, since
	// users choose the URLs).
	Client *http.Client
	// AllowPrivate lets the default client reach loopback and private
	// addresses, for a single-tenant setup or tests.
	AllowPrivate bool
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// Now is the clock of the signatures (default time.Now).
	Now func() time.Time
}

// UserSender posts notification deliveries to the webhook each user set in
// their preferences, signed with that user's secret (see Sign): the webhook
// channel of herald.ChannelSender.
type UserSender struct {
	cfg UserConfig
}

var _ herald.ChannelSender = (*UserSender)(nil)

// NewUserSender returns a UserSender for c.
func NewUserSender(c UserConfig) *UserSender {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Client == nil {
		c.Client = safedial.Client(c.Timeout, c.AllowPrivate)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &UserSender{cfg: c}
}

// DeliveryEvent is the JSON body of a user webhook.
type DeliveryEvent struct {
	Type         string               `json:"type"` // "notification"
	DeliveryID   string               `json:"deliveryId"`
	UserID       string               `json:"userId"`
	Notification *herald.Notification `json:"notification"`
}

// Send posts m's notification to m.WebhookURL. The Herald-Delivery-Id and
// Idempotency-Key headers carry the delivery id, the same on every retry, for
// receivers to drop repeats.
//
// A 2xx answer is sent (redirects are not followed). 410 Gone says the
// endpoint is gone for good (ENOTFOUND); 408, 429 and 5xx are retried; other
// answers are refused for good (EUNPROCESSABLE), and an internal address is
// EFORBIDDEN.
func (s *UserSender) Send(ctx context.Context, m *herald.Outbound) error {
	if m.WebhookURL == "" || m.WebhookSecret == "" || len(m.Notifications) == 0 || m.Delivery == nil {
		return herald.Errorf(herald.EINVALID, "a webhook needs a URL, a secret, a delivery and a notification")
	}
	n := m.Notifications[0]
	body, err := json.Marshal(DeliveryEvent{Type: "notification", DeliveryID: m.Delivery.ID, UserID: n.UserID, Notification: n})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return herald.Errorf(herald.EUNPROCESSABLE, "the webhook URL is malformed")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald")
	req.Header.Set(SignatureHeader, Sign([]byte(m.WebhookSecret), s.cfg.Now(), body))
	req.Header.Set("Herald-Delivery-Id", m.Delivery.ID)
	req.Header.Set("Idempotency-Key", m.Delivery.ID)
	req.Header.Set("Herald-User-Id", n.UserID)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, safedial.ErrForbidden):
			return herald.Errorf(herald.EFORBIDDEN, "the webhook is on a network Herald does not send to")
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return ctx.Err()
		}
		return herald.Errorf(herald.EUNAVAILABLE, "the webhook did not answer")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c/100 == 2:
		return nil
	case c == http.StatusGone:
		return herald.Errorf(herald.ENOTFOUND, "the webhook is gone (410)")
	case c == http.StatusTooManyRequests:
		return herald.Errorf(herald.ERATELIMIT, "the webhook is rate limiting (429)")
	case c >= 500 || c == http.StatusRequestTimeout:
		return herald.Errorf(herald.EUNAVAILABLE, "the webhook answered %d", c)
	default:
		return herald.Errorf(herald.EUNPROCESSABLE, "the webhook refused the delivery (%d)", c)
	}
}
