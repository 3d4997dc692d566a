package http

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// statusWriter records the status and size of a response for the request
// log and for panic recovery. It passes Hijack, Flush and Unwrap through, so
// the WebSocket upgrade behind it still works.
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client, when the connection allows it.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection to the caller, as a WebSocket upgrade does.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// fallbackWriter stands between a ServeMux's own "404 page not found" and
// "405 method not allowed" answers and the client, and turns them into
// Herald's JSON errors. Other answers, such as redirects to a cleaned path,
// and every answer of a routed handler, pass through unchanged. The mux's
// own answers are the ones it gives with no pattern set on the request, in
// http.Error's plain text (the second check for a mux in Go 1.21's mode,
// which sets no pattern at all).
type fallbackWriter struct {
	*statusWriter
	s        *Server
	r        *http.Request
	answered bool
}

func (w *fallbackWriter) WriteHeader(code int) {
	if w.r.Pattern != "" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.statusWriter.WriteHeader(code)
		return
	}
	switch code {
	case http.StatusNotFound:
		w.answered = true
		w.s.writeError(w.statusWriter, w.r, herald.Errorf(herald.ENOTFOUND, "Not found"))
	case http.StatusMethodNotAllowed:
		w.answered = true // the mux has set the Allow header
		writeJSON(w.statusWriter, code, errorBody{errorDetail{codeMethodNotAllowed, "Method not allowed"}})
	default:
		w.statusWriter.WriteHeader(code)
	}
}

func (w *fallbackWriter) Write(b []byte) (int, error) {
	if w.answered {
		return len(b), nil // the mux's plain-text body, replaced by the JSON above
	}
	return w.statusWriter.Write(b)
}

// recovered answers a request whose handler panicked with v: it logs the
// panic with its stack and answers 500 if nothing was sent yet.
func (s *Server) recovered(w *statusWriter, r *http.Request, v any) {
	if v == http.ErrAbortHandler {
		panic(v) // net/http's way to abort a response; it logs nothing
	}
	s.log.Error("http: panic serving request",
		"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if w.status == 0 && !w.hijacked {
		writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{string(herald.EINTERNAL), "Internal server error"}})
	}
}

// logRequest logs one line per request at debug level. It logs the path but
// never the query string, which may hold a token.
func (s *Server) logRequest(r *http.Request, w *statusWriter, d time.Duration) {
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", w.bytes),
		slog.Duration("duration", d),
	)
}
