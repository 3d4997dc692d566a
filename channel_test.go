package herald_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestParseChannel(t *testing.T) {
	for in, want := range map[string]string{
		"notifications":  "notifications",
		"USER:Bob":       "user:Bob",
		"Private:team-1": "private:team-1",
		"a:b:C":          "a:b:C",
		"news/EU@x.y_z-": "news/EU@x.y_z-",
	} {
		got, err := herald.ParseChannel(in)
		if err != nil || got != want {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " ", "a b", "é", "x\x00", strings.Repeat("x", 129), "tab\t", "q?x"} {
		if _, err := herald.ParseChannel(bad); herald.CodeOf(err) != herald.EINVALID {
			t.Errorf("ParseChannel(%q): %v, want invalid", bad, err)
		}
	}
}

func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"notifications", "user:1", "PRIVATE:x", "", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := herald.ParseChannel(s)
		if err != nil {
			return
		}
		again, err := herald.ParseChannel(c)
		if err != nil || again != c {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, c, again, err)
		}
	})
}
