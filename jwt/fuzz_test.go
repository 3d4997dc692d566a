package jwt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/jwt"
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

// FuzzVerifyKeys is FuzzVerify against a verifier that also trusts an
// issuer's RSA, P-256 and Ed25519 keys and takes every kind: whatever the
// header claims (alg, kid, jku), nothing unsigned by a key of the token's own
// issuer may pass, and access and refresh tokens only with Herald's secret.
func FuzzVerifyKeys(f *testing.F) {
	keys := []jwt.Key{
		{ID: "rsa", Public: &testKeys.rsa.PublicKey},
		{ID: "ec", Public: &testKeys.ec.PublicKey},
		{ID: "ed", Public: testKeys.ed.Public()},
	}
	f.Add(signKid(f, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", idpClaims()))
	f.Add(signKid(f, gojwt.SigningMethodES256, testKeys.ec, "ec", idpClaims()))
	f.Add(signKid(f, gojwt.SigningMethodEdDSA, testKeys.ed, "ed", idpClaims()))
	f.Add(signKid(f, gojwt.SigningMethodRS256, testKeys.rsa, "", with(idpClaims(), "typ", "access")))
	f.Add(signKid(f, gojwt.SigningMethodHS256, pemOf(f, &testKeys.rsa.PublicKey), "rsa", idpClaims()))
	f.Add(hs256(f, with(valid(), "typ", "refresh", "sid", "s")))
	f.Add(hs256(f, with(valid(), "typ", 1)))
	f.Add(hs256(f, with(valid(), "sid", []string{"x"})))

	v := jwt.NewVerifier(jwt.Config{Secret: secret, Now: clock,
		Kinds:   []herald.TokenKind{herald.TokenConnection, herald.TokenAccess, herald.TokenRefresh},
		Trusted: []jwt.TrustedIssuer{{Name: idp, Keys: keys}}})
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if code := herald.CodeOf(err); code != herald.ETOKEN && code != herald.ECREDENTIALS {
				t.Fatalf("code %q", code)
			}
			if len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error echoes the token")
			}
			return
		}
		if c.UserID == "" || c.ExpiresAt.IsZero() {
			t.Fatalf("accepted claims %+v", c)
		}
		if c.Kind != herald.TokenConnection && c.Issuer != "" {
			t.Fatalf("accepted a %s token from issuer %q", c.Kind, c.Issuer)
		}
		if c.Issuer != "" && c.Issuer != idp {
			t.Fatalf("accepted issuer %q", c.Issuer)
		}
	})
}
