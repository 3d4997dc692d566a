package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// TestInAppOffNeverReachesTheSocket: a user switched in_app off for
// "receipt". A receipt created for them is stored read and silent in its
// create's transaction, with its webhook delivery planned: their open socket
// never receives it, nor a count for it, a resume does not replay it, the
// inbox does not list it, and the count stays where it was. A notification
// of another type created after it arrives as usual.
func TestInAppOffNeverReachesTheSocket(t *testing.T) {
	hook := newWebhookSink(t)
	s := startApp(t, map[string]string{"DELIVERY_ALLOW_PRIVATE": "true"})
	ana := token(t, s.secret, "ana")
	if status, body := s.do("PUT", "/api/preferences", ana, map[string]any{
		"types":      map[string]any{"receipt": map[string]bool{"in_app": false, "webhook": true}},
		"webhookUrl": hook.URL, "webhookSecret": "a-webhook-secret-of-ana",
	}); status != http.StatusOK {
		t.Fatalf("PUT /api/preferences: %d %s", status, body)
	}
	before := s.notify("ana", "before")
	tab, hello := s.connect("ana", "since", fmt.Sprint(before.Seq))
	if hello["unreadCount"] != float64(1) {
		t.Fatalf("connected with unreadCount %v, want 1", hello["unreadCount"])
	}
	tab.expect("resumed")

	var receipt struct {
		notification
		Read bool `json:"read"`
	}
	s.api("POST", "/api/notifications", map[string]any{"userId": "ana", "type": "receipt", "title": "Your receipt", "message": "m"}, 201, &receipt)
	if !receipt.Read || receipt.Seq != before.Seq+1 {
		t.Fatalf("the receipt was stored as %+v, want read, seq %d", receipt, before.Seq+1)
	}
	after := s.notify("ana", "after")

	// The socket gets the later notification and its count (2: before and
	// after), and nothing about the receipt.
	m := tab.read()
	if m["type"] != "notification:new" || m["notification"].(map[string]any)["id"] != after.ID {
		t.Fatalf("first message after the receipt = %v, want notification:new of %s", m, after.ID)
	}
	if m := tab.expect("notification:unread_count"); m["count"] != float64(2) {
		t.Fatalf("count = %v, want 2", m["count"])
	}
	tab.send(map[string]any{"type": "ping"})
	if m := tab.read(); m["type"] != "pong" {
		t.Fatalf("after the count: %v, want only the pong", m)
	}

	// A resume from before the receipt replays the later one only.
	again, hello := s.connect("ana", "since", fmt.Sprint(before.Seq))
	if hello["unreadCount"] != float64(2) {
		t.Fatalf("unreadCount after the receipt = %v, want 2", hello["unreadCount"])
	}
	if m := again.read(); m["type"] != "notification:new" || m["notification"].(map[string]any)["id"] != after.ID {
		t.Fatalf("the replay sent %v, want only %s", m, after.ID)
	}
	if m := again.expect("resumed"); m["replayed"] != float64(1) || m["lastSeq"] != float64(after.Seq) {
		t.Fatalf("resumed = %v", m)
	}

	// The inbox does not list it, and its count is exact.
	status, body := s.do("GET", "/api/notifications", ana, nil)
	var page struct {
		Notifications []notification `json:"notifications"`
		UnreadCount   int            `json:"unreadCount"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
		t.Fatalf("GET /api/notifications: %d %s", status, body)
	}
	if len(page.Notifications) != 2 || page.UnreadCount != 2 {
		t.Fatalf("the inbox lists %+v with unread %d, want before and after, 2", page.Notifications, page.UnreadCount)
	}
	for _, n := range page.Notifications {
		if n.ID == receipt.ID {
			t.Fatal("the inbox lists the receipt")
		}
	}

	// It still went out over the user's webhook.
	waitFor(t, 10*time.Second, "the receipt's webhook", func() bool { return hook.has(receipt.ID) })
}

// webhookSink is a user's webhook endpoint that records the notifications it
// was sent.
type webhookSink struct {
	URL string
	mu  sync.Mutex
	ids map[string]bool
}

func newWebhookSink(t *testing.T) *webhookSink {
	w := &webhookSink{ids: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ev webhook.DeliveryEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.ids[ev.Notification.ID] = true
		w.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

func (w *webhookSink) has(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ids[id]
}
