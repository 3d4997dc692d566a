package main

// The hostile-input suite of the wired app: every route the node serves,
// the demo's and the WebSocket endpoint's included, on SQLite and on
// PostgreSQL, and every file a setting names. internal/hostiletest holds the
// cases; docs/security.md lists the bounds they check.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/demo"
	"github.com/heraldhq/herald/internal/hostiletest"
	"github.com/heraldhq/herald/internal/pgtest"
)

// TestHostileRequestsOnTheApp runs the hostile cases against every route of
// a node wired as serve wires it, with the demo on, on each store. Cases
// that only end with the request timeout (30 s) are left to the http suite.
func TestHostileRequestsOnTheApp(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			env := map[string]string{
				"HERALD_DEMO":         "true",
				"LOGIN_RATE_LIMIT":    "100000",
				"API_AUTH_RATE_LIMIT": "100000",
			}
			if store == "postgres" {
				env["DATABASE_URL"] = pgtest.NewDatabase(t)
			}
			a := launchApp(t, env)
			// The login account the cases sign in with, made as an operator would.
			var out, errOut syncBuffer
			userEnv := mapEnv(map[string]string{"HERALD_PASSWORD": "correct horse battery",
				"DATABASE_URL": env["DATABASE_URL"], "HERALD_DB_PATH": a.app.cfg.Store.DBPath})
			if err := run(context.Background(), []string{"user", "add", "--user-id", "svc-1", "backend"}, userEnv, &out, &errOut); err != nil {
				t.Fatalf("herald user add: %v\n%s", err, errOut.String())
			}

			routes := hostiletest.APIRoutes(testAPIKey, token(t, testSecret, "alice"))
			mounted := a.app.api.Routes()
			for _, pattern := range mounted {
				if _, ok := routes[pattern]; !ok {
					t.Errorf("route %s is mounted but has no hostile cases", pattern)
				}
			}
			for pattern := range routes {
				if !strings.HasPrefix(pattern, "(") && !slices.Contains(mounted, pattern) {
					t.Errorf("the node does not mount %s", pattern)
				}
			}
			// The handlers mounted beside the API: the demo, the socket.
			small := int64(demo.MaxBodyBytes)
			routes["POST /demo/session"] = hostiletest.Route{Method: "POST", Path: "/demo/session", Body: `{"userId":"mia"}`, Limit: small}
			routes["POST /demo/notify"] = hostiletest.Route{Method: "POST", Path: "/demo/notify", Auth: "Bearer " + token(t, testSecret, "mia"),
				Body: `{"type":"system"}`, Limit: small, OptionalBody: true}
			routes["GET /demo/config"] = hostiletest.Route{Method: "GET", Path: "/demo/config", Limit: 64 << 10}
			routes["GET /ws"] = hostiletest.Route{Method: "GET", Path: "/ws", Limit: 64 << 10, Foreign: true}
			// A real login hashes with argon2id: 19 MiB, legitimately.
			login := routes["POST /auth/login"]
			login.Work = 24 << 20
			routes["POST /auth/login"] = login

			var largest struct {
				alloc uint64
				what  string
			}
			defer func() {
				t.Logf("largest allocation answering a case (logins aside): %d KiB (%s)", largest.alloc>>10, largest.what)
			}()
			for _, name := range slices.Sorted(maps.Keys(routes)) {
				rt := routes[name]
				for _, c := range hostiletest.Cases(rt) {
					if c.Slow {
						continue
					}
					var resp hostiletest.Response
					var err error
					alloc := hostiletest.Allocated(func() { resp, err = hostiletest.Send(a.addr, rt, c, 20*time.Second) })
					if err == nil {
						err = c.Check(rt, resp)
					}
					if err != nil {
						t.Errorf("%s: %s: %v", name, c.Name, err)
					}
					if alloc > largest.alloc && !strings.Contains(name, "login") {
						largest.alloc, largest.what = alloc, name+": "+c.Name
					}
					if alloc > hostiletest.Bound(rt) {
						t.Errorf("%s: %s: the process allocated %d KiB answering it (bound %d KiB)", name, c.Name, alloc>>10, hostiletest.Bound(rt)>>10)
					}
				}
			}
			if logs := a.logs.String(); strings.Contains(logs, "panic") || strings.Contains(logs, "internal error") {
				t.Errorf("the hostile requests caused internal errors:\n%s", logs)
			}
		})
	}
}

// endless is a file that never ends, as /dev/zero is.
const endless = "/dev/zero"

// TestHostileSettingFiles names hostile files in each setting that names a
// file: the node must refuse to start, saying which setting, quickly and
// without reading more than the documented bound.
func TestHostileSettingFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := strings.Repeat("#", 2<<20)
	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	jsonFiles := map[string]string{
		"endless":         endless,
		"over 1 MiB":      file("big.json", `{"a":"`+big+`"}`),
		"nested 100k":     file("deep.json", deep),
		"nested 40":       file("deep40.json", `{"a":`+strings.Repeat(`[`, 40)+strings.Repeat(`]`, 40)+`}`),
		"truncated":       file("trunc.json", `{"booking:confirmed":{"type":"t","tit`),
		"invalid UTF-8":   file("utf8.json", "{\"\xff\":{}}"),
		"duplicate names": file("dup.json", `{"x:y":{"type":"t","title":"A"},"x:y":{"type":"t","title":"B"}}`),
		"giant number":    file("num.json", `{"t":{"escalation":[{"after":1e999999,"channel":"email"}]}}`),
		"not an object":   file("arr.json", `[]`),
		"empty":           file("empty.json", ``),
	}
	pem := map[string]string{
		"endless":    endless,
		"over 1 MiB": file("big.pem", big),
		"garbage":    file("garbage.pem", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"),
		"private":    file("private.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"empty":      file("empty.pem", ""),
	}
	type tc struct {
		setting string
		env     map[string]string
	}
	var cases []struct {
		name string
		tc
	}
	add := func(name string, setting string, env map[string]string) {
		cases = append(cases, struct {
			name string
			tc
		}{name, tc{setting, env}})
	}
	for name, path := range jsonFiles {
		add("events file: "+name, "HERALD_EVENTS_FILE", map[string]string{"HERALD_EVENTS_FILE": path})
		add("policy file: "+name, "HERALD_DELIVERY_POLICY_FILE", map[string]string{"HERALD_DELIVERY_POLICY_FILE": path})
		add("JWKS file: "+name, "JWKS_FILE", map[string]string{"JWKS_FILE": path, "JWT_TRUSTED_ISSUER": "https://idp.test"})
	}
	for name, path := range pem {
		add("PEM key: "+name, "public key file", map[string]string{"JWT_PUBLIC_KEYS": path, "JWT_TRUSTED_ISSUER": "https://idp.test"})
	}
	for _, c := range cases {
		all := map[string]string{"PORT": "0", "HERALD_HOST": "127.0.0.1", "HERALD_DB_PATH": filepath.Join(t.TempDir(), "h.db"),
			"JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey}
		maps.Copy(all, c.env)
		var err error
		start := time.Now()
		alloc := hostiletest.Allocated(func() {
			var cfg Config
			if cfg, err = load(nil, all); err != nil {
				return
			}
			var a *app
			if a, err = newApp(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
				a.api.Shutdown(context.Background())
				a.store.Close()
			}
		})
		switch {
		case err == nil:
			t.Errorf("%s: the node started", c.name)
		case !strings.Contains(err.Error(), c.setting) && !strings.Contains(err.Error(), "JWKS") && !strings.Contains(err.Error(), "key"):
			t.Errorf("%s: error %q does not name %s", c.name, err, c.setting)
		}
		if alloc > 16<<20 {
			t.Errorf("%s: starting allocated %d MiB", c.name, alloc>>20)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: refusing took %v", c.name, d)
		}
	}
}

// TestHostileConfigFiles gives --config hostile files: each start is
// refused with the file's name and line, reading at most the bound.
func TestHostileConfigFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, c := range map[string]struct{ path, want string }{
		"endless":         {endless, "larger than"},
		"over 1 MiB":      {file("big.conf", strings.Repeat("# padding\n", 110000)), "larger than"},
		"a 100 KiB line":  {file("long.conf", "PORT=1\nJWT_SECRET="+strings.Repeat("x", 100<<10)+"\n"), "line 2 is longer than"},
		"a key set twice": {file("twice.conf", "PORT=3007\nPORT=4000\n"), "line 2: PORT is set again"},
		"an overlong key": {file("key.conf", strings.Repeat("K", 4096)+"=5\n"), "line 1"}, // unknown keys only warn (TestDesignDocumentEnvFile)
		"NUL bytes":       {file("nul.conf", "PO\x00RT=1\n"), "line 1"},
		"invalid UTF-8":   {file("utf8.conf", "\xff\xfe=\xff\n"), "line 1"},
		"a secret alone":  {file("alone.conf", "PORT=1\nsuper-secret-value-alone\n"), "line 2: expected KEY=VALUE"},
		"a bad value":     {file("bad.conf", "WS_RATE_BURST=lots\n"), "WS_RATE_BURST"},
	} {
		var stdout, stderr bytes.Buffer
		var err error
		alloc := hostiletest.Allocated(func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err = run(ctx, []string{"serve", "--config", c.path}, mapEnv(map[string]string{"PORT": "0", "HERALD_DB_PATH": filepath.Join(t.TempDir(), "h.db")}), &stdout, &stderr)
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "super-secret") {
			t.Errorf("%s: the error echoes a line of the file: %v", name, err)
		}
		if alloc > 8<<20 {
			t.Errorf("%s: reading the file allocated %d MiB", name, alloc>>20)
		}
	}
}

// TestHostileTokens presents malformed, oversized and lying bearer tokens on
// a user route, a backend route and the socket: each is refused as an
// invalid token (401, or 4002 on /ws) before anything large is decoded, and
// a header past the 32 KiB bound is refused by the server itself (431).
func TestHostileTokens(t *testing.T) {
	a := launchApp(t, map[string]string{"API_AUTH_RATE_LIMIT": "100000"})
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	exp := time.Now().Add(time.Hour).Unix()
	sign := func(h, c string) string {
		signing := h + "." + c
		sig, err := gojwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return signing + "." + enc(sig)
	}
	tokens := map[string]string{
		"9 KiB of base64":         strings.Repeat("A", 9<<10),
		"8 KiB of dots":           strings.Repeat(".", 8<<10),
		"three huge segments":     strings.Repeat("A", 2700) + "." + strings.Repeat("B", 2700) + "." + strings.Repeat("C", 2700),
		"claims nested 2000 deep": sign(header, enc([]byte(fmt.Sprintf(`{"userId":"alice","exp":%d,"d":%s1%s}`, exp, strings.Repeat("[", 2000), strings.Repeat("]", 2000))))),
		"header over 1 KiB":       sign(enc([]byte(`{"alg":"HS256","x":"`+strings.Repeat("x", 1100)+`"}`)), enc([]byte(fmt.Sprintf(`{"userId":"alice","exp":%d}`, exp)))),
		"exp as a string":         sign(header, enc([]byte(`{"userId":"alice","exp":"9999999999"}`))),
		"exp 1e999999":            sign(header, enc([]byte(`{"userId":"alice","exp":1e999999}`))),
		"userId twice":            sign(header, enc([]byte(fmt.Sprintf(`{"userId":"bob","exp":%d,"USERID":"alice"}`, exp)))),
		"claims not an object":    sign(header, enc([]byte(`["alice"]`))),
		"invalid UTF-8 claims":    sign(header, enc([]byte(fmt.Sprintf("{\"userId\":\"al\xffice\",\"exp\":%d}", exp)))),
		"padding and spaces":      "eyJhbGciOiJIUzI1NiJ9==.e30=.x y",
		"NUL and control bytes":   "a\x00b.c\x7fd.e",
	}
	for name, tok := range tokens {
		if strings.ContainsAny(tok, "\x00\x01\x7f ") { // no HTTP client sends these in a header
			a.refusedOnSocket(t, name, tok)
			continue
		}
		var inbox, api int
		alloc := hostiletest.Allocated(func() {
			inbox, _ = a.do("GET", "/api/notifications", tok, nil)
			api, _ = a.do("GET", "/api/stats", tok, nil)
		})
		if inbox != 401 || api != 401 {
			t.Errorf("%s: inbox %d, server API %d; want 401 and 401", name, inbox, api)
		}
		if alloc > 4<<20 {
			t.Errorf("%s: answering allocated %d KiB", name, alloc>>10)
		}
		a.refusedOnSocket(t, name, tok)
	}
	// Past the header bound, net/http answers before Herald sees the request.
	status, _ := a.do("GET", "/api/notifications", strings.Repeat("A", 40<<10), nil)
	if status != 431 {
		t.Errorf("a 40 KiB Authorization header: %d, want 431", status)
	}
}

// refusedOnSocket dials /ws with tok in the query and expects 4002 before
// any message.
func (a *runningApp) refusedOnSocket(t *testing.T, what, tok string) {
	t.Helper()
	c := dial(t, a.wsURL("alice", tok))
	if code, _, before := c.closeStatus(); code != 4002 || len(before) != 0 {
		t.Errorf("%s on /ws: closed %d after %d messages, want 4002", what, code, len(before))
	}
}
