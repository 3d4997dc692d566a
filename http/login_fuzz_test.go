package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/auth"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/memory"
)

// FuzzLoginBody posts arbitrary bodies to POST /auth/login on the real login
// service. The answer must be 200 only for the right credentials, otherwise
// one of the documented errors in the error shape, never a 5xx, and never
// echo what was sent.
func FuzzLoginBody(f *testing.F) {
	for _, seed := range []string{
		`{"username":"backend","password":"correct horse battery"}`,
		`{"username":"backend","password":"wrong"}`,
		`{"username":"","password":""}`,
		`{"username":"backend"}`,
		`{"username":1,"password":true}`,
		`{"username":"backend","password":"correct horse battery","username":"x"}`,
		`{"username":"b\u0000ackend","password":"\ud800"}`,
		`{"username":"` + strings.Repeat("a", 300) + `","password":"p"}`,
		`[]`, `null`, `"x"`, `{`, `{}{}`, ``, " \n ",
	} {
		f.Add(seed)
	}
	accounts := memory.NewAccounts(memory.Config{})
	cheap := auth.Params{Memory: 64, Time: 1, Threads: 1}
	if _, err := auth.CreateAccount(context.Background(), accounts, "backend", "svc-1", "correct horse battery", cheap); err != nil {
		f.Fatal(err)
	}
	svc, err := auth.New(auth.Config{Accounts: accounts, Issuer: jwt.NewIssuer(jwt.Config{Secret: secret}),
		Refresh: jwt.NewVerifier(jwt.Config{Secret: secret, Kinds: []herald.TokenKind{herald.TokenRefresh}}),
		Params:  cheap, LoginRate: 1e9})
	if err != nil {
		f.Fatal(err)
	}
	h := heraldhttp.NewServer(heraldhttp.Config{Sessions: svc, Verifier: jwt.NewVerifier(jwt.Config{Secret: secret})}).Handler()

	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, r)
		var in struct{ Username, Password string }
		_ = json.Unmarshal([]byte(body), &in)
		switch rec.Code {
		case http.StatusOK:
			if in.Username != "backend" || in.Password != "correct horse battery" {
				t.Fatalf("200 for %q", body)
			}
			return
		case 400, 401, 413, 415:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
			t.Fatalf("answer %q is not the error shape", rec.Body)
		}
		if len(in.Password) > 3 && strings.Contains(rec.Body.String(), in.Password) {
			t.Fatalf("the answer echoes the password")
		}
	})
}
