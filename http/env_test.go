package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/jwt"
)

const apiKey = "test-api-key-0123456789"

var (
	secret = []byte("http-test-secret-0123456789abcdef")
	epoch  = time.Date(2025, 11, 10, 8, 15, 30, 123456789, time.UTC)
)

// env is one Server on a loopback port with recording dependencies.
type env struct {
	t      testing.TB
	srv    *heraldhttp.Server
	url    string
	pub    *recPublisher
	inbox  *recInbox
	events *recEvents
	logs   *syncBuffer
	issuer *jwt.Issuer
}

// newEnv starts a Server with every dependency set; edit adjusts the Config first.
func newEnv(t testing.TB, edit func(*heraldhttp.Config)) *env {
	t.Helper()
	e := &env{
		t:      t,
		pub:    &recPublisher{delivered: 3},
		inbox:  newRecInbox(),
		logs:   &syncBuffer{},
		issuer: jwt.NewIssuer(jwt.Config{Secret: secret}),
	}
	e.events = &recEvents{inbox: e.inbox}
	cfg := heraldhttp.Config{
		Addr:      "127.0.0.1:0",
		APIKey:    apiKey,
		Publisher: e.pub,
		Stats: func(context.Context) (herald.Stats, []herald.NodeStats, error) {
			return herald.Stats{TotalConnections: 5, TotalUsers: 2, ChannelCounts: map[string]int{"news": 4}, Timestamp: epoch}, nil, nil
		},
		Inbox:    e.inbox,
		Events:   e.events,
		Verifier: jwt.NewVerifier(jwt.Config{Secret: secret}),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "# HELP herald_up 1\nherald_up 1\n")
		}),
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	e.srv = heraldhttp.NewServer(cfg)
	e.start()
	return e
}

// start listens on the configured port 0 and serves until the test ends.
func (e *env) start() {
	e.t.Helper()
	serveUntilCleanup(e.t, e.srv)
	e.url = "http://" + e.srv.Addr()
}

// serveUntilCleanup listens on s's address and serves until the test ends,
// then shuts s down and checks that both went cleanly.
func serveUntilCleanup(t testing.TB, s *heraldhttp.Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// token issues a user token for id.
func (e *env) token(id string) string {
	e.t.Helper()
	tok, err := e.issuer.Issue(id, time.Hour, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// errorCode returns the code and message of an error answer, checking its shape.
func (r response) errorCode(t *testing.T) (string, string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("not an error body: %q (%v)", r.body, err)
	}
	return b.Error.Code, b.Error.Message
}

// req is one request to send.
type req struct {
	method, path string
	auth         string // the Authorization header, verbatim
	body         string
	header       map[string]string
	reader       io.Reader // streamed body of unknown length, instead of body
}

func (e *env) do(q req) response {
	e.t.Helper()
	return e.send(http.DefaultClient, q)
}

// from sends q from the loopback address ip (such as 127.0.0.2), as another
// client host would.
func (e *env) from(ip string, q req) response {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	return e.send(&http.Client{Transport: tr}, q)
}

func (e *env) send(client *http.Client, q req) response {
	e.t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	if q.reader != nil {
		body = q.reader
	}
	r, err := http.NewRequest(q.method, e.url+q.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if q.auth != "" {
		r.Header.Set("Authorization", q.auth)
	}
	if q.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	resp, err := client.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// backend sends an API-key request.
func (e *env) backend(method, path, body string) response {
	e.t.Helper()
	return e.do(req{method: method, path: path, auth: "Bearer " + apiKey, body: body})
}

// as sends a request with user's token.
func (e *env) as(user, method, path string) response {
	e.t.Helper()
	return e.do(req{method: method, path: path, auth: "Bearer " + e.token(user)})
}

// expectError checks an answer is the JSON error status/code.
func expectError(t *testing.T, r response, status int, code herald.ErrorCode) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	got, msg := r.errorCode(t)
	if got != string(code) {
		t.Fatalf("code = %q, want %q (message %q)", got, code, msg)
	}
	return msg
}

// recPublisher records published messages.
type recPublisher struct {
	mu        sync.Mutex
	msgs      []*herald.Message
	delivered int
	err       error
}

func (p *recPublisher) Publish(ctx context.Context, m *herald.Message) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, p.err
	}
	p.msgs = append(p.msgs, m)
	return p.delivered, nil
}

func (p *recPublisher) last(t *testing.T) *herald.Message {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		t.Fatal("nothing published")
	}
	return p.msgs[len(p.msgs)-1]
}

func (p *recPublisher) failWith(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// all returns the messages published so far, in order.
func (p *recPublisher) all() []*herald.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

func (p *recPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

// recInbox is a small in-memory Inbox with the contract's semantics: seq per
// user, idempotency keys per user (replays come back Replayed), another
// user's id not found.
type recInbox struct {
	mu       sync.Mutex
	requests []*herald.NewNotification // every notification Create was given
	seq      int64
	version  int64
	all      []*herald.Notification
	keys     map[string]*herald.Notification // user + "\x00" + key
	err      error                           // returned by every call when set
	panics   bool
	calls    int
	// encode, when set, gives each new notification's Created.Encoded, as
	// the inbox fills it with the notification's wire JSON.
	encode func(*herald.Notification) json.RawMessage
}

func newRecInbox() *recInbox { return &recInbox{keys: map[string]*herald.Notification{}} }

// stored returns how many notifications the inbox holds.
func (b *recInbox) stored() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.all)
}

// callCount returns how many calls reached the inbox.
func (b *recInbox) callCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// failWith makes every later call return err, or panic.
func (b *recInbox) failWith(err error, panics bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err, b.panics = err, panics
}

func (b *recInbox) fail() error {
	b.calls++
	if b.panics {
		panic("inbox exploded")
	}
	return b.err
}

func (b *recInbox) Create(ctx context.Context, ns []*herald.NewNotification) ([]herald.Created, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail(); err != nil {
		return nil, err
	}
	out := make([]herald.Created, len(ns))
	b.requests = append(b.requests, ns...)
	for i, n := range ns {
		if err := n.Validate(); err != nil {
			if len(ns) > 1 { // as the inbox names the item
				return nil, herald.Errorf(herald.CodeOf(err), "notifications[%d]: %s", i, herald.ErrorMessage(err))
			}
			return nil, err
		}
	}
	for i, n := range ns {
		k := n.UserID + "\x00" + n.IdempotencyKey
		if old, ok := b.keys[k]; ok && n.IdempotencyKey != "" {
			c := *old
			out[i] = herald.Created{Notification: &c, Replayed: true}
			continue
		}
		c := herald.Notification{ID: n.ID, UserID: n.UserID, Type: n.Type, Title: n.Title, Message: n.Message,
			Link: n.Link, Data: n.Data, IdempotencyKey: n.IdempotencyKey}
		b.seq++
		c.Seq = b.seq
		if c.ID == "" {
			c.ID = "n" + strconv.FormatInt(c.Seq, 10)
		}
		c.CreatedAt, c.Timestamp = epoch, epoch
		b.all = append(b.all, &c)
		if n.IdempotencyKey != "" {
			b.keys[k] = &c
		}
		r := c
		out[i] = herald.Created{Notification: &r, Unread: b.unread(n.UserID)}
		if b.encode != nil {
			out[i].Encoded = b.encode(&r)
		}
	}
	return out, nil
}

// unread returns userID's count with a new version. b.mu must be held.
func (b *recInbox) unread(userID string) herald.Unread {
	n := 0
	for _, x := range b.all {
		if x.UserID == userID && !x.Read {
			n++
		}
	}
	b.version++
	return herald.Unread{Count: n, Version: b.version}
}

func (b *recInbox) find(userID, id string) *herald.Notification {
	for _, n := range b.all {
		if n.UserID == userID && n.ID == id {
			return n
		}
	}
	return nil
}

func (b *recInbox) MarkRead(ctx context.Context, userID, id string) (herald.Unread, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail(); err != nil {
		return herald.Unread{}, err
	}
	n := b.find(userID, id)
	if n == nil {
		return herald.Unread{}, herald.Errorf(herald.ENOTFOUND, "notification not found")
	}
	n.Read = true
	return b.unread(userID), nil
}

func (b *recInbox) MarkAllRead(ctx context.Context, userID string) (int, herald.Unread, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail(); err != nil {
		return 0, herald.Unread{}, err
	}
	changed := 0
	for _, n := range b.all {
		if n.UserID == userID && !n.Read {
			n.Read = true
			changed++
		}
	}
	return changed, b.unread(userID), nil
}

func (b *recInbox) Delete(ctx context.Context, userID, id string) (herald.Unread, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail(); err != nil {
		return herald.Unread{}, err
	}
	for i, n := range b.all {
		if n.UserID == userID && n.ID == id {
			b.all = append(b.all[:i], b.all[i+1:]...)
			return b.unread(userID), nil
		}
	}
	return herald.Unread{}, herald.Errorf(herald.ENOTFOUND, "notification not found")
}

func (b *recInbox) List(ctx context.Context, f herald.NotificationFilter) ([]*herald.Notification, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail(); err != nil {
		return nil, err
	}
	var out []*herald.Notification
	for _, n := range b.all {
		if n.UserID == f.UserID && (!f.UnreadOnly || !n.Read) && (f.Before == 0 || n.Seq < f.Before) {
			c := *n
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq })
	if f.Limit == 0 {
		f.Limit = 50
	}
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (b *recInbox) UnreadCount(ctx context.Context, userID string) (herald.Unread, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail(); err != nil {
		return herald.Unread{}, err
	}
	n := 0
	for _, x := range b.all {
		if x.UserID == userID && !x.Read {
			n++
		}
	}
	return herald.Unread{Count: n, Version: b.version}, nil
}

// recEvents turns an event into one notification for data.userId, and
// refuses unknown events as EUNPROCESSABLE, as the events package does.
type recEvents struct {
	inbox *recInbox
	mu    sync.Mutex
	last  *herald.Event
}

func (h *recEvents) HandleEvent(ctx context.Context, e *herald.Event) ([]herald.Created, error) {
	h.mu.Lock()
	h.last = e
	h.mu.Unlock()
	if e.Name != "booking:confirmed" {
		return nil, herald.Errorf(herald.EUNPROCESSABLE, "unknown event %q", e.Name)
	}
	user, _ := e.Data["userId"].(string)
	n := &herald.NewNotification{UserID: user, Type: "booking_confirmation", Title: "Booking Confirmed"}
	if e.ID != "" {
		n.IdempotencyKey = "event:" + e.ID + ":0"
	}
	return h.inbox.Create(ctx, []*herald.NewNotification{n})
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// waitFor waits until the log holds s, for lines the server writes after
// the client already has its answer. It fails the test after a long while.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		ch := b.written
		b.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("log never held %q:\n%s", s, b.String())
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
