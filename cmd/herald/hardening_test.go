package main

// Regression tests for the findings of the penetration test against a
// production-mode Herald: each replays the attack on the real binary or the
// real wiring over real sockets. docs/security.md describes the defences.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald"
)

// realSecrets is what an operator deploying Herald sets, and nothing else.
func realSecrets(t *testing.T, extra ...string) map[string]string {
	env := map[string]string{
		"JWT_SECRET":     testSecret,
		"HERALD_API_KEY": testAPIKey,
		"HERALD_DB_PATH": filepath.Join(t.TempDir(), "herald.db"),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// unsafeWarnings returns the settings the log warned about at start.
func unsafeWarnings(log string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`msg="unsafe setting" setting=(\S+)`).FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestNoDemoTokensWithRealSecrets is finding 1: with JWT_SECRET and
// HERALD_API_KEY set and HERALD_ENV unset, POST /demo/session minted a token
// for any userId signed with the real secret. Now a server given secrets is
// production: the demo routes answer 404, and so they do with HERALD_ENV=
// development, until HERALD_DEMO asks for them, which the log then warns of.
func TestNoDemoTokensWithRealSecrets(t *testing.T) {
	session := func(p *proc) (int, map[string]any) {
		t.Helper()
		s := newServer(t, p.addr, testSecret, testAPIKey)
		status, body := s.do("POST", "/demo/session", "", map[string]string{"userId": "victim"})
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("/demo/session answered %d %q", status, body)
		}
		return status, m
	}

	p := startProc(t, realSecrets(t))
	if status, m := session(p); status != 404 || m["token"] != nil {
		t.Errorf("secrets given, HERALD_ENV unset: /demo/session = %d %v, want 404 and no token", status, m)
	}
	warned := unsafeWarnings(p.stderr.String())
	for _, want := range []string{"WS_ALLOWED_ORIGINS", "WS_DISABLE_QUERY_TOKEN"} {
		if !contains(warned, want) {
			t.Errorf("production with compatible defaults: no warning for %s (warned %v)", want, warned)
		}
	}
	if contains(warned, "HERALD_DEMO") || contains(warned, "HERALD_METRICS_PUBLIC") {
		t.Errorf("warned %v, which are off", warned)
	}
	// Setting the safe values silences the warnings.
	p = startProc(t, realSecrets(t, "WS_ALLOWED_ORIGINS", "https://app.example", "WS_DISABLE_QUERY_TOKEN", "true"))
	if w := unsafeWarnings(p.stderr.String()); len(w) != 0 {
		t.Errorf("a hardened production node warned about %v", w)
	}

	p = startProc(t, realSecrets(t, "HERALD_ENV", "development"))
	if status, _ := session(p); status != 404 {
		t.Errorf("development with given secrets: /demo/session = %d, want 404", status)
	}
	if w := unsafeWarnings(p.stderr.String()); !contains(w, "HERALD_ENV") {
		t.Errorf("development with given secrets: warned %v, want HERALD_ENV", w)
	}

	p = startProc(t, realSecrets(t, "HERALD_DEMO", "1"))
	status, m := session(p)
	tok, _ := m["token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("HERALD_DEMO=1: /demo/session = %d %v, want a token", status, m)
	}
	if w := unsafeWarnings(p.stderr.String()); !contains(w, "HERALD_DEMO") {
		t.Errorf("HERALD_DEMO=1: warned %v, want HERALD_DEMO", w)
	}
	s := newServer(t, p.addr, testSecret, testAPIKey)
	c := dial(t, s.wsURL("victim", tok))
	c.expect("connected")
	c.close()
}

// TestWeakAPIKeyRefusedAtStart is finding 2's first half: production (here
// implied by the secrets) started with HERALD_API_KEY=abc. It must exit 1
// and say why, without printing the key.
func TestWeakAPIKeyRefusedAtStart(t *testing.T) {
	for _, env := range []map[string]string{
		realSecrets(t, "HERALD_API_KEY", "abc"),
		realSecrets(t, "HERALD_API_KEY", "abc", "HERALD_ENV", "production"),
		realSecrets(t, "HERALD_METRICS_TOKEN", "scrape-me"),
	} {
		// A server that wrongly starts is stopped after a while.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, heraldBin)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "PORT=" + strconv.Itoa(freePort(t)), "HERALD_HOST=127.0.0.1"}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("env %v: %v, want exit 1; output %s", env, err, out)
		}
		if !bytes.Contains(out, []byte("at least 32 bytes")) || bytes.Contains(out, []byte("listening")) {
			t.Errorf("env %v: output %s", env, out)
		}
		if bytes.Contains(out, []byte("abc")) || bytes.Contains(out, []byte("scrape-me")) {
			t.Errorf("the refusal prints the short secret: %s", out)
		}
	}
}

// TestAPIKeyGuessingThrottled is finding 2's second half: wrong API keys were
// answered at thousands a second with no log line. Now one address gets
// API_AUTH_RATE_LIMIT (10) refusals, then 429 with Retry-After for every
// key, the right one included; each refusal is logged without the key.
func TestAPIKeyGuessingThrottled(t *testing.T) {
	p := startProc(t, realSecrets(t))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	counts := map[int]int{}
	var retryAfter string
	for i := range 40 {
		req, err := http.NewRequest("GET", "http://"+p.addr+"/api/stats", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", fmt.Sprintf("Bearer guess-%02d-%s", i, testAPIKey[:20]))
		resp, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		counts[resp.StatusCode]++
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if counts[401] != 10 || counts[429] != 30 {
		t.Errorf("40 wrong keys from one address: %v, want 10 × 401 then 30 × 429", counts)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 || n > 6 {
		t.Errorf("Retry-After = %q, want the seconds until the next attempt (6 at 10 a minute)", retryAfter)
	}
	if status, body := s.do("GET", "/api/stats", testAPIKey, nil); status != 429 || !strings.Contains(string(body), `"rate_limited"`) {
		t.Errorf("the right key from the throttled address: %d %s, want 429: a 200 would tell it from the wrong ones", status, body)
	}
	log := p.stderr.String()
	if n := strings.Count(log, `msg="http: server API authentication refused`); n != 10 {
		t.Errorf("%d refusals logged, want 10:\n%s", n, log)
	}
	if strings.Contains(log, "guess-") || strings.Contains(log, testAPIKey) {
		t.Error("the log holds a presented key")
	}
}

// TestPushEndpointTakeover is finding 3 on the real app: bob registering
// alice's web-push endpoint moved her subscription to him. It is now 409
// and alice keeps it.
func TestPushEndpointTakeover(t *testing.T) {
	s := startApp(t, nil)
	sub := func(auth string) map[string]any {
		return map[string]any{"endpoint": "https://push.example/send/alice-device",
			"keys": map[string]string{"p256dh": "B" + strings.Repeat("A", 86), "auth": strings.Repeat(auth, 22)}}
	}
	alice, bob := token(t, testSecret, "alice"), token(t, testSecret, "bob")
	if status, body := s.do("POST", "/api/push/subscriptions", alice, sub("Q")); status != 201 {
		t.Fatalf("alice subscribing: %d %s", status, body)
	}
	status, body := s.do("POST", "/api/push/subscriptions", bob, sub("R"))
	if status != 409 || !strings.Contains(string(body), `"conflict"`) {
		t.Errorf("bob registering alice's endpoint: %d %s, want 409 conflict", status, body)
	}
	var list struct {
		Subscriptions []struct{ UserID, Auth string }
	}
	for user, want := range map[string]int{alice: 1, bob: 0} {
		_, body := s.do("GET", "/api/push/subscriptions", user, nil)
		if err := json.Unmarshal(body, &list); err != nil || len(list.Subscriptions) != want {
			t.Errorf("subscriptions = %s, want %d", body, want)
			continue
		}
		if want == 1 && list.Subscriptions[0].Auth != strings.Repeat("Q", 22) {
			t.Errorf("alice's subscription now has bob's keys: %s", body)
		}
	}
}

// TestMetricsNeedCredentialsInProduction is finding 4: /metrics was public
// while /api/stats, with the same totals, needed the key. In production it
// now wants the API key or HERALD_METRICS_TOKEN; HERALD_METRICS_PUBLIC opens
// it, with a warning.
func TestMetricsNeedCredentialsInProduction(t *testing.T) {
	const scraper = "metrics-scraper-token-0123456789abcdef"
	p := startProc(t, realSecrets(t, "HERALD_METRICS_TOKEN", scraper))
	s := newServer(t, p.addr, testSecret, testAPIKey)
	if status, body := s.do("GET", "/metrics", "", nil); status != 401 || !strings.Contains(string(body), `"missing_credentials"`) {
		t.Errorf("/metrics without credentials: %d %.100s, want 401", status, body)
	}
	for _, cred := range []string{testAPIKey, scraper} {
		if status, body := s.do("GET", "/metrics", cred, nil); status != 200 || !strings.Contains(string(body), "herald_connections") {
			t.Errorf("/metrics with %.8s…: %d", cred, status)
		}
	}
	if status, _ := s.do("GET", "/api/stats", scraper, nil); status != 401 {
		t.Errorf("the metrics token calls the server API: %d, want 401", status)
	}

	p = startProc(t, realSecrets(t, "HERALD_METRICS_PUBLIC", "true"))
	s = newServer(t, p.addr, testSecret, testAPIKey)
	if status, _ := s.do("GET", "/metrics", "", nil); status != 200 {
		t.Errorf("HERALD_METRICS_PUBLIC=true: /metrics = %d", status)
	}
	if w := unsafeWarnings(p.stderr.String()); !contains(w, "HERALD_METRICS_PUBLIC") {
		t.Errorf("public metrics in production: warned %v", w)
	}
}

// resign returns tok's claims signed again with the test secret and tok's
// header, with edit applied: a token exactly like one Herald issued but for
// the change.
func resign(t *testing.T, tok string, edit func(gojwt.MapClaims)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	var header, claims map[string]any
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatal(err)
		}
	}
	edit(claims)
	return signed(t, gojwt.SigningMethodHS256, []byte(testSecret), header, claims)
}

// TestTimeClaimsAsStringsRefused is finding 5: "exp":"9999999999" (a JSON
// string) was read as a number. Each kind of token, re-signed with its time
// claims as strings, must now be refused wherever it is presented: the
// connection token on /ws (query and first message) and the inbox, an
// access token on the server API, a refresh token on /auth/refresh, and an
// identity provider's RS256 token on /ws.
func TestTimeClaimsAsStringsRefused(t *testing.T) {
	s := startSecApp(t, nil)
	login := s.login(t)
	far := strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)
	stringy := func(claim string) func(gojwt.MapClaims) {
		return func(c gojwt.MapClaims) {
			if claim == "exp" {
				c["exp"] = far
			} else {
				c[claim] = fmt.Sprint(c["iat"])
			}
		}
	}
	for _, claim := range []string{"exp", "iat", "nbf"} {
		conn := resign(t, s.conn(t, "alice"), func(c gojwt.MapClaims) { c["nbf"] = c["iat"]; stringy(claim)(c) })
		s.refusedWith(t, claim+" as a string in a connection token (?token=)", "alice", conn, websocket.StatusCode(herald.CloseInvalidToken))
		fm := dial(t, "ws://"+s.addr+"/ws")
		fm.send(map[string]any{"type": "auth", "token": conn})
		if code, _, _ := fm.closeStatus(); code != websocket.StatusCode(herald.CloseInvalidToken) {
			t.Errorf("%s as a string in first-message auth: closed %d, want 4002", claim, code)
		}
		if status, _ := s.do("GET", "/api/notifications", conn, nil); status != 401 {
			t.Errorf("%s as a string on the inbox: %d, want 401", claim, status)
		}
		access := resign(t, login.AccessToken, func(c gojwt.MapClaims) { c["nbf"] = c["iat"]; stringy(claim)(c) })
		if status, _ := s.do("GET", "/api/stats", access, nil); status != 401 {
			t.Errorf("%s as a string in an access token on the server API: %d, want 401", claim, status)
		}
		c := claimsFor("alice", "iss", idpIssuer, "nbf", time.Now().Unix())
		stringy(claim)(c)
		idp := signed(t, gojwt.SigningMethodRS256, secKeys.idp, map[string]any{"kid": idpKid}, c)
		s.refusedWith(t, claim+" as a string in an RS256 token", "alice", idp, websocket.StatusCode(herald.CloseInvalidToken))
	}
	// The refresh token last: a refused one must not spend the real one.
	for _, claim := range []string{"exp", "iat"} {
		rt := resign(t, login.RefreshToken, stringy(claim))
		if status, body := s.refresh(t, rt); status != 401 {
			t.Errorf("%s as a string in a refresh token: %d %s, want 401", claim, status, body)
		}
	}
	// The controls: the same tokens as issued still work.
	s.connected(t, "alice", s.conn(t, "alice")).close()
	if status, _ := s.do("GET", "/api/stats", login.AccessToken, nil); status != 200 {
		t.Errorf("the access token as issued: %d", status)
	}
	status, body := s.refresh(t, login.RefreshToken)
	decodeLogin(t, status, body)
}
