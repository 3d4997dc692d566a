package delivery_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/apns"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/fcm"
	"github.com/heraldhq/herald/internal/apnstest"
	"github.com/heraldhq/herald/internal/fcmtest"
)

const (
	iphone  = "5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	android = "dQw4w9WgXcQ:APA91bF-android-token_0123456789"
)

// mobileRig is a rig with ana's phones: an iPhone on a fake APNs and an
// Android phone on a fake FCM, beside her browser.
type mobileRig struct {
	*rig
	apns            *apnstest.Server
	fcm             *fcmtest.Server
	iphone, android *herald.Device
}

func newMobileRig(t *testing.T, b backend, edit func(*delivery.Config)) *mobileRig {
	t.Helper()
	m := &mobileRig{apns: apnstest.New(t), fcm: fcmtest.New(t)}
	clk := &clock{t: time.Now()}
	m.apns.Now = clk.Now
	ios, err := apns.New(apns.Config{Key: m.apns.Key, KeyID: apnstest.KeyID, TeamID: apnstest.TeamID, Topic: apnstest.Topic,
		Host: m.apns.URL(), Client: m.apns.Client(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	and, err := fcm.New(fcm.Config{Credentials: m.fcm.Credentials(), BaseURL: m.fcm.URL(), Client: m.fcm.Client()})
	if err != nil {
		t.Fatal(err)
	}
	m.rig = newRig(t, b, func(c *delivery.Config) {
		c.DeviceSenders = map[herald.Platform]herald.ChannelSender{herald.PlatformAPNs: ios, herald.PlatformFCM: and}
		c.Badges = map[herald.Platform]herald.BadgeSender{herald.PlatformAPNs: ios, herald.PlatformFCM: and}
		c.Policies = map[string]herald.TypePolicy{"buzz": {Channels: map[herald.Channel]bool{push: true}}}
		for typ, pol := range rigPolicies {
			c.Policies[typ] = pol
		}
		if edit != nil {
			edit(c)
		}
	})
	m.iphone = &herald.Device{UserID: "ana", Platform: herald.PlatformAPNs, Token: iphone}
	m.android = &herald.Device{UserID: "ana", Platform: herald.PlatformFCM, Token: android}
	for _, d := range []*herald.Device{m.iphone, m.android} {
		if err := m.store.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if p := append(m.apns.Problems(), m.fcm.Problems()...); len(p) != 0 {
			t.Errorf("the fake providers found problems: %v", p)
		}
	})
	return m
}

// phones returns the alerts each phone was shown.
func (m *mobileRig) phones() (ios []apnstest.Push, droid []fcmtest.Message) {
	for _, p := range m.apns.Delivered(iphone) {
		if p.PushType == "alert" {
			ios = append(ios, p)
		}
	}
	for _, msg := range m.fcm.Delivered(android) {
		if msg.Visible() {
			droid = append(droid, msg)
		}
	}
	return ios, droid
}

// TestMobileByPreference: the push switch sends a notification to the
// browser and both phones, one delivery each, with the exact unread count
// as the badge; switched off for the type, none of them.
func TestMobileByPreference(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		m := newMobileRig(t, b, nil)
		n := m.create("alert", "Server down", func(n *herald.NewNotification) { n.Link = "https://status.example/1" })
		if got := len(m.deliveries(n)[push]); got != 3 {
			t.Fatalf("%d push deliveries, want 3 (browser, iPhone, Android)", got)
		}
		m.svc.RunOnce(ctx)
		for _, d := range m.deliveries(n)[push] {
			if d.Status != herald.DeliverySent || d.Attempts != 1 {
				t.Fatalf("push delivery %+v", d)
			}
		}
		ios, droid := m.phones()
		if len(ios) != 1 || len(droid) != 1 || len(m.push.Messages()) != 1 {
			t.Fatalf("iPhone got %d, Android %d, browser %d; want 1 each", len(ios), len(droid), len(m.push.Messages()))
		}
		if b, ok := ios[0].Badge(); !ok || b != 1 || ios[0].Title() != "Server down" || ios[0].ThreadID() != "alert" || ios[0].Payload["id"] != n.ID {
			t.Fatalf("iPhone alert %+v", ios[0])
		}
		if *droid[0].Badge != 1 || droid[0].Title != "Server down" || droid[0].Data["id"] != n.ID || droid[0].Data["link"] != "https://status.example/1" {
			t.Fatalf("Android message %+v", droid[0])
		}
		if ios[0].ID != m.only2(n, m.iphone).ID {
			t.Fatalf("apns-id %s is not the delivery id", ios[0].ID)
		}

		if _, err := m.store.UpdatePreferences(ctx, "ana", func(p *herald.Preferences) error {
			p.Types = map[string]map[herald.Channel]bool{"alert": {push: false}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		off := m.create("alert", "Quiet please")
		if ds := m.deliveries(off)[push]; len(ds) != 0 {
			t.Fatalf("push switched off still planned %d deliveries", len(ds))
		}
		m.svc.RunOnce(ctx)
		if ios, droid := m.phones(); len(ios) != 1 || len(droid) != 1 {
			t.Fatalf("with push off the phones got more: %d, %d", len(ios), len(droid))
		}
	})
}

// only2 returns the push delivery of n to device d.
func (m *mobileRig) only2(n *herald.Notification, d *herald.Device) *herald.Delivery {
	m.t.Helper()
	for _, x := range m.deliveries(n)[push] {
		if x.Target == d.ID {
			return x
		}
	}
	m.t.Fatalf("no push delivery of %q to device %s", n.Title, d.ID)
	return nil
}

// TestMobileQuietHoursAndEscalation: quiet hours hold the phones' pushes
// until they end (a critical one goes at once, with the highest priority),
// and an escalation to push reaches the phones only if the notification is
// still unread when it falls due.
func TestMobileQuietHoursAndEscalation(t *testing.T) {
	m := newMobileRig(t, backends[0], nil)
	if _, err := m.store.UpdatePreferences(ctx, "ana", func(p *herald.Preferences) error {
		p.TimeZone = "Asia/Tokyo" // 10:00 UTC is 19:00 in Tokyo
		p.QuietHours = &herald.QuietHours{Start: "18:00", End: "07:00"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m.create("alert", "Weekly report")
	m.create("alert", "Intrusion", func(n *herald.NewNotification) { n.Critical = true })
	m.svc.RunOnce(ctx)
	ios, droid := m.phones()
	if len(ios) != 1 || len(droid) != 1 || ios[0].Title() != "Intrusion" || ios[0].Priority != "10" || droid[0].Priority != "HIGH" {
		t.Fatalf("in quiet hours the phones got %+v and %+v; want the critical one at high priority", ios, droid)
	}
	m.clock.Add(12 * time.Hour) // 07:00 in Tokyo
	m.svc.RunOnce(ctx)
	ios, droid = m.phones()
	if len(ios) != 2 || len(droid) != 2 || ios[1].Title() != "Weekly report" || ios[1].Priority != "5" || droid[1].Priority != "NORMAL" {
		t.Fatalf("after quiet hours: %d and %d alerts", len(ios), len(droid))
	}

	if _, err := m.store.UpdatePreferences(ctx, "ana", func(p *herald.Preferences) error { p.QuietHours = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	unread := m.create("payment_due", "Rent")
	read := m.create("payment_due", "Water bill")
	m.svc.RunOnce(ctx)
	if ios, _ := m.phones(); len(ios) != 2 {
		t.Fatalf("an escalation went before its time: %d alerts", len(ios))
	}
	if _, err := m.box.MarkRead(ctx, "ana", read.ID); err != nil {
		t.Fatal(err)
	}
	m.clock.Add(10 * time.Minute)
	m.svc.RunOnce(ctx)
	ios, droid = m.phones()
	if len(ios) != 3 || len(droid) != 3 || ios[2].Title() != "Rent" || droid[2].Title != "Rent" {
		t.Fatalf("after 10 minutes the phones got %d and %d alerts; want the unread bill escalated", len(ios), len(droid))
	}
	if d := m.only2(unread, m.iphone); d.Kind != herald.DeliveryEscalation || d.Status != herald.DeliverySent {
		t.Fatalf("escalation %+v", d)
	}
}

// TestUnregisteredDevicesRemoved: APNs 410 Unregistered and FCM
// UNREGISTERED end the delivery dead and remove the device, so the next
// notification plans no push to it.
func TestUnregisteredDevicesRemoved(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		m := newMobileRig(t, b, nil)
		m.apns.Unregister(iphone)
		m.fcm.Unregister(android)
		n := m.create("alert", "Ping")
		m.svc.RunOnce(ctx)
		for _, d := range []*herald.Device{m.iphone, m.android} {
			if got := m.only2(n, d); got.Status != herald.DeliveryDead || got.Attempts != 1 {
				t.Fatalf("push to an unregistered device: %+v", got)
			}
		}
		devs, err := m.store.FindDevices(ctx, "ana")
		if err != nil || len(devs) != 0 {
			t.Fatalf("devices after the providers called them gone: %+v, %v", devs, err)
		}
		if ds := m.deliveries(m.create("alert", "Again"))[push]; len(ds) != 1 {
			t.Fatalf("push planned %d deliveries, want the browser's alone", len(ds))
		}
	})
}

// TestDeviceRetries: 429 with Retry-After and 5xx are retried, the 429 no
// sooner than the provider asked, each delivery sent once in the end.
func TestDeviceRetries(t *testing.T) {
	m := newMobileRig(t, backends[0], nil)
	m.fcm.Queue(android, fcmtest.Answer{Status: http.StatusTooManyRequests, Code: "QUOTA_EXCEEDED", RetryAfter: "300"})
	m.apns.Queue(iphone, apnstest.Answer{Status: http.StatusServiceUnavailable, Reason: "ServiceUnavailable"},
		apnstest.Answer{Status: http.StatusInternalServerError, Reason: "InternalServerError"})
	n := m.create("alert", "Retry me")
	start := m.clock.Now()
	m.svc.RunOnce(ctx)
	fd, ad := m.only2(n, m.android), m.only2(n, m.iphone)
	if fd.Status != herald.DeliveryFailed || fd.DueAt.Before(start.Add(300*time.Second)) || !strings.Contains(fd.LastError, "429") {
		t.Fatalf("after a 429 with Retry-After 300: %+v", fd)
	}
	if ad.Status != herald.DeliveryFailed || !ad.DueAt.After(start) || ad.DueAt.After(start.Add(2*time.Minute)) {
		t.Fatalf("after a 503: %+v", ad)
	}
	for range 4 { // one backoff after another: 1m, 2m, 4m
		m.clock.Add(2 * time.Minute)
		m.svc.RunOnce(ctx)
		if m.only2(n, m.android).Status == herald.DeliverySent && m.clock.Now().Before(start.Add(300*time.Second)) {
			t.Fatal("FCM was retried before its Retry-After")
		}
	}
	ios, droid := m.phones()
	if len(ios) != 1 || len(droid) != 1 {
		t.Fatalf("after the retries the phones got %d and %d alerts, want 1 each", len(ios), len(droid))
	}
	if d := m.only2(n, m.iphone); d.Status != herald.DeliverySent || d.Attempts != 3 {
		t.Fatalf("APNs delivery %+v, want sent at the third attempt", d)
	}
	if d := m.only2(n, m.android); d.Status != herald.DeliverySent || d.Attempts != 2 {
		t.Fatalf("FCM delivery %+v, want sent at the second attempt", d)
	}
}

// badgesOf returns the badge counts each phone received in silent updates.
func (m *mobileRig) badgesOf() (ios []int, droid []string) {
	for _, p := range m.apns.Delivered(iphone) {
		if p.PushType == "background" {
			b, _ := p.Badge()
			ios = append(ios, b)
		}
	}
	for _, msg := range m.fcm.Delivered(android) {
		if !msg.Visible() {
			droid = append(droid, msg.Data["unread"])
		}
	}
	return ios, droid
}

// TestBadgeAfterRead: a read on another device (the web inbox) sends both
// phones a silent update with the new exact count; so does a delete.
func TestBadgeAfterRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		m := newMobileRig(t, b, nil)
		first := m.create("buzz", "One")
		m.svc.RunOnce(ctx)
		second := m.create("buzz", "Two")
		m.svc.RunOnce(ctx)
		ios, _ := m.phones()
		if b1, _ := ios[0].Badge(); len(ios) != 2 || b1 != 1 {
			t.Fatalf("alerts %+v", ios)
		}
		if b2, _ := ios[1].Badge(); b2 != 2 {
			t.Fatalf("second alert's badge %d, want 2", b2)
		}
		if ib, db := m.badgesOf(); len(ib)+len(db) != 0 {
			t.Fatalf("badge updates without a read: %v %v", ib, db)
		}
		if _, err := m.box.MarkRead(ctx, "ana", first.ID); err != nil {
			t.Fatal(err)
		}
		m.svc.RunOnce(ctx)
		if ib, db := m.badgesOf(); len(ib) != 1 || ib[0] != 1 || len(db) != 1 || db[0] != "1" {
			t.Fatalf("after a read the badges went %v and %v, want [1] each", ib, db)
		}
		m.clock.Add(5 * time.Second)
		if _, err := m.box.Delete(ctx, "ana", second.ID); err != nil {
			t.Fatal(err)
		}
		m.svc.RunOnce(ctx)
		if ib, db := m.badgesOf(); len(ib) != 2 || ib[1] != 0 || len(db) != 2 || db[1] != "0" {
			t.Fatalf("after a delete the badges went %v and %v, want 0 last", ib, db)
		}
	})
}

// TestBadgeLoop: a burst of reads sends one badge update per phone at once
// and one more when the interval ends, carrying the final count; nothing
// after that without a new read.
func TestBadgeLoop(t *testing.T) {
	m := newMobileRig(t, backends[0], nil)
	var ns []*herald.Notification
	for i := range 6 {
		ns = append(ns, m.create("mail", "Note "+string(rune('A'+i))))
	}
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.box.MarkRead(ctx, "ana", n.ID); err != nil {
				t.Error(err)
			}
			m.svc.FlushBadges(ctx)
		}()
	}
	wg.Wait()
	m.svc.FlushBadges(ctx)
	if ib, db := m.badgesOf(); len(ib) != 1 || len(db) != 1 {
		t.Fatalf("a burst of 6 reads sent %d and %d badge updates within the interval, want 1 each", len(ib), len(db))
	}
	m.clock.Add(delivery.DefaultBadgeInterval)
	m.svc.FlushBadges(ctx)
	ib, db := m.badgesOf()
	if len(ib) != 2 || ib[1] != 0 || len(db) != 2 || db[1] != "0" {
		t.Fatalf("after the interval: %v and %v, want a second update with 0", ib, db)
	}
	m.clock.Add(time.Minute)
	m.svc.FlushBadges(ctx)
	if ib, db := m.badgesOf(); len(ib) != 2 || len(db) != 2 {
		t.Fatalf("updates without a read: %v and %v", ib, db)
	}
}

// TestDeviceKilledMidSend: a worker that dies while APNs holds its request
// leaves the delivery leased; after the lease a new worker sends it again
// with the same apns-id, and the phone shows it once.
func TestDeviceKilledMidSend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		m := newMobileRig(t, b, nil)
		if err := m.store.DeleteDevice(ctx, "ana", m.android.ID); err != nil {
			t.Fatal(err)
		}
		if err := m.store.DeletePushSubscription(ctx, "ana", m.browser.Subscription.ID); err != nil {
			t.Fatal(err)
		}
		n := m.create("buzz", "Once only")
		m.apns.Hold()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); m.svc.RunOnce(ctx) }()
		<-m.apns.Held()
		// The process dies: its database goes first, then APNs answers a
		// request nobody records.
		if err := m.store.Close(); err != nil {
			t.Fatal(err)
		}
		m.apns.Release()
		wg.Wait()

		m.open()
		if got := m.svc.RunOnce(ctx); got != 0 {
			t.Fatalf("a leased delivery was taken before its lease ended: %d", got)
		}
		m.clock.Add(2*time.Minute + time.Second)
		if got := m.svc.RunOnce(ctx); got != 1 {
			t.Fatalf("after the lease %d deliveries finished, want 1", got)
		}
		d := m.only2(n, m.iphone)
		if d.Status != herald.DeliverySent || d.Attempts != 2 {
			t.Fatalf("after the retry: %+v", d)
		}
		var ids []string
		for _, p := range m.apns.Pushes() {
			ids = append(ids, p.ID)
		}
		if len(ids) != 2 || ids[0] != d.ID || ids[1] != d.ID {
			t.Fatalf("APNs got apns-ids %v, want the delivery id twice", ids)
		}
		if got := m.apns.Delivered(iphone); len(got) != 1 {
			t.Fatalf("the phone shows %d alerts, want 1", len(got))
		}
	})
}
