package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
)

var (
	ctx    = context.Background()
	secret = []byte("auth-test-secret-0123456789abcdef")
	// cheap keeps the tests fast; the production costs are tested in
	// TestDefaultParams.
	cheap = auth.Params{Memory: 64, Time: 1, Threads: 1}
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// publisher records close orders.
type publisher struct {
	mu   sync.Mutex
	msgs []*herald.Message
}

func (p *publisher) Publish(ctx context.Context, m *herald.Message) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return 1, nil
}

func (p *publisher) closes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.msgs {
		out = append(out, fmt.Sprintf("%s:%d:%s", m.To.Name, m.Close, m.Payload))
	}
	return out
}

func (p *publisher) last() *herald.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		return nil
	}
	return p.msgs[len(p.msgs)-1]
}

type env struct {
	svc      *auth.Service
	store    *memory.Accounts
	clk      *clock
	pub      *publisher
	verifier *jwt.Verifier // what /ws and the API use
}

func newEnv(t *testing.T, mod ...func(*auth.Config)) *env {
	t.Helper()
	e := &env{store: memory.NewAccounts(memory.Config{}), clk: &clock{t: time.Now()}, pub: &publisher{}}
	jc := jwt.Config{Secret: secret, Now: e.clk.now}
	refresh := jc
	refresh.Kinds = []herald.TokenKind{herald.TokenRefresh}
	cfg := auth.Config{
		Accounts: e.store, Issuer: jwt.NewIssuer(jc), Refresh: jwt.NewVerifier(refresh),
		Publisher: e.pub, Params: cheap, Now: e.clk.now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	svc, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	jc.Revoked = svc.Revoked
	e.verifier = jwt.NewVerifier(jc)
	if _, err := auth.CreateAccount(ctx, e.store, "backend", "svc-backend", "correct horse battery", cheap); err != nil {
		t.Fatal(err)
	}
	svc.Poll(ctx)
	return e
}

func (e *env) login(t *testing.T) *herald.Tokens {
	t.Helper()
	tok, err := e.svc.Login(ctx, "backend", "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return tok
}

func wantCode(t *testing.T, what string, err error, code herald.ErrorCode) {
	t.Helper()
	if herald.CodeOf(err) != code {
		t.Fatalf("%s: err %v, want %s", what, err, code)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t)
	if tok.TokenType != "Bearer" || tok.UserID != "svc-backend" || tok.ExpiresIn != 900 || tok.RefreshExpiresIn != 7*24*3600 {
		t.Fatalf("tokens %+v", tok)
	}
	c, err := e.verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if c.Kind != herald.TokenAccess || c.UserID != "svc-backend" || c.SessionID == "" ||
		!c.ExpiresAt.Equal(e.clk.now().Truncate(time.Second).Add(15*time.Minute)) {
		t.Errorf("access claims %+v", c)
	}
	// The refresh token is no access token.
	if _, err := e.verifier.Verify(ctx, tok.RefreshToken); err == nil {
		t.Error("the refresh token passes the access verifier")
	}
}

func TestLoginFailuresAreAlike(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.LoginRate = 1000 })
	if err := auth.DisableAccount(ctx, e.store, "backend", false, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateAccount(ctx, e.store, "off", "", "password-of-off", cheap); err != nil {
		t.Fatal(err)
	}
	if err := auth.DisableAccount(ctx, e.store, "off", true, time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][2]string{
		"wrong password":   {"backend", "correct horse battery!"},
		"unknown user":     {"nobody", "correct horse battery"},
		"case of username": {"Backend", "correct horse battery"},
		"disabled":         {"off", "password-of-off"},
		"empty password":   {"backend", ""},
		"empty username":   {"", "x"},
		"huge password":    {"backend", strings.Repeat("p", herald.MaxPasswordLen+1)},
	} {
		tok, err := e.svc.Login(ctx, c[0], c[1], "192.0.2.1")
		if tok != nil || herald.CodeOf(err) != herald.ETOKEN || herald.ErrorMessage(err) != "Invalid credentials" {
			t.Errorf("%s: %v, %v; want the one generic refusal", name, tok, err)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.LoginRate = 3 })
	// Per address: three tries from one address, whatever the usernames.
	for i, u := range []string{"a", "b", "c"} {
		if _, err := e.svc.Login(ctx, u, "wrong-password", "198.51.100.7"); herald.CodeOf(err) != herald.ETOKEN {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	_, err := e.svc.Login(ctx, "backend", "correct horse battery", "198.51.100.7")
	wantCode(t, "fourth try from one address", err, herald.ERATELIMIT)
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() <= 0 || ra.RetryAfter() > 20*time.Second {
		t.Fatalf("Retry-After of %v", err)
	}
	// Per account: the same username from three other addresses.
	for i, addr := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		if _, err := e.svc.Login(ctx, "BACKEND", "wrong-password", addr); herald.CodeOf(err) != herald.ETOKEN {
			t.Fatalf("account try %d: %v", i, err)
		}
	}
	_, err = e.svc.Login(ctx, "backend", "correct horse battery", "203.0.113.4")
	wantCode(t, "fourth try on one account", err, herald.ERATELIMIT)
	// The buckets refill: 20s later one more try is allowed.
	e.clk.add(20 * time.Second)
	if _, err := e.svc.Login(ctx, "backend", "correct horse battery", "203.0.113.4"); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	first := e.login(t)
	e.clk.add(time.Minute)
	second, err := e.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh handed out the same tokens")
	}
	c1, _ := e.verifier.Verify(ctx, first.AccessToken)
	c2, err := e.verifier.Verify(ctx, second.AccessToken)
	if err != nil || c1 == nil || c2.SessionID != c1.SessionID {
		t.Fatalf("new access token %v, %v: want it in the same session", c2, err)
	}
	third, err := e.svc.Refresh(ctx, second.RefreshToken)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}

	// The first token, spent, comes back: the whole family is revoked.
	_, err = e.svc.Refresh(ctx, first.RefreshToken)
	wantCode(t, "reusing a spent refresh token", err, herald.ETOKEN)
	_, err = e.svc.Refresh(ctx, third.RefreshToken)
	wantCode(t, "the family's newest refresh token after the reuse", err, herald.ETOKEN)
	for i, a := range []string{first.AccessToken, second.AccessToken, third.AccessToken} {
		if _, err := e.verifier.Verify(ctx, a); herald.CodeOf(err) != herald.ETOKEN {
			t.Errorf("access token %d after the reuse: %v", i, err)
		}
	}
	m := e.pub.last()
	if m == nil || m.Close != herald.CloseInvalidToken || m.To != (herald.Audience{Kind: herald.ToUser, Name: "svc-backend"}) {
		t.Fatalf("close order %+v", m)
	}
	// Another session of the same account is untouched.
	other := e.login(t)
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Errorf("another session after the reuse: %v", err)
	}
}

func TestRefreshRefusals(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t)
	iss := jwt.NewIssuer(jwt.Config{Secret: secret, Now: e.clk.now})
	conn, _ := iss.Issue("svc-backend", time.Hour, nil)
	unknown, _ := iss.IssueToken(&herald.Claims{Kind: herald.TokenRefresh, UserID: "svc-backend", SessionID: "s", ID: "unknown", ExpiresAt: e.clk.now().Add(time.Hour)})
	for name, rt := range map[string]string{
		"access token":      tok.AccessToken,
		"connection token":  conn,
		"unknown jti":       unknown,
		"garbage":           "x.y.z",
		"empty":             "",
		"forged signature":  tok.RefreshToken[:len(tok.RefreshToken)-3] + "AAA",
		"other secret":      mustIssue(t, jwt.NewIssuer(jwt.Config{Secret: []byte("another-secret-another-secret!!!")}), e.clk.now()),
		"missing sid claim": mustIssueClaims(t, iss, &herald.Claims{Kind: herald.TokenRefresh, UserID: "u", ID: "x", ExpiresAt: e.clk.now().Add(time.Hour)}),
	} {
		_, err := e.svc.Refresh(ctx, rt)
		wantCode(t, name, err, herald.ETOKEN)
	}
	// The session survived all that.
	e.clk.add(8 * 24 * time.Hour)
	_, err := e.svc.Refresh(ctx, tok.RefreshToken)
	wantCode(t, "a refresh token 8 days old", err, herald.ETOKEN)
}

func mustIssue(t *testing.T, iss *jwt.Issuer, now time.Time) string {
	return mustIssueClaims(t, iss, &herald.Claims{Kind: herald.TokenRefresh, UserID: "u", SessionID: "s", ID: "x", ExpiresAt: now.Add(time.Hour)})
}

func mustIssueClaims(t *testing.T, iss *jwt.Issuer, c *herald.Claims) string {
	t.Helper()
	s, err := iss.IssueToken(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConcurrentRefresh(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.Refresh(ctx, tok.RefreshToken); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won > 1 {
		t.Fatalf("%d concurrent refreshes of one token succeeded", won)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	a, b := e.login(t), e.login(t)
	if err := e.svc.Logout(ctx, a.RefreshToken, nil); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err := e.svc.Refresh(ctx, a.RefreshToken)
	wantCode(t, "refresh after logout", err, herald.ETOKEN)
	_, err = e.verifier.Verify(ctx, a.AccessToken)
	wantCode(t, "access after logout", err, herald.ETOKEN)
	if m := e.pub.last(); m == nil || m.Close != herald.CloseInvalidToken || string(m.Payload) != auth.ReasonLoggedOut {
		t.Fatalf("close order %+v", m)
	}
	// Session b lives on, and logs out with its access token alone.
	c, err := e.verifier.Verify(ctx, b.AccessToken)
	if err != nil {
		t.Fatalf("the other session's access token: %v", err)
	}
	if err := e.svc.Logout(ctx, "", c); err != nil {
		t.Fatalf("Logout by access token: %v", err)
	}
	_, err = e.verifier.Verify(ctx, b.AccessToken)
	wantCode(t, "access after its logout", err, herald.ETOKEN)
	_, err = e.svc.Refresh(ctx, b.RefreshToken)
	wantCode(t, "refresh after access logout", err, herald.ETOKEN)

	wantCode(t, "logout with nothing", e.svc.Logout(ctx, "", nil), herald.ECREDENTIALS)
	wantCode(t, "logout with an access token as refresh token", e.svc.Logout(ctx, b.AccessToken, nil), herald.ETOKEN)
	conn := &herald.Claims{Kind: herald.TokenConnection, UserID: "u"}
	wantCode(t, "logout with connection claims", e.svc.Logout(ctx, "", conn), herald.ETOKEN)
}

func TestDisableAndRemove(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t)
	conn, _ := jwt.NewIssuer(jwt.Config{Secret: secret, Now: e.clk.now}).Issue("svc-backend", time.Hour, nil)
	if _, err := e.verifier.Verify(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := auth.DisableAccount(ctx, e.store, "backend", true, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The access token is denied at once, through its session.
	_, err := e.verifier.Verify(ctx, tok.AccessToken)
	wantCode(t, "access token of a disabled account", err, herald.ETOKEN)
	_, err = e.svc.Refresh(ctx, tok.RefreshToken)
	wantCode(t, "refresh of a disabled account", err, herald.ETOKEN)
	_, err = e.svc.Login(ctx, "backend", "correct horse battery", "192.0.2.9")
	wantCode(t, "login of a disabled account", err, herald.ETOKEN)

	// The next poll closes its sockets and refuses its user's tokens.
	e.svc.Poll(ctx)
	if m := e.pub.last(); m == nil || m.Close != herald.CloseForbidden || string(m.Payload) != auth.ReasonAccountDisabled || m.To.Name != "svc-backend" {
		t.Fatalf("close order %+v", m)
	}
	_, err = e.verifier.Verify(ctx, conn)
	wantCode(t, "connection token of a disabled account's user", err, herald.ETOKEN)
	n := len(e.pub.closes())
	e.svc.Poll(ctx)
	if len(e.pub.closes()) != n {
		t.Error("a second poll closed the sockets again")
	}

	// Enabled again: a new login works; the old session stays revoked.
	// The tokens of its user are accepted at once, before the next poll.
	if err := auth.DisableAccount(ctx, e.store, "backend", false, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verifier.Verify(ctx, conn); err != nil {
		t.Errorf("connection token after re-enabling, before a poll: %v", err)
	}
	e.svc.Poll(ctx)
	if _, err := e.verifier.Verify(ctx, conn); err != nil {
		t.Errorf("connection token after re-enabling: %v", err)
	}
	fresh := e.login(t)
	_, err = e.svc.Refresh(ctx, tok.RefreshToken)
	wantCode(t, "the old session after re-enabling", err, herald.ETOKEN)

	if err := auth.RemoveAccount(ctx, e.store, "backend", 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = e.verifier.Verify(ctx, fresh.AccessToken)
	wantCode(t, "access token of a removed account", err, herald.ETOKEN)
	e.svc.Poll(ctx)
	if m := e.pub.last(); m == nil || m.Close != herald.CloseForbidden || string(m.Payload) != auth.ReasonAccountRemoved {
		t.Fatalf("close order %+v", m)
	}
	wantCode(t, "removing twice", auth.RemoveAccount(ctx, e.store, "backend", time.Minute), herald.ENOTFOUND)
}

func TestCreateAccountValidation(t *testing.T) {
	s := memory.NewAccounts(memory.Config{})
	for name, c := range map[string][3]string{
		"empty username":  {"", "", "long enough password"},
		"space in name":   {"a b", "", "long enough password"},
		"long username":   {strings.Repeat("a", 65), "", "long enough password"},
		"short password":  {"alice", "", "short"},
		"control user id": {"alice", "a\nb", "long enough password"},
		"long password":   {"alice", "", strings.Repeat("p", herald.MaxPasswordLen+1)},
	} {
		_, err := auth.CreateAccount(ctx, s, c[0], c[1], c[2], cheap)
		wantCode(t, name, err, herald.EINVALID)
	}
	a, err := auth.CreateAccount(ctx, s, "alice@example.com", "", "long enough password", cheap)
	if err != nil || a.UserID != "alice@example.com" || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("CreateAccount = %+v, %v", a, err)
	}
	if strings.Contains(a.PasswordHash, "long enough password") {
		t.Fatal("the hash contains the password")
	}
	_, err = auth.CreateAccount(ctx, s, "alice@example.com", "", "long enough password", cheap)
	wantCode(t, "a taken username", err, herald.ECONFLICT)
}
