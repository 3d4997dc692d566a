package delivery_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/webpush"
)

var jsonUnmarshal = json.Unmarshal

// prometheusRegistry reads the Service's metrics as a scrape would.
type prometheusRegistry struct {
	t   *testing.T
	reg *prometheus.Registry
}

func newRegistry(t *testing.T, svc *delivery.Service, m *delivery.Metrics) *prometheusRegistry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	reg.MustRegister(svc.Collector())
	return &prometheusRegistry{t: t, reg: reg}
}

// value returns the metric name with labels, or 0 when absent.
func (p *prometheusRegistry) value(name string, labels map[string]string) float64 {
	p.t.Helper()
	fams, err := p.reg.Gather()
	if err != nil {
		p.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// TestEveryChannelDeliversOnce sends one notification over email, SMS, push
// and webhook, each to its real peer, and checks what each received.
func TestEveryChannelDeliversOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := newRig(t, b, nil)
		n := r.create("alert", "Server on fire", func(n *herald.NewNotification) { n.Link = "https://app.example/incidents/9" })
		if got := r.svc.RunOnce(ctx); got != 4 {
			t.Fatalf("RunOnce finished %d deliveries, want 4", got)
		}

		mails := r.smtp.Messages()
		if len(mails) != 1 || mails[0].Subject() != "Server on fire" || !strings.Contains(mails[0].Text, "https://app.example/incidents/9") || !mails[0].TLS {
			t.Fatalf("SMTP server got %d messages: %+v", len(mails), mails)
		}
		if reqs, sent := r.sms.counts(); reqs != 1 || sent != 1 {
			t.Fatalf("SMS provider got %d requests, sent %d", reqs, sent)
		}
		pushes := r.push.Messages()
		if len(pushes) != 1 {
			t.Fatalf("push service got %d pushes", len(pushes))
		}
		var p webpush.Payload
		if err := json.Unmarshal(pushes[0].Plaintext, &p); err != nil || p.Notification.ID != n.ID || p.Notification.Title != "Server on fire" {
			t.Fatalf("decrypted push = %s (%v)", pushes[0].Plaintext, err)
		}
		hooks := r.hook.events()
		if len(hooks) != 1 || hooks[0].Notification.ID != n.ID || hooks[0].DeliveryID != r.only(n, webhook).ID {
			t.Fatalf("webhook got %+v", hooks)
		}
		for c, ds := range r.deliveries(n) {
			for _, d := range ds {
				if d.Status != herald.DeliverySent || d.Attempts != 1 || d.SentAt == nil {
					t.Fatalf("%s delivery = %+v, want sent at the first attempt", c, d)
				}
			}
		}
		if got := r.svc.RunOnce(ctx); got != 0 || len(r.smtp.Messages()) != 1 {
			t.Fatalf("a second run sent again: %d", got)
		}
		if v := r.reg.value("herald_delivery_attempts_total", map[string]string{"channel": "email", "result": "sent"}); v != 1 {
			t.Fatalf("attempts metric email/sent = %v, want 1", v)
		}
		// Creating the same notification again (an idempotent retry by the
		// backend) plans nothing new.
		again, err := r.box.Create(ctx, []*herald.NewNotification{{UserID: "ana", Type: "alert", Title: "x", IdempotencyKey: "k"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.box.Create(ctx, []*herald.NewNotification{{UserID: "ana", Type: "alert", Title: "x", IdempotencyKey: "k"}}); err != nil {
			t.Fatal(err)
		}
		r.svc.RunOnce(ctx)
		if len(r.deliveries(again[0].Notification)[email]) != 1 || len(r.smtp.Messages()) != 2 {
			t.Fatalf("an idempotent replay planned again: %d emails sent", len(r.smtp.Messages()))
		}
	})
}

// TestSMTPRefusesThenAccepts: the mail server defers twice (451), then
// accepts; the email goes out once, at the third attempt, after backoff.
func TestSMTPRefusesThenAccepts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := newRig(t, b, nil)
		r.smtp.Defer(2)
		n := r.create("mail", "Invoice ready")
		for attempt := 1; attempt <= 2; attempt++ {
			r.svc.RunOnce(ctx)
			d := r.only(n, email)
			if d.Status != herald.DeliveryFailed || d.Attempts != attempt || !strings.Contains(d.LastError, "451") || !d.DueAt.After(r.clock.Now()) {
				t.Fatalf("after attempt %d: %+v", attempt, d)
			}
			// Not before the backoff.
			if got := r.svc.RunOnce(ctx); got != 0 {
				t.Fatalf("retried before its time: %d", got)
			}
			r.clock.Add(10 * time.Minute) // RetryMax: past any backoff
		}
		r.svc.RunOnce(ctx)
		d := r.only(n, email)
		if d.Status != herald.DeliverySent || d.Attempts != 3 {
			t.Fatalf("after the server accepted: %+v", d)
		}
		if got := len(r.smtp.Messages()); got != 1 || r.smtp.Attempts() != 3 {
			t.Fatalf("server accepted %d messages of %d attempts, want 1 of 3", got, r.smtp.Attempts())
		}
	})
}

// TestKilledMidRetry: the first attempt is deferred; the process dies
// (store closed, worker gone) and restarts on the same database; the email
// goes out once.
func TestKilledMidRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := newRig(t, b, nil)
		r.smtp.Defer(1)
		n := r.create("mail", "Contract expiring")
		r.svc.RunOnce(ctx)
		if d := r.only(n, email); d.Status != herald.DeliveryFailed {
			t.Fatalf("first attempt: %+v", d)
		}
		if err := r.store.Close(); err != nil {
			t.Fatal(err)
		}
		r.clock.Add(10 * time.Minute)
		r.open() // a new process on the same database
		if got := r.svc.RunOnce(ctx); got != 1 {
			t.Fatalf("the restarted worker finished %d deliveries, want 1", got)
		}
		if d := r.only(n, email); d.Status != herald.DeliverySent || d.Attempts != 2 {
			t.Fatalf("after restart: %+v", d)
		}
		if got := len(r.smtp.Messages()); got != 1 {
			t.Fatalf("server accepted %d messages, want 1", got)
		}
	})
}

// TestKilledMidSend: a worker dies while the SMS provider is handling its
// request, before it can record the outcome. Its lease expires; the next
// worker sends again with the same idempotency key, and the provider sends
// one message.
func TestKilledMidSend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := newRig(t, b, nil)
		n := r.create("text", "Your code is 123456")
		hold, arrived := make(chan struct{}), make(chan struct{}, 1)
		r.sms.mu.Lock()
		r.sms.hold, r.sms.arrived = hold, arrived
		r.sms.mu.Unlock()

		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); r.svc.RunOnce(ctx) }()
		<-arrived
		// The process dies: its database connection goes first.
		if err := r.store.Close(); err != nil {
			t.Fatal(err)
		}
		r.sms.mu.Lock()
		r.sms.hold = nil
		r.sms.mu.Unlock()
		close(hold)
		wg.Wait()

		r.open()
		if got := r.svc.RunOnce(ctx); got != 0 {
			t.Fatalf("a leased delivery was taken before its lease ended: %d", got)
		}
		r.clock.Add(2*time.Minute + time.Second) // the dead worker's lease expires
		if got := r.svc.RunOnce(ctx); got != 1 {
			t.Fatalf("after the lease, %d deliveries finished, want 1", got)
		}
		d := r.only(n, sms)
		if d.Status != herald.DeliverySent || d.Attempts != 2 {
			t.Fatalf("after the retry: %+v", d)
		}
		if reqs, sent := r.sms.counts(); reqs != 2 || sent != 1 {
			t.Fatalf("provider got %d requests and sent %d messages; want 2 requests (same key), 1 message", reqs, sent)
		}
		r.sms.mu.Lock()
		sameKey := r.sms.requests[d.ID]
		r.sms.mu.Unlock()
		if sameKey != 2 {
			t.Fatalf("the retry used another idempotency key: %d requests with the delivery id", sameKey)
		}
	})
}

// TestPermanentFailureEndsDead: a webhook that always answers 503 is tried
// MaxAttempts times, then the delivery is dead, in the API and the metrics;
// a refusal for good (400) is dead at once.
func TestPermanentFailureEndsDead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := newRig(t, b, nil)
		r.hook.answer(http.StatusServiceUnavailable)
		n := r.create("hook", "Build failed")
		for range 6 {
			r.svc.RunOnce(ctx)
			r.clock.Add(10 * time.Minute)
		}
		d := r.only(n, webhook)
		if d.Status != herald.DeliveryDead || d.Attempts != 4 || d.LastError != "the webhook answered 503" {
			t.Fatalf("after retries: %+v", d)
		}
		r.hook.mu.Lock()
		tries := r.hook.tries
		r.hook.mu.Unlock()
		if tries != 4 {
			t.Fatalf("webhook tried %d times, want 4", tries)
		}
		if v := r.reg.value("herald_outbox_deliveries", map[string]string{"status": "dead"}); v != 1 {
			t.Fatalf("outbox gauge dead = %v, want 1", v)
		}
		if v := r.reg.value("herald_delivery_attempts_total", map[string]string{"channel": "webhook", "result": "failed"}); v != 3 {
			t.Fatalf("failed attempts metric = %v, want 3", v)
		}
		dead, err := r.store.FindDeliveries(ctx, herald.DeliveryFilter{UserID: "ana", Status: herald.DeliveryDead})
		if err != nil || len(dead) != 1 || dead[0].ID != d.ID {
			t.Fatalf("dead deliveries = %+v, %v", dead, err)
		}

		r.hook.answer(http.StatusBadRequest)
		n2 := r.create("hook", "Refused")
		r.svc.RunOnce(ctx)
		if d := r.only(n2, webhook); d.Status != herald.DeliveryDead || d.Attempts != 1 {
			t.Fatalf("a 400 answer: %+v, want dead at once", d)
		}
	})
}

// TestEscalation: "if still unread after 10 minutes, push; after an hour,
// email", driven by the injected clock, cancelled by a read on any path.
func TestEscalation(t *testing.T) {
	r := newRig(t, backends[0], nil)
	read := r.create("payment_due", "Read in time")
	unread := r.create("payment_due", "Never read")
	if r.svc.RunOnce(ctx) != 0 {
		t.Fatal("an escalation went out at once")
	}
	r.clock.Add(10 * time.Minute)
	if got := r.svc.RunOnce(ctx); got != 2 {
		t.Fatalf("after 10 minutes %d pushes, want 2", got)
	}
	if n := len(r.push.Messages()); n != 2 || r.push.Messages()[0].Urgency != "high" {
		t.Fatalf("push service got %d pushes", n)
	}
	if _, err := r.box.MarkRead(ctx, "ana", read.ID); err != nil {
		t.Fatal(err)
	}
	// Cancelled the moment it is read, not when it falls due.
	if d := r.only(read, email); d.Status != herald.DeliveryCancelled {
		t.Fatalf("email escalation after the read: %+v", d)
	}
	r.clock.Add(50 * time.Minute)
	if got := r.svc.RunOnce(ctx); got != 1 {
		t.Fatalf("after an hour %d emails, want 1", got)
	}
	mails := r.smtp.Messages()
	if len(mails) != 1 || mails[0].Subject() != "Never read" {
		t.Fatalf("emails: %d, first %q", len(mails), mails[0].Subject())
	}
	if d := r.only(unread, email); d.Status != herald.DeliverySent || d.Kind != herald.DeliveryEscalation {
		t.Fatalf("email escalation of the unread one: %+v", d)
	}

	// Read everywhere at once, before anything escalates.
	third := r.create("payment_due", "Read with all")
	if _, _, err := r.box.MarkAllRead(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	for c, ds := range r.deliveries(third) {
		if ds[0].Status != herald.DeliveryCancelled {
			t.Fatalf("%s escalation after mark-all-read: %+v", c, ds[0])
		}
	}
	// Read straight through the store (another node's inbox): the worker
	// cancels when it falls due.
	fourth := r.create("payment_due", "Read elsewhere")
	if _, _, err := r.store.MarkRead(ctx, "ana", fourth.ID, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(2 * time.Hour)
	r.svc.RunOnce(ctx)
	if len(r.push.Messages()) != 2 || len(r.smtp.Messages()) != 1 {
		t.Fatalf("read notifications escalated: %d pushes, %d emails", len(r.push.Messages()), len(r.smtp.Messages()))
	}
	if d := r.only(fourth, push); d.Status != herald.DeliveryCancelled {
		t.Fatalf("escalation of a notification read elsewhere: %+v", d)
	}
}

// TestDigest gathers low-priority notifications into one email per period.
func TestDigest(t *testing.T) {
	r := newRig(t, backends[0], nil) // hourly digests (DigestPeriod 1h); the clock starts at 10:00
	r.clock.Add(5 * time.Minute)
	for _, title := range []string{"Weekly tips", "New features", "Community news"} {
		r.create("newsletter", title)
		r.clock.Add(15 * time.Minute) // 10:05, 10:20, 10:35
	}
	if got := r.svc.RunOnce(ctx); got != 0 || len(r.smtp.Messages()) != 0 {
		t.Fatalf("digest items went out before the period ended: %d", got)
	}
	r.clock.Add(10 * time.Minute) // 11:00
	if got := r.svc.RunOnce(ctx); got != 3 {
		t.Fatalf("the digest finished %d items, want 3", got)
	}
	mails := r.smtp.Messages()
	if len(mails) != 1 || mails[0].Subject() != "3 new notifications" {
		t.Fatalf("%d emails, subject %q; want one digest", len(mails), mails[0].Subject())
	}
	for _, title := range []string{"Weekly tips", "New features", "Community news"} {
		if !strings.Contains(mails[0].Text, title) || !strings.Contains(mails[0].HTML, title) {
			t.Fatalf("the digest lacks %q", title)
		}
	}

	// Next period: a read item stays out, a critical one does not wait.
	r.clock.Add(10 * time.Minute)
	read := r.create("newsletter", "Already seen")
	r.create("newsletter", "Still new")
	r.create("newsletter", "Urgent recall", func(n *herald.NewNotification) { n.Critical = true })
	if _, err := r.box.MarkRead(ctx, "ana", read.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.svc.RunOnce(ctx); got != 1 || r.smtp.Messages()[1].Subject() != "Urgent recall" {
		t.Fatalf("the critical item: %d sent, %d emails", got, len(r.smtp.Messages()))
	}
	r.clock.Add(time.Hour)
	r.svc.RunOnce(ctx)
	mails = r.smtp.Messages()
	if len(mails) != 3 || mails[2].Subject() != "1 new notification" || !strings.Contains(mails[2].Text, "Still new") || strings.Contains(mails[2].Text, "Already seen") {
		t.Fatalf("second digest: %d emails, last %q", len(mails), mails[len(mails)-1].Text)
	}
}

// TestInAppOff: a user who turned in_app off for a type still gets the
// email, and the notification does not count as unread.
func TestInAppOff(t *testing.T) {
	r := newRig(t, backends[0], nil)
	if _, err := r.store.UpdatePreferences(ctx, "ana", func(p *herald.Preferences) error {
		p.Types = map[string]map[herald.Channel]bool{"mail": {inApp: false}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n := r.create("mail", "Receipt")
	if !n.Read {
		t.Fatal("the created notification is not read")
	}
	if u, err := r.box.UnreadCount(ctx, "ana"); err != nil || u.Count != 0 {
		t.Fatalf("unread count = %d, %v; want 0", u.Count, err)
	}
	r.svc.RunOnce(ctx)
	if len(r.smtp.Messages()) != 1 {
		t.Fatal("the email did not go")
	}
}

// TestQuietHours: at 23:00 in the user's zone an SMS waits for 07:00, unless
// it is critical.
func TestQuietHours(t *testing.T) {
	r := newRig(t, backends[0], nil)
	if _, err := r.store.UpdatePreferences(ctx, "ana", func(p *herald.Preferences) error {
		p.TimeZone = "Asia/Tokyo" // 10:00 UTC is 19:00 in Tokyo
		p.QuietHours = &herald.QuietHours{Start: "18:00", End: "07:00"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	held := r.create("text", "Weekly report")
	r.create("text", "Login from a new device", func(n *herald.NewNotification) { n.Critical = true })
	if got := r.svc.RunOnce(ctx); got != 1 {
		t.Fatalf("in quiet hours %d SMS went, want the critical one", got)
	}
	d := r.only(held, sms)
	if want := time.Date(2030, 5, 6, 22, 0, 0, 0, time.UTC); !d.DueAt.Equal(want) || !d.UnlessRead {
		t.Fatalf("held SMS due %v (unless read %v), want %v", d.DueAt, d.UnlessRead, want)
	}
	r.clock.Add(12 * time.Hour)
	if got := r.svc.RunOnce(ctx); got != 1 {
		t.Fatalf("after quiet hours %d SMS went, want 1", got)
	}
}

// TestExpiredPushSubscriptionIsRemoved: a push service answering 410 ends
// the delivery and removes the subscription, so no more are planned.
func TestExpiredPushSubscriptionIsRemoved(t *testing.T) {
	r := newRig(t, backends[0], nil)
	r.push.Unsubscribe(r.browser)
	n := r.create("alert", "Ping")
	r.svc.RunOnce(ctx)
	if d := r.only(n, push); d.Status != herald.DeliveryDead {
		t.Fatalf("push to an expired subscription: %+v", d)
	}
	subs, err := r.store.FindPushSubscriptions(ctx, "ana")
	if err != nil || len(subs) != 0 {
		t.Fatalf("subscriptions after a 410: %+v, %v", subs, err)
	}
	if ds := r.deliveries(r.create("alert", "Again"))[push]; len(ds) != 0 {
		t.Fatalf("push planned without a subscription: %+v", ds)
	}
}

// TestRunLoop runs the workers for real: a new notification wakes them and
// its deliveries go out without RunOnce.
func TestRunLoop(t *testing.T) {
	// The rig's clock stands still, and the store plans by it: woken
	// workers find the deliveries due at once, with polling an hour away.
	r := newRig(t, backends[0], func(c *delivery.Config) { c.PollInterval = time.Hour })
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.svc.Run(runCtx) }()
	r.create("alert", "Woken")
	deadline := time.Now().Add(10 * time.Second)
	for len(r.smtp.Messages()) == 0 || len(r.hook.events()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the workers did not send within 10s of being woken")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
