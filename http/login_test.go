package http_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
)

const (
	backendUser = "backend"
	backendPass = "correct horse battery"
)

// authEnv is an env whose server also has the real login service on a
// memory account store, with one account.
type authEnv struct {
	*env
	svc      *auth.Service
	accounts *memory.Accounts
}

func newAuthEnv(t *testing.T, edit func(*auth.Config)) *authEnv {
	t.Helper()
	a := &authEnv{accounts: memory.NewAccounts(memory.Config{})}
	refresh := jwt.Config{Secret: secret, Kinds: []herald.TokenKind{herald.TokenRefresh}}
	var pub *recPublisher
	a.env = newEnv(t, func(c *heraldhttp.Config) {
		pub = c.Publisher.(*recPublisher)
		cfg := auth.Config{Accounts: a.accounts, Issuer: jwt.NewIssuer(jwt.Config{Secret: secret}),
			Refresh: jwt.NewVerifier(refresh), Publisher: pub, Params: auth.Params{Memory: 64, Time: 1, Threads: 1}}
		if edit != nil {
			edit(&cfg)
		}
		svc, err := auth.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a.svc = svc
		c.Sessions = svc
		c.Tokens = jwt.NewIssuer(jwt.Config{Secret: secret})
		c.Verifier = jwt.NewVerifier(jwt.Config{Secret: secret, Revoked: svc.Revoked})
	})
	if _, err := auth.CreateAccount(context.Background(), a.accounts, backendUser, "svc-1", backendPass, auth.Params{Memory: 64, Time: 1, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	return a
}

type tokensBody struct {
	AccessToken      string `json:"accessToken"`
	RefreshToken     string `json:"refreshToken"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
	TokenType        string `json:"tokenType"`
	UserID           string `json:"userId"`
}

func (a *authEnv) login(t *testing.T) tokensBody {
	t.Helper()
	r := a.do(req{method: "POST", path: "/auth/login", body: `{"username":"backend","password":"correct horse battery"}`})
	return decodeTokens(t, r)
}

func decodeTokens(t *testing.T, r response) tokensBody {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var b tokensBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	if b.AccessToken == "" || b.RefreshToken == "" || b.TokenType != "Bearer" || b.UserID != "svc-1" ||
		b.ExpiresIn != 900 || b.RefreshExpiresIn != 604800 {
		t.Fatalf("tokens answer %s", r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	return b
}

func TestLoginRoute(t *testing.T) {
	a := newAuthEnv(t, nil)
	tok := a.login(t)

	// The access token calls the server API as the API key does.
	r := a.do(req{method: "POST", path: "/api/users/alice/messages", auth: "Bearer " + tok.AccessToken, body: `{"type":"x"}`})
	if r.status != 200 {
		t.Fatalf("server API with an access token: %d %s", r.status, r.body)
	}
	// The refresh token calls nothing.
	for _, rt := range backendRoutes {
		r := a.do(req{method: rt.method, path: rt.path, auth: "Bearer " + tok.RefreshToken, body: rt.body})
		expectError(t, r, 401, herald.ETOKEN)
	}
	expectError(t, a.do(req{method: "GET", path: "/api/notifications", auth: "Bearer " + tok.RefreshToken}), 401, herald.ETOKEN)

	// Every wrong credential gets the same answer.
	var answers []string
	for _, body := range []string{
		`{"username":"backend","password":"wrong password"}`,
		`{"username":"nobody","password":"correct horse battery"}`,
		`{"username":"BACKEND","password":"correct horse battery"}`,
	} {
		r := a.do(req{method: "POST", path: "/auth/login", body: body})
		msg := expectError(t, r, 401, herald.ETOKEN)
		answers = append(answers, string(r.body))
		if msg != "Invalid credentials" {
			t.Errorf("message %q", msg)
		}
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Errorf("refusals differ: %q", answers)
	}
	// Malformed bodies are 400, not 401.
	for _, body := range []string{`{}`, `{"username":"backend"}`, `[]`, `{"username":1,"password":"x"}`, `not json`} {
		if r := a.do(req{method: "POST", path: "/auth/login", body: body}); r.status != 400 {
			t.Errorf("login body %s: %d %s", body, r.status, r.body)
		}
	}
	if r := a.do(req{method: "GET", path: "/auth/login"}); r.status != 405 {
		t.Errorf("GET /auth/login = %d", r.status)
	}
	if r := a.do(req{method: "POST", path: "/auth/nothing", body: "{}"}); r.status != 404 || !strings.Contains(string(r.body), `"not_found"`) {
		t.Errorf("unknown /auth path = %d %s", r.status, r.body)
	}
}

func TestLoginRouteSecretsNotLogged(t *testing.T) {
	a := newAuthEnv(t, nil)
	tok := a.login(t)
	a.do(req{method: "POST", path: "/auth/login", body: `{"username":"backend","password":"a wrong guess!"}`})
	a.do(req{method: "POST", path: "/auth/refresh", body: `{"refreshToken":"` + tok.RefreshToken + `"}`})
	logs := a.logs.String()
	for _, secretText := range []string{backendPass, "a wrong guess!", tok.RefreshToken, tok.AccessToken} {
		if strings.Contains(logs, secretText) {
			t.Errorf("the log contains %q", secretText)
		}
	}
}

func TestLoginRateLimitRoute(t *testing.T) {
	a := newAuthEnv(t, func(c *auth.Config) { c.LoginRate = 2 })
	for range 2 {
		a.do(req{method: "POST", path: "/auth/login", body: `{"username":"x","password":"wrong password"}`})
	}
	r := a.do(req{method: "POST", path: "/auth/login", body: `{"username":"backend","password":"correct horse battery"}`})
	expectError(t, r, 429, herald.ERATELIMIT)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 30 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
}

func TestRefreshAndLogoutRoutes(t *testing.T) {
	a := newAuthEnv(t, nil)
	first := a.login(t)
	refresh := func(rt string) response {
		return a.do(req{method: "POST", path: "/auth/refresh", body: `{"refreshToken":"` + rt + `"}`})
	}
	second := decodeTokens(t, refresh(first.RefreshToken))
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("the refresh token was not rotated")
	}
	// The spent token again: 401, and the family is gone.
	expectError(t, refresh(first.RefreshToken), 401, herald.ETOKEN)
	expectError(t, refresh(second.RefreshToken), 401, herald.ETOKEN)
	r := a.do(req{method: "GET", path: "/api/stats", auth: "Bearer " + second.AccessToken})
	expectError(t, r, 401, herald.ETOKEN)
	if m := a.pub.last(t); m.Close != herald.CloseInvalidToken || m.To.Name != "svc-1" {
		t.Errorf("close order %+v", m)
	}
	expectError(t, refresh(first.AccessToken), 401, herald.ETOKEN)
	expectError(t, a.do(req{method: "POST", path: "/auth/refresh", body: `{}`}), 401, herald.ECREDENTIALS)

	// Logout by refresh token, then by access token alone.
	third := a.login(t)
	if r := a.do(req{method: "POST", path: "/auth/logout", body: `{"refreshToken":"` + third.RefreshToken + `"}`}); r.status != 204 {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	expectError(t, refresh(third.RefreshToken), 401, herald.ETOKEN)
	expectError(t, a.do(req{method: "GET", path: "/api/stats", auth: "Bearer " + third.AccessToken}), 401, herald.ETOKEN)
	if m := a.pub.last(t); m.Close != herald.CloseInvalidToken || string(m.Payload) != auth.ReasonLoggedOut {
		t.Errorf("close order %+v", m)
	}
	fourth := a.login(t)
	if r := a.do(req{method: "POST", path: "/auth/logout", auth: "Bearer " + fourth.AccessToken}); r.status != 204 {
		t.Fatalf("logout by access token = %d %s", r.status, r.body)
	}
	expectError(t, refresh(fourth.RefreshToken), 401, herald.ETOKEN)
	expectError(t, a.do(req{method: "POST", path: "/auth/logout"}), 401, herald.ECREDENTIALS)
	expectError(t, a.do(req{method: "POST", path: "/auth/logout", auth: "Bearer " + a.token("alice")}), 401, herald.ETOKEN)
}

func TestIssueTokenRoute(t *testing.T) {
	a := newAuthEnv(t, nil)
	verifier := jwt.NewVerifier(jwt.Config{Secret: secret})
	issue := func(auth, body string) response {
		return a.do(req{method: "POST", path: "/api/tokens", auth: auth, body: body})
	}
	r := issue("Bearer "+apiKey, `{"userId":"alice","channels":["private:team-1","PRIVATE:room*"]}`)
	if r.status != 201 {
		t.Fatalf("POST /api/tokens = %d %s", r.status, r.body)
	}
	var got struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
		ExpiresIn int64  `json:"expiresIn"`
		UserID    string `json:"userId"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	c, err := verifier.Verify(context.Background(), got.Token)
	if err != nil {
		t.Fatalf("issued token: %v", err)
	}
	exp, _ := time.Parse(herald.TimeLayout, got.ExpiresAt)
	if c.UserID != "alice" || c.Kind != herald.TokenConnection || got.UserID != "alice" || got.ExpiresIn != 900 ||
		!exp.Equal(c.ExpiresAt) || strings.Join(c.Channels, ",") != "private:team-1,private:room*" {
		t.Errorf("answer %s, claims %+v", r.body, c)
	}

	// With an access token; ttl as a string and as seconds.
	tok := a.login(t)
	for body, want := range map[string]int64{`{"userId":"bob","ttl":"90s"}`: 90, `{"userId":"bob","ttl":600}`: 600, `{"userId":"bob","ttl":null}`: 900} {
		r := issue("Bearer "+tok.AccessToken, body)
		if r.status != 201 || !strings.Contains(string(r.body), `"expiresIn":`+strconv.FormatInt(want, 10)) {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	// A connection token cannot mint tokens, nor a refresh token.
	expectError(t, issue("Bearer "+got.Token, `{"userId":"alice"}`), 401, herald.ETOKEN)
	expectError(t, issue("Bearer "+tok.RefreshToken, `{"userId":"alice"}`), 401, herald.ETOKEN)
	expectError(t, issue("", `{"userId":"alice"}`), 401, herald.ECREDENTIALS)
	for _, body := range []string{
		`{}`, `{"userId":""}`, `{"userId":"a\nb"}`, `{"userId":"alice","ttl":"25h"}`, `{"userId":"alice","ttl":"0s"}`,
		`{"userId":"alice","ttl":-5}`, `{"userId":"alice","ttl":"soon"}`, `{"userId":"alice","ttl":true}`,
		`{"userId":"alice","channels":["bad name"]}`, `{"userId":"alice","channels":["*"]}`, `{"userId":"alice","channels":"x"}`,
		`{"userId":"alice","channels":[` + strings.TrimSuffix(strings.Repeat(`"c",`, heraldhttp.MaxTokenChannels+1), ",") + `]}`,
	} {
		expectError(t, issue("Bearer "+apiKey, body), 400, herald.EINVALID)
	}
}
