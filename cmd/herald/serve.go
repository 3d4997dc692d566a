package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/events"
	apihttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/hub"
	"github.com/heraldhq/herald/inbox"
	"github.com/heraldhq/herald/internal/gctune"
	"github.com/heraldhq/herald/jwt"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
	"github.com/heraldhq/herald/sse"
	"github.com/heraldhq/herald/webhook"
	"github.com/heraldhq/herald/ws"
)

// app is a wired Herald node.
type app struct {
	cfg    *Config
	log    *slog.Logger
	store  herald.Store
	hub    *hub.Hub
	broker herald.Broker
	ws     *ws.Server
	sse    *sse.Server
	api    *apihttp.Server
	ln     net.Listener

	cluster *clusterNode    // nil on a single node (no REDIS_URL); see cluster.go
	auth    *authParts      // token verification and credential login; see auth.go
	tlsTerm *tlsTermination // nil for plain HTTP (no TLS_CERT_FILE); see tls.go

	delivery *deliveryParts // outbox, preferences and channel senders; see delivery.go
	inbox    *inbox.Service // the inbox service, which also fans out topics; see topics.go
}

func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	out := helpOutput(args, stdout, stderr)
	fs.SetOutput(out)
	fs.Usage = func() { usage(out) }
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	devToken, devKey := cfg.settle()
	log := newLogger(cfg.Server, stderr)
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w)
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	if devToken || devKey {
		a.printDevHelp(stdout, devToken, devKey)
	}
	// The runtime reads GOGC from the process's environment, not from
	// Herald's settings: an operator who set it keeps exactly that.
	if os.Getenv("GOGC") == "" {
		gctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { gctune.New(gctune.Config{}).Run(gctx); close(done) }()
		defer func() { stop(); <-done }()
	}
	return a.run(ctx)
}

func newLogger(cfg ServerConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newApp opens the store, wires every part and starts listening, so that the
// port is known (and taken) when it returns.
func newApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	log = clusterLogger(&cfg, log)
	cfg.settle() // for callers other than serveCmd; a second call changes nothing
	warnUnsafe(&cfg, log)
	a := &app{cfg: &cfg, log: log}
	var err error
	if u := cfg.Store.DatabaseURL; u != "" {
		a.store, err = postgres.Open(ctx, postgres.Config{URL: u})
		log.Info("store: postgresql", "host", hostOf(u))
	} else {
		var st *sqlite.Store
		held := cfg.Store.MemoryUsers
		if held == 0 {
			held = -1 // none, in sqlite.Config's terms
		}
		if st, err = sqlite.Open(ctx, sqlite.Config{Path: cfg.Store.DBPath, UnreadCounts: held}); err == nil {
			a.store = st
			log.Info("store: sqlite", "path", cfg.Store.DBPath)
			if held > 0 {
				go logCounts(st, cfg.Store.DBPath, held, log)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}

	if err := a.wireBroker(hub.Config{
		MaxConnections:   cfg.WS.MaxConnections,
		MaxPerUser:       cfg.WS.MaxPerUser,
		MaxSubscriptions: cfg.WS.MaxSubscriptions,
	}); err != nil {
		a.store.Close()
		return nil, err
	}
	ib, err := a.newInbox(inbox.Config{Store: a.store, Publisher: a.broker, Logger: log}) // plans deliveries; see delivery.go
	if err != nil {
		a.store.Close()
		return nil, err
	}
	tmpl := events.Defaults()
	if f := cfg.Server.EventsFile; f != "" {
		var doc []byte
		if doc, err = readJSONSettingFile("HERALD_EVENTS_FILE", f); err == nil {
			if tmpl, err = events.Parse(f, doc); err != nil {
				err = fmt.Errorf("HERALD_EVENTS_FILE: %w", err)
			}
		}
		if err != nil {
			a.store.Close()
			return nil, err
		}
	}
	ev, err := events.New(events.Config{Inbox: ib, Templates: tmpl})
	if err == nil {
		err = a.wireEvents(ev)
	}
	if err != nil {
		a.store.Close()
		return nil, err
	}
	if a.auth, err = newAuth(ctx, cfg.Auth, a.store, a.broker, log); err != nil {
		a.store.Close()
		return nil, err
	}
	verifier := a.auth.verifier

	reg, regr := a.newRegistry()
	regr.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wsMetrics := ws.NewMetrics()
	regr.MustRegister(wsMetrics.Collectors()...)
	a.registerDelivery(regr)
	if m, ok := a.store.(interface{ Collectors() []prometheus.Collector }); ok {
		regr.MustRegister(m.Collectors()...) // the commit loop's: herald_store_…
	}
	regr.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_connections", Help: "Live WebSocket connections on this node."},
		func() float64 { c, _ := a.hub.Counts(); return float64(c) }))
	regr.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_users", Help: "Distinct users connected to this node."},
		func() float64 { _, u := a.hub.Counts(); return float64(u) }))

	tlsConf, err := a.wireTLS(regr)
	if err != nil {
		a.store.Close()
		return nil, err
	}

	wc := cfg.WS.wsConfig()
	wc.Hub, wc.Admission, wc.Verifier, wc.Inbox, wc.Logger = a.hub, a.admission(), verifier, ib, log
	wc.ClientEvents, wc.Metrics = clientEvents(cfg.WS), wsMetrics
	a.ws = ws.New(wc)
	a.api = apihttp.NewServer(apihttp.Config{
		Addr:      net.JoinHostPort(cfg.Server.Host, itoa(cfg.Server.Port)),
		APIKey:    cfg.Auth.APIKey,
		Publisher: a.broker,
		Stats:     a.clusterStats,
		Presence:  a.presence,
		Degraded:  a.clusterReady,
		Inbox:     ib,
		Topics:    a.inbox,
		Events:    ev,
		Verifier:  verifier,
		Sessions:  a.auth.service,
		Tokens:    a.auth.issuer,
		Metrics:   promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),

		MetricsToken:     cfg.Mode.MetricsToken,
		MetricsPublic:    cfg.metricsPublic(),
		AuthFailureLimit: cfg.Mode.APIAuthRate,
		Ready:            a.ready,
		Logger:           log,
		TLS:              tlsConf,

		TokenTTL:    cfg.Auth.ConnTTL,
		MaxTokenTTL: cfg.Auth.ConnMaxTTL,

		Preferences:    a.preferenceStore(), // delivery.go
		Deliveries:     a.deliveryStore(),
		Devices:        a.deviceStore(), // mobile.go
		VAPIDPublicKey: a.vapidKey(),
	})
	a.api.HandleUpgrade("/ws", a.ws)
	a.wireSSE(cfg.WS, verifier, ib, regr)
	a.mountDemo(&cfg, verifier, ib)
	if err := a.api.Listen(); err != nil {
		a.store.Close()
		return nil, err
	}
	return a, nil
}

// ready reports whether the node can serve: the store answers, and, when it
// can tell (SQLite), can still write: a node whose disk is full answers
// reads but would refuse every notification, so it is taken out of service.
// A cluster node cut off from Redis is ready but degraded (clusterReady).
func (a *app) ready(ctx context.Context) error {
	if _, err := a.store.UnreadCount(ctx, "readiness-probe"); err != nil {
		return herald.Errorf(herald.EUNAVAILABLE, "store unavailable")
	}
	if w, ok := a.store.(interface{ Writable(context.Context) error }); ok {
		if err := w.Writable(ctx); err != nil {
			return err
		}
	}
	return nil
}

// run serves until ctx ends, then shuts down gracefully: the listener stops,
// every socket gets 1001 after what is queued for it, and the store closes.
func (a *app) run(ctx context.Context) error {
	a.log.Info("herald listening", "addr", a.api.Addr(), "ws", a.wsScheme()+"://"+a.api.Addr()+"/ws")
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 5)
	go func() { errc <- a.api.Serve() }()
	go func() { errc <- a.auth.run(runCtx) }()
	go func() { errc <- a.ws.Run(runCtx) }()
	go func() { errc <- a.sse.Run(runCtx) }()
	go func() { errc <- a.broker.Run(runCtx) }()
	waitCluster := a.startCluster(runCtx)
	waitDelivery := a.startDelivery(runCtx)
	waitTopics := a.startTopics(runCtx)
	waitTLS := a.startTLS(runCtx)
	waitDebug := a.startDebug(runCtx)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	a.log.Info("herald shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownTimeout)
	defer scancel()
	apiDone := make(chan struct{})
	go func() { _ = a.api.Shutdown(sctx); close(apiDone) }()
	go func() { // streams are requests the API server waits for
		if serr := a.sse.Shutdown(sctx); serr != nil {
			a.log.Warn("sse shutdown deadline passed", "err", serr)
		}
	}()
	if serr := a.ws.Shutdown(sctx); serr != nil {
		a.log.Warn("websocket shutdown deadline passed", "err", serr)
	}
	<-apiDone // in-flight API requests finish before the store closes
	cancel()
	waitCluster()
	waitDelivery()
	waitTopics()
	waitTLS()
	waitDebug()
	if cerr := a.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	a.log.Info("herald stopped")
	return err
}

// printDevHelp prints, in development mode, what a newcomer needs to try the
// server: the generated secrets as one export line for the other terminal
// (herald token, send and tail and the load test read them from there), a
// token, and wscat, curl and CLI lines that work as pasted. It goes to
// stdout, never to the log, and only for secrets this process generated:
// they are good for this process only.
func (a *app) printDevHelp(w io.Writer, devToken, devKey bool) {
	// The port actually bound, which differs from PORT when PORT is 0.
	port := itoa(a.cfg.Server.Port)
	if _, p, err := net.SplitHostPort(a.api.Addr()); err == nil {
		port = p
	}
	wsScheme, httpScheme := a.wsScheme(), "http"
	if wsScheme == "wss" {
		httpScheme = "https"
	}
	base := httpScheme + "://localhost:" + port
	key := a.cfg.Auth.APIKey
	var tok string
	if devToken {
		tok, _ = a.auth.issuer.Issue("demo", 24*time.Hour, nil)
	}
	export := "export HERALD_URL=" + base
	if devToken {
		export += " JWT_SECRET=" + a.cfg.Auth.JWTSecret
	}
	if devKey {
		export += " HERALD_API_KEY=" + key + " API_KEY=" + key
	}
	if tok != "" {
		export += " TOKEN=" + tok
	}
	fmt.Fprintln(w, "Development mode: generated secrets are valid until this process stops.")
	fmt.Fprintf(w, "  Demo page: %s/\n", base)
	fmt.Fprintln(w, "  In another terminal, for the commands below and in the README (development only):")
	fmt.Fprintf(w, "    %s\n", export)
	if devKey {
		fmt.Fprintf(w, "  API key (HERALD_API_KEY): %s\n", key)
	}
	if tok != "" {
		fmt.Fprintf(w, "  Token for user \"demo\" (24h): %s\n", tok)
		fmt.Fprintf(w, "  Try: npx wscat -c \"%s://localhost:%s/ws?token=%s&userId=demo\"\n", wsScheme, port, tok)
	}
	fmt.Fprintf(w, "  Send: curl -H 'Content-Type: application/json' -H \"Authorization: Bearer %s\" -d '{\"userId\":\"demo\",\"type\":\"hello\",\"title\":\"Hi\",\"message\":\"It works\"}' %s/api/notifications\n",
		key, base)
	fmt.Fprintln(w, "  CLI (go install ./cmd/herald puts herald in $(go env GOPATH)/bin), after the export line:")
	fmt.Fprintln(w, "    herald send --user demo --title Hi    herald tail --user demo    herald token --user demo")
}

// clientEvents returns the sink for client events, or nil when none is set.
func clientEvents(cfg WSConfig) herald.ClientEventSink {
	if cfg.ClientEventsURL == "" {
		return nil
	}
	return webhook.New(webhook.Config{URL: cfg.ClientEventsURL, Secret: []byte(cfg.ClientEventsSecret)})
}

// expiryGrace maps the setting to ws.Config: 0 means close exactly at exp
// (ws treats 0 as its default, so it becomes 1ns), negative never closes.
func expiryGrace(d time.Duration) time.Duration {
	if d == 0 {
		return time.Nanosecond
	}
	return d
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// hostOf returns the host of a database URL, without credentials, for logs.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return "?"
}

func tokenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald token", flag.ContinueOnError)
	fs.SetOutput(helpOutput(args, stdout, stderr))
	user := fs.String("user", "", "user id the token is for (required)")
	ttl := fs.Duration("ttl", 15*time.Minute, "lifetime of the token")
	secret := fs.String("jwt-secret", "", "HS256 secret (default: env JWT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = getenv("JWT_SECRET") // not the flag's default, which --help would print
	}
	if *user == "" || *secret == "" {
		return errors.New("token needs --user and a JWT_SECRET")
	}
	tok, err := jwt.NewIssuer(jwt.Config{Secret: []byte(*secret), Issuer: getenv("JWT_ISSUER"), Audience: getenv("JWT_AUDIENCE")}).Issue(*user, *ttl, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// logCounts says, once the SQLite store has loaded them, whether it keeps
// the unread counts in memory. Not keeping them is no error (counts stay
// exact; each connect reads one), but it is worth an operator's look.
func logCounts(st *sqlite.Store, path string, held int, log *slog.Logger) {
	start := time.Now()
	<-st.Loaded()
	if st.CountsInMemory() {
		log.Info("store: unread counts and preferences in memory", "loaded_in", time.Since(start).Round(time.Millisecond))
		return
	}
	log.Warn("store: unread counts are read from the SQLite file, not memory: another Herald server holds it (one SQLite database serves one server), or it counts more users than HERALD_DB_MEMORY_USERS",
		"memory_users", held, "path", path, "lock", path+"-herald.lock")
}
