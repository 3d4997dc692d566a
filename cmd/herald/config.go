package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/envfile"
)

// setting is one configuration knob: its environment name (the design
// document's where it has one), its flag, its default and what it does. The
// table drives flags, environment, the config file and --help alike.
type setting struct {
	env, flag, def, help string
}

var settings = []setting{
	{"PORT", "port", "3007", "TCP port for HTTP and WebSocket (0: any free port)"},
	{"HERALD_HOST", "host", "", "address to listen on (empty: all interfaces)"},
	{"TLS_CERT_FILE", "tls-cert", "", "PEM certificate chain, leaf first: serve https and wss on PORT (TLS 1.2 or later) instead of plain HTTP; reloaded on SIGHUP and when the file changes"},
	{"TLS_KEY_FILE", "tls-key", "", "PEM private key of TLS_CERT_FILE (required with it)"},
	{"TLS_RELOAD_INTERVAL", "tls-reload-interval", "10s", "how often the certificate and key files are checked for a change (0: reload on SIGHUP only)"},
	{"HERALD_ENV", "env", "auto", "production, development, or auto: production as soon as JWT_SECRET or HERALD_API_KEY is given; production requires both, each of 32 bytes or more"},
	{"JWT_SECRET", "jwt-secret", "", "HS256 secret for connection tokens, 32 bytes or more in production (development generates one)"},
	{"JWT_LEEWAY", "jwt-leeway", "5s", "clock skew allowed on exp and nbf"},
	{"JWT_PREVIOUS_SECRETS", "jwt-previous-secrets", "", "comma-separated HS256 secrets still accepted while tokens signed with them live (secret rotation); never used to sign"},
	{"JWT_ISSUER", "jwt-issuer", "", "iss of the tokens Herald signs; HS256 tokens must carry it (empty: tokens without iss)"},
	{"JWT_AUDIENCE", "jwt-audience", "", "aud every token must carry, and Herald's tokens do (empty: not checked)"},
	{"JWT_TRUSTED_ISSUER", "jwt-trusted-issuer", "", "iss of another issuer (an identity provider) whose RS256/ES256/EdDSA connection tokens are accepted with the keys below"},
	{"JWT_PUBLIC_KEYS", "jwt-public-keys", "", "comma-separated PEM files of the trusted issuer's public keys; a key's kid is its file name without extension"},
	{"JWKS_FILE", "jwks-file", "", "JSON Web Key Set file of the trusted issuer's public keys"},
	{"JWKS_URL", "jwks-url", "", "URL of the trusted issuer's JSON Web Key Set, fetched with a 5s timeout and cached (https in production)"},
	{"JWKS_REFRESH", "jwks-refresh", "1h", "how often JWKS_URL is fetched again (an unknown kid also fetches it, at most once a minute)"},
	{"ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "lifetime of the access tokens /auth/login and /auth/refresh hand out"},
	{"REFRESH_TOKEN_TTL", "refresh-token-ttl", "168h", "lifetime of refresh tokens (each is good for one refresh)"},
	{"CONNECTION_TOKEN_TTL", "connection-token-ttl", "15m", "default lifetime of the connection tokens POST /api/tokens issues"},
	{"CONNECTION_TOKEN_MAX_TTL", "connection-token-max-ttl", "24h", "longest lifetime a POST /api/tokens request may ask for"},
	{"LOGIN_RATE_LIMIT", "login-rate-limit", "10", "login attempts per minute per account and per client address (429 beyond)"},
	{"ACCOUNT_POLL_INTERVAL", "account-poll-interval", "5s", "how often a server looks for accounts disabled or removed by `herald user`, to close their sockets"},
	{"HERALD_API_KEY", "api-key", "", "bearer key for the server API, 32 bytes or more in production (development generates one)"},
	{"WS_HEARTBEAT_INTERVAL", "heartbeat-interval", "30000", "protocol ping period in milliseconds; a client that misses one is dropped"},
	{"WS_MAX_CONNECTIONS", "max-connections", "10000", "WebSocket connections per node; more are closed with 1013"},
	{"WS_MAX_CONNECTIONS_PER_USER", "max-connections-per-user", "32", "WebSocket connections per user; more are closed with 1013"},
	{"WS_MAX_SUBSCRIPTIONS", "max-subscriptions", "64", "channels one connection may join"},
	{"WS_MAX_MESSAGE_BYTES", "max-message-bytes", "16384", "largest client message; larger ones close with 1009"},
	{"WS_QUEUE_SIZE", "queue-size", "512", "outbound messages queued per connection before it is closed as too slow (1013)"},
	{"WS_RATE_LIMIT", "rate-limit", "20", "client messages per second per connection"},
	{"WS_RATE_BURST", "rate-burst", "40", "burst above the rate limit"},
	{"WS_ALLOWED_ORIGINS", "allowed-origins", "", "comma-separated exact Origins allowed to connect (empty: any)"},
	{"WS_DISABLE_QUERY_TOKEN", "disable-query-token", "false", "refuse ?token=; tokens come in the Authorization header or the first message"},
	{"WS_AUTH_TIMEOUT", "auth-timeout", "5s", "how long a connection without a token may take to send {\"type\":\"auth\"} (4001 after)"},
	{"WS_TOKEN_EXPIRY_GRACE", "token-expiry-grace", "5s", "a connection is closed with 4002 this long after its token's exp unless refreshed in-band; -1s never closes"},
	{"WS_CONNECT_RATE", "connect-rate", "50", "connection attempts per second per client address (429 beyond)"},
	{"WS_CONNECT_BURST", "connect-burst", "100", "burst of connection attempts per client address"},
	{"WS_STRICT_CHANNELS", "strict-channels", "false", "deny channels by default: only WS_PUBLIC_CHANNELS, token grants and user:<self> are open"},
	{"WS_PUBLIC_CHANNELS", "public-channels", "", "comma-separated channels open to all in strict mode; a trailing * matches a prefix (news:*)"},
	{"WS_PERMESSAGE_DEFLATE", "permessage-deflate", "false", "accept permessage-deflate (no context takeover) from clients that offer it"},
	{"CLIENT_EVENTS_URL", "client-events-url", "", "backend URL that receives client \"notification\"/\"custom_event\" messages, HMAC-signed (empty: refused as unknown types)"},
	{"CLIENT_EVENTS_SECRET", "client-events-secret", "", "HMAC-SHA256 key of the Herald-Signature header on client events (required with CLIENT_EVENTS_URL)"},
	{"CLIENT_EVENT_TYPES", "client-event-types", "notification,custom_event", "client message types accepted for the application"},
	{"HERALD_DB_PATH", "db", "herald.db", "SQLite database file (the embedded default store)"},
	{"DATABASE_URL", "database-url", "", "PostgreSQL URL; when set, used instead of SQLite"},
	{"REDIS_URL", "redis-url", "", "Redis URL that makes this node one of several: messages, presence, stats and the per-user cap cross nodes through it; needs DATABASE_URL and the same secrets on every node. redis://[:password@]host:port/db (one server), redis-sentinel://[:password@]host:port,host:port/master[/db] (Sentinel) or redis-cluster://[:password@]host:port,host:port (Redis Cluster)"},
	{"REDIS_SENTINELS", "redis-sentinels", "", "comma-separated host:port of Redis Sentinels, instead of REDIS_URL: reach the primary they monitor as REDIS_MASTER_NAME and follow its failovers"},
	{"REDIS_MASTER_NAME", "redis-master-name", "", "name the sentinels monitor the primary under (with REDIS_SENTINELS)"},
	{"REDIS_SENTINEL_PASSWORD", "redis-sentinel-password", "", "password of the sentinels themselves (with REDIS_SENTINELS or a redis-sentinel:// REDIS_URL)"},
	{"REDIS_CLUSTER_ADDRS", "redis-cluster-addrs", "", "comma-separated host:port of some Redis Cluster nodes, instead of REDIS_URL: sharded pub/sub over the cluster's shards (Redis 7 or later)"},
	{"REDIS_PASSWORD", "redis-password", "", "password of the Redis servers reached through REDIS_SENTINELS or REDIS_CLUSTER_ADDRS (a REDIS_URL carries its own)"},
	{"HERALD_NODE_ID", "node-id", "", "this node's id in the cluster, in its logs and metrics (default: hostname-pid)"},
	{"HERALD_REDIS_PREFIX", "redis-prefix", "herald:", "prefix of Herald's Redis keys and channels, so several deployments can share one Redis"},
	{"HERALD_EVENTS_STREAM", "events-stream", "", "Redis Stream of domain events to consume, as POST /api/events bodies in the field \"event\" (empty: none; needs Redis)"},
	{"HERALD_EVENTS_GROUP", "events-group", "herald", "consumer group of HERALD_EVENTS_STREAM that the nodes share"},
	{"HERALD_EVENTS_FILE", "events-file", "", "JSON file of extra domain-event templates"},
	{"HERALD_SHUTDOWN_TIMEOUT", "shutdown-timeout", "10s", "how long shutdown waits for queued messages to flush"},
	{"HERALD_DEBUG_ADDR", "debug-addr", "", "address of a separate listener serving Go's profiler at /debug/pprof/ (empty: off; keep it on loopback)"},
	{"HERALD_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"HERALD_LOG_FORMAT", "log-format", "text", "text or json"},
}

// config is the resolved configuration, in the order flags > environment >
// config file > default.
type config map[string]string

// loadConfig resolves every setting for args (after the subcommand).
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (config, error) {
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		vals[s.env] = fs.String(s.flag, "", fmt.Sprintf("%s (env %s, default %q)", s.help, s.env, s.def))
	}
	file := fs.String("config", getenv("HERALD_CONFIG"), "file of KEY=VALUE lines with the environment names above (env HERALD_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fromFile := map[string]string{}
	if *file != "" {
		var err error
		if fromFile, err = envfile.ReadFile(*file, knownSetting); err != nil {
			return nil, fmt.Errorf("config file %s: %w", *file, err)
		}
	}
	cfg := config{}
	for _, s := range settings {
		v := s.def
		if fv, ok := fromFile[s.env]; ok {
			v = fv
		}
		if ev := getenv(s.env); ev != "" {
			v = ev
		}
		if fl := *vals[s.env]; fl != "" {
			v = fl
		}
		cfg[s.env] = v
	}
	return cfg, cfg.validate()
}

// knownSetting reports whether key is a setting's environment name.
func knownSetting(key string) bool {
	for _, s := range settings {
		if s.env == key {
			return true
		}
	}
	return false
}

func (c config) str(k string) string { return c[k] }

func (c config) int(k string) int {
	n, _ := strconv.Atoi(c[k])
	return n
}

func (c config) bool(k string) bool {
	b, _ := strconv.ParseBool(c[k])
	return b
}

func (c config) dur(k string) time.Duration {
	d, _ := time.ParseDuration(c[k])
	return d
}

func (c config) float(k string) float64 {
	f, _ := strconv.ParseFloat(c[k], 64)
	return f
}

func (c config) list(k string) []string {
	var out []string
	for _, p := range strings.Split(c[k], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate checks each typed setting parses and is in range, so a typo fails
// at start with the setting's name instead of running on a default.
func (c config) validate() error {
	if n, err := strconv.Atoi(c["PORT"]); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("PORT must be a port number from 0 (any free port) to 65535, got %q", c["PORT"])
	}
	ints := []string{"WS_HEARTBEAT_INTERVAL", "WS_MAX_CONNECTIONS", "WS_MAX_CONNECTIONS_PER_USER",
		"WS_MAX_SUBSCRIPTIONS", "WS_MAX_MESSAGE_BYTES", "WS_QUEUE_SIZE", "WS_RATE_BURST"}
	for _, k := range ints {
		n, err := strconv.Atoi(c[k])
		if err != nil || n <= 0 {
			return fmt.Errorf("%s must be a positive integer, got %q", k, c[k])
		}
	}
	for _, k := range []string{"JWT_LEEWAY", "HERALD_SHUTDOWN_TIMEOUT"} {
		if d, err := time.ParseDuration(c[k]); err != nil || d < 0 {
			return fmt.Errorf("%s must be a duration such as 5s, got %q", k, c[k])
		}
	}
	if f, err := strconv.ParseFloat(c["WS_RATE_LIMIT"], 64); err != nil || f <= 0 {
		return fmt.Errorf("WS_RATE_LIMIT must be a positive number, got %q", c["WS_RATE_LIMIT"])
	}
	for _, k := range []string{"WS_DISABLE_QUERY_TOKEN", "WS_STRICT_CHANNELS", "WS_PERMESSAGE_DEFLATE"} {
		if _, err := strconv.ParseBool(c[k]); err != nil {
			return fmt.Errorf("%s must be true or false", k)
		}
	}
	for _, k := range []string{"WS_AUTH_TIMEOUT", "WS_TOKEN_EXPIRY_GRACE"} {
		if _, err := time.ParseDuration(c[k]); err != nil {
			return fmt.Errorf("%s must be a duration such as 5s, got %q", k, c[k])
		}
	}
	if f, err := strconv.ParseFloat(c["WS_CONNECT_RATE"], 64); err != nil || f <= 0 {
		return fmt.Errorf("WS_CONNECT_RATE must be a positive number, got %q", c["WS_CONNECT_RATE"])
	}
	if n, err := strconv.Atoi(c["WS_CONNECT_BURST"]); err != nil || n <= 0 {
		return fmt.Errorf("WS_CONNECT_BURST must be a positive integer, got %q", c["WS_CONNECT_BURST"])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c["HERALD_LOG_LEVEL"])); err != nil {
		return fmt.Errorf("HERALD_LOG_LEVEL must be debug, info, warn or error, got %q", c["HERALD_LOG_LEVEL"])
	}
	switch c["HERALD_LOG_FORMAT"] {
	case "text", "json":
	default:
		return fmt.Errorf("HERALD_LOG_FORMAT must be text or json, got %q", c["HERALD_LOG_FORMAT"])
	}
	if c["CLIENT_EVENTS_URL"] != "" && c["CLIENT_EVENTS_SECRET"] == "" {
		return fmt.Errorf("CLIENT_EVENTS_SECRET is required with CLIENT_EVENTS_URL")
	}
	if err := c.validateMode(); err != nil {
		return err
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	return c.validateCluster()
}
