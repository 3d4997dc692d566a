package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
)

// device returns user's device number i of platform p, with a token of the
// platform's form.
func device(user string, p herald.Platform, i int) *herald.Device {
	tok := fmt.Sprintf("%064x", i)
	if p == herald.PlatformFCM {
		tok = fmt.Sprintf("fcm-%d:APA91b%s", i, strings.Repeat("x", 140))
	}
	return &herald.Device{UserID: user, Platform: p, Token: tok, AppID: "com.example.app"}
}

// testDevices: devices round-trip oldest first; a token another user holds
// is refused (ECONFLICT) and stays theirs; a user's own token registered
// again replaces theirs; deletes are per user; past MaxDevices the oldest
// goes.
func testDevices(t *testing.T, s OutboxStore) {
	a1, a2 := device("alice", herald.PlatformAPNs, 1), device("alice", herald.PlatformFCM, 2)
	for _, d := range []*herald.Device{a1, a2} {
		if err := s.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		if d.ID == "" || d.Created.IsZero() {
			t.Fatalf("saved device %+v has no id or time", d)
		}
	}
	devs := func(user string) []*herald.Device {
		t.Helper()
		got, err := s.FindDevices(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := devs("alice")
	if len(got) != 2 || *got[0] != *a1 || got[1].ID != a2.ID || got[1].Platform != herald.PlatformFCM || got[1].Token != a2.Token {
		t.Fatalf("alice's devices = %+v, want %+v and %+v", got, a1, a2)
	}
	taken := device("bob", herald.PlatformAPNs, 1)
	wantCode(t, "registering another user's token", s.SaveDevice(ctx, taken), herald.ECONFLICT)
	if taken.ID != "" || len(devs("bob")) != 0 {
		t.Fatalf("a refused device was stored: %+v, bob has %d", taken, len(devs("bob")))
	}
	again := device("alice", herald.PlatformAPNs, 1)
	again.AppID = "com.example.other"
	if err := s.SaveDevice(ctx, again); err != nil {
		t.Fatalf("alice registering her token again: %v", err)
	}
	if got := devs("alice"); len(got) != 2 || got[1].ID != again.ID || got[1].AppID != "com.example.other" {
		t.Fatalf("after alice's re-registration she has %+v", got)
	}
	wantCode(t, "deleting another user's device", s.DeleteDevice(ctx, "bob", again.ID), herald.ENOTFOUND)
	wantCode(t, "deleting a malformed id", s.DeleteDevice(ctx, "alice", "nope"), herald.ENOTFOUND)
	if err := s.DeleteDevice(ctx, "alice", again.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deleting twice", s.DeleteDevice(ctx, "alice", again.ID), herald.ENOTFOUND)
	moved := device("bob", herald.PlatformAPNs, 1)
	if err := s.SaveDevice(ctx, moved); err != nil {
		t.Fatalf("bob registering a freed token: %v", err)
	}
	wantCode(t, "saving an invalid device", s.SaveDevice(ctx, &herald.Device{UserID: "alice", Platform: "sms", Token: "x"}), herald.EINVALID)

	var first string
	for i := range herald.MaxDevices + 1 {
		d := device("carol", herald.PlatformFCM, 100+i)
		if err := s.SaveDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d.ID
		}
	}
	got = devs("carol")
	if len(got) != herald.MaxDevices {
		t.Fatalf("carol has %d devices, want %d", len(got), herald.MaxDevices)
	}
	for _, d := range got {
		if d.ID == first {
			t.Fatal("the oldest device was kept past the limit")
		}
	}
}

// testConcurrentDeviceToken: of users registering one token at once,
// exactly one holds it after.
func testConcurrentDeviceToken(t *testing.T, s OutboxStore) {
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SaveDevice(ctx, device(fmt.Sprintf("racer-%d", i), herald.PlatformFCM, 7))
		}()
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch herald.CodeOf(err) {
		case "":
			winners++
		case herald.ECONFLICT:
		default:
			t.Fatalf("racer %d: %v, want nil or ECONFLICT", i, err)
		}
		got, err := s.FindDevices(ctx, fmt.Sprintf("racer-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[errs[i] == nil]; len(got) != want {
			t.Fatalf("racer %d holds %d devices, want %d", i, len(got), want)
		}
	}
	if winners != 1 {
		t.Fatalf("%d racers registered the token, want 1", winners)
	}
}

// testPlannerReadsDevices: a planner that uses push sees the user's devices
// beside their subscriptions, and a delivery keeps its critical flag.
func testPlannerReadsDevices(t *testing.T, s OutboxStore) {
	for i := 1; i <= 2; i++ {
		if err := s.SaveDevice(ctx, device("alice", herald.PlatformAPNs, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SavePushSubscription(ctx, subscription("alice", 1)); err != nil {
		t.Fatal(err)
	}
	p := &plans{push: true}
	createWith(t, s, herald.CreateOptions{Planner: p}, newNotification("alice", 1), newNotification("bob", 1))
	if p.devs["alice"] != 2 || p.subs["alice"] != 1 || p.devs["bob"] != 0 {
		t.Fatalf("the planner saw %v devices and %v subscriptions", p.devs, p.subs)
	}
	d := planned(herald.ChannelPush, herald.DeliveryImmediate, t0)
	d.Critical = true
	n := createPlanned(t, s, newNotification("alice", 2), herald.Plan{Deliveries: []*herald.Delivery{d}})
	if len(n.Deliveries) != 1 || !n.Deliveries[0].Critical {
		t.Fatalf("created deliveries %+v, want one critical", n.Deliveries)
	}
	claimed, err := s.ClaimDeliveries(ctx, t0, lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || !claimed[0].Critical {
		t.Fatalf("claimed %+v, want one critical delivery", claimed)
	}
}
