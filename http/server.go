// Package http is Herald's REST API over net/http. It serves three audiences:
//
//   - backends, with the API key as a bearer token: push messages to a user, a
//     channel or everyone, create notifications, raise domain events, read stats;
//   - users, with their own token: read and manage their inbox;
//   - operators: /healthz and /readyz with no credentials, /metrics with the
//     metrics token or the API key (unless Config.MetricsPublic).
//
// Every request body is bounded (see bodyLimit), and failed API keys are
// throttled per client address (see guard).
//
// Every error is JSON, {"error":{"code":"...","message":"..."}}, with the
// status of its herald.ErrorCode. Other handlers, such as the WebSocket
// endpoint and the demo page, are mounted beside the API with Server.Handle.
package http

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald"
)

// Defaults and limits of the Server.
const (
	// DefaultAddr is the design document's port on every interface.
	DefaultAddr = ":3007"
	// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is zero.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxBatchBodyBytes bounds the body of a notification batch when
	// Config.MaxBatchBodyBytes is zero: a full batch of MaxBatch small items.
	DefaultMaxBatchBodyBytes = 1 << 20
	// MaxBatch is the most notifications one batch request may create.
	MaxBatch = 1000
	// DefaultShutdownTimeout bounds the graceful shutdown Run starts when its
	// context ends, when Config.ShutdownTimeout is zero.
	DefaultShutdownTimeout = 10 * time.Second

	// DefaultRequestTimeout is Config.RequestTimeout's default.
	DefaultRequestTimeout = 30 * time.Second
	// ReadHeaderTimeout bounds reading request headers, so idle or slow
	// clients cannot hold connections open before sending a request.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds request headers: room for a token and cookies,
	// not for a megabyte of junk.
	MaxHeaderBytes = 32 << 10
	// ReadyTimeout bounds one call of Config.Ready.
	ReadyTimeout = 2 * time.Second
)

// Config configures a Server. Its zero value serves /healthz and /readyz on
// DefaultAddr; each other route is mounted only when the dependency it needs
// is set, and answers 404 otherwise.
type Config struct {
	// Addr is the TCP address to listen on (default DefaultAddr).
	Addr string
	// APIKey is the bearer key backends present. Empty refuses every server
	// API request with 401, rather than leaving the API open.
	APIKey string
	// Publisher sends the server API's messages (routes /api/users/{userId}/messages,
	// /api/channels/{channel}/messages and /api/broadcast).
	Publisher herald.Publisher
	// Stats reports the connections (route /api/stats): the totals, and in a
	// cluster one row per live node.
	Stats func(ctx context.Context) (herald.Stats, []herald.NodeStats, error)
	// Presence reports whether a user is connected anywhere, and on which
	// nodes (route /api/users/{userId}/presence).
	Presence func(ctx context.Context, userID string) (bool, []string, error)
	// Degraded, when it returns an error, makes /readyz answer 200 with
	// status "degraded" and the reason: the node serves, with less (e.g. a
	// cluster node cut off from Redis serves its own connections only). A
	// whole cluster loses Redis at once, so failing readiness then would take
	// every node out of the load balancer.
	Degraded func() error
	// Inbox stores notifications (POST /api/notifications, and with Verifier
	// the user's inbox routes).
	Inbox herald.Inbox
	// Events turns domain events into notifications (POST /api/events).
	Events herald.EventHandler
	// Topics serves the topic routes (/api/topics/{topic}/members and
	// /api/topics/{topic}/notifications, see topics.go).
	Topics herald.Topics
	// Verifier checks users' tokens on the inbox routes, and access tokens
	// (herald.TokenAccess), which the server API takes as it takes the API key.
	Verifier herald.TokenVerifier
	// Preferences serves delivery preferences and push subscriptions:
	// GET/PUT/PATCH /api/users/{userId}/preferences for backends and, with
	// Verifier, /api/preferences and /api/push/... for users (preferences.go).
	Preferences herald.PreferenceStore
	// Deliveries serves the outbox's delivery status: GET
	// /api/users/{userId}/deliveries for backends and, with Verifier,
	// /api/deliveries and /api/notifications/{id}/deliveries for users.
	Deliveries herald.DeliveryStore
	// Devices serves mobile push devices: /api/users/{userId}/devices for
	// backends and, with Verifier, /api/devices for users (devices.go).
	Devices herald.DeviceStore
	// VAPIDPublicKey is the web push key browsers subscribe with, served at
	// GET /api/push/key (with Preferences and Verifier).
	VAPIDPublicKey string
	// Sessions is the credential login (POST /auth/login, /auth/refresh and
	// /auth/logout).
	Sessions herald.Authenticator
	// Tokens signs the connection tokens of POST /api/tokens.
	Tokens herald.TokenIssuer
	// TokenTTL is the lifetime of those tokens when the request names none
	// (default DefaultTokenTTL); MaxTokenTTL the longest it may name
	// (default DefaultMaxTokenTTL).
	TokenTTL    time.Duration
	MaxTokenTTL time.Duration
	// Metrics serves /metrics, to a bearer of MetricsToken or APIKey, or to
	// anyone when MetricsPublic is set.
	Metrics http.Handler
	// MetricsToken is a bearer token for /metrics besides the API key, so a
	// scraper need not hold the key that sends notifications.
	MetricsToken string
	// MetricsPublic serves /metrics without credentials, for a port only the
	// scraper can reach.
	MetricsPublic bool
	// AuthFailureLimit is how many failed authentications per minute one
	// client address (an IPv6 /64) may make on the server API and /metrics
	// before it is answered 429 (default DefaultAuthFailureLimit; burst the
	// same).
	AuthFailureLimit float64
	// Ready reports whether the node can serve; /readyz answers 503 while it
	// returns an error. A *herald.Error's message is shown as the reason;
	// other errors are logged and shown as "Not ready". Nil is always ready.
	Ready func(ctx context.Context) error
	// Logger receives internal errors, panics and, at debug level, one line
	// per request (default slog.Default()).
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxBatchBodyBytes bounds the body of POST /api/notifications, which may
	// carry a batch (default DefaultMaxBatchBodyBytes, never below MaxBodyBytes).
	MaxBatchBodyBytes int64
	// RequestTimeout bounds reading the body of one API request, and twice
	// it bounds writing the answer, against clients that trickle bytes
	// (default DefaultRequestTimeout). It is set per request rather than as the
	// server's ReadTimeout and WriteTimeout, which would also cut the
	// WebSocket connections of mounted handlers.
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown Run performs when its
	// context ends (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// TLS, when set, makes the server terminate TLS itself (https and wss)
	// with these settings raised to TLSConfig's floor; see TLSConfig. Nil
	// serves plain HTTP, as behind a proxy that terminates TLS.
	TLS *tls.Config
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is Herald's HTTP server. Create it with NewServer, mount extra
// handlers with Handle, then Run it (or Listen and Serve) and Shutdown.
type Server struct {
	cfg    Config
	log    *slog.Logger
	apiKey [sha256.Size]byte // digest of cfg.APIKey, compared in constant time

	metricsToken [sha256.Size]byte // digest of cfg.MetricsToken
	throttle     *authThrottle     // failed authentications per address

	api      *http.ServeMux // the REST API, health and metrics
	app      *http.ServeMux // everything mounted with Handle
	patterns []string       // the API's routes, as mounted
	srv      *http.Server

	mu       sync.Mutex
	ln       net.Listener
	upgrades []string // paths mounted with HandleUpgrade
	lane     *lane    // nil until Serve, and with TLS or no upgrade paths

	closing atomic.Bool
}

// NewServer returns a Server for c with every route mounted.
func NewServer(c Config) *Server {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBatchBodyBytes <= 0 {
		c.MaxBatchBodyBytes = DefaultMaxBatchBodyBytes
	}
	c.MaxBatchBodyBytes = max(c.MaxBatchBodyBytes, c.MaxBodyBytes)
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.TLS = hardenTLS(c.TLS)
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.MaxTokenTTL <= 0 {
		c.MaxTokenTTL = DefaultMaxTokenTTL
	}
	if c.AuthFailureLimit <= 0 {
		c.AuthFailureLimit = DefaultAuthFailureLimit
	}
	s := &Server{
		cfg:          c,
		log:          c.Logger,
		apiKey:       sha256.Sum256([]byte(c.APIKey)),
		metricsToken: sha256.Sum256([]byte(c.MetricsToken)),
		throttle:     newAuthThrottle(c.AuthFailureLimit, c.Now),
		api:          http.NewServeMux(),
		app:          http.NewServeMux(),
	}
	s.routes()
	s.srv = &http.Server{
		Addr:              c.Addr,
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(c.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// routes mounts the API. Routes whose dependency is nil are left out.
func (s *Server) routes() {
	s.route("GET /healthz", s.handleHealth)
	s.route("GET /readyz", s.handleReady)
	if s.cfg.Metrics != nil {
		s.route("GET /metrics", s.handleMetrics)
	}
	if s.cfg.Publisher != nil {
		s.route("POST /api/users/{userId}/messages", s.backend(s.handleUserMessage))
		s.route("POST /api/channels/{channel}/messages", s.backend(s.handleChannelMessage))
		s.route("POST /api/broadcast", s.backend(s.handleBroadcast))
	}
	if s.cfg.Presence != nil {
		s.route("GET /api/users/{userId}/presence", s.backend(s.handlePresence))
	}
	if s.cfg.Stats != nil {
		s.route("GET /api/stats", s.backend(s.handleStats))
	}
	if s.cfg.Inbox != nil {
		s.route("POST /api/notifications", s.backend(s.handleCreateNotifications))
	}
	if s.cfg.Events != nil {
		s.route("POST /api/events", s.backend(s.handleEvent))
	}
	if s.cfg.Tokens != nil {
		s.route("POST /api/tokens", s.backend(s.handleIssueToken))
	}
	if s.cfg.Sessions != nil {
		s.route("POST /auth/login", s.handle(s.handleLogin))
		s.route("POST /auth/refresh", s.handle(s.handleRefresh))
		s.route("POST /auth/logout", s.handle(s.handleLogout))
	}
	if s.cfg.Inbox != nil && s.cfg.Verifier != nil {
		s.route("GET /api/notifications", s.user(s.handleListNotifications))
		s.route("GET /api/notifications/unread-count", s.user(s.handleUnreadCount))
		s.route("POST /api/notifications/read-all", s.user(s.handleMarkAllRead))
		s.route("POST /api/notifications/{id}/read", s.user(s.handleMarkRead))
		s.route("DELETE /api/notifications/{id}", s.user(s.handleDeleteNotification))
	}
	s.deliveryRoutes()
	s.deviceRoutes()
	s.topicRoutes()
}

// deliveryRoutes mounts the preference and delivery routes.
func (s *Server) deliveryRoutes() {
	if s.cfg.Preferences != nil {
		s.route("GET /api/users/{userId}/preferences", s.backend(s.backendPreferences(s.getPreferences)))
		s.route("PUT /api/users/{userId}/preferences", s.backend(s.backendPreferences(s.putPreferences)))
		s.route("PATCH /api/users/{userId}/preferences", s.backend(s.backendPreferences(s.patchPreferences)))
		if s.cfg.Verifier != nil {
			s.route("GET /api/preferences", s.user(s.ownPreferences(s.getPreferences)))
			s.route("PUT /api/preferences", s.user(s.ownPreferences(s.putPreferences)))
			s.route("PATCH /api/preferences", s.user(s.ownPreferences(s.patchPreferences)))
			s.route("GET /api/push/key", s.user(s.handlePushKey))
			s.route("GET /api/push/subscriptions", s.user(s.handleListPushSubscriptions))
			s.route("POST /api/push/subscriptions", s.user(s.handleCreatePushSubscription))
			s.route("DELETE /api/push/subscriptions/{id}", s.user(s.handleDeletePushSubscription))
		}
	}
	if s.cfg.Deliveries != nil {
		s.route("GET /api/users/{userId}/deliveries", s.backend(s.handleUserDeliveries))
		if s.cfg.Verifier != nil {
			s.route("GET /api/deliveries", s.user(s.handleOwnDeliveries))
			s.route("GET /api/notifications/{id}/deliveries", s.user(s.handleNotificationDeliveries))
		}
	}
}

// route mounts h for pattern on the API and records the pattern for Routes.
func (s *Server) route(pattern string, h http.HandlerFunc) {
	s.api.HandleFunc(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// Routes returns the patterns of the API routes this server mounted (those
// of Handle aside), in the order mounted: what tests must cover and what
// the bodyLimit table must bound.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// reserved reports whether path belongs to the API rather than to handlers
// mounted with Handle. Requests for unknown /api paths thus get a JSON 404
// even when a catch-all page is mounted at "/".
func reserved(path string) bool {
	switch path {
	case "/api", "/auth", "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/auth/")
}

// Handle mounts handler for pattern (a net/http ServeMux pattern) beside the
// API, e.g. "GET /ws" or "/". It panics, as ServeMux does for conflicting
// patterns, when pattern's path is one of the API's.
func (s *Server) Handle(pattern string, handler http.Handler) {
	path := pattern
	if i := strings.IndexAny(path, " \t"); i >= 0 {
		path = strings.TrimLeft(path[i:], " \t")
	}
	if i := strings.IndexByte(path, '/'); i > 0 {
		path = path[i:] // drop a host
	}
	if reserved(strings.TrimSuffix(path, "{$}")) {
		panic("http: pattern " + pattern + " is reserved for the Herald API")
	}
	s.app.Handle(pattern, handler)
}

// HandleUpgrade mounts handler at path, as Handle does, for a protocol that
// takes the connection over (a WebSocket upgrade). A connection whose first
// request is a GET for path is then served without net/http, by a lane of
// the server's own that costs less per connection (see lane), unless the
// server terminates TLS itself (Config.TLS) and net/http serves all. The
// handler sees the same request and middleware, and an http.Hijacker. It
// must not keep the hijacked bufio.ReadWriter after it returns: what its
// reader holds of the bytes sent after the request is to be copied out
// first. An answer that is not a hijack closes the connection. Call it
// before Serve.
func (s *Server) HandleUpgrade(path string, handler http.Handler) {
	s.Handle(path, handler)
	s.mu.Lock()
	s.upgrades = append(s.upgrades, path)
	s.mu.Unlock()
}

// Handler returns the server's root handler, with its middleware, for tests
// and for callers that bring their own http.Server.
func (s *Server) Handler() http.Handler { return s }

// RegisterOnShutdown registers f to be called when Shutdown begins, such as
// closing WebSocket connections, which net/http does not track once hijacked.
func (s *Server) RegisterOnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }

// listenConfig turns off TCP keep-alive probes on accepted connections, which
// Go enables by default at 15 s. Every protocol Herald speaks finds a dead
// peer on its own — WebSocket pings, SSE heartbeats, HTTP's IdleTimeout — and
// the probes' settings cost four setsockopt calls per accepted connection,
// a fifth of the system calls of a WebSocket that connects and goes away.
//
// On Linux it also defers accepting a connection until its first bytes
// have come (see deferAccept).
var listenConfig = net.ListenConfig{KeepAlive: -1, Control: deferAccept}

// Listen binds Config.Addr, so that Addr reports the port before Serve, as
// tests on port 0 need. Calling it again does nothing.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := listenConfig.Listen(context.Background(), "tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = s.tlsListener(ln)
	return nil
}

// Addr returns the address the server listens on, or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves requests, calling Listen first if needed, until Shutdown. It
// returns nil after a Shutdown and the failure otherwise.
func (s *Server) Serve() error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	if s.cfg.TLS == nil && len(s.upgrades) > 0 && s.lane == nil {
		s.lane = newLane(s, ln, s.upgrades)
		ln = s.lane
	}
	s.mu.Unlock()
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Run serves until ctx ends, then shuts down gracefully within
// Config.ShutdownTimeout; or until Shutdown is called. It returns nil after a
// clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-errc; err == nil {
		err = serr
	}
	return err
}

// Shutdown stops accepting connections, runs the RegisterOnShutdown hooks,
// and waits until in-flight requests finish or ctx ends. /readyz answers 503
// from its start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.srv.Shutdown(ctx)
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close() // when Serve never ran; closing twice is harmless
	}
	l := s.lane
	s.mu.Unlock()
	if l != nil {
		_ = l.Close()
		if werr := l.wait(ctx); err == nil {
			err = werr
		}
	}
	return err
}

// ServeHTTP routes r to the API or to a mounted handler, with request
// logging and panic recovery around both.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			s.recovered(sw, r, v)
		}
		s.logRequest(r, sw, time.Since(start))
	}()

	mux := s.app
	if limit := s.bodyLimit(r); r.ContentLength > limit {
		// Refused before a byte of it is read; the connection closes
		// rather than draining what the client says it will send.
		sw.Header().Set("Connection", "close")
		s.writeError(sw, r, tooLarge(limit))
		return
	} else if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		// A body of unknown length (chunked) is bounded as it is read; one
		// of declared length is ended there by net/http. The connection's
		// own writer, not sw: through it net/http learns the limit was hit,
		// and closes the connection instead of reading on to drain the rest.
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	if reserved(r.URL.Path) {
		mux = s.api
		// The answer gets longer than the body, so that a client whose body
		// timed out still hears why. net/http clears both deadlines before
		// the next request on the connection.
		rc := http.NewResponseController(sw)
		now := time.Now()
		_ = rc.SetReadDeadline(now.Add(s.cfg.RequestTimeout))
		_ = rc.SetWriteDeadline(now.Add(2 * s.cfg.RequestTimeout))
	}
	// What no route matches the mux answers itself (404, 405, a redirect
	// to a cleaned path); fallbackWriter renders its errors as JSON. It
	// tells them from a handler's answers by the pattern the mux sets on r,
	// so that each request is routed once.
	mux.ServeHTTP(&fallbackWriter{statusWriter: sw, s: s, r: r}, r)
}
