package http_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
)

func TestHealth(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "GET", path: "/healthz"})
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if r := e.do(req{method: "HEAD", path: "/healthz"}); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD healthz: %d %q", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/readyz"}); r.status != 200 || strings.TrimSpace(string(r.body)) != `{"status":"ready"}` {
		t.Errorf("readyz without checks: %d %s", r.status, r.body)
	}
}

func TestReady(t *testing.T) {
	var readyErr error
	e := newEnv(t, func(c *heraldhttp.Config) {
		c.Ready = func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return readyErr
		}
	})
	if r := e.do(req{method: "GET", path: "/readyz"}); r.status != 200 {
		t.Fatalf("ready: %d %s", r.status, r.body)
	}
	readyErr = herald.Errorf(herald.EUNAVAILABLE, "database unreachable")
	r := e.do(req{method: "GET", path: "/readyz"})
	want := `{"status":"unavailable","error":{"code":"unavailable","message":"database unreachable"}}`
	if r.status != 503 || strings.TrimSpace(string(r.body)) != want {
		t.Errorf("not ready: %d %s, want %s", r.status, r.body, want)
	}
	// A plain error may name hosts: logged, not shown.
	readyErr = errors.New("dial tcp 10.1.2.3:5432: connection refused")
	r = e.do(req{method: "GET", path: "/readyz"})
	if r.status != 503 || strings.Contains(string(r.body), "10.1.2.3") || !strings.Contains(string(r.body), "Not ready") {
		t.Errorf("plain error: %d %s", r.status, r.body)
	}
	if !strings.Contains(e.logs.String(), "10.1.2.3") {
		t.Errorf("readiness failure not logged")
	}
}

// TestMetrics: /metrics wants the metrics token or the API key, unless
// MetricsPublic opens it.
func TestMetrics(t *testing.T) {
	const token = "scraper-token-0123456789abcdef0123"
	e := newEnv(t, func(c *heraldhttp.Config) { c.MetricsToken = token })
	for _, auth := range []string{"Bearer " + token, "Bearer " + apiKey} {
		r := e.do(req{method: "GET", path: "/metrics", auth: auth})
		if r.status != 200 || !strings.Contains(string(r.body), "herald_up 1") {
			t.Fatalf("metrics with %.12s…: %d %s", auth, r.status, r.body)
		}
	}
	expectError(t, e.do(req{method: "GET", path: "/metrics"}), 401, herald.ECREDENTIALS)
	expectError(t, e.do(req{method: "GET", path: "/metrics", auth: "Bearer " + token + "x"}), 401, herald.ETOKEN)
	expectError(t, e.as("alice", "GET", "/metrics"), 401, herald.ETOKEN)
	if logs := e.logs.String(); strings.Contains(logs, token) {
		t.Errorf("the log holds the metrics token:\n%s", logs)
	}

	// Without a metrics token, the API key alone.
	e = newEnv(t, nil)
	if r := e.do(req{method: "GET", path: "/metrics", auth: "Bearer " + apiKey}); r.status != 200 {
		t.Fatalf("metrics with the API key: %d %s", r.status, r.body)
	}
	expectError(t, e.do(req{method: "GET", path: "/metrics", auth: "Bearer " + token}), 401, herald.ETOKEN)

	// Public: no credentials needed.
	e = newEnv(t, func(c *heraldhttp.Config) { c.MetricsPublic = true })
	if r := e.do(req{method: "GET", path: "/metrics"}); r.status != 200 || !strings.Contains(string(r.body), "herald_up 1") {
		t.Fatalf("public metrics: %d %s", r.status, r.body)
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/", "/nope", "/api", "/api/", "/api/nope", "/api/users/alice", "/api/notifications/a/b/c"} {
		expectError(t, e.backend("GET", path, ""), 404, herald.ENOTFOUND)
	}
	tests := []struct{ method, path, allow string }{
		{"GET", "/api/broadcast", "POST"},
		{"DELETE", "/api/users/alice/messages", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"PUT", "/api/notifications", "GET, HEAD, POST"},
		{"GET", "/api/notifications/n1/read", "POST"},
		{"PATCH", "/api/notifications/n1", "DELETE"},
	}
	for _, tt := range tests {
		r := e.do(req{method: tt.method, path: tt.path, auth: "Bearer " + apiKey})
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, r.status, r.body)
			continue
		}
		if code, _ := r.errorCode(t); code != "method_not_allowed" {
			t.Errorf("%s %s: code %q", tt.method, tt.path, code)
		}
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestUnconfiguredRoutesAbsent(t *testing.T) {
	// The zero Config serves health only; every other route is not found.
	e := newEnv(t, func(c *heraldhttp.Config) {
		*c = heraldhttp.Config{Addr: "127.0.0.1:0", APIKey: apiKey, Logger: c.Logger}
	})
	if r := e.do(req{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	for _, rt := range backendRoutes {
		expectError(t, e.backend(rt.method, rt.path, rt.body), 404, herald.ENOTFOUND)
	}
	for _, rt := range userRoutes {
		expectError(t, e.as("alice", rt.method, rt.path), 404, herald.ENOTFOUND)
	}
	expectError(t, e.do(req{method: "GET", path: "/metrics"}), 404, herald.ENOTFOUND)
}

func TestHandle(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Handle("GET /page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page")
	}))
	if r := e.do(req{method: "GET", path: "/page"}); r.status != 200 || string(r.body) != "page" {
		t.Fatalf("mounted route: %d %s", r.status, r.body)
	}
	// The mounted mux's own errors are JSON as well.
	expectError(t, e.do(req{method: "GET", path: "/other"}), 404, herald.ENOTFOUND)
	// A mounted handler's own answers pass as they are, its plain-text 404
	// included.
	e.srv.Handle("GET /files/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	if r := e.do(req{method: "GET", path: "/files/missing.txt"}); r.status != 404 || string(r.body) != "404 page not found\n" {
		t.Errorf("a mounted handler's 404: %d %q", r.status, r.body)
	}
	if r := e.do(req{method: "POST", path: "/page"}); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /page: %d Allow %q", r.status, r.header.Get("Allow"))
	}

	// A catch-all page takes unknown paths, but not the API's.
	e.srv.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "demo")
	}))
	if r := e.do(req{method: "GET", path: "/anything"}); string(r.body) != "demo" {
		t.Errorf("catch-all: %d %s", r.status, r.body)
	}
	expectError(t, e.backend("GET", "/api/nope", ""), 404, herald.ENOTFOUND)
	if r := e.do(req{method: "GET", path: "/api/broadcast"}); r.status != 405 {
		t.Errorf("GET /api/broadcast with a catch-all mounted: %d %s", r.status, r.body)
	}

	// A request for an unclean path is redirected, not refused.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(e.url + "/api/../page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/page" {
		t.Errorf("unclean path: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	for _, pattern := range []string{"/api/", "GET /api/x", "POST /healthz", "/metrics", "GET example.com/api/{x}", "/readyz"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", pattern)
				}
			}()
			e.srv.Handle(pattern, http.NotFoundHandler())
		}()
	}
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, nil)
	e.inbox.failWith(nil, true)
	r := e.as("alice", "GET", "/api/notifications")
	if msg := expectError(t, r, 500, herald.EINTERNAL); msg != "Internal server error" {
		t.Errorf("message = %q", msg)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "inbox exploded") || !strings.Contains(logs, "stack=") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	// The server goes on serving.
	e.inbox.failWith(nil, false)
	if r := e.as("alice", "GET", "/api/notifications"); r.status != 200 {
		t.Errorf("after panic: %d %s", r.status, r.body)
	}

	// A handler that panics after answering keeps its answer.
	e.srv.Handle("/late", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	}))
	if r := e.do(req{method: "GET", path: "/late"}); r.status != http.StatusAccepted {
		t.Errorf("late panic: %d", r.status)
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t, nil)
	e.backend("POST", "/api/broadcast?exclude=bob", `{"a":1}`)
	e.do(req{method: "GET", path: "/nope"})
	e.logs.waitFor(t, `msg="http request" method=POST path=/api/broadcast status=200`)
	e.logs.waitFor(t, `msg="http request" method=GET path=/nope status=404`)
	if logs := e.logs.String(); strings.Contains(logs, "exclude=bob") {
		t.Errorf("log holds the query string:\n%s", logs)
	}
}

func TestWebSocketThroughMiddleware(t *testing.T) {
	// The upgrade hijacks the connection through the server's wrappers.
	e := newEnv(t, nil)
	e.srv.Handle("GET /ws", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		defer conn.Close()
		msg, op, err := wsutil.ReadClientData(conn)
		if err == nil {
			_ = wsutil.WriteServerMessage(conn, op, append([]byte("echo "), msg...))
		}
	}))
	// Make an API request first, so the server has set (and must clear) deadlines.
	e.backend("GET", "/api/stats", "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := wsutil.WriteClientText(conn, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	got, err := wsutil.ReadServerText(conn)
	if err != nil || string(got) != "echo hi" {
		t.Fatalf("read %q, %v", got, err)
	}
	// The handler returns, and the request is logged, after the client has its echo.
	e.logs.waitFor(t, "path=/ws status=101")
}

func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, func(c *heraldhttp.Config) { c.RequestTimeout = 100 * time.Millisecond })
	e.srv.Handle("GET /page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page")
	}))
	conn, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func(path string) int {
		t.Helper()
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// An API request sets deadlines on its connection. A later request on
	// the same keep-alive connection for a mounted handler (a WebSocket, say)
	// must not inherit them once they have passed. (net/http clears them
	// between requests; this guards that the API relies on nothing more.)
	if s := get("/healthz"); s != 200 {
		t.Fatalf("healthz: %d", s)
	}
	time.Sleep(300 * time.Millisecond)
	if s := get("/page"); s != 200 {
		t.Fatalf("mounted route after the API deadline: %d", s)
	}

	// A client that sends headers and then stalls its body is cut off.
	slow, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /api/broadcast HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+apiKey+
		"\r\nContent-Length: 100\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatalf("stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("stalled body: %d, want 400", resp.StatusCode)
	}
}

func TestRunAndShutdown(t *testing.T) {
	hooked := make(chan struct{})
	started := make(chan struct{})
	release := make(chan struct{})
	srv := heraldhttp.NewServer(heraldhttp.Config{Addr: "127.0.0.1:0"})
	srv.RegisterOnShutdown(func() { close(hooked) })
	srv.Handle("GET /wait", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	}))
	if srv.Addr() != "" {
		t.Errorf("Addr before Listen = %q", srv.Addr())
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/wait")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // Run begins a graceful shutdown
	<-hooked

	// Once shutdown has begun the node reports itself unready.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "Shutting down") {
		t.Errorf("readyz during shutdown: %d %s", rec.Code, rec.Body)
	}

	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want it finished", body)
	}
	if err := <-ran; err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Errorf("server still accepts connections after shutdown")
	}
}

func TestListenError(t *testing.T) {
	e := newEnv(t, nil)
	srv := heraldhttp.NewServer(heraldhttp.Config{Addr: e.srv.Addr()})
	if err := srv.Run(context.Background()); err == nil {
		t.Fatal("Run on a taken port succeeded")
	}
}
