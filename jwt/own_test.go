package jwt

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// ownSeeds are claims for FuzzOwnClaims: Herald's own, the edges of each
// claim's type, names in other cases and escapes, and the times around the
// verifier's clock (ownEpoch, leeway 5 s).
var ownSeeds = func() []string {
	now := ownEpoch.Unix()
	seeds := []string{
		fmt.Sprintf(`{"userId":"u","exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","exp":%d,"iss":"herald"}`, now+60),
		fmt.Sprintf(`{"userId":"u","exp":%d,"iss":"other"}`, now+60),
		fmt.Sprintf(`{"userId":"u","exp":%d,"iss":null}`, now+60),
		fmt.Sprintf(` {"sub":"u","exp":%d.5,"iat":%d,"nbf":%d} `, now+60, now, now),
		fmt.Sprintf(`{"userId":"u","exp":%d}`, now-4),
		fmt.Sprintf(`{"userId":"u","exp":%d}`, now-6),
		fmt.Sprintf(`{"userId":"u","exp":%d,"iat":%d}`, now+60, now+4),
		fmt.Sprintf(`{"userId":"u","exp":%d,"iat":%d}`, now+60, now+6),
		fmt.Sprintf(`{"userId":"u","exp":%d,"nbf":%d}`, now+60, now+6),
		fmt.Sprintf(`{"USERID":"u","Exp":%d,"\u0074yp":"access","\u017fid":"s","JTI":"j","Aud":["a","b"]}`, now+60),
		fmt.Sprintf(`{"userId":"\u00e9\ud800","channels":["a",null,"b*"],"aud":"x","exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","channels":[],"aud":[],"exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","channels":null,"aud":null,"typ":null,"exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","aud":["a",null],"exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","aud":[["a"]],"exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","channels":[1],"exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","channels":"a","exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":true,"exp":%d}`, now+60),
		fmt.Sprintf(`{"userId":"u","exp":%d,"extra":{"userId":1}}`, now+60),
		fmt.Sprintf(`{"userId":"u","exp":"%d"}`, now+60),
		fmt.Sprintf(`{"userId":"u","exp":%d}x`, now+60),
		`{"userId":"u"}`, `{"userId":"u","exp":1e400}`, `[]`, `null`, `{}`, "\xff",
	}
	return seeds
}()

// ownEpoch is the clock of FuzzOwnClaims' verifier.
var ownEpoch = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// FuzzOwnClaims holds ownClaims, the path of tokens one of Herald's secrets
// signed, to the library's: the claims text the fuzzer writes is signed
// with the verifier's secret under hs256Header, and both paths must accept
// or refuse it alike and, accepting, decode the same claims.
func FuzzOwnClaims(f *testing.F) {
	for _, s := range ownSeeds {
		f.Add(s)
	}
	secret := []byte("own-claims-secret-own-claims-sec")
	v := NewVerifier(Config{Secret: secret, Issuer: "herald", Now: func() time.Time { return ownEpoch }})
	enc := base64.RawURLEncoding.EncodeToString
	f.Fuzz(func(t *testing.T, claims string) {
		signing := hs256Header + "." + enc([]byte(claims))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signing))
		token := signing + "." + enc(mac.Sum(nil))
		if screen(token) != nil {
			return // refused before either path
		}
		if v.signedBy(token) != sigOwn {
			t.Fatalf("signedBy does not see the secret's signature: %q", claims)
		}
		got, gotErr := v.ownClaims(token)
		want, own, wantErr := v.libraryClaims(context.Background(), token)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%q: own path %v, library %v", claims, gotErr, wantErr)
		}
		if gotErr == nil && (!own || !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q:\n own path %+v\n  library %+v (own key %v)", claims, got, want, own)
		}
	})
}
