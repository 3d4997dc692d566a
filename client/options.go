package client

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// AuthMode says how the client presents its token when it connects.
type AuthMode int

// The ways of presenting a token.
const (
	// AuthMessage sends {"type":"auth","token":…} as the first message, with
	// no token in the URL, where proxies and logs would keep it (default).
	AuthMessage AuthMode = iota
	// AuthQuery puts the token and userId in the URL (?token=…&userId=…),
	// as the design document's clients do.
	AuthQuery
	// AuthHeader sends the token as "Authorization: Bearer".
	AuthHeader
)

// Encoding is how messages are framed on the WebSocket.
type Encoding string

// The encodings a client may ask for (docs/protocol.md, Encodings).
const (
	// EncodingJSON is JSON text frames, the design document's protocol
	// and every server's (default).
	EncodingJSON Encoding = "json"
	// EncodingMsgpack is the same messages as MessagePack binary frames,
	// negotiated as the herald.msgpack subprotocol: smaller and quicker
	// to parse for large payloads.
	EncodingMsgpack Encoding = "msgpack"
)

// Defaults of Options.
const (
	DefaultInitialBackoff   = time.Second
	DefaultMaxBackoff       = 30 * time.Second
	DefaultJitter           = 0.2
	DefaultHeartbeatTimeout = 75 * time.Second // the server pings every 30s
	DefaultDialTimeout      = 10 * time.Second
	DefaultRefreshAt        = 0.8
	DefaultDedupSize        = 1024
	DefaultReadLimit        = 1 << 20
)

// Options configures a Client. URL and TokenSource are required; every
// other zero field takes the default documented beside it.
type Options struct {
	// URL is the WebSocket endpoint, e.g. ws://localhost:3007/ws.
	URL string
	// TokenSource gives the user's tokens.
	TokenSource TokenSource
	// UserID is the user to connect as. It is required with AuthQuery and
	// otherwise checked against the server's greeting when set; by default
	// it is the token's user.
	UserID string
	// Auth is how the token is presented (default AuthMessage).
	Auth AuthMode
	// Transport is what carries the connection (default TransportAuto:
	// the WebSocket, falling back to SSE when it cannot be established).
	Transport Transport
	// SSEURL is the Server-Sent Events endpoint (default: derived from
	// URL, ws://host/ws giving http://host/sse).
	SSEURL string
	// APIURL is the HTTP API's base URL, for the inbox methods (default:
	// derived from URL, ws://host/ws giving http://host).
	APIURL string

	// MaxAttempts is how many reconnection attempts follow a failure before
	// the client gives up (default 0: never).
	MaxAttempts int
	// InitialBackoff is the delay before the first reconnection attempt,
	// doubling on each failure up to MaxBackoff (defaults 1s and 30s).
	InitialBackoff, MaxBackoff time.Duration
	// Jitter shortens each delay by a random part of up to this fraction of
	// it (default 0.2; negative: none).
	Jitter float64
	// HeartbeatTimeout drops a connection on which nothing, not even the
	// server's pings, arrived for this long (default 75s; negative: never).
	HeartbeatTimeout time.Duration
	// DialTimeout bounds connecting, authenticating and the greeting
	// (default 10s).
	DialTimeout time.Duration
	// RefreshAt is the part of its token's lifetime after which an open
	// connection gets a fresh token in-band (default 0.8; negative: never,
	// so the server closes the connection with 4002 at the token's exp and
	// the client reconnects with a fresh one).
	RefreshAt float64
	// Since, when not nil, is the seq the first connection resumes after:
	// notifications with a greater seq are replayed before live ones (0:
	// the whole inbox). When nil the first connection starts from the
	// newest notification, asked of the inbox beforehand.
	Since *int64
	// DedupSize is how many notification ids are remembered to deliver
	// each once (default 1024).
	DedupSize int
	// ReadLimit bounds one incoming message, after decompression
	// (default 1 MiB).
	ReadLimit int64

	// Encoding is the encoding the client asks for (default EncodingJSON).
	// With EncodingMsgpack it offers the herald.msgpack subprotocol; a
	// server that does not answer with it (one older than the encodings)
	// gets JSON on that connection, which Client.Encoding then reports.
	// Handlers see JSON either way.
	Encoding Encoding
	// Compression offers permessage-deflate without context takeover, which
	// a server started with WS_PERMESSAGE_DEFLATE=true accepts: messages of
	// 512 bytes or more are compressed each on its own. Without the
	// server's consent messages go uncompressed (Client.Compressed).
	Compression bool

	// HTTPClient makes the WebSocket handshakes and REST calls (default:
	// http.DefaultTransport with a 30s timeout for REST calls).
	HTTPClient *http.Client
	// Header is added to the WebSocket handshake, e.g. an Origin.
	Header http.Header
	// Logger receives what the client does (default: discard). Tokens are
	// never logged.
	Logger *slog.Logger
	// Clock is what backoff delays and token refreshes wait on (default:
	// the system clock).
	Clock Clock
}

// withDefaults returns o with its defaults applied, or an error naming the
// first invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		return o, &Error{Type: ErrServer, Message: "Options.URL is required"}
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return o, &Error{Type: ErrServer, Message: "Options.URL must be a ws:// or wss:// URL with a host"}
	}
	if o.TokenSource == nil {
		return o, &Error{Type: ErrServer, Message: "Options.TokenSource is required"}
	}
	if o.Auth == AuthQuery && o.UserID == "" {
		return o, &Error{Type: ErrServer, Message: "Options.UserID is required with AuthQuery"}
	}
	if o.Auth < AuthMessage || o.Auth > AuthHeader {
		return o, &Error{Type: ErrServer, Message: "Options.Auth is not a known AuthMode"}
	}
	if o.MaxAttempts < 0 {
		return o, &Error{Type: ErrServer, Message: "Options.MaxAttempts must not be negative"}
	}
	if o.APIURL == "" {
		if o.APIURL, err = httpBase(o.URL); err != nil {
			return o, &Error{Type: ErrServer, Message: "cannot derive the API URL from Options.URL", Err: err}
		}
	}
	switch o.Transport {
	case "":
		o.Transport = TransportAuto
	case TransportAuto, TransportWebSocket, TransportSSE:
	default:
		return o, &Error{Type: ErrServer, Message: "Options.Transport must be \"auto\", \"websocket\" or \"sse\""}
	}
	if o.SSEURL == "" {
		base, err := httpBase(o.URL)
		if err != nil {
			return o, &Error{Type: ErrServer, Message: "cannot derive the SSE URL from Options.URL", Err: err}
		}
		o.SSEURL = base + "/sse"
	}
	if u, err := url.Parse(o.SSEURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, &Error{Type: ErrServer, Message: "Options.SSEURL must be an http:// or https:// URL with a host"}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defDur(&o.InitialBackoff, DefaultInitialBackoff)
	defDur(&o.MaxBackoff, DefaultMaxBackoff)
	defDur(&o.HeartbeatTimeout, DefaultHeartbeatTimeout)
	defDur(&o.DialTimeout, DefaultDialTimeout)
	if o.InitialBackoff < 0 || o.MaxBackoff < o.InitialBackoff || o.DialTimeout < 0 {
		return o, &Error{Type: ErrServer, Message: "Options: backoffs must be positive with MaxBackoff ≥ InitialBackoff, and DialTimeout positive"}
	}
	if o.Jitter == 0 {
		o.Jitter = DefaultJitter
	}
	if o.Jitter > 1 {
		return o, &Error{Type: ErrServer, Message: "Options.Jitter must be at most 1"}
	}
	if o.RefreshAt == 0 {
		o.RefreshAt = DefaultRefreshAt
	}
	if o.RefreshAt >= 1 {
		return o, &Error{Type: ErrServer, Message: "Options.RefreshAt must be below 1"}
	}
	if o.DedupSize <= 0 {
		o.DedupSize = DefaultDedupSize
	}
	switch o.Encoding {
	case "":
		o.Encoding = EncodingJSON
	case EncodingJSON, EncodingMsgpack:
	default:
		return o, &Error{Type: ErrServer, Message: "Options.Encoding must be \"json\" or \"msgpack\""}
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.Since != nil && *o.Since < 0 {
		return o, &Error{Type: ErrServer, Message: "Options.Since must not be negative"}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	return o, nil
}
