package sse_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/internal/ssetest"
	"github.com/heraldhq/herald/sse"
)

// TestStreamCarriesTheProtocol shows a stream carrying what a socket
// carries: the greeting with its stream id and resume point, notifications
// with their seq as event id, read receipts and unread counts after a POSTed
// mark_read, channel messages for ?channel=, answers to POSTed messages and
// comment heartbeats.
func TestStreamCarriesTheProtocol(t *testing.T) {
	e := newEnv(t, hub.Config{}, false, func(c *sse.Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	first := e.notify("alice", "before")
	tok := e.token("alice", time.Minute)
	r := e.open(tok, url.Values{"channel": {"news"}}, nil)

	hello := r.Next()
	stream, _ := hello.Data["stream"].(string)
	if hello.Name != "connected" || hello.Data["type"] != "connected" || hello.Data["userId"] != "alice" || stream == "" ||
		hello.ID != strconv.FormatInt(first, 10) || hello.Data["unreadCount"] != 1.0 {
		t.Fatalf("greeting %+v", hello)
	}
	if sub := r.Until("subscribed"); sub.Data["channel"] != "news" {
		t.Fatalf("subscribed %+v", sub)
	}
	seq := e.notify("alice", "live")
	n := r.Until(herald.TypeNotificationNew)
	if n.ID != strconv.FormatInt(seq, 10) || n.Data["notification"].(map[string]any)["title"] != "live" {
		t.Fatalf("notification %+v", n)
	}
	id := n.Data["notification"].(map[string]any)["id"].(string)

	if st, body := e.post(stream, tok, `{"type":"mark_read","notificationId":"`+id+`"}`); st != http.StatusAccepted {
		t.Fatalf("POST mark_read: %d %s", st, body)
	}
	if rd := r.Until(herald.TypeNotificationRead); rd.Data["notificationId"] != id {
		t.Fatalf("read %+v", rd)
	}
	if c := r.Until(herald.TypeUnreadCount); c.Data["count"] != 1.0 {
		t.Fatalf("count %+v", c)
	}
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"}, Payload: []byte(`{"type":"headline","text":"a\nb"}`)})
	if h := r.Until("headline"); h.Data["text"] != "a\nb" {
		t.Fatalf("channel message %+v", h)
	}
	if st, _ := e.post(stream, tok, `{"type":"ping"}`); st != http.StatusAccepted {
		t.Fatalf("POST ping: %d", st)
	}
	r.Until(herald.TypePong)
	select {
	case <-r.Comments:
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat comment")
	}
}

// TestPostsAreChecked shows that a POST needs the stream's user's token, a
// known stream and a body within the limit, and that a message the session
// refuses is answered on the stream as on a socket.
func TestPostsAreChecked(t *testing.T) {
	e := newEnv(t, hub.Config{}, false, func(c *sse.Config) { c.MaxMessageBytes = 256 })
	tok := e.token("alice", time.Minute)
	r := e.open(tok, nil, nil)
	stream := r.Next().Data["stream"].(string)

	for _, c := range []struct {
		stream, token, body string
		status              int
		code                string
	}{
		{stream, "", `{"type":"ping"}`, 401, "missing_credentials"},
		{stream, "nope", `{"type":"ping"}`, 401, "invalid_token"},
		{stream, e.token("bob", time.Minute), `{"type":"ping"}`, 403, "user_mismatch"},
		{"0123456789abcdef", tok, `{"type":"ping"}`, 404, "not_found"},
		{stream, tok, `{"type":"ping","pad":"` + strings.Repeat("x", 300) + `"}`, 413, "too_large"},
	} {
		st, body := e.post(c.stream, c.token, c.body)
		var env struct{ Error struct{ Code string } }
		_ = json.Unmarshal([]byte(body), &env)
		if st != c.status || env.Error.Code != c.code {
			t.Errorf("POST %+v: %d %s", c, st, body)
		}
	}
	if st, _ := e.post(stream, tok, `{"type":"subscribe","channel":"private:x"}`); st != http.StatusAccepted {
		t.Fatalf("status %d", st)
	}
	if er := r.Until(herald.TypeError); er.Data["code"] != "forbidden" || er.Data["channel"] != "private:x" {
		t.Fatalf("error %+v", er)
	}
	if st, _ := e.post(stream, tok, `not json`); st != http.StatusAccepted {
		t.Fatalf("status %d", st)
	}
	if er := r.Until(herald.TypeError); er.Data["code"] != "invalid" {
		t.Fatalf("error %+v", er)
	}
}

// TestResume shows Last-Event-ID (winning over ?since=) replaying the gap in
// order, then the resumed marker, then live notifications, each once.
func TestResume(t *testing.T) {
	e := newEnv(t, hub.Config{}, false, nil)
	var seqs []int64
	for i := 0; i < 5; i++ {
		seqs = append(seqs, e.notify("alice", "n"+strconv.Itoa(i)))
	}
	tok := e.token("alice", time.Minute)
	r := e.open(tok, url.Values{"since": {"0"}}, http.Header{"Last-Event-Id": {strconv.FormatInt(seqs[1], 10)}})
	if h := r.Next(); h.Name != "connected" || h.ID != strconv.FormatInt(seqs[1], 10) {
		t.Fatalf("greeting %+v", h)
	}
	for _, want := range seqs[2:] {
		n := r.Next()
		if n.Name != herald.TypeNotificationNew || n.ID != strconv.FormatInt(want, 10) || n.Data["replayed"] != true {
			t.Fatalf("replayed %+v, want seq %d", n, want)
		}
	}
	if res := r.Next(); res.Name != "resumed" || res.ID != strconv.FormatInt(seqs[4], 10) {
		t.Fatalf("resumed %+v", res)
	}
	live := e.notify("alice", "live")
	if n := r.Next(); n.Name != herald.TypeNotificationNew || n.ID != strconv.FormatInt(live, 10) {
		t.Fatalf("live %+v", n)
	}

	// Without either, the greeting's id is the newest seq: where the
	// browser's reconnect resumes from.
	r2 := e.open(tok, nil, nil)
	if h := r2.Next(); h.ID != strconv.FormatInt(live, 10) {
		t.Fatalf("live-only greeting id %q, want %d", h.ID, live)
	}
}

// TestRefusedBeforeTheStream shows every refusal of docs/protocol.md on the
// SSE path answered with its HTTP status and JSON error before any event.
func TestRefusedBeforeTheStream(t *testing.T) {
	e := newEnv(t, hub.Config{MaxPerUser: 1}, false, func(c *sse.Config) {
		c.AllowedOrigins = []string{"https://app.example"}
		c.ConnectRate, c.ConnectBurst = 0.001, 14
	})
	tok := e.token("alice", time.Minute)
	many := url.Values{}
	for i := 0; i <= sse.MaxChannels; i++ {
		many.Add("channel", "c"+strconv.Itoa(i))
	}
	keep := e.open(tok, nil, nil) // alice's one allowed stream
	keep.Next()
	for _, c := range []struct {
		name   string
		token  string
		q      url.Values
		h      http.Header
		status int
		code   string
	}{
		{"no credentials", "", nil, nil, 401, "missing_credentials"},
		{"query token without userId", "", url.Values{"token": {tok}}, nil, 401, "missing_credentials"},
		{"invalid token", "garbage", nil, nil, 401, "invalid_token"},
		{"user mismatch", "", url.Values{"token": {tok}, "userId": {"bob"}}, nil, 403, "user_mismatch"},
		{"origin", e.token("bob", time.Minute), nil, http.Header{"Origin": {"https://evil.example"}}, 403, "forbidden"},
		{"bad since", e.token("bob", time.Minute), url.Values{"since": {"-3"}}, nil, 400, "invalid"},
		{"bad Last-Event-ID", e.token("bob", time.Minute), nil, http.Header{"Last-Event-Id": {"x"}}, 400, "invalid"},
		{"too many channels", e.token("bob", time.Minute), many, nil, 400, "invalid"},
		{"bad channel", e.token("bob", time.Minute), url.Values{"channel": {"bad name!"}}, nil, 400, "invalid"},
		{"per-user cap", tok, nil, nil, 503, "unavailable"},
	} {
		resp := e.get(c.token, c.q, c.h)
		var body struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != c.status || body.Error.Code != c.code || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %+v (%s)", c.name, resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
	}
	// The burst of 14 is spent by the stream, the ten checked refusals and
	// the attempts below: the next ones are throttled.
	var throttled bool
	for i := 0; i < 5 && !throttled; i++ {
		resp := e.get(e.token("carol", time.Minute), nil, nil)
		throttled = resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != ""
		resp.Body.Close()
	}
	if !throttled {
		t.Fatal("no 429 with Retry-After past the connect burst")
	}
}

// TestClosedAfterTheStream shows a started stream ended with a final close
// event carrying the code a socket would get: token expiry (4002), a
// revocation order (4002 on logout) and shutdown (1001).
func TestClosedAfterTheStream(t *testing.T) {
	e := newEnv(t, hub.Config{}, false, func(c *sse.Config) { c.ExpiryGrace = time.Millisecond })
	short, _ := e.issuer.Issue("alice", 1500*time.Millisecond, nil)
	r := e.open(short, nil, nil)
	r.Next()
	if c := r.Until("close"); c.Data["code"] != float64(herald.CloseInvalidToken) {
		t.Fatalf("expiry close %+v", c)
	}
	if !r.Ended() {
		t.Fatal("the stream did not end after its close event")
	}

	r = e.open(e.token("bob", time.Minute), nil, nil)
	r.Next()
	e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "bob"}, Close: herald.CloseInvalidToken, Payload: []byte("Session revoked")})
	if c := r.Until("close"); c.Data["code"] != float64(herald.CloseInvalidToken) || c.Data["reason"] != "Session revoked" {
		t.Fatalf("revocation close %+v", c)
	}

	r = e.open(e.token("carol", time.Minute), nil, nil)
	r.Next()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go e.sse.Shutdown(ctx)
	if c := r.Until("close"); c.Data["code"] != float64(herald.CloseGoingAway) {
		t.Fatalf("shutdown close %+v", c)
	}
	if resp := e.get(e.token("dave", time.Minute), nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream opened during shutdown: %d", resp.StatusCode)
	}
}

// TestHTTP2 shows a stream over HTTP/2 with TLS carrying live notifications.
func TestHTTP2(t *testing.T) {
	e := newEnv(t, hub.Config{}, true, nil)
	r := e.open(e.token("alice", time.Minute), nil, nil)
	if r.Resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", r.Resp.Proto)
	}
	stream := r.Next().Data["stream"].(string)
	seq := e.notify("alice", "over h2")
	if n := r.Until(herald.TypeNotificationNew); n.ID != strconv.FormatInt(seq, 10) {
		t.Fatalf("notification %+v", n)
	}
	if st, _ := e.post(stream, e.token("alice", time.Minute), `{"type":"ping"}`); st != http.StatusAccepted {
		t.Fatalf("POST over h2: %d", st)
	}
	r.Until(herald.TypePong)
}

// TestSlowReaderIsEnded shows a stream whose client stops reading ended,
// without delaying anyone, by the documented final event (close 1013) once
// its queue is full; the client then resumes from its last event id.
func TestSlowReaderIsEnded(t *testing.T) {
	e := newEnv(t, hub.Config{}, false, func(c *sse.Config) { c.QueueSize = 4; c.WriteTimeout = 30 * time.Second })
	tok := e.token("alice", time.Minute)
	resp := e.get(tok, nil, nil) // opened, never read until the end
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	big := []byte(`{"type":"bulk","pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Each delivery returns at once, full queue or not; once the stream
		// is ended it accepts no more.
		start := time.Now()
		n := e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Payload: big})
		if time.Since(start) > time.Second {
			t.Fatal("a delivery waited for the slow stream")
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow stream was not ended")
		}
	}
	r := ssetest.Read(t, resp)
	c := r.Until("close")
	if c.Data["code"] != float64(herald.CloseTryAgainLater) || !strings.Contains(c.Data["reason"].(string), "Too slow") {
		t.Fatalf("close %+v", c)
	}
}
