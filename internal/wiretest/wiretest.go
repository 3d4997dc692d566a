// Package wiretest finds the times in JSON documents, for the tests that
// check every time Herald sends has the one wire format.
package wiretest

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Format is the one form of a time on the wire: ISO-8601 UTC with exactly
// three fractional digits, as JavaScript's toISOString prints.
var Format = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// Times collects every string under a key that names a time (…At, …Until,
// timestamp) anywhere in doc, by path.
func Times(t testing.TB, doc []byte) map[string]string {
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
