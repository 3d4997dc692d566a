package jwt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/heraldhq/herald"
)

// FuzzVerify feeds Verify arbitrary strings. It must never panic, must refuse
// with ETOKEN or ECREDENTIALS only, must never echo the input in an error, and
// anything it accepts must carry a usable user id and an expiry.
func FuzzVerify(f *testing.F) {
	f.Add(hs256(f, valid()))
	f.Add(hs256(f, with(valid(), "userId", nil)))
	f.Add(hs256(f, with(valid(), "exp", nil)))
	f.Add(hs256(f, with(valid(), "exp", 1e300)))
	f.Add(hs256(f, with(valid(), "exp", -1e300, "nbf", "x")))
	f.Add(hs256(f, with(valid(), "userId", 7)))
	f.Add(hs256(f, with(valid(), "channels", []any{"a", nil, 1})))
	f.Add(sign(f, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, valid()))
	f.Add(sign(f, gojwt.SigningMethodHS512, secret, valid()))
	f.Add("")
	f.Add(".")
	f.Add("..")
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.bnVsbA.sig")
	f.Add(strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 43))

	v := newVerifier()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if code := herald.CodeOf(err); code != herald.ETOKEN && code != herald.ECREDENTIALS {
				t.Fatalf("code %q for %q", code, token)
			}
			if len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error echoes the token")
			}
			return
		}
		if c.UserID == "" || len(c.UserID) > herald.MaxUserIDLen {
			t.Fatalf("accepted user id %q", c.UserID)
		}
		if !c.ExpiresAt.Add(10 * time.Second).After(epoch) {
			t.Fatalf("accepted expiry %v at %v", c.ExpiresAt, epoch)
		}
	})
}
