package webpush_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pushtest"
	"github.com/heraldhq/herald/webpush"
)

var ctx = context.Background()

func setup(t *testing.T) (*webpush.Sender, *pushtest.Service) {
	t.Helper()
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	svc := pushtest.Start(t, pub)
	s, err := webpush.New(webpush.Config{VAPIDPublicKey: pub, VAPIDPrivateKey: priv, Subscriber: "mailto:ops@herald.example",
		Client: svc.Client(), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s, svc
}

func outbound(id string, b *pushtest.Browser, n *herald.Notification) *herald.Outbound {
	return &herald.Outbound{Delivery: &herald.Delivery{ID: id, Channel: herald.ChannelPush, Kind: herald.DeliveryImmediate},
		Notifications: []*herald.Notification{n}, Push: b.Subscription}
}

func TestPushIsEncryptedForTheBrowser(t *testing.T) {
	s, svc := setup(t)
	b := svc.Subscribe("ana")
	n := &herald.Notification{ID: "n-1", Type: "payment_due", Title: "Payment due", Message: "You owe $12.",
		Link: "https://app.example/p/7", Data: json.RawMessage(`{"paymentId":7}`), CreatedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.Send(ctx, outbound("d-1", b, n)); err != nil {
		t.Fatal(err)
	}
	msgs := svc.Messages()
	if len(msgs) != 1 {
		t.Fatalf("push service accepted %d messages", len(msgs))
	}
	var p webpush.Payload
	if err := json.Unmarshal(msgs[0].Plaintext, &p); err != nil {
		t.Fatalf("decrypted payload %q: %v", msgs[0].Plaintext, err)
	}
	if p.Type != "notification" || p.DeliveryID != "d-1" || p.Notification.ID != "n-1" || p.Notification.Title != n.Title ||
		p.Notification.Message != n.Message || p.Notification.Link != n.Link || string(p.Notification.Data) != `{"paymentId":7}` ||
		p.Notification.CreatedAt != "2030-01-02T03:04:05.000Z" {
		t.Fatalf("payload = %+v", p)
	}
	if msgs[0].TTL != "3600" || msgs[0].Topic != webpush.Topic("d-1") || len(msgs[0].Topic) != 32 || msgs[0].Urgency != "normal" {
		t.Fatalf("headers TTL %q, Topic %q, Urgency %q", msgs[0].TTL, msgs[0].Topic, msgs[0].Urgency)
	}
	// Another browser's keys cannot read it.
	other := svc.Subscribe("bo")
	if err := s.Send(ctx, outbound("d-2", other, n)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decrypt([]byte(strings.Repeat("x", 200))); err == nil {
		t.Fatal("garbage decrypted")
	}
}

func TestLargeMessageIsShortened(t *testing.T) {
	s, svc := setup(t)
	b := svc.Subscribe("ana")
	n := &herald.Notification{ID: "n-2", Title: "Long", Message: strings.Repeat("ü\"", 2000), Data: json.RawMessage(`{"big":"` + strings.Repeat("x", 5000) + `"}`)}
	if err := s.Send(ctx, outbound("d-3", b, n)); err != nil {
		t.Fatal(err)
	}
	var p webpush.Payload
	if err := json.Unmarshal(svc.Messages()[0].Plaintext, &p); err != nil {
		t.Fatal(err)
	}
	if p.Notification.Data != nil || !strings.HasSuffix(p.Notification.Message, "…") || len(svc.Messages()[0].Plaintext) > webpush.MaxPayload {
		t.Fatalf("oversized payload: %d bytes, data %q", len(svc.Messages()[0].Plaintext), p.Notification.Data)
	}
}

func TestAnswers(t *testing.T) {
	s, svc := setup(t)
	b := svc.Subscribe("ana")
	n := &herald.Notification{ID: "n", Title: "t"}
	for status, want := range map[int]herald.ErrorCode{
		http.StatusTooManyRequests:       herald.ERATELIMIT,
		http.StatusServiceUnavailable:    herald.EUNAVAILABLE,
		http.StatusRequestEntityTooLarge: herald.EUNPROCESSABLE,
	} {
		svc.Answer(status)
		if err := s.Send(ctx, outbound("d", b, n)); herald.CodeOf(err) != want {
			t.Fatalf("answer %d = %v, want %s", status, err, want)
		}
	}
	svc.Answer(0)
	svc.Unsubscribe(b)
	err := s.Send(ctx, outbound("d", b, n))
	if herald.CodeOf(err) != herald.ENOTFOUND || strings.Contains(err.Error(), b.Subscription.Endpoint) {
		t.Fatalf("expired subscription = %v, want ENOTFOUND without the endpoint", err)
	}
}

func TestDefaultClientRefusesInternalEndpoints(t *testing.T) {
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	svc := pushtest.Start(t, pub)
	s, err := webpush.New(webpush.Config{VAPIDPublicKey: pub, VAPIDPrivateKey: priv, Subscriber: "ops@herald.example"})
	if err != nil {
		t.Fatal(err)
	}
	b := svc.Subscribe("ana")
	if err := s.Send(ctx, outbound("d", b, &herald.Notification{Title: "t"})); herald.CodeOf(err) != herald.EFORBIDDEN {
		t.Fatalf("a loopback endpoint = %v, want EFORBIDDEN", err)
	}
	if svc.Requests() != 0 {
		t.Fatal("the request reached the loopback endpoint")
	}
}

func TestConfig(t *testing.T) {
	priv, pub, _ := webpush.GenerateVAPIDKeys()
	for _, c := range []webpush.Config{
		{VAPIDPublicKey: pub, VAPIDPrivateKey: priv},
		{VAPIDPublicKey: priv, VAPIDPrivateKey: pub, Subscriber: "a@b.example"},
		{VAPIDPublicKey: "x", VAPIDPrivateKey: priv, Subscriber: "a@b.example"},
	} {
		if _, err := webpush.New(c); herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("New(%+v) = %v, want EINVALID", c, err)
		}
	}
}
