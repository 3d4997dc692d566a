package apns_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/apns"
	"github.com/heraldhq/herald/internal/apnstest"
)

const phone = "8d2f0c4be4c1e8a64c9f2b3b1a7f8d0e6c5b4a39281706f5e4d3c2b1a0f9e8d7"

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSender(t *testing.T, srv *apnstest.Server, clk *clock) *apns.Sender {
	t.Helper()
	srv.Now = clk.Now
	s, err := apns.New(apns.Config{Key: srv.Key, KeyID: apnstest.KeyID, TeamID: apnstest.TeamID, Topic: apnstest.Topic,
		Host: srv.URL(), Client: srv.Client(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outbound(critical bool, unread int) *herald.Outbound {
	n := &herald.Notification{ID: herald.NewID(), UserID: "ana", Seq: 7, Type: "payment_due", Title: "Rent is due", Message: "Pay by Friday", Link: "https://example.com/rent"}
	return &herald.Outbound{
		Delivery:      &herald.Delivery{ID: herald.NewID(), NotificationID: n.ID, UserID: "ana", Channel: herald.ChannelPush, Kind: herald.DeliveryImmediate, Critical: critical},
		Notifications: []*herald.Notification{n},
		Device:        &herald.Device{ID: herald.NewID(), UserID: "ana", Platform: herald.PlatformAPNs, Token: phone},
		Unread:        &unread,
	}
}

// TestAPNsAlert: an alert reaches the fake APNs over HTTP/2 with a valid
// provider token and every header and payload field set as documented.
func TestAPNsAlert(t *testing.T) {
	srv := apnstest.New(t)
	clk := &clock{t: time.Now()}
	s := newSender(t, srv, clk)
	for _, critical := range []bool{false, true} {
		m := outbound(critical, 3)
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("send: %v (problems %v)", err, srv.Problems())
		}
		got := srv.Delivered(phone)
		p := got[len(got)-1]
		wantPrio := map[bool]string{false: "5", true: "10"}[critical]
		if p.ID != m.Delivery.ID || p.CollapseID != m.Notifications[0].ID || p.PushType != "alert" || p.Priority != wantPrio ||
			p.Topic != apnstest.Topic || p.Title() != "Rent is due" || p.Body() != "Pay by Friday" || p.ThreadID() != "payment_due" {
			t.Fatalf("push = %+v", p)
		}
		if b, ok := p.Badge(); !ok || b != 3 {
			t.Fatalf("badge = %d, %v; want the unread count 3", b, ok)
		}
		if p.Payload["id"] != m.Notifications[0].ID || p.Payload["seq"] != "7" || p.Payload["link"] != "https://example.com/rent" {
			t.Fatalf("payload = %v", p.Payload)
		}
	}
	if len(srv.Problems()) != 0 {
		t.Fatalf("the server found problems: %v", srv.Problems())
	}
}

// TestAPNsProviderTokenRenewed: one provider token serves for 40 minutes,
// then a new one with a fresh iat is signed; an ExpiredProviderToken answer
// makes the next request sign a new one.
func TestAPNsProviderTokenRenewed(t *testing.T) {
	srv := apnstest.New(t)
	clk := &clock{t: time.Now()}
	s := newSender(t, srv, clk)
	send := func() {
		t.Helper()
		if err := s.Send(context.Background(), outbound(false, 1)); err != nil {
			t.Fatal(err)
		}
	}
	send()
	clk.Add(39 * time.Minute)
	send()
	if n := srv.ProviderTokens(); n != 1 {
		t.Fatalf("%d provider tokens in 39 minutes, want 1", n)
	}
	clk.Add(2 * time.Minute)
	send()
	ps := srv.Pushes()
	if n := srv.ProviderTokens(); n != 2 || ps[2].Issued != clk.Now().Unix() {
		t.Fatalf("after 41 minutes: %d tokens, last iat %d; want 2 and %d", n, ps[2].Issued, clk.Now().Unix())
	}
	// A server clock an hour ahead calls the token expired: retried, and
	// the retry signs anew.
	srv.Now = func() time.Time { return clk.Now().Add(61 * time.Minute) }
	err := s.Send(context.Background(), outbound(false, 1))
	if herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("expired provider token: %v, want EUNAVAILABLE (retried)", err)
	}
	clk.Add(61 * time.Minute)
	srv.Now = clk.Now
	send()
	if n := srv.ProviderTokens(); n != 3 {
		t.Fatalf("%d provider tokens after an expiry, want 3", n)
	}
}

// TestAPNsAnswers maps APNs' refusals: gone tokens are ENOTFOUND (the
// device is removed), 429 and 5xx are retried after their Retry-After, and
// other refusals are for good.
func TestAPNsAnswers(t *testing.T) {
	srv := apnstest.New(t)
	s := newSender(t, srv, &clock{t: time.Now()})
	srv.Queue(phone,
		apnstest.Answer{Status: http.StatusTooManyRequests, Reason: "TooManyRequests", RetryAfter: "120"},
		apnstest.Answer{Status: http.StatusServiceUnavailable, Reason: "ServiceUnavailable"},
		apnstest.Answer{Status: http.StatusBadRequest, Reason: "BadDeviceToken"},
		apnstest.Answer{Status: http.StatusBadRequest, Reason: "TopicDisallowed"},
		apnstest.Answer{Status: http.StatusBadRequest, Reason: "evil\nreason with the token " + phone},
	)
	var retry interface{ RetryAfter() time.Duration }
	err := s.Send(context.Background(), outbound(false, 0))
	if herald.CodeOf(err) != herald.ERATELIMIT || !errors.As(err, &retry) || retry.RetryAfter() != 2*time.Minute {
		t.Fatalf("429: %v", err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("503: %v", err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("BadDeviceToken: %v", err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.EUNPROCESSABLE {
		t.Fatalf("TopicDisallowed: %v", err)
	}
	err = s.Send(context.Background(), outbound(false, 0))
	if herald.CodeOf(err) != herald.EUNPROCESSABLE || strings.Contains(err.Error(), phone) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("hostile reason: %q", err)
	}
	srv.Unregister(phone)
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("410: %v", err)
	}
}

// TestAPNsBadge: a badge update is a silent background push at priority 5
// with the count and no alert.
func TestAPNsBadge(t *testing.T) {
	srv := apnstest.New(t)
	s := newSender(t, srv, &clock{t: time.Now()})
	d := &herald.Device{ID: herald.NewID(), UserID: "ana", Platform: herald.PlatformAPNs, Token: phone}
	if err := s.SendBadge(context.Background(), d, 0); err != nil {
		t.Fatalf("badge: %v (problems %v)", err, srv.Problems())
	}
	p := srv.Delivered(phone)[0]
	aps := p.Payload["aps"].(map[string]any)
	if b, ok := p.Badge(); !ok || b != 0 || p.PushType != "background" || p.Priority != "5" || aps["content-available"] != float64(1) || aps["alert"] != nil {
		t.Fatalf("badge push = %+v", p)
	}
}

// TestAPNsLongBody: a body past the 4 KB payload is shortened, not refused.
func TestAPNsLongBody(t *testing.T) {
	srv := apnstest.New(t)
	s := newSender(t, srv, &clock{t: time.Now()})
	m := outbound(false, 1)
	m.Notifications[0].Message = strings.Repeat("é", 5000)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("send: %v (problems %v)", err, srv.Problems())
	}
	if b := srv.Delivered(phone)[0].Body(); !strings.HasSuffix(b, "…") || len(b) > 4096 {
		t.Fatalf("body of %d bytes", len(b))
	}
}

// TestAPNsConfig refuses a missing or wrong key and missing ids.
func TestAPNsConfig(t *testing.T) {
	srv := apnstest.New(t)
	for _, c := range []apns.Config{
		{Key: []byte("nope"), KeyID: "K", TeamID: "T", Topic: "x"},
		{Key: srv.Key, TeamID: "T", Topic: "x"},
		{Key: srv.Key, KeyID: "K", TeamID: "T"},
	} {
		if _, err := apns.New(c); herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("New(%+v) = %v, want EINVALID", c, err)
		}
	}
}
