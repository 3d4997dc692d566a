package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/jwt"
)

// The secrets every test server runs with.
const (
	testSecret = "client-test-secret-0123456789abcdef0123"
	testAPIKey = "client-test-api-key-0123456789abcdef" // production wants 32 bytes or more
)

// syncBuffer is an io.Writer a process writes to while the test reads it.
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

// heraldProc is a real herald server: the binary TestMain built, on a
// loopback port and a SQLite file of its own, which a test can kill and
// start again on the same port and database.
type heraldProc struct {
	t    *testing.T
	port int
	env  []string
	logs *syncBuffer // every run's stderr, for a failing test

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startHerald starts a server with the test secrets; env adds settings or
// overrides them. It is killed when the test ends.
func startHerald(t *testing.T, env map[string]string) *heraldProc {
	t.Helper()
	h := &heraldProc{t: t, logs: &syncBuffer{}}
	all := map[string]string{
		"HERALD_ENV":              "production",
		"HERALD_HOST":             "127.0.0.1",
		"JWT_SECRET":              testSecret,
		"HERALD_API_KEY":          testAPIKey,
		"HERALD_DB_PATH":          filepath.Join(t.TempDir(), "herald.db"),
		"HERALD_SHUTDOWN_TIMEOUT": "2s",
	}
	for k, v := range env {
		all[k] = v
	}
	for k, v := range all {
		h.env = append(h.env, k+"="+v)
	}
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			t.Logf("herald logs:\n%s", h.logs.String())
		}
	})
	// A port found free may be taken before herald binds it: try another.
	for attempt := 1; ; attempt++ {
		h.port = freePort(t)
		err := h.run()
		if err == nil {
			return h
		}
		if attempt == 3 || !strings.Contains(h.logs.String(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// run starts the process and waits until it serves /healthz.
func (h *heraldProc) run() error {
	cmd := exec.Command(heraldBin(h.t))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(h.port)}, h.env...)
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	h.mu.Lock()
	h.cmd, h.done = cmd, done
	h.mu.Unlock()

	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("herald exited before serving")
		default:
		}
		if resp, err := hc.Get(h.httpURL() + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			h.kill()
			return fmt.Errorf("herald did not serve /healthz on port %d within 20s", h.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server at once, as a crash would.
func (h *heraldProc) kill() {
	h.mu.Lock()
	cmd, done := h.cmd, h.done
	h.cmd = nil
	h.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// restart starts the server again on the same port and database.
func (h *heraldProc) restart() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.run()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("restarting herald on port %d: %v", h.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *heraldProc) addr() string    { return net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port)) }
func (h *heraldProc) httpURL() string { return "http://" + h.addr() }
func (h *heraldProc) wsURL() string   { return "ws://" + h.addr() + "/ws" }

// token issues a connection token for user signed with the server's secret.
func (h *heraldProc) token(user string, ttl time.Duration, channels ...string) string {
	h.t.Helper()
	return issue(h.t, testSecret, user, ttl, channels...)
}

func issue(t *testing.T, secret, user string, ttl time.Duration, channels ...string) string {
	t.Helper()
	tok, err := jwt.NewIssuer(jwt.Config{Secret: []byte(secret)}).Issue(user, ttl, channels)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// api returns the server API client with the API key.
func (h *heraldProc) api() *client.API {
	h.t.Helper()
	tr := &http.Transport{}
	h.t.Cleanup(tr.CloseIdleConnections)
	a, err := client.NewAPI(client.APIConfig{URL: h.httpURL(), Auth: client.StaticToken(testAPIKey),
		HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// notify creates a notification for user through the server API.
func (h *heraldProc) notify(user, title string) *client.Notification {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := h.api().CreateNotification(ctx, client.NewNotification{UserID: user, Type: "test", Title: title, Message: "m"})
	if err != nil {
		h.t.Fatalf("creating a notification: %v", err)
	}
	if n.ID == "" || n.Seq <= 0 {
		h.t.Fatalf("created notification has no id or seq: %+v", n)
	}
	return n
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// manualClock records every wait the client asks for and lets the test
// decide when it ends, so a backoff sequence of minutes runs in no time.
type manualClock struct {
	waits chan *clockWait
}

type clockWait struct {
	d  time.Duration
	ch chan time.Time
}

func (w *clockWait) fire() { w.ch <- time.Now() }

func newManualClock() *manualClock { return &manualClock{waits: make(chan *clockWait, 1000)} }

func (m *manualClock) Now() time.Time { return time.Now() }

func (m *manualClock) After(d time.Duration) <-chan time.Time {
	w := &clockWait{d: d, ch: make(chan time.Time, 1)}
	m.waits <- w
	return w.ch
}

// next returns the next wait the client asked for, failing after 15s.
func (m *manualClock) next(t *testing.T) *clockWait {
	t.Helper()
	select {
	case w := <-m.waits:
		return w
	case <-time.After(15 * time.Second):
		t.Fatal("the client asked for no wait within 15s")
		return nil
	}
}

// none fails if the client has asked for a wait.
func (m *manualClock) none(t *testing.T) {
	t.Helper()
	select {
	case w := <-m.waits:
		t.Fatalf("the client waited %v; it should have retried at once", w.d)
	default:
	}
}

// recorder keeps what a client's event handlers saw.
type recorder struct {
	mu           sync.Mutex
	connected    int
	disconnected []error
	errors       []*client.Error
	messages     []client.Notification
	raw          []string
	reconnecting []int
	changed      chan struct{}
}

// record attaches a recorder to c.
func record(c *client.Client) *recorder {
	r := &recorder{changed: make(chan struct{}, 1)}
	note := func(f func()) {
		r.mu.Lock()
		f()
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
	c.OnConnected(func() { note(func() { r.connected++ }) })
	c.OnDisconnected(func(err error) { note(func() { r.disconnected = append(r.disconnected, err) }) })
	c.OnError(func(e *client.Error) { note(func() { r.errors = append(r.errors, e) }) })
	c.OnMessage(func(n client.Notification) { note(func() { r.messages = append(r.messages, n) }) })
	c.OnRaw(func(m json.RawMessage) { note(func() { r.raw = append(r.raw, string(m)) }) })
	c.OnReconnecting(func(n int) { note(func() { r.reconnecting = append(r.reconnecting, n) }) })
	return r
}

// until waits for cond, checked under the recorder's lock, failing after d.
func (r *recorder) until(t *testing.T, d time.Duration, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, m := range r.raw {
				t.Logf("received %s", m)
			}
			t.Fatalf("timed out after %v waiting for %s; connected=%d disconnected=%v reconnecting=%v messages=%d errors=%v",
				d, what, r.connected, r.disconnected, r.reconnecting, len(r.messages), r.errors)
		}
	}
}

// snapshot returns a copy of the counters under the lock.
func (r *recorder) get(f func(r *recorder)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// newClient returns a client for o, disconnected when the test ends.
func newClient(t *testing.T, o client.Options) (*client.Client, *recorder) {
	t.Helper()
	if o.HTTPClient == nil {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		o.HTTPClient = &http.Client{Transport: tr}
	}
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r := record(c)
	t.Cleanup(c.Disconnect)
	return c, r
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func asClientError(err error, target **client.Error) bool { return errors.As(err, target) }

// countRaw returns how many raw messages of type typ were received.
func (r *recorder) countRaw(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.countRawLocked(typ)
}

// herald runs a herald subcommand (such as user add) against the server's
// settings and database, failing the test if it fails.
func (h *heraldProc) herald(extraEnv []string, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(heraldBin(h.t), args...)
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(h.port)}, h.env...), extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("herald %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// addUser creates a login account whose tokens are for userID.
func (h *heraldProc) addUser(username, userID, password string) {
	h.t.Helper()
	h.herald([]string{"HERALD_PASSWORD=" + password}, "user", "add", "--user-id", userID, username)
}

// countingTransport counts the requests it carries by method and path, so
// a test can tell a login from a refresh from a cache hit.
type countingTransport struct {
	base *http.Transport

	mu     sync.Mutex
	counts map[string]int
}

func newCounting(t *testing.T) (*countingTransport, *http.Client) {
	ct := &countingTransport{base: &http.Transport{}, counts: map[string]int{}}
	t.Cleanup(ct.base.CloseIdleConnections)
	return ct, &http.Client{Transport: ct, Timeout: 10 * time.Second}
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.counts[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}
