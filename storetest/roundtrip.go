package storetest

import (
	"bytes"
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
	for _, n := range asNew(ns...) {
		if err := n.Validate(); err != nil {
			t.Fatalf("test notification %q is invalid: %v", n.Title, err)
		}
	}
	// Keep the input: a store could rewrite it through ns as well.
	input := make([]herald.Notification, len(ns))
	for i, n := range ns {
		input[i] = *n
		input[i].Data = bytes.Clone(n.Data)
	}
	create(t, s, ns...)
	for i, n := range ns {
		want := input[i]
		for what, got := range map[string]*herald.Notification{"returned": n, "stored": byID(t, s, n.UserID, n.ID)} {
			if got == nil {
				t.Fatalf("notification %q not found", want.Title)
			}
			if got.UserID != want.UserID || got.Type != want.Type || got.Title != want.Title ||
				got.Message != want.Message || got.Link != want.Link {
				t.Fatalf("%s notification differs from its input:\n got %+v\nwant %+v", what, got, want)
			}
			if !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("%s Data = %q, want %q byte for byte", what, got.Data, want.Data)
			}
		}
		sameNotification(t, want.Title, byID(t, s, n.UserID, n.ID), n)
	}
}
