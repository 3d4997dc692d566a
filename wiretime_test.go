package herald_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// wireTime is the one form of a time on the wire: ISO-8601 UTC with
// exactly three fractional digits, as JavaScript's toISOString prints.
var wireTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// timeFields collects every string value under a key that names a time
// (…At, …Until, timestamp) anywhere in a JSON document.
func timeFields(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %s", doc)
	}
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (strings.HasSuffix(k, "At") || strings.HasSuffix(k, "Until") || k == "timestamp") {
					out[path+"."+k] = s
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}

// TestWireTimes encodes every wire type holding times, with times as the
// stores give them back (whole seconds from SQLite, nanoseconds from the
// clock, another zone from PostgreSQL): each comes out in the one format,
// and the other fields are still there.
func TestWireTimes(t *testing.T) {
	whole := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	nanos := time.Date(2026, 12, 6, 3, 0, 0, 123456789, time.UTC)
	zoned := time.Date(2026, 12, 6, 4, 0, 0, 5e6, time.FixedZone("CET", 3600))
	cases := map[string]struct {
		v    any
		want map[string]string // path -> wire time
		also string            // another field that must survive
	}{
		"notification": {herald.Notification{ID: "n1", Seq: 7, ReadAt: &zoned, CreatedAt: whole, Timestamp: nanos},
			map[string]string{".readAt": "2026-12-06T03:00:00.005Z", ".createdAt": "2026-12-06T03:00:00.000Z", ".timestamp": "2026-12-06T03:00:00.123Z"}, `"seq":7`},
		"unread notification": {&herald.Notification{ID: "n2", CreatedAt: nanos, Timestamp: nanos},
			map[string]string{".createdAt": "2026-12-06T03:00:00.123Z", ".timestamp": "2026-12-06T03:00:00.123Z"}, `"read":false`},
		"delivery": {herald.Delivery{ID: "d1", DueAt: whole, LeaseUntil: &nanos, CreatedAt: zoned, UpdatedAt: whole},
			map[string]string{".dueAt": "2026-12-06T03:00:00.000Z", ".leaseUntil": "2026-12-06T03:00:00.123Z", ".createdAt": "2026-12-06T03:00:00.005Z", ".updatedAt": "2026-12-06T03:00:00.000Z"}, `"id":"d1"`},
		"client event": {herald.ClientEvent{ID: "e1", Payload: json.RawMessage(`{}`), ReceivedAt: nanos},
			map[string]string{".receivedAt": "2026-12-06T03:00:00.123Z"}, `"id":"e1"`},
		"stats": {herald.Stats{TotalConnections: 3, Timestamp: nanos},
			map[string]string{".timestamp": "2026-12-06T03:00:00.123Z"}, `"totalConnections":3`},
		"node stats": {herald.NodeStats{Node: "a", Stats: herald.Stats{Timestamp: whole}},
			map[string]string{".timestamp": "2026-12-06T03:00:00.000Z"}, `"node":"a"`},
		"topic send": {herald.TopicSend{ID: "s1", Members: 4, CreatedAt: nanos, UpdatedAt: zoned},
			map[string]string{".createdAt": "2026-12-06T03:00:00.123Z", ".updatedAt": "2026-12-06T03:00:00.005Z"}, `"members":4`},
		"push subscription": {herald.PushSubscription{ID: "p1", Created: nanos},
			map[string]string{".createdAt": "2026-12-06T03:00:00.123Z"}, `"id":"p1"`},
	}
	for name, c := range cases {
		doc, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := timeFields(t, doc)
		if len(got) != len(c.want) {
			t.Errorf("%s: times %v, want %v", name, got, c.want)
		}
		for k, want := range c.want {
			if got[k] != want {
				t.Errorf("%s: %s = %q, want %q (%s)", name, k, got[k], want, doc)
			}
		}
		if !strings.Contains(string(doc), c.also) {
			t.Errorf("%s: %s lost %s", name, doc, c.also)
		}
	}
	// Decoding takes any RFC 3339 precision, as clients and old servers
	// send them.
	var n herald.Notification
	if err := json.Unmarshal([]byte(`{"id":"x","createdAt":"2026-12-06T03:00:00Z","timestamp":"2026-12-06T03:00:00.123456789+01:00"}`), &n); err != nil {
		t.Fatal(err)
	}
	if !n.CreatedAt.Equal(whole) || !n.Timestamp.Equal(nanos.Add(-time.Hour)) {
		t.Errorf("decoded %v %v", n.CreatedAt, n.Timestamp)
	}
}

// FuzzNotificationJSON decodes arbitrary JSON as a notification and encodes
// it again: encoding never fails on what decoded, every time comes out in
// the one wire format, and decoding that gives the same instants to the
// millisecond.
func FuzzNotificationJSON(f *testing.F) {
	for _, seed := range []string{
		`{"id":"a","seq":1,"userId":"u","createdAt":"2026-12-06T03:00:00Z","timestamp":"2026-12-06T03:00:00.123456789Z"}`,
		`{"readAt":"0001-01-01T00:00:00Z","read":true,"data":{"k":[1,2]}}`,
		`{"createdAt":"9999-12-31T23:59:59.999999999-23:59"}`,
		`{"timestamp":"2026-12-06T03:00:00.5+14:00","link":"/x"}`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var n herald.Notification
		if json.Unmarshal(in, &n) != nil {
			return
		}
		out, err := json.Marshal(n)
		if err != nil {
			bad := func(t time.Time) bool { y := t.UTC().Year(); return y < 0 || y > 9999 }
			if bad(n.CreatedAt) || bad(n.Timestamp) || (n.ReadAt != nil && bad(*n.ReadAt)) {
				return // beyond four-digit years in UTC: no ISO-8601 form to give
			}
			t.Fatalf("marshal %q: %v", in, err)
		}
		for k, v := range timeFields(t, out) {
			if k == ".data" || strings.HasPrefix(k, ".data.") {
				continue // the application's own data, passed through
			}
			if !wireTime.MatchString(v) {
				t.Fatalf("%s = %q from %q", k, v, in)
			}
		}
		var back herald.Notification
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !back.CreatedAt.Equal(n.CreatedAt.Truncate(time.Millisecond)) || !back.Timestamp.Equal(n.Timestamp.Truncate(time.Millisecond)) {
			t.Fatalf("times moved: %v %v -> %v %v", n.CreatedAt, n.Timestamp, back.CreatedAt, back.Timestamp)
		}
	})
}
