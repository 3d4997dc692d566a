package http_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

func TestSendToUser(t *testing.T) {
	e := newEnv(t, nil)
	r := e.backend("POST", "/api/users/user%2D1/messages", `{ "type": "custom",
		"text": "hi" }`)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"delivered":3}` {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	m := e.pub.last(t)
	if m.To != (herald.Audience{Kind: herald.ToUser, Name: "user-1"}) {
		t.Errorf("audience = %+v", m.To)
	}
	if string(m.Payload) != `{"type":"custom","text":"hi"}` {
		t.Errorf("payload = %s, want the body compacted", m.Payload)
	}
}

func TestSendToChannel(t *testing.T) {
	e := newEnv(t, nil)
	// A "/" in a channel name travels escaped.
	r := e.backend("POST", "/api/channels/org%2Fteam:ops@eu.1/messages", `{"type":"alert"}`)
	if r.status != http.StatusOK {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	if m := e.pub.last(t); m.To != (herald.Audience{Kind: herald.ToChannel, Name: "org/team:ops@eu.1"}) {
		t.Errorf("audience = %+v", m.To)
	}
}

func TestBroadcast(t *testing.T) {
	e := newEnv(t, nil)
	if r := e.backend("POST", "/api/broadcast", `{"type":"maintenance"}`); r.status != http.StatusOK {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	if m := e.pub.last(t); m.To != (herald.Audience{Kind: herald.ToAll}) {
		t.Errorf("audience = %+v", m.To)
	}
	if r := e.backend("POST", "/api/broadcast?exclude=alice", `{"type":"maintenance"}`); r.status != http.StatusOK {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	if m := e.pub.last(t); m.To != (herald.Audience{Kind: herald.ToAll, Except: "alice"}) {
		t.Errorf("audience = %+v", m.To)
	}
}

func TestMessageValidation(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("x", 129)
	tests := []struct {
		name, path, body string
		status           int
		code             herald.ErrorCode
		want             string // in the message
	}{
		{"user id too long", "/api/users/" + long + "/messages", `{}`, 400, herald.EINVALID, "userId"},
		{"user id control char", "/api/users/a%0Ab/messages", `{}`, 400, herald.EINVALID, "userId"},
		{"user id invalid utf-8", "/api/users/a%FFb/messages", `{}`, 400, herald.EINVALID, "userId"},
		{"channel with space", "/api/channels/a%20b/messages", `{}`, 400, herald.EINVALID, "channel"},
		{"channel with bang", "/api/channels/a!/messages", `{}`, 400, herald.EINVALID, "channel"},
		{"channel too long", "/api/channels/" + long + "/messages", `{}`, 400, herald.EINVALID, "channel"},
		{"exclude empty", "/api/broadcast?exclude=", `{}`, 400, herald.EINVALID, "exclude"},
		{"exclude too long", "/api/broadcast?exclude=" + long, `{}`, 400, herald.EINVALID, "exclude"},
		{"array body", "/api/broadcast", `[1,2]`, 400, herald.EINVALID, "JSON object"},
		{"string body", "/api/broadcast", `"hi"`, 400, herald.EINVALID, "JSON object"},
		{"null body", "/api/broadcast", `null`, 400, herald.EINVALID, "JSON object"},
		{"not JSON", "/api/broadcast", `{"a":`, 400, herald.EINVALID, "JSON object"},
		{"two objects", "/api/broadcast", `{}{}`, 400, herald.EINVALID, "JSON object"},
		{"whitespace body", "/api/broadcast", "  \n", 400, herald.EINVALID, "required"},
		{"invalid utf-8", "/api/broadcast", "{\"a\":\"\xff\"}", 400, herald.EINVALID, "UTF-8"},
		{"too large", "/api/broadcast", `{"a":"` + strings.Repeat("x", 64<<10) + `"}`, 413, herald.ETOOLARGE, "65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := expectError(t, e.backend("POST", tt.path, tt.body), tt.status, tt.code)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
		})
	}
	// No body at all.
	expectError(t, e.do(req{method: "POST", path: "/api/broadcast", auth: "Bearer " + apiKey}), 400, herald.EINVALID)
	if n := e.pub.count(); n != 0 {
		t.Errorf("%d messages published by refused requests", n)
	}
}

func TestMessageContentType(t *testing.T) {
	e := newEnv(t, nil)
	send := func(ct string) response {
		return e.do(req{method: "POST", path: "/api/broadcast", auth: "Bearer " + apiKey, body: `{"a":1}`,
			header: map[string]string{"Content-Type": ct}})
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/merge-patch+json"} {
		if r := send(ct); r.status != http.StatusOK {
			t.Errorf("Content-Type %q: %d %s", ct, r.status, r.body)
		}
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "garbage/"} {
		expectError(t, send(ct), http.StatusUnsupportedMediaType, herald.EUNSUPPORTED)
	}
}

func TestMessageBodyLimitStreamed(t *testing.T) {
	// A body of undeclared length is cut at the limit too.
	e := newEnv(t, func(c *heraldhttp.Config) { c.MaxBodyBytes = 1024 })
	body := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	r := e.do(req{method: "POST", path: "/api/broadcast", auth: "Bearer " + apiKey,
		reader: struct{ *strings.Reader }{strings.NewReader(body)}})
	expectError(t, r, http.StatusRequestEntityTooLarge, herald.ETOOLARGE)
	// Just under the limit passes.
	ok := `{"a":"` + strings.Repeat("x", 1024-8) + `"}`
	if r := e.backend("POST", "/api/broadcast", ok); r.status != http.StatusOK {
		t.Fatalf("body of %d bytes: %d %s", len(ok), r.status, r.body)
	}
}

func TestPublishErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.pub.failWith(herald.Errorf(herald.EUNAVAILABLE, "broker down"))
	if msg := expectError(t, e.backend("POST", "/api/broadcast", `{}`), 503, herald.EUNAVAILABLE); msg != "broker down" {
		t.Errorf("message = %q", msg)
	}
	e.pub.failWith(fmt.Errorf("redis: dial 10.0.0.9:6379: %w", errors.New("refused")))
	r := e.backend("POST", "/api/broadcast", `{}`)
	if msg := expectError(t, r, 500, herald.EINTERNAL); msg != "Internal server error" {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(string(r.body), "10.0.0.9") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
	if !strings.Contains(e.logs.String(), "10.0.0.9") {
		t.Errorf("internal error not logged:\n%s", e.logs)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, nil)
	r := e.backend("GET", "/api/stats", "")
	want := `{"totalConnections":5,"totalUsers":2,"channelCounts":{"news":4},"timestamp":"2025-11-10T08:15:30.123Z"}`
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("answer %d %s, want %s", r.status, r.body, want)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}

	// An empty snapshot still has every field, stamped with the server clock.
	e2 := newEnv(t, func(c *heraldhttp.Config) {
		c.Stats = func(context.Context) (herald.Stats, []herald.NodeStats, error) { return herald.Stats{}, nil, nil }
		c.Now = func() time.Time { return epoch }
	})
	r = e2.backend("GET", "/api/stats", "")
	want = `{"totalConnections":0,"totalUsers":0,"channelCounts":{},"timestamp":"2025-11-10T08:15:30.123Z"}`
	if strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("answer %s, want %s", r.body, want)
	}
	expectError(t, e.do(req{method: "GET", path: "/api/stats"}), 401, herald.ECREDENTIALS)

	// A cluster adds one row per node; a failing source is an error answer.
	e3 := newEnv(t, func(c *heraldhttp.Config) {
		c.Stats = func(context.Context) (herald.Stats, []herald.NodeStats, error) {
			return herald.Stats{TotalConnections: 3, TotalUsers: 3, Timestamp: epoch},
				[]herald.NodeStats{{Node: "n1", Stats: herald.Stats{TotalConnections: 1, TotalUsers: 1, Timestamp: epoch}},
					{Node: "n2", Stats: herald.Stats{TotalConnections: 2, TotalUsers: 2, Timestamp: epoch}}}, nil
		}
	})
	r = e3.backend("GET", "/api/stats", "")
	want = `{"totalConnections":3,"totalUsers":3,"channelCounts":{},"timestamp":"2025-11-10T08:15:30.123Z","nodes":[` +
		`{"node":"n1","totalConnections":1,"totalUsers":1,"channelCounts":{},"timestamp":"2025-11-10T08:15:30.123Z"},` +
		`{"node":"n2","totalConnections":2,"totalUsers":2,"channelCounts":{},"timestamp":"2025-11-10T08:15:30.123Z"}]}`
	if strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("answer %s, want %s", r.body, want)
	}
	e4 := newEnv(t, func(c *heraldhttp.Config) {
		c.Stats = func(context.Context) (herald.Stats, []herald.NodeStats, error) {
			return herald.Stats{}, nil, herald.Errorf(herald.EUNAVAILABLE, "Redis is unreachable")
		}
	})
	expectError(t, e4.backend("GET", "/api/stats", ""), 503, herald.EUNAVAILABLE)
}

func TestPresence(t *testing.T) {
	e := newEnv(t, func(c *heraldhttp.Config) {
		c.Presence = func(_ context.Context, user string) (bool, []string, error) {
			if user == "alice" {
				return true, []string{"n1", "n2"}, nil
			}
			return false, nil, nil
		}
	})
	r := e.backend("GET", "/api/users/alice/presence", "")
	if want := `{"userId":"alice","online":true,"nodes":["n1","n2"]}`; r.status != 200 || strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("answer %d %s, want %s", r.status, r.body, want)
	}
	r = e.backend("GET", "/api/users/bob/presence", "")
	if want := `{"userId":"bob","online":false,"nodes":[]}`; strings.TrimSpace(string(r.body)) != want {
		t.Fatalf("answer %s, want %s", r.body, want)
	}
	expectError(t, e.do(req{method: "GET", path: "/api/users/alice/presence"}), 401, herald.ECREDENTIALS)
}

func TestReadyDegraded(t *testing.T) {
	e := newEnv(t, func(c *heraldhttp.Config) {
		c.Degraded = func() error { return herald.Errorf(herald.EUNAVAILABLE, "Degraded: Redis is unreachable") }
	})
	r := e.do(req{method: "GET", path: "/readyz"})
	if r.status != 200 || !strings.Contains(string(r.body), `"status":"degraded"`) || !strings.Contains(string(r.body), "Redis is unreachable") {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
}

// TestSendsShareOneConnection sends messages one after the other on one
// keep-alive connection, with bodies of declared length and chunked: each is
// answered in full, and the connection stays open for the next, since the
// server reads each body to its end and leaves nothing to drain.
func TestSendsShareOneConnection(t *testing.T) {
	e := newEnv(t, nil)
	nc, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	head := "POST /api/users/ana/messages HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer " + apiKey +
		"\r\nContent-Type: application/json\r\n"
	bodies := []string{
		head + "Content-Length: 17\r\n\r\n" + `{"type":"first"} `,
		head + "Transfer-Encoding: chunked\r\n\r\n8\r\n{\"type\":\r\n9\r\n\"second\"}\r\n0\r\n\r\n",
		head + "Content-Length: 16\r\n\r\n" + `{"type":"third"}`,
	}
	for i, raw := range bodies {
		if _, err := io.WriteString(nc, raw); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v (the connection did not stay open)", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "{\"delivered\":3}\n" || res.Close {
			t.Fatalf("answer %d: %d %q, close %v", i, res.StatusCode, b, res.Close)
		}
		if res.ContentLength != int64(len(b)) || res.Header.Get("Content-Type") != "application/json" ||
			res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("answer %d: headers %v", i, res.Header)
		}
	}
	want := []string{`{"type":"first"}`, `{"type":"second"}`, `{"type":"third"}`}
	got := e.pub.all()
	if len(got) != len(want) {
		t.Fatalf("%d messages published, want %d", len(got), len(want))
	}
	for i, m := range got {
		if string(m.Payload) != want[i] {
			t.Errorf("message %d = %s, want %v in order", i, m.Payload, want)
		}
	}
}
