package auth_test

import (
	"testing"

	"github.com/heraldhq/herald/auth"
)

// FuzzCheckPassword feeds CheckPassword arbitrary stored hashes: a corrupt
// or hostile row must match nothing it was not made from, never panic, and
// never make the check allocate beyond the bounds parseHash enforces.
func FuzzCheckPassword(f *testing.F) {
	h, err := auth.HashPassword("pw-pw-pw-pw", cheap)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(h, "pw-pw-pw-pw")
	f.Add(h, "")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=64,t=1,p=1,x=2$$", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, hash, password string) {
		ok := auth.CheckPassword(hash, password)
		if ok && hash != h {
			// Only a well-formed hash can match, and then it must be a
			// real argon2id hash of password: hash it again to compare.
			if !auth.CheckPassword(hash, password) {
				t.Fatal("CheckPassword is not deterministic")
			}
		}
		if hash == h && ok != (password == "pw-pw-pw-pw") {
			t.Fatalf("the real hash answered %v for %q", ok, password)
		}
	})
}
