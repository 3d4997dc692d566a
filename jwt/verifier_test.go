package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/jwt"
)

var (
	secret = []byte("test-secret-0123456789abcdef0123")
	epoch  = time.Date(2025, 11, 10, 8, 0, 0, 0, time.UTC)
)

func clock() time.Time { return epoch }

func newVerifier() *jwt.Verifier {
	return jwt.NewVerifier(jwt.Config{Secret: secret, Now: clock})
}

// sign signs claims with method and key, as any third-party issuer would.
func sign(t testing.TB, method gojwt.SigningMethod, key any, claims gojwt.MapClaims) string {
	t.Helper()
	s, err := gojwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// hs256 returns a token signed with the test secret carrying claims.
func hs256(t testing.TB, claims gojwt.MapClaims) string {
	return sign(t, gojwt.SigningMethodHS256, secret, claims)
}

func valid() gojwt.MapClaims {
	return gojwt.MapClaims{
		"userId":   "user-1",
		"sub":      "subject-1",
		"channels": []string{"team:a", "room/b"},
		"iat":      epoch.Add(-time.Minute).Unix(),
		"exp":      epoch.Add(time.Hour).Unix(),
		"jti":      "token-id",
	}
}

func with(c gojwt.MapClaims, kv ...any) gojwt.MapClaims {
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

func TestVerifyValid(t *testing.T) {
	c, err := newVerifier().Verify(context.Background(), hs256(t, valid()))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.UserID != "user-1" {
		t.Errorf("UserID = %q, want user-1 (userId wins over sub)", c.UserID)
	}
	if len(c.Channels) != 2 || c.Channels[0] != "team:a" || c.Channels[1] != "room/b" {
		t.Errorf("Channels = %q", c.Channels)
	}
	if !c.ExpiresAt.Equal(epoch.Add(time.Hour)) {
		t.Errorf("ExpiresAt = %v", c.ExpiresAt)
	}
	if !c.IssuedAt.Equal(epoch.Add(-time.Minute)) {
		t.Errorf("IssuedAt = %v", c.IssuedAt)
	}
	if c.ID != "token-id" {
		t.Errorf("ID = %q", c.ID)
	}
}

func TestVerifySubOnly(t *testing.T) {
	c, err := newVerifier().Verify(context.Background(), hs256(t, with(valid(), "userId", nil, "channels", nil)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.UserID != "subject-1" || c.Channels != nil {
		t.Errorf("claims = %+v, want sub as user and no channels", c)
	}
}

func TestVerifyLeeway(t *testing.T) {
	// Within the default 5s leeway an expired token still passes, and a token
	// not yet valid already does.
	for name, claims := range map[string]gojwt.MapClaims{
		"exp 4s ago":     with(valid(), "exp", epoch.Add(-4*time.Second).Unix()),
		"nbf in 4s":      with(valid(), "nbf", epoch.Add(4*time.Second).Unix()),
		"iat in 4s":      with(valid(), "iat", epoch.Add(4*time.Second).Unix()),
		"nbf and iat ok": with(valid(), "nbf", epoch.Unix(), "iat", epoch.Unix()),
	} {
		if _, err := newVerifier().Verify(context.Background(), hs256(t, claims)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A negative leeway means none.
	strict := jwt.NewVerifier(jwt.Config{Secret: secret, Now: clock, Leeway: -1})
	if _, err := strict.Verify(context.Background(), hs256(t, with(valid(), "exp", epoch.Add(-time.Second).Unix()))); herald.CodeOf(err) != herald.ETOKEN {
		t.Errorf("no leeway, expired 1s ago: err = %v, want ETOKEN", err)
	}
}

func TestVerifyRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	good := hs256(t, valid())
	parts := strings.Split(good, ".")

	tests := map[string]string{
		"expired":          hs256(t, with(valid(), "exp", epoch.Add(-time.Minute).Unix())),
		"nbf in future":    hs256(t, with(valid(), "nbf", epoch.Add(time.Minute).Unix())),
		"iat in future":    hs256(t, with(valid(), "iat", epoch.Add(time.Minute).Unix())),
		"missing exp":      hs256(t, with(valid(), "exp", nil)),
		"exp as string":    hs256(t, with(valid(), "exp", "2099-01-01")),
		"wrong secret":     sign(t, gojwt.SigningMethodHS256, []byte("another-secret-another-secret!!"), valid()),
		"alg none":         sign(t, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, valid()),
		"RS256":            sign(t, gojwt.SigningMethodRS256, rsaKey, valid()),
		"ES256":            sign(t, gojwt.SigningMethodES256, ecKey, valid()),
		"HS512":            sign(t, gojwt.SigningMethodHS512, secret, valid()),
		"HS384":            sign(t, gojwt.SigningMethodHS384, secret, valid()),
		"garbage":          "not-a-token",
		"three dots":       "a.b.c",
		"empty parts":      "..",
		"bad base64":       "!!!.@@@.###",
		"unsigned":         parts[0] + "." + parts[1] + ".",
		"tampered payload": parts[0] + "." + enc([]byte(`{"userId":"admin","exp":4102444800}`)) + "." + parts[2],
		"header says none": enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"userId number":    hs256(t, with(valid(), "userId", 42)),
		"userId object":    hs256(t, with(valid(), "userId", map[string]any{"id": "x"})),
		"channels string":  hs256(t, with(valid(), "channels", "team:a")),
		"channels numbers": hs256(t, with(valid(), "channels", []int{1, 2})),
		"no user at all":   hs256(t, with(valid(), "userId", nil, "sub", nil)),
		"empty userId":     hs256(t, with(valid(), "userId", "", "sub", nil)),
		"userId too long":  hs256(t, with(valid(), "userId", strings.Repeat("u", herald.MaxUserIDLen+1))),
		"userId control":   hs256(t, with(valid(), "userId", "bad\nuser")),
		"oversized":        hs256(t, with(valid(), "pad", strings.Repeat("p", jwt.MaxTokenLen))),
	}
	v := newVerifier()
	for name, token := range tests {
		c, err := v.Verify(context.Background(), token)
		if err == nil {
			t.Errorf("%s: accepted, claims %+v", name, c)
			continue
		}
		if herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("%s: code = %q, want %q", name, herald.CodeOf(err), herald.ETOKEN)
		}
		if msg := herald.ErrorMessage(err); msg != "Invalid or expired token" {
			t.Errorf("%s: message = %q", name, msg)
		}
		if len(token) > 3 && strings.Contains(err.Error(), token) {
			t.Errorf("%s: error contains the token", name)
		}
	}
}

func TestVerifyMissing(t *testing.T) {
	_, err := newVerifier().Verify(context.Background(), "")
	if herald.CodeOf(err) != herald.ECREDENTIALS {
		t.Fatalf("err = %v, want ECREDENTIALS", err)
	}
}

func TestVerifyNoSecret(t *testing.T) {
	// A token signed with the empty key must not pass a verifier that was
	// given no secret: the zero Config refuses everything.
	token := sign(t, gojwt.SigningMethodHS256, []byte{}, valid())
	for _, v := range []*jwt.Verifier{jwt.NewVerifier(jwt.Config{}), jwt.NewVerifier(jwt.Config{Now: clock})} {
		if _, err := v.Verify(context.Background(), token); herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("err = %v, want ETOKEN", err)
		}
	}
}

func TestVerifierCopiesSecret(t *testing.T) {
	key := append([]byte(nil), secret...)
	v := jwt.NewVerifier(jwt.Config{Secret: key, Now: clock})
	key[0] ^= 0xff
	if _, err := v.Verify(context.Background(), hs256(t, valid())); err != nil {
		t.Fatalf("Verify after caller reused its slice: %v", err)
	}
}

// BenchmarkVerify measures one token check, paid on every WebSocket handshake
// and every inbox request.
func BenchmarkVerify(b *testing.B) {
	v := newVerifier()
	token := hs256(b, valid())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyIssued measures the check of a token Herald's own Issuer
// signed (its header names the secret's kid): an access token, checked on
// every API request.
func BenchmarkVerifyIssued(b *testing.B) {
	cfg := jwt.Config{Secret: secret, Now: clock}
	v := jwt.NewVerifier(cfg)
	token, err := jwt.NewIssuer(cfg).IssueToken(&herald.Claims{UserID: "u", Kind: herald.TokenAccess, ExpiresAt: epoch.Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyForged measures the refusal of a token signed with a wrong
// secret, which a client flooding the handshake can send for nothing.
func BenchmarkVerifyForged(b *testing.B) {
	v := newVerifier()
	token := sign(b, gojwt.SigningMethodHS256, []byte("not-the-secret-not-the-secret-xx"), valid())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err == nil {
			b.Fatal("a forged token passed")
		}
	}
}

// TestSignatureCheckedFirst covers the refusal of HS256 tokens by their
// signature before anything is decoded (signature.go): whatever it refuses
// early, the library would have refused, and what it lets through, the
// library still judges.
func TestSignatureCheckedFirst(t *testing.T) {
	ctx := context.Background()
	good := hs256(t, valid())
	wrong := sign(t, gojwt.SigningMethodHS256, []byte("another-secret-another-secret!!"), valid())
	if !strings.HasPrefix(good, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") || !strings.HasPrefix(wrong, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") {
		t.Fatalf("golang-jwt no longer writes the common HS256 header: %s", good)
	}
	dot := strings.LastIndexByte(good, '.')
	flipped := good[:dot+1] + string(good[dot+1]^1) + good[dot+2:]
	otherHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`)) + good[strings.IndexByte(good, '.'):]
	expired := hs256(t, with(valid(), "exp", epoch.Add(-time.Hour).Unix()))
	cases := []struct {
		name, token string
		v           *jwt.Verifier
		ok          bool
	}{
		{"signed with the secret", good, newVerifier(), true},
		{"signed with another secret", wrong, newVerifier(), false},
		{"signature altered", flipped, newVerifier(), false},
		{"signature one character longer", good + "A", newVerifier(), false},
		{"another header, the secret's signature over the first", otherHeader, newVerifier(), false},
		{"signed with the secret, expired", expired, newVerifier(), false},
		{"signed with the previous secret", good, jwt.NewVerifier(jwt.Config{Secret: []byte("the-new-secret-the-new-secret-01"), PreviousSecrets: [][]byte{secret}, Now: clock}), true},
		{"no secret at all", good, jwt.NewVerifier(jwt.Config{Now: clock}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.v.Verify(ctx, c.token)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && herald.CodeOf(err) != herald.ETOKEN {
				t.Fatalf("error %v, want code %s", err, herald.ETOKEN)
			}
		})
	}
}
