package sse_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/internal/ssetest"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
	"github.com/heraldhq/herald/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("test-secret-test-secret-test-secret")

// env is a real Herald SSE endpoint on a loopback port, with a real hub,
// verifier and in-memory inbox behind it.
type env struct {
	t      *testing.T
	hub    *hub.Hub
	sse    *sse.Server
	inbox  *inbox.Service
	issuer *jwt.Issuer
	http   *httptest.Server
	client *http.Client
	url    string // http://127.0.0.1:port/sse
}

// newEnv starts an endpoint; tls serves it over HTTPS with HTTP/2.
func newEnv(t *testing.T, hcfg hub.Config, tls bool, mod func(*sse.Config)) *env {
	t.Helper()
	h := hub.New(hcfg)
	st := memory.NewStore(memory.Config{})
	ib, err := inbox.New(inbox.Config{Store: st, Publisher: memory.NewBroker(h)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sse.Config{Hub: h, Verifier: jwt.NewVerifier(jwt.Config{Secret: secret}), Inbox: ib}
	if mod != nil {
		mod(&cfg)
	}
	srv := sse.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/sse", srv)
	mux.Handle("/sse/", srv)
	hs := httptest.NewUnstartedServer(mux)
	if tls {
		hs.EnableHTTP2 = true
		hs.StartTLS()
	} else {
		hs.Start()
	}
	e := &env{t: t, hub: h, sse: srv, inbox: ib, issuer: jwt.NewIssuer(jwt.Config{Secret: secret}), http: hs,
		client: hs.Client(), url: hs.URL + "/sse"}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		hs.CloseClientConnections()
		hs.Close()
	})
	return e
}

func (e *env) token(user string, ttl time.Duration, channels ...string) string {
	tok, err := e.issuer.Issue(user, ttl, channels)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// get opens a stream with header h (a bearer added for token when not "")
// and the query q, and returns the response, not yet read.
func (e *env) get(token string, q url.Values, h http.Header) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"?"+q.Encode(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// open opens a stream that must start, and reads its events in the background.
func (e *env) open(token string, q url.Values, h http.Header) *ssetest.Stream {
	e.t.Helper()
	resp := e.get(token, q, h)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("GET /sse: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" {
		e.t.Fatalf("headers: %v", resp.Header)
	}
	return ssetest.Read(e.t, resp)
}

// post sends a client message for the stream; it returns the status and body.
func (e *env) post(stream, token, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/"+stream+"/messages", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// notify stores a notification for user and returns its seq.
func (e *env) notify(user, title string) int64 {
	e.t.Helper()
	res, err := e.inbox.Create(context.Background(), []*herald.NewNotification{{UserID: user, Type: "test", Title: title, Message: "m"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return res[0].Notification.Seq
}
