package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/apnstest"
	"github.com/heraldhq/herald/internal/fcmtest"
)

const (
	testIPhone  = "7c0ffee0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c"
	testAndroid = "fcm-android-1:APA91bE_token-of-a-phone"
)

// mobileEnv starts both fake providers and returns the settings that point
// a herald process at them, with push on for every type.
func mobileEnv(t *testing.T, db string) (map[string]string, *apnstest.Server, *fcmtest.Server) {
	t.Helper()
	ap, fc := apnstest.New(t), fcmtest.New(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"*":{"channels":{"in_app":true,"push":true}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Both fakes serve httptest's certificate; the process trusts it
	// through the standard SSL_CERT_FILE.
	env := procEnv(db)
	for k, v := range map[string]string{
		"FCM_CREDENTIALS_FILE": fc.CredentialsFile(t, dir), "FCM_BASE_URL": fc.URL(),
		"APNS_KEY_FILE": ap.KeyFile(t, dir), "APNS_KEY_ID": apnstest.KeyID, "APNS_TEAM_ID": apnstest.TeamID,
		"APNS_TOPIC": apnstest.Topic, "APNS_HOST": ap.URL(), "SSL_CERT_FILE": ap.CertFile(t, dir),
		"HERALD_DELIVERY_POLICY_FILE": policy, "HERALD_BADGE_INTERVAL": "1s", "HERALD_LOG_LEVEL": "debug",
	} {
		env[k] = v
	}
	t.Cleanup(func() {
		if p := append(ap.Problems(), fc.Problems()...); len(p) != 0 {
			t.Errorf("the fake providers found problems: %v", p)
		}
	})
	return env, ap, fc
}

// TestMobileThroughTheApp runs the herald binary against both fake
// providers: a user registers an iPhone with her connection token, a
// backend registers her Android phone with the API key, a notification
// reaches both with the badge at her unread count, a read on the web
// sets both badges to 0, and no device token reaches the log.
func TestMobileThroughTheApp(t *testing.T) {
	env, ap, fc := mobileEnv(t, filepath.Join(t.TempDir(), "herald.db"))
	p := startProc(t, env)
	s := newServer(t, p.addr, testSecret, testAPIKey)
	ana := token(t, testSecret, "ana")
	if code, body := s.do("POST", "/api/devices", ana, `{"platform":"apns","token":"`+testIPhone+`"}`); code != 201 {
		t.Fatalf("POST /api/devices: %d %s", code, body)
	}
	s.api("POST", "/api/users/ana/devices", `{"platform":"fcm","token":"`+testAndroid+`"}`, 201, nil)
	if code, _ := s.do("POST", "/api/devices", token(t, testSecret, "eve"), `{"platform":"fcm","token":"`+testAndroid+`"}`); code != 409 {
		t.Fatalf("another user registering ana's phone: %d, want 409", code)
	}

	n := s.notify("ana", "Your parcel arrived")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ios, err := ap.WaitDelivered(ctx, testIPhone, 1)
	if err != nil {
		t.Fatalf("the iPhone got %d pushes: %v", len(ios), err)
	}
	droid, err := fc.WaitDelivered(ctx, testAndroid, 1)
	if err != nil {
		t.Fatalf("the Android phone got %d messages: %v", len(droid), err)
	}
	if b, _ := ios[0].Badge(); ios[0].Title() != "Your parcel arrived" || b != 1 || ios[0].Payload["id"] != n.ID {
		t.Fatalf("iPhone push %+v", ios[0])
	}
	if droid[0].Title != "Your parcel arrived" || droid[0].Data["id"] != n.ID || *droid[0].Badge != 1 {
		t.Fatalf("Android message %+v", droid[0])
	}

	if code, body := s.do("POST", "/api/notifications/"+n.ID+"/read", ana, nil); code != 200 {
		t.Fatalf("read: %d %s", code, body)
	}
	ios, err = ap.WaitDelivered(ctx, testIPhone, 2)
	if err != nil {
		t.Fatalf("no badge update reached the iPhone: %v", err)
	}
	if b, _ := ios[1].Badge(); ios[1].PushType != "background" || b != 0 {
		t.Fatalf("badge update %+v", ios[1])
	}
	droid, err = fc.WaitDelivered(ctx, testAndroid, 2)
	if err != nil || droid[1].Data["unread"] != "0" {
		t.Fatalf("Android badge update %+v: %v", droid, err)
	}

	var list struct{ Devices []map[string]any }
	code, body := s.do("GET", "/api/devices", ana, nil)
	if json.Unmarshal(body, &list) != nil || code != 200 || len(list.Devices) != 2 {
		t.Fatalf("GET /api/devices: %d %s", code, body)
	}
	logs := p.stderr.String()
	if strings.Contains(logs, testIPhone) || strings.Contains(logs, "APA91b") {
		t.Fatal("a device token reached the log")
	}
}

// TestDevicePushAcrossKill kills the herald process with SIGKILL while APNs
// holds its request; after a restart the delivery goes out once, when the
// dead process's lease has ended.
func TestDevicePushAcrossKill(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	env, ap, _ := mobileEnv(t, db)
	env["HERALD_DELIVERY_SEND_TIMEOUT"], env["MOBILE_SEND_TIMEOUT"], env["HERALD_DELIVERY_LEASE"] = "2s", "2s", "4s"
	p1 := startProc(t, env)
	s1 := newServer(t, p1.addr, testSecret, testAPIKey)
	s1.api("POST", "/api/users/ana/devices", `{"platform":"apns","token":"`+testIPhone+`"}`, 201, nil)
	ap.Hold()
	n := s1.notify("ana", "Exactly once")
	select {
	case <-ap.Held():
	case <-time.After(30 * time.Second):
		t.Fatal("the push never reached APNs")
	}
	p1.signal(syscall.SIGKILL)
	p1.wait(10 * time.Second)
	ap.Release()

	p2 := startProc(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := ap.WaitDelivered(ctx, testIPhone, 1)
	if err != nil {
		t.Fatalf("after the restart the phone got %d pushes: %v", len(got), err)
	}
	s2 := newServer(t, p2.addr, testSecret, testAPIKey)
	var ds struct {
		Deliveries []struct {
			ID, Status string
			Attempts   int
		}
	}
	waitFor(t, 10*time.Second, "the delivery recorded sent", func() bool {
		s2.api("GET", "/api/users/ana/deliveries", nil, 200, &ds)
		return len(ds.Deliveries) == 1 && ds.Deliveries[0].Status == "sent"
	})
	if d := ds.Deliveries[0]; d.Attempts != 2 || got[0].ID != d.ID || got[0].Payload["id"] != n.ID {
		t.Fatalf("delivery %+v, push %+v; want the second attempt with apns-id = delivery id", d, got[0])
	}
	if got := ap.Delivered(testIPhone); len(got) != 1 {
		t.Fatalf("the phone shows %d alerts, want 1", len(got))
	}
}

// TestDeviceCommand manages devices with `herald device` on the server's
// store: add, list (tokens shortened), remove, and the refusals.
func TestDeviceCommand(t *testing.T) {
	env := map[string]string{"HERALD_DB_PATH": filepath.Join(t.TempDir(), "herald.db")}
	dev := func(args ...string) (string, error) {
		var out, errOut syncBuffer
		err := run(context.Background(), append([]string{"device"}, args...), mapEnv(env), &out, &errOut)
		return out.String(), err
	}
	out, err := dev("add", "--user", "ana", "--platform", "apns", "--app-id", "com.example.app", testIPhone)
	if err != nil || !strings.Contains(out, "added for ana (apns)") {
		t.Fatalf("add: %q, %v", out, err)
	}
	id := strings.Fields(out)[1]
	out, err = dev("list", "--user", "ana")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "com.example.app") || strings.Contains(out, testIPhone) || !strings.Contains(out, testIPhone[:8]) {
		t.Fatalf("list: %q, %v", out, err)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"taken":        {[]string{"add", "--user", "bo", "--platform", "apns", testIPhone}, "registered to another user"},
		"bad platform": {[]string{"add", "--user", "bo", "--platform", "sms", "x"}, "platform"},
		"no user":      {[]string{"list"}, "--user"},
		"no token":     {[]string{"add", "--user", "bo", "--platform", "fcm"}, "takes 1 argument"},
		"unknown sub":  {[]string{"wipe", "--user", "bo"}, "unknown device subcommand"},
		"no sub":       {nil, "needs a subcommand"},
		"not bo's":     {[]string{"remove", "--user", "bo", id}, "not found"},
	} {
		if _, err := dev(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
	if out, err := dev("remove", "--user", "ana", id); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("remove: %q, %v", out, err)
	}
	if out, err := dev("list", "--user", "ana"); err != nil || strings.Contains(out, id) {
		t.Fatalf("list after remove: %q, %v", out, err)
	}
}

// TestMobileSettings: the mobile group refuses a wrong APNS_ENV, an APNs
// key without its ids and bad durations by name, and a node refuses to
// start on a key file that is not a key.
func TestMobileSettings(t *testing.T) {
	for env, want := range map[string]map[string]string{
		"APNS_ENV":              {"APNS_ENV": "staging"},
		"needs APNS_KEY_ID":     {"APNS_KEY_FILE": "/k.p8", "APNS_TEAM_ID": "T", "APNS_TOPIC": "x"},
		"MOBILE_PUSH_TTL":       {"MOBILE_PUSH_TTL": "forever"},
		"HERALD_BADGE_INTERVAL": {"HERALD_BADGE_INTERVAL": "0s"},
	} {
		_, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(want))
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%v: %v, want an error naming %s", want, err, env)
		}
	}
	c, err := loadConfig(flag.NewFlagSet("t", flag.ContinueOnError), nil, mapEnv(map[string]string{"APNS_ENV": "sandbox"}))
	if err != nil || !c.Mobile.APNSSandbox || c.Mobile.BadgeInterval != 3*time.Second || c.Mobile.TTL != 24*time.Hour {
		t.Fatalf("defaults with sandbox: %+v, %v", c.Mobile, err)
	}

	dir := t.TempDir()
	notKey := filepath.Join(dir, "AuthKey.p8")
	if err := os.WriteFile(notKey, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := procEnv(filepath.Join(dir, "herald.db"))
	env["APNS_KEY_FILE"], env["APNS_KEY_ID"], env["APNS_TEAM_ID"], env["APNS_TOPIC"] = notKey, "K", "T", "com.example.app"
	p, err := tryStartProc(t, env)
	if err == nil {
		t.Fatal("herald started with a key file that is not a key")
	}
	if !strings.Contains(p.stderr.String(), "APNS_KEY_FILE") || strings.Contains(p.stderr.String(), "AAAA") {
		t.Fatalf("stderr does not name APNS_KEY_FILE, or quotes the key:\n%s", p.stderr.String())
	}
}
