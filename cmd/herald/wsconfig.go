package main

import (
	"time"

	"github.com/heraldhq/herald/ws"
)

// WSConfig is the WebSocket endpoint: its limits, its heartbeat and where
// client events go.
type WSConfig struct {
	HeartbeatInterval  time.Duration // WS_HEARTBEAT_INTERVAL, given in milliseconds
	MaxConnections     int
	MaxPerUser         int
	MaxSubscriptions   int
	MaxMessageBytes    int
	QueueSize          int
	RateLimit          float64
	RateBurst          int
	AllowedOrigins     []string
	DisableQueryToken  bool
	AuthTimeout        time.Duration
	ExpiryGrace        time.Duration // negative: never close at exp
	ConnectRate        float64
	ConnectBurst       int
	StrictChannels     bool
	PublicChannels     []string
	Deflate            bool
	ClientEventsURL    string
	ClientEventsSecret string
	ClientEventTypes   []string
}

var wsSettings = []setting{
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
}

func parseWS(p *parser, c *Config) {
	w := &c.WS
	w.HeartbeatInterval = p.millis("WS_HEARTBEAT_INTERVAL")
	w.MaxConnections = p.positive("WS_MAX_CONNECTIONS")
	w.MaxPerUser = p.positive("WS_MAX_CONNECTIONS_PER_USER")
	w.MaxSubscriptions = p.positive("WS_MAX_SUBSCRIPTIONS")
	w.MaxMessageBytes = p.positive("WS_MAX_MESSAGE_BYTES")
	w.QueueSize = p.positive("WS_QUEUE_SIZE")
	w.RateLimit = p.rate("WS_RATE_LIMIT")
	w.RateBurst = p.positive("WS_RATE_BURST")
	w.AllowedOrigins = p.list("WS_ALLOWED_ORIGINS")
	w.DisableQueryToken = p.bool("WS_DISABLE_QUERY_TOKEN")
	w.AuthTimeout = p.dur("WS_AUTH_TIMEOUT", 0)
	w.ExpiryGrace = p.dur("WS_TOKEN_EXPIRY_GRACE", anyDuration)
	w.ConnectRate = p.rate("WS_CONNECT_RATE")
	w.ConnectBurst = p.positive("WS_CONNECT_BURST")
	w.StrictChannels = p.bool("WS_STRICT_CHANNELS")
	w.PublicChannels = p.list("WS_PUBLIC_CHANNELS")
	w.Deflate = p.bool("WS_PERMESSAGE_DEFLATE")
	w.ClientEventsURL = p.str("CLIENT_EVENTS_URL")
	w.ClientEventsSecret = p.str("CLIENT_EVENTS_SECRET")
	w.ClientEventTypes = p.list("CLIENT_EVENT_TYPES")
}

// checkWS checks the WebSocket settings that go together.
func (c *Config) checkWS(p *parser) {
	if c.WS.ClientEventsURL != "" && c.WS.ClientEventsSecret == "" {
		p.errorf("CLIENT_EVENTS_SECRET is required with CLIENT_EVENTS_URL")
	}
}

// wsConfig is the ws.Config the settings describe, without the parts the
// node wires (hub, verifier, inbox, logger, metrics, client-event sink).
func (w WSConfig) wsConfig() ws.Config {
	return ws.Config{
		HeartbeatInterval: w.HeartbeatInterval,
		MaxMessageBytes:   w.MaxMessageBytes,
		QueueSize:         w.QueueSize,
		RateLimit:         w.RateLimit,
		RateBurst:         w.RateBurst,
		AllowedOrigins:    w.AllowedOrigins,
		DisableQueryToken: w.DisableQueryToken,
		AuthTimeout:       w.AuthTimeout,
		ExpiryGrace:       expiryGrace(w.ExpiryGrace),
		ConnectRate:       w.ConnectRate,
		ConnectBurst:      w.ConnectBurst,
		Deflate:           w.Deflate,
		ClientEventTypes:  w.ClientEventTypes,
		Channels:          ws.ChannelPolicy{Strict: w.StrictChannels, Public: w.PublicChannels},
	}
}
