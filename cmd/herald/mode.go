package main

import (
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
	{"HERALD_ENV", "env", "auto", "production, development, or auto: production as soon as JWT_SECRET or HERALD_API_KEY is given; production requires both, each of 32 bytes or more"},
	{"HERALD_DEMO", "demo", "auto", "demo sign-in routes (/demo/session, /demo/notify) that hand out tokens for any user id without credentials: true, false, or auto (on only when this process generated JWT_SECRET itself)"},
	{"HERALD_METRICS_TOKEN", "metrics-token", "", "bearer token that reads /metrics, besides HERALD_API_KEY, so a scraper need not hold the API key"},
	{"HERALD_METRICS_PUBLIC", "metrics-public", "auto", "serve /metrics without credentials: true, false, or auto (public in development, protected in production)"},
	{"API_AUTH_RATE_LIMIT", "api-auth-rate-limit", "10", "failed API key, access token and metrics token attempts per minute per client address (an IPv6 /64) before 429"},
}

// ModeConfig is how much the node trusts the network. Env, Demo and
// MetricsPublic may be "auto" until settle decides them for this process.
type ModeConfig struct {
	Env           string // auto, development or production
	Demo          string // true, false or auto
	MetricsToken  string
	MetricsPublic string // true, false or auto
	APIAuthRate   float64

	// GeneratedSecret and GeneratedKey record that settle made up
	// JWT_SECRET and HERALD_API_KEY for this process.
	GeneratedSecret, GeneratedKey bool
}

func parseMode(p *parser, c *Config) {
	m := &c.Mode
	m.Env = p.oneOf("HERALD_ENV", "auto", "development", "production")
	m.Demo = p.switchOrAuto("HERALD_DEMO")
	m.MetricsToken = p.str("HERALD_METRICS_TOKEN")
	m.MetricsPublic = p.switchOrAuto("HERALD_METRICS_PUBLIC")
	m.APIAuthRate = p.rate("API_AUTH_RATE_LIMIT")
}

// switchOrAuto reads true, false or auto, as "true", "false" or "auto".
func (p *parser) switchOrAuto(k string) string {
	v := strings.TrimSpace(p.raw[k])
	if v == "auto" {
		return v
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(k, "must be true, false or auto, got %q", p.raw[k])
		return "false"
	}
	return strconv.FormatBool(b)
}

// production reports whether the node runs as production: when told so, or,
// with HERALD_ENV=auto, when it was given a secret. A server handed a real
// JWT_SECRET or API key is a real deployment until the operator says it is
// not; only a server with nothing set is a developer's toy.
func (c *Config) production() bool {
	switch c.Mode.Env {
	case "production":
		return true
	case "auto":
		return c.Auth.JWTSecret != "" || c.Auth.APIKey != ""
	}
	return false
}

// inferred explains a production that HERALD_ENV did not name, for errors.
func (c *Config) inferred() string {
	if c.Mode.Env != "auto" {
		return ""
	}
	return " (Herald runs as production because a secret was given; HERALD_ENV=development relaxes this)"
}

// demo reports whether the demo sign-in routes are on. HERALD_DEMO=auto is
// settled by settle before the node starts: on only when this process made
// up the JWT secret, so the tokens the demo hands out are good nowhere else.
func (c *Config) demo() bool { return c.Mode.Demo == "true" }

// metricsPublic reports whether /metrics is served without credentials.
func (c *Config) metricsPublic() bool {
	if c.Mode.MetricsPublic == "auto" {
		return !c.production()
	}
	return c.Mode.MetricsPublic == "true"
}

// settle fixes what auto settings mean for this process: outside production
// it generates the secrets that were not given and, when it generated the
// JWT secret, turns the demo on. It reports which secrets it generated.
func (c *Config) settle() (genSecret, genKey bool) {
	m := &c.Mode
	if !c.production() {
		m.Env = "development"
		if genSecret = c.Auth.JWTSecret == ""; genSecret {
			c.Auth.JWTSecret = randomHex(32)
			m.GeneratedSecret = true
			if m.Demo == "auto" {
				m.Demo = "true"
			}
		}
		if genKey = c.Auth.APIKey == ""; genKey {
			c.Auth.APIKey = randomHex(24)
			m.GeneratedKey = true
		}
	}
	if m.Env == "auto" {
		m.Env = "production"
	}
	if m.Demo == "auto" {
		m.Demo = "false"
	}
	return genSecret, genKey
}

// checkMode checks, in production, that every secret is there and long
// enough.
func (c *Config) checkMode(p *parser) {
	if !p.ok("HERALD_ENV") || !c.production() {
		return
	}
	for _, kv := range [][2]string{{"JWT_SECRET", c.Auth.JWTSecret}, {"HERALD_API_KEY", c.Auth.APIKey}, {"HERALD_METRICS_TOKEN", c.Mode.MetricsToken}} {
		k, v := kv[0], kv[1]
		switch {
		case v == "" && k != "HERALD_METRICS_TOKEN":
			p.fail(k, "is required in production%s", c.inferred())
		case v != "" && len(v) < minSecretLen:
			p.fail(k, "must be at least %d bytes in production, such as the output of `openssl rand -hex 32`%s", minSecretLen, c.inferred())
		}
	}
}

// unsafeSetting is a setting that is on and opens something up, and why it
// matters.
type unsafeSetting struct{ setting, risk string }

// unsafeSettings lists the settings of c that weaken the node: the demo and
// a profiler reachable from the network always, and in production the
// defaults kept for compatibility that a deployment should close. Each is
// logged at start (warnUnsafe); docs/security.md lists them.
func unsafeSettings(c *Config) []unsafeSetting {
	var out []unsafeSetting
	add := func(setting, risk string) { out = append(out, unsafeSetting{setting, risk}) }
	if c.demo() {
		add("HERALD_DEMO", "POST /demo/session hands out a connection token for any user id to anyone who asks")
	}
	if addr := c.Server.DebugAddr; addr != "" && !loopback(addr) {
		add("HERALD_DEBUG_ADDR", "the profiler (/debug/pprof/) listens beyond loopback on "+addr)
	}
	if !c.production() {
		if !c.Mode.GeneratedSecret {
			add("HERALD_ENV", "development with secrets given: short secrets and JWKS over plain http are accepted")
		}
		return out
	}
	if len(c.WS.AllowedOrigins) == 0 {
		add("WS_ALLOWED_ORIGINS", "empty: pages of any Origin may open sockets with a user's credentials (cross-site WebSocket hijacking)")
	}
	if !c.WS.DisableQueryToken {
		add("WS_DISABLE_QUERY_TOKEN", "false: tokens are accepted in URLs (?token=), where proxies, logs and browser history keep them")
	}
	if c.WS.Deflate {
		add("WS_PERMESSAGE_DEFLATE", "true: compression costs CPU and memory per message and can leak secrets that share a message with attacker text")
	}
	if c.metricsPublic() {
		add("HERALD_METRICS_PUBLIC", "true: /metrics answers anyone who reaches the port")
	}
	if c.Delivery.AllowPrivate {
		add("DELIVERY_ALLOW_PRIVATE", "true: users' webhook and push URLs may reach loopback and private addresses")
	}
	return out
}

// warnUnsafe logs one warning per unsafe setting that is on.
func warnUnsafe(c *Config, log *slog.Logger) {
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
