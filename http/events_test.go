package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestEvent(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"event":"booking:confirmed","id":"evt-1","data":{"userId":"alice","bookingId":12345678901234567890,"vehicleName":"Van"}}`
	r := e.backend("POST", "/api/events", body)
	if r.status != http.StatusCreated {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	var got struct{ Notifications []herald.Notification }
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Notifications) != 1 || got.Notifications[0].UserID != "alice" || got.Notifications[0].Seq != 1 {
		t.Fatalf("notifications = %+v", got.Notifications)
	}
	e.events.mu.Lock()
	ev := e.events.last
	e.events.mu.Unlock()
	if ev.ID != "evt-1" || ev.Name != "booking:confirmed" {
		t.Errorf("event = %+v", ev)
	}
	// Numbers keep every digit.
	if n, ok := ev.Data["bookingId"].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Errorf("bookingId = %#v", ev.Data["bookingId"])
	}

	// Delivered again, the event creates nothing and answers 200 with the same.
	r2 := e.backend("POST", "/api/events", body)
	if r2.status != http.StatusOK || string(r2.body) != string(r.body) {
		t.Errorf("redelivery: %d %s, want 200 %s", r2.status, r2.body, r.body)
	}
}

func TestEventErrors(t *testing.T) {
	e := newEnv(t, nil)
	msg := expectError(t, e.backend("POST", "/api/events", `{"event":"nope:never","data":{}}`), 422, herald.EUNPROCESSABLE)
	if msg != `unknown event "nope:never"` {
		t.Errorf("message = %q", msg)
	}
	tests := []struct{ name, body, want string }{
		{"data array", `{"event":"booking:confirmed","data":[1]}`, "data must be an object"},
		{"event number", `{"event":5}`, "event must be a string"},
		{"id object", `{"event":"booking:confirmed","id":{}}`, "id must be a string"},
		{"not object", `["booking:confirmed"]`, "JSON object"},
		{"bad JSON", `{"event":`, "not valid JSON"},
	}
	for _, tt := range tests {
		msg := expectError(t, e.backend("POST", "/api/events", tt.body), 400, herald.EINVALID)
		if !strings.Contains(msg, tt.want) {
			t.Errorf("%s: message %q does not mention %q", tt.name, msg, tt.want)
		}
	}
	expectError(t, e.backend("POST", "/api/events", `{"event":"x","pad":"`+strings.Repeat("p", 64<<10)+`"}`), 413, herald.ETOOLARGE)
	expectError(t, e.do(req{method: "POST", path: "/api/events", body: `{"event":"booking:confirmed"}`}), 401, herald.ECREDENTIALS)
}
