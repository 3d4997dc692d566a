package jwt_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	f.Add(hs256(f, with(valid(), "exp", "9999999999")))
	f.Add(hs256(f, with(valid(), "iat", "0", "nbf", "0")))
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

// FuzzSignedClaims signs arbitrary claims text with the verifier's own secret,
// so that what the fuzzer writes reaches the claims decoder rather than
// dying at the signature. Whatever is accepted must be one JSON object whose
// time claims are numbers, with no name given twice in any case, and must
// carry a user and an expiry.
func FuzzSignedClaims(f *testing.F) {
	exp := epoch.Add(time.Hour).Unix()
	for _, seed := range []string{
		fmt.Sprintf(`{"userId":"u","exp":%d}`, exp),
		fmt.Sprintf(`{"userId":"u","exp":"%d"}`, exp),
		fmt.Sprintf(`{"userId":"u","EXP":%d,"exp":%d}`, exp, exp),
		fmt.Sprintf(`{"userId":"u","exp":%d,"nbf":"0","iat":true}`, exp),
		fmt.Sprintf(`{"userId":"u","exp":%d,"userId":"v"}`, exp),
		fmt.Sprintf(`{"user\u0049d":"u","exp":%de0}`, exp),
		fmt.Sprintf(`{"userId":"u","exp":%d,"d":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}`, exp),
		`{"userId":"u","exp":1e400}`, `{"userId":"u","exp":-1}`, `[]`, `{}`, `{"exp":1}x`, "\xff",
	} {
		f.Add(seed)
	}
	v := newVerifier()
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	f.Fuzz(func(t *testing.T, claims string) {
		signing := header + "." + enc([]byte(claims))
		sig, err := gojwt.SigningMethodHS256.Sign(signing, secret)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), signing+"."+enc(sig))
		if err != nil {
			if code := herald.CodeOf(err); code != herald.ETOKEN {
				t.Fatalf("code %q for %q", code, claims)
			}
			return
		}
		dec := json.NewDecoder(strings.NewReader(claims))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted claims that are not a JSON object: %q", claims)
		}
		seen := map[string]bool{}
		for name, val := range m {
			low := strings.ToLower(name)
			if seen[low] {
				t.Fatalf("accepted claims naming %q twice: %q", low, claims)
			}
			seen[low] = true
			if low == "exp" || low == "nbf" || low == "iat" {
				if _, ok := val.(json.Number); !ok {
					t.Fatalf("accepted %s = %#v: %q", name, val, claims)
				}
			}
		}
		if c.UserID == "" || c.ExpiresAt.IsZero() {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to the JWKS parser, as a hostile
// JWKS_URL or a broken JWKS_FILE would: it must never panic, and every key
// it accepts must be usable for exactly one of Herald's algorithms.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwksOf(jwkOf("rsa", &testKeys.rsa.PublicKey), jwkOf("ec", &testKeys.ec.PublicKey), jwkOf("ed", testKeys.ed.Public())))
	f.Add(jwksOf(jwkOf("small", &testKeys.small.PublicKey)))
	for _, seed := range []string{
		`{"keys":[]}`, `{"keys":null}`, `[]`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA","n":"` + strings.Repeat("A", 3000) + `","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":""}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `{"keys":[{"kty":"RSA","d":"x"}]}`, `{"keys":[{"kty":"RSA","e":"/////w"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := jwt.ParseJWKS(doc)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		for _, k := range keys {
			if !usable(k) {
				t.Fatalf("accepted key %q of type %T", k.ID, k.Public)
			}
		}
	})
}

// FuzzParsePEM feeds arbitrary files to the PEM parser, as a broken
// JWT_PUBLIC_KEYS file would: it must never panic, never accept a private
// key, and every key it accepts must be usable.
func FuzzParsePEM(f *testing.F) {
	f.Add(pemOf(f, &testKeys.rsa.PublicKey))
	f.Add(append(pemOf(f, &testKeys.ec.PublicKey), pemOf(f, testKeys.ed.Public())...))
	f.Add(pemOf(f, &testKeys.small.PublicKey))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := jwt.ParsePEM(data, "kid")
		if err != nil {
			return
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) && len(keys) > 0 && !bytes.Contains(data, []byte("PUBLIC KEY")) && !bytes.Contains(data, []byte("CERTIFICATE")) {
			t.Fatalf("accepted keys from a file of private keys")
		}
		for _, k := range keys {
			if !usable(k) {
				t.Fatalf("accepted key %q of type %T", k.ID, k.Public)
			}
		}
	})
}

// usable reports whether k can verify one of Herald's algorithms, judged
// by its type and size alone.
func usable(k jwt.Key) bool {
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		return p.N != nil && p.N.BitLen() >= jwt.MinRSABits && p.N.BitLen() <= jwt.MaxRSABits && p.E >= 3
	case *ecdsa.PublicKey:
		return p.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return len(p) == ed25519.PublicKeySize
	}
	return false
}
