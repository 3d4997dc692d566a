package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/jsonscan"
)

// FuzzMembers holds Members to encoding/json: what it accepts is one JSON
// object, whose members it lists as json.Unmarshal into a map of raw values
// sees them (names unescaped, values as written), naming none twice in any
// case; and of those, String reads each string value and Elements each
// array value as encoding/json does.
func FuzzMembers(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":1}`, ` {"a" : [1, "x", {"b":[]}] , "B":null} `, `{"a":1,"A":2}`, `{"\u0061":"\u00e9\ud800\n"}`,
		`{"k":1,"\u212a":2}`, `{"s":"caf` + "\xc3\xa9" + `","t":"` + "\xff" + `"}`, `{"a":[["x"],"y",1e3,true,null]}`,
		`[1]`, `{"a":1}x`, `{"a":}`, `"s"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var names []string
		var values [][]byte
		err := jsonscan.Members(data, 0, func(name string, value []byte) error {
			names = append(names, name)
			values = append(values, value)
			return nil
		})
		var m map[string]json.RawMessage
		jsonErr := json.Unmarshal(data, &m)
		if err != nil {
			if err == jsonscan.ErrNotObject && jsonErr == nil && m != nil {
				t.Fatalf("%q: not an object to Members, one to encoding/json", data)
			}
			return
		}
		if jsonErr != nil || m == nil {
			t.Fatalf("%q: accepted, but encoding/json says %v", data, jsonErr)
		}
		for i, name := range names {
			for _, other := range names[:i] {
				if strings.EqualFold(name, other) {
					t.Fatalf("%q: %q and %q both accepted", data, other, name)
				}
			}
			if raw, ok := m[name]; !ok || !bytes.Equal(bytes.TrimSpace(raw), values[i]) {
				t.Fatalf("%q: member %q = %q, encoding/json %q", data, name, values[i], raw)
			}
			checkValue(t, values[i])
		}
	})
}

// checkValue holds String and Elements to encoding/json on value.
func checkValue(t *testing.T, value []byte) {
	t.Helper()
	var s string
	want := json.Unmarshal(value, &s)
	got, err := jsonscan.String(value)
	switch {
	case value[0] == '"' && (err != nil || want != nil || got != s):
		t.Fatalf("String(%q) = %q, %v; encoding/json %q, %v", value, got, err, s, want)
	case value[0] != '"' && err != jsonscan.ErrNotString:
		t.Fatalf("String(%q): %v, want ErrNotString", value, err)
	}
	var elems []json.RawMessage
	isArray := json.Unmarshal(value, &elems) == nil && value[0] == '['
	var seen [][]byte
	err = jsonscan.Elements(value, func(e []byte) error {
		seen = append(seen, e)
		return nil
	})
	switch {
	case !isArray && err != jsonscan.ErrNotArray:
		t.Fatalf("Elements(%q): %v, want ErrNotArray", value, err)
	case isArray && (err != nil || len(seen) != len(elems)):
		t.Fatalf("Elements(%q) = %q, %v; encoding/json %q", value, seen, err, elems)
	case isArray:
		for i := range elems {
			if !bytes.Equal(bytes.TrimSpace(elems[i]), seen[i]) {
				t.Fatalf("Elements(%q)[%d] = %q, encoding/json %q", value, i, seen[i], elems[i])
			}
		}
	}
}
