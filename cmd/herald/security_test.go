package main

// The security suite: each test performs an attack on the real app over real
// sockets and asserts the refusal, so that a regression anywhere between the
// settings and the wire shows here. docs/security.md lists what each
// defends against.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	gws "github.com/gobwas/ws"
	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/redis"
)

const (
	secIssuer   = "herald-test"
	secAudience = "herald"
	idpIssuer   = "https://idp.test"
	idpKid      = "idp-2025"
	secUser     = "backend"
	secPassword = "correct horse battery staple"
	secUserID   = "svc-backend"
	appOrigin   = "https://app.example"
)

// secKeys are the identity provider's key and an attacker's, made once.
var secKeys struct {
	idp, attacker *rsa.PrivateKey
}

func rsaKeys(t *testing.T) {
	t.Helper()
	if secKeys.idp != nil {
		return
	}
	var err error
	if secKeys.idp, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if secKeys.attacker, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
}

// secApp is a running app configured as a careful operator would: own iss
// and aud, an identity provider's public key, an Origin allowlist, tight
// socket limits, and one login account created with `herald user add`.
type secApp struct {
	*runningApp
	db     string
	pemKey []byte // the identity provider's public key, as the app has it
	issuer *jwt.Issuer
}

func startSecApp(t *testing.T, env map[string]string) *secApp {
	t.Helper()
	rsaKeys(t)
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(&secKeys.idp.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &secApp{db: filepath.Join(dir, "herald.db"), pemKey: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
	pemFile := filepath.Join(dir, idpKid+".pem")
	if err := os.WriteFile(pemFile, s.pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{
		"HERALD_DB_PATH":        s.db,
		"JWT_ISSUER":            secIssuer,
		"JWT_AUDIENCE":          secAudience,
		"JWT_TRUSTED_ISSUER":    idpIssuer,
		"JWT_PUBLIC_KEYS":       pemFile,
		"WS_ALLOWED_ORIGINS":    appOrigin,
		"WS_AUTH_TIMEOUT":       "300ms",
		"WS_MAX_MESSAGE_BYTES":  "2048",
		"WS_RATE_LIMIT":         "5",
		"WS_RATE_BURST":         "5",
		"ACCOUNT_POLL_INTERVAL": "100ms",
		// The attacks below present many bad credentials from one address;
		// the throttle that would soon answer them 429 has its own test.
		"API_AUTH_RATE_LIMIT": "100000",
	}
	for k, v := range env {
		all[k] = v
	}
	s.userCmd(t, map[string]string{"HERALD_PASSWORD": secPassword}, "add", "--user-id", secUserID, secUser)
	s.runningApp = launchApp(t, all)
	s.issuer = jwt.NewIssuer(jwt.Config{Secret: []byte(testSecret), Issuer: secIssuer, Audience: secAudience})
	return s
}

// userCmd runs `herald user ARGS` on the app's database, as an operator would.
func (s *secApp) userCmd(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	all := map[string]string{"HERALD_DB_PATH": s.db}
	for k, v := range env {
		all[k] = v
	}
	var out, errOut syncBuffer
	if err := run(context.Background(), append([]string{"user"}, args...), mapEnv(all), &out, &errOut); err != nil {
		t.Fatalf("herald user %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// conn issues a connection token the app accepts.
func (s *secApp) conn(t *testing.T, user string, channels ...string) string {
	t.Helper()
	tok, err := s.issuer.Issue(user, 5*time.Minute, channels)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type loginAnswer struct {
	AccessToken      string `json:"accessToken"`
	RefreshToken     string `json:"refreshToken"`
	ExpiresIn        int    `json:"expiresIn"`
	RefreshExpiresIn int    `json:"refreshExpiresIn"`
	TokenType        string `json:"tokenType"`
	UserID           string `json:"userId"`
}

func (s *secApp) login(t *testing.T) loginAnswer {
	t.Helper()
	status, body := s.do("POST", "/auth/login", "", map[string]string{"username": secUser, "password": secPassword})
	return decodeLogin(t, status, body)
}

func (s *secApp) refresh(t *testing.T, rt string) (int, []byte) {
	t.Helper()
	return s.do("POST", "/auth/refresh", "", map[string]string{"refreshToken": rt})
}

func decodeLogin(t *testing.T, status int, body []byte) loginAnswer {
	t.Helper()
	if status != 200 {
		t.Fatalf("login/refresh = %d %s", status, body)
	}
	var a loginAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if a.AccessToken == "" || a.RefreshToken == "" || a.TokenType != "Bearer" || a.UserID != secUserID ||
		a.ExpiresIn != 900 || a.RefreshExpiresIn != 604800 {
		t.Fatalf("answer %s", body)
	}
	return a
}

// dialWS opens /ws with a token in the query (as the design document's
// clients do) and returns the connection, or fails the test.
func (s *secApp) dialWS(t *testing.T, user, tok string) *wsClient {
	t.Helper()
	return dial(t, s.wsURL(user, tok))
}

// refusedWith dials with tok for user and expects the server to close the
// socket with code before any message.
func (s *secApp) refusedWith(t *testing.T, what, user, tok string, code websocket.StatusCode) {
	t.Helper()
	c := s.dialWS(t, user, tok)
	got, reason, before := c.closeStatus()
	if got != code || len(before) != 0 {
		t.Errorf("%s: closed with %d %q after %d messages, want %d before any", what, got, reason, len(before), code)
	}
}

// connected dials with tok and expects the connected message.
func (s *secApp) connected(t *testing.T, user, tok string) *wsClient {
	t.Helper()
	c := s.dialWS(t, user, tok)
	if m := c.read(); m["type"] != "connected" || m["userId"] != user {
		t.Fatalf("first message %v, want connected for %s", m, user)
	}
	return c
}

// signed returns a token with header fields and claims, signed with method
// and key: what an attacker or a third-party issuer sends.
func signed(t *testing.T, method gojwt.SigningMethod, key any, header map[string]any, claims gojwt.MapClaims) string {
	t.Helper()
	tok := gojwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claimsFor(user string, kv ...any) gojwt.MapClaims {
	now := time.Now()
	c := gojwt.MapClaims{"userId": user, "iss": secIssuer, "aud": secAudience,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestSecurityTokenAttacks(t *testing.T) {
	s := startSecApp(t, nil)
	hs := func(c gojwt.MapClaims) string {
		return signed(t, gojwt.SigningMethodHS256, []byte(testSecret), nil, c)
	}
	idp := func(c gojwt.MapClaims) gojwt.MapClaims { c["iss"] = idpIssuer; return c }
	enc := base64.RawURLEncoding.EncodeToString
	good := hs(claimsFor("alice"))
	parts := strings.Split(good, ".")

	// The controls: Herald's own token, and the identity provider's RS256
	// token with its kid, both connect.
	s.connected(t, "alice", good).close()
	s.connected(t, "alice", signed(t, gojwt.SigningMethodRS256, secKeys.idp, map[string]any{"kid": idpKid}, idp(claimsFor("alice")))).close()

	var jkuHit atomic.Bool
	jku := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { jkuHit.Store(true) }))
	defer jku.Close()

	attacks := map[string]string{
		"alg none":                      enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"alg none, signed by the lib":   signed(t, gojwt.SigningMethodNone, gojwt.UnsafeAllowNoneSignatureType, nil, claimsFor("alice")),
		"RS/HS confusion":               signed(t, gojwt.SigningMethodHS256, s.pemKey, map[string]any{"kid": idpKid}, idp(claimsFor("alice"))),
		"RS/HS confusion, no kid":       signed(t, gojwt.SigningMethodHS256, s.pemKey, nil, idp(claimsFor("alice"))),
		"expired":                       hs(claimsFor("alice", "iat", time.Now().Add(-time.Hour).Unix(), "exp", time.Now().Add(-time.Minute).Unix())),
		"not yet valid":                 hs(claimsFor("alice", "nbf", time.Now().Add(time.Hour).Unix())),
		"no exp":                        hs(claimsFor("alice", "exp", nil)),
		"wrong iss":                     hs(claimsFor("alice", "iss", "someone-else")),
		"no iss":                        hs(claimsFor("alice", "iss", nil)),
		"wrong aud":                     hs(claimsFor("alice", "aud", "another-service")),
		"no aud":                        hs(claimsFor("alice", "aud", nil)),
		"forged kid (attacker RSA key)": signed(t, gojwt.SigningMethodRS256, secKeys.attacker, map[string]any{"kid": idpKid}, idp(claimsFor("alice"))),
		"unknown kid":                   signed(t, gojwt.SigningMethodRS256, secKeys.idp, map[string]any{"kid": "idp-2099"}, idp(claimsFor("alice"))),
		"made-up HS256 kid":             signed(t, gojwt.SigningMethodHS256, []byte(testSecret), map[string]any{"kid": "k1"}, claimsFor("alice")),
		"idp key, Herald's iss":         signed(t, gojwt.SigningMethodRS256, secKeys.idp, map[string]any{"kid": idpKid}, claimsFor("alice")),
		"idp-signed access token":       signed(t, gojwt.SigningMethodRS256, secKeys.idp, map[string]any{"kid": idpKid}, idp(claimsFor("alice", "typ", "access"))),
		"jku to the attacker's keys":    signed(t, gojwt.SigningMethodRS256, secKeys.attacker, map[string]any{"kid": "evil", "jku": jku.URL, "x5u": jku.URL}, idp(claimsFor("alice"))),
		"HS512 with the secret":         signed(t, gojwt.SigningMethodHS512, []byte(testSecret), nil, claimsFor("alice")),
		"tampered payload":              parts[0] + "." + enc([]byte(`{"userId":"alice","iss":"herald-test","aud":"herald","exp":4102444800}`)) + "." + parts[2],
		"unknown typ":                   hs(claimsFor("alice", "typ", "admin")),
		"refresh typ":                   hs(claimsFor("alice", "typ", "refresh", "sid", "s", "jti", "j")),
	}
	for name, tok := range attacks {
		t.Run(name, func(t *testing.T) {
			s.refusedWith(t, "/ws", "alice", tok, websocket.StatusCode(herald.CloseInvalidToken))
			status, body := s.do("GET", "/api/notifications", tok, nil)
			if status != 401 || !strings.Contains(string(body), `"invalid_token"`) {
				t.Errorf("inbox API: %d %s, want 401 invalid_token", status, body)
			}
			if status, _ := s.do("GET", "/api/stats", tok, nil); status != 401 {
				t.Errorf("server API: %d, want 401", status)
			}
			if strings.Contains(string(body), tok) {
				t.Error("the answer echoes the token")
			}
		})
	}
	if jkuHit.Load() {
		t.Error("the server fetched a jku/x5u URL named by a token")
	}
	if logs := s.logs.String(); strings.Contains(logs, parts[2]) {
		t.Error("a token's signature is in the log")
	}
}

func TestSecurityLoginRefreshLogout(t *testing.T) {
	s := startSecApp(t, nil)

	// Wrong credentials: one generic 401, whatever was wrong.
	var bodies []string
	for _, cred := range [][2]string{{secUser, "wrong password!"}, {"nobody", secPassword}, {"BACKEND", secPassword}} {
		status, body := s.do("POST", "/auth/login", "", map[string]string{"username": cred[0], "password": cred[1]})
		if status != 401 {
			t.Fatalf("login %q: %d %s", cred[0], status, body)
		}
		bodies = append(bodies, string(body))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] || !strings.Contains(bodies[0], `"Invalid credentials"`) {
		t.Errorf("refusals differ or say too much: %q", bodies)
	}

	first := s.login(t)
	// The access token authorises the server API, and opens a socket for
	// the account's user id.
	var st map[string]any
	if status, body := s.do("GET", "/api/stats", first.AccessToken, nil); status != 200 || json.Unmarshal(body, &st) != nil {
		t.Fatalf("stats with the access token: %d %s", status, body)
	}
	sock := s.connected(t, secUserID, first.AccessToken)
	// It mints connection tokens for end users.
	status, body := s.do("POST", "/api/tokens", first.AccessToken, map[string]any{"userId": "alice", "ttl": "5m"})
	if status != 201 {
		t.Fatalf("POST /api/tokens = %d %s", status, body)
	}
	var minted struct{ Token string }
	_ = json.Unmarshal(body, &minted)
	s.connected(t, "alice", minted.Token).close()

	// The refresh token is good for /auth/refresh only.
	s.refusedWith(t, "refresh token on /ws", secUserID, first.RefreshToken, websocket.StatusCode(herald.CloseInvalidToken))
	for _, path := range []string{"/api/stats", "/api/notifications"} {
		if status, _ := s.do("GET", path, first.RefreshToken, nil); status != 401 {
			t.Errorf("refresh token on %s: %d, want 401", path, status)
		}
	}
	if status, _ := s.do("POST", "/api/tokens", first.RefreshToken, map[string]any{"userId": "alice"}); status != 401 {
		t.Errorf("refresh token minting: %d, want 401", status)
	}
	// Nor as the first message, nor as an in-band refresh.
	fm := dial(t, "ws://"+s.addr+"/ws")
	fm.send(map[string]any{"type": "auth", "token": first.RefreshToken})
	if code, _, _ := fm.closeStatus(); code != websocket.StatusCode(herald.CloseInvalidToken) {
		t.Errorf("refresh token as first-message auth: closed %d", code)
	}
	sock.send(map[string]any{"type": "auth", "token": first.RefreshToken})
	if m := sock.expect("error"); m["code"] == nil && m["message"] == nil {
		t.Errorf("in-band refresh with a refresh token: %v", m)
	}

	// Rotation: the first refresh token buys a new pair and is spent.
	status, body = s.refresh(t, first.RefreshToken)
	second := decodeLogin(t, status, body)
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("not rotated")
	}
	// The socket takes the new access token in-band.
	sock.send(map[string]any{"type": "auth", "token": second.AccessToken})
	sock.expect("authenticated")

	// The spent token reused: 401, the family revoked, the socket closed.
	if status, body := s.refresh(t, first.RefreshToken); status != 401 {
		t.Fatalf("reusing a rotated refresh token: %d %s", status, body)
	}
	if code, reason, _ := sock.closeStatus(); code != websocket.StatusCode(herald.CloseInvalidToken) {
		t.Errorf("socket after the reuse: closed %d %q, want 4002", code, reason)
	}
	if status, _ := s.refresh(t, second.RefreshToken); status != 401 {
		t.Errorf("the family's newest refresh token after the reuse: %d, want 401", status)
	}
	if status, _ := s.do("GET", "/api/stats", second.AccessToken, nil); status != 401 {
		t.Errorf("the family's access token after the reuse: %d, want 401", status)
	}
	s.refusedWith(t, "revoked access token on /ws", secUserID, second.AccessToken, websocket.StatusCode(herald.CloseInvalidToken))

	// Logout: 204, the session's tokens die, the user's sockets close.
	third := s.login(t)
	sock = s.connected(t, secUserID, third.AccessToken)
	if status, body := s.do("POST", "/auth/logout", "", map[string]string{"refreshToken": third.RefreshToken}); status != 204 {
		t.Fatalf("logout = %d %s", status, body)
	}
	if code, reason, _ := sock.closeStatus(); code != websocket.StatusCode(herald.CloseInvalidToken) || reason != "Logged out" {
		t.Errorf("socket after logout: %d %q", code, reason)
	}
	if status, _ := s.refresh(t, third.RefreshToken); status != 401 {
		t.Errorf("refresh after logout: %d", status)
	}
	if status, _ := s.do("GET", "/api/stats", third.AccessToken, nil); status != 401 {
		t.Errorf("access token after logout: %d", status)
	}

	// Nothing secret reached the log.
	logs := s.logs.String()
	for _, secret := range []string{secPassword, "wrong password!", first.AccessToken, first.RefreshToken, third.RefreshToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret[:min(12, len(secret))])
		}
	}
}

func TestSecurityLoginFlood(t *testing.T) {
	s := startSecApp(t, map[string]string{"LOGIN_RATE_LIMIT": "3"})
	for range 3 {
		if status, _ := s.do("POST", "/auth/login", "", map[string]string{"username": secUser, "password": "guess"}); status != 401 {
			t.Fatalf("guess: %d", status)
		}
	}
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/auth/login", strings.NewReader(`{"username":"backend","password":"`+secPassword+`"}`))
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("fourth attempt in a minute: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestSecurityDisabledAccount(t *testing.T) {
	s := startSecApp(t, nil)
	tok := s.login(t)
	sock := s.connected(t, secUserID, tok.AccessToken)
	out := s.userCmd(t, nil, "disable", secUser)
	if !strings.Contains(out, "disabled") {
		t.Errorf("disable said %q", out)
	}
	if code, reason, _ := sock.closeStatus(); code != websocket.StatusCode(herald.CloseForbidden) || reason != "Account disabled" {
		t.Errorf("socket of the disabled account: %d %q, want 4004 Account disabled", code, reason)
	}
	if status, _ := s.refresh(t, tok.RefreshToken); status != 401 {
		t.Errorf("refresh of a disabled account: %d", status)
	}
	if status, _ := s.do("POST", "/auth/login", "", map[string]string{"username": secUser, "password": secPassword}); status != 401 {
		t.Errorf("login of a disabled account: %d", status)
	}
	if status, _ := s.do("GET", "/api/stats", tok.AccessToken, nil); status != 401 {
		t.Errorf("access token of a disabled account: %d", status)
	}
	s.refusedWith(t, "connection token for a disabled account's user", secUserID, s.conn(t, secUserID), websocket.StatusCode(herald.CloseInvalidToken))
	if out := s.userCmd(t, nil, "list"); !strings.Contains(out, "backend") || !strings.Contains(out, "disabled") || strings.Contains(out, "argon2") {
		t.Errorf("user list:\n%s", out)
	}
	s.userCmd(t, nil, "enable", secUser)
	waitFor(t, 5*time.Second, "the account to be enabled", func() bool {
		status, _ := s.do("POST", "/auth/login", "", map[string]string{"username": secUser, "password": secPassword})
		return status == 200
	})
}

func TestSecuritySocketAbuse(t *testing.T) {
	s := startSecApp(t, nil)

	t.Run("missing first-message auth", func(t *testing.T) {
		c := dial(t, "ws://"+s.addr+"/ws")
		if code, _, before := c.closeStatus(); code != websocket.StatusCode(herald.CloseMissingAuth) || len(before) != 0 {
			t.Errorf("silent socket: closed %d after %d messages, want 4001", code, len(before))
		}
		c = dial(t, "ws://"+s.addr+"/ws")
		c.send(map[string]any{"type": "subscribe", "channel": "news"})
		if code, _, _ := c.closeStatus(); code != websocket.StatusCode(herald.CloseMissingAuth) {
			t.Errorf("a subscribe before auth: closed %d, want 4001", code)
		}
		// The control: a first-message auth is accepted.
		c = dial(t, "ws://"+s.addr+"/ws")
		c.send(map[string]any{"type": "auth", "token": s.conn(t, "alice")})
		if m := c.read(); m["type"] != "connected" || m["userId"] != "alice" {
			t.Errorf("first-message auth: %v", m)
		}
	})

	t.Run("foreign origin", func(t *testing.T) {
		for origin, want := range map[string]int{"https://evil.example": 403, "https://app.example.evil.test": 403, "http://app.example": 403, appOrigin: 101} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, resp, err := websocket.Dial(ctx, s.wsURL("alice", s.conn(t, "alice")), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
			cancel()
			got := 0
			if resp != nil {
				got = resp.StatusCode
			}
			if got != want {
				t.Errorf("Origin %s: status %d (%v), want %d", origin, got, err, want)
			}
			if c != nil {
				c.CloseNow()
			}
		}
	})

	t.Run("oversized frame", func(t *testing.T) {
		c := s.rawConnected(t, "alice")
		c.write([]byte(`{"type":"ping","pad":"` + strings.Repeat("x", 4096) + `"}`))
		if code := c.closeCode(); code != herald.CloseTooLarge {
			t.Errorf("4 KiB message over a 2 KiB limit: closed %d, want 1009", code)
		}
	})

	t.Run("message flood", func(t *testing.T) {
		c := s.rawConnected(t, "alice")
		for range 200 {
			if !c.write([]byte(`{"type":"ping"}`)) {
				break // closed under us: that is the point
			}
		}
		if code := c.closeCode(); code != herald.ClosePolicy {
			t.Errorf("200 messages at once with a limit of 5/s: closed %d, want 1008", code)
		}
	})

	t.Run("subscribe to another user's channel", func(t *testing.T) {
		alice := s.connected(t, "alice", s.conn(t, "alice"))
		bob := s.connected(t, "bob", s.conn(t, "bob"))
		for _, ch := range []string{"user:bob", "USER:bob", "User:bob", "private:bob-only"} {
			alice.send(map[string]any{"type": "subscribe", "channel": ch})
			if m := alice.expect("error"); m["channel"] != nil && m["channel"] != ch && !strings.EqualFold(m["channel"].(string), ch) {
				t.Errorf("refusal names channel %v", m["channel"])
			}
		}
		bob.send(map[string]any{"type": "subscribe", "channel": "user:bob"})
		bob.expect("subscribed")
		s.api("POST", "/api/channels/user:bob/messages", `{"type":"secret"}`, 200, nil)
		if m := bob.read(); m["type"] != "secret" {
			t.Errorf("bob got %v", m)
		}
		s.api("POST", "/api/broadcast", `{"type":"marker"}`, 200, nil)
		if m := alice.read(); m["type"] != "marker" {
			t.Errorf("alice got %v before the marker: a refused subscribe delivered", m)
		}
	})

	t.Run("mark_read of another user's notification", func(t *testing.T) {
		var n struct{ ID string }
		s.api("POST", "/api/notifications", map[string]any{"userId": "bob", "type": "t", "title": "for bob"}, 201, &n)
		alice := s.connected(t, "alice", s.conn(t, "alice"))
		alice.send(map[string]any{"type": "mark_read", "notificationId": n.ID})
		alice.expect("error")
		status, body := s.do("GET", "/api/notifications/unread-count", s.conn(t, "bob"), nil)
		if status != 200 || !strings.Contains(string(body), `"count":1`) {
			t.Errorf("bob's unread count after alice's mark_read: %d %s", status, body)
		}
		if status, _ := s.do("POST", "/api/notifications/"+n.ID+"/read", s.conn(t, "alice"), nil); status != 404 {
			t.Errorf("alice marking bob's notification over REST: %d, want 404", status)
		}
	})

	t.Run("user mismatch", func(t *testing.T) {
		s.refusedWith(t, "alice's token for bob", "bob", s.conn(t, "alice"), websocket.StatusCode(herald.CloseUserMismatch))
	})
}

func TestSecurityConnectionFlood(t *testing.T) {
	s := startSecApp(t, map[string]string{"WS_CONNECT_RATE": "0.01", "WS_CONNECT_BURST": "3"})
	tok := s.conn(t, "alice")
	refused := 0
	for i := 0; i < 6; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, s.wsURL("alice", tok), nil)
		cancel()
		switch {
		case err == nil:
			c.CloseNow()
			if refused > 0 {
				t.Errorf("attempt %d accepted after a refusal", i)
			}
		case resp != nil && resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "":
			refused++
		default:
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if refused != 3 {
		t.Errorf("%d of 6 attempts refused with 429, want 3 (burst 3)", refused)
	}
}

// TestSecurityRevocationAcrossNodes logs out on one node of a cluster and
// expects the user's socket on another node to close: the close order rides
// the Redis broker.
func TestSecurityRevocationAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Redis and two herald processes")
	}
	dbURL := pgtest.NewDatabase(t)
	rsrv := redistest.NewServer(t)
	redisURL := "redis://" + rsrv.Addr() + "/0"
	rc, err := redis.NewClient(redis.ClientConfig{URL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	var out, errOut syncBuffer
	if err := run(context.Background(), []string{"user", "add", "--user-id", secUserID, secUser}, mapEnv(map[string]string{
		"DATABASE_URL": dbURL, "HERALD_PASSWORD": secPassword}), &out, &errOut); err != nil {
		t.Fatalf("herald user add: %v\n%s", err, errOut.String())
	}
	cn := &clusterNodes{t: t, procs: make([]*proc, 2), srv: make([]*server, 2), dead: make([]atomic.Bool, 2), redis: rc,
		env: map[string]string{
			"HERALD_ENV": "production", "JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey,
			"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "HERALD_SHUTDOWN_TIMEOUT": "2s",
		}}
	cn.start(0)
	cn.start(1)
	n0, n1 := cn.srv[0], cn.srv[1]

	status, body := n0.do("POST", "/auth/login", "", map[string]string{"username": secUser, "password": secPassword})
	tok := decodeLogin(t, status, body)
	sock := dial(t, n1.wsURL(secUserID, tok.AccessToken))
	sock.expect("connected")
	cn.waitSubscribed("herald:u:"+secUserID, 1)

	if status, body := n0.do("POST", "/auth/logout", tok.AccessToken, nil); status != 204 {
		t.Fatalf("logout on node 0 = %d %s", status, body)
	}
	if code, reason, _ := sock.closeStatus(); code != websocket.StatusCode(herald.CloseInvalidToken) || reason != "Logged out" {
		t.Errorf("socket on node 1 after logout on node 0: %d %q, want 4002 Logged out", code, reason)
	}
	// The denylist is in the shared database: node 1 refuses the token too.
	if status, _ := n1.do("GET", "/api/stats", tok.AccessToken, nil); status != 401 {
		t.Errorf("node 1 took the logged-out access token: %d", status)
	}
	if status, _ := n1.do("POST", "/auth/refresh", "", map[string]string{"refreshToken": tok.RefreshToken}); status != 401 {
		t.Errorf("node 1 refreshed the logged-out session: %d", status)
	}
}

// rawWS is a client on gobwas/ws's client side for the abuse tests: unlike
// coder/websocket, it keeps reading after a write failed, so the close frame
// the server sent before resetting a connection it did not drain is seen.
type rawWS struct {
	t  *testing.T
	nc net.Conn
	rd *bufio.Reader
}

// rawConnected dials /ws for user and reads the connected message.
func (s *secApp) rawConnected(t *testing.T, user string) *rawWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, rd, _, err := gws.Dial(ctx, s.wsURL(user, s.conn(t, user)))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	if rd == nil {
		rd = bufio.NewReader(nc)
	}
	c := &rawWS{t: t, nc: nc, rd: rd}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if f, err := gws.ReadFrame(c.rd); err != nil || !strings.Contains(string(f.Payload), `"connected"`) {
		t.Fatalf("first frame %q, %v; want connected", f.Payload, err)
	}
	return c
}

// write sends one masked text frame and reports whether the write succeeded.
func (c *rawWS) write(data []byte) bool {
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return gws.WriteFrame(c.nc, gws.MaskFrame(gws.NewTextFrame(data))) == nil
}

// closeCode reads until the server's close frame and returns its code.
func (c *rawWS) closeCode() int {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := gws.ReadFrame(c.rd)
		if err != nil {
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
		if f.Header.OpCode == gws.OpClose {
			code, _ := gws.ParseCloseFrameData(f.Payload)
			return int(code)
		}
	}
}
