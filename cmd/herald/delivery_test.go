package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/webhook"
	"github.com/heraldhq/herald/webpush"
)

// TestDeliveryThroughTheApp runs the wired app: a user saves a webhook in
// their preferences, a backend creates a notification, and the outbox
// workers deliver it, signed, to the user's endpoint; the API and the
// metrics show it sent.
func TestDeliveryThroughTheApp(t *testing.T) {
	const secret = "user-webhook-secret-123"
	var mu sync.Mutex
	var got []webhook.DeliveryEvent
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte(secret), r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.DeliveryEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"*": {"channels": {"in_app": true}}, "alert": {"escalation": [{"after": "10m", "channel": "push"}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startApp(t, map[string]string{
		"DELIVERY_ALLOW_PRIVATE":      "true",
		"HERALD_DELIVERY_POLICY_FILE": policy,
		"VAPID_PUBLIC_KEY":            pub, "VAPID_PRIVATE_KEY": priv, "VAPID_SUBJECT": "mailto:ops@herald.example",
	})
	ana := token(t, s.secret, "ana")
	status, body := s.do("PUT", "/api/preferences", ana, map[string]any{
		"types": map[string]any{"*": map[string]bool{"webhook": true}}, "webhookUrl": hook.URL, "webhookSecret": secret,
	})
	if status != 200 {
		t.Fatalf("PUT /api/preferences: %d %s", status, body)
	}
	if status, body := s.do("GET", "/api/push/key", ana, nil); status != 200 || !strings.Contains(string(body), pub) {
		t.Fatalf("GET /api/push/key: %d %s", status, body)
	}
	n := s.notify("ana", "Delivered by webhook")
	waitFor(t, 10*time.Second, "the webhook delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	mu.Lock() // the handler may still append a retry
	first := got[0]
	mu.Unlock()
	if first.Notification.ID != n.ID || first.Notification.Title != "Delivered by webhook" {
		t.Fatalf("webhook got %+v", first)
	}
	var page struct {
		Deliveries []struct{ Status, Channel, NotificationID string }
	}
	waitFor(t, 15*time.Second, "the delivery recorded as sent", func() bool {
		status, body := s.do("GET", "/api/deliveries", ana, nil)
		if status != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET /api/deliveries: %d %s", status, body)
		}
		return len(page.Deliveries) == 1 && page.Deliveries[0].Status == "sent"
	})
	if page.Deliveries[0].NotificationID != n.ID || page.Deliveries[0].Channel != "webhook" {
		t.Fatalf("deliveries = %+v", page.Deliveries)
	}
	status, metrics := s.do("GET", "/metrics", s.apiKey, nil)
	if status != 200 || !bytes.Contains(metrics, []byte(`herald_delivery_attempts_total{channel="webhook",result="sent"} 1`)) ||
		!bytes.Contains(metrics, []byte(`herald_outbox_deliveries{status="dead"} 0`)) {
		t.Fatalf("metrics lack the delivery counters:\n%s", metrics)
	}
}

func TestBadDeliverySettingsFailAtStart(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"smtp without from": {"SMTP_HOST": "mail.example"},
		"bad retry":         {"HERALD_DELIVERY_RETRY_BASE": "soon"},
		"bad vapid":         {"VAPID_PUBLIC_KEY": "x", "VAPID_PRIVATE_KEY": "y", "VAPID_SUBJECT": "mailto:a@b.example"},
		"sms without from":  {"SMS_ACCOUNT_SID": "AC1", "SMS_AUTH_TOKEN": "t"},
		"missing policy":    {"HERALD_DELIVERY_POLICY_FILE": filepath.Join(t.TempDir(), "none.json")},
	} {
		all := map[string]string{"PORT": "0", "HERALD_HOST": "127.0.0.1", "HERALD_DB_PATH": filepath.Join(t.TempDir(), "h.db"),
			"JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey}
		for k, v := range env {
			all[k] = v
		}
		cfg, err := load(nil, all)
		if err != nil {
			// Refused before anything opened, as settings should be;
			// only the policy file is read after.
			if !strings.Contains(err.Error(), "_") {
				t.Errorf("%s: the error names no setting: %v", name, err)
			}
			continue
		}
		if name != "missing policy" {
			t.Errorf("%s: the settings were accepted until the store was open", name)
		}
		if a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
			a.api.Shutdown(context.Background())
			a.store.Close()
			t.Errorf("%s: the app started", name)
		}
	}
}

func TestVAPIDCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"vapid"}, mapEnv(nil), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		k, v, _ := strings.Cut(line, "=")
		kv[k] = v
	}
	if _, err := webpush.New(webpush.Config{VAPIDPublicKey: kv["VAPID_PUBLIC_KEY"], VAPIDPrivateKey: kv["VAPID_PRIVATE_KEY"], Subscriber: "a@b.example"}); err != nil {
		t.Fatalf("the printed keys do not make a sender: %v\n%s", err, stdout.String())
	}
	if err := run(context.Background(), []string{"vapid", "extra"}, mapEnv(nil), &stdout, &stderr); err == nil {
		t.Fatal("vapid with an argument succeeded")
	}
}
