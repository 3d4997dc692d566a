package http_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/events"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/memory"
)

// TestRealInbox runs the API over the real inbox and event handler on the
// in-memory store, to hold the routes to those packages' contracts:
// idempotent replays, cursors, ownership and event errors.
func TestRealInbox(t *testing.T) {
	ib, err := inbox.New(inbox.Config{Store: memory.NewStore(memory.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.New(events.Config{Inbox: ib})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *heraldhttp.Config) { c.Inbox, c.Events = ib, ev })

	create := func(key, title string) response {
		return e.do(req{method: "POST", path: "/api/notifications", auth: "Bearer " + apiKey,
			body:   `{"userId":"alice","type":"t","title":"` + title + `","data":{"n":1}}`,
			header: map[string]string{"Idempotency-Key": key}})
	}
	first := create("k1", "First")
	if first.status != http.StatusCreated {
		t.Fatalf("create: %d %s", first.status, first.body)
	}
	replay := create("k1", "Again")
	if replay.status != http.StatusOK || !strings.Contains(string(replay.body), `"title":"First"`) {
		t.Fatalf("replay: %d %s", replay.status, replay.body)
	}
	for i := range 4 {
		if r := create("", "More"); r.status != http.StatusCreated {
			t.Fatalf("create %d: %d %s", i, r.status, r.body)
		}
	}

	var p page
	if err := json.Unmarshal(e.as("alice", "GET", "/api/notifications?limit=3").body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Notifications) != 3 || p.NextCursor == nil || p.UnreadCount != 5 {
		t.Fatalf("first page: %d items, next %v, unread %d", len(p.Notifications), p.NextCursor, p.UnreadCount)
	}
	var p2 page
	if err := json.Unmarshal(e.as("alice", "GET", "/api/notifications?limit=3&before="+*p.NextCursor).body, &p2); err != nil {
		t.Fatal(err)
	}
	if len(p2.Notifications) != 2 || p2.NextCursor != nil || p2.Notifications[1].Title != "First" {
		t.Fatalf("second page: %+v, next %v", p2.Notifications, p2.NextCursor)
	}

	id := p2.Notifications[1].ID
	expectError(t, e.as("bob", "POST", "/api/notifications/"+id+"/read"), 404, herald.ENOTFOUND)
	if r := e.as("alice", "POST", "/api/notifications/"+id+"/read"); r.status != 200 {
		t.Fatalf("mark read: %d %s", r.status, r.body)
	}
	if r := e.as("alice", "POST", "/api/notifications/"+id+"/read"); r.status != 200 {
		t.Fatalf("mark read twice: %d %s", r.status, r.body)
	}
	expectError(t, e.as("bob", "DELETE", "/api/notifications/"+id), 404, herald.ENOTFOUND)
	if r := e.as("alice", "DELETE", "/api/notifications/"+id); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.as("alice", "POST", "/api/notifications/read-all"); strings.TrimSpace(string(r.body)) != `{"updated":4}` {
		t.Fatalf("read-all: %d %s", r.status, r.body)
	}

	body := `{"event":"booking:confirmed","id":"b-9","data":{"userId":"bob","vehicleName":"Van","bookingId":90071992547409931}}`
	r := e.backend("POST", "/api/events", body)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"data":{"booking_id":90071992547409931}`) {
		t.Fatalf("event: %d %s", r.status, r.body)
	}
	if again := e.backend("POST", "/api/events", body); again.status != http.StatusOK || string(again.body) != string(r.body) {
		t.Fatalf("redelivered event: %d %s", again.status, again.body)
	}
	expectError(t, e.backend("POST", "/api/events", `{"event":"booking:confirmed","data":{"userId":"bob"}}`), 422, herald.EUNPROCESSABLE)
	expectError(t, e.backend("POST", "/api/events", `{"event":"nope","data":{"userId":"bob"}}`), 422, herald.EUNPROCESSABLE)
}
