package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/demo"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
)

const secret = "demo-test-secret-0123456789abcdef-0123"

// env is a demo Handler over the real token issuer and verifier and a real
// inbox on the memory store, behind a real HTTP server.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	inbox herald.Inbox
}

func newEnv(t *testing.T, devMode bool) *env {
	t.Helper()
	store := memory.NewStore(memory.Config{})
	ib, err := inbox.New(inbox.Config{Store: store, Publisher: memory.NewBroker(hub.New(hub.Config{}))})
	if err != nil {
		t.Fatal(err)
	}
	issuer := jwt.NewIssuer(jwt.Config{Secret: []byte(secret)})
	h := demo.New(demo.Config{
		DevMode: devMode,
		IssueToken: func(user string) (string, time.Time, error) {
			tok, err := issuer.Issue(user, 15*time.Minute, nil)
			return tok, time.Now().Add(15 * time.Minute), err
		},
		Verifier: jwt.NewVerifier(jwt.Config{Secret: []byte(secret)}),
		Notify: func(ctx context.Context, n *herald.NewNotification) (*herald.Notification, error) {
			out, err := ib.Create(ctx, []*herald.NewNotification{n})
			if err != nil {
				return nil, err
			}
			return out[0].Notification, nil
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, inbox: ib}
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, auth, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(data)
}

// wantError fails unless the answer is Herald's JSON error with status and code.
func wantError(t *testing.T, resp *http.Response, body string, status int, code string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if resp.StatusCode != status || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("got %d %s, want %d with code %s", resp.StatusCode, body, status, code)
	}
}

func TestPageAndAssets(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.do("GET", "/", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self' ws://"+host+" wss://"+host+";") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	// A Host that could smuggle a directive is left out of the policy.
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = "evil; script-src *"
	rec := httptest.NewRecorder()
	demo.New(demo.Config{}).ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Security-Policy"); rec.Code != 200 || strings.Contains(got, "evil") || !strings.Contains(got, "connect-src 'self';") {
		t.Errorf("policy for a hostile Host: %d %q", rec.Code, got)
	}
	if !strings.Contains(body, `aria-live="polite"`) || !strings.Contains(body, `id="status"`) {
		t.Error("the page lacks its status indicator or its live toast region")
	}

	// Every module the page loads, and every module those import, is served
	// as JavaScript: a missing file would break the page in the browser only.
	src := regexp.MustCompile(`src="(/assets/[^"]+\.js)"`).FindStringSubmatch(body)
	if src == nil {
		t.Fatal("the page loads no script module")
	}
	imports := regexp.MustCompile(`(?m)(?:^import|^export)[^'"]*from '(\.[^']+)'|^import '(\.[^']+)'`)
	seen := map[string]bool{}
	queue := []string{src[1]}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		resp, js := e.do("GET", p, "", "")
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
			t.Fatalf("GET %s = %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, m := range imports.FindAllStringSubmatch(js, -1) {
			rel := m[1] + m[2]
			dir := p[:strings.LastIndexByte(p, '/')]
			for strings.HasPrefix(rel, "../") {
				rel, dir = rel[3:], dir[:strings.LastIndexByte(dir, '/')]
			}
			queue = append(queue, dir+"/"+strings.TrimPrefix(rel, "./"))
		}
	}
	if len(seen) < 5 {
		t.Errorf("only %d modules reached from the page: %v", len(seen), seen)
	}
	if resp, _ := e.do("GET", "/assets/style.css", "", ""); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET /assets/style.css = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	for _, p := range []string{"/nope", "/assets/", "/assets/missing.js", "/demo/nope"} {
		resp, body := e.do("GET", p, "", "")
		wantError(t, resp, body, 404, "not_found")
	}
	resp, body = e.do("DELETE", "/", "", "")
	wantError(t, resp, body, 404, "not_found")
}

func TestDevRoutesOnlyInDevelopment(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.do("GET", "/demo/config", "", "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"devMode":false}` {
		t.Errorf("GET /demo/config = %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/demo/session", "", `{"userId":"mallory"}`)
	wantError(t, resp, body, 404, "not_found")
	tok, _ := jwt.NewIssuer(jwt.Config{Secret: []byte(secret)}).Issue("mallory", time.Minute, nil)
	resp, body = e.do("POST", "/demo/notify", tok, `{"type":"trip_update"}`)
	wantError(t, resp, body, 404, "not_found")

	// The zero Config serves the page and refuses the rest too.
	srv := httptest.NewServer(demo.New(demo.Config{DevMode: true}))
	defer srv.Close()
	r, err := srv.Client().Post(srv.URL+"/demo/session", "application/json", strings.NewReader(`{"userId":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 {
		t.Errorf("session without IssueToken = %d, want 404", r.StatusCode)
	}
}

func TestSession(t *testing.T) {
	e := newEnv(t, true)
	resp, body := e.do("GET", "/demo/config", "", "")
	if strings.TrimSpace(body) != `{"devMode":true}` {
		t.Errorf("GET /demo/config = %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/demo/session", "", `{"userId":"ann.lee@example"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("session = %d %s", resp.StatusCode, body)
	}
	var s struct {
		Token, ExpiresAt, UserID string
		ExpiresIn                int
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	claims, err := jwt.NewVerifier(jwt.Config{Secret: []byte(secret)}).Verify(context.Background(), s.Token)
	if err != nil || claims.UserID != "ann.lee@example" || s.UserID != "ann.lee@example" {
		t.Fatalf("token for %+v (%v), answer %+v", claims, err, s)
	}
	exp, err := time.Parse(time.RFC3339, s.ExpiresAt)
	if err != nil || exp.Before(time.Now().Add(14*time.Minute)) || s.ExpiresIn < 14*60 || s.ExpiresIn > 15*60 {
		t.Errorf("expiresAt %q expiresIn %d", s.ExpiresAt, s.ExpiresIn)
	}

	for _, bad := range []string{`{}`, `{"userId":""}`, `{"userId":"a b"}`, `{"userId":"<script>"}`,
		`{"userId":"` + strings.Repeat("x", 65) + `"}`, `not json`, `{"userId":"a"} {}`, `[]`} {
		resp, body := e.do("POST", "/demo/session", "", bad)
		wantError(t, resp, body, 400, "invalid")
	}
	resp, body = e.do("POST", "/demo/session", "", `{"userId":"`+strings.Repeat("x", demo.MaxBodyBytes)+`"}`)
	wantError(t, resp, body, 413, "too_large")
	resp, body = e.do("GET", "/demo/session", "", "")
	wantError(t, resp, body, 404, "not_found")
}

func TestNotify(t *testing.T) {
	e := newEnv(t, true)
	tok, err := jwt.NewIssuer(jwt.Config{Secret: []byte(secret)}).Issue("zoe", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range demo.SampleTypes {
		resp, body := e.do("POST", "/demo/notify", tok, `{"type":"`+typ+`"}`)
		if resp.StatusCode != 201 {
			t.Fatalf("notify %s = %d %s", typ, resp.StatusCode, body)
		}
		var n herald.Notification
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			t.Fatal(err)
		}
		if n.UserID != "zoe" || n.Type != typ || n.ID == "" || n.Seq != int64(i+1) || n.Title == "" {
			t.Errorf("notify %s created %+v", typ, n)
		}
		if (typ == "system") != (n.Link == "") {
			t.Errorf("%s has link %q: the plain type has none, the others one", typ, n.Link)
		}
	}
	// An empty body sends the default sample.
	if resp, body := e.do("POST", "/demo/notify", tok, ""); resp.StatusCode != 201 || !strings.Contains(body, `"type":"trip_update"`) {
		t.Errorf("notify with no body = %d %s", resp.StatusCode, body)
	}
	list, err := e.inbox.List(context.Background(), herald.NotificationFilter{UserID: "zoe"})
	if err != nil || len(list) != len(demo.SampleTypes)+1 {
		t.Fatalf("zoe's inbox holds %d (%v), want %d", len(list), err, len(demo.SampleTypes)+1)
	}

	resp, body := e.do("POST", "/demo/notify", tok, `{"type":"wire_transfer"}`)
	wantError(t, resp, body, 400, "invalid")
	resp, body = e.do("POST", "/demo/notify", "", `{"type":"trip_update"}`)
	wantError(t, resp, body, 401, "missing_credentials")
	resp, body = e.do("POST", "/demo/notify", "forged."+tok, `{"type":"trip_update"}`)
	wantError(t, resp, body, 401, "invalid_token")
	if strings.Contains(body, tok) {
		t.Error("the error repeats the token")
	}
}

func TestSample(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, typ := range demo.SampleTypes {
		n, err := demo.Sample(typ, "u", now)
		if err != nil {
			t.Fatalf("Sample(%s): %v", typ, err)
		}
		if err := n.Validate(); err != nil {
			t.Errorf("Sample(%s) is invalid: %v", typ, err)
		}
	}
	n, err := demo.Sample("", "u", now)
	if err != nil || n.Type != "trip_update" || !strings.Contains(string(n.Data), `"sentAt":"2026-01-02T03:04:05.000Z"`) {
		t.Errorf("Sample(\"\") = %+v, %v", n, err)
	}
	if _, err := demo.Sample("nope", "u", now); herald.CodeOf(err) != herald.EINVALID {
		t.Errorf("Sample(nope) error %v, want invalid", err)
	}
}
