package herald_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := herald.NewID()
		if c, err := herald.ParseID(id); err != nil || c != id {
			t.Fatalf("NewID %q does not parse to itself: %q %v", id, c, err)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("%s is not a version 7 RFC 9562 UUID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		if id[:13] < prev[:min(13, len(prev))] {
			t.Fatalf("%s sorts before the earlier %s", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestParseID(t *testing.T) {
	const canon = "0192f3a4-5b6c-7d8e-9f01-23456789abcd"
	for _, in := range []string{canon, strings.ToUpper(canon), strings.ReplaceAll(canon, "-", ""),
		"{" + canon + "}", "urn:uuid:" + canon} {
		if got, err := herald.ParseID(in); err != nil || got != canon {
			t.Errorf("ParseID(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "not-a-uuid", canon[:35], canon + "0", strings.Replace(canon, "9", "g", 1),
		"0192f3a4+5b6c-7d8e-9f01-23456789abcd"} {
		if _, err := herald.ParseID(bad); herald.CodeOf(err) != herald.EINVALID {
			t.Errorf("ParseID(%q): %v", bad, err)
		}
	}
}

func FuzzParseID(f *testing.F) {
	f.Add("0192f3a4-5b6c-7d8e-9f01-23456789abcd")
	f.Add("{0192F3A4-5B6C-7D8E-9F01-23456789ABCD}")
	f.Add("x")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := herald.ParseID(s)
		if err != nil {
			return
		}
		if again, err := herald.ParseID(c); err != nil || again != c || len(c) != 36 {
			t.Fatalf("%q → %q → %q %v", s, c, again, err)
		}
	})
}
