// Package sse is Herald's second transport: Server-Sent Events. GET /sse
// streams the WebSocket protocol's server messages as text/event-stream, one
// JSON object per event named by its type, with a notification's seq as the
// event id so that EventSource's own reconnects (Last-Event-ID) resume with
// nothing lost; what a client sends, which a stream cannot carry, is POSTed to
// /sse/{stream}/messages. Every rule of a session — authentication, limits,
// channels, replay, expiry, slow clients — is the session package's, shared
// with the WebSocket endpoint (docs/protocol.md, Server-Sent Events).
package sse

import (
	"log/slog"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/session"
)

// MaxChannels caps the ?channel= parameters of one stream.
const MaxChannels = 32

// Config configures a Server. Only Hub and Verifier are required; every other
// zero field takes the default documented beside it.
type Config struct {
	Hub      herald.Hub
	Verifier herald.TokenVerifier
	// Admission, when set, admits each stream before it is registered (a
	// cluster's per-user cap), as on the WebSocket path.
	Admission herald.Admission
	// Inbox serves mark_read, the unread count in "connected" and resume.
	Inbox  herald.Inbox
	Logger *slog.Logger // default: discard

	HeartbeatInterval time.Duration // comment heartbeats; default 30s
	MaxMessageBytes   int           // a POSTed message's limit, 413 over it; default 16 KiB
	QueueSize         int           // events queued per stream before it is ended as too slow; default 512
	WriteTimeout      time.Duration // a write that takes longer ends the stream; default 10s
	RateLimit         float64       // POSTed messages per second per stream; default 20
	RateBurst         int           // burst above RateLimit; default 40
	ReplayPageSize    int           // notifications fetched per resume page; default 200
	ExpiryGrace       time.Duration // as ws.Config.ExpiryGrace; default 5s, negative: never
	// ConnectRate and ConnectBurst limit streams opened per client IP
	// address, answered with HTTP 429 beyond; defaults 50 per second, burst 100.
	ConnectRate  float64
	ConnectBurst int

	ClientEvents        herald.ClientEventSink
	ClientEventTypes    []string
	MaxClientEventBytes int
	ClientEventRate     float64

	// Channels decides who may join which channel.
	Channels session.ChannelPolicy
	// AllowedOrigins lists the exact Origin values browsers may connect
	// from; empty allows any.
	AllowedOrigins []string
	// DisableQueryToken refuses ?token=, leaving the Authorization header.
	DisableQueryToken bool

	Metrics *session.Metrics // default: session.NewMetrics("sse"), unregistered
	Now     func() time.Time // default time.Now
}

func (cfg *Config) setDefaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 16 << 10
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 512
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.ConnectRate <= 0 {
		cfg.ConnectRate = 50
	}
	if cfg.ConnectBurst <= 0 {
		cfg.ConnectBurst = 100
	}
	if cfg.Metrics == nil {
		cfg.Metrics = session.NewMetrics("sse")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

func (cfg *Config) engine() session.Config {
	return session.Config{
		Hub: cfg.Hub, Admission: cfg.Admission, Verifier: cfg.Verifier, Inbox: cfg.Inbox, Logger: cfg.Logger,
		QueueSize: cfg.QueueSize, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		ReplayPageSize: cfg.ReplayPageSize, ExpiryGrace: cfg.ExpiryGrace,
		ClientEvents: cfg.ClientEvents, ClientEventTypes: cfg.ClientEventTypes,
		MaxClientEventBytes: cfg.MaxClientEventBytes, ClientEventRate: cfg.ClientEventRate,
		Channels: cfg.Channels, DisableQueryToken: cfg.DisableQueryToken,
		Metrics: cfg.Metrics, Now: cfg.Now,
	}
}
