package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/sms"
)

const (
	sid   = "AC0123456789abcdef"
	token = "tok-very-secret"
)

// provider stands in for the SMS provider's Messages API: it checks what a
// real one checks, and sends a message once per idempotency key.
type provider struct {
	t        *testing.T
	mu       sync.Mutex
	requests int
	sent     map[string]form // idempotency key -> message
	status   int             // answer instead of sending, when set
	body     string
	header   http.Header
}

type form = map[string]string

func newProvider(t *testing.T) (*provider, *httptest.Server) {
	p := &provider{t: t, sent: map[string]form{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+sid+"/Messages.json" {
		http.Error(w, "no such route", http.StatusNotFound)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != sid || pass != token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		p.t.Errorf("Content-Type %q", ct)
	}
	if p.status != 0 {
		for k, v := range p.header {
			w.Header()[k] = v
		}
		w.WriteHeader(p.status)
		w.Write([]byte(p.body))
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		p.t.Error("no idempotency key")
	}
	if _, dup := p.sent[key]; !dup {
		p.sent[key] = form{"To": r.PostForm.Get("To"), "From": r.PostForm.Get("From"), "Body": r.PostForm.Get("Body")}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"sid": "SM" + key, "status": "queued"})
}

func (p *provider) answer(status int, body string, header http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body, p.header = status, body, header
}

func newSender(t *testing.T, base string) *sms.Sender {
	s, err := sms.New(sms.Config{BaseURL: base, AccountSID: sid, AuthToken: token, From: "+15005550006", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outbound(id string) *herald.Outbound {
	return &herald.Outbound{
		Delivery:      &herald.Delivery{ID: id, Channel: herald.ChannelSMS},
		Notifications: []*herald.Notification{{Title: "Payment due", Message: "You owe $12.", Link: "https://app.example/p/7"}},
		Phone:         "+14155550100",
	}
}

func TestSendAndIdempotency(t *testing.T) {
	p, srv := newProvider(t)
	s := newSender(t, srv.URL)
	ctx := context.Background()
	for range 2 { // a retry of the same delivery
		if err := s.Send(ctx, outbound("d-1")); err != nil {
			t.Fatal(err)
		}
	}
	if p.requests != 2 || len(p.sent) != 1 {
		t.Fatalf("%d requests sent %d messages; want 2 requests, 1 message", p.requests, len(p.sent))
	}
	got := p.sent["d-1"]
	want := form{"To": "+14155550100", "From": "+15005550006", "Body": "Payment due: You owe $12. https://app.example/p/7"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestErrorsSayWhetherToRetry(t *testing.T) {
	p, srv := newProvider(t)
	s := newSender(t, srv.URL)
	ctx := context.Background()
	cases := []struct {
		status int
		body   string
		header http.Header
		code   herald.ErrorCode
	}{
		{400, `{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}`, nil, herald.EUNPROCESSABLE},
		{429, `{"code":20429,"message":"Too Many Requests"}`, http.Header{"Retry-After": {"7"}}, herald.ERATELIMIT},
		{503, ``, nil, herald.EUNAVAILABLE},
		{401, ``, nil, herald.EUNAVAILABLE},
	}
	for _, c := range cases {
		p.answer(c.status, c.body, c.header)
		err := s.Send(ctx, outbound("d-2"))
		if herald.CodeOf(err) != c.code {
			t.Fatalf("%d answer = %v, want %s", c.status, err, c.code)
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "valid phone") {
			t.Fatalf("error %q quotes a secret or the provider's text", err)
		}
		var ra interface{ RetryAfter() time.Duration }
		if c.status == 429 && (!errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second) {
			t.Fatalf("429 error %v carries no Retry-After of 7s", err)
		}
	}
	srv.Close()
	if err := s.Send(ctx, outbound("d-3")); herald.CodeOf(err) != herald.EUNAVAILABLE {
		t.Fatalf("a provider that is down = %v, want EUNAVAILABLE", err)
	}
}

func TestText(t *testing.T) {
	n := &herald.Notification{Title: " Hi ", Message: "line\nbreak", Link: ""}
	if got := sms.Text(n, 100); got != "Hi: line break" {
		t.Fatalf("Text = %q", got)
	}
	long := &herald.Notification{Title: strings.Repeat("é", 50)}
	if got := sms.Text(long, 10); got != strings.Repeat("é", 9)+"…" {
		t.Fatalf("Text cut = %q", got)
	}
}

func TestConfig(t *testing.T) {
	bad := []sms.Config{
		{AuthToken: token, From: "+1"},
		{AccountSID: sid, AuthToken: token},
		{AccountSID: sid, AuthToken: token, From: "+1", BaseURL: "ftp://x"},
	}
	for _, c := range bad {
		if _, err := sms.New(c); herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("New(%+v) = %v, want EINVALID", c, err)
		}
	}
}
