package delivery_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/delivery"
)

const (
	email   = herald.ChannelEmail
	sms     = herald.ChannelSMS
	push    = herald.ChannelPush
	webhook = herald.ChannelWebhook
	inApp   = herald.ChannelInApp
)

// testPolicies are the type policies of the planner tests.
var testPolicies = map[string]herald.TypePolicy{
	"payment_due": {
		Channels:   map[herald.Channel]bool{email: true},
		Escalation: []herald.Escalation{{After: 10 * time.Minute, Channel: push}, {After: time.Hour, Channel: email}, {After: 2 * time.Hour, Channel: sms}},
	},
	"newsletter": {Channels: map[herald.Channel]bool{email: true}, Digest: true},
	"silent":     {Channels: map[herald.Channel]bool{inApp: false, email: true}},
}

// TestPlan is the table of preference, quiet-hour and critical combinations:
// each row says which deliveries a notification gets, as channel/kind@delay,
// with "!" for those cancelled if it is read first.
func TestPlan(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2030, 5, 6, 11, 0, 0, 0, ny)    // 11:00 local
	night := time.Date(2030, 5, 5, 23, 30, 0, 0, ny) // 23:30 local, quiet until 07:00
	all := map[herald.Channel]bool{email: true, sms: true, push: true, webhook: true}

	type row struct {
		name      string
		typ       string
		critical  bool
		now       time.Time
		types     map[string]map[herald.Channel]bool
		noContact bool
		noQuiet   bool
		available map[herald.Channel]bool
		subs      int
		wantInApp bool
		want      []string
	}
	rows := []row{
		{name: "default type: in-app only", typ: "hello", now: day, wantInApp: true},
		{name: "policy email and escalations", typ: "payment_due", now: day, wantInApp: true,
			want: []string{"email/immediate@0s", "push/escalation@10m0s!", "sms/escalation@2h0m0s!"}},
		{name: "quiet hours hold email, push and sms", typ: "payment_due", now: night, wantInApp: true,
			want: []string{"email/immediate@7h30m0s!", "push/escalation@7h30m0s!", "sms/escalation@7h30m0s!"}},
		{name: "critical ignores quiet hours", typ: "payment_due", now: night, critical: true, wantInApp: true,
			want: []string{"email/immediate@0s", "push/escalation@10m0s!", "sms/escalation@2h0m0s!"}},
		{name: "user turns email off: no email, no email escalation", typ: "payment_due", now: day, wantInApp: true,
			types: map[string]map[herald.Channel]bool{"payment_due": {email: false}},
			want:  []string{"push/escalation@10m0s!", "sms/escalation@2h0m0s!"}},
		{name: "critical does not override a channel the user turned off", typ: "payment_due", now: night, critical: true, wantInApp: true,
			types: map[string]map[herald.Channel]bool{herald.AnyType: {email: false, sms: false}},
			want:  []string{"push/escalation@10m0s!"}},
		{name: "push on for every type: at once, no push escalation", typ: "payment_due", now: day, wantInApp: true,
			types: map[string]map[herald.Channel]bool{herald.AnyType: {push: true}},
			want:  []string{"email/immediate@0s", "push/immediate@0s", "sms/escalation@2h0m0s!"}},
		{name: "a type's switch wins over the any-type one", typ: "payment_due", now: day, wantInApp: true,
			types: map[string]map[herald.Channel]bool{"payment_due": {sms: true}, herald.AnyType: {sms: false}},
			want:  []string{"email/immediate@0s", "sms/immediate@0s", "push/escalation@10m0s!"}},
		{name: "digest waits for local midnight", typ: "newsletter", now: day, noQuiet: true, wantInApp: true,
			want: []string{"email/digest@13h0m0s!"}},
		{name: "a digest at midnight waits for quiet hours' end", typ: "newsletter", now: day, wantInApp: true,
			want: []string{"email/digest@20h0m0s!"}},
		{name: "critical skips the digest", typ: "newsletter", now: day, critical: true, wantInApp: true,
			want: []string{"email/immediate@0s"}},
		{name: "a digest due in quiet hours waits for their end", typ: "newsletter", now: night, wantInApp: true,
			want: []string{"email/digest@7h30m0s!"}},
		{name: "policy in_app off: marked read, no escalation", typ: "silent", now: day, wantInApp: false,
			want: []string{"email/immediate@0s"}},
		{name: "user in_app off stops escalations", typ: "payment_due", now: day, wantInApp: false,
			types: map[string]map[herald.Channel]bool{"payment_due": {inApp: false}},
			want:  []string{"email/immediate@0s"}},
		{name: "no contact points: only push, which has a subscription", typ: "payment_due", now: day, noContact: true, wantInApp: true,
			want: []string{"push/escalation@10m0s!"}},
		{name: "no push subscription: no push", typ: "payment_due", now: day, subs: -1, wantInApp: true,
			want: []string{"email/immediate@0s", "sms/escalation@2h0m0s!"}},
		{name: "a channel without a sender is never planned", typ: "payment_due", now: day, wantInApp: true,
			available: map[herald.Channel]bool{email: true, push: true},
			want:      []string{"email/immediate@0s", "push/escalation@10m0s!"}},
		{name: "webhooks ignore quiet hours", typ: "hello", now: night, wantInApp: true,
			types: map[string]map[herald.Channel]bool{herald.AnyType: {webhook: true, sms: true}},
			want:  []string{"sms/immediate@7h30m0s!", "webhook/immediate@0s"}},
		{name: "one push delivery per subscription", typ: "hello", now: day, subs: 2, wantInApp: true,
			types: map[string]map[herald.Channel]bool{"hello": {push: true}},
			want:  []string{"push/immediate@0s>s1", "push/immediate@0s>s2"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			prefs := &herald.Preferences{
				UserID: "ana", Types: r.types, TimeZone: "America/New_York",
				QuietHours: &herald.QuietHours{Start: "22:00", End: "07:00"},
				Email:      "ana@example.com", Phone: "+14155550100",
				WebhookURL: "https://hooks.example/ana", WebhookSecret: "0123456789abcdef",
			}
			if r.noQuiet {
				prefs.QuietHours = nil
			}
			if r.noContact {
				prefs.Email, prefs.Phone, prefs.WebhookURL = "", "", ""
			}
			var subs []*herald.PushSubscription
			switch r.subs {
			case 0:
				subs = []*herald.PushSubscription{{ID: "s1"}}
			case -1:
			default:
				for i := range r.subs {
					subs = append(subs, &herald.PushSubscription{ID: fmt.Sprintf("s%d", i+1)})
				}
			}
			avail := r.available
			if avail == nil {
				avail = all
			}
			p := delivery.Planner{Policies: testPolicies, Available: avail}
			n := &herald.NewNotification{UserID: "ana", Type: r.typ, Title: "t", Critical: r.critical}
			plan := p.Plan(n, prefs, herald.PushTargets{Subscriptions: subs}, r.now)
			var got []string
			for _, d := range plan.Deliveries {
				s := fmt.Sprintf("%s/%s@%s", d.Channel, d.Kind, d.DueAt.Sub(r.now))
				if d.UnlessRead {
					s += "!"
				}
				if r.subs > 1 {
					s += ">" + d.Target
				}
				got = append(got, s)
			}
			if !slices.Equal(got, r.want) || plan.Silent == r.wantInApp {
				t.Fatalf("plan = %q, in-app %v; want %q, in-app %v", got, !plan.Silent, r.want, r.wantInApp)
			}
			for _, d := range plan.Deliveries {
				if d.DueAt.Location() != time.UTC {
					t.Fatalf("due time %v not in UTC", d.DueAt)
				}
			}
		})
	}
}

// TestPlanWithoutPreferences plans for a user who never saved any: the type
// policy alone decides, and with no contact point nothing leaves.
func TestPlanWithoutPreferences(t *testing.T) {
	p := delivery.Planner{Policies: testPolicies, Available: map[herald.Channel]bool{email: true}}
	plan := p.Plan(&herald.NewNotification{UserID: "bo", Type: "payment_due", Title: "t"}, nil, herald.PushTargets{}, time.Now())
	if plan.Silent || len(plan.Deliveries) != 0 {
		t.Fatalf("plan without preferences = %+v", plan)
	}
}

// TestPlanDevices plans push to browsers and mobile devices alike by the one
// push switch, one delivery per target that has a sender, each carrying the
// notification's critical flag; devices of a platform without a sender get
// none, and quiet hours hold them like web push.
func TestPlanDevices(t *testing.T) {
	now := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC) // 10:00 in New York
	targets := herald.PushTargets{
		Subscriptions: []*herald.PushSubscription{{ID: "web"}},
		Devices:       []*herald.Device{{ID: "android", Platform: herald.PlatformFCM}, {ID: "iphone", Platform: herald.PlatformAPNs}},
	}
	prefs := &herald.Preferences{UserID: "ana", TimeZone: "America/New_York",
		Types: map[string]map[herald.Channel]bool{"*": {push: true}}}
	cases := []struct {
		name      string
		web       bool
		platforms map[herald.Platform]bool
		quiet     bool
		critical  bool
		want      []string
	}{
		{"all", true, map[herald.Platform]bool{herald.PlatformFCM: true, herald.PlatformAPNs: true}, false, false, []string{"web@0s", "android@0s", "iphone@0s"}},
		{"mobile only", false, map[herald.Platform]bool{herald.PlatformAPNs: true}, false, false, []string{"iphone@0s"}},
		{"web only", true, nil, false, false, []string{"web@0s"}},
		{"quiet hours", false, map[herald.Platform]bool{herald.PlatformFCM: true}, true, false, []string{"android@2h0m0s!"}},
		{"critical skips quiet hours", false, map[herald.Platform]bool{herald.PlatformFCM: true}, true, true, []string{"android@0s*"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := *prefs
			if c.quiet {
				pr.QuietHours = &herald.QuietHours{Start: "08:00", End: "12:00"}
			}
			p := delivery.Planner{Available: map[herald.Channel]bool{push: c.web}, Platforms: c.platforms}
			if !p.UsesPush() {
				t.Fatal("UsesPush is false with a push sender")
			}
			plan := p.Plan(&herald.NewNotification{UserID: "ana", Type: "hello", Title: "t", Critical: c.critical}, &pr, targets, now)
			var got []string
			for _, d := range plan.Deliveries {
				s := fmt.Sprintf("%s@%s", d.Target, d.DueAt.Sub(now))
				if d.UnlessRead {
					s += "!"
				}
				if d.Critical {
					s += "*"
				}
				if d.Channel != push {
					t.Fatalf("channel %s", d.Channel)
				}
				got = append(got, s)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("plan = %q, want %q", got, c.want)
			}
		})
	}
	off := pr(prefs, false)
	p := delivery.Planner{Platforms: map[herald.Platform]bool{herald.PlatformFCM: true}}
	if plan := p.Plan(&herald.NewNotification{UserID: "ana", Type: "hello", Title: "t"}, off, targets, now); len(plan.Deliveries) != 0 {
		t.Fatalf("push switched off still planned %d deliveries", len(plan.Deliveries))
	}
}

// pr returns a copy of p with push switched on or off for every type.
func pr(p *herald.Preferences, on bool) *herald.Preferences {
	c := *p
	c.Types = map[string]map[herald.Channel]bool{"*": {push: on}}
	return &c
}
