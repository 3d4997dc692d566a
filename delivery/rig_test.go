package delivery_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/pushtest"
	"github.com/heraldhq/herald/internal/smtptest"
	"github.com/heraldhq/herald/postgres"
	smsapi "github.com/heraldhq/herald/sms"
	"github.com/heraldhq/herald/smtp"
	"github.com/heraldhq/herald/sqlite"
	webhookapi "github.com/heraldhq/herald/webhook"
	"github.com/heraldhq/herald/webpush"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

const (
	smsSID, smsToken = "AC-test", "sms-token-secret"
	hookSecret       = "ana-webhook-secret-0123"
)

// clock is the injected time every part of a rig reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// store is what a rig opens: notifications, outbox and preferences.
type store interface {
	herald.Store
	delivery.Store
}

// backend opens a store for a test; reopening opens the same database again.
type backend struct {
	name string
	open func(t *testing.T, now func() time.Time) (reopen func() store)
}

// backends are the stores the outbox tests run on.
var backends = []backend{
	{"sqlite", func(t *testing.T, now func() time.Time) func() store {
		path := filepath.Join(t.TempDir(), "herald.db")
		return func() store {
			s, err := sqlite.Open(ctx, sqlite.Config{Path: path, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
	{"postgres", func(t *testing.T, now func() time.Time) func() store {
		url := pgtest.NewDatabase(t)
		return func() store {
			s, err := postgres.Open(ctx, postgres.Config{URL: url, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
}

// forEachBackend runs fn on every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// rig is a delivery Service on a real store with real peers for every
// channel: an SMTP server, an SMS provider, a push service and a webhook.
type rig struct {
	t      *testing.T
	clock  *clock
	reopen func() store
	store  store
	svc    *delivery.Service
	box    herald.Inbox
	reg    *prometheusRegistry

	smtp     *smtptest.Server
	sms      *smsProvider
	push     *pushtest.Service
	browser  *pushtest.Browser
	hook     *hookReceiver
	senders  map[herald.Channel]herald.ChannelSender
	policies map[string]herald.TypePolicy
	edit     func(*delivery.Config)
}

// rigPolicies are the type policies of the outbox tests.
var rigPolicies = map[string]herald.TypePolicy{
	"alert": {Channels: map[herald.Channel]bool{email: true, sms: true, push: true, webhook: true}},
	"mail":  {Channels: map[herald.Channel]bool{email: true}},
	"text":  {Channels: map[herald.Channel]bool{sms: true}},
	"hook":  {Channels: map[herald.Channel]bool{webhook: true}},
	"payment_due": {Escalation: []herald.Escalation{
		{After: 10 * time.Minute, Channel: push}, {After: time.Hour, Channel: email},
	}},
	"newsletter": {Channels: map[herald.Channel]bool{email: true}, Digest: true},
}

// newRig starts the peers, opens the store with b and saves ana's contact
// points and a push subscription.
func newRig(t *testing.T, b backend, edit func(*delivery.Config)) *rig {
	t.Helper()
	r := &rig{t: t, clock: &clock{t: time.Date(2030, 5, 6, 10, 0, 0, 0, time.UTC)}, edit: edit, policies: rigPolicies}
	r.reopen = b.open(t, r.clock.Now)

	r.smtp = smtptest.Start(t)
	mail, err := smtp.New(smtp.Config{Host: r.smtp.Host, Port: r.smtp.Port, Username: smtptest.Username, Password: smtptest.Password,
		From: "Herald <notify@herald.example>", TLSConfig: &tls.Config{RootCAs: r.smtp.Roots}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.sms = newSMSProvider(t)
	text, err := smsapi.New(smsapi.Config{BaseURL: r.sms.srv.URL, AccountSID: smsSID, AuthToken: smsToken, From: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	r.push = pushtest.Start(t, pub)
	pusher, err := webpush.New(webpush.Config{VAPIDPublicKey: pub, VAPIDPrivateKey: priv, Subscriber: "ops@herald.example", Client: r.push.Client()})
	if err != nil {
		t.Fatal(err)
	}
	r.hook = newHookReceiver(t)
	r.senders = map[herald.Channel]herald.ChannelSender{
		email: mail, sms: text, push: pusher,
		webhook: webhookapi.NewUserSender(webhookapi.UserConfig{AllowPrivate: true, Now: r.clock.Now}),
	}
	r.open()

	_, err = r.store.UpdatePreferences(ctx, "ana", func(p *herald.Preferences) error {
		p.Email, p.Phone = "ana@example.com", "+14155550100"
		p.WebhookURL, p.WebhookSecret = r.hook.srv.URL, hookSecret
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.browser = r.push.Subscribe("ana")
	if err := r.store.SavePushSubscription(ctx, r.browser.Subscription); err != nil {
		t.Fatal(err)
	}
	return r
}

// open opens the store (again) and builds a fresh inbox and Service on it,
// as a restarted process does.
func (r *rig) open() {
	r.t.Helper()
	r.store = r.reopen()
	cfg := delivery.Config{
		Store: r.store, Senders: r.senders, Policies: r.policies, Now: r.clock.Now,
		RetryBase: time.Minute, RetryMax: 10 * time.Minute, MaxAttempts: 4,
		SendTimeout: 5 * time.Second, Lease: 2 * time.Minute, DigestPeriod: time.Hour,
		Logger: slog.New(slog.DiscardHandler), Metrics: delivery.NewMetrics(),
	}
	if r.edit != nil {
		r.edit(&cfg)
	}
	var err error
	r.svc, err = delivery.New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	ib, err := inbox.New(inbox.Config{Store: r.store, Planner: r.svc.Planner(), AfterCreate: r.svc.Planned, Now: r.clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		r.t.Fatal(err)
	}
	r.reg = newRegistry(r.t, r.svc, cfg.Metrics)
	r.box = r.svc.Inbox(ib)
}

// create creates one notification for ana through the planning inbox.
func (r *rig) create(typ, title string, edit ...func(*herald.NewNotification)) *herald.Notification {
	r.t.Helper()
	n := &herald.NewNotification{UserID: "ana", Type: typ, Title: title, Message: "about " + title}
	for _, e := range edit {
		e(n)
	}
	out, err := r.box.Create(ctx, []*herald.NewNotification{n})
	if err != nil {
		r.t.Fatal(err)
	}
	return out[0].Notification
}

// deliveries returns the stored deliveries of n by channel.
func (r *rig) deliveries(n *herald.Notification) map[herald.Channel][]*herald.Delivery {
	r.t.Helper()
	ds, err := r.store.FindDeliveries(ctx, herald.DeliveryFilter{NotificationID: n.ID})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[herald.Channel][]*herald.Delivery{}
	for _, d := range ds {
		out[d.Channel] = append(out[d.Channel], d)
	}
	return out
}

// only returns the one delivery of n over c.
func (r *rig) only(n *herald.Notification, c herald.Channel) *herald.Delivery {
	r.t.Helper()
	ds := r.deliveries(n)[c]
	if len(ds) != 1 {
		r.t.Fatalf("notification %q has %d %s deliveries, want 1", n.Title, len(ds), c)
	}
	return ds[0]
}

// smsProvider stands in for the SMS provider: it sends a message once per
// idempotency key, as a provider that honours the key does, and can hold a
// request until released.
type smsProvider struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests map[string]int    // idempotency key -> requests
	sent     map[string]string // idempotency key -> body
	hold     chan struct{}     // when set, requests wait for it to close
	arrived  chan struct{}     // signalled when a held request arrives
}

func newSMSProvider(t *testing.T) *smsProvider {
	p := &smsProvider{requests: map[string]int{}, sent: map[string]string{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != smsSID || pw != smsToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		p.mu.Lock()
		p.requests[key]++
		if _, dup := p.sent[key]; !dup {
			p.sent[key] = r.PostForm.Get("Body")
		}
		hold, arrived := p.hold, p.arrived
		p.mu.Unlock()
		if hold != nil {
			arrived <- struct{}{}
			<-hold
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"sid":"SM1","status":"queued"}`)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// counts returns how many requests came and how many messages went.
func (p *smsProvider) counts() (requests, sent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.requests {
		requests += n
	}
	return requests, len(p.sent)
}

// hookReceiver is ana's webhook: it verifies signatures as a receiver would,
// and answers status when set.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []webhookapi.DeliveryEvent
	status int
	tries  int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The signing clock is the rig's; the receiver checks the MAC
		// and that the timestamp is the injected one, within a day.
		h.mu.Lock()
		defer h.mu.Unlock()
		h.tries++
		if err := webhookapi.Verify([]byte(hookSecret), r.Header.Get(webhookapi.SignatureHeader), body, time.Date(2030, 5, 6, 12, 0, 0, 0, time.UTC), 24*time.Hour); err != nil {
			t.Errorf("webhook signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if h.status != 0 {
			w.WriteHeader(h.status)
			return
		}
		var ev webhookapi.DeliveryEvent
		if err := jsonUnmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.got = append(h.got, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) answer(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = status
}

func (h *hookReceiver) events() []webhookapi.DeliveryEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhookapi.DeliveryEvent(nil), h.got...)
}
