package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// wireTimes collects every string under a key that names a time (…At,
// …Until, timestamp) in a JSON document, by path.
func wireTimes(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %s", doc)
	}
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (strings.HasSuffix(k, "At") || strings.HasSuffix(k, "Until") || k == "timestamp") {
					out[path+"."+k] = s
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}

// TestWireTimestampsOneFormat walks a notification's life on a real node,
// over the socket and the API, fresh from the clock and read back from
// SQLite (which keeps whole microseconds, or none): every time the node
// sends has the one format docs/protocol.md promises.
func TestWireTimestampsOneFormat(t *testing.T) {
	s := startApp(t, nil)
	alice, _ := s.connect("alice")
	aliceTok := token(t, s.secret, "alice")
	seen := 0
	check := func(what string, doc []byte) {
		t.Helper()
		for path, v := range wireTimes(t, doc) {
			seen++
			if !isWireTime(v) {
				t.Errorf("%s: %s = %q, not ISO-8601 UTC with milliseconds", what, path, v)
			}
		}
	}
	status, body := s.do("POST", "/api/notifications", s.apiKey, `{"userId":"alice","type":"t","title":"one","message":"m"}`)
	if status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	check("create answer", body)
	var n notification
	_ = json.Unmarshal(body, &n)
	check("notification:new", alice.readRaw())
	check("unread count", alice.readRaw())
	if status, body = s.do("POST", "/api/notifications/"+n.ID+"/read", aliceTok, nil); status != 200 {
		t.Fatalf("mark read = %d %s", status, body)
	}
	check("mark read answer", body)
	check("notification:read", alice.readRaw())
	for _, path := range []string{"/api/notifications", "/api/notifications?unread=false"} {
		_, body = s.do("GET", path, aliceTok, nil)
		if !strings.Contains(string(body), `"readAt"`) {
			t.Errorf("%s has no readAt: %s", path, body)
		}
		check("list "+path, body)
	}
	_, body = s.do("GET", "/api/stats", s.apiKey, nil)
	check("stats", body)
	_, body = s.do("POST", "/api/tokens", s.apiKey, `{"userId":"alice"}`)
	check("token", body)
	alice.send(map[string]any{"type": "ping"})
	check("pong", alice.readRaw())
	if seen < 10 {
		t.Errorf("only %d times seen; the walk missed the messages", seen)
	}
}
