package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/jsonscan"
)

// userIDPattern is what the demo sign-in accepts: short, and safe to show and
// to put in a storage key.
var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// errDevOnly answers the demo routes when they are off. It is
// a 404, as if the routes did not exist, which for a production node they do not.
var errDevOnly = herald.Errorf(herald.ENOTFOUND, "The demo sign-in is off on this server")

// session is the demo sign-in: it hands out a connection token for the user
// id given, with no password. The design document's server actions play this
// role in a real application, behind its own sign-in.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.DevMode || h.cfg.IssueToken == nil {
		writeError(w, errDevOnly)
		return
	}
	var req struct {
		UserID string `json:"userId"`
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if !userIDPattern.MatchString(req.UserID) {
		writeError(w, herald.Errorf(herald.EINVALID, "userId must be 1 to 64 letters, digits or _ . @ -"))
		return
	}
	tok, exp, err := h.cfg.IssueToken(req.UserID)
	if err != nil {
		h.cfg.Logger.Error("demo: issuing a token", "err", err)
		writeError(w, herald.Errorf(herald.EINTERNAL, "Could not issue a token"))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
		ExpiresIn int    `json:"expiresIn"`
		UserID    string `json:"userId"`
	}{tok, herald.FormatTime(exp), int(time.Until(exp).Round(time.Second) / time.Second), req.UserID})
}

// notify sends the signed-in user a sample notification of the type asked for,
// through the inbox, so it is stored and pushed like any other.
func (h *Handler) notify(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.DevMode || h.cfg.Notify == nil || h.cfg.Verifier == nil {
		writeError(w, errDevOnly)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		writeError(w, herald.Errorf(herald.ECREDENTIALS, "Missing authentication credentials"))
		return
	}
	claims, err := h.cfg.Verifier.Verify(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		writeError(w, herald.Errorf(herald.ETOKEN, "Invalid or expired token"))
		return
	}
	var req struct {
		Type string `json:"type"`
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	n, err := Sample(req.Type, claims.UserID, time.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	stored, err := h.cfg.Notify(r.Context(), n)
	if err != nil {
		if herald.CodeOf(err) == herald.EINTERNAL {
			h.cfg.Logger.Error("demo: creating a notification", "err", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, stored)
}

// decode reads a small JSON object body into v; an empty body leaves v as it
// is. The body must be JSON (by Content-Type, when one is given), valid
// UTF-8, nested at most maxDepth deep and name no member twice (up to case,
// as encoding/json matches names), as Herald's API requires of its bodies.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return herald.Errorf(herald.EUNSUPPORTED, "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return herald.Errorf(herald.ETOOLARGE, "Request body is larger than %d bytes", MaxBodyBytes)
	case err != nil:
		return herald.Errorf(herald.EINVALID, "Cannot read the request body")
	case len(bytes.TrimSpace(body)) == 0:
		return nil
	case !utf8.Valid(body) || jsonscan.Exceeds(body, maxDepth):
		return herald.Errorf(herald.EINVALID, "Request body must be a small JSON object of valid UTF-8")
	}
	if err := jsonscan.Members(body, 0, nil); err != nil {
		return herald.Errorf(herald.EINVALID, "Request body must be one JSON object naming each member once")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return herald.Errorf(herald.EINVALID, "Request body must be a JSON object")
	}
	return nil
}

// maxDepth bounds the nesting of the demo routes' bodies, which hold one
// string.
const maxDepth = 4

// writeJSON answers v as JSON with status, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"Internal server error"}}`)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError answers err as Herald's JSON error with its code's status.
func writeError(w http.ResponseWriter, err error) {
	code := herald.CodeOf(err)
	if code == herald.ECREDENTIALS || code == herald.ETOKEN {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	body := struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{}
	body.Error.Code, body.Error.Message = string(code), herald.ErrorMessage(err)
	writeJSON(w, code.HTTPStatus(), body)
}
