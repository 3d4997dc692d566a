package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	gws "github.com/gobwas/ws"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/ws"
)

func TestConnected(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	_, m := e.connect("alice")
	if m["userId"] != "alice" {
		t.Errorf("userId = %v", m["userId"])
	}
	ts, _ := m["timestamp"].(string)
	if _, err := time.Parse(herald.TimeLayout, ts); err != nil {
		t.Errorf("timestamp %q is not ISO-8601 UTC with milliseconds: %v", ts, err)
	}
	if m["unreadCount"] != float64(0) {
		t.Errorf("unreadCount = %v, want 0", m["unreadCount"])
	}
}

func TestHandshakeCloseCodes(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	past := jwt.NewIssuer(jwt.Config{Secret: secret, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	expired, err := past.Issue("alice", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		url  string
		code websocket.StatusCode
		rsn  string
	}{
		{"no token", e.urlFor("alice", ""), 4001, "Missing authentication credentials"},
		{"no userId", e.urlFor("", e.token("alice")), 4001, "Missing authentication credentials"},
		{"garbage token", e.urlFor("alice", "not.a.jwt"), 4002, "Invalid or expired token"},
		{"expired token", e.urlFor("alice", expired), 4002, "Invalid or expired token"},
		{"user mismatch", e.urlFor("bob", e.token("alice")), 4003, "User ID mismatch"},
		{"bad since", e.urlFor("alice", e.token("alice"), "since", "-3"), 1008, "Invalid message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := e.dialURL(tc.url, nil)
			if err != nil {
				t.Fatalf("the handshake must succeed and then close; got %v", err)
			}
			code, reason := cl.closeCode()
			if code != tc.code || reason != tc.rsn {
				t.Errorf("close = %d %q, want %d %q", code, reason, tc.code, tc.rsn)
			}
		})
	}
	if strings.Contains(fmt.Sprint(e.hub.Stats()), "alice") || e.hub.Stats().TotalConnections != 0 {
		t.Error("refused connections must not be registered")
	}
}

func TestAuthorizationHeader(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	h := http.Header{"Authorization": {"Bearer " + e.token("carol")}}
	cl, err := e.dialURL(e.url, h)
	if err != nil {
		t.Fatal(err)
	}
	if m := cl.read(); m["type"] != "connected" || m["userId"] != "carol" {
		t.Fatalf("got %v", m)
	}
}

func TestQueryTokenCanBeDisabled(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.DisableQueryToken = true })
	cl, err := e.dialURL(e.urlFor("alice", e.token("alice")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := cl.closeCode(); code != 4001 {
		t.Fatalf("close = %d, want 4001", code)
	}
}

func TestOriginAllowlist(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.AllowedOrigins = []string{"https://app.example"} })
	if _, err := e.dialURL(e.urlFor("alice", e.token("alice")), http.Header{"Origin": {"https://evil.example"}}); err == nil {
		t.Fatal("a foreign origin was accepted")
	}
	cl, err := e.dialURL(e.urlFor("alice", e.token("alice")), http.Header{"Origin": {"https://app.example"}})
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
}

func TestMessages(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	cl, _ := e.connect("alice", "ignored", "x")

	cl.send(map[string]any{"type": "ping"})
	if m := cl.read(); m["type"] != "pong" || m["timestamp"] == nil {
		t.Errorf("ping → %v", m)
	}
	cl.send(map[string]any{"type": "subscribe", "channel": "notifications"})
	if m := cl.read(); m["type"] != "subscribed" || m["channel"] != "notifications" || m["timestamp"] == nil {
		t.Errorf("subscribe → %v", m)
	}
	if got := e.hub.Stats().ChannelCounts["notifications"]; got != 1 {
		t.Errorf("channel count = %d, want 1", got)
	}
	cl.send(map[string]any{"type": "unsubscribe", "channel": "notifications"})
	if m := cl.read(); m["type"] != "unsubscribed" || m["channel"] != "notifications" {
		t.Errorf("unsubscribe → %v", m)
	}
	if got := e.hub.Stats().ChannelCounts["notifications"]; got != 0 {
		t.Errorf("channel count after unsubscribe = %d", got)
	}
	cl.send(map[string]any{"type": "dance"})
	if m := cl.read(); m["type"] != "error" || m["message"] != "Unknown message type" {
		t.Errorf("unknown → %v", m)
	}
	for _, bad := range []string{`{not json`, `[1,2]`, `"ping"`, `null`, `{"type":7}`, `{}`, `{"type":null}`, `{"TYPE":5}`} {
		cl.sendRaw(websocket.MessageText, []byte(bad))
		if m := cl.read(); m["type"] != "error" || m["message"] != "Failed to process message" {
			t.Errorf("%s → %v", bad, m)
		}
	}
	for _, ch := range []any{"", strings.Repeat("x", 129), "bad channel", 5, nil, "tab\t"} {
		cl.send(map[string]any{"type": "subscribe", "channel": ch})
		if m := cl.read(); m["type"] != "error" || m["code"] != "invalid" {
			t.Errorf("subscribe %q → %v", ch, m)
		}
	}
}

func TestChannelPermissions(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	tok := e.token("alice", "private:team-1")
	cl, err := e.dialURL(e.urlFor("alice", tok), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.readType("connected")
	for ch, want := range map[string]string{
		"user:alice":     "subscribed",
		"user:bob":       "error",
		"private:team-1": "subscribed",
		"private:team-2": "error",
		"news:sports":    "subscribed",
	} {
		cl.send(map[string]any{"type": "subscribe", "channel": ch})
		m := cl.read()
		if m["type"] != want {
			t.Errorf("subscribe %s → %v, want %s", ch, m, want)
		}
		if want == "error" && m["code"] != "forbidden" {
			t.Errorf("subscribe %s: code %v, want forbidden", ch, m["code"])
		}
	}
	n := e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "user:bob"}, Payload: []byte(`{"x":1}`)})
	if n != 0 {
		t.Errorf("a refused subscription received %d messages", n)
	}
}

func TestSubscriptionLimit(t *testing.T) {
	e := newEnv(t, hub.Config{MaxSubscriptions: 2}, nil)
	cl, _ := e.connect("alice")
	for i, want := range []string{"subscribed", "subscribed", "error"} {
		cl.send(map[string]any{"type": "subscribe", "channel": fmt.Sprintf("c%d", i)})
		if m := cl.read(); m["type"] != want {
			t.Errorf("subscribe #%d → %v, want %s", i, m, want)
		}
	}
}

func TestFanout(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	a1, _ := e.connect("alice")
	a2, _ := e.connect("alice")
	b, _ := e.connect("bob")
	b.send(map[string]any{"type": "subscribe", "channel": "news"})
	b.readType("subscribed")

	payload := []byte(`{"type":"custom","n":1}`)
	if n := e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Payload: payload}); n != 2 {
		t.Errorf("to user delivered %d, want 2", n)
	}
	for _, c := range []*client{a1, a2} {
		if m := c.read(); m["type"] != "custom" {
			t.Errorf("got %v", m)
		}
	}
	if n := e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "news"}, Payload: payload}); n != 1 {
		t.Errorf("to channel delivered %d, want 1", n)
	}
	b.readType("custom")
	if n := e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToAll, Except: "alice"}, Payload: []byte(`{"type":"all"}`)}); n != 1 {
		t.Errorf("broadcast except alice delivered %d, want 1", n)
	}
	b.readType("all")
	if _, err := a1.tryRead(100 * time.Millisecond); err == nil {
		t.Error("excluded user received the broadcast")
	}
}

func TestInboundLimits(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.MaxMessageBytes = 1024 })
	t.Run("too large", func(t *testing.T) {
		cl, _ := e.connect("alice")
		cl.sendRaw(websocket.MessageText, bytes.Repeat([]byte("x"), 2048))
		if code, _ := cl.closeCode(); code != 1009 {
			t.Errorf("close = %d, want 1009", code)
		}
	})
	t.Run("far too large", func(t *testing.T) {
		// The rest of the frame is still in flight when the server closes:
		// it must read it away, or the reset hides the close code.
		cl, _ := e.connect("alice")
		go cl.c.Write(context.Background(), websocket.MessageText, bytes.Repeat([]byte("x"), 512<<10))
		if code, _ := cl.closeCode(); code != 1009 {
			t.Errorf("close = %d, want 1009", code)
		}
	})
	t.Run("binary", func(t *testing.T) {
		cl, _ := e.connect("alice")
		cl.sendRaw(websocket.MessageBinary, []byte{1, 2, 3})
		if code, _ := cl.closeCode(); code != 1003 {
			t.Errorf("close = %d, want 1003", code)
		}
	})
	t.Run("invalid utf8", func(t *testing.T) {
		cl, _ := e.connect("alice")
		cl.sendRaw(websocket.MessageText, []byte{'{', 0xff, 0xfe, '}'})
		if code, _ := cl.closeCode(); code != 1007 {
			t.Errorf("close = %d, want 1007", code)
		}
	})
	t.Run("unmasked frame", func(t *testing.T) {
		r := e.rawDial("alice")
		gws.WriteFrame(r, gws.NewTextFrame([]byte(`{"type":"ping"}`))) // servers must get masked frames
		for {
			f, err := r.readFrame(5 * time.Second)
			if err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if f.Header.OpCode == gws.OpClose {
				code, _ := gws.ParseCloseFrameData(f.Payload)
				if code != 1002 {
					t.Errorf("close = %d, want 1002", code)
				}
				return
			}
		}
	})
	t.Run("fragmented message is reassembled", func(t *testing.T) {
		r := e.rawDial("alice")
		gws.WriteFrame(r, gws.MaskFrameInPlace(gws.NewFrame(gws.OpText, false, []byte(`{"type":`))))
		gws.WriteFrame(r, gws.MaskFrameInPlace(gws.NewFrame(gws.OpContinuation, true, []byte(`"ping"}`))))
		for {
			f, err := r.readFrame(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(f.Payload, []byte(`"pong"`)) {
				return
			}
		}
	})
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.RateLimit = 5; c.RateBurst = 5 })
	cl, _ := e.connect("alice")
	for range 5 {
		cl.send(map[string]any{"type": "ping"})
	}
	for range 5 {
		cl.readType("pong")
	}
	// Past the burst: an error first, then a close with 1008 if it goes on.
	var sawError bool
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if cl.c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
				return
			}
		}
	}()
	for {
		m, err := cl.tryRead(5 * time.Second)
		if err != nil {
			if websocket.CloseStatus(err) != 1008 {
				t.Fatalf("ended with %v, want close 1008", err)
			}
			break
		}
		if m["type"] == "error" && m["code"] == "rate_limited" {
			sawError = true
		}
	}
	if !sawError {
		t.Error("no rate_limited error before the close")
	}
}

func TestHeartbeatRemovesUnresponsive(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	good, _ := e.connect("alice") // coder/websocket answers pings while reading
	go func() {
		for {
			if _, err := good.tryRead(10 * time.Second); err != nil {
				return
			}
		}
	}()
	r := e.rawDial("mute") // reads nothing, answers nothing
	_ = r
	waitFor(t, "both registered", func() bool { c, _ := e.hub.Counts(); return c == 2 })
	waitFor(t, "mute removed", func() bool { return e.hub.UserConns("mute") == 0 })
	time.Sleep(200 * time.Millisecond) // several more heartbeats
	if e.hub.UserConns("alice") != 1 {
		t.Fatal("a responsive connection was terminated")
	}
}

func TestConnectionLimits(t *testing.T) {
	e := newEnv(t, hub.Config{MaxConnections: 3, MaxPerUser: 2}, nil)
	e.connect("alice")
	e.connect("alice")
	cl, err := e.dialURL(e.urlFor("alice", e.token("alice")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := cl.closeCode(); code != 1013 || !strings.Contains(reason, "Per-user") {
		t.Errorf("third alice: close %d %q, want 1013 per-user", code, reason)
	}
	e.connect("bob")
	cl, _ = e.dialURL(e.urlFor("carol", e.token("carol")), nil)
	if code, _ := cl.closeCode(); code != 1013 {
		t.Errorf("over node limit: close %d, want 1013", code)
	}
}

// TestSlowConsumer: one client stops reading; every other client still gets
// every message, the sender never blocks, and the slow one is closed.
func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.QueueSize = 64; c.WriteTimeout = time.Second })
	slow := e.rawDial("slow")
	slow.Conn.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096)
	waitFor(t, "slow registered", func() bool { return e.hub.UserConns("slow") == 1 })
	const fast, msgs = 5, 1000
	var clients []*client
	for i := range fast {
		c, _ := e.connect(fmt.Sprintf("fast%d", i))
		c.send(map[string]any{"type": "subscribe", "channel": "room"})
		c.readType("subscribed")
		clients = append(clients, c)
	}
	if err := e.hub.Subscribe(findConn(t, e, "slow"), "room"); err != nil {
		t.Fatal(err)
	}
	ticks := readTicks(t, clients, msgs)
	// The sender keeps within a window of what the fast clients have read,
	// so only the slow client can overflow; it never waits for the slow one.
	payload := bytes.Repeat([]byte("x"), 8000)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range msgs {
			if !ticks.within(i, 32) {
				return
			}
			e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToChannel, Name: "room"},
				Payload: fmt.Appendf(nil, `{"type":"tick","i":%d,"pad":%q}`, i, payload)})
		}
	}()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("the sender was blocked by a slow consumer")
	}
	ticks.wait()
	waitFor(t, "slow consumer closed", func() bool { return e.hub.UserConns("slow") == 0 })
}

// tickReaders reads each client's messages in the background until msgs
// "tick" messages have come, as the fast clients of the slow-consumer tests.
type tickReaders struct {
	t      *testing.T
	msgs   int64
	counts []atomic.Int64
	wg     sync.WaitGroup
}

func readTicks(t *testing.T, clients []*client, msgs int) *tickReaders {
	r := &tickReaders{t: t, msgs: int64(msgs), counts: make([]atomic.Int64, len(clients))}
	for i, c := range clients {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for r.counts[i].Load() < r.msgs {
				m, err := c.tryRead(10 * time.Second)
				if err != nil {
					t.Errorf("fast client %d: %v", i, err)
					return
				}
				if m["type"] == "tick" {
					r.counts[i].Add(1)
				}
			}
		}()
	}
	return r
}

// slowest is the fewest ticks any client has read.
func (r *tickReaders) slowest() int64 {
	m := r.msgs
	for i := range r.counts {
		m = min(m, r.counts[i].Load())
	}
	return m
}

// within waits until every client has read all but window of the first
// i ticks, so that a sender keeps that close behind its slowest healthy
// reader; it reports false once the test has failed.
func (r *tickReaders) within(i, window int) bool {
	for int64(i)-r.slowest() > int64(window) {
		if r.t.Failed() {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// wait returns when every reader has ended, and fails the test for each
// client that did not read every tick.
func (r *tickReaders) wait() {
	r.t.Helper()
	r.wg.Wait()
	for i := range r.counts {
		if n := r.counts[i].Load(); n != r.msgs {
			r.t.Errorf("client %d received %d of %d", i, n, r.msgs)
		}
	}
}

// findConn returns the hub's connection for user, via a delivery probe.
func findConn(t *testing.T, e *env, user string) herald.Conn {
	t.Helper()
	var found herald.Conn
	e.hub.Each(func(c herald.Conn) {
		if c.UserID() == user {
			found = c
		}
	})
	if found == nil {
		t.Fatalf("no connection for %s", user)
	}
	return found
}

func TestShutdownClosesWith1001(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	a, _ := e.connect("alice")
	b, _ := e.connect("bob")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.ws.Shutdown(ctx) }()
	for _, c := range []*client{a, b} {
		if code, _ := c.closeCode(); code != 1001 {
			t.Errorf("close = %d, want 1001", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cl, err := e.dialURL(e.urlFor("carol", e.token("carol")), nil)
	if err == nil {
		if code, _ := cl.closeCode(); code != 1013 {
			t.Errorf("connect during shutdown: close %d, want 1013", code)
		}
	}
}

// TestLatestMessagesCoalesce: superseding messages (unread counts) waiting
// for a slow socket replace each other instead of filling the queue, and the
// last one always arrives.
func TestLatestMessagesCoalesce(t *testing.T) {
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.QueueSize = 8 })
	r := e.rawDial("alice")
	waitFor(t, "registered", func() bool { return e.hub.UserConns("alice") == 1 })
	const n = 5000
	for i := range n {
		if e.hub.Deliver(&herald.Message{To: herald.Audience{Kind: herald.ToUser, Name: "alice"}, Latest: true,
			Payload: fmt.Appendf(nil, `{"type":"notification:unread_count","count":%d}`, i)}) != 1 {
			t.Fatalf("delivery %d refused: the queue overflowed", i)
		}
	}
	frames := 0
	for {
		f, err := r.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		frames++
		if bytes.Contains(f.Payload, fmt.Appendf(nil, `"count":%d}`, n-1)) {
			break
		}
	}
	t.Logf("%d count messages arrived as %d frames", n, frames)
}

// TestFramesSentTogether sends three frames in one write: a polled
// connection reads them in one burst and must answer all three, in order,
// before it waits for more.
func TestFramesSentTogether(t *testing.T) {
	e := newEnv(t, hub.Config{}, nil)
	r := e.rawDial("alice")
	var buf bytes.Buffer
	gws.WriteFrame(&buf, gws.MaskFrame(gws.NewTextFrame([]byte(`{"type":"subscribe","channel":"a"}`))))
	gws.WriteFrame(&buf, gws.MaskFrame(gws.NewPingFrame([]byte("between"))))
	gws.WriteFrame(&buf, gws.MaskFrame(gws.NewTextFrame([]byte(`{"type":"subscribe","channel":"b"}`))))
	if _, err := r.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		f, err := r.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		switch {
		case f.Header.OpCode == gws.OpPong:
			got = append(got, "pong "+string(f.Payload))
		case bytes.Contains(f.Payload, []byte(`"subscribed"`)):
			var m struct{ Channel string }
			_ = json.Unmarshal(f.Payload, &m)
			got = append(got, "subscribed "+m.Channel)
		}
	}
	if want := []string{"subscribed a", "pong between", "subscribed b"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("answers %q, want %q", got, want)
	}
}

// TestStreamedFramesOutlastTheFrameTimeout: a polled connection whose reader
// never finds its buffer ending at a frame's end (the client streams frames
// cut across its writes) stays on one reader for longer than the bound on a
// single frame; each frame gets the bound anew, and the connection lives.
func TestStreamedFramesOutlastTheFrameTimeout(t *testing.T) {
	ws.SetFrameTimeout(t, 200*time.Millisecond)
	e := newEnv(t, hub.Config{}, func(c *ws.Config) { c.RateLimit, c.RateBurst = 1000, 1000 })
	r := e.rawDial("alice")
	var stream bytes.Buffer
	const pings = 60
	for i := range pings {
		gws.WriteFrame(&stream, gws.MaskFrame(gws.NewPingFrame(fmt.Appendf(nil, "%02d", i))))
	}
	all := stream.Bytes()
	// Frames of 8 bytes, written in pieces of 13, 40 ms apart: a piece ends
	// at a frame's end only every 8 pieces (320 ms, past the bound), and
	// every frame is complete within 40 ms of its start.
	const step = 13
	go func() {
		for i := 0; i < len(all); i += step {
			if _, err := r.Write(all[i:min(i+step, len(all))]); err != nil {
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	}()
	last := fmt.Sprintf("%02d", pings-1) // pongs waiting together coalesce: the last one always comes
	for got := 0; ; {
		f, err := r.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d pongs: %v", got, err)
		}
		switch f.Header.OpCode {
		case gws.OpPong:
			if got++; string(f.Payload) == last {
				return
			}
		case gws.OpClose:
			code, reason := gws.ParseCloseFrameData(f.Payload)
			t.Fatalf("closed with %d %q after %d pongs", code, reason, got)
		}
	}
}
