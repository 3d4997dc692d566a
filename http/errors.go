package http

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
)

// codeMethodNotAllowed is the error code of a 405 answer. It is the one code
// not in herald's table, since only HTTP routing can produce it.
const codeMethodNotAllowed = "method_not_allowed"

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err with its code's status and its safe message.
// Internal errors are logged and answered generically, since their text may
// hold details the caller must not see.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case herald.CodeOf(err) != herald.EINTERNAL:
	case errors.Is(err, context.DeadlineExceeded):
		err = herald.Errorf(herald.EUNAVAILABLE, "Request timed out")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		s.log.Debug("http: request canceled", "method", r.Method, "path", r.URL.Path)
		err = herald.Errorf(herald.EUNAVAILABLE, "Request canceled")
	default:
		s.log.Error("http: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		err = herald.Errorf(herald.EINTERNAL, "Internal server error")
	}
	code := herald.CodeOf(err)
	if code == herald.ECREDENTIALS || code == herald.ETOKEN {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeJSON(w, code.HTTPStatus(), errorBody{errorDetail{string(code), herald.ErrorMessage(err)}})
}

// writeJSON answers v as JSON with status. Answers are never cached: they
// hold a user's notifications or a node's live figures.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a value the server built wrong fails to encode.
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"Internal server error"}}`)
	}
	writeEncoded(w, status, body)
}

// writeEncoded answers with body, JSON already encoded, as writeJSON does,
// and a newline. body is never changed: callers share it
// (herald.Created.Encoded).
func writeEncoded(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	// Keys in canonical form and values shared: four headers without the
	// four allocations of Header.Set. net/http only reads them.
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body) + 1)}
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	if len(body) < answerBuffer {
		// Both writes land in net/http's buffer: no copy of body.
		_, _ = w.Write(body)
		_, _ = w.Write(newline)
		return
	}
	// A longer body would go out in a write of its own and the newline
	// in another: one copy costs less than a system call.
	_, _ = w.Write(append(body[:len(body):len(body)], '\n'))
}

// answerBuffer is the size of net/http's buffer for an answer's body.
const answerBuffer = 2048

// The values of the headers every JSON answer carries.
var (
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
	noSniff  = []string{"nosniff"}
	newline  = []byte("\n")
)
