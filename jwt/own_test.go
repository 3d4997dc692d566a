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

	"github.com/heraldhq/herald"
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
// under hs256Header or under the Issuer's header with a secret's kid, by
// the verifier's secret or its previous one (head picks which, including a
// kid that names the other secret), and both paths must accept or refuse
// it alike and, accepting, decode the same claims.
func FuzzOwnClaims(f *testing.F) {
	for i, s := range ownSeeds {
		f.Add(s, uint8(i))
	}
	secret := []byte("own-claims-secret-own-claims-sec")
	previous := []byte("own-claims-previous-own-claims-p")
	v := NewVerifier(Config{Secret: secret, PreviousSecrets: [][]byte{previous}, Issuer: "herald",
		Now: func() time.Time { return ownEpoch }})
	if len(v.heads) != 2 || v.heads[0] == v.heads[1] {
		f.Fatalf("headers %q", v.heads)
	}
	enc := base64.RawURLEncoding.EncodeToString
	f.Fuzz(func(t *testing.T, claims string, head uint8) {
		header := hs256Header // 0, 1: either secret, no kid
		if head%4 >= 2 {
			header = v.heads[head%2] // 2: the secret's kid, 3: the previous one's
		}
		key := [][]byte{secret, previous}[head/4%2]
		signing := header + "." + enc([]byte(claims))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(signing))
		token := signing + "." + enc(mac.Sum(nil))
		if screen(token, v.heads) != nil {
			return // refused before either path
		}
		named := header == hs256Header || header == v.heads[head/4%2] // the key is one the header allows
		if got := v.signedBy(token); named != (got == sigOwn) || !named && got != sigForged {
			t.Fatalf("signedBy = %v for %q under header %d", got, claims, head)
		}
		want, own, wantErr := v.libraryClaims(context.Background(), token)
		if !named {
			if wantErr == nil {
				t.Fatalf("%q: the library accepts a kid that names another secret", claims)
			}
			return
		}
		got, gotErr := v.ownClaims(token)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%q: own path %v, library %v", claims, gotErr, wantErr)
		}
		if gotErr == nil && (!own || !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q:\n own path %+v\n  library %+v (own key %v)", claims, got, want, own)
		}
	})
}

// Tokens from Herald's own Issuer, which names its secret's kid, take the
// own path; so do those of a signer that writes the common header.
func TestIssuedTokensTakeTheOwnPath(t *testing.T) {
	secret := []byte("issued-tokens-secret-issued-toke")
	cfg := Config{Secret: secret, Issuer: "herald", Now: func() time.Time { return ownEpoch }}
	v := NewVerifier(cfg)
	token, err := NewIssuer(cfg).IssueToken(&herald.Claims{UserID: "u", Kind: herald.TokenAccess, ExpiresAt: ownEpoch.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.signedBy(token); got != sigOwn {
		t.Fatalf("an issued token: signedBy = %v, want sigOwn", got)
	}
	if c, err := v.Verify(context.Background(), token); err != nil || c.UserID != "u" || c.Kind != herald.TokenAccess {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	rotated := NewVerifier(Config{Secret: []byte("the-next-secret-the-next-secret!"), PreviousSecrets: [][]byte{secret},
		Issuer: "herald", Now: cfg.Now})
	if got := rotated.signedBy(token); got != sigOwn {
		t.Fatalf("after a rotation: signedBy = %v, want sigOwn", got)
	}
	other := NewVerifier(Config{Secret: []byte("a-stranger-secret-a-stranger-sec"), Issuer: "herald", Now: cfg.Now})
	if got := other.signedBy(token); got != sigUnjudged {
		t.Fatalf("another secret's kid: signedBy = %v, want sigUnjudged (the library refuses it)", got)
	}
	if _, err := other.Verify(context.Background(), token); err == nil {
		t.Fatal("a token of another secret passed")
	}
}
