package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/jwt"
)

// load resolves the configuration as serve does, from args and env only.
func load(args []string, env map[string]string) (Config, error) {
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return loadConfig(fs, args, mapEnv(env))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "herald.conf", `
# a comment, then settings in every source
PORT=1111
WS_QUEUE_SIZE = 99
WS_RATE_LIMIT="7.5"
HERALD_LOG_LEVEL='debug'
`)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want map[string]string
	}{
		{"defaults", nil, nil,
			map[string]string{"PORT": "3007", "WS_QUEUE_SIZE": "512", "WS_RATE_LIMIT": "20", "HERALD_LOG_LEVEL": "INFO", "HERALD_DB_PATH": "herald.db"}},
		{"file over defaults", []string{"--config", file}, nil,
			map[string]string{"PORT": "1111", "WS_QUEUE_SIZE": "99", "WS_RATE_LIMIT": "7.5", "HERALD_LOG_LEVEL": "DEBUG", "HERALD_DB_PATH": "herald.db"}},
		{"file named by HERALD_CONFIG", nil, map[string]string{"HERALD_CONFIG": file},
			map[string]string{"PORT": "1111", "WS_QUEUE_SIZE": "99"}},
		{"env over file", []string{"--config", file}, map[string]string{"PORT": "2222", "WS_RATE_LIMIT": "3"},
			map[string]string{"PORT": "2222", "WS_QUEUE_SIZE": "99", "WS_RATE_LIMIT": "3", "HERALD_LOG_LEVEL": "DEBUG"}},
		{"flags over env over file", []string{"--config", file, "--port", "3333", "--queue-size=5"}, map[string]string{"PORT": "2222", "WS_RATE_LIMIT": "3"},
			map[string]string{"PORT": "3333", "WS_QUEUE_SIZE": "5", "WS_RATE_LIMIT": "3", "HERALD_LOG_LEVEL": "DEBUG"}},
		{"flag over env without a file", []string{"--db", "/tmp/x.db"}, map[string]string{"HERALD_DB_PATH": "/tmp/y.db"},
			map[string]string{"HERALD_DB_PATH": "/tmp/x.db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			typed := map[string]any{"PORT": cfg.Server.Port, "WS_QUEUE_SIZE": cfg.WS.QueueSize, "WS_RATE_LIMIT": cfg.WS.RateLimit,
				"HERALD_LOG_LEVEL": cfg.Server.LogLevel, "HERALD_DB_PATH": cfg.Store.DBPath}
			for k, want := range tc.want {
				if got := fmt.Sprint(typed[k]); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestConfigTypedValues checks the typed Config holds what was set: lists
// without empty items, Go durations, the heartbeat in its documented
// milliseconds.
func TestConfigTypedValues(t *testing.T) {
	cfg, err := load([]string{"--allowed-origins", " https://a.example, ,https://b.example "}, map[string]string{
		"WS_DISABLE_QUERY_TOKEN": "true", "JWT_LEEWAY": "250ms", "WS_RATE_LIMIT": "2.5", "WS_MAX_CONNECTIONS": "7",
		"WS_HEARTBEAT_INTERVAL": "1500", "WS_TOKEN_EXPIRY_GRACE": "-1s", "HERALD_DELIVERY_WORKERS": "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WS.AllowedOrigins; len(got) != 2 || got[0] != "https://a.example" || got[1] != "https://b.example" {
		t.Errorf("allowed origins = %q", got)
	}
	if !cfg.WS.DisableQueryToken || cfg.Auth.Leeway != 250*time.Millisecond || cfg.WS.RateLimit != 2.5 || cfg.WS.MaxConnections != 7 {
		t.Errorf("typed values: %v %v %v %v", cfg.WS.DisableQueryToken, cfg.Auth.Leeway, cfg.WS.RateLimit, cfg.WS.MaxConnections)
	}
	if cfg.WS.HeartbeatInterval != 1500*time.Millisecond || cfg.WS.ExpiryGrace != -time.Second || cfg.Delivery.Workers != 0 {
		t.Errorf("heartbeat %v, expiry grace %v, workers %d", cfg.WS.HeartbeatInterval, cfg.WS.ExpiryGrace, cfg.Delivery.Workers)
	}
	// The heartbeat is documented in milliseconds; a Go duration there is
	// a mistake, named.
	if _, err := load(nil, map[string]string{"WS_HEARTBEAT_INTERVAL": "30s"}); err == nil || !strings.Contains(err.Error(), "WS_HEARTBEAT_INTERVAL") {
		t.Errorf("a heartbeat of 30s: %v", err)
	}
}

// TestConfigReportsEveryBadSetting: one start names every setting that is
// wrong, not only the first, and nothing parses to a silent zero.
func TestConfigReportsEveryBadSetting(t *testing.T) {
	bad := map[string]string{
		"PORT": "http", "WS_QUEUE_SIZE": "many", "JWT_LEEWAY": "5", "WS_STRICT_CHANNELS": "yes please",
		"HERALD_DELIVERY_RETRY_BASE": "soon", "HERALD_TOPIC_CHUNK": "0", "SMTP_HOST": "mail.example", "SMTP_PORT": "x",
		"HERALD_METRICS_PUBLIC": "maybe", "WS_CONNECT_RATE": "NaN", "HERALD_DB_MEMORY_USERS": "-1",
	}
	_, err := load(nil, bad)
	if err == nil {
		t.Fatal("bad settings were accepted")
	}
	for k := range bad {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("the error does not name %s:\n%v", k, err)
		}
	}
}

// TestConfigInvalid runs the real program: a bad setting must stop it
// before it listens, with the setting's name in the error. The context is
// cancelled, so a program that wrongly started would return at once with
// no error rather than hang.
func TestConfigInvalid(t *testing.T) {
	db := filepath.Join(t.TempDir(), "never.db")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string // config file content, when not empty
		want string // in the error
	}{
		{"port not a number", nil, map[string]string{"PORT": "abc"}, "", "PORT"},
		{"port out of range", []string{"--port", "70000"}, nil, "", "PORT"},
		{"negative rate limit", nil, map[string]string{"WS_RATE_LIMIT": "-1"}, "", "WS_RATE_LIMIT"},
		{"zero queue size", nil, map[string]string{"WS_QUEUE_SIZE": "0"}, "", "WS_QUEUE_SIZE"},
		{"bad duration", nil, map[string]string{"JWT_LEEWAY": "5 parsecs"}, "", "JWT_LEEWAY"},
		{"bad bool", []string{"--disable-query-token", "maybe"}, nil, "", "WS_DISABLE_QUERY_TOKEN"},
		{"unknown environment", nil, map[string]string{"HERALD_ENV": "staging"}, "", "HERALD_ENV"},
		{"bad log level", nil, map[string]string{"HERALD_LOG_LEVEL": "verbose"}, "", "HERALD_LOG_LEVEL"},
		{"bad log format", nil, map[string]string{"HERALD_LOG_FORMAT": "xml"}, "", "HERALD_LOG_FORMAT"},
		{"line without = in the file", nil, nil, "PORT\n", "line 1"},
		{"bad value in the file", nil, nil, "WS_RATE_BURST=lots\n", "WS_RATE_BURST"},
		{"missing file", []string{"--config", "/nonexistent/herald.conf"}, nil, "", "config file"},
		{"unknown flag", []string{"--prot", "1"}, nil, "", "prot"},
		{"production without secrets", nil, map[string]string{"HERALD_ENV": "production"}, "", "JWT_SECRET"},
		{"production without API key", nil, map[string]string{"HERALD_ENV": "production", "JWT_SECRET": testSecret}, "", "HERALD_API_KEY"},
		{"production without JWT secret", []string{"--env", "production", "--api-key", "k"}, nil, "", "JWT_SECRET"},
		{"production with a short secret", nil, map[string]string{"HERALD_ENV": "production", "JWT_SECRET": "short", "HERALD_API_KEY": "k"}, "", "JWT_SECRET"},
		{"production with a short API key", nil, map[string]string{"HERALD_ENV": "production", "JWT_SECRET": testSecret, "HERALD_API_KEY": "abc"}, "", "HERALD_API_KEY must be at least 32 bytes"},
		// Given secrets, Herald is production unless told otherwise.
		{"secrets given: a short API key", nil, map[string]string{"JWT_SECRET": testSecret, "HERALD_API_KEY": "abc"}, "", "HERALD_API_KEY must be at least 32 bytes in production"},
		{"secrets given: a short JWT secret", nil, map[string]string{"JWT_SECRET": "short", "HERALD_API_KEY": testAPIKey}, "", "because a secret was given"},
		{"only the JWT secret given", nil, map[string]string{"JWT_SECRET": testSecret}, "", "HERALD_API_KEY is required in production"},
		{"only the API key given", nil, map[string]string{"HERALD_API_KEY": testAPIKey}, "", "JWT_SECRET is required in production"},
		{"production with a short metrics token", nil, map[string]string{"JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey, "HERALD_METRICS_TOKEN": "scrape"}, "", "HERALD_METRICS_TOKEN"},
		{"bad demo switch", nil, map[string]string{"HERALD_DEMO": "please"}, "", "HERALD_DEMO"},
		{"bad metrics switch", []string{"--metrics-public", "sometimes"}, nil, "", "HERALD_METRICS_PUBLIC"},
		{"zero API auth rate", nil, map[string]string{"API_AUTH_RATE_LIMIT": "0"}, "", "API_AUTH_RATE_LIMIT"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PORT": "0", "HERALD_DB_PATH": db}
			for k, v := range tc.env {
				env[k] = v
			}
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, "bad.conf", tc.file)}, args...)
			}
			var stdout, stderr bytes.Buffer
			err := run(ctx, append([]string{"serve"}, args...), mapEnv(env), &stdout, &stderr)
			if err == nil {
				t.Fatalf("the program started; stdout %q", stdout.String())
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q (stderr %q) does not name %s", err, stderr.String(), tc.want)
			}
			if strings.Contains(stdout.String(), "Token") {
				t.Errorf("a refused start printed development secrets: %q", stdout.String())
			}
			if _, err := os.Stat(db); err == nil {
				t.Errorf("a refused start opened the database")
			}
		})
	}
}

// TestProductionStartsWithSecrets is the other side of the refusals above:
// with both secrets production starts, serves, and prints no development
// help; the log names neither secret.
func TestProductionStartsWithSecrets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := map[string]string{"HERALD_ENV": "production", "JWT_SECRET": testSecret, "HERALD_API_KEY": testAPIKey,
		"PORT": "0", "HERALD_HOST": "127.0.0.1", "HERALD_DB_PATH": filepath.Join(t.TempDir(), "p.db")}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, mapEnv(env), stdout, stderr) }()
	listening := regexp.MustCompile(`msg="herald listening" addr=(\S+)`)
	waitFor(t, 10*time.Second, "the listening line in the log", func() bool { return listening.MatchString(stderr.String()) })
	s := newServer(t, listening.FindStringSubmatch(stderr.String())[1], testSecret, testAPIKey)
	if status, body := s.do("GET", "/healthz", "", nil); status != 200 {
		t.Errorf("healthz = %d %s", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); out != "" {
		t.Errorf("production printed %q", out)
	}
	if strings.Contains(stderr.String(), testSecret) || strings.Contains(stderr.String(), testAPIKey) {
		t.Error("a secret appears in the log")
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"help"}, mapEnv(nil), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, s := range settings {
		for _, want := range []string{s.env, "--" + s.flag, s.help} {
			if !strings.Contains(out, want) {
				t.Errorf("help does not list %q", want)
			}
		}
		if s.def != "" && !strings.Contains(out, s.def) {
			t.Errorf("help does not show %s's default %q", s.env, s.def)
		}
		if !bytes.Contains(readme, []byte("`"+s.env+"`")) {
			t.Errorf("README.md's configuration table does not list %s", s.env)
		}
	}
	if !strings.Contains(out, "--config") {
		t.Error("help does not mention --config")
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, mapEnv(nil), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("err = %v, want an unknown command error", err)
	}
	if !strings.Contains(stderr.String(), "Usage") {
		t.Errorf("no usage on stderr: %q", stderr.String())
	}
}

func TestTokenCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"token", "--user", "u-7", "--ttl", "1m"}, mapEnv(map[string]string{"JWT_SECRET": testSecret}), &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jwt.NewVerifier(jwt.Config{Secret: []byte(testSecret)}).Verify(context.Background(), strings.TrimSpace(stdout.String()))
	if err != nil {
		t.Fatalf("the printed token does not verify: %v", err)
	}
	if c.UserID != "u-7" {
		t.Errorf("token user = %q", c.UserID)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"token", "--user", "u-7"}, mapEnv(nil), &stdout, &stderr); err == nil {
		t.Error("token without a secret succeeded")
	}
	if err := run(context.Background(), []string{"token"}, mapEnv(map[string]string{"JWT_SECRET": testSecret}), &stdout, &stderr); err == nil {
		t.Error("token without --user succeeded")
	}
	if stdout.Len() != 0 {
		t.Errorf("failed token commands printed %q", stdout.String())
	}
}

// TestDesignDocumentEnvFile takes the design document's .env as --config:
// its WS_PORT, inline comment and short development secret all read; a
// key Herald does not know (a typo here) is a warning naming it, in the
// log of the real program, not a refusal.
func TestDesignDocumentEnvFile(t *testing.T) {
	cfg, err := load([]string{"--config", "testdata/design.env"}, map[string]string{"HERALD_ENV": "development"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Port != 3007 || cfg.WS.HeartbeatInterval != 30*time.Second || cfg.WS.MaxConnections != 1000 ||
		cfg.Auth.JWTSecret != "your-jwt-secret-here" || len(cfg.Warnings) != 0 {
		t.Errorf("port %d, heartbeat %v, max connections %d, secret %q, warnings %q",
			cfg.Server.Port, cfg.WS.HeartbeatInterval, cfg.WS.MaxConnections, cfg.Auth.JWTSecret, cfg.Warnings)
	}
	// Without HERALD_ENV its secret makes Herald production, which wants
	// a longer one: the refusal is about the secret, not the file.
	if _, err := load([]string{"--config", "testdata/design.env"}, nil); err == nil ||
		!strings.Contains(err.Error(), "JWT_SECRET must be at least 32 bytes") || strings.Contains(err.Error(), "config file") {
		t.Errorf("without HERALD_ENV: %v", err)
	}

	file := writeFile(t, "typo.env", "PORT=0\nWS_MAX_CONECTIONS=5 # a typo\nNEXT_PUBLIC_WEBSOCKET_SERVER_URL=wss://ws.example.com\n")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := map[string]string{"HERALD_ENV": "development", "HERALD_HOST": "127.0.0.1", "HERALD_DB_PATH": filepath.Join(t.TempDir(), "d.db")}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", file}, mapEnv(env), stdout, stderr) }()
	waitFor(t, 10*time.Second, "the listening line in the log", func() bool {
		return strings.Contains(stderr.String(), "herald listening")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("a file with unknown keys was refused: %v", err)
	}
	for _, want := range []string{"WS_MAX_CONECTIONS is not a Herald setting", "line 2", "NEXT_PUBLIC_WEBSOCKET_SERVER_URL"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the log does not warn %q:\n%s", want, stderr.String())
		}
	}
}
