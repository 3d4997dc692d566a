package fcm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/fcm"
	"github.com/heraldhq/herald/internal/fcmtest"
)

const phone = "cXk1:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"

func newSender(t *testing.T, srv *fcmtest.Server) *fcm.Sender {
	t.Helper()
	s, err := fcm.New(fcm.Config{Credentials: srv.Credentials(), BaseURL: srv.URL(), Client: srv.Client(), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outbound(critical bool, unread int) *herald.Outbound {
	n := &herald.Notification{ID: herald.NewID(), UserID: "ana", Seq: 9, Type: "payment_due", Title: "Rent is due", Message: "Pay by Friday", Link: "https://example.com/rent"}
	return &herald.Outbound{
		Delivery:      &herald.Delivery{ID: herald.NewID(), NotificationID: n.ID, UserID: "ana", Channel: herald.ChannelPush, Kind: herald.DeliveryImmediate, Critical: critical},
		Notifications: []*herald.Notification{n},
		Device:        &herald.Device{ID: herald.NewID(), UserID: "ana", Platform: herald.PlatformFCM, Token: phone},
		Unread:        &unread,
	}
}

// TestFCMMessage: a message reaches the fake FCM with an access token from
// the service account's JWT exchange, reused across sends, and carries the
// notification, data, collapse key, priority by critical, TTL and badge.
func TestFCMMessage(t *testing.T) {
	srv := fcmtest.New(t)
	s := newSender(t, srv)
	for _, critical := range []bool{false, true} {
		m := outbound(critical, 4)
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("send: %v (problems %v)", err, srv.Problems())
		}
		got := srv.Delivered(phone)
		msg := got[len(got)-1]
		n := m.Notifications[0]
		want := map[bool]string{false: "NORMAL", true: "HIGH"}[critical]
		if !msg.Visible() || msg.Title != n.Title || msg.Body != n.Message || msg.CollapseKey != n.ID || msg.Priority != want || msg.TTL != "3600s" {
			t.Fatalf("message = %+v", msg)
		}
		if msg.Data["id"] != n.ID || msg.Data["seq"] != "9" || msg.Data["link"] != n.Link || msg.Data["deliveryId"] != m.Delivery.ID {
			t.Fatalf("data = %v", msg.Data)
		}
		if msg.Badge == nil || *msg.Badge != 4 {
			t.Fatalf("badge = %v, want 4", msg.Badge)
		}
	}
	if n := srv.Exchanges(); n != 1 {
		t.Fatalf("%d token exchanges for two sends, want 1 (cached)", n)
	}
	if p := srv.Problems(); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
}

// TestFCMTokenExpiry: an access token that expires is exchanged again.
func TestFCMTokenExpiry(t *testing.T) {
	srv := fcmtest.New(t)
	srv.TokenLife = 11 * time.Second // oauth2 renews 10s before expiry
	s := newSender(t, srv)
	if err := s.Send(context.Background(), outbound(false, 0)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := s.Send(context.Background(), outbound(false, 0)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Exchanges(); n != 2 {
		t.Fatalf("%d exchanges, want 2 (the first token expired)", n)
	}
}

// TestFCMAnswers maps FCM's errors: UNREGISTERED is ENOTFOUND (the device
// is removed), 429 and 5xx are retried after their Retry-After, other
// refusals are for good.
func TestFCMAnswers(t *testing.T) {
	srv := fcmtest.New(t)
	s := newSender(t, srv)
	srv.Queue(phone,
		fcmtest.Answer{Status: http.StatusTooManyRequests, Code: "QUOTA_EXCEEDED", RetryAfter: "30"},
		fcmtest.Answer{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE"},
		fcmtest.Answer{Status: http.StatusBadRequest, Code: "INVALID_ARGUMENT"},
		fcmtest.Answer{Status: http.StatusBadRequest, Code: "evil code " + phone},
	)
	var retry interface{ RetryAfter() time.Duration }
	err := s.Send(context.Background(), outbound(false, 0))
	if herald.CodeOf(err) != herald.ERATELIMIT || !errors.As(err, &retry) || retry.RetryAfter() != 30*time.Second {
		t.Fatalf("429: %v", err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("503: %v", err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.EUNPROCESSABLE {
		t.Fatalf("INVALID_ARGUMENT: %v", err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.EUNPROCESSABLE || strings.Contains(err.Error(), phone) {
		t.Fatalf("hostile code: %v", err)
	}
	srv.Unregister(phone)
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.ENOTFOUND {
		t.Fatalf("UNREGISTERED: %v", err)
	}
}

// TestFCMBadge: a badge update is data-only with the count.
func TestFCMBadge(t *testing.T) {
	srv := fcmtest.New(t)
	s := newSender(t, srv)
	d := &herald.Device{ID: herald.NewID(), UserID: "ana", Platform: herald.PlatformFCM, Token: phone}
	if err := s.SendBadge(context.Background(), d, 2); err != nil {
		t.Fatal(err)
	}
	m := srv.Delivered(phone)[0]
	if m.Visible() || m.Data["unread"] != "2" || m.APNsHeaders["apns-push-type"] != "background" {
		t.Fatalf("badge message = %+v", m)
	}
}

// TestFCMBadCredentials: a wrong key is refused at the token endpoint and
// the send is retried later, not failed for good; malformed files are
// refused by New.
func TestFCMBadCredentials(t *testing.T) {
	srv, other := fcmtest.New(t), fcmtest.New(t)
	creds := strings.Replace(string(other.Credentials()), other.URL(), srv.URL(), 1) // other's key, srv's endpoint
	s, err := fcm.New(fcm.Config{Credentials: []byte(creds), BaseURL: srv.URL(), Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), outbound(false, 0)); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("send with a foreign key: %v", err)
	}
	if len(srv.Delivered(phone)) != 0 {
		t.Fatal("a message went out without a valid token")
	}
	for _, bad := range []string{`{}`, `{"type":"service_account","project_id":"p","client_email":"e","private_key":"nope"}`, `not json`,
		`{"type":"service_account","project_id":"p/../x","client_email":"e"}`} {
		if _, err := fcm.New(fcm.Config{Credentials: []byte(bad)}); herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("New(%s) = %v", bad, err)
		}
	}
}
