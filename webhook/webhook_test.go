package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/webhook"
)

var secret = []byte("s3cret")

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	h := webhook.Sign(secret, now, body)
	if err := webhook.Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		secret []byte
		header string
		body   string
		now    time.Time
	}{
		"other secret": {[]byte("x"), h, `{"a":1}`, now},
		"other body":   {secret, h, `{"a":2}`, now},
		"stale":        {secret, h, `{"a":1}`, now.Add(6 * time.Minute)},
		"future":       {secret, h, `{"a":1}`, now.Add(-6 * time.Minute)},
		"garbage":      {secret, "nonsense", `{"a":1}`, now},
		"empty":        {secret, "", `{"a":1}`, now},
		"no mac":       {secret, "t=1700000000", `{"a":1}`, now},
	} {
		if err := webhook.Verify(tc.secret, tc.header, []byte(tc.body), tc.now, 5*time.Minute); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestAccept(t *testing.T) {
	var got herald.ClientEvent
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
		}
		if r.Header.Get("Herald-User-Id") != "alice" || r.Header.Get("Herald-Event-Id") != "e1" {
			t.Errorf("headers %v", r.Header)
		}
		json.Unmarshal(body, &got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s := webhook.New(webhook.Config{URL: srv.URL, Secret: secret})
	ev := &herald.ClientEvent{ID: "e1", Type: "custom_event", EventType: "trip_started", UserID: "alice", Payload: json.RawMessage(`{"eventType":"trip_started"}`)}
	if err := s.Accept(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if got.UserID != "alice" || got.EventType != "trip_started" {
		t.Errorf("received %+v", got)
	}
	status = http.StatusBadRequest
	if err := s.Accept(context.Background(), ev); herald.CodeOf(err) != herald.EUNPROCESSABLE {
		t.Errorf("400 → %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := s.Accept(context.Background(), ev); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Errorf("503 → %v", err)
	}
	srv.Close()
	if err := s.Accept(context.Background(), ev); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Errorf("down → %v", err)
	}
}
