package jwt_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/jwt"
)

// TestTimeClaimsMustBeNumbers signs tokens whose exp, nbf or iat is a JSON
// string holding a number ("9999999999"), which a lenient decoder reads as
// the number: with every algorithm and of every kind, each must be refused,
// while the same token with the number as a number passes.
func TestTimeClaimsMustBeNumbers(t *testing.T) {
	type signer struct {
		method gojwt.SigningMethod
		key    any
		kid    string
		iss    string
	}
	signers := map[string]signer{
		"HS256": {gojwt.SigningMethodHS256, secret, "", ""},
		"RS256": {gojwt.SigningMethodRS256, testKeys.rsa, "rsa", idp},
		"ES256": {gojwt.SigningMethodES256, testKeys.ec, "ec", idp},
		"EdDSA": {gojwt.SigningMethodEdDSA, testKeys.ed, "ed", idp},
	}
	v := trustedVerifier(jwt.TrustedIssuer{Keys: []jwt.Key{
		{ID: "rsa", Public: &testKeys.rsa.PublicKey},
		{ID: "ec", Public: &testKeys.ec.PublicKey},
		{ID: "ed", Public: testKeys.ed.Public()},
	}}, func(c *jwt.Config) {
		c.Kinds = []herald.TokenKind{herald.TokenConnection, herald.TokenAccess, herald.TokenRefresh}
	})
	far := epoch.Unix() + 3600
	past := epoch.Unix() - 60
	for name, s := range signers {
		kinds := []string{"", "connection"}
		if s.iss == "" { // only Herald's own secret issues access and refresh tokens
			kinds = append(kinds, "access", "refresh")
		}
		for _, kind := range kinds {
			base := func() gojwt.MapClaims {
				c := with(valid(), "exp", far, "iat", past, "nbf", past)
				if s.iss != "" {
					c["iss"] = s.iss
				}
				if kind != "" {
					c["typ"] = kind
					c["sid"] = "session-1"
				}
				return c
			}
			if _, err := v.Verify(context.Background(), signKid(t, s.method, s.key, s.kid, base())); err != nil {
				t.Fatalf("%s %q: the control token is refused: %v", name, kind, err)
			}
			for _, claim := range []string{"exp", "nbf", "iat"} {
				for _, bad := range []any{fmt.Sprint(base()[claim]), "9999999999", " 1", true, []any{far}, map[string]any{"n": far}} {
					tok := signKid(t, s.method, s.key, s.kid, with(base(), claim, bad))
					if c, err := v.Verify(context.Background(), tok); herald.CodeOf(err) != herald.ETOKEN {
						t.Errorf("%s %q: %s = %#v: claims %+v, err %v; want ETOKEN", name, kind, claim, bad, c, err)
					}
				}
			}
		}
	}
}

// TestTimeClaimsRange refuses numbers no clock reaches and accepts the
// forms JSON allows for an ordinary one.
func TestTimeClaimsRange(t *testing.T) {
	v := newVerifier()
	far := epoch.Unix() + 3600
	for _, exp := range []any{1e300, -1e300, 1e12, float64(far) + 0.5} {
		_, err := v.Verify(context.Background(), hs256(t, with(valid(), "exp", exp)))
		ok := exp == float64(far)+0.5
		if (err == nil) != ok {
			t.Errorf("exp %v: err %v, want accepted %v", exp, err, ok)
		}
	}
	// The same number written with an exponent is a number.
	raw := rawToken(t, `{"alg":"HS256","typ":"JWT"}`, fmt.Sprintf(`{"userId":"u","exp":%de0}`, far))
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Errorf("exp with an exponent: %v", err)
	}
}

// rawToken signs header and claims exactly as written, with the test secret.
func rawToken(t *testing.T, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte(header)) + "." + enc([]byte(claims))
	sig, err := gojwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc(sig)
}

// TestDuplicateNamesRefused refuses a header or claims object naming a
// member twice, which decoders resolve differently (first or last wins).
func TestDuplicateNamesRefused(t *testing.T) {
	v := newVerifier()
	exp := epoch.Unix() + 3600
	ok := rawToken(t, `{"alg":"HS256","typ":"JWT"}`, fmt.Sprintf(`{"userId":"alice","exp":%d}`, exp))
	if _, err := v.Verify(context.Background(), ok); err != nil {
		t.Fatalf("control token: %v", err)
	}
	for name, tok := range map[string]string{
		"claims userId twice":         rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":%d,"userId":"bob"}`, exp)),
		"claims exp twice":            rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":1,"exp":%d}`, exp)),
		"header alg twice":            rawToken(t, `{"alg":"none","alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":%d}`, exp)),
		"escaped duplicate":           rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":%d,"user\u0049d":"bob"}`, exp)),
		"case duplicate":              rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":%d,"USERID":"bob"}`, exp)),
		"EXP as a string":             rawToken(t, `{"alg":"HS256"}`, `{"userId":"alice","EXP":"9999999999"}`),
		"Nbf as a string":             rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":%d,"Nbf":"1"}`, exp)),
		"invalid UTF-8 in a claim":    rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf("{\"userId\":\"al\xffice\",\"exp\":%d}", exp)),
		"invalid UTF-8 in a name":     rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf("{\"userId\":\"alice\",\"exp\":%d,\"\xff\":1}", exp)),
		"invalid UTF-8 in the header": rawToken(t, "{\"alg\":\"HS256\",\"kid\":\"\xff\"}", fmt.Sprintf(`{"userId":"alice","exp":%d}`, exp)),
		"too many members":            rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"alice","exp":%d%s}`, exp, manyMembers(80))),
	} {
		if c, err := v.Verify(context.Background(), tok); herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("%s: claims %+v, err %v; want ETOKEN", name, c, err)
		}
	}
}

// TestDecoderBounds refuses, before decoding, tokens whose parts exceed
// the documented sizes, and tokens that are not three parts.
func TestDecoderBounds(t *testing.T) {
	v := newVerifier()
	exp := epoch.Unix() + 3600
	pad := func(n int) string { return strings.Repeat("x", n) }
	fits := rawToken(t, `{"alg":"HS256","x":"`+pad(jwt.MaxHeaderBytes-40)+`"}`,
		fmt.Sprintf(`{"userId":"u","exp":%d,"p":"%s"}`, exp, pad(jwt.MaxClaimsBytes-60)))
	if _, err := v.Verify(context.Background(), fits); err != nil {
		t.Fatalf("a token within every bound (%d bytes) is refused: %v", len(fits), err)
	}
	for name, tok := range map[string]string{
		"header too big": rawToken(t, `{"alg":"HS256","x":"`+pad(jwt.MaxHeaderBytes)+`"}`, fmt.Sprintf(`{"userId":"u","exp":%d}`, exp)),
		"claims too big": rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"u","exp":%d,"p":"%s"}`, exp, pad(jwt.MaxClaimsBytes))),
		"four parts":     fits + ".x",
		"two parts":      "a.b",
		"deep claims":    rawToken(t, `{"alg":"HS256"}`, fmt.Sprintf(`{"userId":"u","exp":%d,"d":%s1%s}`, exp, strings.Repeat("[", 2000), strings.Repeat("]", 2000))),
	} {
		if c, err := v.Verify(context.Background(), tok); herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("%s: claims %+v, err %v; want ETOKEN", name, c, err)
		}
	}
}

// manyMembers returns n distinct members, each preceded by a comma.
func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"m%d":0`, i)
	}
	return b.String()
}
