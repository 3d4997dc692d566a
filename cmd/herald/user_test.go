package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
)

// userRun runs `herald user ARGS` with env and returns stdout and the error.
func userRun(env map[string]string, args ...string) (string, string, error) {
	var out, errOut syncBuffer
	err := run(context.Background(), append([]string{"user"}, args...), mapEnv(env), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUserCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	env := map[string]string{"HERALD_DB_PATH": db, "HERALD_PASSWORD": "a long enough password"}
	if out, _, err := userRun(env, "add", "--user-id", "svc-1", "backend"); err != nil || !strings.Contains(out, "backend created (user id svc-1)") {
		t.Fatalf("add: %q, %v", out, err)
	}
	// The password may come from a file, never from a flag.
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("another long password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := userRun(map[string]string{"HERALD_DB_PATH": db}, "add", "--password-file", pw, "ops@example.com"); err != nil {
		t.Fatalf("add with a password file: %v", err)
	}
	for name, c := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"taken":          {env, []string{"add", "backend"}, "username already taken"},
		"short password": {map[string]string{"HERALD_DB_PATH": db, "HERALD_PASSWORD": "short"}, []string{"add", "x"}, "at least 8"},
		"bad username":   {env, []string{"add", "bad name"}, "username must be"},
		"no username":    {env, []string{"add"}, "needs one USERNAME"},
		"two usernames":  {env, []string{"disable", "a", "b"}, "needs one USERNAME"},
		"unknown sub":    {env, []string{"promote", "x"}, "unknown user subcommand"},
		"no sub":         {env, nil, "needs a subcommand"},
		"remove nobody":  {env, []string{"remove", "nobody"}, "account not found"},
		"disable nobody": {env, []string{"disable", "nobody"}, "account not found"},
		"password flag":  {env, []string{"add", "--password", "x", "y"}, "flag provided but not defined"},
	} {
		_, _, err := userRun(c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to say %q", name, err, c.want)
		}
	}
	if _, _, err := userRun(env, "disable", "backend"); err != nil {
		t.Fatal(err)
	}
	out, _, err := userRun(env, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "backend") || !strings.Contains(lines[1], "svc-1") ||
		!strings.Contains(lines[1], "disabled") || !strings.Contains(lines[2], "ops@example.com") || !strings.Contains(lines[2], "active") {
		t.Errorf("list:\n%s", out)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Errorf("list shows hashes or passwords:\n%s", out)
	}
	if _, _, err := userRun(env, "remove", "backend"); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := userRun(env, "list"); strings.Contains(out, "backend") {
		t.Errorf("removed account still listed:\n%s", out)
	}
}

func TestAuthSettingsValidation(t *testing.T) {
	pemFile := filepath.Join(t.TempDir(), "k.pem")
	for name, c := range map[string]struct {
		env  map[string]string
		want string
	}{
		"keys without issuer":     {map[string]string{"JWT_PUBLIC_KEYS": pemFile}, "JWT_TRUSTED_ISSUER is required"},
		"issuer without keys":     {map[string]string{"JWT_TRUSTED_ISSUER": "https://idp"}, "needs JWT_PUBLIC_KEYS"},
		"same issuer":             {map[string]string{"JWT_TRUSTED_ISSUER": "x", "JWT_ISSUER": "x", "JWKS_FILE": "f"}, "must differ"},
		"bad jwks url":            {map[string]string{"JWT_TRUSTED_ISSUER": "x", "JWKS_URL": "ftp://x/keys"}, "http(s) URL"},
		"plain http production":   {map[string]string{"JWT_TRUSTED_ISSUER": "x", "JWKS_URL": "http://idp/keys", "HERALD_ENV": "production", "JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey}, "https in production"},
		"bad ttl":                 {map[string]string{"ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL must be"},
		"zero ttl":                {map[string]string{"REFRESH_TOKEN_TTL": "0s"}, "REFRESH_TOKEN_TTL must be"},
		"access longer":           {map[string]string{"ACCESS_TOKEN_TTL": "200h"}, "must not exceed REFRESH_TOKEN_TTL"},
		"connection over its max": {map[string]string{"CONNECTION_TOKEN_TTL": "48h"}, "must not exceed CONNECTION_TOKEN_MAX_TTL"},
		"login rate":              {map[string]string{"LOGIN_RATE_LIMIT": "0"}, "LOGIN_RATE_LIMIT must be"},
		"short previous secret":   {map[string]string{"JWT_PREVIOUS_SECRETS": "short", "HERALD_ENV": "production", "JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey}, "at least 32 bytes"},
	} {
		_, err := load(nil, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
}

// TestTrustedIssuerJWKSURL wires an identity provider's JWKS URL into the
// app: its EdDSA tokens connect, and a kid the set lacks is refused. (That
// the set is fetched again for a new kid once a minute has passed is tested
// in jwt with a clock.)
func TestTrustedIssuerJWKSURL(t *testing.T) {
	pub1, priv1, _ := ed25519.GenerateKey(rand.Reader)
	pub2, priv2, _ := ed25519.GenerateKey(rand.Reader)
	jwk := func(kid string, pub ed25519.PublicKey) map[string]any {
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.RawURLEncoding.EncodeToString(pub)}
	}
	keys := []map[string]any{jwk("k1", pub1)}
	var mu sync.Mutex
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	defer idp.Close()

	// The test's issuer serves plain http, which only development accepts.
	s := startApp(t, map[string]string{"JWT_TRUSTED_ISSUER": "https://idp.test", "JWKS_URL": idp.URL, "HERALD_ENV": "development"})
	tok := func(kid string, key ed25519.PrivateKey) string {
		c := gojwt.MapClaims{"sub": "alice", "iss": "https://idp.test", "exp": time.Now().Add(time.Minute).Unix()}
		t := gojwt.NewWithClaims(gojwt.SigningMethodEdDSA, c)
		t.Header["kid"] = kid
		str, _ := t.SignedString(key)
		return str
	}
	c := dial(t, s.wsURL("alice", tok("k1", priv1)))
	c.expect("connected")
	c.close()

	mu.Lock()
	keys = append(keys, jwk("k2", pub2))
	mu.Unlock()
	// The first fetch was moments ago: an unknown kid waits for the minute
	// to pass, so k2 is refused now rather than fetched on every token.
	c = dial(t, s.wsURL("alice", tok("k2", priv2)))
	if code, _, _ := c.closeStatus(); code != 4002 {
		t.Errorf("k2 before the refetch window: closed %d, want 4002", code)
	}
}
