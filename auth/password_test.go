package auth_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/auth"
)

func TestPasswordHash(t *testing.T) {
	h1, err := auth.HashPassword("hunter2-hunter2", cheap)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := auth.HashPassword("hunter2-hunter2", cheap)
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q", h1)
	}
	if !auth.CheckPassword(h1, "hunter2-hunter2") || !auth.CheckPassword(h2, "hunter2-hunter2") {
		t.Error("the password does not match its hash")
	}
	for _, wrong := range []string{"", "hunter2-hunter3", "Hunter2-hunter2", "hunter2-hunter2 "} {
		if auth.CheckPassword(h1, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	parts := strings.Split(h1, "$")
	for name, bad := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":        strings.Replace(h1, "argon2id", "argon2i", 1),
		"huge memory":    strings.Replace(h1, "m=64", "m=99999999", 1),
		"zero time":      strings.Replace(h1, "t=1", "t=0", 1),
		"bad salt":       strings.Join(append(parts[:4:4], "!!!", parts[5]), "$"),
		"short key":      strings.Join(append(parts[:5:5], "AAAA"), "$"),
		"extra field":    h1 + "$x",
		"missing params": "$argon2id$v=19$$" + parts[4] + "$" + parts[5],
	} {
		if auth.CheckPassword(bad, "hunter2-hunter2") {
			t.Errorf("%s hash matched", name)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery", auth.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("default hash %q, want OWASP's argon2id minimum", h)
	}
	if !auth.CheckPassword(h, "correct horse battery") {
		t.Error("no match")
	}
}

// BenchmarkCheckPasswordDefault measures what every login pays with the
// default argon2id costs (and what an unknown username pays for the dummy).
func BenchmarkCheckPasswordDefault(b *testing.B) {
	h, err := auth.HashPassword("correct horse battery", auth.Params{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !auth.CheckPassword(h, "correct horse battery") {
			b.Fatal("no match")
		}
	}
}
