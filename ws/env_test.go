package ws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gws "github.com/gobwas/ws"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/ws"
)

// TestMain runs the whole suite once per reader mode (see readerModes), or
// only in the one WS_TEST_READER names ("poller" or "goroutine").
func TestMain(m *testing.M) { goleak.VerifyTestMain(bothReaderModes{m}) }

// bothReaderModes runs m once per reader mode: every env made meanwhile
// reads in that mode, and tests that loop over readerModes see only it.
type bothReaderModes struct{ m *testing.M }

func (b bothReaderModes) Run() int {
	defer redistest.Stop() // the shared Redis of the admission tests, before goleak looks
	for _, mode := range allReaderModes {
		if only := os.Getenv("WS_TEST_READER"); only != "" && only != mode.name {
			continue
		}
		readerModes = []readerMode{mode}
		suiteNoPoller = mode.noPoller
		if code := b.m.Run(); code != 0 {
			return code
		}
	}
	return 0
}

// suiteNoPoller is the reader mode of the current pass, the default of newEnv.
var suiteNoPoller bool

var secret = []byte("test-secret-test-secret-test-secret")

// env is a real Herald WebSocket endpoint on a loopback port, with a real hub,
// verifier and in-memory inbox behind it.
type env struct {
	t      *testing.T
	hub    *hub.Hub
	ws     *ws.Server
	inbox  *inbox.Service
	store  *memory.Store
	issuer *jwt.Issuer
	http   *httptest.Server
	url    string // ws://127.0.0.1:port/ws
}

func newEnv(t *testing.T, hcfg hub.Config, mod func(*ws.Config)) *env {
	t.Helper()
	h := hub.New(hcfg)
	st := memory.NewStore(memory.Config{})
	ib, err := inbox.New(inbox.Config{Store: st, Publisher: memory.NewBroker(h)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ws.Config{Hub: h, Verifier: jwt.NewVerifier(jwt.Config{Secret: secret}), Inbox: ib, NoPoller: suiteNoPoller}
	if mod != nil {
		mod(&cfg)
	}
	srv := ws.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	e := &env{t: t, hub: h, ws: srv, inbox: ib, store: st, issuer: jwt.NewIssuer(jwt.Config{Secret: secret}), http: hs,
		url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		cancel()
		<-done
		hs.Close()
	})
	return e
}

func (e *env) token(user string, channels ...string) string {
	tok, err := e.issuer.Issue(user, time.Minute, channels)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) urlFor(user, token string, extra ...string) string {
	q := url.Values{}
	if token != "" {
		q.Set("token", token)
	}
	if user != "" {
		q.Set("userId", user)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return e.url + "?" + q.Encode()
}

// client is a test-side WebSocket client built on coder/websocket, an
// implementation independent of the server's.
type client struct {
	t *testing.T
	c *websocket.Conn
}

func (e *env) dialURL(u string, h http.Header) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	cl := &client{t: e.t, c: c}
	e.t.Cleanup(func() { c.CloseNow() })
	return cl, nil
}

// connect dials as user and consumes the connected message.
func (e *env) connect(user string, extra ...string) (*client, map[string]any) {
	e.t.Helper()
	cl, err := e.dialURL(e.urlFor(user, e.token(user), extra...), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	m := cl.read()
	if m["type"] != "connected" {
		e.t.Fatalf("first message = %v, want connected", m)
	}
	return cl, m
}

func (c *client) read() map[string]any {
	c.t.Helper()
	m, err := c.tryRead(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) tryRead(d time.Duration) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// readType reads until a message of type typ, failing on anything else
// listed in skip-less mode.
func (c *client) readType(typ string) map[string]any {
	c.t.Helper()
	for {
		m := c.read()
		if m["type"] == typ {
			return m
		}
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	data, _ := json.Marshal(v)
	c.sendRaw(websocket.MessageText, data)
}

func (c *client) sendRaw(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// closeCode reads until the connection closes and returns the server's code.
func (c *client) closeCode() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := c.c.Read(ctx)
		cancel()
		if err != nil {
			var ce websocket.CloseError
			if ok := asClose(err, &ce); ok {
				return ce.Code, ce.Reason
			}
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

func asClose(err error, ce *websocket.CloseError) bool {
	code := websocket.CloseStatus(err)
	if code == -1 {
		return false
	}
	*ce = websocket.CloseError{Code: code}
	var x websocket.CloseError
	if ok := errorsAs(err, &x); ok {
		ce.Reason = x.Reason
	}
	return true
}

// rawConn is a hand-driven client for what well-behaved libraries refuse to
// do: never read, never answer pings, send unmasked or invalid frames.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func (e *env) rawDial(user string) *rawConn {
	e.t.Helper()
	d := gws.Dialer{}
	nc, br, _, err := d.Dial(context.Background(), e.urlFor(user, e.token(user)))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return &rawConn{Conn: nc, br: br}
}

// readFrame reads one server frame.
func (r *rawConn) readFrame(d time.Duration) (gws.Frame, error) {
	r.SetReadDeadline(time.Now().Add(d))
	return gws.ReadFrame(r.br)
}

// waitFor polls cond until it holds or fails the test after 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func notify(t *testing.T, e *env, user, title string) *herald.Notification {
	t.Helper()
	res, err := e.inbox.Create(context.Background(), []*herald.NewNotification{{UserID: user, Type: "test", Title: title, Message: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Notification
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
