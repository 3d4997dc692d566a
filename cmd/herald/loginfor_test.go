package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
)

// TestLoginFor plays the client-service design document's flow against a
// real node over HTTP: a backend logs in with its service account for the
// user of a browser session, and the browser connects with its own userId.
// The token is that user's and no more (no server API); an account not
// allowed to act for users is refused; logout ends the user's socket.
func TestLoginFor(t *testing.T) {
	a := launchApp(t, map[string]string{"LOGIN_FOR_ACCOUNTS": "backend"})
	s := a
	const password = "a long enough password"
	for _, acct := range []string{"backend", "plain"} {
		var out, errOut syncBuffer
		env := mapEnv(map[string]string{"HERALD_PASSWORD": password, "HERALD_DB_PATH": a.app.cfg.Store.DBPath})
		if err := run(context.Background(), []string{"user", "add", acct}, env, &out, &errOut); err != nil {
			t.Fatalf("herald user add %s: %v\n%s", acct, err, errOut.String())
		}
	}
	type pair struct {
		AccessToken, RefreshToken, UserID string
	}
	login := func(user, pw, forUser string, want int) pair {
		t.Helper()
		var p pair
		status, body := s.do("POST", "/auth/login", "", map[string]string{"username": user, "password": pw, "userId": forUser})
		if status != want {
			t.Fatalf("login %s for %s = %d %s, want %d", user, forUser, status, body, want)
		}
		_ = json.Unmarshal(body, &p)
		return p
	}

	p := login("backend", password, "u-42", 200)
	if p.UserID != "u-42" || p.RefreshToken == "" {
		t.Fatalf("login for u-42 answered %+v", p)
	}
	// The browser connects with the session's userId: no 4003.
	browser := dial(t, s.wsURL("u-42", p.AccessToken))
	if m := browser.expect("connected"); m["userId"] != "u-42" {
		t.Fatalf("connected as %v", m["userId"])
	}
	// It reads u-42's inbox, and not the server API.
	if status, body := s.do("GET", "/api/notifications", p.AccessToken, nil); status != 200 {
		t.Errorf("inbox with the token = %d %s", status, body)
	}
	if status, _ := s.do("POST", "/api/notifications", p.AccessToken, `{"userId":"someone","type":"t","title":"x"}`); status != 401 {
		t.Errorf("the server API with a login-for token = %d, want 401", status)
	}
	// The account's own login still gets its own access token.
	if own := login("backend", password, "", 200); own.UserID != "backend" {
		t.Errorf("plain login of backend answered user %q", own.UserID)
	}
	// A refresh stays u-42's.
	var next pair
	if status, body := s.do("POST", "/auth/refresh", "", map[string]string{"refreshToken": p.RefreshToken}); status != 200 || json.Unmarshal(body, &next) != nil {
		t.Fatalf("refresh = %d %s", status, body)
	}
	if next.UserID != "u-42" {
		t.Errorf("refresh answered user %q", next.UserID)
	}
	if status, _ := s.do("POST", "/api/notifications", next.AccessToken, `{"userId":"someone","type":"t","title":"x"}`); status != 401 {
		t.Errorf("the server API with a refreshed login-for token = %d, want 401", status)
	}

	// Refusals: an account not allowed, wrong credentials, a bad user id.
	var refused struct {
		Error struct{ Code string } `json:"error"`
	}
	status, body := s.do("POST", "/auth/login", "", map[string]string{"username": "plain", "password": password, "userId": "u-42"})
	if json.Unmarshal(body, &refused); status != 403 || refused.Error.Code != "forbidden" {
		t.Errorf("plain account logging in for u-42 = %d %s, want 403 forbidden", status, body)
	}
	login("backend", "wrong password!", "u-42", 401)
	login("backend", password, string(make([]byte, 300)), 400)

	// Logout of the session ends u-42's socket.
	if status, body := s.do("POST", "/auth/logout", "", map[string]string{"refreshToken": next.RefreshToken}); status != 204 {
		t.Fatalf("logout = %d %s", status, body)
	}
	if code, _, _ := browser.closeStatus(); code != 4002 {
		t.Errorf("u-42's socket after logout: close %d, want 4002", code)
	}
	if status, _ := s.do("GET", "/api/notifications", next.AccessToken, nil); status != 401 {
		t.Errorf("a logged-out session's token read the inbox: %d", status)
	}

	// The Go SDK does the same.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := client.NewLoginTokenSource(client.LoginConfig{URL: "http://" + s.addr, Username: "backend", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.LoginFor(ctx, "u-7")
	if err != nil || tok.UserID != "u-7" {
		t.Fatalf("LoginFor = %+v, %v", tok, err)
	}
	again, _ := src.LoginFor(ctx, "u-7")
	if again.Value != tok.Value {
		t.Error("a second LoginFor for the same user logged in again instead of using the cache")
	}
	c := dial(t, s.wsURL("u-7", tok.Value))
	c.expect("connected")
	plain, _ := client.NewLoginTokenSource(client.LoginConfig{URL: "http://" + s.addr, Username: "plain", Password: password})
	var ce *client.Error
	if _, err := plain.LoginFor(ctx, "u-7"); !errors.As(err, &ce) || ce.Status != 403 {
		t.Errorf("LoginFor of an account not allowed = %v, want a 403", err)
	}
}
