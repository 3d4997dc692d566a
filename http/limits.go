package http

import (
	"net/http"
	"strings"
)

// bodyLimit is the most body r's route may have. ServeHTTP refuses a larger
// Content-Length with 413 before reading, and cuts a chunked body at the
// limit, for every route, the mounted handlers and the routes that read no
// body included: no route reads an unbounded body, and none lets a client
// stream into it for long. The routes that decode a body check the same
// limit again (readBody), with a JSON error.
func (s *Server) bodyLimit(r *http.Request) int64 {
	switch {
	case r.URL.Path == "/api/notifications" && r.Method == http.MethodPost:
		return s.cfg.MaxBatchBodyBytes
	case isTopicMembers(r.URL.Path) && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
		return s.cfg.MaxBatchBodyBytes // up to MaxTopicMembersPerCall user ids
	case strings.HasPrefix(r.URL.Path, "/auth/"):
		return maxAuthBodyBytes
	}
	return s.cfg.MaxBodyBytes
}
