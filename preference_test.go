package herald_test

import (
	"reflect"
	"testing"

	"github.com/heraldhq/herald"
)

// A clone is equal to its source and shares nothing a caller could change
// through the other: the type switches, their maps, the quiet hours.
func TestPreferencesCloneSharesNothing(t *testing.T) {
	p := &herald.Preferences{
		UserID:     "alice",
		Types:      map[string]map[herald.Channel]bool{"trip": {herald.ChannelEmail: true}},
		TimeZone:   "Europe/Paris",
		QuietHours: &herald.QuietHours{Start: "22:00", End: "07:00"},
		Email:      "a@example.com",
	}
	c := p.Clone()
	if !reflect.DeepEqual(c, p) {
		t.Fatalf("clone %+v differs from %+v", c, p)
	}
	c.Types["trip"][herald.ChannelEmail] = false
	c.Types["news"] = map[herald.Channel]bool{}
	c.QuietHours.Start = "23:00"
	if !p.Types["trip"][herald.ChannelEmail] || len(p.Types) != 1 || p.QuietHours.Start != "22:00" {
		t.Fatalf("changing the clone changed the source: %+v", p)
	}
	if z := (&herald.Preferences{UserID: "bob"}).Clone(); z.Types != nil || z.QuietHours != nil {
		t.Fatalf("a clone of the zero preferences has %+v", z)
	}
}
