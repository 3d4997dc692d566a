package http

import (
	"context"
	"net/http"

	"github.com/heraldhq/herald"
)

// handleHealth answers 200 while the process serves at all: liveness.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
	}{"ok"})
}

// readyResponse answers /readyz; Error says why the node is not ready.
type readyResponse struct {
	Status string       `json:"status"`
	Error  *errorDetail `json:"error,omitempty"`
}

// handleReady answers 200 when Config.Ready passes within ReadyTimeout, and
// 503 with the reason otherwise or once shutdown has begun, so a load
// balancer stops sending traffic here.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	var err error
	switch {
	case s.closing.Load():
		err = herald.Errorf(herald.EUNAVAILABLE, "Shutting down")
	case s.cfg.Ready != nil:
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		err = s.cfg.Ready(ctx)
		cancel()
	}
	if err == nil {
		if s.cfg.Degraded != nil {
			if derr := s.cfg.Degraded(); derr != nil {
				writeJSON(w, http.StatusOK, readyResponse{Status: "degraded",
					Error: &errorDetail{Code: string(herald.EUNAVAILABLE), Message: herald.ErrorMessage(derr)}})
				return
			}
		}
		writeJSON(w, http.StatusOK, readyResponse{Status: "ready"})
		return
	}
	msg := herald.ErrorMessage(err)
	if herald.CodeOf(err) == herald.EINTERNAL {
		// Not a *herald.Error, or an internal one: its text may name hosts
		// or files, and this route is open. Log it and say less.
		s.log.Warn("http: not ready", "err", err)
		msg = "Not ready"
	}
	writeJSON(w, http.StatusServiceUnavailable, readyResponse{
		Status: "unavailable",
		Error:  &errorDetail{Code: string(herald.EUNAVAILABLE), Message: msg},
	})
}
