package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// topicSend is what the topic routes answer for a send.
type topicSend struct {
	ID        string `json:"id"`
	Topic     string `json:"topic"`
	Members   int    `json:"members"`
	Delivered int    `json:"delivered"`
	Status    string `json:"status"`
}

// members adds ids to topic through the API.
func (s *server) members(topic string, ids []string) int {
	s.t.Helper()
	var out struct{ Added int }
	s.api("PUT", "/api/topics/"+topic+"/members", ids, 200, &out)
	return out.Added
}

// sendProgress returns the send's progress.
func (s *server) sendProgress(topic, id string) topicSend {
	s.t.Helper()
	var out topicSend
	s.api("GET", "/api/topics/"+topic+"/notifications/"+id, nil, 200, &out)
	return out
}

// TestTopicThroughTheApp: membership with paging, a topic notification
// accepted with 202 and fanned out: the members online get it live with
// their exact counts, a member with in_app off gets it only by webhook, a
// member offline finds it on resume with ?since=, a retry with the key sends
// nothing again, and every route refuses a user's token and bad input.
func TestTopicThroughTheApp(t *testing.T) {
	hook := newWebhookSink(t)
	s := startApp(t, map[string]string{"DELIVERY_ALLOW_PRIVATE": "true", "HERALD_TOPIC_CHUNK": "3"})
	var ids []string
	for i := range 8 {
		ids = append(ids, fmt.Sprintf("rider-%d", i))
	}
	if n := s.members("trip:9", ids[:5]); n != 5 {
		t.Fatalf("added %d, want 5", n)
	}
	// {"userIds":[…]} works too, and adding again is idempotent.
	var added struct{ Added int }
	s.api("PUT", "/api/topics/trip:9/members", map[string]any{"userIds": ids}, 200, &added)
	if added.Added != 3 {
		t.Fatalf("added %d, want the 3 new ones", added.Added)
	}
	var removed struct{ Removed int }
	s.api("DELETE", "/api/topics/trip:9/members", []string{ids[7], "never-a-member"}, 200, &removed)
	if removed.Removed != 1 {
		t.Fatalf("removed %d, want 1", removed.Removed)
	}
	var page struct {
		UserIDs    []string `json:"userIds"`
		NextCursor *string  `json:"nextCursor"`
	}
	var listed []string
	for after := ""; ; {
		s.api("GET", "/api/topics/trip:9/members?limit=3&after="+after, nil, 200, &page)
		listed = append(listed, page.UserIDs...)
		if page.NextCursor == nil {
			break
		}
		after = *page.NextCursor
	}
	if strings.Join(listed, ",") != strings.Join(ids[:7], ",") {
		t.Fatalf("members by pages = %v, want %v", listed, ids[:7])
	}

	// rider-1 switched in_app off for trips and takes them by webhook.
	r1 := token(t, s.secret, ids[1])
	if status, body := s.do("PUT", "/api/preferences", r1, map[string]any{
		"types":      map[string]any{"trip": map[string]bool{"in_app": false, "webhook": true}},
		"webhookUrl": hook.URL, "webhookSecret": "a-webhook-secret-of-r1",
	}); status != 200 {
		t.Fatalf("preferences: %d %s", status, body)
	}
	s.notify(ids[0], "before the trip")
	online0, _ := s.connect(ids[0])
	online1, _ := s.connect(ids[1])

	status, body := s.do("POST", "/api/topics/trip:9/notifications", s.apiKey, map[string]any{
		"type": "trip", "title": "Driver arriving", "message": "2 minutes", "data": map[string]any{"eta": 2}})
	var send topicSend
	if status != http.StatusAccepted || json.Unmarshal(body, &send) != nil || send.Members != 7 || send.ID == "" {
		t.Fatalf("POST …/notifications = %d %s", status, body)
	}
	waitFor(t, 10*time.Second, "the fan-out", func() bool { return s.sendProgress("trip:9", send.ID).Status == "done" })
	if got := s.sendProgress("trip:9", send.ID); got.Delivered != 7 {
		t.Fatalf("progress = %+v, want 7 delivered", got)
	}

	m := online0.expect("notification:new")
	n, _ := m["notification"].(map[string]any)
	if n["title"] != "Driver arriving" || n["userId"] != ids[0] || n["data"].(map[string]any)["eta"] != float64(2) {
		t.Fatalf("rider-0 got %v", m)
	}
	if c := online0.expect("notification:unread_count"); c["count"] != float64(2) {
		t.Fatalf("rider-0's count = %v, want 2 (with the older one)", c["count"])
	}
	online1.send(map[string]any{"type": "ping"})
	if m := online1.read(); m["type"] != "pong" {
		t.Fatalf("rider-1 (in_app off) got %v", m)
	}
	waitFor(t, 10*time.Second, "rider-1's webhook", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return len(hook.ids) == 1
	})

	// rider-4 was offline: resuming from before finds it, once.
	later, _ := s.connect(ids[4], "since", "0")
	if m := later.expect("notification:new"); m["replayed"] != true || m["notification"].(map[string]any)["title"] != "Driver arriving" {
		t.Fatalf("rider-4's replay = %v", m)
	}
	later.expect("resumed")

	// A retry with the key answers 200 with the first send, and sends nothing.
	key := map[string]string{"Idempotency-Key": "arrival-1"}
	st1, body1 := s.doHeader("POST", "/api/topics/trip:9/notifications", key, map[string]any{"type": "trip", "title": "Keyed"})
	st2, body2 := s.doHeader("POST", "/api/topics/trip:9/notifications", key, map[string]any{"type": "trip", "title": "Keyed"})
	var a, b topicSend
	if st1 != 202 || st2 != 200 || json.Unmarshal(body1, &a) != nil || json.Unmarshal(body2, &b) != nil || a.ID != b.ID {
		t.Fatalf("keyed sends: %d %s then %d %s", st1, body1, st2, body2)
	}
	waitFor(t, 10*time.Second, "the keyed fan-out", func() bool { return s.sendProgress("trip:9", a.ID).Status == "done" })
	if c := online0.expect("notification:new"); c["notification"].(map[string]any)["title"] != "Keyed" {
		t.Fatalf("rider-0 got %v", c)
	}
	online0.expect("notification:unread_count")
	online0.send(map[string]any{"type": "ping"})
	if m := online0.read(); m["type"] != "pong" {
		t.Fatalf("the retried send reached rider-0: %v", m)
	}

	// Bad input and the wrong credentials.
	for _, c := range []struct {
		method, path string
		auth         string
		body         any
		status       int
	}{
		{"PUT", "/api/topics/trip:9/members", r1, []string{"x"}, 401},
		{"POST", "/api/topics/trip:9/notifications", r1, map[string]any{"type": "t", "title": "x"}, 401},
		{"GET", "/api/topics/trip:9/members", "", nil, 401},
		{"PUT", "/api/topics/bad%20name/members", s.apiKey, []string{"x"}, 400},
		{"PUT", "/api/topics/trip:9/members", s.apiKey, []string{"tab\there"}, 400},
		{"PUT", "/api/topics/trip:9/members", s.apiKey, map[string]any{"users": []string{"x"}}, 400},
		{"PUT", "/api/topics/trip:9/members", s.apiKey, `"just a string"`, 400},
		{"POST", "/api/topics/trip:9/notifications", s.apiKey, map[string]any{"type": "t"}, 400},
		{"POST", "/api/topics/trip:9/notifications", s.apiKey, map[string]any{"type": "t", "title": "x", "userId": "u"}, 400},
		{"GET", "/api/topics/trip:9/members?limit=5000", s.apiKey, nil, 400},
		{"GET", "/api/topics/trip:9/notifications/" + send.ID[:8], s.apiKey, nil, 404},
		{"GET", "/api/topics/other/notifications/" + send.ID, s.apiKey, nil, 404},
	} {
		if status, body := s.do(c.method, c.path, c.auth, c.body); status != c.status {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, status, body, c.status)
		}
	}
}

// doHeader sends a request with the API key and extra headers, and returns
// the status and body.
func (s *server) doHeader(method, path string, headers map[string]string, body any) (int, []byte) {
	s.t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, bytes.NewReader(data))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestTopicFanOutSurvivesAKill: a topic notification of 4,000 members is
// accepted (202, durable), the process is killed with SIGKILL in the middle
// of its fan-out, and started again on the same database: the fan-out
// resumes after the last chunk that committed, and every member ends with
// exactly one copy and an exact count, none twice and none missing.
func TestTopicFanOutSurvivesAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills a herald process")
	}
	db := filepath.Join(t.TempDir(), "herald.db")
	env := procEnv(db)
	env["HERALD_TOPIC_CHUNK"] = "10" // many chunks: the kill lands mid-way
	p := startProc(t, env)
	s := newServer(t, p.addr, testSecret, testAPIKey)
	const members = 4000
	var ids []string
	for i := range members {
		ids = append(ids, fmt.Sprintf("m%05d", i))
	}
	for i := 0; i < members; i += 1000 {
		s.members("crowd", ids[i:i+1000])
	}
	// One member is online to see the live copy; another had one already.
	s.notify(ids[2], "their own")
	var send topicSend
	s.api("POST", "/api/topics/crowd/notifications", map[string]any{"type": "news", "title": "For everyone"}, 202, &send)
	var at topicSend
	waitFor(t, 20*time.Second, "the fan-out to be under way", func() bool {
		at = s.sendProgress("crowd", send.ID)
		return at.Delivered > 0
	})
	p.kill()
	if at.Delivered >= members {
		t.Fatalf("the fan-out finished (%d) before the kill; the test needs it mid-way", at.Delivered)
	}
	left := countCopies(t, db, "For everyone")
	if left.total >= members || left.total < at.Delivered {
		t.Fatalf("after the kill %d copies are stored (progress said %d of %d)", left.total, at.Delivered, members)
	}
	t.Logf("killed with %d of %d copies stored", left.total, members)

	p = startProc(t, env)
	s = newServer(t, p.addr, testSecret, testAPIKey)
	waitFor(t, 60*time.Second, "the resumed fan-out", func() bool { return s.sendProgress("crowd", send.ID).Status == "done" })
	if got := s.sendProgress("crowd", send.ID); got.Delivered != members {
		t.Fatalf("progress after the resume = %+v, want %d delivered", got, members)
	}
	c := countCopies(t, db, "For everyone")
	if c.total != members || c.users != members || c.maxPerUser != 1 {
		t.Fatalf("after the resume: %d copies for %d users, at most %d per user; want one each of %d", c.total, c.users, c.maxPerUser, members)
	}
	for _, u := range []string{ids[0], ids[2], ids[members/2], ids[members-1]} {
		want := 1
		if u == ids[2] {
			want = 2
		}
		status, body := s.do("GET", "/api/notifications/unread-count", token(t, testSecret, u), nil)
		var got struct{ Count int }
		if status != 200 || json.Unmarshal(body, &got) != nil || got.Count != want {
			t.Fatalf("%s's count = %d %s, want %d", u, status, body, want)
		}
	}
	// A member online after the resume finds it by resuming.
	cl, _ := s.connect(ids[members-1], "since", "0")
	if m := cl.expect("notification:new"); m["notification"].(map[string]any)["title"] != "For everyone" {
		t.Fatalf("replay = %v", m)
	}
}

// copies counts a title's notifications in a SQLite file: in all, the
// users who have one, and the most one user has.
type copies struct{ total, users, maxPerUser int }

func countCopies(t *testing.T, path, title string) copies {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c copies
	err = db.QueryRow(`SELECT coalesce(sum(n), 0), count(*), coalesce(max(n), 0) FROM
		(SELECT user_id, count(*) AS n FROM notifications WHERE title = ? GROUP BY user_id)`, title).Scan(&c.total, &c.users, &c.maxPerUser)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
