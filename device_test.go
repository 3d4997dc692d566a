package herald_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TestDeviceValidate accepts the token forms of both platforms and refuses
// unknown platforms, non-hex APNs tokens, spaces, control bytes and
// oversized fields.
func TestDeviceValidate(t *testing.T) {
	ok := []herald.Device{
		{UserID: "ana", Platform: herald.PlatformAPNs, Token: strings.Repeat("ab", 32)},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: "cXk1:APA91bHun4MxP5ego-KMwt2_KZFB", AppID: "com.example.app"},
	}
	for _, d := range ok {
		if err := d.Validate(); err != nil {
			t.Errorf("%+v: %v", d, err)
		}
	}
	bad := []herald.Device{
		{Platform: herald.PlatformFCM, Token: "t"},
		{UserID: "ana", Platform: "gcm", Token: "t"},
		{UserID: "ana", Platform: herald.PlatformAPNs, Token: "not-hex"},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: ""},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: "a b"},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: "a\nb"},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: strings.Repeat("x", herald.MaxDeviceTokenLen+1)},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: "t", AppID: "com example"},
		{UserID: "ana", Platform: herald.PlatformFCM, Token: "t", AppID: strings.Repeat("a", herald.MaxAppIDLen+1)},
		{UserID: "\xff", Platform: herald.PlatformFCM, Token: "t"},
		{UserID: "ana\x00", Platform: herald.PlatformFCM, Token: "t"},
		{UserID: "ana\nbob", Platform: herald.PlatformFCM, Token: "t"},
	}
	for _, d := range bad {
		if err := d.Validate(); herald.CodeOf(err) != herald.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", d, err)
		}
	}
}

// FuzzDeviceValidate: any fields give nil or EINVALID, never a panic, and an
// accepted device has printable fields within their bounds.
func FuzzDeviceValidate(f *testing.F) {
	f.Add("ana", "apns", strings.Repeat("0f", 32), "")
	f.Add("ana", "fcm", "cXk1:APA91b-token_x", "com.example.app")
	f.Add("", "sms", "a b", "\x00")
	f.Fuzz(func(t *testing.T, user, platform, token, app string) {
		d := herald.Device{UserID: user, Platform: herald.Platform(platform), Token: token, AppID: app}
		err := d.Validate()
		if err != nil && herald.CodeOf(err) != herald.EINVALID {
			t.Fatalf("Validate = %v", err)
		}
		if err == nil && (!d.Platform.Valid() || token == "" || len(token) > herald.MaxDeviceTokenLen ||
			strings.ContainsAny(token+app, " \t\r\n\x00") || len(app) > herald.MaxAppIDLen) {
			t.Fatalf("accepted %+v", d)
		}
	})
}

// TestParseRetryAfter reads seconds and HTTP dates, and 0 for anything
// else.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"120": 2 * time.Minute, " 5 ": 5 * time.Second, "0": 0, "-3": 0, "soon": 0, "": 0,
		"Tue, 01 Jan 2030 00:01:00 GMT": time.Minute, "Mon, 31 Dec 2029 23:00:00 GMT": 0,
		"999999999": 24 * time.Hour,
	} {
		if got := herald.ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
