package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/jwt"
)

const idp = "https://idp.example"

// testKeys are one key pair of each supported type, made once: RSA key
// generation is slow.
var testKeys = struct {
	rsa   *rsa.PrivateKey
	rsa2  *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
	small *rsa.PrivateKey
}{}

func init() {
	var err error
	if testKeys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if testKeys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if testKeys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, testKeys.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	if testKeys.small, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		panic(err)
	}
}

// pemOf encodes pub as a PKIX PEM block.
func pemOf(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// signKid signs claims with method and key, with kid in the header when not "".
func signKid(t testing.TB, method gojwt.SigningMethod, key any, kid string, claims gojwt.MapClaims) string {
	t.Helper()
	tok := gojwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func idpClaims() gojwt.MapClaims { return with(valid(), "iss", idp) }

func trustedVerifier(ti jwt.TrustedIssuer, mod ...func(*jwt.Config)) *jwt.Verifier {
	ti.Name = idp
	c := jwt.Config{Secret: secret, Now: clock, Trusted: []jwt.TrustedIssuer{ti}}
	for _, m := range mod {
		m(&c)
	}
	return jwt.NewVerifier(c)
}

func TestPublicKeyAlgorithms(t *testing.T) {
	keys := []jwt.Key{
		{ID: "rsa", Public: &testKeys.rsa.PublicKey},
		{ID: "ec", Public: &testKeys.ec.PublicKey},
		{ID: "ed", Public: testKeys.ed.Public()},
	}
	v := trustedVerifier(jwt.TrustedIssuer{Keys: keys})
	for name, tok := range map[string]string{
		"RS256":        signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", idpClaims()),
		"ES256":        signKid(t, gojwt.SigningMethodES256, testKeys.ec, "ec", idpClaims()),
		"EdDSA":        signKid(t, gojwt.SigningMethodEdDSA, testKeys.ed, "ed", idpClaims()),
		"RS256 no kid": signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "", idpClaims()),
	} {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Issuer != idp || c.Kind != herald.TokenConnection || c.UserID != "user-1" {
			t.Errorf("%s: claims %+v", name, c)
		}
	}
}

func TestPublicKeyRefusals(t *testing.T) {
	rsaPEM := pemOf(t, &testKeys.rsa.PublicKey)
	keys := []jwt.Key{{ID: "rsa", Public: &testKeys.rsa.PublicKey}, {ID: "ec", Public: &testKeys.ec.PublicKey}}
	v := trustedVerifier(jwt.TrustedIssuer{Keys: keys, Audience: "herald"})
	aud := func(c gojwt.MapClaims) gojwt.MapClaims { return with(c, "aud", "herald") }
	good := signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(idpClaims()))
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("the good token is refused: %v", err)
	}
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	hdr := func(h map[string]any) string { b, _ := json.Marshal(h); return enc(b) }

	tests := map[string]string{
		// The attacker knows the public key and signs HS256 with its bytes.
		"RS/HS confusion, PEM":   signKid(t, gojwt.SigningMethodHS256, rsaPEM, "rsa", aud(idpClaims())),
		"RS/HS confusion, DER":   signKid(t, gojwt.SigningMethodHS256, x509.MarshalPKCS1PublicKey(&testKeys.rsa.PublicKey), "", aud(idpClaims())),
		"alg none":               signKid(t, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, "rsa", aud(idpClaims())),
		"header alg none":        hdr(map[string]any{"alg": "none", "kid": "rsa"}) + "." + parts[1] + ".",
		"header alg NONE":        hdr(map[string]any{"alg": "NONE", "kid": "rsa"}) + "." + parts[1] + "." + parts[2],
		"forged kid":             signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "rsa", aud(idpClaims())),
		"unknown kid":            signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa-2099", aud(idpClaims())),
		"kid of another alg":     signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "ec", aud(idpClaims())),
		"numeric kid":            hdr(map[string]any{"alg": "RS256", "kid": 7}) + "." + parts[1] + "." + parts[2],
		"empty kid":              hdr(map[string]any{"alg": "RS256", "kid": ""}) + "." + parts[1] + "." + parts[2],
		"bad signature":          good[:len(good)-4] + "AAAA",
		"PS256":                  signKid(t, gojwt.SigningMethodPS256, testKeys.rsa, "rsa", aud(idpClaims())),
		"RS512":                  signKid(t, gojwt.SigningMethodRS512, testKeys.rsa, "rsa", aud(idpClaims())),
		"ES384 header":           hdr(map[string]any{"alg": "ES384", "kid": "ec"}) + "." + parts[1] + "." + parts[2],
		"wrong issuer":           signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(with(valid(), "iss", "https://evil.example"))),
		"no issuer":              signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(valid())),
		"wrong audience":         signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", with(idpClaims(), "aud", "other")),
		"no audience":            signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", idpClaims()),
		"access from idp":        signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(with(idpClaims(), "typ", "access"))),
		"refresh from idp":       signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(with(idpClaims(), "typ", "refresh"))),
		"unknown typ":            signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(with(idpClaims(), "typ", "admin"))),
		"expired":                signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(with(idpClaims(), "exp", epoch.Add(-time.Minute).Unix()))),
		"not yet valid":          signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "rsa", aud(with(idpClaims(), "nbf", epoch.Add(time.Minute).Unix()))),
		"secret with idp issuer": signKid(t, gojwt.SigningMethodHS256, secret, "", aud(idpClaims())),
		"jwk header (embedded)":  embeddedJWK(t, aud(idpClaims())),
		"tampered payload":       parts[0] + "." + enc([]byte(`{"userId":"admin","iss":"`+idp+`","aud":"herald","exp":4102444800}`)) + "." + parts[2],
	}
	for name, tok := range tests {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			t.Errorf("%s: accepted, claims %+v", name, c)
		} else if herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("%s: code %q, want ETOKEN", name, herald.CodeOf(err))
		}
	}
}

// embeddedJWK signs with an attacker key and names that key in the jwk
// header, which a naive verifier would trust.
func embeddedJWK(t *testing.T, claims gojwt.MapClaims) string {
	tok := gojwt.NewWithClaims(gojwt.SigningMethodRS256, claims)
	pub := testKeys.rsa2.PublicKey
	tok.Header["jwk"] = map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), "e": "AQAB"}
	s, err := tok.SignedString(testKeys.rsa2)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeysPerIssuer(t *testing.T) {
	// Two issuers, each with its key: a token of one, signed with the other's
	// key, is refused even when it names the other's kid.
	v := jwt.NewVerifier(jwt.Config{Now: clock, Trusted: []jwt.TrustedIssuer{
		{Name: "https://a.example", Keys: []jwt.Key{{ID: "a", Public: &testKeys.rsa.PublicKey}}},
		{Name: "https://b.example", Keys: []jwt.Key{{ID: "b", Public: &testKeys.rsa2.PublicKey}}},
	}})
	ok := signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "b", with(valid(), "iss", "https://b.example"))
	if _, err := v.Verify(context.Background(), ok); err != nil {
		t.Fatalf("b's own token: %v", err)
	}
	for name, tok := range map[string]string{
		"a's iss, b's key and kid": signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "b", with(valid(), "iss", "https://a.example")),
		"a's iss, b's key, no kid": signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "", with(valid(), "iss", "https://a.example")),
	} {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSecretRotation(t *testing.T) {
	oldSecret := []byte("old-secret-old-secret-old-secret")
	oldTok, err := jwt.NewIssuer(jwt.Config{Secret: oldSecret, Now: clock}).Issue("u", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	newTok, err := jwt.NewIssuer(jwt.Config{Secret: secret, Now: clock}).Issue("u", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	noKid := hs256(t, with(valid(), "typ", nil)) // the design document's tokens have no kid
	oldNoKid := sign(t, gojwt.SigningMethodHS256, oldSecret, valid())

	both := jwt.NewVerifier(jwt.Config{Secret: secret, PreviousSecrets: [][]byte{oldSecret}, Now: clock})
	for name, tok := range map[string]string{"old": oldTok, "new": newTok, "no kid": noKid, "old no kid": oldNoKid} {
		if _, err := both.Verify(context.Background(), tok); err != nil {
			t.Errorf("during the rotation, %s token: %v", name, err)
		}
	}
	// A kid names one secret: the old token's kid on a token signed with
	// some other secret does not pass.
	oldKid := strings.Split(oldTok, ".")[0]
	forged := signKid(t, gojwt.SigningMethodHS256, []byte("attacker-secret-attacker-secret!"), "", valid())
	if _, err := both.Verify(context.Background(), oldKid+"."+strings.SplitN(forged, ".", 2)[1]); err == nil {
		t.Error("a token with the old secret's kid and a forged signature passed")
	}
	after := jwt.NewVerifier(jwt.Config{Secret: secret, Now: clock})
	if _, err := after.Verify(context.Background(), oldTok); err == nil {
		t.Error("after the rotation, the old secret's token still passes")
	}
}

func TestOwnIssuerAndAudience(t *testing.T) {
	cfg := jwt.Config{Secret: secret, Now: clock, Issuer: "herald", Audience: "herald-api"}
	tok, err := jwt.NewIssuer(cfg).Issue("u", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jwt.NewVerifier(cfg).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "herald" || len(c.Audience) != 1 || c.Audience[0] != "herald-api" {
		t.Errorf("claims %+v", c)
	}
	v := jwt.NewVerifier(cfg)
	for name, claims := range map[string]gojwt.MapClaims{
		"no iss":    with(valid(), "aud", "herald-api"),
		"wrong iss": with(valid(), "aud", "herald-api", "iss", "other"),
		"no aud":    with(valid(), "iss", "herald"),
		"wrong aud": with(valid(), "iss", "herald", "aud", []string{"a", "b"}),
	} {
		if _, err := v.Verify(context.Background(), hs256(t, claims)); herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), hs256(t, with(valid(), "iss", "herald", "aud", []string{"x", "herald-api"}))); err != nil {
		t.Errorf("aud list containing ours: %v", err)
	}
}

func TestKinds(t *testing.T) {
	iss := jwt.NewIssuer(jwt.Config{Secret: secret, Now: clock})
	tokens := map[herald.TokenKind]string{}
	for _, k := range []herald.TokenKind{herald.TokenConnection, herald.TokenAccess, herald.TokenRefresh} {
		tok, err := iss.IssueToken(&herald.Claims{UserID: "u", Kind: k, SessionID: "s1", ExpiresAt: epoch.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		tokens[k] = tok
	}
	tokens["none"] = hs256(t, valid())
	def := newVerifier()
	refresh := jwt.NewVerifier(jwt.Config{Secret: secret, Now: clock, Kinds: []herald.TokenKind{herald.TokenRefresh}})
	for kind, tok := range tokens {
		_, errDef := def.Verify(context.Background(), tok)
		c, errRef := refresh.Verify(context.Background(), tok)
		wantDef := kind != herald.TokenRefresh
		if (errDef == nil) != wantDef {
			t.Errorf("%s token on the default verifier: err %v", kind, errDef)
		}
		if (errRef == nil) != (kind == herald.TokenRefresh) {
			t.Errorf("%s token on the refresh verifier: err %v", kind, errRef)
		}
		if kind == herald.TokenRefresh && errRef == nil && (c.Kind != herald.TokenRefresh || c.SessionID != "s1") {
			t.Errorf("refresh claims %+v", c)
		}
	}
	if _, err := def.Verify(context.Background(), hs256(t, with(valid(), "typ", "Bearer"))); err == nil {
		t.Error("unknown typ accepted")
	}
	if _, err := iss.IssueToken(&herald.Claims{UserID: "u", Kind: "admin", ExpiresAt: epoch.Add(time.Hour)}); herald.CodeOf(err) != herald.EINVALID {
		t.Errorf("issuing an unknown kind: %v", err)
	}
}

func TestRevokedHook(t *testing.T) {
	var asked atomic.Int32
	v := jwt.NewVerifier(jwt.Config{Secret: secret, Now: clock, Revoked: func(ctx context.Context, c *herald.Claims) (bool, error) {
		asked.Add(1)
		switch c.ID {
		case "revoked":
			return true, nil
		case "broken":
			return false, context.DeadlineExceeded
		}
		return false, nil
	}})
	if _, err := v.Verify(context.Background(), hs256(t, valid())); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), hs256(t, with(valid(), "jti", "revoked"))); herald.CodeOf(err) != herald.ETOKEN {
		t.Errorf("revoked: %v", err)
	}
	if _, err := v.Verify(context.Background(), hs256(t, with(valid(), "jti", "broken"))); herald.CodeOf(err) != herald.EINTERNAL {
		t.Errorf("hook failing: %v, want EINTERNAL (fail closed)", err)
	}
	// The hook is not asked about tokens that fail the other checks.
	n := asked.Load()
	_, _ = v.Verify(context.Background(), hs256(t, with(valid(), "exp", epoch.Add(-time.Hour).Unix())))
	if asked.Load() != n {
		t.Error("the hook was asked about an expired token")
	}
}

func TestParsePEM(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&testKeys.rsa2.PublicKey)})
	a := write("2025-11.pem", append(pemOf(t, &testKeys.rsa.PublicKey), pemOf(t, &testKeys.ec.PublicKey)...))
	b := write("ed.pub", pemOf(t, testKeys.ed.Public()))
	c := write("legacy.pem", pkcs1)
	keys, err := jwt.LoadPEMFiles(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if strings.Join(ids, ",") != "2025-11,2025-11-2,ed,legacy" {
		t.Errorf("kids %v", ids)
	}
	v := trustedVerifier(jwt.TrustedIssuer{Keys: keys})
	if _, err := v.Verify(context.Background(), signKid(t, gojwt.SigningMethodES256, testKeys.ec, "2025-11-2", idpClaims())); err != nil {
		t.Errorf("ES256 with the PEM's kid: %v", err)
	}
	if _, err := v.Verify(context.Background(), signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "legacy", idpClaims())); err != nil {
		t.Errorf("PKCS#1 key: %v", err)
	}

	der, _ := x509.MarshalPKCS8PrivateKey(testKeys.ec)
	for name, data := range map[string][]byte{
		"private key":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"small RSA":    pemOf(t, &testKeys.small.PublicKey),
		"P-384":        pemOf(t, mustEC(t, elliptic.P384())),
		"no PEM":       []byte("hello"),
		"garbage body": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}),
	} {
		if _, err := jwt.ParsePEM(data, "k"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := jwt.LoadPEMFiles(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing file accepted")
	}
}

func mustEC(t *testing.T, curve elliptic.Curve) crypto.PublicKey {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey
}

// jwkOf returns the JWK of pub with kid.
func jwkOf(kid string, pub crypto.PublicKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		pt, _ := p.Bytes()
		return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(p)}
	}
	panic("unsupported key")
}

func jwksOf(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseJWKS(t *testing.T) {
	set := jwksOf(jwkOf("r", &testKeys.rsa.PublicKey), jwkOf("e", &testKeys.ec.PublicKey), jwkOf("d", testKeys.ed.Public()),
		map[string]any{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},                        // symmetric: skipped
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}, // encryption: skipped
		map[string]any{"kty": "RSA", "kid": "lie", "alg": "ES256", "n": jwkOf("", &testKeys.rsa.PublicKey)["n"], "e": "AQAB"},
		jwkOf("small", &testKeys.small.PublicKey))
	keys, err := jwt.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != "r" || keys[1].ID != "e" || keys[2].ID != "d" {
		t.Fatalf("keys %+v", keys)
	}
	for name, data := range map[string]string{
		"not json":   "{",
		"empty":      `{"keys":[]}`,
		"only oct":   `{"keys":[{"kty":"oct","k":"AA"}]}`,
		"private":    `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}]}`,
		"off curve":  `{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`,
		"bad base64": `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"!!"}]}`,
	} {
		if _, err := jwt.ParseJWKS([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJWKSURL(t *testing.T) {
	var served atomic.Value
	served.Store(jwksOf(jwkOf("k1", &testKeys.rsa.PublicKey)))
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(served.Load().([]byte))
	}))
	defer srv.Close()

	now := epoch
	var nowMu atomic.Int64
	nowMu.Store(now.UnixNano())
	clk := func() time.Time { return time.Unix(0, nowMu.Load()) }
	set := &jwt.JWKS{URL: srv.URL, MinRefresh: time.Minute, Now: clk}
	if err := set.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := trustedVerifier(jwt.TrustedIssuer{JWKS: set})
	tok1 := signKid(t, gojwt.SigningMethodRS256, testKeys.rsa, "k1", idpClaims())
	if _, err := v.Verify(context.Background(), tok1); err != nil {
		t.Fatalf("k1: %v", err)
	}

	// The issuer rotates to k2. Right after a fetch, an unknown kid does not
	// fetch again; a minute later it does, once, and k2 passes.
	served.Store(jwksOf(jwkOf("k1", &testKeys.rsa.PublicKey), jwkOf("k2", &testKeys.rsa2.PublicKey)))
	tok2 := signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "k2", idpClaims())
	if _, err := v.Verify(context.Background(), tok2); err == nil {
		t.Fatal("k2 passed before the set was fetched again")
	}
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches, want 1: unknown kids must not fetch within MinRefresh", fetches.Load())
	}
	nowMu.Store(epoch.Add(2 * time.Minute).UnixNano())
	if _, err := v.Verify(context.Background(), tok2); err != nil {
		t.Fatalf("k2 after the rotation: %v", err)
	}
	for range 5 {
		_, _ = v.Verify(context.Background(), signKid(t, gojwt.SigningMethodRS256, testKeys.rsa2, "made-up", idpClaims()))
	}
	if fetches.Load() != 2 {
		t.Errorf("%d fetches, want 2: made-up kids fetch at most once per MinRefresh", fetches.Load())
	}

	// A failing fetch keeps the keys it had.
	served.Store([]byte("not json"))
	if err := set.Fetch(context.Background()); err == nil {
		t.Error("a broken set was accepted")
	}
	if _, err := v.Verify(context.Background(), tok1); err != nil {
		t.Errorf("k1 after a failed fetch: %v", err)
	}
}

func TestJWKSTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	set := &jwt.JWKS{URL: srv.URL, Timeout: 100 * time.Millisecond}
	if err := set.Fetch(context.Background()); err == nil {
		t.Fatal("a hanging JWKS endpoint did not time out")
	}
}

// TestJKUNotFollowed names an attacker's key set in jku and x5u: the
// verifier must refuse the token and never contact that server.
func TestJKUNotFollowed(t *testing.T) {
	var contacted atomic.Bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contacted.Store(true)
		w.Write(jwksOf(jwkOf("evil", &testKeys.rsa2.PublicKey)))
	}))
	defer evil.Close()
	tok := gojwt.NewWithClaims(gojwt.SigningMethodRS256, idpClaims())
	tok.Header["kid"] = "evil"
	tok.Header["jku"] = evil.URL
	tok.Header["x5u"] = evil.URL
	s, err := tok.SignedString(testKeys.rsa2)
	if err != nil {
		t.Fatal(err)
	}
	v := trustedVerifier(jwt.TrustedIssuer{Keys: []jwt.Key{{ID: "k1", Public: &testKeys.rsa.PublicKey}}})
	if _, err := v.Verify(context.Background(), s); err == nil {
		t.Error("a token carrying its own key set URL passed")
	}
	if contacted.Load() {
		t.Error("the verifier fetched the jku/x5u URL")
	}
}
