package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"

	"github.com/heraldhq/herald/jwt"
)

// The secrets every test server runs with; the secret is production-sized.
const (
	testSecret = "cmd-herald-test-secret-0123456789abcdef"
	testAPIKey = "cmd-herald-test-api-key-0123456789abcdef"
)

// heraldBin is the herald binary TestMain builds for the process tests, with
// the race detector when the tests have it.
var heraldBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	heraldBin = filepath.Join(dir, "herald")
	args := []string{"build", "-o", heraldBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building herald:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	// The shared database and Redis servers belong to the whole binary; stop
	// them before looking for goroutines the tests left behind.
	pgtest.Stop()
	redistest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is an io.Writer that a program writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mapEnv returns a getenv that reads m and nothing else, so the tests never
// depend on the environment they run in.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// token issues a connection token for user signed with secret.
func token(t *testing.T, secret, user string, channels ...string) string {
	t.Helper()
	tok, err := jwt.NewIssuer(jwt.Config{Secret: []byte(secret)}).Issue(user, 5*time.Minute, channels)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// server is a running Herald, in-process or not, seen from outside: its
// address, secrets and an HTTP client of its own.
type server struct {
	t      *testing.T
	addr   string // host:port
	secret string
	apiKey string
	http   *http.Client
}

func newServer(t *testing.T, addr, secret, apiKey string) *server {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &server{t: t, addr: addr, secret: secret, apiKey: apiKey,
		http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// wsURL is the URL a client of user connects with; extra are query key/value pairs.
func (s *server) wsURL(user, tok string, extra ...string) string {
	q := url.Values{}
	if tok != "" {
		q.Set("token", tok)
	}
	if user != "" {
		q.Set("userId", user)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "ws://" + s.addr + "/ws?" + q.Encode()
}

// do sends a request with bearer auth (none when auth is "") and returns the
// status and body.
func (s *server) do(method, path, auth string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// api calls the server API with the API key and decodes a JSON answer into
// out (when not nil), failing unless the status is want.
func (s *server) api(method, path string, body any, want int, out any) {
	s.t.Helper()
	status, data := s.do(method, path, s.apiKey, body)
	if status != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// notification is what the API answers for a created notification.
type notification struct {
	ID    string          `json:"id"`
	Seq   int64           `json:"seq"`
	User  string          `json:"userId"`
	Type  string          `json:"type"`
	Title string          `json:"title"`
	Msg   string          `json:"message"`
	Data  json.RawMessage `json:"data"`
}

// notify creates one notification for user through the server API.
func (s *server) notify(user, title string) notification {
	s.t.Helper()
	var n notification
	s.api("POST", "/api/notifications", map[string]any{"userId": user, "type": "test", "title": title, "message": "m"}, 201, &n)
	if n.ID == "" || n.Seq <= 0 {
		s.t.Fatalf("created notification has no id or seq: %+v", n)
	}
	return n
}

// connect dials user with a fresh token and consumes the connected message.
func (s *server) connect(user string, extra ...string) (*wsClient, map[string]any) {
	s.t.Helper()
	c := dial(s.t, s.wsURL(user, token(s.t, s.secret, user), extra...))
	m := c.read()
	if m["type"] != "connected" || m["userId"] != user {
		s.t.Fatalf("first message = %v, want connected for %s", m, user)
	}
	return c, m
}

// wsClient is a test-side WebSocket client on coder/websocket, an
// implementation independent of the server's.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dial(t *testing.T, u string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}
}

// readRaw returns the next text message as it came.
func (c *wsClient) readRaw() []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("got a %v message, want text", typ)
	}
	return data
}

func (c *wsClient) read() map[string]any {
	c.t.Helper()
	data := c.readRaw()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("message %s is not a JSON object: %v", data, err)
	}
	return m
}

// expect reads the next message and fails unless it has type typ.
func (c *wsClient) expect(typ string) map[string]any {
	c.t.Helper()
	m := c.read()
	if m["type"] != typ {
		c.t.Fatalf("got %v, want a %s message", m, typ)
	}
	return m
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// closeStatus reads until the server closes the connection and returns its
// close code and reason; messages before the close are returned too.
func (c *wsClient) closeStatus() (websocket.StatusCode, string, [][]byte) {
	c.t.Helper()
	var before [][]byte
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, data, err := c.c.Read(ctx)
		cancel()
		if err == nil {
			before = append(before, data)
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason, before
	}
}

// close ends the connection normally and waits for the server's answer.
func (c *wsClient) close() {
	c.t.Helper()
	if err := c.c.Close(websocket.StatusNormalClosure, ""); err != nil {
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Logf("close: %v", err)
		}
	}
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
