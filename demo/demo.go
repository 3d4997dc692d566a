// Package demo serves Herald's demo page: a single page, built from the
// TypeScript client in web/ and embedded in the binary, that shows the client
// at work (a connection indicator, toasts, an inbox with an exact unread
// badge shared by every tab). With Config.DevMode it also offers a demo
// sign-in that hands out connection tokens for any user id, and a button
// that sends the signed-in user a sample notification; both are refused
// otherwise, since they would let anyone act as anyone.
//
// Routes, relative to where the Handler is mounted (herald mounts it at /):
//
//	GET  /                the page
//	GET  /assets/…        its script modules and style sheet
//	GET  /demo/config     {"devMode":bool}
//	POST /demo/session    {"userId":"…"} → {"token","expiresAt","expiresIn","userId"} (DevMode)
//	POST /demo/notify     {"type":"…"} with the user's token as Bearer → 201 the notification (DevMode)
//
// The package imports the root package (and internal/jsonscan) only;
// cmd/herald gives it the token issuer, the verifier and the inbox as
// Config fields.
package demo

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// assets holds the page: index.html, style.css and js/, as web/scripts/build.mjs
// writes them. They are committed so the binary builds without npm.
//
//go:embed assets
var assets embed.FS

// Config configures a Handler. Its zero value serves the page and refuses the
// development routes.
type Config struct {
	// DevMode enables /demo/session and /demo/notify. herald sets it when
	// HERALD_DEMO is on: by default only when it generated its JWT secret.
	DevMode bool
	// IssueToken returns a connection token for user and when it expires.
	// /demo/session answers 404 without it.
	IssueToken func(user string) (token string, expiresAt time.Time, err error)
	// Verifier checks the bearer token of /demo/notify.
	Verifier herald.TokenVerifier
	// Notify creates a notification and pushes it to the user's connections,
	// and returns it as stored (id, seq). /demo/notify answers 404 without it
	// or without Verifier.
	Notify func(ctx context.Context, n *herald.NewNotification) (*herald.Notification, error)
	// Logger receives failures of the injected functions. Default: slog.Default().
	Logger *slog.Logger
}

// Handler serves the page and the demo routes.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// MaxBodyBytes bounds the body of the demo routes: they take one short field.
const MaxBodyBytes = 4 << 10

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /index.html", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/", http.StatusMovedPermanently)
	})
	h.mux.HandleFunc("GET /assets/", h.asset)
	h.mux.HandleFunc("GET /demo/config", h.config)
	h.mux.HandleFunc("POST /demo/session", h.session)
	h.mux.HandleFunc("POST /demo/notify", h.notify)
	return h
}

// ServeHTTP implements http.Handler. Unknown paths and methods get a JSON error.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		writeError(w, herald.Errorf(herald.ENOTFOUND, "No such page"))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// hostPattern is a Host header safe to repeat in a policy: a name or an
// address with an optional port, nothing that could end a directive.
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// securityHeaders lets the page load nothing but its own files and talk to
// nothing but its own origin, the WebSocket included ('self' covers ws: and
// wss: in current browsers; the explicit sources cover older ones).
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	connect := "'self'"
	if hostPattern.MatchString(r.Host) {
		connect += " ws://" + r.Host + " wss://" + r.Host
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src "+connect+"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	// Small files that change with the binary: revalidate, never serve stale.
	hd.Set("Cache-Control", "no-cache")
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, r)
	w.Header().Set("X-Frame-Options", "DENY")
	http.ServeFileFS(w, r, assets, "assets/index.html")
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, r)
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if st, err := fs.Stat(assets, name); err != nil || st.IsDir() || name == "assets/index.html" {
		writeError(w, herald.Errorf(herald.ENOTFOUND, "No such file"))
		return
	}
	http.ServeFileFS(w, r, assets, name)
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		DevMode bool `json:"devMode"`
	}{h.cfg.DevMode})
}
