package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// runningApp is the real wiring run in-process, as serve does.
type runningApp struct {
	*server
	app    *app
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels the app's context and returns what run returned.
func (a *runningApp) stop() error {
	a.once.Do(func() {
		a.cancel()
		select {
		case a.err = <-a.done:
		case <-time.After(15 * time.Second):
			a.err = errors.New("the app did not stop within 15s")
		}
	})
	return a.err
}

// launchApp starts the app on a free port with a fresh SQLite file, and
// stops it when the test ends. env adds to or overrides the test settings.
func launchApp(t *testing.T, env map[string]string) *runningApp {
	t.Helper()
	all := map[string]string{
		"PORT":             "0",
		"HERALD_HOST":      "127.0.0.1",
		"HERALD_DB_PATH":   filepath.Join(t.TempDir(), "herald.db"),
		"JWT_SECRET":       testSecret,
		"HERALD_API_KEY":   testAPIKey,
		"HERALD_LOG_LEVEL": "info",
	}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := load(nil, all)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningApp{server: newServer(t, a.api.Addr(), testSecret, testAPIKey), app: a, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.run(ctx) }()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("app.run: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return r
}

// startApp launches the app and returns its outside view.
func startApp(t *testing.T, env map[string]string) *server {
	t.Helper()
	return launchApp(t, env).server
}

func TestNotificationReachesSocket(t *testing.T) {
	s := startApp(t, nil)
	alice, m := s.connect("alice")
	if m["unreadCount"] != float64(0) {
		t.Errorf("unreadCount = %v, want 0", m["unreadCount"])
	}
	var created notification
	s.api("POST", "/api/notifications", map[string]any{
		"userId": "alice", "type": "trip_update", "title": "Trip Started",
		"message": "Your driver has started the trip", "link": "/trips/123", "data": map[string]any{"trip": 123},
	}, 201, &created)

	got := alice.expect("notification:new")
	n, _ := got["notification"].(map[string]any)
	want := map[string]any{"id": created.ID, "seq": float64(created.Seq), "userId": "alice", "type": "trip_update",
		"title": "Trip Started", "message": "Your driver has started the trip", "link": "/trips/123", "read": false}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("notification.%s = %v, want %v", k, n[k], v)
		}
	}
	if d, _ := n["data"].(map[string]any); d["trip"] != float64(123) {
		t.Errorf("notification.data = %v", n["data"])
	}
	for _, k := range []string{"createdAt", "timestamp"} {
		if _, ok := n[k].(string); !ok {
			t.Errorf("notification.%s missing: %v", k, n)
		}
	}
	if ts, _ := got["timestamp"].(string); !isWireTime(ts) {
		t.Errorf("timestamp %q is not the wire format", ts)
	}
	if c := alice.expect("notification:unread_count"); c["count"] != float64(1) {
		t.Errorf("unread_count = %v, want 1", c["count"])
	}

	// The user's own token reads the inbox back.
	status, body := s.do("GET", "/api/notifications/unread-count", token(t, s.secret, "alice"), nil)
	if status != 200 || !strings.Contains(string(body), `"count":1`) {
		t.Errorf("unread-count = %d %s", status, body)
	}
	// The server API wants its key.
	if status, _ := s.do("POST", "/api/notifications", "", `{"userId":"alice","type":"t","title":"x"}`); status != 401 {
		t.Errorf("no API key: %d, want 401", status)
	}
	if status, _ := s.do("POST", "/api/notifications", token(t, s.secret, "alice"), `{"userId":"alice","type":"t","title":"x"}`); status != 401 {
		t.Errorf("a user token as API key: %d, want 401", status)
	}
}

func isWireTime(s string) bool {
	_, err := time.Parse(herald.TimeLayout, s)
	return err == nil && len(s) == len(herald.TimeLayout)
}

// TestServerAPIMessages checks each send route reaches exactly its audience.
// A socket that must not get a message is proven so by order: a broadcast
// marker sent afterwards is the next thing it reads.
func TestServerAPIMessages(t *testing.T) {
	s := startApp(t, nil)
	alice1, _ := s.connect("alice")
	alice2, _ := s.connect("alice")
	bob, _ := s.connect("bob")
	carol, _ := s.connect("carol")
	bob.send(map[string]any{"type": "subscribe", "channel": "news:sports"})
	bob.expect("subscribed")
	all := map[string]*wsClient{"alice1": alice1, "alice2": alice2, "bob": bob, "carol": carol}

	marker := 0
	// send posts body to path, checks the delivered count, and checks each
	// socket reads body exactly as posted if it is in to, and then the marker.
	send := func(path, body string, to ...string) {
		t.Helper()
		var resp struct {
			Delivered *int `json:"delivered"`
		}
		s.api("POST", path, body, 200, &resp)
		if resp.Delivered == nil || *resp.Delivered != len(to) {
			t.Errorf("%s: delivered = %v, want %d", path, resp.Delivered, len(to))
		}
		marker++
		mark := fmt.Sprintf(`{"type":"marker","n":%d}`, marker)
		s.api("POST", "/api/broadcast", mark, 200, nil)
		for name, c := range all {
			if contains(to, name) {
				if got := string(c.readRaw()); got != body {
					t.Errorf("%s: %s got %s, want %s", path, name, got, body)
				}
			}
			if got := string(c.readRaw()); got != mark {
				t.Errorf("%s: %s got %s, want the marker %s: a message reached the wrong socket", path, name, got, mark)
			}
		}
	}

	send("/api/users/alice/messages", `{"type":"trip:update","trip":{"id":123,"eta":"5 min"},"tags":["a","b"]}`, "alice1", "alice2")
	send("/api/users/bob/messages", `{"type":"hello","n":1}`, "bob")
	send("/api/users/nobody/messages", `{"type":"hello"}`)
	send("/api/channels/news:sports/messages", `{"type":"score","home":2,"away":1}`, "bob")
	send("/api/channels/weather/messages", `{"type":"rain"}`)
	send("/api/broadcast?exclude=alice", `{"type":"maintenance","at":"02:00"}`, "bob", "carol")
	send("/api/broadcast?exclude=bob", `{"type":"maintenance","at":"03:00"}`, "alice1", "alice2", "carol")
	send("/api/broadcast", `{"type":"maintenance","at":"04:00"}`, "alice1", "alice2", "bob", "carol")

	// Refusals: no key, not a JSON object, a bad channel name.
	for _, tc := range []struct {
		path, key, body string
		want            int
	}{
		{"/api/broadcast", "", `{"type":"x"}`, 401},
		{"/api/broadcast", "wrong-key", `{"type":"x"}`, 401},
		{"/api/users/alice/messages", testAPIKey, `[1,2]`, 400},
		{"/api/users/alice/messages", testAPIKey, `{"type":`, 400},
		{"/api/channels/bad%20channel/messages", testAPIKey, `{"type":"x"}`, 400},
	} {
		if status, body := s.do("POST", tc.path, tc.key, tc.body); status != tc.want {
			t.Errorf("POST %s with %q = %d %s, want %d", tc.path, tc.body, status, body, tc.want)
		} else if !strings.Contains(string(body), `"error":{"code":`) {
			t.Errorf("POST %s: error body %s is not the error shape", tc.path, body)
		}
	}
	// None of the refused sends reached anyone.
	s.api("POST", "/api/broadcast", `{"type":"last"}`, 200, nil)
	for name, c := range all {
		if got := string(c.readRaw()); got != `{"type":"last"}` {
			t.Errorf("%s got %s after refused sends", name, got)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestStats(t *testing.T) {
	s := startApp(t, nil)
	var empty map[string]any
	s.api("GET", "/api/stats", nil, 200, &empty)
	if empty["totalConnections"] != float64(0) || empty["totalUsers"] != float64(0) {
		t.Errorf("stats with no one connected = %v", empty)
	}
	if cc, ok := empty["channelCounts"].(map[string]any); !ok || len(cc) != 0 {
		t.Errorf("channelCounts = %v, want {}", empty["channelCounts"])
	}

	s.connect("alice")
	s.connect("alice")
	bob, _ := s.connect("bob")
	bob.send(map[string]any{"type": "subscribe", "channel": "news"})
	bob.expect("subscribed")
	bob.send(map[string]any{"type": "subscribe", "channel": "user:bob"})
	bob.expect("subscribed")

	type stats struct {
		TotalConnections *int           `json:"totalConnections"`
		TotalUsers       *int           `json:"totalUsers"`
		ChannelCounts    map[string]int `json:"channelCounts"`
		Timestamp        string         `json:"timestamp"`
	}
	var st stats
	s.api("GET", "/api/stats", nil, 200, &st)
	if st.TotalConnections == nil || *st.TotalConnections != 3 || st.TotalUsers == nil || *st.TotalUsers != 2 {
		t.Errorf("stats = %+v, want 3 connections of 2 users", st)
	}
	if len(st.ChannelCounts) != 2 || st.ChannelCounts["news"] != 1 || st.ChannelCounts["user:bob"] != 1 {
		t.Errorf("channelCounts = %v", st.ChannelCounts)
	}
	if !isWireTime(st.Timestamp) {
		t.Errorf("timestamp %q is not the wire format", st.Timestamp)
	}

	bob.close()
	waitFor(t, 5*time.Second, "bob's disconnect in the stats", func() bool {
		st = stats{}
		s.api("GET", "/api/stats", nil, 200, &st)
		return *st.TotalConnections == 2 && *st.TotalUsers == 1 && len(st.ChannelCounts) == 0
	})
	if status, _ := s.do("GET", "/api/stats", "", nil); status != 401 {
		t.Errorf("stats without the key = %d, want 401", status)
	}
}

// TestBookingConfirmedEvent raises the design document's booking:confirmed
// event and checks the socket gets the notification the document creates.
func TestBookingConfirmedEvent(t *testing.T) {
	s := startApp(t, nil)
	alice, _ := s.connect("alice")
	var resp struct {
		Notifications []notification `json:"notifications"`
	}
	ev := map[string]any{"event": "booking:confirmed", "id": "evt-1",
		"data": map[string]any{"userId": "alice", "vehicleName": "Toyota Camry", "bookingId": "bk-42"}}
	s.api("POST", "/api/events", ev, 201, &resp)
	if len(resp.Notifications) != 1 {
		t.Fatalf("event created %d notifications, want 1", len(resp.Notifications))
	}

	m := alice.expect("notification:new")
	n, _ := m["notification"].(map[string]any)
	want := map[string]any{"id": resp.Notifications[0].ID, "userId": "alice", "type": "booking_confirmation",
		"title": "Booking Confirmed", "message": "Your booking for Toyota Camry has been confirmed."}
	for k, v := range want {
		if n[k] != v {
			t.Errorf("notification.%s = %v, want %v", k, n[k], v)
		}
	}
	if d, _ := n["data"].(map[string]any); len(d) != 1 || d["booking_id"] != "bk-42" {
		t.Errorf("notification.data = %v, want {booking_id: bk-42}", n["data"])
	}
	if c := alice.expect("notification:unread_count"); c["count"] != float64(1) {
		t.Errorf("unread_count = %v", c["count"])
	}

	// The same event again creates nothing and pushes nothing.
	s.api("POST", "/api/events", ev, 200, &resp)
	if len(resp.Notifications) != 1 || resp.Notifications[0].ID != n["id"] {
		t.Errorf("redelivery answered %+v", resp.Notifications)
	}
	// An unknown event and a missing field are refused.
	if status, _ := s.do("POST", "/api/events", testAPIKey, `{"event":"booking:exploded","data":{"userId":"alice"}}`); status != 422 {
		t.Errorf("unknown event = %d, want 422", status)
	}
	if status, _ := s.do("POST", "/api/events", testAPIKey, `{"event":"booking:confirmed","data":{"userId":"alice"}}`); status != 422 {
		t.Errorf("missing fields = %d, want 422", status)
	}
	s.api("POST", "/api/users/alice/messages", `{"type":"end"}`, 200, nil)
	if m := alice.read(); m["type"] != "end" {
		t.Errorf("after a redelivered and refused events the socket got %v", m)
	}
}

// TestMarkReadThroughREST marks a notification read with the user's token and
// checks both of the user's connections hear of it, and another user's do not.
func TestMarkReadThroughREST(t *testing.T) {
	s := startApp(t, nil)
	tab1, _ := s.connect("alice")
	tab2, _ := s.connect("alice")
	bob, _ := s.connect("bob")
	n1 := s.notify("alice", "first")
	n2 := s.notify("alice", "second")
	for _, c := range []*wsClient{tab1, tab2} {
		for i, want := range []int{1, 2} {
			if m := c.expect("notification:new"); m["notification"].(map[string]any)["id"] != []string{n1.ID, n2.ID}[i] {
				t.Errorf("notification #%d = %v", i, m)
			}
			if m := c.expect("notification:unread_count"); m["count"] != float64(want) {
				t.Errorf("unread_count = %v, want %d", m["count"], want)
			}
		}
	}

	aliceTok, bobTok := token(t, s.secret, "alice"), token(t, s.secret, "bob")
	if status, body := s.do("POST", "/api/notifications/"+n1.ID+"/read", bobTok, nil); status != 404 {
		t.Errorf("bob marking alice's notification = %d %s, want 404", status, body)
	}
	if status, body := s.do("POST", "/api/notifications/"+n1.ID+"/read", aliceTok, nil); status != 200 {
		t.Fatalf("mark read = %d %s", status, body)
	}
	for name, c := range map[string]*wsClient{"tab1": tab1, "tab2": tab2} {
		m := c.expect("notification:read")
		if m["notificationId"] != n1.ID || !isWireTime(fmt.Sprint(m["timestamp"])) {
			t.Errorf("%s: %v", name, m)
		}
		if m := c.expect("notification:unread_count"); m["count"] != float64(1) {
			t.Errorf("%s: unread_count = %v, want 1", name, m["count"])
		}
	}
	// Marking again changes nothing and tells no one; mark_read over the
	// socket tells both tabs too.
	if status, _ := s.do("POST", "/api/notifications/"+n1.ID+"/read", aliceTok, nil); status != 200 {
		t.Errorf("marking twice = %d, want 200", status)
	}
	tab2.send(map[string]any{"type": "mark_read", "notificationId": n2.ID})
	for name, c := range map[string]*wsClient{"tab1": tab1, "tab2": tab2} {
		if m := c.expect("notification:read"); m["notificationId"] != n2.ID {
			t.Errorf("%s: %v, want the read of %s", name, m, n2.ID)
		}
		if m := c.expect("notification:unread_count"); m["count"] != float64(0) {
			t.Errorf("%s: unread_count = %v, want 0", name, m["count"])
		}
	}
	s.api("POST", "/api/broadcast", `{"type":"end"}`, 200, nil)
	if m := bob.read(); m["type"] != "end" {
		t.Errorf("bob heard of alice's inbox: %v", m)
	}
	var page struct {
		Notifications []struct {
			ID   string `json:"id"`
			Read bool   `json:"read"`
		} `json:"notifications"`
		UnreadCount int `json:"unreadCount"`
	}
	status, body := s.do("GET", "/api/notifications", aliceTok, nil)
	if err := json.Unmarshal(body, &page); status != 200 || err != nil {
		t.Fatalf("list = %d %s", status, body)
	}
	if len(page.Notifications) != 2 || !page.Notifications[0].Read || !page.Notifications[1].Read || page.UnreadCount != 0 {
		t.Errorf("inbox after marking = %s", body)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	s := startApp(t, nil)
	for path, want := range map[string]string{"/healthz": `"status":"ok"`, "/readyz": `"status":"ready"`} {
		if status, body := s.do("GET", path, "", nil); status != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %s", path, status, body)
		}
	}
	c1, _ := s.connect("alice")
	s.connect("bob")
	metrics := func() map[string]float64 {
		status, body := s.do("GET", "/metrics", s.apiKey, nil)
		if status != 200 {
			t.Fatalf("GET /metrics = %d", status)
		}
		return parseMetrics(t, string(body))
	}
	m := metrics()
	if m["herald_ws_connects_total"] != 2 || m["herald_connections"] != 2 || m["herald_users"] != 2 {
		t.Errorf("metrics after two connects: connects %v, connections %v, users %v",
			m["herald_ws_connects_total"], m["herald_connections"], m["herald_users"])
	}
	c1.close()
	waitFor(t, 5*time.Second, "herald_connections to drop to 1", func() bool { return metrics()["herald_connections"] == 1 })
	if m := metrics(); m["herald_ws_connects_total"] != 2 {
		t.Errorf("herald_ws_connects_total = %v after a disconnect, want 2", m["herald_ws_connects_total"])
	}

	// The commit loop's: one notification, then a batch of three.
	before := metrics()
	if status, body := s.do("POST", "/api/notifications", s.apiKey, `{"userId":"bob","type":"t","title":"one"}`); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, body := s.do("POST", "/api/notifications", s.apiKey, `{"notifications":[
		{"userId":"bob","type":"t","title":"a"},{"userId":"carol","type":"t","title":"b"},{"userId":"dan","type":"t","title":"c"}]}`); status != 201 {
		t.Fatalf("batch create: %d %s", status, body)
	}
	m = metrics()
	delta := func(name string) float64 { return m[name] - before[name] }
	if n := delta("herald_store_commit_notifications_sum"); n != 4 {
		t.Errorf("herald_store_commit_notifications_sum grew by %v, want the 4 notifications stored", n)
	}
	if n := delta("herald_store_create_seconds_count"); n != 2 {
		t.Errorf("herald_store_create_seconds_count grew by %v, want 2 creates", n)
	}
	if n := delta("herald_store_commit_seconds_count"); n < 1 || n > 2 {
		t.Errorf("herald_store_commit_seconds_count grew by %v, want 1 or 2 commits", n)
	}
	if m["herald_store_commit_seconds_sum"] <= before["herald_store_commit_seconds_sum"] ||
		m[`herald_store_create_seconds_bucket{le="+Inf"}`] != m["herald_store_create_seconds_count"] {
		t.Errorf("store histograms: %v", m)
	}
}

// parseMetrics reads the Prometheus text format into name{labels} → value.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestDevelopmentMode runs the program with no secrets: it must print a
// token and a wscat line that work as printed, and an API key that sends.
func TestDevelopmentMode(t *testing.T) {
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := map[string]string{"HERALD_DB_PATH": filepath.Join(t.TempDir(), "dev.db")}
	go func() {
		done <- run(ctx, []string{"serve", "--port", "0", "--host", "127.0.0.1"}, mapEnv(env), stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return")
		}
	})

	wscat := regexp.MustCompile(`wscat -c "(ws://[^"]+)"`)
	waitFor(t, 10*time.Second, "the development help on stdout", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run returned early: %v\nstderr: %s", err, stderr.String())
		default:
		}
		return wscat.MatchString(stdout.String()) && strings.Contains(stdout.String(), "curl")
	})
	out := stdout.String()
	tok := regexp.MustCompile(`Token for user "demo"[^:]*: (\S+)`).FindStringSubmatch(out)
	key := regexp.MustCompile(`HERALD_API_KEY\): (\S+)`).FindStringSubmatch(out)
	if tok == nil || key == nil {
		t.Fatalf("no token or API key in:\n%s", out)
	}
	for _, secret := range []string{tok[1], key[1]} {
		if strings.Contains(stderr.String(), secret) {
			t.Error("a generated secret appears in the log")
		}
	}

	// The wscat line works as printed, and its token is the one printed.
	u := wscat.FindStringSubmatch(out)[1]
	if !strings.Contains(u, "token="+tok[1]) || !strings.Contains(u, "userId=demo") {
		t.Errorf("wscat URL %q does not carry the printed token for demo", u)
	}
	demo := dial(t, u)
	if m := demo.expect("connected"); m["userId"] != "demo" {
		t.Errorf("connected as %v, want demo", m["userId"])
	}

	// So does the curl line's API key, on the same server.
	addr := strings.TrimPrefix(u, "ws://")
	addr = addr[:strings.IndexByte(addr, '/')]
	s := newServer(t, addr, "", key[1])
	curl := regexp.MustCompile(`-d '([^']+)' (http://\S+)`).FindStringSubmatch(out)
	if curl == nil {
		t.Fatalf("no curl line in:\n%s", out)
	}
	if !strings.HasSuffix(curl[2], addr+"/api/notifications") {
		t.Errorf("curl URL %s is not this server's %s", curl[2], addr)
	}
	s.api("POST", "/api/notifications", curl[1], 201, nil)
	if m := demo.expect("notification:new"); m["notification"].(map[string]any)["userId"] != "demo" {
		t.Errorf("got %v", m)
	}
	demo.close()

	// The secrets are this process's own, so the demo sign-in is on, and the
	// log says so; /metrics is open, as on any development machine.
	var session struct{ Token string }
	s.api("POST", "/demo/session", map[string]string{"userId": "mia"}, 200, &session)
	mia := dial(t, s.wsURL("mia", session.Token))
	mia.expect("connected")
	mia.close()
	if !strings.Contains(stderr.String(), `msg="unsafe setting" setting=HERALD_DEMO`) {
		t.Errorf("the demo sign-in is on without a warning:\n%s", stderr.String())
	}
	if status, _ := s.do("GET", "/metrics", "", nil); status != 200 {
		t.Errorf("development /metrics = %d, want 200", status)
	}
}

// TestShutdownFinishesInflightRequests starts a notification request, stops
// the app while its body is still on the way, then sends it: the request
// must complete against a store that is still open.
func TestShutdownFinishesInflightRequests(t *testing.T) {
	a := launchApp(t, nil)
	body := `{"userId":"alice","type":"test","title":"in flight","message":"m"}`
	nc, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// With Expect: 100-continue the server says when the handler starts
	// reading the body: from then on the request is in flight.
	fmt.Fprintf(nc, "POST /api/notifications HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", testAPIKey, len(body))
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 100 {
		t.Fatalf("want 100 Continue, got %v %v", resp, err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- a.stop() }()
	waitFor(t, 5*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", a.addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	if _, err := io.WriteString(nc, body); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to the in-flight request: %v\n%s", err, a.logs.String())
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("in-flight request = %d %s, want 201", resp.StatusCode, data)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
}
