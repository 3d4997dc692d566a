package sse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/keyrate"
	"github.com/heraldhq/herald/session"
)

// Server is the /sse endpoint: GET /sse opens a stream, POST
// /sse/{stream}/messages hands it a client message. It implements
// http.Handler; mount it at both "/sse" and "/sse/".
type Server struct {
	cfg      Config
	metrics  *session.Metrics
	log      *slog.Logger
	engine   *session.Engine
	gate     session.Gate
	attempts *keyrate.Limiter

	mu       sync.Mutex
	streams  map[string]*stream
	stopping bool
	stop     chan struct{} // closed at Shutdown: every stream ends with 1001
	wg       sync.WaitGroup
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, metrics: cfg.Metrics, log: cfg.Logger, streams: make(map[string]*stream),
		stop: make(chan struct{}), attempts: keyrate.New(cfg.ConnectRate, cfg.ConnectBurst, cfg.Now)}
	s.engine = session.NewEngine(cfg.engine())
	s.gate = s.engine.Gate()
	return s
}

// Count returns how many streams are open.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Run serves until ctx ends; streams are ended by Shutdown.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Shutdown ends every stream with a close event (1001) after what is queued
// for it, and waits for them until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopping {
		s.stopping = true
		close(s.stop)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	defer s.engine.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeHTTP routes GET /sse and POST /sse/{stream}/messages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/sse"), "/")
	switch {
	case rest == "" && r.Method == http.MethodGet:
		s.open(w, r)
	case strings.HasSuffix(rest, "/messages") && r.Method == http.MethodPost:
		s.post(w, r, strings.TrimSuffix(rest, "/messages"))
	case rest == "":
		w.Header().Set("Allow", "GET")
		refuse(w, herald.Errorf(herald.EINVALID, "Method not allowed"), http.StatusMethodNotAllowed)
	case strings.HasSuffix(rest, "/messages"):
		w.Header().Set("Allow", "POST")
		refuse(w, herald.Errorf(herald.EINVALID, "Method not allowed"), http.StatusMethodNotAllowed)
	default:
		refuse(w, herald.Errorf(herald.ENOTFOUND, "Not found"), 0)
	}
}

// refuse answers err as the API does, {"error":{"code","message"}}, with
// status, or the status of err's code when status is 0.
func refuse(w http.ResponseWriter, err error, status int) {
	code := herald.CodeOf(err)
	if status == 0 {
		status = code.HTTPStatus()
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": string(code), "message": herald.ErrorMessage(err)}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// open checks a stream's request as the WebSocket handshake is checked —
// origin, connection rate, token, resume point, channels, connection caps —
// answering a refusal with its HTTP status and JSON error before the stream
// starts; then it streams until the end.
func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	if !session.OriginAllowed(s.cfg.AllowedOrigins, r) {
		s.metrics.AuthFailures.WithLabelValues("origin").Inc()
		refuse(w, herald.Errorf(herald.EFORBIDDEN, "Origin not allowed"), 0)
		return
	}
	if ok, _ := s.attempts.Take(session.ClientIP(r)); !ok {
		s.metrics.Throttled.Inc()
		w.Header().Set("Retry-After", "1")
		refuse(w, herald.Errorf(herald.ERATELIMIT, "Too many connection attempts"), 0)
		return
	}
	token, userID, src := s.gate.Credentials(r)
	claims, err := s.gate.Authenticate(r.Context(), token, userID, src)
	if err != nil {
		s.log.Info("sse refused", "remote", r.RemoteAddr, "code", herald.CodeOf(err))
		refuse(w, err, 0)
		return
	}
	since, err := resumePoint(r)
	if err != nil {
		refuse(w, err, 0)
		return
	}
	channels, err := channelsOf(r)
	if err != nil {
		refuse(w, err, 0)
		return
	}
	if _, ok := w.(http.Flusher); !ok {
		refuse(w, herald.Errorf(herald.EINTERNAL, "Streaming unsupported"), 0)
		return
	}

	st := newStream(s, newID(), r.RemoteAddr, since)
	st.sess = s.engine.New(st, claims)
	if err := s.track(r.Context(), st); err != nil {
		st.sess.End()
		s.log.Info("sse refused", "remote", r.RemoteAddr, "user", claims.UserID, "code", herald.CodeOf(err))
		if herald.CodeOf(err) == herald.EUNAVAILABLE {
			w.Header().Set("Retry-After", "1")
		}
		refuse(w, err, 0)
		return
	}
	defer s.untrack(st)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events at once
	w.WriteHeader(http.StatusOK)
	s.log.Info("sse connected", "user", claims.UserID, "remote", r.RemoteAddr)
	// The greeting and the replay wait for queue space, which serve makes:
	// they run beside it.
	go s.start(st, channels)
	st.serve(w, r, s.stop)
}

// start greets the stream, replays what it missed, and joins its channels
// through the session, which checks each with the channel policy.
func (s *Server) start(st *stream, channels []string) {
	since := st.since
	if since < 0 {
		// A stream always has a resume point: its greeting's event id, from
		// which EventSource's reconnect resumes.
		since = 0
		if ib := s.cfg.Inbox; ib != nil {
			ctx, cancel := context.WithTimeout(st.sess.Context(), s.cfg.WriteTimeout)
			u, err := ib.UnreadCount(ctx, st.sess.UserID())
			cancel()
			if err != nil {
				st.Close(herald.CloseServerError, "Internal server error")
				return
			}
			since = u.LastSeq
		}
		st.mu.Lock()
		st.since = since
		st.mu.Unlock()
	}
	st.sess.Start(since)
	for _, ch := range channels {
		msg, _ := json.Marshal(map[string]string{"type": herald.TypeSubscribe, "channel": ch})
		st.handle(msg)
	}
}

// handle passes one client message to the session, one at a time.
func (st *stream) handle(msg []byte) {
	st.hmu.Lock()
	defer st.hmu.Unlock()
	st.sess.Handle(msg)
}

// post hands a client message to the stream it names. The request carries
// the stream's user's token in the Authorization header: a stream's id alone
// grants nothing.
func (s *Server) post(w http.ResponseWriter, r *http.Request, id string) {
	if !session.OriginAllowed(s.cfg.AllowedOrigins, r) {
		refuse(w, herald.Errorf(herald.EFORBIDDEN, "Origin not allowed"), 0)
		return
	}
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		refuse(w, herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials"), 0)
		return
	}
	claims, err := s.gate.Authenticate(r.Context(), strings.TrimSpace(h[7:]), "", "header")
	if err != nil {
		refuse(w, err, 0)
		return
	}
	s.mu.Lock()
	st := s.streams[id]
	s.mu.Unlock()
	if st == nil || st.sess.Closed() {
		refuse(w, herald.Errorf(herald.ENOTFOUND, "No such stream"), 0)
		return
	}
	if st.sess.UserID() != claims.UserID {
		refuse(w, herald.Errorf(herald.EMISMATCH, "User ID mismatch"), 0)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxMessageBytes)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			refuse(w, herald.Errorf(herald.ETOOLARGE, "Message too large"), 0)
			return
		}
		refuse(w, herald.Errorf(herald.EINVALID, "Could not read the message"), 0)
		return
	}
	st.handle(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"accepted":true}`))
}

// resumePoint is where a stream resumes from: Last-Event-ID, which
// EventSource sends on its own reconnects, wins over ?since=; -1 for neither.
func resumePoint(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v, _ = session.QueryValue(r, "since")
	}
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, herald.Errorf(herald.EINVALID, "since and Last-Event-ID must be a non-negative integer")
	}
	return n, nil
}

// channelsOf returns the stream's ?channel= parameters, valid names, at most
// MaxChannels of them.
func channelsOf(r *http.Request) ([]string, error) {
	raw := r.URL.Query()["channel"]
	if len(raw) > MaxChannels {
		return nil, herald.Errorf(herald.EINVALID, "At most %d channels per stream", MaxChannels)
	}
	out := make([]string, 0, len(raw))
	for _, c := range raw {
		ch, err := herald.ParseChannel(c)
		if err != nil {
			return nil, herald.Errorf(herald.EINVALID, "Invalid channel name")
		}
		out = append(out, ch)
	}
	return out, nil
}

// track admits st and indexes it. Admission (a Redis round trip in a
// cluster) runs with no lock held, so streams connect in parallel; a
// shutdown that began meanwhile ends the admitted stream at once.
func (s *Server) track(ctx context.Context, st *stream) error {
	s.mu.Lock()
	stopping := s.stopping
	if !stopping {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if stopping {
		return herald.Errorf(herald.EUNAVAILABLE, "Server shutting down")
	}
	if err := s.gate.Admit(ctx, st.sess); err != nil {
		s.wg.Done()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping { // the caller ends the admitted session
		s.wg.Done()
		return herald.Errorf(herald.EUNAVAILABLE, "Server shutting down")
	}
	s.streams[st.id] = st
	return nil
}

func (s *Server) untrack(st *stream) {
	st.sess.End()
	s.mu.Lock()
	delete(s.streams, st.id)
	s.mu.Unlock()
	s.wg.Done()
	s.log.Info("sse closed", "user", st.sess.UserID(), "remote", st.remote)
}

// newID returns a stream id: 128 random bits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
