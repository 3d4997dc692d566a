package client

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBackoffDoublesAndCaps(t *testing.T) {
	b := backoff{Initial: time.Second, Max: 30 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		if got := b.delay(i + 1); got != w*time.Second {
			t.Errorf("delay(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := b.delay(1000); got != 30*time.Second {
		t.Errorf("delay(1000) = %v, want the cap", got)
	}
}

func TestBackoffJitter(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		b := backoff{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2, rand: func() float64 { return r }}
		for n := 1; n <= 8; n++ {
			base := (backoff{Initial: time.Second, Max: 30 * time.Second}).delay(n)
			got := b.delay(n)
			if got > base || got < base*8/10 {
				t.Errorf("r=%v delay(%d) = %v, want within [%v, %v]", r, n, got, base*8/10, base)
			}
		}
	}
	// With the real random source, delays differ between clients.
	b := backoff{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[b.delay(3)] = true
	}
	if len(seen) < 2 {
		t.Error("20 jittered delays were all equal")
	}
}

func TestSeenSet(t *testing.T) {
	s := newSeenSet(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Errorf("add(%s) = false on first sight", id)
		}
	}
	if s.add("a") {
		t.Error("add(a) = true the second time")
	}
	s.add("d") // evicts b, the least recently seen ("a" was just touched)
	if !s.add("b") {
		t.Error("b was not forgotten when the set overflowed")
	}
	if s.add("a") {
		t.Error("a was forgotten although recently seen")
	}
	if len(s.index) != 3 || s.order.Len() != 3 {
		t.Errorf("the set holds %d ids, want 3", len(s.index))
	}
}

func TestLifetime(t *testing.T) {
	cases := []struct {
		l    Lifetime
		d    time.Duration
		def  float64
		want time.Duration
	}{
		{Lifetime{}, 15 * time.Minute, DefaultAccessFraction, 12 * time.Minute},
		{Lifetime{}, 7 * 24 * time.Hour, DefaultRefreshFraction, 156 * time.Hour}, // 6.5 days
		{Lifetime{Margin: 3 * time.Minute}, 15 * time.Minute, DefaultAccessFraction, 12 * time.Minute},
		{Lifetime{Margin: time.Minute}, 15 * time.Minute, DefaultAccessFraction, 14 * time.Minute},
		{Lifetime{Fraction: 0.5, Margin: time.Minute}, 15 * time.Minute, 0, 7*time.Minute + 30*time.Second},
		{Lifetime{Margin: time.Hour}, 15 * time.Minute, 0, 0},
	}
	for _, c := range cases {
		if got := c.l.of(c.d, c.def); got != c.want {
			t.Errorf("%+v.of(%v) = %v, want %v", c.l, c.d, got, c.want)
		}
	}
}

func TestTokenFromJWT(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tok := enc(`{"alg":"HS256"}`) + "." + enc(`{"sub":"u1","exp":1900000000}`) + ".sig"
	got := TokenFromJWT(tok)
	if got.Value != tok || got.UserID != "u1" || !got.ExpiresAt.Equal(time.Unix(1900000000, 0)) {
		t.Errorf("TokenFromJWT = %+v", got)
	}
	tok = enc(`{}`) + "." + enc(`{"userId":"u2","sub":"x"}`) + ".sig"
	if got := TokenFromJWT(tok); got.UserID != "u2" || !got.ExpiresAt.IsZero() {
		t.Errorf("TokenFromJWT without exp = %+v", got)
	}
	for _, opaque := range []string{"an-api-key", "a.b.c", ""} {
		if got := TokenFromJWT(opaque); got.Value != opaque || !got.ExpiresAt.IsZero() || got.UserID != "" {
			t.Errorf("TokenFromJWT(%q) = %+v, want the value alone", opaque, got)
		}
	}
}

func TestScrub(t *testing.T) {
	err := errors.New(`Get "http://h/ws?token=SECRET123&userId=u": refused`)
	got := scrub(err, "SECRET123")
	if strings.Contains(got.Error(), "SECRET123") || !strings.Contains(got.Error(), "refused") {
		t.Errorf("scrub = %q", got)
	}
	if scrub(err, "absent") != err {
		t.Error("scrub changed an error without the secret")
	}
	e := &Error{Type: ErrNetwork, Message: "connecting", Err: got}
	if strings.Contains(e.Error(), "SECRET123") {
		t.Errorf("Error() = %q shows the token", e.Error())
	}
}

func TestHTTPBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://localhost:3007/ws":           "http://localhost:3007",
		"wss://example.com/ws?x=1":         "https://example.com",
		"wss://example.com/herald/ws":      "https://example.com/herald",
		"ws://localhost:3007/":             "http://localhost:3007",
		"ws://[::1]:3007/ws":               "http://[::1]:3007",
		"http://localhost:3007/ws#section": "http://localhost:3007",
	} {
		got, err := httpBase(in)
		if err != nil || got != want {
			t.Errorf("httpBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x/ws", "ws:///ws", "::"} {
		if _, err := httpBase(bad); err == nil {
			t.Errorf("httpBase(%q) succeeded", bad)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	ts := StaticToken("t")
	for name, o := range map[string]Options{
		"no URL":          {TokenSource: ts},
		"http URL":        {URL: "http://h/ws", TokenSource: ts},
		"no token source": {URL: "ws://h/ws"},
		"query no user":   {URL: "ws://h/ws", TokenSource: ts, Auth: AuthQuery},
		"backoffs":        {URL: "ws://h/ws", TokenSource: ts, InitialBackoff: time.Minute, MaxBackoff: time.Second},
		"refresh at 1":    {URL: "ws://h/ws", TokenSource: ts, RefreshAt: 1},
		"negative since":  {URL: "ws://h/ws", TokenSource: ts, Since: func() *int64 { n := int64(-1); return &n }()},
		"max attempts":    {URL: "ws://h/ws", TokenSource: ts, MaxAttempts: -1},
		"encoding":        {URL: "ws://h/ws", TokenSource: ts, Encoding: "cbor"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	c, err := New(Options{URL: "ws://h:1/ws", TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if o.InitialBackoff != time.Second || o.MaxBackoff != 30*time.Second || o.Jitter != DefaultJitter ||
		o.RefreshAt != DefaultRefreshAt || o.APIURL != "http://h:1" || c.State() != StateDisconnected ||
		o.Encoding != EncodingJSON || o.Compression {
		t.Errorf("defaults: %+v", o)
	}
}

// TestUnreadKeepsTheNewestVersion: a count older than the one held is
// ignored; a greeting replaces whatever was held (a new connection, possibly
// to a server whose store started over); an unversioned count is taken.
func TestUnreadKeepsTheNewestVersion(t *testing.T) {
	c, err := New(Options{URL: "ws://127.0.0.1:1/ws", TokenSource: StaticToken("t")})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	c.OnUnreadCount(func(n int) { seen = append(seen, n) })
	five := 5
	c.greetUnread(&five, 10)
	for _, m := range []string{
		`{"type":"notification:unread_count","count":7,"version":12}`,
		`{"type":"notification:unread_count","count":6,"version":11}`, // older: ignored
		`{"type":"notification:unread_count","count":9,"version":12}`, // same version: ignored
		`{"type":"notification:unread_count","count":3,"version":13}`,
	} {
		c.noteUnread([]byte(m))
	}
	<-c.ev.wait()
	if u, _ := c.Unread(); u != (Unread{Count: 3, Version: 13}) {
		t.Fatalf("Unread = %+v, want 3 at version 13", u)
	}
	if fmt.Sprint(seen) != "[5 7 3]" {
		t.Fatalf("OnUnreadCount saw %v, want [5 7 3]", seen)
	}
	one := 1
	c.greetUnread(&one, 2) // a new connection's greeting
	c.noteUnread([]byte(`{"type":"notification:unread_count","count":4}`))
	<-c.ev.wait()
	if u, _ := c.Unread(); u != (Unread{Count: 4}) {
		t.Fatalf("after a greeting and an unversioned count Unread = %+v, want 4", u)
	}
}
