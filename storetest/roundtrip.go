package storetest

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func testRoundTrip(t *testing.T, s herald.Store) {
	ns := []*herald.Notification{
		{
			UserID:  "user-ü@example.com",
			Type:    "payment:due",
			Title:   "Payment due — 5 € 🎉",
			Message: "Line one\nLine \"two\"\t'quoted' \\ back",
			Link:    "https://example.com/pay?id=7&x=%20",
			// Whitespace, key order, escapes and big numbers must all survive.
			Data: []byte(`{ "z": 1, "a" : [1, 2.50, {"nested": null}], "big": 12345678901234567890, "s": "\u00e9\n" }`),
		},
		{UserID: "user-ü@example.com", Type: "t", Title: "no message, link or data"},
		{UserID: "user-ü@example.com", Type: "t", Title: "empty object", Data: []byte(`{}`)},
		{
			UserID:  strings.Repeat("u", herald.MaxUserIDLen),
			Type:    strings.Repeat("t", herald.MaxTypeLen),
			Title:   strings.Repeat("T", herald.MaxTitleLen),
			Message: strings.Repeat("m", herald.MaxMessageLen),
			Link:    strings.Repeat("l", herald.MaxLinkLen),
			Data:    []byte(`{"pad":"` + strings.Repeat("d", herald.MaxDataLen-10) + `"}`),
		},
	}
	for _, n := range ns {
		if err := n.Validate(); err != nil {
			t.Fatalf("test notification %q is invalid: %v", n.Title, err)
		}
	}
	create(t, s, ns...)
	for _, n := range ns {
		got := byID(t, s, n.UserID, n.ID)
		if got == nil {
			t.Fatalf("notification %q not found", n.Title)
		}
		sameNotification(t, n.Title, got, n)
		if len(n.Data) == 0 && len(got.Data) != 0 {
			t.Fatalf("%q: Data = %q, want none", n.Title, got.Data)
		}
	}
}
