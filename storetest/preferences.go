package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// subscription returns a valid push subscription of user for endpoint n.
func subscription(user string, n int) *herald.PushSubscription {
	return &herald.PushSubscription{
		UserID:   user,
		Endpoint: fmt.Sprintf("https://push.example/send/%d", n),
		P256dh:   "B" + strings.Repeat("A", 86),
		Auth:     strings.Repeat("Q", 22),
	}
}

func testPreferencesRoundTrip(t *testing.T, s OutboxStore) {
	zero, err := s.FindPreferences(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if zero.UserID != "alice" || len(zero.Types) != 0 || zero.Email != "" || zero.QuietHours != nil || !zero.UpdatedAt.IsZero() {
		t.Fatalf("preferences never saved = %+v, want the zero value", zero)
	}
	saved, err := s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error {
		p.Types = map[string]map[herald.Channel]bool{
			"payment_due":  {herald.ChannelEmail: true, herald.ChannelSMS: false},
			herald.AnyType: {herald.ChannelPush: true},
		}
		p.TimeZone = "Europe/Paris"
		p.QuietHours = &herald.QuietHours{Start: "22:00", End: "07:30"}
		p.Email = "alice@example.com"
		p.Phone = "+14155550100"
		p.WebhookURL = "https://hooks.example/alice"
		p.WebhookSecret = "0123456789abcdef0123"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if saved.UpdatedAt.IsZero() || saved.UpdatedAt.Location() != time.UTC {
		t.Fatalf("UpdatedAt = %v, want a UTC time", saved.UpdatedAt)
	}
	got, err := s.FindPreferences(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	samePreferences(t, got, saved)
	if other, err := s.FindPreferences(ctx, "bob"); err != nil || len(other.Types) != 0 || other.Email != "" {
		t.Fatalf("bob's preferences = %+v, %v", other, err)
	}

	// An update sees the stored value and changes only what fn changes.
	_, err = s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error {
		samePreferences(t, p, saved)
		p.Types["payment_due"][herald.ChannelSMS] = true
		p.QuietHours = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.FindPreferences(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Types["payment_due"][herald.ChannelSMS] || got.QuietHours != nil || got.Email != "alice@example.com" || got.WebhookSecret != saved.WebhookSecret {
		t.Fatalf("after a partial update: %+v", got)
	}

	// fn's error aborts.
	boom := errors.New("boom")
	_, err = s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error { p.Email = ""; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("UpdatePreferences with a failing fn = %v, want its error", err)
	}
	if got, _ := s.FindPreferences(ctx, "alice"); got.Email != "alice@example.com" {
		t.Fatal("a failed update was saved")
	}
}

func testPreferencesInvalid(t *testing.T, s OutboxStore) {
	bad := map[string]func(p *herald.Preferences){
		"time zone":  func(p *herald.Preferences) { p.TimeZone = "Mars/Olympus" },
		"channel":    func(p *herald.Preferences) { p.Types = map[string]map[herald.Channel]bool{"x": {"pigeon": true}} },
		"quiet":      func(p *herald.Preferences) { p.QuietHours = &herald.QuietHours{Start: "25:00", End: "07:00"} },
		"email":      func(p *herald.Preferences) { p.Email = "not an address" },
		"phone":      func(p *herald.Preferences) { p.Phone = "555-0100" },
		"webhook":    func(p *herald.Preferences) { p.WebhookURL = "ftp://x.example"; p.WebhookSecret = "0123456789abcdef" },
		"no secret":  func(p *herald.Preferences) { p.WebhookURL = "https://x.example" },
		"other user": func(p *herald.Preferences) { p.UserID = "bob" },
	}
	for name, edit := range bad {
		_, err := s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error { edit(p); return nil })
		wantCode(t, "UpdatePreferences with a bad "+name, err, herald.EINVALID)
	}
	for _, user := range []string{"alice", "bob"} {
		if got, err := s.FindPreferences(ctx, user); err != nil || !got.UpdatedAt.IsZero() {
			t.Fatalf("refused updates saved %s's preferences: %+v, %v", user, got, err)
		}
	}
}

func testConcurrentPreferenceUpdates(t *testing.T, s OutboxStore) {
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdatePreferences(ctx, "alice", func(p *herald.Preferences) error {
				if p.Types == nil {
					p.Types = map[string]map[herald.Channel]bool{}
				}
				p.Types[fmt.Sprintf("type%d", i)] = map[herald.Channel]bool{herald.ChannelEmail: true}
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UpdatePreferences: %v", err)
		}
	}
	got, err := s.FindPreferences(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Types) != n {
		t.Fatalf("after %d concurrent updates %d types are set: an update was lost", n, len(got.Types))
	}
}

func testPushSubscriptions(t *testing.T, s OutboxStore) {
	a1, a2 := subscription("alice", 1), subscription("alice", 2)
	for _, sub := range []*herald.PushSubscription{a1, a2} {
		if err := s.SavePushSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if sub.ID == "" || sub.Created.IsZero() {
			t.Fatalf("saved subscription %+v has no id or time", sub)
		}
	}
	subs := func(user string) []*herald.PushSubscription {
		t.Helper()
		got, err := s.FindPushSubscriptions(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := subs("alice")
	if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID || got[0].Endpoint != a1.Endpoint || got[0].P256dh != a1.P256dh || got[0].Auth != a1.Auth {
		t.Fatalf("alice's subscriptions = %+v", got)
	}
	// Another user registering alice's endpoint is refused, whatever keys
	// they bring: the subscription stays alice's, with alice's keys.
	taken := subscription("bob", 1)
	taken.Auth = strings.Repeat("R", 22)
	wantCode(t, "registering another user's endpoint", s.SavePushSubscription(ctx, taken), herald.ECONFLICT)
	if taken.ID != "" {
		t.Fatalf("a refused subscription was given the id %q", taken.ID)
	}
	if got := subs("alice"); len(got) != 2 || got[0].ID != a1.ID || got[0].Auth != a1.Auth {
		t.Fatalf("after bob's attempt alice has %+v", got)
	}
	if got := subs("bob"); len(got) != 0 {
		t.Fatalf("after a refused registration bob has %+v", got)
	}
	// Alice's own browser subscribing again (new keys) replaces hers.
	again := subscription("alice", 1)
	again.Auth = strings.Repeat("S", 22)
	if err := s.SavePushSubscription(ctx, again); err != nil {
		t.Fatalf("alice registering her endpoint again: %v", err)
	}
	got = subs("alice")
	if len(got) != 2 {
		t.Fatalf("after alice's re-registration she has %+v", got)
	}
	for _, sub := range got {
		if sub.Endpoint == a1.Endpoint && (sub.ID != again.ID || sub.Auth != again.Auth) {
			t.Fatalf("alice's re-registered endpoint is %+v, want id %s with the new keys", sub, again.ID)
		}
	}
	// Once alice removes it, the endpoint is free for bob.
	if err := s.DeletePushSubscription(ctx, "alice", again.ID); err != nil {
		t.Fatal(err)
	}
	moved := subscription("bob", 1)
	if err := s.SavePushSubscription(ctx, moved); err != nil {
		t.Fatalf("bob registering a freed endpoint: %v", err)
	}
	if got := subs("bob"); len(got) != 1 || got[0].Endpoint != a1.Endpoint {
		t.Fatalf("bob has %+v", got)
	}
	wantCode(t, "deleting another user's subscription", s.DeletePushSubscription(ctx, "alice", moved.ID), herald.ENOTFOUND)
	if err := s.DeletePushSubscription(ctx, "alice", a2.ID); err != nil {
		t.Fatal(err)
	}
	if got := subs("alice"); len(got) != 0 {
		t.Fatalf("after delete alice has %+v", got)
	}
	wantCode(t, "deleting twice", s.DeletePushSubscription(ctx, "alice", a2.ID), herald.ENOTFOUND)
	wantCode(t, "saving an invalid subscription", s.SavePushSubscription(ctx, &herald.PushSubscription{UserID: "alice", Endpoint: "http://x"}), herald.EINVALID)

	// Past the limit, the oldest goes.
	var first string
	for i := range herald.MaxPushSubscriptions + 1 {
		sub := subscription("carol", 100+i)
		if err := s.SavePushSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = sub.ID
		}
		time.Sleep(time.Millisecond) // distinct creation times
	}
	got = subs("carol")
	if len(got) != herald.MaxPushSubscriptions {
		t.Fatalf("carol has %d subscriptions, want %d", len(got), herald.MaxPushSubscriptions)
	}
	for _, sub := range got {
		if sub.ID == first {
			t.Fatal("the oldest subscription was kept past the limit")
		}
	}
}

// samePreferences fails the test when got and want differ.
func samePreferences(t *testing.T, got, want *herald.Preferences) {
	t.Helper()
	g, w := fmt.Sprintf("%v %v %s %v %s %s %s %s", got.UserID, got.Types, got.TimeZone, got.QuietHours, got.Email, got.Phone, got.WebhookURL, got.WebhookSecret),
		fmt.Sprintf("%v %v %s %v %s %s %s %s", want.UserID, want.Types, want.TimeZone, want.QuietHours, want.Email, want.Phone, want.WebhookURL, want.WebhookSecret)
	if (got.QuietHours == nil) != (want.QuietHours == nil) || (got.QuietHours != nil && *got.QuietHours != *want.QuietHours) {
		g += " quiet differs"
	}
	if g != w || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("preferences = %s (updated %v), want %s (updated %v)", g, got.UpdatedAt, w, want.UpdatedAt)
	}
}

// testConcurrentPushEndpoint has users race to register one endpoint: exactly
// one wins, the others get ECONFLICT, and nobody else ends up holding it.
func testConcurrentPushEndpoint(t *testing.T, s OutboxStore) {
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SavePushSubscription(ctx, subscription(fmt.Sprintf("racer-%d", i), 7))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch herald.CodeOf(err) {
		case "":
			if winner >= 0 {
				t.Fatalf("racers %d and %d both registered the endpoint", winner, i)
			}
			winner = i
		case herald.ECONFLICT:
		default:
			t.Fatalf("racer %d: %v, want nil or ECONFLICT", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody registered the endpoint")
	}
	for i := range racers {
		got, err := s.FindPushSubscriptions(ctx, fmt.Sprintf("racer-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[i == winner]; len(got) != want {
			t.Fatalf("racer %d holds %d subscriptions, want %d", i, len(got), want)
		}
	}
}
