package main

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// minSecretLen is the least length of every secret in production: the JWT
// secrets, the API key and the metrics token. 32 random bytes cannot be
// guessed; 32 characters typed by a person may be, but not at the ten
// guesses a minute the API allows one address.
const minSecretLen = 32

// modeSettings are the settings that decide how much a node trusts the
// network: the demo routes, who may read /metrics, and how fast a client may
// guess credentials.
var modeSettings = []setting{
	{"HERALD_DEMO", "demo", "auto", "demo sign-in routes (/demo/session, /demo/notify) that hand out tokens for any user id without credentials: true, false, or auto (on only when this process generated JWT_SECRET itself)"},
	{"HERALD_METRICS_TOKEN", "metrics-token", "", "bearer token that reads /metrics, besides HERALD_API_KEY, so a scraper need not hold the API key"},
	{"HERALD_METRICS_PUBLIC", "metrics-public", "auto", "serve /metrics without credentials: true, false, or auto (public in development, protected in production)"},
	{"API_AUTH_RATE_LIMIT", "api-auth-rate-limit", "10", "failed API key, access token and metrics token attempts per minute per client address (an IPv6 /64) before 429"},
}

func init() { settings = append(settings, modeSettings...) }

// production reports whether the node runs as production: when told so, or,
// with HERALD_ENV=auto, when it was given a secret. A server handed a real
// JWT_SECRET or API key is a real deployment until the operator says it is
// not; only a server with nothing set is a developer's toy.
func (c config) production() bool {
	switch c["HERALD_ENV"] {
	case "production":
		return true
	case "auto":
		return c["JWT_SECRET"] != "" || c["HERALD_API_KEY"] != ""
	}
	return false
}

// inferred explains a production that HERALD_ENV did not name, for errors.
func (c config) inferred() string {
	if c["HERALD_ENV"] != "auto" {
		return ""
	}
	return " (Herald runs as production because a secret was given; HERALD_ENV=development relaxes this)"
}

// demo reports whether the demo sign-in routes are on. HERALD_DEMO=auto is
// settled by settle before the node starts: on only when this process made
// up the JWT secret, so the tokens the demo hands out are good nowhere else.
func (c config) demo() bool {
	on, _ := strconv.ParseBool(c["HERALD_DEMO"])
	return on
}

// metricsPublic reports whether /metrics is served without credentials.
func (c config) metricsPublic() bool {
	if c["HERALD_METRICS_PUBLIC"] == "auto" {
		return !c.production()
	}
	on, _ := strconv.ParseBool(c["HERALD_METRICS_PUBLIC"])
	return on
}

// generatedKey is the entry of a config that records which secrets settle
// generated; it is no setting, so nothing else reads or sets it.
const generatedKey = "(generated)"

// settle fixes what auto settings mean for this process: outside production
// it generates the secrets that were not given and, when it generated the
// JWT secret, turns the demo on. It reports which secrets it generated.
func (c config) settle() (genSecret, genKey bool) {
	if !c.production() {
		c["HERALD_ENV"] = "development"
		if genSecret = c["JWT_SECRET"] == ""; genSecret {
			c["JWT_SECRET"] = randomHex(32)
			c[generatedKey] += "JWT_SECRET "
			if c["HERALD_DEMO"] == "auto" {
				c["HERALD_DEMO"] = "true"
			}
		}
		if genKey = c["HERALD_API_KEY"] == ""; genKey {
			c["HERALD_API_KEY"] = randomHex(24)
			c[generatedKey] += "HERALD_API_KEY "
		}
	}
	if c["HERALD_ENV"] == "auto" {
		c["HERALD_ENV"] = "production"
	}
	if c["HERALD_DEMO"] == "auto" {
		c["HERALD_DEMO"] = "false"
	}
	return genSecret, genKey
}

// validateMode checks the mode and, in production, that every secret is
// there and long enough.
func (c config) validateMode() error {
	switch c["HERALD_ENV"] {
	case "auto", "development", "production":
	default:
		return fmt.Errorf("HERALD_ENV must be auto, development or production, got %q", c["HERALD_ENV"])
	}
	for _, k := range []string{"HERALD_DEMO", "HERALD_METRICS_PUBLIC"} {
		if _, err := strconv.ParseBool(c[k]); err != nil && c[k] != "auto" {
			return fmt.Errorf("%s must be true, false or auto, got %q", k, c[k])
		}
	}
	if f, err := strconv.ParseFloat(c["API_AUTH_RATE_LIMIT"], 64); err != nil || f <= 0 {
		return fmt.Errorf("API_AUTH_RATE_LIMIT must be a positive number, got %q", c["API_AUTH_RATE_LIMIT"])
	}
	if !c.production() {
		return nil
	}
	for _, k := range []string{"JWT_SECRET", "HERALD_API_KEY"} {
		if c[k] == "" {
			return fmt.Errorf("%s is required in production%s", k, c.inferred())
		}
	}
	for _, k := range []string{"JWT_SECRET", "HERALD_API_KEY", "HERALD_METRICS_TOKEN"} {
		if v := c[k]; v != "" && len(v) < minSecretLen {
			return fmt.Errorf("%s must be at least %d bytes in production, such as the output of `openssl rand -hex 32`%s", k, minSecretLen, c.inferred())
		}
	}
	return nil
}

// unsafeSetting is a setting that is on and opens something up, and why it
// matters.
type unsafeSetting struct{ setting, risk string }

// unsafeSettings lists the settings of c that weaken the node: the demo and
// a profiler reachable from the network always, and in production the
// defaults kept for compatibility that a deployment should close. Each is
// logged at start (warnUnsafe); docs/security.md lists them.
func unsafeSettings(c config) []unsafeSetting {
	var out []unsafeSetting
	add := func(setting, risk string) { out = append(out, unsafeSetting{setting, risk}) }
	if c.demo() {
		add("HERALD_DEMO", "POST /demo/session hands out a connection token for any user id to anyone who asks")
	}
	if addr := c["HERALD_DEBUG_ADDR"]; addr != "" && !loopback(addr) {
		add("HERALD_DEBUG_ADDR", "the profiler (/debug/pprof/) listens beyond loopback on "+addr)
	}
	if !c.production() {
		if !strings.Contains(c[generatedKey], "JWT_SECRET") {
			add("HERALD_ENV", "development with secrets given: short secrets and JWKS over plain http are accepted")
		}
		return out
	}
	if len(c.list("WS_ALLOWED_ORIGINS")) == 0 {
		add("WS_ALLOWED_ORIGINS", "empty: pages of any Origin may open sockets with a user's credentials (cross-site WebSocket hijacking)")
	}
	if !c.bool("WS_DISABLE_QUERY_TOKEN") {
		add("WS_DISABLE_QUERY_TOKEN", "false: tokens are accepted in URLs (?token=), where proxies, logs and browser history keep them")
	}
	if c.bool("WS_PERMESSAGE_DEFLATE") {
		add("WS_PERMESSAGE_DEFLATE", "true: compression costs CPU and memory per message and can leak secrets that share a message with attacker text")
	}
	if c.metricsPublic() {
		add("HERALD_METRICS_PUBLIC", "true: /metrics answers anyone who reaches the port")
	}
	if c.bool("DELIVERY_ALLOW_PRIVATE") {
		add("DELIVERY_ALLOW_PRIVATE", "true: users' webhook and push URLs may reach loopback and private addresses")
	}
	return out
}

// warnUnsafe logs one warning per unsafe setting that is on.
func warnUnsafe(c config, log *slog.Logger) {
	for _, u := range unsafeSettings(c) {
		log.Warn("unsafe setting", "setting", u.setting, "risk", u.risk)
	}
}

// loopback reports whether addr (host:port) listens on loopback only. An
// empty host is every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
