// Package session is what a client session of Herald's real-time protocol
// is, whatever carries its frames: the identity and claims of the user, the
// channels joined, the notification seqs sent, replays and the live messages
// held while one runs, the inbound limits and the dispatch of client
// messages (docs/protocol.md). A transport — the WebSocket endpoint, or
// another — brings bytes in and carries Outbound messages out through the
// Transport interface; it knows nothing of what they mean.
package session

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Config configures an Engine. Only Hub is required (and Verifier for the
// Gate); every other zero field takes the default documented beside it.
type Config struct {
	Hub      herald.Hub
	Verifier herald.TokenVerifier
	// Admission, when set, is asked before the hub whether a session's user
	// may connect (a cluster-wide cap); AdmitTimeout bounds it, default 1s.
	Admission    herald.Admission
	AdmitTimeout time.Duration
	// Inbox serves mark_read, the unread count in "connected" and resume. Nil
	// answers those with an error message.
	Inbox  herald.Inbox
	Logger *slog.Logger // default: discard

	QueueSize      int     // outbound messages a transport queues; live messages held during a replay are capped at 4× this; default 512
	RateLimit      float64 // inbound messages and control frames per second per session; default 20
	RateBurst      int     // burst above RateLimit; default 40
	ReplayPageSize int     // notifications fetched per resume page; default 200
	// ExpiryGrace is how long past its token's exp a session stays open
	// without an in-band refresh before it is closed with 4002; default 5s.
	// Negative disables closing on expiry; the channels claim's grants end at
	// exp either way.
	ExpiryGrace time.Duration
	// StoreTimeout bounds one store call made for a session; default 10s.
	StoreTimeout time.Duration
	// MaxReplays bounds the store reads replays make at once, across every
	// session of the engine, so that a mass resync after a broker outage
	// does not flood the store; default 4.
	MaxReplays int
	// ResyncJitter spreads the replays of a mass resync: each user's starts
	// after a random delay up to it; default 1s. Negative starts them all at
	// once (still at most MaxReplays store reads at a time).
	ResyncJitter time.Duration
	// ReplayRetries is how often a replay's failed store read is retried
	// before the replay gives up and closes its sessions with 1011; default 5.
	ReplayRetries int

	// ClientEvents receives the design document's client messages
	// ("notification" and "custom_event") whose type is in ClientEventTypes.
	// Nil answers them "Unknown message type".
	ClientEvents        herald.ClientEventSink
	ClientEventTypes    []string
	MaxClientEventBytes int     // payload limit; default 8 KiB
	ClientEventRate     float64 // client events per second per session; default 5 (burst twice that)

	// Channels decides who may join which channel.
	Channels ChannelPolicy
	// DisableQueryToken refuses ?token= in Gate.Credentials.
	DisableQueryToken bool

	Metrics *Metrics         // default: NewMetrics("session"), unregistered
	Now     func() time.Time // default time.Now
}

func (cfg *Config) setDefaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.QueueSize, 512)
	def(&cfg.RateBurst, 40)
	def(&cfg.ReplayPageSize, 200)
	def(&cfg.MaxClientEventBytes, 8<<10)
	def(&cfg.MaxReplays, 4)
	def(&cfg.ReplayRetries, 5)
	if cfg.ResyncJitter == 0 {
		cfg.ResyncJitter = time.Second
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 20
	}
	if cfg.ClientEventRate <= 0 {
		cfg.ClientEventRate = 5
	}
	if cfg.ExpiryGrace == 0 {
		cfg.ExpiryGrace = 5 * time.Second
	}
	if cfg.AdmitTimeout <= 0 {
		cfg.AdmitTimeout = time.Second
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics("session")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// Engine is what every session of one endpoint shares: the configuration,
// the metrics and a context that ends at shutdown.
type Engine struct {
	cfg     Config
	metrics *Metrics
	log     *slog.Logger

	ctx    context.Context // ends at Stop: every session's work ends with it
	cancel context.CancelFunc

	replays chan struct{} // a semaphore: one per replay store read running
	lastID  atomic.Uint64 // of sessions
}

// NewEngine returns an Engine for cfg.
func NewEngine(cfg Config) *Engine {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{cfg: cfg, metrics: cfg.Metrics, log: cfg.Logger, ctx: ctx, cancel: cancel,
		replays: make(chan struct{}, cfg.MaxReplays)}
}

// Config returns the engine's configuration, defaults applied.
func (e *Engine) Config() *Config { return &e.cfg }

// Stop cancels the work of every session (store reads, replays), for a
// shutdown. Sessions still close through their transports.
func (e *Engine) Stop() { e.cancel() }

// Transport carries one session's messages to its client. Its methods must
// not call back into the session synchronously: Send may run under the
// session's lock.
type Transport interface {
	// Send queues o and reports whether it was taken. It never blocks unless
	// o.Wait; a transport that is full closes itself as too slow (4000) and
	// reports false, as does one that is closing.
	Send(o Outbound) bool
	// Close ends the session with a close code and reason, after what is
	// queued.
	Close(code int, reason string)
	// RemoteAddr names the client for logs.
	RemoteAddr() string
}

// Outbound is one message for a transport to carry.
type Outbound struct {
	// Msg is a delivered message whose JSON Payload every recipient shares;
	// nil for a reply. A transport may replace an unsent Msg.Latest message
	// with a newer one.
	Msg *herald.Message
	// Data is JSON only this session receives (a reply, a replayed
	// notification), when Msg is nil.
	Data []byte
	// Wait blocks for queue space instead of failing (replays).
	Wait bool
	// Force queues past the queue limit (held messages released after a
	// replay, which were already counted against the held limit).
	Force bool
	// More says that the session hands the transport another message at
	// once, on the same goroutine (Session.SendBatch): the transport may
	// queue this one without starting a write, and write both together when
	// the last, which never has More, arrives.
	More bool
}
