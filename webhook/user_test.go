package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/webhook"
)

// receiver is a user's webhook endpoint that verifies requests as a real
// receiver would.
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    []webhook.DeliveryEvent
	ids    []string
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.status != 0 {
		w.WriteHeader(rc.status)
		return
	}
	var ev webhook.DeliveryEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, ev)
	rc.ids = append(rc.ids, r.Header.Get("Herald-Delivery-Id")+"|"+r.Header.Get("Idempotency-Key"))
	w.WriteHeader(http.StatusNoContent)
}

func userOutbound(url, secret string) *herald.Outbound {
	return &herald.Outbound{
		Delivery:      &herald.Delivery{ID: "d-1", Channel: herald.ChannelWebhook},
		Notifications: []*herald.Notification{{ID: "n-1", UserID: "ana", Type: "t", Title: "Hello"}},
		WebhookURL:    url, WebhookSecret: secret,
	}
}

func TestUserSenderSignsWithTheUsersSecret(t *testing.T) {
	rc := &receiver{t: t, secret: []byte("ana-secret-0123456789")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := webhook.NewUserSender(webhook.UserConfig{AllowPrivate: true})
	ctx := context.Background()
	if err := s.Send(ctx, userOutbound(srv.URL, "ana-secret-0123456789")); err != nil {
		t.Fatal(err)
	}
	if len(rc.got) != 1 || rc.got[0].DeliveryID != "d-1" || rc.got[0].Notification.Title != "Hello" || rc.got[0].UserID != "ana" || rc.ids[0] != "d-1|d-1" {
		t.Fatalf("receiver got %+v, headers %v", rc.got, rc.ids)
	}
	// Signed with another secret, the receiver refuses it: for good.
	if err := s.Send(ctx, userOutbound(srv.URL, "someone-elses-secret")); herald.CodeOf(err) != herald.EUNPROCESSABLE {
		t.Fatalf("wrong secret = %v, want EUNPROCESSABLE (401)", err)
	}
	for status, want := range map[int]herald.ErrorCode{
		http.StatusGone: herald.ENOTFOUND, http.StatusBadGateway: herald.EUNAVAILABLE,
		http.StatusTooManyRequests: herald.ERATELIMIT, http.StatusFound: herald.EUNPROCESSABLE,
	} {
		rc.mu.Lock()
		rc.status = status
		rc.mu.Unlock()
		if err := s.Send(ctx, userOutbound(srv.URL, "ana-secret-0123456789")); herald.CodeOf(err) != want {
			t.Fatalf("answer %d = %v, want %s", status, err, want)
		}
	}
	// By default, internal addresses are refused before any request.
	strict := webhook.NewUserSender(webhook.UserConfig{})
	if err := strict.Send(ctx, userOutbound(srv.URL, "ana-secret-0123456789")); herald.CodeOf(err) != herald.EFORBIDDEN {
		t.Fatalf("loopback webhook = %v, want EFORBIDDEN", err)
	}
	if len(rc.got) != 1 {
		t.Fatalf("receiver got %d deliveries, want 1", len(rc.got))
	}
}
