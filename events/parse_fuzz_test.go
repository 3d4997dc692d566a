package events_test

import (
	"context"
	"os"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/events"
)

// FuzzParse feeds arbitrary documents to the template parser, as a hostile
// or broken HERALD_EVENTS_FILE would: it must return templates or an error,
// never panic, and templates it accepts must handle an event of each of
// their names without panicking either.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/events.json", "defaults.json"} {
		doc, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, seed := range []string{
		`{}`, `[]`, `null`, `{"a":null}`, `{"a":{}}`, `{"a":{"title":"{{"}}`,
		`{"a":{"type":"t","title":"{{.x}}","required":["userId"],"data":{"k":{"from":"x"}}}}`,
		`{"a":{"type":"t","title":"T","unknown":1}}`, `{"a":{"type":"t","title":"{{range .x}}{{.}}{{end}}"}}`,
		`{"a":{"title":"T","title":"U"}}`, "{\"\xff\":{}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ts, err := events.Parse("fuzz.json", doc)
		if err != nil {
			return
		}
		h, _, _ := setup(t, ts)
		for _, name := range ts.Names() {
			_, err := h.HandleEvent(context.Background(), &herald.Event{Name: name, Data: map[string]any{"userId": "u", "x": []any{1, "a"}}})
			if code := herald.CodeOf(err); err != nil && code == herald.EINTERNAL {
				t.Fatalf("event %q: internal error %v", name, err)
			}
		}
	})
}
